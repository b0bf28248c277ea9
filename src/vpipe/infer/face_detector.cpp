#include "vpipe/infer/face_detector.h"

#include <fmt/format.h>

#include <algorithm>

#include "vpipe/core/error.h"
#include "vpipe/infer/preprocess.h"

#ifdef VPIPE_HAVE_OPENCV_DNN
#include <opencv2/dnn.hpp>
#endif

namespace vpipe {

#ifdef VPIPE_HAVE_OPENCV_DNN

struct BlazeFaceDetector::Impl {
  BlazeFaceConfig config;
  cv::dnn::Net net;
  std::vector<cv::String> output_names;
  std::vector<float> input;  ///< 1 x S x S x 3 floats, NHWC
};

BlazeFaceDetector::BlazeFaceDetector(const std::filesystem::path& onnx, BlazeFaceConfig config)
    : impl_(std::make_unique<Impl>()) {
  impl_->config = std::move(config);
  try {
    impl_->net = cv::dnn::readNetFromONNX(onnx.string());
  } catch (const cv::Exception& e) {
    throw ConfigError(fmt::format("BlazeFace: cannot load '{}': {}", onnx.string(), e.what()));
  }
  if (impl_->net.empty()) throw ConfigError(fmt::format("BlazeFace: '{}' holds no network", onnx.string()));
  impl_->net.setPreferableBackend(cv::dnn::DNN_BACKEND_OPENCV);
  impl_->net.setPreferableTarget(cv::dnn::DNN_TARGET_CPU);
  impl_->output_names = impl_->net.getUnconnectedOutLayersNames();
  if (impl_->output_names.size() != 4) {
    throw ConfigError(fmt::format("BlazeFace: '{}' has {} outputs, expected 4 (two score and two "
                                  "regressor tensors)",
                                  onnx.string(), impl_->output_names.size()));
  }
}

BlazeFaceDetector::~BlazeFaceDetector() = default;

bool BlazeFaceDetector::available() { return true; }

std::vector<FaceDetection> BlazeFaceDetector::detect(const Image& image) {
  Impl& m = *impl_;
  const int size = m.config.input_size;
  const Letterbox box = letterbox_geometry(image.width, image.height, size, size);
  // MediaPipe's face detection input: RGB scaled to [-1, 1]; the padding is black.
  Normalization norm;
  for (int c = 0; c < 3; ++c) {
    norm.mean[c] = 0.5f;
    norm.std[c] = 0.5f;
  }
  m.input.resize(static_cast<size_t>(size) * size * 3);
  letterbox_into(image, box, norm, TensorLayout::kNHWC, 0, m.input);
  const int shape[] = {1, size, size, 3};
  const cv::Mat blob(4, shape, CV_32F, m.input.data());
  m.net.setInput(blob);
  std::vector<cv::Mat> outs;
  m.net.forward(outs, m.output_names);
  // Outputs (in OpenCV's order): scores of the two anchor grids, then their regressors.
  std::vector<float> scores;
  std::vector<float> regressors;
  for (size_t k = 0; k < outs.size(); ++k) {
    const cv::Mat flat = outs[k].isContinuous() ? outs[k] : outs[k].clone();
    const auto* p = flat.ptr<float>();
    auto& into = k < 2 ? scores : regressors;
    into.insert(into.end(), p, p + flat.total());
  }
  std::vector<FaceDetection> faces = decode_blazeface(scores, regressors, m.config);
  for (FaceDetection& f : faces) {
    f.box = map_box_to_source(f.box, box);
    for (size_t k = 0; k < f.keypoints.size(); k += 2) {
      f.keypoints[k] = std::clamp((f.keypoints[k] - box.pad_x) / box.scale_x, 0.0f,
                                  static_cast<float>(image.width));
      f.keypoints[k + 1] = std::clamp((f.keypoints[k + 1] - box.pad_y) / box.scale_y, 0.0f,
                                      static_cast<float>(image.height));
    }
  }
  return faces;
}

#else  // no OpenCV dnn in this build

struct BlazeFaceDetector::Impl {};

BlazeFaceDetector::BlazeFaceDetector(const std::filesystem::path& onnx, BlazeFaceConfig)
    : impl_(std::make_unique<Impl>()) {
  throw ConfigError(fmt::format(
      "BlazeFace: cannot load '{}': this vpipe was built without OpenCV dnn (install "
      "libopencv-dnn-dev and rebuild)",
      onnx.string()));
}

BlazeFaceDetector::~BlazeFaceDetector() = default;

bool BlazeFaceDetector::available() { return false; }

std::vector<FaceDetection> BlazeFaceDetector::detect(const Image&) { return {}; }

#endif

}  // namespace vpipe
