// RowBoxReducer and the row-by-row factor (decode_internal.h): how the PNG and TIFF decoders
// reduce a big image while they read it, in one row of sums.

#include <algorithm>

#include "vpipe/core/image_ops.h"
#include "vpipe/io/decode_internal.h"

namespace vpipe::decode_detail {

int row_by_row_factor(uint64_t width, uint64_t height, const DecodeOptions& options) {
  if (options.min_long_side <= 0 || width * height <= kRowByRowPixels) return 1;
  const uint64_t factor = std::max(width, height) / static_cast<uint64_t>(options.min_long_side);
  return factor >= 2 ? static_cast<int>(std::min<uint64_t>(factor, 1u << 20)) : 1;
}

RowBoxReducer::RowBoxReducer(int width, int height, int channels, int color_channels, int factor,
                             bool premultiplied)
    : channels_(channels),
      color_channels_(color_channels),
      fx_(std::min(factor, width)),
      fy_(std::min(factor, height)),
      premultiplied_(premultiplied),
      image_(width / fx_, height / fy_, color_channels),
      sums_(static_cast<size_t>(width / fx_) * channels, 0) {
  if (channels != color_channels) alpha_ = Image(image_.width, image_.height, 1);
}

void RowBoxReducer::add_row(const uint8_t* row) {
  if (out_y_ >= image_.height) return;  // below the last whole block
  const bool has_alpha = channels_ != color_channels_;
  const int out_w = image_.width;
  for (int ox = 0; ox < out_w; ++ox) {
    uint64_t* sum = sums_.data() + static_cast<size_t>(ox) * channels_;
    const uint8_t* p = row + static_cast<size_t>(ox) * fx_ * channels_;
    for (int dx = 0; dx < fx_; ++dx, p += channels_) {
      if (!has_alpha) {
        for (int c = 0; c < channels_; ++c) sum[c] += p[c];
        continue;
      }
      // Colour times opacity (x 255): a premultiplied sample is that already, over 255.
      const uint32_t a = p[color_channels_];
      for (int c = 0; c < color_channels_; ++c) {
        sum[c] += premultiplied_ ? uint64_t{p[c]} * 255 : uint64_t{p[c]} * a;
      }
      sum[color_channels_] += a;
    }
  }
  if (++rows_in_block_ < fy_) return;
  const uint64_t area = static_cast<uint64_t>(fx_) * fy_;
  uint8_t* out = image_.row(out_y_);
  for (int ox = 0; ox < out_w; ++ox) {
    const uint64_t* sum = sums_.data() + static_cast<size_t>(ox) * channels_;
    if (!has_alpha) {
      for (int c = 0; c < channels_; ++c) {
        out[ox * channels_ + c] = static_cast<uint8_t>((sum[c] + area / 2) / area);
      }
      continue;
    }
    const auto a = static_cast<uint32_t>((sum[color_channels_] + area / 2) / area);
    alpha_.row(out_y_)[ox] = static_cast<uint8_t>(a);
    for (int c = 0; c < color_channels_; ++c) {
      const auto premultiplied = static_cast<uint32_t>((sum[c] + 255 * area / 2) / (255 * area));
      out[ox * color_channels_ + c] = unpremultiply_sample(premultiplied, a);
    }
  }
  std::fill(sums_.begin(), sums_.end(), uint64_t{0});
  rows_in_block_ = 0;
  ++out_y_;
}

void RowBoxReducer::finish(DecodeResult& result) {
  result.image = std::move(image_);
  result.alpha = std::move(alpha_);
}

}  // namespace vpipe::decode_detail
