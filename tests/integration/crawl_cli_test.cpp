// End-to-end tests of `vpipe crawl` and of `vpipe run` with an `ingest:` section, against
// tests/fixtures/crawl_server.py on 127.0.0.1 (started and stopped by each test): SIGKILL in the
// middle of a crawl and a rerun, errors a user sees, and the crawl figures in the report.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <random>
#include <set>

#include "crawl_server.h"
#include "image_files.h"
#include "process.h"
#include "temp_dir.h"
#include "vpipe/crawl/url_store.h"
#include "vpipe/dedup/dedup_store.h"
#include "vpipe/io/encode.h"
#include "vpipe/io/file_store.h"
#include "vpipe/io/manifest.h"

namespace fs = std::filesystem;
using vpipe::testing::Child;
using vpipe::testing::run_vpipe;

namespace vpipe {
namespace {

class CrawlCli : public ::testing::Test {
 protected:
  void SetUp() override {
    for (int k = 0; k < kImages; ++k) {
      Image img(96, 64, 3);
      for (size_t i = 0; i < img.pixels.size(); ++i) {
        img.pixels[i] = static_cast<uint8_t>((i * (k + 5)) ^ (i / 288 * 29 * (k + 1)));
      }
      images_.push_back(encode_jpeg(img, 85));
      std::ofstream(root_.path() / ("img" + std::to_string(k) + ".jpg"), std::ios::binary)
          .write(reinterpret_cast<const char*>(images_.back().data()),
                 static_cast<std::streamsize>(images_.back().size()));
    }
    server_ = std::make_unique<CrawlServer>(root_.path());
  }

  std::string url(const std::string& path) const { return server_->base() + path; }
  std::string scratch() const { return dir_.path().string(); }
  std::string db() const { return (dir_.path() / "run.db").string(); }
  std::string out() const { return (dir_.path() / "images").string(); }

  /// `n` distinct URLs over the fixture's images, each answered after `ms` milliseconds.
  fs::path write_list(int n, int ms) const {
    const fs::path list = dir_.path() / "urls.tsv";
    std::ofstream f(list, std::ios::binary);
    f << "url\tcaption\n";
    for (int i = 0; i < n; ++i) {
      f << url("/files/img" + std::to_string(i % kImages) + ".jpg?ms=" + std::to_string(ms) +
               "&n=" + std::to_string(i))
        << "\tpicture " << i << "\n";
    }
    return list;
  }

  static constexpr int kImages = 8;
  testing::TempDir root_{"vpipe-crawlcli-root-"};
  testing::TempDir dir_{"vpipe-crawlcli-"};
  std::vector<std::vector<uint8_t>> images_;
  std::unique_ptr<CrawlServer> server_;
};

TEST_F(CrawlCli, SigkillMidCrawlThenRerunEndsEveryUrlDoneExactlyOnce) {
  // 60 URLs of 150 ms each, 4 at a time: about 2.3 s of crawling; three kills at most 0.5 s
  // in leave some pending.
  constexpr int kUrls = 60;
  const fs::path list = write_list(kUrls, 150);
  const std::vector<std::string> args = {"crawl", list.string(), "--out", out(), "--db", db(),
                                         "--per-host", "4", "--threads", "2"};
  std::mt19937 rng(99);
  std::uniform_int_distribution<int> delay_ms(150, 500);
  for (int round = 0; round < 3; ++round) {
    Child child(args, scratch());
    for (int i = 0; i < 1000 && !fs::exists(db()); ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(delay_ms(rng)));
    child.signal(SIGKILL);
    EXPECT_EQ(child.wait().exit_code, 128 + SIGKILL);
    Manifest m(db());
    EXPECT_EQ(m.integrity_check(), "ok") << "after kill " << round;
  }
  int64_t pending = 0;
  {
    Manifest m(db());
    auto states = UrlStore(m).url_state_counts();
    pending = states["pending"];
    EXPECT_EQ(states["failed"], 0);
    EXPECT_EQ(states["done"] + pending, kUrls);
    EXPECT_EQ(FileStore(m).count_files(),
              states["done"]);  // a URL is done exactly when its file is in
  }
  ASSERT_GT(pending, 0) << "the kills came too late to interrupt anything";
  server_->get("/__reset");

  const auto r = run_vpipe(args, scratch());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("fetched"), std::string::npos) << r.out;

  // The rerun asked for exactly the URLs left pending, once each.
  const auto stats = server_->stats();
  int requests = 0;
  for (int k = 0; k < kImages; ++k) {
    requests += stat_int(stats, "hits /files/img" + std::to_string(k) + ".jpg");
  }
  EXPECT_EQ(requests, pending);

