// The crawl pass: URL lists -> manifest `urls` -> fetcher -> the scan's stages, against
// tests/fixtures/crawl_server.py on 127.0.0.1 (started and stopped by each test).

#include "vpipe/curate/crawl_pass.h"

#include <gtest/gtest.h>

#include <atomic>
#include <fstream>
#include <set>
#include <thread>

#include "crawl_server.h"
#include "image_files.h"
#include "temp_dir.h"
#include "vpipe/core/log.h"
#include "vpipe/crawl/url_store.h"
#include "vpipe/dedup/hashes.h"
#include "vpipe/io/encode.h"
#include "vpipe/io/file_store.h"
#include "vpipe/io/manifest.h"

namespace vpipe {
namespace {

namespace fs = std::filesystem;

void write_bytes(const fs::path& p, const std::vector<uint8_t>& bytes) {
  std::ofstream(p, std::ios::binary)
      .write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
}

void write_text(const fs::path& p, const std::string& text) {
  std::ofstream(p, std::ios::binary) << text;
}

class CrawlPassTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (std::getenv("VPIPE_CRAWL_DEBUG") != nullptr) log().set_level(spdlog::level::debug);
    // Distinct images (different patterns), so each has its own content hash.
    for (int k = 0; k < kImages; ++k) {
      Image img(80, 60, 3);
      for (size_t i = 0; i < img.pixels.size(); ++i) {
        img.pixels[i] = static_cast<uint8_t>((i * (k + 3)) ^ (i / 240 * 17 * (k + 1)));
      }
      jpegs_.push_back(encode_jpeg(img, 85));
      write_bytes(root_.path() / ("img" + std::to_string(k) + ".jpg"), jpegs_.back());
    }
    write_bytes(root_.path() / "good.jpg", jpegs_.back());  // what /flaky and /held serve
    write_bytes(root_.path() / "truncated.jpg",
                std::vector<uint8_t>(jpegs_[0].begin(), jpegs_[0].begin() + jpegs_[0].size() / 2));
    const std::string page = "<!DOCTYPE html><html><body>only pretends to be a JPEG</body></html>";
    write_text(root_.path() / "page.jpg", page);
    server_ = std::make_unique<CrawlServer>(root_.path());
  }

  std::string url(const std::string& path) const { return server_->base() + path; }

  CrawlPassOptions options(const std::vector<fs::path>& lists) const {
    CrawlPassOptions o;
    for (const auto& l : lists) o.lists.push_back(l.string());
    o.fetch.out_dir = out_.path() / "images";
    o.fetch.connect_timeout = std::chrono::milliseconds(2000);
    o.fetch.total_timeout = std::chrono::milliseconds(10000);
    o.fetch.backoff_base = std::chrono::milliseconds(10);
    o.fetch.max_attempts = 2;
    o.fetch.jitter_seed = 7;
    o.scan.db = db_;
    o.scan.threads = 2;
    return o;
  }

  int hits(const std::string& path) const {
    return stat_int(server_->stats(), "hits " + path);
  }

  static constexpr int kImages = 6;
  testing::TempDir root_{"vpipe-crawlpass-root-"};
  testing::TempDir out_{"vpipe-crawlpass-out-"};
  fs::path db_ = out_.path() / "run.db";
  std::vector<std::vector<uint8_t>> jpegs_;
  std::unique_ptr<CrawlServer> server_;
};

