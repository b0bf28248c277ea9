#include "vpipe/curate/dedup_pass.h"

#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <deque>
#include <fstream>
#include <memory>
#include <numeric>
#include <string>
#include <utility>

#include "vpipe/core/error.h"
#include "vpipe/core/log.h"
#include "vpipe/curate/variant_file.h"
#include "vpipe/dedup/cuda/hamming_cuda.h"
#include "vpipe/dedup/dedup_store.h"
#include "vpipe/io/file_store.h"
#include "vpipe/io/jpeg_quality.h"
#include "vpipe/io/manifest.h"
#include "vpipe/io/run_scope.h"

namespace vpipe {
namespace {

using Clock = std::chrono::steady_clock;

int64_t elapsed_ns(Clock::time_point since) {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now() - since).count();
}

/// One step of the pass as a single-worker "stage" of the run report, so the report and the
/// CLI show the dedup pass's timings the same way as the engine's.
StageMetrics step_metrics(std::string name, uint64_t items, int64_t busy_ns) {
  StageMetrics s;
  s.name = std::move(name);
  s.items_in = items;
  s.items_out = items;
  s.batches = 1;
  s.busy_ns = busy_ns;
  return s;
}

/// The signal rules of `rules` as the manifest records them (for histograms in reports).
std::vector<ThresholdRecord> threshold_records(const QualityRules& rules) {
  // Every threshold rule, enabled or not, with the signal it reads (quality/rules.h): the report
  // draws each threshold on its signal's histogram, and a disabled rule may inform (grayscale).
  std::vector<ThresholdRecord> out;
  for (const ThresholdRuleInfo& info : threshold_rules()) {
    const ThresholdRule& r = rules.*info.field;
    out.push_back(ThresholdRecord{std::string(info.rule), std::string(info.signal), r.threshold,
                                  info.rejects_below, r.enabled});
  }
  return out;
}

/// Stable storage for many short strings (paths): 1 MiB blocks, views never move.
class PathArena {
 public:
  std::string_view add(std::string_view text) {
    if (text.size() > kBlock) return std::string_view(big_.emplace_back(text));
    if (blocks_.empty() || used_ + text.size() > kBlock) {
      blocks_.push_back(std::make_unique<char[]>(kBlock));
      used_ = 0;
    }
    char* at = blocks_.back().get() + used_;
    std::copy(text.begin(), text.end(), at);
    used_ += text.size();
    return {at, text.size()};
  }

 private:
  static constexpr size_t kBlock = size_t{1} << 20;
  std::vector<std::unique_ptr<char[]>> blocks_;
  std::deque<std::string> big_;  ///< the rare path longer than a block
  size_t used_ = 0;
};

/// The near-pair self-join for a pass on `device` over `n_images` images: the GPU index behind
/// the CPU fallback on "cuda:N" with enough images, nothing (the CPU index) otherwise.
/// `summary.join_device` says which, and why.
std::function<bool(std::span<const uint64_t>, int, const HammingPairSink&)> near_self_join(
    const DedupPassOptions& options, size_t n_images, DedupPassSummary& summary) {
  summary.join_device = "cpu";
  if (!options.device.is_cuda()) return {};
  if (n_images < options.gpu_join_min_hashes) {
    summary.join_device =
        fmt::format("cpu ({} images < {}, the GPU minimum)", n_images, options.gpu_join_min_hashes);
    return {};
  }
  const int device = options.device.index;
  return self_join_with_cpu_fallback(
      [device](std::span<const uint64_t> hashes, int t, const HammingPairSink& sink) {
        hamming_self_join_cuda(hashes, t, sink, device);
      },
      options.device.str(), &summary.join_device);
}

/// Resident memory of this process in MB from /proc/self/statm (0 where there is none), for the
/// debug log's account of where the pass's memory goes.
double resident_mb() {
  std::ifstream statm("/proc/self/statm");
  double pages = 0;
  double resident = 0;
  if (!(statm >> pages >> resident)) return 0;
  return resident * static_cast<double>(sysconf(_SC_PAGESIZE)) / 1e6;
}

}  // namespace

