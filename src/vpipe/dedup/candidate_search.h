#pragma once

// Internal to the grouping (grouping.cpp): what one run of the Hamming searches over a set of
// representatives hands to its visitor. Not a public header.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <vector>

#include "vpipe/core/log.h"
#include "vpipe/dedup/hamming_index.h"
#include "vpipe/dedup/nearness.h"

namespace vpipe::grouping_detail {

/// The state of one for_each_candidate: the hashes of `reps` as the searches read them, the
/// search options, the visitor and how many pairs it was given, and the queries' scratch.
template <typename Visit>
struct CandidateSearch {
  CandidateSearch(const std::vector<size_t>& searched, bool device, Visit& visitor)
      : reps(searched), use_device(device), raw_visit(visitor) {}

  const std::vector<size_t>& reps;
  bool use_device;
  Visit& raw_visit;
  int64_t visited = 0;
  std::vector<uint64_t> phashes;
  std::vector<uint64_t> dhashes;
  HammingSearchOptions search;
  bool both = false;          ///< match `both`: search one hash, test the other
  bool search_phash = false;  ///< a search on the pHash runs
  bool search_dhash = false;
  // The queries of a cross join: a variant's hashes, the other hash (tested with `both`),
  // and each query's position in reps; the variant's column, for the items whose hashes are
  // in DedupOptions::variant_columns.
  std::vector<uint64_t> queries;
  std::vector<uint64_t> query_other;
  std::vector<uint32_t> query_of;
  std::vector<uint64_t> column_p;
  std::vector<uint64_t> column_d;

  void visit(size_t i, size_t j, Variant variant, int dp, int dd) {
    ++visited;
    raw_visit(i, j, variant, dp, dd);
  }
  /// Runs one join and, for the pass's own search, logs what it took.
  template <typename Join>
  void timed(const char* what, size_t index, const Join& join) {
    const auto start = std::chrono::steady_clock::now();
    const int64_t before = visited;
    join();
    if (!use_device) return;
    const std::chrono::duration<double> took = std::chrono::steady_clock::now() - start;
    log().debug("dedup: {} {} join: {:.1f} s, {} pairs", what, index, took.count(),
                visited - before);
  }
};

}  // namespace vpipe::grouping_detail
