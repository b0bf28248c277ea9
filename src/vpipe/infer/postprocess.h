#pragma once

#include <span>
#include <vector>

namespace vpipe {

/// An axis-aligned box, corners in pixels: (x1, y1) top-left, (x2, y2) bottom-right, with
/// x2 >= x1 and y2 >= y1 for a valid box. Whose pixels (model input or source image) is said
/// by the function that produces it.
struct Box {
  float x1, y1, x2, y2;
};

/// One detected object: its box, its confidence in [0, 1] and its class index.
struct Detection {
  Box box;
  float score;
  int class_id;
};

/// Intersection over union of two boxes, in [0, 1]; 0 when the union has no area (two
/// degenerate boxes). A box with x2 < x1 or y2 < y1 counts as empty. Thread-safe (pure).
[[nodiscard]] float iou(const Box& a, const Box& b);

/// Decodes the raw output of a YOLOv5 export (Ultralytics ONNX/TensorRT, one image of the batch).
/// Layout: `output` is [num_boxes, 5 + num_classes] float32, row-major (box-major): row i holds
/// cx, cy, w, h (model-input pixels), objectness, then num_classes class scores, all already
/// sigmoided as Ultralytics exports them; so output.size() == num_boxes * (5 + num_classes).
/// Each box's class is its best class score (ties: lower class id) and its score is
/// objectness * that class score; boxes whose score is not strictly above `score_threshold` are
/// dropped (as Ultralytics' `conf > conf_thres`). Boxes come back as x1y1x2y2 in model-input
/// pixels, in input order, not suppressed (see nms). Throws ConfigError when the size of
/// `output` does not match num_boxes and num_classes (a model that does not fit the config).
/// Thread-safe (pure).
[[nodiscard]] std::vector<Detection> decode_yolov5(std::span<const float> output, int num_boxes,
                                                   int num_classes, float score_threshold);

/// Decodes the raw output of a YOLOv8 / YOLO11 export (one image of the batch).
/// Layout: `output` is [4 + num_classes, num_boxes] float32, channel-major: row c holds
/// channel c for every box, i.e. channel c of box i is output[c * num_boxes + i]; channels are
/// cx, cy, w, h (model-input pixels), then num_classes class scores (no objectness); so
/// output.size() == (4 + num_classes) * num_boxes. The score is the best class score (ties:
/// lower class id); otherwise as decode_yolov5. Throws ConfigError on a size mismatch.
/// Thread-safe (pure).
[[nodiscard]] std::vector<Detection> decode_yolov8(std::span<const float> output, int num_boxes,
                                                   int num_classes, float score_threshold);

/// Greedy non-maximum suppression. Sorts by score, highest first (stable: equal scores keep
/// their input order), then keeps a box unless it overlaps an already kept box with IoU strictly
/// above `iou_threshold`. With `class_aware`, only boxes of the same class suppress each other
/// (Ultralytics' default, non-agnostic NMS). Returns at most `max_detections` detections
/// (a negative value means no limit), highest score first. Thread-safe (pure).
[[nodiscard]] std::vector<Detection> nms(std::vector<Detection> detections, float iou_threshold,
                                         int max_detections, bool class_aware = true);

/// One class of a classifier's output and its score.
struct ClassScore {
  int class_id;
  float score;
};

/// The `k` best classes of one image's classifier output. `scores` holds one float per class
/// (logits when `apply_softmax`, probabilities otherwise). With `apply_softmax`, the returned
/// scores are softmax probabilities (computed stably: the largest logit is subtracted first).
/// Sorted by score, highest first; equal scores by lower class id. Returns min(k, classes)
/// entries; none when k <= 0. Thread-safe (pure).
[[nodiscard]] std::vector<ClassScore> top_k(std::span<const float> scores, int k,
                                            bool apply_softmax);

}  // namespace vpipe
