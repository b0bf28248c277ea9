#include "vpipe/curate/actions.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <limits>
#include <string>
#include <system_error>
#include <vector>

#include "vpipe/core/error.h"
#include "vpipe/core/log.h"
#include "vpipe/curate/action_store.h"
#include "vpipe/curate/dedup_pass.h"
#include "vpipe/dedup/dedup_store.h"
#include "vpipe/dedup/hashes.h"
#include "vpipe/io/file_store.h"
#include "vpipe/io/manifest.h"
#include "vpipe/io/paths.h"
#include "vpipe/io/read_file.h"
#include "vpipe/io/walk.h"

namespace vpipe {
namespace {

/// Why `path` is no longer the file the scan saw, or "" when it still is (or is gone: the
/// action's own checks say so). Size and mtime always; with `check_bytes` (a move takes the file
/// away) also its content hash, which costs a read of the file.
std::string changed_since_scan(const std::string& path, int64_t size_bytes, int64_t mtime_ns,
                               bool check_bytes, bool has_content_hash, const ContentHash& hash) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return "";
  if (static_cast<int64_t>(st.st_size) != size_bytes) {
    return fmt::format("changed since the scan ({} bytes, the scan saw {})",
                       static_cast<int64_t>(st.st_size), size_bytes);
  }
  const int64_t mtime = static_cast<int64_t>(st.st_mtim.tv_sec) * 1'000'000'000 + st.st_mtim.tv_nsec;
  if (mtime != mtime_ns) return "changed since the scan (modified since)";
  if (!check_bytes || !has_content_hash) return "";
  std::vector<uint8_t> bytes;
  std::string why;
  // Unreadable: the move itself meets and reports it.
  if (!read_file_bytes(path, std::numeric_limits<uint64_t>::max(), bytes, why)) return "";
  if (content_hash(bytes) != hash) {
    return "changed since the scan (the same size and time, other bytes)";
  }
  return "";
}

namespace fs = std::filesystem;

std::atomic<uint64_t> g_temp_counter{0};

std::string errno_text(int err) { return std::generic_category().message(err); }

bool exists_no_follow(const std::string& path) {
  struct stat st {};
  return ::lstat(path.c_str(), &st) == 0;
}

/// A hidden temporary name beside `target` (same directory, so the final rename is atomic).
std::string temp_beside(const fs::path& target) {
  return (target.parent_path() /
          fmt::format(".{}.vpipe-tmp-{}-{}", target.filename().native(), ::getpid(),
                      g_temp_counter.fetch_add(1)))
      .native();
}

/// Copies `source` to `dest` (a new file), fsyncs it. Returns 0 or an errno.
int copy_file_bytes(const std::string& source, const std::string& dest) {
  const int in = ::open(source.c_str(), O_RDONLY | O_CLOEXEC);
  if (in < 0) return errno;
  struct stat st {};
  ::fstat(in, &st);
  const int out = ::open(dest.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC,
                         st.st_mode & 0777 ? st.st_mode & 0777 : 0644);
  if (out < 0) {
    const int err = errno;
    ::close(in);
    return err;
  }
  std::vector<char> buffer(1 << 16);
  int err = 0;
  while (true) {
    const ssize_t n = ::read(in, buffer.data(), buffer.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      err = errno;
      break;
    }
    if (n == 0) break;
    for (ssize_t done = 0; done < n;) {
      const ssize_t w = ::write(out, buffer.data() + done, static_cast<size_t>(n - done));
      if (w < 0) {
        if (errno == EINTR) continue;
        err = errno;
        break;
      }
      done += w;
    }
    if (err != 0) break;
  }
  if (err == 0 && ::fsync(out) != 0) err = errno;
  if (::close(out) != 0 && err == 0) err = errno;
  ::close(in);
  if (err != 0) ::unlink(dest.c_str());
  return err;
}

/// Test hooks for the crash tests of actions and undo. The process dies as in a crash (no
/// cleanup, exit status 137) during its N+1th operation:
/// - VPIPE_FAULT_AFTER_ACTIONS=N: right after journaling it as planned, before the file operation;
/// - VPIPE_FAULT_BEFORE_MARK=N: after the file operation, before the journal says done.
/// Read at every call (a test may set them in a forked child).
void maybe_crash(const char* variable, int64_t operations_so_far) {
  const char* value = std::getenv(variable);
  if (value != nullptr && operations_so_far > std::atoll(value)) ::_exit(137);
}

class ActionRunner {
 public:
  ActionRunner(Manifest& manifest, ActionSummary& summary)
      : manifest_(manifest), summary_(summary) {}

