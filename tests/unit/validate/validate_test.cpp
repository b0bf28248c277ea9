// Tests of vpipe_validate: a clean YOLO and a clean COCO dataset give no findings; a copy with
// one planted defect of each kind gives exactly those findings (file, line, kind), nothing else.
#include "vpipe/validate/validate.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <set>
#include <string>
#include <tuple>
#include <vector>

#include "temp_dir.h"
#include "vpipe/core/error.h"
#include "vpipe/io/encode.h"

namespace fs = std::filesystem;
using vpipe::DatasetFormat;
using vpipe::Severity;
using vpipe::ValidateOptions;
using vpipe::ValidationReport;
using vpipe::testing::TempDir;

namespace {

/// (path, line, kind, severity) of a finding: what the tests compare.
using Key = std::tuple<std::string, int64_t, std::string, Severity>;

std::multiset<Key> keys(const ValidationReport& r) {
  std::multiset<Key> out;
  for (const auto& f : r.findings) out.emplace(f.path, f.line, f.kind, f.severity);
  return out;
}

std::string describe(const ValidationReport& r) {
  std::string s;
  for (const auto& f : r.findings) {
    s += f.path + ":" + std::to_string(f.line) + ": " + std::string(vpipe::to_string(f.severity)) +
         ": " + f.message + " [" + f.kind + "]\n";
  }
  return s;
}

void write_text(const fs::path& path, const std::string& text) {
  fs::create_directories(path.parent_path());
  std::ofstream(path, std::ios::binary) << text;
}

void write_bytes(const fs::path& path, const std::vector<uint8_t>& bytes) {
  fs::create_directories(path.parent_path());
  std::ofstream(path, std::ios::binary)
      .write(reinterpret_cast<const char*>(bytes.data()),
             static_cast<std::streamsize>(bytes.size()));
}

vpipe::Image gradient(int w, int h) {
  vpipe::Image img(w, h, 3);
  for (int y = 0; y < h; ++y) {
    for (int x = 0; x < w; ++x) {
      uint8_t* p = img.row(y) + 3 * x;
      p[0] = static_cast<uint8_t>(x * 13);
      p[1] = static_cast<uint8_t>(y * 17);
      p[2] = static_cast<uint8_t>((x + y) * 7);
    }
  }
  return img;
}

void write_png(const fs::path& path, int w, int h) {
  write_bytes(path, vpipe::encode_png(gradient(w, h)));
}
void write_jpeg(const fs::path& path, int w, int h) {
  write_bytes(path, vpipe::encode_jpeg(gradient(w, h), 90));
}

/// The first bytes of a real PNG: the signature sniffs as PNG, the data is cut off.
void write_corrupt_png(const fs::path& path) {
  std::vector<uint8_t> bytes = vpipe::encode_png(gradient(16, 12));
  bytes.resize(40);
  write_bytes(path, bytes);
}

/// A JPEG cut at 60%: libjpeg decodes it grey-filled with a warning (kDamaged).
void write_truncated_jpeg(const fs::path& path) {
  std::vector<uint8_t> bytes = vpipe::encode_jpeg(gradient(320, 240), 90);
  bytes.resize(bytes.size() * 6 / 10);
  write_bytes(path, bytes);
}

class ValidateTest : public ::testing::Test {
 protected:
  ValidationReport validate(const fs::path& dir,
                            DatasetFormat format = DatasetFormat::kAuto) const {
    ValidateOptions options;
    options.dir = dir;
    options.format = format;
    options.threads = 2;
    return vpipe::validate_dataset(options);
  }

  /// images/{train,val} and labels/{train,val}, two classes, boxes and a polygon, all clean.
  fs::path make_clean_yolo(const std::string& name) const {
    const fs::path d = root_ / name;
    write_text(d / "data.yaml",
               "path: .\ntrain: images/train\nval: images/val\nnames:\n  0: cat\n  1: dog\n");
    write_png(d / "images/train/a.png", 16, 12);
    write_jpeg(d / "images/train/b.jpg", 16, 16);
    write_png(d / "images/val/c.png", 8, 8);
    write_text(d / "labels/train/a.txt", "0 0.5 0.5 0.4 0.4\n1 0.25 0.25 0.2 0.2\n");
    write_text(d / "labels/train/b.txt", "1 0.1 0.1 0.9 0.1 0.5 0.9\n");  // a polygon
    write_text(d / "labels/val/c.txt", "0 0.5 0.5 1 1\n\n");              // full frame, blank line
    return d;
  }

