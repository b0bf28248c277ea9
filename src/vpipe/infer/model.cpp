#include "vpipe/infer/model.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <cstring>
#include <fstream>
#include <utility>

#include "vpipe/core/error.h"
#include "vpipe/infer/batch_halving.h"
#include "vpipe/infer/models.h"

namespace vpipe {

std::string_view to_string(ModelTask task) {
  return task == ModelTask::kDetect ? "detect" : "classify";
}

namespace {

constexpr std::pair<OutputFormat, std::string_view> kFormatNames[] = {
    {OutputFormat::kYoloV5, "yolov5"},    {OutputFormat::kYoloV8, "yolov8"},
    {OutputFormat::kBlazeFace, "blazeface"}, {OutputFormat::kRaw, "raw"},
    {OutputFormat::kCascade, "cascade"},  {OutputFormat::kHog, "hog"},
};

}  // namespace

std::string_view to_string(OutputFormat format) {
  for (const auto& [f, name] : kFormatNames) {
    if (f == format) return name;
  }
  return "unknown";
}

std::optional<ModelTask> parse_model_task(std::string_view name) {
  if (name == "detect") return ModelTask::kDetect;
  if (name == "classify") return ModelTask::kClassify;
  return std::nullopt;
}

std::optional<OutputFormat> parse_output_format(std::string_view name) {
  if (name == "yolo11") return OutputFormat::kYoloV8;  // same head as v8
  for (const auto& [f, n] : kFormatNames) {
    if (n == name) return f;
  }
  return std::nullopt;
}

std::string class_label(const ModelSpec& spec, int class_id) {
  if (class_id >= 0 && static_cast<size_t>(class_id) < spec.labels.size()) {
    return spec.labels[static_cast<size_t>(class_id)];
  }
  return std::to_string(class_id);
}

// ---- built-in models ----------------------------------------------------------------------

ModelSpec blazeface_model_spec(const std::filesystem::path& onnx, const BlazeFaceConfig& config) {
  // MediaPipe's face detection input: RGB scaled to [-1, 1], letterboxed with black.
  ModelSpec s;
  s.name = onnx.stem().string();
  s.path = onnx;
  s.task = ModelTask::kDetect;
  s.format = OutputFormat::kBlazeFace;
  s.labels = {"face"};
  s.blazeface = config;
  s.input_width = s.input_height = config.input_size;
  s.layout = TensorLayout::kNHWC;
  for (int c = 0; c < 3; ++c) {
    s.norm.mean[c] = 0.5f;
    s.norm.std[c] = 0.5f;
  }
  s.pad_value = 0;
  s.score_threshold = config.min_score;
  s.iou_threshold = config.suppression_iou;
  s.max_detections = 100;
  return s;
}

namespace {

/// Blazeface front/back, found in the models folder.
ModelSpec blazeface_spec(bool back) {
  const std::string name = back ? "blazeface-back" : "blazeface";
  const std::string file = back ? "blazeface/face_detection_back_256x256.onnx"
                                : "blazeface/face_detection_front_128x128.onnx";
  const auto path = find_model(file);
  if (!path) {
    throw ConfigError(fmt::format(
        "model '{}': '{}' is not in $VPIPE_MODEL_DIR nor in the models folder (run "
        "scripts/fetch-models.sh, which `make deps` runs)",
        name, file));
  }
  ModelSpec s = blazeface_model_spec(*path, back ? blazeface_back() : blazeface_front());
  s.name = name;
  return s;
}

/// "haar:frontalface_default" -> <cascades>/haarcascades/haarcascade_frontalface_default.xml.
ModelSpec cascade_spec(std::string_view kind, std::string_view name) {
  ModelSpec s;
  s.name = fmt::format("{}:{}", kind, name);
  const auto dir = detail::opencv_cascade_dir();
  if (!dir) {
    throw ConfigError(fmt::format(
        "model '{}': OpenCV's cascades are not installed (Debian package opencv-data; or set "
        "$VPIPE_CASCADE_DIR to the folder holding haarcascades/ and lbpcascades/)",
        s.name));
  }
  std::string file(name);
  const std::string prefix = kind == "haar" ? "haarcascade_" : "lbpcascade_";
  if (file.rfind(prefix, 0) != 0) file = prefix + file;
  if (file.size() < 4 || file.compare(file.size() - 4, 4, ".xml") != 0) file += ".xml";
  const std::filesystem::path folder = *dir / (kind == "haar" ? "haarcascades" : "lbpcascades");
  s.path = folder / file;
  std::error_code ec;
  if (!std::filesystem::is_regular_file(s.path, ec)) {
    std::vector<std::string> known;
    for (const auto& e : std::filesystem::directory_iterator(folder, ec)) {
      std::string stem = e.path().stem().string();
      if (stem.rfind(prefix, 0) == 0) known.push_back(fmt::format("{}:{}", kind, stem.substr(prefix.size())));
    }
    std::sort(known.begin(), known.end());
    throw ConfigError(fmt::format("model '{}': no cascade '{}'; known: {}", s.name,
                                  s.path.string(), fmt::join(known, ", ")));
  }
  s.task = ModelTask::kDetect;
  s.format = OutputFormat::kCascade;
  // The object the cascade finds, from its name: "frontalface_default" -> "frontalface".
  std::string label(name);
  if (label.rfind(prefix, 0) == 0) label = label.substr(prefix.size());
  if (const size_t us = label.find('_'); us != std::string::npos) label.resize(us);
  s.labels = {label};
  s.input_width = s.input_height = 640;
  // Score n / (n + 10) for n merged windows (cascade_model.cpp): 0.35 is n >= 6, OpenCV's
  // usual minNeighbors = 5.
  s.score_threshold = 0.35f;
  s.iou_threshold = 0.3f;
  s.max_detections = 100;
  return s;
}

ModelSpec hog_spec() {
  ModelSpec s;
  s.name = "hog-people";
  s.task = ModelTask::kDetect;
  s.format = OutputFormat::kHog;
  s.labels = {"person"};
  s.input_width = s.input_height = 640;
  // Score m / (m + 1) for the SVM margin m (cascade_model.cpp): 0.3 is m > 0.43.
  s.score_threshold = 0.3f;
  s.iou_threshold = 0.3f;
  s.max_detections = 100;
  return s;
}

std::vector<std::string> read_labels(const std::filesystem::path& path) {
  std::ifstream in(path);
  if (!in) throw ConfigError(fmt::format("labels '{}': cannot be read", path.string()));
  std::vector<std::string> labels;
  std::string line;
  while (std::getline(in, line)) {
    while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.pop_back();
    labels.push_back(line);
  }
  while (!labels.empty() && labels.back().empty()) labels.pop_back();
  return labels;
}

}  // namespace

std::string models_help() {
  return "  blazeface             faces, MediaPipe BlazeFace front (128 px), ONNX on OpenCV dnn\n"
         "  blazeface-back        faces, BlazeFace back camera / full range (256 px)\n"
         "  haar:<name>           OpenCV Haar cascade from opencv-data, e.g. haar:frontalface_default,\n"
         "                        haar:frontalcatface, haar:fullbody, haar:russian_plate_number\n"
         "  lbp:<name>            OpenCV LBP cascade, e.g. lbp:frontalface_improved\n"
         "  hog-people            OpenCV HOG + linear SVM pedestrian detector\n"
         "  PATH.onnx|PATH.pt     your network (--format yolov5|yolov8|blazeface|raw, --task,\n"
         "                        --labels, --input)\n";
}

ModelSpec resolve_model(const ModelRequest& request) {
  const std::string& name = request.model;
  if (name.empty()) throw ConfigError("no model given (see `vpipe detect --help` for the list)");
  ModelSpec spec;
  bool builtin = true;
  if (name == "blazeface" || name == "blazeface-back") {
    spec = blazeface_spec(name == "blazeface-back");
  } else if (name.rfind("haar:", 0) == 0 || name.rfind("lbp:", 0) == 0) {
    const size_t colon = name.find(':');
    spec = cascade_spec(std::string_view(name).substr(0, colon), std::string_view(name).substr(colon + 1));
  } else if (name == "hog-people") {
    spec = hog_spec();
  } else {
    builtin = false;
    std::error_code ec;
    const std::filesystem::path path(name);
    if (!std::filesystem::is_regular_file(path, ec)) {
      throw ConfigError(fmt::format("model '{}': neither a built-in model nor a file; built-in "
                                    "models:\n{}",
                                    name, models_help()));
    }
    (void)backend_for_file(path);  // throws for an unknown extension
    spec.path = path;
    spec.name = path.stem().string();
    spec.task = request.task.value_or(ModelTask::kDetect);
    if (request.format) {
      spec.format = *request.format;
    } else if (spec.task == ModelTask::kClassify) {
      spec.format = OutputFormat::kRaw;
    } else {
      throw ConfigError(fmt::format(
          "model '{}': say how to read its output: --format yolov5|yolov8|blazeface", name));
    }
    if (spec.format == OutputFormat::kCascade || spec.format == OutputFormat::kHog) {
      throw ConfigError(fmt::format("model '{}': format '{}' is for the built-in OpenCV "
                                    "detectors (haar:NAME, lbp:NAME, hog-people)",
                                    name, to_string(spec.format)));
    }
    if (spec.format == OutputFormat::kRaw) spec.task = ModelTask::kClassify;
    if (spec.task == ModelTask::kClassify && spec.format != OutputFormat::kRaw) {
      throw ConfigError(fmt::format("model '{}': a classifier's output format is 'raw'", name));
    }
    if (spec.format == OutputFormat::kBlazeFace) {
      BlazeFaceConfig config = blazeface_front();
      if (request.input > 0) config.input_size = request.input;
      if (config.input_size >= 256) config = blazeface_back();
      spec = blazeface_model_spec(path, config);
    }
    if (spec.task == ModelTask::kClassify) {
      // ImageNet-style classifiers: the whole image squashed to the input, ImageNet statistics.
      spec.input_width = spec.input_height = 224;
      spec.stretch = true;
      const float mean[3] = {0.485f, 0.456f, 0.406f};
      const float sd[3] = {0.229f, 0.224f, 0.225f};
      for (int c = 0; c < 3; ++c) {
        spec.norm.mean[c] = mean[c];
        spec.norm.std[c] = sd[c];
      }
      spec.score_threshold = 0.0f;
    }
  }
  if (!request.labels.empty()) spec.labels = read_labels(request.labels);
  if (request.task && builtin && *request.task != spec.task) {
    throw ConfigError(fmt::format("model '{}' is a {} model, not {}", name, to_string(spec.task),
                                  to_string(*request.task)));
  }
  if (request.input > 0) {
    if (builtin && spec.format == OutputFormat::kBlazeFace) {
      throw ConfigError(fmt::format("model '{}': its input size is fixed at {}", name,
                                    spec.input_width));
    }
    spec.input_width = spec.input_height = request.input;
    if (spec.format == OutputFormat::kBlazeFace) spec.blazeface.input_size = request.input;
  }
  if (request.score_threshold) spec.score_threshold = *request.score_threshold;
  if (request.iou_threshold) spec.iou_threshold = *request.iou_threshold;
  if (request.max_detections) spec.max_detections = *request.max_detections;
  if (request.top_k) spec.top_k = *request.top_k;
  if (spec.format == OutputFormat::kBlazeFace) {
    spec.blazeface.min_score = spec.score_threshold;
    spec.blazeface.suppression_iou = spec.iou_threshold;
  }
  return spec;
}

// ---- networks: prepare, one backend call per batch, decode --------------------------------

namespace {

class TensorModel final : public Model {
 public:
  TensorModel(ModelSpec spec, const BackendOptions& options)
      : Model(std::move(spec)),
        backend_(load_backend(this->spec().path, backend_for_file(this->spec().path), options)),
        halving_(fmt::format("model '{}' on {}", this->spec().name, backend_->device().str())) {}

