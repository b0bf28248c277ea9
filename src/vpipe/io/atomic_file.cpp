#include "vpipe/io/atomic_file.h"

#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <string>
#include <system_error>

#include "vpipe/core/error.h"
#include "vpipe/core/log.h"

namespace vpipe {
namespace {

/// Distinguishes temporary files of concurrent writers in one process (the pid separates
/// processes).
std::atomic<uint64_t> g_temp_counter{0};

[[noreturn]] void fail(const std::filesystem::path& path, const std::string& step, int err) {
  throw IoError("cannot write '" + path.string() + "': " + step + ": " +
                std::generic_category().message(err));
}

/// Closes and removes the temporary file unless released, so no failure leaves it behind.
class TempFileGuard {
 public:
  explicit TempFileGuard(std::string path) : path_(std::move(path)) {}
  ~TempFileGuard() {
    if (fd_ >= 0) ::close(fd_);
    if (!path_.empty()) ::unlink(path_.c_str());
  }
  TempFileGuard(const TempFileGuard&) = delete;
  TempFileGuard& operator=(const TempFileGuard&) = delete;

  void set_fd(int fd) { fd_ = fd; }
  /// Closes the descriptor; returns 0 or the errno of close().
  int close_fd() {
    const int rc = ::close(fd_);
    fd_ = -1;
    return rc == 0 ? 0 : errno;
  }
  void release() { path_.clear(); }

 private:
  std::string path_;
  int fd_ = -1;
};

/// Makes a completed rename durable. Best effort: the file is already complete under its final
/// name, and some filesystems cannot fsync a directory.
void sync_directory(const std::filesystem::path& dir) {
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) {
    const int err = errno;
    log().debug("cannot open '{}' to fsync it: {}", dir.string(),
                std::generic_category().message(err));
    return;
  }
  if (::fsync(fd) != 0) {
    const int err = errno;
    if (err != EINVAL) {
      log().warn("cannot fsync directory '{}': {}", dir.string(),
                 std::generic_category().message(err));
    }
  }
  ::close(fd);
}

}  // namespace

void write_file_atomic(const std::filesystem::path& path, std::span<const uint8_t> bytes) {
  const std::filesystem::path dir = path.has_parent_path() ? path.parent_path() : ".";
  const std::string name = path.filename().native();
  if (name.empty()) fail(path, "the path names a directory, not a file", EISDIR);

  // Hidden, in the same directory (so rename stays within one filesystem and is atomic), and
  // unique per process and call.
  const std::filesystem::path temp =
      dir / ("." + name + ".tmp." + std::to_string(::getpid()) + "." +
             std::to_string(g_temp_counter.fetch_add(1, std::memory_order_relaxed)));

  const int fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
  if (fd < 0) {
    const int err = errno;
    fail(path, "cannot create temporary file '" + temp.string() + "'", err);
  }
  TempFileGuard guard(temp.native());
  guard.set_fd(fd);

  const uint8_t* data = bytes.data();
  size_t left = bytes.size();
  while (left > 0) {
    const ssize_t n = ::write(fd, data, left);
    if (n < 0) {
      const int err = errno;
      if (err == EINTR) continue;
      fail(path, "write to '" + temp.string() + "' failed", err);
    }
    data += n;
    left -= static_cast<size_t>(n);
  }
  if (::fsync(fd) != 0) {
    const int err = errno;
    fail(path, "fsync of '" + temp.string() + "' failed", err);
  }
  if (const int err = guard.close_fd(); err != 0) {
    fail(path, "close of '" + temp.string() + "' failed", err);
  }
  // Test hook of the crash tests (crops, thumbnails): VPIPE_FAULT_BEFORE_RENAME=N makes the
  // process die as in a crash (exit status 137, no cleanup) in its N+1th atomic write, after the
  // temporary file is complete and before it is renamed.
  if (const char* fault = std::getenv("VPIPE_FAULT_BEFORE_RENAME"); fault != nullptr) {
    static std::atomic<int64_t> writes{0};
    if (writes.fetch_add(1) >= std::atoll(fault)) ::_exit(137);
  }
  if (::rename(temp.c_str(), path.c_str()) != 0) {
    const int err = errno;
    fail(path, "rename from '" + temp.string() + "' failed", err);
  }
  guard.release();
  sync_directory(dir);
}

}  // namespace vpipe
