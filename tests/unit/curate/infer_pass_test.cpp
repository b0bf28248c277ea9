#include "vpipe/curate/infer_pass.h"

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "image_files.h"
#include "temp_dir.h"
#include "vpipe/core/image_ops.h"
#include "vpipe/infer/inference_store.h"
#include "vpipe/infer/models.h"
#include "vpipe/io/atomic_file.h"
#include "vpipe/io/decode.h"
#include "vpipe/io/encode.h"
#include "vpipe/io/file_store.h"
#include "vpipe/io/manifest.h"
#include "vpipe/scan/scan.h"

namespace vpipe {
namespace {

namespace fs = std::filesystem;
using testing::decode_file;
using testing::TempDir;

/// A w x h RGB image whose pixels depend on (x, y, seed): distinct images, smooth enough to
/// survive JPEG.
Image pattern(int w, int h, int seed) {
  Image img(w, h, 3);
  for (int y = 0; y < h; ++y) {
    for (int x = 0; x < w; ++x) {
      uint8_t* p = img.row(y) + static_cast<size_t>(x) * 3;
      p[0] = static_cast<uint8_t>((x * 255 / w + seed * 37) % 256);
      p[1] = static_cast<uint8_t>((y * 255 / h + seed * 11) % 256);
      p[2] = static_cast<uint8_t>(((x + y) * 128 / (w + h) + seed * 53) % 256);
    }
  }
  return img;
}

/// `src` enlarged 2x by pixel copies.
Image upscale2(const Image& src) {
  Image out(src.width * 2, src.height * 2, src.channels);
  for (int y = 0; y < out.height; ++y) {
    for (int x = 0; x < out.width; ++x) {
      for (int c = 0; c < src.channels; ++c) {
        out.row(y)[x * src.channels + c] = src.row(y / 2)[(x / 2) * src.channels + c];
      }
    }
  }
  return out;
}

/// `src` turned 90 degrees counter-clockwise: what a camera stores for EXIF orientation 6
/// ("turn 90 degrees clockwise to display").
Image rotate_ccw(const Image& src) {
  Image out(src.height, src.width, src.channels);
  for (int y = 0; y < out.height; ++y) {
    for (int x = 0; x < out.width; ++x) {
      for (int c = 0; c < src.channels; ++c) {
        out.row(y)[x * src.channels + c] = src.row(x)[(src.width - 1 - y) * src.channels + c];
      }
    }
  }
  return out;
}

class InferPassTest : public ::testing::Test {
 protected:
  void SetUp() override { fs::create_directories(in_); }

  void scan() {
    ScanOptions scan;
    scan.roots = {in_.string()};
    scan.db = db_;
    scan.threads = 2;
    run_scan(scan);
  }

  /// path -> its predictions, as the manifest has them.
  std::map<std::string, std::vector<DetectionRecord>> results(const std::string& model) {
    Manifest m(db_);
    std::map<std::string, std::vector<DetectionRecord>> out;
    InferenceStore::DetectionQuery q;
    q.model = model;
    InferenceStore(m).for_each_detection(q, [&](const InferenceStore::FileDetections& f) {
      out[f.file.path] = f.detections;
      return true;
    });
    return out;
  }

  std::string scan_photos_for_blazeface(ModelSpec& spec);

