// End-to-end tests of `vpipe detect` and `vpipe classify` with real models on the test photos:
// detect -> crops -> rerun (nothing redone) -> export yolo -> validate the dataset and the
// manifest's crops -> a corrupted crop is found. Also an unknown model's message and a
// TorchScript classifier made by tests/fixtures/make_tiny_torchscript.py.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "process.h"
#include "vpipe/infer/backend.h"
#include "vpipe/infer/face_detector.h"
#include "vpipe/infer/inference_store.h"
#include "vpipe/infer/models.h"
#include "vpipe/io/manifest.h"

namespace vpipe {
namespace {

namespace fs = std::filesystem;
using testing::ProcessResult;
using testing::run_vpipe;

constexpr const char* kPhotos[] = {"astronaut.png", "chelsea.png", "coffee.png"};

/// What make_tiny_torchscript.py exits with when its Python has no torch.
constexpr int kNoTorchInPython = 77;

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) out.push_back(line);
  return out;
}

/// The first line of `text` that starts with `prefix`; "" when none.
std::string line_starting(const std::string& text, const std::string& prefix) {
  for (const std::string& line : lines_of(text)) {
    if (line.rfind(prefix, 0) == 0) return line;
  }
  return "";
}

double iou(float ax1, float ay1, float ax2, float ay2, float bx1, float by1, float bx2, float by2) {
  const double w = std::min(ax2, bx2) - std::max(ax1, bx1);
  const double h = std::min(ay2, by2) - std::max(ay1, by1);
  if (w <= 0 || h <= 0) return 0;
  const double inter = w * h;
  return inter / ((ax2 - ax1) * (ay2 - ay1) + (bx2 - bx1) * (by2 - by1) - inter);
}

/// file name -> its detections of `task`, for every file with an ok inference.
std::map<std::string, InferenceStore::FileDetections> detections_by_name(const fs::path& db,
                                                                         const std::string& task) {
  const Manifest m(db);
  InferenceStore::DetectionQuery query;
  query.task = task;
  std::map<std::string, InferenceStore::FileDetections> out;
  InferenceStore(m).for_each_detection(query, [&](const InferenceStore::FileDetections& f) {
    out[fs::path(f.file.path).filename().string()] = f;
    return true;
  });
  return out;
}

std::string describe(const ProcessResult& r) {
  return "exit " + std::to_string(r.exit_code) + "\nstdout:\n" + r.out + "\nstderr:\n" + r.err;
}

class DetectCli : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = fs::temp_directory_path() /
            ("vpipe_detect_cli_" + std::to_string(::getpid()) + "_" +
             ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(root_);
    fs::create_directories(root_ / "photos");
    scratch_ = root_.string();
  }
  void TearDown() override { fs::remove_all(root_); }

  /// Copies the test photos into root_/photos; false (and a reason) when they are missing.
  bool copy_photos(std::string& why) {
    for (const char* name : kPhotos) {
      const fs::path from = fs::path(VPIPE_SOURCE_DIR) / "test-photos" / name;
      if (!fs::is_regular_file(from)) {
        why = from.string() + " is missing: run scripts/fetch-models.sh";
        return false;
      }
      fs::copy_file(from, root_ / "photos" / name);
    }
    return true;
  }

  fs::path root_;
  std::string scratch_;
};

