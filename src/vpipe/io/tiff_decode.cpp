// The TIFF decoder (decode_detail::decode_tiff). Strip-organised 8/16-bit gray and RGB are read
// scanline by scanline; everything else (tiles, palette, YCbCr, CMYK, 1..4-bit) through
// libtiff's RGBA reader one strip or one row of tiles at a time. Either way the rows go into the
// full image or, for a big image asked for at a reduced size, into a box average: memory is
// O(width x strip or tile height), not O(pixels).

#include <algorithm>
#include <cstring>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "vpipe/io/decode_internal.h"
#include "vpipe/io/exif.h"
#include "vpipe/io/tiff_io.h"

namespace vpipe::decode_detail {
namespace {

struct TiffCloser {
  void operator()(TIFF* tif) const { TIFFClose(tif); }
};

std::string tiff_reason(const char* fallback) {
  const std::string& errors = tiff_io::errors();
  return std::string("TIFF: ") + (errors.empty() ? fallback : errors);
}

/// Converts one TIFF scanline of `spp` samples per pixel (8 or 16 bits, native order; 16 keeps
/// the high byte) to 8-bit rows of `color_channels` samples, plus the alpha sample (the one after
/// the colour) when `with_alpha`. `invert`: min-is-white gray.
template <typename Sample>
void tiff_convert_row(const Sample* src, uint8_t* dst, int width, int spp, int color_channels,
                      bool with_alpha, bool invert) {
  constexpr int kShift = sizeof(Sample) == 2 ? 8 : 0;
  const int out_channels = color_channels + (with_alpha ? 1 : 0);
  for (int x = 0; x < width; ++x) {
    const Sample* s = src + static_cast<size_t>(x) * spp;
    uint8_t* d = dst + static_cast<size_t>(x) * out_channels;
    for (int c = 0; c < color_channels; ++c) {
      const auto v = static_cast<uint8_t>(s[c] >> kShift);
      d[c] = invert ? static_cast<uint8_t>(255 - v) : v;
    }
    if (with_alpha) d[color_channels] = static_cast<uint8_t>(s[color_channels] >> kShift);
  }
}

/// Where a TIFF's rows go, top to bottom in the file's own orientation: into the full image, or
/// through a RowBoxReducer when `factor` >= 2. Rows are 8-bit, colour then (with alpha) the alpha
/// sample, `premultiplied` or straight; the image handed out is straight.
class TiffRowSink {
 public:
  TiffRowSink(DecodeResult& result, uint32_t width, uint32_t height, int color_channels,
              bool has_alpha, bool premultiplied, int factor)
      : result_(result),
        width_(static_cast<int>(width)),
        color_channels_(color_channels),
        has_alpha_(has_alpha),
        premultiplied_(premultiplied) {
    const int h = static_cast<int>(height);
    if (factor >= 2) {
      reducer_.emplace(width_, h, color_channels + (has_alpha ? 1 : 0), color_channels, factor,
                       premultiplied);
      return;
    }
    result_.image = Image(width_, h, color_channels);
    if (has_alpha) result_.alpha = Image(width_, h, 1);
  }

  [[nodiscard]] bool reduced() const { return reducer_.has_value(); }
  [[nodiscard]] uint64_t out_pixels() const { return reducer_ ? reducer_->out_pixels() : 0; }
  [[nodiscard]] size_t row_bytes() const {
    return static_cast<size_t>(width_) * (color_channels_ + (has_alpha_ ? 1 : 0));
  }

  void put(const uint8_t* row) {
    if (reducer_) {
      reducer_->add_row(row);
    } else if (has_alpha_) {
      split_alpha(row, result_.image.row(y_), result_.alpha.row(y_), static_cast<size_t>(width_),
                  color_channels_, premultiplied_);
    } else {
      std::memcpy(result_.image.row(y_), row, row_bytes());
    }
    ++y_;
  }

  /// Hands the reduced image over, and turns the image as `orientation` says.
  void finish(uint16_t orientation) {
    if (reducer_) reducer_->finish(result_);
    apply_orientation(result_.image, orientation);
    if (!result_.alpha.empty()) apply_orientation(result_.alpha, orientation);
  }

