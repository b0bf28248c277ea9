#include "vpipe/crawl/url_list.h"

#include <algorithm>
#include <cctype>
#include <fstream>
#include <iterator>
#include <optional>
#include <sstream>
#include <unordered_map>

#include <fmt/format.h>

#include "vpipe/core/text.h"

namespace vpipe {
namespace {

[[noreturn]] void fail(std::string_view name, size_t line, std::string_view what) {
  throw UrlListError(fmt::format("{}:{}: {}", name, line, what));
}

// ---- plain ----------------------------------------------------------------------------------

/// Calls `visit(line, line_no)` for each non-blank line of `text`, trimmed; line_no 1-based.
template <typename Visit>
void for_each_line(std::string_view text, Visit&& visit) {
  size_t line_no = 0;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t end = text.find('\n', pos);
    if (end == std::string_view::npos) end = text.size();
    ++line_no;
    const std::string_view line = trim(text.substr(pos, end - pos));
    pos = end + 1;
    if (!line.empty()) visit(line, line_no);
  }
}

std::vector<UrlRecord> parse_plain(std::string_view text) {
  std::vector<UrlRecord> out;
  for_each_line(text, [&](std::string_view line, size_t line_no) {
    if (line.front() == '#') return;
    UrlRecord r;
    r.url = std::string(line);
    r.line = line_no;
    out.push_back(std::move(r));
  });
  return out;
}

// ---- CSV / TSV (RFC 4180) ---------------------------------------------------------------------

/// Splits `text` into rows of fields. A quote opens a quoted field only at the start of a field;
/// inside one, "" is a quote and delimiters and newlines are data. CRLF and LF both end a row.
/// Each row records the line it starts on. Blank lines are skipped.
struct CsvRow {
  std::vector<std::string> fields;
  size_t line = 0;
};

std::vector<CsvRow> split_csv(std::string_view text, char delim, std::string_view name) {
  std::vector<CsvRow> rows;
  size_t line = 1;
  size_t i = 0;
  const size_t n = text.size();
  while (i < n) {
    CsvRow row;
    row.line = line;
    std::string field;
    bool row_done = false;
    bool quoted = false;  // a row with a quoted field is never blank
    while (!row_done) {
      if (i < n && text[i] == '"') {
        quoted = true;
        ++i;
        while (true) {
          if (i >= n) fail(name, row.line, "unterminated quoted field");
          if (text[i] == '"') {
            if (i + 1 < n && text[i + 1] == '"') {
              field.push_back('"');
              i += 2;
              continue;
            }
            ++i;
            break;
          }
          if (text[i] == '\n') ++line;
          field.push_back(text[i++]);
        }
        // after the closing quote: a delimiter, the end of the row, or junk (kept, leniently)
      }
      while (i < n && text[i] != delim && text[i] != '\n') {
        if (text[i] != '\r' || (i + 1 < n && text[i + 1] != '\n')) field.push_back(text[i]);
        ++i;
      }
      if (i < n && text[i] == delim) {
        row.fields.push_back(std::move(field));
        field.clear();
        ++i;
        continue;
      }
      // end of row (newline or end of text)
      row.fields.push_back(std::move(field));
      field.clear();
      if (i < n) {
        ++i;
        ++line;
      }
      row_done = true;
    }
    const bool blank = !quoted && row.fields.size() == 1 && trim(row.fields[0]).empty();
    if (!blank) rows.push_back(std::move(row));
  }
  return rows;
}

std::vector<UrlRecord> parse_delimited(std::string_view text, char delim, std::string_view name,
                                       const UrlListOptions& options) {
  std::vector<CsvRow> rows = split_csv(text, delim, name);
  std::vector<UrlRecord> out;
  if (rows.empty()) return out;
  std::vector<std::string> columns;
  size_t first_data = 0;
  size_t url_col = 0;
  if (options.header) {
    for (auto& f : rows[0].fields) columns.emplace_back(trim(f));
    first_data = 1;
    auto it = std::find(columns.begin(), columns.end(), options.url_field);
    if (it == columns.end()) {
      // a case-insensitive match, for headers like "URL"
      const std::string want = ascii_lower(options.url_field);
      it = std::find_if(columns.begin(), columns.end(),
                        [&](const std::string& c) { return ascii_lower(c) == want; });
    }
    if (it == columns.end()) {
      fail(name, rows[0].line,
           fmt::format("no column named '{}' in the header (columns: {})", options.url_field,
                       fmt::join(columns, ", ")));
    }
    url_col = static_cast<size_t>(it - columns.begin());
  } else {
    size_t col = 0;
    const std::string_view f = trim(options.url_field);
    const bool numeric = !f.empty() && std::all_of(f.begin(), f.end(), [](unsigned char c) {
      return std::isdigit(c) != 0;
    });
    if (numeric) col = std::stoul(std::string(f));
    if (col == 0) {
      fail(name, rows[0].line,
           fmt::format("without a header row the URL column must be a 1-based number, not '{}'",
                       options.url_field));
    }
    url_col = col - 1;
  }
  for (size_t r = first_data; r < rows.size(); ++r) {
    CsvRow& row = rows[r];
    if (options.header && row.fields.size() > columns.size()) {
      fail(name, row.line,
           fmt::format("{} fields, the header has {}", row.fields.size(), columns.size()));
    }
    if (url_col >= row.fields.size()) {
      fail(name, row.line, fmt::format("no field {} (the URL column); the row has {}",
                                       url_col + 1, row.fields.size()));
    }
    UrlRecord rec;
    rec.url = std::string(trim(row.fields[url_col]));
    if (rec.url.empty()) fail(name, row.line, "empty URL");
    rec.line = row.line;
    for (size_t c = 0; c < row.fields.size(); ++c) {
      if (c == url_col) continue;
      std::string key = options.header ? columns[c] : std::to_string(c + 1);
      rec.extras.emplace_back(std::move(key), std::move(row.fields[c]));
    }
    out.push_back(std::move(rec));
  }
  return out;
}

// ---- JSONL ------------------------------------------------------------------------------------

/// A small parser for one JSON object per line: top-level string and number members are kept,
/// everything else is parsed (so errors are found) and dropped.
class JsonLine {
 public:
  JsonLine(std::string_view text, std::string_view name, size_t line)
      : s_(text), name_(name), line_(line) {}

