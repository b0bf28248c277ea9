#include "vpipe/infer/blazeface.h"

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <string>

#include "vpipe/core/error.h"

namespace vpipe {
namespace {

constexpr size_t kRegressorsPerAnchor = 16;
constexpr size_t kKeypointCount = 6;
// MediaPipe's BlazeFace anchors: aspect ratio 1 plus one interpolated scale per layer.
constexpr int kAnchorsPerLayer = 2;
constexpr float kAnchorOffset = 0.5f;
constexpr float kScoreClip = 100.0f;

void check_config(const BlazeFaceConfig& config) {
  if (config.input_size <= 0) {
    throw ConfigError("BlazeFace input size must be positive, got " +
                      std::to_string(config.input_size));
  }
  if (config.strides.empty()) {
    throw ConfigError("BlazeFace config needs at least one anchor stride");
  }
  for (const int stride : config.strides) {
    if (stride <= 0) {
      throw ConfigError("BlazeFace anchor strides must be positive, got " + std::to_string(stride));
    }
  }
}

}  // namespace

BlazeFaceConfig blazeface_front() {
  BlazeFaceConfig config;
  config.input_size = 128;
  config.strides = {8, 16, 16, 16};
  return config;
}

BlazeFaceConfig blazeface_back() {
  BlazeFaceConfig config;
  config.input_size = 256;
  config.strides = {16, 32, 32, 32};
  return config;
}

std::vector<Anchor> blazeface_anchors(const BlazeFaceConfig& config) {
  check_config(config);
  std::vector<Anchor> anchors;
  const size_t num_layers = config.strides.size();
  size_t layer = 0;
  while (layer < num_layers) {
    const int stride = config.strides[layer];
    size_t next_layer = layer;
    while (next_layer < num_layers && config.strides[next_layer] == stride) ++next_layer;
    const int anchors_per_cell = kAnchorsPerLayer * static_cast<int>(next_layer - layer);
    // MediaPipe: ceil(1.0f * input_size / stride); integer ceil gives the same for positives.
    const int grid = (config.input_size + stride - 1) / stride;
    for (int y = 0; y < grid; ++y) {
      for (int x = 0; x < grid; ++x) {
        const Anchor anchor{(static_cast<float>(x) + kAnchorOffset) / static_cast<float>(grid),
                            (static_cast<float>(y) + kAnchorOffset) / static_cast<float>(grid),
                            1.0f, 1.0f};
        anchors.insert(anchors.end(), static_cast<size_t>(anchors_per_cell), anchor);
      }
    }
    layer = next_layer;
  }
  return anchors;
}

std::vector<FaceDetection> decode_blazeface(std::span<const float> scores,
                                            std::span<const float> regressors,
                                            const BlazeFaceConfig& config) {
  const std::vector<Anchor> anchors = blazeface_anchors(config);
  const size_t n = anchors.size();
  if (scores.size() != n || regressors.size() != n * kRegressorsPerAnchor) {
    throw ConfigError("BlazeFace output has " + std::to_string(scores.size()) + " scores and " +
                      std::to_string(regressors.size()) + " regressor values, but " +
                      std::to_string(config.input_size) + "x" + std::to_string(config.input_size) +
                      " input with its strides needs " + std::to_string(n) + " and " +
                      std::to_string(n * kRegressorsPerAnchor) +
                      "; check the model (front 128, back 256) and that both outputs of each "
                      "kind are concatenated");
  }

  const float size = static_cast<float>(config.input_size);
  std::vector<FaceDetection> candidates;
  for (size_t i = 0; i < n; ++i) {
    const float raw = std::clamp(scores[i], -kScoreClip, kScoreClip);
    const float score = 1.0f / (1.0f + std::exp(-raw));
    if (score < config.min_score) continue;
    const Anchor& a = anchors[i];
    const float* r = regressors.data() + i * kRegressorsPerAnchor;
    // Normalised as MediaPipe computes it, then scaled to model-input pixels.
    const float cx = (r[0] / size * a.w + a.x) * size;
    const float cy = (r[1] / size * a.h + a.y) * size;
    const float w = r[2] / size * a.w * size;
    const float h = r[3] / size * a.h * size;
    FaceDetection face{Box{cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2}, score, {}};
    for (size_t k = 0; k < kKeypointCount; ++k) {
      face.keypoints[2 * k] = (r[4 + 2 * k] / size * a.w + a.x) * size;
      face.keypoints[2 * k + 1] = (r[5 + 2 * k] / size * a.h + a.y) * size;
    }
    candidates.push_back(face);
  }

  // Stable: equal scores keep anchor order, so the lower anchor leads its cluster.
  std::stable_sort(
      candidates.begin(), candidates.end(),
      [](const FaceDetection& a, const FaceDetection& b) { return a.score > b.score; });

  std::vector<FaceDetection> faces;
  std::vector<FaceDetection> remaining;
  while (!candidates.empty()) {
    const FaceDetection& best = candidates.front();
    FaceDetection blended{Box{0, 0, 0, 0}, best.score, {}};
    float total_score = 0.0f;
    remaining.clear();
    for (size_t i = 0; i < candidates.size(); ++i) {
      const FaceDetection& other = candidates[i];
      // i == 0: the leader joins its own cluster even when its box is degenerate (IoU 0).
      if (i != 0 && !(iou(other.box, best.box) > config.suppression_iou)) {
        remaining.push_back(other);
        continue;
      }
      const float weight = other.score;
      total_score += weight;
      blended.box.x1 += other.box.x1 * weight;
      blended.box.y1 += other.box.y1 * weight;
      blended.box.x2 += other.box.x2 * weight;
      blended.box.y2 += other.box.y2 * weight;
      for (size_t k = 0; k < blended.keypoints.size(); ++k) {
        blended.keypoints[k] += other.keypoints[k] * weight;
      }
    }
    // total_score >= best.score >= min_score; a zero total (min_score <= 0 and every score
    // underflowed to 0) falls back to the leader unblended.
    if (total_score > 0.0f) {
      blended.box = Box{blended.box.x1 / total_score, blended.box.y1 / total_score,
                        blended.box.x2 / total_score, blended.box.y2 / total_score};
      for (float& v : blended.keypoints) v /= total_score;
    } else {
      blended = best;
    }
    faces.push_back(blended);
    candidates.swap(remaining);
  }
  return faces;
}

}  // namespace vpipe
