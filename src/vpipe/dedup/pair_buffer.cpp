#include "vpipe/dedup/pair_buffer.h"

#include <cstring>
#include <vector>

namespace vpipe::grouping_detail {

void merge_duplicates(PodBuffer<PairMatch>& pairs) {
  std::sort(pairs.begin(), pairs.end(),
            [](const PairMatch& x, const PairMatch& y) { return x.key < y.key; });
  PairMatch* out = pairs.begin();
  for (PairMatch* it = pairs.begin(); it != pairs.end(); ++it) {
    if (out != pairs.begin() && (out - 1)->key == it->key) {
      (out - 1)->merge(*it);
    } else {
      *out++ = *it;
    }
  }
  pairs.resize(static_cast<size_t>(out - pairs.begin()));
}

void fold_new_pairs(PodBuffer<PairMatch>& pairs, size_t& sorted) {
  const auto by_key = [](const PairMatch& x, const PairMatch& y) { return x.key < y.key; };
  PairMatch* const first = pairs.begin();
  const size_t old_count = sorted;
  std::sort(first + old_count, pairs.end(), by_key);
  // The new entries, one per pair, aside.
  std::vector<PairMatch> fresh;
  fresh.reserve(pairs.size() - old_count);
  for (const PairMatch* it = first + old_count; it != pairs.end(); ++it) {
    if (!fresh.empty() && fresh.back().key == it->key) {
      fresh.back().merge(*it);
    } else {
      fresh.push_back(*it);
    }
  }
  // Back to front into [0, old + fresh): the write position never passes an unread old entry.
  size_t write = old_count + fresh.size();
  size_t i = old_count;
  size_t j = fresh.size();
  while (j > 0) {
    if (i > 0 && first[i - 1].key > fresh[j - 1].key) {
      first[--write] = first[--i];
    } else if (i > 0 && first[i - 1].key == fresh[j - 1].key) {
      PairMatch merged = first[--i];
      merged.merge(fresh[--j]);
      first[--write] = merged;
    } else {
      first[--write] = fresh[--j];
    }
  }
  // Entries merged with an old one left `write - i` slots unused in front of the merged run.
  if (write > i) {
    std::memmove(first + i, first + write, (old_count + fresh.size() - write) * sizeof(PairMatch));
  }
  pairs.resize(i + (old_count + fresh.size() - write));
  sorted = pairs.size();
}

}  // namespace vpipe::grouping_detail
