#include "vpipe/crawl/fetcher.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <fcntl.h>
#include <fmt/format.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <deque>
#include <mutex>
#include <queue>
#include <random>
#include <unordered_map>
#include <unordered_set>

#include "vpipe/core/error.h"
#include "vpipe/core/log.h"
#include "vpipe/core/text.h"
#include "vpipe/crawl/fetch_support.h"
#include "vpipe/crawl/robots.h"
#include "vpipe/crawl/url_list.h"
#include "vpipe/io/format.h"

namespace vpipe {
namespace {

using fetch_detail::Clock;
using fetch_detail::curl_failure;
using fetch_detail::denied_v4;
using fetch_detail::denied_v6;
using fetch_detail::extension_for;
using fetch_detail::Host;
using fetch_detail::Retry;
using fetch_detail::Robots;
using fetch_detail::split_url;
using fetch_detail::Task;
using fetch_detail::url_hash_hex;
using fetch_detail::UrlParts;

constexpr size_t kRobotsMaxBytes = 512 * 1024;  // RFC 9309: parse at least the first 500 KiB

/// curl_global_init once per process (it is not thread-safe before 7.84; this makes it so).
void curl_global_once() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

}  // namespace

struct Fetcher::Impl {
  FetchOptions options;
  CURLM* multi = nullptr;
  curl_slist* resolve = nullptr;
  CURLU* url_parser = nullptr;
  std::atomic<bool> stop{false};
  std::atomic<bool> running{false};

  /// One transfer in flight: an attempt of a task.
  struct Transfer {
    Impl* impl = nullptr;
    Task* task = nullptr;
    CURL* easy = nullptr;
    int fd = -1;
    std::filesystem::path tmp_path;
    uint64_t bytes = 0;
    std::vector<uint8_t> head;  // first kSniffBytes of the body
    std::string body;           // robots.txt only
    bool too_large = false, not_image = false, write_failed = false, denied = false,
         robots_truncated = false;
    std::string denied_ip;
    Clock::time_point started{};
    char errbuf[CURL_ERROR_SIZE] = {};
  };

  // ---- per-run state ----
  std::deque<Task> tasks;
  std::unordered_map<std::string, Host> hosts;
  std::unordered_set<Host*> hosts_with_work;
  std::unordered_map<std::string, Robots> robots;
  std::priority_queue<Retry, std::vector<Retry>, std::greater<>> retries;
  std::unordered_map<CURL*, std::unique_ptr<Transfer>> live;
  int in_flight = 0;
  size_t unfinished = 0;
  FetchStats stats;
  std::mt19937_64 rng;
  const std::function<void(const FetchResult&)>* on_result = nullptr;

  explicit Impl(FetchOptions o) : options(std::move(o)) {}

  ~Impl() {
    abort_all();
    if (multi != nullptr) curl_multi_cleanup(multi);
    if (resolve != nullptr) curl_slist_free_all(resolve);
    if (url_parser != nullptr) curl_url_cleanup(url_parser);
  }

  /// Removes every live transfer and its temporary file (used on stop, on an exception and at
  /// the end of a run).
  void abort_all() {
    for (auto& [easy, t] : live) {
      curl_multi_remove_handle(multi, easy);
      curl_easy_cleanup(easy);
      discard_file(*t);
    }
    live.clear();
    in_flight = 0;
  }

  static void discard_file(Transfer& t) {
    if (t.fd >= 0) {
      ::close(t.fd);
      t.fd = -1;
    }
    if (!t.tmp_path.empty()) {
      std::error_code ec;
      std::filesystem::remove(t.tmp_path, ec);
    }
  }

  // ---- callbacks (run on the run() thread, inside curl_multi_perform) ----

