#include "vpipe/core/image_ops.h"

#include <algorithm>
#include <opencv2/core.hpp>
#include <opencv2/imgproc.hpp>

namespace vpipe {
namespace {

cv::Mat view_of(const Image& img) {
  // OpenCV wants a non-const pointer for a header; we never write through it.
  return cv::Mat(img.height, img.width, CV_8UC(img.channels), const_cast<uint8_t*>(img.pixels.data()),
                 img.stride());
}

}  // namespace

Image resize_to_fit(const Image& src, int max_side) {
  const int longer = std::max(src.width, src.height);
  if (longer <= max_side) return src;
  const double scale = static_cast<double>(max_side) / longer;
  const int w = std::max(1, static_cast<int>(src.width * scale + 0.5));
  const int h = std::max(1, static_cast<int>(src.height * scale + 0.5));
  Image out(w, h, src.channels);
  cv::Mat dst = view_of(out);
  cv::resize(view_of(src), dst, cv::Size(w, h), 0, 0, cv::INTER_AREA);
  return out;
}

Image to_gray(const Image& src) {
  if (src.channels == 1) return src;
  Image out(src.width, src.height, 1);
  cv::Mat dst = view_of(out);
  cv::cvtColor(view_of(src), dst, cv::COLOR_RGB2GRAY);
  return out;
}

}  // namespace vpipe
