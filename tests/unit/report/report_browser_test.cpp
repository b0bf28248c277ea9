// The report opened in a real browser: Debian's chromium, headless (scripts/install-deps.sh
// installs it). Skipped, saying why, when chromium is not on PATH.
//
// Set VPIPE_REPORT_SCREENSHOT_DIR to keep the screenshots (index.png, groups.png,
// detections.png, crops.png) there.

#include <gtest/gtest.h>

#include <cstdlib>
#include <sstream>
#include <string>

#include "report_fixture.h"
#include "vpipe/dedup/dedup_store.h"
#include "vpipe/report/html_report.h"

namespace vpipe::report_test {
namespace {

/// The chromium executable on PATH, or empty.
std::string find_chromium() {
  const char* path = std::getenv("PATH");
  if (path == nullptr) return {};
  std::stringstream dirs(path);
  std::string dir;
  while (std::getline(dirs, dir, ':')) {
    for (const char* name : {"chromium", "chromium-browser"}) {
      const fs::path candidate = fs::path(dir) / name;
      if (::access(candidate.c_str(), X_OK) == 0) return candidate.string();
    }
  }
  return {};
}

std::string shell_quote(const std::string& s) {
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

struct BrowserResult {
  int exit_code = -1;
  std::string stdout_text;
  std::string stderr_text;
};

class ReportBrowserTest : public ReportFixture {
 protected:
  void SetUp() override {
    chromium_ = find_chromium();
    if (chromium_.empty())
      GTEST_SKIP() << "chromium is not installed (scripts/install-deps.sh installs it)";
    ReportFixture::SetUp();
  }

  /// Runs headless chromium on `page` of the report with `mode` ("--dump-dom" or
  /// "--screenshot=FILE"), logging the page's console to stderr.
  BrowserResult open(const std::string& page, const std::string& mode) {
    const fs::path out = root_ / "chromium.out";
    const fs::path err = root_ / "chromium.err";
    const std::string command =
        "timeout 120 " + shell_quote(chromium_) +
        " --headless --disable-gpu --no-sandbox --hide-scrollbars --no-first-run"
        " --user-data-dir=" +
        shell_quote((root_ / "profile").string()) +
        " --enable-logging=stderr --v=0 --window-size=1280,2000 --virtual-time-budget=5000 " +
        mode + " " + shell_quote("file://" + (out_ / page).string()) + " >" +
        shell_quote(out.string()) + " 2>" + shell_quote(err.string());
    BrowserResult r;
    r.exit_code = std::system(command.c_str());
    r.stdout_text = read_text(out);
    r.stderr_text = read_text(err);
    return r;
  }

  /// Console messages (errors, warnings, logs) the page produced, one per line.
  static std::string console_lines(const std::string& log) {
    std::stringstream in(log);
    std::string line, found;
    while (std::getline(in, line)) {
      if (line.find(":CONSOLE") != std::string::npos ||
          line.find("Uncaught") != std::string::npos) {
        found += line + "\n";
      }
    }
    return found;
  }

  /// Width and height from a PNG's IHDR; {0, 0} when the file is not a PNG.
  static std::pair<uint32_t, uint32_t> png_size(const std::string& png) {
    if (png.size() < 24 || png.compare(0, 8, "\x89PNG\r\n\x1a\n") != 0) return {0, 0};
    const auto be32 = [&](size_t at) {
      return (uint32_t{static_cast<uint8_t>(png[at])} << 24) |
             (uint32_t{static_cast<uint8_t>(png[at + 1])} << 16) |
             (uint32_t{static_cast<uint8_t>(png[at + 2])} << 8) |
             uint32_t{static_cast<uint8_t>(png[at + 3])};
    };
    return {be32(16), be32(20)};
  }

  void screenshot(const std::string& page, const std::string& name) {
    const fs::path png = root_ / name;
    const BrowserResult r = open(page, "--screenshot=" + shell_quote(png.string()));
    EXPECT_EQ(r.exit_code, 0) << r.stderr_text;
    EXPECT_EQ(console_lines(r.stderr_text), "") << page;
    ASSERT_TRUE(fs::is_regular_file(png)) << r.stderr_text;
    const std::string bytes = read_text(png);
    EXPECT_EQ(png_size(bytes), (std::pair<uint32_t, uint32_t>{1280, 2000}));
    // A blank page compresses to a few KB; galleries, charts and text do not.
    EXPECT_GT(bytes.size(), 40'000U) << page;
    if (const char* keep = std::getenv("VPIPE_REPORT_SCREENSHOT_DIR")) {
      fs::create_directories(keep);
      fs::copy_file(png, fs::path(keep) / name, fs::copy_options::overwrite_existing);
    }
  }

  std::string chromium_;
};

TEST_F(ReportBrowserTest, PagesLoadWithoutConsoleErrorsAndShowEveryGroup) {
  ReportOptions options;
  options.out_dir = out_;
  options.threads = 2;
  write_report(db_, options);
  const Manifest m(db_);

  // The groups page as the browser parsed it: one card per group of the manifest.
  const BrowserResult groups = open("groups-1.html", "--dump-dom");
  ASSERT_EQ(groups.exit_code, 0) << groups.stderr_text;
  EXPECT_EQ(console_lines(groups.stderr_text), "");
  EXPECT_EQ(count_of(groups.stdout_text, "class=\"group-card\""), DedupStore(m).count_groups());
  EXPECT_NE(groups.stdout_text.find("5 groups, largest first"), std::string::npos);

  const BrowserResult index = open("index.html", "--dump-dom");
  ASSERT_EQ(index.exit_code, 0) << index.stderr_text;
  EXPECT_EQ(console_lines(index.stderr_text), "");
  EXPECT_NE(index.stdout_text.find("5 duplicate groups"), std::string::npos);
  EXPECT_EQ(count_of(index.stdout_text, "class=\"hist-threshold\""), 6);

  screenshot("index.html", "index.png");
  screenshot("groups-1.html", "groups.png");
}

TEST_F(ReportBrowserTest, HostileFileNameIsTextNotMarkup) {
  ReportOptions options;
  options.out_dir = out_;
  options.threads = 2;
  write_report(db_, options);
  for (const char* page : {"groups-1.html", "files-1.html"}) {
    const BrowserResult r = open(page, "--dump-dom");
    ASSERT_EQ(r.exit_code, 0) << r.stderr_text;
    // The serialized DOM escapes text nodes: the name and its directory are there as text...
    EXPECT_NE(r.stdout_text.find(std::string(">") + kHostileBaseShown + "<"), std::string::npos)
        << page;
    EXPECT_NE(r.stdout_text.find(std::string(kHostileDirShown) + "<"), std::string::npos) << page;
    // ...and no element was made of it, nor did any script run.
    EXPECT_EQ(r.stdout_text.find("<script"), std::string::npos) << page;
    EXPECT_EQ(console_lines(r.stderr_text), "") << page;
  }
}

TEST_F(ReportBrowserTest, PredictionsPageLoadsWithBoxesAndEscapedLabels) {
  add_predictions();
  ReportOptions options;
  options.out_dir = out_;
  options.threads = 2;
  write_report(db_, options);

  const BrowserResult r = open("detections-finder-1.html", "--dump-dom");
  ASSERT_EQ(r.exit_code, 0) << r.stderr_text;
  EXPECT_EQ(console_lines(r.stderr_text), "");
  // The browser parsed one box per detection, inside the SVG over each preview.
  EXPECT_EQ(count_of(r.stdout_text, "<rect class=\"det-box\""), 3);
  EXPECT_EQ(count_of(r.stdout_text, "<svg class=\"boxes\""), 3);
  // The hostile label is a text node (re-escaped by the serializer), not an element.
  EXPECT_NE(r.stdout_text.find(std::string(">") + kHostileLabelEscaped + " 0.55<"),
            std::string::npos);
  EXPECT_EQ(r.stdout_text.find("<script"), std::string::npos);

  const BrowserResult crops = open("crops-1.html", "--dump-dom");
  ASSERT_EQ(crops.exit_code, 0) << crops.stderr_text;
  EXPECT_EQ(console_lines(crops.stderr_text), "");
  EXPECT_EQ(count_of(crops.stdout_text, "<figure class=\"tile crop\">"), 2);

  screenshot("detections-finder-1.html", "detections.png");
}

}  // namespace
}  // namespace vpipe::report_test
