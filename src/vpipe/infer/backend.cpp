#include "vpipe/infer/backend.h"

#include <fmt/format.h>

#include <functional>
#include <numeric>

#include "vpipe/core/error.h"
#include "vpipe/core/text.h"

namespace vpipe {

int64_t Tensor::numel() const {
  return std::accumulate(shape.begin(), shape.end(), int64_t{1}, std::multiplies<>());
}

std::string_view to_string(BackendKind kind) {
  switch (kind) {
    case BackendKind::kOpenCvDnn:
      return "opencv-dnn";
    case BackendKind::kLibTorch:
      return "libtorch";
  }
  return "unknown";
}

bool backend_available(BackendKind kind, std::string* why) {
  switch (kind) {
    case BackendKind::kOpenCvDnn:
      if (detail::opencv_dnn_built()) return true;
      if (why != nullptr) *why = "this vpipe was built without OpenCV dnn (install libopencv-dnn-dev and rebuild)";
      return false;
    case BackendKind::kLibTorch:
      if (detail::libtorch_built()) return true;
      if (why != nullptr) *why = "this vpipe was built without LibTorch (install libtorch-dev and rebuild)";
      return false;
  }
  return false;
}

BackendKind backend_for_file(const std::filesystem::path& model) {
  const std::string ext = ascii_lower(model.extension().string());
  if (ext == ".onnx") return BackendKind::kOpenCvDnn;
  if (ext == ".pt" || ext == ".pth" || ext == ".torchscript" || ext == ".ts") {
    return BackendKind::kLibTorch;
  }
  throw ConfigError(fmt::format(
      "model '{}': unknown kind of network file '{}' (expected .onnx for OpenCV dnn, or .pt, "
      ".pth, .torchscript, .ts for LibTorch)",
      model.string(), ext));
}

std::unique_ptr<Backend> load_backend(const std::filesystem::path& model, BackendKind kind,
                                      const BackendOptions& options) {
  std::string why;
  if (!backend_available(kind, &why)) {
    throw ConfigError(fmt::format("model '{}': cannot load it on {}: {}", model.string(),
                                  to_string(kind), why));
  }
  std::error_code ec;
  if (!std::filesystem::is_regular_file(model, ec)) {
    throw ConfigError(fmt::format("model '{}': no such file", model.string()));
  }
  switch (kind) {
    case BackendKind::kOpenCvDnn:
      return detail::load_opencv_dnn(model, options);
    case BackendKind::kLibTorch:
      return detail::load_libtorch(model, options);
  }
  throw ConfigError("unknown backend");
}

}  // namespace vpipe
