// A small BMP decoder: BITMAPCOREHEADER and BITMAPINFOHEADER..V5, 1/4/8-bit palette, 16/24/32-bit
// (BI_RGB or BI_BITFIELDS), top-down and bottom-up. RLE/JPEG/PNG-compressed bitmaps are
// kUnsupported. The alpha of 32-bit bitmaps (the header's alpha mask, or the high byte of BI_RGB
// pixels) is kept only when some pixel has a non-zero alpha: most writers leave it all zero, and
// such a bitmap is opaque.

#include <algorithm>
#include <array>
#include <bit>
#include <cstdlib>
#include <string>

#include "vpipe/io/decode_internal.h"

namespace vpipe::decode_detail {
namespace {

constexpr uint32_t kBiRgb = 0;
constexpr uint32_t kBiRle8 = 1;
constexpr uint32_t kBiRle4 = 2;
constexpr uint32_t kBiBitfields = 3;
constexpr uint32_t kBiAlphaBitfields = 6;

/// One colour channel of a BI_BITFIELDS pixel: where it is and how to widen it to 8 bits.
struct Channel {
  uint32_t mask = 0;
  int shift = 0;
  int bits = 0;

  explicit Channel(uint32_t m) : mask(m) {
    if (mask == 0) return;
    shift = std::countr_zero(mask);
    bits = std::popcount(mask >> shift);
  }