  TempDir tmp_{"vpipe_infer_"};
  fs::path root_ = tmp_.path();
  fs::path in_ = root_ / "in";
  fs::path db_ = root_ / "run.db";
};

/// A stand-in model: prepare() may sleep (a slow pre-processing stage), infer() records the
/// size of every batch, decode() gives one prediction per image computed from its pixels.
class FakeModel final : public Model {
 public:
  struct Log {
    std::mutex mutex;
    std::vector<size_t> batches;
  };
  FakeModel(ModelSpec spec, std::chrono::milliseconds prepare_sleep, Log* log)
      : Model(std::move(spec)), sleep_(prepare_sleep), log_(log) {}
  int decode_long_side() const override { return 0; }
  void prepare(const Image& image, ModelInput& input) const override {
    std::this_thread::sleep_for(sleep_);
    input.image_width = image.width;
    input.image_height = image.height;
    uint64_t sum = 0;
    for (uint8_t v : image.pixels) sum += v;
    input.tensor = {static_cast<float>(sum) / static_cast<float>(image.pixels.size()) / 255.0f};
  }
  void infer(std::span<ModelInput* const> batch) override {
    std::lock_guard lock(log_->mutex);
    log_->batches.push_back(batch.size());
  }
  std::vector<Prediction> decode(const ModelInput& input) const override {
    Prediction p;
    p.box = Box{1, 2, static_cast<float>(input.image_width) - 1,
                static_cast<float>(input.image_height) - 2};
    p.score = input.tensor.at(0);
    p.class_id = 3;
    return {p};
  }
  std::string runtime() const override { return "fake/cpu"; }

