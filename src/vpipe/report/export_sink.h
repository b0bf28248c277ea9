#pragma once

// Internal to vpipe_report: the output file of the exports (export.cpp, export_dataset.cpp).

#include <fmt/format.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <string_view>

#include "vpipe/core/error.h"

namespace vpipe {

/// Output that is either stdout or a temporary file renamed to its final name on commit().
class ExportSink final {
 public:
  explicit ExportSink(const std::filesystem::path& out) : out_(out) {
    if (out == "-") {
      file_ = stdout;
      return;
    }
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
  std::filesystem::path out_;
  std::filesystem::path temp_;
  std::FILE* file_ = nullptr;
};

}  // namespace vpipe
