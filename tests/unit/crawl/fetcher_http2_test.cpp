// The fetcher over HTTP/2: nghttpd (Debian package nghttp2-server, installed by
// scripts/install-deps.sh) serves a directory over TLS on 127.0.0.1 with a self-signed
// certificate made here by the openssl CLI. Missing tools fail the test (they are dependencies,
// not optional extras).

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "crawl_server.h"
#include "image_files.h"
#include "temp_dir.h"
#include "vpipe/crawl/fetcher.h"
#include "vpipe/io/encode.h"

namespace vpipe {
namespace {

using namespace std::chrono_literals;

/// The full path of an executable on PATH or in the sbin directories (nghttpd lives in
/// /usr/sbin, which a non-root PATH may lack); "" when there is none.
std::string find_tool(const std::string& name) {
  std::string dirs = std::getenv("PATH") != nullptr ? std::getenv("PATH") : "";
  dirs += ":/usr/sbin:/sbin:/usr/bin:/bin";
  std::istringstream in(dirs);
  for (std::string dir; std::getline(in, dir, ':');) {
    if (dir.empty()) continue;
    const std::string path = dir + "/" + name;
    if (::access(path.c_str(), X_OK) == 0) return path;
  }
  return "";
}

/// Runs argv[0] (a full path) with stdout and stderr into `log`; returns the exit status (-1 when
/// it did not exit normally).
int run_tool(const std::vector<std::string>& argv, const std::filesystem::path& log) {
  const pid_t pid = ::fork();
  if (pid == 0) {
    const int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (fd >= 0) {
      ::dup2(fd, 1);
      ::dup2(fd, 2);
    }
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    ::execv(args[0], args.data());
    ::_exit(127);
  }
  int status = 0;
  if (pid < 0 || ::waitpid(pid, &status, 0) != pid) return -1;
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/// A port on 127.0.0.1 that was free a moment ago (bound to port 0, then closed).
int free_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(addr);
  int port = 0;
  if (fd >= 0 && ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0 &&
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0) {
    port = ntohs(addr.sin_port);
  }
  if (fd >= 0) ::close(fd);
  return port;
}

bool accepts_connections(int port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(static_cast<uint16_t>(port));
  const bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0;
  ::close(fd);
  return ok;
}

/// nghttpd serving `docs` over TLS (h2 by ALPN) on 127.0.0.1; killed when this is destroyed.
/// Its verbose log (frames, each line tagged "[id=N]" with its connection) goes to `log`.
class Http2Server {
 public:
  Http2Server(const std::string& nghttpd, const std::filesystem::path& docs,
              const std::filesystem::path& key, const std::filesystem::path& cert,
              std::filesystem::path log)
      : log_(std::move(log)) {
    // the port may be taken between free_port() and nghttpd's bind: try a few
    for (int attempt = 0; attempt < 5 && port_ == 0; ++attempt) {
      const int port = free_port();
      if (port == 0) continue;
      pid_ = ::fork();
      if (pid_ == 0) {
        ::prctl(PR_SET_PDEATHSIG, SIGKILL);  // a crashed test leaves no server behind
        const int fd = ::open(log_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (fd >= 0) {
          ::dup2(fd, 1);
          ::dup2(fd, 2);
        }
        const std::string port_text = std::to_string(port);
        ::execl(nghttpd.c_str(), nghttpd.c_str(), "-v", "-a", "127.0.0.1", "-d", docs.c_str(),
                port_text.c_str(), key.c_str(), cert.c_str(), static_cast<char*>(nullptr));
        ::_exit(127);
      }
      // generous: the test machine may be a busy 2-core box
      const auto deadline = std::chrono::steady_clock::now() + 10s;
      while (std::chrono::steady_clock::now() < deadline) {
        if (::waitpid(pid_, nullptr, WNOHANG) == pid_) {  // exited: port taken, or worse
          pid_ = -1;
          break;
        }
        if (accepts_connections(port)) {
          port_ = port;
          break;
        }
        std::this_thread::sleep_for(20ms);
      }
      if (port_ == 0) stop();
    }
    if (port_ == 0) throw std::runtime_error("nghttpd did not start; see " + log_.string());
  }
  ~Http2Server() { stop(); }
  Http2Server(const Http2Server&) = delete;
  Http2Server& operator=(const Http2Server&) = delete;

  int port() const { return port_; }

  /// Connections that carried at least one request (distinct "[id=N]" with a HEADERS frame
  /// received in the verbose log; the readiness probe's connection carries none).
  size_t connections_with_requests() const {
    std::ifstream in(log_);
    std::set<std::string> ids;
    for (std::string line; std::getline(in, line);) {
      if (line.rfind("[id=", 0) == 0 && line.find("recv HEADERS") != std::string::npos) {
        ids.insert(line.substr(0, line.find(']')));
      }
    }
    return ids.size();
  }

 private:
  void stop() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGTERM);
    reap_or_kill(pid_);
  }

