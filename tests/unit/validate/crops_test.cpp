// Tests of validate_crops (vpipe validate --manifest) and of the crop pass it checks: a manifest
// with real images, boxes recorded as an infer pass would, crops cut by run_crop_pass; clean it
// gives no findings; each planted defect is found once, with its kind, at the crop file.
#include <gtest/gtest.h>
#include <xxhash.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "image_files.h"
#include "records.h"
#include "temp_dir.h"
#include "vpipe/core/image_ops.h"
#include "vpipe/curate/infer_pass.h"
#include "vpipe/infer/inference_store.h"
#include "vpipe/io/decode.h"
#include "vpipe/io/encode.h"
#include "vpipe/io/file_store.h"
#include "vpipe/io/manifest.h"
#include "vpipe/validate/validate.h"

namespace vpipe {
namespace {

namespace fs = std::filesystem;
using testing::box;
using testing::decode_file;
using testing::inference;
using testing::read_bytes;
using testing::TempDir;

constexpr int kWidth = 240;
constexpr int kHeight = 180;
constexpr int kImages = 4;

/// Smooth (so JPEG crops stay within a level or two of their source) but different everywhere:
/// R follows x, G follows y, so any other rectangle of the image differs by its offset.
Image textured(int seed) {
  Image img(kWidth, kHeight, 3);
  for (int y = 0; y < kHeight; ++y) {
    for (int x = 0; x < kWidth; ++x) {
      uint8_t* p = img.row(y) + 3 * x;
      p[0] = static_cast<uint8_t>(x);
      p[1] = static_cast<uint8_t>(y * 4 / 3);
      p[2] = static_cast<uint8_t>((x + y + 40 * seed) / 2);
    }
  }
  return img;
}

void write_bytes(const fs::path& path, const std::vector<uint8_t>& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(bytes.data()),
            static_cast<std::streamsize>(bytes.size()));
}

/// (path, kind) of each finding.
std::multiset<std::pair<std::string, std::string>> keys(const ValidationReport& r) {
  std::multiset<std::pair<std::string, std::string>> out;
  for (const Finding& f : r.findings) out.emplace(f.path, f.kind);
  return out;
}

std::string describe(const ValidationReport& r) {
  std::string s;
  for (const Finding& f : r.findings) {
    s += f.path + ": " + std::string(to_string(f.severity)) + ": " + f.message + " [" + f.kind +
         "]\n";
  }
  return s;
}

class CropsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    fs::create_directories(dir_ / "photos");
    // Four PNG sources (exact pixels), two boxes each, recorded as a detector's output.
    std::vector<FileRecord> files;
    for (int i = 0; i < kImages; ++i) {
      const fs::path path = dir_ / "photos" / ("p" + std::to_string(i) + ".png");
      const std::vector<uint8_t> bytes = encode_png(textured(i));
      write_bytes(path, bytes);
      FileRecord f;
      f.path = path.string();
      f.size_bytes = static_cast<int64_t>(bytes.size());
      f.mtime_ns = 1000 + i;
      f.format = "png";
      f.width = kWidth;
      f.height = kHeight;
      files.push_back(f);
      sources_.push_back(path);
    }
    Manifest m(db_);
    FileStore(m).upsert_files(files);
    std::vector<InferenceRecord> inferences;
    for (const fs::path& source : sources_) {
      inferences.push_back(inference(FileStore(m).find_file(source.string())->id, "toy",
                                     {box(0, "thing", 0.9f, 40, 30, 100, 90),
                                      box(0, "thing", 0.9f, 130.5f, 60.2f, 200, 150.7f)}));
    }
    InferenceStore(m).record_inferences(inferences);
  }

  CropPassSummary crop(float margin = 0.1f) {
    CropOptions options;
    options.dir = dir_ / "crops";
    options.margin = margin;
    options.threads = 2;
    return run_crop_pass(db_, options);
  }

  ValidationReport validate(bool compare_pixels = true) {
    const Manifest m(db_);
    ValidationReport r;
    CropCheckOptions options;
    options.compare_pixels = compare_pixels;
    options.threads = 2;
    validate_crops(m, r, options);
    r.sort_findings();
    return r;
  }

  /// Every crop row, by source path then rank.
  std::vector<CropRecord> crops() const {
    const Manifest m(db_);
    std::vector<CropRecord> out;
    InferenceStore(m).for_each_detection({}, [&](const InferenceStore::FileDetections& f) {
      out.insert(out.end(), f.crops.begin(), f.crops.end());
      return true;
    });
    return out;
  }

  /// Writes `image` as the crop of `row` and records it with the rectangle (x, y) and the new
  /// file's size and hash: a crop consistent with its row, whatever it shows.
  void replace_crop(CropRecord row, const Image& image, int x, int y) {
    const std::vector<uint8_t> bytes = encode_jpeg(image, 92);
    write_bytes(row.path, bytes);
    row.x = x;
    row.y = y;
    row.width = image.width;
    row.height = image.height;
    row.size_bytes = static_cast<int64_t>(bytes.size());
    row.xxh64 = XXH64(bytes.data(), bytes.size(), 0);
    Manifest m(db_);
    InferenceStore(m).record_crops(std::vector<CropRecord>{row});
  }

  TempDir tmp_{"vpipe_crops_"};
  fs::path dir_ = tmp_.path();
  fs::path db_ = dir_ / "run.db";
  std::vector<fs::path> sources_;
};

