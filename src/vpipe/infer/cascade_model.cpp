// OpenCV's classic detectors as vpipe models: Haar and LBP cascades (cv::CascadeClassifier)
// and the HOG + linear SVM people detector (cv::HOGDescriptor). No network: prepare() makes the
// gray image they scan, infer() runs detectMultiScale on it, decode() maps the boxes back.
#include <fmt/format.h>

#include <algorithm>
#include <cassert>
#include <cmath>
#include <cstdlib>
#include <system_error>

#include "vpipe/core/error.h"
#include "vpipe/infer/model.h"
#include "vpipe/infer/models.h"

#ifdef VPIPE_HAVE_OPENCV_OBJDETECT
#include <opencv2/core.hpp>
#include <opencv2/imgproc.hpp>
#include <opencv2/objdetect.hpp>
#endif

namespace vpipe::detail {

namespace fs = std::filesystem;

std::optional<fs::path> opencv_cascade_dir() {
  const auto holds_cascades = [](const fs::path& dir) {
    std::error_code ec;
    return fs::is_directory(dir / "haarcascades", ec) || fs::is_directory(dir / "lbpcascades", ec);
  };
  if (const char* env = std::getenv("VPIPE_CASCADE_DIR"); env != nullptr && *env != '\0') {
    if (holds_cascades(env)) return fs::path(env);
  }
  if (const auto exe_dir = executable_dir()) {  // a bundle: scripts/bundle.sh copies them
    if (holds_cascades(*exe_dir / ".." / "share" / "opencv4")) {
      return *exe_dir / ".." / "share" / "opencv4";
    }
  }
  for (const char* dir : {"/usr/share/opencv4", "/usr/share/opencv"}) {
    if (holds_cascades(dir)) return fs::path(dir);
  }
  return std::nullopt;
}

#ifdef VPIPE_HAVE_OPENCV_OBJDETECT

namespace {

// detectMultiScale's pyramid step for the cascades: each level 1/1.1 of the previous one.
constexpr double kCascadeScaleFactor = 1.1;
// A cascade box is reported when at least this many raw windows (neighbours) agree on it;
// OpenCV's samples use 3 to 5: 3 finds more faces, the score then ranks them.
constexpr int kCascadeMinNeighbours = 3;
// The cascade score is n / (n + kCascadeHalfScore) for a box grouped from n raw windows:
// n = kCascadeHalfScore gives 0.5. On the skimage photos a clear frontal face collects 15 (LBP)
// to 45 (Haar) windows at scale step 1.1 (scores 0.6 to 0.82), spurious boxes 4 to 7 (0.29 to
// 0.41).
constexpr double kCascadeHalfScore = 10.0;
// HOG's pyramid step: OpenCV's default for the people detector (coarser steps miss people whose
// height falls between two levels of its single 64x128 window).
constexpr double kHogScaleFactor = 1.05;
// Raw HOG windows are grouped (cv::groupRectangles) when at least this many overlap.
constexpr int kHogGroupThreshold = 2;

/// A cascade or HOG model: everything but the detector itself.
class ScanModel : public Model {
 public:
  ScanModel(ModelSpec spec, bool equalize) : Model(std::move(spec)), equalize_(equalize) {}

  int decode_long_side() const override { return spec().input_width; }

