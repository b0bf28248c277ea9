// Format sniffing, every encoder round-tripped through the decoder, JPEG DCT scaling and EXIF
// orientation. Damaged and hostile inputs are in codec_damage_test.cpp.

#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "codec_test_util.h"
#include "vpipe/core/error.h"
#include "vpipe/io/decode.h"
#include "vpipe/io/encode.h"
#include "vpipe/io/format.h"

namespace vpipe {
namespace {

using namespace std::string_view_literals;

using codec_test::decode;
using codec_test::high_bytes;
using codec_test::make_gray;
using codec_test::make_noise;
using codec_test::make_rgb;
using codec_test::make_rgb16;
using codec_test::mean_abs_diff;

std::vector<uint8_t> bytes_of(std::string_view text) { return {text.begin(), text.end()}; }

// ---------------------------------------------------------------------------------------------
// Sniffing

TEST(FormatTest, SniffsTheOutputOfEveryEncoder) {
  const Image rgb = make_rgb(40, 30);
  const std::vector<std::pair<std::vector<uint8_t>, ImageFormat>> cases = {
      {encode_jpeg(rgb, 90), ImageFormat::kJpeg},
      {encode_jpeg(rgb, 90, 6), ImageFormat::kJpeg},
      {encode_png(rgb), ImageFormat::kPng},
      {encode_webp(rgb, 80), ImageFormat::kWebp},
      {encode_webp(rgb, 80, true), ImageFormat::kWebp},
      {encode_tiff(rgb), ImageFormat::kTiff},
      {encode_gif(rgb), ImageFormat::kGif},
      {encode_bmp(rgb), ImageFormat::kBmp},
      {encode_heic(rgb, 80), ImageFormat::kHeif},
      {encode_avif(rgb, 80), ImageFormat::kAvif},
      {encode_jxl(rgb, 1.0f), ImageFormat::kJxl},
  };
  for (const auto& [file, expected] : cases) {
    EXPECT_EQ(sniff_format(file), expected) << format_name(expected);
    // Only the first kSniffBytes are needed.
    EXPECT_EQ(sniff_format(std::span(file).first(std::min(file.size(), kSniffBytes))), expected);
  }
}

TEST(FormatTest, SniffsSignaturesByHand) {
  EXPECT_EQ(sniff_format(bytes_of("GIF87a....")), ImageFormat::kGif);
  EXPECT_EQ(sniff_format(bytes_of("MM\0*\0\0\0\x08"sv)), ImageFormat::kTiff);
  EXPECT_EQ(sniff_format(bytes_of("II*\0\x08\0\0\0"sv)), ImageFormat::kTiff);
  EXPECT_EQ(sniff_format(std::vector<uint8_t>{0xFF, 0x0A, 0x00}), ImageFormat::kJxl);
  EXPECT_EQ(
      sniff_format(std::vector<uint8_t>{0, 0, 0, 0x0C, 'J', 'X', 'L', ' ', 0x0D, 0x0A, 0x87, 0x0A}),
      ImageFormat::kJxl);
  // ISO-BMFF: the brand decides, major or compatible.
  EXPECT_EQ(sniff_format(bytes_of("\0\0\0\x18"
                                  "ftypheic\0\0\0\0mif1heic"sv)),
            ImageFormat::kHeif);
  EXPECT_EQ(sniff_format(bytes_of("\0\0\0\x18"
                                  "ftypmif1\0\0\0\0mif1avif"sv)),
            ImageFormat::kAvif);
  EXPECT_EQ(sniff_format(bytes_of("\0\0\0\x14"
                                  "ftypavis\0\0\0\0avis"sv)),
            ImageFormat::kAvif);
  EXPECT_EQ(sniff_format(bytes_of("\0\0\0\x14"
                                  "ftypisom\0\0\0\0mp41"sv)),
            ImageFormat::kUnknown);
}

TEST(FormatTest, RejectsNonImagesAndShortBuffers) {
  EXPECT_EQ(sniff_format({}), ImageFormat::kUnknown);
  EXPECT_EQ(sniff_format(bytes_of("hello, world: this is a text file\n")), ImageFormat::kUnknown);
  EXPECT_EQ(sniff_format(bytes_of("BMW 3 series, a text file about cars\n")),
            ImageFormat::kUnknown);
  EXPECT_EQ(sniff_format(bytes_of("<html><body>not found</body></html>")), ImageFormat::kUnknown);
  EXPECT_EQ(sniff_format(std::vector<uint8_t>{0xFF}), ImageFormat::kUnknown);
  EXPECT_EQ(sniff_format(std::vector<uint8_t>{0xFF, 0xD8}), ImageFormat::kUnknown);
  EXPECT_EQ(sniff_format(std::vector<uint8_t>{0xFF, 0xD8, 0xFF}), ImageFormat::kJpeg);
  EXPECT_EQ(sniff_format(bytes_of("RIFF\x10\0\0\0WAVE"sv)), ImageFormat::kUnknown);
  EXPECT_EQ(sniff_format(bytes_of("RIFF\x10\0\0"sv)), ImageFormat::kUnknown);
  EXPECT_EQ(sniff_format(bytes_of("\0\0\0\x18"
                                  "ftyp"sv)),
            ImageFormat::kUnknown);
  // A real PNG signature cut short is not recognised.
  const std::vector<uint8_t> png = encode_png(make_gray(4, 4));
  EXPECT_EQ(sniff_format(std::span(png).first(7)), ImageFormat::kUnknown);
}

TEST(FormatTest, NamesAndExtensions) {
  EXPECT_EQ(format_name(ImageFormat::kJpeg), "jpeg");
  EXPECT_EQ(format_name(ImageFormat::kHeif), "heif");
  EXPECT_EQ(format_name(ImageFormat::kAvif), "avif");
  EXPECT_EQ(format_name(ImageFormat::kJxl), "jxl");
  EXPECT_EQ(format_name(ImageFormat::kUnknown), "");
  for (const char* path : {"a.jpg", "dir/b.JPEG", "c.Png", "x.webp", "y.tif", "z.TIFF", "g.gif",
                           "b.bmp", "p.HEIC", "q.heif", "r.avif", "s.jxl"}) {
    EXPECT_TRUE(has_image_extension(path)) << path;
  }
  for (const char* path : {"a.txt", "jpg", "dir.jpg/readme", "a.jpg.bak", "noext", "a.pngx", ""}) {
    EXPECT_FALSE(has_image_extension(path)) << path;
  }
}

// ---------------------------------------------------------------------------------------------
// Round trips: lossless codecs bit-exact, lossy within a mean error bound

void expect_exact(const std::vector<uint8_t>& file, const Image& source, ImageFormat format) {
  const DecodeResult r = decode(file);
  ASSERT_EQ(r.status, ItemStatus::kOk) << r.message;
  EXPECT_EQ(r.format, format);
  EXPECT_EQ(r.width, source.width);
  EXPECT_EQ(r.height, source.height);
  ASSERT_EQ(r.image.channels, source.channels);
  EXPECT_EQ(mean_abs_diff(r.image, source), 0.0);
  EXPECT_TRUE(r.image.pixels == source.pixels);
}

void expect_close(const std::vector<uint8_t>& file, const Image& source, ImageFormat format,
                  double max_mean_error) {
  const DecodeResult r = decode(file);
  ASSERT_EQ(r.status, ItemStatus::kOk) << r.message;
  EXPECT_EQ(r.format, format);
  EXPECT_EQ(r.width, source.width);
  EXPECT_EQ(r.height, source.height);
  ASSERT_EQ(r.image.channels, source.channels);
  EXPECT_LT(mean_abs_diff(r.image, source), max_mean_error) << format_name(format);
}

TEST(RoundTripTest, PngIsLossless) {
  for (const Image& img : {make_noise(37, 23, 1, 1), make_noise(37, 23, 3, 2), make_rgb(1, 1)}) {
    expect_exact(encode_png(img), img, ImageFormat::kPng);
  }
}

TEST(RoundTripTest, Png16KeepsTheHighByte) {
  for (int channels : {1, 3}) {
    const Image16 img = make_rgb16(29, 17, channels);
    expect_exact(encode_png16(img), high_bytes(img), ImageFormat::kPng);
  }
}

TEST(RoundTripTest, TiffIsLossless) {
  for (const Image& img : {make_noise(37, 23, 1, 3), make_noise(37, 23, 3, 4)}) {
    expect_exact(encode_tiff(img), img, ImageFormat::kTiff);
  }
}

TEST(RoundTripTest, Tiff16KeepsTheHighByte) {
  for (int channels : {1, 3}) {
    const Image16 img = make_rgb16(29, 17, channels);
    expect_exact(encode_tiff16(img), high_bytes(img), ImageFormat::kTiff);
  }
}

TEST(RoundTripTest, BmpIsLosslessWithRowPadding) {
  // Widths 1..5 cover every row padding (rows are padded to 4 bytes).
  for (int width : {1, 2, 3, 5, 37}) {
    for (int channels : {1, 3}) {
      const Image img = make_noise(width, 7, channels, static_cast<uint32_t>(width * channels));
      expect_exact(encode_bmp(img), img, ImageFormat::kBmp);
    }
  }
}

TEST(RoundTripTest, GifKeepsGrayExactlyAndQuantisesColour) {
  const Image gray = make_noise(37, 23, 1, 5);
  expect_exact(encode_gif(gray), gray, ImageFormat::kGif);
  // 6x7x6 levels: the worst error per channel is half a step (25.5 for red/blue).
  const Image rgb = make_rgb(64, 48);
  const DecodeResult r = decode(encode_gif(rgb));
  ASSERT_EQ(r.status, ItemStatus::kOk) << r.message;
  ASSERT_EQ(r.image.channels, 3);
  EXPECT_LT(mean_abs_diff(r.image, rgb), 14.0);
  for (size_t i = 0; i < rgb.pixels.size(); ++i) {
    ASSERT_LE(std::abs(int{r.image.pixels[i]} - int{rgb.pixels[i]}), 26) << i;
  }
}

TEST(RoundTripTest, WebpLosslessIsExact) {
  const Image rgb = make_noise(37, 23, 3, 6);
  expect_exact(encode_webp(rgb, 0, true), rgb, ImageFormat::kWebp);
  // WebP has no gray mode: gray comes back as RGB with three equal channels.
  const Image gray = make_noise(37, 23, 1, 7);
  const DecodeResult r = decode(encode_webp(gray, 0, true));
  ASSERT_EQ(r.status, ItemStatus::kOk) << r.message;
  ASSERT_EQ(r.image.channels, 3);
  for (size_t i = 0; i < gray.pixels.size(); ++i) {
    ASSERT_EQ(r.image.pixels[3 * i], gray.pixels[i]);
    ASSERT_EQ(r.image.pixels[3 * i + 1], gray.pixels[i]);
    ASSERT_EQ(r.image.pixels[3 * i + 2], gray.pixels[i]);
  }
}

TEST(RoundTripTest, WebpLossyIsClose) {
  expect_close(encode_webp(make_rgb(64, 48), 90), make_rgb(64, 48), ImageFormat::kWebp, 4.0);
}

TEST(RoundTripTest, JpegIsClose) {
  expect_close(encode_jpeg(make_rgb(64, 48), 95), make_rgb(64, 48), ImageFormat::kJpeg, 3.0);
  expect_close(encode_jpeg(make_gray(61, 43), 95), make_gray(61, 43), ImageFormat::kJpeg, 2.0);
  // Lower quality, larger error, still the same picture.
  expect_close(encode_jpeg(make_rgb(64, 48), 30), make_rgb(64, 48), ImageFormat::kJpeg, 8.0);
}

TEST(RoundTripTest, JxlLosslessIsExactAndLossyIsClose) {
  for (const Image& img : {make_noise(37, 23, 1, 8), make_noise(37, 23, 3, 9)}) {
    expect_exact(encode_jxl(img, 0.0f), img, ImageFormat::kJxl);
  }
  expect_close(encode_jxl(make_rgb(64, 48), 1.0f), make_rgb(64, 48), ImageFormat::kJxl, 4.0);
  expect_close(encode_jxl(make_gray(64, 48), 1.0f), make_gray(64, 48), ImageFormat::kJxl, 4.0);
}

TEST(RoundTripTest, HeicIsClose) {
  expect_close(encode_heic(make_rgb(64, 48), 90), make_rgb(64, 48), ImageFormat::kHeif, 5.0);
  expect_close(encode_heic(make_gray(64, 48), 90), make_gray(64, 48), ImageFormat::kHeif, 5.0);
  // Odd sizes are padded by the encoder and cropped back by the decoder.
  expect_close(encode_heic(make_rgb(37, 23), 90), make_rgb(37, 23), ImageFormat::kHeif, 8.0);
}

TEST(RoundTripTest, AvifIsClose) {
  expect_close(encode_avif(make_rgb(64, 48), 90), make_rgb(64, 48), ImageFormat::kAvif, 5.0);
  expect_close(encode_avif(make_gray(64, 48), 90), make_gray(64, 48), ImageFormat::kAvif, 5.0);
  expect_close(encode_avif(make_rgb(37, 23), 90), make_rgb(37, 23), ImageFormat::kAvif, 8.0);
}

TEST(EncodeTest, RejectsInvalidImages) {
  Image empty;
  EXPECT_THROW((void)encode_png(empty), Error);
  EXPECT_THROW((void)encode_jpeg(empty, 90), Error);
  Image two_channels(4, 4, 2);
  EXPECT_THROW((void)encode_tiff(two_channels), Error);
  EXPECT_THROW((void)encode_heic(two_channels, 50), Error);
  Image short_buffer(4, 4, 3);
  short_buffer.pixels.resize(10);
  EXPECT_THROW((void)encode_bmp(short_buffer), Error);
}

// ---------------------------------------------------------------------------------------------
// JPEG DCT-domain scaling

/// The rule of DecodeOptions::min_long_side, restated: the smallest of 1/8, 2/8, ..., 8/8 whose
/// scaled longer side (rounded up) is still >= min_long_side; 8/8 when none is or when 0.
std::pair<int, int> expected_scaled_size(int width, int height, int min_long_side) {
  int eighths = 8;
  if (min_long_side > 0) {
    const int long_side = std::max(width, height);
    for (int k = 8; k >= 1; --k) {
      if ((long_side * k + 7) / 8 >= min_long_side) eighths = k;
    }
  }
  return {(width * eighths + 7) / 8, (height * eighths + 7) / 8};
}

TEST(JpegScalingTest, QuarterScaleFor1600x1200At256) {
  const std::vector<uint8_t> file = encode_jpeg(make_rgb(1600, 1200), 85);
  DecodeOptions options;
  options.min_long_side = 256;
  const DecodeResult r = decode(file, options);
  ASSERT_EQ(r.status, ItemStatus::kOk) << r.message;
  EXPECT_EQ(r.image.width, 400);
  EXPECT_EQ(r.image.height, 300);
  EXPECT_EQ(r.width, 1600);  // full-resolution size is still reported
  EXPECT_EQ(r.height, 1200);
}

TEST(JpegScalingTest, FollowsTheRuleForManySizes) {
  for (auto [width, height] : std::vector<std::pair<int, int>>{
           {1600, 1200}, {1200, 1600}, {640, 480}, {333, 251}, {100, 80}, {17, 9}}) {
    const Image source = make_rgb(width, height);
    const std::vector<uint8_t> file = encode_jpeg(source, 85);
    for (int min_long_side : {0, 1, 64, 100, 150, 256, 301, 500, 1000, 5000}) {
      DecodeOptions options;
      options.min_long_side = min_long_side;
      const DecodeResult r = decode(file, options);
      ASSERT_EQ(r.status, ItemStatus::kOk) << r.message;
      const auto [ew, eh] = expected_scaled_size(width, height, min_long_side);
      EXPECT_EQ(r.image.width, ew) << width << "x" << height << " min " << min_long_side;
      EXPECT_EQ(r.image.height, eh) << width << "x" << height << " min " << min_long_side;
      EXPECT_EQ(r.width, width);
      EXPECT_EQ(r.height, height);
      if (min_long_side == 0) {
        EXPECT_EQ(r.image.width, width);
        EXPECT_EQ(r.image.height, height);
      }
      if (std::max(width, height) >= min_long_side) {
        EXPECT_GE(std::max(r.image.width, r.image.height), min_long_side);
      }
    }
  }
}

TEST(JpegScalingTest, ScaledPixelsResembleTheSource) {
  // A 1/4-scale decode of a smooth gradient is close to sampling the source every 4 pixels.
  const Image source = make_rgb(640, 480);
  DecodeOptions options;
  options.min_long_side = 160;
  const DecodeResult r = decode(encode_jpeg(source, 95), options);
  ASSERT_EQ(r.status, ItemStatus::kOk);
  ASSERT_EQ(r.image.width, 160);
  Image sampled(160, 120, 3);
  for (int y = 0; y < 120; ++y) {
    for (int x = 0; x < 160; ++x) {
      for (int c = 0; c < 3; ++c)
        sampled.row(y)[3 * x + c] = source.row(4 * y + 2)[3 * (4 * x + 2) + c];
    }
  }
  EXPECT_LT(mean_abs_diff(r.image, sampled), 4.0);
}

TEST(JpegScalingTest, OtherFormatsDecodeAtFullSize) {
  const Image source = make_rgb(400, 300);
  DecodeOptions options;
  options.min_long_side = 64;
  const DecodeResult r = decode(encode_png(source), options);
  ASSERT_EQ(r.status, ItemStatus::kOk);
  EXPECT_EQ(r.image.width, 400);
  EXPECT_EQ(r.image.height, 300);
}

// ---------------------------------------------------------------------------------------------
// EXIF orientation

/// What the viewer should see for EXIF orientation `o`: display pixel (dx, dy) comes from stored
/// pixel (sx, sy) as the EXIF specification defines the eight orientations.
Image expected_oriented(const Image& stored, int o) {
  const int w = stored.width;
  const int h = stored.height;
  const bool swap = o >= 5;
  Image out(swap ? h : w, swap ? w : h, stored.channels);
  for (int dy = 0; dy < out.height; ++dy) {
    for (int dx = 0; dx < out.width; ++dx) {
      int sx = dx;
      int sy = dy;
      switch (o) {
        case 2:
          sx = w - 1 - dx;
          sy = dy;
          break;  // mirrored left-right
        case 3:
          sx = w - 1 - dx;
          sy = h - 1 - dy;
          break;  // upside down
        case 4:
          sx = dx;
          sy = h - 1 - dy;
          break;  // mirrored top-bottom
        case 5:
          sx = dy;
          sy = dx;
          break;  // row 0 is the left column
        case 6:
          sx = dy;
          sy = h - 1 - dx;
          break;  // row 0 is the right column
        case 7:
          sx = w - 1 - dy;
          sy = h - 1 - dx;
          break;  // row 0 right, column 0 bottom
        case 8:
          sx = w - 1 - dy;
          sy = dx;
          break;  // row 0 left, column 0 bottom
        default:
          break;
      }
      for (int c = 0; c < stored.channels; ++c) {
        out.row(dy)[dx * stored.channels + c] = stored.row(sy)[sx * stored.channels + c];
      }
    }
  }
  return out;
}

TEST(ExifOrientationTest, AllEightOrientationsAreApplied) {
  const Image stored = make_rgb(64, 48);
  for (int o = 1; o <= 8; ++o) {
    const DecodeResult r = decode(encode_jpeg(stored, 95, o));
    ASSERT_EQ(r.status, ItemStatus::kOk) << r.message;
    const Image expected = expected_oriented(stored, o);
    EXPECT_EQ(r.width, o >= 5 ? 48 : 64) << o;
    EXPECT_EQ(r.height, o >= 5 ? 64 : 48) << o;
    ASSERT_EQ(r.image.width, expected.width) << o;
    ASSERT_EQ(r.image.height, expected.height) << o;
    EXPECT_LT(mean_abs_diff(r.image, expected), 3.0) << "orientation " << o;
    // And it is not any of the other orientations of the same shape.
    for (int other = 1; other <= 8; ++other) {
      if (other == o || (other >= 5) != (o >= 5)) continue;
      EXPECT_GT(mean_abs_diff(r.image, expected_oriented(stored, other)), 10.0)
          << "orientation " << o << " looks like " << other;
    }
  }
}

TEST(ExifOrientationTest, GrayAndScaledImagesAreOrientedToo) {
  const Image stored = make_gray(160, 96);
  DecodeOptions options;
  options.min_long_side = 80;  // 1/2 scale
  const DecodeResult r = decode(encode_jpeg(stored, 95, 6), options);
  ASSERT_EQ(r.status, ItemStatus::kOk) << r.message;
  EXPECT_EQ(r.width, 96);
  EXPECT_EQ(r.height, 160);
  EXPECT_EQ(r.image.channels, 1);
  EXPECT_EQ(r.image.width, 48);
  EXPECT_EQ(r.image.height, 80);
  // Row 0 of the stored image (dark left, light right) is now the right column, top to bottom.
  EXPECT_LT(r.image.row(0)[47], r.image.row(79)[47]);
}

TEST(ExifOrientationTest, MalformedExifIsIgnored) {
  const Image stored = make_rgb(64, 48);
  const std::vector<uint8_t> good = encode_jpeg(stored, 95, 6);
  // The encoder writes APP1 right after SOI: FF E1, length (4..5), "Exif\0\0" (6..11), then the
  // TIFF block at 12: "MM\0*", IFD0 offset (16..19), entry count (20..21), the Orientation entry
  // (22..33) whose value's low byte is byte 31. Point the IFD far past the end of the file.
  std::vector<uint8_t> bad_offset = good;
  ASSERT_EQ(bad_offset[2], 0xFF);
  ASSERT_EQ(bad_offset[3], 0xE1);
  bad_offset[16] = 0x7F;
  // An APP1 whose length runs past the end of the file.
  std::vector<uint8_t> bad_length = good;
  bad_length[4] = 0xFF;
  bad_length[5] = 0xFF;
  // An orientation value out of range.
  std::vector<uint8_t> bad_value = good;
  ASSERT_EQ(bad_value[31], 6);
  bad_value[31] = 9;
  for (const auto* file : {&bad_offset, &bad_value}) {
    const DecodeResult r = decode(*file);
    ASSERT_EQ(r.status, ItemStatus::kOk) << r.message;
    EXPECT_EQ(r.width, 64);  // not rotated
    EXPECT_LT(mean_abs_diff(r.image, stored), 3.0);
  }
  // With the segment length broken, the file itself is broken: any failure, but no crash.
  const DecodeResult r = decode(bad_length);
  EXPECT_EQ(r.width == 64 || r.width == 0, true);
}

}  // namespace
}  // namespace vpipe
