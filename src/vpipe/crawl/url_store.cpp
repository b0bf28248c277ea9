// The crawl's tables (docs/MANIFEST.md: urls, crawl_hosts).

#include "vpipe/crawl/url_store.h"

#include "vpipe/core/error.h"
#include "vpipe/io/manifest.h"
#include "vpipe/io/manifest_db.h"
#include "vpipe/io/manifest_files.h"

namespace vpipe {

using manifest_detail::count_by;
using manifest_detail::int_or_null;
using manifest_detail::run_or_null;
using manifest_detail::Statement;
using manifest_detail::text_or_null;

namespace {

constexpr const char* kUrlColumns =
    "url, state, reason, message, http_status, attempts, path, bytes, content_type, final_url, "
    "host, source, line, extras";

CrawlUrlRecord read_url_row(const Statement& row) {
  CrawlUrlRecord r;
  r.url = row.text(0);
  r.state = row.text(1);
  r.reason = row.text(2);
  r.message = row.text(3);
  r.http_status = row.int32(4);
  r.attempts = row.int32(5);
  r.path = row.text(6);
  r.bytes = row.int64(7);
  r.content_type = row.text(8);
  r.final_url = row.text(9);
  r.host = row.text(10);
  r.source = row.text(11);
  r.line = row.int64(12);
  r.extras_json = row.text(13);
  return r;
}

}  // namespace

UrlStore::UrlStore(const Manifest& manifest) : db_(manifest.db()) {}

int64_t UrlStore::add_urls(std::span<const CrawlUrlRecord> urls) {
  int64_t added = 0;
  if (urls.empty()) return added;
  const manifest_detail::ManifestDb& db = db_;
  db.transaction("cannot commit URL rows", [&] {
    Statement stmt = db.prepare(
        "INSERT INTO urls (url, state, host, source, line, extras, added_run, run_id, "
        "updated_at) VALUES (?1, 'pending', ?2, ?3, ?4, ?5, ?6, ?6, ?7) "
        "ON CONFLICT (url) DO NOTHING");
    const std::string now = manifest_detail::now_utc_iso8601();
    for (const CrawlUrlRecord& u : urls) {
      stmt.bind_all(
              u.url, u.host, text_or_null(u.source), int_or_null(u.line, u.line > 0),
              u.extras_json.empty() ? std::string_view("{}") : std::string_view(u.extras_json),
              run_or_null(db), now)
          .run("cannot add a URL row");
      added += db.changes();
    }
  });
  return added;
}

std::vector<std::string> UrlStore::urls_to_fetch(
    const std::function<bool(std::string_view reason)>& retry) const {
  std::vector<std::string> urls;
  db_.prepare(
         "SELECT url, state, reason FROM urls WHERE state IN ('pending', 'failed') ORDER BY id")
      .each_row("cannot read URL rows", [&](const Statement& row) {
        if (row.text(1) == "failed" && !(retry && retry(row.text(2)))) return;
        urls.push_back(row.text(0));
      });
  return urls;
}

void UrlStore::record_crawl_results(std::span<const FileRecord> files,
                                    std::span<const CrawlUrlRecord> urls) {
  if (files.empty() && urls.empty()) return;
  const manifest_detail::ManifestDb& db = db_;
  const std::string now = manifest_detail::now_utc_iso8601();
  db.transaction("cannot commit crawl results", [&] {
    for (const FileRecord& record : files) manifest_detail::write_file_row(db, record, now);
    Statement stmt = db.prepare(
        "UPDATE urls SET state = ?2, reason = ?3, message = ?4, http_status = ?5, "
        "attempts = attempts + ?6, path = ?7, bytes = ?8, content_type = ?9, final_url = ?10, "
        "run_id = ?11, updated_at = ?12 WHERE url = ?1");
    for (const CrawlUrlRecord& u : urls) {
      stmt.bind_all(u.url, u.state, text_or_null(u.reason), text_or_null(u.message),
                    int_or_null(u.http_status, u.http_status > 0), u.attempts, text_or_null(u.path),
                    u.bytes, text_or_null(u.content_type), text_or_null(u.final_url),
                    run_or_null(db), now)
          .run("cannot update a URL row");
      if (db.changes() != 1) {
        throw ManifestError("manifest '" + db.name() + "': no URL row for '" + u.url + "'");
      }
    }
  });
}

std::optional<CrawlUrlRecord> UrlStore::find_url(std::string_view url) const {
  std::optional<CrawlUrlRecord> found;
  db_.prepare(std::string("SELECT ") + kUrlColumns + " FROM urls WHERE url = ?1")
      .bind(1, url)
      .each_row("cannot look up a URL row", [&](const Statement& row) {
        found = read_url_row(row);
        return false;
      });
  return found;
}

void UrlStore::for_each_url(const std::function<bool(const CrawlUrlRecord&)>& visit) const {
  db_.prepare(std::string("SELECT ") + kUrlColumns + " FROM urls ORDER BY id")
      .each_row("cannot read URL rows",
                [&](const Statement& row) { return visit(read_url_row(row)); });
}

std::map<std::string, int64_t> UrlStore::url_state_counts() const {
  return count_by(db_, "SELECT state, count(*) FROM urls GROUP BY state", "cannot count URL rows");
}

std::map<std::string, int64_t> UrlStore::url_failure_counts() const {
  return count_by(db_,
                  "SELECT coalesce(reason, ''), count(*) FROM urls WHERE state = 'failed' "
                  "GROUP BY 1",
                  "cannot count failed URLs");
}

int64_t UrlStore::crawled_bytes() const {
  return db_.query_int("SELECT coalesce(sum(bytes), 0) FROM urls WHERE state = 'done'",
                       "cannot sum crawled bytes");
}

void UrlStore::record_crawl_hosts(int64_t run_id, std::span<const CrawlHostRecord> hosts) {
  db_.transaction("cannot commit crawl host figures", [&] {
    Statement stmt = db_.prepare(
        "INSERT OR REPLACE INTO crawl_hosts (run_id, host, urls, done, failed, requests, bytes, "
        "seconds) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)");
    for (const CrawlHostRecord& h : hosts) {
      stmt.bind_all(run_id, h.host, h.urls, h.done, h.failed, h.requests, h.bytes, h.seconds)
          .run("cannot write crawl host figures");
    }
  });
}

std::vector<CrawlHostRecord> UrlStore::latest_crawl_hosts() const {
  std::vector<CrawlHostRecord> hosts;
  db_.prepare(
         "SELECT host, urls, done, failed, requests, bytes, seconds FROM crawl_hosts "
         "WHERE run_id = (SELECT max(run_id) FROM crawl_hosts) ORDER BY bytes DESC, host")
      .each_row("cannot read crawl host figures", [&](const Statement& row) {
        CrawlHostRecord h;
        h.host = row.text(0);
        h.urls = row.int64(1);
        h.done = row.int64(2);
        h.failed = row.int64(3);
        h.requests = row.int64(4);
        h.bytes = row.int64(5);
        h.seconds = row.real(6);
        hosts.push_back(std::move(h));
      });
  return hosts;
}

}  // namespace vpipe