  void prepare(const Image& image, ModelInput& input) const override {
    input.image_width = image.width;
    input.image_height = image.height;
    input.tensor.clear();
    input.outputs.clear();
    input.raw.clear();
    input.image = Image{};
    if (image.empty()) return;
    // Gray or RGB only (the Model contract); anything else is a caller's bug.
    assert(image.channels == 1 || image.channels == 3);
    int width = image.width;
    int height = image.height;
    const int long_side = std::max(width, height);
    const int scan = spec().input_width;
    if (scan > 0 && long_side > scan) {
      const double f = static_cast<double>(scan) / long_side;
      width = std::max(1, static_cast<int>(std::lround(image.width * f)));
      height = std::max(1, static_cast<int>(std::lround(image.height * f)));
    }
    // OpenCV writes straight into `out`: a cv::Mat of the right size and type is not reallocated.
    Image out(width, height, 1);
    cv::Mat gray(height, width, CV_8UC1, out.pixels.data(), out.stride());
    // Read-only view of the caller's pixels: the const_cast never leads to a write.
    cv::Mat src(image.height, image.width, image.channels == 3 ? CV_8UC3 : CV_8UC1,
                const_cast<uint8_t*>(image.pixels.data()), image.stride());
    if (width != image.width || height != image.height) {
      // Reduce first (fewer pixels to convert); INTER_AREA averages, so no aliasing.
      cv::Mat reduced;
      cv::resize(src, reduced, cv::Size(width, height), 0, 0, cv::INTER_AREA);
      src = reduced;
    }
    if (src.channels() == 3) {
      cv::cvtColor(src, gray, cv::COLOR_RGB2GRAY);
    } else {
      src.copyTo(gray);
    }
    assert(gray.data == out.pixels.data());  // OpenCV kept our buffer
    if (equalize_) cv::equalizeHist(gray, gray);
    input.image = std::move(out);
  }

  void infer(std::span<ModelInput* const> batch) override {
    for (ModelInput* input : batch) {
      input->raw.clear();
      if (input->image.empty()) continue;
      const Image& img = input->image;
      // Read-only view of the prepared gray image (see to_gray).
      const cv::Mat gray(img.height, img.width, CV_8UC1, const_cast<uint8_t*>(img.pixels.data()),
                         img.stride());
      try {
        input->raw = detect(gray);
      } catch (const cv::Exception& e) {
        throw ItemError(fmt::format("model '{}': OpenCV refused a {}x{} image: {}", spec().name,
                                    img.width, img.height, e.what()));
      }
    }
  }

  std::vector<Prediction> decode(const ModelInput& input) const override {
    if (input.image.empty() || input.raw.empty()) return {};
    const float sx = static_cast<float>(input.image_width) / input.image.width;
    const float sy = static_cast<float>(input.image_height) / input.image.height;
    const auto w = static_cast<float>(input.image_width);
    const auto h = static_cast<float>(input.image_height);
    std::vector<Detection> kept;
    for (const Detection& d : input.raw) {
      if (!(d.score > spec().score_threshold)) continue;
      const Box b{std::clamp(d.box.x1 * sx, 0.0f, w), std::clamp(d.box.y1 * sy, 0.0f, h),
                  std::clamp(d.box.x2 * sx, 0.0f, w), std::clamp(d.box.y2 * sy, 0.0f, h)};
      kept.push_back(Detection{b, d.score, d.class_id});
    }
    kept = nms(std::move(kept), spec().iou_threshold, spec().max_detections);
    std::vector<Prediction> out;
    out.reserve(kept.size());
    for (const Detection& d : kept) {
      Prediction p;
      p.box = d.box;
      p.score = d.score;
      p.class_id = d.class_id;
      out.push_back(std::move(p));
    }
    return out;
  }

 protected:
  /// Boxes in pixels of `gray` (the prepared image), score in [0, 1], class 0.
  virtual std::vector<Detection> detect(const cv::Mat& gray) = 0;

  static Detection to_detection(const cv::Rect& r, double score) {
    return Detection{Box{static_cast<float>(r.x), static_cast<float>(r.y),
                         static_cast<float>(r.x + r.width), static_cast<float>(r.y + r.height)},
                     static_cast<float>(score), 0};
  }

