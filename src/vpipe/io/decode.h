#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>

#include "vpipe/core/buffer_pool.h"
#include "vpipe/core/image.h"
#include "vpipe/core/status.h"
#include "vpipe/io/format.h"
#include "vpipe/io/pixel_budget.h"

namespace vpipe {

/// How to decode one file.
struct DecodeOptions {
  /// 0: full resolution. Otherwise the decoded image may be reduced as long as its longer side
  /// stays >= min_long_side (or is the full size, when that is smaller). JPEG uses TurboJPEG's
  /// DCT-domain scaling (the smallest factor among 1/8, 1/4, 3/8, 1/2, ..., 1 that satisfies
  /// this). A big PNG (over kRowByRowPixels, not interlaced) or TIFF is read row by row (a TIFF
  /// by strips or rows of tiles) into a box average by the largest whole factor that satisfies
  /// it, so its memory is a few rows, not its pixels; a big still WebP goes through libwebp's
  /// rescaler to the same size. Other formats decode fully and are returned at full resolution.
  int min_long_side = 0;
  /// Images of more pixels (width * height, full resolution) are refused as kTooLarge before
  /// any pixel memory is allocated.
  uint64_t max_pixels = 200'000'000;
  /// Truncated/damaged data that the codec still decodes (e.g. libjpeg's "premature end of
  /// data", grey-filled): kDamaged by default, kOk when lenient. The warning is kept either way.
  bool lenient = false;
  /// Shared by the decode workers of a pass: a decode that allocates full-resolution pixels
  /// takes them from here first (PixelBudget). Null: no global cap.
  PixelBudget* budget = nullptr;
};

/// PNGs, TIFFs and still WebPs of more pixels than this are read row by row when a reduced image
/// is asked for.
inline constexpr uint64_t kRowByRowPixels = 16'777'216;

/// The outcome of decoding one file. Never thrown: failures are a status and a reason.
struct DecodeResult {
  ItemStatus status = ItemStatus::kCorrupt;
  std::string message;  ///< reason for a failure, or the codec's warning; empty when clean
  ImageFormat format = ImageFormat::kUnknown;
  int width = 0;   ///< full-resolution size after EXIF orientation (0 if unknown)
  int height = 0;
  /// 8-bit gray or RGB (HWC, stride width * channels), EXIF orientation applied, maybe reduced;
  /// empty on failure. Where the file has alpha this is straight (un-premultiplied) colour:
  /// composite_over(image, alpha) (core/image_ops.h) gives the picture on black, as every decoder
  /// returned before alpha was kept. Colour under fully transparent pixels is unspecified.
  Image image;
  /// Opacity of each pixel of `image`: 1 channel, 8-bit, same width and height (same orientation,
  /// same reduced scale), 255 = opaque, 0 = fully transparent. Empty when the file has no alpha
  /// or every pixel is opaque, so an empty plane always means "opaque".
  Image alpha;
  /// The pixels taken from DecodeOptions::budget for this image; keep it as long as `image`
  /// (move it along), or let it go with the result.
  PixelBudget::Lease lease;
};

/// Decodes image files straight from the codec libraries (no OpenCV imgcodecs). Holds per-thread
/// codec state (one TurboJPEG handle), so it is NOT thread-safe: make one Decoder per worker.
/// 16-bit sources are reduced to 8 bits (alpha too); alpha is kept as a separate plane (PNG incl.
/// tRNS, WebP, TIFF associated/unassociated, GIF's transparent index, HEIF/AVIF, JPEG XL, and
/// 32-bit BMP when its alpha bytes are not all zero), premultiplied sources being un-premultiplied;
/// palette and CMYK are converted to RGB; GIF and animated WebP give their first frame.
class Decoder {
 public:
  Decoder();
  /// A decoder that takes the pixel buffers of the JPEG images it returns from `pixel_pool` (not
  /// owned, must outlive the decoder; may be shared by many decoders), so that a caller which
  /// hands each image's `pixels` back to the pool when done reuses memory instead of faulting in
  /// fresh pages for every file. The images are the same either way.
  explicit Decoder(BufferPool* pixel_pool);
  ~Decoder();
  Decoder(const Decoder&) = delete;
  Decoder& operator=(const Decoder&) = delete;

  /// Decodes `bytes` (a whole file). The format is sniffed from the bytes, not taken from a name.
  [[nodiscard]] DecodeResult decode(std::span<const uint8_t> bytes, const DecodeOptions& options);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace vpipe
