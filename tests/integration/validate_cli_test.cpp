// End-to-end tests of `vpipe validate`: exit codes (0 clean or warnings only, 1 errors, 2 usage
// or IO failure), the `path:line: severity: message` lines, the summary, --json, --max-findings.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "process.h"
#include "vpipe/io/encode.h"

namespace fs = std::filesystem;
using vpipe::testing::run_vpipe;

namespace {

void write_text(const fs::path& path, const std::string& text) {
  fs::create_directories(path.parent_path());
  std::ofstream(path, std::ios::binary) << text;
}

void write_png(const fs::path& path, int w, int h) {
  vpipe::Image img(w, h, 1);
  for (size_t i = 0; i < img.pixels.size(); ++i) img.pixels[i] = static_cast<uint8_t>(i * 5);
  const std::vector<uint8_t> bytes = vpipe::encode_png(img);
  fs::create_directories(path.parent_path());
  std::ofstream(path, std::ios::binary)
      .write(reinterpret_cast<const char*>(bytes.data()),
             static_cast<std::streamsize>(bytes.size()));
}

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) out.push_back(line);
  return out;
}

bool starts_with(const std::string& s, const std::string& prefix) {
  return s.rfind(prefix, 0) == 0;
}

class ValidateCli : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = fs::temp_directory_path() /
            ("vpipe_validate_cli_" + std::to_string(::getpid()) + "_" +
             ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(root_);
    fs::create_directories(root_);
    data_ = root_ / "ds";
    write_text(data_ / "data.yaml", "names: [cat, dog]\n");
    write_png(data_ / "images/a.png", 8, 8);
    write_text(data_ / "labels/a.txt", "0 0.5 0.5 0.5 0.5\n");
  }
  void TearDown() override { fs::remove_all(root_); }

  vpipe::testing::ProcessResult vpipe(const std::vector<std::string>& args) const {
    return run_vpipe(args, root_.string());
  }

  fs::path root_;
  fs::path data_;
};

TEST_F(ValidateCli, CleanDatasetExitsZero) {
  const auto r = vpipe({"validate", data_.string()});
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("no problems found"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("1 images"), std::string::npos) << r.out;
}

