#include "vpipe/device/devices.h"

#include <dlfcn.h>
#include <sched.h>

#include <algorithm>
#include <charconv>
#include <fstream>
#include <thread>

#include <fmt/format.h>

#include "vpipe/core/error.h"

namespace vpipe {
namespace {

std::string read_cpu_model() {
  std::ifstream in("/proc/cpuinfo");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("model name", 0) == 0) {
      const auto colon = line.find(':');
      if (colon != std::string::npos) {
        const auto start = line.find_first_not_of(' ', colon + 1);
        if (start != std::string::npos) return line.substr(start);
      }
    }
  }
  return "unknown";
}

int available_cores() {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof(set), &set) == 0) {
    const int n = CPU_COUNT(&set);
    if (n > 0) return n;
  }
  const unsigned hw = std::thread::hardware_concurrency();
  return hw > 0 ? static_cast<int>(hw) : 1;
}

// The few CUDA driver API entry points the probe needs, declared by hand so that the build needs
// neither the CUDA headers nor a driver. Signatures follow the driver API (cuda.h, CUDA >= 11).
using CUresult = int;
using CUdevice = int;
using CUcontext = void*;
using FnInit = CUresult (*)(unsigned);
using FnDeviceGetCount = CUresult (*)(int*);
using FnDeviceGet = CUresult (*)(CUdevice*, int);
using FnDeviceGetName = CUresult (*)(char*, int, CUdevice);
using FnDeviceGetAttribute = CUresult (*)(int*, int, CUdevice);
using FnDeviceTotalMem = CUresult (*)(size_t*, CUdevice);
using FnPrimaryCtxRetain = CUresult (*)(CUcontext*, CUdevice);
using FnPrimaryCtxRelease = CUresult (*)(CUdevice);
using FnCtxSetCurrent = CUresult (*)(CUcontext);
using FnMemGetInfo = CUresult (*)(size_t*, size_t*);
constexpr int kAttrMultiprocessorCount = 16;
constexpr int kAttrComputeCapabilityMajor = 75;
constexpr int kAttrComputeCapabilityMinor = 76;

template <class Fn>
Fn symbol(void* lib, const char* name) {
  return reinterpret_cast<Fn>(dlsym(lib, name));
}

void probe_cuda(DeviceInventory& inv) {
  void* lib = dlopen("libcuda.so.1", RTLD_NOW | RTLD_LOCAL);
  if (lib == nullptr) {
    inv.cuda_status = "no NVIDIA driver (libcuda.so.1 not found)";
    return;
  }
  auto init = symbol<FnInit>(lib, "cuInit");
  auto get_count = symbol<FnDeviceGetCount>(lib, "cuDeviceGetCount");
  auto get = symbol<FnDeviceGet>(lib, "cuDeviceGet");
  auto get_name = symbol<FnDeviceGetName>(lib, "cuDeviceGetName");
  auto get_attr = symbol<FnDeviceGetAttribute>(lib, "cuDeviceGetAttribute");
  auto total_mem = symbol<FnDeviceTotalMem>(lib, "cuDeviceTotalMem_v2");
  auto ctx_retain = symbol<FnPrimaryCtxRetain>(lib, "cuDevicePrimaryCtxRetain");
  auto ctx_release = symbol<FnPrimaryCtxRelease>(lib, "cuDevicePrimaryCtxRelease_v2");
  auto ctx_set = symbol<FnCtxSetCurrent>(lib, "cuCtxSetCurrent");
  auto mem_info = symbol<FnMemGetInfo>(lib, "cuMemGetInfo_v2");
  if (!init || !get_count || !get || !get_name || !get_attr || !total_mem) {
    inv.cuda_status = "NVIDIA driver too old (missing driver API entry points)";
    return;  // the library stays loaded: unloading a driver is not worth the risk
  }
  if (const CUresult rc = init(0); rc != 0) {
    inv.cuda_status = fmt::format("cuInit failed (CUresult {}): driver present but unusable", rc);
    return;
  }
  int count = 0;
  if (get_count(&count) != 0 || count == 0) {
    inv.cuda_status = "NVIDIA driver found, but it reports no CUDA device";
    return;
  }
  for (int i = 0; i < count; ++i) {
    CUdevice dev = 0;
    if (get(&dev, i) != 0) continue;
    CudaDeviceInfo info;
    info.index = i;
    char name[256] = {};
    if (get_name(name, sizeof(name) - 1, dev) == 0) info.name = name;
    get_attr(&info.compute_major, kAttrComputeCapabilityMajor, dev);
    get_attr(&info.compute_minor, kAttrComputeCapabilityMinor, dev);
    get_attr(&info.multiprocessors, kAttrMultiprocessorCount, dev);
    size_t total = 0;
    if (total_mem(&total, dev) == 0) info.total_memory_bytes = total;
    // Free memory needs a context; the primary one is shared with later CUDA work in-process.
    CUcontext ctx = nullptr;
    if (ctx_retain && ctx_release && ctx_set && mem_info && ctx_retain(&ctx, dev) == 0) {
      size_t free_bytes = 0;
      size_t total_bytes = 0;
      if (ctx_set(ctx) == 0 && mem_info(&free_bytes, &total_bytes) == 0) {
        info.free_memory_bytes = free_bytes;
      }
      ctx_set(nullptr);
      ctx_release(dev);
    }
    inv.cuda.push_back(std::move(info));
  }
}

}  // namespace

