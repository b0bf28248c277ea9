#include "vpipe/infer/postprocess.h"

#include <gtest/gtest.h>

#include <vector>

#include "vpipe/core/error.h"

namespace vpipe {
namespace {

void expect_box_near(const Box& actual, const Box& expected) {
  EXPECT_NEAR(actual.x1, expected.x1, 1e-4);
  EXPECT_NEAR(actual.y1, expected.y1, 1e-4);
  EXPECT_NEAR(actual.x2, expected.x2, 1e-4);
  EXPECT_NEAR(actual.y2, expected.y2, 1e-4);
}

// Three boxes, two classes, YOLOv5 layout [3, 5 + 2]: cx, cy, w, h, objectness, class 0, class 1.
//   box 0: centre (50, 50), 20 x 40 -> (40, 30, 60, 70); 0.9 * max(0.8, 0.1) = 0.72, class 0
//   box 1: centre (100, 80), 10 x 10 -> (95, 75, 105, 85); 0.5 * max(0.2, 0.6) = 0.30, class 1
//   box 2: centre (10, 10), 4 x 4 -> (8, 8, 12, 12); 0.2 * max(0.5, 0.5) = 0.10, tie -> class 0
const std::vector<float> kYolov5Output = {
    50,  50, 20, 40, 0.9f, 0.8f, 0.1f,  //
    100, 80, 10, 10, 0.5f, 0.2f, 0.6f,  //
    10,  10, 4,  4,  0.2f, 0.5f, 0.5f,  //
};

// The same boxes in YOLOv8 layout [4 + 2, 3], channel-major, with class scores that already
// include the objectness above (0.9 * 0.8 = 0.72, 0.9 * 0.1 = 0.09, ...).
const std::vector<float> kYolov8Output = {
    50,    100,   10,    // cx
    50,    80,    10,    // cy
    20,    10,    4,     // w
    40,    10,    4,     // h
    0.72f, 0.12f, 0.1f,  // class 0
    0.09f, 0.30f, 0.1f,  // class 1
};

void expect_crafted_detections(const std::vector<Detection>& d, bool with_low_box) {
  ASSERT_EQ(d.size(), with_low_box ? 3u : 2u);
  expect_box_near(d[0].box, Box{40, 30, 60, 70});
  EXPECT_NEAR(d[0].score, 0.72f, 1e-5);
  EXPECT_EQ(d[0].class_id, 0);
  expect_box_near(d[1].box, Box{95, 75, 105, 85});
  EXPECT_NEAR(d[1].score, 0.30f, 1e-5);
  EXPECT_EQ(d[1].class_id, 1);
  if (with_low_box) {
    expect_box_near(d[2].box, Box{8, 8, 12, 12});
    EXPECT_NEAR(d[2].score, 0.10f, 1e-5);
    EXPECT_EQ(d[2].class_id, 0);  // equal class scores: the lower class id wins
  }
}

TEST(DecodeYolov5, CraftedTensorGivesHandComputedDetections) {
  expect_crafted_detections(decode_yolov5(kYolov5Output, 3, 2, 0.25f), false);
  expect_crafted_detections(decode_yolov5(kYolov5Output, 3, 2, 0.05f), true);
}

TEST(DecodeYolov5, ThresholdIsStrict) {
  // Box 1 scores 0.5f * 0.6f; a threshold computed the same way equals it exactly, and a score
  // equal to the threshold is dropped.
  const auto d = decode_yolov5(kYolov5Output, 3, 2, 0.5f * 0.6f);
  ASSERT_EQ(d.size(), 1u);
  EXPECT_EQ(d[0].class_id, 0);
}

TEST(DecodeYolov8, SameBoxesInChannelMajorLayoutGiveTheSameDetections) {
  expect_crafted_detections(decode_yolov8(kYolov8Output, 3, 2, 0.25f), false);
  expect_crafted_detections(decode_yolov8(kYolov8Output, 3, 2, 0.05f), true);
}

TEST(Decode, SizeMismatchIsAConfigError) {
  EXPECT_THROW((void)decode_yolov5(kYolov5Output, 3, 3, 0.25f), ConfigError);
  EXPECT_THROW((void)decode_yolov8(kYolov8Output, 2, 2, 0.25f), ConfigError);
  EXPECT_THROW((void)decode_yolov8(kYolov8Output, 3, 0, 0.25f), ConfigError);
  EXPECT_TRUE(decode_yolov5({}, 0, 80, 0.25f).empty());
}

TEST(Iou, IdenticalDisjointAndPartialOverlaps) {
  const Box a{0, 0, 10, 10};
  EXPECT_FLOAT_EQ(iou(a, a), 1.0f);
  EXPECT_FLOAT_EQ(iou(a, Box{20, 20, 30, 30}), 0.0f);
  EXPECT_FLOAT_EQ(iou(a, Box{10, 0, 20, 10}), 0.0f);  // touching edges share no area
  // Shifted by half its width: intersection 5 * 10 = 50, union 100 + 100 - 50 = 150.
  EXPECT_FLOAT_EQ(iou(a, Box{5, 0, 15, 10}), 50.0f / 150.0f);
  // Left half contained in it: intersection 50, union 100.
  EXPECT_FLOAT_EQ(iou(a, Box{0, 0, 5, 10}), 0.5f);
  EXPECT_FLOAT_EQ(iou(Box{1, 1, 1, 1}, Box{1, 1, 1, 1}), 0.0f);  // no area, no division by 0
}

// A and B overlap with IoU 90 / 110 = 0.82 (same class); C overlaps A as much (other class);
// D is far from all.
std::vector<Detection> overlapping_detections() {
  return {
      Detection{Box{50, 50, 60, 60}, 0.6f, 0},  // D
      Detection{Box{1, 0, 11, 10}, 0.8f, 0},    // B
      Detection{Box{0, 0, 10, 10}, 0.9f, 0},    // A
      Detection{Box{0, 1, 10, 11}, 0.7f, 1},    // C
  };
}

TEST(Nms, ClassAwareKeepsOverlapsOfDifferentClasses) {
  const auto kept = nms(overlapping_detections(), 0.5f, 100);
  ASSERT_EQ(kept.size(), 3u);
  EXPECT_FLOAT_EQ(kept[0].score, 0.9f);  // A
  EXPECT_FLOAT_EQ(kept[1].score, 0.7f);  // C survives A: other class
  EXPECT_FLOAT_EQ(kept[2].score, 0.6f);  // D; B was suppressed by A
}

TEST(Nms, ClassAgnosticSuppressesAcrossClasses) {
  const auto kept = nms(overlapping_detections(), 0.5f, 100, /*class_aware=*/false);
  ASSERT_EQ(kept.size(), 2u);
  EXPECT_FLOAT_EQ(kept[0].score, 0.9f);  // A
  EXPECT_FLOAT_EQ(kept[1].score, 0.6f);  // D
}

TEST(Nms, IouThresholdIsStrictAndHighThresholdKeepsAll) {
  EXPECT_EQ(nms(overlapping_detections(), 0.95f, 100).size(), 4u);
  // A and its half-width shift overlap with IoU exactly 1/3: not above 1/3, so both stay.
  const std::vector<Detection> pair = {Detection{Box{0, 0, 10, 10}, 0.9f, 0},
                                       Detection{Box{5, 0, 15, 10}, 0.8f, 0}};
  EXPECT_EQ(nms(pair, 50.0f / 150.0f, 100).size(), 2u);
  EXPECT_EQ(nms(pair, 0.3f, 100).size(), 1u);
}

TEST(Nms, MaxDetectionsIsHonoured) {
  const auto kept = nms(overlapping_detections(), 0.5f, 2);
  ASSERT_EQ(kept.size(), 2u);
  EXPECT_FLOAT_EQ(kept[0].score, 0.9f);
  EXPECT_FLOAT_EQ(kept[1].score, 0.7f);
  EXPECT_TRUE(nms(overlapping_detections(), 0.5f, 0).empty());
  EXPECT_EQ(nms(overlapping_detections(), 0.5f, -1).size(), 3u);  // negative: no limit
  EXPECT_TRUE(nms({}, 0.5f, 10).empty());
}

TEST(Nms, EqualScoresKeepInputOrder) {
  // Same score, same class, overlapping: the first in input order is the one kept.
  const std::vector<Detection> tie = {Detection{Box{0, 0, 10, 10}, 0.5f, 7},
                                      Detection{Box{0, 0, 10, 9}, 0.5f, 7},
                                      Detection{Box{30, 30, 40, 40}, 0.5f, 3}};
  const auto kept = nms(tie, 0.5f, 10);
  ASSERT_EQ(kept.size(), 2u);
  EXPECT_FLOAT_EQ(kept[0].box.y2, 10.0f);
  EXPECT_EQ(kept[1].class_id, 3);
}

TEST(TopK, ProbabilitiesSortedWithTiesByLowerClassId) {
  const std::vector<float> scores = {0.1f, 0.5f, 0.2f, 0.5f};
  const auto best = top_k(scores, 3, false);
  ASSERT_EQ(best.size(), 3u);
  EXPECT_EQ(best[0].class_id, 1);
  EXPECT_EQ(best[1].class_id, 3);
  EXPECT_EQ(best[2].class_id, 2);
  EXPECT_FLOAT_EQ(best[2].score, 0.2f);
  EXPECT_EQ(top_k(scores, 10, false).size(), 4u);  // k above the class count: all classes
  EXPECT_TRUE(top_k(scores, 0, false).empty());
  EXPECT_TRUE(top_k({}, 5, true).empty());
}

TEST(TopK, SoftmaxOfLogits) {
  // softmax(1, 2, 3): exp(-2), exp(-1), exp(0) = 0.135335, 0.367879, 1; sum 1.503214;
  // probabilities 0.090031, 0.244728, 0.665241.
  const std::vector<float> logits = {1, 2, 3};
  const auto best = top_k(logits, 2, true);
  ASSERT_EQ(best.size(), 2u);
  EXPECT_EQ(best[0].class_id, 2);
  EXPECT_NEAR(best[0].score, 0.665241f, 1e-5);
  EXPECT_EQ(best[1].class_id, 1);
  EXPECT_NEAR(best[1].score, 0.244728f, 1e-5);
  const auto all = top_k(logits, 3, true);
  EXPECT_NEAR(all[0].score + all[1].score + all[2].score, 1.0f, 1e-6);
}

TEST(TopK, SoftmaxIsStableForLargeLogits) {
  // exp(1002) overflows a float; shifted by the maximum these are the logits above.
  const std::vector<float> logits = {1000, 1001, 1002};
  const auto best = top_k(logits, 3, true);
  ASSERT_EQ(best.size(), 3u);
  EXPECT_NEAR(best[0].score, 0.665241f, 1e-5);
  EXPECT_NEAR(best[2].score, 0.090031f, 1e-5);
  EXPECT_EQ(best[2].class_id, 0);
}

}  // namespace
}  // namespace vpipe
