#pragma once

// A scratch directory for one test: made fresh by mkdtemp, removed with its contents at the end.

#include <stdlib.h>

#include <filesystem>
#include <stdexcept>
#include <string>
#include <system_error>

namespace vpipe::testing {

/// A new directory `<temp_directory_path>/<prefix>XXXXXX` (mkdtemp: unique, mode 0700), removed
/// with everything under it when this is destroyed. Throws std::runtime_error when it cannot be
/// made (gtest reports that as a failure of the test that owns it). Not copyable: one owner.
class TempDir {
 public:
  explicit TempDir(const std::string& prefix) {
    std::string pattern = (std::filesystem::temp_directory_path() / (prefix + "XXXXXX")).string();
    if (::mkdtemp(pattern.data()) == nullptr) {
      throw std::runtime_error("mkdtemp failed for " + pattern);
    }
    path_ = pattern;
  }
  ~TempDir() {
    std::error_code ec;  // a destructor must not throw; a leftover in /tmp is harmless
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

}  // namespace vpipe::testing
