#pragma once

#include <filesystem>
#include <string>

#include "vpipe/core/json.h"
#include "vpipe/curate/actions.h"
#include "vpipe/curate/crawl_pass.h"
#include "vpipe/curate/dedup_pass.h"
#include "vpipe/curate/infer_pass.h"

namespace vpipe::cli {

/// Prints what a crawl pass did (stdout): URLs fetched and failed by reason, bytes, per-host
/// throughput, the scan of the downloads.
void print_crawl_summary(const CrawlPassSummary& s);
/// Prints what a dedup pass decided (stdout): groups, decisions, reasons, what decided the
/// keepers, timings.
void print_dedup_summary(const DedupPassSummary& s);
/// Prints each group's keeper and why it won (stdout), one line per group: `vpipe dedup --explain`.
void print_keeper_reasons(const DedupPassSummary& s);
/// Prints what the actions did (stdout); nothing when they did nothing.
void print_action_summary(const ActionSummary& s);
/// Prints what an infer pass did (stdout): files, predictions per label, stage timings.
void print_infer_summary(const InferPassSummary& s, std::string_view model);
/// Prints what a crop pass did (stdout).
void print_crop_summary(const CropPassSummary& s, const std::string& dir);

// The same summaries as JSON objects, for `--json` (docs/CLI.md, "Machine-readable output"):
// each pass's object has one shape wherever it appears (alone, or inside `vpipe run`'s).

/// A path as --json prints it: absolute and normalised (the text output prints it relative to
/// the current directory); "" stays "".
[[nodiscard]] std::string json_path(const std::filesystem::path& path);

/// {"scanned", "unchanged", "removed", "ignored", "walk_errors", "statuses": {status: files},
/// "stopped", "stages": RunReport::json()}
[[nodiscard]] JsonObject scan_json(const ScanSummary& s);
/// {"listed", "duplicates", "new_urls", "known", "to_fetch", "fetched", "failed", "unfinished",
/// "failures": {reason: URLs}, "bytes", "requests", "retries", "robots_fetches", "seconds",
/// "hosts": [{"host", "urls", "done", "failed", "bytes", "seconds"}] (the 20 with most bytes),
/// "stopped", "scan": scan_json}
[[nodiscard]] JsonObject crawl_json(const CrawlPassSummary& s);
/// {"files", "groups", "exact_groups", "near_groups", "near_pairs", "decisions": {decision:
/// files}, "reasons": {rule: files}, "informational": {rule: files}, "keepers_decided_by":
/// {step: groups}, "exact_unconfirmed", "chain_splits", "join_device", "stages"}
[[nodiscard]] JsonObject dedup_json(const DedupPassSummary& s);
/// [{"group", "keeper", "why"}]: `vpipe dedup --explain --json`, one per group.
[[nodiscard]] std::string keeper_reasons_json(const DedupPassSummary& s);
/// {"copied", "hardlinked", "symlinked", "moved", "already_done", "recovered", "changed",
/// "failed", "stopped"}
[[nodiscard]] JsonObject action_json(const ActionSummary& s);
/// {"model", "runtime", "files", "ok", "failed", "unchanged", "predictions", "labels": {label:
/// predictions}, "oom_halvings", "batch_limit", "stopped", "stages"}
[[nodiscard]] JsonObject infer_json(const InferPassSummary& s, std::string_view model);
/// {"written", "unchanged", "skipped", "failed", "dir", "stopped"}
[[nodiscard]] JsonObject crop_json(const CropPassSummary& s, const std::string& dir);

}  // namespace vpipe::cli
