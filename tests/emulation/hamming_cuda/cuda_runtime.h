// Test-only: a CPU emulation of the bits of CUDA that hamming_cuda.cu uses (run.sh beside it;
// ../preprocess_cuda/run.sh uses it for preprocess_cuda.cu too):
// blocks run one at a time in a shuffled order (so atomics are ordered differently each launch),
// 256 threads per block as real threads with barriers for __syncthreads and per-warp shuffles.
#pragma once
#include <algorithm>
#include <atomic>
#include <barrier>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <memory>
#include <mutex>
#include <random>
#include <thread>
#include <vector>

#define __global__
#define __device__
#define __host__
#define __forceinline__ inline
#define __launch_bounds__(x)
#define __shared__ static

enum cudaError_t { cudaSuccess = 0, cudaErrorMemoryAllocation = 2 };
enum cudaMemcpyKind { cudaMemcpyHostToDevice, cudaMemcpyDeviceToHost, cudaMemcpyDeviceToDevice };
using cudaStream_t = void*;
constexpr unsigned cudaStreamNonBlocking = 1;
inline const char* cudaGetErrorString(cudaError_t) { return "emulated error"; }
inline const char* cudaGetErrorName(cudaError_t) { return "cudaErrorEmulated"; }
inline cudaError_t cudaGetLastError() { return cudaSuccess; }
inline size_t g_alloc_limit = SIZE_MAX;
inline cudaError_t cudaMalloc(void** p, size_t bytes) {
  if (bytes > g_alloc_limit) return cudaErrorMemoryAllocation;
  *p = std::malloc(bytes == 0 ? 1 : bytes);
  std::memset(*p, 0xAB, bytes);  // garbage, like the device
  return cudaSuccess;
}
inline cudaError_t cudaFree(void* p) {
  std::free(p);
  return cudaSuccess;
}
inline cudaError_t cudaStreamCreateWithFlags(cudaStream_t* s, unsigned) {
  *s = reinterpret_cast<void*>(1);
  return cudaSuccess;
}
inline cudaError_t cudaStreamDestroy(cudaStream_t) { return cudaSuccess; }
inline cudaError_t cudaStreamSynchronize(cudaStream_t) { return cudaSuccess; }
inline cudaError_t cudaGetDevice(int* d) {
  *d = 0;
  return cudaSuccess;
}
inline cudaError_t cudaSetDevice(int) { return cudaSuccess; }
inline cudaError_t cudaMemcpy(void* d, const void* s, size_t n, cudaMemcpyKind) {
  std::memcpy(d, s, n);
  return cudaSuccess;
}
inline cudaError_t cudaDeviceSynchronize() { return cudaSuccess; }
inline cudaError_t cudaMemcpyAsync(void* d, const void* s, size_t n, cudaMemcpyKind, cudaStream_t) {
  std::memcpy(d, s, n);
  return cudaSuccess;
}

struct dim3 {
  unsigned x = 1, y = 1, z = 1;
  dim3(unsigned a = 1, unsigned b = 1, unsigned c = 1) : x(a), y(b), z(c) {}
};
inline thread_local dim3 threadIdx, blockIdx;
inline dim3 blockDim, gridDim;

struct EmuBlock {
  std::unique_ptr<std::barrier<>> block_barrier;
  std::vector<std::unique_ptr<std::barrier<>>> warp_barriers;
  std::vector<unsigned long long> shfl;
};
inline EmuBlock g_block;
inline std::mutex g_atomic;
inline size_t g_launches = 0;

inline void __syncthreads() { g_block.block_barrier->arrive_and_wait(); }
inline uint32_t __shfl_up_sync(unsigned, uint32_t v, unsigned d) {
  const unsigned t = threadIdx.x, lane = t & 31, w = t >> 5;
  g_block.warp_barriers[w]->arrive_and_wait();
  g_block.shfl[t] = v;
  g_block.warp_barriers[w]->arrive_and_wait();
  const uint32_t r = lane >= d ? static_cast<uint32_t>(g_block.shfl[t - d]) : v;
  g_block.warp_barriers[w]->arrive_and_wait();
  return r;
}
inline int __popcll(unsigned long long x) { return __builtin_popcountll(x); }
inline unsigned long long atomicAdd(unsigned long long* p, unsigned long long v) {
  std::lock_guard l(g_atomic);
  auto o = *p;
  *p += v;
  return o;
}
inline unsigned int atomicAdd(unsigned int* p, unsigned int v) {
  std::lock_guard l(g_atomic);
  auto o = *p;
  *p += v;
  return o;
}
inline unsigned long long atomicMin(unsigned long long* p, unsigned long long v) {
  std::lock_guard l(g_atomic);
  auto o = *p;
  *p = std::min(o, v);
  return o;
}

template <typename Kernel, typename... Args>
void emu_launch(dim3 grid, unsigned threads, Kernel kernel, Args... args) {
  ++g_launches;
  blockDim = dim3(threads);
  gridDim = grid;
  std::vector<dim3> blocks;
  for (unsigned y = 0; y < grid.y; ++y)
    for (unsigned x = 0; x < grid.x; ++x) blocks.push_back(dim3(x, y));
  static std::mt19937 rng(12345);
  std::shuffle(blocks.begin(), blocks.end(), rng);
  g_block.block_barrier = std::make_unique<std::barrier<>>(threads);
  g_block.warp_barriers.clear();
  for (unsigned w = 0; w < threads / 32; ++w)
    g_block.warp_barriers.push_back(std::make_unique<std::barrier<>>(32));
  g_block.shfl.assign(threads, 0);
  std::barrier start(threads + 1), done(threads + 1);
  std::vector<std::thread> pool;
  const dim3* current = nullptr;
  bool stop = false;
  for (unsigned t = 0; t < threads; ++t) {
    pool.emplace_back([&, t] {
      threadIdx = dim3(t);
      for (;;) {
        start.arrive_and_wait();
        if (stop) return;
        blockIdx = *current;
        kernel(args...);
        done.arrive_and_wait();
      }
    });
  }
  for (const dim3& b : blocks) {
    current = &b;
    start.arrive_and_wait();
    done.arrive_and_wait();
  }
  stop = true;
  start.arrive_and_wait();
  for (auto& th : pool) th.join();
}
