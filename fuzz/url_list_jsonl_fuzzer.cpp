// libFuzzer target: JSONL URL lists, one flat JSON object per line (vpipe/crawl/url_list.h).

#include "url_list_fuzz.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  vpipe::UrlListOptions options;
  options.format = vpipe::UrlListFormat::kJsonl;
  vpipe::fuzz::fuzz_url_list(text, "fuzz.jsonl", options);
  return 0;
}
