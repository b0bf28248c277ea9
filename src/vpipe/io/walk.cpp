#include "vpipe/io/walk.h"

#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <filesystem>
#include <set>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

#include "vpipe/core/error.h"
#include "vpipe/core/log.h"
#include "vpipe/io/paths.h"

namespace vpipe {
namespace {

std::string reason(int err) { return std::generic_category().message(err); }

/// A path made safe for a log line: printable ASCII kept, every other byte (newline, non-UTF-8,
/// control) written as \xNN, so one entry is one line and the raw bytes stay recoverable.
std::string printable(const std::string& path) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(path.size());
  for (unsigned char c : path) {
    if (c >= 0x20 && c < 0x7f && c != '\\') {
      out.push_back(static_cast<char>(c));
    } else {
      out += "\\x";
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 0xf]);
    }
  }
  return out;
}

int64_t mtime_ns_of(const struct stat& st) {
  return static_cast<int64_t>(st.st_mtim.tv_sec) * 1'000'000'000 +
         static_cast<int64_t>(st.st_mtim.tv_nsec);
}

WalkEntry entry_of(std::string path, const struct stat& st) {
  return WalkEntry{std::move(path), static_cast<int64_t>(st.st_size), mtime_ns_of(st)};
}

std::string join(const std::string& dir, const std::string& name) {
  if (!dir.empty() && dir.back() == '/') return dir + name;
  return dir + '/' + name;
}

/// Drops trailing slashes ("a/b/" -> "a/b") so joined paths have no "//"; "/" stays "/".
std::string trim_trailing_slashes(std::string path) {
  while (path.size() > 1 && path.back() == '/') path.pop_back();
  return path;
}

class Walker {
 public:
  Walker(const WalkVisitor& visit, const WalkOptions& options)
      : visit_(visit), options_(options) {}

  /// Returns false when the visitor asked to stop.
  bool walk_root(const std::string& given) {
    std::string root = trim_trailing_slashes(given);
    struct stat st {};
    if (::stat(root.c_str(), &st) != 0) {
      const int err = errno;
      if (err == ENOENT || err == ENOTDIR) {
        throw IoError("input root '" + printable(given) + "' does not exist: " + reason(err));
      }
      return count_error(root, "cannot stat: " + reason(err));
    }
    if (options_.stored_paths) {
      // Once per root: the root's own directory resolved, so "../photos", "/abs/photos",
      // "photos/" and a symlink to it all name their files the same way.
      std::string resolved =
          S_ISDIR(st.st_mode) ? real_path(root) : StoredPathResolver().resolve(root);
      if (resolved.empty()) {
        throw IoError("input root '" + printable(given) +
                      "' cannot be resolved to an absolute path: " + reason(errno));
      }
      root = std::move(resolved);
    }
    if (S_ISDIR(st.st_mode)) {
      roots_.insert(root);
      return walk_directory(root, st);
    }
    if (S_ISREG(st.st_mode)) return visit_file(root, st);
    return count_error(root, "not a regular file or directory");
  }

  [[nodiscard]] const WalkStats& stats() const { return stats_; }

 private:
  /// Logs an unreadable entry and counts it; returns true so the walk goes on.
  bool count_error(const std::string& path, const std::string& why) {
    ++stats_.errors;
    log().warn("skipping '{}': {}", printable(path), why);
    return true;
  }

  bool visit_file(std::string path, const struct stat& st) {
    ++stats_.files;
    return visit_(entry_of(std::move(path), st));
  }

  /// Reads the names of one directory (without "." and ".."), sorted bytewise. The directory is
  /// closed before its entries are visited, so a deep walk holds no descriptors open; memory is
  /// one listing per directory on the current path.
  bool list_directory(const std::string& dir, std::vector<std::string>& names) {
    DIR* handle = ::opendir(dir.c_str());
    if (handle == nullptr) {
      const int err = errno;
      count_error(dir, "cannot open directory: " + reason(err));
      return false;
    }
    for (;;) {
      errno = 0;
      const dirent* ent = ::readdir(handle);
      if (ent == nullptr) {
        const int err = errno;
        if (err != 0)
          count_error(dir, "cannot read directory (listing incomplete): " + reason(err));
        break;
      }
      const std::string_view name(ent->d_name);
      if (name == "." || name == "..") continue;
      names.emplace_back(name);
    }
    ::closedir(handle);
    // std::string compares through char_traits<char>, which orders bytes as unsigned char
    // (memcmp), so the order does not depend on the locale or on char's signedness.
    std::sort(names.begin(), names.end());
    return true;
  }

