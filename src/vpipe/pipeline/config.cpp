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

namespace vpipe {
namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();
constexpr int kMaxThreads = 1024;
constexpr int kCommentWidth = 100;  // column limit of the generated YAML comments

// ---- schema builders ------------------------------------------------------------------------
// Each takes `ref`, a generic lambda `[](auto& c) -> auto& { return c.member; }`: called on a
// const PipelineConfig it reads, on a mutable one it writes, so one accessor serves get and set.

ConfigField make_field(std::string_view key, ConfigFieldType type, std::string_view doc) {
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

bool is_device_name(std::string_view name) {
  if (name == "auto" || name == "cpu" || name == "cuda") return true;
  constexpr std::string_view kCudaPrefix = "cuda:";
  if (!name.starts_with(kCudaPrefix) || name.size() == kCudaPrefix.size()) return false;
  return std::all_of(name.begin() + kCudaPrefix.size(), name.end(),
                     [](char c) { return c >= '0' && c <= '9'; });
}

std::vector<ConfigField> build_fields() {
  using T = ConfigFieldType;
  std::vector<ConfigField> f;

  // Top level.
  ConfigField inputs = make_field(
      "inputs", T::kPathList,
      "Directories (walked recursively, symlinks followed) or image files to scan: one path or "
      "a list.");
  inputs.get = [](const PipelineConfig& c) { return ConfigValue{c.inputs}; };
  inputs.set = [](PipelineConfig& c, const ConfigValue& v) {
    c.inputs = std::get<std::vector<std::string>>(v);
  };
  f.push_back(std::move(inputs));
  ConfigField input_list = path_field(
      "input_list", [](auto& c) -> auto& { return c.input_list; },
      "A file naming one input path per line, added to `inputs`; `-` reads standard input; "
      "empty = none.");
  input_list.dash_is_stdin = true;
  f.push_back(std::move(input_list));
  f.push_back(bool_field(
      "null_delimited", [](auto& c) -> auto& { return c.null_delimited; },
      "`input_list` records end with NUL instead of a newline (`find -print0`), for names "
      "holding newlines."));
  ConfigField manifest = path_field(
      "manifest", [](auto& c) -> auto& { return c.manifest; },
      "The run's manifest database (SQLite): created if missing, resumed if present. Required.");
  manifest.required = true;
  f.push_back(std::move(manifest));
  ConfigField device = string_field(
      "device", T::kString, [](auto& c) -> auto& { return c.device; },
      "Where the heavy stages run: `auto` (the best device found), `cpu`, `cuda` (the first "
      "GPU) or `cuda:N`. Without a usable GPU, `auto` runs on the CPU.");
  device.check = is_device_name;
  device.expected = "auto, cpu, cuda or cuda:N";
  f.push_back(std::move(device));

  // devices:
  f.push_back(int_field(
      "devices.memory_budget_mib", [](auto& c) -> auto& { return c.devices.memory_budget_mib; },
      0, 1 << 24,
      "GPU memory vpipe may take, in MiB (at least 256); model batches are sized from it. 0 = "
      "80% of the free memory less 512 MiB (`vpipe devices` shows it). Ignored on the CPU."));
  f.push_back(int_field(
      "devices.gpu_dedup_min_images",
      [](auto& c) -> auto& { return c.devices.gpu_dedup_min_images; }, 0, 2000000000,
      "On a GPU, the near-duplicate search runs there from this many images; below it the CPU "
      "index is faster than the transfer."));

  // ingest:
  ConfigField urls = make_field(
      "ingest.urls", T::kPathList,
      "URL lists to crawl before the scan (plain, .csv, .tsv, .jsonl; docs/CRAWL.md): one path "
      "or a list. Each image is scanned as it lands; the lists' other columns go to the "
      "manifest with its URL. Empty = no crawl.");
  urls.get = [](const PipelineConfig& c) { return ConfigValue{c.ingest.urls}; };
  urls.set = [](PipelineConfig& c, const ConfigValue& v) {
    c.ingest.urls = std::get<std::vector<std::string>>(v);
  };
  f.push_back(std::move(urls));
  f.push_back(path_field(
      "ingest.out", [](auto& c) -> auto& { return c.ingest.out; },
      "Folder the crawled images are written to (<2 hex>/<hash of the URL>.<ext>); required "
      "with `ingest.urls`."));
  f.push_back(string_field(
      "ingest.url_field", T::kString, [](auto& c) -> auto& { return c.ingest.url_field; },
      "CSV/TSV column or JSONL field holding the URL (for a CSV/TSV without header row, its "
      "1-based number)."));
  f.push_back(bool_field(
      "ingest.header", [](auto& c) -> auto& { return c.ingest.header; },
      "CSV/TSV lists start with a row naming the columns."));
  f.push_back(string_field(
      "ingest.user_agent", T::kString, [](auto& c) -> auto& { return c.ingest.user_agent; },
      "The User-Agent sent with every request; robots.txt groups are matched against its "
      "first word."));
  f.push_back(int_field(
      "ingest.connections", [](auto& c) -> auto& { return c.ingest.connections; }, 1, 4096,
      "Transfers in flight, all hosts together."));
  f.push_back(int_field(
      "ingest.connections_per_host",
      [](auto& c) -> auto& { return c.ingest.connections_per_host; }, 1, 1024,
      "Transfers in flight to one host."));
  f.push_back(number_field(
      "ingest.requests_per_second_per_host",
      [](auto& c) -> auto& { return c.ingest.requests_per_second_per_host; }, 0, 1e6,
      "Request starts per host per second; 0 = no limit."));
  f.push_back(int_field(
      "ingest.attempts", [](auto& c) -> auto& { return c.ingest.attempts; }, 1, 100,
      "Tries per URL (the first included) on timeouts, network errors, 429 and 5xx, with "
      "exponential back-off and jitter; a Retry-After is honoured."));
  f.push_back(number_field(
      "ingest.connect_timeout_s", [](auto& c) -> auto& { return c.ingest.connect_timeout_s; }, 0,
      3600, "Longest wait for a connection, seconds.", /*min_exclusive=*/true));
  f.push_back(number_field(
      "ingest.timeout_s", [](auto& c) -> auto& { return c.ingest.timeout_s; }, 0, 86400,
      "Longest a whole transfer may take (redirects included), seconds.",
      /*min_exclusive=*/true));
  f.push_back(number_field(
      "ingest.max_file_mib", [](auto& c) -> auto& { return c.ingest.max_file_mib; }, 0, 1 << 20,
      "Bodies larger than this (MiB, after decompression) are abandoned as `too_large`.",
      /*min_exclusive=*/true));
  f.push_back(int_field(
      "ingest.max_redirects", [](auto& c) -> auto& { return c.ingest.max_redirects; }, 0, 100,
      "Redirects followed per URL; each hop's scheme (http, https only) is checked."));
  f.push_back(bool_field(
      "ingest.robots", [](auto& c) -> auto& { return c.ingest.robots; },
      "Honour robots.txt (fetched once per origin). Turn off only for hosts you own."));
  f.push_back(bool_field(
      "ingest.deny_private_addresses",
      [](auto& c) -> auto& { return c.ingest.deny_private_addresses; },
      "Refuse to connect to loopback, private, link-local (cloud metadata) and other internal "
      "addresses, on every hop: for crawls of lists you do not trust."));
  f.push_back(bool_field(
      "ingest.retry_failed", [](auto& c) -> auto& { return c.ingest.retry_failed; },
      "Fetch again URLs an earlier run failed for a reason that may pass (timeouts, network "
      "errors, 429, 5xx); otherwise a rerun fetches only URLs still pending."));

  // scan:
  f.push_back(int_field(
      "scan.threads", [](auto& c) -> auto& { return c.scan.threads; }, 0, kMaxThreads,
      "Decode and signal workers of the scan, and the infer pass's; 0 = every core this process "
      "may use, except in the infer pass on a GPU: all but the one that feeds it (`vpipe "
      "devices`, decode workers)."));
  f.push_back(bool_field(
      "scan.force", [](auto& c) -> auto& { return c.scan.force; },
      "Rescan files that are already in the manifest with the same path, size and mtime."));
  f.push_back(bool_field(
      "scan.lenient_decode", [](auto& c) -> auto& { return c.scan.lenient_decode; },
      "Keep files that the codec decoded only with a warning (a truncated JPEG, grey-filled) as "
      "`ok` instead of `damaged`; the warning is kept either way."));
  f.push_back(number_field(
      "scan.max_megapixels", [](auto& c) -> auto& { return c.scan.max_megapixels; }, 0, 1e6,
      "Refuse bigger images as `too_large` before allocating their pixels (decompression "
      "bombs).",
      /*min_exclusive=*/true));
  f.push_back(number_field(
      "scan.max_file_mib", [](auto& c) -> auto& { return c.scan.max_file_mib; }, 0, 1 << 20,
      "Refuse bigger files (MiB) as `too_large` without reading them.", /*min_exclusive=*/true));
  f.push_back(bool_field(
      "scan.orientations", [](auto& c) -> auto& { return c.scan.orientations; },
      "Also compute the hashes of the 8 orientations (rotated by 0/90/180/270 degrees, plain "
      "and mirrored) and of nine 90% crop windows (docs/DEDUP.md). `vpipe run` turns this on "
      "by itself when `dedup.orientations` or `dedup.crops` is on."));
  f.push_back(int_field(
      "scan.manifest_batch", [](auto& c) -> auto& { return c.scan.manifest_batch; }, 1, 100000,
      "Rows the single manifest writer commits per transaction (its batch size): larger batches "
      "write faster, smaller ones lose less to a crash (the rerun rescans the lost batch)."));
  f.push_back(int_field(
      "scan.manifest_max_delay_ms", [](auto& c) -> auto& { return c.scan.manifest_max_delay_ms; },
      1, 60000,
      "Longest a scanned row waits for its batch to fill before it is committed anyway, "
      "milliseconds."));

  // dedup:
  f.push_back(bool_field(
      "dedup.exact", [](auto& c) -> auto& { return c.dedup.exact; },
      "Group byte-identical files (same content hash, confirmed byte for byte)."));
  f.push_back(bool_field(
      "dedup.near", [](auto& c) -> auto& { return c.dedup.near; },
      "Group perceptual near duplicates (re-encoded, resized, lightly edited copies)."));
  f.push_back(enum_field<NearMatch>(
      "dedup.match", [](auto& c) -> auto& { return c.dedup.match; },
      names_of(kAllNearMatches),
      "Which hashes must be within their threshold for a near pair: `both` makes the fewest "
      "false matches, `either` finds the most copies."));
  f.push_back(int_field(
      "dedup.phash_threshold", [](auto& c) -> auto& { return c.dedup.phash_threshold; }, 0, 32,
      "Largest pHash Hamming distance (bits of 64) of a near pair (docs/SIGNALS.md)."));
  f.push_back(int_field(
      "dedup.dhash_threshold", [](auto& c) -> auto& { return c.dedup.dhash_threshold; }, 0, 32,
      "Largest dHash Hamming distance (bits of 64) of a near pair."));
  f.push_back(string_choice_field(
      "dedup.method", [](auto& c) -> auto& { return c.dedup.method; }, {"auto", "brute", "mih"},
      "Hamming search: `brute` compares every pair, `mih` uses a multi-index hash; both find "
      "the same pairs. `auto` picks the faster for the corpus and thresholds."));
  f.push_back(bool_field(
      "dedup.chain_guard", [](auto& c) -> auto& { return c.dedup.chain_guard; },
      "Every member of a near group must be within the thresholds of the group's keeper; "
      "members reachable only through a chain of pairs split off into groups of their own."));
  f.push_back(bool_field(
      "dedup.orientations", [](auto& c) -> auto& { return c.dedup.orientations; },
      "Also match copies turned by 90/180/270 degrees or mirrored (docs/DEDUP.md; on by default "
      "since real-photo pair recall needs it); the run's scan then stores orientation hashes, "
      "rescanning files that lack them."));
  f.push_back(bool_field(
      "dedup.crops", [](auto& c) -> auto& { return c.dedup.crops; },
      "Also match copies cropped to about 85..95% of each side, anywhere in the picture: a "
      "file's hashes against the hashes of another's nine 90% windows (docs/DEDUP.md); the "
      "run's scan then stores them, rescanning files that lack them."));
  f.push_back(int_field(
      "dedup.variant_margin", [](auto& c) -> auto& { return c.dedup.variant_margin; }, 0, 32,
      "A match through a turned copy or a crop window must be within each threshold less this "
      "many bits: the 16 extra comparisons of a pair otherwise make most chance pairs between "
      "unrelated photos in a large collection (docs/DEDUP.md, \"Turned and windowed matches\")."));
  f.push_back(enum_field<PairStore>(
      "dedup.store_pairs", [](auto& c) -> auto& { return c.dedup.store_pairs; },
      names_of(kAllPairStores),
      "Which near pairs the manifest keeps in `near_pairs`: `forest`, one per grouped file, the "
      "pair by which it joined its group (with the chain guard, its pair with the keeper); "
      "`all`, every pair found (tens of millions at a million clustered files); `none`. Groups "
      "and decisions are the same either way (docs/DEDUP.md, \"What is stored\")."));
  f.push_back(enum_list_field<KeeperCriterion>(
      "dedup.keeper", [](auto& c) -> auto& { return c.dedup.keeper_order; },
      names_of(kAllKeeperCriteria),
      "Which member of a group is kept: criteria tried in this order until one decides; "
      "`pixels` (most pixels; sizes within 1% tie), `least_degraded` (least blurred, blown "
      "or JPEG-compressed relative to the other members; docs/DEDUP.md), `oldest` (earliest "
      "mtime: a copy is newer than its source), `quality` (best quality score), "
      "`shortest_path`. Each at most once."));
  f.push_back(int_field(
      "dedup.threads", [](auto& c) -> auto& { return c.dedup.threads; }, 0, kMaxThreads,
      "Workers of the pair search; 0 = the cores this process may use."));

  // quality: ranges are those of the signals (docs/SIGNALS.md).
  add_quality_rule(
      f, "quality.blurry.enabled", "quality.blurry.max_edge_width",
      [](auto& c) -> auto& { return c.quality.blurry; }, 0, kInf,
      "Reject images whose sharpest edges (edge_width, px at the 256-px working size) are wider "
      "than this.");
  add_quality_rule(
      f, "quality.dark.enabled", "quality.dark.min_highlight",
      [](auto& c) -> auto& { return c.quality.dark; }, 0, 255,
      "Reject images whose highlights (99th percentile of gray, 0..255) stay below this, when "
      "their mean gray level is under 100.");
  add_quality_rule(
      f, "quality.overexposed.enabled", "quality.overexposed.max_clipped",
      [](auto& c) -> auto& { return c.quality.overexposed; }, 0, 1,
      "Reject images whose share of clipped pixels (a channel at 250 or more) is above this.");
  add_quality_rule(
      f, "quality.low_contrast.enabled", "quality.low_contrast.min_contrast",
      [](auto& c) -> auto& { return c.quality.low_contrast; }, 0, 127.5,
      "Reject images whose contrast (standard deviation of gray levels) is below this.");
  add_quality_rule(
      f, "quality.low_information.enabled", "quality.low_information.min_entropy",
      [](auto& c) -> auto& { return c.quality.low_information; }, 0, 8,
      "Reject images whose gray-level entropy (bits, 0..8) is below this.");
  add_quality_rule(
      f, "quality.tiny.enabled", "quality.tiny.min_side",
      [](auto& c) -> auto& { return c.quality.tiny; }, 0, kInf,
      "Reject images whose shorter side (pixels, full resolution) is below this.");
  add_quality_rule(
      f, "quality.extreme_aspect.enabled", "quality.extreme_aspect.max_ratio",
      [](auto& c) -> auto& { return c.quality.extreme_aspect; }, 1, kInf,
      "Reject images whose longer side divided by the shorter is above this.");
  add_quality_rule(
      f, "quality.grayscale.enabled", "quality.grayscale.max_colorfulness",
      [](auto& c) -> auto& { return c.quality.grayscale; }, 0, kInf,
      "Reject images whose colourfulness is below this (gray images, 0); off by default.");
  add_quality_rule(
      f, "quality.too_large.enabled", "quality.too_large.max_side",
      [](auto& c) -> auto& { return c.quality.too_large; }, 1, kInf,
      "Reject images whose longer side (pixels, full resolution) is above this.");
  add_quality_rule(
      f, "quality.transparent.enabled", "quality.transparent.min_opaque",
      [](auto& c) -> auto& { return c.quality.transparent; }, 0, 1,
      "Reject images whose share of opaque pixels (alpha >= 128) is below this.");
  f.push_back(bool_field(
      "quality.corrupt.enabled", [](auto& c) -> auto& { return c.quality.reject_corrupt; },
      "Reject files without usable pixels (any status but `ok` and `damaged`)."));
  f.push_back(bool_field(
      "quality.corrupt.include_damaged",
      [](auto& c) -> auto& { return c.quality.damaged_is_corrupt; },
      "Also reject files that decoded only with a warning (status `damaged`)."));
  f.push_back(bool_field(
      "quality.auto_thresholds", [](auto& c) -> auto& { return c.quality.auto_thresholds; },
      "Replace the thresholds of the signal rules (blurry, dark, overexposed, low_contrast, "
      "low_information) by percentiles of this corpus's own values."));
  f.push_back(number_field(
      "quality.auto_percentile", [](auto& c) -> auto& { return c.quality.auto_percentile; }, 0, 100,
      "With `auto_thresholds`: the percent of the corpus each automatic rule may reject."));

  // actions:
  f.push_back(path_field(
      "actions.copy_keepers", [](auto& c) -> auto& { return c.actions.copy_keepers; },
      "Copy the images that are kept (unique ones and the keeper of each group) and pass "
      "quality into this directory."));
  f.push_back(path_field(
      "actions.link_keepers", [](auto& c) -> auto& { return c.actions.link_keepers; },
      "Like `copy_keepers`, with links instead of copies."));
  f.push_back(path_field(
      "actions.move_rejects", [](auto& c) -> auto& { return c.actions.move_rejects; },
      "Move images that a quality rule rejected into this directory."));
  f.push_back(path_field(
      "actions.move_duplicates", [](auto& c) -> auto& { return c.actions.move_duplicates; },
      "Move duplicates (every group member but its keeper) into this directory."));

  // infer:
  f.push_back(string_field(
      "infer.model", T::kString, [](auto& c) -> auto& { return c.infer.model; },
      "The model run on the keepers after dedup: a built-in name (blazeface, blazeface-back, "
      "haar:NAME, lbp:NAME, hog-people; docs/MODELS.md) or an .onnx / .pt / .torchscript file "
      "(relative to this file's directory); empty = no infer step."));
  f.push_back(string_choice_field(
      "infer.task", [](auto& c) -> auto& { return c.infer.task; }, {"detect", "classify"},
      "What the model answers: boxes (`detect`) or classes of the whole image (`classify`)."));
  {
    ConfigField format = string_field(
        "infer.format", T::kString, [](auto& c) -> auto& { return c.infer.format; },
        "How a user network's output is read: yolov5, yolov8 (also yolo11), blazeface, raw "
        "(a classifier's scores); empty for built-in models.");
    // The names of infer/model.h parse_output_format (this library does not link vpipe_infer).
    format.check = [](std::string_view v) {
      return v.empty() || v == "yolov5" || v == "yolov8" || v == "yolo11" || v == "blazeface" ||
             v == "raw";
    };
    format.expected = "empty, yolov5, yolov8, yolo11, blazeface or raw";
    f.push_back(std::move(format));
  }
  f.push_back(path_field(
      "infer.labels", [](auto& c) -> auto& { return c.infer.labels; },
      "Class names, one per line (line 1 = class 0); empty = the model's own or numbers."));
  f.push_back(int_field(
      "infer.input", [](auto& c) -> auto& { return c.infer.input; }, 0, 8192,
      "A user network's square input size in pixels; 0 = 640 for detectors, 224 for "
      "classifiers."));
  f.push_back(number_field(
      "infer.score_threshold", [](auto& c) -> auto& { return c.infer.score_threshold; }, -1, 1,
      "Keep predictions scoring above this; negative = the model's own default."));
  f.push_back(number_field(
      "infer.iou_threshold", [](auto& c) -> auto& { return c.infer.iou_threshold; }, -1, 1,
      "NMS: a box overlapping a better one of its class by more than this IoU is dropped; "
      "negative = the model's own default."));
  f.push_back(int_field(
      "infer.max_batch", [](auto& c) -> auto& { return c.infer.max_batch; }, 0, 4096,
      "Images per model call: the batcher sends a batch when it has this many (0 = the "
      "device's infer batch, `vpipe devices`: 8 on the CPU, from the memory budget on a GPU)..."));
  f.push_back(number_field(
      "infer.max_delay_ms", [](auto& c) -> auto& { return c.infer.max_delay_ms; }, 0, 60000,
      "...or when its oldest image has waited this many milliseconds."));
  f.push_back(int_field(
      "infer.workers", [](auto& c) -> auto& { return c.infer.workers; }, 1, 64,
      "Model instances running batches side by side; on a GPU at least two per device, each on "
      "its own CUDA stream (one's copies overlap the other's compute), spread over every GPU "
      "with `device` auto or cuda."));
  f.push_back(string_choice_field(
      "infer.precision", [](auto& c) -> auto& { return c.infer.precision; },
      {"auto", "fp32", "fp16", "bf16"},
      "Arithmetic of TorchScript models on a GPU: `fp16` or `bf16` run them under autocast "
      "(half-precision convolutions and matmuls), `fp32` as saved; `auto` = fp16 on a GPU, fp32 "
      "on the CPU (the only choice there)."));
  f.push_back(bool_field(
      "infer.cuda_graphs", [](auto& c) -> auto& { return c.infer.cuda_graphs; },
      "TorchScript models on a GPU: replay one captured CUDA graph per input shape (less launch "
      "overhead; falls back to plain execution where capture fails)."));
  f.push_back(bool_field(
      "infer.keepers_only", [](auto& c) -> auto& { return c.infer.keepers_only; },
      "Only the files the dedup pass kept (false: every file that decoded)."));
  f.push_back(bool_field(
      "infer.force", [](auto& c) -> auto& { return c.infer.force; },
      "Infer again files this model has already done (otherwise a rerun skips them)."));
  f.push_back(path_field(
      "infer.crops", [](auto& c) -> auto& { return c.infer.crops; },
      "Write a crop of every detection under this folder (<model>/<label>/...); empty = none."));
  f.push_back(number_field(
      "infer.crop_margin", [](auto& c) -> auto& { return c.infer.crop_margin; }, 0, 10,
      "Grow each box by this fraction of its width and height on every side before cropping."));
  f.push_back(int_field(
      "infer.crop_min_size", [](auto& c) -> auto& { return c.infer.crop_min_size; }, 1, 1 << 20,
      "Do not crop boxes narrower or shorter than this many pixels."));
  f.push_back(string_choice_field(
      "infer.crop_format", [](auto& c) -> auto& { return c.infer.crop_format; }, {"jpeg", "png"},
      "File format of the crops."));

  // report:
  f.push_back(path_field(
      "report.out", [](auto& c) -> auto& { return c.report.out; },
      "Where to write the HTML report; empty = no report."));
  f.push_back(int_field(
      "report.page_size", [](auto& c) -> auto& { return c.report.page_size; }, 1, 100000,
      "Images per gallery page."));
  f.push_back(int_field(
      "report.thumbnail_size", [](auto& c) -> auto& { return c.report.thumbnail_size; }, 16, 2048,
      "Longer side of a gallery thumbnail, pixels."));
  return f;
}

constexpr ConfigSection kSections[] = {
    {"devices",
     "Overrides of the per-device defaults that `vpipe devices` shows; the worker and batch "
     "defaults apply where `scan.threads` and `infer.max_batch` are 0."},
    {"ingest",
     "The crawl: images fetched from URL lists into `ingest.out`, politely (robots.txt, "
     "per-host limits, back-off) and resumably (every URL's state is in the manifest), then "
     "scanned like `inputs` (docs/CRAWL.md)."},
    {"scan",
     "The cheap pass: every file is read and decoded once; its hashes and quality signals go to "
     "the manifest (docs/SIGNALS.md)."},
    {"dedup", "Groups exact and near duplicates and picks the keeper of each group."},
    {"quality",
     "Rules that reject unusable images; an image is rejected when any enabled rule fires. "
     "Each signal rule has `enabled` and one threshold (signals: docs/SIGNALS.md)."},
    {"quality.blurry", "Out of focus or motion-blurred."},
    {"quality.dark", "Underexposed."},
    {"quality.overexposed", "Overexposed."},
    {"quality.low_contrast", "Flat, washed-out images."},
    {"quality.low_information", "Nearly uniform images (blank frames, solid colours)."},
    {"quality.grayscale", "Images without colour (gray, or RGB with equal channels)."},
    {"quality.too_large", "Images of an odd size on the big side (stitched panoramas, scans)."},
    {"quality.transparent", "Images with (almost) nothing opaque to see."},
    {"quality.tiny", "Too small to be useful."},
    {"quality.extreme_aspect", "Strips and banners."},
    {"quality.corrupt", "Files that did not decode."},
    {"actions",
     "What to do with the verdicts once dedup and quality have run. Each names a directory "
     "(created if missing); empty = off."},
    {"infer",
     "The expensive pass: a detector or classifier over the keepers, batched (docs/MODELS.md); "
     "predictions go to the manifest, crops to a folder."},
    {"report", "The HTML report: galleries of duplicate groups and rejects, stage timings."},
};

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
    if (line0 < 0) throw ConfigError(fmt::format("{}: {}", source_, message));
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
  static const std::vector<ConfigField> fields = build_fields();
  return fields;
}

std::span<const ConfigSection> pipeline_config_sections() { return kSections; }

std::vector<ConfigValue> pipeline_config_values(const PipelineConfig& config) {
  std::vector<ConfigValue> values;
  for (const ConfigField& field : pipeline_config_fields()) values.push_back(field.get(config));
  return values;
}

PipelineConfig parse_pipeline_config(std::string_view yaml_text, std::string_view source_name,
                                     const std::filesystem::path& base_dir) {
  return ConfigParser(source_name, base_dir).parse(yaml_text);
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