  std::filesystem::path log_;
  pid_t pid_ = -1;
  int port_ = 0;
};

void write_file(const std::filesystem::path& p, const std::vector<uint8_t>& bytes) {
  std::ofstream(p, std::ios::binary)
      .write(reinterpret_cast<const char*>(bytes.data()),
             static_cast<std::streamsize>(bytes.size()));
}

TEST(FetcherHttp2, ImagesArriveMultiplexedOverHttp2AndByteIdentical) {
  const std::string nghttpd = find_tool("nghttpd");
  const std::string openssl = find_tool("openssl");
  ASSERT_FALSE(nghttpd.empty()) << "nghttpd not found (package nghttp2-server): run "
                                   "scripts/install-deps.sh";
  ASSERT_FALSE(openssl.empty()) << "openssl not found: run scripts/install-deps.sh";

  testing::TempDir work("vpipe-crawl-h2-");
  const auto docs = work.path() / "docs";
  std::filesystem::create_directories(docs);
  const auto key = work.path() / "key.pem";
  const auto cert = work.path() / "cert.pem";
  // an EC key: generated in milliseconds, where RSA may take a second on a busy machine
  ASSERT_EQ(run_tool({openssl, "req", "-x509", "-newkey", "ec", "-pkeyopt",
                      "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", key.string(), "-out",
                      cert.string(), "-subj", "/CN=localhost", "-days", "2"},
                     work.path() / "openssl.log"),
            0)
      << "openssl req failed; see " << (work.path() / "openssl.log");

  // distinct images (each its own bytes), so a mix-up between multiplexed streams would show
  constexpr int kImages = 8;
  std::vector<std::vector<uint8_t>> served;
  for (int k = 0; k < kImages; ++k) {
    Image img(64 + 8 * k, 48, 3);
    for (size_t i = 0; i < img.pixels.size(); ++i) {
      img.pixels[i] = static_cast<uint8_t>(i * (7 + k));
    }
    served.push_back(k % 2 == 0 ? encode_jpeg(img, 85) : encode_png(img));
    write_file(docs / ("img" + std::to_string(k) + (k % 2 == 0 ? ".jpg" : ".png")), served.back());
  }

  Http2Server server(nghttpd, docs, key, cert, work.path() / "nghttpd.log");
  const std::string port = std::to_string(server.port());

  FetchOptions o;
  o.out_dir = work.path() / "images";
  o.verify_tls = false;  // self-signed
  o.resolve = {"img.test:" + port + ":127.0.0.1"};
  o.max_connections_per_host = 4;
  o.connect_timeout = 5000ms;
  o.total_timeout = 20000ms;
  o.backoff_base = 20ms;
  o.jitter_seed = 42;
  std::vector<std::string> urls;
  for (int k = 0; k < kImages; ++k) {
    urls.push_back("https://img.test:" + port + "/img" + std::to_string(k) +
                   (k % 2 == 0 ? ".jpg" : ".png"));
  }

  Fetcher fetcher(o);
  std::vector<std::optional<FetchResult>> results(urls.size());
  const FetchStats stats = fetcher.run(urls, [&](const FetchResult& r) {
    ASSERT_LT(r.index, urls.size());
    EXPECT_FALSE(results[r.index].has_value()) << "index " << r.index << " reported twice";
    results[r.index] = r;
  });

  for (size_t k = 0; k < urls.size(); ++k) {
    SCOPED_TRACE(urls[k]);
    ASSERT_TRUE(results[k].has_value());
    const FetchResult& r = *results[k];
    EXPECT_TRUE(r.ok) << r.reason << ": " << r.message;
    EXPECT_EQ(r.http_version, 20);
    EXPECT_EQ(r.http_status, 200);
    EXPECT_EQ(r.attempts, 1);
    EXPECT_EQ(r.final_url, urls[k]);
    EXPECT_EQ(r.path, image_path_for(o.out_dir, urls[k], k % 2 == 0 ? "jpg" : "png"));
    if (r.ok) {
      EXPECT_EQ(testing::read_bytes(r.path), served[k]);
    }
  }
  EXPECT_EQ(stats.done, static_cast<uint64_t>(kImages));
  EXPECT_EQ(stats.robots_fetches, 1u);  // nghttpd answers 404: everything allowed
  // robots.txt opens the one connection; the images, up to 4 at a time, are streams on it
  EXPECT_EQ(server.connections_with_requests(), 1u);
}

}  // namespace
}  // namespace vpipe
