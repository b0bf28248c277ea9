#pragma once

// tests/fixtures/crawl_server.py (python3 http.server on 127.0.0.1, an ephemeral port) as a test
// object: started by the constructor, stopped by the destructor (or when the test process dies:
// the fixture exits when its stdin closes). Used by the fetcher, crawl-pass and CLI crawl tests.

#include <curl/curl.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <map>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace vpipe {

using namespace std::chrono_literals;

/// Waits up to 2 s for the child `pid` to exit, then kills it (SIGKILL); reaps it either way and
/// sets `pid` to -1. Nothing to do for pid <= 0.
inline void reap_or_kill(pid_t& pid) {
  if (pid <= 0) return;
  for (int i = 0; i < 100; ++i) {
    if (::waitpid(pid, nullptr, WNOHANG) == pid) {
      pid = -1;
      return;
    }
    std::this_thread::sleep_for(20ms);
  }
  ::kill(pid, SIGKILL);
  ::waitpid(pid, nullptr, 0);
  pid = -1;
}

/// The python fixture: forked with a pipe on stdin (closing it ends the server) and one on stdout
/// (the "PORT n" line). Serves the files of `root` under /files/.
class CrawlServer {
 public:
  explicit CrawlServer(const std::filesystem::path& root) {
    int in_pipe[2];
    int out_pipe[2];
    if (::pipe2(in_pipe, O_CLOEXEC) != 0 || ::pipe2(out_pipe, O_CLOEXEC) != 0) {
      throw std::runtime_error("pipe failed");
    }
    const std::string script = std::string(VPIPE_SOURCE_DIR) + "/tests/fixtures/crawl_server.py";
    pid_ = ::fork();
    if (pid_ == 0) {
      ::dup2(in_pipe[0], 0);
      ::dup2(out_pipe[1], 1);
      ::execlp("python3", "python3", script.c_str(), "--root", root.c_str(),
               static_cast<char*>(nullptr));
      ::_exit(127);
    }
    ::close(in_pipe[0]);
    ::close(out_pipe[1]);
    stdin_ = in_pipe[1];
    std::string line;
    pollfd pfd{out_pipe[0], POLLIN, 0};
    while (line.find('\n') == std::string::npos && ::poll(&pfd, 1, 10000) > 0) {
      char buf[64];
      const ssize_t n = ::read(out_pipe[0], buf, sizeof(buf));
      if (n <= 0) break;
      line.append(buf, static_cast<size_t>(n));
    }
    ::close(out_pipe[0]);
    if (line.rfind("PORT ", 0) != 0) {
      stop();
      throw std::runtime_error("the crawl fixture did not start: '" + line + "'");
    }
    port_ = std::stoi(line.substr(5));
  }
  ~CrawlServer() { stop(); }
  CrawlServer(const CrawlServer&) = delete;
  CrawlServer& operator=(const CrawlServer&) = delete;

  int port() const { return port_; }
  std::string base() const { return "http://127.0.0.1:" + std::to_string(port_); }

  /// GET on the fixture with plain libcurl (not the code under test).
  std::string get(const std::string& path) const {
    std::string body;
    CURL* e = curl_easy_init();
    const std::string url = base() + path;
    curl_easy_setopt(e, CURLOPT_URL, url.c_str());
    curl_easy_setopt(e, CURLOPT_PROXY, "");
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION,
                     +[](char* d, size_t s, size_t n, void* u) -> size_t {
                       static_cast<std::string*>(u)->append(d, s * n);
                       return s * n;
                     });
    curl_easy_setopt(e, CURLOPT_WRITEDATA, &body);
    curl_easy_perform(e);
    curl_easy_cleanup(e);
    return body;
  }

  /// /__stats as "key words..." -> the rest of the line, split on spaces.
  std::map<std::string, std::vector<std::string>> stats() const {
    std::map<std::string, std::vector<std::string>> out;
    std::istringstream in(get("/__stats"));
    std::string line;
    while (std::getline(in, line)) {
      std::istringstream words(line);
      std::string kind;
      std::string name;
      words >> kind;
      std::vector<std::string> rest;
      for (std::string w; words >> w;) rest.push_back(w);
      if (kind == "max_active_all" || kind == "max_conns" || kind == "accepted") {
        out[kind] = rest;
      } else if (!rest.empty()) {
        out[kind + " " + rest[0]] = std::vector<std::string>(rest.begin() + 1, rest.end());
      }
    }
    return out;
  }

 private:
  void stop() {
    if (stdin_ >= 0) ::close(stdin_);
    stdin_ = -1;
    reap_or_kill(pid_);
  }

  pid_t pid_ = -1;
  int stdin_ = -1;
  int port_ = 0;
};

inline int stat_int(const std::map<std::string, std::vector<std::string>>& s, const std::string& key) {
  auto it = s.find(key);
  return it == s.end() || it->second.empty() ? 0 : std::stoi(it->second[0]);
}

inline std::vector<double> stat_times(const std::map<std::string, std::vector<std::string>>& s,
                               const std::string& key) {
  std::vector<double> out;
  if (auto it = s.find(key); it != s.end()) {
    for (const auto& w : it->second) out.push_back(std::stod(w));
  }
  return out;
}

}  // namespace vpipe
