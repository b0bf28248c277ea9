#include "vpipe/pipeline/config.h"

#include <fmt/format.h>
#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <array>
#include <cassert>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstring>
#include <fstream>
#include <limits>
#include <map>
#include <optional>
#include <sstream>
#include <utility>

#include "vpipe/core/error.h"
#include "vpipe/core/json.h"
#include "vpipe/core/text.h"
#include "vpipe/pipeline/config_fields.h"

namespace vpipe {
namespace {

constexpr int kCommentWidth = 100;  // column limit of the generated YAML comments


// ---- small text helpers -------------------------------------------------------------------

std::vector<std::string_view> split_key(std::string_view key) {
  std::vector<std::string_view> parts;
  size_t start = 0;
  while (true) {
    const size_t dot = key.find('.', start);
    parts.push_back(key.substr(start, dot == std::string_view::npos ? dot : dot - start));
    if (dot == std::string_view::npos) return parts;
    start = dot + 1;
  }
}

std::string join_key(std::span<const std::string_view> parts) {
  std::string key;
  for (const std::string_view part : parts) {
    if (!key.empty()) key += '.';
    key += part;
  }
  return key;
}

/// `x` without a trailing ".0" when it is a whole number, else the shortest form that reads
/// back as the same double.
std::string format_number(double x) {
  if (std::isfinite(x) && x == std::floor(x) && std::fabs(x) < 1e15) {
    return fmt::format("{}", static_cast<int64_t>(x));
  }
  return fmt::format("{}", x);
}

std::string join(std::span<const std::string_view> words, std::string_view separator) {
  std::string out;
  for (const std::string_view word : words) {
    if (!out.empty()) out += separator;
    out += word;
  }
  return out;
}

bool is_integer_text(std::string_view text) {
  if (!text.empty() && (text[0] == '-' || text[0] == '+')) text.remove_prefix(1);
  return !text.empty() &&
         std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; });
}

/// A decimal number as YAML writes one (1, -2.5, 1e6); no hex, no .inf/.nan.
std::optional<double> parse_number(std::string_view text) {
  if (!text.empty() && text[0] == '+') text.remove_prefix(1);
  if (text.empty() || text.find_first_of("0123456789") == std::string_view::npos) return {};
  double value = 0;
  const auto [end, error] =
      std::from_chars(text.data(), text.data() + text.size(), value, std::chars_format::general);
  if (error != std::errc{} || end != text.data() + text.size() || !std::isfinite(value)) return {};
  return value;
}

/// Words YAML 1.1 parsers read as something other than a string.
bool is_yaml_special_word(std::string_view text) {
  std::string lower(text);
  std::transform(lower.begin(), lower.end(), lower.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  static constexpr std::string_view kWords[] = {"true", "false", "yes", "no", "on",
                                                "off",  "null",  "y",   "n",  "~"};
  return std::find(std::begin(kWords), std::end(kWords), lower) != std::end(kWords);
}

/// `text` as a YAML scalar: plain when that reads back as the same string, else double-quoted.
std::string yaml_scalar(std::string_view text) {
  const auto plain_char = [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '/' ||
           c == '.' || c == '_' || c == '-' || c == '+' || c == ':' || c == '@' || c == '=';
  };
  const bool plain = !text.empty() && std::all_of(text.begin(), text.end(), plain_char) &&
                     text[0] != '-' && text[0] != ':' && text.back() != ':' &&
                     !is_yaml_special_word(text) && !parse_number(text) && !is_integer_text(text);
  if (plain) return std::string(text);
  std::string out = "\"";
  for (const char ch : text) {
    const auto c = static_cast<unsigned char>(ch);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += ch;
    } else if (c < 0x20 || c == 0x7f) {
      out += fmt::format("\\x{:02x}", c);
    } else {
      out += ch;  // UTF-8 passes through; YAML streams are UTF-8
    }
  }
  out += '"';
  return out;
}



std::string yaml_value(const ConfigValue& value) {
  struct Visitor {
    std::string operator()(bool b) const { return b ? "true" : "false"; }
    std::string operator()(int64_t i) const { return fmt::format("{}", i); }
    std::string operator()(double d) const { return format_number(d); }
    std::string operator()(const std::string& s) const { return yaml_scalar(s); }
    std::string operator()(const std::vector<std::string>& list) const {
      std::string out = "[";
      for (size_t i = 0; i < list.size(); ++i) {
        if (i > 0) out += ", ";
        out += yaml_scalar(list[i]);
      }
      return out + "]";
    }
  };
  return std::visit(Visitor{}, value);
}

