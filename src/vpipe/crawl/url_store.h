#pragma once

// The crawl's tables of the manifest (docs/MANIFEST.md: urls, crawl_hosts): their rows and the
// store that reads and writes them.

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "vpipe/core/record.h"

namespace vpipe {

class Manifest;
namespace manifest_detail {
class ManifestDb;
}  // namespace manifest_detail

/// A row of table `urls` (schema 4): one URL of a crawl and how far it got.
struct CrawlUrlRecord {
  std::string url;
  std::string state = "pending";  ///< pending, done or failed
  std::string reason;             ///< failed: the fetcher's stable reason (http_404, timeout...)
  std::string message;            ///< failed: detail for people
  int http_status = 0;            ///< of the last response; 0 when none came
  int attempts = 0;               ///< requests made for it, over every run
  std::string path;               ///< done: the image (a files.path)
  int64_t bytes = 0;              ///< body bytes of the last response
  std::string content_type;       ///< as the server sent it
  std::string final_url;          ///< after redirects
  std::string host;               ///< lowercase host of `url` (the unit of the per-host figures)
  std::string source;             ///< the list it came from
  int64_t line = 0;               ///< and the line there
  /// The list's other columns (caption, license...) as a JSON object of strings; "{}" if none.
  std::string extras_json = "{}";
};

/// A row of table `crawl_hosts`: what one crawl run did on one host.
struct CrawlHostRecord {
  std::string host;
  int64_t urls = 0, done = 0, failed = 0, requests = 0, bytes = 0;
  double seconds = 0;  ///< from the host's first request to its last result
};

/// The URLs a manifest's crawls were given and what became of them. A view over the manifest's
/// connection: cheap to make, used like the Manifest it was made from (one thread at a time);
/// writes need one opened read-write.
///
///   UrlStore(manifest).url_state_counts();
class UrlStore {
 public:
  explicit UrlStore(const Manifest& manifest);

  /// Adds URLs as "pending" under the current run, in one transaction. A URL already present
  /// (in any state) is left as it is, its extras included. Returns how many were new.
  int64_t add_urls(std::span<const CrawlUrlRecord> urls);
  /// The URLs a crawl still has to fetch, in the order they were added: every "pending" one,
  /// and the "failed" ones for whose reason `retry` returns true (when given).
  [[nodiscard]] std::vector<std::string> urls_to_fetch(
      const std::function<bool(std::string_view reason)>& retry = {}) const;
  /// Records what fetches ended in, with the file rows of the images they produced, in one
  /// transaction (so a URL is "done" exactly when its image has a files row). Each URL row is
  /// updated by `url`: state, reason, message, http_status, path, bytes, content_type,
  /// final_url; `attempts` is added to the stored count; the run is the current one. Throws
  /// ManifestError for a URL that was never added (nothing of the batch is written then).
  void record_crawl_results(std::span<const FileRecord> files,
                            std::span<const CrawlUrlRecord> urls);
  [[nodiscard]] std::optional<CrawlUrlRecord> find_url(std::string_view url) const;
  /// Streams every URL row in the order they were added (return false to stop).
  void for_each_url(const std::function<bool(const CrawlUrlRecord&)>& visit) const;
  /// state ("pending", "done", "failed") -> number of URLs; empty when nothing was crawled.
  [[nodiscard]] std::map<std::string, int64_t> url_state_counts() const;
  /// reason -> number of failed URLs.
  [[nodiscard]] std::map<std::string, int64_t> url_failure_counts() const;
  /// Body bytes of the URLs that are done.
  [[nodiscard]] int64_t crawled_bytes() const;
  /// Stores what crawl run `run_id` did per host (one transaction).
  void record_crawl_hosts(int64_t run_id, std::span<const CrawlHostRecord> hosts);
  /// The per-host figures of the most recent run that recorded any, most bytes first.
  [[nodiscard]] std::vector<CrawlHostRecord> latest_crawl_hosts() const;

 private:
  const manifest_detail::ManifestDb& db_;
};

}  // namespace vpipe
