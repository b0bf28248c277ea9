#pragma once

#include <string>

#include <CLI/CLI.hpp>

namespace vpipe::cli {

/// Adds `--NAME` and `--no-NAME`: flags that set `*value` to true and to false, and `*given`
/// (when not null) to true; naming both is a usage error. Two plain flags rather than CLI11's
/// "--NAME,!--no-NAME", whose help reads "--no-NAME{false}". `value` and `given` must outlive
/// the parse (members of the command's shared arguments).
void add_switch(CLI::App* cmd, const std::string& name, bool* value, const std::string& help,
                bool* given = nullptr);

}  // namespace vpipe::cli
