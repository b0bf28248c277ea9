#pragma once

// Runs the vpipe binary as a child process for end-to-end tests: capture its output and exit
// code, or stop it with a signal at a chosen moment.

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
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
  Child(const std::vector<std::string>& args, const std::string& scratch) : scratch_(scratch) {
    pid_ = ::fork();
    if (pid_ == 0) {
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

inline ProcessResult run_vpipe(const std::vector<std::string>& args, const std::string& scratch) {
  Child child(args, scratch);
  return child.wait();
}

}  // namespace vpipe::testing
