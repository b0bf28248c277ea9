// OpenCV's cascades (Haar, LBP) and HOG people detector as vpipe models, on the skimage photos.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "image_files.h"
#include "vpipe/core/error.h"
#include "vpipe/infer/model.h"
#include "vpipe/infer/postprocess.h"
#include "vpipe/io/decode.h"

namespace vpipe {
namespace {

namespace fs = std::filesystem;
using testing::test_photo;

/// `image` enlarged `f` times by pixel replication (each pixel becomes an f x f block).
Image replicate(const Image& image, int f) {
  Image out(image.width * f, image.height * f, image.channels);
  for (int y = 0; y < out.height; ++y) {
    const uint8_t* src = image.row(y / f);
    uint8_t* dst = out.row(y);
    for (int x = 0; x < out.width; ++x) {
      for (int c = 0; c < image.channels; ++c) {
        dst[x * image.channels + c] = src[(x / f) * image.channels + c];
      }
    }
  }
  return out;
}

std::string str(const Box& b) {
  return std::to_string(b.x1) + "," + std::to_string(b.y1) + " " + std::to_string(b.x2) + "," +
         std::to_string(b.y2);
}

std::string str(const std::vector<Prediction>& ps) {
  std::string s;
  for (const Prediction& p : ps) {
    // Appended piece by piece: GCC 12 warns (-Wrestrict, a false positive) on "[" + string.
    s += '[';
    s += str(p.box);
    s += " score ";
    s += std::to_string(p.score);
    s += "] ";
  }
  return s;
}

/// Runs the three stages on one image.
std::vector<Prediction> run(Model& model, const Image& image) {
  ModelInput input;
  model.prepare(image, input);
  ModelInput* batch[] = {&input};
  model.infer(batch);
  return model.decode(input);
}

// The astronaut's face measured once by eye (see face_detector_test): cheeks x = 182 and 272,
// brow line y = 80, chin y = 176.
constexpr Box kAstronautFace{182, 80, 272, 176};
// Chelsea's face (chelsea.png, 451x300), measured once by eye, before running any detector: the
// photo drawn 2x with a 16-pixel grid; left and right cheek edges (where the face's fur meets the
// neck's) at x = 48 and 368, the forehead (halfway between the top of the eyes and the base of the
// ears) at y = 32, below the mouth at y = 290.
constexpr Box kChelseaFace{48, 32, 368, 290};
// The score threshold suggested for cascades: a box grouped from at least 6 raw windows
// (6 / 16 = 0.375), what OpenCV's samples ask with minNeighbors = 5.
constexpr float kCascadeThreshold = 0.35f;

class CascadeModelTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!detail::objdetect_built()) GTEST_SKIP() << "built without OpenCV objdetect";
    dir_ = detail::opencv_cascade_dir();
    if (!dir_) GTEST_SKIP() << "OpenCV's cascades missing: install opencv-data";
  }

  /// A spec for `file` under the cascades folder ("haarcascades/haarcascade_eye.xml").
  ModelSpec cascade(const std::string& file, float score_threshold) const {
    ModelSpec spec;
    spec.name = file;
    spec.path = *dir_ / file;
    spec.format = OutputFormat::kCascade;
    spec.input_width = 640;
    spec.score_threshold = score_threshold;
    return spec;
  }

  std::optional<fs::path> dir_;
};

TEST_F(CascadeModelTest, FrontalFaceCascadesFindTheAstronautsFace) {
  const Image astronaut = test_photo("astronaut.png");
  if (astronaut.empty()) GTEST_SKIP() << "test photos missing: run scripts/fetch-models.sh";
  for (const char* file : {"haarcascades/haarcascade_frontalface_default.xml",
                           "lbpcascades/lbpcascade_frontalface.xml",
                           "lbpcascades/lbpcascade_frontalface_improved.xml"}) {
    const auto model = detail::load_cascade_model(cascade(file, kCascadeThreshold));
    const std::vector<Prediction> faces = run(*model, astronaut);
    ASSERT_EQ(faces.size(), 1U) << file << ": " << str(faces);
    EXPECT_GE(iou(faces[0].box, kAstronautFace), 0.5) << file << ": " << str(faces);
    EXPECT_GT(faces[0].score, kCascadeThreshold) << file;
    EXPECT_LE(faces[0].score, 1.0f) << file;
    EXPECT_EQ(faces[0].class_id, 0) << file;
    EXPECT_TRUE(faces[0].keypoints.empty()) << file;
  }
}