std::string json_value(const ConfigValue& value) {
  struct Visitor {
    std::string operator()(bool b) const { return b ? "true" : "false"; }
    std::string operator()(int64_t i) const { return fmt::format("{}", i); }
    std::string operator()(double d) const { return format_number(d); }
    std::string operator()(const std::string& s) const { return json_quote(s); }
    std::string operator()(const std::vector<std::string>& list) const {
      std::string out = "[";
      for (size_t i = 0; i < list.size(); ++i) {
        if (i > 0) out += ",";
        out += json_quote(list[i]);
      }
      return out + "]";
    }
  };
  return std::visit(Visitor{}, value);
}

/// `text` as comment lines of at most kCommentWidth columns, each starting with `indent`.
std::string comment_lines(std::string_view text, std::string_view indent) {
  std::string out;
  std::string line;
  const size_t width = kCommentWidth - indent.size() - 2;
  std::istringstream words{std::string(text)};
  std::string word;
  while (words >> word) {
    if (!line.empty() && line.size() + 1 + word.size() > width) {
      out += fmt::format("{}# {}\n", indent, line);
      line.clear();
    }
    if (!line.empty()) line += ' ';
    line += word;
  }
  if (!line.empty()) out += fmt::format("{}# {}\n", indent, line);
  return out;
}

const ConfigSection* find_section(std::string_view key) {
  for (const ConfigSection& section : pipeline_config_sections()) {
    if (section.key == key) return &section;
  }
  return nullptr;
}

const ConfigField* find_field(std::string_view key) {
  for (const ConfigField& field : pipeline_config_fields()) {
    if (field.key == key) return &field;
  }
  return nullptr;
}

/// True when some field lies under `key` (so `key` names a section).
bool is_section_key(std::string_view key) {
  for (const ConfigField& field : pipeline_config_fields()) {
    if (field.key.size() > key.size() && field.key.starts_with(key) && field.key[key.size()] == '.')
      return true;
  }
  return false;
}

/// The names directly under section `prefix` ("" = the top level), in schema order.
std::vector<std::string_view> child_names(std::string_view prefix) {
  std::vector<std::string_view> names;
  for (const ConfigField& field : pipeline_config_fields()) {
    std::string_view rest = field.key;
    if (!prefix.empty()) {
      if (!(rest.size() > prefix.size() && rest.starts_with(prefix) && rest[prefix.size()] == '.'))
        continue;
      rest.remove_prefix(prefix.size() + 1);
    }
    const std::string_view name = rest.substr(0, rest.find('.'));
    if (std::find(names.begin(), names.end(), name) == names.end()) names.push_back(name);
  }
  return names;
}

/// Walks the schema in order, calling `open(section_key, depth)` when a section starts,
/// `close(depth)` when it ends and `field(field, depth)` for each key (depth 0 = top level).
template <typename Open, typename Close, typename Field>
void walk_schema(Open open, Close close, Field field_fn) {
  std::vector<std::string_view> open_parts;
  const auto close_to = [&](size_t depth) {
    while (open_parts.size() > depth) {
      open_parts.pop_back();
      close(open_parts.size());
    }
  };
  for (const ConfigField& field : pipeline_config_fields()) {
    std::vector<std::string_view> parts = split_key(field.key);
    parts.pop_back();
    size_t common = 0;
    while (common < parts.size() && common < open_parts.size() &&
           parts[common] == open_parts[common]) {
      ++common;
    }
    close_to(common);
    while (open_parts.size() < parts.size()) {
      open_parts.push_back(parts[open_parts.size()]);
      open(join_key(open_parts), open_parts.size() - 1);
    }
    field_fn(field, open_parts.size());
  }
  close_to(0);
}

// ---- the parser ---------------------------------------------------------------------------

