#pragma once

// Shared by the libFuzzer targets of this folder (docs/SECURITY.md, "Fuzzing"). Each target is
// deterministic: no clocks, no randomness of its own, and any file it needs lives in a folder
// of its own process under $TMPDIR, removed at exit.

#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <initializer_list>
#include <span>
#include <string>
#include <string_view>

#include "vpipe/io/decode.h"
#include "vpipe/io/format.h"
#include "vpipe/io/pixel_budget.h"

namespace vpipe::fuzz {

/// Stops the run with a crash report when an invariant the fuzzed API promises does not hold.
#define VPIPE_FUZZ_CHECK(condition)                                                          \
  do {                                                                                       \
    if (!(condition)) {                                                                      \
      std::fprintf(stderr, "%s:%d: invariant broken: %s\n", __FILE__, __LINE__, #condition); \
      std::abort();                                                                          \
    }                                                                                        \
  } while (false)

/// The decoders' pixel limit in the harnesses: 16 megapixels instead of the 200 of
/// scan.max_megapixels, so that a tiny file claiming a huge canvas is decoded within libFuzzer's
/// 2 GiB RSS limit and 10 s timeout (an honest 200 MP RGBA image needs ~1.6 GiB of buffers).
/// The refusal itself is the same code at any limit. The reduced decode of a big PNG or still
/// WebP, whose memory does not grow with the pixels, keeps the default limit (fuzz_decode).
inline constexpr uint64_t kFuzzMaxPixels = 16'000'000;

/// A folder of this process's own under $TMPDIR (or /tmp), made on first use and removed with
/// everything in it when the process exits normally.
inline const std::filesystem::path& scratch_dir() {
  static const std::filesystem::path dir = [] {
    const char* tmp = std::getenv("TMPDIR");
    std::string pattern =
        std::string(tmp != nullptr && *tmp != '\0' ? tmp : "/tmp") + "/vpipe-fuzz-XXXXXX";
    if (mkdtemp(pattern.data()) == nullptr) {
      std::perror("vpipe fuzz: mkdtemp");
      std::abort();
    }
    std::atexit([] {
      std::error_code ec;
      std::filesystem::remove_all(scratch_dir(), ec);
    });
    return std::filesystem::path(pattern);
  }();
  return dir;
}

/// Writes `bytes` to `path` (replacing it); aborts when that fails, which is the harness's fault.
inline void write_file(const std::filesystem::path& path, std::string_view bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  if (!out) {
    std::perror(("vpipe fuzz: cannot write " + path.string()).c_str());
    std::abort();
  }
}

/// Checks what Decoder::decode promises of every result (decode.h), decoded with `max_pixels`.
inline void check_decode_result(const DecodeResult& r, uint64_t max_pixels) {
  if (!has_signals(r.status)) {
    VPIPE_FUZZ_CHECK(r.image.empty() && r.alpha.empty());
    return;
  }
  VPIPE_FUZZ_CHECK(!r.image.empty());
  VPIPE_FUZZ_CHECK(r.image.channels == 1 || r.image.channels == 3);
  VPIPE_FUZZ_CHECK(r.image.pixels.size() == r.image.stride() * r.image.height);
  VPIPE_FUZZ_CHECK(static_cast<uint64_t>(r.width) * r.height <= max_pixels);
  if (!r.alpha.empty()) {
    VPIPE_FUZZ_CHECK(r.alpha.channels == 1 && r.alpha.width == r.image.width &&
                     r.alpha.height == r.image.height);
    VPIPE_FUZZ_CHECK(r.alpha.pixels.size() == r.alpha.stride() * r.alpha.height);
  }
}

/// The body of every decoder target: inputs whose signature is not one of `formats` are
/// rejected (-1: libFuzzer keeps none of them in the corpus), the others are decoded at full
/// resolution and, with the same decoder, reduced as a scan's dedup pass asks (the JPEG DCT
/// scaling path, big PNGs row by row, big WebPs through libwebp's rescaler; a reused decoder, as
/// a scan worker's is). The reduced decode may be given a higher pixel limit
/// (`reduced_max_pixels`) where its memory does not grow with the pixels. Both take their
/// pixels from one budget, as a scan's workers do, and must have given them back after.
inline int fuzz_decode(const uint8_t* data, size_t size, std::initializer_list<ImageFormat> formats,
                       uint64_t reduced_max_pixels = kFuzzMaxPixels) {
  const std::span<const uint8_t> bytes(data, size);
  const ImageFormat format = sniff_format(bytes.first(std::min(bytes.size(), kSniffBytes)));
  if (std::find(formats.begin(), formats.end(), format) == formats.end()) return -1;
  static PixelBudget budget(kFuzzMaxPixels);
  Decoder decoder;
  DecodeOptions options;
  options.max_pixels = kFuzzMaxPixels;
  options.budget = &budget;
  int full_width = 0;
  int full_height = 0;
  {
    // Released before the next decode: a lease held by this thread would make it wait forever
    // (a scan's signals stage releases each image's lease from another thread).
    const DecodeResult full = decoder.decode(bytes, options);
    check_decode_result(full, options.max_pixels);
    VPIPE_FUZZ_CHECK(full.format == format);
    full_width = full.width;
    full_height = full.height;
  }
  options.min_long_side = 64;
  options.max_pixels = reduced_max_pixels;
  {
    const DecodeResult reduced = decoder.decode(bytes, options);
    check_decode_result(reduced, options.max_pixels);
    if (reduced_max_pixels == kFuzzMaxPixels) {
      VPIPE_FUZZ_CHECK(reduced.width == full_width && reduced.height == full_height);
    }
  }
  VPIPE_FUZZ_CHECK(budget.in_use() == 0);
  return 0;
}

}  // namespace vpipe::fuzz
