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
