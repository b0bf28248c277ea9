#pragma once

// Internal to vpipe_report: the output file of the exports (export.cpp, export_dataset.cpp).

#include <fmt/format.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <functional>
#include <string>
#include <string_view>

#include "vpipe/core/error.h"

namespace vpipe {

/// Says whether the first bytes of an existing output file (at most ExportSink::kHeadBytes) are
/// those of an earlier export of the format being written.
using EarlierExport = std::function<bool(std::string_view head)>;

/// Output that is either stdout or a temporary file renamed to its final name on commit().
///
/// An existing output is replaced only when it is an earlier export of the same format
/// (`earlier`), or with `force`: a file vpipe never wrote (a photo, a config) is refused with a
/// ConfigError naming it, and so is a symbolic link (the rename would replace the link, not
/// write through it) and anything that is not a regular file.
class ExportSink final {
 public:
  static constexpr size_t kHeadBytes = 4096;

  ExportSink(const std::filesystem::path& out, bool force, const EarlierExport& earlier)
      : out_(out) {
    if (out == "-") {
      file_ = stdout;
      return;
    }
    if (!force) refuse_foreign(out, earlier);
    temp_ =
        out.parent_path() / fmt::format(".{}.vpipe-tmp-{}", out.filename().native(), ::getpid());
    file_ = std::fopen(temp_.c_str(), "wb");
    if (file_ == nullptr) {
      throw IoError(
          fmt::format("export: cannot write '{}': {}", out.string(), std::strerror(errno)));
    }
  }
  ~ExportSink() {
    if (file_ != nullptr && file_ != stdout) {
      std::fclose(file_);
      std::remove(temp_.c_str());
    }
  }
  ExportSink(const ExportSink&) = delete;
  ExportSink& operator=(const ExportSink&) = delete;

  void write(std::string_view text) {
    if (std::fwrite(text.data(), 1, text.size(), file_) != text.size()) {
      throw IoError(
          fmt::format("export: cannot write '{}': {}", out_.string(), std::strerror(errno)));
    }
  }

  void commit() {
    if (file_ == stdout) {
      std::fflush(stdout);
      return;
    }
    const bool ok = std::fflush(file_) == 0 && ::fsync(fileno(file_)) == 0;
    std::fclose(file_);
    file_ = nullptr;
    if (!ok || std::rename(temp_.c_str(), out_.c_str()) != 0) {
      const int err = errno;
      std::remove(temp_.c_str());
      throw IoError(
          fmt::format("export: cannot write '{}': {}", out_.string(), std::strerror(err)));
    }
  }

 private:
  static void refuse_foreign(const std::filesystem::path& out, const EarlierExport& earlier) {
    std::error_code ec;
    const std::filesystem::file_status status = std::filesystem::symlink_status(out, ec);
    if (!std::filesystem::exists(status)) return;
    const std::string name = out.string();
    if (std::filesystem::is_symlink(status)) {
      throw ConfigError(fmt::format(
          "export: '{}' is a symbolic link; the export would replace the link, not the file it "
          "points to. Choose another --out, or --force to replace the link",
          name));
    }
    if (!std::filesystem::is_regular_file(status)) {
      throw ConfigError(fmt::format("export: '{}' exists and is not a regular file; choose "
                                    "another --out",
                                    name));
    }
    std::string head(kHeadBytes, '\0');
    std::FILE* existing = std::fopen(out.c_str(), "rb");
    if (existing != nullptr) {
      head.resize(std::fread(head.data(), 1, head.size(), existing));
      std::fclose(existing);
    }
    if (existing == nullptr || !earlier || !earlier(head)) {
      throw ConfigError(fmt::format(
          "export: '{}' exists and is not an earlier vpipe export of this format; choose "
          "another --out, or --force to replace it",
          name));
    }
  }

  std::filesystem::path out_;
  std::filesystem::path temp_;
  std::FILE* file_ = nullptr;
};

}  // namespace vpipe