  [[nodiscard]] uint8_t extract(uint32_t pixel) const {
    if (bits == 0) return 0;
    const uint32_t v = (pixel & mask) >> shift;
    if (bits >= 8) return static_cast<uint8_t>(v >> (bits - 8));
    const uint32_t max = (1u << bits) - 1;
    return static_cast<uint8_t>((v * 255 + max / 2) / max);
  }
};

using Palette = std::array<std::array<uint8_t, 3>, 256>;

/// Where and how a bitmap's pixel rows are stored.
struct BmpLayout {
  const uint8_t* pixels;  ///< the first stored row
  uint64_t row_bytes;     ///< stored row size, padded to 4 bytes
  uint64_t rows_in_file;  ///< rows present (fewer than the height when truncated)
  bool top_down;
  uint32_t bits;
  bool gray;                        ///< palette of grays only: 1-channel output
  const Palette* palette;           ///< for bits <= 8
  Channel red, green, blue, alpha;  ///< for 16 and 32 bits
};

/// Decodes the stored rows into `image` (its size, gray or RGB) and, when `alpha` is not null,
/// the alpha of 32-bit pixels into `alpha` (1 channel, same size). Returns whether any pixel had
/// a non-zero alpha.
bool decode_bmp_rows(const BmpLayout& in, Image& image, Image* alpha_plane) {
  bool alpha_seen = false;
  const int64_t width = image.width;
  const uint32_t bits = in.bits;
  for (uint64_t file_row = 0; file_row < in.rows_in_file; ++file_row) {
    const uint8_t* src = in.pixels + file_row * in.row_bytes;
    const int y = static_cast<int>(in.top_down ? file_row : image.height - 1 - file_row);
    uint8_t* dst = image.row(y);
    uint8_t* alpha = alpha_plane != nullptr ? alpha_plane->row(y) : nullptr;
    for (int64_t x = 0; x < width; ++x) {
      uint8_t rgb[3];
      if (bits <= 8) {
        const uint64_t bit = static_cast<uint64_t>(x) * bits;
        const uint32_t shift = 8 - bits - static_cast<uint32_t>(bit % 8);
        const uint32_t index = (src[bit / 8] >> shift) & ((1u << bits) - 1);
        std::copy_n((*in.palette)[index].data(), 3, rgb);
      } else if (bits == 24) {
        rgb[0] = src[3 * x + 2];
        rgb[1] = src[3 * x + 1];
        rgb[2] = src[3 * x];
      } else {
        const uint8_t* p = src + x * (bits / 8);
        const uint32_t pixel = bits == 16 ? uint32_t{p[0]} | (uint32_t{p[1]} << 8)
                                          : uint32_t{p[0]} | (uint32_t{p[1]} << 8) |
                                                (uint32_t{p[2]} << 16) | (uint32_t{p[3]} << 24);
        rgb[0] = in.red.extract(pixel);
        rgb[1] = in.green.extract(pixel);
        rgb[2] = in.blue.extract(pixel);
        if (alpha != nullptr) {
          alpha[x] = in.alpha.extract(pixel);
          alpha_seen = alpha_seen || alpha[x] != 0;
        }
      }
      if (in.gray) {
        dst[x] = rgb[0];
      } else {
        std::copy_n(rgb, 3, dst + 3 * x);
      }
    }
  }
  return alpha_seen;
}

}  // namespace

DecodeResult decode_bmp(std::span<const uint8_t> bytes, const DecodeOptions& options) {
  DecodeResult result;
  const size_t size = bytes.size();
  auto u16 = [&](size_t at) -> uint32_t {
    return uint32_t{bytes[at]} | (uint32_t{bytes[at + 1]} << 8);
  };
  auto u32 = [&](size_t at) -> uint32_t { return u16(at) | (u16(at + 2) << 16); };
  if (size < 26) {
    fail(result, ItemStatus::kCorrupt, "BMP: truncated header");
    return result;
  }
  const uint32_t pixel_offset = u32(10);
  const uint32_t dib_size = u32(14);
  if (dib_size < 12 || 14 + uint64_t{dib_size} > size) {
    fail(result, ItemStatus::kCorrupt, "BMP: truncated or invalid header");
    return result;
  }
  int64_t width = 0;
  int64_t height = 0;
  uint32_t bits = 0;
  uint32_t compression = kBiRgb;
  uint32_t colors_used = 0;
  size_t palette_entry = 4;
  size_t palette_start = 14 + dib_size;
  if (dib_size == 12) {  // BITMAPCOREHEADER: unsigned 16-bit sides, 3-byte palette entries
    width = u16(18);
    height = u16(20);
    bits = u16(24);
    palette_entry = 3;
  } else if (dib_size >= 40) {
    width = static_cast<int32_t>(u32(18));
    height = static_cast<int32_t>(u32(22));
    bits = u16(28);
    compression = u32(30);
    colors_used = u32(46);
    if (dib_size == 40 && compression == kBiBitfields) palette_start += 12;
    if (dib_size == 40 && compression == kBiAlphaBitfields) palette_start += 16;
  } else {
    fail(result, ItemStatus::kCorrupt, "BMP: unknown header size " + std::to_string(dib_size));
    return result;
  }
  if (compression == kBiRle8 || compression == kBiRle4) {
    fail(result, ItemStatus::kUnsupported, "BMP: RLE-compressed bitmaps are not supported");
    return result;
  }
  const bool bitfields = compression == kBiBitfields || compression == kBiAlphaBitfields;
  if (compression != kBiRgb && !bitfields) {
    fail(result, ItemStatus::kUnsupported,
         "BMP: compression type " + std::to_string(compression) + " is not supported");
    return result;
  }
  const bool valid_bits =
      bits == 1 || bits == 4 || bits == 8 || bits == 16 || bits == 24 || bits == 32;
  if (!valid_bits || (bitfields && bits != 16 && bits != 32)) {
    fail(result, ItemStatus::kUnsupported,
         "BMP: " + std::to_string(bits) + " bits per pixel is not supported");
    return result;
  }
  const bool top_down = height < 0;
  height = std::abs(height);
  if (refuse_size(result, "BMP", width, height, options)) return result;

  // Palette (1/4/8-bit): BGR(X) entries; gray when every entry has R == G == B.
  Palette palette{};
  bool gray = false;
  if (bits <= 8) {
    const uint32_t max_colors = 1u << bits;
    const uint32_t count = colors_used == 0 ? max_colors : std::min(colors_used, max_colors);
    if (palette_start + uint64_t{count} * palette_entry > size) {
      fail(result, ItemStatus::kCorrupt, "BMP: truncated palette");
      return result;
    }
    gray = true;
    for (uint32_t i = 0; i < count; ++i) {
      const uint8_t* e = bytes.data() + palette_start + i * palette_entry;
      palette[i] = {e[2], e[1], e[0]};
      gray = gray && e[0] == e[1] && e[1] == e[2];
    }
  }
  Channel red(0x00FF0000);
  Channel green(0x0000FF00);
  Channel blue(0x000000FF);
  if (bits == 16) {
    red = Channel(0x7C00);
    green = Channel(0x03E0);
    blue = Channel(0x001F);
  }
  if (bitfields) {
    if (size < 66) {
      fail(result, ItemStatus::kCorrupt, "BMP: truncated colour masks");
      return result;
    }
    red = Channel(u32(54));
    green = Channel(u32(58));
    blue = Channel(u32(62));
  }
  // Where the alpha of a 32-bit pixel is: the V3+ header's (or BI_ALPHABITFIELDS') alpha mask,
  // or the byte that BI_RGB leaves unused and that many writers fill with alpha.
  Channel alpha_channel(0);
  if (bits == 32 && compression == kBiRgb) alpha_channel = Channel(0xFF000000);
  const bool has_alpha_mask =
      dib_size >= 56 || (dib_size == 40 && compression == kBiAlphaBitfields);
  if (bits == 32 && bitfields && has_alpha_mask && size >= 70) alpha_channel = Channel(u32(66));

  const uint64_t row_bytes = (static_cast<uint64_t>(width) * bits + 31) / 32 * 4;
  if (pixel_offset >= size) {
    fail(result, ItemStatus::kCorrupt, "BMP: no pixel data (truncated file)");
    return result;
  }
  const uint64_t rows_in_file = std::min<uint64_t>((size - pixel_offset) / row_bytes, height);
  if (rows_in_file == 0) {
    fail(result, ItemStatus::kCorrupt, "BMP: truncated pixel data");
    return result;
  }
  const int channels = gray ? 1 : 3;
  result.image = Image(static_cast<int>(width), static_cast<int>(height), channels);
  result.width = static_cast<int>(width);
  result.height = static_cast<int>(height);
  const bool read_alpha = alpha_channel.bits > 0;
  if (read_alpha) {
    // Rows missing from a truncated file stay opaque black, as in every format.
    result.alpha = Image(static_cast<int>(width), static_cast<int>(height), 1);
    std::fill(result.alpha.pixels.begin(), result.alpha.pixels.end(), uint8_t{255});
  }
  const BmpLayout layout{bytes.data() + pixel_offset,
                         row_bytes,
                         rows_in_file,
                         top_down,
                         bits,
                         gray,
                         &palette,
                         red,
                         green,
                         blue,
                         alpha_channel};
  const bool alpha_seen =
      decode_bmp_rows(layout, result.image, read_alpha ? &result.alpha : nullptr);
  if (read_alpha && !alpha_seen) result.alpha = Image();  // all zero: not meant as alpha
  result.status = ItemStatus::kOk;
  if (rows_in_file < static_cast<uint64_t>(height)) {
    set_damaged(result, options,
                "BMP: truncated pixel data (" + std::to_string(rows_in_file) + " of " +
                    std::to_string(height) + " rows present)");
  }
  return result;
}

}  // namespace vpipe::decode_detail
