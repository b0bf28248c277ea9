#include "vpipe/infer/preprocess.h"

#include <algorithm>
#include <cassert>
#include <cmath>
#include <cstddef>
#include <opencv2/core.hpp>
#include <opencv2/imgproc.hpp>

namespace vpipe {
namespace {

// The size cv::resize picks for scale factor `scale` when no dsize is given
// (saturate_cast<int>, i.e. round to nearest, ties to even in the default rounding mode).
int opencv_scaled_size(int size, float scale) {
  return static_cast<int>(std::lrint(static_cast<double>(size) * static_cast<double>(scale)));
}

float clamp_to(float v, int hi) { return std::clamp(v, 0.0f, static_cast<float>(hi)); }

}  // namespace

Letterbox letterbox_geometry(int src_w, int src_h, int dst_w, int dst_h, bool stretch) {
  assert(src_w > 0 && src_h > 0 && dst_w > 0 && dst_h > 0);  // sizes come from real images
  Letterbox g{};
  g.src_width = src_w;
  g.src_height = src_h;
  g.dst_width = dst_w;
  g.dst_height = dst_h;
  if (stretch) {
    g.scale_x = static_cast<float>(dst_w) / static_cast<float>(src_w);
    g.scale_y = static_cast<float>(dst_h) / static_cast<float>(src_h);
    g.resized_width = dst_w;
    g.resized_height = dst_h;
    return g;
  }
  const float scale = std::min(static_cast<float>(dst_w) / static_cast<float>(src_w),
                               static_cast<float>(dst_h) / static_cast<float>(src_h));
  g.scale_x = scale;
  g.scale_y = scale;
  // At least one pixel so an extreme aspect ratio (say 10000 x 1) still has an image to resize.
  g.resized_width = std::clamp(opencv_scaled_size(src_w, scale), 1, dst_w);
  g.resized_height = std::clamp(opencv_scaled_size(src_h, scale), 1, dst_h);
  // Integer halves: an odd padding leaves its extra pixel on the right / bottom.
  const int pad_left = (dst_w - g.resized_width) / 2;
  const int pad_top = (dst_h - g.resized_height) / 2;
  g.pad_x = static_cast<float>(pad_left);
  g.pad_y = static_cast<float>(pad_top);
  return g;
}

Box map_box_to_source(const Box& b, const Letterbox& g) {
  return Box{clamp_to((b.x1 - g.pad_x) / g.scale_x, g.src_width),
             clamp_to((b.y1 - g.pad_y) / g.scale_y, g.src_height),
             clamp_to((b.x2 - g.pad_x) / g.scale_x, g.src_width),
             clamp_to((b.y2 - g.pad_y) / g.scale_y, g.src_height)};
}

Box map_box_to_model(const Box& b, const Letterbox& g) {
  return Box{b.x1 * g.scale_x + g.pad_x, b.y1 * g.scale_y + g.pad_y, b.x2 * g.scale_x + g.pad_x,
             b.y2 * g.scale_y + g.pad_y};
}

void letterbox_into(const Image& src, const Letterbox& g, const Normalization& norm,
                    TensorLayout layout, uint8_t pad_value, std::span<float> out) {
  // Invariants the caller owns: the geometry was made for this image, and `out` is one image.
  assert(src.width == g.src_width && src.height == g.src_height);
  assert(src.channels == 1 || src.channels == 3);
  assert(out.size() == static_cast<size_t>(3) * g.dst_width * g.dst_height);

  const int channels = src.channels;
  const cv::Mat in(src.height, src.width, CV_8UC(channels), const_cast<uint8_t*>(src.pixels.data()),
                   src.stride());
  cv::Mat canvas(g.dst_height, g.dst_width, CV_8UC(channels), cv::Scalar::all(pad_value));
  const cv::Rect placed(static_cast<int>(g.pad_x), static_cast<int>(g.pad_y), g.resized_width,
                        g.resized_height);
  cv::Mat target = canvas(placed);
  if (g.resized_width == opencv_scaled_size(src.width, g.scale_x) &&
      g.resized_height == opencv_scaled_size(src.height, g.scale_y)) {
    // Scale factors rather than a size, so pixels land exactly where map_box_to_model says;
    // from a size, OpenCV would derive a factor that differs by up to half a pixel per image.
    cv::resize(in, target, cv::Size(), g.scale_x, g.scale_y, cv::INTER_LINEAR);
  } else {
    cv::resize(in, target, target.size(), 0, 0, cv::INTER_LINEAR);
  }
  // cv::resize into a view of the right size writes in place; it never reallocates here.
  assert(target.data == canvas.data + canvas.step[0] * placed.y + placed.x * channels);

  // One lookup table per tensor channel: 256 values instead of a multiply-add per element.
  float table[3][256];
  int source_channel[3];
  for (int c = 0; c < 3; ++c) {
    source_channel[c] = channels == 1 ? 0 : (norm.bgr ? 2 - c : c);
    for (int v = 0; v < 256; ++v) {
      table[c][v] = (static_cast<float>(v) * norm.scale - norm.mean[c]) / norm.std[c];
    }
  }

  const size_t plane = static_cast<size_t>(g.dst_width) * g.dst_height;
  for (int y = 0; y < g.dst_height; ++y) {
    const uint8_t* row = canvas.ptr<uint8_t>(y);
    const size_t row_start = static_cast<size_t>(y) * g.dst_width;
    for (int x = 0; x < g.dst_width; ++x) {
      const uint8_t* pixel = row + static_cast<size_t>(x) * channels;
      for (int c = 0; c < 3; ++c) {
        const float value = table[c][pixel[source_channel[c]]];
        const size_t index =
            layout == TensorLayout::kNCHW ? c * plane + row_start + x : (row_start + x) * 3 + c;
        out[index] = value;
      }
    }
  }
}

}  // namespace vpipe