/// Counts the documents of a YAML stream without building them. yaml-cpp 0.7's LoadAll loops
/// forever, allocating, on a token that starts no node (a stray ',' at the top level:
/// jbeder/yaml-cpp#1040, fixed after 0.8): every call of HandleNextDocument then reports a null
/// document at the same place. Here a document that starts where the previous one started has
/// consumed nothing, and is a syntax error at that mark. Found by fuzz/config_yaml_fuzzer.cpp.
class DocumentCounter final : public YAML::EventHandler {
 public:
  /// The number of documents in `text`. Throws YAML::ParserException on a syntax error.
  static size_t count(const std::string& text) {
    std::istringstream stream(text);
    YAML::Parser parser(stream);
    DocumentCounter counter;
    while (parser.HandleNextDocument(counter)) {
    }
    return counter.documents_;
  }

  void OnDocumentStart(const YAML::Mark& mark) override {
    if (documents_ > 0 && mark.pos == previous_start_) {
      throw YAML::ParserException(mark, "unexpected character: it starts no value");
    }
    previous_start_ = mark.pos;
    ++documents_;
  }
  void OnDocumentEnd() override {}
  void OnNull(const YAML::Mark&, YAML::anchor_t) override {}
  void OnAlias(const YAML::Mark&, YAML::anchor_t) override {}
  void OnScalar(const YAML::Mark&, const std::string&, YAML::anchor_t,
                const std::string&) override {}
  void OnSequenceStart(const YAML::Mark&, const std::string&, YAML::anchor_t,
                       YAML::EmitterStyle::value) override {}
  void OnSequenceEnd() override {}
  void OnMapStart(const YAML::Mark&, const std::string&, YAML::anchor_t,
                  YAML::EmitterStyle::value) override {}
  void OnMapEnd() override {}

 private:
  size_t documents_ = 0;
  int previous_start_ = -1;
};

class ConfigParser {
 public:
  ConfigParser(std::string_view source, std::filesystem::path base_dir)
      : source_(source), base_dir_(std::move(base_dir)) {
    config_.source = std::string(source);
  }
  /// A parser whose keys land on `base` (an override): the config's other keys stay as they
  /// are, and the whole-config checks (required keys, ingest.out) are left to the caller.
  ConfigParser(std::string_view source, std::filesystem::path base_dir, PipelineConfig base)
      : source_(source), base_dir_(std::move(base_dir)), config_(std::move(base)),
        override_(true) {}

  PipelineConfig parse(std::string_view text) {
    // The documents are counted first, then the one there may be is loaded: LoadAll is not safe
    // on every input (DocumentCounter).
    const std::string yaml(text);
    YAML::Node document;
    size_t documents = 0;
    try {
      documents = DocumentCounter::count(yaml);
      if (documents == 1) document = YAML::Load(yaml);
    } catch (const YAML::ParserException& e) {
      fail(e.mark.line, fmt::format("YAML syntax error: {}", e.msg));
    } catch (const YAML::Exception& e) {
      fail(e.mark.line, fmt::format("cannot read YAML: {}", e.msg));
    }
    if (documents > 1) fail(-1, fmt::format("expected one YAML document, found {}", documents));
    if (documents == 1) read_section(document, "", 0);
    if (override_) return std::move(config_);
    for (const ConfigField& field : pipeline_config_fields()) {
      if (!field.required) continue;
      const ConfigValue value = field.get(config_);
      if (std::get<std::string>(value).empty()) {
        fail(-1, fmt::format("missing required key '{}': {}", field.key, field.doc));
      }
    }
    if (!config_.ingest.urls.empty() && config_.ingest.out.empty()) {
      fail(-1, "`ingest.urls` needs `ingest.out`, the folder the images are downloaded to");
    }
    return std::move(config_);
  }

 private:
  [[noreturn]] void fail(int line0, const std::string& message) const {
    // An override's line is of the YAML made from it: the override names the place already.
    if (line0 < 0 || override_) throw ConfigError(fmt::format("{}: {}", source_, message));
    throw ConfigError(fmt::format("{}:{}: {}", source_, line0 + 1, message));
  }

