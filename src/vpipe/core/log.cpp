#include "vpipe/core/log.h"

#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/stdout_color_sinks.h>

#include <memory>
#include <string_view>

#include "vpipe/core/text.h"

namespace vpipe {
namespace {

/// `%*`: the message with its control characters escaped (terminal_safe), so a file name or a
/// label line in a warning cannot drive the terminal or forge a line of the log.
class SafeMessage final : public spdlog::custom_flag_formatter {
 public:
  void format(const spdlog::details::log_msg& msg, const std::tm& /*time*/,
              spdlog::memory_buf_t& dest) override {
    const std::string safe =
        terminal_safe(std::string_view(msg.payload.data(), msg.payload.size()));
    dest.append(safe.data(), safe.data() + safe.size());
  }
  [[nodiscard]] std::unique_ptr<custom_flag_formatter> clone() const override {
    return std::make_unique<SafeMessage>();
  }
};

}  // namespace

spdlog::logger& log() {
  static std::shared_ptr<spdlog::logger> logger = [] {
    auto l = spdlog::stderr_color_mt("vpipe");
    auto formatter = std::make_unique<spdlog::pattern_formatter>();
    formatter->add_flag<SafeMessage>('*').set_pattern("%^[%l]%$ %*");
    l->set_formatter(std::move(formatter));
    return l;
  }();
  return *logger;
}

}  // namespace vpipe
