#include "vpipe/curate/actions.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <span>
#include <string>
#include <vector>

#include "temp_dir.h"
#include "vpipe/curate/action_store.h"
#include "vpipe/dedup/dedup_store.h"
#include "vpipe/dedup/hashes.h"
#include "vpipe/io/file_store.h"
#include "vpipe/io/manifest.h"

namespace vpipe {
namespace {

namespace fs = std::filesystem;
using testing::TempDir;

std::string read_all(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), {}};
}

void write(const fs::path& p, const std::string& bytes) {
  fs::create_directories(p.parent_path());
  std::ofstream(p, std::ios::binary) << bytes;
}

/// Files under `dir` whose name marks a temporary (none may survive an action, even a crash
/// between two operations).
std::vector<std::string> temporaries_under(const fs::path& dir) {
  std::vector<std::string> found;
  if (!fs::exists(dir)) return found;
  for (const auto& e : fs::recursive_directory_iterator(dir)) {
    if (e.path().filename().native().find(".vpipe-tmp-") != std::string::npos) {
      found.push_back(e.path());
    }
  }
  return found;
}

/// The row a scan would write for `p`: its size, mtime and content hash.
FileRecord as_scanned(const fs::path& p) {
  FileRecord r;
  r.path = p;
  struct stat st {};
  EXPECT_EQ(::stat(p.c_str(), &st), 0) << p;
  r.size_bytes = static_cast<int64_t>(st.st_size);
  r.mtime_ns = static_cast<int64_t>(st.st_mtim.tv_sec) * 1'000'000'000 + st.st_mtim.tv_nsec;
  std::ifstream in(p, std::ios::binary);
  const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  r.content_hash = content_hash(std::span<const uint8_t>(
      reinterpret_cast<const uint8_t*>(text.data()), text.size()));
  r.has_content_hash = true;
  return r;
}

class ActionsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    db_ = root_ / "run.db";
    // a and d kept, b a duplicate, c rejected; each file has distinct bytes.
    const std::map<std::string, std::string> decisions = {
        {"a.jpg", "keep"}, {"b.jpg", "duplicate"}, {"c.jpg", "reject"}, {"sub/d.jpg", "keep"}};
    Manifest manifest(db_);
    std::vector<FileRecord> records;
    for (const auto& [name, what] : decisions) {
      const fs::path p = root_ / "in" / name;
      write(p, "bytes of " + name);
      records.push_back(as_scanned(p));
    }
    FileStore(manifest).upsert_files(records);
    // b is a near duplicate of a (group 1, a keeps).
    std::vector<DecisionRecord> rows;
    int64_t a_id = 0;
    for (const FileRecord& f : FileStore(manifest).all_files()) {
      DecisionRecord d;
      d.file_id = f.id;
      const std::string name = fs::relative(f.path, root_ / "in");
      d.decision = decisions.at(name);
      if (name == "a.jpg" || name == "b.jpg") {
        d.group_id = 1;
        d.is_keeper = name == "a.jpg";
        if (d.is_keeper) a_id = f.id;
      }
      rows.push_back(d);
    }
    const std::vector<GroupRecord> groups = {{1, "near", a_id, 2, 3}};
    DedupStore(manifest).replace_dedup_results(groups, rows);
  }

  fs::path in(const std::string& name) const { return root_ / "in" / name; }
  fs::path under(const std::string& dir, const std::string& name) const {
    return action_target(root_ / dir, in(name));
  }
  ActionOptions all_actions() const {
    ActionOptions o;
    o.copy_keepers = root_ / "copies";
    o.link_keepers = root_ / "links";
    o.move_rejects = root_ / "rejects";
    o.move_duplicates = root_ / "dups";
    return o;
  }
  /// Runs run_actions in a forked child with `variable`=`value` (a fault injection); returns
  /// the child's exit status. The parent holds no connection across the fork.
  int run_in_child(const ActionOptions& options, const char* variable, const char* value) {
    const pid_t pid = ::fork();
    if (pid == 0) {
      ::setenv(variable, value, 1);
      Manifest manifest(db_);
      (void)run_actions(manifest, options);
      ::_exit(0);
    }
    int status = 0;
    ::waitpid(pid, &status, 0);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  }

  TempDir tmp_{"vpipe_actions_"};
  fs::path root_ = tmp_.path();
  fs::path db_;
};

TEST(ActionTarget, MirrorsThePathBelowTheDirectory) {
  EXPECT_EQ(action_target("/out", "/data/x/a.jpg"), fs::path("/out/data/x/a.jpg"));
  EXPECT_EQ(action_target("/out", "../x/./y.jpg"), fs::path("/out/_up_/x/y.jpg"));
  EXPECT_EQ(action_target("/out", "rel/z.png"), fs::path("/out/rel/z.png"));
}

