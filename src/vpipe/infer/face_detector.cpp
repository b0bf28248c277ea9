#include "vpipe/infer/face_detector.h"

#include "vpipe/infer/model.h"

namespace vpipe {

struct BlazeFaceDetector::Impl {
  std::unique_ptr<Model> model;
};

BlazeFaceDetector::BlazeFaceDetector(const std::filesystem::path& onnx, BlazeFaceConfig config)
    : impl_(std::make_unique<Impl>()) {
  impl_->model = load_model(blazeface_model_spec(onnx, config));
}

BlazeFaceDetector::~BlazeFaceDetector() = default;

bool BlazeFaceDetector::available() { return backend_available(BackendKind::kOpenCvDnn); }

std::vector<FaceDetection> BlazeFaceDetector::detect(const Image& image) {
  Model& model = *impl_->model;
  ModelInput input;
  model.prepare(image, input);
  ModelInput* batch[] = {&input};
  model.infer(batch);
  std::vector<FaceDetection> faces;
  for (const Prediction& p : model.decode(input)) {
    FaceDetection f{};
    f.box = p.box;
    f.score = p.score;
    for (size_t k = 0; k < f.keypoints.size() && k < p.keypoints.size(); ++k) {
      f.keypoints[k] = p.keypoints[k];
    }
    faces.push_back(f);
  }
  return faces;
}

}  // namespace vpipe
