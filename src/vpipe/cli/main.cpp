// vpipe: the command-line front end. Thin by design: each subcommand parses its options and calls
// a library function (STYLE.md); this file wires them and maps errors to exit codes.
#include <iostream>

#include <CLI/CLI.hpp>
#include <spdlog/spdlog.h>

#include "vpipe/cli/commands.h"
#include "vpipe/cli/exit_codes.h"
#include "vpipe/core/error.h"
#include "vpipe/core/log.h"
#include "vpipe/core/text.h"
#include "vpipe/core/version.h"

int main(int argc, char** argv) {
  CLI::App app{"vpipe: vision data pipelines (scan, dedup, quality, inference), fast on a GPU and correct on a CPU"};
  app.set_version_flag("--version", std::string("vpipe ") + vpipe::kVersion);
  app.require_subcommand(1);
  bool verbose = false;
  bool quiet = false;
  app.add_flag("-v,--verbose", verbose, "log every per-file problem and debug detail (stderr)");
  app.add_flag("-q,--quiet", quiet, "log errors only");

  int exit_code = 0;
  vpipe::cli::add_crawl_command(app, &exit_code);
  vpipe::cli::add_scan_command(app, &exit_code);
  vpipe::cli::add_synth_command(app, &exit_code);
  vpipe::cli::add_dedup_command(app, &exit_code);
  vpipe::cli::add_run_command(app, &exit_code);
  vpipe::cli::add_detect_command(app, &exit_code);
  vpipe::cli::add_classify_command(app, &exit_code);
  vpipe::cli::add_report_command(app, &exit_code);
  vpipe::cli::add_export_command(app, &exit_code);
  vpipe::cli::add_validate_command(app, &exit_code);
  vpipe::cli::add_undo_command(app, &exit_code);
  vpipe::cli::add_config_command(app, &exit_code);
  vpipe::cli::add_devices_command(app, &exit_code);
  vpipe::cli::add_help_examples(app);
  app.parse_complete_callback([&] {
    vpipe::log().set_level(verbose ? spdlog::level::debug
                                   : quiet ? spdlog::level::err : spdlog::level::info);
  });

  // `vpipe bogus`: CLI11 would only say that a command is required. Name it, and the one meant.
  if (const auto unknown = vpipe::cli::unknown_command(app, argc, argv)) {
    std::cerr << "vpipe: " << vpipe::terminal_safe(*unknown) << "\n"
              << "Run with --help for the commands.\n";
    return vpipe::cli::kExitUsage;
  }

  try {
    app.parse(argc, argv);
  } catch (const CLI::Success& e) {
    return app.exit(e);  // --help, --version
  } catch (const CLI::ParseError& e) {
    app.exit(e);
    // CLI11 lists what it did not expect; name the option meant, as the YAML loader does.
    for (const std::string& line : vpipe::cli::unknown_options(app, argc, argv)) {
      std::cerr << "vpipe: " << vpipe::terminal_safe(line) << "\n";
    }
    return vpipe::cli::kExitUsage;
  } catch (const vpipe::Error& e) {
    // Messages name files: their control characters are escaped like the log's.
    std::cerr << "vpipe: error: " << vpipe::terminal_safe(e.what()) << "\n";
    return vpipe::cli::exit_code_of(e);
  } catch (const std::exception& e) {
    std::cerr << "vpipe: internal error: " << vpipe::terminal_safe(e.what()) << "\n";
    return vpipe::cli::kExitFailed;
  }
  return exit_code;
}
