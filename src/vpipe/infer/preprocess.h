#pragma once

#include <cstdint>
#include <span>

#include "vpipe/core/image.h"
#include "vpipe/infer/postprocess.h"

namespace vpipe {

/// Where a source image lands in a model's input: model_x = source_x * scale_x + pad_x (and
/// likewise for y), in pixels with edge coordinates (0 is the left edge of the first pixel,
/// width the right edge of the last). The resized image occupies
/// [pad_x, pad_x + resized_width) x [pad_y, pad_y + resized_height) of the
/// dst_width x dst_height input; the rest is padding.
struct Letterbox {
  float scale_x;  ///< model pixels per source pixel, horizontally
  float scale_y;  ///< model pixels per source pixel, vertically (== scale_x unless stretched)
  float pad_x;    ///< left padding in model pixels (a whole number)
  float pad_y;    ///< top padding in model pixels (a whole number)
  int src_width, src_height;
  int dst_width, dst_height;
  int resized_width, resized_height;  ///< size of the resized image inside the input
};

/// Computes how a src_w x src_h image is fitted into a dst_w x dst_h model input.
/// Default (as Ultralytics' `letterbox(auto=False, scaleup=True)`): one scale
/// min(dst_w / src_w, dst_h / src_h) for both axes (up- or downscaling), the resized size rounded
/// to nearest (ties to even, as OpenCV rounds), and the padding split evenly; when the padding
/// is odd the extra pixel goes right/bottom, so pad_x = floor((dst_w - resized_width) / 2)
/// (Ultralytics' `round(dw - 0.1)`). With `stretch`, each axis is scaled independently to fill
/// the input (scale_x = dst_w / src_w, scale_y = dst_h / src_h) and there is no padding.
/// All sizes must be positive (asserted). Thread-safe (pure).
[[nodiscard]] Letterbox letterbox_geometry(int src_w, int src_h, int dst_w, int dst_h,
                                           bool stretch = false);

/// Maps a box from model-input pixels back to source-image pixels, clamped to the source image
/// ([0, src_width] x [0, src_height]). Thread-safe (pure).
[[nodiscard]] Box map_box_to_source(const Box& in_model_pixels, const Letterbox& geometry);

/// Maps a box from source-image pixels to model-input pixels (the inverse of map_box_to_source
/// for a box inside the source image); not clamped. Thread-safe (pure).
[[nodiscard]] Box map_box_to_model(const Box& in_source_pixels, const Letterbox& geometry);

/// Memory layout of one image in a float input tensor.
enum class TensorLayout {
  kNCHW,  ///< planar: element (c, y, x) at (c * H + y) * W + x
  kNHWC,  ///< interleaved: element (y, x, c) at (y * W + x) * 3 + c
};

/// How pixels become tensor values: value = (pixel * scale - mean[c]) / std[c], where c is the
/// channel index in the tensor (so with `bgr`, mean[0] and std[0] apply to blue). The defaults
/// give Ultralytics' YOLO input: RGB in [0, 1].
struct Normalization {
  float mean[3] = {0.0f, 0.0f, 0.0f};
  float std[3] = {1.0f, 1.0f, 1.0f};
  float scale = 1.0f / 255;
  bool bgr = false;  ///< tensor channel order B, G, R instead of R, G, B
};

/// Letterboxes `src` into ONE image of a float32 input tensor: resizes it bilinearly by
/// (scale_x, scale_y) (cv::resize, INTER_LINEAR), places it at (pad_x, pad_y), fills the rest
/// with `pad_value` (Ultralytics uses 114) in every channel, and normalises every value,
/// padding included. A gray source is expanded to three equal channels.
/// `src`: 8-bit HWC, 1 (gray) or 3 (RGB) channels, of geometry.src_width x src_height.
/// `out`: exactly 3 * dst_height * dst_width floats, in `layout`; for a batch, pass the slice
/// [b * 3 * H * W, (b + 1) * 3 * H * W) of one contiguous N x 3 x H x W (or N x H x W x 3)
/// buffer. Size mismatches are programmer errors (asserted). Allocates one dst-sized 8-bit
/// scratch image. Thread-safe for distinct `out` buffers.
void letterbox_into(const Image& src, const Letterbox& geometry, const Normalization& norm,
                    TensorLayout layout, uint8_t pad_value, std::span<float> out);

}  // namespace vpipe
