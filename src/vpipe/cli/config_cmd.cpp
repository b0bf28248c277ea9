#include <memory>

#include <fmt/format.h>

#include "vpipe/cli/commands.h"
#include "vpipe/pipeline/config.h"

namespace vpipe::cli {

void add_config_command(CLI::App& app, int* exit_code) {
  auto check = std::make_shared<std::string>();
  auto defaults = std::make_shared<bool>(false);
  auto reference = std::make_shared<bool>(false);
  CLI::App* cmd = app.add_subcommand("config", "print the default pipeline config, its reference, or check a config file");
  cmd->add_flag("--defaults", *defaults, "print configs/default.yaml: every key with its default and a comment");
  cmd->add_flag("--reference", *reference, "print the Markdown reference of every key (docs/CONFIG.md)");
  cmd->add_option("--check", *check, "validate this pipeline YAML and print the effective config");
  cmd->callback([=] {
    if (!check->empty()) {
      const PipelineConfig config = load_pipeline_config(*check);
      fmt::print("{}", pipeline_config_yaml(config));
      fmt::print(stderr, "config: {} is valid\n", *check);
    } else if (*reference) {
      fmt::print("{}", pipeline_config_reference_markdown());
    } else {
      fmt::print("{}", pipeline_config_yaml(default_pipeline_config_example()));
    }
    *exit_code = 0;
  });
}

}  // namespace vpipe::cli