std::function<bool(std::span<const uint64_t>, int, const HammingPairSink&)>
self_join_with_cpu_fallback(
    std::function<void(std::span<const uint64_t>, int, const HammingPairSink&)> gpu,
    std::string name, std::string* used) {
  auto failed = std::make_shared<bool>(false);
  return [gpu = std::move(gpu), name = std::move(name), used, failed](
             std::span<const uint64_t> hashes, int t, const HammingPairSink& sink) {
    if (*failed) return false;
    bool handed_over = false;
    try {
      gpu(hashes, t, [&](std::span<const HammingPair> pairs) {
        handed_over = handed_over || !pairs.empty();
        sink(pairs);
      });
    } catch (const CudaError& e) {
      if (handed_over) {
        throw Error(fmt::format(
            "dedup: the near-pair search on {} failed part-way ({}); nothing was written: rerun "
            "with --device cpu",
            name, e.what()));
      }
      *failed = true;
      *used = fmt::format("cpu ({}: {})", name, e.what());
      log().warn("dedup: near-pair search on {} failed, running it on the CPU instead: {}", name,
                 e.what());
      return false;
    }
    *used = name;
    return true;
  };
}

bool files_identical(const std::string& a, const std::string& b) {
  std::ifstream fa(a, std::ios::binary);
  std::ifstream fb(b, std::ios::binary);
  if (!fa || !fb) return false;
  constexpr size_t kChunk = 1 << 16;
  std::vector<char> ba(kChunk);
  std::vector<char> bb(kChunk);
  while (true) {
    fa.read(ba.data(), kChunk);
    fb.read(bb.data(), kChunk);
    const std::streamsize na = fa.gcount();
    const std::streamsize nb = fb.gcount();
    if (na != nb) return false;
    if (!std::equal(ba.begin(), ba.begin() + na, bb.begin())) return false;
    if (na < static_cast<std::streamsize>(kChunk)) return fa.eof() && fb.eof();
  }
}

namespace {

/// Reasons of the rejected items only, flat and in item order (a third of a crawl can be
/// rejected: 40 bytes a reason, the rule's name interned, not a map of vectors of strings).
struct CompactReason {
  uint32_t item;
  uint32_t rule;  // index into DedupRun::rule_names
  double value, threshold, severity;
};

/// A near pair kept for the write (store_pairs other than `all`).
struct HeldPair {
  uint32_t a, b;  // items, a < b
  uint8_t phash_distance, dhash_distance;
  Orientation orientation;
};

/// One dedup pass's steps and what they hand each other: load the rows (and their verdicts),
/// group them, write the decisions. Sequential; each step is timed as a stage of the run.
struct DedupRun {
  DedupRun(Manifest& m, const DedupPassOptions& o, DedupPassSummary& s)
      : manifest(m), options(o), summary(s) {}

  Manifest& manifest;
  const DedupPassOptions& options;
  DedupPassSummary& summary;

  // load -> group -> write
  PathArena paths;
  // The turned and windowed hashes, when they stay in memory (the items point into these).
  std::deque<std::array<uint64_t, kOrientationCount>> orientation_phash;
  std::deque<std::array<uint64_t, kOrientationCount>> orientation_dhash;
  std::deque<std::array<uint64_t, kCropWindowCount>> crop_phash;
  std::deque<std::array<uint64_t, kCropWindowCount>> crop_dhash;
  std::vector<GroupingItem> items;
  std::vector<CompactReason> reasons;
  std::vector<std::string> rule_names;
  std::unique_ptr<VariantFile> variant_file;
  int64_t rows_read_at = 0;
  // group -> write
  bool stream_pairs = false;
  std::vector<HeldPair> held_pairs;
  GroupingResult grouping;

