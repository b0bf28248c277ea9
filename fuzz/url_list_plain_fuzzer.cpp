// libFuzzer target: plain URL lists, one URL per line (vpipe/crawl/url_list.h).

#include "url_list_fuzz.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  vpipe::UrlListOptions options;
  options.format = vpipe::UrlListFormat::kPlain;
  vpipe::fuzz::fuzz_url_list(text, "fuzz.txt", options);
  return 0;
}
