#include "vpipe/io/walk.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "scoped_cwd.h"
#include "temp_dir.h"
#include "vpipe/core/error.h"

namespace vpipe {
namespace {

namespace fs = std::filesystem;
using testing::ScopedCwd;
using testing::TempDir;

class WalkTest : public ::testing::Test {
 protected:
  void TearDown() override {
    // Restore permissions a test took away so tmp_ can remove the tree.
    for (const std::string& dir : locked_) ::chmod(dir.c_str(), 0755);
  }

  /// Creates `root_/relative` (raw bytes) with `content`, making parent directories.
  std::string make_file(const std::string& relative, const std::string& content = "x") {
    std::string path = root_ + "/" + relative;
    fs::create_directories(fs::path(path).parent_path());
    std::ofstream(path, std::ios::binary) << content;
    return path;
  }

  /// Runs a walk and returns the visited paths in visiting order.
  std::vector<std::string> walk_paths(const std::vector<std::string>& roots,
                                      WalkStats* stats = nullptr) {
    std::vector<std::string> paths;
    const WalkStats s = walk_files(roots, [&](WalkEntry&& e) {
      paths.push_back(e.path);
      return true;
    });
    if (stats != nullptr) *stats = s;
    return paths;
  }

  TempDir tmp_{"vpipe_walk_"};
  std::string root_ = tmp_.path().string();
  std::vector<std::string> locked_;
};

TEST_F(WalkTest, NestedTreeIsVisitedCompletelyInByteOrder) {
  // Created out of order; byte order puts upper case before lower case.
  make_file("b.jpg");
  make_file("a/z.png");
  make_file("a/c/d.jpg");
  make_file("B/x.jpg");
  make_file("A.jpg");
  fs::create_directories(root_ + "/empty");
  WalkStats stats;
  const std::vector<std::string> paths = walk_paths({root_}, &stats);
  const std::vector<std::string> expected = {root_ + "/A.jpg", root_ + "/B/x.jpg",
                                             root_ + "/a/c/d.jpg", root_ + "/a/z.png",
                                             root_ + "/b.jpg"};
  EXPECT_EQ(paths, expected);
  EXPECT_EQ(stats.files, 5);
  EXPECT_EQ(stats.directories, 5);  // root, B, a, a/c, empty
  EXPECT_EQ(stats.errors, 0);
  EXPECT_EQ(stats.loops_skipped, 0);
}

TEST_F(WalkTest, FoldersVpipeWroteAreSkippedUnlessNamedAsRoots) {
  make_file("in/a.jpg");
  std::string error;
  ASSERT_TRUE(make_output_dir(root_ + "/in/dups", error)) << error;
  make_file("in/dups/in/b.jpg");  // a moved duplicate, mirrored below the action folder
  make_file("in/export/images/c.jpg");
  make_file(std::string("in/export/") + kExportMarker);
  WalkStats stats;
  EXPECT_EQ(walk_paths({root_ + "/in"}, &stats), std::vector<std::string>{root_ + "/in/a.jpg"});
  EXPECT_EQ(stats.outputs_skipped, 2);
  // Named as a root, an output folder is walked, its marker not taken for a file.
  EXPECT_EQ(walk_paths({root_ + "/in/dups"}, &stats),
            std::vector<std::string>{root_ + "/in/dups/in/b.jpg"});
  EXPECT_EQ(stats.outputs_skipped, 0);
  // make_output_dir is idempotent and leaves the marker in place.
  ASSERT_TRUE(make_output_dir(root_ + "/in/dups", error)) << error;
  EXPECT_TRUE(fs::is_regular_file(root_ + "/in/dups/" + kOutputMarker));
}

TEST_F(WalkTest, ReportsSizeAndNanosecondMtime) {
  const std::string path = make_file("f.bin", std::string(1234, 'q'));
  const timespec times[2] = {{1'600'000'000, 5}, {1'700'000'000, 123'456'789}};
  ASSERT_EQ(::utimensat(AT_FDCWD, path.c_str(), times, 0), 0);
  std::vector<WalkEntry> entries;
  walk_files(std::vector<std::string>{root_}, [&](WalkEntry&& e) {
    entries.push_back(std::move(e));
    return true;
  });
  ASSERT_EQ(entries.size(), 1u);
  EXPECT_EQ(entries[0].path, path);
  EXPECT_EQ(entries[0].size_bytes, 1234);
  EXPECT_EQ(entries[0].mtime_ns, 1'700'000'000'123'456'789);
}

TEST_F(WalkTest, SymlinkLoopsTerminateAndFilesAreVisitedOnce) {
  make_file("top.jpg");
  make_file("dir/f.jpg");
  ASSERT_EQ(::symlink("..", (root_ + "/dir/link").c_str()), 0);
  ASSERT_EQ(::symlink(".", (root_ + "/dir/self").c_str()), 0);
  WalkStats stats;
  const std::vector<std::string> paths = walk_paths({root_}, &stats);
  EXPECT_EQ(paths, (std::vector<std::string>{root_ + "/dir/f.jpg", root_ + "/top.jpg"}));
  EXPECT_EQ(stats.loops_skipped, 2);
  EXPECT_EQ(stats.directories, 2);
}

TEST_F(WalkTest, SymlinkedDirectoryOutsideTheTreeIsFollowed) {
  const std::string outside = root_ + "/outside";
  make_file("outside/o.jpg");
  make_file("tree/t.jpg");
  ASSERT_EQ(::symlink(outside.c_str(), (root_ + "/tree/link").c_str()), 0);
  const std::vector<std::string> paths = walk_paths({root_ + "/tree"});
  EXPECT_EQ(paths, (std::vector<std::string>{root_ + "/tree/link/o.jpg", root_ + "/tree/t.jpg"}));
}

TEST_F(WalkTest, OddNamesAreFoundAndTheirBytesRoundTrip) {
  const std::vector<std::string> names = {"with space.jpg", "new\nline.jpg", "\xff\xfe.jpg",
                                          "tab\there.png", "-dash.jpg"};
  std::set<std::string> expected;
  for (const std::string& name : names) expected.insert(make_file(name, name));
  std::set<std::string> found;
  walk_files(std::vector<std::string>{root_}, [&](WalkEntry&& e) {
    // The path must open the very file: read it back and compare with its name.
    std::ifstream in(e.path, std::ios::binary);
    std::stringstream content;
    content << in.rdbuf();
    EXPECT_EQ(root_ + "/" + content.str(), e.path);
    EXPECT_EQ(e.size_bytes, static_cast<int64_t>(content.str().size()));
    found.insert(e.path);
    return true;
  });
  EXPECT_EQ(found, expected);
}

TEST_F(WalkTest, VisitorReturningFalseStopsTheWalk) {
  for (char d = '0'; d < '5'; ++d) make_file(std::string{'d', d, '/', 'f'});
  int visits = 0;
  const WalkStats stats = walk_files(std::vector<std::string>{root_, root_ + "/d4"},
                                     [&](WalkEntry&&) { return ++visits < 2; });
  EXPECT_EQ(visits, 2);
  EXPECT_EQ(stats.files, 2);
}

TEST_F(WalkTest, MissingRootThrowsIoErrorNamingIt) {
  const std::string missing = root_ + "/not here";
  try {
    walk_paths({missing});
    FAIL() << "expected IoError";
  } catch (const IoError& e) {
    EXPECT_NE(std::string(e.what()).find(missing), std::string::npos) << e.what();
  }
}

TEST_F(WalkTest, FileRootIsVisited) {
  const std::string file = make_file("single.png", "12345");
  WalkStats stats;
  std::vector<WalkEntry> entries;
  stats = walk_files(std::vector<std::string>{file}, [&](WalkEntry&& e) {
    entries.push_back(std::move(e));
    return true;
  });
  ASSERT_EQ(entries.size(), 1u);
  EXPECT_EQ(entries[0].path, file);
  EXPECT_EQ(entries[0].size_bytes, 5);
  EXPECT_EQ(stats.directories, 0);
}

TEST_F(WalkTest, TrailingSlashOnRootGivesCleanPaths) {
  make_file("a.jpg");
  EXPECT_EQ(walk_paths({root_ + "//"}), std::vector<std::string>{root_ + "/a.jpg"});
}

TEST_F(WalkTest, OverlappingRootsVisitEachFileOnce) {
  make_file("sub/a.jpg");
  make_file("b.jpg");
  WalkStats stats;
  const std::vector<std::string> paths = walk_paths({root_ + "/sub", root_}, &stats);
  EXPECT_EQ(paths, (std::vector<std::string>{root_ + "/sub/a.jpg", root_ + "/b.jpg"}));
  EXPECT_EQ(stats.loops_skipped, 1);
}

TEST_F(WalkTest, UnreadableDirectoryIsCountedNotFatal) {
  if (::geteuid() == 0) GTEST_SKIP() << "root can read a mode-000 directory";
  make_file("ok/a.jpg");
  make_file("locked/hidden.jpg");
  const std::string locked = root_ + "/locked";
  ASSERT_EQ(::chmod(locked.c_str(), 0), 0);
  locked_.push_back(locked);
  WalkStats stats;
  const std::vector<std::string> paths = walk_paths({root_}, &stats);
  EXPECT_EQ(paths, std::vector<std::string>{root_ + "/ok/a.jpg"});
  EXPECT_EQ(stats.errors, 1);
}

TEST_F(WalkTest, BrokenSymlinkIsCountedAsError) {
  make_file("a.jpg");
  ASSERT_EQ(::symlink("nowhere.jpg", (root_ + "/dangling.jpg").c_str()), 0);
  WalkStats stats;
  EXPECT_EQ(walk_paths({root_}, &stats), std::vector<std::string>{root_ + "/a.jpg"});
  EXPECT_EQ(stats.errors, 1);
}

TEST_F(WalkTest, PathListNewlineDelimitedCountsMissing) {
  const std::string a = make_file("a.jpg", "aa");
  const std::string b = make_file("dir/b c.jpg", "bbb");
  std::istringstream list(b + "\n\n" + root_ + "/missing.jpg\n" + a);  // no final newline
  std::vector<WalkEntry> entries;
  const WalkStats stats = read_path_list(list, '\n', [&](WalkEntry&& e) {
    entries.push_back(std::move(e));
    return true;
  });
  ASSERT_EQ(entries.size(), 2u);
  EXPECT_EQ(entries[0].path, b);
  EXPECT_EQ(entries[0].size_bytes, 3);
  EXPECT_EQ(entries[1].path, a);
  EXPECT_EQ(entries[1].size_bytes, 2);
  EXPECT_EQ(stats.files, 2);
  EXPECT_EQ(stats.errors, 1);
}

TEST_F(WalkTest, PathListNulDelimitedKeepsNewlinesInNames) {
  const std::string odd = make_file("two\nlines\xff.jpg", "z");
  const std::string plain = make_file("plain.jpg");
  std::string text = odd;
  text.push_back('\0');
  text += plain;
  text.push_back('\0');
  std::istringstream list(text);
  std::vector<std::string> paths;
  const WalkStats stats = read_path_list(list, '\0', [&](WalkEntry&& e) {
    paths.push_back(e.path);
    return true;
  });
  EXPECT_EQ(paths, (std::vector<std::string>{odd, plain}));
  EXPECT_EQ(stats.errors, 0);
}

TEST_F(WalkTest, PathListVisitorFalseStops) {
  const std::string a = make_file("a.jpg");
  std::istringstream list(a + "\n" + a + "\n" + a + "\n");
  int visits = 0;
  read_path_list(list, '\n', [&](WalkEntry&&) { return ++visits < 1; });
  EXPECT_EQ(visits, 1);
}

// --- Stored paths (WalkOptions::stored_paths): how the scan names files for the manifest ---

std::vector<std::string> stored_walk(const std::vector<std::string>& roots) {
  WalkOptions options;
  options.stored_paths = true;
  std::vector<std::string> paths;
  walk_files(roots, [&](WalkEntry&& e) {
    paths.push_back(e.path);
    return true;
  }, options);
  return paths;
}

TEST_F(WalkTest, StoredPathsAreTheSameHoweverTheRootIsNamed) {
  make_file("photos/a.jpg");
  make_file("photos/sub/b.jpg");
  fs::create_directories(root_ + "/work");
  ASSERT_EQ(::symlink((root_ + "/photos").c_str(), (root_ + "/work/link").c_str()), 0);
  const std::string real = fs::canonical(root_).string() + "/photos";
  const std::vector<std::string> expected = {real + "/a.jpg", real + "/sub/b.jpg"};
  ScopedCwd cwd(root_ + "/work");
  EXPECT_EQ(stored_walk({"../photos"}), expected);
  EXPECT_EQ(stored_walk({"./../photos/"}), expected);
  EXPECT_EQ(stored_walk({root_ + "/photos"}), expected);
  EXPECT_EQ(stored_walk({"link"}), expected) << "a symlinked root is resolved once";
  EXPECT_EQ(stored_walk({"link/sub/../a.jpg"}), std::vector<std::string>{real + "/a.jpg"});
  // Off (validate's walk): paths stay as named.
  EXPECT_EQ(walk_paths({"../photos/sub"}), std::vector<std::string>{"../photos/sub/b.jpg"});
}

TEST_F(WalkTest, StoredPathsResolveSymlinkedDirectoriesInsideTheTree) {
  make_file("outside/o.jpg");
  make_file("tree/t.jpg");
  ASSERT_EQ(::symlink((root_ + "/outside").c_str(), (root_ + "/tree/link").c_str()), 0);
  const std::string real = fs::canonical(root_).string();
  EXPECT_EQ(stored_walk({root_ + "/tree"}),
            (std::vector<std::string>{real + "/outside/o.jpg", real + "/tree/t.jpg"}));
}

TEST_F(WalkTest, StoredPathsOfAListAreAbsoluteWithTheirFolderResolved) {
  make_file("photos/a.jpg");
  fs::create_directories(root_ + "/work");
  ASSERT_EQ(::symlink((root_ + "/photos").c_str(), (root_ + "/work/link").c_str()), 0);
  const std::string a = fs::canonical(root_).string() + "/photos/a.jpg";
  ScopedCwd cwd(root_ + "/work");
  std::istringstream list("../photos/a.jpg\nlink/a.jpg\n../work/./link/a.jpg\n" + a + "\n");
  WalkOptions options;
  options.stored_paths = true;
  std::vector<std::string> paths;
  const WalkStats stats = read_path_list(list, '\n', [&](WalkEntry&& e) {
    paths.push_back(e.path);
    return true;
  }, options);
  EXPECT_EQ(paths, (std::vector<std::string>{a, a, a, a}));
  EXPECT_EQ(stats.errors, 0);
}

}  // namespace
}  // namespace vpipe
