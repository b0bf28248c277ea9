// Letterboxing on the GPU in a build without nvcc: the arguments are checked as in the CUDA
// build, then the call fails with the reason there are no kernels (callers fall back to
// letterbox_into on the CPU).
#include "vpipe/core/error.h"
#include "vpipe/device/cuda/gpu.h"
#include "vpipe/infer/cuda/preprocess_cuda.h"

namespace vpipe::cuda::detail {

void letterbox_batch(const uint8_t*, size_t pixel_bytes, const LetterboxSlot* images, size_t count,
                     const TensorOptions& options, OutputType type, void*, size_t out_values, bool,
                     int device) {
  check_layout(pixel_bytes, images, count, options, out_values);
  if (type != OutputType::kFloat32 && type != OutputType::kFloat16) {
    throw std::invalid_argument("letterbox_batch: unknown output type");
  }
  if (count == 0) return;
  throw CudaError("letterbox_batch on the GPU: " + unavailable_reason(device));
}

}  // namespace vpipe::cuda::detail
