#include "vpipe/io/file_store.h"

#include <array>
#include <bit>
#include <charconv>
#include <optional>
#include <span>

#include "vpipe/core/error.h"
#include "vpipe/core/log.h"
#include "vpipe/io/manifest.h"
#include "vpipe/io/manifest_files.h"

namespace vpipe {
namespace manifest_detail {

const char* const kFileColumns =
    "path, size_bytes, mtime_ns, status, error, format, width, height, content_hash, phash, "
    "dhash, sharpness, brightness, contrast, dark_fraction, bright_fraction, entropy, "
    "colorfulness, orientation_hashes, id, edge_width, clipped_fraction, highlight_level, "
    "opaque_fraction, highlight_plateau, crop_hashes";
// The same columns qualified for joins (files AS f).
const char* const kFileColumnsQualified =
    "f.path, f.size_bytes, f.mtime_ns, f.status, f.error, f.format, f.width, f.height, "
    "f.content_hash, f.phash, f.dhash, f.sharpness, f.brightness, f.contrast, f.dark_fraction, "
    "f.bright_fraction, f.entropy, f.colorfulness, f.orientation_hashes, f.id, f.edge_width, "
    "f.clipped_fraction, f.highlight_level, f.opaque_fraction, f.highlight_plateau, "
    "f.crop_hashes";

namespace {

// Orientation hashes blob: 8 pHashes then 8 dHashes, each uint64 little-endian: 128 bytes.
constexpr size_t kOrientationBlobBytes = 16 * sizeof(uint64_t);
// Crop hashes blob: 9 pHashes then 9 dHashes (CropWindow order), uint64 little-endian: 144 bytes.
constexpr size_t kCropWords = std::tuple_size_v<decltype(FileRecord::crop_phash)>;
constexpr size_t kCropBlobBytes = 2 * kCropWords * sizeof(uint64_t);

/// Writes `words` into `blob` as little-endian uint64s.
template <size_t kBytes>
void pack_words(std::span<const uint64_t> words, std::array<uint8_t, kBytes>& blob) {
  for (size_t k = 0; k < words.size(); ++k) {
    for (size_t byte = 0; byte < 8; ++byte)
      blob[k * 8 + byte] = static_cast<uint8_t>(words[k] >> (8 * byte));
  }
}
/// Reads little-endian uint64 `k` of `blob`.
uint64_t word_at(const uint8_t* blob, size_t k) {
  uint64_t word = 0;
  for (size_t byte = 0; byte < 8; ++byte) word |= uint64_t{blob[k * 8 + byte]} << (8 * byte);
  return word;
}

// Updating in place (not INSERT OR REPLACE, which deletes and re-inserts) keeps the row's
// identity, so tables that later reference a file row are not cascaded away by a rescan.
constexpr const char* kUpsertSql =
    "INSERT INTO files (path, size_bytes, mtime_ns, status, error, format, width, height, "
    "content_hash, phash, dhash, sharpness, brightness, contrast, dark_fraction, "
    "bright_fraction, entropy, colorfulness, run_id, scanned_at, orientation_hashes, edge_width, "
    "clipped_fraction, highlight_level, opaque_fraction, highlight_plateau, crop_hashes) "
    "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, "
    "?19, ?20, ?21, ?22, ?23, ?24, ?25, ?26, ?27) "
    "ON CONFLICT (path) DO UPDATE SET size_bytes = excluded.size_bytes, "
    "mtime_ns = excluded.mtime_ns, status = excluded.status, error = excluded.error, "
    "format = excluded.format, width = excluded.width, height = excluded.height, "
    "content_hash = excluded.content_hash, phash = excluded.phash, dhash = excluded.dhash, "
    "sharpness = excluded.sharpness, brightness = excluded.brightness, "
    "contrast = excluded.contrast, dark_fraction = excluded.dark_fraction, "
    "bright_fraction = excluded.bright_fraction, entropy = excluded.entropy, "
    "colorfulness = excluded.colorfulness, run_id = excluded.run_id, "
    "scanned_at = excluded.scanned_at, orientation_hashes = excluded.orientation_hashes, "
    "edge_width = excluded.edge_width, clipped_fraction = excluded.clipped_fraction, "
    "highlight_level = excluded.highlight_level, opaque_fraction = excluded.opaque_fraction, "
    "highlight_plateau = excluded.highlight_plateau, crop_hashes = excluded.crop_hashes";

/// Parses ContentHash::hex(): 32 hex digits, high word first.
std::optional<ContentHash> parse_content_hash(std::string_view hex) {
  if (hex.size() != 32) return std::nullopt;
  ContentHash hash;
  const auto parse_word = [](std::string_view digits, uint64_t& word) {
    const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), word, 16);
    return ec == std::errc() && end == digits.data() + digits.size();
  };
  if (!parse_word(hex.substr(0, 16), hash.high) || !parse_word(hex.substr(16), hash.low)) {
    return std::nullopt;
  }
  return hash;
}

/// A stored hash's bits (SQLite integers are signed 64-bit; the bits are stored as they are).
uint64_t hash_bits(const Statement& row, int column) {
  return std::bit_cast<uint64_t>(row.int64(column));
}

}  // namespace

