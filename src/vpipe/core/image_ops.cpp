#include "vpipe/core/image_ops.h"

#include <algorithm>
#include <cassert>
#include <cmath>
#include <cstring>
#include <opencv2/core.hpp>
#include <opencv2/imgproc.hpp>

namespace vpipe {
namespace {

cv::Mat view_of(const Image& img) {
  // OpenCV wants a non-const pointer for a header; we never write through it.
  return cv::Mat(img.height, img.width, CV_8UC(img.channels),
                 const_cast<uint8_t*>(img.pixels.data()), img.stride());
}

}  // namespace

Image resize_to_fit(const Image& src, int max_side) {
  assert(max_side >= 1 && "resize_to_fit needs a positive target size");
  const int longer = std::max(src.width, src.height);
  // An empty image (say 0 x 1000) has nothing to average; cv::resize would reject it.
  if (longer <= max_side || src.empty()) return src;
  const double scale = static_cast<double>(max_side) / longer;
  const int w = std::max(1, static_cast<int>(std::lround(src.width * scale)));
  const int h = std::max(1, static_cast<int>(std::lround(src.height * scale)));

  // OpenCV's INTER_AREA is a fast box filter only when both factors are integers; any other
  // factor takes a generic weighted path that cost more than the JPEG decode itself on the scan's
  // hot path (measured with callgrind: ~10M instructions for 500x375 -> 256x192). So: shrink by
  // the largest integer factor that keeps the longer side >= max_side with that fast path (the
  // fewer than k leftover columns/rows at the right and bottom are left out), then finish the
  // remaining factor, below 2, bilinearly: under 2x, bilinear still reads every source pixel's
  // neighbourhood, so it does not alias.
  cv::Mat in = view_of(src);
  const int k = longer / max_side;
  if (k >= 2) {
    const int kx = std::min(k, src.width);
    const int ky = std::min(k, src.height);
    const cv::Mat whole_blocks = in(cv::Rect(0, 0, src.width / kx * kx, src.height / ky * ky));
    cv::Mat reduced;
    cv::resize(whole_blocks, reduced, cv::Size(src.width / kx, src.height / ky), 0, 0,
               cv::INTER_AREA);
    in = reduced;
  }
  Image out(w, h, src.channels);
  cv::Mat dst = view_of(out);
  if (in.cols == w && in.rows == h) {
    in.copyTo(dst);
  } else {
    cv::resize(in, dst, cv::Size(w, h), 0, 0, cv::INTER_LINEAR);
  }
  return out;
}

Image to_gray(const Image& src) {
  // cv::cvtColor rejects an empty source; an empty image has an empty gray.
  if (src.empty()) return Image(std::max(0, src.width), std::max(0, src.height), 1);
  if (src.channels == 1) return src;
  Image out(src.width, src.height, 1);
  cv::Mat dst = view_of(out);
  cv::cvtColor(view_of(src), dst, cv::COLOR_RGB2GRAY);
  return out;
}

namespace {

/// Shared by both composite_over overloads: writes into `out` (may be `rgb` itself).
void composite_into(const Image& rgb, const Image& alpha, Background background, Image& out) {
  assert(alpha.channels == 1 && alpha.width == rgb.width && alpha.height == rgb.height &&
         "an alpha plane is one channel of the image's size");
  const int channels = rgb.channels;
  const bool flat = background.square <= 0;
  for (int y = 0; y < rgb.height; ++y) {
    const uint8_t* a = alpha.row(y);
    const uint8_t* src = rgb.row(y);
    uint8_t* dst = out.row(y);
    const int square_row = flat ? 0 : y / background.square;
    for (int x = 0; x < rgb.width; ++x) {
      const uint32_t opacity = a[x];
      uint32_t bg = background.level;
      if (!flat && ((x / background.square + square_row) & 1) != 0) bg = background.other_level;
      const uint32_t bg_part = bg * (255 - opacity) + 127;
      for (int c = 0; c < channels; ++c) {
        const size_t i = static_cast<size_t>(x) * channels + c;
        dst[i] = static_cast<uint8_t>((src[i] * opacity + bg_part) / 255);
      }
    }
  }
}

}  // namespace

Image composite_over(const Image& rgb, const Image& alpha, Background background) {
  if (alpha.empty() || rgb.empty()) return rgb;
  Image out(rgb.width, rgb.height, rgb.channels);
  composite_into(rgb, alpha, background, out);
  return out;
}

Image composite_over(Image&& rgb, const Image& alpha, Background background) {
  if (alpha.empty() || rgb.empty()) return std::move(rgb);
  Image out = std::move(rgb);
  composite_into(out, alpha, background, out);  // each sample is read before it is written
  return out;
}

Image unpremultiply(Image premultiplied, const Image& alpha) {
  if (alpha.empty() || premultiplied.empty()) return premultiplied;
  assert(alpha.channels == 1 && alpha.width == premultiplied.width &&
         alpha.height == premultiplied.height &&
         "an alpha plane is one channel of the image's size");
  const int channels = premultiplied.channels;
  const size_t pixels = static_cast<size_t>(premultiplied.width) * premultiplied.height;
  uint8_t* p = premultiplied.pixels.data();
  const uint8_t* a = alpha.pixels.data();
  for (size_t i = 0; i < pixels; ++i) {
    const uint32_t opacity = a[i];
    if (opacity == 255) continue;
    for (int c = 0; c < channels; ++c) {
      uint8_t& v = p[i * channels + c];
      v = unpremultiply_sample(v, opacity);
    }
  }
  return premultiplied;
}

bool has_transparency(const Image& alpha) {
  return std::any_of(alpha.pixels.begin(), alpha.pixels.end(), [](uint8_t a) { return a != 255; });
}

Image crop_image(const Image& src, int x, int y, int w, int h) {
  assert(x >= 0 && y >= 0 && w >= 0 && h >= 0 && x + w <= src.width && y + h <= src.height);
  Image out(w, h, src.channels);
  for (int r = 0; r < h; ++r) {
    std::memcpy(out.row(r), src.row(y + r) + static_cast<size_t>(x) * src.channels,
                static_cast<size_t>(w) * src.channels);
  }
  return out;
}

}  // namespace vpipe