  /// One operation: kind is copy, link (hardlink with symlink fallback) or move.
  void apply(const std::string& kind, const std::string& source, const fs::path& target_path) {
    const std::string target = target_path.native();
    std::error_code ec;
    fs::create_directories(target_path.parent_path(), ec);
    if (ec) {
      throw IoError(fmt::format("action {}: cannot create directory '{}': {}", kind,
                                target_path.parent_path().string(), ec.message()));
    }
    if (exists_no_follow(target)) {
      // A rerun: the same file is already there. Anything else there is never overwritten.
      if (kind == "link" ? same_file_or_link(source, target) : files_identical(source, target)) {
        ++summary_.already_done;
      } else if (kind == "move" && !exists_no_follow(source)) {
        ++summary_.already_done;  // moved by an earlier run
      } else {
        ++summary_.failed;
        log().error("action {}: '{}' already exists and is not a copy of '{}'; left alone", kind,
                    target, source);
      }
      return;
    }
    ActionRecord record;
    record.kind = kind;
    record.source = source;
    record.target = target;
    const int64_t id = ActionStore(manifest_).plan_action(record);
    maybe_crash("VPIPE_FAULT_AFTER_ACTIONS", ++planned_);

    int err = 0;
    if (kind == "copy") {
      err = copy_then_rename(source, target);
      if (err == 0) ++summary_.copied;
    } else if (kind == "link") {
      const std::string temp = temp_beside(target_path);
      if (::link(source.c_str(), temp.c_str()) == 0) {
        err = rename_or_cleanup(temp, target);
        if (err == 0) ++summary_.hardlinked;
      } else if (errno == EXDEV || errno == EPERM || errno == EMLINK || errno == ENOTSUP) {
        // Another filesystem (or one without hard links): a symlink to the absolute source.
        const std::string absolute = fs::absolute(source, ec).native();
        if (::symlink(absolute.c_str(), temp.c_str()) == 0) {
          err = rename_or_cleanup(temp, target);
          if (err == 0) ++summary_.symlinked;
        } else {
          err = errno;
        }
      } else {
        err = errno;
      }
    } else {  // move
      if (::rename(source.c_str(), target.c_str()) == 0) {
        ++summary_.moved;
      } else if (errno == EXDEV) {
        // Across filesystems: a complete copy under the final name first, then the source goes.
        err = copy_then_rename(source, target);
        if (err == 0 && ::unlink(source.c_str()) != 0) err = errno;
        if (err == 0) ++summary_.moved;
      } else {
        err = errno;
      }
    }
    if (err != 0) {
      ++summary_.failed;
      const std::string reason = errno_text(err);
      log().error("action {}: '{}' -> '{}': {}", record.kind, source, target, reason);
      ActionStore(manifest_).set_action_state(id, "failed", reason);
      return;
    }
    maybe_crash("VPIPE_FAULT_BEFORE_MARK", planned_);
    ActionStore(manifest_).set_action_state(id, "done");
  }

 private:
  static bool same_file_or_link(const std::string& source, const std::string& target) {
    struct stat a {};
    struct stat b {};
    if (::stat(source.c_str(), &a) != 0 || ::stat(target.c_str(), &b) != 0) return false;
    return a.st_dev == b.st_dev && a.st_ino == b.st_ino;
  }

  static int rename_or_cleanup(const std::string& temp, const std::string& target) {
    // rename() would replace a target that appeared meanwhile; link-then-unlink never does.
    if (::link(temp.c_str(), target.c_str()) != 0) {
      const int err = errno;
      if (err == EPERM || err == ENOTSUP || err == EXDEV) {
        // No hard links (or temp is a symlink on a filesystem that refuses linking symlinks).
        if (::rename(temp.c_str(), target.c_str()) == 0) return 0;
      }
      const int final_err = err;
      ::unlink(temp.c_str());
      return final_err;
    }
    ::unlink(temp.c_str());
    return 0;
  }

  static int copy_then_rename(const std::string& source, const std::string& target) {
    const std::string temp = temp_beside(fs::path(target));
    const int err = copy_file_bytes(source, temp);
    if (err != 0) return err;
    return rename_or_cleanup(temp, target);
  }

  Manifest& manifest_;
  ActionSummary& summary_;
  int64_t planned_ = 0;
};

/// Resolves one planned entry that a crashed run left: looks at the files to see how far the
/// operation got. Returns the new state: "done" or "failed".
std::string resolve_planned(const ActionRecord& a) {
  const bool source_there = exists_no_follow(a.source);
  const bool target_there = exists_no_follow(a.target);
  if (a.kind == "move") {
    if (target_there && !source_there) return "done";
    if (target_there && source_there && files_identical(a.source, a.target)) {
      // Cross-filesystem move stopped between the copy and the unlink: finish it.
      if (::unlink(a.source.c_str()) == 0) return "done";
    }
    return "failed";
  }
  return target_there ? "done" : "failed";
}

}  // namespace

