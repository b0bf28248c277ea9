#pragma once

#include <algorithm>
#include <cctype>
#include <cstddef>
#include <span>
#include <string>
#include <string_view>

namespace vpipe {

/// `s` without leading and trailing ASCII white space (the "C" locale's isspace).
[[nodiscard]] inline std::string_view trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

/// `s` with ASCII letters lowered; other bytes (UTF-8 included) unchanged.
[[nodiscard]] inline std::string ascii_lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

/// Edit distance between `a` and `b` in bytes: insertions, deletions, substitutions and swaps of
/// two neighbours each count one (the optimal string alignment distance).
[[nodiscard]] size_t edit_distance(std::string_view a, std::string_view b);

/// The closest of `candidates` to `word` when it is near enough to be a typo of it (at most a
/// third of its length, at least one edit, apart); empty otherwise. For "did you mean" hints.
[[nodiscard]] std::string_view closest(std::string_view word,
                                       std::span<const std::string_view> candidates);

/// Length of the valid UTF-8 sequence at the start of `s` (not empty), or 0 when it is invalid;
/// then `*bad` is the length of its maximal invalid subpart (>= 1), which a reader replaces by
/// one U+FFFD (Unicode's "maximal subpart" practice).
[[nodiscard]] size_t utf8_sequence_length(std::string_view s, size_t* bad);

/// `text` made safe to print to a terminal or a log: the C0 controls and DEL become `\n`, `\r`,
/// `\t` or `\xNN`, the C1 controls (U+0080..U+009F) `\uNNNN`, and bytes that are not UTF-8
/// `\xNN`; everything else, UTF-8 included, is kept. A file name or a label line can then not
/// move the cursor, recolour the terminal, set its title or forge a line of the log.
[[nodiscard]] std::string terminal_safe(std::string_view text);

}  // namespace vpipe
