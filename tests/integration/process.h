#pragma once

// Runs the vpipe binary as a child process for end-to-end tests: capture its output and exit
// code, or stop it with a signal at a chosen moment.

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace vpipe::testing {

inline std::string vpipe_binary() { return std::string(VPIPE_BINARY_DIR) + "/bin/vpipe"; }

struct ProcessResult {
  int exit_code = -1;    ///< exit status, or 128 + signal when killed
  std::string out;       ///< stdout
  std::string err;       ///< stderr
};

/// A child running `vpipe args...` with stdout/stderr sent to files (no pipe can fill up and
/// block it while the test sleeps).
class Child {
 public:
  /// `cwd`: the directory the child runs in ("" = this process's).
  Child(const std::vector<std::string>& args, const std::string& scratch,
        const std::string& cwd = "")
      : scratch_(scratch) {
    pid_ = ::fork();
    if (pid_ == 0) {
      if (!cwd.empty() && ::chdir(cwd.c_str()) != 0) ::_exit(126);
      const int out = ::open((scratch + "/child.out").c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      const int err = ::open((scratch + "/child.err").c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      ::dup2(out, 1);
      ::dup2(err, 2);
      std::vector<char*> argv;
      std::string bin = vpipe_binary();
      argv.push_back(bin.data());
      std::vector<std::string> copy = args;
      for (auto& a : copy) argv.push_back(a.data());
      argv.push_back(nullptr);
      ::execv(bin.c_str(), argv.data());
      ::_exit(127);
    }
  }
  void signal(int sig) const { ::kill(pid_, sig); }
  ProcessResult wait() {
    int status = 0;
    ::waitpid(pid_, &status, 0);
    ProcessResult r;
    r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    r.out = slurp(scratch_ + "/child.out");
    r.err = slurp(scratch_ + "/child.err");
    return r;
  }
  static std::string slurp(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
  }

 private:
  pid_t pid_ = -1;
  std::string scratch_;
};

/// Runs `vpipe args...` to its end; `cwd` is the directory it runs in ("" = this process's).
inline ProcessResult run_vpipe(const std::vector<std::string>& args, const std::string& scratch,
                               const std::string& cwd = "") {
  Child child(args, scratch, cwd);
  return child.wait();
}

/// A curate corpus of `n` files (`vpipe synth --seed seed`) made once per build tree under
/// test-data/ and shared read-only by every test: ctest runs each test in its own process, in
/// parallel, so it is synthesized under a private name and renamed into place. Keyed by the
/// binary's mtime, since a rebuilt synth may write a different corpus. Returns its directory;
/// on failure the directory has no truth.csv and `error` says why.
inline std::filesystem::path shared_synth_corpus(int n, int seed, const std::string& scratch,
                                                 std::string* error = nullptr) {
  namespace fs = std::filesystem;
  const auto built = fs::last_write_time(vpipe_binary()).time_since_epoch().count();
  const fs::path dir = fs::path(VPIPE_BINARY_DIR) / "test-data" /
                       ("corpus-" + std::to_string(n) + "-seed" + std::to_string(seed) + "-" +
                        std::to_string(static_cast<uint64_t>(built)));
  if (fs::exists(dir / "truth.csv")) return dir;
  const fs::path tmp = dir.string() + ".tmp." + std::to_string(::getpid());
  const ProcessResult r = run_vpipe(
      {"synth", tmp.string(), "--n", std::to_string(n), "--seed", std::to_string(seed)}, scratch);
  if (r.exit_code != 0 && error != nullptr) *error = r.err;
  std::error_code ec;
  fs::rename(tmp, dir, ec);
  if (ec) fs::remove_all(tmp, ec);  // another test process got there first: same bytes
  return dir;
}

}  // namespace vpipe::testing
