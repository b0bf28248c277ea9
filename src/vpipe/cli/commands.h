#pragma once

#include <CLI/CLI.hpp>

namespace vpipe::cli {

/// Each subcommand registers its options on `app` and returns the flag-holding state through
/// the callback it installs; the callback runs the command and stores its exit code in `*exit_code`.
void add_scan_command(CLI::App& app, int* exit_code);
void add_synth_command(CLI::App& app, int* exit_code);
void add_devices_command(CLI::App& app, int* exit_code);

}  // namespace vpipe::cli
