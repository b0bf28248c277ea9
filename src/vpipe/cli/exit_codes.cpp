#include "vpipe/cli/exit_codes.h"

#include <string_view>
#include <vector>

#include <fmt/format.h>

#include "vpipe/core/text.h"

namespace vpipe::cli {

int exit_code_of(const Error& e) {
  if (dynamic_cast<const UsageError*>(&e) != nullptr) return kExitUsage;
  if (dynamic_cast<const LockBusy*>(&e) != nullptr) return kExitBusy;
  return kExitFailed;
}

std::optional<std::string> unknown_command(const CLI::App& app, int argc,
                                           const char* const* argv) {
  // vpipe's own options (-v, -q, --help, --version) take no value: the first other word is the
  // command.
  for (int i = 1; i < argc; ++i) {
    const std::string_view word = argv[i];
    if (word.empty() || word.front() == '-') continue;
    std::vector<std::string> names;
    for (const CLI::App* sub : app.get_subcommands({})) names.push_back(sub->get_name());
    for (const std::string& name : names) {
      if (name == word) return std::nullopt;
    }
    const std::vector<std::string_view> candidates(names.begin(), names.end());
    const std::string_view meant = closest(word, candidates);
    std::string all;
    for (const std::string& name : names) all += (all.empty() ? "" : ", ") + name;
    return fmt::format("unknown command '{}'{}; the commands are {}", word,
                       meant.empty() ? std::string() : fmt::format(" (did you mean '{}'?)", meant),
                       all);
  }
  return std::nullopt;
}

}  // namespace vpipe::cli
