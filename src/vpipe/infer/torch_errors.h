#pragma once

// Classifying LibTorch's error messages, header-only: torch_backend.cpp (the plugin, which links
// none of vpipe's objects) uses it, and so does its test, which never sees a torch header.

#include <array>
#include <string_view>

namespace vpipe::detail {

/// Whether a LibTorch error message says a CUDA device ran out of memory. LibTorch reports it in
/// several ways, by version and by where the allocation failed:
///   - the caching allocator, 1.13: "CUDA out of memory. Tried to allocate 20.00 MiB (GPU 0;
///     15.78 GiB total capacity; ...)"; 2.x: "CUDA out of memory. Tried to allocate 2.00 GiB.
///     GPU 0 has a total capacity of 79.15 GiB of which ..." (both as c10::OutOfMemoryError, but
///     re-wrapped as a plain c10::Error with a traceback when raised inside a TorchScript network);
///   - a CUDA runtime call checked by C10_CUDA_CHECK: "CUDA error: out of memory";
///   - the cuBLAS / cuDNN handles: "CUBLAS_STATUS_ALLOC_FAILED", "CUDNN_STATUS_ALLOC_FAILED".
/// Looks anywhere in `message` (the traceback may come first). Pure; thread-safe.
[[nodiscard]] inline bool is_cuda_oom_message(std::string_view message) {
  constexpr std::array<std::string_view, 4> kMarkers = {
      "CUDA out of memory",
      "CUDA error: out of memory",
      "CUBLAS_STATUS_ALLOC_FAILED",
      "CUDNN_STATUS_ALLOC_FAILED",
  };
  for (const std::string_view marker : kMarkers) {
    if (message.find(marker) != std::string_view::npos) return true;
  }
  return false;
}

}  // namespace vpipe::detail