std::string CpuInfo::simd_level() const {
  if (avx512_vpopcntdq) return "avx512-vpopcntdq";
  if (avx512f) return "avx512";
  if (avx2) return "avx2";
  if (sse42) return "sse4.2";
  return "baseline";
}

DeviceInventory probe_devices() {
  DeviceInventory inv;
  inv.cpu.model = read_cpu_model();
  inv.cpu.logical_cores = available_cores();
#if defined(__x86_64__) || defined(__i386__)
  __builtin_cpu_init();
  inv.cpu.sse42 = __builtin_cpu_supports("sse4.2");
  inv.cpu.avx2 = __builtin_cpu_supports("avx2");
  inv.cpu.avx512f = __builtin_cpu_supports("avx512f");
  inv.cpu.avx512_vpopcntdq = __builtin_cpu_supports("avx512vpopcntdq");
#endif
  probe_cuda(inv);
  return inv;
}

DeviceRequest parse_device_request(std::string_view text, std::string_view what) {
  if (const std::optional<DeviceRequest> request = DeviceRequest::parse(text)) return *request;
  throw ConfigError(fmt::format("{} '{}': {}", what, text, DeviceRequest::kExpected));
}

Device select_device(const DeviceInventory& inventory, const DeviceRequest& requested) {
  using Kind = DeviceRequest::Kind;
  switch (requested.kind) {
    case Kind::kCpu:
      return Device::cpu();
    case Kind::kAuto:
      return inventory.cuda.empty() ? Device::cpu() : Device::cuda(0);
    case Kind::kAnyCuda:
    case Kind::kCuda:
      break;
  }
  const int index = requested.kind == Kind::kCuda ? requested.index : 0;
  if (index >= static_cast<int>(inventory.cuda.size())) {
    throw ConfigError(fmt::format(
        "--device '{}': no such CUDA device ({})", requested.str(),
        inventory.cuda.empty() ? inventory.cuda_status
                               : fmt::format("{} found", inventory.cuda.size())));
  }
  return Device::cuda(index);
}

std::vector<Device> worker_devices(const DeviceInventory& inventory,
                                   const DeviceRequest& requested, int workers) {
  const Device first = select_device(inventory, requested);
  const auto wanted = static_cast<size_t>(std::max(workers, 1));
  std::vector<Device> devices;
  if (first.is_cpu()) {
    devices.assign(wanted, first);
    return devices;
  }
  constexpr size_t kPerGpu = 2;
  const size_t gpus = inventory.cuda.size();
  const bool any_gpu = requested.kind == DeviceRequest::Kind::kAuto ||
                       requested.kind == DeviceRequest::Kind::kAnyCuda;
  if (any_gpu && gpus > 1) {
    const size_t n = std::max(wanted, kPerGpu * gpus);
    for (size_t w = 0; w < n; ++w) devices.push_back(Device::cuda(static_cast<int>(w % gpus)));
    return devices;
  }
  devices.assign(std::max(wanted, kPerGpu), first);
  return devices;
}

namespace {

uint64_t floor_pow2(uint64_t v) {
  uint64_t p = 1;
  while (p <= v / 2) p *= 2;
  return v == 0 ? 0 : p;
}

}  // namespace

DeviceDefaults device_defaults(const DeviceInventory& inventory, Device device,
                               uint64_t memory_budget_bytes) {
  DeviceDefaults d;
  d.device = device;
  const int cores = std::max(1, inventory.cpu.logical_cores);
  if (device.is_cpu()) {
    d.decode_workers = cores;
    return d;
  }
  // ConfigError when the machine lacks it.
  const Device selected = select_device(inventory, DeviceRequest::of(device));
  const CudaDeviceInfo& gpu = inventory.cuda[static_cast<size_t>(selected.index)];
  constexpr uint64_t kMiB = uint64_t{1} << 20;
  const uint64_t usable = gpu.free_memory_bytes > 0 ? gpu.free_memory_bytes : gpu.total_memory_bytes;
  const uint64_t share = usable / 5 * 4;
  d.memory_budget_bytes = std::max<uint64_t>(
      256 * kMiB, memory_budget_bytes > 0 ? memory_budget_bytes
                                          : (share > 512 * kMiB ? share - 512 * kMiB : 0));
  d.decode_workers = std::max(1, cores - 1);
  d.infer_batch = static_cast<int>(
      std::clamp<uint64_t>(floor_pow2(d.memory_budget_bytes / 2 / (80 * kMiB)), 1, 128));
  const uint64_t by_sm = floor_pow2(static_cast<uint64_t>(std::max(1, gpu.multiprocessors)) * 64);
  const uint64_t by_memory = floor_pow2(d.memory_budget_bytes / 4 / (64 * 1024));
  d.hash_batch = static_cast<int>(std::clamp<uint64_t>(std::min(by_sm, by_memory), 256, 8192));
  return d;
}

}  // namespace vpipe
