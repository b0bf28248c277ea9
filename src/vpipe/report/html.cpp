#include "vpipe/report/html.h"

#include <cstdint>

#include "vpipe/core/text.h"

namespace vpipe {
namespace {

constexpr std::string_view kReplacement = "\xEF\xBF\xBD";  // U+FFFD in UTF-8

}  // namespace

void append_html_escaped(std::string& out, std::string_view text) {
  out.reserve(out.size() + text.size());
  size_t i = 0;
  while (i < text.size()) {
    const auto c = static_cast<uint8_t>(text[i]);
    if (c < 0x80) {
      switch (c) {
        case '&':
          out += "&amp;";
          break;
        case '<':
          out += "&lt;";
          break;
        case '>':
          out += "&gt;";
          break;
        case '"':
          out += "&quot;";
          break;
        case '\'':
          out += "&#39;";
          break;
        default:
          if (c < 0x20 || c == 0x7F) {
            // Control Pictures: U+2400 + c (U+2421 for DEL), 3 bytes E2 90 xx.
            const uint8_t low = c == 0x7F ? 0xA1 : static_cast<uint8_t>(0x80 + c);
            out += '\xE2';
            out += '\x90';
            out += static_cast<char>(low);
          } else {
            out += static_cast<char>(c);
          }
      }
      ++i;
      continue;
    }
    size_t bad = 0;
    const size_t n = utf8_sequence_length(text.substr(i), &bad);
    if (n == 0) {
      out += kReplacement;
      i += bad;
    } else {
      out.append(text.substr(i, n));
      i += n;
    }
  }
}

std::string html_escape(std::string_view text) {
  std::string out;
  append_html_escaped(out, text);
  return out;
}

}  // namespace vpipe
