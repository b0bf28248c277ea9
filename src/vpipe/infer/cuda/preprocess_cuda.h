#pragma once

// Letterbox + normalise a batch of 8-bit images into one model input tensor on a CUDA device,
// the GPU twin of letterbox_into (infer/preprocess.h, the reference). No CUDA header here:
// every library can include it; a build without nvcc links a stub that throws CudaError.
// Standard library only, and valid C++17 as well: preprocess_cuda.cu (nvcc, C++17) includes it
// for the slot and option structs and the pointer entry point; the std::span API is for C++20
// callers. The device layer sits below infer, so nothing here names vpipe::Letterbox or
// vpipe::Normalization: LetterboxSlot and TensorOptions mirror their fields, and
// letterbox_slot() copies a Letterbox (or anything with the same field names) into a slot.
//
// Without a GPU the kernel is checked on the CPU by tests/emulation/preprocess_cuda/run.sh
// (the .cu compiled by g++ against a fake CUDA runtime, tests/unit/device/preprocess_cuda_test.cpp
// run against it).

#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>

namespace vpipe::cuda {

/// One image of a batch and where it lands in the model input (the fields of vpipe::Letterbox,
/// see letterbox_geometry): `width * height * channels` bytes from byte `offset` of the batch's
/// pixel buffer, 8-bit HWC, 1 (gray) or 3 (RGB) channels, tight rows; resized bilinearly by
/// (scale_x, scale_y) to resized_width x resized_height and placed at (pad_x, pad_y). 40 bytes.
struct LetterboxSlot {
  uint64_t offset = 0;         ///< first byte of the image in the batch's pixel buffer
  int32_t width = 0;           ///< source pixels, > 0
  int32_t height = 0;          ///< source rows, > 0
  int32_t channels = 0;        ///< 1 or 3
  int32_t resized_width = 0;   ///< 1..dst_width - pad_x
  int32_t resized_height = 0;  ///< 1..dst_height - pad_y
  int32_t pad_x = 0;           ///< left padding, model pixels, >= 0
  int32_t pad_y = 0;           ///< top padding, model pixels, >= 0
  float scale_x = 0;           ///< model pixels per source pixel, > 0 (Letterbox::scale_x)
  float scale_y = 0;           ///< as scale_x, vertically
};

/// Memory layout of one image of the output tensor (as vpipe::TensorLayout).
enum class OutputLayout : int32_t {
  kNCHW = 0,  ///< element (c, y, x) at (c * H + y) * W + x
  kNHWC = 1,  ///< element (y, x, c) at (y * W + x) * 3 + c
};

/// Element type of the output tensor.
enum class OutputType : int32_t {
  kFloat32 = 0,  ///< IEEE binary32
  kFloat16 = 1,  ///< IEEE binary16, round to nearest even; uint16_t bits on the host API
};

/// The batch-wide part of the work: model input size, normalisation (the fields of
/// vpipe::Normalization: value = (pixel * scale - mean[c]) / std[c], c the tensor channel, B
/// first when `bgr`), layout and padding grey level.
struct TensorOptions {
  int32_t dst_width = 0;   ///< model input width, > 0
  int32_t dst_height = 0;  ///< model input height, > 0
  float mean[3] = {0.0f, 0.0f, 0.0f};
  float std[3] = {1.0f, 1.0f, 1.0f};
  float scale = 1.0f / 255;
  bool bgr = false;
  OutputLayout layout = OutputLayout::kNCHW;
  uint8_t pad_value = 114;  ///< grey level of the padding, in every channel, before normalising
};

namespace detail {
/// letterbox_batch() below with pointers and counts: `pixels` holds `pixel_bytes` bytes;
/// `images` holds `count` slots; `out` holds `out_values` elements of `type`, in host memory
/// (`out_on_device` false) or in device memory of `device` (true). Checks and throws like it.
void letterbox_batch(const uint8_t* pixels, size_t pixel_bytes, const LetterboxSlot* images,
                     size_t count, const TensorOptions& options, OutputType type, void* out,
                     size_t out_values, bool out_on_device, int device);

/// Throws std::invalid_argument unless the options are usable, every image lies inside the
/// `pixel_bytes` bytes of the pixel buffer with positive sides and 1 or 3 channels, its resized
/// rectangle lies inside the model input, and `out_values` is count * 3 * dst_height *
/// dst_width. Both builds check before anything else. Thread-safe (reads only).
inline void check_layout(size_t pixel_bytes, const LetterboxSlot* images, size_t count,
                         const TensorOptions& options, size_t out_values) {
  const std::string what = "letterbox_batch: ";
  if (options.dst_width <= 0 || options.dst_height <= 0) {
    throw std::invalid_argument(what + "model input " + std::to_string(options.dst_width) + "x" +
                                std::to_string(options.dst_height) + " has a side <= 0");
  }
  if (options.layout != OutputLayout::kNCHW && options.layout != OutputLayout::kNHWC) {
    throw std::invalid_argument(what + "unknown output layout");
  }
  for (size_t i = 0; i < count; ++i) {
    const LetterboxSlot& s = images[i];
    const std::string name = "image " + std::to_string(i) + " ";
    if (s.width <= 0 || s.height <= 0 || (s.channels != 1 && s.channels != 3)) {
      throw std::invalid_argument(what + name + "is " + std::to_string(s.width) + "x" +
                                  std::to_string(s.height) + "x" + std::to_string(s.channels) +
                                  "; sides must be > 0 and channels 1 or 3");
    }
    const uint64_t bytes = static_cast<uint64_t>(s.width) * static_cast<uint64_t>(s.height) *
                           static_cast<uint64_t>(s.channels);
    if (bytes > pixel_bytes || s.offset > pixel_bytes - bytes) {
      throw std::invalid_argument(what + name + "(" + std::to_string(bytes) + " bytes at byte " +
                                  std::to_string(s.offset) + ") lies outside the pixel buffer of " +
                                  std::to_string(pixel_bytes) + " bytes");
    }
    if (s.pad_x < 0 || s.pad_y < 0 || s.resized_width <= 0 || s.resized_height <= 0 ||
        s.resized_width > options.dst_width - s.pad_x ||
        s.resized_height > options.dst_height - s.pad_y) {
      throw std::invalid_argument(what + name + "resized to " + std::to_string(s.resized_width) +
                                  "x" + std::to_string(s.resized_height) + " at (" +
                                  std::to_string(s.pad_x) + ", " + std::to_string(s.pad_y) +
                                  ") does not fit the model input");
    }
    // Written so that NaN fails too.
    if (!(s.scale_x > 0.0f) || !(s.scale_y > 0.0f)) {
      throw std::invalid_argument(what + name + "has a scale that is not > 0");
    }
  }
  const uint64_t expected = static_cast<uint64_t>(count) * 3 *
                            static_cast<uint64_t>(options.dst_height) *
                            static_cast<uint64_t>(options.dst_width);
  if (out_values != expected) {
    throw std::invalid_argument(what + "output has " + std::to_string(out_values) +
                                " values; the batch needs " + std::to_string(expected) +
                                " (images * 3 * height * width)");
  }
}
}  // namespace detail

}  // namespace vpipe::cuda

