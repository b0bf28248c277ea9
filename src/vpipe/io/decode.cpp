#include "vpipe/io/decode.h"

#include <turbojpeg.h>

#include <algorithm>
#include <cassert>
#include <cctype>
#include <cstdint>
#include <cstdio>
#include <exception>
#include <new>
#include <string>

#include "vpipe/core/image_ops.h"
#include "vpipe/io/decode_internal.h"
#include "vpipe/io/exif.h"

namespace vpipe {

namespace decode_detail {

void fail(DecodeResult& result, ItemStatus status, std::string message) {
  result.status = status;
  result.message = std::move(message);
  result.image = Image();
  result.alpha = Image();
  result.lease.release();
}

bool refuse_size(DecodeResult& result, const char* codec, int64_t width, int64_t height,
                 const DecodeOptions& options) {
  if (width <= 0 || height <= 0) {
    fail(result, ItemStatus::kCorrupt,
         std::string(codec) + ": invalid image size " + std::to_string(width) + "x" +
             std::to_string(height));
    return true;
  }
  const auto pixels = static_cast<uint64_t>(width) * static_cast<uint64_t>(height);
  if (pixels > options.max_pixels) {
    // The size is known and worth recording (the manifest keeps dimensions of refused files).
    result.width = static_cast<int>(std::min<int64_t>(width, INT32_MAX));
    result.height = static_cast<int>(std::min<int64_t>(height, INT32_MAX));
    fail(result, ItemStatus::kTooLarge,
         std::string(codec) + ": " + std::to_string(width) + "x" + std::to_string(height) + " = " +
             std::to_string(pixels) + " pixels is over the limit of " +
             std::to_string(options.max_pixels) + " pixels (decompression bomb guard)");
    return true;
  }
  // Image stores int sides and size_t byte counts; keep both far from overflow.
  if (width > (1 << 30) || height > (1 << 30)) {
    fail(result, ItemStatus::kTooLarge, std::string(codec) + ": image side over 2^30 pixels");
    return true;
  }
  // Every decoder asks here before it allocates pixels: the place to take them from the budget.
  // Some ask twice for one image (a GIF's canvas, then its frame): the lease it holds is given
  // back before a larger one is waited for, or the worker would wait on itself.
  if (options.budget != nullptr && result.lease.pixels() < pixels) {
    result.lease.release();
    result.lease = options.budget->acquire(pixels);
  }
  return false;
}

void split_alpha(const uint8_t* src, uint8_t* color, uint8_t* alpha, size_t pixels,
                 int color_channels, bool premultiplied) {
  const int stride = color_channels + 1;
  for (size_t i = 0; i < pixels; ++i) {
    const uint8_t* s = src + i * stride;
    uint8_t* d = color + i * color_channels;
    const uint32_t a = s[color_channels];
    alpha[i] = static_cast<uint8_t>(a);
    for (int c = 0; c < color_channels; ++c) {
      // unpremultiply()'s rounding: the black composite of the result reproduces the stored
      // premultiplied values exactly.
      d[c] = premultiplied ? unpremultiply_sample(s[c], a) : s[c];
    }
  }
}

void collapse_gray_rgb(Image& img) {
  if (img.channels != 3) return;
  const size_t pixels = static_cast<size_t>(img.width) * img.height;
  const uint8_t* p = img.pixels.data();
  for (size_t i = 0; i < pixels; ++i) {
    if (p[3 * i] != p[3 * i + 1] || p[3 * i] != p[3 * i + 2]) return;
  }
  for (size_t i = 0; i < pixels; ++i) img.pixels[i] = img.pixels[3 * i];
  img.pixels.resize(pixels);
  img.pixels.shrink_to_fit();
  img.channels = 1;
}

void set_damaged(DecodeResult& result, const DecodeOptions& options, std::string warning) {
  result.status = options.lenient ? ItemStatus::kOk : ItemStatus::kDamaged;
  result.message = std::move(warning);
}

}  // namespace decode_detail

using decode_detail::fail;
using decode_detail::refuse_size;

namespace {

/// The smallest TurboJPEG scaling factor (<= 1) that keeps the longer side >= min_long_side;
/// 1/1 when min_long_side is 0 or the image is already smaller.
tjscalingfactor pick_scaling(int width, int height, int min_long_side) {
  tjscalingfactor best{1, 1};
  if (min_long_side <= 0) return best;
  const int long_side = std::max(width, height);
  int count = 0;
  const tjscalingfactor* factors = tjGetScalingFactors(&count);
  for (int i = 0; factors != nullptr && i < count; ++i) {
    const tjscalingfactor f = factors[i];
    if (f.num > f.denom) continue;
    if (TJSCALED(long_side, f) < min_long_side) continue;
    if (static_cast<int64_t>(f.num) * best.denom < static_cast<int64_t>(best.num) * f.denom) {
      best = f;
    }
  }
  return best;
}

/// Adobe-style (inverted) CMYK to RGB: R = C * K / 255 with the stored, inverted values.
void cmyk_to_rgb(const uint8_t* cmyk, uint8_t* rgb, size_t pixels) {
  for (size_t i = 0; i < pixels; ++i) {
    const uint32_t k = cmyk[4 * i + 3];
    for (int c = 0; c < 3; ++c) {
      rgb[3 * i + c] = static_cast<uint8_t>((cmyk[4 * i + c] * k + 127) / 255);
    }
  }
}

std::string jpeg_warning_text(const char* text) {
  std::string warning = std::string("JPEG: ") + text;
  std::string lower = warning;
  std::transform(lower.begin(), lower.end(), lower.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  if (lower.find("premature end") != std::string::npos) warning += " (truncated file)";
  return warning;
}

}  // namespace

struct Decoder::Impl {
  tjhandle jpeg = nullptr;
  BufferPool* pixel_pool = nullptr;  // not owned; null: plain allocations

