#include <fmt/format.h>
#include <xxhash.h>

#include <algorithm>
#include <cmath>
#include <utility>
#include <vector>

#include "vpipe/core/error.h"
#include "vpipe/core/image_ops.h"
#include "vpipe/core/log.h"
#include "vpipe/curate/infer_pass.h"
#include "vpipe/engine/threads.h"
#include "vpipe/infer/inference_store.h"
#include "vpipe/io/atomic_file.h"
#include "vpipe/io/decode.h"
#include "vpipe/io/encode.h"
#include "vpipe/io/manifest.h"
#include "vpipe/io/paths.h"
#include "vpipe/io/read_file.h"
#include "vpipe/io/walk.h"

namespace vpipe {
namespace {

namespace fs = std::filesystem;

/// A folder name from a model name or label: bytes outside [A-Za-z0-9._-] become '_'.
std::string safe_name(std::string_view text) {
  std::string out;
  for (const char c : text) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '.' || c == '_' || c == '-';
    out.push_back(ok ? c : '_');
  }
  if (out.empty() || out == "." || out == "..") out = "_" + out;
  return out;
}

/// One file with the crops its detections need.
struct CropItem {
  InferenceStore::FileDetections file;
  std::vector<CropRecord> written;  ///< crops (re)written, for the manifest
  int64_t unchanged = 0;
  int64_t skipped = 0;
  int64_t failed = 0;
  void fail(std::string message) {
    log().warn("crop: {}: {}", file.file.path, message);
    ++failed;
  }
};

/// xxh64 and size of a file's bytes; false when it cannot be read.
bool hash_file(const fs::path& path, uint64_t& hash, int64_t& size) {
  std::vector<uint8_t> bytes;
  std::string why;
  if (!read_file_bytes(path.string(), uint64_t{1} << 32, bytes, why)) return false;
  hash = XXH64(bytes.data(), bytes.size(), 0);
  size = static_cast<int64_t>(bytes.size());
  return true;
}

void crop_file(CropItem& item, Decoder& decoder, const CropOptions& options) {
  const FileRecord& file = item.file.file;
  std::optional<Image> image;  // decoded on first need
  bool unreadable = false;
  for (const DetectionRecord& d : item.file.detections) {
    if (!d.has_box) continue;
    if (d.score < options.min_score || d.x2 - d.x1 < static_cast<float>(options.min_size) ||
        d.y2 - d.y1 < static_cast<float>(options.min_size)) {
      ++item.skipped;
      continue;
    }
    // The box grown by the margin, in whole pixels, clamped to the image.
    const float mx = (d.x2 - d.x1) * options.margin;
    const float my = (d.y2 - d.y1) * options.margin;
    const int x1 = std::clamp(static_cast<int>(std::floor(d.x1 - mx)), 0, file.width);
    const int y1 = std::clamp(static_cast<int>(std::floor(d.y1 - my)), 0, file.height);
    const int x2 = std::clamp(static_cast<int>(std::ceil(d.x2 + mx)), 0, file.width);
    const int y2 = std::clamp(static_cast<int>(std::ceil(d.y2 + my)), 0, file.height);
    if (x2 - x1 < 1 || y2 - y1 < 1) {
      ++item.skipped;
      continue;
    }
    const fs::path path = options.dir / safe_name(d.model) / safe_name(d.label) /
                          crop_file_name(file.path, file.id, d.rank, options.format);
    // Idempotence: the recorded crop is this rectangle at this path, and the file on disk still
    // has the recorded size and hash.
    const auto old = std::find_if(item.file.crops.begin(), item.file.crops.end(),
                                  [&](const CropRecord& c) { return c.detection_id == d.id; });
    if (old != item.file.crops.end() && old->path == path.string() && old->x == x1 &&
        old->y == y1 && old->width == x2 - x1 && old->height == y2 - y1) {
      uint64_t hash = 0;
      int64_t size = 0;
      if (hash_file(path, hash, size) && hash == old->xxh64 && size == old->size_bytes) {
        ++item.unchanged;
        continue;
      }
    }
    if (unreadable) {
      ++item.failed;
      continue;
    }
    if (!image) {
      std::vector<uint8_t> bytes;
      std::string why;
      if (!read_file_bytes(file.path, uint64_t{1} << 32, bytes, why)) {
        unreadable = true;
        item.fail(why);
        continue;
      }
      DecodeResult r = decoder.decode(bytes, DecodeOptions{});
      if (r.image.empty() || r.image.width != file.width || r.image.height != file.height) {
        unreadable = true;
        item.fail(r.image.empty() ? fmt::format("cannot decode: {}", r.message)
                                  : fmt::format("is {}x{} now, {}x{} when scanned",
                                                r.image.width, r.image.height, file.width,
                                                file.height));
        continue;
      }
      image = composite_over(std::move(r.image), r.alpha);  // crops on black, as detected
    }
    const Image crop = crop_image(*image, x1, y1, x2 - x1, y2 - y1);
    const std::vector<uint8_t> encoded =
        options.format == "png" ? encode_png(crop) : encode_jpeg(crop, options.quality);
    std::error_code ec;
    fs::create_directories(path.parent_path(), ec);
    try {
      write_file_atomic(path, encoded);
    } catch (const IoError& e) {
      item.fail(e.what());
      continue;
    }
    CropRecord rec;
    rec.detection_id = d.id;
    rec.path = path.string();
    rec.x = x1;
    rec.y = y1;
    rec.width = x2 - x1;
    rec.height = y2 - y1;
    rec.size_bytes = static_cast<int64_t>(encoded.size());
    rec.xxh64 = XXH64(encoded.data(), encoded.size(), 0);
    item.written.push_back(std::move(rec));
  }
}

}  // namespace

