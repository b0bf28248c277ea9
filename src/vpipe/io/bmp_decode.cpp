// A small BMP decoder: BITMAPCOREHEADER and BITMAPINFOHEADER..V5, 1/4/8-bit palette, 16/24/32-bit
// (BI_RGB or BI_BITFIELDS), top-down and bottom-up. RLE/JPEG/PNG-compressed bitmaps are
// kUnsupported. The alpha of 32-bit bitmaps (the header's alpha mask, or the high byte of BI_RGB
// pixels) is kept only when some pixel has a non-zero alpha: most writers leave it all zero, and
// such a bitmap is opaque.

#include <algorithm>
#include <array>
#include <bit>
#include <cstdlib>
#include <optional>
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
  const uint8_t* pixels = nullptr;  ///< the first stored row
  uint64_t row_bytes = 0;           ///< stored row size, padded to 4 bytes
  uint64_t rows_in_file = 0;        ///< rows present (fewer than the height when truncated)
  bool top_down = false;
  uint32_t bits = 0;
  bool gray = false;                            ///< palette of grays only: 1-channel output
  const Palette* palette = nullptr;             ///< for bits <= 8
  Channel red{0}, green{0}, blue{0}, alpha{0};  ///< for 16 and 32 bits
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

/// Little-endian 16 and 32-bit fields of the file (callers check the bounds).
uint32_t le16(std::span<const uint8_t> bytes, size_t at) {
  return uint32_t{bytes[at]} | (uint32_t{bytes[at + 1]} << 8);
}
uint32_t le32(std::span<const uint8_t> bytes, size_t at) {
  return le16(bytes, at) | (le16(bytes, at + 2) << 16);
}

/// The file and DIB headers' fields the decoder reads.
struct BmpHeader {
  uint32_t pixel_offset = 0;
  uint32_t dib_size = 0;
  int64_t width = 0;
  int64_t height = 0;  ///< negative: top-down
  uint32_t bits = 0;
  uint32_t compression = kBiRgb;
  uint32_t colors_used = 0;
  size_t palette_entry = 4;  ///< bytes per palette entry
  size_t palette_start = 0;
  bool bitfields = false;  ///< BI_BITFIELDS or BI_ALPHABITFIELDS
};

/// Reads and checks the headers. On a header the decoder cannot use, fills `result` with the
/// status and reason and returns nothing.
std::optional<BmpHeader> read_bmp_header(std::span<const uint8_t> bytes, DecodeResult& result) {
  const size_t size = bytes.size();
  if (size < 26) {
    fail(result, ItemStatus::kCorrupt, "BMP: truncated header");
    return std::nullopt;
  }
  BmpHeader h;
  h.pixel_offset = le32(bytes, 10);
  h.dib_size = le32(bytes, 14);
  if (h.dib_size < 12 || 14 + uint64_t{h.dib_size} > size) {
    fail(result, ItemStatus::kCorrupt, "BMP: truncated or invalid header");
    return std::nullopt;
  }
  h.palette_start = 14 + h.dib_size;
  if (h.dib_size == 12) {  // BITMAPCOREHEADER: unsigned 16-bit sides, 3-byte palette entries
    h.width = le16(bytes, 18);
    h.height = le16(bytes, 20);
    h.bits = le16(bytes, 24);
    h.palette_entry = 3;
  } else if (h.dib_size >= 40) {
    h.width = static_cast<int32_t>(le32(bytes, 18));
    h.height = static_cast<int32_t>(le32(bytes, 22));
    h.bits = le16(bytes, 28);
    h.compression = le32(bytes, 30);
    h.colors_used = le32(bytes, 46);
    if (h.dib_size == 40 && h.compression == kBiBitfields) h.palette_start += 12;
    if (h.dib_size == 40 && h.compression == kBiAlphaBitfields) h.palette_start += 16;
  } else {
    fail(result, ItemStatus::kCorrupt, "BMP: unknown header size " + std::to_string(h.dib_size));
    return std::nullopt;
  }
  if (h.compression == kBiRle8 || h.compression == kBiRle4) {
    fail(result, ItemStatus::kUnsupported, "BMP: RLE-compressed bitmaps are not supported");
    return std::nullopt;
  }
  h.bitfields = h.compression == kBiBitfields || h.compression == kBiAlphaBitfields;
  if (h.compression != kBiRgb && !h.bitfields) {
    fail(result, ItemStatus::kUnsupported,
         "BMP: compression type " + std::to_string(h.compression) + " is not supported");
    return std::nullopt;
  }
  const uint32_t bits = h.bits;
  const bool valid_bits =
      bits == 1 || bits == 4 || bits == 8 || bits == 16 || bits == 24 || bits == 32;
  if (!valid_bits || (h.bitfields && bits != 16 && bits != 32)) {
    fail(result, ItemStatus::kUnsupported,
         "BMP: " + std::to_string(bits) + " bits per pixel is not supported");
    return std::nullopt;
  }
  return h;
}

