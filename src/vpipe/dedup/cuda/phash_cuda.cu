// pHash and dHash of a batch of gray images on the GPU (issue 7); the CPU reference is
// phash_cpu / dhash_cpu in dedup/hashes.cpp, and docs/SIGNALS.md defines both hashes.
//
// Algorithm, one thread block of kThreads (256) threads per image:
//  1. Thumbnails. Each thread computes thumbnail pixels directly: the 32x32 pHash thumbnail
//     (1024 pixels) and the 9x8 dHash one (72) by exact integer area averaging, with the span
//     arithmetic of area_resample_gray (dedup/area_span.h, shared with the CPU code): output
//     pixel = sum over its source rectangle of row_weight * col_weight * pixel, divided by
//     width * height, rounded half up. The CPU sums columns first, we sum rows first; the sums
//     are exact integers (uint64), so both give the same thumbnail bit for bit.
//  2. DCT-II of the 32x32 thumbnail, orthonormal like cv::dct (factor sqrt(1/32) for frequency
//     0, sqrt(2/32) = 1/4 otherwise, in each dimension), but only the 8x8 low block, as two
//     separable passes in double: row pass T[u][c] = sum_r cos(pi (2r+1) u / 64) f[r][c]
//     (256 sums, one per thread), column pass C[u][v] = sum_c cos(pi (2c+1) v / 64) T[u][c]
//     (64 sums). For a non-zero frequency the basis sums to 0, so we subtract the vector's
//     first element before summing (f[r][c] - f[0][c] in integers; T[u][c] - T[u][0]): that
//     changes nothing mathematically but makes a coefficient exactly 0 when the input is
//     constant along that axis, as OpenCV's is on a constant image (pHash 0x8000000000000000).
//     The DC term is the exact integer sum / 32.
//  3. Median of the 63 AC coefficients: each of 63 threads counts the coefficients ranked
//     below its own (ties broken by index), and the one of rank 31 is the median, the value
//     std::nth_element puts at index 31 on the CPU. Bit 63 - i is coefficient i > median.
//  4. dHash: bit (row r, col c) = thumbnail pixel (r, c) > pixel (r, c + 1), row-major, MSB
//     first. Integers only: equal to dhash_cpu bit for bit.
//
// pHash vs the CPU: OpenCV computes the DCT in float with a fast algorithm, we in double by
// direct sums, so coefficients differ by float rounding (about 1e-6 of the block's scale). A
// bit can differ only where a coefficient is within that of the median (a near-tie), which the
// test allows and docs/SIGNALS.md documents; elsewhere the bits agree.
//
// Shared memory per block: 1024 + 72 bytes of thumbnails, 2 * 8 * 32 doubles (cosine table and
// row pass), 64 + 1 doubles (low block, median): about 5.7 KiB.

#include <cuda_runtime.h>

#include <algorithm>
#include <climits>
#include <cstddef>
#include <string>

#include "vpipe/core/error.h"
#include "vpipe/device/cuda/cuda_check.cuh"
#include "vpipe/dedup/area_span.h"
#include "vpipe/device/cuda/gpu.h"
#include "vpipe/dedup/cuda/phash_cuda.h"