fs::path action_target(const fs::path& dir, const std::string& source) {
  fs::path target = dir;
  for (const fs::path& part : fs::path(source).lexically_normal()) {
    const std::string& name = part.native();
    if (name.empty() || name == "/" || name == ".") continue;
    target /= name == ".." ? fs::path("_up_") : part;
  }
  return target;
}

std::filesystem::path action_lock_path(const std::filesystem::path& db) {
  std::filesystem::path lock = db;
  lock += "-actions.lock";
  return lock;
}

FileLock lock_actions(const std::filesystem::path& db, bool wait, const std::atomic<bool>* stop) {
  FileLock::Options options;
  options.wait = wait;
  options.stop = stop;
  options.on_wait = [&db](long pid) {
    log().info("manifest '{}': another action run{} is acting on its files; waiting for it to "
               "finish (--no-wait fails instead)",
               db.string(), pid > 0 ? fmt::format(" (pid {})", pid) : std::string());
  };
  try {
    return FileLock(action_lock_path(db), options);
  } catch (const LockBusy&) {
    const long pid = FileLock::holder_pid(action_lock_path(db));
    throw LockBusy(fmt::format(
        "manifest '{}': another action run{} is acting on its files (lock '{}'); rerun when it "
        "has finished, or without --no-wait to wait for it",
        db.string(), pid > 0 ? fmt::format(" (pid {})", pid) : std::string(),
        action_lock_path(db).string()));
  }
}

ActionSummary run_actions(Manifest& manifest, const ActionOptions& options) {
  ActionSummary summary;
  // First, what a crashed run left half done.
  for (const ActionRecord& a : ActionStore(manifest).actions("planned")) {
    const std::string state = resolve_planned(a);
    ActionStore(manifest).set_action_state(a.id, state,
                                           state == "failed" ? "interrupted before it ran" : "");
    if (state == "done") ++summary.recovered;
  }
  const bool any = !options.copy_keepers.empty() || !options.link_keepers.empty() ||
                   !options.move_rejects.empty() || !options.move_duplicates.empty();
  if (!any) return summary;

  ActionRunner runner(manifest, summary);
  // Collect first, act second: for_each_curated must not overlap writes to the manifest. Each
  // file with what the scan saw of it, and the keeper of its group ("" when in no group).
  struct Planned {
    std::string path;
    std::string keeper;
    int64_t size_bytes = 0;
    int64_t mtime_ns = 0;
    bool has_content_hash = false;
    ContentHash content_hash;
  };
  const auto planned_of = [](const FileRecord& f, std::string keeper) {
    return Planned{f.path, std::move(keeper), f.size_bytes, f.mtime_ns, f.has_content_hash,
                   f.content_hash};
  };
  const auto files_with = [&](const std::string& decision) {
    std::vector<Planned> files;
    DedupStore::CuratedQuery query;
    if (decision == "duplicate") {
      query.order = DedupStore::CuratedQuery::Order::kGroup;  // every member: keepers name groups
    } else {
      query.decision = decision;
    }
    std::string keeper;
    DedupStore(manifest).for_each_curated(query, [&](const DedupStore::CuratedFile& f) {
      if (decision != "duplicate") {
        files.push_back(planned_of(f.file, ""));
        return true;
      }
      if (f.decision.is_keeper) keeper = f.file.path;
      if (f.decision.decision == "duplicate") files.push_back(planned_of(f.file, keeper));
      return true;
    });
    return files;
  };
  const auto stopped = [&] {
    return options.stop != nullptr && options.stop->load(std::memory_order_relaxed);
  };
  const auto run_one = [&](const std::string& kind, const std::string& given_dir,
                           const std::string& decision) {
    if (given_dir.empty()) return;
    // The journal stores absolute sources and targets, so `vpipe undo` works from anywhere.
    const std::string dir = absolute_directory(given_dir);
    // Marked as vpipe's own, so a later scan of a folder above it does not take it for input.
    if (std::string error; !make_output_dir(dir, error)) {
      ++summary.failed;
      log().error("action {}: cannot create '{}': {}", kind, dir, error);
      return;
    }
    for (const Planned& planned : files_with(decision)) {
      // Stored paths are absolute since schema 5; one written by other means is made so here.
      const std::string path =
          planned.path.starts_with('/') ? planned.path : absolute_normal(planned.path);
      const std::string& keeper = planned.keeper;
      if (stopped()) {
        summary.stopped = true;
        return;
      }
      if (kind != "move" && !exists_no_follow(path)) {
        ++summary.failed;
        log().error("action {}: '{}' no longer exists", kind, path);
        continue;
      }
      // The same file under two names (a path given both relative and absolute, or a hard
      // link): moving the "duplicate" would take the keeper with it, or gain nothing.
      std::error_code ec;
      if (!keeper.empty() && fs::equivalent(path, keeper, ec)) {
        ++summary.failed;
        log().error("action {}: '{}' is the same file as its group's keeper '{}'; left alone",
                    kind, path, keeper);
        continue;
      }
      // The decision was made on the file as scanned: one changed since is not acted on.
      if (const std::string changed = changed_since_scan(path, planned.size_bytes,
                                                         planned.mtime_ns, kind == "move",
                                                         planned.has_content_hash,
                                                         planned.content_hash);
          !changed.empty()) {
        ++summary.changed;
        log().warn("action {}: '{}' {}; left alone (scan it again, then dedup)", kind, path,
                   changed);
        continue;
      }
      runner.apply(kind, path, action_target(dir, path));
    }
  };
  run_one("copy", options.copy_keepers, "keep");
  run_one("link", options.link_keepers, "keep");
  run_one("move", options.move_rejects, "reject");
  run_one("move", options.move_duplicates, "duplicate");
  return summary;
}