  TempDir tmp_{"vpipe_validate_"};
  fs::path root_ = tmp_.path();
};

TEST_F(ValidateTest, CleanYoloDatasetHasNoFindings) {
  const fs::path d = make_clean_yolo("clean");
  const ValidationReport r = validate(d);
  EXPECT_EQ(r.format, DatasetFormat::kYolo);
  EXPECT_TRUE(r.findings.empty()) << describe(r);
  EXPECT_EQ(r.images, 3);
  EXPECT_EQ(r.label_files, 3);
  EXPECT_EQ(r.annotations, 4);
  EXPECT_EQ(r.errors(), 0);
}

TEST_F(ValidateTest, BrokenYoloDatasetGivesEachPlantedDefectOnce) {
  const fs::path d = make_clean_yolo("broken");
  // data.yaml: nc contradicts names (line 2).
  write_text(d / "data.yaml", "names: [cat, dog]\nnc: 3\n");
  // An image without labels (background: a warning) and a label file without an image.
  write_png(d / "images/train/d.png", 8, 8);
  write_text(d / "labels/train/e.txt", "0 0.5 0.5 0.2 0.2\n");
  // A corrupt image (with its label file, so only the decode fails).
  write_corrupt_png(d / "images/val/f.png");
  write_text(d / "labels/val/f.txt", "0 0.5 0.5 0.2 0.2\n");
  // A truncated JPEG that still decodes (a warning).
  write_truncated_jpeg(d / "images/val/g.jpg");
  write_text(d / "labels/val/g.txt", "1 0.5 0.5 0.2 0.2\n");
  // One bad line of each kind in a.txt, after its two clean ones.
  write_text(d / "labels/train/a.txt",
             "0 0.5 0.5 0.4 0.4\n"    // 1 ok
             "1 0.25 0.25 0.2 0.2\n"  // 2 ok
             "0 0.5 0.5 0.1\n"        // 3 four values
             "2 0.5 0.5 0.1 0.1\n"    // 4 class 2 of 2 classes
             "0 0.95 0.5 0.2 0.2\n"   // 5 right edge at 1.05
             "1 0.5 0.5 0 0.2\n"      // 6 zero width
             "0 0.5 0.5 0.4 0.4\n");  // 7 same as line 1
  const ValidationReport r = validate(d);
  const std::string a = (d / "labels/train/a.txt").string();
  const std::multiset<Key> expected = {
      {(d / "data.yaml").string(), 2, "data_yaml_invalid", Severity::kError},
      {(d / "images/train/d.png").string(), 0, "unlabeled_image", Severity::kWarning},
      {(d / "images/val/f.png").string(), 0, "image_corrupt", Severity::kError},
      {(d / "images/val/g.jpg").string(), 0, "image_damaged", Severity::kWarning},
      {a, 3, "malformed_line", Severity::kError},
      {a, 4, "class_out_of_range", Severity::kError},
      {a, 5, "box_out_of_bounds", Severity::kError},
      {a, 6, "box_degenerate", Severity::kError},
      {a, 7, "duplicate_box", Severity::kWarning},
      {(d / "labels/train/e.txt").string(), 0, "label_without_image", Severity::kError},
  };
  EXPECT_EQ(keys(r), expected) << describe(r);
  EXPECT_EQ(r.errors(), 7);
  EXPECT_EQ(r.warnings(), 3);
  EXPECT_TRUE(
      std::is_sorted(r.findings.begin(), r.findings.end(), [](const auto& x, const auto& y) {
        return std::tie(x.path, x.line) < std::tie(y.path, y.line);
      }));
  const auto counts = r.counts_by_kind();
  ASSERT_EQ(counts.count("duplicate_box"), 1U);
  EXPECT_EQ(counts.at("duplicate_box").second, 1);
  // The duplicate names the line it repeats; the range names the class count.
  for (const auto& f : r.findings) {
    if (f.kind == "duplicate_box") {
      EXPECT_NE(f.message.find("line 1"), std::string::npos) << f.message;
    }
    if (f.kind == "class_out_of_range") {
      EXPECT_NE(f.message.find("0..1"), std::string::npos) << f.message;
    }
  }
}

TEST_F(ValidateTest, YoloDuplicatesAreSameClassAndIouAboveThreshold) {
  const fs::path d = make_clean_yolo("dups");
  write_text(d / "labels/train/a.txt",
             "0 0.5 0.5 0.4 0.4\n"     // 1
             "0 0.5 0.5 0.4 0.402\n"   // 2 IoU 0.995 with 1: duplicate
             "1 0.5 0.5 0.4 0.4\n"     // 3 other class: not a duplicate
             "0 0.52 0.5 0.4 0.4\n");  // 4 IoU ~0.905 with 1: kept
  const ValidationReport r = validate(d);
  const std::multiset<Key> expected = {
      {(d / "labels/train/a.txt").string(), 2, "duplicate_box", Severity::kWarning}};
  EXPECT_EQ(keys(r), expected) << describe(r);
}

TEST_F(ValidateTest, AHugeClassIdIsNamedAsWritten) {
  const fs::path d = make_clean_yolo("huge");
  write_text(d / "labels/train/a.txt",
             "1e30 0.5 0.5 0.4 0.4\n"
             "9223372036854775808 0.5 0.5 0.2 0.2\n"
             "-9e99 0.5 0.5 0.2 0.2\n");
  const ValidationReport r = validate(d);
  std::vector<std::string> messages;
  for (const auto& f : r.findings) {
    if (f.kind == "class_out_of_range") messages.push_back(f.message);
  }
  ASSERT_EQ(messages.size(), 3U) << describe(r);
  EXPECT_NE(messages[0].find("class id 1e30 "), std::string::npos) << messages[0];
  EXPECT_NE(messages[1].find("class id 9223372036854775808 "), std::string::npos) << messages[1];
  EXPECT_NE(messages[2].find("class id -9e99 "), std::string::npos) << messages[2];
  for (const std::string& m : messages) {
    EXPECT_EQ(m.find("-9223372036854775808"), std::string::npos) << m;
  }
  // Without data.yaml a huge id is still refused (no class list holds 2^53 names).
  fs::remove(d / "data.yaml");
  const ValidationReport bare = validate(d);
  int refused = 0;
  for (const auto& f : bare.findings) {
    if (f.kind == "class_out_of_range") {
      ++refused;
      EXPECT_EQ(f.message.find("-9223372036854775808"), std::string::npos) << f.message;
    }
  }
  EXPECT_EQ(refused, 3) << describe(bare);
}

TEST_F(ValidateTest, YoloWithoutDataYamlWarnsAndChecksOnlyNegativeClasses) {
  const fs::path d = make_clean_yolo("noyaml");
  fs::remove(d / "data.yaml");
  write_text(d / "labels/train/a.txt",
             "7 0.5 0.5 0.4 0.4\n-1 0.5 0.5 0.2 0.2\n1.5 0.5 0.5 0.2 0.2\n");
  const ValidationReport r = validate(d);  // detected by its labels/ folder
  EXPECT_EQ(r.format, DatasetFormat::kYolo);
  const std::string a = (d / "labels/train/a.txt").string();
  const std::multiset<Key> expected = {
      {(d / "data.yaml").string(), 0, "data_yaml_missing", Severity::kWarning},
      {a, 2, "class_out_of_range", Severity::kError},
      {a, 3, "malformed_line", Severity::kError},
  };
  EXPECT_EQ(keys(r), expected) << describe(r);
}

TEST_F(ValidateTest, DataYamlParseErrorHasItsLine) {
  const fs::path d = make_clean_yolo("badyaml");
  write_text(d / "data.yaml", "names: [cat, dog]\nnc: [2\n");
  const ValidationReport r = validate(d, DatasetFormat::kYolo);
  ASSERT_EQ(r.findings.size(), 1U) << describe(r);
  EXPECT_EQ(r.findings[0].kind, "data_yaml_invalid");
  EXPECT_GE(r.findings[0].line, 2);
}

TEST_F(ValidateTest, RoboflowSplitLayoutPairsImagesAndLabels) {
  // train/images + train/labels (the last `images` component becomes `labels`).
  const fs::path d = root_ / "roboflow";
  write_text(d / "data.yaml", "nc: 1\nnames: ['thing']\n");
  write_png(d / "train/images/x.png", 8, 8);
  write_text(d / "train/labels/x.txt", "0 0.5 0.5 0.5 0.5\n");
  write_png(d / "valid/images/y.png", 8, 8);
  const ValidationReport r = validate(d);
  const std::multiset<Key> expected = {
      {(d / "valid/images/y.png").string(), 0, "unlabeled_image", Severity::kWarning}};
  EXPECT_EQ(keys(r), expected) << describe(r);
  EXPECT_EQ(r.images, 2);
}

/// A COCO JSON with one entry per line, so each entry's line number is its index + offset.
struct CocoJson {
  std::vector<std::string> images;
  std::vector<std::string> annotations;
  std::vector<std::string> categories = {R"({"id": 1, "name": "cat"})",
                                         R"({"id": 2, "name": "dog"})"};

