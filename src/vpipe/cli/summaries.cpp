#include "vpipe/cli/summaries.h"
#include "vpipe/io/paths.h"

#include <fmt/format.h>

namespace vpipe::cli {

void print_crawl_summary(const CrawlPassSummary& s) {
  fmt::print("crawl: {} URLs listed ({} repeated in the lists), {} new to the manifest, {} to "
             "fetch\n",
             s.listed, s.duplicates, s.new_urls, s.to_fetch);
  fmt::print("  {:<14}{:>10}   ({:.1f} MiB in {:.2f} s, {:.0f} URLs/s)\n", "fetched", s.fetched,
             static_cast<double>(s.bytes) / (1 << 20), s.seconds,
             s.seconds > 0 ? static_cast<double>(s.fetched + s.failed) / s.seconds : 0.0);
  fmt::print("  {:<14}{:>10}\n", "failed", s.failed);
  for (const auto& [reason, n] : s.failures) fmt::print("    {:<20}{:>8}\n", reason, n);
  if (s.unfinished > 0) fmt::print("  {:<14}{:>10}   (still pending)\n", "unfinished", s.unfinished);
  fmt::print("  requests {} ({} retries, {} robots.txt)\n", s.fetch.requests, s.fetch.retries,
             s.fetch.robots_fetches);
  if (!s.hosts.empty()) {
    fmt::print("  {:<32}{:>8}{:>8}{:>8}{:>12}{:>12}\n", "host", "urls", "done", "failed", "MiB",
               "MiB/s");
    size_t shown = 0;
    for (const CrawlHostRecord& h : s.hosts) {
      if (++shown > 20) {
        fmt::print("  ... and {} more hosts (the manifest's crawl_hosts table has them all)\n",
                   s.hosts.size() - 20);
        break;
      }
      const double mib = static_cast<double>(h.bytes) / (1 << 20);
      fmt::print("  {:<32}{:>8}{:>8}{:>8}{:>12.2f}{:>12.2f}\n", h.host, h.urls, h.done, h.failed,
                 mib, h.seconds > 0 ? mib / h.seconds : 0.0);
    }
  }
  fmt::print("scan of the downloads: {} files\n", s.scan.scanned);
  for (const auto& [status, n] : s.scan.status_counts) fmt::print("  {:<12}{:>10}\n", status, n);
  fmt::print("\n{}\n", s.scan.engine.format_table());
}

void print_dedup_summary(const DedupPassSummary& s) {
  const auto count = [](const std::map<std::string, int64_t>& m, const char* key) {
    const auto it = m.find(key);
    return it == m.end() ? int64_t{0} : it->second;
  };
  fmt::print("dedup: {} files, {} groups ({} exact, {} near or mixed), {} near pairs\n", s.files,
             s.groups, s.exact_groups, s.near_groups, s.near_pairs);
  fmt::print("  {:<12}{:>10}\n", "keep", count(s.decisions, "keep"));
  fmt::print("  {:<12}{:>10}   (in a group, not its keeper)\n", "duplicate",
             count(s.decisions, "duplicate"));
  fmt::print("  {:<12}{:>10}   (failed a quality rule)\n", "reject", count(s.decisions, "reject"));
  for (const auto& [rule, n] : s.reasons) fmt::print("    {:<18}{:>8}\n", rule, n);
  for (const auto& [rule, n] : s.informational) {
    fmt::print("  {:<12}{:>10}   (informational, not rejected: quality.{}.enabled rejects them)\n",
               rule, n, rule);
  }
  if (s.exact_unconfirmed > 0) {
    fmt::print("  {} files share a content hash with another but not its bytes (see log)\n",
               s.exact_unconfirmed);
  }
  if (s.chain_splits > 0) {
    fmt::print("  chain guard: {} files were not near their group's keeper and were regrouped\n",
               s.chain_splits);
  }
  if (!s.keepers_decided_by.empty()) {
    // In the order of the keeper policy's steps, not alphabetically.
    std::string line;
    for (const char* step : {"usable", "pixels", "least_degraded", "quality", "oldest",
                             "shortest_path", "path_order", "candidate_group"}) {
      const int64_t n = count(s.keepers_decided_by, step);
      if (n > 0) line += fmt::format("{}{} {}", line.empty() ? "" : ", ", step, n);
    }
    fmt::print("  keepers decided by: {}\n", line);
  }
  fmt::print("  near-pair search on {}\n", s.join_device);
  // Where a slow group step went: the searches, or the components settled one by one (past the
  // pair budget, each large component is searched again while it settles).
  if (s.search_seconds + s.settle_seconds >= 5) {
    fmt::print("  group step: search {:.1f} s, components {:.1f} s (the largest {} files{})\n",
               s.search_seconds, s.settle_seconds, s.largest_component,
               s.pairs_kept ? "" : "; more pairs than the budget, large components searched again");
  }
  fmt::print("\n{}\n", s.timings.format_table());
}

void print_keeper_reasons(const DedupPassSummary& s) {
  for (size_t g = 0; g < s.keeper_reasons.size(); ++g) {
    const auto& [path, why] = s.keeper_reasons[g];
    fmt::print("group {}: keeps {}: {}\n", g + 1, path, why);
  }
}

void print_action_summary(const ActionSummary& s) {
  if (s.copied + s.hardlinked + s.symlinked + s.moved + s.already_done + s.recovered +
          s.changed + s.failed ==
      0) {
    return;
  }
  fmt::print("actions: {} copied, {} hard-linked, {} symlinked, {} moved, {} already done", s.copied,
             s.hardlinked, s.symlinked, s.moved, s.already_done);
  if (s.recovered > 0) fmt::print(", {} finished after an interrupted run", s.recovered);
  if (s.changed > 0) fmt::print(", {} left alone: changed since the scan (see log)", s.changed);
  if (s.failed > 0) fmt::print(", {} FAILED (see log)", s.failed);
  fmt::print("\n");
}

void print_infer_summary(const InferPassSummary& s, std::string_view model) {
  fmt::print("infer: {} on {} images ({} ok, {} failed, {} unchanged) with {}\n", model, s.files,
             s.ok, s.failed, s.unchanged, s.runtime);
  if (s.oom_halvings > 0) {
    fmt::print("  out of device memory {} time(s): batches of at most {} (see log)\n",
               s.oom_halvings, s.batch_limit);
  }
  fmt::print("  {:<24}{:>10}\n", "predictions", s.predictions);
  for (const auto& [label, n] : s.labels) fmt::print("    {:<22}{:>10}\n", label, n);
  fmt::print("\n{}\n", s.engine.format_table());
}

void print_crop_summary(const CropPassSummary& s, const std::string& dir) {
  fmt::print("crops: {} written, {} unchanged, {} skipped (small or low score), {} failed -> {}\n",
             s.written, s.unchanged, s.skipped, s.failed, display_path(dir));
}

}  // namespace vpipe::cli
