// `vpipe detect` and `vpipe classify`: a model over a folder, a file list or a manifest.
#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <memory>

#include <fmt/format.h>

#include "vpipe/cli/commands.h"
#include "vpipe/cli/stop_signal.h"
#include "vpipe/cli/summaries.h"
#include "vpipe/core/error.h"
#include "vpipe/core/json.h"
#include "vpipe/curate/infer_pass.h"
#include "vpipe/device/devices.h"
#include "vpipe/scan/scan.h"

namespace vpipe::cli {
namespace {

struct DetectArgs {
  ModelTask task = ModelTask::kDetect;
  bool json = false;
  std::string task_name;  ///< --task: overrides the command's own task
  std::vector<std::string> inputs;
  std::string list;
  bool null_delimited = false;
  std::string db;
  std::string model;
  std::string format;
  std::string labels;
  int input = 0;
  float score = -1;
  float iou = -1;
  int max_det = -1;
  int top_k = -1;
  int max_batch = 0;
  double max_delay_ms = 5;
  int threads = 0;
  int infer_workers = 1;
  std::string precision = "auto";
  bool cuda_graphs = false;
  bool all = false;
  bool force = false;
  std::string crops;
  float crop_margin = 0.1f;
  int crop_min_size = 16;
  std::string crop_format = "jpeg";
  bool progress = false;
  std::string trace;
  std::string device = "auto";
};

/// True when `path` is an SQLite database (a manifest given as the input).
bool is_sqlite(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  char head[16] = {};
  in.read(head, sizeof(head));
  return in.gcount() == 16 && std::string_view(head, 15) == "SQLite format 3";
}

ModelRequest model_request(const DetectArgs& a) {
  ModelRequest r;
  r.model = a.model;
  r.task = a.task;
  if (!a.format.empty()) {
    r.format = parse_output_format(a.format);
    if (!r.format) throw UsageError(fmt::format("--format: unknown '{}' (yolov5, yolov8, yolo11, blazeface, raw)", a.format));
  }
  r.labels = a.labels;
  r.input = a.input;
  if (a.score >= 0) r.score_threshold = a.score;
  if (a.iou >= 0) r.iou_threshold = a.iou;
  if (a.max_det >= 0) r.max_detections = a.max_det;
  if (a.top_k >= 0) r.top_k = a.top_k;
  return r;
}

int run(DetectArgs a) {
  install_stop_handlers();
  if (!a.task_name.empty()) a.task = *parse_model_task(a.task_name);
  const std::string_view verb = a.task == ModelTask::kDetect ? "detect" : "classify";

  // The manifest: given as the only input, or --db (scanned first from the folders/list).
  std::string db = a.db;
  std::vector<std::string> roots = a.inputs;
  if (roots.size() == 1 && a.list.empty() && is_sqlite(roots[0])) {
    if (!db.empty() && db != roots[0]) throw UsageError("give the manifest either as the input or as --db, not both");
    db = roots[0];
    roots.clear();
  }
  if (db.empty()) throw UsageError(fmt::format("{}: --db is required (where the manifest goes)", verb));
  if (roots.empty() && a.list.empty() && !std::filesystem::exists(db)) {
    throw UsageError(fmt::format("{}: manifest '{}' does not exist (give folders to scan)", verb, db));
  }

  const DeviceInventory inventory = probe_devices();
  const DeviceRequest request = parse_device_request(a.device, "--device");
  JsonObject out;  // --json: what each step did
  out.add("command", verb).add("manifest", json_path(db));
  const Device device = select_device(inventory, request);
  const ModelSpec spec = resolve_model(model_request(a));
  const DeviceDefaults defaults = device_defaults(inventory, device);
  const int threads = a.threads > 0 ? a.threads : inventory.cpu.logical_cores;
  if (a.max_batch == 0) a.max_batch = defaults.infer_batch;
  if (!roots.empty() || !a.list.empty()) {
    ScanOptions scan;
    scan.roots = roots;
    scan.path_list = a.list;
    scan.list_delimiter = a.null_delimited ? '\0' : '\n';
    scan.db = db;
    scan.threads = threads;
    scan.stop = &stop_requested();
    scan.device = device;
    scan.progress = a.progress ? &std::cerr : nullptr;
    const ScanSummary s = run_scan(scan);
    if (a.json) {
      out.add("scan", scan_json(s));
    } else {
      fmt::print("scanned {} files ({} unchanged)\n", s.scanned, s.unchanged);
    }
    if (s.stopped) {
      return interrupted_exit("during the scan; rerun the same command to resume");
    }
  }

  InferPassOptions options;
  options.model = spec;
  options.backend.device = device;
  options.cpu_fallback = request.kind == DeviceRequest::Kind::kAuto;
  options.threads = a.threads > 0 ? a.threads : defaults.decode_workers;
  options.infer_workers = a.infer_workers;
  options.worker_devices = worker_devices(inventory, request, a.infer_workers);
  options.backend.precision = resolve_precision(a.precision, device);
  options.backend.cuda_graphs = a.cuda_graphs;
  options.batch.max_batch = static_cast<size_t>(a.max_batch);
  options.batch.max_delay = std::chrono::microseconds(static_cast<int64_t>(a.max_delay_ms * 1000));
  options.keepers_only = !a.all;
  options.force = a.force;
  options.progress = a.progress ? &std::cerr : nullptr;
  options.trace_path = a.trace;
  options.stop = &stop_requested();
  options.command = std::string(verb);
  options.device = device;
  options.config_json = fmt::format(
      R"({{"command":{},"model":{},"format":"{}","input":[{},{}],"score_threshold":{},"iou_threshold":{},"max_batch":{},"max_delay_ms":{},"keepers_only":{}}})",
      json_quote(verb), json_quote(spec.name), to_string(spec.format), spec.input_width,
      spec.input_height, spec.score_threshold, spec.iou_threshold, a.max_batch, a.max_delay_ms,
      !a.all);

  const auto start = std::chrono::steady_clock::now();
  const InferPassSummary s = run_infer_pass(db, options);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  if (a.json) {
    out.add("seconds", seconds).add("max_batch", a.max_batch).add("infer", infer_json(s, spec.name));
  } else {
    fmt::print("{:.1f} images/s over {:.2f} s (max batch {})\n",
               seconds > 0 ? s.files / seconds : 0.0, seconds, a.max_batch);
    print_infer_summary(s, spec.name);
  }

  if (!a.crops.empty() && !s.stopped && a.task == ModelTask::kDetect) {
    CropOptions crop;
    crop.dir = a.crops;
    crop.model = spec.name;
    crop.margin = a.crop_margin;
    crop.min_size = a.crop_min_size;
    crop.format = a.crop_format;
    crop.keepers_only = !a.all;
    crop.threads = threads;
    crop.stop = &stop_requested();
    const CropPassSummary c = run_crop_pass(db, crop);
    if (a.json) {
      out.add("crops", crop_json(c, a.crops));
    } else {
      print_crop_summary(c, a.crops);
    }
  }
  if (a.json) {
    fmt::print("{}\n", out.str());
  } else {
    fmt::print("manifest: {}\n", db);
    if (!a.trace.empty()) fmt::print("trace: {}\n", a.trace);
  }
  std::fflush(stdout);
  if (s.stopped || stop_requested().load()) {
    return interrupted_exit("finished the images in flight; rerun the same command to resume");
  }
  return s.failed > 0 ? 1 : 0;
}

void add_infer_command(CLI::App& app, int* exit_code, ModelTask task) {
  auto args = std::make_shared<DetectArgs>();
  args->task = task;
  const bool detect = task == ModelTask::kDetect;
  CLI::App* cmd = app.add_subcommand(
      detect ? "detect" : "classify",
      detect ? "run a detector on the keepers of a manifest (or on folders, scanned first); boxes go to the manifest, crops to a folder"
             : "run a classifier on the keepers of a manifest (or on folders, scanned first); the top classes go to the manifest");
  cmd->footer("Models:\n" + models_help());
  cmd->add_option("inputs", args->inputs, "folders or files to scan first, or one manifest (.db)");
  cmd->add_option("--list", args->list, "file with one path per line ('-' = stdin)");
  cmd->add_flag("-0,--null", args->null_delimited, "--list records end with NUL");
  cmd->add_option("--db", args->db, "the manifest (created by the scan when inputs are folders)");
  cmd->add_option("-m,--model", args->model, "a built-in model name or a .onnx / .pt / .torchscript file (list below)")->required();
  cmd->add_option("--task", args->task_name, std::string("what a user network answers (default: ") + (detect ? "detect" : "classify") + ")")->check(CLI::IsMember({"detect", "classify"}));
  cmd->add_option("--format", args->format, "how a user model's output is read: yolov5, yolov8 (yolo11), blazeface, raw");
  cmd->add_option("--labels", args->labels, "text file of class names, one per line");
  cmd->add_option("--input", args->input, "a user model's square input size in pixels (default 640; classify 224)")->check(CLI::Range(8, 8192));
  cmd->add_option("--score", args->score, "keep predictions scoring above this (default: the model's)")->check(CLI::Range(0.0, 1.0));
  if (detect) {
    cmd->add_option("--iou", args->iou, "NMS: boxes overlapping more than this are suppressed")->check(CLI::Range(0.0, 1.0));
    cmd->add_option("--max-det", args->max_det, "at most this many detections per image")->check(CLI::Range(1, 100000));
  } else {
    cmd->add_option("--top-k", args->top_k, "classes kept per image (default 5)")->check(CLI::Range(1, 1000));
  }
  cmd->add_option("--max-batch", args->max_batch, "images per model call (the batcher); 0 = the device's infer batch (`vpipe devices`)")->capture_default_str()->check(CLI::Range(0, 4096));
  cmd->add_option("--max-delay-ms", args->max_delay_ms, "a batch leaves when its oldest image has waited this long")->capture_default_str()->check(CLI::Range(0.0, 60000.0));
  cmd->add_option("--threads", args->threads, "read/decode/pre- and post-process workers (default: all cores; on a GPU the infer pass keeps one for feeding it)")->check(CLI::Range(1, 1024));
  cmd->add_option("--precision", args->precision, "TorchScript on a GPU: fp16 or bf16 (autocast) or fp32; auto = fp16 on a GPU, fp32 on the CPU")->capture_default_str()->check(CLI::IsMember({"auto", "fp32", "fp16", "bf16"}));
  cmd->add_flag("--cuda-graphs", args->cuda_graphs, "TorchScript on a GPU: replay a captured CUDA graph per input shape");
  cmd->add_option("--infer-workers", args->infer_workers, "model instances running batches side by side")->capture_default_str()->check(CLI::Range(1, 64));
  cmd->add_flag("--all", args->all, "every decodable file, not only the dedup pass's keepers");
  cmd->add_flag("--force", args->force, "infer again files this model has already done");
  if (detect) {
    cmd->add_option("--crops", args->crops, "write a crop of every detection under this folder (<model>/<label>/...)");
    cmd->add_option("--crop-margin", args->crop_margin, "grow each box by this fraction of its size on every side")->capture_default_str()->check(CLI::Range(0.0, 10.0));
    cmd->add_option("--crop-min-size", args->crop_min_size, "skip boxes narrower or shorter than this many pixels")->capture_default_str()->check(CLI::Range(1, 1 << 20));
    cmd->add_option("--crop-format", args->crop_format, "jpeg or png")->capture_default_str()->check(CLI::IsMember({"jpeg", "png"}));
  }
  cmd->add_flag("--progress", args->progress, "live progress on stderr: images/s, ETA, bottleneck");
  cmd->add_flag("--json", args->json, "print the summary as one JSON object on stdout, no text (docs/CLI.md)");
  cmd->add_option("--trace", args->trace, "write a Chrome/Perfetto trace of the run to this file");
  cmd->add_option("--device", args->device, "auto, cpu, cuda or cuda:N")->capture_default_str();
  cmd->callback([args, exit_code] { *exit_code = run(*args); });
}

}  // namespace

void add_detect_command(CLI::App& app, int* exit_code) {
  add_infer_command(app, exit_code, ModelTask::kDetect);
}

void add_classify_command(CLI::App& app, int* exit_code) {
  add_infer_command(app, exit_code, ModelTask::kClassify);
}

}  // namespace vpipe::cli