UndoSummary undo_actions(Manifest& manifest) {
  UndoSummary summary;
  std::vector<ActionRecord> journal = ActionStore(manifest).actions();
  // A scan after the move removed the rows of the files it moved away (scan.h,
  // ScanSummary::removed): those come back unjudged until the next scan.
  const auto restored = [&](const std::string& source) {
    ++summary.restored;
    if (!FileStore(manifest).find_file(source)) ++summary.unscanned;
  };
  for (auto it = journal.rbegin(); it != journal.rend(); ++it) {
    const ActionRecord& a = *it;
    if (a.state == "undone" || a.state == "failed") {
      ++summary.skipped;
      continue;
    }
    const bool source_there = exists_no_follow(a.source);
    const bool target_there = exists_no_follow(a.target);
    std::string problem;
    if (a.kind == "move") {
      if (target_there && !source_there) {
        std::error_code ec;
        fs::create_directories(fs::path(a.source).parent_path(), ec);
        if (::rename(a.target.c_str(), a.source.c_str()) == 0) {
          restored(a.source);
        } else if (errno == EXDEV) {
          const std::string temp = temp_beside(fs::path(a.source));
          int err = copy_file_bytes(a.target, temp);
          if (err == 0 && ::rename(temp.c_str(), a.source.c_str()) != 0) err = errno;
          if (err == 0 && ::unlink(a.target.c_str()) != 0) err = errno;
          if (err != 0) {
            ::unlink(temp.c_str());
            problem = errno_text(err);
          } else {
            restored(a.source);
          }
        } else {
          problem = errno_text(errno);
        }
      } else if (source_there && !target_there) {
        ++summary.skipped;  // planned but never moved
      } else if (source_there && target_there) {
        if (files_identical(a.source, a.target) && ::unlink(a.target.c_str()) == 0) {
          ++summary.removed;  // a cross-filesystem move's leftover copy
        } else {
          problem = "both the source and the target exist and differ; left alone";
        }
      } else {
        problem = "neither the source nor the target exists any more";
      }
    } else {
      // copy, link: remove the target only while it is still what vpipe made.
      bool ours = false;
      if (!target_there) {
        ++summary.skipped;
      } else if (a.kind == "link") {
        // A hard link to the source, or the symlink made when a hard link was impossible.
        std::error_code ec;
        struct stat s {};
        struct stat t {};
        ours = (::stat(a.source.c_str(), &s) == 0 && ::lstat(a.target.c_str(), &t) == 0 &&
                s.st_dev == t.st_dev && s.st_ino == t.st_ino) ||
               (fs::is_symlink(a.target, ec) &&
                fs::read_symlink(a.target, ec) == fs::absolute(a.source, ec));
      } else {
        ours = files_identical(a.source, a.target);
      }
      if (target_there) {
        if (!ours) {
          problem = "the target was changed since vpipe made it; left alone";
        } else if (::unlink(a.target.c_str()) == 0) {
          ++summary.removed;
        } else {
          problem = errno_text(errno);
        }
      }
    }
    if (!problem.empty()) {
      ++summary.failed;
      log().error("undo {}: '{}' -> '{}': {}", a.kind, a.source, a.target, problem);
      continue;
    }
    ActionStore(manifest).set_action_state(a.id, "undone");
  }
  return summary;
}

}  // namespace vpipe
