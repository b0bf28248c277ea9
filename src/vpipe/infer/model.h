#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "vpipe/core/image.h"
#include "vpipe/infer/backend.h"
#include "vpipe/infer/blazeface.h"
#include "vpipe/infer/postprocess.h"
#include "vpipe/infer/preprocess.h"

namespace vpipe {

/// What a model answers: boxes, or classes of the whole image.
enum class ModelTask { kDetect, kClassify };

/// How a model's output is read.
enum class OutputFormat {
  kYoloV5,     ///< [N, 5 + C] per image (decode_yolov5)
  kYoloV8,     ///< [4 + C, N] per image (decode_yolov8; YOLO11 too)
  kBlazeFace,  ///< MediaPipe BlazeFace scores + regressors (decode_blazeface)
  kRaw,        ///< classify: one score per class (top_k)
  kCascade,    ///< OpenCV Haar or LBP cascade (no network)
  kHog,        ///< OpenCV HOG + linear SVM people detector (no network)
};

[[nodiscard]] std::string_view to_string(ModelTask task);      ///< "detect", "classify"
[[nodiscard]] std::string_view to_string(OutputFormat format);  ///< "yolov5", ..., "hog"
[[nodiscard]] std::optional<ModelTask> parse_model_task(std::string_view name);
[[nodiscard]] std::optional<OutputFormat> parse_output_format(std::string_view name);

/// Everything needed to load and run one model. resolve_model() fills it for a built-in name or
/// a user's file; every field has the value the model was trained with.
struct ModelSpec {
  /// The name recorded in the manifest and shown in the report: the built-in name
  /// ("blazeface", "haar:frontalface_default", "hog-people") or the user file's stem.
  std::string name;
  std::filesystem::path path;  ///< network or cascade file; empty for hog-people
  ModelTask task = ModelTask::kDetect;
  OutputFormat format = OutputFormat::kYoloV8;
  std::vector<std::string> labels;  ///< class id -> name; a missing name is shown as the id
  /// Network input, pixels. For cascades and HOG: the long side images are scanned at (smaller
  /// images are scanned as they are); boxes still come back in the image's own pixels.
  int input_width = 640;
  int input_height = 640;
  TensorLayout layout = TensorLayout::kNCHW;
  Normalization norm;           ///< default: RGB in [0, 1] (Ultralytics)
  bool stretch = false;         ///< resize without keeping the aspect ratio (classifiers)
  uint8_t pad_value = 114;      ///< letterbox padding, before normalisation
  float score_threshold = 0.25f;
  float iou_threshold = 0.45f;  ///< NMS
  int max_detections = 300;
  int top_k = 5;                ///< classify: classes kept per image
  bool softmax = true;          ///< classify: the output is logits
  BlazeFaceConfig blazeface;    ///< kBlazeFace only
  int min_object_size = 0;      ///< kCascade/kHog: smallest object, pixels of the scanned image
};

/// A model as the user names it on the command line or in a pipeline file, with the options
/// that override the built-in or default values. Unset optionals keep the model's own values.
struct ModelRequest {
  std::string model;  ///< built-in name (models_help()) or a path to .onnx / .pt / .torchscript
  std::optional<ModelTask> task;
  std::optional<OutputFormat> format;
  std::filesystem::path labels;  ///< text file, one class name per line
  int input = 0;                 ///< square input size; 0 = the model's own
  std::optional<float> score_threshold;
  std::optional<float> iou_threshold;
  std::optional<int> max_detections;
  std::optional<int> top_k;
};

/// Resolves a request into a spec: built-in names are looked up in the models folder
/// (find_model: $VPIPE_MODEL_DIR, then the install's models folder) and the cascades folder of
/// opencv-data; paths must exist. Throws ConfigError naming the model and the reason (unknown
/// name with the list of known ones, missing file with how to fetch it, unreadable labels,
/// a user network without --format/--task where they cannot be guessed).
[[nodiscard]] ModelSpec resolve_model(const ModelRequest& request);

/// The spec of a MediaPipe BlazeFace ONNX file (front 128 or back 256, as `config` says):
/// NHWC RGB in [-1, 1], letterboxed with black, decoded with `config`, label "face".
[[nodiscard]] ModelSpec blazeface_model_spec(const std::filesystem::path& onnx,
                                             const BlazeFaceConfig& config);

/// One line per built-in model ("name  what it detects  (source)"), for --help and errors.
[[nodiscard]] std::string models_help();

/// One prediction, in pixels of the image given to Model::prepare. Detections have a box;
/// a classification's box is the whole image.
struct Prediction {
  Box box;
  float score = 0;
  int class_id = 0;
  std::vector<float> keypoints;  ///< x, y pairs (BlazeFace: 6 points); empty for most models
};

/// One image on its way through a model: prepare() fills it, infer() adds the raw outputs,
/// decode() reads them. Movable, so that it rides in an engine item.
struct ModelInput {
  int image_width = 0;  ///< of the image given to prepare()
  int image_height = 0;
  Letterbox geometry{};         ///< tensor models: where the image sits in the input
  std::vector<float> tensor;    ///< tensor models: one image's input, input_floats() values
  Image image;                  ///< cascade/HOG: the (gray, maybe reduced) image they scan
  std::vector<Tensor> outputs;  ///< after infer(), tensor models: this image's outputs, batch 1
  std::vector<Detection> raw;   ///< after infer(), cascade/HOG: boxes in pixels of `image`
  /// After infer(): why this image alone could not be inferred while the rest of its batch was
  /// (it did not fit the device's memory even by itself); empty when it was inferred.
  std::string error;
};

/// How a Model's batches met the device's memory (BatchHalving): what the infer pass reports.
struct BatchMemoryStats {
  size_t limit = 0;     ///< the largest batch it now tries; 0 = never limited
  size_t halvings = 0;  ///< out-of-memory errors that halved the batch
};

/// A loaded model split into the three steps the infer pass runs as separate stages:
/// prepare (parallel, thread-safe), infer (batched, one thread per Model), decode (parallel,
/// thread-safe). Load one Model per infer worker (load_model); prepare and decode of any of
/// them give the same result.
class Model {
 public:
  explicit Model(ModelSpec spec) : spec_(std::move(spec)) {}
  virtual ~Model() = default;
  Model(const Model&) = delete;
  Model& operator=(const Model&) = delete;