TEST_F(CascadeModelTest, FrontalFaceCascadesFindNoFaceInCoffee) {
  const Image coffee = test_photo("coffee.png");
  if (coffee.empty()) GTEST_SKIP() << "test photos missing: run scripts/fetch-models.sh";
  for (const char* file : {"haarcascades/haarcascade_frontalface_default.xml",
                           "lbpcascades/lbpcascade_frontalface.xml",
                           "lbpcascades/lbpcascade_frontalface_improved.xml"}) {
    // Threshold 0: not one box of all those the cascade reports.
    const auto model = detail::load_cascade_model(cascade(file, 0));
    EXPECT_TRUE(run(*model, coffee).empty()) << file << ": " << str(run(*model, coffee));
  }
}

// Whether a human face cascade sees a face in the cat: Haar's frontalface_default and the
// improved LBP cascade report nothing at all. (lbpcascade_frontalface, the older LBP one, does
// report a box on the cat's left cheek, grouped from 7 windows, score 0.41: a false positive
// above the 0.35 default, not asserted here since nothing requires it.)
TEST_F(CascadeModelTest, HaarAndImprovedLbpFaceCascadesFindNoHumanFaceInChelsea) {
  const Image chelsea = test_photo("chelsea.png");
  if (chelsea.empty()) GTEST_SKIP() << "test photos missing: run scripts/fetch-models.sh";
  for (const char* file : {"haarcascades/haarcascade_frontalface_default.xml",
                           "lbpcascades/lbpcascade_frontalface_improved.xml"}) {
    const auto model = detail::load_cascade_model(cascade(file, 0));
    EXPECT_TRUE(run(*model, chelsea).empty()) << file << ": " << str(run(*model, chelsea));
  }
}

// The cat cascade does NOT find Chelsea: her face fills the frame (the ears are cut off) and is
// tilted by about 10 degrees, and neither the Haar nor the LBP cat cascade fires on it, even with
// a border added or the photo rotated upright (tried while writing this test). What holds, and
// is asserted: it reports no cat face where there is none, and any box it reports in chelsea lies
// on her face.
TEST_F(CascadeModelTest, CatFaceCascadeReportsNoCatFaceWhereThereIsNone) {
  const Image chelsea = test_photo("chelsea.png");
  const Image astronaut = test_photo("astronaut.png");
  const Image coffee = test_photo("coffee.png");
  if (chelsea.empty() || astronaut.empty() || coffee.empty()) {
    GTEST_SKIP() << "test photos missing: run scripts/fetch-models.sh";
  }
  const auto model =
      detail::load_cascade_model(cascade("haarcascades/haarcascade_frontalcatface.xml", 0));
  EXPECT_TRUE(run(*model, astronaut).empty()) << str(run(*model, astronaut));
  EXPECT_TRUE(run(*model, coffee).empty()) << str(run(*model, coffee));
  for (const Prediction& p : run(*model, chelsea)) {
    EXPECT_GE(iou(p.box, kChelseaFace), 0.5) << str(p.box);
  }
}