  /// Reads every row into a compact item with its verdict (thresholds resolved first).
  void load() {
    // Verdict rules first: with automatic thresholds, one streaming pass over the signals.
    const auto step_start = Clock::now();
    summary.effective_quality = options.quality;
    if (options.quality_enabled && options.quality.auto_thresholds) {
      std::vector<FileRecord> signals;  // only what the rules read: no paths or messages
      FileStore(manifest).for_each_file([&](const FileRecord& f) {
        FileRecord lean;
        lean.status = f.status;
        lean.width = f.width;
        lean.height = f.height;
        lean.has_signals = f.has_signals;
        lean.quality = f.quality;
        signals.push_back(std::move(lean));
        return true;
      });
      summary.effective_quality = resolve_auto_thresholds(options.quality, signals);
    }

    // Load, streaming: each row becomes a compact GroupingItem (its path in an arena, orientation
    // hashes only when asked for) and, when rejected, its reasons. Verdicts come first so that a
    // rejected file is never chosen as a keeper while its group has a usable member.
    const auto rule_index = [&](const std::string& rule) {
      const auto it = std::find(rule_names.begin(), rule_names.end(), rule);
      if (it != rule_names.end()) return static_cast<uint32_t>(it - rule_names.begin());
      rule_names.push_back(rule);
      return static_cast<uint32_t>(rule_names.size() - 1);
    };
    int64_t missing_orientations = 0;
    int64_t missing_crops = 0;
    // The turned and windowed hashes go to a scratch file when one can be made (docs/DEDUP.md,
    // "At scale"); the searches read them from it a variant at a time.
    if ((options.dedup.orientations || options.dedup.crops) && !options.scratch_dir.empty()) {
      variant_file = VariantFile::create(options.scratch_dir, items);
      if (!variant_file) {
        log().debug("dedup: no scratch file in '{}'; the turned and windowed hashes stay in memory",
                    options.scratch_dir.string());
      }
    }
    // Taken before the rows are read: while no other connection commits after it, the ids
    // written at the end still exist and skip their foreign-key lookups (DedupWrite).
    rows_read_at = manifest.others_version();
    FileStore(manifest).for_each_file([&](const FileRecord& f) {
      const size_t index = items.size();
      GroupingItem& item = items.emplace_back();
      item.id = f.id;
      item.path = paths.add(f.path);
      set_keeper_inputs(item, f);
      item.has_content_hash = f.has_content_hash;
      item.content_hash = f.content_hash;
      item.has_hashes = f.has_signals;
      item.phash = f.phash;
      item.dhash = f.dhash;
      if (options.dedup.orientations && f.has_signals) {
        if (!f.has_orientation_hashes) {
          ++missing_orientations;
        } else if (variant_file) {
          item.orientations_in_columns = true;
        } else {
          item.orientation_phash = &orientation_phash.emplace_back(f.orientation_phash);
          item.orientation_dhash = &orientation_dhash.emplace_back(f.orientation_dhash);
        }
      }
      if (options.dedup.crops && f.has_signals) {
        if (!f.has_crop_hashes) {
          ++missing_crops;
        } else if (variant_file) {
          item.crops_in_columns = true;
        } else {
          item.crop_phash = &crop_phash.emplace_back(f.crop_phash);
          item.crop_dhash = &crop_dhash.emplace_back(f.crop_dhash);
        }
      }
      if (variant_file) variant_file->add(f);
      item.quality = f.has_signals ? quality_score(f) : 0.0;
      std::vector<ReasonRecord> why;
      if (options.quality_enabled) {
        for (const RejectReason& r : evaluate_quality(f, summary.effective_quality)) {
          why.push_back(ReasonRecord{r.rule, r.value, r.threshold, r.severity});
        }
      } else if (!has_signals(f.status)) {
        // Without the rules, a file with no pixels still cannot be kept.
        why.push_back(ReasonRecord{"corrupt", 0, 0, 1});
      }
      item.rejected = !why.empty();
      if (options.quality_enabled && !item.rejected &&
          !summary.effective_quality.grayscale.enabled &&
          is_colourless(f, summary.effective_quality)) {
        ++summary.informational["grayscale"];
      }
      for (const ReasonRecord& r : why) {
        reasons.push_back(CompactReason{static_cast<uint32_t>(index), rule_index(r.rule), r.value,
                                        r.threshold, r.severity});
      }
      return true;
    });
    summary.files = static_cast<int64_t>(items.size());
    if (variant_file) variant_file->finish();
    manifest.release_memory();  // the rows are read; the searches need the room
    if (missing_orientations > 0) {
      log().warn(
          "dedup: {} files have no orientation hashes (scanned without them); they match "
          "turned or mirrored copies only as the other side. Rescan with orientation hashes "
          "on (scan.orientations: true, or `vpipe scan --orientations`)",
          missing_orientations);
    }
    if (missing_crops > 0) {
      log().warn(
          "dedup: {} files have no crop hashes (scanned by an older vpipe or without orientation "
          "hashes); a cropped copy of them is found only as far as its whole-image hashes reach. "
          "Rescan them (`vpipe scan` does, with orientation hashes on)",
          missing_crops);
    }
    summary.timings.stages.push_back(step_metrics("load", items.size(), elapsed_ns(step_start)));
    log().debug("dedup: {:.0f} MB resident after loading {} rows", resident_mb(), items.size());
  }

