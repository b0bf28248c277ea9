// The fetcher against tests/fixtures/crawl_server.py on 127.0.0.1 (an ephemeral port), started
// and stopped by each test.

#include "vpipe/crawl/fetcher.h"

#include <curl/curl.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <sstream>
#include <thread>

#include "crawl_server.h"
#include "image_files.h"
#include "temp_dir.h"
#include "vpipe/core/log.h"
#include "vpipe/io/encode.h"
#include "vpipe/io/format.h"

namespace vpipe {
namespace {

using namespace std::chrono_literals;

void write_file(const std::filesystem::path& p, const std::vector<uint8_t>& bytes) {
  std::ofstream(p, std::ios::binary)
      .write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
}

class FetcherTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (std::getenv("VPIPE_CRAWL_DEBUG") != nullptr) log().set_level(spdlog::level::debug);
    Image img(64, 48, 3);
    for (size_t i = 0; i < img.pixels.size(); ++i) img.pixels[i] = static_cast<uint8_t>(i * 7);
    jpeg_ = encode_jpeg(img, 85);
    write_file(root_.path() / "good.jpg", jpeg_);
    write_file(root_.path() / "good.png", encode_png(img));
    write_file(root_.path() / "truncated.jpg",
               std::vector<uint8_t>(jpeg_.begin(), jpeg_.begin() + jpeg_.size() / 2));
    std::vector<uint8_t> garbage(3000);
    for (size_t i = 0; i < garbage.size(); ++i) garbage[i] = static_cast<uint8_t>((i * 131) ^ 0x5A);
    write_file(root_.path() / "garbage.jpg", garbage);
    const std::string page =
        "<!DOCTYPE html><html><head><title>not a picture</title></head><body>hello world, "
        "this page only pretends to be a JPEG</body></html>";
    write_file(root_.path() / "page.jpg", std::vector<uint8_t>(page.begin(), page.end()));
    const std::string tiny = "<html></html>";
    write_file(root_.path() / "tiny.html", std::vector<uint8_t>(tiny.begin(), tiny.end()));
    server_ = std::make_unique<CrawlServer>(root_.path());
  }

  FetchOptions options() const {
    FetchOptions o;
    o.out_dir = out_.path() / "images";
    o.connect_timeout = 2000ms;
    o.total_timeout = 5000ms;
    o.backoff_base = 20ms;
    o.max_attempts = 2;
    o.max_body_bytes = 100000;
    o.max_redirects = 3;
    o.max_connections_per_host = 8;
    o.jitter_seed = 42;
    return o;
  }

  /// Runs the fetcher; results by index (each index must be reported exactly once).
  std::vector<FetchResult> fetch(const FetchOptions& o, const std::vector<std::string>& urls,
                                 FetchStats* stats_out = nullptr) {
    Fetcher fetcher(o);
    std::vector<FetchResult> results(urls.size());
    std::vector<int> seen(urls.size(), 0);
    const FetchStats stats = fetcher.run(urls, [&](const FetchResult& r) {
      EXPECT_LT(r.index, urls.size());
      if (r.index >= urls.size()) return;
      ++seen[r.index];
      results[r.index] = r;
    });
    for (size_t i = 0; i < urls.size(); ++i) {
      EXPECT_EQ(seen[i], 1) << "index " << i << " " << urls[i] << " reported " << seen[i] << " times";
    }
    if (stats_out != nullptr) *stats_out = stats;
    return results;
  }

  /// Every file under the output directory: a complete image under <2 hex>/<32 hex>.<ext>.
  std::set<std::filesystem::path> files_in_output(const FetchOptions& o) {
    std::set<std::filesystem::path> out;
    if (!std::filesystem::exists(o.out_dir)) return out;
    const std::regex name("[0-9a-f]{32}\\.(jpg|png)");
    for (const auto& entry : std::filesystem::recursive_directory_iterator(o.out_dir)) {
      if (entry.is_directory()) continue;
      const std::string file = entry.path().filename().string();
      EXPECT_TRUE(entry.is_regular_file()) << entry.path();
      EXPECT_TRUE(std::regex_match(file, name)) << "unexpected file " << entry.path();
      EXPECT_EQ(entry.path().parent_path().filename().string(), file.substr(0, 2));
      const std::vector<uint8_t> bytes = testing::read_bytes(entry.path());
      EXPECT_NE(sniff_format(bytes), ImageFormat::kUnknown) << entry.path();
      out.insert(entry.path());
    }
    return out;
  }

