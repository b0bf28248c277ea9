#pragma once

// Runs part of a test in another current directory, and goes back at the end.

#include <filesystem>

namespace vpipe::testing {

/// Changes the process's current directory to `dir` and restores the previous one when
/// destroyed. Tests only: the current directory is process-wide (ctest runs each test in its
/// own process).
class ScopedCwd {
 public:
  explicit ScopedCwd(const std::filesystem::path& dir) : previous_(std::filesystem::current_path()) {
    std::filesystem::current_path(dir);
  }
  ~ScopedCwd() {
    std::error_code ec;  // a destructor must not throw
    std::filesystem::current_path(previous_, ec);
  }
  ScopedCwd(const ScopedCwd&) = delete;
  ScopedCwd& operator=(const ScopedCwd&) = delete;

 private:
  std::filesystem::path previous_;
};

}  // namespace vpipe::testing
