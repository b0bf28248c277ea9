#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "vpipe/crawl/fetcher.h"
#include "vpipe/crawl/url_list.h"
#include "vpipe/dedup/grouping.h"
#include "vpipe/quality/rules.h"

namespace vpipe {

/// `ingest:` of the pipeline config: the crawl (docs/CRAWL.md). Defaults are the fetcher's.
struct IngestConfig {
  std::vector<std::string> urls;   ///< URL list files; empty = no crawl
  std::string out;                 ///< where the images land; required with urls
  std::string url_field = UrlListOptions{}.url_field;
  bool header = UrlListOptions{}.header;
  std::string user_agent = FetchOptions{}.user_agent;
  int connections = FetchOptions{}.max_connections;
  int connections_per_host = FetchOptions{}.max_connections_per_host;
  double requests_per_second_per_host = FetchOptions{}.requests_per_second_per_host;
  int attempts = FetchOptions{}.max_attempts;
  double connect_timeout_s = FetchOptions{}.connect_timeout.count() / 1000.0;
  double timeout_s = FetchOptions{}.total_timeout.count() / 1000.0;
  double max_file_mib = static_cast<double>(FetchOptions{}.max_body_bytes) / (1 << 20);
  int max_redirects = FetchOptions{}.max_redirects;
  bool robots = FetchOptions{}.respect_robots;
  bool deny_private_addresses = FetchOptions{}.deny_private_addresses;
  bool retry_failed = false;
};

/// `scan:` of the pipeline config: the cheap pass (docs/SIGNALS.md).
struct ScanStageConfig {
  int threads = 0;  ///< decode and signal workers; 0 = the cores (infer on a GPU: decode_workers)
  bool force = false;           ///< rescan files whose path, size and mtime are unchanged
  bool lenient_decode = false;  ///< files decoded with a warning are ok instead of damaged
  double max_megapixels = 200;  ///< bigger images are too_large before any pixel is allocated
  double max_file_mib = 1024;   ///< bigger files are too_large without being read
  bool orientations = true;     ///< compute the 8 orientation and 9 crop hashes (dedup needs them)
  int manifest_batch = 512;         ///< rows per manifest transaction (the writer's max batch)
  int manifest_max_delay_ms = 250;  ///< longest a row waits for its batch, milliseconds
};

/// `actions:` of the pipeline config. Each is a directory; empty = the action is off.
struct ActionsConfig {
  std::string copy_keepers;
  std::string link_keepers;
  std::string move_rejects;
  std::string move_duplicates;
};

/// `report:` of the pipeline config.
struct ReportConfig {
  std::string out;           ///< where the HTML report goes; empty = no report
  int page_size = 200;       ///< images per gallery page
  int thumbnail_size = 160;  ///< longer side of a gallery thumbnail, pixels
};

/// `infer:` of the pipeline config: a model over the keepers, after dedup (docs/MODELS.md).
struct InferConfig {
  std::string model;        ///< built-in name or network file; empty = no infer step
  std::string task = "detect";
  std::string format;       ///< user networks: yolov5, yolov8, yolo11, blazeface, raw
  std::string labels;       ///< class names, one per line
  int input = 0;            ///< user networks: square input size; 0 = the model's own
  double score_threshold = -1;  ///< < 0: the model's own
  double iou_threshold = -1;    ///< < 0: the model's own
  int max_batch = 0;  ///< 0 = the device's infer batch (DeviceDefaults)
  double max_delay_ms = 5;
  int workers = 1;
  std::string precision = "auto";  ///< auto (fp16 on a GPU, fp32 on the CPU), fp32, fp16, bf16
  bool cuda_graphs = false;
  bool keepers_only = true;
  bool force = false;
  std::string crops;  ///< folder for crops of the detections; empty = none
  double crop_margin = 0.1;
  int crop_min_size = 16;
  std::string crop_format = "jpeg";
};

/// `devices:` of the pipeline config: what overrides the per-device defaults that `vpipe devices`
/// shows (the worker and batch defaults are `scan.threads` and `infer.max_batch` at 0).
struct DevicesConfig {
  int memory_budget_mib = 0;  ///< GPU memory vpipe may take; 0 = derived from free memory
  int gpu_dedup_min_images = 500'000;  ///< the GPU near-pair search from this many images
};

/// Everything `vpipe run pipeline.yaml` can be told (docs/CONFIG.md). Default member
/// initialisers, here and in DedupOptions / QualityRules, are the defaults: the schema, the YAML
/// printed by `vpipe config --defaults`, configs/default.yaml and docs/CONFIG.md all read them.
/// Paths are as the run uses them: relative ones in the YAML file are already resolved against
/// its directory by the parser.
struct PipelineConfig {
  std::vector<std::string> inputs;  ///< directories (walked recursively) or files
  std::string input_list;           ///< a file with one path per record; "-" = stdin; may be empty
  bool null_delimited = false;      ///< input_list records end with NUL instead of newline
  std::string manifest;             ///< the run's manifest database; required
  std::string device = "auto";      ///< auto, cpu, cuda or cuda:N
  DevicesConfig devices;
  IngestConfig ingest;
  ScanStageConfig scan;
  DedupOptions dedup;
  QualityRules quality;
  ActionsConfig actions;
  InferConfig infer;
  ReportConfig report;
  std::string source;  ///< the YAML file it came from, for messages; not a key of the YAML
};

/// The kind of value a config key takes; decides parsing, validation and how it is documented.
enum class ConfigFieldType {
  kBool,        ///< true or false (YAML 1.2 spellings only: yes/no/on/off are refused)
  kInt,         ///< a plain integer within [min, max]
  kNumber,      ///< a plain decimal number within [min, max] (min exclusive when asked)
  kString,      ///< any scalar; a custom check may restrict it
  kPath,        ///< a path, resolved against the YAML file's directory; empty = off
  kChoice,      ///< one of `choices`
  kPathList,    ///< one path or a list of paths, each resolved like kPath
  kChoiceList,  ///< a non-empty list of distinct entries of `choices`
};

/// A config value as the schema moves it around: bool for kBool, int64_t for kInt, double for
/// kNumber, string for kString/kPath/kChoice, a vector for kPathList/kChoiceList.
using ConfigValue = std::variant<bool, int64_t, double, std::string, std::vector<std::string>>;

/// One key of the pipeline config: the single declaration that parsing, validation,
/// `pipeline_config_yaml`, `pipeline_config_json` and the docs/CONFIG.md reference all use.
struct ConfigField {
  std::string_view key;  ///< dotted path, e.g. "dedup.phash_threshold"
  ConfigFieldType type = ConfigFieldType::kString;
  std::string_view doc;                   ///< one or two sentences for the user
  double min = 0;                         ///< kInt, kNumber: smallest value allowed (-inf: none)
  double max = 0;                         ///< kInt, kNumber: largest value allowed (+inf: none)
  bool min_exclusive = false;             ///< kNumber: min itself is not allowed
  bool required = false;                  ///< an empty value is an error (`manifest`)
  bool dash_is_stdin = false;             ///< kPath: "-" means standard input and is not resolved
  std::vector<std::string_view> choices;  ///< kChoice, kChoiceList: the allowed names
  /// kString: returns true when the value is allowed; `expected` then says what is.
  std::function<bool(std::string_view)> check;
  std::string_view expected;  ///< what `check` allows, in words ("auto, cpu, cuda or cuda:N")
  std::function<ConfigValue(const PipelineConfig&)> get;
  /// Stores an already validated value of the field's type.
  std::function<void(PipelineConfig&, const ConfigValue&)> set;

