#include "vpipe/curate/crawl_pass.h"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <optional>
#include <thread>
#include <unordered_map>
#include <unordered_set>

#include "vpipe/core/error.h"
#include "vpipe/core/json.h"
#include "vpipe/core/log.h"
#include "vpipe/core/text.h"
#include "vpipe/crawl/url_store.h"
#include "vpipe/io/manifest.h"
#include "vpipe/io/paths.h"
#include "vpipe/io/run_scope.h"

namespace vpipe {
namespace {

using Clock = std::chrono::steady_clock;

/// Turns the caller's stop flag (SIGINT) into Fetcher::request_stop: the fetcher may be waiting
/// on slow servers with no result coming, so the flag is polled rather than checked per result.
class StopRelay {
 public:
  StopRelay(const std::atomic<bool>* stop, Fetcher& fetcher) {
    if (stop == nullptr) return;
    thread_ = std::thread([this, stop, &fetcher] {
      std::unique_lock lock(mutex_);
      while (!done_) {
        if (stop->load()) {
          fetcher.request_stop();
          return;
        }
        wake_.wait_for(lock, std::chrono::milliseconds(50));
      }
    });
  }
  ~StopRelay() {
    {
      std::lock_guard lock(mutex_);
      done_ = true;
    }
    wake_.notify_all();
    if (thread_.joinable()) thread_.join();
  }
  StopRelay(const StopRelay&) = delete;
  StopRelay& operator=(const StopRelay&) = delete;

 private:
  std::mutex mutex_;
  std::condition_variable wake_;
  bool done_ = false;
  std::thread thread_;
};

/// Per-host figures while the crawl runs (on the fetcher's thread only).
struct HostTally {
  CrawlHostRecord record;
  Clock::time_point first{Clock::time_point::max()}, last{};
};

}  // namespace

bool is_retryable_crawl_failure(std::string_view reason) {
  const std::optional<ParsedFailure> parsed = parse_failure_reason(reason);
  return parsed && retryable_on_rerun(parsed->failure, parsed->http_status);
}

std::string extras_json(const UrlRecord& record) {
  std::string json = "{";
  for (const auto& [key, value] : record.extras) {
    if (json.size() > 1) json += ',';
    json += json_quote(key);
    json += ':';
    json += json_quote(value);
  }
  json += '}';
  return json;
}

/// Every list, read before anything is written: a malformed list ends the run at once, naming
/// its file and line, and the manifest is untouched. A URL listed twice is kept once.
std::vector<CrawlUrlRecord> read_lists(const CrawlPassOptions& options, CrawlPassSummary& summary) {
  std::vector<CrawlUrlRecord> records;
  std::unordered_set<std::string> seen;
  for (const std::string& list : options.lists) {
    std::vector<UrlRecord> parsed = read_url_list(list, options.list);
    summary.listed += static_cast<int64_t>(parsed.size());
    for (UrlRecord& r : parsed) {
      if (!seen.insert(r.url).second) {
        ++summary.duplicates;
        continue;
      }
      CrawlUrlRecord u;
      u.host = url_host(r.url);
      u.source = list;
      u.line = static_cast<int64_t>(r.line);
      u.extras_json = extras_json(r);
      u.url = std::move(r.url);
      records.push_back(std::move(u));
    }
  }
  return records;
}

/// How a URL ended, as its `urls` row records it.
CrawlUrlRecord url_record(const FetchResult& r) {
  CrawlUrlRecord u;
  u.url = r.url;
  u.state = r.ok ? "done" : "failed";
  u.reason = r.reason;
  u.message = r.message;
  u.http_status = r.http_status;
  u.attempts = r.attempts;
  u.bytes = static_cast<int64_t>(r.bytes);
  u.content_type = r.content_type;
  u.final_url = r.final_url;
  if (r.ok) u.path = r.path.string();
  return u;
}

/// Counts a recorded URL in its host's figures and the summary's.
void tally_result(HostTally& tally, CrawlPassSummary& summary, const FetchResult& r) {
  ++tally.record.urls;
  tally.record.requests += r.attempts;
  if (r.ok) {
    ++summary.fetched;
    ++tally.record.done;
    tally.record.bytes += static_cast<int64_t>(r.bytes);
    summary.bytes += r.bytes;
  } else {
    ++summary.failed;
    ++tally.record.failed;
    ++summary.failures[r.reason];
    log().debug("crawl: {}: {} ({})", r.url, r.reason, r.message);
  }
  if (r.attempts > 0) tally.first = std::min(tally.first, r.started);
  tally.last = std::max(tally.last, r.finished);
}

/// The per-host figures, most bytes first.
std::vector<CrawlHostRecord> host_records(std::unordered_map<std::string, HostTally>& hosts) {
  std::vector<CrawlHostRecord> out;
  for (auto& [name, tally] : hosts) {
    if (tally.first < tally.last) {
      tally.record.seconds = std::chrono::duration<double>(tally.last - tally.first).count();
    }
    out.push_back(std::move(tally.record));
  }
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) {
    return a.bytes != b.bytes ? a.bytes > b.bytes : a.host < b.host;
  });
  return out;
}

