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
  const DeviceInventory inventory = probe_devices();
  summary.device = select_device(inventory, config.device);
  const DeviceDefaults defaults = device_defaults(
      inventory, summary.device, uint64_t{static_cast<uint32_t>(config.devices.memory_budget_mib)} << 20);
  const std::string config_json = pipeline_config_json(config);
  const int threads = config.scan.threads > 0 ? config.scan.threads : inventory.cpu.logical_cores;
  const int infer_threads = config.scan.threads > 0 ? config.scan.threads : defaults.decode_workers;
  if (summary.device == "cpu") {
    log().info("run: on the CPU ({} workers)", threads);
  } else {
    log().info("run: on {} ({}), {} decode workers beside it, GPU memory budget {} MiB",
               summary.device,
               inventory.cuda[static_cast<size_t>(std::stoi(summary.device.substr(5)))].name,
               infer_threads, defaults.memory_budget_bytes >> 20);
  }

  // A report folder that would overwrite someone's files fails now, not after every pass.
  if (!config.report.out.empty()) check_report_dir(config.report.out, false);

  // The scan's settings, shared by the crawl's scan of its downloads and the scan of inputs.
  ScanOptions scan;
  scan.db = config.manifest;
  scan.threads = threads;
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
  scan.device = summary.device;
  scan.config_json = config_json;

  // 0. Crawl (resumes: URLs done or failed are not fetched again); downloads are scanned as
  // they land.
  if (!config.ingest.urls.empty()) {
    CrawlPassOptions crawl = crawl_pass_options(config.ingest);
    crawl.fetch.resolve = options.resolve;
    crawl.scan = scan;
    const auto start = Clock::now();
    summary.crawl = run_crawl_pass(crawl);
    summary.crawled = true;
    summary.pass_seconds.emplace_back("crawl", seconds_since(start));
    if (summary.crawl.stopped) {
      summary.stopped = true;
      return summary;
    }
  }

  // 1. Scan (resumes: unchanged files are skipped).
  if (!config.inputs.empty() || !config.input_list.empty()) {
    scan.roots = config.inputs;
    scan.path_list = config.input_list;
    scan.list_delimiter = config.null_delimited ? '\0' : '\n';
    const auto start = Clock::now();
    summary.scan = run_scan(scan);
    summary.scanned = true;
    summary.pass_seconds.emplace_back("scan", seconds_since(start));
    if (summary.scan.stopped) {
      summary.stopped = true;
      return summary;
    }
  } else if (!summary.crawled && !std::filesystem::exists(config.manifest)) {
    throw ConfigError(config.source + ": no `inputs` or `input_list` to scan, and the manifest '" +
                      config.manifest + "' does not exist yet");
  } else if (!summary.crawled) {
    log().info("run: no inputs in the config; using the files already in '{}'", config.manifest);
  }

  // Actions act on the files of this pass's decisions: no other action run may act on this
  // manifest from here to the end of the actions.
  const ActionsConfig& ac = config.actions;
  std::optional<FileLock> action_lock;
  if (!ac.copy_keepers.empty() || !ac.link_keepers.empty() || !ac.move_rejects.empty() ||
      !ac.move_duplicates.empty()) {
    action_lock.emplace(lock_actions(config.manifest, options.wait_for_lock, options.stop));
    if (!action_lock->held()) {
      summary.stopped = true;
      return summary;
    }
  }
  Manifest manifest(config.manifest);
  // 2. Groups and verdicts (one transaction: a crash keeps the previous results whole).
  DedupPassOptions dedup;
  dedup.dedup = config.dedup;
  if (dedup.dedup.threads == 0) dedup.dedup.threads = threads;
  dedup.quality = config.quality;
  dedup.device = summary.device;
  dedup.gpu_join_min_hashes = static_cast<size_t>(config.devices.gpu_dedup_min_images);
  dedup.config_json = config_json;
  dedup.scratch_dir = std::filesystem::absolute(config.manifest).parent_path();
  auto start = Clock::now();
  summary.dedup = run_dedup_pass(manifest, dedup);
  summary.deduplicated = true;
  summary.pass_seconds.emplace_back("dedup", seconds_since(start));
  if (stop_requested(options)) {
    summary.stopped = true;
    return summary;
  }

  // 3. Actions (journaled; a rerun skips what is done).
  ActionOptions actions;
  actions.copy_keepers = config.actions.copy_keepers;
  actions.link_keepers = config.actions.link_keepers;
  actions.move_rejects = config.actions.move_rejects;
  actions.move_duplicates = config.actions.move_duplicates;
  actions.stop = options.stop;
  start = Clock::now();
  summary.actions = run_actions(manifest, actions);
  summary.pass_seconds.emplace_back("actions", seconds_since(start));
  action_lock.reset();
  if (summary.actions.stopped) {
    summary.stopped = true;
    return summary;
  }

  // 4. Inference on the keepers (resumes: files this model has done are skipped), then crops.
  if (!config.infer.model.empty()) {
    const InferConfig& ic = config.infer;
    ModelRequest request;
    request.model = ic.model;
    // A model file named relative to the YAML file.
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
    infer.backend.device = summary.device;
    infer.backend.precision = resolve_precision(ic.precision, summary.device);
    infer.backend.cuda_graphs = ic.cuda_graphs;
    infer.cpu_fallback = config.device == "auto";
    infer.threads = infer_threads;
    infer.infer_workers = ic.workers;
    infer.worker_devices = worker_devices(inventory, config.device, ic.workers);
    infer.batch.max_batch = static_cast<size_t>(ic.max_batch > 0 ? ic.max_batch : defaults.infer_batch);
    infer.batch.max_delay =
        std::chrono::microseconds(static_cast<int64_t>(ic.max_delay_ms * 1000));
    infer.keepers_only = ic.keepers_only;
    infer.force = ic.force;
    infer.progress = options.progress;
    infer.stop = options.stop;
    infer.command = "run";
    infer.device = summary.device;
    infer.config_json = config_json;
    start = Clock::now();
    summary.infer = run_infer_pass(config.manifest, infer);
    summary.inferred = true;
    summary.pass_seconds.emplace_back("infer", seconds_since(start));
    if (summary.infer.stopped) {
      summary.stopped = true;
      return summary;
    }
    if (!ic.crops.empty() && infer.model.task == ModelTask::kDetect) {
      CropOptions crops;
      crops.dir = ic.crops;
      crops.model = infer.model.name;
      crops.margin = static_cast<float>(ic.crop_margin);
      crops.min_size = ic.crop_min_size;
      crops.format = ic.crop_format;
      crops.keepers_only = ic.keepers_only;
      crops.threads = threads;
      crops.stop = options.stop;
      start = Clock::now();
      summary.crops = run_crop_pass(config.manifest, crops);
      summary.cropped = true;
      summary.pass_seconds.emplace_back("crops", seconds_since(start));
      if (summary.crops.stopped) {
        summary.stopped = true;
        return summary;
      }
    }
  }

  // 5. Report.
  if (!config.report.out.empty()) {
    ReportOptions report;
    report.out_dir = config.report.out;
    report.page_size = config.report.page_size;
    report.thumbnail_size = config.report.thumbnail_size;
    report.threads = threads;
    report.title = "vpipe report: " + std::filesystem::path(config.manifest).filename().string();
    start = Clock::now();
    summary.report = write_report(manifest, report);
    summary.reported = true;
    summary.pass_seconds.emplace_back("report", seconds_since(start));
  }
  return summary;
}

}  // namespace vpipe