TEST_F(DetectCli, DetectCropsExportAndValidate) {
  if (!BlazeFaceDetector::available()) GTEST_SKIP() << "built without OpenCV dnn";
  if (!find_model("blazeface/face_detection_front_128x128.onnx")) {
    GTEST_SKIP() << "BlazeFace model missing: run scripts/fetch-models.sh";
  }
  std::string why;
  if (!copy_photos(why)) GTEST_SKIP() << why;
  const std::string db = (root_ / "run.db").string();
  const fs::path crops = root_ / "crops";
  const std::vector<std::string> detect = {"detect",    (root_ / "photos").string(),
                                           "--db",      db,
                                           "-m",        "blazeface",
                                           "--crops",   crops.string(),
                                           "--threads", "2",
                                           "--device",  "cpu"};

  const ProcessResult first = run_vpipe(detect, scratch_);
  ASSERT_EQ(first.exit_code, 0) << describe(first);

  // One face on the astronaut where it was measured by eye (tests/unit/infer/
  // face_detector_test.cpp), none on the coffee cup; every detection has its crop on disk.
  auto found = detections_by_name(db, "detect");
  ASSERT_EQ(found.size(), 3U) << "every photo has an ok inference";
  const auto& astronaut = found.at("astronaut.png");
  ASSERT_EQ(astronaut.detections.size(), 1U) << describe(first);
  const DetectionRecord& face = astronaut.detections[0];
  EXPECT_EQ(face.label, "face");
  EXPECT_GE(iou(face.x1, face.y1, face.x2, face.y2, 182, 80, 272, 176), 0.5)
      << face.x1 << "," << face.y1 << " " << face.x2 << "," << face.y2;
  EXPECT_TRUE(found.at("coffee.png").detections.empty());
  ASSERT_EQ(astronaut.crops.size(), 1U);
  const CropRecord crop = astronaut.crops[0];
  ASSERT_TRUE(fs::is_regular_file(crop.path)) << crop.path;
  EXPECT_TRUE(crop.path.rfind(crops.string(), 0) == 0) << crop.path;
  int64_t crop_files = 0;
  for (const auto& e : fs::recursive_directory_iterator(crops)) {
    crop_files += e.is_regular_file() && e.path().filename() != ".vpipe-output";
  }
  EXPECT_TRUE(fs::is_regular_file(crops / ".vpipe-output"));  // a later scan above skips it
  int64_t detections = 0;
  for (const auto& [name, f] : found) detections += static_cast<int64_t>(f.detections.size());
  EXPECT_EQ(crop_files, detections);
  EXPECT_EQ(InferenceStore(Manifest(db)).count_crops(), detections);
  const auto crop_mtime = fs::last_write_time(crop.path);

  // The same command again: nothing inferred, nothing written.
  const ProcessResult again = run_vpipe(detect, scratch_);
  ASSERT_EQ(again.exit_code, 0) << describe(again);
  const std::string infer_line = line_starting(again.out, "infer:");
  EXPECT_NE(infer_line.find("on 0 images"), std::string::npos) << again.out;
  EXPECT_NE(infer_line.find("3 unchanged"), std::string::npos) << again.out;
  const std::string crop_line = line_starting(again.out, "crops:");
  EXPECT_NE(crop_line.find("0 written"), std::string::npos) << again.out;
  EXPECT_NE(crop_line.find(std::to_string(detections) + " unchanged"), std::string::npos)
      << again.out;
  EXPECT_EQ(fs::last_write_time(crop.path), crop_mtime);

  // Export as YOLO; the dataset and the manifest's crops validate clean.
  const fs::path yolo = root_ / "yolo";
  const ProcessResult exported =
      run_vpipe({"export", db, "--format", "yolo", "--out", yolo.string()}, scratch_);
  ASSERT_EQ(exported.exit_code, 0) << describe(exported);
  const ProcessResult dataset = run_vpipe({"validate", yolo.string()}, scratch_);
  EXPECT_EQ(dataset.exit_code, 0) << describe(dataset);
  const ProcessResult manifest = run_vpipe({"validate", "--manifest", db}, scratch_);
  EXPECT_EQ(manifest.exit_code, 0) << describe(manifest);
  EXPECT_NE(manifest.out.find(std::to_string(detections) + " crops"), std::string::npos)
      << manifest.out;
  const ProcessResult both = run_vpipe({"validate", yolo.string(), "--manifest", db}, scratch_);
  EXPECT_EQ(both.exit_code, 0) << describe(both);

  // A corrupted crop: exit 1, the finding names it.
  std::ofstream(crop.path, std::ios::binary | std::ios::trunc) << "not an image any more";
  const ProcessResult broken = run_vpipe({"validate", "--manifest", db}, scratch_);
  EXPECT_EQ(broken.exit_code, 1) << describe(broken);
  const std::string finding = line_starting(broken.out, crop.path + ": error:");
  EXPECT_NE(finding.find("[crop_unreadable]"), std::string::npos) << broken.out;
  EXPECT_NE(finding.find("astronaut.png"), std::string::npos) << broken.out;

  // Neither DIR nor --manifest, and a manifest that does not exist: usage / IO failures.
  EXPECT_EQ(run_vpipe({"validate"}, scratch_).exit_code, 2);
  const ProcessResult no_db =
      run_vpipe({"validate", "--manifest", (root_ / "nope.db").string()}, scratch_);
  EXPECT_EQ(no_db.exit_code, 2) << describe(no_db);
  EXPECT_FALSE(fs::exists(root_ / "nope.db"));
}

