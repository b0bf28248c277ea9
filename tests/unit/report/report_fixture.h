#pragma once

// A small manifest built by hand for the report tests: real JPEG files (one with a hostile name,
// one with a non-UTF-8 name, one that does not decode), five duplicate groups, rejects of three
// rules, thresholds and stage timings.

#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <regex>
#include <set>
#include <string>
#include <vector>

#include "records.h"
#include "vpipe/core/image.h"
#include "vpipe/core/record.h"
#include "vpipe/dedup/dedup_store.h"
#include "vpipe/infer/inference_store.h"
#include "vpipe/io/encode.h"
#include "vpipe/io/file_store.h"
#include "vpipe/io/manifest.h"

namespace vpipe::report_test {

namespace fs = std::filesystem;

// A file name cannot hold '/', so this "file name" is a directory `<script>alert(1)<` holding
// `script>.jpg`: the path ends in the hostile string, and both parts are shown.
inline constexpr const char* kHostileName = "<script>alert(1)</script>.jpg";
inline constexpr const char* kHostileEscaped = "&lt;script&gt;alert(1)&lt;/script&gt;.jpg";
inline constexpr const char* kHostileDirShown = "&lt;script&gt;alert(1)&lt;/";
inline constexpr const char* kHostileBaseShown = "script&gt;.jpg";
inline constexpr const char* kHostileLabel = "<script>alert(2)</script>";
inline constexpr const char* kHostileLabelEscaped = "&lt;script&gt;alert(2)&lt;/script&gt;";
inline const std::string kLatin1Name = "caf\xE9.jpg";           // 'é' in Latin-1: not UTF-8
inline const std::string kLatin1Shown = "caf\xEF\xBF\xBD.jpg";  // as the report shows it

/// A colourful test picture: smooth colour waves and a disc, different for every `seed`;
/// `shift` brightens it (a near duplicate of the same seed).
inline Image make_picture(int seed, int width, int height, int shift = 0) {
  Image img(width, height, 3);
  const double fx = 0.02 + 0.011 * (seed % 7);
  const double fy = 0.015 + 0.009 * (seed % 5);
  const int cx = width * (2 + seed % 5) / 8;
  const int cy = height * (3 + seed % 3) / 8;
  const int r = std::min(width, height) / 4;
  for (int y = 0; y < height; ++y) {
    uint8_t* row = img.row(y);
    for (int x = 0; x < width; ++x) {
      const bool disc = (x - cx) * (x - cx) + (y - cy) * (y - cy) < r * r;
      const double a = std::sin(x * fx + seed) * 0.5 + 0.5;
      const double b = std::cos(y * fy + seed * 0.7) * 0.5 + 0.5;
      int rgb[3] = {static_cast<int>(40 + 180 * a), static_cast<int>(60 + 150 * b),
                    static_cast<int>(90 + 120 * (1 - a * b))};
      if (disc) {
        rgb[0] = 230 - 20 * (seed % 4);
        rgb[1] = 80 + 30 * (seed % 3);
        rgb[2] = 60;
      }
      for (int c = 0; c < 3; ++c)
        row[x * 3 + c] = static_cast<uint8_t>(std::clamp(rgb[c] + shift, 0, 255));
    }
  }
  return img;
}

inline std::string read_text(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

inline int64_t count_of(const std::string& text, const std::string& needle) {
  int64_t n = 0;
  for (size_t at = text.find(needle); at != std::string::npos;
       at = text.find(needle, at + needle.size()))
    ++n;
  return n;
}

/// The HTML pages of a report directory, by file name.
inline std::map<std::string, std::string> read_pages(const fs::path& dir) {
  std::map<std::string, std::string> pages;
  for (const fs::directory_entry& e : fs::directory_iterator(dir)) {
    if (e.path().extension() == ".html") pages[e.path().filename().string()] = read_text(e.path());
  }
  return pages;
}

/// Builds the corpus and its manifest in a fresh temporary directory; removes it at the end.
class ReportFixture : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = (fs::temp_directory_path() / "vpipe_report_XXXXXX").string();
    ASSERT_NE(::mkdtemp(pattern.data()), nullptr);
    root_ = pattern;
    images_ = root_ / "photos";
    fs::create_directories(images_ / "trip");
    db_ = root_ / "run.db";
    out_ = root_ / "report";
    build();
  }
  void TearDown() override {
    std::error_code ec;
    if (std::getenv("VPIPE_KEEP_TEST_OUTPUT") == nullptr) fs::remove_all(root_, ec);
  }

