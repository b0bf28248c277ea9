// libFuzzer target: the pipeline config loader (vpipe/pipeline/config.h). Text that parses must
// print back (pipeline_config_yaml) to YAML that parses to the same values, and to JSON; text
// that does not must fail with ConfigError and nothing else.

#include <cstdio>
#include <string_view>

#include "fuzz_util.h"
#include "vpipe/core/error.h"
#include "vpipe/pipeline/config.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  // Never read: relative paths are only joined to it, lexically.
  const std::filesystem::path base_dir = "/vpipe-fuzz-base";
  vpipe::PipelineConfig config;
  try {
    config = vpipe::parse_pipeline_config(text, "fuzz.yaml", base_dir);
  } catch (const vpipe::ConfigError&) {
    return 0;
  }
  const std::string yaml = vpipe::pipeline_config_yaml(config);
  vpipe::PipelineConfig again;
  try {
    again = vpipe::parse_pipeline_config(yaml, "printed.yaml", base_dir);
  } catch (const vpipe::ConfigError& e) {
    std::fprintf(stderr, "printed config does not parse: %s\n--- printed:\n%s\n", e.what(),
                 yaml.c_str());
    std::abort();
  }
  VPIPE_FUZZ_CHECK(vpipe::pipeline_config_values(again) == vpipe::pipeline_config_values(config));
  VPIPE_FUZZ_CHECK(!vpipe::pipeline_config_json(config).empty());
  return 0;
}