  std::vector<std::pair<std::string, std::string>> parse_object_members() {
    std::vector<std::pair<std::string, std::string>> members;
    ws();
    expect('{');
    ws();
    if (peek() == '}') {
      ++i_;
    } else {
      while (true) {
        ws();
        if (peek() != '"') error("expected a string key");
        std::string key = string();
        ws();
        expect(':');
        ws();
        std::optional<std::string> v = value(/*keep=*/true);
        if (v) members.emplace_back(std::move(key), std::move(*v));
        ws();
        if (peek() == ',') {
          ++i_;
          continue;
        }
        expect('}');
        break;
      }
    }
    ws();
    if (i_ != s_.size()) error("text after the object");
    return members;
  }

 private:
  char peek() const { return i_ < s_.size() ? s_[i_] : '\0'; }
  void ws() {
    while (i_ < s_.size() && (s_[i_] == ' ' || s_[i_] == '\t' || s_[i_] == '\r' || s_[i_] == '\n'))
      ++i_;
  }
  [[noreturn]] void error(std::string_view what) const {
    fail(name_, line_, fmt::format("invalid JSON at column {}: {}", i_ + 1, what));
  }
  void expect(char c) {
    if (peek() != c) error(fmt::format("expected '{}'", c));
    ++i_;
  }

  static void put_utf8(std::string& out, uint32_t cp) {
    if (cp < 0x80) {
      out.push_back(static_cast<char>(cp));
    } else if (cp < 0x800) {
      out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
      out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    } else if (cp < 0x10000) {
      out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
      out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
      out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    } else {
      out.push_back(static_cast<char>(0xF0 | (cp >> 18)));
      out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
      out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
      out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    }
  }

  uint32_t hex4() {
    if (i_ + 4 > s_.size()) error("short \\u escape");
    uint32_t v = 0;
    for (int k = 0; k < 4; ++k) {
      const char c = s_[i_++];
      v <<= 4;
      if (c >= '0' && c <= '9') v |= static_cast<uint32_t>(c - '0');
      else if (c >= 'a' && c <= 'f') v |= static_cast<uint32_t>(c - 'a' + 10);
      else if (c >= 'A' && c <= 'F') v |= static_cast<uint32_t>(c - 'A' + 10);
      else error("bad hex digit in \\u escape");
    }
    return v;
  }