/// The palette of a 1/4/8-bit bitmap (BGR(X) entries) into `palette`, and whether every entry
/// is gray (R == G == B). False (`result` filled) when the file ends inside it.
bool read_palette(std::span<const uint8_t> bytes, const BmpHeader& h, Palette& palette, bool& gray,
                  DecodeResult& result) {
  const uint32_t max_colors = 1u << h.bits;
  const uint32_t count = h.colors_used == 0 ? max_colors : std::min(h.colors_used, max_colors);
  if (h.palette_start + uint64_t{count} * h.palette_entry > bytes.size()) {
    fail(result, ItemStatus::kCorrupt, "BMP: truncated palette");
    return false;
  }
  gray = true;
  for (uint32_t i = 0; i < count; ++i) {
    const uint8_t* e = bytes.data() + h.palette_start + i * h.palette_entry;
    palette[i] = {e[2], e[1], e[0]};
    gray = gray && e[0] == e[1] && e[1] == e[2];
  }
  return true;
}

/// The red, green, blue and alpha channels of 16 and 32-bit pixels into `layout`: the defaults
/// of BI_RGB, or the header's masks. False (`result` filled) when the file ends inside them.
bool read_channels(std::span<const uint8_t> bytes, const BmpHeader& h, BmpLayout& layout,
                   DecodeResult& result) {
  layout.red = Channel(h.bits == 16 ? 0x7C00 : 0x00FF0000);
  layout.green = Channel(h.bits == 16 ? 0x03E0 : 0x0000FF00);
  layout.blue = Channel(h.bits == 16 ? 0x001F : 0x000000FF);
  if (h.bitfields) {
    if (bytes.size() < 66) {
      fail(result, ItemStatus::kCorrupt, "BMP: truncated colour masks");
      return false;
    }
    layout.red = Channel(le32(bytes, 54));
    layout.green = Channel(le32(bytes, 58));
    layout.blue = Channel(le32(bytes, 62));
  }
  // Where the alpha of a 32-bit pixel is: the V3+ header's (or BI_ALPHABITFIELDS') alpha mask,
  // or the byte that BI_RGB leaves unused and that many writers fill with alpha.
  layout.alpha = Channel(0);
  if (h.bits == 32 && h.compression == kBiRgb) layout.alpha = Channel(0xFF000000);
  const bool has_alpha_mask =
      h.dib_size >= 56 || (h.dib_size == 40 && h.compression == kBiAlphaBitfields);
  if (h.bits == 32 && h.bitfields && has_alpha_mask && bytes.size() >= 70) {
    layout.alpha = Channel(le32(bytes, 66));
  }
  return true;
}

}  // namespace

DecodeResult decode_bmp(std::span<const uint8_t> bytes, const DecodeOptions& options) {
  DecodeResult result;
  const std::optional<BmpHeader> header = read_bmp_header(bytes, result);
  if (!header) return result;
  const BmpHeader& h = *header;
  const bool top_down = h.height < 0;
  const int64_t width = h.width;
  const int64_t height = std::abs(h.height);
  if (refuse_size(result, "BMP", width, height, options)) return result;

  Palette palette{};
  BmpLayout layout{};
  layout.top_down = top_down;
  layout.bits = h.bits;
  layout.palette = &palette;
  if (h.bits <= 8 && !read_palette(bytes, h, palette, layout.gray, result)) return result;
  if (!read_channels(bytes, h, layout, result)) return result;

  const size_t size = bytes.size();
  layout.row_bytes = (static_cast<uint64_t>(width) * h.bits + 31) / 32 * 4;
  if (h.pixel_offset >= size) {
    fail(result, ItemStatus::kCorrupt, "BMP: no pixel data (truncated file)");
    return result;
  }
  layout.pixels = bytes.data() + h.pixel_offset;
  layout.rows_in_file = std::min<uint64_t>((size - h.pixel_offset) / layout.row_bytes, height);
  if (layout.rows_in_file == 0) {
    fail(result, ItemStatus::kCorrupt, "BMP: truncated pixel data");
    return result;
  }
  result.image = Image(static_cast<int>(width), static_cast<int>(height), layout.gray ? 1 : 3);
  result.width = static_cast<int>(width);
  result.height = static_cast<int>(height);
  const bool read_alpha = layout.alpha.bits > 0;
  if (read_alpha) {
    // Rows missing from a truncated file stay opaque black, as in every format.
    result.alpha = Image(static_cast<int>(width), static_cast<int>(height), 1);
    std::fill(result.alpha.pixels.begin(), result.alpha.pixels.end(), uint8_t{255});
  }
  const bool alpha_seen =
      decode_bmp_rows(layout, result.image, read_alpha ? &result.alpha : nullptr);
  if (read_alpha && !alpha_seen) result.alpha = Image();  // all zero: not meant as alpha
  result.status = ItemStatus::kOk;
  if (layout.rows_in_file < static_cast<uint64_t>(height)) {
    set_damaged(result, options,
                "BMP: truncated pixel data (" + std::to_string(layout.rows_in_file) + " of " +
                    std::to_string(height) + " rows present)");
  }
  return result;
}

}  // namespace vpipe::decode_detail
