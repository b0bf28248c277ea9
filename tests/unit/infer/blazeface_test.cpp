#include "vpipe/infer/blazeface.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstddef>
#include <vector>

#include "vpipe/core/error.h"

namespace vpipe {
namespace {

constexpr size_t kAnchors = 896;
constexpr size_t kRegressors = 16;

// Anchor index of cell (x, y) of the 8 x 8 grid (6 anchors per cell, after 16 x 16 x 2 = 512).
constexpr size_t coarse_anchor(size_t x, size_t y, size_t slot = 0) {
  return 512 + (y * 8 + x) * 6 + slot;
}

void expect_box_near(const Box& actual, const Box& expected) {
  EXPECT_NEAR(actual.x1, expected.x1, 1e-4);
  EXPECT_NEAR(actual.y1, expected.y1, 1e-4);
  EXPECT_NEAR(actual.x2, expected.x2, 1e-4);
  EXPECT_NEAR(actual.y2, expected.y2, 1e-4);
}

// BlazeFace output with every raw score -10 (sigmoid 4.5e-5) and all regressors zero.
struct Output {
  std::vector<float> scores = std::vector<float>(kAnchors, -10.0f);
  std::vector<float> regressors = std::vector<float>(kAnchors * kRegressors, 0.0f);

  // Sets anchor i's raw score, box (dx, dy, w, h) and every keypoint's offset to (kx, ky) plus
  // 1 pixel per keypoint index in x, so keypoints are told apart.
  void set(size_t i, float raw_score, float dx, float dy, float w, float h, float kx, float ky) {
    scores[i] = raw_score;
    float* r = regressors.data() + i * kRegressors;
    r[0] = dx;
    r[1] = dy;
    r[2] = w;
    r[3] = h;
    for (size_t k = 0; k < 6; ++k) {
      r[4 + 2 * k] = kx + static_cast<float>(k);
      r[5 + 2 * k] = ky;
    }
  }
};

TEST(BlazeFaceAnchors, FrontAndBackHave896) {
  EXPECT_EQ(blazeface_anchors(blazeface_front()).size(), kAnchors);
  EXPECT_EQ(blazeface_anchors(blazeface_back()).size(), kAnchors);
  EXPECT_EQ(blazeface_front().input_size, 128);
  EXPECT_EQ(blazeface_back().input_size, 256);
}

TEST(BlazeFaceAnchors, FrontLayout) {
  const std::vector<Anchor> a = blazeface_anchors(blazeface_front());
  // 16 x 16 grid, 2 anchors per cell, cells row-major.
  EXPECT_FLOAT_EQ(a[0].x, 0.5f / 16);
  EXPECT_FLOAT_EQ(a[0].y, 0.5f / 16);
  EXPECT_FLOAT_EQ(a[0].w, 1.0f);
  EXPECT_FLOAT_EQ(a[0].h, 1.0f);
  EXPECT_FLOAT_EQ(a[1].x, 0.5f / 16);  // second anchor of the same cell
  EXPECT_FLOAT_EQ(a[2].x, 1.5f / 16);  // next cell along x
  EXPECT_FLOAT_EQ(a[2].y, 0.5f / 16);
  EXPECT_FLOAT_EQ(a[32].x, 0.5f / 16);  // first cell of the second row
  EXPECT_FLOAT_EQ(a[32].y, 1.5f / 16);
  EXPECT_FLOAT_EQ(a[511].x, 15.5f / 16);
  EXPECT_FLOAT_EQ(a[511].y, 15.5f / 16);
  // 8 x 8 grid, 6 anchors per cell (three stride-16 layers merged).
  EXPECT_FLOAT_EQ(a[512].x, 0.5f / 8);
  EXPECT_FLOAT_EQ(a[512].y, 0.5f / 8);
  EXPECT_FLOAT_EQ(a[517].x, 0.5f / 8);
  EXPECT_FLOAT_EQ(a[518].x, 1.5f / 8);
  EXPECT_FLOAT_EQ(a[518].y, 0.5f / 8);
  EXPECT_FLOAT_EQ(a[895].x, 7.5f / 8);
  EXPECT_FLOAT_EQ(a[895].y, 7.5f / 8);
  for (const Anchor& anchor : a) {
    EXPECT_EQ(anchor.w, 1.0f);
    EXPECT_EQ(anchor.h, 1.0f);
  }
}

TEST(BlazeFaceAnchors, BackMatchesFrontNormalised) {
  const std::vector<Anchor> front = blazeface_anchors(blazeface_front());
  const std::vector<Anchor> back = blazeface_anchors(blazeface_back());
  ASSERT_EQ(front.size(), back.size());
  for (size_t i = 0; i < front.size(); ++i) {
    EXPECT_EQ(front[i].x, back[i].x) << i;
    EXPECT_EQ(front[i].y, back[i].y) << i;
  }
}

TEST(BlazeFaceAnchors, GenericStrides) {
  BlazeFaceConfig config;
  config.input_size = 128;
  config.strides = {8};
  EXPECT_EQ(blazeface_anchors(config).size(), 16u * 16 * 2);
  // Only consecutive equal strides merge: 16x16x4 + 8x8x2 + 16x16x2.
  config.strides = {8, 8, 16, 8};
  EXPECT_EQ(blazeface_anchors(config).size(), 16u * 16 * 4 + 8 * 8 * 2 + 16 * 16 * 2);
  // Grid size rounds up as MediaPipe's ceil(input / stride): 100 / 8 -> 13.
  config.input_size = 100;
  config.strides = {8};
  const std::vector<Anchor> a = blazeface_anchors(config);
  ASSERT_EQ(a.size(), 13u * 13 * 2);
  EXPECT_FLOAT_EQ(a[2].x, 1.5f / 13);
}

TEST(BlazeFaceAnchors, InvalidConfigThrows) {
  BlazeFaceConfig config;
  config.input_size = 0;
  EXPECT_THROW((void)blazeface_anchors(config), ConfigError);
  config = blazeface_front();
  config.strides = {};
  EXPECT_THROW((void)blazeface_anchors(config), ConfigError);
  config.strides = {8, -16};
  EXPECT_THROW((void)blazeface_anchors(config), ConfigError);
}

TEST(BlazeFaceDecode, NothingAboveThreshold) {
  const Output out;
  EXPECT_TRUE(decode_blazeface(out.scores, out.regressors, blazeface_front()).empty());
}

// Two distant faces: anchor 0 (centre 4, 4 px) and cell (4, 3) of the 8 x 8 grid (centre
// 4.5 / 8 * 128 = 72, 3.5 / 8 * 128 = 56).
TEST(BlazeFaceDecode, DistantFacesStaySeparate) {
  Output out;
  out.set(0, 3.0f, 0, 0, 8, 8, 1, 2);  // box (0, 0, 8, 8); keypoint k at (5 + k, 6)
  // Centre (72 + 4, 56 - 2) = (76, 54), 20 x 30 -> (66, 39, 86, 69); keypoint k (67 + k, 50).
  out.set(coarse_anchor(4, 3), 2.0f, 4, -2, 20, 30, -5, -6);
  const std::vector<FaceDetection> faces =
      decode_blazeface(out.scores, out.regressors, blazeface_front());
  ASSERT_EQ(faces.size(), 2u);
  // Highest score first: sigmoid(3) = 0.9526 then sigmoid(2) = 0.8808.
  EXPECT_NEAR(faces[0].score, 1.0 / (1.0 + std::exp(-3.0)), 1e-6);
  EXPECT_NEAR(faces[1].score, 1.0 / (1.0 + std::exp(-2.0)), 1e-6);
  expect_box_near(faces[0].box, Box{0, 0, 8, 8});
  expect_box_near(faces[1].box, Box{66, 39, 86, 69});
  for (size_t k = 0; k < 6; ++k) {
    EXPECT_NEAR(faces[0].keypoints[2 * k], 5.0f + static_cast<float>(k), 1e-4) << k;
    EXPECT_NEAR(faces[0].keypoints[2 * k + 1], 6.0f, 1e-4) << k;
    EXPECT_NEAR(faces[1].keypoints[2 * k], 67.0f + static_cast<float>(k), 1e-4) << k;
    EXPECT_NEAR(faces[1].keypoints[2 * k + 1], 50.0f, 1e-4) << k;
  }
  const auto nose = static_cast<size_t>(FaceKeypoint::kNoseTip);
  EXPECT_NEAR(faces[1].keypoints[2 * nose], 69.0f, 1e-4);
}

TEST(BlazeFaceDecode, BackModelScalesBy256) {
  Output out;
  // Cell (0, 0) of the 8 x 8 grid: centre 0.5 / 8 * 256 = 16. Centre (32, 16), 32 x 64.
  out.set(coarse_anchor(0, 0), 5.0f, 16, 0, 32, 64, 0, 0);
  const std::vector<FaceDetection> faces =
      decode_blazeface(out.scores, out.regressors, blazeface_back());
  ASSERT_EQ(faces.size(), 1u);
  expect_box_near(faces[0].box, Box{16, -16, 48, 48});
  EXPECT_NEAR(faces[0].keypoints[0], 16.0f, 1e-4);
  EXPECT_NEAR(faces[0].keypoints[1], 16.0f, 1e-4);
}

// Two anchors of cell (4, 3) with scores 0.9 (raw ln 9) and 0.8 (raw ln 4):
//   A: 20 x 20 at (72, 56) -> (62, 46, 82, 66), keypoint 0 at (72, 56)
//   B: shifted 2 px right  -> (64, 46, 84, 66), keypoint 0 at (74, 56); IoU 360 / 440 = 0.82.
// Blended: x1 = (62 * 0.9 + 64 * 0.8) / 1.7 = 107 / 1.7, x2 = 141 / 1.7, keypoint 0 x =
// 124 / 1.7; y unchanged; score 0.9 (the leader's).
TEST(BlazeFaceDecode, OverlappingFacesBlendByScore) {
  Output out;
  out.set(coarse_anchor(4, 3, 0), std::log(4.0f), 2, 0, 20, 20, 2, 0);  // B, lower score first
  out.set(coarse_anchor(4, 3, 1), std::log(9.0f), 0, 0, 20, 20, 0, 0);  // A
  const std::vector<FaceDetection> faces =
      decode_blazeface(out.scores, out.regressors, blazeface_front());
  ASSERT_EQ(faces.size(), 1u);
  EXPECT_NEAR(faces[0].score, 0.9f, 1e-6);
  expect_box_near(faces[0].box, Box{107.0f / 1.7f, 46, 141.0f / 1.7f, 66});
  EXPECT_NEAR(faces[0].keypoints[0], 124.0f / 1.7f, 1e-4);
  EXPECT_NEAR(faces[0].keypoints[1], 56.0f, 1e-4);
  EXPECT_NEAR(faces[0].keypoints[10], 124.0f / 1.7f + 5, 1e-4);  // keypoint 5: +5 px in both
}

// A blended cluster and a distant face: the distant one is neither absorbed nor blended.
TEST(BlazeFaceDecode, ClusterAndLoner) {
  Output out;
  out.set(coarse_anchor(4, 3, 0), std::log(4.0f), 2, 0, 20, 20, 2, 0);
  out.set(coarse_anchor(4, 3, 1), std::log(9.0f), 0, 0, 20, 20, 0, 0);
  out.set(0, 2.0f, 0, 0, 8, 8, 0, 0);  // sigmoid(2) = 0.88, between the two
  const std::vector<FaceDetection> faces =
      decode_blazeface(out.scores, out.regressors, blazeface_front());
  ASSERT_EQ(faces.size(), 2u);
  EXPECT_NEAR(faces[0].score, 0.9f, 1e-6);
  expect_box_near(faces[0].box, Box{107.0f / 1.7f, 46, 141.0f / 1.7f, 66});
  expect_box_near(faces[1].box, Box{0, 0, 8, 8});
}

// IoU of (62, 46, 82, 66) and (72, 46, 92, 66) is 200 / 600 = 1/3: blended only when the
// threshold is below it (strictly above suppresses).
TEST(BlazeFaceDecode, SuppressionThresholdIsStrict) {
  Output out;
  out.set(coarse_anchor(4, 3, 0), std::log(9.0f), 0, 0, 20, 20, 0, 0);
  out.set(coarse_anchor(4, 3, 1), std::log(4.0f), 10, 0, 20, 20, 0, 0);
  BlazeFaceConfig config = blazeface_front();
  config.suppression_iou = 1.0f / 3;
  EXPECT_EQ(decode_blazeface(out.scores, out.regressors, config).size(), 2u);
  config.suppression_iou = 0.33f;
  EXPECT_EQ(decode_blazeface(out.scores, out.regressors, config).size(), 1u);
}

TEST(BlazeFaceDecode, ScoreThresholdIsInclusive) {
  Output out;
  out.set(7, 0.0f, 0, 0, 8, 8, 0, 0);  // sigmoid(0) = 0.5 exactly
  BlazeFaceConfig config = blazeface_front();
  config.min_score = 0.5f;
  const std::vector<FaceDetection> faces = decode_blazeface(out.scores, out.regressors, config);
  ASSERT_EQ(faces.size(), 1u);
  EXPECT_EQ(faces[0].score, 0.5f);
  config.min_score = std::nextafter(0.5f, 1.0f);
  EXPECT_TRUE(decode_blazeface(out.scores, out.regressors, config).empty());
  // Default 0.75: sigmoid(1) = 0.73 is dropped, sigmoid(1.1) = 0.75026 kept.
  out.scores[7] = 1.0f;
  EXPECT_TRUE(decode_blazeface(out.scores, out.regressors, blazeface_front()).empty());
  out.scores[7] = 1.1f;
  EXPECT_EQ(decode_blazeface(out.scores, out.regressors, blazeface_front()).size(), 1u);
}

TEST(BlazeFaceDecode, ExtremeScoresAreClamped) {
  Output out;
  out.set(3, 1e30f, 0, 0, 8, 8, 0, 0);
  out.scores[4] = -1e30f;
  const std::vector<FaceDetection> faces =
      decode_blazeface(out.scores, out.regressors, blazeface_front());
  ASSERT_EQ(faces.size(), 1u);
  EXPECT_EQ(faces[0].score, 1.0f);
}

TEST(BlazeFaceDecode, WrongSizesThrow) {
  const Output out;
  const std::span<const float> scores(out.scores);
  const std::span<const float> regressors(out.regressors);
  EXPECT_THROW((void)decode_blazeface(scores.first(512), regressors, blazeface_front()),
               ConfigError);
  EXPECT_THROW((void)decode_blazeface(scores, regressors.first(512 * 16), blazeface_front()),
               ConfigError);
  BlazeFaceConfig config = blazeface_front();
  config.strides = {8};  // 512 anchors: the model's 896 do not fit
  EXPECT_THROW((void)decode_blazeface(scores, regressors, config), ConfigError);
  config.input_size = -1;
  EXPECT_THROW((void)decode_blazeface(scores, regressors, config), ConfigError);
}

}  // namespace
}  // namespace vpipe