TEST_F(CropsTest, CleanCropsHaveNoFindings) {
  const CropPassSummary s = crop();
  ASSERT_EQ(s.written, 2 * kImages);
  ASSERT_EQ(s.failed, 0);
  const ValidationReport r = validate();
  EXPECT_TRUE(r.findings.empty()) << describe(r);
  EXPECT_EQ(r.crops, 2 * kImages);
  // PNG crops too (exact pixels).
  CropOptions png;
  png.dir = dir_ / "png";
  png.format = "png";
  ASSERT_EQ(run_crop_pass(db_, png).written, 2 * kImages);
  const ValidationReport r2 = validate();
  EXPECT_TRUE(r2.findings.empty()) << describe(r2);
}

TEST_F(CropsTest, EachPlantedDefectIsFoundOnceAtItsCrop) {
  ASSERT_EQ(crop().written, 2 * kImages);
  const std::vector<CropRecord> rows = crops();
  ASSERT_EQ(rows.size(), static_cast<size_t>(2 * kImages));
  std::multiset<std::pair<std::string, std::string>> expected;

  // 0: deleted.
  fs::remove(rows[0].path);
  expected.emplace(rows[0].path, "crop_missing");
  // 1: overwritten by another image of another size.
  write_bytes(rows[1].path, encode_jpeg(textured(0), 92));
  expected.emplace(rows[1].path, "crop_size_mismatch");
  // 2: re-encoded at the same size (other quality): same pixels, nearly, other bytes.
  write_bytes(rows[2].path, encode_jpeg(decode_file(rows[2].path), 60));
  expected.emplace(rows[2].path, "crop_changed");
  // 3: one byte changed where it does not touch the pixels (JFIF's horizontal density).
  {
    std::vector<uint8_t> bytes = read_bytes(rows[3].path);
    ASSERT_GT(bytes.size(), 16U);
    ASSERT_EQ(std::string(bytes.begin() + 6, bytes.begin() + 10), "JFIF");
    bytes[15] ^= 0x01;
    write_bytes(rows[3].path, bytes);
  }
  expected.emplace(rows[3].path, "crop_changed");
  // 4: the recorded rectangle moved past the image's right edge (file and hash unchanged).
  {
    CropRecord moved = rows[4];
    moved.x = kWidth - moved.width + 5;
    InferenceStore(Manifest(db_)).record_crops(std::vector<CropRecord>{moved});
  }
  expected.emplace(rows[4].path, "crop_outside_image");
  // 5: a consistent crop of a rectangle shrunk inside the box: it cuts the box.
  {
    const CropRecord& r = rows[5];
    const Image source = decode_file(sources_[2]);
    replace_crop(r, crop_image(source, r.x + 10, r.y + 10, r.width - 20, r.height - 20),
                 r.x + 10, r.y + 10);
  }
  expected.emplace(rows[5].path, "crop_misses_box");
  // 7: a consistent row whose file shows another region of the source, same size.
  {
    const CropRecord& r = rows[7];
    ASSERT_GT(r.x, 40);  // the region at (0, 0) is far enough to differ
    const Image source = decode_file(sources_[3]);
    replace_crop(r, crop_image(source, 0, 0, r.width, r.height), r.x, r.y);
  }
  expected.emplace(rows[7].path, "crop_pixels_differ");
  // rows[6] stays clean.

  const ValidationReport r = validate();
  EXPECT_EQ(keys(r), expected) << describe(r);
  EXPECT_EQ(r.errors(), static_cast<int64_t>(expected.size()));
  EXPECT_EQ(r.crops, 2 * kImages);
  // Findings name the source image too.
  for (const Finding& f : r.findings) {
    EXPECT_NE(f.message.find(sources_[0].parent_path().string()), std::string::npos) << f.message;
  }

  // Without the pixel comparison the other-region crop passes (it is consistent with its row).
  const ValidationReport fast = validate(false);
  expected.erase(expected.find({rows[7].path, "crop_pixels_differ"}));
  EXPECT_EQ(keys(fast), expected) << describe(fast);
}