  static size_t on_write(char* data, size_t size, size_t nmemb, void* user) {
    auto* t = static_cast<Transfer*>(user);
    const size_t n = size * nmemb;
    if (t->task->is_robots) {
      if (t->body.size() + n > kRobotsMaxBytes) {
        t->robots_truncated = true;
        t->body.append(data, kRobotsMaxBytes - t->body.size());
        return 0;  // aborts: the first 512 KiB are enough
      }
      t->body.append(data, n);
      return n;
    }
    if (t->bytes + n > t->impl->options.max_body_bytes) {
      t->too_large = true;
      return 0;
    }
    t->bytes += n;
    long code = 0;
    curl_easy_getinfo(t->easy, CURLINFO_RESPONSE_CODE, &code);
    if (code < 200 || code >= 300) return n;  // an error page: counted, not kept
    if (t->head.size() < kSniffBytes) {
      const size_t take = std::min(n, kSniffBytes - t->head.size());
      t->head.insert(t->head.end(), data, data + take);
      if (t->head.size() == kSniffBytes && sniff_format(t->head) == ImageFormat::kUnknown) {
        t->not_image = true;  // no need to download the rest of a page that is not an image
        return 0;
      }
    }
    if (t->fd < 0) {
      std::error_code ec;
      std::filesystem::create_directories(t->tmp_path.parent_path(), ec);
      t->fd = ::open(t->tmp_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
      if (t->fd < 0) {
        t->write_failed = true;
        return 0;
      }
    }
    size_t done = 0;
    while (done < n) {
      const ssize_t w = ::write(t->fd, data + done, n - done);
      if (w < 0) {
        if (errno == EINTR) continue;
        t->write_failed = true;
        return 0;
      }
      done += static_cast<size_t>(w);
    }
    return n;
  }

  static curl_socket_t on_open_socket(void* user, curlsocktype purpose, curl_sockaddr* addr) {
    auto* t = static_cast<Transfer*>(user);
    if (purpose == CURLSOCKTYPE_IPCXN && t->impl->options.deny_private_addresses) {
      char ip[INET6_ADDRSTRLEN] = {};
      bool denied = true;
      if (addr->family == AF_INET) {
        const auto* sin = reinterpret_cast<const sockaddr_in*>(&addr->addr);
        inet_ntop(AF_INET, &sin->sin_addr, ip, sizeof(ip));
        denied = denied_v4(ntohl(sin->sin_addr.s_addr));
      } else if (addr->family == AF_INET6) {
        const auto* sin6 = reinterpret_cast<const sockaddr_in6*>(&addr->addr);
        inet_ntop(AF_INET6, &sin6->sin6_addr, ip, sizeof(ip));
        denied = denied_v6(sin6->sin6_addr.s6_addr);
      }
      if (denied) {
        t->denied = true;
        t->denied_ip = ip;
        return CURL_SOCKET_BAD;  // curl reports CURLE_COULDNT_CONNECT (or tries the next address)
      }
    }
    return ::socket(addr->family, addr->socktype | SOCK_CLOEXEC, addr->protocol);
  }

  // ---- run ----

  void finish(Task& task, FetchResult result) {
    if (result.ok) {
      ++stats.done;
    } else {
      ++stats.failed;
    }
    --unfinished;
    result.started = task.first_start;
    result.finished = Clock::now();
    if (task.attempts == 0) result.started = result.finished;
    for (size_t k = 0; k < task.indices.size(); ++k) {
      result.index = task.indices[k];
      result.duplicate = k > 0;
      (*on_result)(result);
    }
  }

  /// The result of a task that failed; `http_status` for kHttpStatus (the status it answered).
  FetchResult fail_result(const Task& task, FetchFailure failure, std::string message,
                          int http_status = 0) {
    FetchResult r = task.last;
    r.url = task.url;
    r.ok = false;
    r.failure = failure;
    if (failure == FetchFailure::kHttpStatus) r.http_status = http_status;
    r.reason = failure_reason(failure, r.http_status);
    r.message = std::move(message);
    r.attempts = task.attempts;
    r.path.clear();
    return r;
  }

  void start(Task& task, Host& host, Clock::time_point now) {
    auto t = std::make_unique<Transfer>();
    t->impl = this;
    t->task = &task;
    CURL* e = curl_easy_init();
    if (e == nullptr) throw Error("curl_easy_init failed (out of memory?)");
    t->easy = e;
    if (!task.is_robots) {
      const std::string hex = url_hash_hex(task.url);
      t->tmp_path = options.out_dir / hex.substr(0, 2) / fmt::format(".{}.part", hex);
    }
    const std::string url = task.is_robots ? task.origin + "/robots.txt" : task.hop_url;
    curl_easy_setopt(e, CURLOPT_URL, url.c_str());
    curl_easy_setopt(e, CURLOPT_PRIVATE, t.get());
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, &Impl::on_write);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, t.get());
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, t->errbuf);
    curl_easy_setopt(e, CURLOPT_USERAGENT, options.user_agent.c_str());
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
    if (task.is_robots) {
      // robots.txt's own redirects are left to curl (RFC 9309 asks for at least five hops):
      // they are one fetch per origin, not subject to robots rules themselves
      curl_easy_setopt(e, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
      curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 1L);
      curl_easy_setopt(e, CURLOPT_MAXREDIRS, static_cast<long>(options.max_redirects));
    } else {
      // an image's redirects are followed by the scheduler (on_redirect), so that each hop
      // waits for its own host's limits and robots.txt
      curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
    }
    curl_easy_setopt(e, CURLOPT_HTTP_VERSION, static_cast<long>(CURL_HTTP_VERSION_2TLS));
    curl_easy_setopt(e, CURLOPT_ACCEPT_ENCODING, "");  // every encoding curl was built with
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS,
                     static_cast<long>(options.connect_timeout.count()));
    const auto time_left =
        task.is_robots ? options.total_timeout
                       : std::chrono::duration_cast<std::chrono::milliseconds>(task.time_left);
    // at least 1 ms (0 would mean no timeout): a chain that used up its time fails as timeout
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS,
                     std::max<long>(1, static_cast<long>(time_left.count())));
    if (!task.is_robots) {
      curl_easy_setopt(e, CURLOPT_MAXFILESIZE_LARGE,
                       static_cast<curl_off_t>(options.max_body_bytes));
    }
    curl_easy_setopt(e, CURLOPT_PROXY, "");  // no proxy from the environment: the deny list
                                             // must see the address really connected to
    curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, options.verify_tls ? 1L : 0L);
    curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, options.verify_tls ? 2L : 0L);
    curl_easy_setopt(e, CURLOPT_OPENSOCKETFUNCTION, &Impl::on_open_socket);
    curl_easy_setopt(e, CURLOPT_OPENSOCKETDATA, t.get());
    if (resolve != nullptr) curl_easy_setopt(e, CURLOPT_RESOLVE, resolve);
    if (const CURLMcode mc = curl_multi_add_handle(multi, e); mc != CURLM_OK) {
      curl_easy_cleanup(e);
      throw Error(fmt::format("curl_multi_add_handle: {}", curl_multi_strerror(mc)));
    }
    t->started = now;
    live.emplace(e, std::move(t));
    if (task.attempts == 0) task.first_start = now;
    if (task.next_is_hop) {
      task.next_is_hop = false;  // a hop of the current try: not a new attempt
    } else {
      ++task.attempts;
      if (task.attempts > 1) ++stats.retries;
    }
    ++stats.requests;
    if (task.is_robots) ++stats.robots_fetches;
    ++host.in_flight;
    ++in_flight;
    if (options.requests_per_second_per_host > 0) {
      host.next_start = std::max(host.next_start, now) +
                        std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(
                            1.0 / options.requests_per_second_per_host));
    }
  }

  void queue_front(Task& task) {
    Host& h = hosts[task.host];
    h.queue.push_front(&task);
    hosts_with_work.insert(&h);
  }

  void queue_back(Task& task) {
    Host& h = hosts[task.host];
    h.queue.push_back(&task);
    hosts_with_work.insert(&h);
  }

  /// Starts what the limits allow now; returns when the next thing could start (or max()).
  Clock::time_point schedule(Clock::time_point now) {
    while (!retries.empty() && retries.top().when <= now) {
      queue_back(*retries.top().task);
      retries.pop();
    }
    Clock::time_point next = Clock::time_point::max();
    if (!retries.empty()) next = retries.top().when;
    std::vector<Host*> drained;
    for (Host* h : hosts_with_work) {
      while (!h->queue.empty() && in_flight < options.max_connections &&
             h->in_flight < options.max_connections_per_host) {
        if (h->next_start > now) {
          next = std::min(next, h->next_start);
          break;
        }
        Task& task = *h->queue.front();
        h->queue.pop_front();
        if (!task.is_robots && options.respect_robots) {
          Robots& r = robots[task.origin];
          if (r.state == Robots::State::kUnknown || r.state == Robots::State::kFetching) {
            r.waiting.push_back(&task);
            if (r.state == Robots::State::kUnknown) {
              r.state = Robots::State::kFetching;
              Task& rt = tasks.emplace_back();
              rt.is_robots = true;
              rt.host = task.host;
              rt.origin = task.origin;
              rt.url = task.origin + "/robots.txt";
              start(rt, *h, now);
            }
            continue;
          }
          if (r.state == Robots::State::kFailed) {
            finish(task, fail_result(task, r.fail_reason, r.fail_message));
            continue;
          }
          if (!r.rules.allowed(task.robots_path)) {
            finish(task, fail_result(task, FetchFailure::kRobotsDisallowed,
                                     fmt::format("{}/robots.txt disallows {}", task.origin,
                                                 task.robots_path)));
            continue;
          }
        }
        start(task, *h, now);
      }
      if (h->queue.empty()) drained.push_back(h);
    }
    for (Host* h : drained) hosts_with_work.erase(h);
    return next;
  }

  /// Schedules another attempt, or returns false when none is allowed.
  bool retry_later(Task& task, Host& host, Clock::time_point now, long retry_after_s,
                   std::string& why_not) {
    if (task.attempts >= options.max_attempts) {
      why_not = fmt::format("gave up after {} attempts", task.attempts);
      return false;
    }
    const auto retry_after = std::chrono::seconds(retry_after_s);
    if (retry_after > options.retry_after_max) {
      why_not = fmt::format("Retry-After {} s is beyond the {} ms the crawl waits", retry_after_s,
                            options.retry_after_max.count());
      return false;
    }
    // exponential back-off with "equal jitter": half fixed, half random
    const double exp = std::ldexp(static_cast<double>(options.backoff_base.count()),
                                  std::min(task.attempts - 1, 30));
    const double cap = std::min(exp, static_cast<double>(options.backoff_max.count()));
    std::uniform_real_distribution<double> unit(0.0, 1.0);
    const double backoff_ms = cap / 2 + unit(rng) * cap / 2;
    auto delay = std::chrono::duration_cast<Clock::duration>(
        std::chrono::duration<double, std::milli>(backoff_ms));
    if (retry_after_s > 0) {
      delay = std::max<Clock::duration>(delay, retry_after);
      // the server asked this host to slow down: nothing else starts there before then
      host.next_start = std::max(host.next_start, now + retry_after);
    }
    // a retry repeats the hop that failed, with a fresh total_timeout for the rest of the chain
    task.time_left = options.total_timeout;
    retries.push(Retry{now + delay, &task});
    return true;
  }

  void on_robots_done(Task& task, Transfer& t, CURLcode rc, long code, Host& host,
                      Clock::time_point now) {
    Robots& r = robots[task.origin];
    bool retryable = false;
    if (rc == CURLE_OK || (rc == CURLE_WRITE_ERROR && t.robots_truncated)) {
      if (code >= 200 && code < 300) {
        r.rules = RobotsRules::parse(t.body, options.user_agent);
        r.state = Robots::State::kReady;
      } else if (code == 429 || code >= 500) {
        long retry_after = 0;
        curl_off_t ra = 0;
        if (curl_easy_getinfo(t.easy, CURLINFO_RETRY_AFTER, &ra) == CURLE_OK)
          retry_after = static_cast<long>(ra);
        std::string why;
        if (retry_later(task, host, now, retry_after, why)) return;
        r.state = Robots::State::kFailed;
        r.fail_reason = FetchFailure::kRobotsUnavailable;
        r.fail_message = fmt::format("{}/robots.txt answered {} ({})", task.origin, code, why);
      } else {
        r.rules = RobotsRules();  // 4xx (or a redirect that went nowhere): no rules
        r.state = Robots::State::kReady;
      }
    } else {
      const FetchFailure failure = curl_failure(rc, t.denied, t.too_large, t.not_image, retryable);
      if (failure == FetchFailure::kTimeout || failure == FetchFailure::kConnectFailed ||
          failure == FetchFailure::kDnsFailed || failure == FetchFailure::kDeniedAddress ||
          failure == FetchFailure::kTlsFailed || failure == FetchFailure::kNetworkError) {
        std::string why;
        if (retryable && retry_later(task, host, now, 0, why)) return;
        // the host cannot be reached: its URLs fail with the same reason
        r.state = Robots::State::kFailed;
        r.fail_reason = failure;
        r.fail_message = fmt::format("fetching {}/robots.txt: {}", task.origin,
                                     t.errbuf[0] != '\0' ? t.errbuf : curl_easy_strerror(rc));
      } else {
        r.rules = RobotsRules();  // bad redirect, too many redirects...: treated as absent
        r.state = Robots::State::kReady;
      }
    }
    // the waiting URLs go first, in their order
    for (auto it = r.waiting.rbegin(); it != r.waiting.rend(); ++it) queue_front(**it);
    r.waiting.clear();
  }

  /// The figures of a finished hop's response (`code`, the transfer's bytes) into task.last.
  void record_response(Task& task, const Transfer& t, CURL* easy, long code) {
    char* ctype = nullptr;
    curl_easy_getinfo(easy, CURLINFO_CONTENT_TYPE, &ctype);
    char* effective = nullptr;
    curl_easy_getinfo(easy, CURLINFO_EFFECTIVE_URL, &effective);
    task.last = FetchResult();
    task.last.url = task.url;
    task.last.http_status = static_cast<int>(code);
    task.last.content_type = ctype != nullptr ? ctype : "";
    task.last.final_url = effective != nullptr ? effective : task.hop_url;
    task.last.bytes = t.bytes;
    task.last.attempts = task.attempts;
    long http_version = 0;
    curl_easy_getinfo(easy, CURLINFO_HTTP_VERSION, &http_version);
    switch (http_version) {
      case CURL_HTTP_VERSION_1_0:
        task.last.http_version = 10;
        break;
      case CURL_HTTP_VERSION_1_1:
        task.last.http_version = 11;
        break;
      case CURL_HTTP_VERSION_2_0:
        task.last.http_version = 20;
        break;
      case CURL_HTTP_VERSION_3:
        task.last.http_version = 30;
        break;
      default:
        task.last.http_version = 0;
        break;
    }
  }

  /// A body whose bytes are an image of `format`: closed (fsynced when asked), moved to its
  /// final name, and the task finished ok. False, with why in `message`, when it could not be
  /// written; the temporary file is then left to discard_file.
  bool keep_image(Task& task, Transfer& t, ImageFormat format, std::string& message) {
    bool written = t.fd >= 0;
    if (written && options.fsync) written = ::fsync(t.fd) == 0;
    if (t.fd >= 0 && ::close(t.fd) != 0) written = false;
    t.fd = -1;
    const std::filesystem::path final_path =
        image_path_for(options.out_dir, task.url, extension_for(format));
    std::error_code ec;
    if (written) std::filesystem::rename(t.tmp_path, final_path, ec);
    if (!written || ec) {
      message = fmt::format("cannot write {}: {}", final_path.string(),
                            ec ? ec.message() : std::strerror(errno));
      return false;
    }
    t.tmp_path.clear();
    FetchResult r = task.last;
    r.ok = true;
    r.path = final_path;
    finish(task, std::move(r));
    return true;
  }

  void on_done(CURL* easy, CURLcode rc) {
    auto node = live.extract(easy);
    // invariant: every easy handle in the multi was registered in `live` by start()
    std::unique_ptr<Transfer> t = std::move(node.mapped());
    Task& task = *t->task;
    Host& host = hosts[task.host];
    --host.in_flight;
    --in_flight;
    if (host.in_flight < options.max_connections_per_host && !host.queue.empty()) {
      hosts_with_work.insert(&host);
    }
    const Clock::time_point now = Clock::now();

    long code = 0;
    curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &code);
    curl_off_t retry_after = 0;
    curl_easy_getinfo(easy, CURLINFO_RETRY_AFTER, &retry_after);
    stats.bytes += t->bytes;

    struct Cleanup {  // the easy handle goes whatever happens below
      CURLM* multi;
      CURL* easy;
      ~Cleanup() {
        curl_multi_remove_handle(multi, easy);
        curl_easy_cleanup(easy);
      }
    } cleanup{multi, easy};

    if (task.is_robots) {
      on_robots_done(task, *t, rc, code, host, now);
      return;
    }

    task.time_left -= now - t->started;
    record_response(task, *t, easy, code);

    FetchFailure failure = FetchFailure::kNone;
    std::string message;
    bool retryable = false;
    char* location = nullptr;
    if (rc == CURLE_OK && code >= 300 && code < 400 &&
        curl_easy_getinfo(easy, CURLINFO_REDIRECT_URL, &location) == CURLE_OK &&
        location != nullptr) {
      discard_file(*t);
      on_redirect(task, location);
      return;
    }
    if (rc == CURLE_OK) {
      if (code >= 200 && code < 300) {
        const ImageFormat fmt = sniff_format(t->head);
        if (fmt == ImageFormat::kUnknown) {
          failure = FetchFailure::kNotImage;
          message =
              fmt::format("the bytes are not an image (Content-Type '{}')", task.last.content_type);
        } else if (keep_image(task, *t, fmt, message)) {
          return;
        } else {
          failure = FetchFailure::kWriteFailed;
        }
      } else {
        failure = FetchFailure::kHttpStatus;
        message = fmt::format("HTTP {}", code);
        retryable = code == 429 || code >= 500;
      }
    } else {
      failure = curl_failure(rc, t->denied, t->too_large, t->not_image, retryable);
      message = t->errbuf[0] != '\0' ? t->errbuf : curl_easy_strerror(rc);
      if (failure == FetchFailure::kDeniedAddress) {
        message = fmt::format("refused to connect to {} (deny_private_addresses)", t->denied_ip);
      } else if (failure == FetchFailure::kTooLarge) {
        message = fmt::format("body over {} bytes", options.max_body_bytes);
      } else if (failure == FetchFailure::kNotImage) {
        message = fmt::format("the first {} bytes are not an image (Content-Type '{}')",
                              kSniffBytes, task.last.content_type);
      }
    }
    discard_file(*t);
    std::string why_not;
    if (retryable && retry_later(task, host, now, static_cast<long>(retry_after), why_not)) {
      log().debug("crawl: {} attempt {}: {} ({}); retrying", task.url, task.attempts,
                  failure_reason(failure, static_cast<int>(code)), message);
      return;
    }
    if (retryable) message += "; " + why_not;
    finish(task, fail_result(task, failure, std::move(message), static_cast<int>(code)));
  }

  /// A hop answered 3xx with a Location (`target`, absolute): the task fails, or goes on as the
  /// next hop queued under the target's host, where robots.txt and the host's limits apply as
  /// to any URL (schedule()).
  void on_redirect(Task& task, const std::string& target) {
    if (task.redirects >= options.max_redirects) {
      finish(task, fail_result(task, FetchFailure::kTooManyRedirects,
                               fmt::format("more than {} redirects (the last to {})",
                                           options.max_redirects, target)));
      return;
    }
    const std::string wire = request_url(target);
    const UrlParts next = split_url(url_parser, wire);
    if (next.failure != FetchFailure::kNone) {
      finish(task, fail_result(
                       task, next.failure,
                       next.failure == FetchFailure::kBadScheme
                           ? fmt::format("redirect to {}: only http and https are fetched", target)
                           : fmt::format("redirect to {}: not a URL curl can parse", target)));
      return;
    }
    ++task.redirects;
    task.hop_url = wire;
    task.host = next.host;
    task.origin = next.origin;
    task.robots_path = next.robots_path;
    task.last.final_url = target;  // a hop refused before its request still names where it led
    task.next_is_hop = true;
    // ahead of the host's waiting URLs: a chain under way finishes before new ones start
    queue_front(task);
  }

  FetchStats run(std::span<const std::string> urls,
                 const std::function<void(const FetchResult&)>& callback) {
    tasks.clear();
    hosts.clear();
    hosts_with_work.clear();
    robots.clear();
    retries = {};
    stats = FetchStats();
    in_flight = 0;
    on_result = &callback;
    stop = false;
    rng.seed(options.jitter_seed != 0
                 ? options.jitter_seed
                 : static_cast<uint64_t>(Clock::now().time_since_epoch().count()));
    stats.urls = urls.size();

    struct EndOfRun {  // transfers and temporaries never outlive run(), even on an exception
      Impl* impl;
      ~EndOfRun() { impl->abort_all(); }
    } end_of_run{this};

    std::unordered_map<std::string_view, Task*> by_url;
    std::vector<Task*> refused;
    for (size_t i = 0; i < urls.size(); ++i) {
      if (auto it = by_url.find(urls[i]); it != by_url.end()) {
        it->second->indices.push_back(i);
        continue;
      }
      Task& task = tasks.emplace_back();
      task.url = urls[i];
      task.indices.push_back(i);
      by_url.emplace(task.url, &task);
      // Requested as a browser would (raw spaces percent-encoded); task.url stays as listed.
      std::string wire = request_url(task.url);
      UrlParts parts = split_url(url_parser, wire);
      if (parts.failure != FetchFailure::kNone) {
        task.last.failure = parts.failure;
        refused.push_back(&task);
        continue;
      }
      task.hop_url = std::move(wire);
      task.host = std::move(parts.host);
      task.origin = std::move(parts.origin);
      task.robots_path = std::move(parts.robots_path);
      task.time_left = options.total_timeout;
      queue_back(task);
    }
    unfinished = tasks.size();
    for (Task* task : refused) {
      const FetchFailure failure = task->last.failure;
      finish(*task, fail_result(*task, failure,
                                failure == FetchFailure::kBadScheme
                                    ? "only http and https URLs are fetched"
                                    : "not a URL curl can parse"));
    }

    while (unfinished > 0) {
      if (stop) break;
      Clock::time_point now = Clock::now();
      const Clock::time_point next = schedule(now);
      int still_running = 0;
      if (const CURLMcode mc = curl_multi_perform(multi, &still_running); mc != CURLM_OK) {
        throw Error(fmt::format("curl_multi_perform: {}", curl_multi_strerror(mc)));
      }
      int left = 0;
      while (CURLMsg* msg = curl_multi_info_read(multi, &left)) {
        if (msg->msg == CURLMSG_DONE) on_done(msg->easy_handle, msg->data.result);
      }
      if (unfinished == 0) break;
      now = Clock::now();
      int wait_ms = 1000;
      if (next != Clock::time_point::max()) {
        const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(next - now).count();
        wait_ms = static_cast<int>(std::clamp<long long>(ms + 1, 0, 1000));
      }
      if (!hosts_with_work.empty() && in_flight < options.max_connections) {
        // a host may have room now that a transfer ended: look again soon
        bool room = false;
        for (Host* h : hosts_with_work) {
          if (h->in_flight < options.max_connections_per_host && h->next_start <= now) room = true;
        }
        if (room) wait_ms = 0;
      }
      if (wait_ms > 0) curl_multi_poll(multi, nullptr, 0, wait_ms, nullptr);
    }
    if (unfinished > 0) cancel_unfinished();  // stopped: what has not ended is cancelled
    on_result = nullptr;
    return stats;
  }

  void cancel_unfinished() {
    std::vector<Task*> open;
    for (auto& [easy, t] : live) open.push_back(t->task);
    abort_all();
    for (auto& [name, host] : hosts) {
      for (Task* t : host.queue) open.push_back(t);
      host.queue.clear();
    }
    while (!retries.empty()) {
      open.push_back(retries.top().task);
      retries.pop();
    }
    for (auto& [origin, r] : robots) {
      for (Task* t : r.waiting) open.push_back(t);
      r.waiting.clear();
    }
    for (Task* t : open) {
      if (t->is_robots) continue;
      finish(*t, fail_result(*t, FetchFailure::kCancelled, "the crawl was stopped"));
    }
  }
};