TEST_F(CascadeModelTest, BoxesComeBackInPixelsOfTheImageGivenToPrepare) {
  const Image astronaut = test_photo("astronaut.png");
  if (astronaut.empty()) GTEST_SKIP() << "test photos missing: run scripts/fetch-models.sh";
  const Image twice = replicate(astronaut, 2);  // 1024x1024
  const std::string file = "haarcascades/haarcascade_frontalface_default.xml";

  // Scanned at 512, the enlarged photo reduces (INTER_AREA over 2x2 equal pixels) to exactly the
  // original: the same box, doubled.
  ModelSpec at512 = cascade(file, kCascadeThreshold);
  at512.input_width = 512;
  const auto model512 = detail::load_cascade_model(at512);
  EXPECT_EQ(model512->decode_long_side(), 512);
  const std::vector<Prediction> once = run(*model512, astronaut);
  const std::vector<Prediction> doubled = run(*model512, twice);
  ASSERT_EQ(once.size(), 1U) << str(once);
  ASSERT_EQ(doubled.size(), 1U) << str(doubled);
  EXPECT_NEAR(doubled[0].box.x1, 2 * once[0].box.x1, 1.0f);
  EXPECT_NEAR(doubled[0].box.y1, 2 * once[0].box.y1, 1.0f);
  EXPECT_NEAR(doubled[0].box.x2, 2 * once[0].box.x2, 1.0f);
  EXPECT_NEAR(doubled[0].box.y2, 2 * once[0].box.y2, 1.0f);
  EXPECT_FLOAT_EQ(doubled[0].score, once[0].score);

  // Scanned at 640 (a different pyramid): still the measured face, doubled.
  const auto model640 = detail::load_cascade_model(cascade(file, kCascadeThreshold));
  const std::vector<Prediction> faces = run(*model640, twice);
  ASSERT_EQ(faces.size(), 1U) << str(faces);
  const Box measured2{2 * kAstronautFace.x1, 2 * kAstronautFace.y1, 2 * kAstronautFace.x2,
                      2 * kAstronautFace.y2};
  EXPECT_GE(iou(faces[0].box, measured2), 0.5) << str(faces);
}

TEST_F(CascadeModelTest, PrepareScansGrayNeverEnlarged) {
  const Image chelsea = test_photo("chelsea.png");  // 451x300 RGB
  if (chelsea.empty()) GTEST_SKIP() << "test photos missing: run scripts/fetch-models.sh";
  ASSERT_EQ(chelsea.channels, 3);
  ModelSpec spec = cascade("haarcascades/haarcascade_frontalface_default.xml", 0);
  const auto model640 = detail::load_cascade_model(spec);
  ModelInput input;
  model640->prepare(chelsea, input);
  EXPECT_EQ(input.image_width, 451);
  EXPECT_EQ(input.image_height, 300);
  EXPECT_EQ(input.image.width, 451);  // smaller than 640: scanned as it is
  EXPECT_EQ(input.image.height, 300);
  EXPECT_EQ(input.image.channels, 1);

  spec.input_width = 200;
  const auto model200 = detail::load_cascade_model(spec);
  model200->prepare(chelsea, input);
  EXPECT_EQ(input.image_width, 451);
  EXPECT_EQ(input.image_height, 300);
  EXPECT_EQ(input.image.width, 200);
  EXPECT_EQ(input.image.height, 133);  // 300 * 200 / 451 = 133.0
  EXPECT_EQ(input.image.channels, 1);
  EXPECT_EQ(input.image.pixels.size(), 200U * 133U);
}

TEST_F(CascadeModelTest, ABatchGivesWhatEachImageGivesAlone) {
  const Image astronaut = test_photo("astronaut.png");
  const Image coffee = test_photo("coffee.png");
  if (astronaut.empty() || coffee.empty()) {
    GTEST_SKIP() << "test photos missing: run scripts/fetch-models.sh";
  }
  const auto model = detail::load_cascade_model(
      cascade("lbpcascades/lbpcascade_frontalface.xml", 0));  // two boxes in the astronaut
  const Image tiny(10, 10, 3);  // smaller than the 24x24 window: nothing, no error
  ModelInput a, b, c;
  model->prepare(coffee, a);
  model->prepare(astronaut, b);
  model->prepare(tiny, c);
  ModelInput* batch[] = {&a, &b, &c};
  model->infer(batch);
  EXPECT_TRUE(model->decode(a).empty());
  EXPECT_TRUE(model->decode(c).empty());
  const std::vector<Prediction> alone = run(*model, astronaut);
  const std::vector<Prediction> batched = model->decode(b);
  ASSERT_EQ(batched.size(), alone.size());
  ASSERT_GE(batched.size(), 1U);
  for (size_t i = 0; i < alone.size(); ++i) {
    EXPECT_FLOAT_EQ(batched[i].box.x1, alone[i].box.x1);
    EXPECT_FLOAT_EQ(batched[i].box.y2, alone[i].box.y2);
    EXPECT_FLOAT_EQ(batched[i].score, alone[i].score);
    if (i > 0) {
      EXPECT_GE(batched[i - 1].score, batched[i].score);  // best first
    }
  }
}

