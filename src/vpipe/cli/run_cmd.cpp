#include <chrono>
#include <iostream>
#include <memory>

#include <fmt/format.h>

#include "vpipe/cli/commands.h"
#include "vpipe/cli/stop_signal.h"
#include "vpipe/cli/summaries.h"
#include "vpipe/pipeline/run.h"
#include "vpipe/io/paths.h"

namespace vpipe::cli {
namespace {

struct RunArgs {
  std::string config;
  std::vector<std::string> sets;  ///< --set key=value, in order
  ActionsConfig actions;
  bool no_wait = false;
  std::string report;
  bool force = false;
  bool progress = false;
  std::string trace;
  bool json = false;
};

/// `vpipe run --json`: the passes that ran, each as its own command's object has it.
std::string run_json(const PipelineConfig& config, const PipelineRunSummary& s, double seconds) {
  JsonObject o;
  o.add("command", "run").add("manifest", json_path(config.manifest)).add("device", s.device.str());
  o.add("seconds", seconds).add("stopped", s.stopped);
  JsonObject passes;
  for (const auto& [pass, pass_seconds] : s.pass_seconds) passes.add(pass, pass_seconds);
  o.add("pass_seconds", passes);
  if (s.crawled) o.add("crawl", crawl_json(s.crawl));
  if (s.scanned) o.add("scan", scan_json(s.scan));
  if (s.deduplicated) o.add("dedup", dedup_json(s.dedup));
  o.add("actions", action_json(s.actions));
  if (s.inferred) o.add("infer", infer_json(s.infer, config.infer.model));
  if (s.cropped) o.add("crops", crop_json(s.crops, config.infer.crops));
  if (s.reported) {
    JsonObject report;
    report.add("index", json_path(s.report.index)).add("pages", s.report.pages);
    report.add("thumbnails_made", s.report.thumbnails_made);
    report.add("thumbnails_cached", s.report.thumbnails_cached);
    o.add("report", report);
  }
  return o.str();
}

int run(const RunArgs& a) {
  install_stop_handlers();
  PipelineConfig config = load_pipeline_config(a.config);
  apply_config_overrides(config, a.sets);
  for (auto [from, to] : {std::pair{&a.actions.copy_keepers, &config.actions.copy_keepers},
                          std::pair{&a.actions.link_keepers, &config.actions.link_keepers},
                          std::pair{&a.actions.move_rejects, &config.actions.move_rejects},
                          std::pair{&a.actions.move_duplicates, &config.actions.move_duplicates},
                          std::pair{&a.report, &config.report.out}}) {
    if (!from->empty()) *to = *from;
  }
  if (a.force) config.scan.force = true;

  PipelineRunOptions options;
  options.progress = a.progress ? &std::cerr : nullptr;
  options.stop = &stop_requested();
  options.trace_path = a.trace;
  options.wait_for_lock = !a.no_wait;
  const auto start = std::chrono::steady_clock::now();
  const PipelineRunSummary s = run_pipeline(config, options);
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();

  if (a.json) {
    fmt::print("{}\n", run_json(config, s, seconds));
    std::fflush(stdout);
    if (s.stopped) return interrupted_exit("rerun the same command to resume");
    return s.actions.failed > 0 ? 1 : 0;
  }
  if (s.crawled) print_crawl_summary(s.crawl);
  if (s.scanned) {
    fmt::print("scan: {} files scanned, {} unchanged (device {})\n", s.scan.scanned,
               s.scan.unchanged, s.device.str());
    for (const auto& [status, n] : s.scan.status_counts) fmt::print("  {:<12}{:>10}\n", status, n);
    fmt::print("\n{}\n", s.scan.engine.format_table());
  }
  if (s.deduplicated) print_dedup_summary(s.dedup);
  print_action_summary(s.actions);
  if (s.inferred) print_infer_summary(s.infer, config.infer.model);
  if (s.cropped) print_crop_summary(s.crops, config.infer.crops);
  if (s.reported) {
    fmt::print("report: {} ({} pages, {} thumbnails made, {} cached)\n",
               display_path(s.report.index.native()),
               s.report.pages, s.report.thumbnails_made, s.report.thumbnails_cached);
  }
  // Where the time went, pass by pass (each pass's own table above breaks it down further).
  std::string passes;
  for (const auto& [pass, s_pass] : s.pass_seconds) {
    passes += fmt::format("{}{} {:.2f} s ({:.0f}%)", passes.empty() ? "" : ", ", pass, s_pass,
                          seconds > 0 ? 100.0 * s_pass / seconds : 0.0);
  }
  fmt::print("manifest: {}\nrun took {:.2f} s: {}\n", display_path(config.manifest), seconds,
             passes);
  std::fflush(stdout);
  if (s.stopped) {
    return interrupted_exit("rerun the same command to resume");
  }
  return s.actions.failed > 0 ? 1 : 0;
}

}  // namespace

void add_run_command(CLI::App& app, int* exit_code) {
  auto args = std::make_shared<RunArgs>();
  CLI::App* cmd = app.add_subcommand("run", "the whole configured pipeline, resumable: scan -> groups and verdicts -> actions -> report (docs/CONFIG.md)");
  cmd->add_option("config", args->config, "the pipeline YAML (see configs/default.yaml)")->required()->check(CLI::ExistingFile);
  cmd->add_option("--set", args->sets, "override a key of the config: --set dedup.phash_threshold=8 (repeatable; checked as in the YAML)")->allow_extra_args(false);
  add_action_options(cmd, args->actions, args->no_wait);
  cmd->add_option("--report", args->report, "write the HTML report into this directory (overrides report.out)");
  cmd->add_flag("--force", args->force, "rescan files already in the manifest");
  cmd->add_flag("--progress", args->progress, "live scan progress on stderr");
  cmd->add_flag("--json", args->json, "print the summary as one JSON object on stdout, no text (docs/CLI.md)");
  cmd->add_option("--trace", args->trace, "write a Chrome/Perfetto trace of the scan to this file");
  cmd->callback([args, exit_code] { *exit_code = run(*args); });
}

}  // namespace vpipe::cli
