#include <gtest/gtest.h>
#include <xxhash.h>

#include <array>
#include <cstdio>
#include <fstream>
#include <iterator>
#include <regex>
#include <set>
#include <string>
#include <tuple>
#include <vector>

#include "report_fixture.h"
#include "vpipe/core/error.h"
#include "vpipe/dedup/dedup_store.h"
#include "vpipe/io/decode.h"
#include "vpipe/io/encode.h"
#include "vpipe/io/file_store.h"
#include "vpipe/io/walk.h"
#include "vpipe/report/html.h"
#include "vpipe/report/html_report.h"
#include "vpipe/report/svg.h"
#include "vpipe/report/thumbnails.h"

namespace vpipe::report_test {
namespace {

// --- Escaping ------------------------------------------------------------------------------

TEST(HtmlEscape, EscapesMarkupCharacters) {
  EXPECT_EQ(html_escape("<script>alert(1)</script>"), "&lt;script&gt;alert(1)&lt;/script&gt;");
  EXPECT_EQ(html_escape("a&b \"q\" 'p'"), "a&amp;b &quot;q&quot; &#39;p&#39;");
  EXPECT_EQ(html_escape("plain/path_01.jpg"), "plain/path_01.jpg");
}

TEST(HtmlEscape, KeepsValidUtf8) {
  const std::string s = "caf\xC3\xA9 \xE6\x97\xA5\xE6\x9C\xAC \xF0\x9F\x93\xB7.jpg";  // café 日本 📷
  EXPECT_EQ(html_escape(s), s);
}

TEST(HtmlEscape, ReplacesInvalidUtf8WithReplacementCharacter) {
  const std::string fffd = "\xEF\xBF\xBD";
  EXPECT_EQ(html_escape("caf\xE9.jpg"), "caf" + fffd + ".jpg");           // Latin-1
  EXPECT_EQ(html_escape("\xFF\xFE"), fffd + fffd);                        // never valid
  EXPECT_EQ(html_escape("\xC0\xAF"), fffd + fffd);                        // overlong '/'
  EXPECT_EQ(html_escape("\xED\xA0\x80"), fffd + fffd + fffd);             // surrogate
  EXPECT_EQ(html_escape("\xE6\x97"), fffd);                               // truncated
  EXPECT_EQ(html_escape("\xE6\x97x"), fffd + "x");                        // cut short
  EXPECT_EQ(html_escape("\xF4\x90\x80\x80"), fffd + fffd + fffd + fffd);  // > U+10FFFF
}

TEST(HtmlEscape, ShowsControlCharactersAsPictures) {
  EXPECT_EQ(html_escape("a\nb"),
            "a\xE2\x90\x8A"
            "b");  // U+240A
  EXPECT_EQ(html_escape("\t"), "\xE2\x90\x89");
  EXPECT_EQ(html_escape("\x7F"), "\xE2\x90\xA1");
}

// --- Histogram -----------------------------------------------------------------------------

TEST(Histogram, BinsAndClampsValues) {
  Histogram h(HistogramAxis{"brightness", "Brightness", "", 0, 100, false, 10});
  h.add(5);
  h.add(95);
  h.add(150);  // above: last bin
  h.add(-3);   // below: first bin
  h.add(std::nan(""));
  EXPECT_EQ(h.total(), 4);
  EXPECT_EQ(h.counts()[0], 2);
  EXPECT_EQ(h.counts()[9], 2);
  EXPECT_EQ(h.below(), 1);
  EXPECT_EQ(h.above(), 1);
}

TEST(Histogram, LogAxisBinsByDecade) {
  Histogram h(HistogramAxis{"sharpness", "Sharpness", "", 1, 1e4, true, 4});
  h.add(5);
  h.add(50);
  h.add(500);
  h.add(5000);
  h.add(0);  // log of 0: first bin
  EXPECT_EQ(h.counts(), (std::vector<int64_t>{2, 1, 1, 1}));
}

TEST(Histogram, SvgDrawsThresholdLineAndShadesRejectedSide) {
  Histogram h(HistogramAxis{"brightness", "Brightness", "", 0, 255, false, 51});
  for (int v = 0; v < 255; v += 3) h.add(v);
  const ThresholdMarker markers[] = {{"dark", 40, true}, {"<b>odd</b>", 235, false}};
  const std::string svg = render_histogram_svg(h, markers);
  EXPECT_EQ(svg.rfind("<svg", 0), 0U);
  EXPECT_EQ(count_of(svg, "class=\"hist-threshold\""), 2);
  EXPECT_EQ(count_of(svg, "class=\"hist-reject\""), 2);
  EXPECT_NE(svg.find("dark &lt; 40"), std::string::npos);
  EXPECT_NE(svg.find("&lt;b&gt;odd&lt;/b&gt; &gt; 235"), std::string::npos);
  EXPECT_EQ(svg.find("<b>"), std::string::npos);
  EXPECT_GT(count_of(svg, "hist-bar-rej"), 0);
}

// --- The report ----------------------------------------------------------------------------

using ReportTest = ReportFixture;

ReportOptions options_for(const fs::path& out, int page_size = 200) {
  ReportOptions o;
  o.out_dir = out;
  o.page_size = page_size;
  o.threads = 2;
  return o;
}

/// Every `<img src="...">` of every page names a file that exists in the report directory.
void expect_images_exist(const fs::path& dir) {
  const std::regex img(R"re(<img src="([^"]*)")re");
  int64_t images = 0;
  for (const auto& [name, html] : read_pages(dir)) {
    for (std::sregex_iterator it(html.begin(), html.end(), img), end; it != end; ++it) {
      const std::string src = (*it)[1];
      EXPECT_EQ(src.rfind("thumbs/", 0), 0U) << name << ": " << src;
      EXPECT_TRUE(fs::is_regular_file(dir / src)) << name << ": " << src;
      ++images;
    }
  }
  EXPECT_GT(images, 0);
}

TEST_F(ReportTest, WritesEveryPage) {
  const ReportSummary s = write_report(db_, options_for(out_));
  EXPECT_EQ(s.index, out_ / "index.html");
  for (const char* page : {"index.html", "style.css", "groups-1.html", "files-1.html",
                           "rejects.html", "rejects-blurry-1.html", "rejects-dark-1.html",
                           "rejects-low_contrast-1.html", "rejects-corrupt-1.html"}) {
    EXPECT_TRUE(fs::is_regular_file(out_ / page)) << page;
  }
  EXPECT_EQ(s.pages, 8);  // index, groups, files, rejects overview, 4 rules
  const auto pages = read_pages(out_);
  for (const auto& [name, html] : pages) {
    EXPECT_EQ(html.rfind("<!DOCTYPE html>", 0), 0U) << name;
    EXPECT_NE(html.find("</html>"), std::string::npos) << name;
    // Static: no scripts, nothing from the network.
    EXPECT_EQ(html.find("<script"), std::string::npos) << name;
    EXPECT_EQ(html.find("http://"), html.find("http://www.w3.org/2000/svg")) << name;
    EXPECT_EQ(html.find("https://"), std::string::npos) << name;
  }
  // No temporary files of the atomic writes are left behind.
  for (const fs::directory_entry& e : fs::recursive_directory_iterator(out_)) {
    const std::string name = e.path().filename().string();
    EXPECT_TRUE(name.ends_with(".html") || name.ends_with(".css") || name.ends_with(".jpg") ||
                name.ends_with(".fail") || name == kOutputMarker || e.is_directory())
        << name;
  }
}

TEST_F(ReportTest, AFolderThatHoldsNoEarlierReportIsRefusedUnlessForced) {
  const auto text_of = [](const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), {});
  };
  // Someone's web folder: its index.html is not vpipe's.
  const fs::path site = out_.parent_path() / "site";
  fs::create_directories(site);
  std::ofstream(site / "index.html") << "<html><body>my homepage</body></html>";
  std::ofstream(site / "photo.jpg") << "jpeg bytes";
  try {
    write_report(db_, options_for(site));
    ADD_FAILURE() << "a foreign folder was written into";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find(site.string()), std::string::npos) << e.what();
  }
  EXPECT_EQ(text_of(site / "index.html"), "<html><body>my homepage</body></html>");
  EXPECT_FALSE(fs::exists(site / "style.css"));
  ReportOptions forced = options_for(site);
  forced.force = true;
  write_report(db_, forced);
  EXPECT_NE(text_of(site / "index.html").find("generator"), std::string::npos);
  EXPECT_EQ(text_of(site / "photo.jpg"), "jpeg bytes");  // written into, nothing removed
  // An earlier report is rewritten without asking; so is an empty folder.
  EXPECT_NO_THROW(write_report(db_, options_for(site)));
  const fs::path empty = out_.parent_path() / "empty";
  fs::create_directories(empty);
  EXPECT_NO_THROW(write_report(db_, options_for(empty)));
  // A file where the folder should be.
  const fs::path file = out_.parent_path() / "report.txt";
  std::ofstream(file) << "notes";
  EXPECT_THROW(write_report(db_, options_for(file)), ConfigError);
  EXPECT_EQ(text_of(file), "notes");
}

TEST_F(ReportTest, ShowsEveryGroupOnce) {
  write_report(db_, options_for(out_));
  const Manifest m(db_);
  int64_t cards = 0;
  for (const auto& [name, html] : read_pages(out_)) {
    if (name.starts_with("groups-")) cards += count_of(html, "<section class=\"group-card\"");
  }
  EXPECT_EQ(cards, DedupStore(m).count_groups());
  const std::string groups = read_text(out_ / "groups-1.html");
  EXPECT_EQ(count_of(groups, "badge keeper"), 5);  // one keeper per group
  EXPECT_NE(groups.find("pHash 3 &middot; dHash 2"), std::string::npos);
  EXPECT_NE(groups.find("identical bytes"), std::string::npos);
  EXPECT_NE(groups.find(">rot90<"), std::string::npos);
  EXPECT_NE(groups.find("480&times;360"), std::string::npos);
  // Largest first, keeper first within a group.
  EXPECT_LT(groups.find("id=\"g1\""), groups.find("id=\"g2\""));
  EXPECT_LT(groups.find(">a1.jpg<"), groups.find(">a1-copy.jpg<"));
  EXPECT_NE(groups.find(">a1.jpg<"), std::string::npos);
}

TEST_F(ReportTest, SaysWhyEachKeeperWonUnderItsThumbnail) {
  write_report(db_, options_for(out_));
  const std::string groups = read_text(out_ / "groups-1.html");
  EXPECT_EQ(count_of(groups, "<div class=\"why\""), 5);  // one per group, on the keeper's tile
  // Same size and signals: the quality score the pass recorded decides (0.8 vs 0.7).
  EXPECT_NE(groups.find("kept: higher quality score (0.80 vs 0.70)"), std::string::npos);
  // c1.jpg over its copy with a third of its pixels blown to a plateau.
  EXPECT_NE(groups.find("kept: least degraded (blown highlights 0% vs 35%)"), std::string::npos);
  // d1.jpg over d2.jpg, re-encoded at quality 40: read from the files' quantization tables.
  EXPECT_NE(groups.find("kept: higher JPEG quality (88 vs 40)"), std::string::npos);
  // The reason sits in the keeper's tile, after its facts.
  const size_t tile = groups.find(">d1.jpg<");
  ASSERT_NE(tile, std::string::npos);
  EXPECT_LT(tile, groups.find("higher JPEG quality"));
  EXPECT_GT(groups.find(">d2.jpg<"), groups.find("higher JPEG quality"));
}

TEST_F(ReportTest, ExplainsKeepersByTheOrderTheDedupPassUsed) {
  {
    Manifest m(db_);
    const int64_t run =
        m.begin_run("dedup", R"({"command":"dedup","keeper":["shortest_path"]})", "cpu");
    m.end_run(run, "completed", {});
  }
  write_report(db_, options_for(out_));
  const std::string groups = read_text(out_ / "groups-1.html");
  const size_t a1 = (images_ / "trip/a1.jpg").string().size();
  std::string expected = "kept: shortest path (";
  expected += std::to_string(a1);
  expected += " vs ";
  expected += std::to_string(a1 + 5);  // "a1-copy.jpg" is 5 bytes longer
  expected += " bytes)";
  EXPECT_NE(groups.find(expected), std::string::npos);
  EXPECT_EQ(groups.find("higher JPEG quality"), std::string::npos);
}

TEST_F(ReportTest, PaginatesGroupsWithLinks) {
  write_report(db_, options_for(out_, 2));
  ASSERT_TRUE(fs::exists(out_ / "groups-3.html"));
  EXPECT_FALSE(fs::exists(out_ / "groups-4.html"));
  const std::string p1 = read_text(out_ / "groups-1.html");
  const std::string p2 = read_text(out_ / "groups-2.html");
  const std::string p3 = read_text(out_ / "groups-3.html");
  EXPECT_EQ(count_of(p1, "<section class=\"group-card\""), 2);
  EXPECT_EQ(count_of(p2, "<section class=\"group-card\""), 2);
  EXPECT_EQ(count_of(p3, "<section class=\"group-card\""), 1);
  EXPECT_NE(p1.find("rel=\"next\" href=\"groups-2.html\""), std::string::npos);
  EXPECT_NE(p2.find("rel=\"prev\" href=\"groups-1.html\""), std::string::npos);
  EXPECT_NE(p2.find("rel=\"next\" href=\"groups-3.html\""), std::string::npos);
  EXPECT_NE(p3.find("rel=\"prev\" href=\"groups-2.html\""), std::string::npos);
  EXPECT_EQ(p3.find("rel=\"next\""), std::string::npos);
  EXPECT_NE(p3.find("href=\"groups-1.html\">1</a>"), std::string::npos);
  // Files: 16 rows -> 8 pages of 2; rejects of blurry: 2 -> 1 page.
  EXPECT_TRUE(fs::exists(out_ / "files-8.html"));
  EXPECT_FALSE(fs::exists(out_ / "files-9.html"));
  EXPECT_EQ(count_of(read_text(out_ / "files-8.html"), "<td class=\"path\">"), 2);
  EXPECT_FALSE(fs::exists(out_ / "rejects-blurry-2.html"));
  // A group's link from the files table lands on the right page.
  std::string all_files;
  for (int p = 1; p <= 8; ++p)
    all_files += read_text(out_ / ("files-" + std::to_string(p) + ".html"));
  EXPECT_NE(all_files.find("<a href=\"groups-3.html#g5\">group 5</a>"), std::string::npos);
  EXPECT_NE(all_files.find("<a href=\"groups-1.html#g2\">group 2</a>"), std::string::npos);

  // A later report with fewer pages removes the pages it no longer has.
  write_report(db_, options_for(out_, 200));
  EXPECT_TRUE(fs::exists(out_ / "groups-1.html"));
  EXPECT_FALSE(fs::exists(out_ / "groups-2.html"));
  EXPECT_FALSE(fs::exists(out_ / "files-2.html"));
}

TEST_F(ReportTest, HostileFileNameIsShownAsText) {
  write_report(db_, options_for(out_));
  for (const auto& [name, html] : read_pages(out_)) {
    EXPECT_EQ(html.find("<script"), std::string::npos) << name;
    EXPECT_EQ(html.find("alert(1)</"), std::string::npos) << name;
  }
  // The whole path escaped in the tooltip; the name and its directory escaped as text.
  const std::string title = "title=\"" + (images_ / "").string() + kHostileEscaped + "\"";
  for (const char* page : {"groups-1.html", "files-1.html"}) {
    const std::string html = read_text(out_ / page);
    EXPECT_NE(html.find(title), std::string::npos) << page;
    EXPECT_NE(html.find(std::string(">") + kHostileBaseShown + "<"), std::string::npos) << page;
    EXPECT_NE(html.find(std::string(kHostileDirShown) + "<"), std::string::npos) << page;
  }
}

TEST_F(ReportTest, NonUtf8FileNameIsShownWithReplacementCharacter) {
  write_report(db_, options_for(out_));
  const std::string groups = read_text(out_ / "groups-1.html");
  EXPECT_NE(groups.find(kLatin1Shown), std::string::npos);
  for (const auto& [name, html] : read_pages(out_)) {
    // Every page is valid UTF-8: escaping it again changes no bytes but markup characters.
    std::string stripped;
    for (char c : html) {
      if (c != '<' && c != '>' && c != '&' && c != '"' && c != '\'' && c != '\n') stripped += c;
    }
    EXPECT_EQ(html_escape(stripped), stripped) << name;
  }
}

TEST_F(ReportTest, ThumbnailsAreMadeOnceAndCached) {
  const ReportSummary first = write_report(db_, options_for(out_));
  // 11 group members + 4 rejects shown; the broken and the corrupt file have no picture.
  EXPECT_EQ(first.thumbnails_made, 13);
  EXPECT_EQ(first.thumbnail_failures, 3);  // broken (groups), corrupt (its page, rejects.html)
  EXPECT_TRUE(fs::is_regular_file(
      out_ / "thumbs" /
      (ThumbnailCache::key(
           *FileStore(Manifest(db_)).find_file((images_ / "e2-broken.jpg").string()), 160) +
       ".fail")));
  expect_images_exist(out_);

  const ReportSummary second = write_report(db_, options_for(out_));
  EXPECT_EQ(second.thumbnails_made, 0);
  EXPECT_GT(second.thumbnails_cached, first.thumbnails_cached);

  // A changed file (new mtime) gets a new thumbnail; the others are reused.
  {
    Manifest m(db_);
    FileRecord f = *FileStore(m).find_file((images_ / "d2.jpg").string());
    f.mtime_ns += 1'000'000'000;
    FileStore(m).upsert_files(std::span(&f, 1));
  }
  const ReportSummary third = write_report(db_, options_for(out_));
  EXPECT_EQ(third.thumbnails_made, 1);
  expect_images_exist(out_);
}

TEST_F(ReportTest, ThumbnailKeyFollowsPathSizeAndMtime) {
  FileRecord a;
  a.path = "x/a.jpg";
  a.size_bytes = 10;
  a.mtime_ns = 5;
  FileRecord b = a;
  EXPECT_EQ(ThumbnailCache::key(a, 160), ThumbnailCache::key(b, 160));
  EXPECT_EQ(ThumbnailCache::key(a, 160).size(), 32U);
  b.mtime_ns = 6;
  EXPECT_NE(ThumbnailCache::key(a, 160), ThumbnailCache::key(b, 160));
  b = a;
  b.size_bytes = 11;
  EXPECT_NE(ThumbnailCache::key(a, 160), ThumbnailCache::key(b, 160));
  b = a;
  b.path = "x/b.jpg";
  EXPECT_NE(ThumbnailCache::key(a, 160), ThumbnailCache::key(b, 160));
  EXPECT_NE(ThumbnailCache::key(a, 160), ThumbnailCache::key(a, 200));
}

/// The key as version 1 of the cache computed it (before transparent images were drawn on a
/// checkerboard): XXH3-128 of the path, then size, mtime, thumbnail size and 1 as int64s.
std::string key_version_1(const FileRecord& file, int size) {
  XXH3_state_t* state = XXH3_createState();
  XXH3_128bits_reset(state);
  XXH3_128bits_update(state, file.path.data(), file.path.size());
  const int64_t numbers[] = {file.size_bytes, file.mtime_ns, size, 1};
  XXH3_128bits_update(state, numbers, sizeof numbers);
  const XXH128_hash_t h = XXH3_128bits_digest(state);
  XXH3_freeState(state);
  char hex[33];
  std::snprintf(hex, sizeof hex, "%016llx%016llx", static_cast<unsigned long long>(h.high64),
                static_cast<unsigned long long>(h.low64));
  return hex;
}

TEST(Thumbnails, KeyChangedSoBlackThumbnailsOfTransparentImagesAreNotReused) {
  FileRecord a;
  a.path = "x/logo.png";
  a.size_bytes = 10;
  a.mtime_ns = 5;
  EXPECT_EQ(key_version_1(a, 160).size(), 32U);
  EXPECT_NE(ThumbnailCache::key(a, 160), key_version_1(a, 160));
}

TEST(Thumbnails, TransparentPartsAreDrawnOnACheckerboard) {
  std::string pattern = (fs::temp_directory_path() / "vpipe_thumbs_XXXXXX").string();
  ASSERT_NE(::mkdtemp(pattern.data()), nullptr);
  const fs::path root = pattern;
  // 320x192: the left half fully transparent (straight colour red underneath, which must not
  // show), the right half opaque blue. Thumbnails of 160 px halve it: 8-px squares stay aligned.
  Image rgb(320, 192, 3);
  Image alpha(320, 192, 1);
  for (int y = 0; y < 192; ++y) {
    for (int x = 0; x < 320; ++x) {
      uint8_t* p = rgb.row(y) + 3 * x;
      const bool opaque = x >= 160;
      p[0] = opaque ? 20 : 255;
      p[1] = opaque ? 40 : 0;
      p[2] = opaque ? 220 : 0;
      alpha.row(y)[x] = opaque ? 255 : 0;
    }
  }
  FileRecord file;
  file.path = (root / "logo.png").string();
  const std::vector<uint8_t> png = encode_png(rgb, alpha);
  std::ofstream(file.path, std::ios::binary)
      .write(reinterpret_cast<const char*>(png.data()), static_cast<std::streamsize>(png.size()));
  file.size_bytes = static_cast<int64_t>(png.size());
  file.status = ItemStatus::kOk;
  file.has_signals = true;

  ThumbnailCache cache(root / "report", 160, 1);
  const FileRecord* files[] = {&file};
  const std::vector<Thumbnail> thumbs = cache.get(files);
  ASSERT_EQ(thumbs.size(), 1U);
  ASSERT_FALSE(thumbs[0].src.empty()) << thumbs[0].failure;
  Decoder decoder;
  std::ifstream in(root / "report" / thumbs[0].src, std::ios::binary);
  const std::vector<uint8_t> jpeg{std::istreambuf_iterator<char>(in), {}};
  const DecodeResult r = decoder.decode(jpeg, {});
  ASSERT_EQ(r.status, ItemStatus::kOk) << r.message;
  ASSERT_EQ(r.image.width, 160);
  ASSERT_EQ(r.image.channels, 3);
  const auto pixel = [&](int x, int y) {
    const uint8_t* p = r.image.row(y) + 3 * x;
    return std::array<int, 3>{p[0], p[1], p[2]};
  };
  // Two neighbouring squares (centres of (0, 0) and (1, 0)), and the one below the first: two
  // light grays, alternating, not black and not the hidden red.
  for (const auto& [x, y, level] : {std::tuple{4, 4, 240}, std::tuple{12, 4, 204},
                                    std::tuple{4, 12, 204}, std::tuple{12, 12, 240}}) {
    for (int c = 0; c < 3; ++c) EXPECT_NEAR(pixel(x, y)[c], level, 6) << x << "," << y;
  }
  // The opaque half is the picture.
  EXPECT_NEAR(pixel(120, 50)[2], 220, 8);
  EXPECT_NEAR(pixel(120, 50)[0], 20, 8);
  std::error_code ec;
  fs::remove_all(root, ec);
}

TEST_F(ReportTest, UndecodableFileGetsPlaceholder) {
  write_report(db_, options_for(out_));
  const std::string groups = read_text(out_ / "groups-1.html");
  // The tile of the broken member has a placeholder and no <img>.
  const size_t at = groups.find(">e2-broken.jpg<");
  ASSERT_NE(at, std::string::npos);
  const size_t tile = groups.rfind("<figure", at);
  const std::string tile_html = groups.substr(tile, at - tile);
  EXPECT_NE(tile_html.find("class=\"ph\""), std::string::npos);
  EXPECT_EQ(tile_html.find("<img"), std::string::npos);
  // The corrupt file's placeholder says why (the scan's error).
  const std::string corrupt = read_text(out_ / "rejects-corrupt-1.html");
  EXPECT_NE(corrupt.find("Not a JPEG file"), std::string::npos);
  EXPECT_EQ(corrupt.find("<img"), std::string::npos);
  expect_images_exist(out_);
}

TEST_F(ReportTest, RejectsAreSortedBySeverityWithValueAndThreshold) {
  write_report(db_, options_for(out_));
  const std::string blurry = read_text(out_ / "rejects-blurry-1.html");
  EXPECT_LT(blurry.find(">blurry2.jpg<"), blurry.find(">blurry.jpg<"));  // worst first
  EXPECT_NE(blurry.find("blurry <b>3</b> &lt; 50"), std::string::npos);
  const std::string dark = read_text(out_ / "rejects-dark-1.html");
  EXPECT_NE(dark.find("reason on\">dark <b>22</b> &lt; 40"), std::string::npos);
  EXPECT_NE(dark.find("low_contrast <b>10</b> &lt; 15"), std::string::npos);
}

TEST_F(ReportTest, IndexHasCountsHistogramsAndTimings) {
  write_report(db_, options_for(out_));
  const std::string index = read_text(out_ / "index.html");
  EXPECT_NE(index.find("16 files under <code>" + (images_ / "").string() +
                       "</code> &middot; 5 duplicate groups &middot; 4 rejected"),
            std::string::npos);
  // sharpness, brightness, contrast, entropy, colourfulness, shorter side, aspect ratio, edge
  // width, highlights, clipped pixels
  EXPECT_EQ(count_of(index, "<svg class=\"hist\""), 10);
  EXPECT_GE(count_of(index, "class=\"hist-threshold\""), 5);  // enabled rules only
  EXPECT_NE(index.find("dark &lt; 40"), std::string::npos);
  EXPECT_NE(index.find("overexposed &gt; 235"), std::string::npos);
  EXPECT_EQ(index.find("extreme_aspect &gt; 4"), std::string::npos);  // disabled
  EXPECT_NE(index.find("Bottleneck: <b>decode</b>"), std::string::npos);
  EXPECT_NE(index.find("Bottleneck: <b>group</b>"), std::string::npos);
  EXPECT_EQ(count_of(index, "<span class=\"chip bottleneck\">"), 2);
  EXPECT_NE(index.find("exact copies (same bytes)</td><td class=\"num\">0</td>"),
            std::string::npos);
  EXPECT_NE(index.find("mixed (exact and near members)</td><td class=\"num\">1</td>"),
            std::string::npos);
}

TEST_F(ReportTest, FilesPagesAreBoundedByPageSize) {
  write_report(db_, options_for(out_, 5));
  for (int p = 1; p <= 4; ++p) {
    const std::string page = read_text(out_ / ("files-" + std::to_string(p) + ".html"));
    EXPECT_EQ(count_of(page, "<td class=\"path\">"), p < 4 ? 5 : 1) << p;
  }
  EXPECT_EQ(count_of(read_text(out_ / "groups-1.html"), "<section class=\"group-card\""), 5);
}

TEST_F(ReportTest, RefusesBadOptions) {
  ReportOptions o = options_for(out_, 0);
  EXPECT_THROW(write_report(db_, o), ConfigError);
  EXPECT_THROW(write_report(root_ / "missing.db", options_for(out_)), IoError);
  EXPECT_FALSE(fs::exists(root_ / "missing.db"));
}

TEST_F(ReportTest, EmptyManifestGivesEmptyPages) {
  const fs::path db = root_ / "empty.db";
  { Manifest m(db); }
  const ReportSummary s = write_report(db, options_for(root_ / "empty-report"));
  EXPECT_EQ(s.pages, 4);  // index, groups-1, files-1, rejects
  EXPECT_NE(read_text(root_ / "empty-report" / "groups-1.html").find("class=\"empty\""),
            std::string::npos);
  EXPECT_NE(read_text(root_ / "empty-report" / "index.html").find("No dedup pass yet"),
            std::string::npos);
}

// --- Predictions and crops -------------------------------------------------------------------

/// The SVG rectangle of a box (x1, y1)-(x2, y2) in full-resolution pixels of a `width`-wide image,
/// scaled to a preview `preview_width` wide, as the page must hold it.
std::string scaled_rect(double x1, double y1, double x2, double y2, int width, int preview_width) {
  const double s = static_cast<double>(preview_width) / width;
  char buf[160];
  std::snprintf(buf, sizeof buf, "x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\"", x1 * s,
                y1 * s, (x2 - x1) * s, (y2 - y1) * s);
  return buf;
}

/// The text of `html` without its tags.
std::string text_of(const std::string& html) {
  return std::regex_replace(html, std::regex("<[^>]*>"), "");
}

/// The pages whose names start with `prefix`.
std::vector<std::string> pages_named(const fs::path& dir, const std::string& prefix) {
  std::vector<std::string> names;
  for (const auto& [name, html] : read_pages(dir)) {
    if (name.starts_with(prefix)) names.push_back(name);
  }
  return names;
}

class PredictionsReportTest : public ReportFixture {
 protected:
  void SetUp() override {
    ReportFixture::SetUp();
    add_predictions();
  }
};

TEST_F(PredictionsReportTest, DrawsEveryBoxScaledToThePreview) {
  write_report(db_, options_for(out_));  // thumbnails 160, previews twice that: 320
  const std::string page = read_text(out_ / "detections-finder-1.html");
  ASSERT_FALSE(page.empty());
  // One tile per file with an "ok" inference (e1 found nothing; single.jpg failed: not shown).
  EXPECT_EQ(count_of(page, "<figure class=\"tile ptile\">"), 4);
  EXPECT_EQ(page.find(">single.jpg<"), std::string::npos);
  EXPECT_NE(page.find("nothing found"), std::string::npos);
  // One box per detection, in preview pixels: a1 480x360 -> 320x240, b1 320x240 stays,
  // d1 400x200 -> 320x160; the viewBox is the preview's size.
  EXPECT_EQ(count_of(page, "<rect class=\"det-box\""), 3);
  EXPECT_NE(page.find(scaled_rect(48, 36, 240, 216, 480, 320)), std::string::npos);
  EXPECT_NE(page.find(scaled_rect(0, 0, 160, 120, 320, 320)), std::string::npos);
  EXPECT_NE(page.find(scaled_rect(100, 50, 300, 150, 400, 320)), std::string::npos);
  EXPECT_NE(page.find("viewBox=\"0 0 320 240\""), std::string::npos);
  EXPECT_NE(page.find("viewBox=\"0 0 320 160\""), std::string::npos);
  // The keypoints of the a1 person, scaled by 320 / 480.
  EXPECT_EQ(count_of(page, "<circle class=\"det-kp\""), 2);
  EXPECT_NE(page.find("cx=\"64.0\" cy=\"48.0\""), std::string::npos);
  EXPECT_NE(page.find("cx=\"96.0\" cy=\"72.0\""), std::string::npos);
  // Each box labelled "label score".
  EXPECT_NE(page.find(">person 0.91</text>"), std::string::npos);
  EXPECT_NE(page.find(">person 0.80</text>"), std::string::npos);
  // The previews exist, at the preview size.
  expect_images_exist(out_);
  const std::regex img(R"re(<img src="(thumbs/[0-9a-f]+\.jpg)" width="(\d+)" height="(\d+)")re");
  int previews = 0;
  for (std::sregex_iterator it(page.begin(), page.end(), img), end; it != end; ++it) {
    const std::string bytes = read_text(out_ / (*it)[1].str());
    Decoder decoder;
    const DecodeResult d =
        decoder.decode(std::span(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size()), {});
    EXPECT_EQ(d.image.width, std::stoi((*it)[2])) << (*it)[1];
    EXPECT_EQ(d.image.height, std::stoi((*it)[3])) << (*it)[1];
    EXPECT_LE(std::max(d.image.width, d.image.height), 320);  // e1 (300x300) is not enlarged
    ++previews;
  }
  EXPECT_EQ(previews, 4);
}

TEST_F(PredictionsReportTest, HostileLabelIsShownAsText) {
  write_report(db_, options_for(out_));
  for (const auto& [name, html] : read_pages(out_)) {
    EXPECT_EQ(html.find("<script"), std::string::npos) << name;
    EXPECT_EQ(html.find("alert(2)</"), std::string::npos) << name;
    // Page names made of labels stay plain file names.
    EXPECT_TRUE(std::regex_match(name, std::regex("[A-Za-z0-9_.-]+"))) << name;
  }
  const std::string page = read_text(out_ / "detections-finder-1.html");
  EXPECT_NE(page.find(std::string(">") + kHostileLabelEscaped + " 0.55</text>"), std::string::npos);
  // The label filter: one page per label, the hostile one with an escaped heading.
  const std::vector<std::string> labels = pages_named(out_, "detections-finder.");
  ASSERT_EQ(labels.size(), 2U);
  int hostile = 0;
  for (const std::string& name : labels) {
    const std::string html = read_text(out_ / name);
    if (html.find(std::string("<h1>Predictions of finder: ") + kHostileLabelEscaped + "</h1>") !=
        std::string::npos) {
      ++hostile;
      EXPECT_EQ(count_of(html, "<figure class=\"tile ptile\">"), 1) << name;
    }
  }
  EXPECT_EQ(hostile, 1);
}

TEST_F(PredictionsReportTest, LabelPagesHoldTheFilesOfTheirLabel) {
  write_report(db_, options_for(out_));
  const std::string person = read_text(out_ / "detections-finder.person-1.html");
  EXPECT_EQ(count_of(person, "<figure class=\"tile ptile\">"), 2);
  EXPECT_NE(person.find(">a1.jpg<"), std::string::npos);
  EXPECT_NE(person.find(">d1.jpg<"), std::string::npos);
  EXPECT_EQ(person.find(">b1.jpg<"), std::string::npos);
  // The all-labels page links every label page.
  const std::string all = read_text(out_ / "detections-finder-1.html");
  EXPECT_NE(all.find("href=\"detections-finder.person-1.html\""), std::string::npos);
}

TEST_F(PredictionsReportTest, ClassificationsAreCaptions) {
  write_report(db_, options_for(out_));
  const std::string page = read_text(out_ / "detections-sorter-1.html");
  EXPECT_EQ(count_of(page, "<figure class=\"tile ptile\">"), 2);
  EXPECT_EQ(page.find("det-box"), std::string::npos);  // no boxes for whole-image classes
  const std::regex caption(R"re(<div class="classes">(.*?)</div>)re");
  std::vector<std::string> captions;
  for (std::sregex_iterator it(page.begin(), page.end(), caption), end; it != end; ++it)
    captions.push_back(text_of((*it)[1]));
  EXPECT_EQ(captions, (std::vector<std::string>{"cat 0.93, dog 0.04", "dog 0.70, cat 0.20"}));
  // A label's page holds the files whose best class it is.
  const std::string cat = read_text(out_ / "detections-sorter.cat-1.html");
  EXPECT_EQ(count_of(cat, "<figure class=\"tile ptile\">"), 1);
  EXPECT_NE(cat.find(">c1.jpg<"), std::string::npos);
  const std::string dog = read_text(out_ / "detections-sorter.dog-1.html");
  EXPECT_EQ(count_of(dog, "<figure class=\"tile ptile\">"), 1);
  EXPECT_NE(dog.find(">d1.jpg<"), std::string::npos);
}

TEST_F(PredictionsReportTest, CropsGalleryShowsEveryCrop) {
  write_report(db_, options_for(out_));
  const std::string page = read_text(out_ / "crops-1.html");
  ASSERT_FALSE(page.empty());
  EXPECT_EQ(count_of(page, "<figure class=\"tile crop\">"), 2);
  EXPECT_NE(page.find("person 0.91"), std::string::npos);
  EXPECT_NE(page.find("person 0.80"), std::string::npos);
  EXPECT_NE(page.find("from trip/a1.jpg"), std::string::npos);  // source, under the corpus root
  EXPECT_NE(page.find("from d1.jpg"), std::string::npos);
  EXPECT_NE(page.find((root_ / "crops" / "finder" / "person" / "a1-0.jpg").string()),
            std::string::npos);
  // The pictures are thumbnails of the crops themselves (120x100 stays, 200x100 -> 160x80),
  // copied into the report's cache.
  const std::regex img(R"re(<img src="([^"]*)")re");
  std::set<std::pair<int, int>> sizes;
  for (std::sregex_iterator it(page.begin(), page.end(), img), end; it != end; ++it) {
    const std::string src = (*it)[1];
    ASSERT_EQ(src.rfind("thumbs/", 0), 0U) << src;
    const std::string bytes = read_text(out_ / src);
    ASSERT_FALSE(bytes.empty()) << src;
    Decoder decoder;
    const DecodeResult d =
        decoder.decode(std::span(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size()), {});
    sizes.insert({d.image.width, d.image.height});
  }
  EXPECT_EQ(sizes, (std::set<std::pair<int, int>>{{120, 100}, {160, 80}}));
  // Reached from the navigation and the overview.
  EXPECT_NE(read_text(out_ / "index.html").find("href=\"crops-1.html\""), std::string::npos);
}

TEST_F(PredictionsReportTest, PagesSplitByPageSize) {
  write_report(db_, options_for(out_, 3));
  EXPECT_EQ(count_of(read_text(out_ / "detections-finder-1.html"), "<figure class=\"tile ptile\">"),
            3);
  EXPECT_EQ(count_of(read_text(out_ / "detections-finder-2.html"), "<figure class=\"tile ptile\">"),
            1);
  EXPECT_FALSE(fs::exists(out_ / "detections-finder-3.html"));
  EXPECT_NE(read_text(out_ / "detections-finder-1.html")
                .find("rel=\"next\" href=\"detections-finder-2.html\""),
            std::string::npos);
  write_report(db_, options_for(out_, 1));
  EXPECT_TRUE(fs::exists(out_ / "crops-2.html"));
  EXPECT_FALSE(fs::exists(out_ / "crops-3.html"));
  EXPECT_EQ(count_of(read_text(out_ / "crops-2.html"), "<figure class=\"tile crop\">"), 1);
  EXPECT_TRUE(fs::exists(out_ / "detections-finder.person-2.html"));
  // A later report with bigger pages removes the pages it no longer has.
  write_report(db_, options_for(out_));
  EXPECT_FALSE(fs::exists(out_ / "crops-2.html"));
  EXPECT_FALSE(fs::exists(out_ / "detections-finder-2.html"));
  EXPECT_FALSE(fs::exists(out_ / "detections-finder.person-2.html"));
  EXPECT_TRUE(fs::exists(out_ / "detections-finder-1.html"));
}

TEST_F(PredictionsReportTest, IndexHasModelCardsAndInferTimings) {
  write_report(db_, options_for(out_));
  const std::string index = read_text(out_ / "index.html");
  // finder: 4 images done, 1 failed, 3 detections; sorter: 2 images classified, 2 classes.
  EXPECT_NE(text_of(index).find("Model finder3detections in 4 images &middot; 1 failed"),
            std::string::npos);
  EXPECT_NE(text_of(index).find(
                "Model sorter2images classified &middot; 2 classes seen &middot; 0 failed"),
            std::string::npos);
  EXPECT_NE(index.find("<h2 id=\"predictions\">"), std::string::npos);
  EXPECT_NE(index.find("href=\"detections-sorter.dog-1.html\""), std::string::npos);
  EXPECT_NE(index.find("Pass: infer:finder"), std::string::npos);
  EXPECT_NE(index.find("Bottleneck: <b>infer</b>"), std::string::npos);
}

TEST_F(ReportTest, NoPredictionPagesWithoutInferences) {
  write_report(db_, options_for(out_));
  EXPECT_TRUE(pages_named(out_, "detections-").empty());
  EXPECT_TRUE(pages_named(out_, "crops-").empty());
  EXPECT_EQ(read_text(out_ / "index.html").find("Predictions"), std::string::npos);
}

}  // namespace
}  // namespace vpipe::report_test