  testing::TempDir root_{"vpipe-crawl-root-"};
  testing::TempDir out_{"vpipe-crawl-out-"};
  std::vector<uint8_t> jpeg_;
  std::unique_ptr<CrawlServer> server_;
};

TEST_F(FetcherTest, EveryUrlEndsInTheRightStateAndOnlyImagesLand) {
  FetchOptions o = options();
  o.total_timeout = 800ms;
  const std::string b = server_->base();
  struct Case {
    std::string url;
    std::string reason;  // "" = done
    int attempts;        // -1: not checked
  };
  const std::vector<Case> cases = {
      {b + "/files/good.jpg", "", 1},
      {b + "/files/good.png?ct=image/png", "", 1},
      {b + "/files/truncated.jpg", "", 1},  // a JPEG by its bytes; decoding is the scan's job
      {b + "/files/garbage.jpg", "not_image", 1},
      {b + "/files/page.jpg", "not_image", 1},  // HTML served as image/jpeg
      {b + "/files/tiny.html?ct=image/png", "not_image", 1},
      {b + "/status/404", "http_404", 1},
      {b + "/status/403", "http_403", 1},
      {b + "/flaky?key=e500&fail=1&code=500", "", 2},
      {b + "/flaky?key=e503&fail=9&code=503", "http_503", 2},
      {b + "/slow?ms=4000", "timeout", 2},
      {b + "/big?bytes=200000&len=1", "too_large", 1},
      {b + "/big?bytes=200000&len=0", "too_large", 1},
      {b + "/loop", "too_many_redirects", 1},
      {b + "/redirect?to=ftp://127.0.0.1/x.jpg", "bad_scheme", 1},
      {b + "/redirect?to=file:///etc/passwd", "bad_scheme", 1},
      {b + "/redirect?to=/files/good.jpg", "", 1},
      {b + "/private/good.jpg", "robots_disallowed", 0},
      {"ftp://127.0.0.1/x.jpg", "bad_scheme", 0},
      {"just words", "bad_scheme", 0},
      {"http://127.0.0.1:1/x.jpg", "connect_failed", -1},
      {b + "/files/good.jpg", "", 1},  // a duplicate: fetched once
      {b + "/gzip", "", 1},
  };
  std::vector<std::string> urls;
  for (const auto& c : cases) urls.push_back(c.url);
  FetchStats stats;
  const auto t0 = std::chrono::steady_clock::now();
  const auto results = fetch(o, urls, &stats);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  EXPECT_LT(seconds, 15.0);

  std::set<std::filesystem::path> done_paths;
  for (size_t i = 0; i < cases.size(); ++i) {
    const FetchResult& r = results[i];
    SCOPED_TRACE(cases[i].url);
    EXPECT_EQ(r.url, cases[i].url);
    if (cases[i].reason.empty()) {
      EXPECT_TRUE(r.ok) << r.reason << ": " << r.message;
      EXPECT_EQ(r.http_status, 200);
      EXPECT_TRUE(std::filesystem::is_regular_file(r.path));
      EXPECT_EQ(std::filesystem::file_size(r.path), r.bytes);
      done_paths.insert(r.path);
    } else {
      EXPECT_FALSE(r.ok);
      EXPECT_EQ(r.reason, cases[i].reason) << r.message;
      EXPECT_TRUE(r.path.empty());
    }
    if (cases[i].attempts >= 0) {
      EXPECT_EQ(r.attempts, cases[i].attempts);
    }
  }
  // specifics
  EXPECT_EQ(results[0].path.extension(), ".jpg");
  EXPECT_EQ(results[0].bytes, jpeg_.size());
  EXPECT_EQ(testing::read_bytes(results[0].path), jpeg_);
  EXPECT_EQ(results[0].path, image_path_for(o.out_dir, urls[0], "jpg"));
  EXPECT_EQ(results[1].path.extension(), ".png");
  EXPECT_EQ(results[4].content_type, "image/jpeg");  // the server lied; the bytes decided
  EXPECT_EQ(results[6].http_status, 404);
  EXPECT_EQ(results[9].http_status, 503);
  EXPECT_THAT(results[16].final_url, ::testing::EndsWith("/files/good.jpg"));
  EXPECT_TRUE(results[21].duplicate);
  EXPECT_EQ(results[21].path, results[0].path);
  EXPECT_EQ(testing::read_bytes(results[22].path), jpeg_);  // gzip decoded on the way in
  EXPECT_FALSE(results[0].duplicate);

  // nothing but complete images under final names, and exactly those reported done
  EXPECT_EQ(files_in_output(o), done_paths);
  // good.jpg (twice, one file), png, truncated, redirect, e500, gzip
  EXPECT_EQ(done_paths.size(), 6u);

  const auto s = server_->stats();
  EXPECT_EQ(stat_int(s, "robots 127.0.0.1:" + std::to_string(server_->port())), 1);
  EXPECT_EQ(stat_int(s, "hits /private/good.jpg"), 0);
  EXPECT_EQ(stat_int(s, "hits /files/good.jpg"), 2);  // the original and the redirect target
  EXPECT_EQ(stats.urls, cases.size());
  EXPECT_EQ(stats.done + stats.failed, cases.size() - 1);  // the duplicate is one task
}