 private:
  std::chrono::milliseconds sleep_;
  Log* log_;
};

ModelSpec fake_spec() {
  ModelSpec spec;
  spec.name = "fake";
  spec.labels = {"a", "b", "c", "thing"};
  return spec;
}

TEST_F(InferPassTest, FakeModelResultsReachTheManifestInFullResolutionPixels) {
  for (int i = 0; i < 5; ++i) {
    write_file_atomic(in_ / ("p" + std::to_string(i) + ".png"), encode_png(pattern(300 + i, 200, i)));
  }
  scan();
  FakeModel::Log log;
  InferPassOptions options;
  options.model = fake_spec();
  options.threads = 2;
  options.make_model = [&] { return std::make_unique<FakeModel>(fake_spec(), std::chrono::milliseconds(0), &log); };
  const InferPassSummary s = run_infer_pass(db_, options);
  EXPECT_EQ(s.ok, 5);
  EXPECT_EQ(s.failed, 0);
  EXPECT_EQ(s.predictions, 5);
  EXPECT_EQ(s.labels.at("thing"), 5);
  const auto got = results("fake");
  ASSERT_EQ(got.size(), 5U);
  for (int i = 0; i < 5; ++i) {
    const auto& dets = got.at((in_ / ("p" + std::to_string(i) + ".png")).string());
    ASSERT_EQ(dets.size(), 1U);
    EXPECT_EQ(dets[0].label, "thing");
    EXPECT_EQ(dets[0].task, "detect");
    EXPECT_TRUE(dets[0].has_box);
    EXPECT_FLOAT_EQ(dets[0].x2, static_cast<float>(300 + i - 1));
    EXPECT_FLOAT_EQ(dets[0].y2, 198.0f);
  }
  // The stages the issue names are the engine's own, in order.
  std::vector<std::string> names;
  for (const auto& st : s.engine.stages) names.push_back(st.name);
  EXPECT_EQ(names, (std::vector<std::string>{"select", "read", "decode", "preprocess", "infer",
                                             "postprocess", "write"}));
}

TEST_F(InferPassTest, MaxDelaySendsPartialBatchesWhenImagesTrickleIn) {
  for (int i = 0; i < 8; ++i) {
    write_file_atomic(in_ / ("p" + std::to_string(i) + ".png"), encode_png(pattern(64, 48, i)));
  }
  scan();
  // One pre-processing worker taking 60 ms per image: images reach the batcher 60 ms apart.
  const auto run = [&](std::chrono::microseconds max_delay) {
    FakeModel::Log log;
    InferPassOptions options;
    options.model = fake_spec();
    options.threads = 1;
    options.force = true;
    options.batch = BatchPolicy{32, max_delay};
    options.make_model = [&] {
      return std::make_unique<FakeModel>(fake_spec(), std::chrono::milliseconds(60), &log);
    };
    const InferPassSummary s = run_infer_pass(db_, options);
    EXPECT_EQ(s.ok, 8);
    return log.batches;
  };
  // max_delay 2 ms: a batch leaves long before the next image comes, so batches stay small.
  const std::vector<size_t> quick = run(std::chrono::milliseconds(2));
  EXPECT_GE(quick.size(), 5U) << "max_delay 2 ms should not wait for 32 images";
  // max_delay 30 s: the batcher waits for company; only the end of input flushes the batch.
  const std::vector<size_t> patient = run(std::chrono::seconds(30));
  EXPECT_LE(patient.size(), 2U);
  size_t total = 0;
  for (size_t b : patient) total += b;
  EXPECT_EQ(total, 8U);
}

TEST_F(InferPassTest, RerunSkipsWhatIsDoneAndAFileGoneFailsAlone) {
  for (int i = 0; i < 4; ++i) {
    write_file_atomic(in_ / ("p" + std::to_string(i) + ".png"), encode_png(pattern(80, 60, i)));
  }
  scan();
  FakeModel::Log log;
  InferPassOptions options;
  options.model = fake_spec();
  options.make_model = [&] { return std::make_unique<FakeModel>(fake_spec(), std::chrono::milliseconds(0), &log); };
  fs::remove(in_ / "p2.png");
  const InferPassSummary first = run_infer_pass(db_, options);
  EXPECT_EQ(first.ok, 3);
  EXPECT_EQ(first.failed, 1);
  {
    Manifest m(db_);
    EXPECT_EQ(InferenceStore(m).inference_counts("fake").at("failed"), 1);
  }
  const InferPassSummary second = run_infer_pass(db_, options);
  EXPECT_EQ(second.unchanged, 3) << "done files are skipped";
  EXPECT_EQ(second.failed, 1) << "a failed file is tried again";
  EXPECT_EQ(second.ok, 0);
}

/// Copies of the astronaut (a face) at several sizes and crops, the other photos (no face), and
/// plain patterns: the corpus the batch tests run BlazeFace on.
bool write_photo_corpus(const fs::path& dir) {
  const fs::path photos = fs::path(VPIPE_SOURCE_DIR) / "test-photos";
  const Image astronaut = decode_file(photos / "astronaut.png");
  const Image coffee = decode_file(photos / "coffee.png");
  if (astronaut.empty() || coffee.empty()) return false;
  write_file_atomic(dir / "astronaut.png", encode_png(astronaut));
  write_file_atomic(dir / "astronaut-q90.jpg", encode_jpeg(astronaut, 90));
  write_file_atomic(dir / "astronaut-small.jpg", encode_jpeg(resize_to_fit(astronaut, 300), 90));
  write_file_atomic(dir / "astronaut-big.jpg", encode_jpeg(upscale2(astronaut), 85));
  write_file_atomic(dir / "astronaut-exif6.jpg", encode_jpeg(rotate_ccw(astronaut), 90, 6));
  write_file_atomic(dir / "coffee.jpg", encode_jpeg(coffee, 90));
  for (int i = 0; i < 12; ++i) {
    write_file_atomic(dir / ("pattern" + std::to_string(i) + ".jpg"),
                      encode_jpeg(pattern(200 + 17 * i, 150 + 9 * i, i), 90));
  }
  return true;
}

/// BlazeFace's spec into `spec`, and the photo corpus written and scanned; or why this machine
/// cannot (the model, OpenCV dnn or the photos missing), for GTEST_SKIP.
std::string InferPassTest::scan_photos_for_blazeface(ModelSpec& spec) {
  ModelRequest request;
  request.model = "blazeface";
  try {
    spec = resolve_model(request);
  } catch (const ConfigError& e) {
    return e.what();
  }
  if (!backend_available(BackendKind::kOpenCvDnn)) return "built without OpenCV dnn";
  if (!write_photo_corpus(in_)) return "test photos missing: run scripts/fetch-models.sh";
  scan();
  return "";
}

TEST_F(InferPassTest, BlazeFaceGivesIdenticalResultsForMaxBatch1And7And32) {
  ModelSpec spec;
  if (const std::string why = scan_photos_for_blazeface(spec); !why.empty()) GTEST_SKIP() << why;
  std::map<size_t, std::map<std::string, std::vector<DetectionRecord>>> by_batch;
  for (const size_t max_batch : {size_t{1}, size_t{7}, size_t{32}}) {
    InferPassOptions options;
    options.model = spec;
    options.threads = 2;
    options.force = true;
    options.batch = BatchPolicy{max_batch, std::chrono::milliseconds(5)};
    const InferPassSummary s = run_infer_pass(db_, options);
    EXPECT_EQ(s.ok, 18);
    by_batch[max_batch] = results("blazeface");
  }
  const auto& one = by_batch[1];
  // Not a vacuous comparison: every astronaut copy has its face, nothing else has one.
  int faces = 0;
  for (const auto& [path, dets] : one) {
    const bool is_astronaut = path.find("astronaut") != std::string::npos;
    EXPECT_EQ(dets.size(), is_astronaut ? 1U : 0U) << path;
    faces += static_cast<int>(dets.size());
  }
  EXPECT_EQ(faces, 5);
  for (const size_t b : {size_t{7}, size_t{32}}) {
    ASSERT_EQ(by_batch[b].size(), one.size());
    for (const auto& [path, dets] : one) {
      const auto& other = by_batch[b].at(path);
      ASSERT_EQ(other.size(), dets.size()) << path << " at max_batch " << b;
      for (size_t k = 0; k < dets.size(); ++k) {
        EXPECT_EQ(other[k].score, dets[k].score) << path;
        EXPECT_EQ(other[k].x1, dets[k].x1);
        EXPECT_EQ(other[k].y1, dets[k].y1);
        EXPECT_EQ(other[k].x2, dets[k].x2);
        EXPECT_EQ(other[k].y2, dets[k].y2);
        EXPECT_EQ(other[k].keypoints, dets[k].keypoints);
      }
    }
  }
  // Full-resolution pixels: the face in the 1024-pixel copy (decoded at a DCT scale of 1/4) is
  // twice the measured box (182, 80, 272, 176; see face_detector_test for how it was measured).
  const auto& big = one.at((in_ / "astronaut-big.jpg").string());
  const float k = 2.0f;
  const Box measured{182 * k, 80 * k, 272 * k, 176 * k};
  EXPECT_GE(iou(Box{big[0].x1, big[0].y1, big[0].x2, big[0].y2}, measured), 0.5f);
  // EXIF orientation is honoured: stored sideways, shown (and detected) upright, so the face is
  // where it is in the upright photo.
  const auto& turned = one.at((in_ / "astronaut-exif6.jpg").string());
  EXPECT_GE(iou(Box{turned[0].x1, turned[0].y1, turned[0].x2, turned[0].y2}, Box{182, 80, 272, 176}),
            0.5f);
}

// Out of device memory: with room for three images at most (simulated; BackendOptions::
// simulate_memory_bytes), batches of 32 are halved until they fit and the results are those of
// batches of one; with room for less than one image, every image fails alone and the run ends.
TEST_F(InferPassTest, OutOfDeviceMemoryHalvesTheBatchAndChangesNoResult) {
  ModelSpec spec;
  if (const std::string why = scan_photos_for_blazeface(spec); !why.empty()) GTEST_SKIP() << why;
  const uint64_t image_input_bytes =
      static_cast<uint64_t>(spec.input_width) * static_cast<uint64_t>(spec.input_height) * 3 * 4;
  const auto run = [&](size_t max_batch, uint64_t memory) {
    InferPassOptions options;
    options.model = spec;
    options.threads = 2;
    options.force = true;
    options.batch = BatchPolicy{max_batch, std::chrono::milliseconds(50)};
    options.backend.simulate_memory_bytes = memory;
    return run_infer_pass(db_, options);
  };
  const InferPassSummary one = run(1, 0);
  ASSERT_EQ(one.ok, 18);
  EXPECT_EQ(one.oom_halvings, 0U);
  const auto reference = results("blazeface");

  const InferPassSummary tight = run(32, 3 * image_input_bytes + image_input_bytes / 2);
  EXPECT_EQ(tight.ok, 18);
  EXPECT_EQ(tight.failed, 0);
  EXPECT_GE(tight.oom_halvings, 1U);
  EXPECT_GE(tight.batch_limit, 1U);
  EXPECT_LE(tight.batch_limit, 3U);
  const auto halved = results("blazeface");
  ASSERT_EQ(halved.size(), reference.size());
  for (const auto& [path, dets] : reference) {
    const auto& other = halved.at(path);
    ASSERT_EQ(other.size(), dets.size()) << path;
    for (size_t k = 0; k < dets.size(); ++k) {
      EXPECT_EQ(other[k].score, dets[k].score) << path;
      EXPECT_EQ(other[k].x1, dets[k].x1) << path;
      EXPECT_EQ(other[k].y2, dets[k].y2) << path;
    }
  }

  const InferPassSummary none = run(8, image_input_bytes / 2);
  EXPECT_EQ(none.ok, 0);
  EXPECT_EQ(none.failed, 18);
  EXPECT_EQ(none.batch_limit, 1U);
  const std::map<std::string, int64_t> counts =
      InferenceStore(Manifest(db_)).inference_counts("blazeface");
  EXPECT_EQ(counts.count("ok"), 0U);
  EXPECT_EQ(counts.at("failed"), 18);
}

// ---- crops ------------------------------------------------------------------------------

class CropPassTest : public InferPassTest {
 protected:
  /// Two images with fake detections written straight into the manifest.
  void SetUp() override {
    InferPassTest::SetUp();
    images_ = {pattern(320, 240, 1), pattern(200, 300, 2)};
    write_file_atomic(in_ / "one.png", encode_png(images_[0]));
    write_file_atomic(in_ / "two.png", encode_png(images_[1]));
    scan();
    Manifest m(db_);
    std::vector<InferenceRecord> rows;
    for (const auto& [name, boxes] :
         std::vector<std::pair<std::string, std::vector<Box>>>{
             {"one.png", {Box{10, 20, 110, 100}, Box{200, 100, 300, 230}, Box{5, 5, 9, 9}}},
             {"two.png", {Box{0, 0, 60, 80}}}}) {
      InferenceRecord rec;
      rec.file_id = FileStore(m).find_file((in_ / name).string())->id;
      rec.model = "det";
      for (size_t r = 0; r < boxes.size(); ++r) {
        DetectionRecord d;
        d.model = "det";
        d.task = "detect";
        d.rank = static_cast<int>(r);
        d.label = r == 1 ? "b/ad label" : "thing";
        d.score = 0.9f - 0.1f * static_cast<float>(r);
        d.has_box = true;
        d.x1 = boxes[r].x1;
        d.y1 = boxes[r].y1;
        d.x2 = boxes[r].x2;
        d.y2 = boxes[r].y2;
        rec.detections.push_back(d);
      }
      rows.push_back(rec);
    }
    InferenceStore(m).record_inferences(rows);
    options_.dir = root_ / "crops";
    options_.format = "png";  // lossless: pixels can be compared exactly
    options_.margin = 0.1f;
    options_.min_size = 16;
    options_.threads = 2;
  }

