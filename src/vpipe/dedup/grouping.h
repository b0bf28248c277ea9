#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "vpipe/core/record.h"
#include "vpipe/dedup/hamming_index.h"
#include "vpipe/dedup/hashes.h"

namespace vpipe {

/// Which perceptual hashes must agree for two images to be near duplicates.
enum class NearMatch { kPhash, kDhash, kBoth, kEither };

/// Which near pairs the pass hands to its sink (the manifest's `near_pairs`; docs/DEDUP.md,
/// "What is stored"): none; a spanning forest of each group, one edge per member, the edge by
/// which it joined (with the chain guard, its edge to the keeper); or every pair found.
enum class PairStore { kNone, kForest, kAll };

/// Criteria of the keeper policy, applied in order (docs/CONFIG.md `dedup.keeper`, docs/DEDUP.md
/// "The keeper"): the first that sets members apart decides.
enum class KeeperCriterion { kPixels, kQuality, kOldest, kShortestPath, kLeastDegraded };

class VariantColumns;

/// Options of the grouping pass (`vpipe dedup`, `dedup:` in the pipeline config).
struct DedupOptions {
  bool exact = true;  ///< group byte-identical files (content hash, confirmed byte for byte)
  bool near = true;   ///< group perceptual near duplicates
  NearMatch match = NearMatch::kBoth;
  /// Max pHash Hamming distance for a near pair, 0..32. 14 by measurement on the real-photo
  /// calibration split (docs/DEDUP.md, "Thresholds").
  int phash_threshold = 14;
  int dhash_threshold = 14;  ///< max dHash Hamming distance, 0..32
  std::string method = "auto";  ///< Hamming search: auto, brute or mih
  /// Every member of a near group must be within the thresholds of the group's keeper; members
  /// that are only reachable through a chain of pairs split off into groups of their own.
  bool chain_guard = true;
  /// Also match copies turned by 90/180/270 degrees or mirrored (needs a scan with
  /// orientation hashes).
  bool orientations = true;
  /// Also match copies cropped to about 85..95% of each side: a file's whole-image hashes
  /// against the hashes of another's nine 90% windows (needs a scan with crop hashes).
  bool crops = true;
  /// A match through a turned copy or a crop window must be within each threshold less this
  /// margin: the 16 extra comparisons per pair made nearly all chance pairs between unrelated
  /// photos at the default thresholds (docs/DEDUP.md, "Turned and windowed matches").
  int variant_margin = 2;
  /// Which near pairs go to the sink: a group's spanning forest by default (at most one per
  /// file), every pair found with kAll (at a million clustered files, tens of millions).
  PairStore store_pairs = PairStore::kForest;
  /// Most distinct near pairs the search keeps in memory for the chain guard and the pair
  /// count (16 bytes each with their matches, and up to half as many again between merges of
  /// the duplicates: the default 32 Mi is at most 768 MB; 2 M clustered files had 18 M). Past
  /// it they are dropped, the turned and windowed hashes are read into memory when they were
  /// in variant_columns (272 bytes a file), and each component's pairs are found again while it
  /// settles, the components of more than 512 members by the searches over their own members
  /// (docs/DEDUP.md, "At scale"). Not a config key: for tests and for embedding callers that
  /// must bound memory harder.
  size_t max_kept_pairs = size_t{32} << 20;
  std::vector<KeeperCriterion> keeper_order = {
      KeeperCriterion::kPixels, KeeperCriterion::kLeastDegraded, KeeperCriterion::kOldest,
      KeeperCriterion::kQuality, KeeperCriterion::kShortestPath};
  int threads = 0;  ///< 0 = all cores
  /// Runs the near-pair self-joins instead of hamming_self_join when set: called with the
  /// hashes, the threshold and the sink, it hands over the same pair set (each pair once,
  /// a < b) and returns true, or returns false WITHOUT having handed over a pair, and the CPU
  /// index runs instead. The dedup pass sets it to the GPU index (curate/dedup_pass.h,
  /// cuda_self_join). Cross joins (orientations) always run on the CPU index.
  std::function<bool(std::span<const uint64_t>, int, const HammingPairSink&)> self_join;
  /// The estimated JPEG quality (1..100) of item `i`, 0 when unknown, for `least_degraded`
  /// between JPEG members (GroupingItem::jpeg). Called lazily, from one thread: only for JPEG
  /// members of a candidate group in which two or more JPEG members are still tied when
  /// `least_degraded` is reached, once per exact class. The dedup pass reads the file's header
  /// (io/jpeg_quality.h). Empty: compression is not compared.
  std::function<int(size_t item)> jpeg_quality;
  /// Where the searches read the turned and windowed hashes of items that do not point at them
  /// (GroupingItem::in_columns): the dedup pass keeps them in a file, not in memory
  /// (docs/DEDUP.md, "At scale"). Null: every item points at its own.
  const VariantColumns* variant_columns = nullptr;
};

inline constexpr std::array<PairStore, 3> kAllPairStores = {PairStore::kNone, PairStore::kForest,
                                                            PairStore::kAll};
inline constexpr std::array<NearMatch, 4> kAllNearMatches = {NearMatch::kPhash, NearMatch::kDhash,
                                                             NearMatch::kBoth, NearMatch::kEither};
inline constexpr std::array<KeeperCriterion, 5> kAllKeeperCriteria = {
    KeeperCriterion::kPixels, KeeperCriterion::kLeastDegraded, KeeperCriterion::kQuality,
    KeeperCriterion::kOldest, KeeperCriterion::kShortestPath};

/// The names used by the config and the command line: "phash", "dhash", "both", "either".
[[nodiscard]] constexpr std::string_view to_string(NearMatch m) {
  switch (m) {
    case NearMatch::kPhash: return "phash";
    case NearMatch::kDhash: return "dhash";
    case NearMatch::kBoth: return "both";
    case NearMatch::kEither: return "either";
  }
  return "unknown";
}

/// "none", "forest", "all".
[[nodiscard]] constexpr std::string_view to_string(PairStore p) {
  switch (p) {
    case PairStore::kNone: return "none";
    case PairStore::kForest: return "forest";
    case PairStore::kAll: return "all";
  }
  return "unknown";
}

/// "pixels", "least_degraded", "quality", "oldest", "shortest_path".
[[nodiscard]] constexpr std::string_view to_string(KeeperCriterion c) {
  switch (c) {
    case KeeperCriterion::kPixels: return "pixels";
    case KeeperCriterion::kLeastDegraded: return "least_degraded";
    case KeeperCriterion::kQuality: return "quality";
    case KeeperCriterion::kOldest: return "oldest";
    case KeeperCriterion::kShortestPath: return "shortest_path";
  }
  return "unknown";
}

/// Inverses of to_string; nullopt for a name that is none of them.
[[nodiscard]] constexpr std::optional<NearMatch> near_match_from_string(std::string_view name) {
  for (NearMatch m : kAllNearMatches) {
    if (to_string(m) == name) return m;
  }
  return std::nullopt;
}
[[nodiscard]] constexpr std::optional<PairStore> pair_store_from_string(std::string_view name) {
  for (PairStore p : kAllPairStores) {
    if (to_string(p) == name) return p;
  }
  return std::nullopt;
}
[[nodiscard]] constexpr std::optional<KeeperCriterion> keeper_criterion_from_string(
    std::string_view name) {
  for (KeeperCriterion c : kAllKeeperCriteria) {
    if (to_string(c) == name) return c;
  }
  return std::nullopt;
}

/// The turned and windowed hashes of the items, read one variant at a time: what the Hamming
/// searches need, without all of them in memory at once (272 bytes per file).
class VariantColumns {
 public:
  virtual ~VariantColumns() = default;
  /// Item i's pHash and dHash turned by Orientation `variant` (1..7) or of crop window
  /// `variant` - 8 (8..16), for every item (zeros where it has none), into p[i] and d[i]
  /// (resized to the item count). Throws std::runtime_error when the store cannot be read.
  virtual void read(size_t variant, std::vector<uint64_t>& p, std::vector<uint64_t>& d) const = 0;
  /// Points every item in the columns at its hashes in memory (GroupingItem's
  /// orientation_phash ... crop_dhash), for the comparisons that need whole rows: the searches
  /// of a component again past DedupOptions::max_kept_pairs, and grouping without the chain
  /// guard. Called at most once, from the calling thread of group_duplicates.
  virtual void load_rows() const = 0;
};

/// One file as the grouping sees it. Views (`path`, the orientation arrays) must outlive the call.
struct GroupingItem {
  // 8-byte fields first, flags last: no padding between them (2M items at scale).
  int64_t id = 0;  ///< the caller's identifier (files.id); echoed in NearPair
  std::string_view path;
  int64_t size_bytes = 0;
  int64_t mtime_ns = 0;
  ContentHash content_hash;  ///< read when has_content_hash
  uint64_t phash = 0;        ///< perceptual hashes, read when has_hashes
  uint64_t dhash = 0;
  /// Hashes of the eight orientations (dedup/hashes.h), or null; needed when
  /// DedupOptions::orientations is on (items without them match only as stored).
  const std::array<uint64_t, kOrientationCount>* orientation_phash = nullptr;
  const std::array<uint64_t, kOrientationCount>* orientation_dhash = nullptr;
  /// Hashes of the nine 90% windows (dedup/hashes.h crop_hashes_cpu), or null; read when
  /// DedupOptions::crops is on.
  const std::array<uint64_t, kCropWindowCount>* crop_phash = nullptr;
  const std::array<uint64_t, kCropWindowCount>* crop_dhash = nullptr;
  int64_t pixels = 0;        ///< width * height
  double quality = 0;        ///< quality score, higher is better
  // Degradation signals for `least_degraded` (QualitySignals, docs/SIGNALS.md), compared with
  // the best value among the members still tied; all 0 when unmeasured.
  double edge_width = 0;         ///< blur: px at the working size; 0 = no strong edges
  double highlight_plateau = 0;  ///< blown highlights: share of pixels on the top plateau
  int width = 0;             ///< full-resolution size, for explain_keeper (`pixels` decides)
  int height = 0;
  bool has_content_hash = false;
  bool has_hashes = false;   ///< perceptual hashes present (the file decoded)
  bool rejected = false;     ///< failed the quality rules: chosen as keeper only if all are
  bool jpeg = false;         ///< a JPEG file (DedupOptions::jpeg_quality may estimate it)
  /// Its orientation (and crop) hashes are in DedupOptions::variant_columns, not behind the
  /// pointers above (until VariantColumns::load_rows sets them).
  bool orientations_in_columns = false;
  bool crops_in_columns = false;
};

/// Sets the keeper inputs of `item` that come straight from `record`: pixels, width, height,
/// mtime_ns, size_bytes, the degradation signals (when it has signals) and `jpeg`. Leaves the
/// path (a view the caller stores), the hashes, `quality` and `rejected` (the quality layer's
/// score and verdict) to the caller.
void set_keeper_inputs(GroupingItem& item, const FileRecord& record);

/// One member of a duplicate group.
struct GroupMember {
  size_t item = 0;         ///< index into the items given to group_duplicates
  bool is_keeper = false;
  bool exact = false;      ///< byte-identical to the keeper (confirmed); else a near match
  int phash_distance = 0;  ///< to the keeper (in the matching orientation)
  int dhash_distance = 0;
  Orientation orientation = Orientation::kIdentity;  ///< this member ~ the keeper turned by it
};

struct DuplicateGroup {
  std::string kind;  ///< "exact", "near" or "mixed"
  std::vector<GroupMember> members;  ///< keeper first, then exact copies, then by distance
  [[nodiscard]] int max_distance() const;
};

/// A near pair found by the Hamming search (before grouping), by item index, a < b.
struct NearPair {
  size_t a = 0;
  size_t b = 0;
  int phash_distance = 0;
  int dhash_distance = 0;
  Orientation orientation = Orientation::kIdentity;  ///< b ~ a turned by it
};

/// Says whether items a and b (same content hash and size) are byte-identical, by reading both
/// files. A file that cannot be read is not identical.
using ExactConfirm = std::function<bool(size_t a, size_t b)>;
using NearPairSink = std::function<void(std::span<const NearPair>)>;

struct GroupingResult {
  std::vector<DuplicateGroup> groups;  ///< largest first, then by keeper index
  int64_t near_pairs = 0;              ///< distinct pairs within the thresholds, however stored
  int64_t exact_candidates = 0;        ///< files sharing a content hash with another
  int64_t exact_unconfirmed = 0;       ///< of those, not byte-identical after all
  int64_t chain_splits = 0;            ///< members moved out of a group by the chain guard
  /// Representatives in the largest near component (its pairs are held while it settles).
  int64_t largest_component = 0;
  /// Whether the search's pairs stayed in memory (DedupOptions::max_kept_pairs); if not, every
  /// component of more than 512 members found its pairs again while it settled.
  bool pairs_kept = false;
  int64_t search_ns = 0;  ///< the Hamming searches, union-find and the kept pairs sorted
  int64_t settle_ns = 0;  ///< per component: keepers, chain guard, stored pairs (and its pairs
                          ///< found again when they were not kept)
};

/// Groups exact and near duplicates (docs/DEDUP.md): exact copies by content hash confirmed with
/// `confirm`; near duplicates by Hamming search over the perceptual hashes (one representative
/// per exact class), joined by union-find into components; a keeper per group by
/// `options.keeper_order`; with `options.chain_guard`, members not within the thresholds of
/// their keeper are regrouped among themselves. The chain guard and the pair count read each
/// component's own pairs: kept from the search while they fit options.max_kept_pairs, else found
/// again inside it (every two members compared, or the searches rerun over a large one). `sink` (may be empty) receives the pairs `options.store_pairs`
/// names, component by component, from the calling thread. Deterministic for the same input.
/// Memory: O(items + groups) and at most max_kept_pairs pairs (or, past it, the pairs of the
/// largest component).
[[nodiscard]] GroupingResult group_duplicates(std::span<const GroupingItem> items,
                                              const DedupOptions& options,
                                              const ExactConfirm& confirm,
                                              const NearPairSink& sink = {});

/// The estimated JPEG quality of item i (1..100), 0 when unknown; see DedupOptions::jpeg_quality.
using JpegQualityOf = std::function<int(size_t item)>;

/// Indices 0..members.size()-1 of `members` ordered best keeper first, as group_duplicates
/// orders the members of a candidate group: usable (not rejected) before rejected, then `order`
/// criterion by criterion, each splitting the members still tied into tiers anchored at the best
/// (`pixels`: within 1% of the largest; `least_degraded`: a degradation score within 0.1 of the
/// lowest, the score computed relative to the members still tied; `quality`: less than 0.02
/// below the highest; the others: equal), then the byte order of the path, then the index. A
/// total order.
/// `jpeg_quality` is indexed like `members`. Pure apart from `jpeg_quality`; O(n log n) per
/// criterion.
[[nodiscard]] std::vector<size_t> rank_keepers(std::span<const GroupingItem> members,
                                               std::span<const KeeperCriterion> order,
                                               const JpegQualityOf& jpeg_quality = {});

/// Why `keeper` was chosen among `members` (a group, keeper included; `keeper` indexes it).
struct KeeperExplanation {
  /// The first step that set the keeper apart: "usable", one of the criteria's names
  /// ("pixels", "least_degraded", ...), or "path_order" when every criterion tied;
  /// "candidate_group" when the keeper is not first of `members` by the order (chosen in a
  /// larger candidate group that the chain guard split, or the files changed since).
  std::string decided_by;
  /// Each step that set it apart from some members, with the keeper's value against the best
  /// of those it beat there, "; "-separated: "largest (4000x3000 vs 2000x1500)", "least
  /// degraded (edge width 1.4 vs 2.9 px)", "least degraded (clipped 2% vs 31%)", "higher JPEG
  /// quality (95 vs 40)", "higher quality score (0.87 vs 0.52)", "oldest (2019-05-01 vs
  /// 2021-03-04)", "shortest path (11 vs 25 bytes)", "not rejected (2 rejected)"...
  std::string text;
};

/// The reason for `keeper` by the rules of rank_keepers (docs/DEDUP.md "The keeper"): walks
/// `order` over the members still tied with the keeper. Pure apart from `jpeg_quality` (indexed
/// like `members`), thread-safe when it is.
[[nodiscard]] KeeperExplanation explain_keeper(std::span<const GroupingItem> members,
                                               size_t keeper,
                                               std::span<const KeeperCriterion> order,
                                               const JpegQualityOf& jpeg_quality = {});

}  // namespace vpipe
