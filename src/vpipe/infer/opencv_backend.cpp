// ONNX networks on OpenCV's dnn module (CPU).
#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <cstring>

#include "vpipe/core/error.h"
#include "vpipe/core/log.h"
#include "vpipe/infer/backend.h"

#ifdef VPIPE_HAVE_OPENCV_DNN
#include <opencv2/core.hpp>
#include <opencv2/core/utils/logger.hpp>
#include <opencv2/dnn.hpp>
#endif

namespace vpipe::detail {

#ifdef VPIPE_HAVE_OPENCV_DNN

namespace {

class OpenCvDnnBackend final : public Backend {
 public:
  OpenCvDnnBackend(std::filesystem::path model, const BackendOptions& options)
      : model_(std::move(model)) {
    // This build's OpenCV dnn has no CUDA target: a GPU device falls back to the CPU, said once.
    if (!options.device.is_cpu()) {
      log().info("model '{}': OpenCV dnn runs it on the CPU (device '{}' is for LibTorch models)",
                 model_.string(), options.device.str());
    }
    try {
      net_ = cv::dnn::readNetFromONNX(model_.string());
    } catch (const cv::Exception& e) {
      throw ConfigError(fmt::format("model '{}': OpenCV dnn cannot load it: {}", model_.string(),
                                    e.what()));
    }
    if (net_.empty()) {
      throw ConfigError(fmt::format("model '{}': holds no network", model_.string()));
    }
    net_.setPreferableBackend(cv::dnn::DNN_BACKEND_OPENCV);
    net_.setPreferableTarget(cv::dnn::DNN_TARGET_CPU);
    if (options.threads > 0) cv::setNumThreads(options.threads);
    output_names_ = net_.getUnconnectedOutLayersNames();
  }

  BackendKind kind() const override { return BackendKind::kOpenCvDnn; }
  Device device() const override { return Device::cpu(); }

  std::vector<Tensor> infer(std::span<const float> input,
                            std::span<const int64_t> shape) override {
    if (shape.empty() || shape[0] < 1) {
      throw ItemError(fmt::format("model '{}': input has no batch dimension", model_.string()));
    }
    const int64_t n = shape[0];
    if (n > 1 && !single_only_) {
      // A graph that fixes its batch makes OpenCV log a shape error before it throws: quiet
      // while we find out.
      const auto level = cv::utils::logging::getLogLevel();
      cv::utils::logging::setLogLevel(cv::utils::logging::LOG_LEVEL_SILENT);
      struct Restore {
        cv::utils::logging::LogLevel level;
        ~Restore() { cv::utils::logging::setLogLevel(level); }
      } restore{level};
      try {
        std::vector<Tensor> out = forward(input, shape);
        const bool batched = std::all_of(out.begin(), out.end(), [&](const Tensor& t) {
          return !t.shape.empty() && t.shape[0] == n;
        });
        if (batched) return out;
      } catch (const ItemError&) {
      }
      // The graph fixes its batch at 1 (common in exports): from now on, run image by image.
      single_only_ = true;
    }
    if (n == 1) return forward(input, shape);
    std::vector<int64_t> one(shape.begin(), shape.end());
    one[0] = 1;
    const size_t per_image = input.size() / static_cast<size_t>(n);
    std::vector<Tensor> merged;
    for (int64_t b = 0; b < n; ++b) {
      std::vector<Tensor> out = forward(input.subspan(b * per_image, per_image), one);
      if (merged.empty()) {
        merged = std::move(out);
        for (Tensor& t : merged) {
          t.data.reserve(t.data.size() * n);
          t.shape[0] = n;
        }
        continue;
      }
      for (size_t k = 0; k < out.size() && k < merged.size(); ++k) {
        merged[k].data.insert(merged[k].data.end(), out[k].data.begin(), out[k].data.end());
      }
    }
    return merged;
  }

 private:
  std::vector<Tensor> forward(std::span<const float> input, std::span<const int64_t> shape) {
    std::vector<int> dims(shape.begin(), shape.end());
    // OpenCV reads but never writes the input blob; it wants a non-const pointer.
    const cv::Mat blob(static_cast<int>(dims.size()), dims.data(), CV_32F,
                       const_cast<float*>(input.data()));
    std::vector<cv::Mat> outs;
    try {
      net_.setInput(blob);
      net_.forward(outs, output_names_);
    } catch (const cv::Exception& e) {
      throw ItemError(fmt::format("model '{}': OpenCV dnn refused a batch of shape [{}]: {}",
                                  model_.string(), fmt::join(shape, ", "), e.what()));
    }
    std::vector<Tensor> tensors;
    tensors.reserve(outs.size());
    for (const cv::Mat& m : outs) {
      const cv::Mat flat = m.isContinuous() ? m : m.clone();
      Tensor t;
      for (int d = 0; d < flat.dims; ++d) t.shape.push_back(flat.size[d]);
      if (t.shape.empty() || t.shape[0] != shape[0]) t.shape.insert(t.shape.begin(), 1);
      const auto* p = flat.ptr<float>();
      t.data.assign(p, p + flat.total());
      tensors.push_back(std::move(t));
    }
    return tensors;
  }

  std::filesystem::path model_;
  cv::dnn::Net net_;
  std::vector<cv::String> output_names_;
  bool single_only_ = false;
};

}  // namespace

bool opencv_dnn_built() { return true; }

std::unique_ptr<Backend> load_opencv_dnn(const std::filesystem::path& model,
                                         const BackendOptions& options) {
  return std::make_unique<OpenCvDnnBackend>(model, options);
}

#else  // no OpenCV dnn in this build

bool opencv_dnn_built() { return false; }

std::unique_ptr<Backend> load_opencv_dnn(const std::filesystem::path& model,
                                         const BackendOptions&) {
  throw ConfigError(fmt::format("model '{}': this vpipe was built without OpenCV dnn",
                                model.string()));
}

#endif

}  // namespace vpipe::detail
