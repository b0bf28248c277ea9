#pragma once

// What the .cu files share: CUDA error checks that become vpipe::CudaError, device memory that
// says what did not fit (vpipe::DeviceOutOfMemory), a stream and a current-device scope. It
// includes <cuda_runtime.h>, so only nvcc-compiled files include it, and the emulation harnesses
// (tests/emulation/*), whose fake runtime stands in for CUDA's.

#include <cuda_runtime.h>

#include <algorithm>
#include <cstddef>
#include <string>

#include "vpipe/core/error.h"

namespace vpipe::cuda::detail {

/// Throws CudaError: "CUDA call failed: <call>: <error name> (<error string>) at <file>:<line>".
[[noreturn]] inline void throw_cuda_error(cudaError_t rc, const char* call, const char* file,
                                          int line) {
  std::string message = "CUDA call failed: ";
  message += call;
  message += ": ";
  message += cudaGetErrorName(rc);
  message += " (";
  message += cudaGetErrorString(rc);
  message += ") at ";
  message += file;
  message += ":";
  message += std::to_string(line);
  throw CudaError(message);
}

inline void check_cuda(cudaError_t rc, const char* call, const char* file, int line) {
  if (rc != cudaSuccess) throw_cuda_error(rc, call, file, line);
}

}  // namespace vpipe::cuda::detail

/// Wraps every CUDA runtime call: a failure throws CudaError naming the call and the place.
#define VPIPE_CUDA_CHECK(call) ::vpipe::cuda::detail::check_cuda((call), #call, __FILE__, __LINE__)
/// The no-throw twin, for destructors: a failure to free during unwinding has nowhere to go, and
/// the error that caused the unwinding is the one the caller needs.
#define VPIPE_CUDA_CHECK_NOTHROW(call) static_cast<void>(call)

/// After a kernel launch. Define VPIPE_CUDA_DEBUG_SYNC to also wait for it, so a fault is
/// reported at the launch that caused it.
#ifdef VPIPE_CUDA_DEBUG_SYNC
#define VPIPE_CUDA_CHECK_LAUNCH(stream)              \
  do {                                               \
    VPIPE_CUDA_CHECK(cudaGetLastError());            \
    VPIPE_CUDA_CHECK(cudaStreamSynchronize(stream)); \
  } while (false)
#else
#define VPIPE_CUDA_CHECK_LAUNCH(stream) VPIPE_CUDA_CHECK(cudaGetLastError())
#endif

namespace vpipe::cuda::detail {

/// Device memory for `count` T's (room for one at least, so a zero count still gives a valid
/// pointer), freed without throwing. When the device has no room, throws DeviceOutOfMemory
/// naming `what` and the bytes (the error is cleared first, so a CPU fallback or a halved retry
/// starts clean); CudaError for any other failure.
template <typename T>
class DeviceArray {
 public:
  DeviceArray(size_t count, const char* what) : count_(count) {
    const size_t bytes = std::max<size_t>(count, 1) * sizeof(T);
    const cudaError_t rc = cudaMalloc(reinterpret_cast<void**>(&data_), bytes);
    if (rc == cudaErrorMemoryAllocation) {
      (void)cudaGetLastError();
      throw DeviceOutOfMemory("out of GPU memory: cudaMalloc of " + std::to_string(bytes) +
                              " bytes for " + what + " failed (" + cudaGetErrorString(rc) + ")");
    }
    check_cuda(rc, "cudaMalloc", __FILE__, __LINE__);
  }
  ~DeviceArray() {
    if (data_ != nullptr) VPIPE_CUDA_CHECK_NOTHROW(cudaFree(data_));
  }
  DeviceArray(const DeviceArray&) = delete;
  DeviceArray& operator=(const DeviceArray&) = delete;

  [[nodiscard]] T* get() const { return data_; }
  [[nodiscard]] size_t size() const { return count_; }

 private:
  T* data_ = nullptr;
  size_t count_;
};

/// A non-blocking stream of its own, destroyed without throwing.
class Stream {
 public:
  Stream() { VPIPE_CUDA_CHECK(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking)); }
  ~Stream() { VPIPE_CUDA_CHECK_NOTHROW(cudaStreamDestroy(stream_)); }
  Stream(const Stream&) = delete;
  Stream& operator=(const Stream&) = delete;
  [[nodiscard]] cudaStream_t get() const { return stream_; }

 private:
  cudaStream_t stream_ = nullptr;
};

/// Makes `device` current for the calling thread and restores the previous one on exit.
class DeviceScope {
 public:
  explicit DeviceScope(int device) {
    VPIPE_CUDA_CHECK(cudaGetDevice(&previous_));
    VPIPE_CUDA_CHECK(cudaSetDevice(device));
  }
  ~DeviceScope() { VPIPE_CUDA_CHECK_NOTHROW(cudaSetDevice(previous_)); }
  DeviceScope(const DeviceScope&) = delete;
  DeviceScope& operator=(const DeviceScope&) = delete;

 private:
  int previous_ = 0;
};

}  // namespace vpipe::cuda::detail
