#pragma once

// Manifest records built in code for tests: a detector's box, a classifier's top class, one
// model's inference of one file.

#include <cstdint>
#include <utility>
#include <vector>

#include "vpipe/infer/inference_store.h"

namespace vpipe::testing {

/// A detector's box, (x1, y1)-(x2, y2) in source pixels.
inline DetectionRecord box(int class_id, const char* label, float score, float x1, float y1,
                           float x2, float y2) {
  DetectionRecord d;
  d.task = "detect";
  d.class_id = class_id;
  d.label = label;
  d.score = score;
  d.has_box = true;
  d.x1 = x1;
  d.y1 = y1;
  d.x2 = x2;
  d.y2 = y2;
  return d;
}

/// One of a classifier's top classes (no box).
inline DetectionRecord top_class(int class_id, const char* label, float score) {
  DetectionRecord d;
  d.task = "classify";
  d.class_id = class_id;
  d.label = label;
  d.score = score;
  return d;
}

/// What `model` found in file `file_id`.
inline InferenceRecord inference(int64_t file_id, const char* model,
                                 std::vector<DetectionRecord> detections) {
  InferenceRecord r;
  r.file_id = file_id;
  r.model = model;
  r.detections = std::move(detections);
  return r;
}

}  // namespace vpipe::testing