 private:
  bool equalize_;
};

/// A Haar or LBP cascade. Score of a box: n / (n + 10), n the number of raw windows OpenCV
/// grouped into it (detectMultiScale's numDetections); at least 4 / 14 = 0.29, since OpenCV
/// reports only boxes of more than kCascadeMinNeighbours (3) windows.
class CascadeModel final : public ScanModel {
 public:
  explicit CascadeModel(const ModelSpec& spec) : ScanModel(spec, /*equalize=*/true) {
    const fs::path& path = this->spec().path;
    std::error_code ec;
    if (!fs::is_regular_file(path, ec)) {
      throw ConfigError(
          fmt::format("model '{}': cascade file '{}' not found", this->spec().name, path.string()));
    }
    bool loaded = false;
    std::string why = "not a Haar or LBP cascade";
    try {
      loaded = classifier_.load(path.string());
    } catch (const cv::Exception& e) {
      why = e.what();
    }
    if (!loaded || classifier_.empty()) {
      throw ConfigError(fmt::format("model '{}': cascade file '{}' cannot be loaded: {}",
                                    this->spec().name, path.string(), why));
    }
  }

  std::string runtime() const override { return "opencv-cascade/cpu"; }

 protected:
  std::vector<Detection> detect(const cv::Mat& gray) override {
    std::vector<cv::Rect> boxes;
    std::vector<int> windows;
    const int min = std::max(0, spec().min_object_size);
    classifier_.detectMultiScale(gray, boxes, windows, kCascadeScaleFactor, kCascadeMinNeighbours,
                                 0, cv::Size(min, min));
    std::vector<Detection> out;
    out.reserve(boxes.size());
    for (size_t i = 0; i < boxes.size(); ++i) {
      const double n = i < windows.size() ? windows[i] : kCascadeMinNeighbours + 1;
      out.push_back(to_detection(boxes[i], n / (n + kCascadeHalfScore)));
    }
    return out;
  }

 private:
  cv::CascadeClassifier classifier_;
};

/// OpenCV's HOG people detector (Dalal-Triggs, 64x128 window). Score of a box: m / (m + 1), m
/// the linear SVM's decision value (the best of the windows grouped into the box, >= 0):
/// 0.5 at the SVM's margin (m = 1).
class HogModel final : public ScanModel {
 public:
  explicit HogModel(const ModelSpec& spec) : ScanModel(spec, /*equalize=*/false) {
    hog_.setSVMDetector(cv::HOGDescriptor::getDefaultPeopleDetector());
  }

  std::string runtime() const override { return "opencv-hog/cpu"; }

 protected:
  std::vector<Detection> detect(const cv::Mat& gray) override {
    if (gray.cols < hog_.winSize.width || gray.rows < hog_.winSize.height) return {};
    std::vector<cv::Rect> boxes;
    std::vector<double> margins;
    hog_.detectMultiScale(gray, boxes, margins, /*hitThreshold=*/0, cv::Size(8, 8), cv::Size(),
                          kHogScaleFactor, kHogGroupThreshold);
    std::vector<Detection> out;
    out.reserve(boxes.size());
    for (size_t i = 0; i < boxes.size(); ++i) {
      if (std::min(boxes[i].width, boxes[i].height) < spec().min_object_size) continue;
      const double m = std::max(0.0, i < margins.size() ? margins[i] : 0.0);
      out.push_back(to_detection(boxes[i], m / (m + 1)));
    }
    return out;
  }

 private:
  cv::HOGDescriptor hog_;
};

}  // namespace

bool objdetect_built() { return true; }

std::unique_ptr<Model> load_cascade_model(const ModelSpec& spec) {
  switch (spec.format) {
    case OutputFormat::kCascade:
      return std::make_unique<CascadeModel>(spec);
    case OutputFormat::kHog:
      return std::make_unique<HogModel>(spec);
    default:
      throw ConfigError(fmt::format(
          "model '{}': not a cascade or HOG model (the format must be cascade or hog)", spec.name));
  }
}

#else  // VPIPE_HAVE_OPENCV_OBJDETECT

bool objdetect_built() { return false; }

std::unique_ptr<Model> load_cascade_model(const ModelSpec& spec) {
  throw ConfigError(fmt::format(
      "model '{}': built without OpenCV objdetect (install libopencv-objdetect-dev and rebuild)",
      spec.name));
}

#endif  // VPIPE_HAVE_OPENCV_OBJDETECT

}  // namespace vpipe::detail