// URLs as people paste them: a raw space and UTF-8 in the path are sent percent-encoded, as a
// browser (and img2dataset) would, instead of failing as bad_url; the file is named from the URL
// as listed.
TEST_F(FetcherTest, RawSpacesAndUtf8InAUrlAreSentPercentEncoded) {
  write_file(root_.path() / "my photo \xc3\xa9.jpg", jpeg_);
  const std::string listed = server_->base() + "/files/my photo \xc3\xa9.jpg";
  const std::vector<FetchResult> r = fetch(options(), {listed});
  ASSERT_TRUE(r[0].ok) << r[0].reason << ": " << r[0].message;
  EXPECT_EQ(r[0].url, listed);
  EXPECT_EQ(testing::read_bytes(r[0].path), jpeg_);
  EXPECT_EQ(stat_int(server_->stats(), "hits /files/my%20photo%20%C3%A9.jpg"), 1);
}

TEST_F(FetcherTest, RetriesHonourRetryAfterInSecondsAndAsADate) {
  FetchOptions o = options();
  o.respect_robots = false;
  o.backoff_base = 10ms;
  o.retry_after_max = 5000ms;
  const std::string b = server_->base();
  const std::vector<std::string> urls = {
      b + "/flaky?key=secs&fail=1&code=429&after=1",
      b + "/flaky?key=date&fail=1&code=503&after=date:2",
      b + "/flaky?key=long&fail=1&code=429&after=3600",
      b + "/flaky?key=plain&fail=1&code=502",
  };
  const auto t0 = std::chrono::steady_clock::now();
  const auto results = fetch(o, urls);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  EXPECT_TRUE(results[0].ok) << results[0].reason;
  EXPECT_EQ(results[0].attempts, 2);
  EXPECT_TRUE(results[1].ok) << results[1].reason;
  EXPECT_EQ(results[1].attempts, 2);
  EXPECT_EQ(results[2].reason, "http_429");  // an hour is beyond retry_after_max: no wait
  EXPECT_EQ(results[2].attempts, 1);
  EXPECT_TRUE(results[3].ok);
  EXPECT_LT(seconds, 8.0);

  const auto s = server_->stats();
  const auto secs = stat_times(s, "times secs");
  ASSERT_EQ(secs.size(), 2u);
  EXPECT_GE(secs[1] - secs[0], 0.9);  // Retry-After: 1
  EXPECT_LT(secs[1] - secs[0], 5.0);
  const auto date = stat_times(s, "times date");
  ASSERT_EQ(date.size(), 2u);
  EXPECT_GE(date[1] - date[0], 0.9);  // an HTTP date 2 s ahead (whole seconds: 1-2 s)
  EXPECT_LT(date[1] - date[0], 5.0);
  const auto plain = stat_times(s, "times plain");
  ASSERT_EQ(plain.size(), 2u);
  EXPECT_GE(plain[1] - plain[0], 0.005);  // back-off of 10 ms, half of it fixed
}

