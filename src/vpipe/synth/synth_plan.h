#pragma once

// Private to vpipe_synth: what a synthetic corpus holds (the kinds of files, the format variants,
// the plan of every file, decided serially before any file is written; synth_plan.cpp) and the
// rows of its truth.csv. synth.cpp writes the plan out.

#include <array>
#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "vpipe/core/status.h"
#include "vpipe/synth/rng.h"
#include "vpipe/synth/synth.h"

namespace vpipe::synth_detail {

namespace fs = std::filesystem;
using synth::Rng;
using synth::stream_seed;

// What a file is, as written in truth.csv's `kind` column. Keep in step with kKindNames.
enum class Kind : uint8_t {
  kOriginal,
  kNearReencoded,
  kNearResized,
  kNearCropped,
  kNearBrightness,
  kExactCopy,
  kFormatVariant,
  kBlurred,
  kDark,
  kOverexposed,
  kTiny,
  kTruncated,
  kCorrupt,
  kNotImage,
};
constexpr size_t kKindCount = 14;

constexpr std::array<std::string_view, kKindCount> kKindNames = {
    "original",   "near_reencoded", "near_resized", "near_cropped", "near_brightness",
    "exact_copy", "format_variant", "blurred",      "dark",         "overexposed",
    "tiny",       "truncated",      "corrupt",      "not_image"};

inline std::string_view kind_name(Kind k) { return kKindNames[static_cast<size_t>(k)]; }

// Share of each kind in a curate corpus, per mille; originals take what the others leave
// (about half). Every share is >= 25, so each kind has >= 5 files once count >= 200.
struct KindShare {
  Kind kind;
  int per_mille;
};
constexpr std::array<KindShare, kKindCount - 1> kCurateShares = {{
    {Kind::kNearReencoded, 45},
    {Kind::kNearResized, 45},
    {Kind::kNearCropped, 45},
    {Kind::kNearBrightness, 45},
    {Kind::kExactCopy, 40},
    {Kind::kFormatVariant, 100},
    {Kind::kBlurred, 30},
    {Kind::kDark, 25},
    {Kind::kOverexposed, 25},
    {Kind::kTiny, 25},
    {Kind::kTruncated, 25},
    {Kind::kCorrupt, 25},
    {Kind::kNotImage, 25},
}};

// Kinds derived from an original's pixels or bytes: they share its group.
inline bool derives_from_original(Kind k) {
  return k == Kind::kNearReencoded || k == Kind::kNearResized || k == Kind::kNearCropped ||
         k == Kind::kNearBrightness || k == Kind::kExactCopy || k == Kind::kFormatVariant;
}

enum class VariantFormat : uint8_t {
  kPng,
  kPng16,
  kWebp,
  kWebpLossless,
  kTiff,
  kTiff16,
  kGif,
  kBmp,
  kHeic,
  kAvif,
  kJxl
};

// Format variants cycle through this list. HEIC/AVIF/JXL encoders are slow, so they come once
// per 30 variants (and small, see kSlowFormatMaxSide); they sit early in the cycle so that a
// corpus of 200 files (20 variants) already has each format.
constexpr std::array<VariantFormat, 30> kVariantCycle = {
    VariantFormat::kPng,    VariantFormat::kWebp,         VariantFormat::kTiff,
    VariantFormat::kGif,    VariantFormat::kBmp,          VariantFormat::kPng16,
    VariantFormat::kTiff16, VariantFormat::kHeic,         VariantFormat::kAvif,
    VariantFormat::kJxl,    VariantFormat::kWebpLossless, VariantFormat::kPng,
    VariantFormat::kWebp,   VariantFormat::kTiff,         VariantFormat::kGif,
    VariantFormat::kBmp,    VariantFormat::kPng16,        VariantFormat::kTiff16,
    VariantFormat::kPng,    VariantFormat::kWebp,         VariantFormat::kTiff,
    VariantFormat::kGif,    VariantFormat::kBmp,          VariantFormat::kPng,
    VariantFormat::kWebp,   VariantFormat::kWebpLossless, VariantFormat::kTiff,
    VariantFormat::kPng16,  VariantFormat::kPng,          VariantFormat::kWebp};

constexpr int kSlowFormatMaxSide = 512;
// Other variants of big originals are shrunk to this long side: a 3 MP BMP or 16-bit TIFF
// would only make the corpus heavier (and zlib slower) without testing anything more.
constexpr int kVariantMaxSide = 768;

// The subdirectories of a corpus. `prepare_out_dir` removes only these (and truth.csv).
constexpr std::array<std::string_view, 5> kSubdirs = {"originals", "derived", "formats", "defects",
                                                      "broken"};
constexpr std::string_view kTruthName = "truth.csv";

// Salts that split a file's seed into independent streams.
constexpr uint64_t kPlanSalt = 0x706C616E00000000ULL;     // attributes decided while planning
constexpr uint64_t kContentSalt = 0x7069786500000000ULL;  // the procedural image
constexpr uint64_t kParamSalt = 0x706172616D000000ULL;    // parameters of a derivation
constexpr uint64_t kLayoutStream = ~0ULL;                 // kinds, sources, formats

// One planned file. Everything here is decided serially from (seed, count, mix) before any
// thread starts; the rest comes from per-file seeds while writing.
struct FilePlan {
  Kind kind = Kind::kOriginal;
  std::string path;  // relative to out_dir, '/'-separated
  int source = -1;   // index of the original this derives from
  int width = 0;     // originals and fresh images: size as displayed
  int height = 0;
  int channels = 3;
  int quality = 90;     // originals: JPEG quality
  int orientation = 1;  // originals: EXIF orientation (1 = no tag)
  int variant = 0;  // format variants: index into kVariantCycle; tiny/corrupt/not_image: variant
  std::vector<int> dependents;  // originals: files derived from this one, in index order
};

struct TruthRow {
  std::string path;
  std::string_view kind;
  std::string group;
  std::string source;
  ItemStatus status = ItemStatus::kOk;
  std::string_view format;
  int width = 0;
  int height = 0;
  std::string params;
};

/// Every file of the corpus, decided from (seed, count, mix) alone: originals first, each
/// derived file after its source (FilePlan::dependents).
[[nodiscard]] std::vector<FilePlan> plan_corpus(const SynthOptions& options);

}  // namespace vpipe::synth_detail
