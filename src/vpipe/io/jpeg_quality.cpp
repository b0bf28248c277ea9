#include "vpipe/io/jpeg_quality.h"

#include <algorithm>
#include <array>
#include <cstdlib>
#include <fstream>
#include <limits>
#include <vector>

namespace vpipe {
namespace {

/// The luminance table of JPEG Annex K (K.1), in zigzag order as DQT stores it: the base that
/// IJG libjpeg scales by quality.
constexpr std::array<int, 64> kStdLuminanceZigzag = {
    16, 11, 12,  14,  12,  10, 16, 14,  13,  14,  18,  17,  16, 19,  24,  40,
    26, 24, 22,  22,  24,  49, 35, 37,  29,  40,  58,  51,  61, 60,  57,  51,
    56, 55, 64,  72,  92,  78, 64, 68,  87,  69,  55,  56,  80, 109, 81,  87,
    95, 98, 103, 104, 103, 62, 77, 113, 121, 112, 100, 120, 92, 101, 103, 99};

/// Entry `i` of the table libjpeg writes at `quality` (jpeg_quality_scaling, then
/// jpeg_add_quant_table with force_baseline, as turbojpeg and cjpeg do).
int ijg_entry(int quality, size_t i) {
  const long scale = quality < 50 ? 5000 / quality : 200 - 2 * quality;
  const long value = (kStdLuminanceZigzag[i] * scale + 50) / 100;
  return static_cast<int>(std::clamp(value, 1L, 255L));
}

/// The IJG quality whose table is nearest `table` (zigzag order).
int nearest_ijg_quality(const std::array<int, 64>& table) {
  int best_quality = 100;
  long best_distance = std::numeric_limits<long>::max();
  for (int q = 100; q >= 1; --q) {  // downwards: on equal distance the higher quality stays
    long distance = 0;
    for (size_t i = 0; i < 64; ++i) distance += std::labs(long{table[i]} - ijg_entry(q, i));
    if (distance < best_distance) {
      best_distance = distance;
      best_quality = q;
    }
  }
  return best_quality;
}

struct Walk {
  std::optional<int> quality;
  bool truncated = false;  ///< the bytes ended before table 0 or the first scan
};

/// Walks the marker segments of `bytes` up to the first SOS, looking for quantization table 0.
Walk walk_segments(std::span<const uint8_t> bytes) {
  if (bytes.size() < 2) return {std::nullopt, !bytes.empty() && bytes[0] == 0xFF};
  if (bytes[0] != 0xFF || bytes[1] != 0xD8) return {};  // no SOI: not a JPEG
  size_t at = 2;
  while (true) {
    // A marker is 0xFF, any number of fill 0xFF bytes, then the marker code.
    if (at >= bytes.size()) return {std::nullopt, true};
    if (bytes[at] != 0xFF) return {};  // garbage between segments: give up
    while (at < bytes.size() && bytes[at] == 0xFF) ++at;
    if (at >= bytes.size()) return {std::nullopt, true};
    const uint8_t code = bytes[at++];
    if (code == 0xD8 || code == 0x01 || (code >= 0xD0 && code <= 0xD7)) continue;  // no length
    if (code == 0xD9 || code == 0xDA) return {};  // end of image or first scan: no table 0
    if (at + 2 > bytes.size()) return {std::nullopt, true};
    const size_t length = (size_t{bytes[at]} << 8) | bytes[at + 1];
    if (length < 2) return {};
    const size_t end = at + length;
    if (code == 0xDB) {
      if (end > bytes.size()) return {std::nullopt, true};
      // One DQT segment may hold several tables: Pq (precision: 0 = 8-bit, 1 = 16-bit) and Tq
      // (table id) in one byte, then 64 entries in zigzag order.
      size_t p = at + 2;
      while (p < end) {
        const int precision = bytes[p] >> 4;
        const int id = bytes[p] & 0x0F;
        const size_t entry_bytes = precision == 0 ? 1 : 2;
        ++p;
        if (precision > 1 || p + 64 * entry_bytes > end) return {};  // malformed
        if (id == 0) {
          std::array<int, 64> table{};
          for (size_t i = 0; i < 64; ++i) {
            table[i] =
                entry_bytes == 1 ? bytes[p + i] : (bytes[p + 2 * i] << 8) | bytes[p + 2 * i + 1];
          }
          return {nearest_ijg_quality(table), false};
        }
        p += 64 * entry_bytes;
      }
    }
    at = end;
  }
}

}  // namespace

std::optional<int> estimate_jpeg_quality(std::span<const uint8_t> header) {
  return walk_segments(header).quality;
}

std::optional<int> read_jpeg_quality(const std::filesystem::path& path) {
  constexpr size_t kFirstRead = size_t{64} << 10;
  constexpr size_t kMaxRead = size_t{64} << 20;
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  std::vector<uint8_t> bytes;
  for (size_t want = kFirstRead; want <= kMaxRead; want *= 4) {
    const size_t have = bytes.size();
    bytes.resize(want);
    in.read(reinterpret_cast<char*>(bytes.data() + have),
            static_cast<std::streamsize>(want - have));
    bytes.resize(have + static_cast<size_t>(in.gcount()));
    const Walk walk = walk_segments(bytes);
    // Tables further in than this read: read on, unless the file has ended.
    if (!walk.truncated || bytes.size() < want) return walk.quality;
  }
  return std::nullopt;
}

}  // namespace vpipe
