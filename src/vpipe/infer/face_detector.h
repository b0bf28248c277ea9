#pragma once

#include <filesystem>
#include <memory>
#include <vector>

#include "vpipe/core/image.h"
#include "vpipe/infer/blazeface.h"

namespace vpipe {

/// MediaPipe BlazeFace run by OpenCV dnn on the CPU: letterbox to the model's square input
/// (pad 0 after normalisation, as MediaPipe pads), RGB scaled to [-1, 1], NHWC; outputs decoded
/// by decode_blazeface; boxes and keypoints mapped back to the image's pixels.
/// Not thread-safe (one OpenCV net): make one per worker.
class BlazeFaceDetector {
 public:
  /// Loads `onnx` (the front 128 or back 256 model, matching `config`). Throws ConfigError when
  /// the file cannot be loaded, or when this build has no OpenCV dnn.
  BlazeFaceDetector(const std::filesystem::path& onnx, BlazeFaceConfig config);
  ~BlazeFaceDetector();
  BlazeFaceDetector(const BlazeFaceDetector&) = delete;
  BlazeFaceDetector& operator=(const BlazeFaceDetector&) = delete;

  /// Faces in `image` (8-bit gray or RGB), boxes and keypoints in its pixels, best first.
  [[nodiscard]] std::vector<FaceDetection> detect(const Image& image);

  /// Whether this build can run it (OpenCV dnn found at configure time).
  [[nodiscard]] static bool available();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace vpipe
