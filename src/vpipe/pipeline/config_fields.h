#pragma once

// Private to vpipe_pipeline: the builders of the configuration schema's fields (ConfigField,
// config.h) and the schema itself (config_fields.cpp), apart from the machinery that reads,
// checks and writes it (config.cpp).

#include <algorithm>
#include <array>
#include <cassert>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include "vpipe/core/device.h"
#include "vpipe/core/error.h"
#include "vpipe/pipeline/config.h"

namespace vpipe::config_detail {

// ---- schema builders ------------------------------------------------------------------------
// Each takes `ref`, a generic lambda `[](auto& c) -> auto& { return c.member; }`: called on a
// const PipelineConfig it reads, on a mutable one it writes, so one accessor serves get and set.

inline ConfigField make_field(std::string_view key, ConfigFieldType type, std::string_view doc) {
  ConfigField field;
  field.key = key;
  field.type = type;
  field.doc = doc;
  return field;
}

template <typename Ref>
ConfigField bool_field(std::string_view key, Ref ref, std::string_view doc) {
  ConfigField field = make_field(key, ConfigFieldType::kBool, doc);
  field.get = [ref](const PipelineConfig& c) { return ConfigValue{bool{ref(c)}}; };
  field.set = [ref](PipelineConfig& c, const ConfigValue& v) { ref(c) = std::get<bool>(v); };
  return field;
}

template <typename Ref>
ConfigField int_field(std::string_view key, Ref ref, int min, int max, std::string_view doc) {
  ConfigField field = make_field(key, ConfigFieldType::kInt, doc);
  field.min = min;
  field.max = max;
  field.get = [ref](const PipelineConfig& c) { return ConfigValue{int64_t{ref(c)}}; };
  field.set = [ref](PipelineConfig& c, const ConfigValue& v) {
    ref(c) = static_cast<int>(std::get<int64_t>(v));  // validated against [min, max] first
  };
  return field;
}

template <typename Ref>
ConfigField number_field(std::string_view key, Ref ref, double min, double max,
                         std::string_view doc, bool min_exclusive = false) {
  ConfigField field = make_field(key, ConfigFieldType::kNumber, doc);
  field.min = min;
  field.max = max;
  field.min_exclusive = min_exclusive;
  field.get = [ref](const PipelineConfig& c) { return ConfigValue{double{ref(c)}}; };
  field.set = [ref](PipelineConfig& c, const ConfigValue& v) { ref(c) = std::get<double>(v); };
  return field;
}

template <typename Ref>
ConfigField string_field(std::string_view key, ConfigFieldType type, Ref ref,
                         std::string_view doc) {
  ConfigField field = make_field(key, type, doc);
  field.get = [ref](const PipelineConfig& c) { return ConfigValue{std::string{ref(c)}}; };
  field.set = [ref](PipelineConfig& c, const ConfigValue& v) { ref(c) = std::get<std::string>(v); };
  return field;
}

template <typename Ref>
ConfigField path_field(std::string_view key, Ref ref, std::string_view doc) {
  return string_field(key, ConfigFieldType::kPath, ref, doc);
}

template <typename Ref>
ConfigField string_choice_field(std::string_view key, Ref ref,
                                std::vector<std::string_view> choices, std::string_view doc) {
  ConfigField field = string_field(key, ConfigFieldType::kChoice, ref, doc);
  field.choices = std::move(choices);
  return field;
}

template <typename Enum>
using EnumNames = std::vector<std::pair<std::string_view, Enum>>;

template <typename Enum>
std::string_view enum_name(const EnumNames<Enum>& names, Enum value) {
  for (const auto& [name, v] : names) {
    if (v == value) return name;
  }
  assert(false && "every enumerator has a name in its schema field");
  return {};
}

template <typename Enum>
Enum enum_value(const EnumNames<Enum>& names, std::string_view name) {
  for (const auto& [n, v] : names) {
    if (n == name) return v;
  }
  assert(false && "the parser only sets names from the field's choices");
  return names.front().second;
}

/// Name/value pairs of every value of an enum, named by its to_string (one naming for the config,
/// the command line and the docs).
template <typename Enum, size_t N>
EnumNames<Enum> names_of(const std::array<Enum, N>& all) {
  EnumNames<Enum> names;
  for (Enum e : all) names.emplace_back(to_string(e), e);
  return names;
}

template <typename Enum>
std::vector<std::string_view> enum_choices(const EnumNames<Enum>& names) {
  std::vector<std::string_view> choices;
  for (const auto& entry : names) choices.push_back(entry.first);
  return choices;
}

template <typename Enum, typename Ref>
ConfigField enum_field(std::string_view key, Ref ref, EnumNames<Enum> names, std::string_view doc) {
  ConfigField field = make_field(key, ConfigFieldType::kChoice, doc);
  field.choices = enum_choices(names);
  field.get = [ref, names](const PipelineConfig& c) {
    return ConfigValue{std::string{enum_name(names, ref(c))}};
  };
  field.set = [ref, names](PipelineConfig& c, const ConfigValue& v) {
    ref(c) = enum_value(names, std::get<std::string>(v));
  };
  return field;
}

template <typename Enum, typename Ref>
ConfigField enum_list_field(std::string_view key, Ref ref, EnumNames<Enum> names,
                            std::string_view doc) {
  ConfigField field = make_field(key, ConfigFieldType::kChoiceList, doc);
  field.choices = enum_choices(names);
  field.get = [ref, names](const PipelineConfig& c) {
    std::vector<std::string> list;
    for (const Enum value : ref(c)) list.emplace_back(enum_name(names, value));
    return ConfigValue{std::move(list)};
  };
  field.set = [ref, names](PipelineConfig& c, const ConfigValue& v) {
    auto& out = ref(c);
    out.clear();
    for (const std::string& name : std::get<std::vector<std::string>>(v)) {
      out.push_back(enum_value(names, name));
    }
  };
  return field;
}

/// The `enabled` key and the threshold key of one quality rule.
template <typename Ref>
void add_quality_rule(std::vector<ConfigField>& fields, std::string_view enabled_key,
                      std::string_view threshold_key, Ref rule, double min, double max,
                      std::string_view threshold_doc) {
  fields.push_back(bool_field(
      enabled_key, [rule](auto& c) -> auto& { return rule(c).enabled; }, "Apply this rule."));
  fields.push_back(number_field(
      threshold_key, [rule](auto& c) -> auto& { return rule(c).threshold; }, min, max,
      threshold_doc));
}

inline bool is_device_name(std::string_view name) { return DeviceRequest::parse(name).has_value(); }

/// Every field of the schema, in the order of configs/default.yaml.
[[nodiscard]] std::vector<ConfigField> build_fields();

/// The sections' docs (the comment above each section in the generated YAML and CONFIG.md).
[[nodiscard]] std::span<const ConfigSection> config_sections();

}  // namespace vpipe::config_detail
