#include <iostream>
#include <memory>

#include <fmt/format.h>

#include "vpipe/cli/commands.h"
#include "vpipe/core/error.h"
#include "vpipe/core/json.h"
#include "vpipe/validate/validate.h"

namespace vpipe::cli {
namespace {

struct ValidateArgs {
  std::string dir;
  std::string format = "auto";
  std::string coco;
  std::string images;
  bool json = false;
  int64_t max_findings = 200;
  int threads = 0;
};

std::string location(const Finding& f) {
  return f.line > 0 ? fmt::format("{}:{}", f.path, f.line) : f.path;
}

void print_text(const ValidationReport& r, size_t shown) {
  for (size_t i = 0; i < shown; ++i) {
    const Finding& f = r.findings[i];
    fmt::print("{}: {}: {} [{}]\n", location(f), to_string(f.severity), f.message, f.kind);
  }
  if (shown < r.findings.size()) {
    fmt::print("... {} more findings not shown (--max-findings 0 shows all)\n", r.findings.size() - shown);
  }
  if (!r.findings.empty()) fmt::print("\n");
  fmt::print("validate: {} dataset {}: {} images, {}{} annotations\n", to_string(r.format),
             r.root.string(), r.images,
             r.format == DatasetFormat::kYolo ? fmt::format("{} label files, ", r.label_files) : "",
             r.annotations);
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
  fmt::print(R"({{"format":{},"root":{},"sources":[{}],"images":{},"label_files":{},)"
             R"("annotations":{},"errors":{},"warnings":{},"counts":{{{}}},"findings":[)",
             json_quote(to_string(r.format)), json_quote(r.root.string()), sources, r.images,
             r.label_files, r.annotations, r.errors(), r.warnings(), counts);
  for (size_t i = 0; i < shown; ++i) {
    const Finding& f = r.findings[i];
    fmt::print(R"({}{{"path":{},"line":{},"severity":{},"kind":{},"message":{}}})", i == 0 ? "" : ",\n",
               json_quote(f.path), f.line, json_quote(to_string(f.severity)), json_quote(f.kind),
               json_quote(f.message));
  }
  fmt::print("],\"findings_not_shown\":{}}}\n", r.findings.size() - shown);
}

int run(const ValidateArgs& a) {
  ValidateOptions options;
  options.dir = a.dir;
  const auto format = dataset_format_from_string(a.format);
  if (!format) throw ConfigError("--format: use auto, yolo or coco");
  options.format = *format;
  options.coco_json = a.coco;
  options.coco_images = a.images;
  options.threads = a.threads;
  if (!a.coco.empty() && options.format == DatasetFormat::kYolo) {
    throw ConfigError("--coco names a COCO JSON but --format is yolo");
  }
  const ValidationReport report = validate_dataset(options);
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
  CLI::App* cmd = app.add_subcommand("validate", "check a YOLO or COCO dataset: labels without images and back, malformed lines, class ids, boxes, duplicates, corrupt images (exit 1 on errors)");
  cmd->add_option("dir", args->dir, "the dataset directory")->required();
  cmd->add_option("--format", args->format, "auto, yolo or coco")->capture_default_str()->check(CLI::IsMember({"auto", "yolo", "coco"}));
  cmd->add_option("--coco", args->coco, "the COCO annotation JSON (default: DIR/annotations.json, DIR/_annotations.coco.json or DIR/annotations/*.json)");
  cmd->add_option("--images", args->images, "COCO: the folder file_name is relative to (default: the first of DIR, DIR/images, the JSON's folder that holds the file)");
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
