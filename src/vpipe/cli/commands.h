#pragma once

#include <CLI/CLI.hpp>

#include "vpipe/pipeline/config.h"

namespace vpipe::cli {

/// Each subcommand registers its options on `app` and returns the flag-holding state through
/// the callback it installs; the callback runs the command and stores its exit code in `*exit_code`.
void add_crawl_command(CLI::App& app, int* exit_code);
void add_scan_command(CLI::App& app, int* exit_code);
void add_synth_command(CLI::App& app, int* exit_code);
void add_devices_command(CLI::App& app, int* exit_code);
void add_dedup_command(CLI::App& app, int* exit_code);
void add_run_command(CLI::App& app, int* exit_code);
void add_undo_command(CLI::App& app, int* exit_code);
void add_export_command(CLI::App& app, int* exit_code);
void add_report_command(CLI::App& app, int* exit_code);
void add_config_command(CLI::App& app, int* exit_code);
void add_detect_command(CLI::App& app, int* exit_code);
void add_classify_command(CLI::App& app, int* exit_code);
void add_validate_command(CLI::App& app, int* exit_code);

/// Gives every command's --help an "Examples:" footer (help_examples.cpp). Call after adding the
/// commands.
void add_help_examples(CLI::App& app);

/// --copy-keepers, --link-keepers, --move-rejects, --move-duplicates and --no-wait (dedup and
/// run).
void add_action_options(CLI::App* cmd, ActionsConfig& actions, bool& no_wait);

}  // namespace vpipe::cli
