#include "vpipe/cli/summaries.h"

#include <fmt/format.h>

namespace vpipe::cli {

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
  if (s.exact_unconfirmed > 0) {
    fmt::print("  {} files share a content hash with another but not its bytes (see log)\n",
               s.exact_unconfirmed);
  }
  if (s.chain_splits > 0) {
    fmt::print("  chain guard: {} files were not near their group's keeper and were regrouped\n",
               s.chain_splits);
  }
  fmt::print("\n{}\n", s.timings.format_table());
}

void print_action_summary(const ActionSummary& s) {
  if (s.copied + s.hardlinked + s.symlinked + s.moved + s.already_done + s.recovered + s.failed ==
      0) {
    return;
  }
  fmt::print("actions: {} copied, {} hard-linked, {} symlinked, {} moved, {} already done", s.copied,
             s.hardlinked, s.symlinked, s.moved, s.already_done);
  if (s.recovered > 0) fmt::print(", {} finished after an interrupted run", s.recovered);
  if (s.failed > 0) fmt::print(", {} FAILED (see log)", s.failed);
  fmt::print("\n");
}

void print_infer_summary(const InferPassSummary& s, std::string_view model) {
  fmt::print("infer: {} on {} images ({} ok, {} failed, {} unchanged) with {}\n", model, s.files,
             s.ok, s.failed, s.unchanged, s.runtime);
  fmt::print("  {:<24}{:>10}\n", "predictions", s.predictions);
  for (const auto& [label, n] : s.labels) fmt::print("    {:<22}{:>10}\n", label, n);
  fmt::print("\n{}\n", s.engine.format_table());
}

void print_crop_summary(const CropPassSummary& s, const std::string& dir) {
  fmt::print("crops: {} written, {} unchanged, {} skipped (small or low score), {} failed -> {}\n",
             s.written, s.unchanged, s.skipped, s.failed, dir);
}

}  // namespace vpipe::cli
