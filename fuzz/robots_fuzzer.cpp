// libFuzzer target: robots.txt (vpipe/crawl/robots.h). Parsing never fails; the rules are then
// asked about a few fixed paths and about the input's own lines, each used as a path.

#include <string_view>

#include "fuzz_util.h"
#include "vpipe/crawl/robots.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  for (const std::string_view agent : {"vpipe/0.1 (+https://example.org/bot)", "", "*"}) {
    const vpipe::RobotsRules rules = vpipe::RobotsRules::parse(text, agent);
    VPIPE_FUZZ_CHECK(rules.allowed("/robots.txt"));
    for (const std::string_view path : {"", "/", "/images/a.jpg?size=large", "/a*b$"}) {
      (void)rules.allowed(path);
    }
    // Each line as a path, up to 16 lines of up to 256 bytes: patterns meet paths alike.
    size_t pos = 0;
    for (int n = 0; n < 16 && pos < text.size(); ++n) {
      size_t end = text.find('\n', pos);
      if (end == std::string_view::npos) end = text.size();
      (void)rules.allowed(text.substr(pos, std::min<size_t>(end - pos, 256)));
      pos = end + 1;
    }
  }
  return 0;
}
