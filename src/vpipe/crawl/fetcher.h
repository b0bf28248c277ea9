#pragma once

// The crawler's fetcher (issue 6): many HTTP(S) transfers on one thread through libcurl's multi
// interface, polite (robots.txt, per-host limits, back-off) and safe (http/https only, checked
// redirects, optional deny list of private addresses, bodies kept only when they are images).

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "vpipe/crawl/fetch_failure.h"

namespace vpipe {

/// What the fetcher does; every limit is per Fetcher::run.
struct FetchOptions {
  std::filesystem::path out_dir;  ///< images land in out_dir/<2 hex>/<32 hex>.<ext>; made if missing
  std::string user_agent = "vpipe-crawler/0.1 (+https://github.com/vpipe)";
  int max_connections = 64;           ///< transfers in flight, all hosts together
  int max_connections_per_host = 4;   ///< transfers (and open connections) in flight per host
  double requests_per_second_per_host = 0;  ///< request starts per host per second; 0 = no limit
  int max_attempts = 3;               ///< tries per URL, the first included (retries = this - 1)
  std::chrono::milliseconds backoff_base{500};  ///< first retry delay; doubles per retry, jittered
  std::chrono::milliseconds backoff_max{60000};
  /// A Retry-After longer than this is not waited for: the URL fails (http_429 / http_503...).
  std::chrono::milliseconds retry_after_max{120000};
  std::chrono::milliseconds connect_timeout{10000};
  /// A whole try, its redirect hops included (their transfer times add up; time queued for a
  /// host slot between hops does not count). A retry starts with the full time again.
  std::chrono::milliseconds total_timeout{60000};
  uint64_t max_body_bytes = 50ull << 20;            ///< larger bodies are aborted: too_large
  /// Redirects followed per URL (more: too_many_redirects). The fetcher follows them itself:
  /// each hop is a request under its own host's limits and robots.txt.
  int max_redirects = 5;
  /// Fetch /robots.txt once per origin and honour it, for the URL and every redirect target.
  bool respect_robots = true;
  /// Refuse connections to loopback, private (RFC 1918, ULA), link-local, CGNAT, multicast and
  /// unspecified addresses, for the first request and every redirect (checked on the address
  /// actually connected to, so DNS tricks do not get around it).
  bool deny_private_addresses = false;
  /// "host:port:address" pins, as curl's --resolve (tests map made-up host names to 127.0.0.1).
  std::vector<std::string> resolve;
  bool verify_tls = true;
  /// fsync each image before renaming it to its final name (a crash then never leaves a final
  /// name over missing data).
  bool fsync = true;
  uint64_t jitter_seed = 0;  ///< 0: seeded from the clock
};

/// How one URL ended.
struct FetchResult {
  size_t index = 0;  ///< position of the URL in the span given to run()
  std::string url;
  bool ok = false;
  FetchFailure failure = FetchFailure::kNone;  ///< kNone when ok
  /// failure_reason(failure, http_status): "" when ok; otherwise the stable name stored in the
  /// manifest (bad_url, bad_scheme, robots_disallowed, denied_address, dns_failed,
  /// connect_failed, timeout, tls_failed, too_many_redirects, too_large, not_image,
  /// http_<status> (http_404, http_429 ...), network_error, write_failed, robots_unavailable,
  /// cancelled).
  std::string reason;
  std::string message;  ///< detail for people (curl's error text...); not stable
  int http_status = 0;  ///< of the last attempt's final response; 0 when none came
  std::string content_type;  ///< as the server sent it (not trusted: the bytes decide)
  std::string final_url;     ///< the last hop: after redirects (robots_disallowed: the target)
  std::filesystem::path path;  ///< the image, when ok
  uint64_t bytes = 0;          ///< body bytes of the last attempt (the file's size when ok)
  /// Tries for this URL: the first and each retry (0: refused before any request). The
  /// redirect hops of a try are one attempt; a retry repeats only the hop that failed.
  int attempts = 0;
  bool duplicate = false;      ///< same URL as an earlier index: fetched once, result shared
  int http_version = 0;        ///< of the last response: 10, 11, 20, 30; 0 when none came
  /// When the URL's first request started and when it ended (both the same for a URL refused
  /// before any request): per-host throughput in the crawl's report.
  std::chrono::steady_clock::time_point started{}, finished{};
};

/// Counters over one run (the later report's crawl figures). Each distinct URL is counted once in
/// done or failed; `requests` counts every request (redirect hops and robots.txt fetches included).
struct FetchStats {
  uint64_t urls = 0, done = 0, failed = 0, requests = 0, retries = 0, bytes = 0,
           robots_fetches = 0;
};

/// The reason string for a failed URL (test and report helpers use these names).
[[nodiscard]] std::string http_reason(int status);

/// The final name of the image fetched from `url`: `<2 hex>/<32 hex>.<ext>` under the output
/// directory, the hex being XXH3-128 of the URL bytes; `ext` from the sniffed format ("jpg",
/// "png", "webp", ...). Never derived from the URL's path.
[[nodiscard]] std::filesystem::path image_path_for(const std::filesystem::path& out_dir,
                                                   std::string_view url, std::string_view ext);

/// True when the address (IPv4 or IPv6, as text) is in a range deny_private_addresses refuses.
[[nodiscard]] bool is_denied_address(std::string_view ip);

/// Lowercase host of an absolute URL ("" when it has none), as the fetcher reads it for its
/// per-host limits (curl's URL parser; an IPv6 literal keeps its brackets, user info is dropped):
/// also the unit of the crawl's per-host figures.
[[nodiscard]] std::string url_host(std::string_view url);

/// Fetches URLs. One run at a time (run() is not reentrant); request_stop() may be called from
/// any thread. All callbacks run on the thread that called run().
class Fetcher {
 public:
  /// Throws ConfigError for invalid options, IoError when out_dir cannot be made.
  explicit Fetcher(FetchOptions options);
  ~Fetcher();
  Fetcher(const Fetcher&) = delete;
  Fetcher& operator=(const Fetcher&) = delete;

  /// Fetches every URL; `on_result` is called once per index, as each URL ends (in completion
  /// order, not input order). The same URL at several indices is fetched once and reported for
  /// each (the later ones with duplicate = true). Returns when every URL has a result; after
  /// request_stop(), the URLs not finished end as "cancelled" (their partial files removed).
  /// An exception from `on_result` stops the run (transfers aborted, temporaries removed) and
  /// is rethrown.
  FetchStats run(std::span<const std::string> urls,
                 const std::function<void(const FetchResult&)>& on_result);

  /// Makes a running run() end soon (thread-safe, async-signal-unsafe).
  void request_stop();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace vpipe
