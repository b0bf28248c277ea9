// Test-only (tests/emulation/hamming_cuda/run.sh): a device 0 that is always usable.
#include "vpipe/device/cuda/gpu.h"
namespace vpipe::cuda {
bool built() { return true; }
int device_count(std::string* why) {
  if (why) *why = "";
  return 1;
}
std::string unavailable_reason(int device) { return device == 0 ? "" : "no such device"; }
}  // namespace vpipe::cuda
