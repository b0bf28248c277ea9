// `vpipe validate --manifest`: the crops the crop pass wrote, against their rows and boxes.
#include <fmt/format.h>
#include <xxhash.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdlib>
#include <functional>
#include <memory>
#include <optional>
#include <thread>
#include <vector>

#include "vpipe/core/image_ops.h"
#include "vpipe/infer/inference_store.h"
#include "vpipe/io/decode.h"
#include "vpipe/io/manifest.h"
#include "vpipe/io/read_file.h"
#include "vpipe/validate/validate.h"

namespace fs = std::filesystem;

namespace vpipe {
namespace {

/// Crop and source files are read whole; a crop is never near this, a source may be large.
constexpr uint64_t kMaxFileBytes = uint64_t{1} << 32;

/// Files checked per round: the manifest is streamed, so memory holds one round of rows.
constexpr size_t kFilesPerRound = 64;

/// Box coordinates are floats and crop rectangles whole pixels (floor / ceil of the grown box):
/// this much slack absorbs float rounding, not a real miss.
constexpr double kBoxSlack = 0.5;

/// Mean absolute difference, in 8-bit levels, between `crop` and the `crop.width` x
/// `crop.height` rectangle of `source` at (x, y), which must lie inside `source`. Same channel
/// count: every sample; otherwise gray against the mean of R, G and B.
double mean_abs_difference(const Image& crop, const Image& source, int x, int y) {
  uint64_t sum = 0;
  uint64_t samples = 0;
  const bool same = crop.channels == source.channels;
  for (int r = 0; r < crop.height; ++r) {
    const uint8_t* c = crop.row(r);
    const uint8_t* s = source.row(y + r) + static_cast<size_t>(x) * source.channels;
    if (same) {
      const size_t n = static_cast<size_t>(crop.width) * crop.channels;
      for (size_t i = 0; i < n; ++i) sum += static_cast<uint64_t>(std::abs(c[i] - s[i]));
      samples += n;
      continue;
    }
    for (int col = 0; col < crop.width; ++col) {
      auto level = [](const uint8_t* p, int channels) {
        return channels == 1 ? static_cast<int>(p[0]) : (p[0] + p[1] + p[2]) / 3;
      };
      sum += static_cast<uint64_t>(std::abs(level(c + col * crop.channels, crop.channels) -
                                            level(s + col * source.channels, source.channels)));
    }
    samples += static_cast<uint64_t>(crop.width);
  }
  return samples == 0 ? 0.0 : static_cast<double>(sum) / static_cast<double>(samples);
}

/// Checks the crops of one file; appends to `findings`. `decoder` is the worker's own.
void check_file(const InferenceStore::FileDetections& f, const CropCheckOptions& options,
                Decoder& decoder, std::vector<Finding>& findings) {
  const FileRecord& file = f.file;
  auto add = [&](const std::string& path, Severity severity, const char* kind,
                 std::string message) {
    Finding finding;
    finding.path = path;
    finding.severity = severity;
    finding.kind = kind;
    finding.message = std::move(message);
    findings.push_back(std::move(finding));
  };
  std::optional<Image> source;  // decoded on first need
  bool source_failed = false;
  for (const CropRecord& crop : f.crops) {
    const auto d =
        std::find_if(f.detections.begin(), f.detections.end(),
                     [&](const DetectionRecord& det) { return det.id == crop.detection_id; });
    const std::string of =
        fmt::format("crop {}x{}+{}+{} of {}", crop.width, crop.height, crop.x, crop.y, file.path);

    // The recorded rectangle, against the source's recorded size and the detection's box.
    const bool inside = crop.width > 0 && crop.height > 0 && crop.x >= 0 && crop.y >= 0 &&
                        (file.width <= 0 || int64_t{crop.x} + crop.width <= file.width) &&
                        (file.height <= 0 || int64_t{crop.y} + crop.height <= file.height);
    if (!inside) {
      add(crop.path, Severity::kError, "crop_outside_image",
          fmt::format("{}: the rectangle is not inside the {}x{} image", of, file.width,
                      file.height));
    } else if (d != f.detections.end() && d->has_box) {
      // The box clamped to the image, as the crop pass clamps it.
      const double w = file.width > 0 ? file.width : INFINITY;
      const double h = file.height > 0 ? file.height : INFINITY;
      const double bx1 = std::clamp<double>(d->x1, 0, w), by1 = std::clamp<double>(d->y1, 0, h);
      const double bx2 = std::clamp<double>(d->x2, 0, w), by2 = std::clamp<double>(d->y2, 0, h);
      if (crop.x > bx1 + kBoxSlack || crop.y > by1 + kBoxSlack ||
          crop.x + crop.width < bx2 - kBoxSlack || crop.y + crop.height < by2 - kBoxSlack) {
        add(crop.path, Severity::kError, "crop_misses_box",
            fmt::format("{}: does not contain its box ({:.1f},{:.1f})-({:.1f},{:.1f}) ({} {:.2f})",
                        of, d->x1, d->y1, d->x2, d->y2, d->label.empty() ? "class" : d->label,
                        d->score));
      }
    }

    // The file, against the recorded size, hash and rectangle size.
    std::error_code ec;
    if (!fs::exists(crop.path, ec)) {
      add(crop.path, Severity::kError, "crop_missing", fmt::format("{}: the file is missing", of));
      continue;
    }
    std::vector<uint8_t> bytes;
    std::string why;
    if (!read_file_bytes(crop.path, kMaxFileBytes, bytes, why)) {
      add(crop.path, Severity::kError, "crop_unreadable", fmt::format("{}: {}", of, why));
      continue;
    }
    DecodeResult decoded = decoder.decode(bytes, DecodeOptions{});
    if (decoded.status != ItemStatus::kOk) {
      add(crop.path, Severity::kError, "crop_unreadable",
          fmt::format("{}: does not decode ({}){}", of, to_string(decoded.status),
                      decoded.message.empty() ? "" : ": " + decoded.message));
      continue;
    }
    if (decoded.image.width != crop.width || decoded.image.height != crop.height) {
      // Also changed since written, necessarily: one finding says it.
      add(crop.path, Severity::kError, "crop_size_mismatch",
          fmt::format("{}: the file is {}x{}, not the recorded {}x{}", of, decoded.image.width,
                      decoded.image.height, crop.width, crop.height));
      continue;
    }
    const uint64_t hash = XXH64(bytes.data(), bytes.size(), 0);
    if (static_cast<int64_t>(bytes.size()) != crop.size_bytes || hash != crop.xxh64) {
      add(crop.path, Severity::kError, "crop_changed",
          fmt::format("{}: changed since written ({} bytes, xxh64 {:016x}; recorded {} bytes, "
                      "{:016x})",
                      of, bytes.size(), hash, crop.size_bytes, crop.xxh64));
    }

    // The pixels, against the source's in the rectangle.
    if (!options.compare_pixels || !inside || source_failed) continue;
    if (!source) {
      std::vector<uint8_t> source_bytes;
      std::string source_why;
      std::string problem;
      if (!read_file_bytes(file.path, kMaxFileBytes, source_bytes, source_why)) {
        problem = source_why;
      } else {
        DecodeResult r = decoder.decode(source_bytes, DecodeOptions{});
        if (r.image.empty()) {
          problem = fmt::format("does not decode ({}){}", to_string(r.status),
                                r.message.empty() ? "" : ": " + r.message);
        } else if (r.image.width != file.width || r.image.height != file.height) {
          problem = fmt::format("is {}x{} now, {}x{} when scanned", r.image.width, r.image.height,
                                file.width, file.height);
        } else {
          source = composite_over(std::move(r.image), r.alpha);  // as the crop pass cut it
        }
      }
      if (!source) {
        source_failed = true;
        add(file.path, Severity::kWarning, "crop_source_unreadable",
            fmt::format("the source of {} crop(s) {}: their pixels are not compared",
                        f.crops.size(), problem));
        continue;
      }
    }
    const double difference = mean_abs_difference(
        composite_over(std::move(decoded.image), decoded.alpha), *source, crop.x, crop.y);
    if (difference >= options.pixel_tolerance) {
      add(crop.path, Severity::kError, "crop_pixels_differ",
          fmt::format("{}: its pixels are not the source's in that rectangle (mean difference "
                      "{:.1f} levels, tolerance {:.1f}): it does not show its box",
                      of, difference, options.pixel_tolerance));
    }
  }
}

}  // namespace

void validate_crops(const Manifest& manifest, ValidationReport& report,
                    const CropCheckOptions& options) {
  int threads = options.threads;
  if (threads <= 0)
    threads = static_cast<int>(std::clamp(std::thread::hardware_concurrency(), 1U, 4U));
  std::vector<std::unique_ptr<Decoder>> decoders;  // not thread-safe: one per worker
  for (int i = 0; i < threads; ++i) decoders.push_back(std::make_unique<Decoder>());

  // Rounds of files: gathered from the manifest on this thread (a Manifest is single-threaded),
  // checked on the workers, findings appended in file order.
  std::vector<InferenceStore::FileDetections> round;
  auto check_round = [&] {
    std::vector<std::vector<Finding>> found(round.size());
    std::atomic<size_t> next{0};
    auto work = [&](Decoder& decoder) {
      for (size_t i = next++; i < round.size(); i = next++) {
        check_file(round[i], options, decoder, found[i]);
      }
    };
    {
      const size_t workers = std::min(round.size(), decoders.size());
      std::vector<std::jthread> pool;
      for (size_t w = 1; w < workers; ++w) pool.emplace_back(work, std::ref(*decoders[w]));
      work(*decoders[0]);
    }
    for (auto& list : found) {
      for (Finding& f : list) report.add(std::move(f));
    }
    round.clear();
  };
  InferenceStore::DetectionQuery query;
  query.model = options.model;
  query.task = "detect";
  InferenceStore(manifest).for_each_detection(query, [&](const InferenceStore::FileDetections& f) {
    if (f.crops.empty()) return true;
    report.crops += static_cast<int64_t>(f.crops.size());
    round.push_back(f);
    if (round.size() >= kFilesPerRound) check_round();
    return true;
  });
  if (!round.empty()) check_round();
}

}  // namespace vpipe