  // Line 1 is "{", line 2 "\"images\": [", then the images one per line, "],", "\"annotations\":
  // [", ...
  [[nodiscard]] int64_t image_line(size_t i) const { return 3 + static_cast<int64_t>(i); }
  [[nodiscard]] int64_t annotation_line(size_t i) const {
    return 3 + static_cast<int64_t>(images.size()) + 2 + static_cast<int64_t>(i);
  }
  [[nodiscard]] std::string text() const {
    std::string s = "{\n\"images\": [\n";
    auto list = [&](const std::vector<std::string>& items) {
      for (size_t i = 0; i < items.size(); ++i)
        s += "  " + items[i] + (i + 1 < items.size() ? ",\n" : "\n");
    };
    list(images);
    s += "],\n\"annotations\": [\n";
    list(annotations);
    s += "],\n\"categories\": [\n";
    list(categories);
    s += "]\n}\n";
    return s;
  }
};

CocoJson clean_coco() {
  CocoJson j;
  j.images = {R"({"id": 1, "file_name": "a.png", "width": 16, "height": 12})",
              R"({"id": 2, "file_name": "b.jpg", "width": 20, "height": 10})"};
  j.annotations = {
      R"({"id": 1, "image_id": 1, "category_id": 1, "bbox": [1, 1, 5, 5], "area": 25, "iscrowd": 0})",
      R"({"id": 2, "image_id": 2, "category_id": 2, "bbox": [0, 0, 20, 10], "area": 200, "iscrowd": 0})"};
  return j;
}

TEST_F(ValidateTest, CleanCocoDatasetHasNoFindings) {
  const fs::path d = root_ / "coco";
  write_png(d / "images/a.png", 16, 12);
  write_jpeg(d / "images/b.jpg", 20, 10);
  write_text(d / "annotations.json", clean_coco().text());
  const ValidationReport r = validate(d);
  EXPECT_EQ(r.format, DatasetFormat::kCoco);
  EXPECT_TRUE(r.findings.empty()) << describe(r);
  EXPECT_EQ(r.images, 2);
  EXPECT_EQ(r.annotations, 2);
  ASSERT_EQ(r.sources.size(), 1U);
  EXPECT_EQ(r.sources[0], (d / "annotations.json").string());
}

TEST_F(ValidateTest, BrokenCocoDatasetGivesEachPlantedDefectOnce) {
  const fs::path d = root_ / "coco_broken";
  write_png(d / "images/a.png", 16, 12);
  write_jpeg(d / "images/b.jpg", 20, 10);
  write_corrupt_png(d / "images/bad.png");
  write_png(d / "images/c.png", 16, 12);
  write_png(d / "images/d.png", 8, 8);
  CocoJson j = clean_coco();
  j.images.push_back(R"({"id": 3, "file_name": "missing.png", "width": 8, "height": 8})");  // 2
  j.images.push_back(R"({"id": 4, "file_name": "bad.png", "width": 16, "height": 12})");    // 3
  j.images.push_back(R"({"id": 5, "file_name": "c.png", "width": 30, "height": 30})");      // 4
  j.images.push_back(R"({"id": 6, "file_name": "d.png", "width": 8, "height": 8})");        // 5
  j.annotations.push_back(
      R"({"id": 3, "image_id": 3, "category_id": 1, "bbox": [1, 1, 3, 3]})");  // 2
  j.annotations.push_back(
      R"({"id": 4, "image_id": 4, "category_id": 1, "bbox": [1, 1, 3, 3]})");  // 3
  j.annotations.push_back(
      R"({"id": 5, "image_id": 5, "category_id": 1, "bbox": [1, 1, 3, 3]})");  // 4
  j.annotations.push_back(
      R"({"id": 6, "image_id": 99, "category_id": 1, "bbox": [1, 1, 3, 3]})");  // 5
  j.annotations.push_back(
      R"({"id": 7, "image_id": 1, "category_id": 7, "bbox": [2, 2, 3, 3]})");  // 6
  j.annotations.push_back(
      R"({"id": 8, "image_id": 2, "category_id": 2, "bbox": [1, 1, 0, 5]})");  // 7
  j.annotations.push_back(
      R"({"id": 9, "image_id": 1, "category_id": 2, "bbox": [10, 5, 10, 5]})");  // 8
  j.annotations.push_back(
      R"({"id": 2, "image_id": 1, "category_id": 2, "bbox": [0, 0, 4, 3]})");  // 9
  j.annotations.push_back(
      R"({"id": 10, "image_id": 1, "category_id": 1, "bbox": [1, 1, 5, 5]})");  // 10
  write_text(d / "annotations.json", j.text());
  const ValidationReport r = validate(d);
  const std::string p = (d / "annotations.json").string();
  const std::multiset<Key> expected = {
      {p, j.image_line(2), "image_missing", Severity::kError},
      {p, j.image_line(3), "image_corrupt", Severity::kError},
      {p, j.image_line(4), "image_size_mismatch", Severity::kError},
      {p, j.image_line(5), "unlabeled_image", Severity::kWarning},
      {p, j.annotation_line(5), "unknown_image_id", Severity::kError},
      {p, j.annotation_line(6), "unknown_category_id", Severity::kError},
      {p, j.annotation_line(7), "box_degenerate", Severity::kError},
      {p, j.annotation_line(8), "box_out_of_bounds", Severity::kError},
      {p, j.annotation_line(9), "duplicate_id", Severity::kError},
      {p, j.annotation_line(10), "duplicate_box", Severity::kWarning},
  };
  EXPECT_EQ(keys(r), expected) << describe(r) << j.text();
  for (const auto& f : r.findings) {
    if (f.kind == "duplicate_id") {
      EXPECT_NE(f.message.find("line " + std::to_string(j.annotation_line(1))), std::string::npos)
          << f.message;
    }
    if (f.kind == "image_size_mismatch") {
      EXPECT_NE(f.message.find("16x12"), std::string::npos) << f.message;
    }
    if (f.kind == "image_corrupt") {
      EXPECT_NE(f.message.find("bad.png"), std::string::npos) << f.message;
    }
  }
}

TEST_F(ValidateTest, CocoEntriesWithoutRequiredFieldsAreInvalid) {
  const fs::path d = root_ / "coco_invalid";
  write_png(d / "images/a.png", 16, 12);
  write_jpeg(d / "images/b.jpg", 20, 10);
  CocoJson j = clean_coco();
  j.images[1] = R"({"id": 2, "file_name": "b.jpg"})";  // no size
  j.annotations.push_back(R"({"id": 3, "image_id": 1, "category_id": 1, "bbox": [1, 1]})");  // 2
  write_text(d / "annotations.json", j.text());
  const ValidationReport r = validate(d);
  const std::string p = (d / "annotations.json").string();
  const std::multiset<Key> expected = {
      {p, j.image_line(1), "invalid_entry", Severity::kError},
      {p, j.annotation_line(2), "invalid_entry", Severity::kError},
  };
  EXPECT_EQ(keys(r), expected) << describe(r);
  EXPECT_EQ(r.images, 2);  // b.jpg is still decoded, its size just cannot be compared
}

TEST_F(ValidateTest, CocoFileNamesOutsideTheDatasetAreFindingsAndNeverRead) {
  const fs::path d = root_ / "coco_escape";
  write_png(d / "images/a.png", 16, 12);
  write_jpeg(d / "images/b.jpg", 20, 10);
  // A secret beside the dataset, reachable by an absolute name and by "..".
  const fs::path secret = root_ / "secret.txt";
  write_text(secret, "root:x:0:0:SECRETVALUE\n");
  CocoJson j = clean_coco();
  j.images.push_back(R"({"id": 3, "file_name": ")" + secret.string() +
                     R"(", "width": 4, "height": 4})");
  j.images.push_back(R"({"id": 4, "file_name": "../../secret.txt", "width": 4, "height": 4})");
  j.images.push_back(R"({"id": 5, "file_name": "../images/a.png", "width": 16, "height": 12})");
  write_text(d / "annotations.json", j.text());
  const ValidationReport r = validate(d);
  const std::string p = (d / "annotations.json").string();
  std::multiset<Key> outside;
  for (const auto& f : r.findings) {
    EXPECT_EQ(f.message.find("SECRET"), std::string::npos) << f.message;
    EXPECT_EQ(f.message.find("72 6f 6f 74"), std::string::npos) << f.message;  // "root" in hex
    if (f.kind == "image_outside_dataset") outside.insert({f.path, f.line, f.kind, f.severity});
  }
  EXPECT_EQ(outside, (std::multiset<Key>{{p, j.image_line(2), "image_outside_dataset", Severity::kError},
                                         {p, j.image_line(3), "image_outside_dataset", Severity::kError}}))
      << describe(r);
  // Neither was decoded (it would be an image_corrupt finding); "../images/a.png" from images/
  // stays inside.
  for (const auto& f : r.findings) EXPECT_NE(f.kind, "image_corrupt") << describe(r);
  EXPECT_EQ(r.images, 3) << describe(r);
}

