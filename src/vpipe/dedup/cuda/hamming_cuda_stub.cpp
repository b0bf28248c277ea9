// The CUDA Hamming search in a build without nvcc: hamming_cuda.cpp throws before it gets here
// (cuda::unavailable_reason says the build has no kernels); this keeps the link whole and says
// the same if it is ever reached.
#include "vpipe/core/error.h"
#include "vpipe/dedup/cuda/hamming_cuda_detail.h"

namespace vpipe::cuda::detail {

SelfJoinCounts self_join(const uint64_t*, size_t, int, int, size_t, const PairBufferFn&,
                         const DeliverFn&) {
  throw CudaError(
      "hamming_self_join_cuda: this vpipe was built without CUDA kernels (nvcc not found)");
}

}  // namespace vpipe::cuda::detail
