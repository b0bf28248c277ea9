// The CUDA runtime probe: one answer, with a reason whenever there is no device.
#include "vpipe/device/cuda/gpu.h"

#include <gtest/gtest.h>

#include "cuda_skip.h"
#include "vpipe/device/devices.h"

namespace vpipe {
namespace {

TEST(CudaGpu, BuiltMatchesTheConfigureStep) {
#ifdef VPIPE_HAVE_CUDA
  EXPECT_TRUE(cuda::built());
#else
  EXPECT_FALSE(cuda::built());
#endif
}

TEST(CudaGpu, NoDeviceAlwaysComesWithAReason) {
  std::string why;
  const int n = cuda::device_count(&why);
  ASSERT_GE(n, 0);
  if (n == 0) {
    EXPECT_FALSE(why.empty());
    EXPECT_EQ(cuda::unavailable_reason(0), why);
  } else {
    EXPECT_TRUE(why.empty()) << why;
    EXPECT_EQ(cuda::unavailable_reason(0), "");
  }
  EXPECT_FALSE(cuda::unavailable_reason(n).empty()) << "device " << n << " is one past the last";
}

TEST(CudaGpu, TheRuntimeAndTheDriverProbeAgree) {
  // The device manager finds devices through the driver (dlopen libcuda.so.1), the kernels
  // through the CUDA runtime: with kernels built, both must see the same number of GPUs.
  if (!cuda::built()) GTEST_SKIP() << "built without CUDA kernels";
  const DeviceInventory inventory = probe_devices();
  EXPECT_EQ(cuda::device_count(), static_cast<int>(inventory.cuda.size()))
      << "driver: " << inventory.cuda_status;
}

}  // namespace
}  // namespace vpipe