  int decode_long_side() const override {
    return std::max(spec().input_width, spec().input_height);
  }

  void prepare(const Image& image, ModelInput& input) const override {
    const ModelSpec& s = spec();
    input.image_width = image.width;
    input.image_height = image.height;
    input.geometry = letterbox_geometry(image.width, image.height, s.input_width,
                                        s.input_height, s.stretch);
    input.tensor.resize(input_floats());
    letterbox_into(image, input.geometry, s.norm, s.layout, s.pad_value, input.tensor);
    input.outputs.clear();
  }

  void infer(std::span<ModelInput* const> batch) override {
    for (ModelInput* in : batch) in->error.clear();
    halving_.run(
        batch.size(),
        [&](size_t first, size_t count) { infer_chunk(batch.subspan(first, count)); },
        [&](size_t index, const std::string& why) {
          batch[index]->outputs.clear();
          batch[index]->error = fmt::format("model '{}': {}", spec().name, why);
        });
  }

  BatchMemoryStats batch_memory() const override {
    return {halving_.limit(), halving_.halvings()};
  }

  std::vector<Prediction> decode(const ModelInput& input) const override {
    const ModelSpec& s = spec();
    if (input.outputs.empty()) return {};
    switch (s.format) {
      case OutputFormat::kYoloV5:
      case OutputFormat::kYoloV8:
        return decode_yolo(input);
      case OutputFormat::kBlazeFace:
        return decode_faces(input);
      case OutputFormat::kRaw:
        return decode_classes(input);
      case OutputFormat::kCascade:
      case OutputFormat::kHog:
        break;
    }
    return {};
  }