namespace vpipe::cuda {
namespace {

constexpr int kPhashSide = 32;
constexpr int kPhashLow = 8;
constexpr int kPhashThumb = kPhashSide * kPhashSide;
constexpr int kLowCount = kPhashLow * kPhashLow;  // 64 coefficients, DC first
constexpr int kMedianRank = (kLowCount - 1) / 2;  // 31: index of the median of the 63 AC terms
constexpr int kDhashWidth = 9;
constexpr int kDhashHeight = 8;
constexpr int kDhashThumb = kDhashWidth * kDhashHeight;
// One thread per row-pass sum (8 frequencies x 32 columns) and per cosine-table entry.
constexpr int kThreads = kPhashLow * kPhashSide;
static_assert(kThreads == 256 && kThreads >= kLowCount, "the passes index threads directly");

// Orthonormal DCT-II scale of coefficient (u, v): sqrt(1/32) or 1/4 per dimension.
constexpr double kScaleDc = 1.0 / 32.0;               // u == 0 and v == 0
constexpr double kScaleMixed = 0.044194173824159216;  // sqrt(1/32) / 4 = sqrt(2) / 32
constexpr double kScaleAc = 1.0 / 16.0;               // u > 0 and v > 0

// Thumbnail pixel (row i, col j) of an out_w x out_h area resample of the width x height image
// at `src` (tight rows): the same integer as area_resample_gray's.
__device__ uint8_t area_pixel(const uint8_t* src, int width, int height, int out_w, int out_h,
                              int i, int j) {
  const area::SourceSpan rows = area::span_of(i, height, out_h);
  const area::SourceSpan cols = area::span_of(j, width, out_w);
  uint64_t sum = 0;
  for (int y = rows.first; y <= rows.last; ++y) {
    const uint8_t* row = src + static_cast<size_t>(y) * static_cast<size_t>(width);
    uint64_t row_sum = 0;
    for (int x = cols.first; x <= cols.last; ++x)
      row_sum += area::weight_of(cols, x, out_w) * row[x];
    sum += area::weight_of(rows, y, out_h) * row_sum;
  }
  return area::level_of(sum, static_cast<uint64_t>(width) * static_cast<uint64_t>(height));
}

// One block of kThreads threads per image (blockIdx.x = image index). `pixels`: the batch's
// concatenated images; `images`: gridDim.x slots; `phash`, `dhash`: gridDim.x * 8 bytes each.
__global__ void __launch_bounds__(kThreads)
    perceptual_hash_kernel(const uint8_t* pixels, const GrayImageSlot* images, uint64_t* phash,
                           uint64_t* dhash) {
  const unsigned image = blockIdx.x;
  const int t = static_cast<int>(threadIdx.x);
  const GrayImageSlot slot = images[image];
  // The same for every thread of the block, so all leave before the first barrier.
  if (slot.width <= 0 || slot.height <= 0) {
    if (t == 0) {
      phash[image] = 0;
      dhash[image] = 0;
    }
    return;
  }

  __shared__ uint8_t thumb[kPhashThumb];               // 32 x 32, row-major
  __shared__ uint8_t dthumb[kDhashThumb];              // 9 wide x 8 high, row-major
  __shared__ double cos_table[kPhashLow][kPhashSide];  // [k][x] = cos(pi (2x + 1) k / 64)
  __shared__ double row_pass[kPhashLow][kPhashSide];   // [u][c], see step 2 above
  __shared__ double low[kLowCount];                    // coefficient 8 u + v
  __shared__ double median;

  const uint8_t* src = pixels + slot.offset;
  for (int k = t; k < kPhashThumb + kDhashThumb; k += kThreads) {
    if (k < kPhashThumb) {
      thumb[k] = area_pixel(src, slot.width, slot.height, kPhashSide, kPhashSide, k / kPhashSide,
                            k % kPhashSide);
    } else {
      const int d = k - kPhashThumb;
      dthumb[d] = area_pixel(src, slot.width, slot.height, kDhashWidth, kDhashHeight,
                             d / kDhashWidth, d % kDhashWidth);
    }
  }
  {
    const int k = t / kPhashSide;
    const int x = t % kPhashSide;
    // (2x + 1) k / 64 is exact in double; cospi avoids rounding pi.
    cos_table[k][x] = cospi(static_cast<double>((2 * x + 1) * k) / 64.0);
  }
  __syncthreads();

  // Row pass: thread t sums frequency u = t / 32 down column c = t % 32.
  {
    const int u = t / kPhashSide;
    const int c = t % kPhashSide;
    if (u == 0) {
      int sum = 0;  // at most 32 * 255: exact
      for (int r = 0; r < kPhashSide; ++r) sum += thumb[r * kPhashSide + c];
      row_pass[0][c] = static_cast<double>(sum);
    } else {
      const int first = thumb[c];
      double sum = 0.0;
      for (int r = 0; r < kPhashSide; ++r) {
        sum += cos_table[u][r] * static_cast<double>(thumb[r * kPhashSide + c] - first);
      }
      row_pass[u][c] = sum;
    }
  }
  __syncthreads();

  // Column pass: thread t < 64 computes coefficient (u, v) = (t / 8, t % 8).
  if (t < kLowCount) {
    const int u = t / kPhashLow;
    const int v = t % kPhashLow;
    double sum = 0.0;
    if (v == 0) {
      for (int c = 0; c < kPhashSide; ++c) sum += row_pass[u][c];
    } else {
      const double first = row_pass[u][0];
      for (int c = 0; c < kPhashSide; ++c) sum += cos_table[v][c] * (row_pass[u][c] - first);
    }
    const double scale = (u == 0 && v == 0)   ? kScaleDc
                         : (u == 0 || v == 0) ? kScaleMixed
                                              : kScaleAc;
    low[t] = scale * sum;
  }
  __syncthreads();

  // Median of the AC terms 1..63: ranks with ties broken by index are a permutation of 0..62,
  // so exactly one thread writes `median`.
  if (t >= 1 && t < kLowCount) {
    const double mine = low[t];
    int rank = 0;
    for (int j = 1; j < kLowCount; ++j) {
      const double other = low[j];
      if (other < mine || (other == mine && j < t)) ++rank;
    }
    if (rank == kMedianRank) median = mine;
  }
  __syncthreads();

  if (t == 0) {
    uint64_t p = 0;
    for (int i = 0; i < kLowCount; ++i) p = (p << 1) | (low[i] > median ? 1U : 0U);
    uint64_t d = 0;
    for (int r = 0; r < kDhashHeight; ++r) {
      for (int c = 0; c + 1 < kDhashWidth; ++c) {
        d = (d << 1) | (dthumb[r * kDhashWidth + c] > dthumb[r * kDhashWidth + c + 1] ? 1U : 0U);
      }
    }
    phash[image] = p;
    dhash[image] = d;
  }
}

}  // namespace

namespace detail {

void perceptual_hashes(const uint8_t* pixels, size_t pixel_bytes, const GrayImageSlot* images,
                       size_t count, uint64_t* phash, uint64_t* dhash, int device) {
  check_layout(pixel_bytes, images, count);
  if (count == 0) return;
  if (count > static_cast<size_t>(INT_MAX)) {
    throw std::invalid_argument("perceptual_hashes: more than INT_MAX images in one batch");
  }
  if (const std::string why = unavailable_reason(device); !why.empty()) {
    throw CudaError("pHash/dHash on the GPU: " + why);
  }
  VPIPE_CUDA_CHECK(cudaSetDevice(device));

  DeviceArray<uint8_t> device_pixels(pixel_bytes, "perceptual_hashes: pixels");
  DeviceArray<GrayImageSlot> device_images(count, "perceptual_hashes: images");
  DeviceArray<uint64_t> device_phash(count, "perceptual_hashes: phash");
  DeviceArray<uint64_t> device_dhash(count, "perceptual_hashes: dhash");
  if (pixel_bytes != 0) {
    VPIPE_CUDA_CHECK(cudaMemcpy(device_pixels.get(), pixels, pixel_bytes, cudaMemcpyHostToDevice));
  }
  VPIPE_CUDA_CHECK(cudaMemcpy(device_images.get(), images, count * sizeof(GrayImageSlot),
                              cudaMemcpyHostToDevice));
  perceptual_hash_kernel<<<static_cast<unsigned>(count), kThreads>>>(
      device_pixels.get(), device_images.get(), device_phash.get(), device_dhash.get());
  VPIPE_CUDA_CHECK(cudaGetLastError());
  // cudaMemcpy waits for the kernel and reports an error it hit while running.
  VPIPE_CUDA_CHECK(
      cudaMemcpy(phash, device_phash.get(), count * sizeof(uint64_t), cudaMemcpyDeviceToHost));
  VPIPE_CUDA_CHECK(
      cudaMemcpy(dhash, device_dhash.get(), count * sizeof(uint64_t), cudaMemcpyDeviceToHost));
}

}  // namespace detail
}  // namespace vpipe::cuda
