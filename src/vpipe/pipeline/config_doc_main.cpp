// vpipe_config_doc: prints the generated parts of the config docs, or rewrites them in place.
//   vpipe_config_doc reference          the reference tables of docs/CONFIG.md
//   vpipe_config_doc defaults           configs/default.yaml
//   vpipe_config_doc update SOURCE_DIR  rewrites SOURCE_DIR/configs/default.yaml and the part of
//                                       SOURCE_DIR/docs/CONFIG.md between the GENERATED
//                                       REFERENCE markers
// tests/unit/pipeline/config_test.cpp fails when either file is out of date.

#include <fmt/format.h>

#include <cstdio>
#include <exception>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <string_view>

#include "vpipe/pipeline/config.h"

namespace {

constexpr std::string_view kBegin = "<!-- BEGIN GENERATED REFERENCE -->\n";
constexpr std::string_view kEnd = "<!-- END GENERATED REFERENCE -->";

std::string read_text(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read " + path.string());
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

void write_text(const std::filesystem::path& path, const std::string& text) {
  const std::filesystem::path temporary = path.string() + ".tmp";
  {
    std::ofstream out(temporary, std::ios::binary | std::ios::trunc);
    out << text;
    if (!out.flush()) throw std::runtime_error("cannot write " + temporary.string());
  }
  std::filesystem::rename(temporary, path);
}

void update(const std::filesystem::path& source_dir) {
  write_text(source_dir / "configs" / "default.yaml",
             vpipe::pipeline_config_yaml(vpipe::default_pipeline_config_example()));
  const std::filesystem::path doc = source_dir / "docs" / "CONFIG.md";
  const std::string text = read_text(doc);
  const size_t begin = text.find(kBegin);
  const size_t end = begin == std::string::npos ? begin : text.find(kEnd, begin);
  if (end == std::string::npos) {
    throw std::runtime_error(doc.string() + " lacks the GENERATED REFERENCE markers");
  }
  const size_t body = begin + kBegin.size();
  write_text(doc,
             text.substr(0, body) + vpipe::pipeline_config_reference_markdown() + text.substr(end));
}

}  // namespace

int main(int argc, char** argv) {
  const std::string_view command = argc > 1 ? argv[1] : "";
  try {
    if (command == "reference" && argc == 2) {
      fmt::print("{}", vpipe::pipeline_config_reference_markdown());
    } else if (command == "defaults" && argc == 2) {
      fmt::print("{}", vpipe::pipeline_config_yaml(vpipe::default_pipeline_config_example()));
    } else if (command == "update" && argc == 3) {
      update(argv[2]);
    } else {
      fmt::print(stderr, "usage: {} reference | defaults | update SOURCE_DIR\n", argv[0]);
      return 2;
    }
  } catch (const std::exception& e) {
    fmt::print(stderr, "vpipe_config_doc: {}\n", e.what());
    return 1;
  }
  return 0;
}
