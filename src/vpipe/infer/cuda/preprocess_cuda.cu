// Letterbox + normalise a batch of images into one model input tensor on the GPU; the CPU
// reference is letterbox_into in infer/preprocess.cpp (cv::resize INTER_LINEAR into a padded
// canvas, then a per-channel lookup table).
//
// One thread per output pixel (grid-stride over N * H * W), writing its 3 tensor channels.
// A pixel outside the image's resized rectangle is the padding grey level; one inside is the
// resized image's pixel, computed as OpenCV 4.x computes cv::resize INTER_LINEAR on 8-bit
// images (modules/imgproc/src/resize.cpp, resizeGeneric with fixed-point coefficients):
//  - Source position: fx = (float)((dx + 0.5) * sx - 0.5) in double, sx = 1 / inv_scale_x,
//    inv_scale_x the factor cv::resize was given (letterbox_into passes scale_x when it
//    reproduces the resized size, resized_width / width otherwise; kernel_image_of mirrors that
//    choice). x0 = floor(fx), the fraction fx - x0; left of the image x0 = 0 and fraction 0, at
//    or right of the last column x0 = width - 1 and fraction 0. Rows alike, but a row's
//    fraction is NOT zeroed at the borders: rows are clamped and both weights kept, as OpenCV.
//  - Weights: 11-bit fixed point, a0 = round_even((1 - f) * 2048), a1 = round_even(f * 2048),
//    each rounded on its own (they need not sum to 2048).
//  - Horizontal: h = p[x0] * a0 + p[x0 + 1] * a1 (exact ints, as OpenCV's SIMD dot products).
//  - Vertical: the formula of OpenCV's SIMD pass (VResizeLinearVec_32s8u),
//    (((h0 >> 4) * b0 >> 16) + ((h1 >> 4) * b1 >> 16) + 2) >> 2, saturated to 0..255. Its
//    scalar twin, (h0 * b0 + h1 * b1 + 2^21) >> 22, differs by one level now and then. With
//    Debian 12's OpenCV 4.6 the SIMD result holds in every column, the last ones included (a
//    one-off comparison with cv::resize over 3000 random sizes, 9.9 million values, found no
//    exception, and the test's cases agree bit for bit), so the kernel uses it everywhere. An
//    OpenCV built without SIMD would differ by at most 1.
//  - An exact 2x downscale (1 / inv_scale == 2 on both axes, within DBL_EPSILON) is INTER_AREA's
//    fast path in OpenCV: (a + b + c + d + 2) >> 2 over the 2x2 block, and where the block
//    leaves the image (odd sides) round_even(sum / count) over the pixels inside.
// Doubles and floats go through round-to-nearest intrinsics on the device, so nvcc's FMA
// contraction cannot change a sampling position.
// Normalising: the host builds letterbox_into's table[c][v] = (v * scale - mean[c]) / std[c]
// (3 x 256 floats) and the kernel looks values up, so float32 output equals the CPU's bit for
// bit; float16 is that float rounded to nearest even (float_to_half_bits).
//
// Checked against letterbox_into by tests/unit/device/preprocess_cuda_test.cpp, on a device and
// on the CPU under tests/emulation/preprocess_cuda/run.sh.

#include <cuda_runtime.h>

#include <algorithm>
#include <cfloat>
#include <climits>
#include <cmath>
#include <cstddef>
#include <cstring>
#include <string>
#include <vector>

#include "vpipe/core/error.h"
#include "vpipe/device/cuda/cuda_check.cuh"
#include "vpipe/device/cuda/gpu.h"
#include "vpipe/infer/cuda/preprocess_cuda.h"

