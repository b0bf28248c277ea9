#pragma once

#include <spdlog/logger.h>

namespace vpipe {

/// The one logger of library code. Writes to stderr (stdout belongs to the CLI); thread-safe.
/// Level defaults to info; the CLI sets it from --verbose/--quiet.
spdlog::logger& log();

}  // namespace vpipe
