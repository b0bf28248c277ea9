// Letterboxing on the GPU (cuda::letterbox_batch) against the CPU reference letterbox_into on the
// same images: float32 must be equal bit for bit (the kernel reproduces OpenCV's fixed-point
// INTER_LINEAR and its 2x INTER_AREA shortcut), float16 within half an ulp of the CPU's float.
// Without a device the comparisons skip; argument checks and the no-device error path run
// everywhere. tests/emulation/preprocess_cuda/run.sh runs this file against the kernel compiled
// for the CPU (VPIPE_CUDA_EMULATION), where the device tests run too (the photos read by OpenCV).
#include "vpipe/infer/cuda/preprocess_cuda.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <random>
#include <span>
#include <sstream>
#include <string>
#include <vector>

#include "cuda_skip.h"
#include "vpipe/core/error.h"
#include "vpipe/core/image.h"
#include "vpipe/device/cuda/gpu.h"
#include "vpipe/infer/preprocess.h"

#ifdef VPIPE_CUDA_EMULATION
#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#else
#include "image_files.h"
#endif
#if defined(VPIPE_CUDA_EMULATION) || (defined(VPIPE_HAVE_CUDA) && __has_include(<cuda_runtime.h>))
#include <cuda_runtime.h>
#define VPIPE_TEST_DEVICE_OUTPUT 1
#endif

