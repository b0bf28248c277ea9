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
};

}  // namespace

void add_export_command(CLI::App& app, int* exit_code) {
  auto args = std::make_shared<ExportArgs>();
  CLI::App* cmd = app.add_subcommand("export", "the files with their decisions and reasons as CSV or JSONL, or the list of keepers");
  cmd->add_option("db", args->db, "the manifest, after `vpipe dedup`")->required()->check(CLI::ExistingFile);
  cmd->add_option("--format", args->format, "csv, jsonl or keepers")->capture_default_str()->check(CLI::IsMember({"csv", "jsonl", "keepers"}));
  cmd->add_option("--out", args->out, "output file ('-' = stdout); written atomically")->capture_default_str();
  cmd->add_flag("-0,--null", args->null, "keepers: end each path with NUL (for xargs -0), safe for any name");
  cmd->callback([args, exit_code] {
    ExportOptions options;
    if (!parse_export_format(args->format, options.format)) throw ConfigError("--format: use csv, jsonl or keepers");
    options.out = args->out;
    options.null_terminated = args->null;
    const Manifest manifest(args->db);
    const int64_t n = export_manifest(manifest, options);
    if (args->out != "-") fmt::print(stderr, "export: {} files to {}\n", n, args->out);
    *exit_code = 0;
  });
}

}  // namespace vpipe::cli
