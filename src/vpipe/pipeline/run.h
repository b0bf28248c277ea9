#pragma once

#include <atomic>
#include <ostream>
#include <string>
#include <utility>
#include <vector>

#include "vpipe/curate/actions.h"
#include "vpipe/curate/crawl_pass.h"
#include "vpipe/curate/dedup_pass.h"
#include "vpipe/curate/infer_pass.h"
#include "vpipe/pipeline/config.h"
#include "vpipe/report/html_report.h"
#include "vpipe/scan/scan.h"

namespace vpipe {

/// How `run_pipeline` talks to its caller.
struct PipelineRunOptions {
  std::ostream* progress = nullptr;         ///< live scan progress (stderr in the CLI)
  const std::atomic<bool>* stop = nullptr;  ///< SIGINT/SIGTERM
  std::string trace_path;                   ///< Chrome trace of the scan; empty = none
  /// "host:port:address" pins for the crawl (curl's --resolve; tests map names to 127.0.0.1).
  std::vector<std::string> resolve;
  /// With actions configured, another action run on the manifest is waited for; false: the run
  /// fails with LockBusy instead (`--no-wait`).
  bool wait_for_lock = true;
};

/// What each pass of a pipeline run did.
struct PipelineRunSummary {
  Device device;  ///< where the run ran
  bool crawled = false;  ///< the config names URL lists (ingest.urls)
  CrawlPassSummary crawl;
  bool scanned = false;  ///< false when the config names no inputs (the manifest is used as is)
  ScanSummary scan;
  bool deduplicated = false;
  DedupPassSummary dedup;
  ActionSummary actions;
  bool inferred = false;  ///< the config names a model (infer.model)
  InferPassSummary infer;
  bool cropped = false;
  CropPassSummary crops;
  bool reported = false;
  ReportSummary report;
  bool stopped = false;  ///< interrupted: rerun the same command to resume
  /// Wall time of each pass that ran, seconds, in order: "crawl", "scan", "dedup", "actions", "infer",
  /// "crops", "report".
  std::vector<std::pair<std::string, double>> pass_seconds;
};

/// The crawl options an `ingest:` section stands for (lists, fetch limits, retry_failed); the
/// caller fills `scan` and, for tests, fetch.resolve.
[[nodiscard]] CrawlPassOptions crawl_pass_options(const IngestConfig& ingest);

/// The whole configured pipeline (docs/CONFIG.md): crawl the URL lists, scan the inputs into the manifest (resuming
/// what an earlier run did), the dedup pass (groups, keepers, quality verdicts), the actions,
/// the infer pass (a model over the keepers, and crops of its detections), and the report.
/// Each pass is resumable or atomic, so after a crash or Ctrl-C the same call
/// finishes the work: the scan skips files already scanned, the dedup pass replaces its results
/// in one transaction, actions skip what is done and repair what a crash left half done, the
/// infer pass skips files the model has done, crops that exist and match are kept.
/// Throws vpipe::Error for what ends the run.
PipelineRunSummary run_pipeline(const PipelineConfig& config, const PipelineRunOptions& options);

}  // namespace vpipe
