// Memory stays bounded on huge non-JPEG images (issue 15): eight decode workers scanning eight
// 190-megapixel PNGs (570 MB of pixels each, 4.5 GB all at once) stay under 500 MB of RSS,
// because a big PNG is read row by row into the working-size average and the full-resolution
// pixels the workers may hold at once are capped by one budget.

#include <gtest/gtest.h>
#include <png.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include "process.h"
#include "vpipe/io/manifest.h"

namespace fs = std::filesystem;

namespace {

constexpr int kSide = 13784;  // 13784^2 = 190.0 MP, under the default limit of 200 MP

/// Writes a kSide x kSide RGB PNG row by row (the test itself never holds the pixels): a smooth
/// gradient with a checkerboard texture whose phase is `seed`.
bool write_big_png(const fs::path& path, int seed) {
  FILE* out = std::fopen(path.c_str(), "wb");
  if (out == nullptr) return false;
  png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, nullptr, nullptr, nullptr);
  png_infop info = png_create_info_struct(png);
  if (setjmp(png_jmpbuf(png))) {
    png_destroy_write_struct(&png, &info);
    std::fclose(out);
    return false;
  }
  png_init_io(png, out);
  png_set_compression_level(png, 1);
  png_set_IHDR(png, info, kSide, kSide, 8, PNG_COLOR_TYPE_RGB, PNG_INTERLACE_NONE,
               PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
  png_write_info(png, info);
  std::vector<png_byte> row(static_cast<size_t>(kSide) * 3);
  for (int y = 0; y < kSide; ++y) {
    for (int x = 0; x < kSide; ++x) {
      row[3 * x] = static_cast<png_byte>(x * 255 / kSide);
      row[3 * x + 1] = static_cast<png_byte>(y * 255 / kSide);
      row[3 * x + 2] = static_cast<png_byte>(((x / 64 + y / 64 + seed) % 2) * 200);
    }
    png_write_row(png, row.data());
  }
  png_write_end(png, nullptr);
  png_destroy_write_struct(&png, &info);
  return std::fclose(out) == 0;
}

TEST(BigPngMemory, EightWorkersOnEight190MegapixelPngsStayUnder500MB) {
  const fs::path dir = fs::temp_directory_path() / ("vpipe_big_png_" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir / "in");
  // One file written (a few seconds), seven copies: each path is decoded on its own.
  ASSERT_TRUE(write_big_png(dir / "in" / "big0.png", 0));
  for (int i = 1; i < 8; ++i) {
    fs::copy_file(dir / "in" / "big0.png", dir / "in" / ("big" + std::to_string(i) + ".png"));
  }
  const auto r = vpipe::testing::run_vpipe(
      {"scan", (dir / "in").string(), "--db", (dir / "run.db").string(), "--threads", "8"},
      dir.string());
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  rusage usage{};
  ASSERT_EQ(::getrusage(RUSAGE_CHILDREN, &usage), 0);
  const double peak_mb = static_cast<double>(usage.ru_maxrss) / 1024.0;  // ru_maxrss is KiB
  std::printf("peak RSS of the scan: %.0f MB\n", peak_mb);
  EXPECT_LT(peak_mb, 500.0);

  vpipe::Manifest manifest(dir / "run.db");
  const auto files = manifest.all_files();
  ASSERT_EQ(files.size(), 8U);
  for (const vpipe::FileRecord& f : files) {
    EXPECT_EQ(f.status, vpipe::ItemStatus::kOk) << f.path << ": " << f.error;
    EXPECT_EQ(f.width, kSide) << f.path;
    EXPECT_TRUE(f.has_signals) << f.path;
  }
  for (const vpipe::FileRecord& f : files) {
    EXPECT_EQ(f.phash, files[0].phash) << f.path;
    EXPECT_EQ(f.quality.brightness, files[0].quality.brightness) << f.path;
  }
  fs::remove_all(dir);
}

}  // namespace
