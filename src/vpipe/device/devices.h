#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "vpipe/core/device.h"

namespace vpipe {

/// The CPU vpipe runs on.
struct CpuInfo {
  std::string model;       ///< e.g. "AMD EPYC 7B13", from /proc/cpuinfo ("unknown" if absent)
  int logical_cores = 0;   ///< cores this process may run on (sched affinity), >= 1
  bool sse42 = false;
  bool avx2 = false;
  bool avx512f = false;
  bool avx512_vpopcntdq = false;  ///< 512-bit popcount: the fastest Hamming search

  /// The best SIMD level, as users read it: "avx512-vpopcntdq", "avx512", "avx2", "sse4.2", "baseline".
  [[nodiscard]] std::string simd_level() const;
};

/// One CUDA device, as the driver reports it.
struct CudaDeviceInfo {
  int index = 0;
  std::string name;
  int compute_major = 0;
  int compute_minor = 0;
  uint64_t total_memory_bytes = 0;
  uint64_t free_memory_bytes = 0;  ///< 0 when it could not be read
  int multiprocessors = 0;
};

/// What the machine offers. CUDA devices are found at run time through the driver library
/// (libcuda.so.1, loaded with dlopen), so the same binary runs on machines without a driver.
struct DeviceInventory {
  CpuInfo cpu;
  std::vector<CudaDeviceInfo> cuda;
  /// Why no CUDA device is listed ("no NVIDIA driver (libcuda.so.1 not found)", "driver found,
  /// 0 devices", "cuInit failed: ..."); empty when devices were found.
  std::string cuda_status;
};

/// Probes the CPU and the CUDA driver. Thread-safe; costs a few milliseconds (more when a driver
/// initialises), so call it once per run.
[[nodiscard]] DeviceInventory probe_devices();

/// Parses a device value the user gave (`--device`, `devices.device`): "auto", "cpu", "cuda" or
/// "cuda:N". Throws ConfigError naming `what` (e.g. "--device") and the value otherwise.
[[nodiscard]] DeviceRequest parse_device_request(std::string_view text, std::string_view what);

/// The device a request runs on, given the inventory: `auto` is CUDA device 0 when there is one,
/// else the CPU; `cuda` is device 0. Throws ConfigError for a CUDA device the machine lacks.
[[nodiscard]] Device select_device(const DeviceInventory& inventory, const DeviceRequest& requested);

/// The device of each infer worker (one loaded model each, on its own CUDA stream). On a GPU,
/// two workers per device at least, so that one's copies and read-back overlap the other's
/// compute: with `requested` auto or cuda (no index), max(workers, 2 x GPUs) workers spread
/// round robin over every GPU (cuda:0, cuda:1, ..., cuda:0, ...); with cuda:N, max(workers, 2)
/// on that one. On the CPU, `workers` workers. Throws ConfigError as select_device does.
[[nodiscard]] std::vector<Device> worker_devices(const DeviceInventory& inventory,
                                                 const DeviceRequest& requested, int workers);

/// What vpipe runs with on a device unless told otherwise, derived from the hardware and shown
/// by `vpipe devices`.
struct DeviceDefaults {
  Device device;
  int decode_workers = 1;   ///< CPU threads decoding: every core; with a GPU, all but one (it feeds the GPU)
  int infer_batch = 8;      ///< images per model batch
  int hash_batch = 0;       ///< images per GPU hash batch; 0 on the CPU (hashed one by one)
  /// Device memory vpipe may take: 80% of what is free (of the total when free is unknown) less
  /// 512 MiB for the driver and other processes, at least 256 MiB. 0 on the CPU: no budget.
  uint64_t memory_budget_bytes = 0;
};

/// The defaults for `device` (as select_device returns). GPU rules: the
/// memory budget as above; infer_batch = the largest power of two <= budget / 2 / 80 MiB (a
/// 640 px detector's fp16 activations per image, generous), in 1..128; hash_batch = the largest
/// power of two <= 64 per multiprocessor and <= budget / 4 / 64 KiB (a 256x256 working image),
/// in 256..8192. `memory_budget_bytes` > 0 replaces the derived budget (`devices.memory_budget_mib`
/// in the config; at least 256 MiB) and the batches follow from it; ignored on the CPU.
/// Throws ConfigError for a device the inventory lacks.
[[nodiscard]] DeviceDefaults device_defaults(const DeviceInventory& inventory, Device device,
                                             uint64_t memory_budget_bytes = 0);

}  // namespace vpipe
