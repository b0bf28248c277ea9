#include <memory>

#include <fmt/format.h>

#include "vpipe/cli/commands.h"
#include "vpipe/cli/summaries.h"
#include "vpipe/core/json.h"
#include "vpipe/report/html_report.h"
#include "vpipe/io/paths.h"

namespace vpipe::cli {

void add_report_command(CLI::App& app, int* exit_code) {
  auto db = std::make_shared<std::string>();
  auto options = std::make_shared<ReportOptions>();
  auto out = std::make_shared<std::string>();
  auto json = std::make_shared<bool>(false);
  CLI::App* cmd = app.add_subcommand("report", "a static HTML report (opens from disk): counts, duplicate groups, rejects by reason, histograms, stage timings");
  cmd->add_option("db", *db, "the manifest")->required()->check(CLI::ExistingFile);
  cmd->add_option("--out", *out, "directory for the report (created)")->required();
  cmd->add_option("--page-size", options->page_size, "groups or images per page")->capture_default_str()->check(CLI::Range(1, 100000));
  cmd->add_option("--thumbnail-size", options->thumbnail_size, "longer side of thumbnails, pixels")->capture_default_str()->check(CLI::Range(16, 1024));
  cmd->add_option("--threads", options->threads, "thumbnail workers (default: all cores)")->check(CLI::Range(1, 1024));
  cmd->add_option("--title", options->title, "page title");
  cmd->add_flag("--force", options->force, "write into an existing folder that holds no earlier report (its index.html and pages are replaced)");
  cmd->add_flag("--json", *json, "print the summary as one JSON object on stdout, no text (docs/CLI.md)");
  cmd->callback([db, options, out, json, exit_code] {
    options->out_dir = *out;
    const ReportSummary s = write_report(std::filesystem::path(*db), *options);
    *exit_code = 0;
    if (*json) {
      JsonObject report;
      report.add("index", json_path(s.index)).add("pages", s.pages);
      report.add("thumbnails_made", s.thumbnails_made).add("thumbnails_cached", s.thumbnails_cached);
      report.add("thumbnail_failures", s.thumbnail_failures);
      JsonObject o;
      o.add("command", "report").add("manifest", json_path(*db)).add("report", report);
      fmt::print("{}\n", o.str());
      return;
    }
    fmt::print("report: {} ({} pages, {} thumbnails made, {} cached, {} placeholders)\n",
               display_path(s.index.native()), s.pages, s.thumbnails_made, s.thumbnails_cached,
               s.thumbnail_failures);
  });
}

}  // namespace vpipe::cli
