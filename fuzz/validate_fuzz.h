#pragma once

// Shared by the validate targets: a dataset folder of this process's own with one small valid
// image in it, and the checks every ValidationReport must pass.

#include <filesystem>
#include <string>
#include <tuple>

#include "fuzz_util.h"
#include "vpipe/io/encode.h"
#include "vpipe/validate/validate.h"

namespace vpipe::fuzz {

/// A 4x3 RGB PNG written to `path` (its folders made).
inline void write_small_png(const std::filesystem::path& path) {
  std::filesystem::create_directories(path.parent_path());
  Image img(4, 3, 3);
  for (size_t i = 0; i < img.pixels.size(); ++i) img.pixels[i] = static_cast<uint8_t>(i * 20);
  const std::vector<uint8_t> png = encode_png(img);
  write_file(path, std::string_view(reinterpret_cast<const char*>(png.data()), png.size()));
}

/// What validate.h promises of a report: sorted findings, each with a kind and a message, and
/// only the files of `dir` named in them.
inline void check_report(const ValidationReport& report, const std::filesystem::path& dir) {
  for (size_t i = 0; i < report.findings.size(); ++i) {
    const Finding& f = report.findings[i];
    VPIPE_FUZZ_CHECK(!f.kind.empty() && !f.message.empty());
    VPIPE_FUZZ_CHECK(f.line >= 0);
    VPIPE_FUZZ_CHECK(f.path.rfind(dir.string(), 0) == 0);
    if (i > 0) {
      const Finding& p = report.findings[i - 1];
      VPIPE_FUZZ_CHECK(std::tie(p.path, p.line, p.kind, p.message) <=
                       std::tie(f.path, f.line, f.kind, f.message));
    }
  }
  VPIPE_FUZZ_CHECK(report.errors() + report.warnings() ==
                   static_cast<int64_t>(report.findings.size()));
}

}  // namespace vpipe::fuzz