  bool walk_directory(const std::string& dir, const struct stat& dir_stat) {
    if (!entered_.emplace(dir_stat.st_dev, dir_stat.st_ino).second) {
      ++stats_.loops_skipped;
      log().debug("not entering '{}' again (symlink loop or second link to it)", printable(dir));
      return true;
    }
    ++stats_.directories;
    std::vector<std::string> names;
    if (!list_directory(dir, names)) return true;
    if (!roots_.contains(dir) &&
        (std::binary_search(names.begin(), names.end(), std::string(kOutputMarker)) ||
         std::binary_search(names.begin(), names.end(), std::string(kExportMarker)))) {
      ++stats_.outputs_skipped;
      log().info("not scanning '{}': vpipe wrote it (it holds {}); name it as an input to scan it",
                 printable(dir), kOutputMarker);
      return true;
    }
    for (std::string& name : names) {
      if (name == kOutputMarker || name == kExportMarker) continue;  // vpipe's own marks
      std::string path = join(dir, name);
      name.clear();
      name.shrink_to_fit();
      struct stat st {};
      if (::stat(path.c_str(), &st) != 0) {
        const int err = errno;
        struct stat link_st {};
        if (err == ENOENT && ::lstat(path.c_str(), &link_st) == 0 && S_ISLNK(link_st.st_mode)) {
          count_error(path, "broken symbolic link");
        } else {
          count_error(path, "cannot stat: " + reason(err));
        }
        continue;
      }
      if (S_ISDIR(st.st_mode)) {
        if (options_.stored_paths && !resolve_if_symlink(path)) continue;
        if (!walk_directory(path, st)) return false;
      } else if (S_ISREG(st.st_mode)) {
        if (!visit_file(std::move(path), st)) return false;
      } else {
        log().debug("ignoring '{}': not a regular file or directory", printable(path));
      }
    }
    return true;
  }

  /// A directory reached through a symlink is named by its real path (stored paths keep a
  /// canonical directory part). Returns false, counting the error, when it cannot be resolved.
  bool resolve_if_symlink(std::string& path) {
    struct stat link_st {};
    if (::lstat(path.c_str(), &link_st) != 0 || !S_ISLNK(link_st.st_mode)) return true;
    std::string resolved = real_path(path);
    if (resolved.empty()) {
      count_error(path, "cannot resolve the symbolic link: " + reason(errno));
      return false;
    }
    path = std::move(resolved);
    return true;
  }

  const WalkVisitor& visit_;
  const WalkOptions& options_;
  /// The roots as the walk names them: an output folder named as a root is walked.
  std::set<std::string> roots_;
  WalkStats stats_;
  /// (device, inode) of every directory entered; one entry per directory, not per file.
  std::set<std::pair<dev_t, ino_t>> entered_;
};

}  // namespace

bool make_output_dir(const std::string& dir, std::string& error) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) {
    error = ec.message();
    return false;
  }
  const std::string marker = join(dir, kOutputMarker);
  if (::access(marker.c_str(), F_OK) == 0) return true;
  std::FILE* f = std::fopen(marker.c_str(), "wb");
  if (f == nullptr ||
      std::fputs("vpipe writes into this folder; vpipe scan and run do not scan it as an input "
                 "unless it is named as one.\n",
                 f) < 0) {
    log().warn("cannot mark '{}' as vpipe's output ({}): a scan of a folder above it would "
               "read it as input",
               printable(dir), reason(errno));
  }
  if (f != nullptr) std::fclose(f);
  return true;
}

WalkStats walk_files(std::span<const std::string> roots, const WalkVisitor& visit,
                     const WalkOptions& options) {
  Walker walker(visit, options);
  for (const std::string& root : roots) {
    if (!walker.walk_root(root)) break;
  }
  return walker.stats();
}

WalkStats read_path_list(std::istream& in, char delimiter, const WalkVisitor& visit,
                         const WalkOptions& options) {
  WalkStats stats;
  StoredPathResolver resolver;
  std::string path;
  while (std::getline(in, path, delimiter)) {
    if (path.empty()) continue;
    if (path.find('\0') != std::string::npos) {
      // A NUL cannot be part of a file name; this list was probably written with -print0.
      ++stats.errors;
      log().warn("skipping listed path '{}': contains a NUL byte (use '\\0' as the delimiter?)",
                 printable(path));
      continue;
    }
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0) {
      const int err = errno;
      ++stats.errors;
      log().warn("skipping listed path '{}': {}", printable(path), reason(err));
      continue;
    }
    if (!S_ISREG(st.st_mode)) {
      ++stats.errors;
      log().warn("skipping listed path '{}': not a regular file", printable(path));
      continue;
    }
    ++stats.files;
    if (options.stored_paths) path = resolver.resolve(path);
    if (!visit(entry_of(std::move(path), st))) break;
    path = std::string();
  }
  if (in.bad()) throw IoError("cannot read the path list: the stream failed");
  return stats;
}

}  // namespace vpipe
