#include "vpipe/pipeline/run.h"

#include <chrono>
#include <filesystem>
#include <optional>

#include "vpipe/core/error.h"
#include "vpipe/core/log.h"
#include "vpipe/device/devices.h"
#include "vpipe/io/manifest.h"
#include "vpipe/report/html_report.h"

namespace vpipe {
namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

bool stop_requested(const PipelineRunOptions& options) {
  return options.stop != nullptr && options.stop->load(std::memory_order_relaxed);
}

PipelineRunSummary stopped(PipelineRunSummary summary) {
  summary.stopped = true;
  return summary;
}

/// What every step of a run shares: the device chosen, its defaults and the worker counts.
struct RunContext {
  DeviceInventory inventory;
  DeviceRequest request;  ///< `device:` of the config, parsed
  Device device;          ///< select_device(inventory, request)
  DeviceDefaults defaults;
  std::string config_json;
  int threads = 1;        ///< scan, dedup, crop and report workers
  int infer_threads = 1;  ///< decode workers beside the infer pass (all but one beside a GPU)
};

RunContext run_context(const PipelineConfig& config) {
  RunContext c;
  c.inventory = probe_devices();
  c.request = parse_device_request(config.device, "device");
  c.device = select_device(c.inventory, c.request);
  c.defaults =
      device_defaults(c.inventory, c.device,
                      uint64_t{static_cast<uint32_t>(config.devices.memory_budget_mib)} << 20);
  c.config_json = pipeline_config_json(config);
  c.threads = config.scan.threads > 0 ? config.scan.threads : c.inventory.cpu.logical_cores;
  c.infer_threads = config.scan.threads > 0 ? config.scan.threads : c.defaults.decode_workers;
  if (c.device.is_cpu()) {
    log().info("run: on the CPU ({} workers)", c.threads);
  } else {
    log().info("run: on {} ({}), {} decode workers beside it, GPU memory budget {} MiB",
               c.device.str(), c.inventory.cuda[static_cast<size_t>(c.device.index)].name,
               c.infer_threads, c.defaults.memory_budget_bytes >> 20);
  }
  return c;
}

/// The scan's settings, shared by the crawl's scan of its downloads and the scan of inputs.
ScanOptions scan_options(const PipelineConfig& config, const PipelineRunOptions& options,
                         const RunContext& c) {
  ScanOptions scan;
  scan.db = config.manifest;
  scan.threads = c.threads;
  scan.force = config.scan.force;
  scan.decode.lenient = config.scan.lenient_decode;
  scan.decode.max_pixels = static_cast<uint64_t>(config.scan.max_megapixels * 1e6);
  scan.max_file_bytes = static_cast<uint64_t>(config.scan.max_file_mib * 1024 * 1024);
  // Orientation- and crop-invariant dedup need the extra hashes, whatever scan.orientations says.
  scan.orientation_hashes =
      config.scan.orientations || config.dedup.orientations || config.dedup.crops;
  scan.manifest_batch = config.scan.manifest_batch;
  scan.manifest_max_delay_ms = config.scan.manifest_max_delay_ms;
  scan.progress = options.progress;
  scan.trace_path = options.trace_path;
  scan.stop = options.stop;
  scan.device = c.device;
  scan.config_json = c.config_json;
  scan.roots = config.inputs;
  scan.path_list = config.input_list;
  scan.list_delimiter = config.null_delimited ? '\0' : '\n';
  return scan;
}

DedupPassOptions dedup_options(const PipelineConfig& config, const RunContext& c) {
  DedupPassOptions dedup;
  dedup.dedup = config.dedup;
  if (dedup.dedup.threads == 0) dedup.dedup.threads = c.threads;
  dedup.quality = config.quality;
  dedup.device = c.device;
  dedup.gpu_join_min_hashes = static_cast<size_t>(config.devices.gpu_dedup_min_images);
  dedup.config_json = c.config_json;
  dedup.scratch_dir = std::filesystem::absolute(config.manifest).parent_path();
  return dedup;
}

ActionOptions action_options(const PipelineConfig& config, const PipelineRunOptions& options) {
  ActionOptions actions;
  actions.copy_keepers = config.actions.copy_keepers;
  actions.link_keepers = config.actions.link_keepers;
  actions.move_rejects = config.actions.move_rejects;
  actions.move_duplicates = config.actions.move_duplicates;
  actions.stop = options.stop;
  return actions;
}

bool has_actions(const ActionsConfig& ac) {
  return !ac.copy_keepers.empty() || !ac.link_keepers.empty() || !ac.move_rejects.empty() ||
         !ac.move_duplicates.empty();
}

/// The infer pass's settings; resolves the model (a file named relative to the YAML file too).
InferPassOptions infer_options(const PipelineConfig& config, const PipelineRunOptions& options,
                               const RunContext& c) {
  const InferConfig& ic = config.infer;
  ModelRequest request;
  request.model = ic.model;
  if (!config.source.empty() && !std::filesystem::exists(ic.model) &&
      std::filesystem::path(ic.model).is_relative() && ic.model.find(':') == std::string::npos) {
    const auto beside = std::filesystem::path(config.source).parent_path() / ic.model;
    if (std::filesystem::exists(beside)) request.model = beside.string();
  }
  request.task = parse_model_task(ic.task);
  if (!ic.format.empty()) request.format = parse_output_format(ic.format);
  request.labels = ic.labels;
  request.input = ic.input;
  if (ic.score_threshold >= 0) request.score_threshold = static_cast<float>(ic.score_threshold);
  if (ic.iou_threshold >= 0) request.iou_threshold = static_cast<float>(ic.iou_threshold);
  InferPassOptions infer;
  infer.model = resolve_model(request);
  infer.backend.device = c.device;
  infer.backend.precision = resolve_precision(ic.precision, c.device);
  infer.backend.cuda_graphs = ic.cuda_graphs;
  infer.cpu_fallback = c.request.kind == DeviceRequest::Kind::kAuto;
  infer.threads = c.infer_threads;
  infer.infer_workers = ic.workers;
  infer.worker_devices = worker_devices(c.inventory, c.request, ic.workers);
  infer.batch.max_batch =
      static_cast<size_t>(ic.max_batch > 0 ? ic.max_batch : c.defaults.infer_batch);
  infer.batch.max_delay = std::chrono::microseconds(static_cast<int64_t>(ic.max_delay_ms * 1000));
  infer.keepers_only = ic.keepers_only;
  infer.force = ic.force;
  infer.progress = options.progress;
  infer.stop = options.stop;
  infer.command = "run";
  infer.device = c.device;
  infer.config_json = c.config_json;
  return infer;
}

CropOptions crop_options(const PipelineConfig& config, const PipelineRunOptions& options,
                         const RunContext& c, const std::string& model) {
  const InferConfig& ic = config.infer;
  CropOptions crops;
  crops.dir = ic.crops;
  crops.model = model;
  crops.margin = static_cast<float>(ic.crop_margin);
  crops.min_size = ic.crop_min_size;
  crops.format = ic.crop_format;
  crops.keepers_only = ic.keepers_only;
  crops.threads = c.threads;
  crops.stop = options.stop;
  return crops;
}

ReportOptions report_options(const PipelineConfig& config, const RunContext& c) {
  ReportOptions report;
  report.out_dir = config.report.out;
  report.page_size = config.report.page_size;
  report.thumbnail_size = config.report.thumbnail_size;
  report.threads = c.threads;
  report.title = "vpipe report: " + std::filesystem::path(config.manifest).filename().string();
  return report;
}

/// Runs one step of the pipeline and records its wall time under `name`.
template <typename Step>
auto timed(PipelineRunSummary& summary, const char* name, Step&& step) {
  const auto start = Clock::now();
  auto result = step();
  summary.pass_seconds.emplace_back(name, seconds_since(start));
  return result;
}

}  // namespace

