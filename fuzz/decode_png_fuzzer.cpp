// libFuzzer target: the PNG decoder, through Decoder::decode (vpipe/io/decode.h). Each input is
// decoded as it is, then with every chunk's CRC recomputed: libpng checks them first, so almost
// every mutation would otherwise stop at "CRC error" and never reach the image data. A file with
// correct CRCs is as possible as any other. A big non-interlaced PNG is also read reduced, row by
// row, under the default pixel limit.

#include <algorithm>
#include <array>
#include <vector>

#include "fuzz_util.h"

namespace {

/// CRC-32 (ISO 3309, as PNG uses it) of `size` bytes.
uint32_t crc32(const uint8_t* data, size_t size) {
  static const std::array<uint32_t, 256> table = [] {
    std::array<uint32_t, 256> t{};
    for (uint32_t n = 0; n < 256; ++n) {
      uint32_t c = n;
      for (int k = 0; k < 8; ++k) c = (c & 1) != 0 ? 0xEDB88320u ^ (c >> 1) : c >> 1;
      t[n] = c;
    }
    return t;
  }();
  uint32_t c = 0xFFFFFFFFu;
  for (size_t i = 0; i < size; ++i) c = table[(c ^ data[i]) & 0xFF] ^ (c >> 8);
  return c ^ 0xFFFFFFFFu;
}

/// `png` with the CRC of every whole chunk (length, type, data, CRC) after the 8-byte signature
/// recomputed; a truncated last chunk is left as it is.
std::vector<uint8_t> with_correct_crcs(const uint8_t* data, size_t size) {
  std::vector<uint8_t> png(data, data + size);
  size_t pos = 8;
  while (pos + 12 <= png.size()) {
    const uint64_t length = (uint64_t{png[pos]} << 24) | (uint64_t{png[pos + 1]} << 16) |
                            (uint64_t{png[pos + 2]} << 8) | png[pos + 3];
    if (length > png.size() - pos - 12) break;
    const uint32_t crc = crc32(png.data() + pos + 4, 4 + length);
    uint8_t* out = png.data() + pos + 8 + length;
    out[0] = static_cast<uint8_t>(crc >> 24);
    out[1] = static_cast<uint8_t>(crc >> 16);
    out[2] = static_cast<uint8_t>(crc >> 8);
    out[3] = static_cast<uint8_t>(crc);
    pos += 12 + length;
  }
  return png;
}

/// The pixel limit of the reduced decode: the default one for what the IHDR (always the first
/// chunk) says is read row by row (over kRowByRowPixels, not interlaced), else the harness's.
uint64_t reduced_max_pixels(const std::vector<uint8_t>& png) {
  if (png.size() < 29) return vpipe::fuzz::kFuzzMaxPixels;
  auto u32 = [&](size_t at) {
    return (uint64_t{png[at]} << 24) | (uint64_t{png[at + 1]} << 16) |
           (uint64_t{png[at + 2]} << 8) | png[at + 3];
  };
  const bool row_by_row = png[28] == 0 && u32(16) * u32(20) > vpipe::kRowByRowPixels;
  return row_by_row ? vpipe::DecodeOptions{}.max_pixels : vpipe::fuzz::kFuzzMaxPixels;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::vector<uint8_t> fixed = with_correct_crcs(data, size);
  const uint64_t limit = reduced_max_pixels(fixed);
  if (vpipe::fuzz::fuzz_decode(data, size, {vpipe::ImageFormat::kPng}, limit) != 0) return -1;
  if (std::equal(fixed.begin(), fixed.end(), data)) return 0;  // its CRCs were right already
  return vpipe::fuzz::fuzz_decode(fixed.data(), fixed.size(), {vpipe::ImageFormat::kPng}, limit);
}
