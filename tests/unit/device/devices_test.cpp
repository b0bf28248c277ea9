#include "vpipe/device/devices.h"

#include <gtest/gtest.h>

#include <thread>

#include "vpipe/core/error.h"

namespace {

vpipe::DeviceInventory with_gpus(int n) {
  vpipe::DeviceInventory inv;
  inv.cpu.logical_cores = 4;
  for (int i = 0; i < n; ++i) {
    vpipe::CudaDeviceInfo d;
    d.index = i;
    d.name = "test gpu";
    inv.cuda.push_back(d);
  }
  if (n == 0) inv.cuda_status = "no NVIDIA driver (libcuda.so.1 not found)";
  return inv;
}

TEST(Devices, ProbeSeesAtLeastTheCoresThisProcessMayUse) {
  const vpipe::DeviceInventory inv = vpipe::probe_devices();
  EXPECT_GE(inv.cpu.logical_cores, 1);
  EXPECT_LE(inv.cpu.logical_cores, static_cast<int>(std::thread::hardware_concurrency()));
  EXPECT_FALSE(inv.cpu.model.empty());
  // Either devices were found, or the inventory says why not.
  EXPECT_NE(inv.cuda.empty(), inv.cuda_status.empty());
}

/// A request or a device as a user writes it (parsed as the CLI and config do).
vpipe::DeviceRequest req(std::string_view text) {
  return vpipe::parse_device_request(text, "--device");
}
vpipe::Device dev(std::string_view text) { return vpipe::Device::parse(text).value(); }

TEST(Devices, RequestsAndDevicesParseOnceAndReadBack) {
  for (const char* text : {"auto", "cpu", "cuda", "cuda:0", "cuda:12"}) {
    EXPECT_EQ(req(text).str(), text);
  }
  EXPECT_EQ(dev("cpu"), vpipe::Device::cpu());
  EXPECT_EQ(dev("cuda"), vpipe::Device::cuda(0));
  EXPECT_EQ(dev("cuda:3").index, 3);
  EXPECT_EQ(dev("cuda:3").str(), "cuda:3");
  EXPECT_FALSE(vpipe::Device::parse("auto").has_value()) << "a device, not a request";
  for (const char* bad :
       {"gpu", "cuda:", "cuda:x", "cuda:-1", "cuda:1x", "CUDA:0", "cuda:99999", ""}) {
    EXPECT_FALSE(vpipe::DeviceRequest::parse(bad).has_value()) << bad;
    try {
      (void)req(bad);
      FAIL() << "'" << bad << "' was accepted";
    } catch (const vpipe::ConfigError& e) {
      const std::string what = e.what();
      EXPECT_NE(what.find(std::string("--device '") + bad + "'"), std::string::npos) << what;
      EXPECT_NE(what.find("auto, cpu, cuda or cuda:N"), std::string::npos) << what;
    }
  }
}

TEST(Devices, SimdLevelNamesTheBestFeature) {
  vpipe::CpuInfo cpu;
  EXPECT_EQ(cpu.simd_level(), "baseline");
  cpu.sse42 = true;
  EXPECT_EQ(cpu.simd_level(), "sse4.2");
  cpu.avx2 = true;
  EXPECT_EQ(cpu.simd_level(), "avx2");
  cpu.avx512f = true;
  EXPECT_EQ(cpu.simd_level(), "avx512");
  cpu.avx512_vpopcntdq = true;
  EXPECT_EQ(cpu.simd_level(), "avx512-vpopcntdq");
}

TEST(Devices, AutoPicksTheFirstGpuOrFallsBackToCpu) {
  EXPECT_EQ(vpipe::select_device(with_gpus(0), req("auto")), dev("cpu"));
  EXPECT_EQ(vpipe::select_device(with_gpus(2), req("auto")), dev("cuda:0"));
  EXPECT_EQ(vpipe::select_device(with_gpus(2), req("cpu")), dev("cpu"));
  EXPECT_EQ(vpipe::select_device(with_gpus(2), req("cuda:1")), dev("cuda:1"));
  EXPECT_EQ(vpipe::select_device(with_gpus(1), req("cuda")), dev("cuda:0"));
}

TEST(Devices, ImpossibleRequestsAreConfigErrorsThatSayWhy) {
  try {
    (void)vpipe::select_device(with_gpus(0), req("cuda:0"));
    FAIL() << "cuda:0 without a GPU must be refused";
  } catch (const vpipe::ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("libcuda"), std::string::npos) << e.what();
  }
  EXPECT_THROW((void)vpipe::select_device(with_gpus(2), req("cuda:2")), vpipe::ConfigError);
  EXPECT_THROW((void)vpipe::select_device(with_gpus(2), req("cuda:x")), vpipe::ConfigError);
  EXPECT_THROW((void)vpipe::select_device(with_gpus(2), req("gpu")), vpipe::ConfigError);
}

using vpipe::CudaDeviceInfo;
using vpipe::device_defaults;
using vpipe::DeviceDefaults;
using vpipe::DeviceInventory;

DeviceInventory inventory_with(uint64_t total_gib, uint64_t free_gib, int sms, int cores) {
  DeviceInventory inv;
  inv.cpu.logical_cores = cores;
  CudaDeviceInfo gpu;
  gpu.name = "test gpu";
  gpu.total_memory_bytes = total_gib << 30;
  gpu.free_memory_bytes = free_gib << 30;
  gpu.multiprocessors = sms;
  inv.cuda.push_back(gpu);
  return inv;
}