  struct Spec {
    std::string name;  // under images_
    int seed = 0;
    int width = 320, height = 240;
    int shift = 0;
    bool garbage = false;  // bytes that do not decode
    ItemStatus status = ItemStatus::kOk;
    std::string error;
    QualitySignals quality{400, 120, 50, 0.01, 0.01, 7.2, 40};
    int jpeg_quality = 88;  // as written by encode_jpeg
  };

  /// Writes the file of `spec` and returns its record (id 0 until read back).
  FileRecord write(const Spec& spec) {
    const fs::path path = images_ / spec.name;
    fs::create_directories(path.parent_path());
    std::vector<uint8_t> bytes;
    if (spec.garbage) {
      const std::string junk = "this is not a JPEG at all, whatever its name says";
      bytes.assign(junk.begin(), junk.end());
    } else {
      bytes = encode_jpeg(make_picture(spec.seed, spec.width, spec.height, spec.shift),
                          spec.jpeg_quality);
    }
    std::ofstream(path, std::ios::binary)
        .write(reinterpret_cast<const char*>(bytes.data()),
               static_cast<std::streamsize>(bytes.size()));
    FileRecord r;
    r.path = path.string();
    r.size_bytes = static_cast<int64_t>(bytes.size());
    r.mtime_ns = 1'700'000'000'000'000'000 + spec.seed;
    r.status = spec.status;
    r.error = spec.error;
    r.format = spec.status == ItemStatus::kOk ? "jpeg" : "";
    if (spec.status == ItemStatus::kOk) {
      r.width = spec.width;
      r.height = spec.height;
      r.has_signals = true;
      r.quality = spec.quality;
      r.has_content_hash = true;
    }
    return r;
  }

