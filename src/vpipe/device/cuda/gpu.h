#pragma once

// The CUDA side of the device manager (issue 7), as the rest of vpipe sees it: no CUDA header
// here, so every library can include it whether or not this build has kernels. Built from
// gpu.cu (and the kernels beside it) when nvcc was found, from gpu_stub.cpp otherwise.

#include <string>

namespace vpipe::cuda {

/// True when this build has the CUDA kernels (nvcc was found at configure time).
[[nodiscard]] bool built();

/// Devices the CUDA runtime can use (0 without a driver, a GPU, or kernels in this build);
/// `why`, when given, is set to the reason there are none. Thread-safe; cheap after the first
/// call (the runtime initialises once).
[[nodiscard]] int device_count(std::string* why = nullptr);

/// The reason kernels cannot run on `device` ("" when they can): tests skip with it, stages fall
/// back to the CPU and log it once.
[[nodiscard]] std::string unavailable_reason(int device = 0);

}  // namespace vpipe::cuda
