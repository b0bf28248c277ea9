#include "vpipe/core/image_ops.h"

#include <algorithm>
#include <cassert>
#include <cmath>
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
  Image out(w, h, src.channels);
  cv::Mat dst = view_of(out);
  cv::resize(view_of(src), dst, cv::Size(w, h), 0, 0, cv::INTER_AREA);
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

}  // namespace vpipe
