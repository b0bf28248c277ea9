#include <filesystem>
#include <iostream>
#include <memory>

#include <fmt/format.h>

#include "vpipe/cli/commands.h"
#include "vpipe/core/error.h"
#include "vpipe/core/json.h"
#include "vpipe/core/text.h"
#include "vpipe/io/manifest.h"
#include "vpipe/validate/validate.h"

namespace vpipe::cli {
namespace {

struct ValidateArgs {
  std::string dir;
  std::string format = "auto";
  std::string coco;
  std::string images;
  std::string manifest;
  bool no_pixels = false;
  bool json = false;
  int64_t max_findings = 200;
  int threads = 0;
};

/// Where a finding is, printable: the path's control characters escaped (terminal_safe).
std::string location(const Finding& f) {
  const std::string path = terminal_safe(f.path);
  return f.line > 0 ? fmt::format("{}:{}", path, f.line) : path;
}

void print_text(const ValidationReport& r, size_t shown) {
  for (size_t i = 0; i < shown; ++i) {
    const Finding& f = r.findings[i];
    // The message quotes label lines and file names as written: escaped, like the path.
    fmt::print("{}: {}: {} [{}]\n", location(f), to_string(f.severity), terminal_safe(f.message),
               f.kind);
  }
  if (shown < r.findings.size()) {
    fmt::print("... {} more findings not shown (--max-findings 0 shows all)\n", r.findings.size() - shown);
  }
  if (!r.findings.empty()) fmt::print("\n");
  if (!r.root.empty()) {
    fmt::print("validate: {} dataset {}: {} images, {}{} annotations\n", to_string(r.format),
               terminal_safe(r.root.string()), r.images,
               r.format == DatasetFormat::kYolo ? fmt::format("{} label files, ", r.label_files)
                                                : "",
               r.annotations);
  }
  if (!r.manifest.empty()) {
    fmt::print("validate: manifest {}: {} crops\n", terminal_safe(r.manifest.string()), r.crops);
  }
  if (r.findings.empty()) {
    fmt::print("  no problems found\n");
    return;
  }
  fmt::print("  {} errors, {} warnings\n", r.errors(), r.warnings());
  for (const auto& [kind, count] : r.counts_by_kind()) {
    fmt::print("  {:<24}{:>8}  {}\n", kind, count.second, to_string(count.first));
  }
}

void print_json(const ValidationReport& r, size_t shown) {
  std::string sources;
  for (const std::string& s : r.sources) sources += (sources.empty() ? "" : ",") + json_quote(s);
  std::string counts;
  for (const auto& [kind, count] : r.counts_by_kind()) {
    counts += fmt::format(R"({}{}:{{"severity":{},"count":{}}})", counts.empty() ? "" : ",",
                          json_quote(kind), json_quote(to_string(count.first)), count.second);
  }
  // No dataset (only --manifest): format and root are null.
  const bool dataset = !r.root.empty();
  fmt::print(R"({{"format":{},"root":{},"sources":[{}],"images":{},"label_files":{},)"
             R"("annotations":{},"manifest":{},"crops":{},"errors":{},"warnings":{},)"
             R"("counts":{{{}}},"findings":[)",
             dataset ? json_quote(to_string(r.format)) : "null",
             dataset ? json_quote(r.root.string()) : "null", sources, r.images, r.label_files,
             r.annotations, r.manifest.empty() ? "null" : json_quote(r.manifest.string()), r.crops,
             r.errors(), r.warnings(), counts);
  for (size_t i = 0; i < shown; ++i) {
    const Finding& f = r.findings[i];
    fmt::print(R"({}{{"path":{},"line":{},"severity":{},"kind":{},"message":{}}})", i == 0 ? "" : ",\n",
               json_quote(f.path), f.line, json_quote(to_string(f.severity)), json_quote(f.kind),
               json_quote(f.message));
  }
  fmt::print("],\"findings_not_shown\":{}}}\n", r.findings.size() - shown);
}

int run(const ValidateArgs& a) {
  if (a.dir.empty() && a.manifest.empty()) {
    throw UsageError("validate: give a dataset directory, --manifest DB, or both");
  }
  ValidateOptions options;
  options.dir = a.dir;
  const auto format = dataset_format_from_string(a.format);
  if (!format) throw UsageError("--format: use auto, yolo or coco");
  options.format = *format;
  options.coco_json = a.coco;
  options.coco_images = a.images;
  options.threads = a.threads;
  if (!a.coco.empty() && options.format == DatasetFormat::kYolo) {
    throw UsageError("--coco names a COCO JSON but --format is yolo");
  }
  ValidationReport report;
  if (!a.dir.empty()) report = validate_dataset(options);
  if (!a.manifest.empty()) {
    // Opening a manifest creates a missing one: refuse a mistyped name instead.
    std::error_code ec;
    if (!std::filesystem::is_regular_file(a.manifest, ec)) {
      throw UsageError(fmt::format("{}: no such manifest", a.manifest));
    }
    const Manifest manifest(a.manifest, Manifest::Access::read_only);
    CropCheckOptions crop_options;
    crop_options.compare_pixels = !a.no_pixels;
    crop_options.threads = a.threads;
    report.manifest = a.manifest;
    validate_crops(manifest, report, crop_options);
    report.sort_findings();
  }
  const size_t shown = a.max_findings <= 0
                           ? report.findings.size()
                           : std::min(report.findings.size(), static_cast<size_t>(a.max_findings));
  if (a.json) {
    print_json(report, shown);
  } else {
    print_text(report, shown);
  }
  std::fflush(stdout);
  return report.errors() > 0 ? 1 : 0;
}

}  // namespace

void add_validate_command(CLI::App& app, int* exit_code) {
  auto args = std::make_shared<ValidateArgs>();
  CLI::App* cmd = app.add_subcommand("validate", "check a YOLO or COCO dataset: labels without images and back, malformed lines, class ids, boxes, duplicates, corrupt images; and/or the crops of a manifest (exit 1 on errors)");
  cmd->add_option("dir", args->dir, "the dataset directory (optional with --manifest)");
  cmd->add_option("--format", args->format, "auto, yolo or coco")->capture_default_str()->check(CLI::IsMember({"auto", "yolo", "coco"}));
  cmd->add_option("--coco", args->coco, "the COCO annotation JSON (default: DIR/annotations.json, DIR/_annotations.coco.json or DIR/annotations/*.json)");
  cmd->add_option("--images", args->images, "COCO: the folder file_name is relative to (default: the first of DIR, DIR/images, the JSON's folder that holds the file)");
  cmd->add_option("--manifest", args->manifest, "also check the crops recorded in this manifest (vpipe detect --crops): present, decodable, unchanged, of the recorded size, inside the image, containing their box, showing the source's pixels");
  cmd->add_flag("--no-pixels", args->no_pixels, "--manifest: skip decoding the source images to compare each crop's pixels with them");
  cmd->add_flag("--json", args->json, "print one JSON document instead of text");
  cmd->add_option("--max-findings", args->max_findings, "print at most this many findings (0 = all); the counts cover all")->capture_default_str()->check(CLI::NonNegativeNumber);
  cmd->add_option("--threads", args->threads, "image decoding workers (default: up to 4)")->check(CLI::Range(1, 1024));
  cmd->callback([args, exit_code] {
    try {
      *exit_code = run(*args);
    } catch (const Error& e) {
      // A dataset that cannot be read at all is a usage/IO failure (2), unlike a dataset with
      // errors in it (1).
      std::cerr << "vpipe: error: " << e.what() << "\n";
      *exit_code = 2;
    }
  });
}

}  // namespace vpipe::cli