  explicit Impl(BufferPool* pool) : jpeg(tjInitDecompress()), pixel_pool(pool) {}
  ~Impl() {
    if (jpeg != nullptr) tjDestroy(jpeg);
  }
  Impl(const Impl&) = delete;
  Impl& operator=(const Impl&) = delete;

  /// TurboJPEG 2.1 leaves libjpeg mid-header after a failed tjDecompressHeader3, and the next
  /// file would be parsed from that stale state: start afresh after any failure (rare path).
  void reset() {
    if (jpeg != nullptr) tjDestroy(jpeg);
    jpeg = tjInitDecompress();
  }

  DecodeResult decode_jpeg(std::span<const uint8_t> bytes, const DecodeOptions& options);
};

DecodeResult Decoder::Impl::decode_jpeg(std::span<const uint8_t> bytes,
                                        const DecodeOptions& options) {
  DecodeResult result;
  if (jpeg == nullptr) {
    fail(result, ItemStatus::kCorrupt, "JPEG: TurboJPEG could not be initialised");
    return result;
  }
  const auto* data = bytes.data();
  const auto size = static_cast<unsigned long>(bytes.size());
  int width = 0;
  int height = 0;
  int subsampling = 0;
  int colorspace = 0;
  if (tjDecompressHeader3(jpeg, data, size, &width, &height, &subsampling, &colorspace) != 0) {
    fail(result, ItemStatus::kCorrupt, std::string("JPEG: ") + tjGetErrorStr2(jpeg));
    reset();
    return result;
  }
  if (width <= 0 || height <= 0) {  // libjpeg met the end of the data before a frame header
    fail(result, ItemStatus::kCorrupt,
         "JPEG: no image before the end of the data (truncated file)");
    reset();
    return result;
  }
  const int orientation = jpeg_exif_orientation(bytes);
  const bool swap = orientation >= 5;
  if (refuse_size(result, "JPEG", swap ? height : width, swap ? width : height, options)) {
    return result;
  }
  result.width = swap ? height : width;
  result.height = swap ? width : height;

  const tjscalingfactor scale = pick_scaling(width, height, options.min_long_side);
  const int scaled_width = TJSCALED(width, scale);
  const int scaled_height = TJSCALED(height, scale);
  result.lease.shrink_to(static_cast<uint64_t>(scaled_width) * static_cast<uint64_t>(scaled_height));
  const bool cmyk = colorspace == TJCS_CMYK || colorspace == TJCS_YCCK;
  const bool gray = colorspace == TJCS_GRAY;
  const int pixel_format = gray ? TJPF_GRAY : (cmyk ? TJPF_CMYK : TJPF_RGB);

  // Decode straight into the result's buffer (CMYK, rare, goes through a 4-channel one).
  const int channels = gray ? 1 : (cmyk ? 4 : 3);
  if (pixel_pool != nullptr) {
    result.image.width = scaled_width;
    result.image.height = scaled_height;
    result.image.channels = channels;
    result.image.pixels =
        pixel_pool->take(static_cast<size_t>(scaled_width) * scaled_height * channels);
  } else {
    result.image = Image(scaled_width, scaled_height, channels);
  }
  const int rc = tjDecompress2(jpeg, data, size, result.image.pixels.data(), scaled_width, 0,
                               scaled_height, pixel_format, 0);
  if (rc != 0) {
    const char* text = tjGetErrorStr2(jpeg);
    if (tjGetErrorCode(jpeg) != TJERR_WARNING) {
      fail(result, ItemStatus::kCorrupt, std::string("JPEG: ") + text);
      reset();
      return result;
    }
    decode_detail::set_damaged(result, options, jpeg_warning_text(text));
  } else {
    result.status = ItemStatus::kOk;
  }
  if (cmyk) {
    Image rgb(scaled_width, scaled_height, 3);
    cmyk_to_rgb(result.image.pixels.data(), rgb.pixels.data(),
                static_cast<size_t>(scaled_width) * scaled_height);
    result.image = std::move(rgb);
  }
  apply_orientation(result.image, orientation);
  return result;
}

Decoder::Decoder() : impl_(std::make_unique<Impl>(nullptr)) {}
Decoder::Decoder(BufferPool* pixel_pool) : impl_(std::make_unique<Impl>(pixel_pool)) {}
Decoder::~Decoder() = default;

DecodeResult Decoder::decode(std::span<const uint8_t> bytes, const DecodeOptions& options) {
  const ImageFormat format = sniff_format(bytes.first(std::min(bytes.size(), kSniffBytes)));
  DecodeResult result;
  result.format = format;
  if (bytes.empty()) {
    fail(result, ItemStatus::kNotImage, "not an image: empty file");
    return result;
  }
  try {
    switch (format) {
      case ImageFormat::kUnknown:
        // Never the bytes themselves: a message can reach a terminal, a log or a report, and
        // the file may be one the user did not mean to show (validate of a hostile dataset).
        fail(result, ItemStatus::kNotImage, "not an image: unrecognised signature");
        return result;
      case ImageFormat::kJpeg:
        result = impl_->decode_jpeg(bytes, options);
        break;
      case ImageFormat::kPng:
        result = decode_detail::decode_png(bytes, options);
        break;
      case ImageFormat::kWebp:
        result = decode_detail::decode_webp(bytes, options);
        break;
      case ImageFormat::kTiff:
        result = decode_detail::decode_tiff(bytes, options);
        break;
      case ImageFormat::kGif:
        result = decode_detail::decode_gif(bytes, options);
        break;
      case ImageFormat::kBmp:
        result = decode_detail::decode_bmp(bytes, options);
        break;
      case ImageFormat::kHeif:
        result = decode_detail::decode_heif(bytes, options, false);
        break;
      case ImageFormat::kAvif:
        result = decode_detail::decode_heif(bytes, options, true);
        break;
      case ImageFormat::kJxl:
        result = decode_detail::decode_jxl(bytes, options);
        break;
    }
  } catch (const std::bad_alloc&) {
    result = DecodeResult();
    fail(result, ItemStatus::kTooLarge, "out of memory while decoding");
  } catch (const std::exception& e) {
    result = DecodeResult();
    fail(result, ItemStatus::kCorrupt, std::string("decoder failed: ") + e.what());
  }
  result.format = format;
  if (!has_signals(result.status)) {
    result.image = Image();
    result.alpha = Image();
    result.lease.release();
  }
  // An alpha plane that is opaque everywhere says nothing: drop it, so that an empty plane is the
  // one way to say "opaque" (callers then skip all alpha work).
  if (!result.alpha.empty() && !has_transparency(result.alpha)) result.alpha = Image();
  assert((result.alpha.empty() ||
          (result.alpha.channels == 1 && result.alpha.width == result.image.width &&
           result.alpha.height == result.image.height)) &&
         "an alpha plane is one channel of the image's size");
  return result;
}

}  // namespace vpipe
