#pragma once

#include <cstdint>
#include <functional>
#include <istream>
#include <span>
#include <string>

namespace vpipe {

/// A regular file found by a walk or named in a list.
struct WalkEntry {
  std::string path;  ///< raw bytes, as the filesystem gives them (may hold spaces, newlines, non-UTF-8)
  int64_t size_bytes = 0;
  int64_t mtime_ns = 0;  ///< nanoseconds since the Unix epoch
};

/// Counts of what a walk saw.
struct WalkStats {
  int64_t files = 0;          ///< regular files passed to the visitor
  int64_t directories = 0;    ///< directories entered
  int64_t errors = 0;         ///< entries that could not be read (logged with path and reason)
  int64_t loops_skipped = 0;  ///< symlinked directories already visited (loop or duplicate)
  int64_t outputs_skipped = 0;  ///< folders vpipe wrote (kOutputMarker, kExportMarker) below a root
};

/// The file vpipe leaves in every folder it writes into (action targets, reports, crops): a walk
/// does not descend into a folder holding it (or an export's kExportMarker) unless the folder is
/// itself a root, so vpipe's outputs inside its inputs are never scanned as inputs.
inline constexpr const char* kOutputMarker = ".vpipe-output";
/// The marker of a `vpipe export` directory (report/export_dataset.cpp writes it).
inline constexpr const char* kExportMarker = ".vpipe-export";

/// Creates `dir` (and its parents) and marks it with kOutputMarker. Returns false, with `error`
/// set, when the folder cannot be made; a marker that cannot be written is only logged.
bool make_output_dir(const std::string& dir, std::string& error);

/// Return false to stop the walk early (e.g. on cancellation).
using WalkVisitor = std::function<bool(WalkEntry&&)>;

/// How a walk names what it finds.
struct WalkOptions {
  /// Name every file as the manifest stores it (io/paths.h): each root is resolved once with
  /// realpath, and so is each symlinked directory below it (one call per such directory, none
  /// per file), so every path is absolute with a canonical directory part and the file name as
  /// found; a listed path is made absolute and its directory resolved (cached per directory).
  /// Off: paths are the roots or listed paths as given, joined with the names found.
  bool stored_paths = false;
};

/// Visits every regular file under `roots`, recursively; a root may also be a file. Entries of a
/// directory are visited in byte order of their names, so walks are deterministic. Symlinks are
/// followed, but a directory (by device and inode) is entered at most once, so symlink loops
/// cannot hang it. Unreadable entries are counted and logged, never fatal; a root that does not
/// exist throws IoError.
WalkStats walk_files(std::span<const std::string> roots, const WalkVisitor& visit,
                     const WalkOptions& options = {});

/// Visits the files named in a list, one path per `delimiter`-terminated record ('\n', or '\0'
/// for paths that contain newlines, as `find -print0` writes). Empty records are skipped; a
/// trailing '\r' is kept (it may be part of a name). Missing files are counted as errors.
WalkStats read_path_list(std::istream& in, char delimiter, const WalkVisitor& visit,
                         const WalkOptions& options = {});

}  // namespace vpipe
