#pragma once

// URL lists: the input of the crawler (issue 6). Plain lists, CSV/TSV and JSONL, each record a
// URL plus the other columns (caption, license, source...) carried as key/value extras for the
// manifest.

#include <cstddef>
#include <filesystem>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "vpipe/core/error.h"

namespace vpipe {

/// A URL list cannot be parsed. The message starts with "FILE:LINE: " (the line where the
/// offending record starts, 1-based) and says what is wrong.
class UrlListError : public ConfigError {
 public:
  using ConfigError::ConfigError;
};

enum class UrlListFormat : uint8_t {
  kAuto,   ///< from the extension: .csv, .tsv, .jsonl / .ndjson; anything else is kPlain
  kPlain,  ///< one URL per line; blank lines and lines starting with '#' are skipped
  kCsv,    ///< RFC 4180: comma-separated, "quoted" fields ("" is a quote, newlines allowed)
  kTsv,    ///< as kCsv with tabs between fields
  kJsonl,  ///< one flat JSON object per line
};

/// How to read a URL list.
struct UrlListOptions {
  UrlListFormat format = UrlListFormat::kAuto;
  /// CSV/TSV column or JSONL field holding the URL. For CSV/TSV without a header row, the
  /// 1-based column number ("2").
  std::string url_field = "url";
  /// CSV/TSV: the first row names the columns. Without one, extras are named "1", "2", ...
  bool header = true;
};

/// One URL of a list, with where it came from and what came with it.
struct UrlRecord {
  std::string url;  ///< as written, surrounding whitespace trimmed
  /// The other columns (CSV/TSV) or the other top-level string and number fields (JSONL), in
  /// file order. Numbers keep their JSON text; booleans, null, arrays and objects are left out.
  std::vector<std::pair<std::string, std::string>> extras;
  size_t line = 0;  ///< 1-based line where the record starts
  /// True when an earlier record of the same list has the same URL: the crawler fetches it once.
  bool duplicate = false;
  size_t first_index = 0;  ///< index of the first record with this URL (its own when not a duplicate)
};

/// `url` as a browser sends it (the WHATWG URL standard's percent-encoding, as img2dataset's
/// requests do): tabs and newlines inside are removed, a `#fragment` is dropped, and after the
/// host every space, control, non-ASCII byte and `"<>\^`{|}` becomes %XX (upper-case hex).
/// Existing %XX escapes and everything up to the end of the host stay as written (a host is
/// the fetcher's to judge). A URL with nothing to encode is returned unchanged.
[[nodiscard]] std::string request_url(std::string_view url);

/// Reads the list at `path`. Throws IoError when the file cannot be read and UrlListError
/// (naming the file and line) when a record is malformed: an unterminated quote, a row with
/// more fields than the header, invalid JSON, a missing or empty URL field, a missing URL
/// column in the header. A bad URL itself (unknown scheme, no host) is not an error here: the
/// fetcher fails that record with a reason. Thread-safe (no shared state).
[[nodiscard]] std::vector<UrlRecord> read_url_list(const std::filesystem::path& path,
                                                   const UrlListOptions& options = {});

/// As read_url_list, from `text` already in memory; `name` is the file name used in errors and
/// to pick the format when options.format is kAuto.
[[nodiscard]] std::vector<UrlRecord> parse_url_list(std::string_view text, std::string_view name,
                                                    const UrlListOptions& options = {});

/// The format kAuto picks for `name`.
[[nodiscard]] UrlListFormat url_list_format_for(std::string_view name);

}  // namespace vpipe