  void build() {
    const auto picture = [](std::string name, int seed, int width, int height, int shift = 0) {
      Spec s;
      s.name = std::move(name);
      s.seed = seed;
      s.width = width;
      s.height = height;
      s.shift = shift;
      return s;
    };
    const auto with_quality = [](Spec s, QualitySignals q) {
      s.quality = q;
      return s;
    };
    QualitySignals blown{400, 112, 50, 0.01, 0.01, 7.2, 40};
    blown.highlight_plateau = 0.35;
    Spec reencoded = picture("d2.jpg", 4, 400, 200, 6);
    reencoded.jpeg_quality = 40;  // the keeper wins on JPEG quality: 88 vs 40
    Spec broken = picture("e2-broken.jpg", 5, 300, 300);
    broken.garbage = true;  // the manifest says ok, but the bytes do not decode (changed since)
    Spec corrupt = picture("corrupt.jpg", 9, 320, 240);
    corrupt.garbage = true;
    corrupt.status = ItemStatus::kCorrupt;
    corrupt.error = "Not a JPEG file: starts with 0x74 0x68";
    specs_ = {
        picture("trip/a1.jpg", 1, 480, 360),
        picture("trip/a1-copy.jpg", 1, 480, 360),
        picture("trip/a1-bright.jpg", 1, 480, 360, 12),
        picture("b1.jpg", 2, 320, 240),
        picture(kHostileName, 2, 320, 240, 8),
        picture("c1.jpg", 3, 256, 256),
        // A third of it blown to a plateau: the keeper wins as the least degraded.
        with_quality(picture(kLatin1Name, 3, 256, 256, -8), blown),
        picture("d1.jpg", 4, 400, 200),
        reencoded,
        picture("e1.jpg", 5, 300, 300),
        broken,
        with_quality(picture("dark.jpg", 6, 320, 240, -90), {300, 22, 10, 0.8, 0, 3.1, 5}),
        with_quality(picture("blurry.jpg", 7, 320, 240), {12, 118, 35, 0.02, 0.01, 6.4, 25}),
        with_quality(picture("blurry2.jpg", 8, 320, 240), {3, 110, 30, 0.02, 0.01, 6.0, 20}),
        corrupt,
        picture("single.jpg", 10, 640, 480),
    };
    std::vector<FileRecord> records;
    for (const Spec& s : specs_) records.push_back(write(s));
    Manifest m(db_);
    const int64_t scan_run = m.begin_run("scan", "{}", "cpu");
    FileStore(m).upsert_files(records);
    RunReport scan;
    scan.wall_ns = 2'000'000'000;
    scan.stages = {stage("walk", 1, 16, 0.05, 0.0, 0.9), stage("read", 2, 16, 0.3, 0.1, 0.6),
                   stage("decode", 2, 16, 0.95, 0.03, 0.0),
                   stage("manifest", 1, 16, 0.1, 0.85, 0.0)};
    scan.bottleneck = 2;
    m.record_stage_metrics(scan_run, "scan", scan);
    m.end_run(scan_run, "completed", {{"ok", 15}, {"corrupt", 1}});

    for (const FileRecord& f : FileStore(m).all_files())
      ids_[f.path.substr(images_.string().size() + 1)] = f.id;
    const int64_t dedup_run = m.begin_run("dedup", "{}", "cpu");
    std::vector<GroupRecord> groups = {
        {1, "mixed", id("trip/a1.jpg"), 3, 3}, {2, "near", id("b1.jpg"), 2, 2},
        {3, "near", id("c1.jpg"), 2, 1},       {4, "near", id("d1.jpg"), 2, 2},
        {5, "near", id("e1.jpg"), 2, 4},
    };
    std::vector<DecisionRecord> decisions;
    const auto keeper = [&](const char* name, int64_t group) {
      DecisionRecord d;
      d.file_id = id(name);
      d.decision = "keep";
      d.group_id = group;
      d.is_keeper = true;
      d.quality_score = 0.8;
      decisions.push_back(d);
    };
    const auto member = [&](const std::string& name, int64_t group, const char* match, int ph,
                            int dh, const char* orientation = "") {
      DecisionRecord d;
      d.file_id = id(name);
      d.decision = "duplicate";
      d.group_id = group;
      d.match = match;
      d.phash_distance = ph;
      d.dhash_distance = dh;
      d.orientation = orientation;
      d.quality_score = 0.7;
      decisions.push_back(d);
    };
    keeper("trip/a1.jpg", 1);
    member("trip/a1-copy.jpg", 1, "exact", 0, 0);
    member("trip/a1-bright.jpg", 1, "near", 3, 2);
    keeper("b1.jpg", 2);
    member(kHostileName, 2, "near", 2, 1);
    keeper("c1.jpg", 3);
    member(kLatin1Name, 3, "near", 1, 2, "rot90");
    keeper("d1.jpg", 4);
    member("d2.jpg", 4, "near", 2, 3);
    keeper("e1.jpg", 5);
    member("e2-broken.jpg", 5, "near", 4, 5);
    keeper("single.jpg", 0);
    const auto reject = [&](const char* name, std::vector<ReasonRecord> reasons) {
      DecisionRecord d;
      d.file_id = id(name);
      d.decision = "reject";
      d.reasons = std::move(reasons);
      decisions.push_back(d);
    };
    reject("dark.jpg", {{"dark", 22, 40, 0.45}, {"low_contrast", 10, 15, 0.3}});
    reject("blurry.jpg", {{"blurry", 12, 50, 0.76}});
    reject("blurry2.jpg", {{"blurry", 3, 50, 0.94}});
    reject("corrupt.jpg", {{"corrupt", 0, 0, 1}});
    const std::vector<ThresholdRecord> thresholds = {
        {"blurry", "sharpness", 50, true, true},
        {"dark", "brightness", 40, true, true},
        {"overexposed", "brightness", 235, false, true},
        {"low_contrast", "contrast", 15, true, true},
        {"low_information", "entropy", 2, true, true},
        {"tiny", "min_side", 64, true, true},
        {"extreme_aspect", "aspect_ratio", 4, false, false},
    };
    DedupStore(m).replace_dedup_results(groups, decisions, thresholds);
    RunReport dedup;
    dedup.wall_ns = 50'000'000;
    dedup.stages = {stage("load", 1, 16, 0.2, 0, 0), stage("verdicts", 1, 16, 0.1, 0, 0),
                    stage("group", 1, 16, 0.6, 0, 0), stage("write", 1, 16, 0.1, 0, 0)};
    dedup.bottleneck = 2;
    m.record_stage_metrics(dedup_run, "dedup", dedup);
    m.end_run(dedup_run, "completed", {{"groups", 5}});
    m.checkpoint();
  }

