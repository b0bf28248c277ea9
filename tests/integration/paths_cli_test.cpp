// End-to-end tests of how the manifest names files (docs/MANIFEST.md, "Paths"): absolute paths
// with a canonical folder, so every command works from any directory and one file is one row
// however its folder was named on the command line.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "json_check.h"
#include "process.h"
#include "temp_dir.h"
#include "vpipe/curate/action_store.h"
#include "vpipe/infer/inference_store.h"
#include "vpipe/io/file_store.h"
#include "vpipe/io/manifest.h"

namespace vpipe {
namespace {

namespace fs = std::filesystem;
using testing::ProcessResult;
using testing::run_vpipe;
using testing::TempDir;

std::string describe(const ProcessResult& r) {
  return "exit " + std::to_string(r.exit_code) + "\nstdout:\n" + r.out + "\nstderr:\n" + r.err;
}

int64_t regular_files_under(const fs::path& dir) {
  int64_t n = 0;
  if (!fs::exists(dir)) return 0;
  for (const auto& e : fs::recursive_directory_iterator(dir)) {
    n += e.is_regular_file() && e.path().filename() != ".vpipe-output" ? 1 : 0;  // not vpipe's mark
  }
  return n;
}

class PathsCli : public ::testing::Test {
 protected:
  void SetUp() override {
    for (const char* dir : {"a", "b"}) fs::create_directories(root_ / dir);
    const ProcessResult synth = vpipe({"synth", photos_.string(), "--n", "6", "--seed", "5",
                                       "--mix", "small"});
    ASSERT_EQ(synth.exit_code, 0) << describe(synth);
    for (const auto& e : fs::recursive_directory_iterator(photos_)) {
      if (e.is_regular_file() && e.path().filename() != "truth.csv") images_.push_back(e.path());
    }
    ASSERT_FALSE(images_.empty());
  }

  /// Runs vpipe in `cwd` (a folder under the test's root).
  ProcessResult vpipe(const std::vector<std::string>& args, const std::string& cwd = "") const {
    return run_vpipe(args, root_.string(), cwd.empty() ? "" : (root_ / cwd).string());
  }

