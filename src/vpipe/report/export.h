#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>

namespace vpipe {

class Manifest;

/// Formats `vpipe export` writes from a manifest after a dedup pass.
enum class ExportFormat {
  kCsv,      ///< one row per file: decision, reasons, group, distances, signals (RFC 4180)
  kJsonl,    ///< one JSON object per line, the same fields (reasons as an array of objects)
  kKeepers,  ///< the paths of the kept files, one per line (or NUL-terminated)
};

struct ExportOptions {
  ExportFormat format = ExportFormat::kCsv;
  std::filesystem::path out;     ///< the file to write; "-" = standard output
  bool null_terminated = false;  ///< kKeepers: end each path with NUL instead of newline
};

/// Writes the export, streaming the manifest (memory stays flat). A file is written under a
/// temporary name and renamed when complete. Returns the number of files written out. Throws
/// IoError when the output cannot be written.
int64_t export_manifest(const Manifest& manifest, const ExportOptions& options);

/// Parses "csv", "jsonl", "keepers".
[[nodiscard]] bool parse_export_format(std::string_view name, ExportFormat& format);

/// One CSV field per RFC 4180: quoted (quotes doubled) when it holds a comma, quote, CR or LF.
[[nodiscard]] std::string csv_field(std::string_view text);

}  // namespace vpipe
