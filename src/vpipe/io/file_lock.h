#pragma once

#include <atomic>
#include <filesystem>
#include <functional>
#include <string>

namespace vpipe {

/// An exclusive advisory lock (flock(2)) on a small file, held for the lifetime of the object.
/// The kernel drops it when the process ends, crash and kill -9 included, so a lock left by a
/// dead run never blocks a later one; the file itself stays (it holds the holder's pid for
/// messages, nothing else). Locks of one path in one process do not nest: take it once.
class FileLock {
 public:
  struct Options {
    bool wait = true;  ///< false: a held lock throws LockBusy at once
    /// Ends a wait early: the lock is then not held (held() is false).
    const std::atomic<bool>* stop = nullptr;
    /// Called once, with the holder's pid (0 when unknown), when the lock has to be waited for.
    std::function<void(long holder_pid)> on_wait;
  };

  /// Takes the lock on `path`, creating the file when missing. Throws IoError when the file
  /// cannot be created or locked (a read-only folder), LockBusy when it is held and
  /// `options.wait` is false.
  FileLock(const std::filesystem::path& path, const Options& options);
  ~FileLock();
  FileLock(FileLock&& other) noexcept : fd_(other.fd_) { other.fd_ = -1; }
  FileLock& operator=(FileLock&& other) noexcept;
  FileLock(const FileLock&) = delete;
  FileLock& operator=(const FileLock&) = delete;

  /// False only when `options.stop` ended the wait.
  [[nodiscard]] bool held() const { return fd_ >= 0; }

  /// The pid written into the lock file at `path` by its last holder, or 0.
  [[nodiscard]] static long holder_pid(const std::filesystem::path& path);

 private:
  int fd_ = -1;
};

}  // namespace vpipe