  TempDir tmp_{"vpipe_paths_cli_"};
  fs::path root_ = fs::canonical(tmp_.path());
  fs::path photos_ = root_ / "data" / "photos";
  std::vector<fs::path> images_;
};

TEST_F(PathsCli, ScanFromOneDirectoryThenReportDetectAndExportFromAnother) {
  const ProcessResult scan = vpipe({"scan", "../data/photos", "--db", "run.db", "--threads", "2"}, "a");
  ASSERT_EQ(scan.exit_code, 0) << describe(scan);
  const std::string db = (root_ / "a" / "run.db").string();
  {
    const Manifest manifest(db);
    const std::vector<FileRecord> files = FileStore(manifest).all_files();
    ASSERT_EQ(files.size(), images_.size());
    for (const FileRecord& f : files) {
      EXPECT_EQ(f.path.rfind(photos_.string() + "/", 0), 0U) << f.path << " is not absolute";
    }
  }

  // dedup confirms exact copies byte for byte: it reads the files by their stored paths.
  const ProcessResult dedup = vpipe({"dedup", db}, "b");
  ASSERT_EQ(dedup.exit_code, 0) << describe(dedup);
  EXPECT_NE(dedup.out.find("dedup: " + std::to_string(images_.size()) + " files"),
            std::string::npos) << dedup.out;

  const ProcessResult report = vpipe({"report", db, "--out", "report", "--threads", "2"}, "b");
  ASSERT_EQ(report.exit_code, 0) << describe(report);
  EXPECT_NE(report.out.find(", 0 placeholders)"), std::string::npos) << report.out;
  EXPECT_NE(report.out.find("report: report/index.html"), std::string::npos)
      << "printed relative to the current directory: " << report.out;

  const ProcessResult detect = vpipe({"detect", db, "-m", "haar:frontalface_default", "--all",
                                      "--device", "cpu", "--threads", "2"}, "b");
  ASSERT_EQ(detect.exit_code, 0) << describe(detect);
  EXPECT_EQ(InferenceStore(Manifest(db)).inference_counts(),
            (std::map<std::string, int64_t>{{"ok", static_cast<int64_t>(images_.size())}}))
      << describe(detect);

  const ProcessResult yolo =
      vpipe({"export", db, "--format", "yolo", "--all", "--out", "yolo"}, "b");
  ASSERT_EQ(yolo.exit_code, 0) << describe(yolo);
  EXPECT_EQ(yolo.err.find("left out"), std::string::npos) << yolo.err;
  EXPECT_EQ(regular_files_under(root_ / "b" / "yolo" / "images"),
            static_cast<int64_t>(images_.size()));

  const ProcessResult csv = vpipe({"export", db, "--format", "csv"}, "b");
  ASSERT_EQ(csv.exit_code, 0) << describe(csv);
  EXPECT_NE(csv.out.find(images_[0].string()), std::string::npos) << csv.out;
}

TEST_F(PathsCli, OneFolderNamedFiveWaysIsOneRowPerFile) {
  fs::create_directory_symlink(photos_, root_ / "link");
  const auto scan = [&](const std::vector<std::string>& what) {
    std::vector<std::string> args = {"scan"};
    args.insert(args.end(), what.begin(), what.end());
    for (const char* a : {"--db", "run.db", "--threads", "2"}) args.emplace_back(a);
    const ProcessResult r = vpipe(args, "a");
    EXPECT_EQ(r.exit_code, 0) << describe(r);
    return r.out;
  };
  scan({"../data/photos"});
  const std::string unchanged = "scanned 0 files";
  EXPECT_EQ(scan({"./../data/photos/"}).rfind(unchanged, 0), 0U);
  EXPECT_EQ(scan({photos_.string()}).rfind(unchanged, 0), 0U);
  EXPECT_EQ(scan({"../link"}).rfind(unchanged, 0), 0U) << "a symlink to the folder";
  {
    std::ofstream list(root_ / "a" / "list.txt");
    for (const fs::path& image : images_) {
      list << "../link/" << fs::relative(image, photos_).string() << "\n";
    }
  }
  EXPECT_EQ(scan({"--list", "list.txt"}).rfind(unchanged, 0), 0U);
  EXPECT_EQ(FileStore(Manifest(root_ / "a" / "run.db")).count_files(),
            static_cast<int64_t>(images_.size()));
}

TEST_F(PathsCli, UndoFromAnotherDirectoryRemovesTheCopies) {
  ASSERT_EQ(vpipe({"scan", "../data/photos", "--db", "run.db", "--threads", "2"}, "a").exit_code, 0);
  const ProcessResult dedup = vpipe({"dedup", "run.db", "--copy-keepers", "copies"}, "a");
  ASSERT_EQ(dedup.exit_code, 0) << describe(dedup);
  const fs::path copies = root_ / "a" / "copies";
  const int64_t copied = regular_files_under(copies);
  ASSERT_GT(copied, 0) << describe(dedup);
  const std::string db = (root_ / "a" / "run.db").string();
  for (const ActionRecord& a : ActionStore(Manifest(db)).actions()) {
    EXPECT_EQ(a.source.rfind(photos_.string() + "/", 0), 0U) << a.source;
    EXPECT_EQ(a.target.rfind(copies.string() + "/", 0), 0U) << a.target;
  }

  const ProcessResult undo = vpipe({"undo", db}, "b");
  ASSERT_EQ(undo.exit_code, 0) << describe(undo);
  EXPECT_NE(undo.out.find(std::to_string(copied) + " copies/links removed"), std::string::npos)
      << undo.out;
  EXPECT_EQ(regular_files_under(copies), 0);
  EXPECT_EQ(regular_files_under(photos_) - 1, static_cast<int64_t>(images_.size()))
      << "the originals (and truth.csv) are untouched";
}

TEST_F(PathsCli, EveryCommandsJsonIsOneObjectWithAbsolutePaths) {
  // Each --json output: one line, valid JSON, the command's name, paths absolute (docs/CLI.md).
  const auto expect_object = [](const ProcessResult& r, const std::string& command) {
    ASSERT_EQ(r.exit_code, 0) << describe(r);
    EXPECT_EQ(testing::json_error(r.out), "") << r.out;
    EXPECT_EQ(r.out.find('\n'), r.out.size() - 1) << r.out;
    EXPECT_EQ(r.out.rfind("{\"command\":\"" + command + "\",", 0), 0U) << r.out;
  };
  const ProcessResult synth =
      vpipe({"synth", (root_ / "more").string(), "--n", "4", "--mix", "small", "--json"});
  expect_object(synth, "synth");
  EXPECT_NE(synth.out.find(R"("synth":{"files":4,"kinds":{"original":4},"truth":)"),
            std::string::npos)
      << synth.out;

  const std::string db = (root_ / "a" / "run.db").string();
  ASSERT_EQ(vpipe({"scan", "../data/photos", "--db", "run.db"}, "a").exit_code, 0);
  const ProcessResult report = vpipe({"report", db, "--out", "report", "--json"}, "b");
  expect_object(report, "report");
  EXPECT_NE(report.out.find(R"("index":")" + (root_ / "b" / "report" / "index.html").string()),
            std::string::npos)
      << "absolute, where the text says report/index.html: " << report.out;
  EXPECT_NE(report.out.find(R"("thumbnail_failures":0})"), std::string::npos) << report.out;

  const ProcessResult detect = vpipe({"detect", db, "-m", "haar:frontalface_default", "--all",
                                      "--device", "cpu", "--threads", "2", "--json"},
                                     "b");
  expect_object(detect, "detect");
  EXPECT_NE(detect.out.find(R"("infer":{"model":"haar:frontalface_default",)"), std::string::npos)
      << detect.out;
  EXPECT_NE(detect.out.find(R"("ok":)" + std::to_string(images_.size()) + ","), std::string::npos)
      << detect.out;
  EXPECT_EQ(detect.out.find("\"scan\":"), std::string::npos) << "no folders given, no scan";

  const ProcessResult undo = vpipe({"undo", db, "--json"}, "b");
  expect_object(undo, "undo");
  EXPECT_NE(undo.out.find(R"("undo":{"restored":0,"removed":0,"skipped":0,"failed":0,)"),
            std::string::npos)
      << undo.out;
}

}  // namespace
}  // namespace vpipe