  std::string runtime() const override {
    return fmt::format("{}/{}", to_string(backend_->kind()), backend_->device().str());
  }

 private:
  size_t input_floats() const {
    return static_cast<size_t>(spec().input_width) * spec().input_height * 3;
  }

  /// One backend call over `batch` (a chunk of the engine's batch); throws what it throws.
  void infer_chunk(std::span<ModelInput* const> batch) {
    const ModelSpec& s = spec();
    const size_t per_image = input_floats();
    const auto n = static_cast<int64_t>(batch.size());
    batch_.resize(per_image * batch.size());
    for (size_t b = 0; b < batch.size(); ++b) {
      if (batch[b]->tensor.size() != per_image) {
        throw ItemError(fmt::format("model '{}': an input was not prepared", s.name));
      }
      std::memcpy(batch_.data() + b * per_image, batch[b]->tensor.data(),
                  per_image * sizeof(float));
    }
    std::vector<int64_t> shape = s.layout == TensorLayout::kNCHW
                                     ? std::vector<int64_t>{n, 3, s.input_height, s.input_width}
                                     : std::vector<int64_t>{n, s.input_height, s.input_width, 3};
    std::vector<Tensor> outs = backend_->infer(batch_, shape);
    for (size_t b = 0; b < batch.size(); ++b) {
      ModelInput& in = *batch[b];
      in.outputs.clear();
      for (const Tensor& t : outs) {
        if (t.shape.empty() || t.shape[0] != n) {
          throw ItemError(fmt::format("model '{}': an output does not have the batch first",
                                      s.name));
        }
        const size_t each = t.data.size() / static_cast<size_t>(n);
        Tensor one;
        one.shape = t.shape;
        one.shape[0] = 1;
        one.data.assign(t.data.begin() + static_cast<ptrdiff_t>(b * each),
                        t.data.begin() + static_cast<ptrdiff_t>((b + 1) * each));
        in.outputs.push_back(std::move(one));
      }
    }
  }