/// The run's counts: the scan's statuses and the URLs' fates.
std::map<std::string, int64_t> crawl_counts(const CrawlPassSummary& summary) {
  std::map<std::string, int64_t> counts = summary.scan.status_counts;
  counts["urls_new"] = summary.new_urls;
  counts["urls_fetched"] = summary.fetched;
  counts["urls_failed"] = summary.failed;
  counts["urls_unfinished"] = summary.unfinished;
  counts["bytes"] = static_cast<int64_t>(summary.bytes);
  for (const auto& [reason, n] : summary.failures) counts["failed:" + reason] = n;
  return counts;
}

CrawlPassSummary run_crawl_pass(const CrawlPassOptions& options) {
  if (options.lists.empty()) throw ConfigError("crawl: give at least one URL list");
  if (options.fetch.out_dir.empty()) throw ConfigError("crawl: give the download folder (--out)");
  if (options.scan.db.empty()) throw ConfigError("crawl: give the manifest (--db)");

  CrawlPassSummary summary;
  std::vector<CrawlUrlRecord> records = read_lists(options, summary);

  // Durability: instead of an fsync per image on the fetcher's one thread (a few ms each: it
  // capped a crawl at ~180 URLs/s), the scan's manifest stage flushes the download folder's file
  // system once per batch, before the batch's URLs are recorded done.
  FetchOptions fetch_options = options.fetch;
  // Downloads are stored under an absolute folder, so files.path and urls.path work from any
  // directory (docs/MANIFEST.md, "Paths").
  fetch_options.out_dir = absolute_directory(fetch_options.out_dir.native());
  ScanOptions scan_options = options.scan;
  if (fetch_options.fsync) {
    fetch_options.fsync = false;
    scan_options.sync_before_commit = fetch_options.out_dir;
  }
  Fetcher fetcher(fetch_options);  // ConfigError for bad limits, before the manifest is touched
  Manifest manifest(options.scan.db);
  std::map<std::string, int64_t> run_counts;  // before the run: a failed run's record reads it
  RunScope run(manifest, "crawl", options.scan.config_json, options.scan.device.str());
  run.counts_from([&run_counts] { return run_counts; });
  {
    summary.new_urls = UrlStore(manifest).add_urls(records);
    summary.known = static_cast<int64_t>(records.size()) - summary.new_urls;
    records.clear();
    records.shrink_to_fit();
    std::function<bool(std::string_view)> retry;
    if (options.retry_failed) retry = is_retryable_crawl_failure;
    const std::vector<std::string> urls = UrlStore(manifest).urls_to_fetch(retry);
    summary.to_fetch = static_cast<int64_t>(urls.size());
    log().info("crawl: {} URLs listed ({} new), {} to fetch into {}", summary.listed,
               summary.new_urls, summary.to_fetch, fetch_options.out_dir.string());

    std::unordered_map<std::string, HostTally> hosts;
    const auto start = Clock::now();
    {
      StopRelay relay(options.scan.stop, fetcher);
      const ScanInputs inputs = [&](const std::function<bool(ScanInput &&)>& emit) {
        bool stopping = false;
        // A download already renamed into place whose URL stays pending is taken away again:
        // every image in the folder is one the manifest records (the next run fetches it).
        const auto drop_download = [](const FetchResult& r) {
          if (!r.ok || r.path.empty()) return;
          std::error_code ec;
          std::filesystem::remove(r.path, ec);
          if (ec)
            log().warn("crawl: cannot remove the unrecorded download {}: {}", r.path.string(),
                       ec.message());
        };
        summary.fetch = fetcher.run(urls, [&](const FetchResult& r) {
          if (r.failure == FetchFailure::kCancelled || stopping) {
            ++summary.unfinished;  // stays pending: the next run fetches it
            drop_download(r);
            return;
          }
          ScanInput input;
          input.url = url_record(r);
          if (r.ok) input.path = input.url->path;
          const std::string host = url_host(r.url);
          if (!emit(std::move(input))) {  // the scan is stopping: this URL stays pending
            stopping = true;
            ++summary.unfinished;
            drop_download(r);
            fetcher.request_stop();
            return;
          }
          HostTally& tally = hosts[host];
          tally.record.host = host;
          tally_result(tally, summary, r);
        });
      };
      summary.scan = scan_inputs(
          scan_options, manifest, "fetch", inputs, [&] { return summary.to_fetch; }, "URLs");
    }
    summary.seconds = std::chrono::duration<double>(Clock::now() - start).count();
    summary.stopped = summary.scan.stopped || summary.unfinished > 0;

    summary.hosts = host_records(hosts);

    run_counts = crawl_counts(summary);
    UrlStore(manifest).record_crawl_hosts(run.id(), summary.hosts);
    run.record_stages("crawl", summary.scan.engine);
  }
  run.finish(summary.stopped, run_counts);
  return summary;
}

}  // namespace vpipe