CrawlPassOptions crawl_pass_options(const IngestConfig& ingest) {
  CrawlPassOptions o;
  o.lists = ingest.urls;
  o.list.url_field = ingest.url_field;
  o.list.header = ingest.header;
  o.retry_failed = ingest.retry_failed;
  FetchOptions& f = o.fetch;
  f.out_dir = ingest.out;
  f.user_agent = ingest.user_agent;
  f.max_connections = ingest.connections;
  f.max_connections_per_host = ingest.connections_per_host;
  f.requests_per_second_per_host = ingest.requests_per_second_per_host;
  f.max_attempts = ingest.attempts;
  const auto ms = [](double seconds) {
    return std::chrono::milliseconds(static_cast<int64_t>(seconds * 1000 + 0.5));
  };
  f.connect_timeout = ms(ingest.connect_timeout_s);
  f.total_timeout = ms(ingest.timeout_s);
  f.max_body_bytes = static_cast<uint64_t>(ingest.max_file_mib * 1024 * 1024);
  f.max_redirects = ingest.max_redirects;
  f.respect_robots = ingest.robots;
  f.deny_private_addresses = ingest.deny_private_addresses;
  return o;
}

PipelineRunSummary run_pipeline(const PipelineConfig& config, const PipelineRunOptions& options) {
  PipelineRunSummary summary;
  const RunContext c = run_context(config);
  summary.device = c.device;
  // A report folder that would overwrite someone's files fails now, not after every pass.
  if (!config.report.out.empty()) check_report_dir(config.report.out, false);
  const ScanOptions scan = scan_options(config, options, c);

  // 0. Crawl (resumes: URLs done or failed are not fetched again); downloads are scanned as
  // they land.
  if (!config.ingest.urls.empty()) {
    CrawlPassOptions crawl = crawl_pass_options(config.ingest);
    crawl.fetch.resolve = options.resolve;
    crawl.scan = scan;
    crawl.scan.roots.clear();
    crawl.scan.path_list.clear();
    summary.crawl = timed(summary, "crawl", [&] { return run_crawl_pass(crawl); });
    summary.crawled = true;
    if (summary.crawl.stopped) return stopped(std::move(summary));
  }

  // 1. Scan (resumes: unchanged files are skipped).
  if (!config.inputs.empty() || !config.input_list.empty()) {
    summary.scan = timed(summary, "scan", [&] { return run_scan(scan); });
    summary.scanned = true;
    if (summary.scan.stopped) return stopped(std::move(summary));
  } else if (!summary.crawled && !std::filesystem::exists(config.manifest)) {
    throw ConfigError(config.source + ": no `inputs` or `input_list` to scan, and the manifest '" +
                      config.manifest + "' does not exist yet");
  } else if (!summary.crawled) {
    log().info("run: no inputs in the config; using the files already in '{}'", config.manifest);
  }

  // Actions act on the files of this pass's decisions: no other action run may act on this
  // manifest from here to the end of the actions.
  std::optional<FileLock> action_lock;
  if (has_actions(config.actions)) {
    action_lock.emplace(lock_actions(config.manifest, options.wait_for_lock, options.stop));
    if (!action_lock->held()) return stopped(std::move(summary));
  }
  Manifest manifest(config.manifest);
  // 2. Groups and verdicts (one transaction: a crash keeps the previous results whole).
  const DedupPassOptions dedup = dedup_options(config, c);
  summary.dedup = timed(summary, "dedup", [&] { return run_dedup_pass(manifest, dedup); });
  summary.deduplicated = true;
  if (stop_requested(options)) return stopped(std::move(summary));

  // 3. Actions (journaled; a rerun skips what is done).
  const ActionOptions actions = action_options(config, options);
  summary.actions = timed(summary, "actions", [&] { return run_actions(manifest, actions); });
  action_lock.reset();
  if (summary.actions.stopped) return stopped(std::move(summary));

  // 4. Inference on the keepers (resumes: files this model has done are skipped), then crops.
  if (!config.infer.model.empty()) {
    const InferPassOptions infer = infer_options(config, options, c);
    summary.infer = timed(summary, "infer", [&] { return run_infer_pass(config.manifest, infer); });
    summary.inferred = true;
    if (summary.infer.stopped) return stopped(std::move(summary));
    if (!config.infer.crops.empty() && infer.model.task == ModelTask::kDetect) {
      const CropOptions crops = crop_options(config, options, c, infer.model.name);
      summary.crops =
          timed(summary, "crops", [&] { return run_crop_pass(config.manifest, crops); });
      summary.cropped = true;
      if (summary.crops.stopped) return stopped(std::move(summary));
    }
  }

  // 5. Report.
  if (!config.report.out.empty()) {
    const ReportOptions report = report_options(config, c);
    summary.report = timed(summary, "report", [&] { return write_report(manifest, report); });
    summary.reported = true;
  }
  return summary;
}

}  // namespace vpipe
