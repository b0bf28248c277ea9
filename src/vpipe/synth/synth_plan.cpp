// Planning a synthetic corpus: every file's kind, source, size and variant, decided serially
// from (seed, count, mix) before any file is written (synth_plan.h).

#include "vpipe/synth/synth_plan.h"

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

namespace vpipe::synth_detail {
namespace {

// ---------------------------------------------------------------------------------------------
// Planning

struct Size {
  int width;
  int height;
};

// A photographic aspect ratio, landscape or portrait.
double random_aspect(Rng& rng) {
  constexpr std::array<double, 6> kAspects = {4.0 / 3, 3.0 / 2, 16.0 / 9, 1.0, 5.0 / 4, 2.0};
  const double a = kAspects[rng.range(0, static_cast<int>(kAspects.size()) - 1)];
  return rng.chance(0.3) ? 1.0 / a : a;
}

// Width and height (>= 1) whose product is close to `pixels`, with aspect `aspect` (w / h).
Size size_for_area(double pixels, double aspect) {
  const int w = std::max(1, static_cast<int>(std::lround(std::sqrt(pixels * aspect))));
  const int h = std::max(1, static_cast<int>(std::lround(pixels / w)));
  return {w, h};
}

// Log-uniform area in [lo, hi] pixels.
double log_uniform(Rng& rng, double lo, double hi) {
  return std::exp(rng.uniform(std::log(lo), std::log(hi)));
}

// A curate original's size: mostly 0.1..1 MP, some small (short side 64..200 px), some large
// (1..3 MP).
Size curate_original_size(Rng& rng) {
  const double aspect = random_aspect(rng);
  const double u = rng.uniform();
  if (u < 0.08) {
    const int short_side = rng.range(64, 200);
    const int long_side = static_cast<int>(std::lround(short_side * std::max(aspect, 1 / aspect)));
    return aspect >= 1 ? Size{long_side, short_side} : Size{short_side, long_side};
  }
  if (u < 0.90) return size_for_area(log_uniform(rng, 0.1e6, 1.0e6), aspect);
  return size_for_area(rng.uniform(1.05e6, 2.95e6), aspect);
}

std::string original_path(int index, Rng& rng, std::string_view subdir) {
  const double style = rng.uniform();
  std::string stem = style < 0.80   ? fmt::format("img_{:06}", index)
                     : style < 0.90 ? fmt::format("IMG {:06}", index)
                                    : fmt::format("holiday photo {:06} (1)", index);
  const double ext = rng.uniform();
  const char* suffix = ext < 0.80 ? ".jpg" : ext < 0.92 ? ".jpeg" : ".JPG";
  return fmt::format("{}/{}{}", subdir, stem, suffix);
}

// The file name of `path` without directory and extension.
std::string stem_of(const std::string& path) { return fs::path(path).stem().string(); }
std::string extension_of(const std::string& path) { return fs::path(path).extension().string(); }

std::string_view variant_extension(VariantFormat f) {
  switch (f) {
    case VariantFormat::kPng:
    case VariantFormat::kPng16:
      return ".png";
    case VariantFormat::kWebp:
    case VariantFormat::kWebpLossless:
      return ".webp";
    case VariantFormat::kTiff:
      return ".tif";
    case VariantFormat::kTiff16:
      return ".tiff";
    case VariantFormat::kGif:
      return ".gif";
    case VariantFormat::kBmp:
      return ".bmp";
    case VariantFormat::kHeic:
      return ".heic";
    case VariantFormat::kAvif:
      return ".avif";
    case VariantFormat::kJxl:
      return ".jxl";
  }
  return "";
}

std::vector<Kind> curate_kinds(int count, Rng& layout) {
  std::vector<Kind> kinds;
  kinds.reserve(count);
  for (const KindShare& share : kCurateShares) {
    const int n = static_cast<int>(static_cast<int64_t>(count) * share.per_mille / 1000);
    kinds.insert(kinds.end(), n, share.kind);
  }
  kinds.insert(kinds.end(), count - static_cast<int>(kinds.size()), Kind::kOriginal);
  // Fisher-Yates with our own PRNG, so the order is the same with every standard library.
  for (int i = count - 1; i > 0; --i) std::swap(kinds[i], kinds[layout.range(0, i)]);
  return kinds;
}

/// Size, quality, channels, orientation and path of original `i`, drawn from its own stream.
void plan_original(const SynthOptions& options, int i, FilePlan& f) {
  Rng rng(stream_seed(options.seed ^ kPlanSalt, i));
  Size size{};
  switch (options.mix) {
    case SynthMix::kCurate:
      size = curate_original_size(rng);
      f.quality = rng.range(80, 95);
      f.channels = rng.chance(0.08) ? 1 : 3;
      f.orientation = rng.chance(0.08) ? rng.range(2, 8) : 1;
      break;
    case SynthMix::kPhotos:
      size = size_for_area(rng.uniform(1.05e6, 2.95e6), random_aspect(rng));
      f.quality = rng.range(85, 95);
      f.orientation = rng.chance(0.05) ? rng.range(2, 8) : 1;
      break;
    case SynthMix::kSmall: {
      const double aspect = random_aspect(rng);
      const int long_side = rng.range(64, 256);
      const int short_side =
          std::max(64, static_cast<int>(std::lround(long_side / std::max(aspect, 1 / aspect))));
      size = aspect >= 1 ? Size{long_side, short_side} : Size{short_side, long_side};
      f.quality = rng.range(75, 95);
      break;
    }
  }
  f.width = size.width;
  f.height = size.height;
  f.path = original_path(i, rng, "originals");
}

/// The path of derived file `i` (a near-duplicate, an exact copy or a format variant) of
/// `src`; a format variant also gets the next format of the cycle (`variants` counts them).
std::string derived_path(const FilePlan& src, int i, FilePlan& f, int& variants) {
  const std::string stem = stem_of(src.path);
  switch (f.kind) {
    case Kind::kNearReencoded:
      return fmt::format("derived/{}_q_{:06}.jpg", stem, i);
    case Kind::kNearResized:
      return fmt::format("derived/{}_small_{:06}.jpg", stem, i);
    case Kind::kNearCropped:
      return fmt::format("derived/{}_crop_{:06}.jpg", stem, i);
    case Kind::kNearBrightness:
      return fmt::format("derived/{}_edit_{:06}.jpg", stem, i);
    case Kind::kExactCopy:
      return fmt::format("derived/{} copy {:06}{}", stem, i, extension_of(src.path));
    default: {  // format variant
      f.variant = variants++ % static_cast<int>(kVariantCycle.size());
      const VariantFormat vf = kVariantCycle[f.variant];
      const bool deep = vf == VariantFormat::kPng16 || vf == VariantFormat::kTiff16;
      return fmt::format("formats/{}{}_{:06}{}", stem, deep ? "_16bit" : "", i,
                         variant_extension(vf));
    }
  }
}

/// Fresh image `i` with a defect: its own procedural scene, so it is unique (no near-duplicate
/// of any other file) and its defect is the only thing wrong with it. `corrupt` and
/// `not_images` count those kinds, to cycle their variants.
void plan_defect(const SynthOptions& options, int i, FilePlan& f, int& corrupt, int& not_images) {
  Rng rng(stream_seed(options.seed ^ kPlanSalt, i));
  f.channels = rng.chance(0.05) ? 1 : 3;
  const auto sized = [&](double low, double high) {
    const Size s = size_for_area(log_uniform(rng, low, high), random_aspect(rng));
    f.width = s.width;
    f.height = s.height;
  };
  switch (f.kind) {
    case Kind::kBlurred:
    case Kind::kDark:
    case Kind::kOverexposed:
      sized(0.1e6, 1.0e6);
      f.path = fmt::format("defects/{}_{:06}.jpg", kind_name(f.kind), i);
      break;
    case Kind::kTiny: {
      const double aspect = random_aspect(rng);
      const int long_side = rng.range(16, 47);
      const int short_side =
          std::max(8, static_cast<int>(std::lround(long_side / std::max(aspect, 1 / aspect))));
      f.width = aspect >= 1 ? long_side : short_side;
      f.height = aspect >= 1 ? short_side : long_side;
      f.variant = rng.chance(0.3) ? 1 : 0;  // 1: PNG
      f.path = fmt::format("defects/tiny_{:06}{}", i, f.variant == 1 ? ".png" : ".jpg");
      break;
    }
    case Kind::kTruncated:
      sized(0.1e6, 0.6e6);
      f.path = fmt::format("broken/truncated_{:06}.jpg", i);
      break;
    case Kind::kCorrupt:
      sized(0.02e6, 0.2e6);
      f.variant = corrupt++ % 3;
      f.path = fmt::format("broken/corrupt_{:06}{}", i, f.variant == 2 ? ".png" : ".jpg");
      break;
    case Kind::kNotImage:
      f.channels = 0;
      f.variant = not_images++ % 3;
      f.path = fmt::format("broken/download {:06}{}", i, f.variant == 1 ? ".png" : ".jpg");
      break;
    default:
      assert(false && "every kind is planned above");
  }
}

}  // namespace

std::vector<FilePlan> plan_corpus(const SynthOptions& options) {
  const int count = options.count;
  Rng layout(stream_seed(options.seed, kLayoutStream ^ static_cast<uint64_t>(options.mix)));
  std::vector<Kind> kinds = options.mix == SynthMix::kCurate
                                ? curate_kinds(count, layout)
                                : std::vector<Kind>(count, Kind::kOriginal);
  std::vector<FilePlan> plan(count);
  std::vector<int> sources;  // originals large enough to derive from
  std::vector<int> originals;
  for (int i = 0; i < count; ++i) {
    FilePlan& f = plan[i];
    f.kind = kinds[i];
    if (f.kind != Kind::kOriginal) continue;
    plan_original(options, i, f);
    originals.push_back(i);
    // Halving must leave a usable image, and a 2..5% crop must remove at least a pixel.
    if (std::min(f.width, f.height) >= 96) sources.push_back(i);
  }
  if (sources.empty()) sources = originals;

  int variants = 0;
  int corrupt = 0;
  int not_images = 0;
  for (int i = 0; i < count; ++i) {
    FilePlan& f = plan[i];
    if (f.kind == Kind::kOriginal) continue;
    if (!derives_from_original(f.kind)) {
      plan_defect(options, i, f, corrupt, not_images);
      continue;
    }
    // curate_kinds leaves about half the files originals, so there is always one to use.
    assert(!sources.empty());
    f.source = sources[layout.range(0, static_cast<int>(sources.size()) - 1)];
    FilePlan& src = plan[f.source];
    src.dependents.push_back(i);
    f.channels = src.channels;
    f.path = derived_path(src, i, f, variants);
  }
  return plan;
}

}  // namespace vpipe::synth_detail
