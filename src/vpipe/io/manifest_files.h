#pragma once

// For the manifest's table stores only: how a `files` row is read and written, for the stores
// that join or write files rows (the dedup results, inferences, the crawl). Passes use
// io/file_store.h.

#include <string>
#include <string_view>

#include "vpipe/core/record.h"
#include "vpipe/io/manifest_db.h"

namespace vpipe::manifest_detail {

/// The columns read_file_row reads, in its order: bare, and qualified for joins (files AS f).
extern const char* const kFileColumns;
extern const char* const kFileColumnsQualified;
/// How many they are: columns of a join that follow them start here.
inline constexpr int kFileColumnCount = 26;

/// Reads the kFileColumns of the current row of `row`, starting at column `first`. Throws
/// ManifestError (naming `db`) for a status this build does not know.
FileRecord read_file_row(const ManifestDb& db, const Statement& row, int first = 0);

/// Inserts or updates (by path) `record` in the current transaction, under `db.current_run_id`
/// and with `scanned_at` as its scan time. A file row keeps its id when updated, so rows that
/// refer to it survive a rescan.
void write_file_row(const ManifestDb& db, const FileRecord& record, std::string_view scanned_at);

}  // namespace vpipe::manifest_detail
