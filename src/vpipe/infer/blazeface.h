#pragma once

#include <array>
#include <span>
#include <vector>

#include "vpipe/infer/postprocess.h"

namespace vpipe {

/// How MediaPipe's BlazeFace face detector lays out its anchors and how its output is filtered.
/// Mirrors the options of MediaPipe's SsdAnchorsCalculator (with fixed_anchor_size, anchor
/// offset 0.5, aspect ratio 1 plus one interpolated scale: 2 anchors per layer) and of its
/// TensorsToDetections / NonMaxSuppression calculators (x/y/w/h scale = input_size, weighted NMS
/// by IoU). Use blazeface_front() or blazeface_back() for the two published models.
struct BlazeFaceConfig {
  int input_size = 128;                        ///< square model input, pixels
  std::vector<int> strides = {8, 16, 16, 16};  ///< one per SSD layer, pixels per grid cell
  float min_score = 0.75f;       ///< keep a face when sigmoid(score) >= min_score (inclusive)
  float suppression_iou = 0.3f;  ///< faces whose IoU is strictly above this are blended
};

/// face_detection_front.tflite (128 x 128 input, selfie range): strides 8, 16, 16, 16.
[[nodiscard]] BlazeFaceConfig blazeface_front();
/// face_detection_back.tflite (256 x 256 input, full range): strides 16, 32, 32, 32.
[[nodiscard]] BlazeFaceConfig blazeface_back();

/// One SSD anchor, normalised to the model input (0..1): centre (x, y) and size (w, h).
struct Anchor {
  float x, y, w, h;
};

/// Generates the anchors as MediaPipe's SsdAnchorsCalculator does with fixed_anchor_size:
/// consecutive layers with equal stride are merged into one grid of
/// ceil(input_size / stride) x ceil(input_size / stride) cells with 2 anchors per merged layer;
/// grids come in layer order, cells row-major (y outer, x inner), the anchors of one cell
/// consecutive. Each anchor is ((x + 0.5) / grid_w, (y + 0.5) / grid_h) with w = h = 1.
/// Front and back models both give 896 anchors: 16 x 16 x 2 then 8 x 8 x 6.
/// Throws ConfigError when input_size or a stride is not positive, or strides is empty.
/// Thread-safe (pure).
[[nodiscard]] std::vector<Anchor> blazeface_anchors(const BlazeFaceConfig& config);

/// Keypoint order of a FaceDetection: keypoints[2 * k] is x and keypoints[2 * k + 1] is y of
/// keypoint k.
enum class FaceKeypoint {
  kRightEye = 0,
  kLeftEye = 1,
  kNoseTip = 2,
  kMouth = 3,
  kRightEarTragion = 4,
  kLeftEarTragion = 5,
};

/// One detected face, in model-input pixels (normalised coordinates times input_size), so
/// map_box_to_source (preprocess.h) maps the box back through the letterbox; keypoints map the
/// same way, point by point (source = (model - pad) / scale).
struct FaceDetection {
  Box box;                          ///< x1y1x2y2, model-input pixels
  float score;                      ///< sigmoid of the raw score, in [0, 1]
  std::array<float, 12> keypoints;  ///< 6 x (x, y), model-input pixels; see FaceKeypoint
};

/// Decodes one image of BlazeFace output and suppresses overlapping faces.
/// Layout (N = number of anchors, blazeface_anchors(config).size(), 896 for both models):
///  - `scores`: N float32 raw logits, anchor order. OpenCV dnn returns them as two outputs,
///    (1, 512, 1) then (1, 384, 1): the caller concatenates them in that order.
///  - `regressors`: N x 16 float32, row-major (anchor-major): row i holds dx, dy, w, h, then six
///    keypoints (x, y), all in model-input pixels relative to anchor i. OpenCV's (1, 512, 16) and
///    (1, 384, 16) outputs, concatenated in that order.
/// Decoding follows MediaPipe's TensorsToDetections: score = sigmoid(clamp(raw, -100, 100)),
/// kept when score >= min_score; centre = r[0..1] / input_size * anchor size + anchor centre;
/// size = r[2..3] / input_size * anchor size; keypoint k = r[4 + 2k ..] likewise as the centre.
/// Suppression is MediaPipe's weighted NMS: take the best remaining face (ties: lower anchor
/// index), cluster it with every remaining face whose IoU with it is strictly above
/// suppression_iou, and output the score-weighted mean of the cluster's box corners and
/// keypoints with the best face's score; repeat with the faces left outside the cluster.
/// The best face always belongs to its own cluster, even when degenerate (MediaPipe would stop
/// there). Returns faces highest score first. Throws ConfigError when the span sizes do not
/// match the anchor count (a model that does not fit the config) or the config is invalid
/// (see blazeface_anchors). Thread-safe (pure).
[[nodiscard]] std::vector<FaceDetection> decode_blazeface(std::span<const float> scores,
                                                          std::span<const float> regressors,
                                                          const BlazeFaceConfig& config);

}  // namespace vpipe