  std::string string() {
    expect('"');
    std::string out;
    while (true) {
      if (i_ >= s_.size()) error("unterminated string");
      const char c = s_[i_++];
      if (c == '"') return out;
      if (static_cast<unsigned char>(c) < 0x20) error("control character in a string");
      if (c != '\\') {
        out.push_back(c);
        continue;
      }
      if (i_ >= s_.size()) error("unterminated escape");
      const char e = s_[i_++];
      switch (e) {
        case '"': out.push_back('"'); break;
        case '\\': out.push_back('\\'); break;
        case '/': out.push_back('/'); break;
        case 'b': out.push_back('\b'); break;
        case 'f': out.push_back('\f'); break;
        case 'n': out.push_back('\n'); break;
        case 'r': out.push_back('\r'); break;
        case 't': out.push_back('\t'); break;
        case 'u': {
          uint32_t cp = hex4();
          if (cp >= 0xD800 && cp < 0xDC00 && i_ + 1 < s_.size() && s_[i_] == '\\' &&
              s_[i_ + 1] == 'u') {
            const size_t save = i_;
            i_ += 2;
            const uint32_t lo = hex4();
            if (lo >= 0xDC00 && lo < 0xE000) {
              cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
            } else {
              i_ = save;  // a lone high surrogate: written as is (WTF-8), the next escape stays
            }
          }
          put_utf8(out, cp);
          break;
        }
        default: error("unknown escape");
      }
    }
  }

  std::string number() {
    const size_t start = i_;
    if (peek() == '-') ++i_;
    if (!std::isdigit(static_cast<unsigned char>(peek()))) error("bad number");
    while (std::isdigit(static_cast<unsigned char>(peek()))) ++i_;
    if (peek() == '.') {
      ++i_;
      if (!std::isdigit(static_cast<unsigned char>(peek()))) error("bad number");
      while (std::isdigit(static_cast<unsigned char>(peek()))) ++i_;
    }
    if (peek() == 'e' || peek() == 'E') {
      ++i_;
      if (peek() == '+' || peek() == '-') ++i_;
      if (!std::isdigit(static_cast<unsigned char>(peek()))) error("bad number");
      while (std::isdigit(static_cast<unsigned char>(peek()))) ++i_;
    }
    return std::string(s_.substr(start, i_ - start));
  }

  void literal(std::string_view word) {
    if (s_.substr(i_, word.size()) != word) error("unknown literal");
    i_ += word.size();
  }

  // Skips the members of an object (`keyed`: "key": value pairs) or an array (values) up to
  // `close`; the opening bracket is at i_.
  void skip_members(char close, bool keyed) {
    ++i_;
    ws();
    if (peek() == close) {
      ++i_;
      return;
    }
    while (true) {
      ws();
      if (keyed) {
        if (peek() != '"') error("expected a string key");
        (void)string();
        ws();
        expect(':');
        ws();
      }
      (void)value(false);
      ws();
      if (peek() == ',') {
        ++i_;
        continue;
      }
      expect(close);
      return;
    }
  }

  // Parses one value; returns its text when `keep` and it is a string or a number.
  std::optional<std::string> value(bool keep) {
    if (++depth_ > 64) error("nested too deeply");
    std::optional<std::string> out;
    const char c = peek();
    if (c == '"') {
      std::string s = string();
      if (keep) out = std::move(s);
    } else if (c == '-' || std::isdigit(static_cast<unsigned char>(c))) {
      std::string s = number();
      if (keep) out = std::move(s);
    } else if (c == '{') {
      skip_members('}', true);
    } else if (c == '[') {
      skip_members(']', false);
    } else if (c == 't') {
      literal("true");
    } else if (c == 'f') {
      literal("false");
    } else if (c == 'n') {
      literal("null");
    } else {
      error("expected a value");
    }
    --depth_;
    return out;
  }

