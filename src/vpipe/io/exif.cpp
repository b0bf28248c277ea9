#include "vpipe/io/exif.h"

#include <algorithm>
#include <cassert>
#include <cstring>

namespace vpipe {
namespace {

/// Reads the Orientation tag from a TIFF-structured EXIF block (after "Exif\0\0").
int tiff_orientation(std::span<const uint8_t> tiff) {
  if (tiff.size() < 8) return 1;
  bool big_endian = false;
  if (tiff[0] == 'M' && tiff[1] == 'M') {
    big_endian = true;
  } else if (!(tiff[0] == 'I' && tiff[1] == 'I')) {
    return 1;
  }
  auto u16 = [&](size_t at) -> uint32_t {
    return big_endian ? (uint32_t{tiff[at]} << 8) | tiff[at + 1]
                      : (uint32_t{tiff[at + 1]} << 8) | tiff[at];
  };
  auto u32 = [&](size_t at) -> uint32_t {
    return big_endian ? (u16(at) << 16) | u16(at + 2) : (u16(at + 2) << 16) | u16(at);
  };
  if (u16(2) != 42) return 1;
  const uint64_t ifd = u32(4);
  if (ifd < 8 || ifd + 2 > tiff.size()) return 1;
  const uint32_t entries = u16(ifd);
  for (uint32_t i = 0; i < entries; ++i) {
    const uint64_t entry = ifd + 2 + uint64_t{12} * i;
    if (entry + 12 > tiff.size()) return 1;
    if (u16(entry) != 0x0112) continue;
    const uint32_t type = u16(entry + 2);
    const uint32_t count = u32(entry + 4);
    if (type != 3 || count != 1) return 1;  // SHORT, one value, stored inline
    const uint32_t value = u16(entry + 8);
    return value >= 1 && value <= 8 ? static_cast<int>(value) : 1;
  }
  return 1;
}

}  // namespace

int jpeg_exif_orientation(std::span<const uint8_t> jpeg) {
  if (jpeg.size() < 4 || jpeg[0] != 0xFF || jpeg[1] != 0xD8) return 1;
  size_t pos = 2;
  while (pos + 4 <= jpeg.size()) {
    if (jpeg[pos] != 0xFF) return 1;  // not at a marker: malformed, give up
    const uint8_t marker = jpeg[pos + 1];
    if (marker == 0xFF) {  // fill byte
      ++pos;
      continue;
    }
    if (marker == 0xDA || marker == 0xD9) return 1;  // SOS / EOI: no EXIF before the image
    if (marker == 0x01 || (marker >= 0xD0 && marker <= 0xD7)) {  // standalone markers
      pos += 2;
      continue;
    }
    const size_t length = (size_t{jpeg[pos + 2]} << 8) | jpeg[pos + 3];
    if (length < 2 || pos + 2 + length > jpeg.size()) return 1;
    if (marker == 0xE1 && length >= 2 + 6 &&
        std::memcmp(jpeg.data() + pos + 4, "Exif\0\0", 6) == 0) {
      return tiff_orientation(jpeg.subspan(pos + 4 + 6, length - 2 - 6));
    }
    pos += 2 + length;
  }
  return 1;
}

namespace {

/// Copies `src` (width x height, C channels) into `dst` (dst_width x dst_height) where display
/// pixel (dx, dy) comes from source offset origin + dx * step_x + dy * step_y (in samples). Walks
/// the destination in square tiles so the strided source reads stay in cache for rotations.
template <int C>
void remap_tiled(const uint8_t* src, uint8_t* dst, int dst_width, int dst_height, int64_t origin,
                 int64_t step_x, int64_t step_y) {
  constexpr int kTile = 64;
  for (int ty = 0; ty < dst_height; ty += kTile) {
    const int y_end = std::min(dst_height, ty + kTile);
    for (int tx = 0; tx < dst_width; tx += kTile) {
      const int x_end = std::min(dst_width, tx + kTile);
      for (int dy = ty; dy < y_end; ++dy) {
        uint8_t* out = dst + (static_cast<int64_t>(dy) * dst_width + tx) * C;
        const uint8_t* in = src + origin + dy * step_y + tx * step_x;
        for (int dx = tx; dx < x_end; ++dx, out += C, in += step_x) {
          for (int c = 0; c < C; ++c) out[c] = in[c];
        }
      }
    }
  }
}

}  // namespace

void apply_orientation(Image& img, int orientation) {
  if (orientation < 2 || orientation > 8 || img.empty()) return;
  const int64_t w = img.width;
  const int64_t h = img.height;
  const bool swap = orientation >= 5;
  Image out(swap ? img.height : img.width, swap ? img.width : img.height, img.channels);
  // Source pixel of display pixel (dx, dy): sx = cx + ax * dx + bx * dy, sy = cy + ay * dx +
  // by * dy, following the EXIF definitions (2 mirror, 3 rotate 180, 4 flip, 5 transpose,
  // 6 rotate 90 clockwise, 7 transverse, 8 rotate 90 counter-clockwise).
  int64_t cx = 0, cy = 0, ax = 1, ay = 0, bx = 0, by = 1;
  switch (orientation) {
    case 2:
      cx = w - 1;
      ax = -1;
      break;
    case 3:
      cx = w - 1;
      cy = h - 1;
      ax = -1;
      by = -1;
      break;
    case 4:
      cy = h - 1;
      by = -1;
      break;
    case 5:
      ax = 0;
      ay = 1;
      bx = 1;
      by = 0;
      break;
    case 6:
      cy = h - 1;
      ax = 0;
      ay = -1;
      bx = 1;
      by = 0;
      break;
    case 7:
      cx = w - 1;
      cy = h - 1;
      ax = 0;
      ay = -1;
      bx = -1;
      by = 0;
      break;
    case 8:
      cx = w - 1;
      ax = 0;
      ay = 1;
      bx = -1;
      by = 0;
      break;
    default:
      break;
  }
  const int64_t c = img.channels;
  const int64_t origin = (cy * w + cx) * c;
  const int64_t step_x = (ay * w + ax) * c;
  const int64_t step_y = (by * w + bx) * c;
  const uint8_t* src = img.pixels.data();
  uint8_t* dst = out.pixels.data();
  switch (img.channels) {
    case 1:
      remap_tiled<1>(src, dst, out.width, out.height, origin, step_x, step_y);
      break;
    case 3:
      remap_tiled<3>(src, dst, out.width, out.height, origin, step_x, step_y);
      break;
    case 4:
      remap_tiled<4>(src, dst, out.width, out.height, origin, step_x, step_y);
      break;
    default:
      // Decoders only produce 1 or 3 channels (4 transiently, for CMYK JPEG).
      assert(false && "apply_orientation: 1, 3 or 4 channels");
      return;
  }
  img = std::move(out);
}

}  // namespace vpipe