Fetcher::Fetcher(FetchOptions options) : impl_(std::make_unique<Impl>(std::move(options))) {
  FetchOptions& o = impl_->options;
  if (o.out_dir.empty()) throw ConfigError("crawl: the output directory is not set");
  if (o.max_connections < 1) throw ConfigError("crawl: max_connections must be at least 1");
  if (o.max_connections_per_host < 1) {
    throw ConfigError("crawl: max_connections_per_host must be at least 1");
  }
  if (o.max_attempts < 1) throw ConfigError("crawl: max_attempts must be at least 1");
  if (o.requests_per_second_per_host < 0) {
    throw ConfigError("crawl: requests_per_second_per_host must not be negative");
  }
  if (o.max_redirects < 0) throw ConfigError("crawl: max_redirects must not be negative");
  std::error_code ec;
  std::filesystem::create_directories(o.out_dir, ec);
  if (ec) {
    throw IoError(fmt::format("cannot make the crawl output directory {}: {}", o.out_dir.string(),
                              ec.message()));
  }
  curl_global_once();
  impl_->multi = curl_multi_init();
  if (impl_->multi == nullptr) throw Error("curl_multi_init failed (out of memory?)");
  impl_->url_parser = curl_url();
  if (impl_->url_parser == nullptr) throw Error("curl_url failed (out of memory?)");
  // The limits are kept by the scheduler (a transfer starts only when its host and the whole
  // run have room), not by CURLMOPT_MAX_HOST_CONNECTIONS / MAX_TOTAL_CONNECTIONS: with those,
  // curl parks a transfer until a connection frees up and its timeout runs meanwhile, so a
  // waiting URL could fail as "timeout" without ever being sent.
  curl_multi_setopt(impl_->multi, CURLMOPT_PIPELINING, static_cast<long>(CURLPIPE_MULTIPLEX));
  for (const std::string& pin : o.resolve) {
    curl_slist* next = curl_slist_append(impl_->resolve, pin.c_str());
    if (next == nullptr) throw Error("curl_slist_append failed (out of memory?)");
    impl_->resolve = next;
  }
}

Fetcher::~Fetcher() = default;

FetchStats Fetcher::run(std::span<const std::string> urls,
                        const std::function<void(const FetchResult&)>& on_result) {
  // invariant: run() is not reentrant (one multi handle, one set of per-run tables)
  if (impl_->running.exchange(true)) throw Error("Fetcher::run called while it is running");
  struct Done {
    std::atomic<bool>& flag;
    ~Done() { flag = false; }
  } done{impl_->running};
  return impl_->run(urls, on_result);
}

void Fetcher::request_stop() {
  impl_->stop = true;
  curl_multi_wakeup(impl_->multi);
}

}  // namespace vpipe