  std::vector<Prediction> decode_yolo(const ModelInput& input) const {
    const ModelSpec& s = spec();
    const Tensor& t = input.outputs[0];
    // [1, rows, cols]: v5 is [1, boxes, 5 + C], v8 is [1, 4 + C, boxes].
    if (t.shape.size() != 3) {
      throw ItemError(fmt::format("model '{}': a {} output has 3 dimensions, this one has {}",
                                  s.name, to_string(s.format), t.shape.size()));
    }
    std::vector<Detection> found;
    if (s.format == OutputFormat::kYoloV5) {
      const auto boxes = static_cast<int>(t.shape[1]);
      const auto classes = static_cast<int>(t.shape[2]) - 5;
      found = decode_yolov5(t.data, boxes, classes, s.score_threshold);
    } else {
      const auto classes = static_cast<int>(t.shape[1]) - 4;
      const auto boxes = static_cast<int>(t.shape[2]);
      found = decode_yolov8(t.data, boxes, classes, s.score_threshold);
    }
    found = nms(std::move(found), s.iou_threshold, s.max_detections);
    std::vector<Prediction> out;
    out.reserve(found.size());
    for (const Detection& d : found) {
      Prediction p;
      p.box = map_box_to_source(d.box, input.geometry);
      p.score = d.score;
      p.class_id = d.class_id;
      out.push_back(std::move(p));
    }
    return out;
  }

