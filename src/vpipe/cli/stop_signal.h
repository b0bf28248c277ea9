#pragma once

#include <atomic>
#include <string_view>

namespace vpipe::cli {

/// Installs SIGINT and SIGTERM handlers that set `stop_requested()` and remember the signal; a
/// second signal of the same kind kills the process at once (the handlers reset themselves).
void install_stop_handlers();

/// Set once SIGINT or SIGTERM arrived.
const std::atomic<bool>& stop_requested();

/// The exit code that the received signal calls for: 128 + signal number (130 for SIGINT, 143 for
/// SIGTERM), or 0 when none arrived.
int stop_exit_code();

/// How every command ends a stopped run: prints "vpipe: interrupted: <what>" on stderr and
/// returns stop_exit_code(), or 130 when the run was stopped without a signal (a test's stop).
[[nodiscard]] int interrupted_exit(std::string_view what);

}  // namespace vpipe::cli
