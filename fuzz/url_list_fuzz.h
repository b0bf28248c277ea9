#pragma once

// The body of the URL-list targets (vpipe/crawl/url_list.h): a list parses to records or fails
// with UrlListError and nothing else, and the records keep what the header promises.

#include <string_view>
#include <vector>

#include "fuzz_util.h"
#include "vpipe/crawl/url_list.h"

namespace vpipe::fuzz {

inline void fuzz_url_list(std::string_view text, std::string_view name,
                          const UrlListOptions& options) {
  std::vector<UrlRecord> records;
  try {
    records = parse_url_list(text, name, options);
  } catch (const UrlListError&) {
    return;
  }
  size_t previous_line = 0;
  for (size_t i = 0; i < records.size(); ++i) {
    const UrlRecord& r = records[i];
    VPIPE_FUZZ_CHECK(!r.url.empty());
    VPIPE_FUZZ_CHECK(r.line >= 1 && r.line >= previous_line);
    previous_line = r.line;
    VPIPE_FUZZ_CHECK(r.first_index <= i);
    VPIPE_FUZZ_CHECK(r.duplicate == (r.first_index != i));
    VPIPE_FUZZ_CHECK(records[r.first_index].url == r.url);
    VPIPE_FUZZ_CHECK(!records[r.first_index].duplicate);
  }
}

}  // namespace vpipe::fuzz