FileRecord read_file_row(const ManifestDb& db, const Statement& row, int first) {
  const auto c = [first](int column) { return first + column; };
  FileRecord record;
  record.path = row.text(c(0));
  record.size_bytes = row.int64(c(1));
  record.mtime_ns = row.int64(c(2));
  const std::string status = row.text(c(3));
  const std::optional<ItemStatus> parsed = item_status_from_string(status);
  if (!parsed) {
    throw ManifestError("manifest '" + db.name() + "': file row has unknown status '" + status +
                        "' (written by a newer vpipe?)");
  }
  record.status = *parsed;
  record.error = row.text(c(4));
  record.format = row.text(c(5));
  record.width = row.int32(c(6));
  record.height = row.int32(c(7));
  if (!row.is_null(c(8))) {
    const std::string hex = row.text(c(8));
    if (const std::optional<ContentHash> hash = parse_content_hash(hex)) {
      record.has_content_hash = true;
      record.content_hash = *hash;
    } else {
      log().warn("manifest '{}': ignoring malformed content_hash '{}'", db.name(), hex);
    }
  }
  if (!row.is_null(c(9))) {
    record.has_signals = true;
    record.phash = hash_bits(row, c(9));
    record.dhash = hash_bits(row, c(10));
    QualitySignals& q = record.quality;
    q.sharpness = row.real(c(11));
    q.brightness = row.real(c(12));
    q.contrast = row.real(c(13));
    q.dark_fraction = row.real(c(14));
    q.bright_fraction = row.real(c(15));
    q.entropy = row.real(c(16));
    q.colorfulness = row.real(c(17));
    // NULL (a row scanned before schema 6) reads as 0; the next scan measures it again.
    q.edge_width = row.real(c(20));
    q.clipped_fraction = row.real(c(21));
    q.highlight_level = row.real(c(22));
    q.opaque_fraction = row.is_null(c(23)) ? 1.0 : row.real(c(23));
    q.highlight_plateau = row.real(c(24));  // NULL before schema 7: 0
  }
  if (const std::span<const uint8_t> blob = row.blob(c(18)); blob.size() == kOrientationBlobBytes) {
    for (size_t k = 0; k < 16; ++k) {
      (k < 8 ? record.orientation_phash[k] : record.orientation_dhash[k - 8]) =
          word_at(blob.data(), k);
    }
    record.has_orientation_hashes = true;
  }
  if (const std::span<const uint8_t> blob = row.blob(c(25)); blob.size() == kCropBlobBytes) {
    for (size_t k = 0; k < 2 * kCropWords; ++k) {
      (k < kCropWords ? record.crop_phash[k] : record.crop_dhash[k - kCropWords]) =
          word_at(blob.data(), k);
    }
    record.has_crop_hashes = true;
  }
  record.id = row.int64(c(19));
  return record;
}