namespace vpipe {
namespace {

// One model input for a batch: the geometry is per image, everything else shared.
struct Case {
  std::vector<Image> images;
  int dst_width = 0;
  int dst_height = 0;
  bool stretch = false;
  Normalization norm;
  TensorLayout layout = TensorLayout::kNCHW;
  uint8_t pad_value = 114;
};

Image random_image(std::mt19937& rng, int w, int h, int channels) {
  Image img(w, h, channels);
  std::uniform_int_distribution<int> level(0, 255);
  for (uint8_t& p : img.pixels) p = static_cast<uint8_t>(level(rng));
  return img;
}

// A photo-like image: smooth gradients with a little noise and a few hard edges, so both the
// flat and the high-contrast weights of the resize are exercised.
Image smooth_image(std::mt19937& rng, int w, int h, int channels) {
  Image img(w, h, channels);
  std::uniform_int_distribution<int> noise(-6, 6);
  for (int y = 0; y < h; ++y) {
    for (int x = 0; x < w; ++x) {
      for (int c = 0; c < channels; ++c) {
        int v = (x * 255 / std::max(w - 1, 1) + y * 97 / std::max(h - 1, 1) + c * 60) % 256;
        if ((x / 37 + y / 29) % 5 == 0) v = 255 - v;
        v += noise(rng);
        img.pixels[(static_cast<size_t>(y) * w + x) * channels + c] =
            static_cast<uint8_t>(std::clamp(v, 0, 255));
      }
    }
  }
  return img;
}

std::vector<Letterbox> geometries(const Case& c) {
  std::vector<Letterbox> g;
  for (const Image& img : c.images) {
    g.push_back(letterbox_geometry(img.width, img.height, c.dst_width, c.dst_height, c.stretch));
  }
  return g;
}

size_t values_per_image(const Case& c) {
  return 3 * static_cast<size_t>(c.dst_width) * c.dst_height;
}

std::vector<float> cpu_tensor(const Case& c) {
  const std::vector<Letterbox> g = geometries(c);
  std::vector<float> out(values_per_image(c) * c.images.size());
  for (size_t i = 0; i < c.images.size(); ++i) {
    letterbox_into(c.images[i], g[i], c.norm, c.layout, c.pad_value,
                   std::span<float>(out).subspan(i * values_per_image(c), values_per_image(c)));
  }
  return out;
}

struct GpuBatch {
  std::vector<uint8_t> pixels;
  std::vector<cuda::LetterboxSlot> slots;
  cuda::TensorOptions options;
};

GpuBatch gpu_batch(const Case& c) {
  GpuBatch b;
  const std::vector<Letterbox> g = geometries(c);
  for (size_t i = 0; i < c.images.size(); ++i) {
    b.slots.push_back(cuda::letterbox_slot(b.pixels.size(), c.images[i].channels, g[i]));
    b.pixels.insert(b.pixels.end(), c.images[i].pixels.begin(), c.images[i].pixels.end());
  }
  b.options.dst_width = c.dst_width;
  b.options.dst_height = c.dst_height;
  std::copy(std::begin(c.norm.mean), std::end(c.norm.mean), b.options.mean);
  std::copy(std::begin(c.norm.std), std::end(c.norm.std), b.options.std);
  b.options.scale = c.norm.scale;
  b.options.bgr = c.norm.bgr;
  b.options.layout =
      c.layout == TensorLayout::kNCHW ? cuda::OutputLayout::kNCHW : cuda::OutputLayout::kNHWC;
  b.options.pad_value = c.pad_value;
  return b;
}

std::vector<float> gpu_tensor(const Case& c) {
  const GpuBatch b = gpu_batch(c);
  std::vector<float> out(values_per_image(c) * c.images.size(), -12345.0f);
  cuda::letterbox_batch(b.pixels, b.slots, b.options, out);
  return out;
}

float half_to_float(uint16_t h) {
  const int exponent = (h >> 10) & 0x1f;
  const int mantissa = h & 0x3ff;
  float magnitude = 0;
  if (exponent == 0) {
    magnitude = std::ldexp(static_cast<float>(mantissa), -24);
  } else if (exponent == 31) {
    magnitude = mantissa == 0 ? INFINITY : NAN;
  } else {
    magnitude = std::ldexp(static_cast<float>(mantissa + 1024), exponent - 25);
  }
  return (h & 0x8000) != 0 ? -magnitude : magnitude;
}

// Half of binary16's ulp at |v|: the most round-to-nearest may move v.
float half_ulp_half(float v) {
  const float a = std::abs(v);
  if (a < std::ldexp(1.0f, -14)) return std::ldexp(1.0f, -25);
  return std::ldexp(1.0f, std::ilogb(a) - 11);
}

// Where two tensors differ: a count and the first place, for the failure message.
struct Diff {
  size_t count = 0;
  size_t first = 0;
  float max_abs = 0;
};

Diff diff_of(const std::vector<float>& gpu, const std::vector<float>& cpu) {
  Diff d;
  for (size_t i = 0; i < cpu.size(); ++i) {
    if (std::memcmp(&gpu[i], &cpu[i], sizeof(float)) != 0) {
      if (d.count == 0) d.first = i;
      ++d.count;
      d.max_abs = std::max(d.max_abs, std::abs(gpu[i] - cpu[i]));
    }
  }
  return d;
}

std::string describe(const Case& c) {
  std::ostringstream s;
  s << "dst " << c.dst_width << "x" << c.dst_height << (c.stretch ? " stretch" : "")
    << (c.layout == TensorLayout::kNCHW ? " NCHW" : " NHWC") << (c.norm.bgr ? " bgr" : "")
    << "; images";
  for (const Image& img : c.images) {
    s << " " << img.width << "x" << img.height << "x" << img.channels;
  }
  return s.str();
}

void expect_equal_to_cpu(const Case& c) {
  const std::vector<float> cpu = cpu_tensor(c);
  const std::vector<float> gpu = gpu_tensor(c);
  ASSERT_EQ(gpu.size(), cpu.size());
  const Diff d = diff_of(gpu, cpu);
  EXPECT_EQ(d.count, 0U) << describe(c) << ": first at " << d.first << " gpu " << gpu[d.first]
                         << " cpu " << cpu[d.first] << ", max |diff| " << d.max_abs;
}

Normalization random_norm(std::mt19937& rng) {
  std::uniform_real_distribution<float> mean(0.0f, 0.6f);
  std::uniform_real_distribution<float> stdev(0.1f, 0.5f);
  Normalization n;
  for (int c = 0; c < 3; ++c) {
    n.mean[c] = mean(rng);
    n.std[c] = stdev(rng);
  }
  n.bgr = (rng() & 1) != 0;
  return n;
}

TEST(PreprocessCuda, SmallAndOddSizesMatchTheCpu) {
  VPIPE_SKIP_WITHOUT_CUDA();
  std::mt19937 rng(7);
  // {src w, src h, dst w, dst h}: 1x1, lines, odd sizes, up- and downscales, exact 2x (OpenCV's
  // area shortcut, with odd sides so blocks leave the image), identity.
  const int sizes[][4] = {{1, 1, 8, 8},     {1, 7, 16, 16},   {7, 1, 5, 9},     {1, 1, 1, 1},
                          {3, 3, 3, 3},     {5, 3, 17, 11},   {13, 9, 7, 5},    {6, 6, 3, 3},
                          {7, 6, 8, 3},     {6, 7, 3, 8},     {11, 10, 6, 5},   {9, 9, 5, 5},
                          {2, 2, 1, 1},     {31, 17, 64, 48}, {64, 48, 31, 17}, {100, 3, 20, 20},
                          {3, 100, 20, 20}, {40, 30, 40, 30}, {33, 65, 32, 32}, {1, 2, 1, 1}};
  int cases = 0;
  for (const auto& s : sizes) {
    for (int channels : {1, 3}) {
      for (bool stretch : {false, true}) {
        for (TensorLayout layout : {TensorLayout::kNCHW, TensorLayout::kNHWC}) {
          Case c;
          c.images = {random_image(rng, s[0], s[1], channels)};
          c.dst_width = s[2];
          c.dst_height = s[3];
          c.stretch = stretch;
          c.layout = layout;
          c.norm = random_norm(rng);
          c.pad_value = static_cast<uint8_t>(rng());
          expect_equal_to_cpu(c);
          ++cases;
        }
      }
    }
  }
  EXPECT_EQ(cases, 20 * 8);
}

TEST(PreprocessCuda, RandomBatchesMatchTheCpu) {
  VPIPE_SKIP_WITHOUT_CUDA();
  std::mt19937 rng(2024);
  std::uniform_int_distribution<int> src_side(1, 90);
  std::uniform_int_distribution<int> dst_side(1, 48);
  std::uniform_int_distribution<int> batch(1, 4);
  for (int round = 0; round < 40; ++round) {
    Case c;
    c.dst_width = dst_side(rng);
    c.dst_height = dst_side(rng);
    c.stretch = (rng() & 3) == 0;
    c.layout = (rng() & 1) != 0 ? TensorLayout::kNCHW : TensorLayout::kNHWC;
    c.norm = random_norm(rng);
    c.pad_value = static_cast<uint8_t>(rng());
    const int n = batch(rng);
    for (int i = 0; i < n; ++i) {
      c.images.push_back(random_image(rng, src_side(rng), src_side(rng), (rng() & 1) ? 3 : 1));
    }
    expect_equal_to_cpu(c);
  }
}

// Model-sized inputs: a 2x downscale (the area shortcut), a 0.64 downscale, an upscale, a
// portrait and a gray image into one 640x640 batch (both layouts), then a stretched 320x192.
TEST(PreprocessCuda, ModelSizedBatchMatchesTheCpu) {
  VPIPE_SKIP_WITHOUT_CUDA();
  std::mt19937 rng(99);
  Case c;
  c.images = {smooth_image(rng, 1280, 720, 3), smooth_image(rng, 1000, 750, 3),
              smooth_image(rng, 300, 200, 3), smooth_image(rng, 481, 777, 3),
              smooth_image(rng, 517, 389, 1)};
  c.dst_width = 640;
  c.dst_height = 640;
  expect_equal_to_cpu(c);
  c.layout = TensorLayout::kNHWC;
  c.norm.bgr = true;
  expect_equal_to_cpu(c);
  c.images.resize(3);
  c.dst_width = 320;
  c.dst_height = 192;
  c.stretch = true;
  c.norm = Normalization{{0.485f, 0.456f, 0.406f}, {0.229f, 0.224f, 0.225f}, 1.0f / 255, false};
  expect_equal_to_cpu(c);
}

// Every value within half a binary16 ulp of the CPU's float; beyond binary16's range (65520 and
// up, where round-to-nearest gives infinity) infinity of the same sign; and, where the compiler
// has _Float16, exactly its conversion of the CPU's float. Returns how many binades
// the finite values spanned, so the caller can check the case meant something.
size_t expect_half_rounds(const std::vector<float>& cpu, const std::vector<uint16_t>& half) {
  size_t bad = 0;
  std::vector<int> binades;
  for (size_t i = 0; i < cpu.size(); ++i) {
    const float back = half_to_float(half[i]);
    const bool ok = std::abs(cpu[i]) >= 65520.0f
                        ? std::isinf(back) && std::signbit(back) == std::signbit(cpu[i])
                        : std::abs(back - cpu[i]) <= half_ulp_half(cpu[i]);
    if (!ok && bad++ == 0) ADD_FAILURE() << "at " << i << ": cpu " << cpu[i] << " half " << back;
#ifdef __FLT16_MAX__
    // The compiler's own conversion (round to nearest even) settles the ties the bound allows.
    const _Float16 expected = static_cast<_Float16>(cpu[i]);
    uint16_t expected_bits = 0;
    std::memcpy(&expected_bits, &expected, sizeof(expected_bits));
    if (half[i] != expected_bits && bad++ == 0) {
      ADD_FAILURE() << "at " << i << ": cpu " << cpu[i] << " half bits " << half[i]
                    << ", round to nearest even gives " << expected_bits;
    }
#endif
    if (cpu[i] != 0 && std::isfinite(back)) binades.push_back(std::ilogb(cpu[i]));
  }
  EXPECT_EQ(bad, 0U);
  std::sort(binades.begin(), binades.end());
  return static_cast<size_t>(std::unique(binades.begin(), binades.end()) - binades.begin());
}

TEST(PreprocessCuda, Float16IsTheCpuFloatRoundedToNearest) {
  VPIPE_SKIP_WITHOUT_CUDA();
  std::mt19937 rng(5);
  Case c;
  c.images = {random_image(rng, 57, 41, 3), random_image(rng, 20, 70, 1)};
  c.dst_width = 48;
  c.dst_height = 40;
  // Values from -2 to about 1000 over several binades, exact zeros, and negative values.
  c.norm = Normalization{{0.0f, 0.5f, 1.0f}, {1.0f, 0.25f, 0.001f}, 1.0f / 255, true};
  const GpuBatch b = gpu_batch(c);
  std::vector<uint16_t> half(values_per_image(c) * c.images.size(), 0xffff);
  cuda::letterbox_batch(b.pixels, b.slots, b.options, half);
  EXPECT_GT(expect_half_rounds(cpu_tensor(c), half), 3U) << "the case should span binades";

  // The edges of binary16: channel 0 overflows to +-infinity ((v - 100) / 1e-6), channel 1 is
  // subnormal (at most 2.55e-5), channel 2 is v + 2048, where binary16's ulp is 2 and every odd
  // v is an exact tie (to even).
  c.norm = Normalization{{100.0f, 0.0f, -2048.0f}, {1e-6f, 1e7f, 1.0f}, 1.0f, false};
  const GpuBatch edges = gpu_batch(c);
  cuda::letterbox_batch(edges.pixels, edges.slots, edges.options, half);
  const std::vector<float> cpu = cpu_tensor(c);
  EXPECT_GT(expect_half_rounds(cpu, half), 5U);
  EXPECT_TRUE(std::any_of(half.begin(), half.end(), [](uint16_t h) { return h == 0x7c00; }));
  EXPECT_TRUE(std::any_of(half.begin(), half.end(), [](uint16_t h) { return h == 0xfc00; }));
  EXPECT_TRUE(std::any_of(half.begin(), half.end(), [](uint16_t h) {
    return h != 0 && (h & 0x7c00) == 0;
  })) << "no subnormal half";
}

TEST(PreprocessCuda, EmptyBatchReturnsAtOnce) {
  const std::vector<uint8_t> pixels;
  const std::vector<cuda::LetterboxSlot> slots;
  cuda::TensorOptions options;
  options.dst_width = 4;
  options.dst_height = 4;
  std::vector<float> out;
  EXPECT_NO_THROW(cuda::letterbox_batch(pixels, slots, options, out));
  std::vector<float> wrong(3);
  EXPECT_THROW(cuda::letterbox_batch(pixels, slots, options, wrong), std::invalid_argument);
}

TEST(PreprocessCuda, InvalidLayoutsAreRejectedBeforeTheDevice) {
  const std::vector<uint8_t> pixels(4 * 4 * 3, 9);
  const Letterbox g = letterbox_geometry(4, 4, 8, 8);
  cuda::TensorOptions options;
  options.dst_width = 8;
  options.dst_height = 8;
  std::vector<float> out(3 * 8 * 8);
  const auto call = [&](const cuda::LetterboxSlot& s, size_t bytes = 48) {
    cuda::letterbox_batch(std::span<const uint8_t>(pixels.data(), bytes),
                          std::span<const cuda::LetterboxSlot>(&s, 1), options, out);
  };
  cuda::LetterboxSlot outside = cuda::letterbox_slot(1, 3, g);  // one byte too far
  EXPECT_THROW(call(outside), std::invalid_argument);
  cuda::LetterboxSlot two_channels = cuda::letterbox_slot(0, 2, g);
  EXPECT_THROW(call(two_channels), std::invalid_argument);
  cuda::LetterboxSlot too_wide = cuda::letterbox_slot(0, 3, g);
  too_wide.resized_width = 9;
  EXPECT_THROW(call(too_wide), std::invalid_argument);
  cuda::LetterboxSlot no_scale = cuda::letterbox_slot(0, 3, g);
  no_scale.scale_y = NAN;
  EXPECT_THROW(call(no_scale), std::invalid_argument);
  cuda::LetterboxSlot empty = cuda::letterbox_slot(0, 3, g);
  empty.height = 0;
  EXPECT_THROW(call(empty), std::invalid_argument);
  try {
    call(outside);
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("outside the pixel buffer of 48 bytes"), std::string::npos)
        << e.what();
  }
}

TEST(PreprocessCuda, WithoutADeviceTheBatchCallThrowsTheReason) {
  const std::string why = cuda::unavailable_reason();
  if (why.empty()) GTEST_SKIP() << "a CUDA device is present: the error path is not reachable";
  const std::vector<uint8_t> pixels(16, 7);
  const Letterbox g = letterbox_geometry(4, 4, 4, 4);
  const std::vector<cuda::LetterboxSlot> slots{cuda::letterbox_slot(0, 1, g)};
  cuda::TensorOptions options;
  options.dst_width = 4;
  options.dst_height = 4;
  std::vector<float> out(3 * 16);
  try {
    cuda::letterbox_batch(pixels, slots, options, out);
    FAIL() << "expected vpipe::CudaError";
  } catch (const CudaError& e) {
    EXPECT_NE(std::string(e.what()).find(why), std::string::npos) << e.what();
  }
}

#ifdef VPIPE_TEST_DEVICE_OUTPUT
// The device-pointer entry point writes the same tensor into memory the caller allocated.
TEST(PreprocessCuda, DeviceOutputEqualsHostOutput) {
  VPIPE_SKIP_WITHOUT_CUDA();
  std::mt19937 rng(3);
  Case c;
  c.images = {random_image(rng, 33, 21, 3), random_image(rng, 8, 30, 1)};
  c.dst_width = 24;
  c.dst_height = 16;
  const GpuBatch b = gpu_batch(c);
  const std::vector<float> cpu = cpu_tensor(c);
  void* device_out = nullptr;
  ASSERT_EQ(cudaMalloc(&device_out, cpu.size() * sizeof(float)), cudaSuccess);
  cuda::letterbox_batch_to_device(b.pixels, b.slots, b.options, cuda::OutputType::kFloat32,
                                  device_out);
  std::vector<float> back(cpu.size(), -1.0f);
  ASSERT_EQ(
      cudaMemcpy(back.data(), device_out, back.size() * sizeof(float), cudaMemcpyDeviceToHost),
      cudaSuccess);
  (void)cudaFree(device_out);
  EXPECT_EQ(diff_of(back, cpu).count, 0U);
}
#endif

#ifdef VPIPE_CUDA_EMULATION
// The emulated runtime can refuse allocations: the error says how many bytes did not fit.
TEST(PreprocessCuda, AnAllocationThatDoesNotFitThrowsDeviceOutOfMemory) {
  std::mt19937 rng(4);
  Case c;
  c.images = {random_image(rng, 100, 100, 3)};
  c.dst_width = 64;
  c.dst_height = 64;
  const GpuBatch b = gpu_batch(c);
  std::vector<float> out(values_per_image(c));
  g_alloc_limit = 1000;  // the 30000-byte pixel buffer does not fit
  try {
    cuda::letterbox_batch(b.pixels, b.slots, b.options, out);
    ADD_FAILURE() << "expected vpipe::DeviceOutOfMemory";
  } catch (const DeviceOutOfMemory& e) {
    EXPECT_NE(std::string(e.what()).find("30000 bytes"), std::string::npos) << e.what();
  }
  g_alloc_limit = SIZE_MAX;
}
#endif

// A photo from test-photos/ (scripts/fetch-models.sh), RGB or gray; empty when missing. The
// emulation has no vpipe decoder and reads it with OpenCV (as RGB) instead.
Image test_photo(const std::string& name) {
#ifdef VPIPE_CUDA_EMULATION
  cv::Mat bgr =
      cv::imread(std::string(VPIPE_SOURCE_DIR) + "/test-photos/" + name, cv::IMREAD_COLOR);
  if (bgr.empty()) return {};
  cv::Mat rgb;
  cv::cvtColor(bgr, rgb, cv::COLOR_BGR2RGB);
  Image img(rgb.cols, rgb.rows, 3);
  for (int y = 0; y < rgb.rows; ++y) std::memcpy(img.row(y), rgb.ptr<uint8_t>(y), img.stride());
  return img;
#else
  return testing::test_photo(name);
#endif
}

TEST(PreprocessCuda, PhotosMatchTheCpu) {
  VPIPE_SKIP_WITHOUT_CUDA();
  Case c;
  for (const char* name : {"astronaut.png", "chelsea.png", "coffee.png", "camera.png"}) {
    Image photo = test_photo(name);
    if (!photo.empty()) c.images.push_back(std::move(photo));
  }
  if (c.images.empty()) GTEST_SKIP() << "no test photos (scripts/fetch-models.sh fetches them)";
  c.dst_width = 640;
  c.dst_height = 640;
  expect_equal_to_cpu(c);
  c.dst_width = 224;
  c.dst_height = 224;
  c.stretch = true;
  c.layout = TensorLayout::kNHWC;
  expect_equal_to_cpu(c);
}
}  // namespace
}  // namespace vpipe
