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
  EXPECT_EQ(vpipe::select_device(with_gpus(0), "auto"), "cpu");
  EXPECT_EQ(vpipe::select_device(with_gpus(2), "auto"), "cuda:0");
  EXPECT_EQ(vpipe::select_device(with_gpus(2), "cpu"), "cpu");
  EXPECT_EQ(vpipe::select_device(with_gpus(2), "cuda:1"), "cuda:1");
  EXPECT_EQ(vpipe::select_device(with_gpus(1), "cuda"), "cuda:0");
}

TEST(Devices, ImpossibleRequestsAreConfigErrorsThatSayWhy) {
  try {
    (void)vpipe::select_device(with_gpus(0), "cuda:0");
    FAIL() << "cuda:0 without a GPU must be refused";
  } catch (const vpipe::ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("libcuda"), std::string::npos) << e.what();
  }
  EXPECT_THROW((void)vpipe::select_device(with_gpus(2), "cuda:2"), vpipe::ConfigError);
  EXPECT_THROW((void)vpipe::select_device(with_gpus(2), "cuda:x"), vpipe::ConfigError);
  EXPECT_THROW((void)vpipe::select_device(with_gpus(2), "gpu"), vpipe::ConfigError);
}

}  // namespace