  Manifest m(db());
  EXPECT_EQ(m.integrity_check(), "ok");
  EXPECT_EQ(UrlStore(m).url_state_counts(), (std::map<std::string, int64_t>{{"done", kUrls}}));
  std::set<std::string> paths;
  UrlStore(m).for_each_url([&](const CrawlUrlRecord& u) {
    EXPECT_EQ(u.state, "done") << u.url;
    EXPECT_TRUE(paths.insert(u.path).second) << "two URLs share " << u.path;
    const auto f = FileStore(m).find_file(u.path);
    EXPECT_TRUE(f.has_value()) << u.path;
    EXPECT_TRUE(u.extras_json.starts_with(R"({"caption":"picture )")) << u.extras_json;
    // The image under its final name is whole: the bytes the fixture served for this URL.
    const size_t k = static_cast<size_t>(u.url[u.url.find("/img") + 4] - '0');
    EXPECT_EQ(testing::read_bytes(u.path), images_[k]) << u.url;
    return true;
  });
  EXPECT_EQ(paths.size(), static_cast<size_t>(kUrls));
  EXPECT_EQ(FileStore(m).count_files(), kUrls);
  // No temporary of a killed transfer is left: each was a pending URL, fetched again.
  int files = 0;
  for (const auto& e : fs::recursive_directory_iterator(out())) {
    if (!e.is_regular_file()) continue;
    ++files;
    EXPECT_FALSE(e.path().filename().string().ends_with(".part")) << e.path();
  }
  EXPECT_EQ(files, kUrls);
}

TEST_F(CrawlCli, AMalformedListIsAnErrorNamingItsLineAndNothingIsFetched) {
  const fs::path list = dir_.path() / "urls.csv";
  std::ofstream(list) << "url,caption\n" << url("/files/img0.jpg") << ",ok\n\"unterminated,x\n";
  const auto r = run_vpipe({"crawl", list.string(), "--out", out(), "--db", db()}, scratch());
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find(list.string() + ":3:"), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(db()));
  EXPECT_EQ(stat_int(server_->stats(), "hits /files/img0.jpg"), 0);
}

TEST_F(CrawlCli, AnOutThatIsAFileIsAnErrorNamingItAndNoManifestIsLeft) {
  const fs::path list = dir_.path() / "urls.txt";
  std::ofstream(list) << url("/files/img0.jpg") << "\n";
  const fs::path file = dir_.path() / "not-a-folder";
  std::ofstream(file) << "x";
  const auto r = run_vpipe({"crawl", list.string(), "--out", file.string(), "--db", db()}, scratch());
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find(file.string()), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(db()));
  EXPECT_EQ(stat_int(server_->stats(), "hits /files/img0.jpg"), 0);
}

// --no-header takes the first line as a URL; --no-robots fetches a path robots.txt disallows
// without asking for robots.txt. Without it the same list asks once and leaves /private/ alone.
TEST_F(CrawlCli, NoHeaderAndNoRobotsDoWhatTheySay) {
  const fs::path list = dir_.path() / "urls.tsv";
  std::ofstream(list) << url("/private/img0.jpg") << "\tfirst\n"
                      << url("/files/img1.jpg") << "\tsecond\n";
  const auto r = run_vpipe({"crawl", list.string(), "--out", out(), "--db", db(), "--no-header",
                            "--url-field", "1", "--no-robots"},
                           scratch());
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  auto stats = server_->stats();
  EXPECT_EQ(stat_int(stats, "hits /robots.txt"), 0);
  EXPECT_EQ(stat_int(stats, "hits /private/img0.jpg"), 1);
  EXPECT_EQ(stat_int(stats, "hits /files/img1.jpg"), 1);
  EXPECT_EQ(FileStore(Manifest(db())).count_files(), 2);

  const std::string db2 = (dir_.path() / "robots.db").string();
  const std::string out2 = (dir_.path() / "robots-images").string();
  const auto polite = run_vpipe({"crawl", list.string(), "--out", out2, "--db", db2,
                                 "--no-header", "--url-field", "1"},
                                scratch());
  ASSERT_EQ(polite.exit_code, 0) << polite.out << polite.err;
  stats = server_->stats();
  EXPECT_EQ(stat_int(stats, "hits /robots.txt"), 1);
  EXPECT_EQ(stat_int(stats, "hits /private/img0.jpg"), 1);  // not asked again
  EXPECT_EQ(stat_int(stats, "hits /files/img1.jpg"), 2);
  EXPECT_EQ(FileStore(Manifest(db2)).count_files(), 1);
}

TEST_F(CrawlCli, RunWithAnIngestSectionCrawlsScansDedupsAndReportsTheCrawl) {
  const fs::path list = write_list(12, 0);  // 12 URLs over 8 images: 4 exact duplicates
  std::ofstream(list, std::ios::app) << url("/status/404") << "\tgone\n";
  const fs::path config = dir_.path() / "pipeline.yaml";
  std::ofstream(config) << "manifest: run.db\n"
                        << "ingest:\n  urls: " << list.filename().string()
                        << "\n  out: images\n  connections_per_host: 3\n"
                        << "report:\n  out: report\n";
  const auto r = run_vpipe({"run", config.string()}, scratch());
  ASSERT_EQ(r.exit_code, 0) << r.err << r.out;
  EXPECT_NE(r.out.find("crawl: 13 URLs listed"), std::string::npos) << r.out;
  Manifest m(db());
  EXPECT_EQ(UrlStore(m).url_state_counts(),
            (std::map<std::string, int64_t>{{"done", 12}, {"failed", 1}}));
  EXPECT_EQ(FileStore(m).count_files(), 12);
  const auto decisions = DedupStore(m).decision_counts();
  EXPECT_EQ(decisions.at("duplicate"), 4) << "the 4 repeated images are exact duplicates";
  // The report shows the crawl: its section, the failure reason, the host's row.
  std::ifstream html(dir_.path() / "report" / "index.html");
  const std::string page((std::istreambuf_iterator<char>(html)), std::istreambuf_iterator<char>());
  EXPECT_NE(page.find("<h2 id=\"crawl\">Crawl</h2>"), std::string::npos);
  EXPECT_NE(page.find("<code>http_404</code>"), std::string::npos);
  EXPECT_NE(page.find("<tr><td>127.0.0.1</td><td class=\"num\">13</td><td class=\"num\">12</td>"),
            std::string::npos);

  // A config with URL lists and no download folder is refused, naming the key.
  std::ofstream(config) << "manifest: run.db\ningest:\n  urls: " << list.filename().string() << "\n";
  const auto bad = run_vpipe({"run", config.string()}, scratch());
  EXPECT_NE(bad.exit_code, 0);
  EXPECT_NE(bad.err.find("ingest.out"), std::string::npos) << bad.err;
}

}  // namespace
}  // namespace vpipe