TEST_F(FetcherTest, ConnectionsAreKeptAliveAcrossRequestsToAHost) {
  FetchOptions o = options();
  o.max_connections_per_host = 1;
  std::vector<std::string> urls;
  for (int i = 0; i < 20; ++i) {
    urls.push_back(server_->base() + "/files/good.jpg?n=" + std::to_string(i));
  }
  server_->get("/__reset");
  const std::vector<FetchResult> results = fetch(o, urls);
  for (const FetchResult& r : results) EXPECT_TRUE(r.ok) << r.url << " " << r.reason;
  // robots.txt and the 20 images over one connection; the /__stats request opens the second.
  EXPECT_EQ(stat_int(server_->stats(), "accepted"), 2);
}

TEST_F(FetcherTest, PerHostAndGlobalConcurrencyLimitsHold) {
  FetchOptions o = options();
  o.respect_robots = false;
  o.max_connections_per_host = 2;
  o.max_connections = 3;
  const std::string port = std::to_string(server_->port());
  o.resolve = {"a.test:" + port + ":127.0.0.1", "b.test:" + port + ":127.0.0.1"};
  std::vector<std::string> urls;
  for (int i = 0; i < 8; ++i) {
    urls.push_back("http://a.test:" + port + "/held?ms=150&i=" + std::to_string(i));
    urls.push_back("http://b.test:" + port + "/held?ms=150&i=" + std::to_string(i));
  }
  const auto results = fetch(o, urls);
  for (const auto& r : results) EXPECT_TRUE(r.ok) << r.url << " " << r.reason;
  const auto s = server_->stats();
  const int a = stat_int(s, "max_active a.test:" + port);
  const int bb = stat_int(s, "max_active b.test:" + port);
  EXPECT_GE(a, 1);
  EXPECT_LE(a, 2);
  EXPECT_GE(bb, 1);
  EXPECT_LE(bb, 2);
  EXPECT_EQ(std::max(a, bb), 2);  // the limit was reached, so it was tested
  EXPECT_LE(stat_int(s, "max_active_all"), 3);
  EXPECT_GE(stat_int(s, "max_active_all"), 3);
}

TEST_F(FetcherTest, RequestsPerSecondPerHostSpacesTheStarts) {
  FetchOptions o = options();
  o.respect_robots = false;
  o.requests_per_second_per_host = 5;
  std::vector<std::string> urls;
  for (int i = 0; i < 5; ++i) urls.push_back(server_->base() + "/held?ms=0&i=" + std::to_string(i));
  const auto results = fetch(o, urls);
  for (const auto& r : results) EXPECT_TRUE(r.ok) << r.reason;
  auto starts = stat_times(server_->stats(), "starts 127.0.0.1:" + std::to_string(server_->port()));
  ASSERT_EQ(starts.size(), 5u);
  std::sort(starts.begin(), starts.end());
  for (size_t i = 1; i < starts.size(); ++i) EXPECT_GE(starts[i] - starts[i - 1], 0.15) << i;
}

TEST_F(FetcherTest, DenyListRefusesLoopbackBeforeAnyRequest) {
  FetchOptions o = options();
  o.deny_private_addresses = true;
  const std::vector<std::string> urls = {server_->base() + "/files/good.jpg"};
  auto results = fetch(o, urls);
  EXPECT_EQ(results[0].reason, "denied_address") << results[0].message;
  o.respect_robots = false;
  results = fetch(o, urls);
  EXPECT_EQ(results[0].reason, "denied_address") << results[0].message;
  const auto s = server_->stats();
  EXPECT_EQ(stat_int(s, "hits /files/good.jpg"), 0);
  EXPECT_EQ(stat_int(s, "hits /robots.txt"), 0);
  EXPECT_TRUE(files_in_output(o).empty());
}

