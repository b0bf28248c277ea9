#include "vpipe/io/file_lock.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <string>
#include <thread>

#include "temp_dir.h"
#include "vpipe/core/error.h"

namespace vpipe {
namespace {

namespace fs = std::filesystem;
using testing::TempDir;

FileLock::Options no_wait() {
  FileLock::Options o;
  o.wait = false;
  return o;
}

/// A child process that takes the lock on `path` and sleeps until killed; returns once it holds
/// it (it writes a byte to a pipe then).
pid_t child_holding(const fs::path& path) {
  int ready[2];
  if (::pipe(ready) != 0) return -1;
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::close(ready[0]);
    try {
      const FileLock lock(path, FileLock::Options{});
      [[maybe_unused]] const ssize_t n = ::write(ready[1], "x", 1);
      for (;;) ::pause();
    } catch (...) {
      ::_exit(3);
    }
  }
  ::close(ready[1]);
  char byte = 0;
  [[maybe_unused]] const ssize_t n = ::read(ready[0], &byte, 1);
  ::close(ready[0]);
  return pid;
}

void kill_and_reap(pid_t pid, int sig) {
  ::kill(pid, sig);
  int status = 0;
  ::waitpid(pid, &status, 0);
}

TEST(FileLockTest, ASecondHolderIsRefusedWithTheFirstOnesPidUntilItIsReleased) {
  TempDir tmp("vpipe_file_lock_");
  const fs::path path = tmp.path() / "run.db-actions.lock";
  {
    const FileLock first(path, no_wait());
    ASSERT_TRUE(first.held());
    EXPECT_EQ(FileLock::holder_pid(path), static_cast<long>(::getpid()));
    try {
      const FileLock second(path, no_wait());
      FAIL() << "a second lock was granted while the first is held";
    } catch (const LockBusy& e) {
      EXPECT_NE(std::string(e.what()).find(std::to_string(::getpid())), std::string::npos)
          << e.what();
      EXPECT_NE(std::string(e.what()).find(path.string()), std::string::npos) << e.what();
    }
  }
  // Released with the object: the next one gets it at once.
  const FileLock again(path, no_wait());
  EXPECT_TRUE(again.held());
}

TEST(FileLockTest, AWaiterGetsTheLockWhenTheHolderEndsAndSaysOnceWhoItWaitedFor) {
  TempDir tmp("vpipe_file_lock_");
  const fs::path path = tmp.path() / "x.lock";
  const pid_t holder = child_holding(path);
  ASSERT_GT(holder, 0);
  EXPECT_THROW({ const FileLock busy(path, no_wait()); }, LockBusy);

  int waits = 0;
  long waited_for = 0;
  FileLock::Options options;
  options.on_wait = [&](long pid) {
    ++waits;
    waited_for = pid;
  };
  std::thread killer([holder] {
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    kill_and_reap(holder, SIGKILL);  // a crash: the kernel drops its lock
  });
  const FileLock lock(path, options);
  killer.join();
  EXPECT_TRUE(lock.held());
  EXPECT_EQ(waits, 1);
  EXPECT_EQ(waited_for, static_cast<long>(holder));
  EXPECT_EQ(FileLock::holder_pid(path), static_cast<long>(::getpid()));
}

TEST(FileLockTest, AStopRequestEndsTheWaitWithoutTheLock) {
  TempDir tmp("vpipe_file_lock_");
  const fs::path path = tmp.path() / "x.lock";
  const pid_t holder = child_holding(path);
  ASSERT_GT(holder, 0);
  std::atomic<bool> stop{false};
  FileLock::Options options;
  options.stop = &stop;
  options.on_wait = [&](long) { stop = true; };
  const FileLock lock(path, options);
  EXPECT_FALSE(lock.held());
  kill_and_reap(holder, SIGKILL);
}

TEST(FileLockTest, AFolderThatCannotHoldTheLockFileIsAnIoErrorNamingIt) {
  if (::geteuid() == 0) GTEST_SKIP() << "root writes into read-only folders";
  TempDir tmp("vpipe_file_lock_");
  fs::permissions(tmp.path(), fs::perms::owner_read | fs::perms::owner_exec);
  try {
    const FileLock lock(tmp.path() / "x.lock", no_wait());
    FAIL() << "locked in a read-only folder";
  } catch (const IoError& e) {
    EXPECT_NE(std::string(e.what()).find("x.lock"), std::string::npos) << e.what();
  }
  fs::permissions(tmp.path(), fs::perms::owner_all);
}

}  // namespace
}  // namespace vpipe
