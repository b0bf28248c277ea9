// pHash / dHash of a build without nvcc: the layout is checked as in the CUDA build, then the
// call fails with the reason there are no kernels (callers fall back to phash_cpu / dhash_cpu).
#include "vpipe/core/error.h"
#include "vpipe/device/cuda/gpu.h"
#include "vpipe/dedup/cuda/phash_cuda.h"

namespace vpipe::cuda::detail {

void perceptual_hashes(const uint8_t*, size_t pixel_bytes, const GrayImageSlot* images,
                       size_t count, uint64_t*, uint64_t*, int device) {
  check_layout(pixel_bytes, images, count);
  if (count == 0) return;
  throw CudaError("pHash/dHash on the GPU: " + unavailable_reason(device));
}

}  // namespace vpipe::cuda::detail
