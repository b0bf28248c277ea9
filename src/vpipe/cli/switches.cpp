#include "vpipe/cli/switches.h"

namespace vpipe::cli {

void add_switch(CLI::App* cmd, const std::string& name, bool* value, const std::string& help,
                bool* given) {
  const auto set = [value, given](bool on) {
    *value = on;
    if (given != nullptr) *given = true;
  };
  CLI::Option* on = cmd->add_flag_callback("--" + name, [set] { set(true); }, help);
  CLI::Option* off =
      cmd->add_flag_callback("--no-" + name, [set] { set(false); }, "the opposite of --" + name);
  on->excludes(off);
}

}  // namespace vpipe::cli