TEST_F(CrawlPassTest, EveryUrlGetsItsStateExtrasAndItsImageIsScannedAsItLands) {
  const fs::path list = out_.path() / "urls.csv";
  write_text(list,
             "url,caption,license\n" +
                 url("/files/img0.jpg") + ",\"a red, square thing\",cc-by\n" +
                 url("/files/img1.jpg") + ",second,cc0\n" +
                 url("/files/img2.jpg?ct=text/plain") + ",wrong content type,cc0\n" +
                 url("/files/truncated.jpg") + ",half a jpeg,\n" +
                 url("/files/page.jpg") + ",html named jpg,\n" +
                 url("/status/404") + ",gone,\n" +
                 url("/status/500") + ",broken,\n" +
                 "ftp://example.invalid/x.jpg,wrong scheme,\n" +
                 url("/files/img0.jpg") + ",repeated,\n");
  const CrawlPassSummary s = run_crawl_pass(options({list}));

  EXPECT_EQ(s.listed, 9);
  EXPECT_EQ(s.duplicates, 1);
  EXPECT_EQ(s.new_urls, 8);
  EXPECT_EQ(s.to_fetch, 8);
  EXPECT_EQ(s.fetched, 4);
  EXPECT_EQ(s.failed, 4);
  EXPECT_FALSE(s.stopped);
  EXPECT_EQ(s.failures, (std::map<std::string, int64_t>{
                            {"not_image", 1}, {"http_404", 1}, {"http_500", 1}, {"bad_scheme", 1}}));
  const uint64_t expected_bytes = jpegs_[0].size() + jpegs_[1].size() + jpegs_[2].size() +
                                  jpegs_[0].size() / 2;
  EXPECT_EQ(s.bytes, expected_bytes);

  Manifest m(db_);
  struct Want {
    std::string path, state, reason;
    int status, attempts;
  };
  const std::vector<Want> wants = {
      {"/files/img0.jpg", "done", "", 200, 1},
      {"/files/img1.jpg", "done", "", 200, 1},
      {"/files/img2.jpg?ct=text/plain", "done", "", 200, 1},
      {"/files/truncated.jpg", "done", "", 200, 1},
      {"/files/page.jpg", "failed", "not_image", 200, 1},
      {"/status/404", "failed", "http_404", 404, 1},
      {"/status/500", "failed", "http_500", 500, 2},  // retried once (max_attempts 2)
  };
  for (const Want& w : wants) {
    const auto u = UrlStore(m).find_url(url(w.path));
    ASSERT_TRUE(u.has_value()) << w.path;
    EXPECT_EQ(u->state, w.state) << w.path;
    EXPECT_EQ(u->reason, w.reason) << w.path;
    EXPECT_EQ(u->http_status, w.status) << w.path;
    EXPECT_EQ(u->attempts, w.attempts) << w.path;
    EXPECT_EQ(u->host, "127.0.0.1") << w.path;
    EXPECT_EQ(u->source, list.string());
    if (w.state == "done") {
      // The hand-off: the image is in `files` with its signals, without any walk of the folder.
      ASSERT_FALSE(u->path.empty()) << w.path;
      EXPECT_TRUE(fs::path(u->path).string().starts_with((out_.path() / "images").string()));
      const auto f = FileStore(m).find_file(u->path);
      ASSERT_TRUE(f.has_value()) << w.path;
      EXPECT_EQ(f->size_bytes, u->bytes) << w.path;
      const std::vector<uint8_t> bytes = testing::read_bytes(u->path);
      EXPECT_EQ(f->content_hash, content_hash(bytes)) << w.path;
      if (w.path == "/files/truncated.jpg") {
        EXPECT_EQ(f->status, ItemStatus::kDamaged);
      } else {
        EXPECT_EQ(f->status, ItemStatus::kOk) << w.path;
        EXPECT_TRUE(f->has_signals) << w.path;
        EXPECT_EQ(f->width, 80);
      }
    } else {
      EXPECT_TRUE(u->path.empty()) << w.path;
      EXPECT_FALSE(u->message.empty()) << w.path;
    }
  }
  // The list's other columns, as JSON; the repeated row did not replace the first one's.
  EXPECT_EQ(UrlStore(m).find_url(url("/files/img0.jpg"))->extras_json,
            R"({"caption":"a red, square thing","license":"cc-by"})");
  EXPECT_EQ(UrlStore(m).find_url(url("/files/img0.jpg"))->line, 2);
  EXPECT_EQ(UrlStore(m).find_url(url("/files/img2.jpg?ct=text/plain"))->content_type, "text/plain");
  const auto ftp = UrlStore(m).find_url("ftp://example.invalid/x.jpg");
  ASSERT_TRUE(ftp.has_value());
  EXPECT_EQ(ftp->reason, "bad_scheme");
  EXPECT_EQ(ftp->attempts, 0);

  EXPECT_EQ(FileStore(m).count_files(), 4);  // only the downloads, each once
  EXPECT_EQ(UrlStore(m).url_state_counts(),
            (std::map<std::string, int64_t>{{"done", 4}, {"failed", 4}}));
  EXPECT_EQ(UrlStore(m).url_failure_counts(), s.failures);
  EXPECT_EQ(UrlStore(m).crawled_bytes(), static_cast<int64_t>(expected_bytes));

  const std::vector<CrawlHostRecord> hosts = UrlStore(m).latest_crawl_hosts();
  ASSERT_EQ(hosts.size(), 2U);
  EXPECT_EQ(hosts[0].host, "127.0.0.1");
  EXPECT_EQ(hosts[0].urls, 7);
  EXPECT_EQ(hosts[0].done, 4);
  EXPECT_EQ(hosts[0].failed, 3);
  EXPECT_EQ(hosts[0].requests, 8);
  EXPECT_EQ(hosts[0].bytes, static_cast<int64_t>(expected_bytes));
  EXPECT_GT(hosts[0].seconds, 0);
  EXPECT_EQ(hosts[1].host, "example.invalid");
  EXPECT_EQ(hosts[1].failed, 1);
  EXPECT_EQ(hosts[1].requests, 0);

  const auto runs = m.runs();
  ASSERT_FALSE(runs.empty());
  EXPECT_EQ(runs.back().command, "crawl");
  EXPECT_EQ(runs.back().outcome, "completed");
}