  /// Groups the items; the near pairs stream to the manifest or are held for the write.
  void group() {
    // Groups. With store_pairs `all` the near pairs stream to the manifest in chunks as the
    // groups settle (there can be tens of millions); a forest has at most one pair per file and
    // waits, 12 bytes a pair, for the write, so it lands in the same transaction as the
    // decisions, in key order.
    const auto step_start = Clock::now();
    stream_pairs = options.dedup.store_pairs == PairStore::kAll;
    if (stream_pairs) DedupStore(manifest).clear_near_pairs();
    std::vector<NearPairRecord> pair_rows;
    const NearPairSink sink = [&](std::span<const NearPair> pairs) {
      if (!stream_pairs) {
        for (const NearPair& p : pairs) {
          held_pairs.push_back(HeldPair{static_cast<uint32_t>(p.a), static_cast<uint32_t>(p.b),
                                        static_cast<uint8_t>(p.phash_distance),
                                        static_cast<uint8_t>(p.dhash_distance), p.orientation});
        }
        return;
      }
      pair_rows.clear();
      for (const NearPair& p : pairs) {
        pair_rows.push_back(NearPairRecord{
            items[p.a].id, items[p.b].id, p.phash_distance, p.dhash_distance,
            p.orientation == Orientation::kIdentity ? std::string()
                                                    : std::string(to_string(p.orientation))});
      }
      DedupStore(manifest).add_near_pairs(pair_rows, rows_read_at);
    };
    const ExactConfirm confirm = [&](size_t a, size_t b) {
      return files_identical(std::string(items[a].path), std::string(items[b].path));
    };
    DedupOptions dedup = options.dedup;
    if (dedup.near && !dedup.self_join)
      dedup.self_join = near_self_join(options, items.size(), summary);
    // The JPEG quality of a group member, from its file's header, read at most once per file
    // and only when the keeper policy compares it (docs/DEDUP.md, "The keeper").
    std::vector<int8_t> jpeg_quality(items.size(), -1);  // 1..100, 0 unknown, -1 not read yet
    const auto jpeg_quality_of = [&](size_t i) {
      if (jpeg_quality[i] < 0) {
        jpeg_quality[i] =
            static_cast<int8_t>(read_jpeg_quality(std::string(items[i].path)).value_or(0));
      }
      return static_cast<int>(jpeg_quality[i]);
    };
    if (!dedup.jpeg_quality) dedup.jpeg_quality = jpeg_quality_of;
    dedup.variant_columns = variant_file.get();
    grouping = group_duplicates(items, dedup, confirm, sink);
    summary.near_pairs = grouping.near_pairs;
    summary.exact_unconfirmed = grouping.exact_unconfirmed;
    summary.chain_splits = grouping.chain_splits;
    summary.largest_component = grouping.largest_component;
    summary.pairs_kept = grouping.pairs_kept || !dedup.near;
    summary.search_seconds = static_cast<double>(grouping.search_ns) / 1e9;
    summary.settle_seconds = static_cast<double>(grouping.settle_ns) / 1e9;
    // Why each keeper won, over the group's final members (as the report says it).
    std::vector<GroupingItem> members;
    std::vector<size_t> member_items;
    for (const DuplicateGroup& group : grouping.groups) {
      members.clear();
      member_items.clear();
      for (const GroupMember& m : group.members) {
        members.push_back(items[m.item]);
        member_items.push_back(m.item);
      }
      const KeeperExplanation why = explain_keeper(members, 0, dedup.keeper_order, [&](size_t k) {
        return dedup.jpeg_quality(member_items[k]);
      });
      summary.keepers_decided_by[why.decided_by] += 1;
      if (options.explain_keepers) {
        summary.keeper_reasons.emplace_back(std::string(members.front().path), why.text);
      }
    }
    summary.timings.stages.push_back(step_metrics("group", items.size(), elapsed_ns(step_start)));
    log().debug("dedup: {:.0f} MB resident after grouping", resident_mb());
  }

