#include "vpipe/synth/synth.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cassert>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <exception>
#include <mutex>
#include <string_view>
#include <system_error>
#include <thread>
#include <vector>

#include "vpipe/core/error.h"
#include "vpipe/core/image_ops.h"
#include "vpipe/core/log.h"
#include "vpipe/core/status.h"
#include "vpipe/io/encode.h"
#include "vpipe/io/format.h"
#include "vpipe/synth/procedural.h"
#include "vpipe/synth/rng.h"
#include "vpipe/synth/synth_plan.h"

namespace vpipe {
namespace {

using namespace synth_detail;  // NOLINT(google-build-using-namespace): this file writes its plan

// ---------------------------------------------------------------------------------------------
// Writing

// Writes `bytes` to out_dir/rel through a temporary name in the same directory and a rename, so
// an interrupted run never leaves a partial file under a final name. (No fsync: a corpus is
// regenerated, not recovered, after a power loss.)
void write_file(const fs::path& out_dir, const std::string& rel, std::span<const uint8_t> bytes) {
  const fs::path final_path = out_dir / rel;
  fs::path tmp = final_path;
  tmp.replace_filename("." + final_path.filename().string() + ".tmp");
  std::FILE* f = std::fopen(tmp.c_str(), "wb");
  if (f == nullptr) {
    throw IoError(fmt::format("synth: cannot create {}: {}", tmp.string(),
                              std::error_code(errno, std::generic_category()).message()));
  }
  const size_t written = bytes.empty() ? 0 : std::fwrite(bytes.data(), 1, bytes.size(), f);
  const bool closed = std::fclose(f) == 0;
  if (written != bytes.size() || !closed) {
    std::error_code ignored;
    fs::remove(tmp, ignored);
    throw IoError(fmt::format("synth: cannot write {} (disk full?)", tmp.string()));
  }
  std::error_code ec;
  fs::rename(tmp, final_path, ec);
  if (ec) throw IoError(fmt::format("synth: cannot rename {}: {}", tmp.string(), ec.message()));
}

std::span<const uint8_t> as_bytes(std::string_view s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

std::string quality_param(int q) { return fmt::format("q={}", q); }

// Shrinks `img` so that its long side is at most `max_side`; appends "max_side=N" to `params`
// when it did.
Image fit_within(const Image& img, int max_side, std::string& params) {
  if (std::max(img.width, img.height) <= max_side) return img;
  params += fmt::format("{}max_side={}", params.empty() ? "" : ";", max_side);
  return resize_to_fit(img, max_side);
}

// The offset of the first SOFn segment's marker in a JPEG, walking the segment lengths; npos
// when there is none.
size_t find_sof(const std::vector<uint8_t>& jpeg) {
  size_t pos = 2;  // after SOI
  while (pos + 4 <= jpeg.size() && jpeg[pos] == 0xFF) {
    const uint8_t marker = jpeg[pos + 1];
    if (marker >= 0xC0 && marker <= 0xCF && marker != 0xC4 && marker != 0xC8 && marker != 0xCC) {
      return pos;
    }
    pos += 2 + ((static_cast<size_t>(jpeg[pos + 2]) << 8) | jpeg[pos + 3]);
  }
  return std::string_view::npos;
}

std::string words(Rng& rng, int count) {
  constexpr std::array<std::string_view, 16> kWords = {
      "the",  "image",  "server", "request", "page",  "not",  "found", "error",
      "data", "please", "access", "denied",  "cache", "user", "login", "session"};
  std::string out;
  for (int i = 0; i < count; ++i) {
    if (i > 0) out += (i % 12 == 0) ? ".\n" : " ";
    out += kWords[rng.range(0, static_cast<int>(kWords.size()) - 1)];
  }
  return out;
}

// Text that a crawler saves under an image name: an HTML error page, a plain-text note or a JSON
// API error.
std::string not_image_text(int variant, Rng& rng) {
  switch (variant) {
    case 0:
      return fmt::format(
          "<!DOCTYPE html>\n<html>\n<head><title>404 Not Found</title></head>\n<body>\n"
          "<h1>Not Found</h1>\n<p>{}</p>\n</body>\n</html>\n",
          words(rng, rng.range(20, 400)));
    case 1:
      return words(rng, rng.range(20, 600)) + "\n";
    default:
      return fmt::format("{{\"error\": {{\"code\": 403, \"message\": \"{}\"}}}}\n",
                         words(rng, rng.range(5, 80)));
  }
}

class CorpusWriter {
 public:
  CorpusWriter(const SynthOptions& options, const std::vector<FilePlan>& plan,
               std::vector<TruthRow>& rows)
      : options_(options), plan_(plan), rows_(rows) {}

  // Writes file `index` and, for an original, every file derived from it (they need its pixels
  // and bytes, so they are made by the same task). Touches only rows_ of those files.
  void run_task(int index) const {
    if (plan_[index].kind == Kind::kOriginal) {
      write_group(index);
    } else {
      write_fresh(index);
    }
  }

 private:
  uint64_t content_seed(int index) const {
    return stream_seed(options_.seed ^ kContentSalt, index);
  }
  Rng param_rng(int index) const { return Rng(stream_seed(options_.seed ^ kParamSalt, index)); }

  TruthRow& row(int index, std::string_view format, int width, int height,
                std::string params) const {
    TruthRow& r = rows_[index];
    const FilePlan& f = plan_[index];
    r.path = f.path;
    r.kind = kind_name(f.kind);
    r.format = format;
    r.width = width;
    r.height = height;
    r.params = std::move(params);
    if (f.source >= 0) r.source = plan_[f.source].path;
    return r;
  }

  void write_group(int index) const {
    const FilePlan& f = plan_[index];
    const Image display = synth::render_scene(content_seed(index), f.width, f.height, f.channels);
    const std::vector<uint8_t> bytes = encode_jpeg(
        synth::stored_for_orientation(display, f.orientation), f.quality, f.orientation);
    write_file(options_.out_dir, f.path, bytes);
    std::string params = quality_param(f.quality);
    if (f.orientation != 1) params += fmt::format(";exif={}", f.orientation);
    if (f.channels == 1) params += ";gray";
    row(index, format_name(ImageFormat::kJpeg), display.width, display.height, std::move(params));
    for (int d : f.dependents) write_derived(d, display, bytes);
  }

  void write_derived(int index, const Image& display,
                     const std::vector<uint8_t>& source_bytes) const {
    const FilePlan& f = plan_[index];
    const FilePlan& src = plan_[f.source];
    Rng rng = param_rng(index);
    auto write_jpeg = [&](const Image& img, int q, std::string params) {
      write_file(options_.out_dir, f.path, encode_jpeg(img, q, 1));
      row(index, format_name(ImageFormat::kJpeg), img.width, img.height, std::move(params));
    };
    switch (f.kind) {
      case Kind::kNearReencoded: {
        // Another quality than the original's.
        int q = rng.range(70, 94);
        if (q >= src.quality) ++q;
        write_jpeg(display, q, quality_param(q));
        break;
      }
      case Kind::kNearResized: {
        const int percent = rng.range(50, 90);
        const int w = std::max(1, static_cast<int>(std::lround(display.width * percent / 100.0)));
        const int h = std::max(1, static_cast<int>(std::lround(display.height * percent / 100.0)));
        const int q = rng.range(80, 95);
        write_jpeg(synth::resize_exact(display, w, h), q,
                   fmt::format("scale={:.2f};q={}", percent / 100.0, q));
        break;
      }
      case Kind::kNearCropped: {
        // `percent` of each side is cut away, split between its two ends (each gets 1/4..3/4
        // of the cut: a crop that keeps the subject, as people crop).
        const int percent = rng.range(2, 5);
        const int cut_x =
            std::max(1, static_cast<int>(std::lround(display.width * percent / 100.0)));
        const int cut_y =
            std::max(1, static_cast<int>(std::lround(display.height * percent / 100.0)));
        const int x = rng.range(cut_x / 4, cut_x - cut_x / 4);
        const int y = rng.range(cut_y / 4, cut_y - cut_y / 4);
        const int q = rng.range(80, 95);
        write_jpeg(synth::crop(display, x, y, display.width - cut_x, display.height - cut_y), q,
                   fmt::format("crop={:.2f};q={}", percent / 100.0, q));
        break;
      }
      case Kind::kNearBrightness: {
        const int delta = rng.range(10, 25) * (rng.chance(0.5) ? 1 : -1);
        const int q = rng.range(80, 95);
        write_jpeg(synth::apply_gain(display, 1.0, delta), q,
                   fmt::format("brightness={:+};q={}", delta, q));
        break;
      }
      case Kind::kExactCopy:
        write_file(options_.out_dir, f.path, source_bytes);
        row(index, format_name(ImageFormat::kJpeg), display.width, display.height, "");
        break;
      default:
        write_variant(index, display, rng);
        break;
    }
  }

  void write_variant(int index, const Image& display, Rng& rng) const {
    const FilePlan& f = plan_[index];
    const VariantFormat vf = kVariantCycle[f.variant];
    std::string params;
    const bool slow =
        vf == VariantFormat::kHeic || vf == VariantFormat::kAvif || vf == VariantFormat::kJxl;
    const Image img =
        fit_within(display, slow ? rng.range(256, kSlowFormatMaxSide) : kVariantMaxSide, params);
    auto add = [&params](const std::string& p) { params += (params.empty() ? "" : ";") + p; };
    std::vector<uint8_t> bytes;
    ImageFormat format = ImageFormat::kUnknown;
    switch (vf) {
      case VariantFormat::kPng:
        bytes = encode_png(img);
        format = ImageFormat::kPng;
        break;
      case VariantFormat::kPng16:
        bytes = encode_png16(synth::widen_to_16(img));
        format = ImageFormat::kPng;
        add("bits=16");
        break;
      case VariantFormat::kWebp: {
        const int q = rng.range(75, 92);
        bytes = encode_webp(img, q);
        format = ImageFormat::kWebp;
        add(quality_param(q));
        break;
      }
      case VariantFormat::kWebpLossless:
        bytes = encode_webp(img, 100, true);
        format = ImageFormat::kWebp;
        add("lossless");
        break;
      case VariantFormat::kTiff:
        bytes = encode_tiff(img);
        format = ImageFormat::kTiff;
        break;
      case VariantFormat::kTiff16:
        bytes = encode_tiff16(synth::widen_to_16(img));
        format = ImageFormat::kTiff;
        add("bits=16");
        break;
      case VariantFormat::kGif:
        bytes = encode_gif(img);
        format = ImageFormat::kGif;
        break;
      case VariantFormat::kBmp:
        bytes = encode_bmp(img);
        format = ImageFormat::kBmp;
        break;
      case VariantFormat::kHeic: {
        const int q = rng.range(60, 85);
        bytes = encode_heic(img, q);
        format = ImageFormat::kHeif;
        add(quality_param(q));
        break;
      }
      case VariantFormat::kAvif: {
        const int q = rng.range(60, 85);
        bytes = encode_avif(img, q);
        format = ImageFormat::kAvif;
        add(quality_param(q));
        break;
      }
      case VariantFormat::kJxl: {
        const int tenths = rng.range(5, 20);
        bytes = encode_jxl(img, static_cast<float>(tenths / 10.0));
        format = ImageFormat::kJxl;
        add(fmt::format("distance={:.1f}", tenths / 10.0));
        break;
      }
    }
    write_file(options_.out_dir, f.path, bytes);
    row(index, format_name(format), img.width, img.height, std::move(params));
  }

  void write_fresh(int index) const {
    const FilePlan& f = plan_[index];
    Rng rng = param_rng(index);
    const auto jpeg = format_name(ImageFormat::kJpeg);
    if (f.kind == Kind::kNotImage) {
      const std::string text = not_image_text(f.variant, rng);
      write_file(options_.out_dir, f.path, as_bytes(text));
      constexpr std::array<std::string_view, 3> kContent = {"html", "text", "json"};
      row(index, "", 0, 0, fmt::format("content={}", kContent[f.variant])).status =
          ItemStatus::kNotImage;
      return;
    }
    const Image scene = synth::render_scene(content_seed(index), f.width, f.height, f.channels);
    switch (f.kind) {
      case Kind::kBlurred: {
        // Strong relative to the image: at the 256 px working size the sigma is still 2..4 px.
        const double sigma = std::max(
            2.0, std::round(std::max(f.width, f.height) * rng.uniform(0.008, 0.016) * 10.0) / 10.0);
        const int q = rng.range(85, 95);
        write_file(options_.out_dir, f.path, encode_jpeg(synth::gaussian_blur(scene, sigma), q));
        row(index, jpeg, f.width, f.height, fmt::format("sigma={:.1f};q={}", sigma, q));
        break;
      }
      case Kind::kDark: {
        const double gain = rng.range(6, 18) / 100.0;
        const int q = rng.range(85, 95);
        write_file(options_.out_dir, f.path, encode_jpeg(synth::apply_gain(scene, gain, 0.0), q));
        row(index, jpeg, f.width, f.height, fmt::format("gain={:.2f};q={}", gain, q));
        break;
      }
      case Kind::kOverexposed: {
        // Washed out toward white, highlights clipped: out = in * gain + offset with
        // offset = 255 (1 - gain) + 25. What is not clipped keeps its structure, so two
        // overexposed images stay different pictures (a fully white frame would hash like
        // every other fully white frame).
        const double gain = rng.range(15, 30) / 100.0;
        const int offset = static_cast<int>(std::lround(255 * (1 - gain))) + 25;
        const int q = rng.range(85, 95);
        write_file(options_.out_dir, f.path,
                   encode_jpeg(synth::apply_gain(scene, gain, offset), q));
        row(index, jpeg, f.width, f.height,
            fmt::format("gain={:.2f};offset={};q={}", gain, offset, q));
        break;
      }
      case Kind::kTiny:
        if (f.variant == 1) {
          write_file(options_.out_dir, f.path, encode_png(scene));
          row(index, format_name(ImageFormat::kPng), f.width, f.height, "");
        } else {
          write_file(options_.out_dir, f.path, encode_jpeg(scene, 90));
          row(index, jpeg, f.width, f.height, quality_param(90));
        }
        break;
      case Kind::kTruncated: {
        const int q = rng.range(85, 95);
        std::vector<uint8_t> bytes = encode_jpeg(scene, q);
        const int percent = rng.range(30, 80);
        bytes.resize(bytes.size() * percent / 100);
        write_file(options_.out_dir, f.path, bytes);
        row(index, jpeg, f.width, f.height, fmt::format("cut={:.2f};q={}", percent / 100.0, q))
            .status = ItemStatus::kDamaged;
        break;
      }
      case Kind::kCorrupt:
        write_corrupt(index, scene, rng);
        break;
      default:
        assert(false && "write_fresh handles fresh kinds only");
    }
  }

  void write_corrupt(int index, const Image& scene, Rng& rng) const {
    const FilePlan& f = plan_[index];
    std::vector<uint8_t> bytes;
    std::string params;
    ImageFormat format = ImageFormat::kJpeg;
    switch (f.variant) {
      case 0: {
        // A JPEG start-of-image, the 0xFF that starts every marker, then noise. No noise byte
        // is 0xFF, so no further marker (no frame header, no scan) can ever be found: the
        // decoder must give up, not guess.
        bytes = {0xFF, 0xD8, 0xFF};
        const int n = rng.range(1'000, 20'000);
        for (int i = 0; i < n; ++i) bytes.push_back(static_cast<uint8_t>(rng.next() % 255));
        params = "variant=soi_garbage";
        break;
      }
      case 1: {
        // A whole JPEG whose frame header claims 0 x 0 pixels.
        bytes = encode_jpeg(scene, 90);
        const size_t sof = find_sof(bytes);
        if (sof == std::string_view::npos || sof + 9 > bytes.size()) {
          throw Error("synth: the JPEG encoder wrote no frame header to garble");
        }
        std::fill_n(bytes.begin() + static_cast<std::ptrdiff_t>(sof) + 5, 4, uint8_t{0});
        params = "variant=jpeg_zero_size";
        break;
      }
      default: {
        // A PNG whose IHDR is garbled: width 0 and a CRC that no longer matches.
        bytes = encode_png(scene);
        // Signature (8) + length (4) + "IHDR" (4), then width (4), height (4), bit depth (1).
        if (bytes.size() < 33) throw Error("synth: the PNG encoder wrote no IHDR to garble");
        for (size_t i = 16; i < 20; ++i) bytes[i] = 0;
        bytes[24] ^= 0x5A;  // bit depth
        format = ImageFormat::kPng;
        params = "variant=png_bad_ihdr";
        break;
      }
    }
    write_file(options_.out_dir, f.path, bytes);
    row(index, format_name(format), 0, 0, std::move(params)).status = ItemStatus::kCorrupt;
  }

  const SynthOptions& options_;
  const std::vector<FilePlan>& plan_;
  std::vector<TruthRow>& rows_;  // each task writes only the rows of its own files
};

// Group ids: each original and each fresh image that decodes opens a group, numbered in file
// order; derived files take their original's; corrupt files and non-images have none.
void assign_groups(const std::vector<FilePlan>& plan, std::vector<TruthRow>& rows) {
  int next = 1;
  std::vector<std::string> ids(plan.size());
  for (size_t i = 0; i < plan.size(); ++i) {
    const Kind k = plan[i].kind;
    if (derives_from_original(k) || k == Kind::kCorrupt || k == Kind::kNotImage) continue;
    ids[i] = std::to_string(next++);
  }
  for (size_t i = 0; i < plan.size(); ++i) {
    rows[i].group = plan[i].source >= 0 ? ids[plan[i].source] : ids[i];
  }
}

// A CSV field, quoted when it holds a comma, quote or line break (RFC 4180).
void append_field(std::string& out, std::string_view field) {
  if (field.find_first_of(",\"\r\n") == std::string_view::npos) {
    out += field;
    return;
  }
  out += '"';
  for (char c : field) {
    if (c == '"') out += '"';
    out += c;
  }
  out += '"';
}

std::string truth_csv(const std::vector<TruthRow>& rows) {
  std::string out = "path,kind,group,source,expected_status,format,width,height,params\n";
  for (const TruthRow& r : rows) {
    append_field(out, r.path);
    out += ',';
    append_field(out, r.kind);
    out += ',';
    append_field(out, r.group);
    out += ',';
    append_field(out, r.source);
    out += ',';
    out += to_string(r.status);
    out += ',';
    append_field(out, r.format);
    out += fmt::format(",{},{},", r.width, r.height);
    append_field(out, r.params);
    out += '\n';
  }
  return out;
}

// Makes `out_dir` ready: created if missing; a previous corpus (or an interrupted one) is
// removed; anything else in it is refused rather than deleted.
void prepare_out_dir(const fs::path& out_dir) {
  std::error_code ec;
  fs::create_directories(out_dir, ec);
  if (ec) throw IoError(fmt::format("synth: cannot create {}: {}", out_dir.string(), ec.message()));
  for (const fs::directory_entry& entry : fs::directory_iterator(out_dir, ec)) {
    const std::string name = entry.path().filename().string();
    const bool ours = name == kTruthName || name == "." + std::string(kTruthName) + ".tmp" ||
                      std::find(kSubdirs.begin(), kSubdirs.end(), name) != kSubdirs.end();
    if (!ours) {
      throw IoError(fmt::format(
          "synth: {} holds {}, which is not part of a synthetic corpus; give an empty or new "
          "directory",
          out_dir.string(), name));
    }
  }
  if (ec) throw IoError(fmt::format("synth: cannot list {}: {}", out_dir.string(), ec.message()));
  // The truth goes first: a corpus without it is an unfinished one.
  fs::remove(out_dir / kTruthName, ec);
  for (std::string_view sub : kSubdirs) {
    fs::remove_all(out_dir / sub, ec);
    if (ec) {
      throw IoError(
          fmt::format("synth: cannot clear {}: {}", (out_dir / sub).string(), ec.message()));
    }
  }
}

}  // namespace

SynthSummary synthesize(const SynthOptions& options) {
  if (options.count < 0) {
    throw ConfigError(fmt::format("synth: count must be >= 0, not {}", options.count));
  }
  const fs::path& out_dir = options.out_dir;
  prepare_out_dir(out_dir);

  const std::vector<FilePlan> plan = plan_corpus(options);
  for (std::string_view sub : kSubdirs) {
    const std::string prefix = fmt::format("{}/", sub);
    const bool used = std::any_of(plan.begin(), plan.end(), [&prefix](const FilePlan& f) {
      return f.path.compare(0, prefix.size(), prefix) == 0;
    });
    std::error_code ec;
    if (used) fs::create_directories(out_dir / sub, ec);
    if (ec) {
      throw IoError(
          fmt::format("synth: cannot create {}: {}", (out_dir / sub).string(), ec.message()));
    }
  }

  // A task is an original with everything derived from it, or one fresh file; biggest first so
  // that no thread is left with a 3 MP group at the end.
  std::vector<int> tasks;
  std::vector<double> cost(plan.size(), 0.0);
  for (int i = 0; i < options.count; ++i) {
    const FilePlan& f = plan[i];
    if (f.source >= 0) continue;
    tasks.push_back(i);
    cost[i] = (static_cast<double>(f.width) * f.height + 1e4) *
              (1.0 + static_cast<double>(f.dependents.size()));
  }
  std::stable_sort(tasks.begin(), tasks.end(), [&cost](int a, int b) { return cost[a] > cost[b]; });

  std::vector<TruthRow> rows(plan.size());
  const CorpusWriter writer(options, plan, rows);
  std::atomic<size_t> next{0};
  std::atomic<bool> failed{false};
  std::exception_ptr error;
  std::mutex error_mutex;
  auto work = [&] {
    while (!failed.load(std::memory_order_relaxed)) {
      const size_t t = next.fetch_add(1);
      if (t >= tasks.size()) return;
      try {
        writer.run_task(tasks[t]);
      } catch (...) {
        const std::lock_guard lock(error_mutex);
        if (!error) error = std::current_exception();
        failed = true;
      }
    }
  };
  const unsigned hw = std::max(1U, std::thread::hardware_concurrency());
  const size_t threads = std::min<size_t>(options.threads > 0 ? options.threads : hw,
                                          std::max<size_t>(1, tasks.size()));
  if (threads <= 1) {
    work();
  } else {
    std::vector<std::jthread> pool;
    pool.reserve(threads);
    for (size_t t = 0; t < threads; ++t) pool.emplace_back(work);
  }  // the pool joins here
  if (error) std::rethrow_exception(error);

  assign_groups(plan, rows);
  const std::string csv = truth_csv(rows);
  write_file(out_dir, std::string(kTruthName), as_bytes(csv));

  SynthSummary summary;
  summary.files = options.count;
  summary.truth_csv = out_dir / kTruthName;
  for (const TruthRow& r : rows) ++summary.kinds[std::string(r.kind)];
  log().debug("synth: wrote {} files and {} to {}", summary.files, kTruthName, out_dir.string());
  return summary;
}

}  // namespace vpipe
