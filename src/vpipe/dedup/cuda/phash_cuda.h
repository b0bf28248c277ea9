#pragma once

// pHash and dHash of a batch of gray images on a CUDA device (issue 7), the GPU twin of
// phash_cpu / dhash_cpu (dedup/hashes.h, the reference; docs/SIGNALS.md). No CUDA header here:
// every library can include it; a build without nvcc links a stub that throws CudaError.
// Standard library only, and valid C++17 as well: phash_cuda.cu (nvcc, C++17) includes it for
// GrayImageSlot and the pointer entry point; the std::span API is for C++20 callers.

#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>

namespace vpipe::cuda {

/// Where one gray image of a batch lies in the batch's pixel buffer: `width * height` bytes
/// from byte `offset`, 8-bit gray, row-major, tight rows (stride == width). An image with a
/// zero side is empty and hashes to 0 (its offset is not looked at), as phash_cpu / dhash_cpu
/// hash empty images. 16 bytes; the kernel reads an array of them.
struct GrayImageSlot {
  uint64_t offset = 0;  ///< first byte of the image in the batch's pixel buffer
  int32_t width = 0;    ///< pixels, >= 0
  int32_t height = 0;   ///< rows, >= 0
};

namespace detail {
/// perceptual_hashes() below with pointers and counts: `pixels` holds `pixel_bytes` bytes;
/// `images`, `phash`, `dhash` hold `count` entries each. Checks the layout and throws like it.
void perceptual_hashes(const uint8_t* pixels, size_t pixel_bytes, const GrayImageSlot* images,
                       size_t count, uint64_t* phash, uint64_t* dhash, int device);

/// Throws std::invalid_argument unless every non-empty image lies inside the `pixel_bytes`
/// bytes of the pixel buffer and no side is negative. Both builds check before anything else.
inline void check_layout(size_t pixel_bytes, const GrayImageSlot* images, size_t count) {
  for (size_t i = 0; i < count; ++i) {
    const GrayImageSlot& s = images[i];
    if (s.width < 0 || s.height < 0) {
      throw std::invalid_argument("perceptual_hashes: image " + std::to_string(i) +
                                  " has a negative side");
    }
    const uint64_t bytes = static_cast<uint64_t>(s.width) * static_cast<uint64_t>(s.height);
    if (bytes != 0 && (bytes > pixel_bytes || s.offset > pixel_bytes - bytes)) {
      throw std::invalid_argument(
          "perceptual_hashes: image " + std::to_string(i) + " (" + std::to_string(s.width) + "x" +
          std::to_string(s.height) + " at byte " + std::to_string(s.offset) +
          ") lies outside the pixel buffer of " + std::to_string(pixel_bytes) + " bytes");
    }
  }
}
}  // namespace detail

}  // namespace vpipe::cuda

#if __cplusplus >= 202002L
#include <span>

namespace vpipe::cuda {

/// pHash and dHash of each image of a batch, on CUDA device `device`: phash[i] and dhash[i]
/// are the hashes of the image `images[i]` describes inside `pixels`.
///
/// dHash equals dhash_cpu bit for bit (integer arithmetic only). pHash equals phash_cpu except
/// where an AC coefficient lies within floating-point rounding of the median (the kernel's
/// DCT runs in double, OpenCV's in float, in another order): such a coefficient's bit may
/// differ. On real images that is rare; constant images and images constant along one axis
/// give exact zeros on both sides and match (docs/SIGNALS.md, "pHash on the GPU").
///
/// `pixels`: the concatenated images (each image must lie inside it).
/// `images`, `phash`, `dhash`: one entry per image (n entries each; phash and dhash n * 8
/// bytes). Any image size is accepted; the kernel is sized for working images of up to about
/// 256x256 (each thumbnail pixel reads its source rectangle directly).
///
/// Blocks until the hashes are back on the host. Thread-safe (allocates its own device buffers
/// per call, on the default stream). Throws std::invalid_argument when the spans disagree in
/// length or an image lies outside `pixels`; vpipe::CudaError when the device cannot run
/// kernels (the message holds unavailable_reason(device)) or a CUDA call fails. An empty batch
/// returns at once.
inline void perceptual_hashes(std::span<const uint8_t> pixels,
                              std::span<const GrayImageSlot> images, std::span<uint64_t> phash,
                              std::span<uint64_t> dhash, int device = 0) {
  if (phash.size() != images.size() || dhash.size() != images.size()) {
    throw std::invalid_argument("perceptual_hashes: phash and dhash need one entry per image");
  }
  detail::perceptual_hashes(pixels.data(), pixels.size(), images.data(), images.size(),
                            phash.data(), dhash.data(), device);
}

}  // namespace vpipe::cuda
#endif