// Found by fuzz/validate_coco_fuzzer.cpp: a file_name longer than NAME_MAX made the file test
// throw std::filesystem::filesystem_error ("File name too long"), which ended the validation
// instead of becoming a finding.
TEST_F(ValidateTest, CocoFileNameTheFileSystemRefusesIsMissing) {
  const fs::path d = root_ / "coco_long_name";
  write_png(d / "images/a.png", 16, 12);
  write_jpeg(d / "images/b.jpg", 20, 10);
  CocoJson j = clean_coco();
  const std::string long_name(300, 'x');
  j.images.push_back(R"({"id": 3, "file_name": ")" + long_name +
                     R"(.png", "width": 4, "height": 4})");
  j.images.push_back(R"({"id": 4, "file_name": ")" + (d / long_name).string() +
                     R"(.png", "width": 4, "height": 4})");
  write_text(d / "annotations.json", j.text());
  ValidationReport r;
  ASSERT_NO_THROW(r = validate(d));
  const std::string p = (d / "annotations.json").string();
  std::multiset<Key> missing;
  for (const auto& f : r.findings) {
    if (f.kind == "image_missing") missing.insert({f.path, f.line, f.kind, f.severity});
  }
  EXPECT_EQ(missing, (std::multiset<Key>{{p, j.image_line(2), "image_missing", Severity::kError},
                                         {p, j.image_line(3), "image_missing", Severity::kError}}))
      << describe(r);
  EXPECT_EQ(r.images, 2) << describe(r);
}