TEST_F(CrawlPassTest, RerunFetchesOnlyWhatItDoesNotHaveAndRetriesFailuresOnlyWhenAsked) {
  const fs::path list = out_.path() / "urls.txt";
  const std::string flaky = "/flaky?key=rerun&fail=1&code=503";
  write_text(list, url("/files/img0.jpg") + "\n" + url("/files/img1.jpg") + "\n" +
                       url(flaky) + "\n" + url("/status/404") + "\n");
  CrawlPassOptions o = options({list});
  o.fetch.max_attempts = 1;
  CrawlPassSummary s = run_crawl_pass(o);
  EXPECT_EQ(s.fetched, 2);
  EXPECT_EQ(s.failed, 2);
  EXPECT_EQ(hits("/files/img0.jpg"), 1);
  EXPECT_EQ(hits("/flaky"), 1);
  EXPECT_EQ(hits("/status/404"), 1);

  // The same list plus one new URL: only the new one is fetched.
  write_text(list, url("/files/img0.jpg") + "\n" + url("/files/img1.jpg") + "\n" + url(flaky) +
                       "\n" + url("/status/404") + "\n" + url("/files/img3.jpg") + "\n");
  s = run_crawl_pass(o);
  EXPECT_EQ(s.new_urls, 1);
  EXPECT_EQ(s.known, 4);
  EXPECT_EQ(s.to_fetch, 1);
  EXPECT_EQ(s.fetched, 1);
  EXPECT_EQ(hits("/files/img0.jpg"), 1);
  EXPECT_EQ(hits("/files/img1.jpg"), 1);
  EXPECT_EQ(hits("/files/img3.jpg"), 1);
  EXPECT_EQ(hits("/flaky"), 1);

  // --retry-failed: the 503 (may pass) is fetched again and now succeeds; the 404 is not.
  o.retry_failed = true;
  s = run_crawl_pass(o);
  EXPECT_EQ(s.to_fetch, 1);
  EXPECT_EQ(s.fetched, 1);
  EXPECT_EQ(hits("/flaky"), 2);
  EXPECT_EQ(hits("/status/404"), 1);
  Manifest m(db_);
  const auto u = UrlStore(m).find_url(url(flaky));
  ASSERT_TRUE(u.has_value());
  EXPECT_EQ(u->state, "done");
  EXPECT_EQ(u->reason, "");
  EXPECT_EQ(u->attempts, 2);  // over both runs
  EXPECT_EQ(FileStore(m).count_files(), 4);
  EXPECT_EQ(UrlStore(m).url_state_counts(),
            (std::map<std::string, int64_t>{{"done", 4}, {"failed", 1}}));
}