TEST_F(ValidateCli, WarningsOnlyExitZeroErrorsExitOne) {
  write_png(data_ / "images/b.png", 8, 8);  // no label file: a warning
  auto r = vpipe({"validate", data_.string()});
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  const std::string b = (data_ / "images/b.png").string();
  ASSERT_FALSE(lines_of(r.out).empty());
  EXPECT_TRUE(starts_with(lines_of(r.out)[0], b + ": warning: ")) << r.out;

  write_text(data_ / "labels/a.txt", "0 0.5 0.5 0.5 0.5\n5 0.5 0.5 0.2 0.2\n");
  r = vpipe({"validate", data_.string()});
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  const auto lines = lines_of(r.out);
  ASSERT_GE(lines.size(), 2U) << r.out;
  // Sorted by path: images/b.png before labels/a.txt.
  EXPECT_TRUE(starts_with(lines[0], b + ": warning: ")) << r.out;
  const std::string a = (data_ / "labels/a.txt").string();
  EXPECT_TRUE(starts_with(lines[1], a + ":2: error: ")) << r.out;
  EXPECT_NE(lines[1].find("[class_out_of_range]"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("1 errors, 1 warnings"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("class_out_of_range"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("unlabeled_image"), std::string::npos) << r.out;
}

TEST_F(ValidateCli, ControlCharactersInLabelsAndNamesNeverReachTheTerminal) {
  // A label line that clears the screen and sets the title, and an image whose name holds an
  // escape sequence and a newline that would forge a finding line.
  write_text(data_ / "labels/a.txt", "0 0.5 0.5 0.5 0.5\n\x1b[2J\x1b]0;pwned\x07 0.5 0.5 0.5 0.5\n");
  const std::string hostile = "b\x1b[31mred\nfake: error: forged.png";
  write_png(data_ / "images" / hostile, 8, 8);  // no label file: a warning naming it
  for (const bool json : {false, true}) {
    std::vector<std::string> args = {"validate", data_.string()};
    if (json) args.push_back("--json");
    const auto r = vpipe(args);
    EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
    EXPECT_EQ(r.out.find('\x1b'), std::string::npos) << r.out;
    EXPECT_EQ(r.out.find('\x07'), std::string::npos) << r.out;
    EXPECT_EQ(r.err.find('\x1b'), std::string::npos) << r.err;
    EXPECT_EQ(r.out.find("\nfake: error"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find(json ? "\\u001b[2J" : "\\x1b[2J"), std::string::npos) << r.out;
  }
}

TEST_F(ValidateCli, JsonOutput) {
  write_text(data_ / "labels/a.txt", "0 0.5 0.5 0.5\n");
  const auto r = vpipe({"validate", data_.string(), "--json"});
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  ASSERT_FALSE(r.out.empty());
  EXPECT_EQ(r.out.front(), '{');
  EXPECT_NE(r.out.find(R"("format":"yolo")"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find(R"("errors":1)"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find(R"("line":1,"severity":"error","kind":"malformed_line")"), std::string::npos)
      << r.out;
  EXPECT_EQ(r.out.find(": error: "), std::string::npos) << "no text lines in --json output";
}

TEST_F(ValidateCli, MaxFindingsLimitsTheLinesNotTheCounts) {
  write_text(data_ / "labels/a.txt", "9 0.5 0.5 0.5 0.5\n9 0.5 0.5 0.2 0.2\n9 0.1 0.1 0.1 0.1\n");
  const auto r = vpipe({"validate", data_.string(), "--max-findings", "1"});
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  int finding_lines = 0;
  for (const auto& line : lines_of(r.out))
    finding_lines += line.find(": error: ") != std::string::npos;
  EXPECT_EQ(finding_lines, 1) << r.out;
  EXPECT_NE(r.out.find("2 more findings not shown"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("3 errors"), std::string::npos) << r.out;
}

TEST_F(ValidateCli, CocoFileOption) {
  const fs::path coco = root_ / "coco";
  write_png(coco / "img/x.png", 10, 10);
  write_text(
      root_ / "elsewhere/labels.json",
      "{\"images\": [{\"id\": 1, \"file_name\": \"x.png\", \"width\": 10, \"height\": 10}],\n"
      " \"annotations\": [{\"id\": 1, \"image_id\": 1, \"category_id\": 3, \"bbox\": [1, 1, 2, "
      "2]}],\n"
      " \"categories\": [{\"id\": 1, \"name\": \"a\"}]}\n");
  const auto r =
      vpipe({"validate", coco.string(), "--coco", (root_ / "elsewhere/labels.json").string(),
             "--images", (coco / "img").string()});
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  EXPECT_TRUE(starts_with(r.out, (root_ / "elsewhere/labels.json").string() + ":2: error: "))
      << r.out;
  EXPECT_NE(r.out.find("[unknown_category_id]"), std::string::npos) << r.out;
}

TEST_F(ValidateCli, UsageAndIoFailuresExitTwo) {
  auto r = vpipe({"validate", (root_ / "missing").string()});
  EXPECT_EQ(r.exit_code, 2) << r.out << r.err;
  EXPECT_NE(r.err.find("no such directory"), std::string::npos) << r.err;

  r = vpipe({"validate", data_.string(), "--format", "voc"});
  EXPECT_EQ(r.exit_code, 2) << r.out << r.err;

  fs::create_directories(root_ / "plain");
  r = vpipe({"validate", (root_ / "plain").string()});
  EXPECT_EQ(r.exit_code, 2) << r.out << r.err;
  EXPECT_NE(r.err.find("--format"), std::string::npos) << r.err;

  r = vpipe({"validate", data_.string(), "--coco", (root_ / "none.json").string()});
  EXPECT_EQ(r.exit_code, 2) << r.out << r.err;
}

}  // namespace