namespace vpipe::cuda {
namespace {

constexpr int kThreads = 256;
// Grid-stride: enough blocks to fill any current GPU, few enough to index with an int. The CPU
// emulation (tests/emulation/preprocess_cuda) sets fewer, so each thread loops over many pixels.
#ifndef VPIPE_PREPROCESS_MAX_BLOCKS
#define VPIPE_PREPROCESS_MAX_BLOCKS (1 << 20)
#endif
constexpr size_t kMaxBlocks = VPIPE_PREPROCESS_MAX_BLOCKS;
constexpr int kCoefScale = 2048;  // INTER_RESIZE_COEF_SCALE, 1 << 11

// What the kernel needs of one image, derived on the host from its LetterboxSlot.
struct KernelImage {
  uint64_t offset;
  int32_t width, height, channels;
  int32_t resized_width, resized_height;
  int32_t pad_x, pad_y;
  int32_t area2x;        // 1: OpenCV's INTER_AREA 2x2 fast path, 0: bilinear
  double source_step_x;  // source pixels per resized pixel, 1 / inv_scale_x
  double source_step_y;
};

// The batch-wide part, passed by value.
struct KernelParams {
  int32_t dst_width, dst_height;
  int32_t layout;  // OutputLayout
  int32_t type;    // OutputType
  int32_t pad_value;
  int32_t source_channel[3];  // for a 3-channel image: which source channel tensor channel c reads
  uint64_t pixels_per_image;  // dst_width * dst_height
  uint64_t total_pixels;      // count * pixels_per_image
};

// Round-to-nearest arithmetic that nvcc may not fuse into an FMA; plain on the host (the
// emulation), where g++ for x86-64 does not contract without -mfma.
__device__ __forceinline__ double dmul(double a, double b) {
#ifdef __CUDA_ARCH__
  return __dmul_rn(a, b);
#else
  return a * b;
#endif
}
__device__ __forceinline__ double dsub(double a, double b) {
#ifdef __CUDA_ARCH__
  return __dsub_rn(a, b);
#else
  return a - b;
#endif
}
__device__ __forceinline__ float fmul(float a, float b) {
#ifdef __CUDA_ARCH__
  return __fmul_rn(a, b);
#else
  return a * b;
#endif
}
__device__ __forceinline__ float fsub(float a, float b) {
#ifdef __CUDA_ARCH__
  return __fsub_rn(a, b);
#else
  return a - b;
#endif
}

// cvRound of a float: nearest, ties to even (the default rounding mode on both sides).
__device__ __forceinline__ int round_even(float v) { return static_cast<int>(rintf(v)); }

__device__ __forceinline__ int clamp_int(int v, int lo, int hi) {
  return v < lo ? lo : (v > hi ? hi : v);
}

// IEEE binary16 bits of `f`, rounded to nearest even; overflow to infinity, NaN stays NaN.
__device__ __forceinline__ uint16_t float_to_half_bits(float f) {
  uint32_t x;
  memcpy(&x, &f, sizeof(x));
  const uint32_t sign = (x >> 16) & 0x8000U;
  const uint32_t mag = x & 0x7fffffffU;
  if (mag >= 0x7f800000U)
    return static_cast<uint16_t>(sign | (mag > 0x7f800000U ? 0x7e00U : 0x7c00U));
  if (mag >= 0x477ff000U) return static_cast<uint16_t>(sign | 0x7c00U);  // >= 65520: infinity
  if (mag <= 0x33000000U) return static_cast<uint16_t>(sign);            // <= 2^-25: zero
  uint32_t q, rem, half;
  if (mag < 0x38800000U) {
    // Subnormal half: the value in units of 2^-24. mag = m * 2^(e - 150).
    const uint32_t m = (mag & 0x7fffffU) | 0x800000U;
    const int shift = 126 - static_cast<int>(mag >> 23);  // 14..24
    q = m >> shift;
    rem = m & ((1U << shift) - 1U);
    half = 1U << (shift - 1);
  } else {
    const uint32_t rebiased = mag - 0x38000000U;  // exponent bias 127 -> 15
    q = rebiased >> 13;
    rem = rebiased & 0x1fffU;
    half = 0x1000U;
  }
  if (rem > half || (rem == half && (q & 1U) != 0)) ++q;  // a carry rolls into the exponent
  return static_cast<uint16_t>(sign | q);
}

// Fixed-point horizontal interpolation of channel k of row `row` (OpenCV's HResizeLinear).
struct Horizontal {
  int x0, x1;  // source element offsets (pixel * channels)
  int a0, a1;  // weights
};

__device__ __forceinline__ Horizontal horizontal_of(const KernelImage& im, int dx) {
  const float f =
      static_cast<float>(dsub(dmul(static_cast<double>(dx) + 0.5, im.source_step_x), 0.5));
  int sx = static_cast<int>(floorf(f));
  float frac = fsub(f, static_cast<float>(sx));
  if (sx < 0) {
    sx = 0;
    frac = 0.0f;
  }
  if (sx >= im.width - 1) {
    sx = im.width - 1;
    frac = 0.0f;
  }
  Horizontal h;
  h.x0 = sx * im.channels;
  h.x1 = (sx + 1 < im.width ? sx + 1 : sx) * im.channels;
  h.a0 = round_even(fmul(fsub(1.0f, frac), static_cast<float>(kCoefScale)));
  h.a1 = round_even(fmul(frac, static_cast<float>(kCoefScale)));
  return h;
}

// The resized image's pixel (dx, dy), channels 0..im.channels-1 into `out`.
__device__ void resized_pixel(const uint8_t* src, const KernelImage& im, int dx, int dy, int* out) {
  const int cn = im.channels;
  const size_t stride = static_cast<size_t>(im.width) * static_cast<size_t>(cn);
  if (im.area2x != 0) {
    const int sy0 = 2 * dy;
    const int sx0 = 2 * dx;
    const bool full = sy0 + 2 <= im.height && dx < im.width / 2;
    for (int k = 0; k < cn; ++k) {
      int sum = 0;
      int count = 0;
      for (int sy = sy0; sy < sy0 + 2 && sy < im.height; ++sy) {
        for (int sx = sx0; sx < sx0 + 2 && sx < im.width; ++sx) {
          sum += src[static_cast<size_t>(sy) * stride + static_cast<size_t>(sx * cn + k)];
          ++count;
        }
      }
      out[k] =
          full ? (sum + 2) >> 2 : round_even(static_cast<float>(sum) / static_cast<float>(count));
    }
    return;
  }

  const Horizontal h = horizontal_of(im, dx);
  const float fy =
      static_cast<float>(dsub(dmul(static_cast<double>(dy) + 0.5, im.source_step_y), 0.5));
  const int sy = static_cast<int>(floorf(fy));
  const float frac_y = fsub(fy, static_cast<float>(sy));
  const int b0 = round_even(fmul(fsub(1.0f, frac_y), static_cast<float>(kCoefScale)));
  const int b1 = round_even(fmul(frac_y, static_cast<float>(kCoefScale)));
  const uint8_t* row0 = src + static_cast<size_t>(clamp_int(sy, 0, im.height - 1)) * stride;
  const uint8_t* row1 = src + static_cast<size_t>(clamp_int(sy + 1, 0, im.height - 1)) * stride;
  for (int k = 0; k < cn; ++k) {
    const int h0 = row0[h.x0 + k] * h.a0 + row0[h.x1 + k] * h.a1;
    const int h1 = row1[h.x0 + k] * h.a0 + row1[h.x1 + k] * h.a1;
    // OpenCV's VResizeLinearVec_32s8u on int16 lanes: h >> 4 packed to int16 (at most 32655,
    // no saturation), v_mul_hi keeps the product's high 16 bits, then a rounding shift by 2.
    const int v = (((h0 >> 4) * b0 >> 16) + ((h1 >> 4) * b1 >> 16) + 2) >> 2;
    out[k] = clamp_int(v, 0, 255);
  }
}

// Grid-stride over every output pixel of the batch. `pixels`: the concatenated images;
// `images`: one KernelImage per image; `table`: 3 x 256 floats, [c * 256 + v]; `out`: float or
// uint16_t (p.type), count * 3 * H * W elements.
__global__ void __launch_bounds__(kThreads)
    letterbox_kernel(const uint8_t* pixels, const KernelImage* images, const float* table,
                     KernelParams p, void* out) {
  const uint64_t step = static_cast<uint64_t>(blockDim.x) * gridDim.x;
  for (uint64_t i = static_cast<uint64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
       i < p.total_pixels; i += step) {
    const uint64_t image = i / p.pixels_per_image;
    const uint64_t pixel = i % p.pixels_per_image;
    const int y = static_cast<int>(pixel / static_cast<uint64_t>(p.dst_width));
    const int x = static_cast<int>(pixel % static_cast<uint64_t>(p.dst_width));
    const KernelImage im = images[image];

    int value[3] = {p.pad_value, p.pad_value, p.pad_value};
    const int dx = x - im.pad_x;
    const int dy = y - im.pad_y;
    int channels_read = 1;  // padding: one grey level for all
    if (dx >= 0 && dx < im.resized_width && dy >= 0 && dy < im.resized_height) {
      resized_pixel(pixels + im.offset, im, dx, dy, value);
      channels_read = im.channels;
    }

    const uint64_t base = image * 3 * p.pixels_per_image;
    for (int c = 0; c < 3; ++c) {
      const int source = channels_read == 1 ? 0 : p.source_channel[c];
      const float v = table[c * 256 + value[source]];
      const uint64_t index = p.layout == static_cast<int32_t>(OutputLayout::kNCHW)
                                 ? base + static_cast<uint64_t>(c) * p.pixels_per_image + pixel
                                 : base + pixel * 3 + static_cast<uint64_t>(c);
      if (p.type == static_cast<int32_t>(OutputType::kFloat32)) {
        static_cast<float*>(out)[index] = v;
      } else {
        static_cast<uint16_t*>(out)[index] = float_to_half_bits(v);
      }
    }
  }
}

// The factor cv::resize receives from letterbox_into, and what OpenCV's hal::resize derives
// from it (see the comment at the top).
KernelImage kernel_image_of(const LetterboxSlot& s) {
  KernelImage k{};
  k.offset = s.offset;
  k.width = s.width;
  k.height = s.height;
  k.channels = s.channels;
  k.resized_width = s.resized_width;
  k.resized_height = s.resized_height;
  k.pad_x = s.pad_x;
  k.pad_y = s.pad_y;
  const auto scaled = [](int size, float scale) {
    return static_cast<int>(std::lrint(static_cast<double>(size) * static_cast<double>(scale)));
  };
  double inv_x = 0;
  double inv_y = 0;
  if (scaled(s.width, s.scale_x) == s.resized_width &&
      scaled(s.height, s.scale_y) == s.resized_height) {
    inv_x = static_cast<double>(s.scale_x);
    inv_y = static_cast<double>(s.scale_y);
  } else {
    inv_x = static_cast<double>(s.resized_width) / static_cast<double>(s.width);
    inv_y = static_cast<double>(s.resized_height) / static_cast<double>(s.height);
  }
  k.source_step_x = 1.0 / inv_x;
  k.source_step_y = 1.0 / inv_y;
  const double ix = std::nearbyint(k.source_step_x);
  const double iy = std::nearbyint(k.source_step_y);
  k.area2x = std::abs(k.source_step_x - ix) < DBL_EPSILON &&
                     std::abs(k.source_step_y - iy) < DBL_EPSILON && ix == 2.0 && iy == 2.0
                 ? 1
                 : 0;
  return k;
}

}  // namespace

namespace detail {

void letterbox_batch(const uint8_t* pixels, size_t pixel_bytes, const LetterboxSlot* images,
                     size_t count, const TensorOptions& options, OutputType type, void* out,
                     size_t out_values, bool out_on_device, int device) {
  check_layout(pixel_bytes, images, count, options, out_values);
  if (type != OutputType::kFloat32 && type != OutputType::kFloat16) {
    throw std::invalid_argument("letterbox_batch: unknown output type");
  }
  if (count == 0) return;
  if (const std::string why = unavailable_reason(device); !why.empty()) {
    throw CudaError("letterbox_batch on the GPU: " + why);
  }
  VPIPE_CUDA_CHECK(cudaSetDevice(device));

  std::vector<KernelImage> kernel_images(count);
  for (size_t i = 0; i < count; ++i) kernel_images[i] = kernel_image_of(images[i]);
  // letterbox_into's table, the same expression in the same order.
  std::vector<float> table(3 * 256);
  for (int c = 0; c < 3; ++c) {
    for (int v = 0; v < 256; ++v) {
      table[c * 256 + v] =
          (static_cast<float>(v) * options.scale - options.mean[c]) / options.std[c];
    }
  }
  KernelParams params{};
  params.dst_width = options.dst_width;
  params.dst_height = options.dst_height;
  params.layout = static_cast<int32_t>(options.layout);
  params.type = static_cast<int32_t>(type);
  params.pad_value = options.pad_value;
  for (int c = 0; c < 3; ++c) params.source_channel[c] = options.bgr ? 2 - c : c;
  params.pixels_per_image =
      static_cast<uint64_t>(options.dst_width) * static_cast<uint64_t>(options.dst_height);
  params.total_pixels = params.pixels_per_image * count;

  const size_t element_bytes = type == OutputType::kFloat32 ? sizeof(float) : sizeof(uint16_t);
  DeviceArray<uint8_t> device_pixels(pixel_bytes, "letterbox_batch: pixels");
  DeviceArray<KernelImage> device_images(count, "letterbox_batch: images");
  DeviceArray<float> device_table(table.size(), "letterbox_batch: table");
  // Only when the output goes back to the host; otherwise the caller's device memory.
  DeviceArray<uint8_t> device_out(out_on_device ? 0 : out_values * element_bytes,
                                  "letterbox_batch: out");
  void* target = out_on_device ? out : static_cast<void*>(device_out.get());

  if (pixel_bytes != 0) {
    VPIPE_CUDA_CHECK(cudaMemcpy(device_pixels.get(), pixels, pixel_bytes, cudaMemcpyHostToDevice));
  }
  VPIPE_CUDA_CHECK(cudaMemcpy(device_images.get(), kernel_images.data(),
                              count * sizeof(KernelImage), cudaMemcpyHostToDevice));
  VPIPE_CUDA_CHECK(cudaMemcpy(device_table.get(), table.data(), table.size() * sizeof(float),
                              cudaMemcpyHostToDevice));
  const size_t blocks = std::min(kMaxBlocks, (params.total_pixels + kThreads - 1) / kThreads);
  const unsigned grid = static_cast<unsigned>(blocks);
  letterbox_kernel<<<grid, kThreads>>>(device_pixels.get(), device_images.get(), device_table.get(),
                                       params, target);
  VPIPE_CUDA_CHECK(cudaGetLastError());
  if (out_on_device) {
    // The caller gets a finished tensor; errors the kernel hit while running surface here.
    VPIPE_CUDA_CHECK(cudaDeviceSynchronize());
  } else {
    // cudaMemcpy waits for the kernel and reports an error it hit while running.
    VPIPE_CUDA_CHECK(
        cudaMemcpy(out, device_out.get(), out_values * element_bytes, cudaMemcpyDeviceToHost));
  }
}

}  // namespace detail
}  // namespace vpipe::cuda