TEST_F(DetectCli, UnknownModelListsTheBuiltInModels) {
  const ProcessResult r = run_vpipe({"detect", (root_ / "photos").string(), "--db",
                                     (root_ / "run.db").string(), "-m", "no-such-model"},
                                    scratch_);
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("no-such-model"), std::string::npos) << r.err;
  for (const char* model : {"blazeface", "blazeface-back", "haar:", "hog-people"}) {
    EXPECT_NE(r.err.find(model), std::string::npos) << model << " not in:\n" << r.err;
  }
}

TEST_F(DetectCli, ClassifyWithATorchScriptNetwork) {
  std::string why;
  if (!backend_available(BackendKind::kLibTorch, &why)) GTEST_SKIP() << why;
  const fs::path python = VPIPE_FIXTURE_PYTHON;
  if (!fs::exists(python)) GTEST_SKIP() << python << " is missing (install python3-torch)";
  if (!copy_photos(why)) GTEST_SKIP() << why;
  const fs::path fixtures = root_ / "fixtures";
  fs::create_directories(fixtures);
  std::string command;
  for (const std::string& word :
       {python.string(), std::string(VPIPE_TORCH_FIXTURE_SCRIPT), fixtures.string()}) {
    command.append("'").append(word).append("' ");
  }
  command.append("> '").append((fixtures / "log.txt").string()).append("' 2>&1");
  const int status = std::system(command.c_str());
  const int rc = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  if (rc == kNoTorchInPython) GTEST_SKIP() << python << " cannot import torch";
  ASSERT_EQ(rc, 0) << command;
  ASSERT_TRUE(fs::is_regular_file(fixtures / "convnet.pt"));

  const std::string db = (root_ / "run.db").string();
  const ProcessResult r = run_vpipe(
      {"classify", (root_ / "photos").string(), "--db", db, "-m",
       (fixtures / "convnet.pt").string(), "--input", "16", "--threads", "2", "--device", "cpu"},
      scratch_);
  ASSERT_EQ(r.exit_code, 0) << describe(r);
  const auto found = detections_by_name(db, "classify");
  ASSERT_EQ(found.size(), 3U) << describe(r);
  for (const auto& [name, f] : found) {
    // The network has 5 logits: top-5 is every class once, best first.
    ASSERT_EQ(f.detections.size(), 5U) << name;
    std::set<int> classes;
    for (size_t i = 0; i < f.detections.size(); ++i) {
      const DetectionRecord& d = f.detections[i];
      EXPECT_FALSE(d.has_box) << name;
      EXPECT_EQ(d.rank, static_cast<int>(i)) << name;
      if (i > 0) {
        EXPECT_LE(d.score, f.detections[i - 1].score) << name;
      }
      classes.insert(d.class_id);
    }
    EXPECT_EQ(classes, (std::set<int>{0, 1, 2, 3, 4})) << name;
  }
}

}  // namespace
}  // namespace vpipe
