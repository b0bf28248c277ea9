// The CUDA entry points of a build with kernels: the static CUDA runtime, which loads the driver
// (libcuda.so.1) on first use, so this runs (and reports no device) on machines without one.
#include <cuda_runtime.h>

#include <mutex>

#include "vpipe/device/cuda/gpu.h"

namespace vpipe::cuda {
namespace {

struct Probe {
  int count = 0;
  std::string why;
};

const Probe& probe() {
  static const Probe result = [] {
    Probe p;
    const cudaError_t rc = cudaGetDeviceCount(&p.count);
    if (rc != cudaSuccess) {
      p.count = 0;
      p.why = std::string("CUDA runtime: ") + cudaGetErrorString(rc);
      (void)cudaGetLastError();  // clear the sticky-free error so later calls start clean
    } else if (p.count == 0) {
      p.why = "the CUDA runtime found no device";
    }
    return p;
  }();
  return result;
}

}  // namespace

bool built() { return true; }

int device_count(std::string* why) {
  const Probe& p = probe();
  if (why != nullptr) *why = p.why;
  return p.count;
}

std::string unavailable_reason(int device) {
  const Probe& p = probe();
  if (p.count == 0) return p.why;
  if (device < 0 || device >= p.count) {
    return "no CUDA device " + std::to_string(device) + " (" + std::to_string(p.count) +
           " found)";
  }
  return {};
}

}  // namespace vpipe::cuda