TEST(DeniedAddress, Ranges) {
  for (const char* ip : {"127.0.0.1", "10.1.2.3", "172.16.0.1", "192.168.1.1", "169.254.169.254",
                         "100.64.0.1", "0.0.0.0", "224.0.0.1", "::1", "::", "fe80::1", "fd00::1",
                         "::ffff:192.168.0.1", "::ffff:127.0.0.1", "ff02::1", "not an ip"}) {
    EXPECT_TRUE(is_denied_address(ip)) << ip;
  }
  for (const char* ip : {"8.8.8.8", "1.1.1.1", "172.32.0.1", "2001:4860:4860::8888",
                         "::ffff:8.8.8.8"}) {
    EXPECT_FALSE(is_denied_address(ip)) << ip;
  }
}

TEST_F(FetcherTest, RobotsIsFetchedOncePerOriginAndCanBeSwitchedOff) {
  FetchOptions o = options();
  std::vector<std::string> urls;
  for (int i = 0; i < 6; ++i) urls.push_back(server_->base() + "/files/good.jpg?i=" + std::to_string(i));
  urls.push_back(server_->base() + "/private/good.jpg");
  auto results = fetch(o, urls);
  for (int i = 0; i < 6; ++i) EXPECT_TRUE(results[i].ok) << results[i].reason;
  EXPECT_EQ(results[6].reason, "robots_disallowed");
  const std::string host = "127.0.0.1:" + std::to_string(server_->port());
  EXPECT_EQ(stat_int(server_->stats(), "robots " + host), 1);

  (void)server_->get("/__reset");
  o.respect_robots = false;
  results = fetch(o, {server_->base() + "/private/good.jpg"});
  EXPECT_TRUE(results[0].ok) << results[0].reason;
  const auto s = server_->stats();
  EXPECT_EQ(stat_int(s, "robots " + host), 0);
  EXPECT_EQ(stat_int(s, "hits /private/good.jpg"), 1);
}

/// `from` + "/redirect?to=" + `to` percent-encoded (+ "&ms=" + ms when ms > 0).
std::string redirect_url(const std::string& from, const std::string& to, int ms = 0) {
  char* escaped = curl_easy_escape(nullptr, to.c_str(), static_cast<int>(to.size()));
  std::string url = from + "/redirect?to=" + escaped;
  curl_free(escaped);
  if (ms > 0) url += "&ms=" + std::to_string(ms);
  return url;
}

TEST_F(FetcherTest, RobotsOfTheRedirectTargetIsHonoured) {
  FetchOptions o = options();
  const std::string port = std::to_string(server_->port());
  o.resolve = {"a.test:" + port + ":127.0.0.1", "t.test:" + port + ":127.0.0.1",
               "closed.test:" + port + ":127.0.0.1"};
  const std::string a = "http://a.test:" + port;
  const std::string closed_target = "http://closed.test:" + port + "/files/good.jpg";
  const std::string private_target = "http://t.test:" + port + "/private/good.jpg";
  // a.test's robots.txt allows /files/ and /redirect; the targets' own robots.txt decide
  const std::vector<std::string> urls = {redirect_url(a, closed_target),
                                         redirect_url(a, private_target)};
  const auto results = fetch(o, urls);
  EXPECT_EQ(results[0].reason, "robots_disallowed") << results[0].message;
  EXPECT_EQ(results[0].final_url, closed_target);
  EXPECT_EQ(results[0].http_status, 302);
  EXPECT_EQ(results[0].attempts, 1);
  EXPECT_EQ(results[1].reason, "robots_disallowed") << results[1].message;
  EXPECT_EQ(results[1].final_url, private_target);
  EXPECT_TRUE(files_in_output(o).empty());
  const auto s = server_->stats();
  EXPECT_EQ(stat_int(s, "hits /files/good.jpg"), 0);  // the disallowed targets never requested
  EXPECT_EQ(stat_int(s, "hits /private/good.jpg"), 0);
  EXPECT_EQ(stat_int(s, "hits /redirect"), 2);
  EXPECT_EQ(stat_int(s, "robots a.test:" + port), 1);
  EXPECT_EQ(stat_int(s, "robots closed.test:" + port), 1);
  EXPECT_EQ(stat_int(s, "robots t.test:" + port), 1);
}

