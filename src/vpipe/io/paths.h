#pragma once

#include <filesystem>
#include <string>
#include <string_view>
#include <unordered_map>

namespace vpipe {

// How the manifest names files (docs/MANIFEST.md, "Paths"): absolute, lexically normal, with the
// directory part canonical (symlinks resolved) and the file name as found. So every command works
// from any directory, and one file is one row however it was named on the command line.

/// realpath(3) of `path`: absolute, every symlink, "." and ".." resolved; "" (errno set) when
/// it cannot be resolved (missing, unreadable).
[[nodiscard]] std::string real_path(const std::string& path);

/// The current directory as getcwd gives it (physical: no symlinks). Throws IoError when it
/// cannot be read (e.g. it was deleted).
[[nodiscard]] std::filesystem::path current_directory();

/// `path` made absolute against `base` (the current directory when `base` is empty) and lexically
/// normal ("a/./b/../c" -> "a/c"), without a trailing slash ("/" stays "/"). Reads nothing from
/// the file system but the current directory; symlinks are not resolved. "" stays "".
[[nodiscard]] std::string absolute_normal(std::string_view path,
                                          const std::filesystem::path& base = {});

/// A folder the user named for vpipe to write into or read from (an action's folder, the crops
/// folder, the crawl's download folder): absolute, the part of it that exists resolved with
/// realpath (symlinks, "..") and the rest lexically normal (std::filesystem::weakly_canonical).
/// Falls back to absolute_normal when the existing part cannot be resolved. "" stays "".
[[nodiscard]] std::string absolute_directory(std::string_view dir);

/// Turns file paths into the form the manifest stores: absolute (against `base`, or the current
/// directory), the directory part resolved with realpath, the file name kept as given (a
/// symlinked file keeps its link's name). realpath runs once per distinct directory (cached, at
/// most kMaxCachedDirectories entries), never per file. A directory that cannot be resolved (it
/// does not exist, or is unreadable) is kept absolute and lexically normal.
/// Not thread-safe (the cache); use one per thread.
class StoredPathResolver {
 public:
  static constexpr size_t kMaxCachedDirectories = 1 << 16;

  explicit StoredPathResolver(std::filesystem::path base = {});
  [[nodiscard]] std::string resolve(std::string_view path);

 private:
  std::filesystem::path base_;
  std::unordered_map<std::string, std::string> directories_;  ///< as named -> resolved
};

/// A stored (absolute) path as people read it in the CLI's summaries: relative to the current
/// directory when it lies inside it ("photos/a.jpg", like git), otherwise unchanged. Relative
/// paths are returned unchanged. Either way its control characters are escaped (terminal_safe).
[[nodiscard]] std::string display_path(std::string_view path);

}  // namespace vpipe
