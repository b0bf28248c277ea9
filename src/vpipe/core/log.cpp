#include "vpipe/core/log.h"

#include <spdlog/sinks/stdout_color_sinks.h>

namespace vpipe {

spdlog::logger& log() {
  static std::shared_ptr<spdlog::logger> logger = [] {
    auto l = spdlog::stderr_color_mt("vpipe");
    l->set_pattern("%^[%l]%$ %v");
    return l;
  }();
  return *logger;
}

}  // namespace vpipe
