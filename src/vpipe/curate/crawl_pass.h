#pragma once

// The crawl pass (issue 6): URL lists -> the manifest's `urls` table -> the fetcher -> the scan's
// stages, each download handed over as it lands. Resumable: a rerun fetches only what is still
// pending (and, when asked, what failed for a reason that may pass).

#include <atomic>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "vpipe/core/record.h"
#include "vpipe/crawl/fetcher.h"
#include "vpipe/crawl/url_list.h"
#include "vpipe/scan/scan.h"

namespace vpipe {

/// Everything `vpipe crawl` and the config's `ingest:` section can say.
struct CrawlPassOptions {
  std::vector<std::string> lists;  ///< URL list files (plain, CSV, TSV, JSONL)
  UrlListOptions list;             ///< format, URL column or field, header row
  FetchOptions fetch;              ///< fetch.out_dir is where the images land (made absolute)
  /// Also fetch again URLs that failed for a reason that may pass on another day
  /// (is_retryable_crawl_failure); otherwise a rerun fetches only pending URLs.
  bool retry_failed = false;
  /// The scan of the downloads: db (the manifest), threads, decode limits, progress, stop,
  /// trace, device, config_json. roots, path_list and force are not used.
  ScanOptions scan;
};

/// What a crawl pass did.
struct CrawlPassSummary {
  int64_t listed = 0;      ///< records in the lists
  int64_t duplicates = 0;  ///< records whose URL came earlier in the lists
  int64_t new_urls = 0;    ///< URLs added to the manifest by this run
  int64_t known = 0;       ///< URLs of the lists that the manifest had already
  int64_t to_fetch = 0;    ///< URLs this run set out to fetch (pending, and retried failures)
  int64_t fetched = 0;     ///< ended done this run
  int64_t failed = 0;      ///< ended failed this run
  int64_t unfinished = 0;  ///< still pending when the run stopped
  std::map<std::string, int64_t> failures;  ///< reason -> URLs failed for it this run
  uint64_t bytes = 0;                       ///< image bytes fetched this run
  FetchStats fetch;                         ///< the fetcher's counters (requests, retries...)
  std::vector<CrawlHostRecord> hosts;       ///< per host, most bytes first
  ScanSummary scan;                         ///< the scan of the downloads
  bool stopped = false;                     ///< interrupted: rerun to continue
  double seconds = 0;                       ///< wall time of the fetch-and-scan
};

/// True for the stored failure reasons that another attempt later may turn into a success
/// (crawl/fetch_failure.h, retryable_on_rerun): timeouts, network and TLS errors, DNS failures,
/// 429, 5xx, robots_unavailable, write_failed. False for a name that is no reason.
[[nodiscard]] bool is_retryable_crawl_failure(std::string_view reason);

/// The list record's extras as a JSON object of strings ({"caption": "...", ...}).
[[nodiscard]] std::string extras_json(const UrlRecord& record);

/// Reads the lists (UrlListError / IoError before anything is written), adds their URLs to the
/// manifest, fetches what is still to fetch and scans each image as it lands; URL rows and file
/// rows are written together. Per-URL problems are states in the manifest; throws vpipe::Error
/// for what ends the run (an unreadable list, an unopenable manifest, bad options).
CrawlPassSummary run_crawl_pass(const CrawlPassOptions& options);

}  // namespace vpipe
