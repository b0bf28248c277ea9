// libFuzzer target: CSV and TSV URL lists (vpipe/crawl/url_list.h). Each input is read as CSV
// and as TSV, with a header row naming the URL column and without one (column 1).

#include "url_list_fuzz.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  for (const auto format : {vpipe::UrlListFormat::kCsv, vpipe::UrlListFormat::kTsv}) {
    vpipe::UrlListOptions options;
    options.format = format;
    vpipe::fuzz::fuzz_url_list(text, "fuzz.csv", options);
    options.header = false;
    options.url_field = "1";
    vpipe::fuzz::fuzz_url_list(text, "fuzz.csv", options);
  }
  return 0;
}