TEST_F(ActionsTest, CopyLinkAndMoveThenUndoPutsEverythingBack) {
  {
    Manifest manifest(db_);
    const ActionSummary s = run_actions(manifest, all_actions());
    EXPECT_EQ(s.copied, 2);
    EXPECT_EQ(s.hardlinked + s.symlinked, 2);
    EXPECT_EQ(s.moved, 2);
    EXPECT_EQ(s.failed, 0);
    EXPECT_EQ(read_all(under("copies", "a.jpg")), "bytes of a.jpg");
    EXPECT_EQ(read_all(under("copies", "sub/d.jpg")), "bytes of sub/d.jpg");
    struct stat src {};
    struct stat link {};
    ASSERT_EQ(::stat(in("a.jpg").c_str(), &src), 0);
    ASSERT_EQ(::stat(under("links", "a.jpg").c_str(), &link), 0);
    EXPECT_EQ(src.st_ino, link.st_ino);  // same filesystem: a hard link
    EXPECT_FALSE(fs::exists(in("c.jpg")));
    EXPECT_EQ(read_all(under("rejects", "c.jpg")), "bytes of c.jpg");
    EXPECT_FALSE(fs::exists(in("b.jpg")));
    EXPECT_EQ(read_all(under("dups", "b.jpg")), "bytes of b.jpg");
    EXPECT_EQ(ActionStore(manifest).actions("done").size(), 6U);
    EXPECT_TRUE(temporaries_under(root_).empty());

    // A rerun finds everything done and journals nothing new.
    const ActionSummary again = run_actions(manifest, all_actions());
    EXPECT_EQ(again.already_done, 6);
    EXPECT_EQ(again.copied + again.moved + again.hardlinked + again.symlinked, 0);
    EXPECT_EQ(ActionStore(manifest).actions().size(), 6U);

    const UndoSummary u = undo_actions(manifest);
    EXPECT_EQ(u.restored, 2);
    EXPECT_EQ(u.removed, 4);
    EXPECT_EQ(u.failed, 0);
    EXPECT_EQ(ActionStore(manifest).actions("undone").size(), 6U);
  }
  for (const char* name : {"a.jpg", "b.jpg", "c.jpg", "sub/d.jpg"}) {
    EXPECT_EQ(read_all(in(name)), std::string("bytes of ") + name) << name;
  }
  EXPECT_FALSE(fs::exists(under("copies", "a.jpg")));
  EXPECT_FALSE(fs::exists(under("links", "a.jpg")));
  EXPECT_FALSE(fs::exists(under("rejects", "c.jpg")));
  Manifest manifest(db_);
  const UndoSummary twice = undo_actions(manifest);
  EXPECT_EQ(twice.restored + twice.removed + twice.failed, 0);
}

TEST_F(ActionsTest, AFileChangedSinceTheScanIsLeftAlone) {
  // b (a duplicate) is replaced by another photo after the scan; c (a reject) keeps its size
  // and mtime but not its bytes; a (a keeper) grows.
  write(in("b.jpg"), "a different photo altogether");
  struct stat st {};
  ASSERT_EQ(::stat(in("c.jpg").c_str(), &st), 0);
  write(in("c.jpg"), "BYTES OF c.jpg");  // same length as "bytes of c.jpg"
  const struct timespec times[2] = {st.st_atim, st.st_mtim};
  ASSERT_EQ(::utimensat(AT_FDCWD, in("c.jpg").c_str(), times, 0), 0);
  write(in("a.jpg"), "bytes of a.jpg, and more");
  ActionSummary s;
  {
    Manifest manifest(db_);
    s = run_actions(manifest, all_actions());
  }
  // a: not copied, not linked; b and c: not moved. d alone is acted on.
  EXPECT_EQ(s.changed, 4);
  EXPECT_EQ(s.moved, 0);
  EXPECT_EQ(s.copied, 1);
  EXPECT_EQ(s.failed, 0);
  EXPECT_TRUE(fs::exists(in("b.jpg")));
  EXPECT_TRUE(fs::exists(in("c.jpg")));
  EXPECT_FALSE(fs::exists(under("dups", "b.jpg")));
  EXPECT_FALSE(fs::exists(under("rejects", "c.jpg")));
  EXPECT_FALSE(fs::exists(under("copies", "a.jpg")));
  EXPECT_TRUE(fs::exists(under("copies", "sub/d.jpg")));
}

