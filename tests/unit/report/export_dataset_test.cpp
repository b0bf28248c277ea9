// The dataset exports (COCO, YOLO, detections CSV) over a manifest built in code.

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>
#include <yaml-cpp/yaml.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "records.h"
#include "temp_dir.h"
#include "vpipe/core/error.h"
#include "vpipe/dedup/dedup_store.h"
#include "vpipe/infer/inference_store.h"
#include "vpipe/io/file_store.h"
#include "vpipe/io/manifest.h"
#include "vpipe/report/export.h"

namespace vpipe {
namespace {

namespace fs = std::filesystem;
using testing::box;
using testing::inference;
using testing::TempDir;
using testing::top_class;

std::string read_text(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

/// Inputs: one/a.jpg (640x480: a cat, a dog partly outside the frame), two/a.jpg (100x200, same
/// name: a cat reaching below the frame), "b,c.png" (1000x500, no detection), rejected.jpg
/// (rejected by dedup: a bird), gone.jpg (inferred, then deleted). Models "det" (boxes) and
/// "cls" (a classifier, on one/a.jpg).
class ExportDatasetTest : public ::testing::Test {
 protected:
  void SetUp() override {
    in_ = dir_ / "in";
    fs::create_directories(in_ / "one");
    fs::create_directories(in_ / "two");
    a1_ = (in_ / "one" / "a.jpg").string();
    a2_ = (in_ / "two" / "a.jpg").string();
    b_ = (in_ / "b,c.png").string();
    rejected_ = (in_ / "rejected.jpg").string();
    gone_ = (in_ / "gone.jpg").string();
    for (const std::string& p : {a1_, a2_, b_, rejected_, gone_}) std::ofstream(p) << p;

    manifest_ = std::make_unique<Manifest>(dir_ / "run.db");
    FileStore(*manifest_)
        .upsert_files(std::vector<FileRecord>{file(a1_, 640, 480), file(a2_, 100, 200),
                                              file(b_, 1000, 500), file(rejected_, 64, 64),
                                              file(gone_, 64, 64)});
    const int64_t a1 = id(a1_), a2 = id(a2_), b = id(b_), r = id(rejected_), g = id(gone_);
    InferenceStore(*manifest_)
        .record_inferences(std::vector<InferenceRecord>{
            inference(
                a1, "det",
                {box(0, "cat", 0.9f, 64, 48, 320, 240), box(2, "dog", 0.3f, -10, -10, 32, 24)}),
            inference(a2, "det", {box(0, "cat", 0.8f, 10, 20, 60, 220)}), inference(b, "det", {}),
            inference(r, "det", {box(1, "bird", 0.7f, 1, 1, 9, 9)}), inference(g, "det", {}),
            inference(a1, "cls", {top_class(5, "beach", 0.75f)})});
    DecisionRecord reject;
    reject.file_id = r;
    reject.decision = "reject";
    DecisionRecord keep;
    keep.file_id = a1;
    keep.decision = "keep";
    DedupStore(*manifest_).replace_dedup_results({}, std::vector<DecisionRecord>{reject, keep});
    // Crop of one/a.jpg's cat.
    InferenceStore(*manifest_)
        .for_each_detection({}, [&](const InferenceStore::FileDetections& row) {
          for (const DetectionRecord& d : row.detections) {
            if (row.file.path == a1_ && d.label == "cat") {
              CropRecord c;
              c.detection_id = d.id;
              c.path = "/crops/cat 1.jpg";
              InferenceStore(*manifest_).record_crops(std::span<const CropRecord>(&c, 1));
              return false;
            }
          }
          return true;
        });
    fs::remove(gone_);
  }

  static FileRecord file(const std::string& path, int width, int height) {
    FileRecord f;
    f.path = path;
    f.size_bytes = 1;
    f.mtime_ns = 1;
    f.format = "jpeg";
    f.width = width;
    f.height = height;
    return f;
  }
  int64_t id(const std::string& path) const { return FileStore(*manifest_).find_file(path)->id; }

  ExportOptions options(ExportFormat format, const fs::path& out, const char* model = "det") {
    ExportOptions o;
    o.format = format;
    o.out = out;
    o.model = model;
    return o;
  }

  /// No DIR.partial-* or temporary file is left next to the outputs.
  void expect_no_leftovers() {
    for (const fs::directory_entry& e : fs::directory_iterator(dir_)) {
      const std::string name = e.path().filename().string();
      EXPECT_EQ(name.find(".partial-"), std::string::npos) << name;
      EXPECT_EQ(name.find("vpipe-tmp"), std::string::npos) << name;
    }
  }

  TempDir tmp_{"vpipe_export_dataset_"};
  fs::path dir_ = tmp_.path(), in_;
  std::string a1_, a2_, b_, rejected_, gone_;
  std::unique_ptr<Manifest> manifest_;
};

TEST_F(ExportDatasetTest, YoloDatasetHasImagesLabelsAndDataYaml) {
  const fs::path out = dir_ / "yolo";
  const DatasetExportSummary s = export_dataset(*manifest_, options(ExportFormat::kYolo, out));
  EXPECT_EQ(s.model, "det");
  EXPECT_EQ(s.images, 3);       // keepers: one/a, two/a, b,c (rejected left out, gone skipped)
  EXPECT_EQ(s.skipped, 1);      // gone.jpg
  EXPECT_EQ(s.annotations, 3);  // cat, dog, cat
  expect_no_leftovers();
  EXPECT_TRUE(fs::exists(out / ".vpipe-export"));

  // Unique names: the first a.jpg keeps its name, the second gets a_<8 hex>.jpg.
  std::set<std::string> images;
  for (const auto& e : fs::directory_iterator(out / "images")) {
    images.insert(e.path().filename().string());
  }
  ASSERT_EQ(images.size(), 3U);
  EXPECT_TRUE(images.count("a.jpg"));
  EXPECT_TRUE(images.count("b,c.png"));
  std::string second;
  for (const std::string& name : images) {
    if (name != "a.jpg" && name != "b,c.png") second = name;
  }
  ASSERT_EQ(second.size(), std::string("a_12345678.jpg").size()) << second;
  EXPECT_EQ(second.substr(0, 2), "a_");
  EXPECT_EQ(second.find_first_not_of("0123456789abcdef", 2), 10U) << second;
  // Hard links to the inputs, in path order: one/a.jpg is "a.jpg".
  EXPECT_TRUE(fs::equivalent(out / "images" / "a.jpg", a1_));
  EXPECT_TRUE(fs::equivalent(out / "images" / second, a2_));
  EXPECT_FALSE(fs::is_symlink(out / "images" / "a.jpg"));
  EXPECT_EQ(fs::hard_link_count(a1_), 2U);

  // One label file per image, named by its stem; the image with no detection has an empty one.
  std::set<std::string> labels;
  for (const auto& e : fs::directory_iterator(out / "labels")) {
    labels.insert(e.path().filename().string());
  }
  EXPECT_EQ(labels, (std::set<std::string>{"a.txt", second.substr(0, 10) + ".txt", "b,c.txt"}));
  EXPECT_EQ(read_text(out / "labels" / "b,c.txt"), "");

  // Every label line is class + 4 numbers in [0, 1], 6 decimals.
  for (const std::string& name : labels) {
    for (const std::string& line : lines_of(read_text(out / "labels" / name))) {
      std::istringstream in(line);
      int cls = -1;
      in >> cls;
      EXPECT_GE(cls, 0) << line;
      std::vector<std::string> fields;
      for (std::string f; in >> f;) fields.push_back(f);
      ASSERT_EQ(fields.size(), 4U) << line;
      for (const std::string& f : fields) {
        EXPECT_EQ(f.size() - f.find('.') - 1, 6U) << line;
        const double v = std::stod(f);
        EXPECT_GE(v, 0.0) << line;
        EXPECT_LE(v, 1.0) << line;
      }
    }
  }
  // The numbers: cat (64,48)-(320,240) in 640x480; dog clipped to (0,0)-(32,24).
  EXPECT_EQ(lines_of(read_text(out / "labels" / "a.txt")),
            (std::vector<std::string>{"0 0.300000 0.300000 0.400000 0.400000",
                                      "2 0.025000 0.025000 0.050000 0.050000"}));
  // Cat (10,20)-(60,220) in 100x200, clipped at the bottom to y 200.
  EXPECT_EQ(read_text(out / "labels" / (second.substr(0, 10) + ".txt")),
            "0 0.350000 0.550000 0.500000 0.900000\n");

  const YAML::Node data = YAML::LoadFile((out / "data.yaml").string());
  EXPECT_EQ(data["train"].as<std::string>(), "images");
  EXPECT_EQ(data["val"].as<std::string>(), "images");
  EXPECT_EQ(fs::path(data["path"].as<std::string>()), fs::absolute(out));
  EXPECT_EQ(data["nc"].as<int>(), 3);  // class ids 0..2
  ASSERT_EQ(data["names"].size(), 3U);
  EXPECT_EQ(data["names"][0].as<std::string>(), "cat");
  EXPECT_EQ(data["names"][1].as<std::string>(), "class_1");  // bird only on a rejected file
  EXPECT_EQ(data["names"][2].as<std::string>(), "dog");
}

TEST_F(ExportDatasetTest, YoloAllFilesMinScoreAndCopies) {
  const fs::path out = dir_ / "yolo-all";
  ExportOptions o = options(ExportFormat::kYolo, out);
  o.all_files = true;
  o.min_score = 0.5f;
  o.copy_images = true;
  const DatasetExportSummary s = export_dataset(*manifest_, o);
  EXPECT_EQ(s.images, 4);       // the rejected file too
  EXPECT_EQ(s.annotations, 3);  // cat, cat, bird; the dog (0.3) is below --min-score
  EXPECT_EQ(lines_of(read_text(out / "labels" / "a.txt")).size(), 1U);
  // Bird (1,1)-(9,9) in 64x64.
  EXPECT_EQ(read_text(out / "labels" / "rejected.txt"), "1 0.078125 0.078125 0.125000 0.125000\n");
  EXPECT_FALSE(fs::equivalent(out / "images" / "a.jpg", a1_));  // a copy
  EXPECT_EQ(read_text(out / "images" / "a.jpg"), a1_);
  const YAML::Node data = YAML::LoadFile((out / "data.yaml").string());
  EXPECT_EQ(data["nc"].as<int>(), 2);  // the dog is gone: classes 0..1
  EXPECT_EQ(data["names"][1].as<std::string>(), "bird");
}

TEST_F(ExportDatasetTest, CocoFileHasImagesAnnotationsAndCategories) {
  const fs::path out = dir_ / "coco.json";
  const DatasetExportSummary s = export_dataset(*manifest_, options(ExportFormat::kCoco, out));
  // A file names the inputs by path and does not read them: gone.jpg is listed too.
  EXPECT_EQ(s.images, 4);
  EXPECT_EQ(s.annotations, 3);
  expect_no_leftovers();
  const YAML::Node coco = YAML::LoadFile(out.string());
  const YAML::Node images = coco["images"];
  ASSERT_EQ(images.size(), 4U);
  std::map<int64_t, YAML::Node> by_id;
  for (const YAML::Node& image : images) by_id[image["id"].as<int64_t>()] = image;
  ASSERT_EQ(by_id.size(), 4U);  // unique ids
  // Image ids are the manifest's file ids; file names its paths.
  ASSERT_TRUE(by_id.count(id(a1_)));
  EXPECT_EQ(by_id[id(a1_)]["file_name"].as<std::string>(), a1_);
  EXPECT_EQ(by_id[id(a1_)]["width"].as<int>(), 640);
  EXPECT_EQ(by_id[id(a1_)]["height"].as<int>(), 480);
  EXPECT_EQ(by_id[id(b_)]["file_name"].as<std::string>(), b_);
  EXPECT_FALSE(by_id.count(id(rejected_)));

  const YAML::Node annotations = coco["annotations"];
  ASSERT_EQ(annotations.size(), 3U);
  std::set<int64_t> annotation_ids;
  int checked = 0;
  for (const YAML::Node& a : annotations) {
    annotation_ids.insert(a["id"].as<int64_t>());
    EXPECT_TRUE(by_id.count(a["image_id"].as<int64_t>()));
    EXPECT_EQ(a["iscrowd"].as<int>(), 0);
    const YAML::Node bbox = a["bbox"];
    ASSERT_EQ(bbox.size(), 4U);
    EXPECT_DOUBLE_EQ(a["area"].as<double>(), bbox[2].as<double>() * bbox[3].as<double>());
    if (a["image_id"].as<int64_t>() == id(a2_)) {
      // (10,20)-(60,220) clipped to the 100x200 image: x, y, w, h.
      EXPECT_EQ(a["category_id"].as<int>(), 1);  // class 0 + 1
      EXPECT_DOUBLE_EQ(bbox[0].as<double>(), 10);
      EXPECT_DOUBLE_EQ(bbox[1].as<double>(), 20);
      EXPECT_DOUBLE_EQ(bbox[2].as<double>(), 50);
      EXPECT_DOUBLE_EQ(bbox[3].as<double>(), 180);
      EXPECT_NEAR(a["score"].as<double>(), 0.8, 1e-6);
      ++checked;
    }
    if (a["category_id"].as<int>() == 3) {  // the dog, class 2, clipped to (0,0)-(32,24)
      EXPECT_DOUBLE_EQ(bbox[0].as<double>(), 0);
      EXPECT_DOUBLE_EQ(bbox[2].as<double>(), 32);
      EXPECT_DOUBLE_EQ(bbox[3].as<double>(), 24);
      ++checked;
    }
  }
  EXPECT_EQ(checked, 2);
  EXPECT_EQ(annotation_ids.size(), 3U);
  const YAML::Node categories = coco["categories"];
  ASSERT_EQ(categories.size(), 2U);  // seen: cat, dog (bird only on the rejected file)
  EXPECT_EQ(categories[0]["id"].as<int>(), 1);
  EXPECT_EQ(categories[0]["name"].as<std::string>(), "cat");
  EXPECT_EQ(categories[1]["id"].as<int>(), 3);
  EXPECT_EQ(categories[1]["name"].as<std::string>(), "dog");

  // Ids are stable: a second export of the same manifest gives the same ids.
  const fs::path again = dir_ / "again.json";
  ExportOptions o = options(ExportFormat::kCoco, again);
  o.all_files = true;
  export_dataset(*manifest_, o);
  const YAML::Node coco2 = YAML::LoadFile(again.string());
  EXPECT_EQ(coco2["images"].size(), 5U);
  std::set<int64_t> ids2;
  for (const YAML::Node& a : coco2["annotations"]) ids2.insert(a["id"].as<int64_t>());
  for (const int64_t i : annotation_ids) EXPECT_TRUE(ids2.count(i)) << i;
}

TEST_F(ExportDatasetTest, CocoDirectoryNamesImagesRelativeToIt) {
  const fs::path out = dir_ / "coco";
  const DatasetExportSummary s = export_dataset(*manifest_, options(ExportFormat::kCoco, out));
  EXPECT_EQ(s.images, 3);
  const YAML::Node coco = YAML::LoadFile((out / "annotations.json").string());
  ASSERT_EQ(coco["images"].size(), 3U);
  for (const YAML::Node& image : coco["images"]) {
    const std::string name = image["file_name"].as<std::string>();
    EXPECT_EQ(name.substr(0, 7), "images/") << name;
    EXPECT_TRUE(fs::exists(out / name)) << name;
  }
  expect_no_leftovers();
}

TEST_F(ExportDatasetTest, DetectionsCsvHasOneRowPerPrediction) {
  const fs::path out = dir_ / "detections.csv";
  ExportOptions o = options(ExportFormat::kDetections, out);
  o.all_files = true;
  const DatasetExportSummary s = export_dataset(*manifest_, o);
  EXPECT_EQ(s.annotations, 4);
  const std::vector<std::string> lines = lines_of(read_text(out));
  ASSERT_EQ(lines.size(), 5U);
  EXPECT_EQ(lines[0], "path,model,task,rank,class_id,label,score,x1,y1,x2,y2,crop_path");
  // By path, then rank; the cat has its crop.
  EXPECT_EQ(lines[1], a1_ + ",det,detect,0,0,cat,0.9,64,48,320,240,/crops/cat 1.jpg");
  EXPECT_EQ(lines[2], a1_ + ",det,detect,1,2,dog,0.3,-10,-10,32,24,");
  EXPECT_EQ(lines[3].substr(0, rejected_.size()), rejected_);  // by path: in/rejected < in/two
  EXPECT_EQ(lines[4], a2_ + ",det,detect,0,0,cat,0.8,10,20,60,220,");

  // The classifier: no box, so empty x1..y2.
  const fs::path cls_out = dir_ / "cls.csv";
  ExportOptions c = options(ExportFormat::kDetections, cls_out, "cls");
  c.task = "classify";
  EXPECT_EQ(export_dataset(*manifest_, c).annotations, 1);
  EXPECT_EQ(lines_of(read_text(cls_out)).at(1), a1_ + ",cls,classify,0,5,beach,0.75,,,,,");

  // A path with a comma is quoted (RFC 4180): make b,c.png have a detection.
  InferenceRecord r = inference(id(b_), "det", {box(0, "cat", 0.5f, 0, 0, 1, 1)});
  InferenceStore(*manifest_).record_inferences(std::span<const InferenceRecord>(&r, 1));
  export_dataset(*manifest_, o);
  bool quoted = false;
  for (const std::string& line : lines_of(read_text(out))) {
    if (line.rfind("\"" + b_ + "\",det,", 0) == 0) quoted = true;
  }
  EXPECT_TRUE(quoted);
}

TEST(DatasetExportFormat, ParsesTheNewNames) {
  ExportFormat f = ExportFormat::kCsv;
  EXPECT_TRUE(parse_export_format("coco", f));
  EXPECT_EQ(f, ExportFormat::kCoco);
  EXPECT_TRUE(parse_export_format("yolo", f));
  EXPECT_EQ(f, ExportFormat::kYolo);
  EXPECT_TRUE(parse_export_format("detections", f));
  EXPECT_EQ(f, ExportFormat::kDetections);
  EXPECT_TRUE(is_dataset_format(f));
  EXPECT_FALSE(is_dataset_format(ExportFormat::kKeepers));
}

TEST_F(ExportDatasetTest, ModelMustBeChosenWhenThereAreSeveral) {
  ExportOptions o = options(ExportFormat::kDetections, dir_ / "x.csv", "");
  try {
    export_dataset(*manifest_, o);
    ADD_FAILURE() << "no error for two models";
  } catch (const ConfigError& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("cls, det"), std::string::npos) << what;
    EXPECT_NE(what.find("--model"), std::string::npos) << what;
  }
  o.model = "nope";
  EXPECT_THROW(export_dataset(*manifest_, o), ConfigError);
  ExportOptions yolo = options(ExportFormat::kYolo, dir_ / "y");
  yolo.task = "classify";
  EXPECT_THROW(export_dataset(*manifest_, yolo), ConfigError);
  EXPECT_FALSE(fs::exists(dir_ / "x.csv"));
  EXPECT_FALSE(fs::exists(dir_ / "y"));

  Manifest empty(dir_ / "empty.db");
  EXPECT_THROW(export_dataset(empty, options(ExportFormat::kCoco, dir_ / "e.json", "")),
               ConfigError);
}

TEST_F(ExportDatasetTest, AnExistingFileIsReplacedOnlyIfAnEarlierExportOrWithForce) {
  const std::string photo_bytes = std::string("\xFF\xD8\xFF\xE0", 4) + "a photo, not an export";
  const auto bytes_of = [](const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), {});
  };
  struct Case {
    ExportFormat format;
    const char* name;
    bool null_terminated;
  };
  for (const Case& c : {Case{ExportFormat::kCsv, "out.csv", false},
                        Case{ExportFormat::kJsonl, "out.jsonl", false},
                        Case{ExportFormat::kKeepers, "keepers.txt", false},
                        Case{ExportFormat::kKeepers, "keepers0.txt", true},
                        Case{ExportFormat::kDetections, "detections.csv", false},
                        Case{ExportFormat::kCoco, "coco.json", false}}) {
    SCOPED_TRACE(c.name);
    const fs::path out = dir_ / c.name;
    ExportOptions o = options(c.format, out);
    o.null_terminated = c.null_terminated;
    export_manifest(*manifest_, o);
    const std::string first = bytes_of(out);
    ASSERT_FALSE(first.empty());
    // Its own earlier export is replaced without --force.
    EXPECT_NO_THROW(export_manifest(*manifest_, o));
    EXPECT_EQ(bytes_of(out), first);

    // A file it never wrote is refused and left as it was, unless --force.
    std::ofstream(out, std::ios::binary | std::ios::trunc) << photo_bytes;
    EXPECT_THROW(export_manifest(*manifest_, o), ConfigError);
    EXPECT_EQ(bytes_of(out), photo_bytes);
    ExportOptions forced = o;
    forced.force = true;
    export_manifest(*manifest_, forced);
    EXPECT_EQ(bytes_of(out), first);

    // A symbolic link is refused (the rename would replace the link, not write through it);
    // with --force the link is replaced and what it pointed to stays.
    const fs::path target = dir_ / (std::string(c.name) + ".photo.jpg");
    std::ofstream(target, std::ios::binary) << photo_bytes;
    const fs::path link = dir_ / (std::string("link-") + c.name);  // coco: a .json name is a file
    fs::create_symlink(target, link);
    ExportOptions through = o;
    through.out = link;
    EXPECT_THROW(export_manifest(*manifest_, through), ConfigError);
    EXPECT_TRUE(fs::is_symlink(link));
    through.force = true;
    export_manifest(*manifest_, through);
    EXPECT_FALSE(fs::is_symlink(link));
    EXPECT_EQ(bytes_of(link), first);
    EXPECT_EQ(bytes_of(target), photo_bytes);
  }
  // A keepers list of paths this manifest does not hold is not an earlier export.
  const fs::path list = dir_ / "mine.txt";
  std::ofstream(list) << "/home/someone/notes.txt\n";
  EXPECT_THROW(export_manifest(*manifest_, options(ExportFormat::kKeepers, list)), ConfigError);
  expect_no_leftovers();
}