TEST(DeviceDefaults, FollowTheHardware) {
  // A T4: 15 GiB free, 40 SMs, 8 cores.
  const DeviceDefaults t4 = device_defaults(inventory_with(16, 15, 40, 8), dev("cuda:0"));
  EXPECT_EQ(t4.device, vpipe::Device::cuda(0));
  EXPECT_EQ(t4.memory_budget_bytes, (uint64_t{15} << 30) / 5 * 4 - (uint64_t{512} << 20));
  EXPECT_EQ(t4.decode_workers, 7);  // one core feeds the GPU
  EXPECT_EQ(t4.infer_batch, 64);    // 11.5 GiB / 2 / 80 MiB = 73 -> 64
  EXPECT_EQ(t4.hash_batch, 2048);   // 40 SMs * 64 = 2560 -> 2048
  // An H200 with 16 cores: more memory and SMs, up to the caps.
  const DeviceDefaults h200 = device_defaults(inventory_with(141, 139, 132, 16), dev("cuda:0"));
  EXPECT_EQ(h200.infer_batch, 128);
  EXPECT_EQ(h200.hash_batch, 8192);
  EXPECT_EQ(h200.decode_workers, 15);
  EXPECT_GT(h200.memory_budget_bytes, t4.memory_budget_bytes);
  // Free memory unknown (0): the total counts.
  const DeviceDefaults unknown = device_defaults(inventory_with(16, 0, 40, 1), dev("cuda:0"));
  EXPECT_EQ(unknown.memory_budget_bytes, (uint64_t{16} << 30) / 5 * 4 - (uint64_t{512} << 20));
  // A nearly full GPU still gets the floor budget, a batch of 1 and the smallest hash batch.
  DeviceInventory tiny = inventory_with(1, 1, 2, 1);
  tiny.cuda[0].free_memory_bytes = uint64_t{300} << 20;
  const DeviceDefaults small = device_defaults(tiny, dev("cuda:0"));
  EXPECT_EQ(small.memory_budget_bytes, uint64_t{256} << 20);
  EXPECT_EQ(small.infer_batch, 1);
  EXPECT_EQ(small.hash_batch, 256);
  EXPECT_EQ(small.decode_workers, 1);
  // The CPU: every core decodes, no GPU budget.
  const DeviceDefaults cpu = device_defaults(inventory_with(16, 15, 40, 8), dev("cpu"));
  EXPECT_EQ(cpu.decode_workers, 8);
  EXPECT_EQ(cpu.hash_batch, 0);
  EXPECT_EQ(cpu.memory_budget_bytes, 0U);
  EXPECT_THROW((void)device_defaults(inventory_with(16, 15, 40, 8), dev("cuda:1")),
               vpipe::ConfigError);
}

TEST(WorkerDevices, SeveralGpusGetOneWorkerEachUnlessOneIsNamed) {
  DeviceInventory four = inventory_with(80, 70, 132, 16);
  for (int i = 1; i < 4; ++i) {
    four.cuda.push_back(four.cuda[0]);
    four.cuda.back().index = i;
  }
  using V = std::vector<std::string>;
  // As the run table and the logs name them.
  const auto names = [](const std::vector<vpipe::Device>& devices) {
    V out;
    for (const vpipe::Device d : devices) out.push_back(d.str());
    return out;
  };
  // Two per GPU at least (one's copies overlap the other's compute), round robin.
  EXPECT_EQ(names(worker_devices(four, req("auto"), 1)),
            (V{"cuda:0", "cuda:1", "cuda:2", "cuda:3", "cuda:0", "cuda:1", "cuda:2", "cuda:3"}));
  EXPECT_EQ(names(worker_devices(four, req("cuda"), 10)),
            (V{"cuda:0", "cuda:1", "cuda:2", "cuda:3", "cuda:0", "cuda:1", "cuda:2", "cuda:3",
               "cuda:0", "cuda:1"}));
  EXPECT_EQ(names(worker_devices(four, req("cuda:2"), 1)), (V{"cuda:2", "cuda:2"}));
  EXPECT_EQ(names(worker_devices(four, req("cuda:2"), 3)), (V{"cuda:2", "cuda:2", "cuda:2"}));
  EXPECT_EQ(names(worker_devices(four, req("cpu"), 1)), (V{"cpu"}));
  // One GPU: every worker on it, two at least; none: the CPU, as many as asked.
  EXPECT_EQ(names(worker_devices(inventory_with(16, 15, 40, 8), req("auto"), 1)),
            (V{"cuda:0", "cuda:0"}));
  DeviceInventory none = inventory_with(16, 15, 40, 8);
  none.cuda.clear();
  EXPECT_EQ(names(worker_devices(none, req("auto"), 3)), (V{"cpu", "cpu", "cpu"}));
  EXPECT_THROW((void)worker_devices(none, req("cuda"), 1), vpipe::ConfigError);
}

TEST(DeviceDefaults, AConfiguredMemoryBudgetReplacesTheDerivedOneAndSetsTheBatches) {
  const DeviceInventory t4 = inventory_with(16, 15, 40, 8);
  // 2 GiB on the T4: batch 2048 MiB / 2 / 80 MiB = 12.8 -> 8; hash batch by memory 8192 but
  // by SMs 2048.
  const DeviceDefaults two = device_defaults(t4, dev("cuda:0"), uint64_t{2} << 30);
  EXPECT_EQ(two.memory_budget_bytes, uint64_t{2} << 30);
  EXPECT_EQ(two.infer_batch, 8);
  EXPECT_EQ(two.hash_batch, 2048);
  // Below the floor it is raised to 256 MiB; on the CPU it is ignored.
  EXPECT_EQ(device_defaults(t4, dev("cuda:0"), uint64_t{1} << 20).memory_budget_bytes,
            uint64_t{256} << 20);
  EXPECT_EQ(device_defaults(t4, dev("cpu"), uint64_t{2} << 30).memory_budget_bytes, 0U);
}

}  // namespace
