#pragma once

#include <optional>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "vpipe/core/error.h"

namespace vpipe::cli {

// The exit codes of every command (docs/CLI.md, "Exit codes"). `vpipe validate` reads 1 as "the
// dataset has errors" and 2 as "it could not be read at all".
inline constexpr int kExitOk = 0;
inline constexpr int kExitFailed = 1;  ///< an error ended the run, or some operations failed
inline constexpr int kExitUsage = 2;   ///< the command line is wrong (CLI11's errors, UsageError)
inline constexpr int kExitBusy = 75;   ///< LockBusy under --no-wait (sysexits' EX_TEMPFAIL)
// 128 + the signal (130 SIGINT, 143 SIGTERM): stopped, rerun to resume (stop_signal.h).

/// The exit code for an Error that ended a command.
[[nodiscard]] int exit_code_of(const Error& e);

/// When the command line names a command `app` does not have (its first word that is not an
/// option), the message to print: "unknown command 'X'", with the command meant when it is a
/// near typo. Nothing otherwise, and nothing for `--help` or `--version`.
[[nodiscard]] std::optional<std::string> unknown_command(const CLI::App& app, int argc,
                                                         const char* const* argv);

/// For a command line CLI11 refused: a line for each `--option` it holds (before a bare `--`)
/// that neither vpipe nor the command it names has, "unknown option '--X' for 'CMD'", with the
/// option meant when it is a near typo. Empty when every option is known.
[[nodiscard]] std::vector<std::string> unknown_options(const CLI::App& app, int argc,
                                                       const char* const* argv);

}  // namespace vpipe::cli
