#pragma once

// Private to vpipe_crawl: the fetcher's bookkeeping (a task per URL, per-host queues, robots.txt
// per origin, the retry heap) and its pure helpers (URL parts, the address deny-list, curl's
// codes as failure reasons, file names), apart from the transfer loop in fetcher.cpp.

#include <curl/curl.h>

#include <chrono>
#include <cstdint>
#include <deque>
#include <string>
#include <string_view>
#include <vector>

#include "vpipe/crawl/fetcher.h"
#include "vpipe/crawl/robots.h"
#include "vpipe/io/format.h"

namespace vpipe::fetch_detail {

using Clock = std::chrono::steady_clock;

/// One URL being fetched, across its tries and redirect hops.
struct Task {
  std::string url;              // as given: names the output file
  std::vector<size_t> indices;  // every input index with this URL; the first is the original
  // The hop to request next: the URL itself, or where its redirects have led so far. The
  // per-host limits and robots.txt apply to this hop's host and origin.
  std::string hop_url;
  std::string host;         // lowercase host name: the unit of the per-host limits
  std::string origin;       // scheme://host:port: the unit of robots.txt
  std::string robots_path;  // path[?query], matched against robots rules
  bool is_robots = false;
  int attempts = 0;    // tries (the first and each retry); redirect hops belong to a try
  int redirects = 0;   // hops followed so far (a retry repeats the failed hop, keeping the count)
  bool next_is_hop = false;  // the next start() follows a redirect (not a new try)
  // Transfer time the current try has left over all its hops (total_timeout bounds the chain).
  // Time spent queued for a host slot between hops does not count: a URL must not time out
  // without being sent (the reason the scheduler, not curl, keeps the limits).
  Clock::duration time_left{};
  Clock::time_point first_start{};  // when the first request was handed to curl
  FetchResult last;  // what the last attempt gave
};

/// A host's transfers in flight, the earliest next start its rate allows, and its waiting tasks.
struct Host {
  int in_flight = 0;
  Clock::time_point next_start{};
  std::deque<Task*> queue;
};

/// robots.txt of one origin: fetched once; tasks wait here until it is known.
struct Robots {
  enum class State : uint8_t { kUnknown, kFetching, kReady, kFailed };
  State state = State::kUnknown;
  RobotsRules rules;
  FetchFailure fail_reason = FetchFailure::kNone;
  std::string fail_message;
  std::vector<Task*> waiting;
};

/// A task's next try, kept in a min-heap by time.
struct Retry {
  Clock::time_point when;
  Task* task;
  bool operator>(const Retry& o) const { return when > o.when; }
};

struct UrlParts {
  FetchFailure failure = FetchFailure::kNone;  // kNone, or kBadUrl, kBadScheme
  std::string host, origin, robots_path;
};

/// The lowercase host, origin and robots path of an absolute http(s) URL (the host is filled for
/// another scheme too, for url_host). `parser` is scratch, reused between calls.
UrlParts split_url(CURLU* parser, const std::string& url);

/// The file extension a download of format `f` gets ("jpg", "png", "tif", "heic", ...).
[[nodiscard]] std::string_view extension_for(ImageFormat f);

/// XXH3-128 of the URL as 32 hex digits: the download's file name.
[[nodiscard]] std::string url_hash_hex(std::string_view url);

/// True for an IPv4 address (host byte order) in a range deny_private_addresses refuses.
[[nodiscard]] bool denied_v4(uint32_t address);
/// The same for an IPv6 address (16 bytes), IPv4-mapped and NAT64 ones judged by their IPv4.
[[nodiscard]] bool denied_v6(const uint8_t* address);

/// The failure of a transfer curl ended with `rc` (FetchResult::failure), and whether another
/// try within the run may help (`retryable`). `denied`, `too_large`, `not_image`: what the
/// fetcher's own callbacks saw (the socket refused, the body over the limit or not an image).
[[nodiscard]] FetchFailure curl_failure(CURLcode rc, bool denied, bool too_large,
                                        bool not_image, bool& retryable);

}  // namespace vpipe::fetch_detail