TEST_F(CropsTest, UnreadableSourceIsOneWarningAndNoPixelCheck) {
  ASSERT_EQ(crop().written, 2 * kImages);
  write_bytes(sources_[1], {1, 2, 3});
  const ValidationReport r = validate();
  ASSERT_EQ(r.findings.size(), 1U) << describe(r);
  EXPECT_EQ(r.findings[0].path, sources_[1].string());
  EXPECT_EQ(r.findings[0].kind, "crop_source_unreadable");
  EXPECT_EQ(r.findings[0].severity, Severity::kWarning);
  EXPECT_EQ(r.errors(), 0);
}

TEST_F(CropsTest, CropPassRerunWritesNothingAndKeepsFiles) {
  ASSERT_EQ(crop().written, 2 * kImages);
  std::map<std::string, fs::file_time_type> mtimes;
  for (const CropRecord& c : crops()) mtimes[c.path] = fs::last_write_time(c.path);
  ASSERT_EQ(mtimes.size(), static_cast<size_t>(2 * kImages));  // distinct names
  const CropPassSummary again = crop();
  EXPECT_EQ(again.written, 0);
  EXPECT_EQ(again.unchanged, 2 * kImages);
  for (const auto& [path, mtime] : mtimes) EXPECT_EQ(fs::last_write_time(path), mtime) << path;
}

TEST_F(CropsTest, CropPassRewritesADeletedCrop) {
  ASSERT_EQ(crop().written, 2 * kImages);
  const CropRecord gone = crops()[3];
  fs::remove(gone.path);
  const CropPassSummary again = crop();
  EXPECT_EQ(again.written, 1);
  EXPECT_EQ(again.unchanged, 2 * kImages - 1);
  EXPECT_TRUE(fs::exists(gone.path));
  const ValidationReport r = validate();
  EXPECT_TRUE(r.findings.empty()) << describe(r);
}

TEST_F(CropsTest, CropPassRewritesOnAChangedMargin) {
  ASSERT_EQ(crop(0.1f).written, 2 * kImages);
  const std::vector<CropRecord> before = crops();
  const CropPassSummary again = crop(0.25f);
  EXPECT_EQ(again.written, 2 * kImages);
  EXPECT_EQ(again.unchanged, 0);
  const std::vector<CropRecord> after = crops();
  ASSERT_EQ(after.size(), before.size());
  for (size_t i = 0; i < after.size(); ++i) {
    EXPECT_EQ(after[i].path, before[i].path);
    EXPECT_LT(after[i].x, before[i].x);  // grown (the boxes are away from the left edge)
    EXPECT_GT(after[i].width, before[i].width);
    EXPECT_EQ(decode_file(after[i].path).width, after[i].width);
  }
  const ValidationReport r = validate();
  EXPECT_TRUE(r.findings.empty()) << describe(r);
}

}  // namespace
}  // namespace vpipe
