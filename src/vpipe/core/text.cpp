#include "vpipe/core/text.h"

#include <algorithm>
#include <cstdint>
#include <limits>
#include <vector>

#include <fmt/format.h>

namespace vpipe {

size_t edit_distance(std::string_view a, std::string_view b) {
  // Three rows of the matrix: an adjacent transposition ("dedpu") is one edit, as people type.
  const size_t n = b.size();
  std::vector<size_t> before(n + 1);
  std::vector<size_t> above(n + 1);
  std::vector<size_t> row(n + 1);
  for (size_t j = 0; j <= n; ++j) above[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    row[0] = i;
    for (size_t j = 1; j <= n; ++j) {
      row[j] = std::min({above[j] + 1, row[j - 1] + 1, above[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1)});
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1]) {
        row[j] = std::min(row[j], before[j - 2] + 1);
      }
    }
    std::swap(before, above);
    std::swap(above, row);
  }
  return above[n];
}

std::string_view closest(std::string_view word, std::span<const std::string_view> candidates) {
  std::string_view best;
  size_t best_distance = std::numeric_limits<size_t>::max();
  for (const std::string_view candidate : candidates) {
    const size_t distance = edit_distance(word, candidate);
    if (distance < best_distance) {
      best = candidate;
      best_distance = distance;
    }
  }
  if (best.empty() || best_distance > std::max<size_t>(1, best.size() / 3)) return {};
  return best;
}

size_t utf8_sequence_length(std::string_view s, size_t* bad) {
  const auto byte = [&](size_t i) { return static_cast<uint8_t>(s[i]); };
  const uint8_t lead = byte(0);
  size_t need = 0;
  // Allowed range of the second byte (Unicode Table 3-7): excludes overlong forms, surrogates
  // and code points above U+10FFFF.
  uint8_t lo = 0x80;
  uint8_t hi = 0xBF;
  if (lead >= 0xC2 && lead <= 0xDF) {
    need = 1;
  } else if (lead >= 0xE0 && lead <= 0xEF) {
    need = 2;
    if (lead == 0xE0) lo = 0xA0;
    if (lead == 0xED) hi = 0x9F;
  } else if (lead >= 0xF0 && lead <= 0xF4) {
    need = 3;
    if (lead == 0xF0) lo = 0x90;
    if (lead == 0xF4) hi = 0x8F;
  } else {
    *bad = 1;
    return 0;
  }
  for (size_t i = 1; i <= need; ++i) {
    const bool ok =
        i < s.size() && byte(i) >= (i == 1 ? lo : 0x80) && byte(i) <= (i == 1 ? hi : 0xBF);
    if (!ok) {
      *bad = i;
      return 0;
    }
  }
  return need + 1;
}

std::string terminal_safe(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  const auto escape = [&](uint8_t c) {
    switch (c) {
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        fmt::format_to(std::back_inserter(out), "\\x{:02x}", c);
    }
  };
  size_t i = 0;
  while (i < text.size()) {
    const auto c = static_cast<uint8_t>(text[i]);
    if (c < 0x20 || c == 0x7F) {
      escape(c);
      ++i;
    } else if (c < 0x80) {
      out += static_cast<char>(c);
      ++i;
    } else {
      size_t bad = 0;
      const size_t n = utf8_sequence_length(text.substr(i), &bad);
      if (n == 0) {
        for (size_t k = 0; k < bad; ++k) escape(static_cast<uint8_t>(text[i + k]));
        i += bad;
      } else if (c == 0xC2 && static_cast<uint8_t>(text[i + 1]) < 0xA0) {
        // U+0080..U+009F, the C1 controls (U+009B is CSI): as their code point.
        fmt::format_to(std::back_inserter(out), "\\u{:04x}", static_cast<uint8_t>(text[i + 1]));
        i += 2;
      } else {
        out.append(text.substr(i, n));
        i += n;
      }
    }
  }
  return out;
}

}  // namespace vpipe