  [[nodiscard]] const ModelSpec& spec() const { return spec_; }
  /// The long side that decoding must at least deliver (DecodeOptions::min_long_side, which
  /// lets JPEG decode at a DCT scale); 0 = full resolution.
  [[nodiscard]] virtual int decode_long_side() const = 0;
  /// Fills `input` from one decoded image (8-bit gray or RGB, EXIF orientation applied).
  /// Thread-safe (const).
  virtual void prepare(const Image& image, ModelInput& input) const = 0;
  /// Runs the model on a batch (1..max_batch inputs, each prepared), filling their `outputs`
  /// or `raw`. Tensor models assemble one contiguous [N, ...] buffer and make one backend
  /// call; when the device runs out of memory they split the batch (BatchHalving) and an
  /// image that does not fit even alone gets its `error` set. Throws ItemError when the backend
  /// refuses the batch. Not thread-safe.
  virtual void infer(std::span<ModelInput* const> batch) = 0;
  /// What out-of-memory errors did to this model's batches (zeros for models that never split).
  [[nodiscard]] virtual BatchMemoryStats batch_memory() const { return {}; }
  /// The predictions of one inferred input, in pixels of the image given to prepare(), after
  /// thresholds and NMS (detect) or top-k (classify), best first. Thread-safe (const).
  [[nodiscard]] virtual std::vector<Prediction> decode(const ModelInput& input) const = 0;
  /// What it runs on, for the manifest and the report ("opencv-dnn/cpu", "opencv-cascade/cpu").
  [[nodiscard]] virtual std::string runtime() const = 0;

 private:
  ModelSpec spec_;
};

/// Loads the model a spec describes on `options.device`. Throws ConfigError naming the model
/// when its file cannot be loaded or the build lacks what it needs (a backend, OpenCV's
/// objdetect module).
[[nodiscard]] std::unique_ptr<Model> load_model(const ModelSpec& spec,
                                                const BackendOptions& options = {});

/// The label of `class_id` under `spec` (its name, or the number when there is none).
[[nodiscard]] std::string class_label(const ModelSpec& spec, int class_id);

namespace detail {
/// cascade_model.cpp: kCascade and kHog models; stubs that throw ConfigError when the build has
/// no OpenCV objdetect.
std::unique_ptr<Model> load_cascade_model(const ModelSpec& spec);
bool objdetect_built();
/// The folder holding opencv-data's cascades (haarcascades/, lbpcascades/), nullopt when absent.
std::optional<std::filesystem::path> opencv_cascade_dir();
}  // namespace detail

}  // namespace vpipe
