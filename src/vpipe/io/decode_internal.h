#pragma once

// Private to vpipe_codec: helpers shared by the per-format decoders, and those decoders. Each
// decoder fills a DecodeResult (never throws for bad data) with the image at full resolution,
// 8-bit gray or RGB, width/height set, and the alpha plane when the file has one (the caller
// drops a plane that is opaque everywhere); the caller sets `format`.

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "vpipe/io/decode.h"

namespace vpipe::decode_detail {

/// Sets `result` to a failure with `status` and `message`, clearing any pixels.
void fail(DecodeResult& result, ItemStatus status, std::string message);

/// True (and `result` set to kTooLarge with the reason, and the claimed width/height recorded)
/// when width * height is over the limit, or kCorrupt when a side is not positive. Call before
/// allocating any pixel memory: otherwise it takes width * height from `options.budget` (waiting
/// for it) into `result.lease`.
[[nodiscard]] bool refuse_size(DecodeResult& result, const char* codec, int64_t width,
                               int64_t height, const DecodeOptions& options);

/// Splits `pixels` pixels of `color_channels` + 1 interleaved 8-bit channels (colour, then alpha)
/// into `color` (`color_channels` per pixel) and `alpha` (1 per pixel). When `premultiplied`, the
/// colour is un-premultiplied as unpremultiply() (core/image_ops.h) does, so that its black
/// composite equals the source's colour exactly. `color` may be `src` (it never overtakes it).
void split_alpha(const uint8_t* src, uint8_t* color, uint8_t* alpha, size_t pixels,
                 int color_channels, bool premultiplied);

/// When every pixel of an RGB image has R == G == B, turns it into 1-channel gray (in place,
/// shrinking the buffer). Stops at the first coloured pixel, so colour images cost little.
void collapse_gray_rgb(Image& img);

/// The whole factor a big image asked for at a reduced size is box-reduced by while it is read
/// (>= 2), or 1 to read it whole: only over kRowByRowPixels, and the largest factor that keeps
/// the longer side >= min_long_side, as resize_to_fit (core/image_ops.h) picks for its first
/// step, so that the scan's working image comes out the same.
[[nodiscard]] int row_by_row_factor(uint64_t width, uint64_t height, const DecodeOptions& options);

/// Box-averages an image handed over row by row, top to bottom: 8-bit rows of `channels`
/// interleaved samples per pixel (the colour, then the alpha when channels > color_channels).
/// Each `factor` x `factor` block becomes one pixel; the last rows and columns that do not fill a
/// block are left out, as resize_to_fit does. With alpha, colour is averaged weighted by opacity
/// (the black composite's average) and handed out straight, so the composite of the result is the
/// composite's average; `premultiplied` says the rows' colour is premultiplied already. Memory:
/// the reduced image and one row of sums.
class RowBoxReducer {
 public:
  RowBoxReducer(int width, int height, int channels, int color_channels, int factor,
                bool premultiplied);
  /// The next row (`width` pixels); rows below the last whole block are ignored.
  void add_row(const uint8_t* row);
  [[nodiscard]] uint64_t out_pixels() const {
    return static_cast<uint64_t>(image_.width) * image_.height;
  }
  /// Moves the reduced image (and its alpha plane, when there is alpha) into `result`.
  void finish(DecodeResult& result);

 private:
  int channels_;
  int color_channels_;
  int fx_;
  int fy_;
  bool premultiplied_;
  Image image_;
  Image alpha_;
  std::vector<uint64_t> sums_;  // one output row: colour x alpha (x 255), alpha
  int rows_in_block_ = 0;
  int out_y_ = 0;
};

/// Marks a decode that succeeded with a codec warning (truncation, bad data): kDamaged, or
/// kOk when lenient; the warning is kept in the message either way.
void set_damaged(DecodeResult& result, const DecodeOptions& options, std::string warning);

[[nodiscard]] DecodeResult decode_png(std::span<const uint8_t> bytes, const DecodeOptions& options);
[[nodiscard]] DecodeResult decode_webp(std::span<const uint8_t> bytes,
                                       const DecodeOptions& options);
[[nodiscard]] DecodeResult decode_tiff(std::span<const uint8_t> bytes,
                                       const DecodeOptions& options);
[[nodiscard]] DecodeResult decode_gif(std::span<const uint8_t> bytes, const DecodeOptions& options);
[[nodiscard]] DecodeResult decode_bmp(std::span<const uint8_t> bytes, const DecodeOptions& options);
[[nodiscard]] DecodeResult decode_heif(std::span<const uint8_t> bytes, const DecodeOptions& options,
                                       bool avif);
[[nodiscard]] DecodeResult decode_jxl(std::span<const uint8_t> bytes, const DecodeOptions& options);

}  // namespace vpipe::decode_detail
