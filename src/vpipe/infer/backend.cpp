#include "vpipe/infer/backend.h"

#include <fmt/format.h>

#include <algorithm>
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

std::string resolve_precision(std::string_view requested, Device device) {
  if (requested != "auto") return std::string(requested);
  return device.is_cuda() ? "fp16" : "fp32";
}

namespace {

/// BackendOptions::simulate_memory_bytes: a backend in front of the real one that refuses
/// batches over a memory size, the way a device would.
class MemoryLimitedBackend final : public Backend {
 public:
  MemoryLimitedBackend(std::unique_ptr<Backend> inner, uint64_t bytes)
      : inner_(std::move(inner)), bytes_(bytes) {}
  BackendKind kind() const override { return inner_->kind(); }
  Device device() const override { return inner_->device(); }
  std::vector<Tensor> infer(std::span<const float> input,
                            std::span<const int64_t> shape) override {
    const auto n = static_cast<uint64_t>(shape.empty() ? 1 : std::max<int64_t>(shape[0], 1));
    const uint64_t need = (input.size() + n * output_floats_per_image_) * sizeof(float);
    if (need > bytes_) {
      throw DeviceOutOfMemory(fmt::format("simulated device of {} bytes: a batch of {} needs {}",
                                          bytes_, n, need));
    }
    std::vector<Tensor> out = inner_->infer(input, shape);
    uint64_t floats = 0;
    for (const Tensor& t : out) floats += t.data.size();
    output_floats_per_image_ = floats / n;
    return out;
  }

 private:
  std::unique_ptr<Backend> inner_;
  uint64_t bytes_;
  uint64_t output_floats_per_image_ = 0;  ///< learnt from the last call
};

}  // namespace

std::unique_ptr<Backend> load_backend(const std::filesystem::path& model, BackendKind kind,
                                      const BackendOptions& options) {
  if (options.simulate_memory_bytes > 0) {
    BackendOptions real = options;
    real.simulate_memory_bytes = 0;
    return std::make_unique<MemoryLimitedBackend>(load_backend(model, kind, real),
                                                  options.simulate_memory_bytes);
  }
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