void write_file_row(const ManifestDb& db, const FileRecord& r, std::string_view scanned_at) {
  Statement& stmt = db.cached(kUpsertSql);
  // Everything bound must outlive the step: run() below steps and resets.
  const std::string hash_hex = r.has_content_hash ? r.content_hash.hex() : std::string();
  std::array<uint8_t, kOrientationBlobBytes> orientations{};
  std::array<uint8_t, kCropBlobBytes> crops{};
  stmt.bind(1, r.path).bind(2, r.size_bytes).bind(3, r.mtime_ns).bind(4, to_string(r.status));
  stmt.bind(5, text_or_null(r.error)).bind(6, text_or_null(r.format));
  stmt.bind(7, int_or_null(r.width, r.width > 0)).bind(8, int_or_null(r.height, r.height > 0));
  if (r.has_content_hash) stmt.bind(9, hash_hex);
  if (r.has_signals) {
    stmt.bind(10, std::bit_cast<int64_t>(r.phash)).bind(11, std::bit_cast<int64_t>(r.dhash));
    const QualitySignals& q = r.quality;
    stmt.bind(12, q.sharpness).bind(13, q.brightness).bind(14, q.contrast);
    stmt.bind(15, q.dark_fraction).bind(16, q.bright_fraction).bind(17, q.entropy);
    stmt.bind(18, q.colorfulness).bind(22, q.edge_width).bind(23, q.clipped_fraction);
    stmt.bind(24, q.highlight_level).bind(25, q.opaque_fraction).bind(26, q.highlight_plateau);
  }  // else: left NULL (bindings are cleared after every row)
  if (db.current_run_id > 0) stmt.bind(19, db.current_run_id);
  stmt.bind(20, scanned_at);
  if (r.has_orientation_hashes) {
    std::array<uint64_t, 16> words{};
    std::copy(r.orientation_phash.begin(), r.orientation_phash.end(), words.begin());
    std::copy(r.orientation_dhash.begin(), r.orientation_dhash.end(), words.begin() + 8);
    pack_words(words, orientations);
    stmt.bind_blob(21, orientations);
  }
  if (r.has_crop_hashes) {
    std::array<uint64_t, 2 * kCropWords> words{};
    std::copy(r.crop_phash.begin(), r.crop_phash.end(), words.begin());
    std::copy(r.crop_dhash.begin(), r.crop_dhash.end(), words.begin() + kCropWords);
    pack_words(words, crops);
    stmt.bind_blob(27, crops);
  }
  stmt.run("cannot write the file row");
}

}  // namespace manifest_detail

using manifest_detail::kFileColumns;
using manifest_detail::read_file_row;
using manifest_detail::Statement;

FileStore::FileStore(const Manifest& manifest) : db_(manifest.db()) {}

std::unordered_map<std::string, FileStore::FileStamp> FileStore::file_stamps() const {
  std::unordered_map<std::string, FileStamp> stamps;
  stamps.reserve(static_cast<size_t>(count_files()));
  db_.prepare(
         "SELECT path, size_bytes, mtime_ns, "
         "(orientation_hashes IS NOT NULL AND crop_hashes IS NOT NULL) OR phash IS NULL, "
         "phash IS NULL OR (edge_width IS NOT NULL AND highlight_plateau IS NOT NULL) FROM files")
      .each_row("cannot read file stamps", [&](const Statement& row) {
        stamps.emplace(row.text(0),
                       FileStamp{row.int64(1), row.int64(2), row.boolean(3), row.boolean(4)});
      });
  return stamps;
}

void FileStore::upsert_files(std::span<const FileRecord> records) {
  if (records.empty()) return;
  const std::string scanned_at = manifest_detail::now_utc_iso8601();
  db_.transaction("cannot commit file rows", [&] {
    for (const FileRecord& record : records) write_file_row(db_, record, scanned_at);
  });
}

int64_t FileStore::remove_files(std::span<const std::string> paths) {
  if (paths.empty()) return 0;
  Statement stmt = db_.prepare("DELETE FROM files WHERE path = ?1");
  int64_t removed = 0;
  db_.transaction("cannot commit the deleted file rows", [&] {
    for (const std::string& path : paths) {
      stmt.bind(1, path).run("cannot delete a file row");
      removed += db_.changes();
    }
  });
  return removed;
}

std::optional<FileRecord> FileStore::find_file(std::string_view path) const {
  std::optional<FileRecord> found;
  static const std::string kFind =
      std::string("SELECT ") + kFileColumns + " FROM files WHERE path = ?1";
  db_.cached(kFind.c_str())
      .bind(1, path)
      .each_row("cannot look up a file row", [&](const Statement& row) {
        found = read_file_row(db_, row);
        return false;
      });
  return found;
}

std::vector<FileRecord> FileStore::all_files() const {
  std::vector<FileRecord> records;
  for_each_file([&](const FileRecord& r) {
    records.push_back(r);
    return true;
  });
  return records;
}

void FileStore::for_each_file(const std::function<bool(const FileRecord&)>& visit) const {
  db_.prepare(std::string("SELECT ") + kFileColumns + " FROM files ORDER BY path")
      .each_row("cannot read file rows",
                [&](const Statement& row) { return visit(read_file_row(db_, row)); });
}

int64_t FileStore::count_files() const {
  return db_.query_int("SELECT count(*) FROM files", "cannot count file rows");
}

std::map<std::string, int64_t> FileStore::status_counts() const {
  return manifest_detail::count_by(db_, "SELECT status, count(*) FROM files GROUP BY status",
                                   "cannot count statuses");
}

}  // namespace vpipe
