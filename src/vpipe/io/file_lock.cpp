#include "vpipe/io/file_lock.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <string>
#include <system_error>
#include <thread>

#include <fmt/format.h>

#include "vpipe/core/error.h"

namespace vpipe {
namespace {

std::string errno_text(int err) { return std::generic_category().message(err); }

}  // namespace

FileLock::FileLock(const std::filesystem::path& path, const Options& options) {
  const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) {
    const int err = errno;
    throw IoError(fmt::format("cannot create the lock file '{}': {}", path.string(), errno_text(err)));
  }
  bool waited = false;
  while (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    const int err = errno;
    if (err == EINTR) continue;
    if (err != EWOULDBLOCK) {
      ::close(fd);
      throw IoError(fmt::format("cannot lock '{}': {}", path.string(), errno_text(err)));
    }
    if (!options.wait) {
      ::close(fd);
      const long pid = holder_pid(path);
      throw LockBusy(fmt::format("'{}' is held by another vpipe{}", path.string(),
                                 pid > 0 ? fmt::format(" (pid {})", pid) : std::string()));
    }
    if (!waited && options.on_wait) options.on_wait(holder_pid(path));
    waited = true;
    if (options.stop != nullptr && options.stop->load()) {
      ::close(fd);
      return;
    }
    // Polled rather than a blocking flock: Ctrl-C must still end the wait.
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  // Who holds it, for the next one's message. Best effort: the lock works without it.
  const std::string pid = std::to_string(::getpid()) + "\n";
  if (::ftruncate(fd, 0) == 0) {
    [[maybe_unused]] const ssize_t n = ::pwrite(fd, pid.data(), pid.size(), 0);
  }
  fd_ = fd;
}

FileLock::~FileLock() {
  if (fd_ >= 0) ::close(fd_);  // closing the last descriptor releases the flock
}

FileLock& FileLock::operator=(FileLock&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = other.fd_;
    other.fd_ = -1;
  }
  return *this;
}

long FileLock::holder_pid(const std::filesystem::path& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return 0;
  char text[32] = {};
  const ssize_t n = ::pread(fd, text, sizeof text - 1, 0);
  ::close(fd);
  if (n <= 0) return 0;
  return std::strtol(text, nullptr, 10);
}

}  // namespace vpipe
