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

std::string json_path(const std::filesystem::path& path) {
  if (path.empty()) return {};
  return std::filesystem::absolute(path).lexically_normal().native();
}

JsonObject scan_json(const ScanSummary& s) {
  JsonObject o;
  o.add("scanned", s.scanned).add("unchanged", s.unchanged).add("removed", s.removed);
  o.add("ignored", s.ignored).add("walk_errors", s.walk_errors);
  o.add("statuses", s.status_counts).add("stopped", s.stopped);
  return o.add_raw("stages", s.engine.json());
}

JsonObject crawl_json(const CrawlPassSummary& s) {
  JsonObject o;
  o.add("listed", s.listed).add("duplicates", s.duplicates).add("new_urls", s.new_urls);
  o.add("known", s.known).add("to_fetch", s.to_fetch).add("fetched", s.fetched);
  o.add("failed", s.failed).add("unfinished", s.unfinished).add("failures", s.failures);
  o.add("bytes", s.bytes).add("requests", s.fetch.requests).add("retries", s.fetch.retries);
  o.add("robots_fetches", s.fetch.robots_fetches).add("seconds", s.seconds);
  std::string hosts = "[";
  for (size_t i = 0; i < s.hosts.size() && i < 20; ++i) {
    const CrawlHostRecord& h = s.hosts[i];
    JsonObject host;
    host.add("host", h.host).add("urls", h.urls).add("done", h.done).add("failed", h.failed);
    host.add("bytes", h.bytes).add("seconds", h.seconds);
    if (i > 0) hosts += ',';
    hosts += host.str();
  }
  o.add_raw("hosts", hosts + "]").add("stopped", s.stopped);
  return o.add("scan", scan_json(s.scan));
}

JsonObject dedup_json(const DedupPassSummary& s) {
  JsonObject o;
  o.add("files", s.files).add("groups", s.groups).add("exact_groups", s.exact_groups);
  o.add("near_groups", s.near_groups).add("near_pairs", s.near_pairs);
  o.add("decisions", s.decisions).add("reasons", s.reasons);
  o.add("informational", s.informational).add("keepers_decided_by", s.keepers_decided_by);
  o.add("exact_unconfirmed", s.exact_unconfirmed).add("chain_splits", s.chain_splits);
  o.add("join_device", s.join_device);
  return o.add_raw("stages", s.timings.json());
}

std::string keeper_reasons_json(const DedupPassSummary& s) {
  std::string out = "[";
  for (size_t g = 0; g < s.keeper_reasons.size(); ++g) {
    const auto& [path, why] = s.keeper_reasons[g];
    JsonObject group;
    group.add("group", static_cast<uint64_t>(g + 1)).add("keeper", path).add("why", why);
    if (g > 0) out += ',';
    out += group.str();
  }
  return out + "]";
}

JsonObject action_json(const ActionSummary& s) {
  JsonObject o;
  o.add("copied", s.copied).add("hardlinked", s.hardlinked).add("symlinked", s.symlinked);
  o.add("moved", s.moved).add("already_done", s.already_done).add("recovered", s.recovered);
  o.add("changed", s.changed).add("failed", s.failed);
  return o.add("stopped", s.stopped);
}

JsonObject infer_json(const InferPassSummary& s, std::string_view model) {
  JsonObject o;
  o.add("model", model).add("runtime", s.runtime).add("files", s.files).add("ok", s.ok);
  o.add("failed", s.failed).add("unchanged", s.unchanged).add("predictions", s.predictions);
  o.add("labels", s.labels).add("oom_halvings", static_cast<uint64_t>(s.oom_halvings));
  o.add("batch_limit", static_cast<uint64_t>(s.batch_limit)).add("stopped", s.stopped);
  return o.add_raw("stages", s.engine.json());
}

JsonObject crop_json(const CropPassSummary& s, const std::string& dir) {
  JsonObject o;
  o.add("written", s.written).add("unchanged", s.unchanged).add("skipped", s.skipped);
  o.add("failed", s.failed).add("dir", json_path(dir));
  return o.add("stopped", s.stopped);
}

}  // namespace vpipe::cli