  /// How a value that was not what a key expects is shown in the message.
  static std::string describe_node(const YAML::Node& node) {
    switch (node.Type()) {
      case YAML::NodeType::Null:
        return "no value";
      case YAML::NodeType::Sequence:
        return "a list";
      case YAML::NodeType::Map:
        return "a map";
      case YAML::NodeType::Scalar: {
        std::string text = node.Scalar();
        if (text.size() > 60) text = text.substr(0, 57) + "...";
        if (is_quoted(node)) return fmt::format("the quoted string \"{}\"", text);
        return fmt::format("'{}'", text);
      }
      default:
        return "nothing";
    }
  }

  static bool is_quoted(const YAML::Node& node) { return node.Tag() == "!"; }

  static bool is_plain_scalar(const YAML::Node& node) {
    return node.IsScalar() && !is_quoted(node);
  }

  /// The line a value's message points at: the value's own, unless it has none (an empty
  /// value's mark points at the next token), then the key's.
  static int line_of(const YAML::Node& value, const YAML::Node& key) {
    if (value.IsNull() || value.Mark().line < 0) return key.Mark().line;
    return value.Mark().line;
  }

  void read_section(const YAML::Node& node, const std::string& prefix, int line0) {
    if (node.IsNull()) return;  // an empty section: every key takes its default
    if (!node.IsMap()) {
      const std::string names = join(child_names(prefix), ", ");
      if (prefix.empty()) {
        fail(node.Mark().line < 0 ? line0 : node.Mark().line,
             fmt::format("expected a map of keys ({}), got {}", names, describe_node(node)));
      }
      fail(line0, fmt::format("{}: expected a section (a map of keys: {}), got {}", prefix, names,
                              describe_node(node)));
    }
    std::map<std::string, int> seen_on_line;
    for (auto it = node.begin(); it != node.end(); ++it) {
      // Copies: it-> yields a proxy that dies at the end of the expression.
      const YAML::Node key = it->first;
      const YAML::Node value = it->second;
      const int key_line = key.Mark().line;
      if (!key.IsScalar()) fail(key_line, "a key must be a plain name");
      const std::string& name = key.Scalar();
      const std::string full = prefix.empty() ? name : fmt::format("{}.{}", prefix, name);
      const auto [seen, inserted] = seen_on_line.emplace(name, key_line + 1);
      if (!inserted) {
        fail(key_line,
             fmt::format("duplicate key '{}' (first given on line {})", full, seen->second));
      }
      if (const ConfigField* field = find_field(full)) {
        read_field(*field, key, value);
      } else if (is_section_key(full)) {
        read_section(value, full, key_line);
      } else {
        fail(key_line, fmt::format("unknown key '{}'{}", full, suggestion(name, prefix)));
      }
    }
  }

  /// " (did you mean 'x'?)" for a typo of a sibling, or for a key that belongs to another
  /// section; empty when nothing is close.
  static std::string suggestion(std::string_view name, std::string_view prefix) {
    const std::vector<std::string_view> siblings = child_names(prefix);
    if (const std::string_view close = closest(name, siblings); !close.empty()) {
      return fmt::format(" (did you mean '{}'?)", close);
    }
    std::vector<std::string> elsewhere;
    for (const ConfigField& field : pipeline_config_fields()) {
      const std::vector<std::string_view> parts = split_key(field.key);
      for (size_t depth = 0; depth < parts.size(); ++depth) {
        if (parts[depth] != name) continue;
        std::string key = join_key(std::span(parts).first(depth + 1));
        if (std::find(elsewhere.begin(), elsewhere.end(), key) == elsewhere.end()) {
          elsewhere.push_back(std::move(key));
        }
      }
    }
    if (elsewhere.empty()) return {};
    std::string quoted;
    for (size_t i = 0; i < elsewhere.size(); ++i) {
      if (i > 0) quoted += " or ";
      quoted += fmt::format("'{}'", elsewhere[i]);
    }
    return fmt::format(" (did you mean {}?)", quoted);
  }

  [[noreturn]] void fail_expected(const ConfigField& field, const YAML::Node& key,
                                  const YAML::Node& value, std::string_view extra = {}) const {
    fail(line_of(value, key), fmt::format("{}: expected {}, got {}{}", field.key, field.describe(),
                                          describe_node(value), extra));
  }

  std::string resolve(const ConfigField& field, std::string path) const {
    if (path.empty() || base_dir_.empty()) return path;
    if (field.dash_is_stdin && path == "-") return path;
    const std::filesystem::path p(path);
    if (p.is_absolute()) return path;
    return (base_dir_ / p).lexically_normal().string();
  }