TEST_F(FetcherTest, ARedirectChainAcrossHostsEndsOkNamedFromTheOriginalUrl) {
  FetchOptions o = options();
  const std::string port = std::to_string(server_->port());
  o.resolve = {"a.test:" + port + ":127.0.0.1", "b.test:" + port + ":127.0.0.1",
               "c.test:" + port + ":127.0.0.1"};
  const std::string last = "http://c.test:" + port + "/files/good.jpg";
  const std::string url =
      redirect_url("http://a.test:" + port, redirect_url("http://b.test:" + port, last));
  FetchStats stats;
  const auto results = fetch(o, {url}, &stats);
  const FetchResult& r = results[0];
  ASSERT_TRUE(r.ok) << r.reason << ": " << r.message;
  EXPECT_EQ(r.url, url);
  EXPECT_EQ(r.final_url, last);
  EXPECT_EQ(r.http_status, 200);
  EXPECT_EQ(r.attempts, 1);  // hops belong to one try
  EXPECT_EQ(r.path, image_path_for(o.out_dir, url, "jpg"));
  EXPECT_EQ(testing::read_bytes(r.path), jpeg_);
  EXPECT_EQ(files_in_output(o), std::set<std::filesystem::path>{r.path});
  EXPECT_EQ(stats.done, 1u);
  EXPECT_EQ(stats.failed, 0u);
  EXPECT_EQ(stats.requests, 6u);  // three hops and one robots.txt per host
  EXPECT_EQ(stats.robots_fetches, 3u);
  const auto s = server_->stats();
  for (const char* host : {"a.test:", "b.test:", "c.test:"}) {
    EXPECT_EQ(stat_int(s, "robots " + std::string(host) + port), 1) << host;
  }
}

TEST_F(FetcherTest, PerHostLimitHoldsOnTheRedirectTargetsHost) {
  FetchOptions o = options();
  o.max_connections_per_host = 2;
  const std::string port = std::to_string(server_->port());
  o.resolve = {"a.test:" + port + ":127.0.0.1", "b.test:" + port + ":127.0.0.1",
               "c.test:" + port + ":127.0.0.1", "t.test:" + port + ":127.0.0.1"};
  std::vector<std::string> urls;
  for (int i = 0; i < 4; ++i) {
    for (const char* host : {"a.test:", "b.test:", "c.test:"}) {
      const std::string target =
          "http://t.test:" + port + "/held?ms=150&i=" + host + std::to_string(i);
      urls.push_back(redirect_url("http://" + std::string(host) + port, target));
    }
  }
  const auto results = fetch(o, urls);
  for (const auto& r : results) EXPECT_TRUE(r.ok) << r.url << " " << r.reason << " " << r.message;
  const auto s = server_->stats();
  const int t = stat_int(s, "max_active t.test:" + port);
  EXPECT_LE(t, 2);  // a, b and c together could have sent 6 at once
  EXPECT_EQ(t, 2);  // the limit was reached, so it was tested
  EXPECT_EQ(stat_int(s, "hits /held"), 12);
  EXPECT_EQ(stat_int(s, "robots t.test:" + port), 1);
}

