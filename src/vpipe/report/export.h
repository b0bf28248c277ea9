#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>

namespace vpipe {

class Manifest;

/// Formats `vpipe export` writes from a manifest: the first three after a dedup pass, the last
/// three (the dataset formats) after an infer pass.
enum class ExportFormat {
  kCsv,         ///< one row per file: decision, reasons, group, distances, signals (RFC 4180)
  kJsonl,       ///< one JSON object per line, the same fields (reasons as an array of objects)
  kKeepers,     ///< the paths of the kept files, one per line (or NUL-terminated)
  kCoco,        ///< COCO detection JSON: a file (`--out X.json` or "-"), or a directory with
                ///< annotations.json and images/
  kYolo,        ///< a YOLO dataset directory: images/, labels/<stem>.txt, data.yaml
  kDetections,  ///< CSV, one row per prediction, with its crop's path (RFC 4180)
};

struct ExportOptions {
  ExportFormat format = ExportFormat::kCsv;
  std::filesystem::path out;     ///< the file or directory to write; "-" = standard output
  bool null_terminated = false;  ///< kKeepers: end each path with NUL instead of newline
  // The dataset formats (kCoco, kYolo, kDetections):
  std::string model;         ///< whose predictions; "" = the manifest's only model (else an error)
  std::string task;          ///< "" = both, "detect" or "classify"; kCoco/kYolo export boxes only
  float min_score = 0;       ///< leave out predictions scoring below this
  bool all_files = false;    ///< false: only files the dedup pass kept (or that it never saw)
  bool copy_images = false;  ///< images/ of a directory export: copies instead of hard links
  bool force = false;        ///< replace an existing output directory of an earlier export
};

/// Writes the export, streaming the manifest (memory stays flat). A file is written under a
/// temporary name and renamed when complete. Returns the number of files written out. Throws
/// IoError when the output cannot be written.
int64_t export_manifest(const Manifest& manifest, const ExportOptions& options);

/// What a dataset export wrote.
struct DatasetExportSummary {
  std::string model;        ///< the model whose predictions were exported
  int64_t images = 0;       ///< files written out (with or without predictions)
  int64_t annotations = 0;  ///< predictions written out (COCO annotations, YOLO lines, CSV rows)
  int64_t skipped = 0;      ///< files left out: size unknown, or (directory exports) image missing
};

/// Writes a dataset format (kCoco, kYolo, kDetections) from the infer pass's tables, streaming
/// the manifest one file at a time (docs/CLI.md, `vpipe export`). A file output is written under
/// a temporary name and renamed; a directory output is built as `DIR.partial-<pid>` and renamed
/// onto DIR, which must not exist unless `force` is set and DIR holds an earlier export (its
/// `.vpipe-export` marker), which is then swapped out and removed. Throws ConfigError for an
/// unknown or ambiguous model or an existing DIR, IoError when the output cannot be written.
DatasetExportSummary export_dataset(const Manifest& manifest, const ExportOptions& options);

/// True for kCoco, kYolo and kDetections.
[[nodiscard]] bool is_dataset_format(ExportFormat format);

/// Parses "csv", "jsonl", "keepers", "coco", "yolo", "detections".
[[nodiscard]] bool parse_export_format(std::string_view name, ExportFormat& format);

/// One CSV field per RFC 4180: quoted (quotes doubled) when it holds a comma, quote, CR or LF.
[[nodiscard]] std::string csv_field(std::string_view text);

}  // namespace vpipe