  void read_field(const ConfigField& field, const YAML::Node& key, const YAML::Node& value) {
    using T = ConfigFieldType;
    switch (field.type) {
      case T::kBool: {
        static constexpr std::string_view kTrue[] = {"true", "True", "TRUE"};
        static constexpr std::string_view kFalse[] = {"false", "False", "FALSE"};
        const std::string text = is_plain_scalar(value) ? value.Scalar() : "";
        if (std::find(std::begin(kTrue), std::end(kTrue), text) != std::end(kTrue)) {
          field.set(config_, ConfigValue{true});
        } else if (std::find(std::begin(kFalse), std::end(kFalse), text) != std::end(kFalse)) {
          field.set(config_, ConfigValue{false});
        } else {
          fail_expected(field, key, value);
        }
        return;
      }
      case T::kInt: {
        if (!is_plain_scalar(value) || !is_integer_text(value.Scalar())) {
          fail_expected(field, key, value);
        }
        std::string_view text = value.Scalar();
        if (text[0] == '+') text.remove_prefix(1);
        int64_t number = 0;
        const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), number);
        if (error != std::errc{} || end != text.data() + text.size() ||
            static_cast<double>(number) < field.min || static_cast<double>(number) > field.max) {
          fail_expected(field, key, value);
        }
        field.set(config_, ConfigValue{number});
        return;
      }
      case T::kNumber: {
        const std::optional<double> number =
            is_plain_scalar(value) ? parse_number(value.Scalar()) : std::nullopt;
        if (!number || *number > field.max || *number < field.min ||
            (field.min_exclusive && *number == field.min)) {
          fail_expected(field, key, value);
        }
        field.set(config_, ConfigValue{*number});
        return;
      }
      case T::kString:
      case T::kPath:
      case T::kChoice: {
        if (!value.IsNull() && !value.IsScalar()) fail_expected(field, key, value);
        std::string text = value.IsNull() ? "" : value.Scalar();
        if (field.type == T::kString && field.check && !field.check(text)) {
          fail_expected(field, key, value);
        }
        if (field.type == T::kChoice) {
          if (std::find(field.choices.begin(), field.choices.end(), text) == field.choices.end()) {
            const std::string_view close = closest(text, field.choices);
            fail_expected(field, key, value,
                          close.empty() ? "" : fmt::format(" (did you mean '{}'?)", close));
          }
        }
        if (field.type == T::kPath) {
          if (field.required && text.empty()) {
            fail(line_of(value, key),
                 fmt::format("{}: expected a path, got {}", field.key, describe_node(value)));
          }
          text = resolve(field, std::move(text));
        }
        field.set(config_, ConfigValue{std::move(text)});
        return;
      }
      case T::kPathList:
      case T::kChoiceList:
        read_list(field, key, value);
        return;
    }
  }

  void read_list(const ConfigField& field, const YAML::Node& key, const YAML::Node& value) {
    const bool paths = field.type == ConfigFieldType::kPathList;
    std::vector<YAML::Node> items;
    if (value.IsScalar()) {
      items.push_back(value);
    } else if (value.IsSequence()) {
      for (const YAML::Node& item : value) items.push_back(item);
    } else if (!(paths && value.IsNull())) {
      fail_expected(field, key, value);
    }
    if (!paths && items.empty()) {
      fail(line_of(value, key),
           fmt::format("{}: expected {}, got an empty list", field.key, field.describe()));
    }
    std::vector<std::string> list;
    for (const YAML::Node& item : items) {
      const int line = line_of(item, key);
      if (!item.IsScalar() || item.Scalar().empty()) {
        fail(line, fmt::format("{}: expected {} in the list, got {}", field.key,
                               paths ? "a path" : "a name", describe_node(item)));
      }
      std::string text = item.Scalar();
      if (paths) {
        list.push_back(resolve(field, std::move(text)));
        continue;
      }
      if (std::find(field.choices.begin(), field.choices.end(), text) == field.choices.end()) {
        const std::string_view close = closest(text, field.choices);
        fail(line, fmt::format("{}: unknown entry '{}', expected one of {}{}", field.key, text,
                               join(field.choices, ", "),
                               close.empty() ? "" : fmt::format(" (did you mean '{}'?)", close)));
      }
      if (std::find(list.begin(), list.end(), text) != list.end()) {
        fail(line, fmt::format("{}: '{}' is listed twice; each entry may appear at most once",
                               field.key, text));
      }
      list.push_back(std::move(text));
    }
    field.set(config_, ConfigValue{std::move(list)});
  }

  std::string_view source_;
  std::filesystem::path base_dir_;
  PipelineConfig config_;
  bool override_ = false;
};

}  // namespace

