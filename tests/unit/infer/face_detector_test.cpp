#include "vpipe/infer/face_detector.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "image_files.h"
#include "vpipe/core/error.h"
#include "vpipe/infer/models.h"
#include "vpipe/infer/postprocess.h"
#include "vpipe/io/decode.h"

namespace vpipe {
namespace {

namespace fs = std::filesystem;
using testing::test_photo;

class BlazeFaceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!BlazeFaceDetector::available()) GTEST_SKIP() << "built without OpenCV dnn";
    model_ = find_model("blazeface/face_detection_front_128x128.onnx");
    if (!model_) GTEST_SKIP() << "BlazeFace model missing: run scripts/fetch-models.sh";
  }
  std::optional<fs::path> model_;
};

TEST_F(BlazeFaceTest, FindsTheAstronautsFace) {
  const Image astronaut = test_photo("astronaut.png");
  if (astronaut.empty()) GTEST_SKIP() << "test photos missing: run scripts/fetch-models.sh";
  BlazeFaceDetector detector(*model_, blazeface_front());
  const std::vector<FaceDetection> faces = detector.detect(astronaut);
  ASSERT_EQ(faces.size(), 1U);
  // The face measured once by eye, independently of any detector: the 512x512 photo drawn with a
  // 16-pixel grid and enlarged 3x; left and right cheek edges at x = 182 and 272, the brow line
  // (below the fringe) at y = 80 and the chin at y = 176.
  const Box measured{182, 80, 272, 176};
  EXPECT_GE(iou(faces[0].box, measured), 0.5) << faces[0].box.x1 << "," << faces[0].box.y1
                                              << " " << faces[0].box.x2 << "," << faces[0].box.y2;
  EXPECT_GE(faces[0].score, 0.75f);
  // Keypoints land inside the face: right eye left of the left eye, nose between eyes and mouth.
  const auto& k = faces[0].keypoints;
  EXPECT_LT(k[0], k[2]);              // right eye x < left eye x (as seen in the photo)
  EXPECT_GT(k[5], (k[1] + k[3]) / 2);  // nose tip below the eyes
  EXPECT_GT(k[7], k[5]);              // mouth below the nose
  for (size_t i = 0; i < 8; i += 2) {
    EXPECT_GE(k[i], measured.x1);
    EXPECT_LE(k[i], measured.x2);
    EXPECT_GE(k[i + 1], measured.y1);
    EXPECT_LE(k[i + 1], measured.y2);
  }
}

TEST_F(BlazeFaceTest, FindsNoFaceInPhotosWithoutFaces) {
  for (const char* name : {"chelsea.png", "coffee.png"}) {
    const Image photo = test_photo(name);
    if (photo.empty()) GTEST_SKIP() << "test photos missing: run scripts/fetch-models.sh";
    BlazeFaceDetector detector(*model_, blazeface_front());
    EXPECT_TRUE(detector.detect(photo).empty()) << name;
  }
}

TEST_F(BlazeFaceTest, AFileThatIsNotAModelIsAConfigError) {
  const fs::path bogus = fs::temp_directory_path() / "vpipe_not_a_model.onnx";
  std::ofstream(bogus) << "not an onnx file";
  EXPECT_THROW(BlazeFaceDetector(bogus, blazeface_front()), ConfigError);
  fs::remove(bogus);
}

}  // namespace
}  // namespace vpipe
