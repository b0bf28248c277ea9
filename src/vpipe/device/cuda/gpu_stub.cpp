// The CUDA entry points of a build without nvcc: no devices, and why.
#include "vpipe/device/cuda/gpu.h"

namespace vpipe::cuda {

bool built() { return false; }

int device_count(std::string* why) {
  if (why != nullptr) *why = "this vpipe was built without CUDA kernels (nvcc not found)";
  return 0;
}

std::string unavailable_reason(int) {
  return "this vpipe was built without CUDA kernels (nvcc not found)";
}

}  // namespace vpipe::cuda