std::string crop_file_name(const std::string& source_path, int64_t file_id, int rank,
                           const std::string& format) {
  std::string stem = fs::path(source_path).stem().string();
  if (stem.size() > 64) stem.resize(64);
  return fmt::format("{}-{}-{}.{}", safe_name(stem), file_id, rank, format == "png" ? "png" : "jpg");
}

CropPassSummary run_crop_pass(const fs::path& db, const CropOptions& given) {
  if (given.dir.empty()) throw ConfigError("crops: no output folder given");
  // crops.path is stored absolute, so the crops are found from any directory.
  CropOptions options = given;
  options.dir = absolute_directory(given.dir.native());
  if (options.format != "jpeg" && options.format != "png") {
    throw ConfigError(fmt::format("crops: format '{}' is not jpeg or png", options.format));
  }
  if (std::string error; !make_output_dir(options.dir.native(), error)) {
    throw IoError(fmt::format("crops: cannot create '{}': {}", options.dir.string(), error));
  }
  const int threads = resolve_threads(options.threads);
  Manifest writer(db);
  Manifest reader(db);
  CropPassSummary summary;

  Pipeline<CropItem> pipeline;
  pipeline.set_source("select", [&](const Pipeline<CropItem>::Emit& emit) {
    InferenceStore::DetectionQuery query;
    query.model = options.model;
    query.task = "detect";
    query.keepers_only = options.keepers_only;
    InferenceStore(reader).for_each_detection(query, [&](const InferenceStore::FileDetections& f) {
      if (f.detections.empty()) return true;
      CropItem item;
      item.file = f;
      return emit(std::move(item));
    });
  });
  pipeline.add_stage({.name = "crop", .workers = threads, .queue_capacity = static_cast<size_t>(4 * threads)},
                     [&](int) {
                       return [decoder = std::make_shared<Decoder>(), &options](std::span<CropItem> batch) {
                         for (CropItem& item : batch) crop_file(item, *decoder, options);
                       };
                     });
  pipeline.add_stage({.name = "write",
                      .workers = 1,
                      .batch = {.max_batch = 256, .max_delay = std::chrono::milliseconds(250)},
                      .queue_capacity = 1024},
                     [&](int) {
                       return [&](std::span<CropItem> batch) {
                         std::vector<CropRecord> rows;
                         for (CropItem& item : batch) {
                           summary.unchanged += item.unchanged;
                           summary.skipped += item.skipped;
                           summary.failed += item.failed;
                           summary.written += static_cast<int64_t>(item.written.size());
                           for (CropRecord& c : item.written) rows.push_back(std::move(c));
                         }
                         if (!rows.empty()) InferenceStore(writer).record_crops(rows);
                       };
                     });
  RunOptions run_options;
  run_options.stop = options.stop;
  run_options.progress = options.progress;
  run_options.unit = "files";
  summary.engine = pipeline.run(run_options);
  summary.stopped = summary.engine.stopped;
  writer.checkpoint();
  return summary;
}

}  // namespace vpipe
