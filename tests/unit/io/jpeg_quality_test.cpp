// The JPEG quality estimate from the luminance quantization table, on files written at known
// qualities by encode_jpeg (turbojpeg), and on headers that are not what they should be.

#include "vpipe/io/jpeg_quality.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <vector>

#include "codec_test_util.h"
#include "vpipe/io/encode.h"

namespace vpipe {
namespace {

namespace fs = std::filesystem;

/// The bytes with an APPn segment of `payload` bytes inserted after SOI (before the tables).
std::vector<uint8_t> with_app_segment(const std::vector<uint8_t>& jpeg, size_t payload) {
  const size_t length = payload + 2;
  std::vector<uint8_t> out(jpeg.size() + 2 + length, uint8_t{0x5A});
  std::copy(jpeg.begin(), jpeg.begin() + 2, out.begin());
  out[2] = 0xFF;
  out[3] = 0xE2;
  out[4] = static_cast<uint8_t>(length >> 8);
  out[5] = static_cast<uint8_t>(length & 0xFF);
  std::copy(jpeg.begin() + 2, jpeg.end(), out.begin() + static_cast<std::ptrdiff_t>(4 + length));
  return out;
}

TEST(JpegQuality, RecoversTheQualityEveryFileWasWrittenAt) {
  const Image rgb = codec_test::make_rgb(64, 48);
  const Image gray = codec_test::make_gray(64, 48);
  for (int q : {1, 5, 10, 25, 40, 49, 50, 51, 60, 75, 85, 88, 90, 95, 98, 100}) {
    EXPECT_EQ(estimate_jpeg_quality(encode_jpeg(rgb, q)), q) << "rgb, quality " << q;
    EXPECT_EQ(estimate_jpeg_quality(encode_jpeg(gray, q)), q) << "gray, quality " << q;
  }
  // An EXIF segment before the tables changes nothing.
  EXPECT_EQ(estimate_jpeg_quality(encode_jpeg(rgb, 70, 6)), 70);
}

TEST(JpegQuality, NeedsOnlyTheHeader) {
  const std::vector<uint8_t> jpeg = encode_jpeg(codec_test::make_rgb(64, 48), 40);
  // The bytes up to the end of the first DQT segment are enough.
  size_t dqt = 2;
  while (!(jpeg[dqt] == 0xFF && jpeg[dqt + 1] == 0xDB)) ++dqt;
  const size_t end = dqt + 2 + ((size_t{jpeg[dqt + 2]} << 8) | jpeg[dqt + 3]);
  EXPECT_EQ(estimate_jpeg_quality(std::span(jpeg).first(end)), 40);
  EXPECT_EQ(estimate_jpeg_quality(std::span(jpeg).first(end - 1)), std::nullopt);  // cut short
}

TEST(JpegQuality, NoEstimateForWhatIsNotAJpegWithATable) {
  EXPECT_EQ(estimate_jpeg_quality({}), std::nullopt);
  EXPECT_EQ(estimate_jpeg_quality(encode_png(codec_test::make_rgb(16, 16))), std::nullopt);
  // SOI then straight to a scan: no table 0 before it.
  const std::vector<uint8_t> no_table = {0xFF, 0xD8, 0xFF, 0xDA, 0x00, 0x02, 0x00};
  EXPECT_EQ(estimate_jpeg_quality(no_table), std::nullopt);
  // A segment whose length runs past a table's 64 entries is refused, not read out of bounds.
  const std::vector<uint8_t> short_table = {0xFF, 0xD8, 0xFF, 0xDB, 0x00, 0x05, 0x00, 1, 1};
  EXPECT_EQ(estimate_jpeg_quality(short_table), std::nullopt);
}

TEST(JpegQuality, ReadsSixteenBitTables) {
  // A hand-made DQT with one 16-bit table 0: the IJG table of quality 30 (scale 166).
  std::vector<uint8_t> bytes = {0xFF, 0xD8, 0xFF, 0xDB, 0x00, 2 + 1 + 128, 0x10};
  const std::vector<uint8_t> q30 = encode_jpeg(codec_test::make_gray(16, 16), 30);
  size_t dqt = 2;
  while (!(q30[dqt] == 0xFF && q30[dqt + 1] == 0xDB)) ++dqt;
  for (size_t i = 0; i < 64; ++i) {
    bytes.push_back(0);
    bytes.push_back(q30[dqt + 5 + i]);  // the 8-bit entries of its table 0, widened
  }
  EXPECT_EQ(estimate_jpeg_quality(bytes), 30);
}

TEST(JpegQuality, ReadsTablesBehindLargeSegmentsFromAFile) {
  std::string pattern = (fs::temp_directory_path() / "vpipe_jpegq_XXXXXX").string();
  ASSERT_NE(::mkdtemp(pattern.data()), nullptr);
  const fs::path dir = pattern;
  // Two 65 KB APP2 segments (an ICC profile, say) put the tables past the first 64 KiB read.
  std::vector<uint8_t> bytes = encode_jpeg(codec_test::make_rgb(64, 48), 55);
  bytes = with_app_segment(with_app_segment(bytes, 65000), 65000);
  const fs::path file = dir / "icc.jpg";
  std::ofstream(file, std::ios::binary)
      .write(reinterpret_cast<const char*>(bytes.data()),
             static_cast<std::streamsize>(bytes.size()));
  EXPECT_EQ(read_jpeg_quality(file), 55);
  EXPECT_EQ(read_jpeg_quality(dir / "missing.jpg"), std::nullopt);
  fs::remove_all(dir);
}

}  // namespace
}  // namespace vpipe
