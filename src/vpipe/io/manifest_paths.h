#pragma once

// Internal to the manifest (vpipe_io): the code step of schema 5. Not a public header.

#include "vpipe/io/manifest_db.h"

namespace vpipe::manifest_detail {

/// Schema 5's step (docs/MANIFEST.md, "Paths" and "Versioning and migration"): rewrites every
/// stored path (files.path, urls.path, crops.path, actions.source and target) into the form
/// vpipe now stores (io/paths.h: absolute, directory canonical). A relative path is resolved
/// against the first of two bases under which it exists: the one under which most of a sample
/// of the manifest's relative file paths exist, then the other (the current directory and the
/// manifest's directory); a path found under neither is resolved against the first and counted
/// in one warning. Rows of `files` that come to name the same file are merged into one (every
/// reference to files.id follows it; see the .cpp for which row survives and what happens to
/// dedup results that counted the file twice).
///
/// Runs on `db` inside the caller's migration transaction (foreign keys on; their checks are
/// deferred to the commit). The manifest's path as given (db.name()) names it in messages and
/// gives its directory. Throws ManifestError naming the manifest when SQLite fails.
void make_stored_paths_absolute(const ManifestDb& db);

}  // namespace vpipe::manifest_detail