  /// Non-hidden files under the crops folder.
  std::vector<fs::path> crop_files() const {
    std::vector<fs::path> out;
    if (!fs::exists(options_.dir)) return out;
    for (const auto& e : fs::recursive_directory_iterator(options_.dir)) {
      if (e.is_regular_file() && e.path().filename().native()[0] != '.') out.push_back(e.path());
    }
    std::sort(out.begin(), out.end());
    return out;
  }

  std::vector<Image> images_;
  CropOptions options_;
};

TEST_F(CropPassTest, CropsAreTheBoxPlusMarginCutFromTheImage) {
  const CropPassSummary s = run_crop_pass(db_, options_);
  EXPECT_EQ(s.written, 3);
  EXPECT_EQ(s.skipped, 1) << "the 4x4 box is under min_size";
  EXPECT_EQ(s.failed, 0);
  const auto files = crop_files();
  ASSERT_EQ(files.size(), 3U);
  // Box (10, 20)-(110, 100) of one.png grown by 10% = 10 x 8 pixels on each side: (0, 12)-(120, 108).
  const fs::path first =
      options_.dir / "det" / "thing" /
      crop_file_name((in_ / "one.png").string(),
                     FileStore(Manifest(db_)).find_file((in_ / "one.png").string())->id, 0, "png");
  ASSERT_TRUE(fs::exists(first));
  const Image crop = decode_file(first);
  ASSERT_EQ(crop.width, 120);
  ASSERT_EQ(crop.height, 96);
  for (int y = 0; y < crop.height; y += 7) {
    for (int x = 0; x < crop.width; x += 5) {
      for (int c = 0; c < 3; ++c) {
        ASSERT_EQ(crop.row(y)[x * 3 + c], images_[0].row(12 + y)[x * 3 + c]) << x << "," << y;
      }
    }
  }
  // A label with a slash becomes one folder name, not two.
  EXPECT_TRUE(fs::exists(options_.dir / "det" / "b_ad_label"));
  Manifest m(db_);
  EXPECT_EQ(InferenceStore(m).count_crops(), 3);
}

TEST_F(CropPassTest, RerunKeepsMatchingCropsAndRedoesChangedOnes) {
  ASSERT_EQ(run_crop_pass(db_, options_).written, 3);
  const auto files = crop_files();
  std::map<fs::path, fs::file_time_type> stamps;
  for (const auto& f : files) stamps[f] = fs::last_write_time(f);
  const CropPassSummary again = run_crop_pass(db_, options_);
  EXPECT_EQ(again.written, 0);
  EXPECT_EQ(again.unchanged, 3);
  for (const auto& f : files) EXPECT_EQ(fs::last_write_time(f), stamps[f]) << f;

  // A deleted crop and a damaged one are written again; the others are kept.
  fs::remove(files[0]);
  std::ofstream(files[1], std::ios::binary | std::ios::app) << "x";
  const CropPassSummary repair = run_crop_pass(db_, options_);
  EXPECT_EQ(repair.written, 2);
  EXPECT_EQ(repair.unchanged, 1);
  EXPECT_TRUE(fs::exists(files[0]));
  EXPECT_FALSE(decode_file(files[1]).empty());

  // Another margin is another rectangle: every crop is redone.
  options_.margin = 0.2f;
  EXPECT_EQ(run_crop_pass(db_, options_).written, 3);
}

TEST_F(CropPassTest, ACrashBeforeTheRenameLeavesNoFileUnderAFinalName) {
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    ::setenv("VPIPE_FAULT_BEFORE_RENAME", "0", 1);  // die in the first atomic write
    CropOptions one = options_;
    one.threads = 1;
    run_crop_pass(db_, one);
    ::_exit(0);
  }
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 137) << "the fault hook did not fire";
  EXPECT_TRUE(crop_files().empty()) << "a crop appeared under its final name";
  {
    Manifest m(db_);
    EXPECT_EQ(InferenceStore(m).count_crops(), 0);
    EXPECT_EQ(m.integrity_check(), "ok");
  }
  // The rerun writes every crop, whole.
  const CropPassSummary s = run_crop_pass(db_, options_);
  EXPECT_EQ(s.written, 3);
  for (const auto& f : crop_files()) EXPECT_FALSE(decode_file(f).empty()) << f;
}

}  // namespace
}  // namespace vpipe