  std::vector<Prediction> decode_faces(const ModelInput& input) const {
    const ModelSpec& s = spec();
    // Scores have a last dimension of 1, regressors of 16; each comes as one tensor per anchor
    // grid, the 16 x 16 grid (512 anchors) before the 8 x 8 one (384).
    std::vector<const Tensor*> scores;
    std::vector<const Tensor*> regressors;
    for (const Tensor& t : input.outputs) {
      const int64_t last = t.shape.empty() ? 0 : t.shape.back();
      (last == 16 ? regressors : scores).push_back(&t);
    }
    const auto by_size = [](const Tensor* a, const Tensor* b) { return a->numel() > b->numel(); };
    std::stable_sort(scores.begin(), scores.end(), by_size);
    std::stable_sort(regressors.begin(), regressors.end(), by_size);
    std::vector<float> all_scores;
    std::vector<float> all_regressors;
    for (const Tensor* t : scores) all_scores.insert(all_scores.end(), t->data.begin(), t->data.end());
    for (const Tensor* t : regressors) {
      all_regressors.insert(all_regressors.end(), t->data.begin(), t->data.end());
    }
    std::vector<FaceDetection> faces;
    try {
      faces = decode_blazeface(all_scores, all_regressors, s.blazeface);
    } catch (const ConfigError& e) {
      throw ItemError(fmt::format("model '{}': {}", s.name, e.what()));
    }
    const Letterbox& g = input.geometry;
    std::vector<Prediction> out;
    for (const FaceDetection& f : faces) {
      if (s.max_detections >= 0 && static_cast<int>(out.size()) >= s.max_detections) break;
      Prediction p;
      p.box = map_box_to_source(f.box, g);
      p.score = f.score;
      p.class_id = 0;
      p.keypoints.resize(f.keypoints.size());
      for (size_t k = 0; k < f.keypoints.size(); k += 2) {
        p.keypoints[k] = std::clamp((f.keypoints[k] - g.pad_x) / g.scale_x, 0.0f,
                                    static_cast<float>(g.src_width));
        p.keypoints[k + 1] = std::clamp((f.keypoints[k + 1] - g.pad_y) / g.scale_y, 0.0f,
                                        static_cast<float>(g.src_height));
      }
      out.push_back(std::move(p));
    }
    return out;
  }

  std::vector<Prediction> decode_classes(const ModelInput& input) const {
    const ModelSpec& s = spec();
    const std::vector<ClassScore> best = top_k(input.outputs[0].data, s.top_k, s.softmax);
    std::vector<Prediction> out;
    for (const ClassScore& c : best) {
      if (c.score < s.score_threshold) continue;
      Prediction p;
      p.box = Box{0, 0, static_cast<float>(input.image_width),
                  static_cast<float>(input.image_height)};
      p.score = c.score;
      p.class_id = c.class_id;
      out.push_back(std::move(p));
    }
    return out;
  }

  std::unique_ptr<Backend> backend_;
  BatchHalving halving_;
  std::vector<float> batch_;  ///< the assembled [N, ...] input, reused across batches
};

}  // namespace

std::unique_ptr<Model> load_model(const ModelSpec& spec, const BackendOptions& options) {
  if (spec.format == OutputFormat::kCascade || spec.format == OutputFormat::kHog) {
    return detail::load_cascade_model(spec);
  }
  if (spec.input_width <= 0 || spec.input_height <= 0) {
    throw ConfigError(fmt::format("model '{}': input size {}x{} is not positive", spec.name,
                                  spec.input_width, spec.input_height));
  }
  return std::make_unique<TensorModel>(spec, options);
}

}  // namespace vpipe
