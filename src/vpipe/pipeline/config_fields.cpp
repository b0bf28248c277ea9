// The pipeline configuration's fields, one function per section (the schema machinery that
// reads, checks and writes them is config.cpp). A new option of a pass goes here, in its
// section's function; its struct member in config.h.

#include "vpipe/pipeline/config_fields.h"

#include <limits>
#include <string_view>
#include <vector>

namespace vpipe::config_detail {

namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();
constexpr int kMaxThreads = 1024;

using T = ConfigFieldType;

void add_top_level_fields(std::vector<ConfigField>& f) {
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
}

void add_devices_fields(std::vector<ConfigField>& f) {
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
}

void add_ingest_fields(std::vector<ConfigField>& f) {
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
}

void add_scan_fields(std::vector<ConfigField>& f) {
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
}

void add_dedup_fields(std::vector<ConfigField>& f) {
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
}

void add_quality_fields(std::vector<ConfigField>& f) {
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
}

void add_actions_fields(std::vector<ConfigField>& f) {
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
}

void add_infer_fields(std::vector<ConfigField>& f) {
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
}

void add_report_fields(std::vector<ConfigField>& f) {
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
}

}  // namespace

std::vector<ConfigField> build_fields() {
  std::vector<ConfigField> f;
  add_top_level_fields(f);
  add_devices_fields(f);
  add_ingest_fields(f);
  add_scan_fields(f);
  add_dedup_fields(f);
  add_quality_fields(f);
  add_actions_fields(f);
  add_infer_fields(f);
  add_report_fields(f);
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

std::span<const ConfigSection> config_sections() { return kSections; }

}  // namespace vpipe::config_detail
