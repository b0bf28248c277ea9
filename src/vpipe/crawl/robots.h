#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace vpipe {

/// The rules of one robots.txt (RFC 9309) that apply to one crawler. Immutable once parsed;
/// safe to read from many threads.
class RobotsRules {
 public:
  /// Everything allowed (no robots.txt, or it answered 4xx).
  RobotsRules() = default;

  /// Parses `text` for the crawler whose User-Agent is `user_agent`: its product token (up to
  /// the first '/' or space, case-insensitive) selects the groups naming it; without one, the
  /// groups of '*'. Consecutive User-agent lines share a group; matching groups are merged.
  /// Unknown lines and comments are ignored; nothing in the text is an error.
  [[nodiscard]] static RobotsRules parse(std::string_view text, std::string_view user_agent);

  /// Nothing allowed (robots.txt answered 5xx: RFC 9309 says assume complete disallow).
  [[nodiscard]] static RobotsRules disallow_all();

  /// True when `path` (the URL's path, with "?query" when it has one) may be fetched: the
  /// longest matching Allow/Disallow pattern decides ('*' matches any run of bytes, a trailing
  /// '$' anchors the end), Allow winning a tie; no match allows. "/robots.txt" is always allowed.
  [[nodiscard]] bool allowed(std::string_view path) const;

 private:
  struct Rule {
    bool allow = false;
    std::string pattern;
  };
  std::vector<Rule> rules_;
};

}  // namespace vpipe
