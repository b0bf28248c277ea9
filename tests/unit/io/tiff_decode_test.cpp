// TIFF by strips and tiles (issue 15): libtiff's RGBA reader goes one strip or one row of tiles at
// a time, into the whole image or, for a big image asked for at a reduced size, into a box
// average, and the scanline path reduces the same way; the orientation is applied after either.

#include <gtest/gtest.h>
#include <tiffio.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <vector>

#include "codec_test_util.h"
#include "vpipe/core/image_ops.h"
#include "vpipe/io/decode.h"
#include "vpipe/io/encode.h"
#include "vpipe/io/exif.h"
#include "vpipe/io/pixel_budget.h"
#include "vpipe/io/tiff_io.h"

namespace vpipe {
namespace {

using codec_test::make_gray;
using codec_test::make_noise;
using codec_test::make_rgb;
using codec_test::max_difference;

/// The tags every test file shares: 8-bit, contiguous, deflate at its fastest.
void set_common(TIFF* tif, const Image& img, int spp, uint16_t photometric, uint16_t orientation) {
  TIFFSetField(tif, TIFFTAG_IMAGEWIDTH, static_cast<uint32_t>(img.width));
  TIFFSetField(tif, TIFFTAG_IMAGELENGTH, static_cast<uint32_t>(img.height));
  TIFFSetField(tif, TIFFTAG_BITSPERSAMPLE, static_cast<uint16_t>(8));
  TIFFSetField(tif, TIFFTAG_SAMPLESPERPIXEL, static_cast<uint16_t>(spp));
  TIFFSetField(tif, TIFFTAG_PHOTOMETRIC, photometric);
  TIFFSetField(tif, TIFFTAG_PLANARCONFIG, PLANARCONFIG_CONTIG);
  TIFFSetField(tif, TIFFTAG_COMPRESSION, COMPRESSION_ADOBE_DEFLATE);
  TIFFSetField(tif, TIFFTAG_ZIPQUALITY, 1);
  TIFFSetField(tif, TIFFTAG_ORIENTATION, orientation);
}

/// A tiled TIFF of `img` (gray or RGB), with `alpha` as unassociated alpha when given.
std::vector<uint8_t> encode_tiled(const Image& img, const Image* alpha, uint32_t tile,
                                  uint16_t orientation = ORIENTATION_TOPLEFT) {
  tiff_io::WriteStream stream;
  TIFF* tif = tiff_io::open_write(&stream);
  EXPECT_NE(tif, nullptr);
  const int spp = img.channels + (alpha != nullptr ? 1 : 0);
  set_common(tif, img, spp, img.channels == 1 ? PHOTOMETRIC_MINISBLACK : PHOTOMETRIC_RGB,
             orientation);
  TIFFSetField(tif, TIFFTAG_TILEWIDTH, tile);
  TIFFSetField(tif, TIFFTAG_TILELENGTH, tile);
  if (alpha != nullptr) {
    const uint16_t extra = EXTRASAMPLE_UNASSALPHA;
    TIFFSetField(tif, TIFFTAG_EXTRASAMPLES, static_cast<uint16_t>(1), &extra);
  }
  std::vector<uint8_t> buffer(static_cast<size_t>(tile) * tile * spp);
  for (uint32_t ty = 0; ty < static_cast<uint32_t>(img.height); ty += tile) {
    for (uint32_t tx = 0; tx < static_cast<uint32_t>(img.width); tx += tile) {
      std::fill(buffer.begin(), buffer.end(), uint8_t{0});
      for (uint32_t y = ty; y < std::min<uint32_t>(ty + tile, img.height); ++y) {
        for (uint32_t x = tx; x < std::min<uint32_t>(tx + tile, img.width); ++x) {
          uint8_t* d = buffer.data() + ((y - ty) * tile + (x - tx)) * spp;
          std::copy_n(img.row(static_cast<int>(y)) + x * img.channels, img.channels, d);
          if (alpha != nullptr) d[img.channels] = alpha->row(static_cast<int>(y))[x];
        }
      }
      EXPECT_GT(TIFFWriteTile(tif, buffer.data(), tx, ty, 0, 0), 0);
    }
  }
  TIFFClose(tif);
  return std::move(stream.bytes);
}

/// The RGB colour palette index `i` stands for in encode_palette.
Image palette_colours(const Image& index) {
  Image out(index.width, index.height, 3);
  for (size_t i = 0; i < index.pixels.size(); ++i) {
    const uint8_t v = index.pixels[i];
    out.pixels[3 * i] = v;
    out.pixels[3 * i + 1] = static_cast<uint8_t>(255 - v);
    out.pixels[3 * i + 2] = static_cast<uint8_t>(v / 2);
  }
  return out;
}

/// A strip-organised palette TIFF of the 8-bit indices in `index` (palette_colours' colours).
std::vector<uint8_t> encode_palette(const Image& index, uint32_t rows_per_strip) {
  tiff_io::WriteStream stream;
  TIFF* tif = tiff_io::open_write(&stream);
  EXPECT_NE(tif, nullptr);
  set_common(tif, index, 1, PHOTOMETRIC_PALETTE, ORIENTATION_TOPLEFT);
  TIFFSetField(tif, TIFFTAG_ROWSPERSTRIP, rows_per_strip);
  std::vector<uint16_t> red(256), green(256), blue(256);
  for (int i = 0; i < 256; ++i) {
    red[i] = static_cast<uint16_t>(i * 257);
    green[i] = static_cast<uint16_t>((255 - i) * 257);
    blue[i] = static_cast<uint16_t>((i / 2) * 257);
  }
  TIFFSetField(tif, TIFFTAG_COLORMAP, red.data(), green.data(), blue.data());
  std::vector<uint8_t> row(static_cast<size_t>(index.width));
  for (int y = 0; y < index.height; ++y) {
    std::copy_n(index.row(y), index.width, row.data());
    EXPECT_EQ(TIFFWriteScanline(tif, row.data(), static_cast<uint32_t>(y), 0), 1);
  }
  TIFFClose(tif);
  return std::move(stream.bytes);
}

DecodeResult decode(const std::vector<uint8_t>& file, int min_long_side = 0,
                    PixelBudget* budget = nullptr) {
  Decoder decoder;
  DecodeOptions options;
  options.min_long_side = min_long_side;
  options.budget = budget;
  DecodeResult r = decoder.decode(file, options);
  EXPECT_EQ(r.format, ImageFormat::kTiff);
  return r;
}

// Sides that do not fill the last tile, so the edge tiles' padding must be left out.
TEST(TiledTiff, AWholeDecodeIsExactInGrayAndColour) {
  for (const Image& img : {make_rgb(300, 200), make_gray(300, 200)}) {
    const DecodeResult r = decode(encode_tiled(img, nullptr, 64));
    ASSERT_EQ(r.status, ItemStatus::kOk) << r.message;
    EXPECT_EQ(r.width, 300);
    EXPECT_EQ(r.height, 200);
    EXPECT_EQ(r.image.channels, img.channels);
    EXPECT_EQ(max_difference(r.image, img), 0);
    EXPECT_TRUE(r.alpha.empty());
  }
}

TEST(TiledTiff, AlphaIsKeptAndTheCompositeIsTheSources) {
  const Image rgb = make_rgb(150, 100);
  Image alpha(150, 100, 1);
  for (int y = 0; y < 100; ++y) {
    for (int x = 0; x < 150; ++x) alpha.row(y)[x] = static_cast<uint8_t>((x + y) * 255 / 248);
  }
  const DecodeResult r = decode(encode_tiled(rgb, &alpha, 32));
  ASSERT_EQ(r.status, ItemStatus::kOk) << r.message;
  ASSERT_FALSE(r.alpha.empty());
  EXPECT_EQ(max_difference(r.alpha, alpha), 0);
  // libtiff hands out premultiplied colour: the composite is exact within its rounding.
  EXPECT_LE(max_difference(composite_over(r.image, r.alpha), composite_over(rgb, alpha)), 1);
}

TEST(TiledTiff, TheOrientationTagTurnsTheImageAsExifWould) {
  const Image rgb = make_rgb(96, 64);
  for (uint16_t orientation = 1; orientation <= 8; ++orientation) {
    const DecodeResult r = decode(encode_tiled(rgb, nullptr, 32, orientation));
    ASSERT_EQ(r.status, ItemStatus::kOk) << r.message;
    Image want = rgb;
    apply_orientation(want, orientation);
    EXPECT_EQ(r.width, want.width) << "orientation " << orientation;
    EXPECT_EQ(r.height, want.height) << "orientation " << orientation;
    EXPECT_EQ(max_difference(r.image, want), 0) << "orientation " << orientation;
  }
}

TEST(PaletteTiff, StripsOfOddHeightDecodeToThePalettesColours) {
  const Image index = make_noise(120, 90, 1, 5);
  const DecodeResult r = decode(encode_palette(index, 7));
  ASSERT_EQ(r.status, ItemStatus::kOk) << r.message;
  EXPECT_EQ(max_difference(r.image, palette_colours(index)), 0);
}

// 4700 x 3600 = 16.9 MP, just over kRowByRowPixels; the scan's factor is 18 (261 x 200).
constexpr int kWidth = 4700;
constexpr int kHeight = 3600;

/// Decodes `file` whole and reduced and checks what a big TIFF asked for at the working size
/// must give: the reduced size, the full size in width/height, the working image of the whole
/// decode within one level, and a lease of at most `most_pixels` once the header was read.
void expect_reduced_like_whole(const std::vector<uint8_t>& file, uint64_t most_pixels) {
  static_assert(uint64_t{kWidth} * kHeight > kRowByRowPixels);
  PixelBudget budget(100'000'000);
  const DecodeResult a = decode(file);
  const DecodeResult b = decode(file, kWorkingSize, &budget);
  ASSERT_EQ(a.status, ItemStatus::kOk) << a.message;
  ASSERT_EQ(b.status, ItemStatus::kOk) << b.message;
  EXPECT_EQ(b.width, kWidth);
  EXPECT_EQ(b.height, kHeight);
  EXPECT_EQ(b.image.width, kWidth / 18);
  EXPECT_EQ(b.image.height, kHeight / 18);
  EXPECT_LE(max_difference(resize_to_fit(a.image, kWorkingSize),
                           resize_to_fit(b.image, kWorkingSize)),
            1);
  EXPECT_LE(b.lease.pixels(), most_pixels);
  EXPECT_GE(budget.peak(), uint64_t{kWidth} * kHeight);  // taken before the layout was known
}

TEST(BigTiff, ATiledImageIsReducedOneRowOfTilesAtATime) {
  const std::vector<uint8_t> file = encode_tiled(make_noise(kWidth, kHeight, 3, 7), nullptr, 256);
  expect_reduced_like_whole(file, uint64_t{kWidth} * 257 + 261 * 200);
}

TEST(BigTiff, AStripedImageIsReducedScanlineByScanline) {
  const std::vector<uint8_t> file = encode_tiff(make_noise(kWidth, kHeight, 3, 9));
  expect_reduced_like_whole(file, uint64_t{kWidth} * 2 + 261 * 200);
}

TEST(BigTiff, APaletteImageIsReducedOneStripAtATime) {
  const std::vector<uint8_t> file = encode_palette(make_noise(kWidth, kHeight, 1, 11), 16);
  expect_reduced_like_whole(file, uint64_t{kWidth} * 17 + 261 * 200);
}

TEST(BigTiff, WithAlphaTheReducedCompositeIsTheWholeOnesWithinTwoLevels) {
  const Image rgb = make_noise(kWidth, kHeight, 3, 13);
  Image alpha(kWidth, kHeight, 1);
  for (int y = 0; y < kHeight; ++y) {  // transparent on the left, opaque on the right
    for (int x = 0; x < kWidth; ++x) alpha.row(y)[x] = static_cast<uint8_t>(x * 255 / kWidth);
  }
  // Tiled (libtiff's premultiplied RGBA) and striped with associated alpha (premultiplied
  // samples on the scanline path).
  for (const std::vector<uint8_t>& file :
       {encode_tiled(rgb, &alpha, 512), encode_tiff(rgb, alpha, true)}) {
    const DecodeResult a = decode(file);
    const DecodeResult b = decode(file, kWorkingSize);
    ASSERT_EQ(b.status, ItemStatus::kOk) << b.message;
    ASSERT_FALSE(b.alpha.empty());
    EXPECT_EQ(b.image.width, kWidth / 18);
    EXPECT_LE(max_difference(resize_to_fit(composite_over(a.image, a.alpha), kWorkingSize),
                             resize_to_fit(composite_over(b.image, b.alpha), kWorkingSize)),
              2);
    EXPECT_LE(max_difference(resize_to_fit(a.alpha, kWorkingSize),
                             resize_to_fit(b.alpha, kWorkingSize)),
              1);
  }
}

TEST(BigTiff, ATruncatedTiledImageIsNotOkAndHoldsNoBudget) {
  std::vector<uint8_t> file = encode_tiled(make_noise(kWidth, kHeight, 3, 3), nullptr, 256);
  file.resize(file.size() / 2);
  PixelBudget budget(100'000'000);
  {
    const DecodeResult r = decode(file, kWorkingSize, &budget);
    EXPECT_NE(r.status, ItemStatus::kOk);
    EXPECT_NE(r.message.find("TIFF"), std::string::npos) << r.message;
  }
  EXPECT_EQ(budget.in_use(), 0U);
}

}  // namespace
}  // namespace vpipe
