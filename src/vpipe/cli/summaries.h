#pragma once

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

}  // namespace vpipe::cli
