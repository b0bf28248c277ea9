#include "vpipe/cli/exit_codes.h"

#include <algorithm>
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

std::vector<std::string> unknown_options(const CLI::App& app, int argc,
                                         const char* const* argv) {
  const CLI::App* command = nullptr;
  std::vector<std::string> known;  // "--name" of every option of vpipe and of the command
  const auto add_options = [&known](const CLI::App& from) {
    for (const CLI::Option* option : from.get_options()) {
      for (const std::string& name : option->get_lnames()) known.push_back("--" + name);
    }
  };
  add_options(app);
  std::vector<std::string> lines;
  for (int i = 1; i < argc; ++i) {
    const std::string_view word = argv[i];
    if (word == "--") break;  // the rest are positional
    if (command == nullptr && !word.empty() && word.front() != '-') {
      for (const CLI::App* sub : app.get_subcommands({})) {
        if (sub->get_name() == word) command = sub;
      }
      if (command != nullptr) add_options(*command);
      continue;
    }
    if (!word.starts_with("--") || word.size() == 2) continue;
    const std::string_view name = word.substr(0, word.find('='));
    if (std::find(known.begin(), known.end(), name) != known.end()) continue;
    const std::vector<std::string_view> candidates(known.begin(), known.end());
    const std::string_view meant = closest(name, candidates);
    lines.push_back(fmt::format(
        "unknown option '{}'{}{}", name,
        command == nullptr ? std::string() : fmt::format(" for '{}'", command->get_name()),
        meant.empty() ? std::string() : fmt::format(" (did you mean '{}'?)", meant)));
  }
  return lines;
}

}  // namespace vpipe::cli