  std::string_view s_;
  std::string_view name_;
  size_t line_;
  size_t i_ = 0;
  int depth_ = 0;
};

std::vector<UrlRecord> parse_jsonl(std::string_view text, std::string_view name,
                                   const UrlListOptions& options) {
  std::vector<UrlRecord> out;
  for_each_line(text, [&](std::string_view line, size_t line_no) {
    JsonLine parser(line, name, line_no);
    auto members = parser.parse_object_members();
    UrlRecord rec;
    rec.line = line_no;
    bool found = false;
    for (auto& [key, value] : members) {
      if (!found && key == options.url_field) {
        rec.url = std::string(trim(value));
        found = true;
      } else {
        rec.extras.emplace_back(std::move(key), std::move(value));
      }
    }
    if (!found) {
      fail(name, line_no, fmt::format("no string field '{}' (the URL field)", options.url_field));
    }
    if (rec.url.empty()) fail(name, line_no, "empty URL");
    out.push_back(std::move(rec));
  });
  return out;
}

bool ends_with_ci(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && ascii_lower(s.substr(s.size() - suffix.size())) == suffix;
}

}  // namespace

UrlListFormat url_list_format_for(std::string_view name) {
  if (ends_with_ci(name, ".csv")) return UrlListFormat::kCsv;
  if (ends_with_ci(name, ".tsv")) return UrlListFormat::kTsv;
  if (ends_with_ci(name, ".jsonl") || ends_with_ci(name, ".ndjson")) return UrlListFormat::kJsonl;
  return UrlListFormat::kPlain;
}

std::vector<UrlRecord> parse_url_list(std::string_view text, std::string_view name,
                                      const UrlListOptions& options) {
  // A UTF-8 byte-order mark (spreadsheet exports) is not part of the first field.
  if (text.substr(0, 3) == "\xEF\xBB\xBF") text.remove_prefix(3);
  UrlListFormat format = options.format;
  if (format == UrlListFormat::kAuto) format = url_list_format_for(name);
  std::vector<UrlRecord> records;
  switch (format) {
    case UrlListFormat::kCsv: records = parse_delimited(text, ',', name, options); break;
    case UrlListFormat::kTsv: records = parse_delimited(text, '\t', name, options); break;
    case UrlListFormat::kJsonl: records = parse_jsonl(text, name, options); break;
    case UrlListFormat::kPlain:
    case UrlListFormat::kAuto: records = parse_plain(text); break;
  }
  std::unordered_map<std::string_view, size_t> first;
  first.reserve(records.size());
  for (size_t i = 0; i < records.size(); ++i) {
    auto [it, inserted] = first.emplace(records[i].url, i);
    records[i].duplicate = !inserted;
    records[i].first_index = it->second;
  }
  return records;
}

std::vector<UrlRecord> read_url_list(const std::filesystem::path& path,
                                     const UrlListOptions& options) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw IoError(fmt::format("cannot read the URL list {}", path.string()));
  std::ostringstream buf;
  buf << in.rdbuf();
  if (in.bad()) throw IoError(fmt::format("error reading the URL list {}", path.string()));
  return parse_url_list(buf.str(), path.string(), options);
}

std::string request_url(std::string_view url) {
  // After "scheme://", the host ends at the first '/', '?' or '#'; a URL without "://" is left
  // as it is apart from the removals (the fetcher refuses it with a reason).
  const size_t scheme_end = url.find("://");
  size_t path_start = url.size();
  if (scheme_end != std::string_view::npos) {
    path_start = url.find_first_of("/?#", scheme_end + 3);
    if (path_start == std::string_view::npos) path_start = url.size();
  }
  std::string out;
  out.reserve(url.size());
  for (size_t i = 0; i < url.size(); ++i) {
    const auto c = static_cast<unsigned char>(url[i]);
    if (c == '\t' || c == '\n' || c == '\r') continue;
    if (i >= path_start) {
      if (c == '#') break;
      constexpr std::string_view kUnsafe = "\"<>\\^`{|}";
      if (c <= 0x20 || c >= 0x7f || kUnsafe.find(static_cast<char>(c)) != std::string_view::npos) {
        constexpr char kHex[] = "0123456789ABCDEF";
        out += '%';
        out += kHex[c >> 4];
        out += kHex[c & 0xf];
        continue;
      }
    }
    out += static_cast<char>(c);
  }
  return out;
}

}  // namespace vpipe