std::string ConfigField::describe(bool article) const {
  std::string text;
  const auto range = [&](std::string_view noun) {
    if (min_exclusive) {
      std::string out = fmt::format("{} > {}", noun, format_number(min));
      if (std::isfinite(max)) out += fmt::format(" and <= {}", format_number(max));
      return out;
    }
    if (!std::isfinite(max)) return fmt::format("{} >= {}", noun, format_number(min));
    return fmt::format("{} {}..{}", noun, format_number(min), format_number(max));
  };
  switch (type) {
    case ConfigFieldType::kBool:
      return "true or false";
    case ConfigFieldType::kInt:
      text = range("an integer");
      break;
    case ConfigFieldType::kNumber:
      text = range("a number");
      break;
    case ConfigFieldType::kString:
      if (!expected.empty()) return std::string(expected);
      text = "a string";
      break;
    case ConfigFieldType::kPath:
      text = "a path";
      break;
    case ConfigFieldType::kChoice:
      return fmt::format("one of {}", join(choices, ", "));
    case ConfigFieldType::kPathList:
      return article ? "a path or a list of paths" : "path or list of paths";
    case ConfigFieldType::kChoiceList:
      text = fmt::format("a list of distinct names from {}", join(choices, ", "));
      break;
  }
  if (!article) {
    if (text.starts_with("a ")) return text.substr(2);
    if (text.starts_with("an ")) return text.substr(3);
  }
  return text;
}

std::span<const ConfigField> pipeline_config_fields() {
  static const std::vector<ConfigField> fields = config_detail::build_fields();
  return fields;
}

std::span<const ConfigSection> pipeline_config_sections() { return config_detail::config_sections(); }

std::vector<ConfigValue> pipeline_config_values(const PipelineConfig& config) {
  std::vector<ConfigValue> values;
  for (const ConfigField& field : pipeline_config_fields()) values.push_back(field.get(config));
  return values;
}

PipelineConfig parse_pipeline_config(std::string_view yaml_text, std::string_view source_name,
                                     const std::filesystem::path& base_dir) {
  return ConfigParser(source_name, base_dir).parse(yaml_text);
}

void apply_config_overrides(PipelineConfig& config, std::span<const std::string> overrides) {
  std::error_code error;
  const std::filesystem::path cwd = std::filesystem::current_path(error);
  PipelineConfig result = config;  // all or nothing
  for (const std::string& text : overrides) {
    const std::string source = "--set " + text;
    const size_t equals = text.find('=');
    if (equals == std::string::npos || equals == 0) {
      throw ConfigError(fmt::format("{}: expected key=value, as dedup.phash_threshold=8", source));
    }
    const std::string_view key = std::string_view(text).substr(0, equals);
    const std::string_view value = std::string_view(text).substr(equals + 1);
    // The key as nested YAML maps around the value, read by the YAML reader itself: the same
    // types, ranges, suggestions and path resolution (against the current directory) as a file.
    const std::vector<std::string_view> parts = split_key(key);
    std::string yaml;
    for (size_t depth = 0; depth < parts.size(); ++depth) {
      if (parts[depth].empty()) throw ConfigError(fmt::format("{}: empty key part", source));
      yaml += std::string(2 * depth, ' ') + std::string(parts[depth]) + ":";
      yaml += depth + 1 < parts.size() ? "\n" : " ";
    }
    yaml += value;
    yaml += "\n";
    result = ConfigParser(source, error ? std::filesystem::path() : cwd, std::move(result))
                 .parse(yaml);
  }
  config = std::move(result);
}