  /// The decisions, groups, reasons and pairs, in one transaction.
  void write() {
    // Decisions, produced row by row into one transaction.
    const auto step_start = Clock::now();
    struct Membership {
      int64_t group_id = 0;
      const GroupMember* member = nullptr;
    };
    std::vector<Membership> membership(items.size());
    std::vector<GroupRecord> groups;
    groups.reserve(grouping.groups.size());
    for (size_t g = 0; g < grouping.groups.size(); ++g) {
      const DuplicateGroup& group = grouping.groups[g];
      const int64_t group_id = static_cast<int64_t>(g) + 1;
      groups.push_back(GroupRecord{group_id, group.kind, items[group.members.front().item].id,
                                   static_cast<int64_t>(group.members.size()),
                                   group.max_distance()});
      (group.kind == "exact" ? summary.exact_groups : summary.near_groups) += 1;
      for (const GroupMember& m : group.members) membership[m.item] = Membership{group_id, &m};
    }
    summary.groups = static_cast<int64_t>(groups.size());
    const auto decide = [&](size_t i, DecisionRecord& d) {
      d.file_id = items[i].id;
      d.quality_score = items[i].quality;
      if (const Membership& m = membership[i]; m.group_id > 0) {
        d.group_id = m.group_id;
        d.is_keeper = m.member->is_keeper;
        d.phash_distance = m.member->phash_distance;
        d.dhash_distance = m.member->dhash_distance;
        if (!d.is_keeper) {
          d.match = m.member->exact ? "exact" : "near";
          if (m.member->orientation != Orientation::kIdentity) {
            d.orientation = to_string(m.member->orientation);
          }
        }
      }
      auto it = std::lower_bound(reasons.begin(), reasons.end(), i,
                                 [](const CompactReason& r, size_t item) { return r.item < item; });
      for (; it != reasons.end() && it->item == i; ++it) {
        d.reasons.push_back(
            ReasonRecord{rule_names[it->rule], it->value, it->threshold, it->severity});
      }
      if (!d.reasons.empty()) {
        d.decision = "reject";
      } else if (d.group_id > 0 && !d.is_keeper) {
        d.decision = "duplicate";
      } else {
        d.decision = "keep";
      }
    };
    DecisionRecord counted;
    for (size_t i = 0; i < items.size(); ++i) {
      counted = DecisionRecord{};
      decide(i, counted);
      summary.decisions[counted.decision] += 1;
      for (const ReasonRecord& r : counted.reasons) summary.reasons[r.rule] += 1;
    }
    const std::vector<ThresholdRecord> thresholds =
        options.quality_enabled ? threshold_records(summary.effective_quality)
                                : std::vector<ThresholdRecord>{};
    // Rows in file id order append to the tables' b-trees (the items are in path order, which
    // a parallel scan does not give ids in); the pairs by their ids.
    std::vector<uint32_t> by_id(items.size());
    std::iota(by_id.begin(), by_id.end(), uint32_t{0});
    std::sort(by_id.begin(), by_id.end(),
              [&](uint32_t x, uint32_t y) { return items[x].id < items[y].id; });
    std::sort(held_pairs.begin(), held_pairs.end(), [&](const HeldPair& x, const HeldPair& y) {
      return std::pair(items[x.a].id, items[x.b].id) < std::pair(items[y.a].id, items[y.b].id);
    });
    DedupWrite write;
    write.rows_read_at = rows_read_at;
    write.replace_pairs = !stream_pairs;
    write.pair_count = held_pairs.size();
    write.pair = [&](size_t k, NearPairRecord& row) {
      const HeldPair& p = held_pairs[k];
      row.a = items[p.a].id;
      row.b = items[p.b].id;
      row.phash_distance = p.phash_distance;
      row.dhash_distance = p.dhash_distance;
      if (p.orientation != Orientation::kIdentity) row.orientation = to_string(p.orientation);
    };
    DedupStore(manifest).replace_dedup_results(
        groups, items.size(), [&](size_t k, DecisionRecord& d) { decide(by_id[k], d); }, thresholds,
        write);
    summary.timings.stages.push_back(step_metrics("write", items.size(), elapsed_ns(step_start)));
  }
};

}  // namespace

DedupPassSummary run_dedup_pass(Manifest& manifest, const DedupPassOptions& options) {
  DedupPassSummary summary;
  const auto pass_start = Clock::now();
  RunScope run(manifest, "dedup", options.config_json, options.device.str());  // failed if it throws
  {
    DedupRun steps(manifest, options, summary);
    steps.load();
    steps.group();
    steps.write();
  }

  summary.timings.wall_ns = elapsed_ns(pass_start);
  int bottleneck = -1;
  for (size_t i = 0; i < summary.timings.stages.size(); ++i) {
    if (bottleneck < 0 || summary.timings.stages[i].busy_ns >
                              summary.timings.stages[static_cast<size_t>(bottleneck)].busy_ns) {
      bottleneck = static_cast<int>(i);
    }
  }
  summary.timings.bottleneck = bottleneck;
  summary.timings.sequential = true;
  run.record_stages("dedup", summary.timings);
  std::map<std::string, int64_t> counts = summary.decisions;
  counts["groups"] = summary.groups;
  counts["near_pairs"] = summary.near_pairs;
  run.finish(false, counts);
  return summary;
}

DedupPassSummary run_dedup_pass(const std::filesystem::path& db, const DedupPassOptions& options) {
  std::error_code ec;
  if (!std::filesystem::exists(db, ec)) {
    throw IoError(
        fmt::format("dedup: manifest '{}' does not exist (run `vpipe scan` first)", db.string()));
  }
  Manifest manifest(db);
  DedupPassOptions with_scratch = options;
  if (with_scratch.scratch_dir.empty())
    with_scratch.scratch_dir = std::filesystem::absolute(db).parent_path();
  return run_dedup_pass(manifest, with_scratch);
}

}  // namespace vpipe