TEST_F(CascadeModelTest, ScoreThresholdAndMaxDetectionsApply) {
  const Image astronaut = test_photo("astronaut.png");
  if (astronaut.empty()) GTEST_SKIP() << "test photos missing: run scripts/fetch-models.sh";
  ModelSpec spec = cascade("lbpcascades/lbpcascade_frontalface.xml", 0);
  const std::vector<Prediction> all = run(*detail::load_cascade_model(spec), astronaut);
  ASSERT_GE(all.size(), 2U) << str(all);  // the face and a box on the helmet
  spec.max_detections = 1;
  const std::vector<Prediction> one = run(*detail::load_cascade_model(spec), astronaut);
  ASSERT_EQ(one.size(), 1U);
  EXPECT_FLOAT_EQ(one[0].score, all[0].score);
  spec.max_detections = 300;
  spec.score_threshold = all[0].score;  // strictly above: the best box goes too
  EXPECT_TRUE(run(*detail::load_cascade_model(spec), astronaut).empty());
}

class HogModelTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!detail::objdetect_built()) GTEST_SKIP() << "built without OpenCV objdetect";
    spec_.name = "hog-people";
    spec_.format = OutputFormat::kHog;
    spec_.input_width = 640;
    spec_.score_threshold = 0;
  }
  ModelSpec spec_;
};

// No photo Debian's python3-skimage ships shows a whole person (the cameraman in camera.png and
// the astronaut are cut at the thighs and the waist), so what is tested is that HOG reports no
// person where there is none, and its plumbing.
TEST_F(HogModelTest, FindsNoPersonInCoffeeOrChelsea) {
  const auto model = detail::load_cascade_model(spec_);
  EXPECT_EQ(model->runtime(), "opencv-hog/cpu");
  for (const char* name : {"coffee.png", "chelsea.png"}) {
    const Image photo = test_photo(name);
    if (photo.empty()) GTEST_SKIP() << "test photos missing: run scripts/fetch-models.sh";
    EXPECT_TRUE(run(*model, photo).empty()) << name << ": " << str(run(*model, photo));
  }
}

TEST_F(HogModelTest, BoxesComeBackInPixelsOfTheImageGivenToPrepare) {
  const Image astronaut = test_photo("astronaut.png");
  if (astronaut.empty()) GTEST_SKIP() << "test photos missing: run scripts/fetch-models.sh";
  // HOG reports one box in the astronaut photo: on the helmet's visor (a false positive, below
  // the SVM's margin). Whatever it is, scanning the 2x enlarged photo at 512 must give it doubled.
  spec_.input_width = 512;
  const auto model = detail::load_cascade_model(spec_);
  const std::vector<Prediction> once = run(*model, astronaut);
  const std::vector<Prediction> doubled = run(*model, replicate(astronaut, 2));
  ASSERT_GE(once.size(), 1U);
  ASSERT_EQ(doubled.size(), once.size());
  for (size_t i = 0; i < once.size(); ++i) {
    EXPECT_NEAR(doubled[i].box.x1, 2 * once[i].box.x1, 1.0f);
    EXPECT_NEAR(doubled[i].box.y1, 2 * once[i].box.y1, 1.0f);
    EXPECT_NEAR(doubled[i].box.x2, 2 * once[i].box.x2, 1.0f);
    EXPECT_NEAR(doubled[i].box.y2, 2 * once[i].box.y2, 1.0f);
    EXPECT_GT(once[i].score, 0.0f);
    EXPECT_LT(once[i].score, 1.0f);
  }
  // Smaller than the 64x128 window: nothing, no error.
  EXPECT_TRUE(run(*model, Image(60, 100, 1)).empty());
}

class CascadeLoadTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!detail::objdetect_built()) GTEST_SKIP() << "built without OpenCV objdetect";
  }
};

/// The message of the ConfigError `load` throws; empty when it throws nothing.
template <typename F>
std::string config_error(F load) {
  try {
    load();
  } catch (const ConfigError& e) {
    return e.what();
  }
  return {};
}

TEST_F(CascadeLoadTest, ABogusXmlIsAConfigErrorNamingTheFile) {
  const fs::path bogus = fs::temp_directory_path() / "vpipe_not_a_cascade.xml";
  std::ofstream(bogus) << "<?xml version=\"1.0\"?>\n<opencv_storage><x>1</x></opencv_storage>\n";
  ModelSpec spec;
  spec.name = "haar:bogus";
  spec.path = bogus;
  spec.format = OutputFormat::kCascade;
  const std::string message = config_error([&] { (void)detail::load_cascade_model(spec); });
  EXPECT_NE(message.find(bogus.string()), std::string::npos) << message;

  std::ofstream(bogus) << "not xml at all <<<";
  const std::string garbage = config_error([&] { (void)detail::load_cascade_model(spec); });
  EXPECT_NE(garbage.find(bogus.string()), std::string::npos) << garbage;
  fs::remove(bogus);
}

TEST_F(CascadeLoadTest, AMissingFileIsAConfigErrorNamingTheFile) {
  ModelSpec spec;
  spec.name = "haar:nothing";
  spec.path = fs::temp_directory_path() / "vpipe_no_such_cascade.xml";
  spec.format = OutputFormat::kCascade;
  const std::string message = config_error([&] { (void)detail::load_cascade_model(spec); });
  EXPECT_NE(message.find(spec.path.string()), std::string::npos) << message;
}

TEST_F(CascadeLoadTest, ANetworkFormatIsAConfigError) {
  ModelSpec spec;
  spec.name = "yolo";
  spec.format = OutputFormat::kYoloV8;
  const std::string message = config_error([&] { (void)detail::load_cascade_model(spec); });
  EXPECT_NE(message.find("yolo"), std::string::npos) << message;
}

TEST(OpenCvCascadeDirTest, VpipeCascadeDirComesFirstWhenItHoldsCascades) {
  const fs::path dir = fs::temp_directory_path() / "vpipe_cascade_dir_test";
  fs::remove_all(dir);
  fs::create_directories(dir / "lbpcascades");
  const char* old = std::getenv("VPIPE_CASCADE_DIR");
  const std::string saved = old != nullptr ? old : "";
  setenv("VPIPE_CASCADE_DIR", dir.c_str(), 1);
  EXPECT_EQ(detail::opencv_cascade_dir(), std::optional<fs::path>(dir));
  // A folder without haarcascades/ or lbpcascades/ is passed over.
  fs::remove_all(dir / "lbpcascades");
  const std::optional<fs::path> fallback = detail::opencv_cascade_dir();
  EXPECT_NE(fallback, std::optional<fs::path>(dir));
  if (fallback) {
    EXPECT_TRUE(fs::is_directory(*fallback / "haarcascades") ||
                fs::is_directory(*fallback / "lbpcascades"));
  }
  if (old != nullptr) {
    setenv("VPIPE_CASCADE_DIR", saved.c_str(), 1);
  } else {
    unsetenv("VPIPE_CASCADE_DIR");
  }
  fs::remove_all(dir);
}

}  // namespace
}  // namespace vpipe