PipelineConfig load_pipeline_config(const std::filesystem::path& yaml_file) {
  std::error_code error;
  if (std::filesystem::is_directory(yaml_file, error)) {
    throw IoError(
        fmt::format("cannot read pipeline config '{}': it is a directory", yaml_file.string()));
  }
  std::ifstream in(yaml_file, std::ios::binary);
  if (!in) {
    throw IoError(fmt::format("cannot read pipeline config '{}': {}", yaml_file.string(),
                              std::strerror(errno)));
  }
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) {
    throw IoError(fmt::format("cannot read pipeline config '{}'", yaml_file.string()));
  }
  const std::filesystem::path base_dir = std::filesystem::absolute(yaml_file, error).parent_path();
  return parse_pipeline_config(text.str(), yaml_file.string(),
                               error ? yaml_file.parent_path() : base_dir);
}

std::string pipeline_config_json(const PipelineConfig& config) {
  std::string out = "{\"source\":" + json_quote(config.source);
  std::vector<bool> object_is_empty = {false};  // one entry per open object; "source" is in
  const auto member = [&](std::string_view key) {
    if (!object_is_empty.back()) out += ',';
    object_is_empty.back() = false;
    out += json_quote(split_key(key).back());
    out += ':';
  };
  walk_schema(
      [&](const std::string& section, size_t) {
        member(section);
        out += '{';
        object_is_empty.push_back(true);
      },
      [&](size_t) {
        out += '}';
        object_is_empty.pop_back();
      },
      [&](const ConfigField& field, size_t) {
        member(field.key);
        out += json_value(field.get(config));
      });
  return out + "}";
}

std::string pipeline_config_yaml(const PipelineConfig& config) {
  std::string out =
      "# vpipe pipeline configuration (`vpipe run pipeline.yaml`); reference: docs/CONFIG.md.\n"
      "# Keys left out take the defaults shown here. Relative paths are relative to the\n"
      "# directory of this file.\n";
  walk_schema(
      [&](const std::string& section, size_t depth) {
        const std::string indent(2 * depth, ' ');
        if (depth == 0) out += '\n';
        if (const ConfigSection* s = find_section(section)) out += comment_lines(s->doc, indent);
        out += fmt::format("{}{}:\n", indent, split_key(section).back());
      },
      [](size_t) {},
      [&](const ConfigField& field, size_t depth) {
        const std::string indent(2 * depth, ' ');
        if (depth == 0) out += '\n';
        out += comment_lines(field.doc, indent);
        out += fmt::format("{}{}: {}\n", indent, split_key(field.key).back(),
                           yaml_value(field.get(config)));
      });
  return out;
}

std::string pipeline_config_reference_markdown() {
  const PipelineConfig defaults;
  const auto cell = [](std::string_view text) {
    std::string out;
    for (const char c : text) {
      if (c == '|') out += '\\';
      out += c;
    }
    return out;
  };
  const auto table_header = "| key | type | default | meaning |\n|---|---|---|---|\n";
  std::string out;
  std::string group = "-";  // the top-level section whose table is open
  walk_schema(
      [&](const std::string& section, size_t depth) {
        const ConfigSection* s = find_section(section);
        if (depth == 0) {
          group = section;
          out += fmt::format("\n### `{}`\n\n", section);
          if (s != nullptr) out += fmt::format("{}\n\n", s->doc);
          out += table_header;
          return;
        }
        out += fmt::format("| `{}` | section | | {} |\n", section, s ? cell(s->doc) : "");
      },
      [](size_t) {},
      [&](const ConfigField& field, size_t depth) {
        if (depth == 0 && !group.empty()) {
          group.clear();
          out += "\n### Top level\n\n";
          out += table_header;
        }
        const ConfigValue value = field.get(defaults);
        const bool required_unset = field.required && std::holds_alternative<std::string>(value) &&
                                    std::get<std::string>(value).empty();
        const std::string shown =
            required_unset ? "required" : fmt::format("`{}`", cell(yaml_value(value)));
        out += fmt::format("| `{}` | {} | {} | {} |\n", field.key, cell(field.describe(false)),
                           shown, cell(field.doc));
      });
  out.erase(0, out.find_first_not_of('\n'));
  return out;
}

PipelineConfig default_pipeline_config_example() {
  PipelineConfig config;
  config.manifest = "run.db";
  return config;
}

}  // namespace vpipe
