// The dedup pass's keeper policy on real files: the JPEG quality read from the group members'
// headers decides between copies of one size, and the summary says why each keeper won.
#include "vpipe/curate/dedup_pass.h"

#include <gtest/gtest.h>

#include <fstream>
#include <string>
#include <vector>

#include "temp_dir.h"
#include "vpipe/core/image.h"
#include "vpipe/io/encode.h"
#include "vpipe/io/manifest.h"

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
  manifest.upsert_files(files);
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

}  // namespace
}  // namespace vpipe
