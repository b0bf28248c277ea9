#include "vpipe/report/thumbnails.h"

#include <fmt/format.h>
#include <xxhash.h>

#include <algorithm>
#include <atomic>
#include <exception>
#include <fstream>
#include <mutex>
#include <system_error>
#include <thread>

#include "vpipe/core/error.h"
#include "vpipe/core/image_ops.h"
#include "vpipe/io/atomic_file.h"
#include "vpipe/io/decode.h"
#include "vpipe/io/encode.h"
#include "vpipe/io/read_file.h"

namespace vpipe {
namespace {

namespace fs = std::filesystem;

constexpr int kJpegQuality = 82;
/// Bumped when thumbnails are made differently, so old cached ones are not reused.
/// 2: transparent images on a checkerboard instead of black.
constexpr uint32_t kThumbnailVersion = 2;
/// What transparent parts of a thumbnail show: 8-px squares of two light grays, the pattern
/// image editors use, so that "transparent" does not read as "black" (or as white paper).
constexpr Background kTransparencyBackground = Background::checkerboard(8, 240, 204);
/// Bigger files are not read for a thumbnail (the scan refuses them too, by default).
constexpr uint64_t kMaxFileBytes = uint64_t{1} << 30;

/// What became of one request.
enum class Outcome : uint8_t { kMade, kFailed };

struct Job {
  const FileRecord* file = nullptr;
  Thumbnail* result = nullptr;
  Outcome outcome = Outcome::kFailed;
  fs::path jpg;
  fs::path fail;
};

std::string read_text(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

/// The thumbnail picture: `image` shrunk to `size`, drawn over kTransparencyBackground where
/// `alpha` (empty = opaque) says it is transparent. Colour and alpha are shrunk premultiplied, so
/// that the colour under transparent pixels does not bleed into the edges.
Image thumbnail_picture(const Image& image, const Image& alpha, int size) {
  if (alpha.empty()) return resize_to_fit(image, size);
  const Image small_alpha = resize_to_fit(alpha, size);
  Image straight = unpremultiply(resize_to_fit(composite_over(image, alpha), size), small_alpha);
  return composite_over(std::move(straight), small_alpha, kTransparencyBackground);
}

/// Makes one thumbnail; sets job.outcome and job.result. Throws only for a write failure.
void make_one(Job& job, Decoder& decoder, int size) {
  std::vector<uint8_t> bytes;
  std::string why;
  if (!read_file_bytes(job.file->path, kMaxFileBytes, bytes, why)) {
    // Not recorded: the file may be back next time.
    job.result->failure = why;
    job.outcome = Outcome::kFailed;
    return;
  }
  DecodeOptions options;
  options.min_long_side = size;
  options.lenient = true;
  DecodeResult decoded = decoder.decode(bytes, options);
  std::vector<uint8_t> jpeg;
  if (has_signals(decoded.status) && !decoded.image.empty()) {
    try {
      jpeg = encode_jpeg(thumbnail_picture(decoded.image, decoded.alpha, size), kJpegQuality);
    } catch (const Error& e) {
      why = fmt::format("cannot encode the preview: {}", e.what());
    }
  } else {
    why = decoded.message.empty()
              ? std::string(to_string(decoded.status))
              : fmt::format("{}: {}", to_string(decoded.status), decoded.message);
  }
  if (jpeg.empty()) {
    const std::string_view text = why;
    write_file_atomic(job.fail,
                      std::span(reinterpret_cast<const uint8_t*>(text.data()), text.size()));
    job.result->failure = why;
    job.outcome = Outcome::kFailed;
    return;
  }
  write_file_atomic(job.jpg, jpeg);
  job.result->src = "thumbs/" + job.jpg.filename().string();
  job.outcome = Outcome::kMade;
}

}  // namespace

ThumbnailCache::ThumbnailCache(const fs::path& report_dir, int size, int threads)
    : dir_(report_dir / "thumbs"), size_(std::max(16, size)), threads_(threads) {
  if (threads_ <= 0) threads_ = static_cast<int>(std::max(1U, std::thread::hardware_concurrency()));
  std::error_code ec;
  fs::create_directories(dir_, ec);
  if (ec)
    throw IoError(
        fmt::format("cannot create thumbnail directory {}: {}", dir_.string(), ec.message()));
}

std::string ThumbnailCache::key(const FileRecord& file, int size) {
  XXH3_state_t* state = XXH3_createState();
  XXH3_128bits_reset(state);
  XXH3_128bits_update(state, file.path.data(), file.path.size());
  const int64_t numbers[] = {file.size_bytes, file.mtime_ns, size, kThumbnailVersion};
  XXH3_128bits_update(state, numbers, sizeof numbers);
  const XXH128_hash_t h = XXH3_128bits_digest(state);
  XXH3_freeState(state);
  return fmt::format("{:016x}{:016x}", h.high64, h.low64);
}

std::vector<Thumbnail> ThumbnailCache::get(std::span<const FileRecord* const> files) {
  std::vector<Thumbnail> results(files.size());
  std::vector<Job> to_make;
  for (size_t i = 0; i < files.size(); ++i) {
    const FileRecord& file = *files[i];
    Thumbnail& result = results[i];
    if (!has_signals(file.status)) {
      // The scan found no pixels: say why instead of trying again.
      result.failure = file.error.empty()
                           ? std::string(to_string(file.status))
                           : fmt::format("{}: {}", to_string(file.status), file.error);
      ++failures_;
      continue;
    }
    const std::string name = key(file, size_);
    Job job{&file, &result, Outcome::kFailed, dir_ / (name + ".jpg"), dir_ / (name + ".fail")};
    std::error_code ec;
    if (fs::is_regular_file(job.jpg, ec)) {
      result.src = "thumbs/" + name + ".jpg";
      ++cached_;
    } else if (fs::is_regular_file(job.fail, ec)) {
      result.failure = read_text(job.fail);
      if (result.failure.empty()) result.failure = "cannot be decoded";
      ++cached_;
      ++failures_;
    } else {
      to_make.push_back(std::move(job));
    }
  }
  if (to_make.empty()) return results;

  std::atomic<size_t> next{0};
  std::mutex error_mutex;
  std::exception_ptr error;
  const auto work = [&] {
    Decoder decoder;
    for (size_t i = next++; i < to_make.size(); i = next++) {
      try {
        make_one(to_make[i], decoder, size_);
      } catch (...) {
        const std::lock_guard lock(error_mutex);
        if (!error) error = std::current_exception();
        next = to_make.size();  // stop the others: the output directory is unusable
      }
    }
  };
  const size_t workers = std::min(to_make.size(), static_cast<size_t>(threads_));
  if (workers <= 1) {
    work();
  } else {
    std::vector<std::jthread> pool;
    pool.reserve(workers);
    for (size_t w = 0; w < workers; ++w) pool.emplace_back(work);
  }
  if (error) std::rethrow_exception(error);
  for (const Job& job : to_make) {
    if (job.outcome == Outcome::kMade) ++made_;
    if (job.outcome == Outcome::kFailed) ++failures_;
  }
  return results;
}

}  // namespace vpipe
