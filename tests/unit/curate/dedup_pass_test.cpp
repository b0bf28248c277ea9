// The dedup pass's keeper policy on real files: the JPEG quality read from the group members'
// headers decides between copies of one size, and the summary says why each keeper won.
#include "vpipe/curate/dedup_pass.h"

#include <gtest/gtest.h>

#include <fstream>
#include <iterator>
#include <string>
#include <tuple>
#include <vector>

#include "temp_dir.h"
#include "vpipe/core/image.h"
#include "vpipe/dedup/dedup_store.h"
#include "vpipe/io/encode.h"
#include "vpipe/io/file_store.h"
#include "vpipe/io/manifest.h"
#include "vpipe/report/html_report.h"

namespace vpipe {
namespace {

namespace fs = std::filesystem;
using testing::TempDir;

/// A 320x240 RGB gradient with a bright square, for real JPEG bytes.
Image picture() {
  Image img(320, 240, 3);
  for (int y = 0; y < img.height; ++y) {
    uint8_t* row = img.row(y);
    for (int x = 0; x < img.width; ++x) {
      const bool square = x > 100 && x < 180 && y > 60 && y < 140;
      row[3 * x] = static_cast<uint8_t>(square ? 230 : x * 255 / 320);
      row[3 * x + 1] = static_cast<uint8_t>(square ? 220 : y * 255 / 240);
      row[3 * x + 2] = 90;
    }
  }
  return img;
}

/// Writes `picture()` at JPEG `quality` to `path` and returns its record as the scan would.
FileRecord jpeg_file(const fs::path& path, int quality, double score_sharpness, int64_t mtime) {
  const std::vector<uint8_t> bytes = encode_jpeg(picture(), quality);
  std::ofstream(path, std::ios::binary)
      .write(reinterpret_cast<const char*>(bytes.data()),
             static_cast<std::streamsize>(bytes.size()));
  FileRecord r;
  r.path = path.string();
  r.size_bytes = static_cast<int64_t>(bytes.size());
  r.mtime_ns = mtime;
  r.format = "jpeg";
  r.width = 320;
  r.height = 240;
  r.has_content_hash = true;
  r.content_hash = {static_cast<uint64_t>(quality), 1};
  r.has_signals = true;
  r.phash = 0x9e3779b97f4a7c15ULL;  // the same picture: the same hashes
  r.dhash = 0xc2b2ae3d27d4eb4fULL;
  r.quality = QualitySignals{score_sharpness, 120, 50, 0.01, 0.01, 7.0, 30};
  return r;
}

TEST(DedupPass, AnEqualSizeReencodeAtLowerJpegQualityIsNotKept) {
  TempDir dir("vpipe_dedup_pass_");
  // The re-encode is older and scores higher (more "sharpness" from its block artefacts).
  const std::vector<FileRecord> files = {
      jpeg_file(dir.path() / "original.jpg", 95, 300, 2'000),
      jpeg_file(dir.path() / "r.jpg", 40, 900, 1'000),
  };
  Manifest manifest(dir.path() / "run.db");
  FileStore(manifest).upsert_files(files);
  DedupPassOptions options;
  options.explain_keepers = true;
  const DedupPassSummary summary = run_dedup_pass(manifest, options);
  ASSERT_EQ(summary.groups, 1);
  ASSERT_EQ(summary.keeper_reasons.size(), 1U);
  EXPECT_EQ(summary.keeper_reasons[0].first, files[0].path);
  EXPECT_EQ(summary.keeper_reasons[0].second, "higher JPEG quality (95 vs 40)");
  EXPECT_EQ(summary.keepers_decided_by.at("least_degraded"), 1);

  // With the old order (no least_degraded) the quality score keeps the re-encode: the order is
  // what changed, not the files.
  options.dedup.keeper_order = {KeeperCriterion::kPixels, KeeperCriterion::kQuality,
                                KeeperCriterion::kOldest, KeeperCriterion::kShortestPath};
  options.explain_keepers = false;
  const DedupPassSummary old_order = run_dedup_pass(manifest, options);
  EXPECT_TRUE(old_order.keeper_reasons.empty());
  EXPECT_EQ(old_order.keepers_decided_by.at("quality"), 1);
}

TEST(DedupPass, TurnedAndWindowedHashesInAScratchFileGroupAsInMemoryAndLeaveNothingBehind) {
  TempDir dir("vpipe_dedup_pass_scratch_");
  // Pairs found only through a turn or a crop window (the stored hashes far apart), and a
  // file scanned without turned or windowed hashes at all.
  std::vector<FileRecord> files;
  uint64_t seed = 0x243f6a8885a308d3ULL;
  const auto next = [&] {
    seed ^= seed << 13;
    seed ^= seed >> 7;
    seed ^= seed << 17;
    return seed;
  };
  for (int i = 0; i < 60; ++i) {
    std::string name = "f";
    name += std::to_string(i);
    name += ".jpg";
    FileRecord r = jpeg_file(dir.path() / name, 90, 300, 1'000 + i);
    r.content_hash = {static_cast<uint64_t>(i) + 1, 2};
    r.phash = next();
    r.dhash = next();
    r.has_orientation_hashes = i % 10 != 9;
    r.has_crop_hashes = i % 10 != 9;
    for (size_t k = 0; k < r.orientation_phash.size(); ++k) {
      r.orientation_phash[k] = k == 0 ? r.phash : next();
      r.orientation_dhash[k] = k == 0 ? r.dhash : next();
    }
    for (size_t w = 0; w < r.crop_phash.size(); ++w) {
      r.crop_phash[w] = next();
      r.crop_dhash[w] = next();
    }
    if (i % 3 == 1) {  // near the one before through its turn i % 7 + 1
      const FileRecord& before = files.back();
      r.orientation_phash[static_cast<size_t>(i % 7 + 1)] = before.phash ^ 0x5;
      r.orientation_dhash[static_cast<size_t>(i % 7 + 1)] = before.dhash ^ 0x1;
    } else if (i % 3 == 2) {  // its window i % 9 near the one before's stored hashes
      const FileRecord& before = files.back();
      r.crop_phash[static_cast<size_t>(i % 9)] = before.phash ^ 0x3;
      r.crop_dhash[static_cast<size_t>(i % 9)] = before.dhash ^ 0x6;
    }
    files.push_back(r);
  }
  const fs::path db = dir.path() / "run.db";
  {
    Manifest manifest(db);
    FileStore(manifest).upsert_files(files);
  }
  const auto groups = [&] {
    Manifest manifest(db);
    std::vector<std::tuple<std::string, int64_t, bool, int, int, std::string>> out;
    DedupStore::CuratedQuery query;
    DedupStore(manifest).for_each_curated(query, [&](const DedupStore::CuratedFile& row) {
      const DecisionRecord& d = row.decision;
      out.emplace_back(row.file.path, d.group_id, d.is_keeper, d.phash_distance, d.dhash_distance,
                       d.orientation);
      return true;
    });
    return out;
  };
  DedupPassOptions options;
  options.quality_enabled = false;
  {
    Manifest manifest(db);
    (void)run_dedup_pass(manifest, options);  // no scratch folder: in memory
  }
  const auto in_memory = groups();
  const DedupPassSummary summary = run_dedup_pass(db, options);  // the manifest's folder
  // The stored hashes are random: every group comes from a turn or a window.
  EXPECT_GE(summary.groups, 10);
  EXPECT_EQ(groups(), in_memory);
  // The scratch file was unlinked as soon as it was made.
  for (const auto& entry : fs::directory_iterator(dir.path())) {
    EXPECT_NE(entry.path().filename().string().rfind(".vpipe-", 0), 0U) << entry.path();
  }
}

TEST(DedupPass, GrayscaleInformsWhileDisabledAndRejectsWhenEnabled) {
  TempDir dir("vpipe_dedup_pass_gray_");
  std::vector<FileRecord> files;
  for (const char* name : {"colour.jpg", "gray.jpg", "gray-dark.jpg"}) {
    FileRecord r = jpeg_file(dir.path() / name, 90, 300, 1'000);
    r.content_hash = {files.size(), 2};
    r.phash = 0x0123456789abcdefULL << files.size();  // three different pictures
    r.dhash = ~r.phash;
    files.push_back(r);
  }
  files[1].quality.colorfulness = 0.4;
  files[2].quality.colorfulness = 0.0;
  files[2].quality.brightness = 12;  // also dark: rejected for that, not counted as a finding
  files[2].quality.highlight_level = 30;
  Manifest manifest(dir.path() / "run.db");
  FileStore(manifest).upsert_files(files);

  const DedupPassSummary informs = run_dedup_pass(manifest, {});
  EXPECT_EQ(informs.informational.at("grayscale"), 1);
  EXPECT_FALSE(informs.reasons.contains("grayscale"));
  EXPECT_EQ(informs.decisions.at("keep"), 2);  // colour.jpg and gray.jpg
  EXPECT_EQ(DedupStore(manifest).count_colourless(1.0), 1);
  std::vector<std::string> listed;
  DedupStore::CuratedQuery query;
  query.order = DedupStore::CuratedQuery::Order::kColourless;
  query.colorfulness_below = 1.0;
  DedupStore(manifest).for_each_curated(query, [&](const DedupStore::CuratedFile& row) {
    listed.push_back(row.file.path);
    return true;
  });
  EXPECT_EQ(listed, std::vector<std::string>{files[1].path});

  // The report shows the finding on the rejects overview, with the file.
  ReportOptions report;
  report.out_dir = dir.path() / "report";
  write_report(dir.path() / "run.db", report);
  std::ifstream in(report.out_dir / "rejects.html");
  const std::string rejects((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_NE(rejects.find("1 file, informational"), std::string::npos);
  EXPECT_NE(rejects.find("gray.jpg"), std::string::npos);
  // One tile in the panel: gray-dark.jpg is rejected (dark), so it is no finding.
  size_t tiles = 0;
  for (size_t at = rejects.find("colourfulness <b>"); at != std::string::npos;
       at = rejects.find("colourfulness <b>", at + 1)) {
    ++tiles;
  }
  EXPECT_EQ(tiles, 1U);

  DedupPassOptions enabled;
  enabled.quality.grayscale.enabled = true;
  const DedupPassSummary rejects_now = run_dedup_pass(manifest, enabled);
  EXPECT_TRUE(rejects_now.informational.empty());
  EXPECT_EQ(rejects_now.reasons.at("grayscale"), 2);
  EXPECT_EQ(rejects_now.decisions.at("keep"), 1);
}

}  // namespace
}  // namespace vpipe
