#include "vpipe/report/html_report.h"

#include <fmt/format.h>

#include <cstdio>
#include <string>
#include <system_error>

#include "vpipe/core/error.h"
#include "vpipe/io/atomic_file.h"
#include "vpipe/io/manifest.h"
#include "vpipe/report/report_writer.h"

namespace vpipe {

namespace fs = std::filesystem;
using report_detail::ReportWriter;

void check_report_dir(const fs::path& out_dir, bool force) {
  std::error_code ec;
  const fs::file_status status = fs::status(out_dir, ec);
  if (!fs::exists(status)) return;
  if (!fs::is_directory(status)) {
    throw ConfigError(fmt::format(
        "report: '{}' exists and is not a directory; choose another folder", out_dir.string()));
  }
  if (force || fs::is_empty(out_dir, ec) || fs::exists(out_dir / kOutputMarker, ec)) return;
  // Every page vpipe writes carries this in its head.
  constexpr std::string_view kGenerator = "<meta name=\"generator\" content=\"vpipe\">";
  std::string head(4096, '\0');
  if (std::FILE* index = std::fopen((out_dir / "index.html").c_str(), "rb"); index != nullptr) {
    head.resize(std::fread(head.data(), 1, head.size(), index));
    std::fclose(index);
    if (head.find(kGenerator) != std::string::npos) return;
  }
  throw ConfigError(fmt::format(
      "report: '{}' is not empty and holds no earlier vpipe report (an index.html written by "
      "vpipe); its index.html and pages would be replaced. Choose another folder or empty it "
      "(`vpipe report --force` writes into it anyway)",
      out_dir.string()));
}

ReportSummary write_report(const Manifest& manifest, const ReportOptions& options) {
  if (options.page_size < 1) {
    throw ConfigError(
        fmt::format("report page size must be at least 1, not {}", options.page_size));
  }
  if (options.out_dir.empty()) throw ConfigError("report needs an output directory");
  check_report_dir(options.out_dir, options.force);
  if (std::string error; !make_output_dir(options.out_dir.native(), error)) {
    throw IoError(
        fmt::format("cannot create report directory {}: {}", options.out_dir.string(), error));
  }
  ReportWriter writer(manifest, options);
  ReportSummary summary = writer.run();
  log().info("report: {} pages in {}, {} thumbnails made, {} reused, {} without preview",
             summary.pages, options.out_dir.string(), summary.thumbnails_made,
             summary.thumbnails_cached, summary.thumbnail_failures);
  return summary;
}

ReportSummary write_report(const fs::path& db, const ReportOptions& options) {
  std::error_code ec;
  if (!fs::is_regular_file(db, ec)) {
    throw IoError(fmt::format("manifest {} does not exist: run `vpipe scan --db {}` first",
                              db.string(), db.string()));
  }
  const Manifest manifest(db, Manifest::Access::read_only);
  ReportOptions with_title = options;
  if (with_title.title.empty()) with_title.title = "vpipe report: " + db.filename().string();
  return write_report(manifest, with_title);
}

}  // namespace vpipe
