#include "vpipe/io/atomic_file.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "temp_dir.h"
#include "vpipe/core/error.h"

namespace vpipe {
namespace {

namespace fs = std::filesystem;
using testing::TempDir;

class AtomicFileTest : public ::testing::Test {
 protected:
  static std::string read_all(const fs::path& path) {
    std::ifstream in(path, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
  }

  std::vector<std::string> names_in_dir() const {
    std::vector<std::string> names;
    for (const auto& e : fs::directory_iterator(dir_)) names.push_back(e.path().filename());
    return names;
  }

  TempDir tmp_{"vpipe_atomic_"};
  fs::path dir_ = tmp_.path();
};

std::vector<uint8_t> bytes_of(const std::string& text) { return {text.begin(), text.end()}; }

TEST_F(AtomicFileTest, WritesContentAndLeavesNoTemporaryFile) {
  std::string content = "crop bytes";
  content.push_back('\0');
  content += "\xff tail";
  write_file_atomic(dir_ / "out.jpg", bytes_of(content));
  EXPECT_EQ(read_all(dir_ / "out.jpg"), content);
  EXPECT_EQ(names_in_dir(), std::vector<std::string>{"out.jpg"});
}

TEST_F(AtomicFileTest, EmptyContentMakesEmptyFile) {
  write_file_atomic(dir_ / "empty", {});
  ASSERT_TRUE(fs::exists(dir_ / "empty"));
  EXPECT_EQ(fs::file_size(dir_ / "empty"), 0u);
}

TEST_F(AtomicFileTest, OverwritesExistingFile) {
  write_file_atomic(dir_ / "f.txt", bytes_of("a much longer first version"));
  write_file_atomic(dir_ / "f.txt", bytes_of("short"));
  EXPECT_EQ(read_all(dir_ / "f.txt"), "short");
  EXPECT_EQ(names_in_dir(), std::vector<std::string>{"f.txt"});
}

TEST_F(AtomicFileTest, LargeContentIsWrittenCompletely) {
  std::vector<uint8_t> big(8 * 1024 * 1024 + 13);
  for (size_t i = 0; i < big.size(); ++i) big[i] = static_cast<uint8_t>(i * 31 + 7);
  write_file_atomic(dir_ / "big.bin", big);
  const std::string back = read_all(dir_ / "big.bin");
  ASSERT_EQ(back.size(), big.size());
  EXPECT_TRUE(std::equal(big.begin(), big.end(), back.begin(),
                         [](uint8_t a, char b) { return a == static_cast<uint8_t>(b); }));
}

TEST_F(AtomicFileTest, MissingDirectoryThrowsIoErrorNamingThePath) {
  const fs::path target = dir_ / "no_such_dir" / "out.png";
  try {
    write_file_atomic(target, bytes_of("x"));
    FAIL() << "expected IoError";
  } catch (const IoError& e) {
    EXPECT_NE(std::string(e.what()).find(target.string()), std::string::npos) << e.what();
  }
  EXPECT_TRUE(names_in_dir().empty());
}

TEST_F(AtomicFileTest, FailedRenameRemovesTemporaryFile) {
  // A directory under the target name makes the final rename fail after the data was written.
  fs::create_directory(dir_ / "taken");
  fs::create_directory(dir_ / "taken" / "child");
  EXPECT_THROW(write_file_atomic(dir_ / "taken", bytes_of("x")), IoError);
  EXPECT_EQ(names_in_dir(), std::vector<std::string>{"taken"});
}

TEST_F(AtomicFileTest, UnwritableDirectoryThrowsIoError) {
  if (::geteuid() == 0) GTEST_SKIP() << "root can write to a read-only directory";
  fs::create_directory(dir_ / "ro");
  fs::permissions(dir_ / "ro", fs::perms::owner_read | fs::perms::owner_exec);
  EXPECT_THROW(write_file_atomic(dir_ / "ro" / "f", bytes_of("x")), IoError);
  fs::permissions(dir_ / "ro", fs::perms::owner_all);
  EXPECT_TRUE(fs::is_empty(dir_ / "ro"));
}

}  // namespace
}  // namespace vpipe
