// Transparency through every decoder: a crafted image with a known transparent region decodes
// with the right alpha plane and straight colour, and its black composite is what the decoders
// returned before they kept alpha. (Hand-built PNG variants live in codec_damage_test.cpp.)

#include <gtest/gtest.h>
#include <webp/decode.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <utility>
#include <vector>

#include "codec_test_util.h"
#include "vpipe/core/image_ops.h"
#include "vpipe/io/decode.h"
#include "vpipe/io/encode.h"
#include "vpipe/io/format.h"

namespace vpipe {
namespace {

using codec_test::decode;
using codec_test::make_gray;
using codec_test::make_rgb;
using codec_test::mean_abs_diff;

/// Alpha of a w x h image: the left quarter fully transparent, the next quarter half transparent
/// (128), the rest opaque but for a transparent 4x4 hole at (w - 8, 2).
Image alpha_pattern(int width, int height) {
  Image alpha(width, height, 1);
  for (int y = 0; y < height; ++y) {
    for (int x = 0; x < width; ++x) {
      uint8_t a = 255;
      if (x < width / 4) {
        a = 0;
      } else if (x < width / 2) {
        a = 128;
      } else if (x >= width - 8 && x < width - 4 && y >= 2 && y < 6) {
        a = 0;
      }
      alpha.row(y)[x] = a;
    }
  }
  return alpha;
}

/// Largest |a - b| over the pixels whose alpha is >= min_alpha (colour samples of those pixels).
int max_diff_where(const Image& a, const Image& b, const Image& alpha, int min_alpha) {
  int worst = 0;
  for (int y = 0; y < a.height; ++y) {
    for (int x = 0; x < a.width; ++x) {
      if (alpha.row(y)[x] < min_alpha) continue;
      for (int c = 0; c < a.channels; ++c) {
        const size_t i = static_cast<size_t>(x) * a.channels + c;
        worst = std::max(worst, std::abs(int{a.row(y)[i]} - int{b.row(y)[i]}));
      }
    }
  }
  return worst;
}

/// The file decodes as `format`, with exactly `alpha` and, where alpha >= 128, colour within
/// `tolerance` of `color` (0 for lossless codecs; premultiplying sources lose a little at 128).
void expect_alpha(const std::vector<uint8_t>& file, const Image& color, const Image& alpha,
                  ImageFormat format, int tolerance) {
  const DecodeResult r = decode(file);
  ASSERT_EQ(r.status, ItemStatus::kOk) << r.message;
  EXPECT_EQ(r.format, format);
  ASSERT_EQ(r.image.channels, color.channels) << format_name(format);
  ASSERT_EQ(r.alpha.channels, 1) << format_name(format);
  ASSERT_EQ(r.alpha.width, color.width);
  ASSERT_EQ(r.alpha.height, color.height);
  EXPECT_EQ(r.alpha.pixels, alpha.pixels) << format_name(format);
  EXPECT_LE(max_diff_where(r.image, color, alpha, 255), tolerance == 0 ? 0 : 1)
      << format_name(format);
  EXPECT_LE(max_diff_where(r.image, color, alpha, 128), tolerance) << format_name(format);
}

TEST(AlphaDecodeTest, PngRgbaAndGrayAlphaAreExact) {
  const Image rgb = make_rgb(40, 24);
  const Image gray = make_gray(40, 24);
  const Image alpha = alpha_pattern(40, 24);
  expect_alpha(encode_png(rgb, alpha), rgb, alpha, ImageFormat::kPng, 0);
  expect_alpha(encode_png(gray, alpha), gray, alpha, ImageFormat::kPng, 0);
  // Opaque PNGs have no plane.
  EXPECT_TRUE(decode(encode_png(rgb)).alpha.empty());
}

TEST(AlphaDecodeTest, WebpStillLosslessAndLossy) {
  const Image rgb = make_rgb(40, 24);
  const Image alpha = alpha_pattern(40, 24);
  // libwebp hands out premultiplied colour (rounded down), un-premultiplied by the decoder: at
  // alpha 128 that loses up to 2 levels.
  expect_alpha(encode_webp(rgb, alpha, 0, true), rgb, alpha, ImageFormat::kWebp, 2);
  // Lossy colour, lossless alpha (libwebp's default for RGBA input).
  const DecodeResult lossy = decode(encode_webp(rgb, alpha, 90));
  ASSERT_EQ(lossy.status, ItemStatus::kOk) << lossy.message;
  EXPECT_EQ(lossy.alpha.pixels, alpha.pixels);
  EXPECT_LT(max_diff_where(lossy.image, rgb, alpha, 255), 40);
  // The black composite is within rounding of c * a / 255.
  const Image composite = composite_over(lossy.image, lossy.alpha);
  EXPECT_LT(mean_abs_diff(composite, composite_over(rgb, alpha)), 4.0);
  EXPECT_TRUE(decode(encode_webp(rgb, 90)).alpha.empty());
}

TEST(AlphaDecodeTest, WebpBlackCompositeEqualsLibwebpPremultiplied) {
  // Before alpha was kept, the decoder returned libwebp's premultiplied MODE_rgbA colour; the
  // black composite of the straight colour and alpha must reproduce it bit for bit.
  Image rgb(256, 64, 3);
  Image alpha(256, 64, 1);
  for (int y = 0; y < 64; ++y) {
    for (int x = 0; x < 256; ++x) {
      for (int c = 0; c < 3; ++c) rgb.row(y)[3 * x + c] = static_cast<uint8_t>((x + 85 * c) % 256);
      alpha.row(y)[x] = static_cast<uint8_t>(y * 4 + (x % 4));  // every level 0..255
    }
  }
  for (const bool lossless : {true, false}) {
    const std::vector<uint8_t> file = encode_webp(rgb, alpha, 80, lossless);
    WebPDecoderConfig config;
    ASSERT_TRUE(WebPInitDecoderConfig(&config));
    config.output.colorspace = MODE_rgbA;
    ASSERT_EQ(WebPDecode(file.data(), file.size(), &config), VP8_STATUS_OK);
    std::vector<uint8_t> premultiplied;
    for (size_t i = 0; i < rgb.pixels.size() / 3; ++i) {
      premultiplied.insert(premultiplied.end(), config.output.u.RGBA.rgba + 4 * i,
                           config.output.u.RGBA.rgba + 4 * i + 3);
    }
    WebPFreeDecBuffer(&config.output);
    const DecodeResult r = decode(file);
    ASSERT_EQ(r.status, ItemStatus::kOk) << r.message;
    EXPECT_EQ(composite_over(r.image, r.alpha).pixels, premultiplied) << lossless;
  }
}

/// A RIFF chunk: fourcc, little-endian size, payload, pad byte to an even size.
void append_chunk(std::vector<uint8_t>& out, const char* fourcc, const std::vector<uint8_t>& data) {
  out.insert(out.end(), fourcc, fourcc + 4);
  const auto size = static_cast<uint32_t>(data.size());
  for (int k = 0; k < 4; ++k) out.push_back(static_cast<uint8_t>(size >> (8 * k)));
  out.insert(out.end(), data.begin(), data.end());
  if (data.size() % 2 != 0) out.push_back(0);
}

void append_le24(std::vector<uint8_t>& out, uint32_t v) {
  for (int k = 0; k < 3; ++k) out.push_back(static_cast<uint8_t>(v >> (8 * k)));
}

/// An animated WebP of a canvas_w x canvas_h canvas and the given frames (simple lossless WebP
/// files, each placed at its (x, y), even), built by hand: VP8X, ANIM, one ANMF per frame.
std::vector<uint8_t> animated_webp(
    int canvas_w, int canvas_h,
    const std::vector<std::pair<std::vector<uint8_t>, std::array<int, 4>>>& frames) {
  std::vector<uint8_t> body = {'W', 'E', 'B', 'P'};
  std::vector<uint8_t> vp8x = {0x02 | 0x10, 0, 0, 0};  // animation, alpha
  append_le24(vp8x, static_cast<uint32_t>(canvas_w - 1));
  append_le24(vp8x, static_cast<uint32_t>(canvas_h - 1));
  append_chunk(body, "VP8X", vp8x);
  append_chunk(body, "ANIM", {255, 255, 255, 255, 0, 0});  // white background (ignored), loop
  for (const auto& [file, box] : frames) {
    std::vector<uint8_t> anmf;
    append_le24(anmf, static_cast<uint32_t>(box[0] / 2));
    append_le24(anmf, static_cast<uint32_t>(box[1] / 2));
    append_le24(anmf, static_cast<uint32_t>(box[2] - 1));
    append_le24(anmf, static_cast<uint32_t>(box[3] - 1));
    append_le24(anmf, 100);                                  // duration, ms
    anmf.push_back(0x02);                                    // do not blend, do not dispose
    anmf.insert(anmf.end(), file.begin() + 12, file.end());  // the frame's chunks, after RIFF
    append_chunk(body, "ANMF", anmf);
  }
  std::vector<uint8_t> out = {'R', 'I', 'F', 'F'};
  const auto size = static_cast<uint32_t>(body.size());
  for (int k = 0; k < 4; ++k) out.push_back(static_cast<uint8_t>(size >> (8 * k)));
  out.insert(out.end(), body.begin(), body.end());
  return out;
}

TEST(AlphaDecodeTest, WebpAnimationFirstFrameKeepsAlpha) {
  // Frame 1: 16x8 at (4, 2) on a 24x12 canvas, with the alpha pattern; frame 2: opaque, whole.
  const Image rgb = make_rgb(16, 8);
  const Image alpha = alpha_pattern(16, 8);
  const std::vector<uint8_t> file =
      animated_webp(24, 12,
                    {{encode_webp(rgb, alpha, 0, true), {4, 2, 16, 8}},
                     {encode_webp(make_gray(24, 12), 0, true), {0, 0, 24, 12}}});
  const DecodeResult r = decode(file);
  ASSERT_EQ(r.status, ItemStatus::kOk) << r.message;
  ASSERT_EQ(r.image.width, 24);
  ASSERT_EQ(r.alpha.width, 24);
  ASSERT_EQ(r.alpha.height, 12);
  for (int y = 0; y < 12; ++y) {
    for (int x = 0; x < 24; ++x) {
      const bool inside = x >= 4 && x < 20 && y >= 2 && y < 10;
      const uint8_t want = inside ? alpha.row(y - 2)[x - 4] : 0;  // the canvas starts transparent
      ASSERT_EQ(r.alpha.row(y)[x], want) << x << "," << y;
      if (inside && want == 255) {
        for (int c = 0; c < 3; ++c) {
          ASSERT_EQ(r.image.row(y)[3 * x + c], rgb.row(y - 2)[3 * (x - 4) + c]) << x << "," << y;
        }
      }
    }
  }
}

TEST(AlphaDecodeTest, TiffUnassociatedAndAssociated) {
  const Image rgb = make_rgb(40, 24);
  const Image gray = make_gray(40, 24);
  const Image alpha = alpha_pattern(40, 24);
  expect_alpha(encode_tiff(rgb, alpha, false), rgb, alpha, ImageFormat::kTiff, 0);
  expect_alpha(encode_tiff(gray, alpha, false), gray, alpha, ImageFormat::kTiff, 0);
  // Associated: stored premultiplied, handed out straight (<= 1 level lost at alpha 128), and
  // the black composite is exactly the stored colour, as before alpha was kept.
  for (const Image* color : {&rgb, &gray}) {
    const DecodeResult r = decode(encode_tiff(*color, alpha, true));
    ASSERT_EQ(r.status, ItemStatus::kOk) << r.message;
    EXPECT_EQ(r.alpha.pixels, alpha.pixels);
    EXPECT_LE(max_diff_where(r.image, *color, alpha, 128), 1);
    EXPECT_EQ(max_diff_where(r.image, *color, alpha, 255), 0);
    EXPECT_EQ(composite_over(r.image, r.alpha).pixels, composite_over(*color, alpha).pixels);
  }
}

/// A little-endian, uncompressed, single-strip 8-bit RGBA TIFF (unassociated alpha) with an
/// Orientation tag, built by hand (the encoder writes no orientation). `rgba`: w * h * 4 bytes.
std::vector<uint8_t> oriented_rgba_tiff(int width, int height, const std::vector<uint8_t>& rgba,
                                        uint16_t orientation) {
  std::vector<uint8_t> out = {'I', 'I', 42, 0, 8, 0, 0, 0};
  auto put16 = [&](uint32_t v) {
    out.push_back(static_cast<uint8_t>(v));
    out.push_back(static_cast<uint8_t>(v >> 8));
  };
  auto put32 = [&](uint32_t v) {
    put16(v & 0xFFFF);
    put16(v >> 16);
  };
  constexpr int kEntries = 12;
  const uint32_t bits_at = 8 + 2 + kEntries * 12 + 4;  // after the IFD
  const uint32_t pixels_at = bits_at + 8;
  put16(kEntries);
  auto entry = [&](uint16_t tag, uint16_t type, uint32_t count, uint32_t value) {
    put16(tag);
    put16(type);
    put32(count);
    put32(value);  // SHORT values sit in the low bytes (little-endian)
  };
  entry(256, 4, 1, static_cast<uint32_t>(width));        // ImageWidth, LONG
  entry(257, 4, 1, static_cast<uint32_t>(height));       // ImageLength
  entry(258, 3, 4, bits_at);                             // BitsPerSample 8,8,8,8
  entry(259, 3, 1, 1);                                   // no compression
  entry(262, 3, 1, 2);                                   // RGB
  entry(273, 4, 1, pixels_at);                           // StripOffsets
  entry(274, 3, 1, orientation);                         // Orientation
  entry(277, 3, 1, 4);                                   // SamplesPerPixel
  entry(278, 4, 1, static_cast<uint32_t>(height));       // RowsPerStrip
  entry(279, 4, 1, static_cast<uint32_t>(rgba.size()));  // StripByteCounts
  entry(284, 3, 1, 1);                                   // contiguous
  entry(338, 3, 1, 2);                                   // ExtraSamples: unassociated alpha
  put32(0);                                              // no next IFD
  for (int k = 0; k < 4; ++k) put16(8);
  out.insert(out.end(), rgba.begin(), rgba.end());
  return out;
}

TEST(AlphaDecodeTest, TiffOrientationTurnsAlphaWithColour) {
  // Alpha equals red everywhere, so after any turn the planes must still agree pixel by pixel.
  const int w = 6;
  const int h = 4;
  std::vector<uint8_t> rgba;
  for (int y = 0; y < h; ++y) {
    for (int x = 0; x < w; ++x) {
      const auto red = static_cast<uint8_t>(10 * x + 60 * y);
      rgba.insert(rgba.end(), {red, 7, 9, red});
    }
  }
  for (uint16_t orientation : {1, 3, 6, 8}) {
    const DecodeResult r = decode(oriented_rgba_tiff(w, h, rgba, orientation));
    ASSERT_EQ(r.status, ItemStatus::kOk) << r.message;
    const bool swapped = orientation >= 5;
    ASSERT_EQ(r.image.width, swapped ? h : w);
    ASSERT_EQ(r.alpha.width, r.image.width);
    ASSERT_EQ(r.alpha.height, r.image.height);
    for (int y = 0; y < r.image.height; ++y) {
      for (int x = 0; x < r.image.width; ++x) {
        ASSERT_EQ(r.alpha.row(y)[x], r.image.row(y)[3 * x]) << "orientation " << orientation;
      }
    }
    // The top-left pixel of the stored image (red 0) lands where the orientation says.
    const int corner_x = (orientation == 3 || orientation == 6) ? r.image.width - 1 : 0;
    const int corner_y = (orientation == 3 || orientation == 8) ? r.image.height - 1 : 0;
    EXPECT_EQ(r.alpha.row(corner_y)[corner_x], 0) << "orientation " << orientation;
  }
}

TEST(AlphaDecodeTest, GifTransparentIndex) {
  const Image gray = make_gray(40, 24);  // levels up to 255 (-> 254 with a transparent index)
  const Image alpha = alpha_pattern(40, 24);
  const DecodeResult r = decode(encode_gif(gray, alpha));
  ASSERT_EQ(r.status, ItemStatus::kOk) << r.message;
  ASSERT_EQ(r.image.channels, 1);
  ASSERT_EQ(r.alpha.width, 40);
  for (size_t i = 0; i < alpha.pixels.size(); ++i) {
    const bool transparent = alpha.pixels[i] < 128;  // GIF: all or nothing
    ASSERT_EQ(r.alpha.pixels[i], transparent ? 0 : 255) << i;
    if (!transparent) {
      ASSERT_EQ(r.image.pixels[i], std::min<uint8_t>(gray.pixels[i], 254)) << i;
    }
  }
  // Colour GIFs too (palette quantised, so compare alpha only).
  const DecodeResult colour = decode(encode_gif(make_rgb(40, 24), alpha));
  ASSERT_EQ(colour.status, ItemStatus::kOk) << colour.message;
  EXPECT_EQ(colour.alpha.pixels, r.alpha.pixels);
  EXPECT_TRUE(decode(encode_gif(gray)).alpha.empty());
}

TEST(AlphaDecodeTest, JxlLosslessIsExact) {
  const Image rgb = make_rgb(40, 24);
  const Image alpha = alpha_pattern(40, 24);
  expect_alpha(encode_jxl(rgb, alpha, 0.0f), rgb, alpha, ImageFormat::kJxl, 0);
  expect_alpha(encode_jxl(make_gray(40, 24), alpha, 0.0f), make_gray(40, 24), alpha,
               ImageFormat::kJxl, 0);
}

/// HEIC/AVIF code alpha lossily: check the regions, not exact values.
void expect_lossy_alpha(const std::vector<uint8_t>& file, const Image& color, const Image& alpha,
                        ImageFormat format) {
  const DecodeResult r = decode(file);
  ASSERT_EQ(r.status, ItemStatus::kOk) << r.message;
  EXPECT_EQ(r.format, format);
  ASSERT_EQ(r.alpha.width, alpha.width) << format_name(format);
  ASSERT_EQ(r.alpha.height, alpha.height);
  for (size_t i = 0; i < alpha.pixels.size(); ++i) {
    ASSERT_NEAR(r.alpha.pixels[i], alpha.pixels[i], 24) << format_name(format) << " " << i;
  }
  EXPECT_LT(max_diff_where(r.image, color, alpha, 255), 48) << format_name(format);
}

TEST(AlphaDecodeTest, AvifAndHeicCarryAlpha) {
  const Image rgb = make_rgb(64, 32);
  const Image alpha = alpha_pattern(64, 32);
  expect_lossy_alpha(encode_avif(rgb, alpha, 95), rgb, alpha, ImageFormat::kAvif);
  expect_lossy_alpha(encode_heic(rgb, alpha, 95), rgb, alpha, ImageFormat::kHeif);
  EXPECT_TRUE(decode(encode_avif(rgb, 90)).alpha.empty());
}

// --- BMP: alpha only when it means something ---------------------------------------------------

/// A 2x1 32-bit bottom-up BMP with a BITMAPINFOHEADER; `compression` 0 (BI_RGB) or 6
/// (BI_ALPHABITFIELDS, with masks R 0x00FF0000, G 0x0000FF00, B 0x000000FF, A 0xFF000000).
std::vector<uint8_t> bmp32(uint32_t compression, const std::vector<uint8_t>& bgra) {
  const uint32_t masks = compression == 6 ? 16 : 0;
  const uint32_t offset = 14 + 40 + masks;
  std::vector<uint8_t> out(offset + bgra.size(), 0);
  auto put32 = [&](size_t at, uint32_t v) {
    for (int k = 0; k < 4; ++k) out[at + k] = static_cast<uint8_t>(v >> (8 * k));
  };
  out[0] = 'B';
  out[1] = 'M';
  put32(2, static_cast<uint32_t>(out.size()));
  put32(10, offset);
  put32(14, 40);
  put32(18, 2);
  put32(22, 1);
  out[26] = 1;
  out[28] = 32;
  put32(30, compression);
  if (compression == 6) {
    put32(54, 0x00FF0000);
    put32(58, 0x0000FF00);
    put32(62, 0x000000FF);
    put32(66, 0xFF000000);
  }
  std::copy(bgra.begin(), bgra.end(), out.begin() + offset);
  return out;
}

TEST(AlphaDecodeTest, Bmp32KeepsAlphaOnlyWhenNotAllZero) {
  // All-zero alpha bytes (what most writers leave): opaque, as always.
  DecodeResult r = decode(bmp32(0, {10, 20, 30, 0, 40, 50, 60, 0}));
  ASSERT_EQ(r.status, ItemStatus::kOk) << r.message;
  EXPECT_TRUE(r.alpha.empty());
  EXPECT_EQ(r.image.pixels, (std::vector<uint8_t>{30, 20, 10, 60, 50, 40}));
  // Meaningful alpha in BI_RGB's spare byte, and through an explicit alpha mask.
  for (uint32_t compression : {0u, 6u}) {
    r = decode(bmp32(compression, {10, 20, 30, 255, 40, 50, 60, 0}));
    ASSERT_EQ(r.status, ItemStatus::kOk) << r.message;
    EXPECT_EQ(r.alpha.pixels, (std::vector<uint8_t>{255, 0})) << compression;
    EXPECT_EQ(r.image.pixels, (std::vector<uint8_t>{30, 20, 10, 60, 50, 40})) << compression;
  }
}

}  // namespace
}  // namespace vpipe
