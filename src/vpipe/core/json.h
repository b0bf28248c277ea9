#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>

namespace vpipe {

/// `text` as a JSON string literal, quotes included (RFC 8259), for every JSON vpipe writes
/// (exports, the runs table's config, traces, `--json` output). Quotes, backslashes and control
/// characters are escaped; valid UTF-8 is kept as it is; a byte that is not part of valid UTF-8
/// becomes the escape \udcXX (XX = the byte), the "surrogateescape" convention, so a path that
/// is not UTF-8 still gives valid JSON and Python's `os.fsencode(json.loads(s))` returns its
/// exact bytes. Thread-safe (pure function).
[[nodiscard]] std::string json_quote(std::string_view text);

/// One JSON object, written key by key in the order given, on one line: what `--json` prints.
/// Keys are written through json_quote; a key added twice appears twice (callers do not).
///
///   JsonObject o;
///   o.add("command", "scan").add("scanned", s.scanned).add("statuses", s.status_counts);
///   fmt::print("{}\n", o.str());
class JsonObject {
 public:
  JsonObject& add(std::string_view key, std::string_view value);
  JsonObject& add(std::string_view key, const char* value) { return add(key, std::string_view(value)); }
  JsonObject& add(std::string_view key, const std::string& value) {
    return add(key, std::string_view(value));
  }
  JsonObject& add(std::string_view key, int64_t value);
  JsonObject& add(std::string_view key, int value) { return add(key, int64_t{value}); }
  JsonObject& add(std::string_view key, uint64_t value);
  /// A finite number with up to 17 significant digits; NaN and infinities become null.
  JsonObject& add(std::string_view key, double value);
  JsonObject& add(std::string_view key, bool value);
  /// An object of name -> count.
  JsonObject& add(std::string_view key, const std::map<std::string, int64_t>& counts);
  JsonObject& add(std::string_view key, const JsonObject& object);
  /// `json` as it is: an array or any value the caller wrote as JSON.
  JsonObject& add_raw(std::string_view key, std::string_view json);

  /// The object: "{...}".
  [[nodiscard]] std::string str() const { return body_.empty() ? "{}" : body_ + "}"; }

 private:
  void key(std::string_view name);
  std::string body_;  ///< "{" and the members written so far; empty before the first
};

}  // namespace vpipe