#if __cplusplus >= 202002L
#include <span>

namespace vpipe::cuda {

/// The slot of an image of `channels` channels at byte `offset` of the batch's pixel buffer,
/// with `geometry`'s placement: pass a vpipe::Letterbox (infer/preprocess.h), or anything with
/// its field names. Rounds nothing: Letterbox's pads are whole numbers. Checks nothing (the
/// batch call does). Thread-safe (pure).
template <typename Geometry>
[[nodiscard]] LetterboxSlot letterbox_slot(uint64_t offset, int channels,
                                           const Geometry& geometry) {
  LetterboxSlot s;
  s.offset = offset;
  s.width = geometry.src_width;
  s.height = geometry.src_height;
  s.channels = channels;
  s.resized_width = geometry.resized_width;
  s.resized_height = geometry.resized_height;
  s.pad_x = static_cast<int32_t>(geometry.pad_x);
  s.pad_y = static_cast<int32_t>(geometry.pad_y);
  s.scale_x = geometry.scale_x;
  s.scale_y = geometry.scale_y;
  return s;
}

/// Letterboxes every image of a batch into one N x 3 x H x W (or N x H x W x 3) tensor on CUDA
/// device `device`, as letterbox_into does for one image on the CPU: image i (`images[i]`
/// inside `pixels`) fills out[i * 3 * H * W, (i + 1) * 3 * H * W), H x W being
/// options.dst_height x dst_width.
///
/// Equal to letterbox_into bit for bit in float32: the resize reproduces cv::resize
/// INTER_LINEAR on 8-bit images as Debian 12's OpenCV 4.6 computes it (the same float sampling
/// positions, 11-bit fixed-point weights, the rounding of its SIMD vertical pass, and its 2x2
/// box average for an exact 2x downscale); normalising uses letterbox_into's per-channel table,
/// built on the host. Against an OpenCV built without SIMD a grey level may differ by 1
/// (docs/ARCHITECTURE.md, "The GPU path"). float16 output is that float32 value rounded to
/// nearest even.
///
/// `pixels`: the concatenated images. `images`: one slot per image. `out`: exactly
/// images.size() * 3 * H * W values, host memory (float, or uint16_t float16 bits).
///
/// Blocks until the tensor is on the host. Thread-safe (allocates its own device buffers per
/// call, on the default stream). Throws std::invalid_argument when a slot or the options are
/// invalid or `out` has the wrong size (detail::check_layout); vpipe::DeviceOutOfMemory when a
/// device allocation fails for lack of memory (the message says how many bytes); vpipe::CudaError
/// when the device cannot run kernels (the message holds unavailable_reason(device)) or another
/// CUDA call fails. An empty batch returns at once.
inline void letterbox_batch(std::span<const uint8_t> pixels, std::span<const LetterboxSlot> images,
                            const TensorOptions& options, std::span<float> out, int device = 0) {
  detail::letterbox_batch(pixels.data(), pixels.size(), images.data(), images.size(), options,
                          OutputType::kFloat32, out.data(), out.size(), false, device);
}

/// As above with a float16 tensor (IEEE binary16 bits, round to nearest even of the float32
/// value).
inline void letterbox_batch(std::span<const uint8_t> pixels, std::span<const LetterboxSlot> images,
                            const TensorOptions& options, std::span<uint16_t> out_fp16,
                            int device = 0) {
  detail::letterbox_batch(pixels.data(), pixels.size(), images.data(), images.size(), options,
                          OutputType::kFloat16, out_fp16.data(), out_fp16.size(), false, device);
}

/// As above, writing into device memory the caller owns (say a LibTorch tensor on `device`), so
/// nothing is copied back: `device_out` must hold images.size() * 3 * H * W elements of `type`
/// on `device` (not checked: the pointer's extent is the caller's contract). Blocks until the
/// kernel has finished. Throws as above.
inline void letterbox_batch_to_device(std::span<const uint8_t> pixels,
                                      std::span<const LetterboxSlot> images,
                                      const TensorOptions& options, OutputType type,
                                      void* device_out, int device = 0) {
  const size_t values = images.size() * 3 *
                        static_cast<size_t>(options.dst_height > 0 ? options.dst_height : 0) *
                        static_cast<size_t>(options.dst_width > 0 ? options.dst_width : 0);
  detail::letterbox_batch(pixels.data(), pixels.size(), images.data(), images.size(), options, type,
                          device_out, values, true, device);
}

}  // namespace vpipe::cuda
#endif
