#pragma once

#include <algorithm>
#include <cctype>
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

}  // namespace vpipe