 private:
  DecodeResult& result_;
  int width_;
  int color_channels_;
  bool has_alpha_;
  bool premultiplied_;
  int y_ = 0;
  std::optional<RowBoxReducer> reducer_;
};

/// The fields of a TIFF directory the decoder looks at.
struct TiffLayout {
  uint32_t width = 0;
  uint32_t height = 0;
  uint16_t bits = 1;
  uint16_t spp = 1;
  uint16_t photometric = PHOTOMETRIC_MINISBLACK;
  uint16_t planar = PLANARCONFIG_CONTIG;
  uint16_t sample_format = SAMPLEFORMAT_UINT;
  uint16_t orientation = ORIENTATION_TOPLEFT;
  uint16_t extra_count = 0;
  uint16_t* extra_types = nullptr;
  bool is_gray = false;
};

/// Strip-organised 8/16-bit gray or RGB (with at most one extra sample): scanlines straight into
/// the sink. False after a read error (result set).
bool read_scanlines(TIFF* tif, const TiffLayout& t, DecodeResult& result, int factor) {
  const int color_channels = t.is_gray ? 1 : 3;
  const bool has_alpha = t.spp == color_channels + 1 && t.extra_count >= 1 &&
                         t.extra_types != nullptr && t.extra_types[0] != EXTRASAMPLE_UNSPECIFIED;
  const bool premultiplied = has_alpha && t.extra_types[0] == EXTRASAMPLE_ASSOCALPHA;
  const tmsize_t line_size = TIFFScanlineSize(tif);
  const size_t expected = static_cast<size_t>(t.width) * t.spp * (t.bits / 8);
  if (line_size <= 0 || static_cast<size_t>(line_size) < expected) {
    fail(result, ItemStatus::kCorrupt, tiff_reason("invalid scanline size"));
    return false;
  }
  TiffRowSink sink(result, t.width, t.height, color_channels, has_alpha, premultiplied, factor);
  if (sink.reduced()) result.lease.shrink_to(uint64_t{t.width} * 2 + sink.out_pixels());
  std::vector<uint8_t> line(static_cast<size_t>(line_size));
  std::vector<uint8_t> row(sink.row_bytes());
  const bool invert = t.photometric == PHOTOMETRIC_MINISWHITE;
  const int width = static_cast<int>(t.width);
  for (uint32_t y = 0; y < t.height; ++y) {
    if (TIFFReadScanline(tif, line.data(), y, 0) < 0) {
      fail(result, ItemStatus::kCorrupt, tiff_reason("cannot read scanline"));
      return false;
    }
    if (t.bits == 8) {
      tiff_convert_row(line.data(), row.data(), width, t.spp, color_channels, has_alpha, invert);
    } else {
      tiff_convert_row(reinterpret_cast<const uint16_t*>(line.data()), row.data(), width, t.spp,
                       color_channels, has_alpha, invert);
    }
    sink.put(row.data());
  }
  sink.finish(t.orientation);
  return true;
}

struct RgbaImageEnd {
  void operator()(TIFFRGBAImage* img) const { TIFFRGBAImageEnd(img); }
};

/// Everything else: libtiff's RGBA reader (which premultiplies alpha, and reads a 4th RGB sample
/// without an ExtraSamples tag as associated alpha too), one band of rows at a time: a strip, or
/// a row of tiles, so that each is decoded once. The band is read in the file's own orientation
/// and turned at the end, as the scanline path does. False after an error (result set).
bool read_rgba_bands(TIFF* tif, const TiffLayout& t, DecodeResult& result, int factor) {
  char reason[1024] = {};
  if (!TIFFRGBAImageOK(tif, reason)) {
    fail(result, ItemStatus::kUnsupported, std::string("TIFF: ") + reason);
    return false;
  }
  TIFFRGBAImage img{};
  if (!TIFFRGBAImageBegin(&img, tif, 0, reason)) {
    fail(result, ItemStatus::kCorrupt, std::string("TIFF: ") + reason);
    return false;
  }
  std::unique_ptr<TIFFRGBAImage, RgbaImageEnd> end(&img);
  img.req_orientation = img.orientation;  // no flips by libtiff: apply_orientation turns it all

  uint32_t band = 0;
  if (TIFFIsTiled(tif)) {
    TIFFGetField(tif, TIFFTAG_TILELENGTH, &band);
  } else {
    TIFFGetFieldDefaulted(tif, TIFFTAG_ROWSPERSTRIP, &band);
  }
  band = std::clamp<uint32_t>(band, 1, t.height);

  const bool gray_out = t.is_gray && t.spp - t.extra_count == 1;
  const bool may_have_alpha =
      t.extra_count > 0 || (t.spp == 4 && t.photometric == PHOTOMETRIC_RGB);
  const int out_channels = gray_out ? 1 : 3;
  TiffRowSink sink(result, t.width, t.height, out_channels, may_have_alpha, true, factor);
  if (sink.reduced()) {
    result.lease.shrink_to(uint64_t{t.width} * (band + 1) + sink.out_pixels());
  }
  std::vector<uint32_t> raster(static_cast<size_t>(t.width) * band);
  std::vector<uint8_t> row(sink.row_bytes());
  const int stride = out_channels + (may_have_alpha ? 1 : 0);
  for (uint32_t y0 = 0; y0 < t.height; y0 += band) {
    const uint32_t rows = std::min(band, t.height - y0);
    img.row_offset = static_cast<int>(y0);
    img.col_offset = 0;
    if (!TIFFRGBAImageGet(&img, raster.data(), t.width, rows)) {
      fail(result, ItemStatus::kCorrupt, tiff_reason("cannot decode the image"));
      return false;
    }
    for (uint32_t r = 0; r < rows; ++r) {
      const uint32_t* src = raster.data() + static_cast<size_t>(r) * t.width;
      for (uint32_t x = 0; x < t.width; ++x) {
        const uint32_t pixel = src[x];
        uint8_t* d = row.data() + static_cast<size_t>(x) * stride;
        d[0] = static_cast<uint8_t>(TIFFGetR(pixel));
        if (!gray_out) {
          d[1] = static_cast<uint8_t>(TIFFGetG(pixel));
          d[2] = static_cast<uint8_t>(TIFFGetB(pixel));
        }
        if (may_have_alpha) d[out_channels] = static_cast<uint8_t>(TIFFGetA(pixel));
      }
      sink.put(row.data());
    }
  }
  sink.finish(t.orientation);
  return true;
}

}  // namespace

DecodeResult decode_tiff(std::span<const uint8_t> bytes, const DecodeOptions& options) {
  DecodeResult result;
  tiff_io::clear_diagnostics();
  tiff_io::ReadStream stream{bytes, 0};
  std::unique_ptr<TIFF, TiffCloser> tif(tiff_io::open_read(&stream));
  if (!tif) {
    fail(result, ItemStatus::kCorrupt, tiff_reason("cannot read the header"));
    return result;
  }
  TiffLayout t;
  TIFFGetField(tif.get(), TIFFTAG_IMAGEWIDTH, &t.width);
  TIFFGetField(tif.get(), TIFFTAG_IMAGELENGTH, &t.height);
  if (refuse_size(result, "TIFF", t.width, t.height, options)) return result;

  TIFFGetFieldDefaulted(tif.get(), TIFFTAG_BITSPERSAMPLE, &t.bits);
  TIFFGetFieldDefaulted(tif.get(), TIFFTAG_SAMPLESPERPIXEL, &t.spp);
  TIFFGetFieldDefaulted(tif.get(), TIFFTAG_PLANARCONFIG, &t.planar);
  TIFFGetFieldDefaulted(tif.get(), TIFFTAG_SAMPLEFORMAT, &t.sample_format);
  TIFFGetFieldDefaulted(tif.get(), TIFFTAG_ORIENTATION, &t.orientation);
  TIFFGetFieldDefaulted(tif.get(), TIFFTAG_EXTRASAMPLES, &t.extra_count, &t.extra_types);
  // The pixel limit alone does not bound memory here: a file may claim thousands of samples per
  // pixel, and libtiff then allocates and decodes rows of that many (a 146-byte file claiming
  // 19778x1 pixels of 65280 samples took 1.4 GiB and 30 s; found by fuzz/decode_tiff_fuzzer.cpp).
  // Refuse what needs more memory than max_pixels pixels of 16-bit RGBA, the widest vpipe keeps.
  const uint64_t bytes_per_pixel = (uint64_t{t.spp} * t.bits + 7) / 8;
  if (bytes_per_pixel > 8 &&
      uint64_t{t.width} * t.height > options.max_pixels / bytes_per_pixel * 8) {
    fail(result, ItemStatus::kTooLarge,
         "TIFF: " + std::to_string(t.width) + "x" + std::to_string(t.height) + " pixels of " +
             std::to_string(t.spp) + " samples of " + std::to_string(t.bits) +
             " bits need more memory than the limit of " + std::to_string(options.max_pixels) +
             " pixels allows (decompression bomb guard)");
    return result;
  }
  if (TIFFGetField(tif.get(), TIFFTAG_PHOTOMETRIC, &t.photometric) != 1) {
    t.photometric = t.spp >= 3 ? PHOTOMETRIC_RGB : PHOTOMETRIC_MINISBLACK;
  }
  t.is_gray =
      t.photometric == PHOTOMETRIC_MINISBLACK || t.photometric == PHOTOMETRIC_MINISWHITE;
  const int color_channels = t.is_gray ? 1 : 3;
  const bool scanlines = !TIFFIsTiled(tif.get()) && t.planar == PLANARCONFIG_CONTIG &&
                         (t.bits == 8 || t.bits == 16) && t.sample_format == SAMPLEFORMAT_UINT &&
                         (t.is_gray || t.photometric == PHOTOMETRIC_RGB) &&
                         t.spp >= color_channels && t.spp <= color_channels + 1;
  const int factor = row_by_row_factor(t.width, t.height, options);
  const bool ok = scanlines ? read_scanlines(tif.get(), t, result, factor)
                            : read_rgba_bands(tif.get(), t, result, factor);
  if (!ok) return result;
  const bool swapped = t.orientation >= 5 && t.orientation <= 8;
  result.width = static_cast<int>(swapped ? t.height : t.width);
  result.height = static_cast<int>(swapped ? t.width : t.height);
  result.status = ItemStatus::kOk;
  if (!tiff_io::errors().empty()) {
    set_damaged(result, options, tiff_reason(""));
  } else if (!tiff_io::warnings().empty()) {
    result.message = "TIFF: " + tiff_io::warnings();
  }
  return result;
}

}  // namespace vpipe::decode_detail
