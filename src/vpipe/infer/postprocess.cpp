#include "vpipe/infer/postprocess.h"

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <string>

#include "vpipe/core/error.h"

namespace vpipe {
namespace {

float area(const Box& b) { return std::max(0.0f, b.x2 - b.x1) * std::max(0.0f, b.y2 - b.y1); }

Box box_from_center(float cx, float cy, float w, float h) {
  return Box{cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2};
}

void check_output_size(const char* format, std::span<const float> output, int num_boxes,
                       int num_classes, int box_channels) {
  const bool shape_ok = num_boxes >= 0 && num_classes >= 1;
  const size_t expected =
      shape_ok ? static_cast<size_t>(num_boxes) * static_cast<size_t>(box_channels + num_classes)
               : 0;
  if (!shape_ok || output.size() != expected) {
    throw ConfigError(std::string(format) + " output has " + std::to_string(output.size()) +
                      " floats, but " + std::to_string(num_boxes) + " boxes of " +
                      std::to_string(num_classes) + " classes need " + std::to_string(expected) +
                      "; check the model's class count and input size");
  }
}

}  // namespace

float iou(const Box& a, const Box& b) {
  const Box overlap{std::max(a.x1, b.x1), std::max(a.y1, b.y1), std::min(a.x2, b.x2),
                    std::min(a.y2, b.y2)};
  const float inter = area(overlap);
  const float uni = area(a) + area(b) - inter;
  return uni > 0.0f ? inter / uni : 0.0f;
}

std::vector<Detection> decode_yolov5(std::span<const float> output, int num_boxes, int num_classes,
                                     float score_threshold) {
  check_output_size("YOLOv5", output, num_boxes, num_classes, 5);
  const size_t row_len = 5 + static_cast<size_t>(num_classes);
  std::vector<Detection> detections;
  for (int i = 0; i < num_boxes; ++i) {
    const float* row = output.data() + static_cast<size_t>(i) * row_len;
    // max_element returns the first maximum, so ties go to the lower class id.
    const float* best = std::max_element(row + 5, row + row_len);
    const float score = row[4] * *best;
    if (!(score > score_threshold)) continue;
    detections.push_back(Detection{box_from_center(row[0], row[1], row[2], row[3]), score,
                                   static_cast<int>(best - (row + 5))});
  }
  return detections;
}

std::vector<Detection> decode_yolov8(std::span<const float> output, int num_boxes, int num_classes,
                                     float score_threshold) {
  check_output_size("YOLOv8", output, num_boxes, num_classes, 4);
  const size_t n = static_cast<size_t>(num_boxes);
  const float* channel = output.data();  // channel c of box i: channel[c * n + i]
  std::vector<Detection> detections;
  for (size_t i = 0; i < n; ++i) {
    int best_class = 0;
    float best_score = channel[4 * n + i];
    for (int c = 1; c < num_classes; ++c) {
      const float s = channel[(4 + static_cast<size_t>(c)) * n + i];
      if (s > best_score) {  // strict: ties keep the lower class id
        best_score = s;
        best_class = c;
      }
    }
    if (!(best_score > score_threshold)) continue;
    detections.push_back(Detection{
        box_from_center(channel[i], channel[n + i], channel[2 * n + i], channel[3 * n + i]),
        best_score, best_class});
  }
  return detections;
}

std::vector<Detection> nms(std::vector<Detection> detections, float iou_threshold,
                           int max_detections, bool class_aware) {
  std::stable_sort(detections.begin(), detections.end(),
                   [](const Detection& a, const Detection& b) { return a.score > b.score; });
  const size_t limit = max_detections < 0 ? detections.size() : static_cast<size_t>(max_detections);
  std::vector<Detection> kept;
  for (const Detection& candidate : detections) {
    if (kept.size() >= limit) break;
    const bool suppressed = std::any_of(kept.begin(), kept.end(), [&](const Detection& k) {
      return (!class_aware || k.class_id == candidate.class_id) &&
             iou(k.box, candidate.box) > iou_threshold;
    });
    if (!suppressed) kept.push_back(candidate);
  }
  return kept;
}

std::vector<ClassScore> top_k(std::span<const float> scores, int k, bool apply_softmax) {
  std::vector<ClassScore> classes(scores.size());
  for (size_t c = 0; c < scores.size(); ++c) {
    classes[c] = ClassScore{static_cast<int>(c), scores[c]};
  }
  if (apply_softmax && !scores.empty()) {
    // Subtracting the largest logit keeps exp() in (0, 1], so large logits cannot overflow.
    const float max_logit = *std::max_element(scores.begin(), scores.end());
    double sum = 0.0;
    for (ClassScore& cs : classes) {
      cs.score = std::exp(cs.score - max_logit);
      sum += cs.score;
    }
    for (ClassScore& cs : classes) cs.score = static_cast<float>(cs.score / sum);
  }
  const size_t n = std::min(classes.size(), static_cast<size_t>(std::max(k, 0)));
  std::partial_sort(classes.begin(), classes.begin() + static_cast<std::ptrdiff_t>(n),
                    classes.end(), [](const ClassScore& a, const ClassScore& b) {
                      return a.score != b.score ? a.score > b.score : a.class_id < b.class_id;
                    });
  classes.resize(n);
  return classes;
}

}  // namespace vpipe