  /// What the key takes, in words: "an integer 0..32", "one of phash, dhash, both, either".
  /// Without the article ("integer 0..32") when `article` is false, for tables.
  [[nodiscard]] std::string describe(bool article = true) const;
};

/// A section of the config (a map of keys): "scan", "quality.blurry", ...
struct ConfigSection {
  std::string_view key;
  std::string_view doc;
};

/// The schema: every key of the pipeline config, in the order the YAML and the docs list them
/// (the keys of one section are contiguous). Built once; thread-safe.
[[nodiscard]] std::span<const ConfigField> pipeline_config_fields();

/// The sections of the schema with their docs, outermost first.
[[nodiscard]] std::span<const ConfigSection> pipeline_config_sections();

/// Every field's value, in schema order: two configs are the same when these are equal
/// (`source` is not compared).
[[nodiscard]] std::vector<ConfigValue> pipeline_config_values(const PipelineConfig& config);

/// Reads and validates a pipeline config file. Relative paths in it are resolved against the
/// file's directory (made absolute). Throws IoError when the file cannot be read and ConfigError
/// (message "FILE:LINE: what to fix") when it is not a valid config.
[[nodiscard]] PipelineConfig load_pipeline_config(const std::filesystem::path& yaml_file);

/// Applies `key=value` overrides (`--set`, repeatable: `dedup.phash_threshold=8`,
/// `inputs=[a, b]`) to `config`, in order, each checked as the same key in a YAML file would be
/// (type, range, choices; "did you mean" for a mistyped key); relative paths are resolved against
/// the current directory. The value is a YAML scalar or flow list. Throws ConfigError naming the
/// override ("--set dedup.phash_treshold=8: unknown key ..."), and `config` is then unchanged.
void apply_config_overrides(PipelineConfig& config, std::span<const std::string> overrides);

/// Parses and validates config text. `source_name` prefixes error messages and becomes
/// PipelineConfig::source; relative paths are resolved against `base_dir` (left as they are
/// when `base_dir` is empty). Throws ConfigError. Unknown keys, duplicate keys, wrong types,
/// out-of-range values and a missing `manifest` are errors; absent keys take their defaults.
[[nodiscard]] PipelineConfig parse_pipeline_config(std::string_view yaml_text,
                                                   std::string_view source_name,
                                                   const std::filesystem::path& base_dir);

/// The effective config as one JSON object (sections as nested objects, plus "source"), for
/// the manifest's runs table. Strings are written by json_quote (core/json.h): valid UTF-8 as
/// it is, other bytes as \udcXX.
[[nodiscard]] std::string pipeline_config_json(const PipelineConfig& config);

/// The config as YAML with a comment above every key; parses back to the same values. With
/// the defaults (manifest "run.db") it is configs/default.yaml and `vpipe config --defaults`.
[[nodiscard]] std::string pipeline_config_yaml(const PipelineConfig& config);

/// The field-by-field reference (Markdown tables, one per section, defaults from the default
/// member initialisers) that docs/CONFIG.md holds between its GENERATED REFERENCE markers.
[[nodiscard]] std::string pipeline_config_reference_markdown();

/// The config that configs/default.yaml describes: every default, manifest "run.db", no inputs.
[[nodiscard]] PipelineConfig default_pipeline_config_example();

}  // namespace vpipe