TEST_F(ActionsTest, NeverOverwritesAFileThatIsAlreadyThere) {
  write(under("rejects", "c.jpg"), "someone else's file");
  Manifest manifest(db_);
  ActionOptions o;
  o.move_rejects = root_ / "rejects";
  const ActionSummary s = run_actions(manifest, o);
  EXPECT_EQ(s.failed, 1);
  EXPECT_EQ(s.moved, 0);
  EXPECT_EQ(read_all(under("rejects", "c.jpg")), "someone else's file");
  EXPECT_EQ(read_all(in("c.jpg")), "bytes of c.jpg");
}

TEST_F(ActionsTest, ADuplicateThatIsTheKeepersOwnFileIsNotMoved) {
  // b is made a hard link of a: the same file under another name.
  fs::remove(in("b.jpg"));
  fs::create_hard_link(in("a.jpg"), in("b.jpg"));
  Manifest manifest(db_);
  ActionOptions o;
  o.move_duplicates = root_ / "dups";
  const ActionSummary s = run_actions(manifest, o);
  EXPECT_EQ(s.moved, 0);
  EXPECT_EQ(s.failed, 1);
  EXPECT_TRUE(fs::exists(in("b.jpg")));
  EXPECT_EQ(read_all(in("a.jpg")), "bytes of a.jpg");
}

TEST_F(ActionsTest, UndoLeavesACopyTheUserChanged) {
  Manifest manifest(db_);
  ActionOptions o;
  o.copy_keepers = root_ / "copies";
  (void)run_actions(manifest, o);
  write(under("copies", "a.jpg"), "edited by the user");
  const UndoSummary u = undo_actions(manifest);
  EXPECT_EQ(u.failed, 1);
  EXPECT_EQ(u.removed, 1);  // the untouched copy of d
  EXPECT_EQ(read_all(under("copies", "a.jpg")), "edited by the user");
}

TEST_F(ActionsTest, CrashBeforeAMoveThenUndoRestoresEverything) {
  ActionOptions o;
  o.move_rejects = root_ / "rejects";
  o.move_duplicates = root_ / "dups";
  // Dies while doing its second operation: the first (c to rejects) is done, the second (b)
  // is journaled as planned but never moved.
  ASSERT_EQ(run_in_child(o, "VPIPE_FAULT_AFTER_ACTIONS", "1"), 137);
  {
    Manifest manifest(db_);
    EXPECT_EQ(ActionStore(manifest).actions("done").size(), 1U);
    EXPECT_EQ(ActionStore(manifest).actions("planned").size(), 1U);
    EXPECT_EQ(manifest.integrity_check(), "ok");
  }
  EXPECT_FALSE(fs::exists(in("c.jpg")));
  EXPECT_TRUE(fs::exists(in("b.jpg")));
  Manifest manifest(db_);
  const UndoSummary u = undo_actions(manifest);
  EXPECT_EQ(u.restored, 1);
  EXPECT_EQ(u.failed, 0);
  EXPECT_EQ(read_all(in("c.jpg")), "bytes of c.jpg");
  EXPECT_EQ(read_all(in("b.jpg")), "bytes of b.jpg");
  EXPECT_TRUE(temporaries_under(root_).empty());
}

TEST_F(ActionsTest, CrashBeforeAMoveThenRerunFinishesTheJob) {
  ActionOptions o;
  o.move_rejects = root_ / "rejects";
  o.move_duplicates = root_ / "dups";
  ASSERT_EQ(run_in_child(o, "VPIPE_FAULT_AFTER_ACTIONS", "1"), 137);
  Manifest manifest(db_);
  const ActionSummary s = run_actions(manifest, o);
  EXPECT_EQ(s.moved, 1);         // b, whose planned move never ran
  EXPECT_EQ(s.already_done, 1);  // c
  EXPECT_FALSE(fs::exists(in("b.jpg")));
  EXPECT_EQ(read_all(under("dups", "b.jpg")), "bytes of b.jpg");
  EXPECT_TRUE(ActionStore(manifest).actions("planned").empty());
}

TEST_F(ActionsTest, CrashAfterAMoveBeforeTheJournalSaysDone) {
  ActionOptions o;
  o.move_rejects = root_ / "rejects";
  ASSERT_EQ(run_in_child(o, "VPIPE_FAULT_BEFORE_MARK", "0"), 137);
  EXPECT_FALSE(fs::exists(in("c.jpg")));  // moved, but the journal still says planned
  Manifest manifest(db_);
  ASSERT_EQ(ActionStore(manifest).actions("planned").size(), 1U);
  const UndoSummary u = undo_actions(manifest);
  EXPECT_EQ(u.restored, 1);
  EXPECT_EQ(read_all(in("c.jpg")), "bytes of c.jpg");
  EXPECT_FALSE(fs::exists(under("rejects", "c.jpg")));
}

}  // namespace
}  // namespace vpipe