  /// Predictions of two models, as `vpipe detect` / `vpipe classify` record them:
  /// - detector "finder": trip/a1.jpg (480x360) a person with two keypoints, b1.jpg (320x240) a
  ///   box with a hostile label, d1.jpg (400x200) a person, e1.jpg nothing, single.jpg failed;
  /// - classifier "sorter": c1.jpg cat 0.93 / dog 0.04, d1.jpg dog 0.70 / cat 0.20;
  /// - crops of the two persons, real JPEG files under root_/crops (120x100 and 200x100);
  /// - the stage timings of pass "infer:finder".
  void add_predictions() {
    Manifest m(db_);
    using testing::box;
    using testing::top_class;
    const auto inference = [&](const char* file, const char* model,
                               std::vector<DetectionRecord> detections) {
      return testing::inference(id(file), model, std::move(detections));
    };
    DetectionRecord person = box(0, "person", 0.91F, 48, 36, 240, 216);
    person.keypoints = {96, 72, 144, 108};
    std::vector<InferenceRecord> records = {
        inference("trip/a1.jpg", "finder", {person}),
        inference("b1.jpg", "finder", {box(1, kHostileLabel, 0.55F, 0, 0, 160, 120)}),
        inference("d1.jpg", "finder", {box(0, "person", 0.8F, 100, 50, 300, 150)}),
        inference("e1.jpg", "finder", {}),
        inference("single.jpg", "finder", {}),
        inference("c1.jpg", "sorter", {top_class(0, "cat", 0.93F), top_class(1, "dog", 0.04F)}),
        inference("d1.jpg", "sorter", {top_class(1, "dog", 0.70F), top_class(0, "cat", 0.20F)}),
    };
    records[4].status = "failed";
    records[4].error = "backend error on single.jpg";
    const int64_t run = m.begin_run("detect", "{}", "cpu");
    InferenceStore(m).record_inferences(records);

    // Crops of the two persons: detection ids as the manifest assigned them.
    std::vector<CropRecord> crops;
    InferenceStore::DetectionQuery query;
    query.model = "finder";
    InferenceStore(m).for_each_detection(query, [&](const InferenceStore::FileDetections& fd) {
      for (const DetectionRecord& d : fd.detections) {
        if (d.label != "person") continue;
        const bool first = fd.file.path.ends_with("a1.jpg");
        CropRecord c;
        c.detection_id = d.id;
        c.width = first ? 120 : 200;
        c.height = 100;
        c.x = static_cast<int>(d.x1);
        c.y = static_cast<int>(d.y1);
        const fs::path path =
            root_ / "crops" / "finder" / "person" / (first ? "a1-0.jpg" : "d1-0.jpg");
        fs::create_directories(path.parent_path());
        const std::vector<uint8_t> bytes =
            encode_jpeg(make_picture(first ? 11 : 12, c.width, c.height), 90);
        std::ofstream(path, std::ios::binary)
            .write(reinterpret_cast<const char*>(bytes.data()),
                   static_cast<std::streamsize>(bytes.size()));
        c.path = path.string();
        c.size_bytes = static_cast<int64_t>(bytes.size());
        c.xxh64 = first ? 101 : 102;
        crops.push_back(c);
      }
      return true;
    });
    EXPECT_EQ(crops.size(), 2U);
    InferenceStore(m).record_crops(crops);

    RunReport infer;
    infer.wall_ns = 2'000'000'000;
    infer.stages = {
        stage("select", 1, 5, 0.01, 0, 0.5),    stage("read", 2, 5, 0.05, 0.1, 0.8),
        stage("decode", 2, 5, 0.3, 0.05, 0.6),  stage("preprocess", 2, 5, 0.1, 0.3, 0.5),
        stage("infer", 1, 5, 0.92, 0.04, 0.01), stage("postprocess", 2, 5, 0.02, 0.9, 0),
        stage("write", 1, 5, 0.03, 0.95, 0)};
    infer.bottleneck = 4;
    m.record_stage_metrics(run, "infer:finder", infer);
    m.end_run(run, "completed", {{"ok", 6}, {"failed", 1}});
    m.checkpoint();
  }

  static StageMetrics stage(const char* name, int workers, uint64_t items, double busy, double in,
                            double out) {
    StageMetrics s;
    s.name = name;
    s.workers = workers;
    s.items_in = items;
    s.items_out = items;
    const double capacity = 2e9 * workers;
    s.busy_ns = static_cast<int64_t>(busy * capacity);
    s.wait_input_ns = static_cast<int64_t>(in * capacity);
    s.wait_output_ns = static_cast<int64_t>(out * capacity);
    return s;
  }

  int64_t id(const std::string& name) const {
    const auto it = ids_.find(name);
    EXPECT_NE(it, ids_.end()) << name;
    return it == ids_.end() ? 0 : it->second;
  }

  fs::path root_, images_, db_, out_;
  std::vector<Spec> specs_;
  std::map<std::string, int64_t> ids_;  // path under images_ -> files.id
};

}  // namespace vpipe::report_test
