#include "vpipe/io/paths.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "scoped_cwd.h"
#include "temp_dir.h"

namespace vpipe {
namespace {

namespace fs = std::filesystem;
using testing::ScopedCwd;
using testing::TempDir;

class PathsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    fs::create_directories(root_ / "data" / "photos");
    std::ofstream(root_ / "data" / "photos" / "a.jpg") << "a";
    fs::create_directories(root_ / "work");
    fs::create_directory_symlink(root_ / "data" / "photos", root_ / "work" / "link");
  }

  TempDir tmp_{"vpipe_paths_"};
  fs::path root_ = fs::canonical(tmp_.path());
};

TEST(AbsoluteNormal, JoinsTheBaseAndDropsDotsAndTrailingSlashes) {
  EXPECT_EQ(absolute_normal("photos/./a/../b.jpg", "/base"), "/base/photos/b.jpg");
  EXPECT_EQ(absolute_normal("../photos/", "/base/work"), "/base/photos");
  EXPECT_EQ(absolute_normal("/abs//x/", "/ignored"), "/abs/x");
  EXPECT_EQ(absolute_normal("/", "/ignored"), "/");
  EXPECT_EQ(absolute_normal("", "/base"), "");
}

TEST_F(PathsTest, AbsoluteNormalUsesTheCurrentDirectoryByDefault) {
  ScopedCwd cwd(root_ / "work");
  EXPECT_EQ(absolute_normal("../data/photos/"), (root_ / "data" / "photos").string());
}

TEST_F(PathsTest, ResolverCanonicalisesTheDirectoryAndKeepsTheName) {
  ScopedCwd cwd(root_ / "work");
  StoredPathResolver resolver;
  const std::string expected = (root_ / "data" / "photos" / "a.jpg").string();
  EXPECT_EQ(resolver.resolve("../data/photos/a.jpg"), expected);
  EXPECT_EQ(resolver.resolve("./link/a.jpg"), expected) << "a symlinked folder is resolved";
  EXPECT_EQ(resolver.resolve((root_ / "work" / "link" / "a.jpg").string()), expected);
  EXPECT_EQ(resolver.resolve("link/../link/a.jpg"), expected);
  // A symlinked file keeps its own name: its folder is what gets resolved.
  fs::create_symlink(expected, root_ / "work" / "alias.jpg");
  EXPECT_EQ(resolver.resolve("alias.jpg"), (root_ / "work" / "alias.jpg").string());
}

TEST_F(PathsTest, ResolverKeepsAMissingDirectoryLexical) {
  StoredPathResolver resolver(root_ / "work");
  EXPECT_EQ(resolver.resolve("gone/./x/../y.jpg"), (root_ / "work" / "gone" / "y.jpg").string());
  EXPECT_EQ(resolver.resolve("/nowhere/a/../b.jpg"), "/nowhere/b.jpg");
}

TEST_F(PathsTest, AbsoluteDirectoryResolvesTheExistingPartOnly) {
  ScopedCwd cwd(root_ / "work");
  EXPECT_EQ(absolute_directory("link/new/out/"), (root_ / "data" / "photos" / "new" / "out").string());
  EXPECT_EQ(absolute_directory("out"), (root_ / "work" / "out").string());
  EXPECT_EQ(absolute_directory(""), "");
}

TEST_F(PathsTest, DisplayPathIsRelativeOnlyInsideTheCurrentDirectory) {
  ScopedCwd cwd(root_ / "data");
  EXPECT_EQ(display_path((root_ / "data" / "photos" / "a.jpg").string()), "photos/a.jpg");
  EXPECT_EQ(display_path((root_ / "data").string()), ".");
  EXPECT_EQ(display_path((root_ / "work" / "x").string()), (root_ / "work" / "x").string());
  // A sibling whose name starts like the current directory is not inside it.
  EXPECT_EQ(display_path((root_ / "database.db").string()), (root_ / "database.db").string());
  EXPECT_EQ(display_path("relative/as/given"), "relative/as/given");
}

}  // namespace
}  // namespace vpipe