TEST_F(ExportDatasetTest, ExistingDirectoryIsReplacedOnlyWithForceAndOnlyIfAnExport) {
  const fs::path out = dir_ / "yolo";
  export_dataset(*manifest_, options(ExportFormat::kYolo, out));
  std::ofstream(out / "stale.txt") << "from before";
  ExportOptions o = options(ExportFormat::kYolo, out);
  EXPECT_THROW(export_dataset(*manifest_, o), ConfigError);
  EXPECT_TRUE(fs::exists(out / "stale.txt"));
  o.force = true;
  o.all_files = true;
  EXPECT_EQ(export_dataset(*manifest_, o).images, 4);
  EXPECT_FALSE(fs::exists(out / "stale.txt"));  // replaced as a whole
  EXPECT_TRUE(fs::exists(out / "labels" / "rejected.txt"));
  expect_no_leftovers();

  // A directory that is not an export is never replaced.
  const fs::path photos = dir_ / "photos";
  fs::create_directories(photos);
  std::ofstream(photos / "keep.jpg") << "x";
  ExportOptions p = options(ExportFormat::kYolo, photos);
  p.force = true;
  EXPECT_THROW(export_dataset(*manifest_, p), ConfigError);
  EXPECT_TRUE(fs::exists(photos / "keep.jpg"));
  expect_no_leftovers();
}

}  // namespace
}  // namespace vpipe
