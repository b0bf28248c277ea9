#include "vpipe/io/encode.h"

#include <gif_lib.h>
#include <jxl/encode.h>
#include <libheif/heif.h>
#include <png.h>
#include <turbojpeg.h>
#include <webp/encode.h>

#include <algorithm>
#include <array>
#include <csetjmp>
#include <cstring>
#include <memory>
#include <string>

#include "vpipe/core/error.h"
#include "vpipe/io/heif_init.h"
#include "vpipe/io/tiff_io.h"

namespace vpipe {
namespace {

void check_input(const Image& img, const char* codec) {
  if (img.empty() || (img.channels != 1 && img.channels != 3) ||
      img.pixels.size() != static_cast<size_t>(img.width) * img.height * img.channels) {
    throw Error(std::string(codec) + " encode: expected a non-empty 8-bit gray or RGB image");
  }
}

void check_input(const Image16& img, const char* codec) {
  if (img.width <= 0 || img.height <= 0 || (img.channels != 1 && img.channels != 3) ||
      img.pixels.size() != static_cast<size_t>(img.width) * img.height * img.channels) {
    throw Error(std::string(codec) + " encode: expected a non-empty 16-bit gray or RGB image");
  }
}

void check_alpha(const Image& img, const Image& alpha, const char* codec) {
  check_input(img, codec);
  if (alpha.channels != 1 || alpha.width != img.width || alpha.height != img.height ||
      alpha.pixels.size() != static_cast<size_t>(img.width) * img.height) {
    throw Error(std::string(codec) +
                " encode: the alpha plane must be one 8-bit channel of the image's size");
  }
}

/// Colour and alpha interleaved (HWC, channels + 1 bytes per pixel, alpha last); gray becomes RGB
/// first when `to_rgb`; colour is multiplied by alpha ((c * a + 127) / 255) when `premultiply`.
std::vector<uint8_t> interleave_alpha(const Image& img, const Image& alpha, bool to_rgb,
                                      bool premultiply) {
  const int in_channels = img.channels;
  const int out_color = to_rgb ? 3 : in_channels;
  const size_t pixels = static_cast<size_t>(img.width) * img.height;
  std::vector<uint8_t> out(pixels * (out_color + 1));
  for (size_t i = 0; i < pixels; ++i) {
    const uint32_t a = alpha.pixels[i];
    uint8_t* d = out.data() + i * (out_color + 1);
    for (int c = 0; c < out_color; ++c) {
      uint32_t v = img.pixels[i * in_channels + (in_channels == 1 ? 0 : c)];
      if (premultiply) v = (v * a + 127) / 255;
      d[c] = static_cast<uint8_t>(v);
    }
    d[out_color] = static_cast<uint8_t>(a);
  }
  return out;
}

/// Gray to RGB for codecs without a gray mode (WebP). HWC, width * height * 3 bytes.
std::vector<uint8_t> gray_to_rgb(const Image& img) {
  std::vector<uint8_t> rgb(img.pixels.size() * 3);
  for (size_t i = 0; i < img.pixels.size(); ++i) {
    rgb[3 * i] = rgb[3 * i + 1] = rgb[3 * i + 2] = img.pixels[i];
  }
  return rgb;
}

// ---------------------------------------------------------------------------------------------
// JPEG

struct TjHandleDeleter {
  void operator()(void* handle) const { tjDestroy(handle); }
};

struct TjBufferDeleter {
  void operator()(unsigned char* buffer) const { tjFree(buffer); }
};

/// Minimal EXIF APP1 segment: big-endian TIFF header, IFD0 with one Orientation (0x0112) SHORT.
std::array<uint8_t, 36> exif_orientation_segment(int orientation) {
  return {0xFF, 0xE1,
          0x00, 34,  // marker, length (34 bytes including the length field)
          'E',  'x',
          'i',  'f',
          0x00, 0x00,  // Exif identifier
          'M',  'M',
          0x00, 0x2A,
          0x00, 0x00,
          0x00, 0x08,  // TIFF header, IFD0 at 8
          0x00, 0x01,  // one entry
          0x01, 0x12,
          0x00, 0x03,
          0x00, 0x00,
          0x00, 0x01,  // Orientation, SHORT, count 1
          0x00, static_cast<uint8_t>(orientation),
          0x00, 0x00,  // value
          0x00, 0x00,
          0x00, 0x00};  // no next IFD
}

// ---------------------------------------------------------------------------------------------
// PNG (libpng reports errors by longjmp: the setjmp frame below keeps only trivially
// destructible locals, and all C++ state lives in the caller's frame, reached by pointer.)

struct PngWriteState {
  std::vector<uint8_t> out;
  char error[256] = {};
};

void png_write_to_vector(png_structp png, png_bytep data, size_t length) {
  auto* state = static_cast<PngWriteState*>(png_get_io_ptr(png));
  state->out.insert(state->out.end(), data, data + length);
}

void png_flush_noop(png_structp) {}

[[noreturn]] void png_encode_error(png_structp png, png_const_charp message) {
  auto* state = static_cast<PngWriteState*>(png_get_error_ptr(png));
  std::snprintf(state->error, sizeof(state->error), "%s", message);
  png_longjmp(png, 1);
}

void png_encode_warning(png_structp, png_const_charp) {}

/// Writes rows[0..height) (each already in PNG byte order). Returns false on a libpng error.
bool png_write_rows(PngWriteState* state, int width, int height, int bit_depth, int color_type,
                    png_bytep* rows) {
  png_structp png =
      png_create_write_struct(PNG_LIBPNG_VER_STRING, state, png_encode_error, png_encode_warning);
  if (png == nullptr) return false;
  png_infop info = png_create_info_struct(png);
  if (info == nullptr) {
    png_destroy_write_struct(&png, nullptr);
    return false;
  }
  if (setjmp(png_jmpbuf(png))) {
    png_destroy_write_struct(&png, &info);
    return false;
  }
  png_set_write_fn(png, state, png_write_to_vector, png_flush_noop);
  png_set_IHDR(png, info, static_cast<png_uint_32>(width), static_cast<png_uint_32>(height),
               bit_depth, color_type, PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT,
               PNG_FILTER_TYPE_DEFAULT);
  png_set_compression_level(png, 6);
  png_write_info(png, info);
  png_write_image(png, rows);
  png_write_end(png, info);
  png_destroy_write_struct(&png, &info);
  return true;
}

std::vector<uint8_t> png_finish(PngWriteState& state, bool ok) {
  if (!ok) throw Error(std::string("PNG encode failed: ") + state.error);
  return std::move(state.out);
}

// ---------------------------------------------------------------------------------------------
// GIF

struct GifWriteState {
  std::vector<uint8_t> out;
};

int gif_write_to_vector(GifFileType* gif, const GifByteType* data, int length) {
  auto* state = static_cast<GifWriteState*>(gif->UserData);
  state->out.insert(state->out.end(), data, data + length);
  return length;
}

struct GifColorMapDeleter {
  void operator()(ColorMapObject* map) const { GifFreeMapObject(map); }
};

// Colour palette: 6 levels of red, 7 of green, 6 of blue (252 entries), nearest level per
// channel. Crude but fast and deterministic; gray images use an exact 256-entry gray ramp.
constexpr int kGifRedLevels = 6;
constexpr int kGifGreenLevels = 7;
constexpr int kGifBlueLevels = 6;

int gif_level(uint8_t value, int levels) { return (value * (levels - 1) + 127) / 255; }

uint8_t gif_level_value(int level, int levels) {
  return static_cast<uint8_t>((level * 255 + (levels - 1) / 2) / (levels - 1));
}

// ---------------------------------------------------------------------------------------------
// HEIF (HEIC / AVIF)

struct HeifContextDeleter {
  void operator()(heif_context* ctx) const { heif_context_free(ctx); }
};
struct HeifEncoderDeleter {
  void operator()(heif_encoder* encoder) const { heif_encoder_release(encoder); }
};
struct HeifImageDeleter {
  void operator()(heif_image* image) const { heif_image_release(image); }
};

void heif_check(heif_error err, const char* what) {
  if (err.code != heif_error_Ok) {
    throw Error(std::string(what) + ": " + (err.message != nullptr ? err.message : "failed"));
  }
}

heif_error heif_write_to_vector(heif_context*, const void* data, size_t size, void* userdata) {
  auto* out = static_cast<std::vector<uint8_t>*>(userdata);
  const auto* bytes = static_cast<const uint8_t*>(data);
  out->insert(out->end(), bytes, bytes + size);
  return heif_error{heif_error_Ok, heif_suberror_Unspecified, "ok"};
}

/// Copies `height` rows of `row_bytes` from `src` (tight) into a libheif plane of `stride` bytes.
void copy_to_plane(const uint8_t* src, size_t row_bytes, int height, uint8_t* plane, int stride) {
  for (int y = 0; y < height; ++y) {
    std::memcpy(plane + static_cast<size_t>(y) * stride, src + row_bytes * y, row_bytes);
  }
}

/// HEIC / AVIF; with `alpha` (may be null) the image carries an alpha plane (straight colour).
std::vector<uint8_t> encode_heif_common(const Image& img, const Image* alpha, int quality,
                                        heif_compression_format format, const char* codec) {
  if (alpha != nullptr) {
    check_alpha(img, *alpha, codec);
  } else {
    check_input(img, codec);
  }
  ensure_heif_initialised();
  std::unique_ptr<heif_context, HeifContextDeleter> ctx(heif_context_alloc());
  if (!ctx) throw Error(std::string(codec) + " encode: out of memory");
  heif_encoder* raw_encoder = nullptr;
  heif_check(heif_context_get_encoder_for_format(ctx.get(), format, &raw_encoder),
             (std::string(codec) + " encode: no encoder").c_str());
  std::unique_ptr<heif_encoder, HeifEncoderDeleter> encoder(raw_encoder);
  heif_check(heif_encoder_set_lossy_quality(encoder.get(), std::clamp(quality, 0, 100)),
             (std::string(codec) + " encode: quality").c_str());
  heif_encoder_set_logging_level(encoder.get(), 0);
  // Favour speed: these encoders serve synthetic corpora and tests, not archival output.
  if (format == heif_compression_HEVC) {
    heif_encoder_set_parameter_string(encoder.get(), "preset", "fast");
    // One thread per encode: callers already run one encode per core, and x265's own pool
    // would only oversubscribe them ("x265:" parameters go straight to x265_param_parse).
    heif_encoder_set_parameter_string(encoder.get(), "x265:pools", "none");
    heif_encoder_set_parameter_string(encoder.get(), "x265:frame-threads", "1");
  } else {
    heif_encoder_set_parameter_integer(encoder.get(), "speed", 8);
  }

  const bool gray = img.channels == 1;
  // Gray + alpha: a Y and an Alpha plane; RGB + alpha: interleaved RGBA.
  const bool rgba = !gray && alpha != nullptr;
  heif_image* raw_image = nullptr;
  heif_check(heif_image_create(img.width, img.height,
                               gray ? heif_colorspace_monochrome : heif_colorspace_RGB,
                               gray   ? heif_chroma_monochrome
                               : rgba ? heif_chroma_interleaved_RGBA
                                      : heif_chroma_interleaved_RGB,
                               &raw_image),
             (std::string(codec) + " encode: image").c_str());
  std::unique_ptr<heif_image, HeifImageDeleter> image(raw_image);
  const heif_channel channel = gray ? heif_channel_Y : heif_channel_interleaved;
  const auto add_plane = [&](heif_channel which, const uint8_t* src, size_t row_bytes) {
    heif_check(heif_image_add_plane(image.get(), which, img.width, img.height, 8),
               (std::string(codec) + " encode: plane").c_str());
    int stride = 0;
    uint8_t* plane = heif_image_get_plane(image.get(), which, &stride);
    if (plane == nullptr) throw Error(std::string(codec) + " encode: no image plane");
    copy_to_plane(src, row_bytes, img.height, plane, stride);
  };
  if (rgba) {
    const std::vector<uint8_t> pixels = interleave_alpha(img, *alpha, false, false);
    add_plane(channel, pixels.data(), static_cast<size_t>(img.width) * 4);
  } else {
    add_plane(channel, img.pixels.data(), img.stride());
    if (alpha != nullptr) add_plane(heif_channel_Alpha, alpha->pixels.data(), alpha->stride());
  }
  heif_check(heif_context_encode_image(ctx.get(), image.get(), encoder.get(), nullptr, nullptr),
             (std::string(codec) + " encode").c_str());
  std::vector<uint8_t> out;
  heif_writer writer{};
  writer.writer_api_version = 1;
  writer.write = heif_write_to_vector;
  heif_check(heif_context_write(ctx.get(), &writer, &out),
             (std::string(codec) + " encode: write").c_str());
  return out;
}

// ---------------------------------------------------------------------------------------------
// JPEG XL

struct JxlEncoderDeleter {
  void operator()(JxlEncoder* encoder) const { JxlEncoderDestroy(encoder); }
};

void jxl_check(JxlEncoderStatus status, const char* what) {
  if (status != JXL_ENC_SUCCESS) throw Error(std::string("JPEG XL encode: ") + what + " failed");
}

}  // namespace

std::vector<uint8_t> encode_jpeg(const Image& img, int quality, int exif_orientation) {
  check_input(img, "JPEG");
  std::unique_ptr<void, TjHandleDeleter> handle(tjInitCompress());
  if (!handle) throw Error(std::string("JPEG encode: ") + tjGetErrorStr2(nullptr));
  unsigned char* raw_out = nullptr;
  unsigned long out_size = 0;
  const bool gray = img.channels == 1;
  const int rc = tjCompress2(handle.get(), img.pixels.data(), img.width, 0, img.height,
                             gray ? TJPF_GRAY : TJPF_RGB, &raw_out, &out_size,
                             gray ? TJSAMP_GRAY : TJSAMP_420, std::clamp(quality, 1, 100), 0);
  std::unique_ptr<unsigned char, TjBufferDeleter> jpeg(raw_out);
  if (rc != 0) throw Error(std::string("JPEG encode: ") + tjGetErrorStr2(handle.get()));
  std::vector<uint8_t> out;
  if (exif_orientation >= 2 && exif_orientation <= 8) {
    const auto app1 = exif_orientation_segment(exif_orientation);
    out.resize(out_size + app1.size());
    std::memcpy(out.data(), jpeg.get(), 2);  // SOI
    std::memcpy(out.data() + 2, app1.data(), app1.size());
    std::memcpy(out.data() + 2 + app1.size(), jpeg.get() + 2, out_size - 2);
  } else {
    out.assign(jpeg.get(), jpeg.get() + out_size);
  }
  return out;
}

std::vector<uint8_t> encode_png(const Image& img) {
  check_input(img, "PNG");
  std::vector<png_bytep> rows(static_cast<size_t>(img.height));
  for (int y = 0; y < img.height; ++y) rows[y] = const_cast<png_bytep>(img.row(y));
  PngWriteState state;
  const bool ok =
      png_write_rows(&state, img.width, img.height, 8,
                     img.channels == 1 ? PNG_COLOR_TYPE_GRAY : PNG_COLOR_TYPE_RGB, rows.data());
  return png_finish(state, ok);
}

std::vector<uint8_t> encode_png(const Image& img, const Image& alpha) {
  check_alpha(img, alpha, "PNG");
  std::vector<uint8_t> pixels = interleave_alpha(img, alpha, false, false);
  const size_t row_bytes = static_cast<size_t>(img.width) * (img.channels + 1);
  std::vector<png_bytep> rows(static_cast<size_t>(img.height));
  for (int y = 0; y < img.height; ++y) rows[y] = pixels.data() + row_bytes * y;
  PngWriteState state;
  const bool ok = png_write_rows(
      &state, img.width, img.height, 8,
      img.channels == 1 ? PNG_COLOR_TYPE_GRAY_ALPHA : PNG_COLOR_TYPE_RGB_ALPHA, rows.data());
  return png_finish(state, ok);
}

std::vector<uint8_t> encode_png16(const Image16& img) {
  check_input(img, "PNG");
  // PNG stores 16-bit samples big-endian.
  std::vector<uint8_t> big_endian(img.pixels.size() * 2);
  for (size_t i = 0; i < img.pixels.size(); ++i) {
    big_endian[2 * i] = static_cast<uint8_t>(img.pixels[i] >> 8);
    big_endian[2 * i + 1] = static_cast<uint8_t>(img.pixels[i] & 0xFF);
  }
  const size_t row_bytes = static_cast<size_t>(img.width) * img.channels * 2;
  std::vector<png_bytep> rows(static_cast<size_t>(img.height));
  for (int y = 0; y < img.height; ++y) rows[y] = big_endian.data() + row_bytes * y;
  PngWriteState state;
  const bool ok =
      png_write_rows(&state, img.width, img.height, 16,
                     img.channels == 1 ? PNG_COLOR_TYPE_GRAY : PNG_COLOR_TYPE_RGB, rows.data());
  return png_finish(state, ok);
}

namespace {

/// The bytes libwebp's one-call encoders returned (freed here), or an error when it gave none.
std::vector<uint8_t> take_webp_output(uint8_t* raw_out, size_t size) {
  if (size == 0 || raw_out == nullptr) {
    WebPFree(raw_out);
    throw Error("WebP encode failed (image too large for WebP, at most 16383x16383?)");
  }
  std::vector<uint8_t> out(raw_out, raw_out + size);
  WebPFree(raw_out);
  return out;
}

}  // namespace

std::vector<uint8_t> encode_webp(const Image& img, int quality, bool lossless) {
  check_input(img, "WebP");
  std::vector<uint8_t> expanded;
  const uint8_t* rgb = img.pixels.data();
  if (img.channels == 1) {
    expanded = gray_to_rgb(img);
    rgb = expanded.data();
  }
  uint8_t* raw_out = nullptr;
  const size_t size =
      lossless ? WebPEncodeLosslessRGB(rgb, img.width, img.height, img.width * 3, &raw_out)
               : WebPEncodeRGB(rgb, img.width, img.height, img.width * 3,
                               static_cast<float>(std::clamp(quality, 0, 100)), &raw_out);
  return take_webp_output(raw_out, size);
}

std::vector<uint8_t> encode_webp(const Image& img, const Image& alpha, int quality, bool lossless) {
  check_alpha(img, alpha, "WebP");
  const std::vector<uint8_t> rgba = interleave_alpha(img, alpha, true, false);
  uint8_t* raw_out = nullptr;
  const size_t size =
      lossless ? WebPEncodeLosslessRGBA(rgba.data(), img.width, img.height, img.width * 4, &raw_out)
               : WebPEncodeRGBA(rgba.data(), img.width, img.height, img.width * 4,
                                static_cast<float>(std::clamp(quality, 0, 100)), &raw_out);
  return take_webp_output(raw_out, size);
}

namespace {

/// `channels` samples per pixel; with `extra_sample` (EXTRASAMPLE_ASSOCALPHA / _UNASSALPHA; 0 =
/// none) the last of them is alpha.
template <typename Sample>
std::vector<uint8_t> encode_tiff_common(int width, int height, int channels, const Sample* pixels,
                                        uint16_t extra_sample = 0) {
  tiff_io::clear_diagnostics();
  tiff_io::WriteStream stream;
  TIFF* tif = tiff_io::open_write(&stream);
  if (tif == nullptr) throw Error("TIFF encode: cannot open writer: " + tiff_io::errors());
  const size_t row_samples = static_cast<size_t>(width) * channels;
  bool ok = TIFFSetField(tif, TIFFTAG_IMAGEWIDTH, static_cast<uint32_t>(width)) &&
            TIFFSetField(tif, TIFFTAG_IMAGELENGTH, static_cast<uint32_t>(height)) &&
            TIFFSetField(tif, TIFFTAG_BITSPERSAMPLE, static_cast<uint16_t>(8 * sizeof(Sample))) &&
            TIFFSetField(tif, TIFFTAG_SAMPLESPERPIXEL, static_cast<uint16_t>(channels)) &&
            TIFFSetField(tif, TIFFTAG_PHOTOMETRIC,
                         channels - (extra_sample != 0 ? 1 : 0) == 1 ? PHOTOMETRIC_MINISBLACK
                                                                     : PHOTOMETRIC_RGB) &&
            TIFFSetField(tif, TIFFTAG_PLANARCONFIG, PLANARCONFIG_CONTIG) &&
            TIFFSetField(tif, TIFFTAG_COMPRESSION, COMPRESSION_ADOBE_DEFLATE) &&
            TIFFSetField(tif, TIFFTAG_ROWSPERSTRIP, TIFFDefaultStripSize(tif, 0));
  if (ok && extra_sample != 0) {
    ok = TIFFSetField(tif, TIFFTAG_EXTRASAMPLES, static_cast<uint16_t>(1), &extra_sample) == 1;
  }
  // TIFFWriteScanline takes a non-const buffer (some codecs modify it), so copy each row.
  std::vector<Sample> row(row_samples);
  for (int y = 0; ok && y < height; ++y) {
    std::copy_n(pixels + row_samples * y, row_samples, row.data());
    ok = TIFFWriteScanline(tif, row.data(), static_cast<uint32_t>(y), 0) == 1;
  }
  ok = ok && TIFFFlush(tif) == 1;
  TIFFClose(tif);
  if (!ok) throw Error("TIFF encode failed: " + tiff_io::errors());
  return std::move(stream.bytes);
}

}  // namespace

std::vector<uint8_t> encode_tiff(const Image& img) {
  check_input(img, "TIFF");
  return encode_tiff_common(img.width, img.height, img.channels, img.pixels.data());
}

std::vector<uint8_t> encode_tiff(const Image& img, const Image& alpha, bool associated) {
  check_alpha(img, alpha, "TIFF");
  const std::vector<uint8_t> pixels = interleave_alpha(img, alpha, false, associated);
  return encode_tiff_common(
      img.width, img.height, img.channels + 1, pixels.data(),
      static_cast<uint16_t>(associated ? EXTRASAMPLE_ASSOCALPHA : EXTRASAMPLE_UNASSALPHA));
}

std::vector<uint8_t> encode_tiff16(const Image16& img) {
  check_input(img, "TIFF");
  return encode_tiff_common(img.width, img.height, img.channels, img.pixels.data());
}

namespace {

/// encode_gif, with pixels whose `alpha` (may be null) is < 128 written as kGifTransparentIndex.
std::vector<uint8_t> encode_gif_impl(const Image& img, const Image* alpha) {
  // The last entry: colour palettes use 252 entries; gray ones give up level 255 (-> 254).
  constexpr GifPixelType kGifTransparentIndex = 255;
  if (img.width > 65535 || img.height > 65535) throw Error("GIF encode: image over 65535 pixels");
  const bool gray = img.channels == 1;
  std::array<GifColorType, 256> colors{};
  if (gray) {
    for (int i = 0; i < 256; ++i) {
      const auto v = static_cast<GifByteType>(i);
      colors[i] = {v, v, v};
    }
  } else {
    for (int r = 0; r < kGifRedLevels; ++r) {
      for (int g = 0; g < kGifGreenLevels; ++g) {
        for (int b = 0; b < kGifBlueLevels; ++b) {
          colors[(r * kGifGreenLevels + g) * kGifBlueLevels + b] = {
              gif_level_value(r, kGifRedLevels), gif_level_value(g, kGifGreenLevels),
              gif_level_value(b, kGifBlueLevels)};
        }
      }
    }
  }
  std::unique_ptr<ColorMapObject, GifColorMapDeleter> color_map(
      GifMakeMapObject(256, colors.data()));
  if (!color_map) throw Error("GIF encode: out of memory");

  GifWriteState state;
  int error = 0;
  GifFileType* gif = EGifOpen(&state, gif_write_to_vector, &error);
  if (gif == nullptr) throw Error(std::string("GIF encode: ") + GifErrorString(error));
  EGifSetGifVersion(gif, true);
  bool ok = EGifPutScreenDesc(gif, img.width, img.height, 8, 0, color_map.get()) == GIF_OK;
  if (ok && alpha != nullptr) {
    // Graphic control extension: flags (bit 0: transparent index given), delay, the index.
    const GifByteType control[4] = {1, 0, 0, kGifTransparentIndex};
    ok = EGifPutExtension(gif, GRAPHICS_EXT_FUNC_CODE, 4, control) == GIF_OK;
  }
  ok = ok && EGifPutImageDesc(gif, 0, 0, img.width, img.height, false, nullptr) == GIF_OK;
  std::vector<GifPixelType> line(static_cast<size_t>(img.width));
  for (int y = 0; ok && y < img.height; ++y) {
    const uint8_t* src = img.row(y);
    if (gray) {
      std::copy_n(src, img.width, line.data());
    } else {
      for (int x = 0; x < img.width; ++x) {
        const int r = gif_level(src[3 * x], kGifRedLevels);
        const int g = gif_level(src[3 * x + 1], kGifGreenLevels);
        const int b = gif_level(src[3 * x + 2], kGifBlueLevels);
        line[x] = static_cast<GifPixelType>((r * kGifGreenLevels + g) * kGifBlueLevels + b);
      }
    }
    if (alpha != nullptr) {
      const uint8_t* a = alpha->row(y);
      for (int x = 0; x < img.width; ++x) {
        if (a[x] < 128) {
          line[x] = kGifTransparentIndex;
        } else if (line[x] == kGifTransparentIndex) {
          line[x] = kGifTransparentIndex - 1;  // gray 255: the nearest level left
        }
      }
    }
    ok = EGifPutLine(gif, line.data(), img.width) == GIF_OK;
  }
  if (!ok) error = gif->Error;
  int close_error = 0;
  if (EGifCloseFile(gif, &close_error) != GIF_OK && ok) {
    ok = false;
    error = close_error;
  }
  if (!ok) throw Error(std::string("GIF encode: ") + GifErrorString(error));
  return std::move(state.out);
}

}  // namespace

std::vector<uint8_t> encode_gif(const Image& img) {
  check_input(img, "GIF");
  return encode_gif_impl(img, nullptr);
}

std::vector<uint8_t> encode_gif(const Image& img, const Image& alpha) {
  check_alpha(img, alpha, "GIF");
  return encode_gif_impl(img, &alpha);
}

std::vector<uint8_t> encode_bmp(const Image& img) {
  check_input(img, "BMP");
  const bool gray = img.channels == 1;
  const uint32_t bits = gray ? 8 : 24;
  const uint32_t row_bytes = ((static_cast<uint32_t>(img.width) * bits + 31) / 32) * 4;
  const uint32_t palette_bytes = gray ? 256 * 4 : 0;
  const uint32_t pixel_offset = 14 + 40 + palette_bytes;
  const uint64_t file_size = uint64_t{pixel_offset} + uint64_t{row_bytes} * img.height;
  if (file_size > 0xFFFFFFFFu) throw Error("BMP encode: image too large for BMP");
  std::vector<uint8_t> out(file_size, 0);
  auto put16 = [&](size_t at, uint32_t v) {
    out[at] = static_cast<uint8_t>(v);
    out[at + 1] = static_cast<uint8_t>(v >> 8);
  };
  auto put32 = [&](size_t at, uint32_t v) {
    put16(at, v & 0xFFFF);
    put16(at + 2, v >> 16);
  };
  out[0] = 'B';
  out[1] = 'M';
  put32(2, static_cast<uint32_t>(file_size));
  put32(10, pixel_offset);
  put32(14, 40);  // BITMAPINFOHEADER
  put32(18, static_cast<uint32_t>(img.width));
  put32(22, static_cast<uint32_t>(img.height));  // positive: bottom-up rows
  put16(26, 1);
  put16(28, bits);
  put32(30, 0);  // BI_RGB
  put32(34, row_bytes * static_cast<uint32_t>(img.height));
  put32(38, 2835);  // 72 dpi
  put32(42, 2835);
  put32(46, gray ? 256 : 0);
  if (gray) {
    for (uint32_t i = 0; i < 256; ++i) {
      const size_t at = 54 + 4 * i;
      out[at] = out[at + 1] = out[at + 2] = static_cast<uint8_t>(i);
    }
  }
  for (int y = 0; y < img.height; ++y) {
    uint8_t* dst =
        out.data() + pixel_offset + static_cast<size_t>(row_bytes) * (img.height - 1 - y);
    const uint8_t* src = img.row(y);
    if (gray) {
      std::memcpy(dst, src, static_cast<size_t>(img.width));
    } else {
      for (int x = 0; x < img.width; ++x) {  // BMP stores BGR
        dst[3 * x] = src[3 * x + 2];
        dst[3 * x + 1] = src[3 * x + 1];
        dst[3 * x + 2] = src[3 * x];
      }
    }
  }
  return out;
}

std::vector<uint8_t> encode_heic(const Image& img, int quality) {
  return encode_heif_common(img, nullptr, quality, heif_compression_HEVC, "HEIC");
}

std::vector<uint8_t> encode_avif(const Image& img, int quality) {
  return encode_heif_common(img, nullptr, quality, heif_compression_AV1, "AVIF");
}

std::vector<uint8_t> encode_heic(const Image& img, const Image& alpha, int quality) {
  return encode_heif_common(img, &alpha, quality, heif_compression_HEVC, "HEIC");
}

std::vector<uint8_t> encode_avif(const Image& img, const Image& alpha, int quality) {
  return encode_heif_common(img, &alpha, quality, heif_compression_AV1, "AVIF");
}

namespace {

/// encode_jxl, with an alpha channel when `alpha` is not null.
std::vector<uint8_t> encode_jxl_impl(const Image& img, const Image* alpha, float distance) {
  std::unique_ptr<JxlEncoder, JxlEncoderDeleter> encoder(JxlEncoderCreate(nullptr));
  if (!encoder) throw Error("JPEG XL encode: out of memory");
  const bool lossless = distance <= 0.0f;
  JxlBasicInfo info;
  JxlEncoderInitBasicInfo(&info);
  info.xsize = static_cast<uint32_t>(img.width);
  info.ysize = static_cast<uint32_t>(img.height);
  info.bits_per_sample = 8;
  info.num_color_channels = static_cast<uint32_t>(img.channels);
  if (alpha != nullptr) {
    info.alpha_bits = 8;
    info.num_extra_channels = 1;
  }
  info.uses_original_profile = lossless ? JXL_TRUE : JXL_FALSE;
  jxl_check(JxlEncoderSetBasicInfo(encoder.get(), &info), "basic info");
  JxlColorEncoding color;
  JxlColorEncodingSetToSRGB(&color, img.channels == 1 ? JXL_TRUE : JXL_FALSE);
  jxl_check(JxlEncoderSetColorEncoding(encoder.get(), &color), "colour encoding");
  JxlEncoderFrameSettings* settings = JxlEncoderFrameSettingsCreate(encoder.get(), nullptr);
  if (settings == nullptr) throw Error("JPEG XL encode: frame settings failed");
  if (lossless) {
    jxl_check(JxlEncoderSetFrameLossless(settings, JXL_TRUE), "lossless");
  } else {
    jxl_check(JxlEncoderSetFrameDistance(settings, std::min(distance, 25.0f)), "distance");
  }
  // Effort 3 of 1..9: fast enough for corpus generation; still a valid, typical file.
  jxl_check(JxlEncoderFrameSettingsSetOption(settings, JXL_ENC_FRAME_SETTING_EFFORT, 3), "effort");
  const JxlPixelFormat format{static_cast<uint32_t>(img.channels + (alpha != nullptr ? 1 : 0)),
                              JXL_TYPE_UINT8, JXL_NATIVE_ENDIAN, 0};
  std::vector<uint8_t> with_alpha;
  if (alpha != nullptr) with_alpha = interleave_alpha(img, *alpha, false, false);
  const std::vector<uint8_t>& pixels = alpha != nullptr ? with_alpha : img.pixels;
  jxl_check(JxlEncoderAddImageFrame(settings, &format, pixels.data(), pixels.size()), "add frame");
  JxlEncoderCloseInput(encoder.get());

  std::vector<uint8_t> out(64 * 1024);
  uint8_t* next = out.data();
  size_t avail = out.size();
  JxlEncoderStatus status = JxlEncoderProcessOutput(encoder.get(), &next, &avail);
  while (status == JXL_ENC_NEED_MORE_OUTPUT) {
    const size_t used = static_cast<size_t>(next - out.data());
    out.resize(out.size() * 2);
    next = out.data() + used;
    avail = out.size() - used;
    status = JxlEncoderProcessOutput(encoder.get(), &next, &avail);
  }
  jxl_check(status, "process output");
  out.resize(static_cast<size_t>(next - out.data()));
  return out;
}

}  // namespace

std::vector<uint8_t> encode_jxl(const Image& img, float distance) {
  check_input(img, "JPEG XL");
  return encode_jxl_impl(img, nullptr, distance);
}

std::vector<uint8_t> encode_jxl(const Image& img, const Image& alpha, float distance) {
  check_alpha(img, alpha, "JPEG XL");
  return encode_jxl_impl(img, &alpha, distance);
}

}  // namespace vpipe

#if defined(__SANITIZE_ADDRESS__)
/// LeakSanitizer hook (read once at start-up by ASan builds only). x265 3.5, which libheif's HEIC
/// encoder opens for every image, leaks one parameter block (~1.2 kB) in x265_encoder_open; it
/// is not ours to free. x265 has no frame pointers, so the recorded stack stops inside libx265:
/// the suppression names the library. Lives here, in an object every HEIC-encoding binary links.
extern "C" const char* __lsan_default_suppressions() { return "leak:libx265.so\n"; }
#endif