TEST_F(FetcherTest, TotalTimeoutBoundsTheWholeRedirectChain) {
  FetchOptions o = options();
  o.respect_robots = false;
  o.max_attempts = 1;
  o.total_timeout = 1000ms;
  const std::string b = server_->base();
  // three hops of 400 ms each: each alone fits in the timeout, the chain does not
  const std::string chain = redirect_url(
      b, redirect_url(b, redirect_url(b, b + "/files/good.jpg", 400), 400), 400);
  auto results = fetch(o, {chain});
  EXPECT_EQ(results[0].reason, "timeout") << results[0].message;
  EXPECT_EQ(results[0].attempts, 1);
  auto s = server_->stats();
  EXPECT_EQ(stat_int(s, "hits /files/good.jpg"), 0);
  EXPECT_EQ(stat_int(s, "hits /redirect"), 3);

  (void)server_->get("/__reset");
  o.total_timeout = 6000ms;  // generous: 1.2 s of hops on a busy machine
  results = fetch(o, {chain});
  EXPECT_TRUE(results[0].ok) << results[0].reason << ": " << results[0].message;
}

TEST_F(FetcherTest, ARetryRepeatsTheHopThatFailed) {
  FetchOptions o = options();
  o.respect_robots = false;
  const std::string port = std::to_string(server_->port());
  o.resolve = {"a.test:" + port + ":127.0.0.1", "b.test:" + port + ":127.0.0.1"};
  const std::string target = "http://b.test:" + port + "/flaky?key=hop&fail=1&code=503";
  FetchStats stats;
  const auto results = fetch(o, {redirect_url("http://a.test:" + port, target)}, &stats);
  EXPECT_TRUE(results[0].ok) << results[0].reason << ": " << results[0].message;
  EXPECT_EQ(results[0].attempts, 2);
  EXPECT_EQ(results[0].final_url, target);
  EXPECT_EQ(stats.retries, 1u);
  EXPECT_EQ(stats.requests, 3u);
  const auto s = server_->stats();
  EXPECT_EQ(stat_int(s, "hits /redirect"), 1);  // the first hop is not asked again
  EXPECT_EQ(stat_times(s, "times hop").size(), 2u);
}

TEST_F(FetcherTest, StopCancelsAndLeavesNoPartialFiles) {
  FetchOptions o = options();
  o.respect_robots = false;
  std::vector<std::string> urls;
  for (int i = 0; i < 4; ++i) urls.push_back(server_->base() + "/slow?ms=3000&i=" + std::to_string(i));
  Fetcher fetcher(o);
  std::thread stopper([&] {
    std::this_thread::sleep_for(400ms);
    fetcher.request_stop();
  });
  std::vector<FetchResult> results;
  const auto t0 = std::chrono::steady_clock::now();
  (void)fetcher.run(urls, [&](const FetchResult& r) { results.push_back(r); });
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  stopper.join();
  EXPECT_LT(seconds, 2.5);
  ASSERT_EQ(results.size(), urls.size());
  for (const auto& r : results) EXPECT_EQ(r.reason, "cancelled");
  EXPECT_TRUE(files_in_output(o).empty());
  // the temporaries (10 bytes of each body had arrived) are gone too
  size_t entries = 0;
  for (const auto& e : std::filesystem::recursive_directory_iterator(o.out_dir)) {
    if (!e.is_directory()) ++entries;
  }
  EXPECT_EQ(entries, 0u);
}

TEST_F(FetcherTest, AnExceptionFromTheCallbackEndsTheRunCleanly) {
  FetchOptions o = options();
  o.respect_robots = false;
  const std::vector<std::string> urls = {server_->base() + "/files/good.jpg",
                                         server_->base() + "/slow?ms=3000"};
  Fetcher fetcher(o);
  EXPECT_THROW((void)fetcher.run(urls, [](const FetchResult&) { throw std::runtime_error("x"); }),
               std::runtime_error);
  // the fetcher is usable again
  std::vector<FetchResult> results;
  (void)fetcher.run(std::vector<std::string>{server_->base() + "/files/good.png?ct=image/png"},
                    [&](const FetchResult& r) { results.push_back(r); });
  ASSERT_EQ(results.size(), 1u);
  EXPECT_TRUE(results[0].ok);
}

}  // namespace
}  // namespace vpipe