TEST_F(CrawlPassTest, StopLeavesUnfinishedUrlsPendingAndTheRerunFinishesThemOnce) {
  const fs::path list = out_.path() / "urls.txt";
  std::string text;
  constexpr int kUrls = 24;
  for (int i = 0; i < kUrls; ++i) {
    text += url("/files/img" + std::to_string(i % kImages) + ".jpg?ms=150&n=" + std::to_string(i)) +
            "\n";
  }
  write_text(list, text);
  CrawlPassOptions o = options({list});
  o.fetch.max_connections_per_host = 2;
  std::atomic<bool> stop{false};
  o.scan.stop = &stop;
  std::thread stopper([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(600));
    stop = true;
  });
  const CrawlPassSummary first = run_crawl_pass(o);
  stopper.join();
  EXPECT_TRUE(first.stopped);
  EXPECT_GT(first.fetched, 0);
  EXPECT_LT(first.fetched, kUrls);
  Manifest m(db_);
  auto states = UrlStore(m).url_state_counts();
  EXPECT_EQ(states["done"], first.fetched);
  EXPECT_EQ(states["pending"], kUrls - first.fetched);
  EXPECT_EQ(m.runs().back().outcome, "interrupted");
  // No temporary is left behind, and every image in the folder is one the manifest records (a
  // download that landed as the stop came is taken away again, not orphaned).
  std::set<std::string> recorded;
  for (const FileRecord& f : FileStore(m).all_files()) recorded.insert(f.path);
  for (const auto& e : fs::recursive_directory_iterator(out_.path() / "images")) {
    if (!e.is_regular_file() || e.path().filename() == ".vpipe-output") continue;
    EXPECT_FALSE(e.path().filename().string().ends_with(".part")) << e.path();
    EXPECT_TRUE(recorded.contains(e.path().string())) << "orphaned: " << e.path();
  }

  o.scan.stop = nullptr;
  const CrawlPassSummary second = run_crawl_pass(o);
  EXPECT_FALSE(second.stopped);
  EXPECT_EQ(second.to_fetch, kUrls - first.fetched);
  EXPECT_EQ(second.fetched, kUrls - first.fetched);
  states = UrlStore(m).url_state_counts();
  EXPECT_EQ(states, (std::map<std::string, int64_t>{{"done", kUrls}}));
  EXPECT_EQ(FileStore(m).count_files(), kUrls);
  // Each URL requested once over both runs: the first run's are not fetched again. (The stop
  // waits for transfers in flight to be cancelled, so none of them counts as done.)
  const auto stats = server_->stats();
  int total = 0;
  for (int k = 0; k < kImages; ++k) total += stat_int(stats, "hits /files/img" + std::to_string(k) + ".jpg");
  EXPECT_GE(total, kUrls);
  // At most the transfers in flight at the stop (2 per host, and those that started in the
  // ~50 ms before the fetcher saw it) were asked for twice.
  EXPECT_LE(total, kUrls + 4);
}

TEST_F(CrawlPassTest, AMalformedListEndsTheRunBeforeTheManifestIsTouched) {
  const fs::path list = out_.path() / "bad.jsonl";
  write_text(list, "{\"url\": \"" + url("/files/img0.jpg") + "\"}\n{\"url\": \n");
  try {
    (void)run_crawl_pass(options({list}));
    FAIL() << "expected UrlListError";
  } catch (const UrlListError& e) {
    EXPECT_NE(std::string(e.what()).find(list.string() + ":2:"), std::string::npos) << e.what();
  }
  EXPECT_FALSE(fs::exists(db_));
  EXPECT_EQ(hits("/files/img0.jpg"), 0);
}

TEST(CrawlPassHelpers, HostsAndRetryableReasons) {
  EXPECT_EQ(url_host("https://User:pw@Images.Example.COM:8443/a/b.jpg?x=1"), "images.example.com");
  EXPECT_EQ(url_host("http://[::1]:8080/x"), "[::1]");
  EXPECT_EQ(url_host("http://example.org"), "example.org");
  EXPECT_EQ(url_host("not a url"), "");
  // The same parser as the fetcher's: a refused scheme still has its host for the figures.
  EXPECT_EQ(url_host("ftp://Files.Example.org/x.jpg"), "files.example.org");
  EXPECT_EQ(url_host("https://a.example@b.example/x"), "b.example");
  for (const char* r : {"timeout", "http_503", "http_500", "http_429", "network_error",
                        "robots_unavailable", "connect_failed", "dns_failed"}) {
    EXPECT_TRUE(is_retryable_crawl_failure(r)) << r;
  }
  for (const char* r : {"http_404", "http_403", "not_image", "too_large", "bad_scheme",
                        "robots_disallowed", "denied_address", "too_many_redirects", "http_5"}) {
    EXPECT_FALSE(is_retryable_crawl_failure(r)) << r;
  }
  UrlRecord record;
  record.extras = {{"caption", "say \"hi\"\n"}, {"n", "3"}};
  EXPECT_EQ(extras_json(record), R"({"caption":"say \"hi\"\u000a","n":"3"})");
}

}  // namespace
}  // namespace vpipe