TEST_F(ValidateTest, CocoParseErrorNamesTheLine) {
  const fs::path d = root_ / "coco_parse";
  write_text(d / "annotations/instances_val.json",
             "{\n  \"images\": [\n    {\"id\": 1 \"file_name\": \"a.png\"}\n  ]\n}\n");
  const ValidationReport r = validate(d);
  EXPECT_EQ(r.format, DatasetFormat::kCoco);
  ASSERT_EQ(r.findings.size(), 1U) << describe(r);
  EXPECT_EQ(r.findings[0].kind, "json_parse_error");
  EXPECT_EQ(r.findings[0].path, (d / "annotations/instances_val.json").string());
  EXPECT_EQ(r.findings[0].line, 3);
}

TEST_F(ValidateTest, CocoFileGivenExplicitlyResolvesImagesBesideIt) {
  // Roboflow's layout: the JSON sits in the split folder with its images.
  const fs::path d = root_ / "coco_split";
  write_png(d / "train/a.png", 16, 12);
  write_jpeg(d / "train/b.jpg", 20, 10);
  write_text(d / "train/_annotations.coco.json", clean_coco().text());
  ValidateOptions options;
  options.dir = d;
  options.coco_json = d / "train/_annotations.coco.json";
  const ValidationReport r = vpipe::validate_dataset(options);
  EXPECT_EQ(r.format, DatasetFormat::kCoco);
  EXPECT_TRUE(r.findings.empty()) << describe(r);
  EXPECT_EQ(r.images, 2);
}

TEST_F(ValidateTest, AppendedFindingsAreCountedAndSorted) {
  const fs::path d = make_clean_yolo("append");
  ValidationReport r = validate(d);
  r.add((d / "a").string(), 3, Severity::kError, "crop_mismatch", "an extra check's finding");
  r.add((d / "a").string(), 1, Severity::kWarning, "crop_mismatch", "another");
  r.sort_findings();
  ASSERT_EQ(r.findings.size(), 2U);
  EXPECT_EQ(r.findings[0].line, 1);
  EXPECT_EQ(r.errors(), 1);
  EXPECT_EQ(r.warnings(), 1);
  EXPECT_EQ(r.counts_by_kind().at("crop_mismatch").second, 2);
}

TEST_F(ValidateTest, MissingDirectoryAndUnknownLayoutThrow) {
  ValidateOptions options;
  options.dir = root_ / "nope";
  EXPECT_THROW((void)vpipe::validate_dataset(options), vpipe::IoError);
  fs::create_directories(root_ / "empty");
  options.dir = root_ / "empty";
  EXPECT_THROW((void)vpipe::validate_dataset(options), vpipe::ConfigError);
}

}  // namespace
