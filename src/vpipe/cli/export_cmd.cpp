#include <memory>

#include <fmt/format.h>

#include "vpipe/cli/commands.h"
#include "vpipe/core/error.h"
#include "vpipe/io/manifest.h"
#include "vpipe/report/export.h"

namespace vpipe::cli {
namespace {

struct ExportArgs {
  std::string db;
  std::string format = "csv";
  std::string out = "-";
  bool null = false;
  std::string model;
  std::string task;
  float min_score = 0;
  bool all = false;
  bool copy = false;
  bool force = false;
};

}  // namespace

void add_export_command(CLI::App& app, int* exit_code) {
  auto args = std::make_shared<ExportArgs>();
  CLI::App* cmd = app.add_subcommand(
      "export",
      "the files with their decisions and reasons as CSV or JSONL, the list of keepers, or the "
      "predictions of a model as COCO JSON, a YOLO dataset or a CSV of detections");
  cmd->add_option("db", args->db, "the manifest, after `vpipe dedup` (or the infer pass)")->required()->check(CLI::ExistingFile);
  cmd->add_option("--format", args->format, "csv, jsonl, keepers (after dedup); coco, yolo, detections (after infer)")->capture_default_str()->check(CLI::IsMember({"csv", "jsonl", "keepers", "coco", "yolo", "detections"}));
  cmd->add_option("--out", args->out, "output file ('-' = stdout), or directory (yolo; coco unless it ends in .json); written atomically")->capture_default_str();
  cmd->add_flag("-0,--null", args->null, "keepers: end each path with NUL (for xargs -0), safe for any name");
  cmd->add_option("--model", args->model, "coco/yolo/detections: whose predictions (default: the manifest's only model)");
  cmd->add_option("--task", args->task, "detections: only detect (boxes) or classify predictions (coco/yolo: boxes only)")->check(CLI::IsMember({"detect", "classify"}));
  cmd->add_option("--min-score", args->min_score, "coco/yolo/detections: leave out predictions scoring below this")->check(CLI::Range(0.0f, 1.0f));
  cmd->add_flag("--all", args->all, "coco/yolo/detections: every inferred file, not only the keepers of the dedup pass");
  cmd->add_flag("--copy", args->copy, "coco/yolo directory: copy images into images/ instead of hard-linking them");
  cmd->add_flag("--force", args->force, "replace an existing output file that is not an earlier export of this format (or a symbolic link); coco/yolo directory: replace the directory of an earlier export");
  cmd->callback([args, exit_code] {
    ExportOptions options;
    if (!parse_export_format(args->format, options.format)) {
      throw UsageError("--format: use csv, jsonl, keepers, coco, yolo or detections");
    }
    options.out = args->out;
    options.null_terminated = args->null;
    options.model = args->model;
    options.task = args->task;
    options.min_score = args->min_score;
    options.all_files = args->all;
    options.copy_images = args->copy;
    options.force = args->force;
    const Manifest manifest(args->db, Manifest::Access::read_only);
    if (is_dataset_format(options.format)) {
      const DatasetExportSummary s = export_dataset(manifest, options);
      fmt::print(stderr, "export: {} images, {} predictions of model {} to {}", s.images,
                 s.annotations, s.model, args->out);
      if (s.skipped > 0) fmt::print(stderr, " ({} files left out, see warnings)", s.skipped);
      fmt::print(stderr, "\n");
    } else {
      const int64_t n = export_manifest(manifest, options);
      if (args->out != "-") fmt::print(stderr, "export: {} files to {}\n", n, args->out);
    }
    *exit_code = 0;
  });
}

}  // namespace vpipe::cli
