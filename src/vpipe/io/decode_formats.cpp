// Decoders for WebP, GIF, HEIF/AVIF and JPEG XL (JPEG lives in decode.cpp, PNG in
// png_decode.cpp, TIFF in tiff_decode.cpp, BMP in bmp_decode.cpp). Each reads the header first
// and refuses oversized images before allocating.

#include <gif_lib.h>
#include <jxl/decode.h>
#include <libheif/heif.h>
#include <webp/decode.h>
#include <webp/demux.h>

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "vpipe/core/image_ops.h"
#include "vpipe/io/decode_internal.h"
#include "vpipe/io/heif_init.h"

namespace vpipe::decode_detail {
namespace {

// ---------------------------------------------------------------------------------------------
// GIF

struct GifReadState {
  std::span<const uint8_t> bytes;
  size_t pos = 0;
};

int gif_read_from_memory(GifFileType* gif, GifByteType* out, int length) {
  auto* state = static_cast<GifReadState*>(gif->UserData);
  if (length <= 0) return 0;
  const size_t n = std::min(static_cast<size_t>(length), state->bytes.size() - state->pos);
  std::memcpy(out, state->bytes.data() + state->pos, n);
  state->pos += n;
  return static_cast<int>(n);
}

struct GifCloser {
  void operator()(GifFileType* gif) const {
    int error = 0;
    DGifCloseFile(gif, &error);
  }
};

std::string gif_error(int code) {
  const char* text = GifErrorString(code);
  std::string message = std::string("GIF: ") + (text != nullptr ? text : "unknown error");
  if (code == D_GIF_ERR_READ_FAILED) message += " (truncated file)";
  return message;
}

/// The alpha plane of a GIF's first frame on its canvas, before the frame's pixels are drawn:
/// opaque inside the frame, transparent outside (browsers show canvas the first frame does not
/// cover as transparent, not in the background colour). Empty (opaque) when the frame covers the
/// canvas and has no transparent index. Pixels of the transparent index are cleared while drawing;
/// rows lost to a truncation stay opaque black, as damaged data does in every format.
Image gif_frame_alpha(const GifImageDesc& desc, int canvas_width, int canvas_height,
                      bool has_transparent_index) {
  const bool covers_canvas = desc.Left <= 0 && desc.Top <= 0 &&
                             desc.Left + desc.Width >= canvas_width &&
                             desc.Top + desc.Height >= canvas_height;
  if (covers_canvas && !has_transparent_index) return Image();
  Image alpha(canvas_width, canvas_height, 1);
  const int x0 = std::clamp(desc.Left, 0, canvas_width);
  const int x1 = std::clamp(desc.Left + desc.Width, 0, canvas_width);
  for (int y = std::max(0, desc.Top); y < std::min(canvas_height, desc.Top + desc.Height); ++y) {
    std::fill(alpha.row(y) + x0, alpha.row(y) + x1, uint8_t{255});
  }
  return alpha;
}

// ---------------------------------------------------------------------------------------------
// HEIF / JPEG XL / WebP RAII

struct HeifContextDeleter {
  void operator()(heif_context* ctx) const { heif_context_free(ctx); }
};
struct HeifHandleDeleter {
  void operator()(heif_image_handle* handle) const { heif_image_handle_release(handle); }
};
struct HeifImageDeleter {
  void operator()(heif_image* image) const { heif_image_release(image); }
};
struct JxlDecoderDeleter {
  void operator()(JxlDecoder* decoder) const { JxlDecoderDestroy(decoder); }
};
struct WebPAnimDecoderDeleter {
  void operator()(WebPAnimDecoder* decoder) const { WebPAnimDecoderDelete(decoder); }
};

const char* webp_status_text(VP8StatusCode status) {
  switch (status) {
    case VP8_STATUS_OK:
      return "ok";
    case VP8_STATUS_OUT_OF_MEMORY:
      return "out of memory";
    case VP8_STATUS_INVALID_PARAM:
      return "invalid parameter";
    case VP8_STATUS_BITSTREAM_ERROR:
      return "bitstream error (corrupt data)";
    case VP8_STATUS_UNSUPPORTED_FEATURE:
      return "unsupported feature";
    case VP8_STATUS_SUSPENDED:
      return "suspended";
    case VP8_STATUS_USER_ABORT:
      return "aborted";
    case VP8_STATUS_NOT_ENOUGH_DATA:
      return "not enough data (truncated file)";
  }
  return "unknown error";
}

}  // namespace

DecodeResult decode_webp(std::span<const uint8_t> bytes, const DecodeOptions& options) {
  DecodeResult result;
  WebPDecoderConfig config;
  if (!WebPInitDecoderConfig(&config)) {
    fail(result, ItemStatus::kCorrupt, "WebP: library version mismatch");
    return result;
  }
  VP8StatusCode status = WebPGetFeatures(bytes.data(), bytes.size(), &config.input);
  if (status != VP8_STATUS_OK) {
    fail(result, ItemStatus::kCorrupt, std::string("WebP: ") + webp_status_text(status));
    return result;
  }
  const int width = config.input.width;
  const int height = config.input.height;
  if (refuse_size(result, "WebP", width, height, options)) return result;
  result.width = width;
  result.height = height;
  const size_t pixels = static_cast<size_t>(width) * height;

  if (config.input.has_animation) {  // first frame, composited by the demuxer
    WebPAnimDecoderOptions anim_options;
    if (!WebPAnimDecoderOptionsInit(&anim_options)) {
      fail(result, ItemStatus::kCorrupt, "WebP: library version mismatch");
      return result;
    }
    // Premultiplied, then un-premultiplied below: the black composite stays bit-identical to
    // the premultiplied frame that earlier versions returned (straight MODE_RGBA rounds
    // differently from libwebp's own premultiplication).
    anim_options.color_mode = MODE_rgbA;
    anim_options.use_threads = 0;
    WebPData data{bytes.data(), bytes.size()};
    std::unique_ptr<WebPAnimDecoder, WebPAnimDecoderDeleter> anim(
        WebPAnimDecoderNew(&data, &anim_options));
    uint8_t* frame = nullptr;
    int timestamp = 0;
    if (!anim || !WebPAnimDecoderGetNext(anim.get(), &frame, &timestamp) || frame == nullptr) {
      fail(result, ItemStatus::kCorrupt, "WebP: cannot decode the first animation frame");
      return result;
    }
    result.image = Image(width, height, 3);
    result.alpha = Image(width, height, 1);
    split_alpha(frame, result.image.pixels.data(), result.alpha.pixels.data(), pixels, 3, true);
    result.status = ItemStatus::kOk;
    return result;
  }

  // A big still image asked for at a reduced size goes through libwebp's own rescaler, which
  // works a few rows at a time: memory is the reduced image, not the file's pixels. The factor is
  // the whole one resize_to_fit (core/image_ops.h) would take first.
  int out_w = width;
  int out_h = height;
  {
    const int factor = row_by_row_factor(width, height, options);
    if (factor >= 2) {
      const int fx = std::min(factor, width);
      const int fy = std::min(factor, height);
      out_w = width / fx;
      out_h = height / fy;
      // The columns and rows that do not fill a whole block are left out, as resize_to_fit does,
      // so each output pixel averages exactly its block.
      config.options.use_cropping = 1;
      config.options.crop_left = 0;
      config.options.crop_top = 0;
      config.options.crop_width = out_w * fx;
      config.options.crop_height = out_h * fy;
      config.options.use_scaling = 1;
      config.options.scaled_width = out_w;
      config.options.scaled_height = out_h;
      result.lease.shrink_to(static_cast<uint64_t>(out_w) * out_h);
    }
  }
  const size_t out_pixels = static_cast<size_t>(out_w) * out_h;
  std::vector<uint8_t> rgba;
  result.image = Image(out_w, out_h, 3);
  config.output.is_external_memory = 1;
  if (config.input.has_alpha) {
    rgba.resize(out_pixels * 4);
    config.output.colorspace = MODE_rgbA;  // premultiplied, as for animations above
    config.output.u.RGBA.rgba = rgba.data();
    config.output.u.RGBA.stride = out_w * 4;
    config.output.u.RGBA.size = rgba.size();
  } else {
    config.output.colorspace = MODE_RGB;
    config.output.u.RGBA.rgba = result.image.pixels.data();
    config.output.u.RGBA.stride = out_w * 3;
    config.output.u.RGBA.size = result.image.pixels.size();
  }
  status = WebPDecode(bytes.data(), bytes.size(), &config);
  WebPFreeDecBuffer(&config.output);
  if (status != VP8_STATUS_OK) {
    fail(result, ItemStatus::kCorrupt, std::string("WebP: ") + webp_status_text(status));
    return result;
  }
  if (config.input.has_alpha) {
    result.alpha = Image(out_w, out_h, 1);
    split_alpha(rgba.data(), result.image.pixels.data(), result.alpha.pixels.data(), out_pixels, 3,
                true);
  }
  result.status = ItemStatus::kOk;
  return result;
}

namespace {

/// Reads one extension record, keeping the transparent index of a graphic control extension in
/// `transparent`. False (`result` filled) when the file is damaged there.
bool read_gif_extension(GifFileType* gif, int& transparent, DecodeResult& result) {
  int code = 0;
  GifByteType* ext = nullptr;
  if (DGifGetExtension(gif, &code, &ext) != GIF_OK) {
    fail(result, ItemStatus::kCorrupt, gif_error(gif->Error));
    return false;
  }
  // Graphic control extension: [size=4][flags][delay lo][delay hi][transparent index].
  if (code == GRAPHICS_EXT_FUNC_CODE && ext != nullptr && ext[0] >= 4 && (ext[1] & 1) != 0) {
    transparent = ext[4];
  }
  while (ext != nullptr) {
    if (DGifGetExtensionNext(gif, &ext) != GIF_OK) {
      fail(result, ItemStatus::kCorrupt, gif_error(gif->Error));
      return false;
    }
  }
  return true;
}

/// Paints one decoded line of frame row `fy` onto the canvas of `result` (its image and alpha),
/// through colour map `map`; pixels of index `transparent` become transparent.
void put_gif_line(const GifImageDesc& desc, const ColorMapObject& map, int transparent, bool gray,
                  int fy, const std::vector<GifPixelType>& line, DecodeResult& result) {
  const int y = desc.Top + fy;
  if (y < 0 || y >= result.image.height) return;
  uint8_t* dst = result.image.row(y);
  for (int fx = 0; fx < desc.Width; ++fx) {
    const int x = desc.Left + fx;
    const int index = line[fx];
    if (x < 0 || x >= result.image.width) continue;
    if (index == transparent) {
      result.alpha.row(y)[x] = 0;
      continue;
    }
    if (index >= map.ColorCount) continue;
    const GifColorType& c = map.Colors[index];
    if (gray) {
      dst[x] = c.Red;
    } else {
      dst[3 * x] = c.Red;
      dst[3 * x + 1] = c.Green;
      dst[3 * x + 2] = c.Blue;
    }
  }
}

/// Decodes the frame whose image descriptor comes next onto a black canvas of the file's size.
void decode_gif_frame(GifFileType* gif, int transparent, const DecodeOptions& options,
                      DecodeResult& result) {
  if (DGifGetImageDesc(gif) != GIF_OK) {
    fail(result, ItemStatus::kCorrupt, gif_error(gif->Error));
    return;
  }
  const GifImageDesc& desc = gif->Image;
  const ColorMapObject* map = desc.ColorMap != nullptr ? desc.ColorMap : gif->SColorMap;
  if (map == nullptr || map->Colors == nullptr) {
    fail(result, ItemStatus::kCorrupt, "GIF: no colour map");
    return;
  }
  int canvas_width = gif->SWidth;
  int canvas_height = gif->SHeight;
  if (canvas_width <= 0 || canvas_height <= 0) {
    canvas_width = desc.Left + desc.Width;
    canvas_height = desc.Top + desc.Height;
  }
  if (refuse_size(result, "GIF", canvas_width, canvas_height, options) ||
      refuse_size(result, "GIF", desc.Width, desc.Height, options)) {
    return;
  }
  bool gray = true;
  for (int i = 0; i < map->ColorCount; ++i) {
    const GifColorType& c = map->Colors[i];
    gray = gray && c.Red == c.Green && c.Red == c.Blue;
  }
  result.image = Image(canvas_width, canvas_height, gray ? 1 : 3);  // black background
  result.width = canvas_width;
  result.height = canvas_height;
  result.alpha = gif_frame_alpha(desc, canvas_width, canvas_height, transparent >= 0);
  std::vector<GifPixelType> line(static_cast<size_t>(desc.Width));
  // Interlaced GIFs store rows in four passes: every 8th from 0, every 8th from 4, every 4th
  // from 2, every 2nd from 1.
  static constexpr int kPassStart[4] = {0, 4, 2, 1};
  static constexpr int kPassStep[4] = {8, 8, 4, 2};
  const int passes = desc.Interlace ? 4 : 1;
  int rows_done = 0;
  for (int pass = 0; pass < passes; ++pass) {
    const int start = desc.Interlace ? kPassStart[pass] : 0;
    const int step = desc.Interlace ? kPassStep[pass] : 1;
    for (int fy = start; fy < desc.Height; fy += step) {
      if (DGifGetLine(gif, line.data(), desc.Width) != GIF_OK) {
        const std::string reason = gif_error(gif->Error);
        if (rows_done == 0) {
          fail(result, ItemStatus::kCorrupt, reason);
        } else {
          set_damaged(result, options,
                      reason + ": " + std::to_string(rows_done) + " of " +
                          std::to_string(desc.Height) + " rows decoded");
        }
        return;
      }
      ++rows_done;
      put_gif_line(desc, *map, transparent, gray, fy, line, result);
    }
  }
  result.status = ItemStatus::kOk;
}

}  // namespace

DecodeResult decode_gif(std::span<const uint8_t> bytes, const DecodeOptions& options) {
  DecodeResult result;
  GifReadState state{bytes, 0};
  int error = 0;
  std::unique_ptr<GifFileType, GifCloser> gif(DGifOpen(&state, gif_read_from_memory, &error));
  if (!gif) {
    fail(result, ItemStatus::kCorrupt, gif_error(error));
    return result;
  }
  int transparent = -1;
  for (;;) {
    GifRecordType record = UNDEFINED_RECORD_TYPE;
    if (DGifGetRecordType(gif.get(), &record) != GIF_OK) {
      fail(result, ItemStatus::kCorrupt, gif_error(gif->Error));
      return result;
    }
    if (record == TERMINATE_RECORD_TYPE) {
      fail(result, ItemStatus::kCorrupt, "GIF: no image frame");
      return result;
    }
    if (record == EXTENSION_RECORD_TYPE) {
      if (!read_gif_extension(gif.get(), transparent, result)) return result;
      continue;
    }
    if (record != IMAGE_DESC_RECORD_TYPE) continue;
    decode_gif_frame(gif.get(), transparent, options, result);  // the first frame only
    return result;
  }
}

/// How much longer than the declared image's longer side a coded frame or canvas side may be.
constexpr int kHeifCodedPadding = 128;

DecodeResult decode_heif(std::span<const uint8_t> bytes, const DecodeOptions& options, bool avif) {
  DecodeResult result;
  const char* codec = avif ? "AVIF" : "HEIF";
  ensure_heif_initialised();
  auto heif_fail = [&](ItemStatus status, const heif_error& err) {
    ItemStatus s = status;
    if (err.code == heif_error_Unsupported_feature || err.code == heif_error_Unsupported_filetype) {
      s = ItemStatus::kUnsupported;
    }
    std::string reason = err.message != nullptr ? err.message : "error";
    while (!reason.empty() && std::isspace(static_cast<unsigned char>(reason.back()))) {
      reason.pop_back();
    }
    fail(result, s, std::string(codec) + ": " + reason);
  };
  std::unique_ptr<heif_context, HeifContextDeleter> ctx(heif_context_alloc());
  if (!ctx) {
    fail(result, ItemStatus::kCorrupt, std::string(codec) + ": out of memory");
    return result;
  }
  heif_error err =
      heif_context_read_from_memory_without_copy(ctx.get(), bytes.data(), bytes.size(), nullptr);
  if (err.code != heif_error_Ok) {
    heif_fail(ItemStatus::kCorrupt, err);
    return result;
  }
  heif_image_handle* raw_handle = nullptr;
  err = heif_context_get_primary_image_handle(ctx.get(), &raw_handle);
  std::unique_ptr<heif_image_handle, HeifHandleDeleter> handle(raw_handle);
  if (err.code != heif_error_Ok) {
    heif_fail(ItemStatus::kCorrupt, err);
    return result;
  }
  // Width/height are after the file's rotation/mirror (libheif applies them while decoding).
  const int width = heif_image_handle_get_width(handle.get());
  const int height = heif_image_handle_get_height(handle.get());
  if (refuse_size(result, codec, width, height, options)) return result;
  // A grid's or an overlay's canvas is sized by its own data, and a coded frame by its stream,
  // not by the size checked above: libheif 1.15 allocates (and clears) up to 32768 x 32768
  // pixels for one unless its context's limit is lower. No side may exceed the declared longer
  // side by more than kHeifCodedPadding (HEVC codes whole 64-pixel blocks and crops them).
  heif_context_set_maximum_image_size_limit(ctx.get(), std::max(width, height) + kHeifCodedPadding);
  // Grid tiles are decoded on this thread: vpipe already runs one decoder per worker.
  heif_context_set_max_decoding_threads(ctx.get(), 0);
  const bool alpha = heif_image_handle_has_alpha_channel(handle.get()) != 0;
  const bool premultiplied = heif_image_handle_is_premultiplied_alpha(handle.get()) != 0;
  // The coded frames may not be larger than the file says (twice its pixels, for a crop or a
  // grid's padding): a tiny file must not make the codec allocate gigabytes.
  const HeifCodedLimitScope coded_limit(
      std::min<uint64_t>(options.max_pixels,
                         2 * static_cast<uint64_t>(width) * static_cast<uint64_t>(height) + 65536));
  heif_image* raw_image = nullptr;
  err = heif_decode_image(handle.get(), &raw_image, heif_colorspace_RGB,
                          alpha ? heif_chroma_interleaved_RGBA : heif_chroma_interleaved_RGB,
                          nullptr);
  std::unique_ptr<heif_image, HeifImageDeleter> image(raw_image);
  if (err.code != heif_error_Ok) {
    heif_fail(ItemStatus::kCorrupt, err);
    return result;
  }
  int stride = 0;
  const uint8_t* plane =
      heif_image_get_plane_readonly(image.get(), heif_channel_interleaved, &stride);
  const int out_width = heif_image_get_width(image.get(), heif_channel_interleaved);
  const int out_height = heif_image_get_height(image.get(), heif_channel_interleaved);
  if (plane == nullptr || out_width <= 0 || out_height <= 0 ||
      static_cast<int64_t>(out_width) * out_height > static_cast<int64_t>(width) * height * 4) {
    fail(result, ItemStatus::kCorrupt, std::string(codec) + ": decoder returned no pixels");
    return result;
  }
  result.image = Image(out_width, out_height, 3);
  if (alpha) result.alpha = Image(out_width, out_height, 1);
  for (int y = 0; y < out_height; ++y) {
    const uint8_t* src = plane + static_cast<size_t>(y) * stride;
    uint8_t* dst = result.image.row(y);
    if (!alpha) {
      std::memcpy(dst, src, static_cast<size_t>(out_width) * 3);
    } else {
      split_alpha(src, dst, result.alpha.row(y), static_cast<size_t>(out_width), 3, premultiplied);
    }
  }
  // libheif 1.15 cannot say whether the coded image is monochrome before decoding, so a gray
  // source is recognised by its pixels (monochrome HEVC/AV1 decodes to R == G == B exactly).
  collapse_gray_rgb(result.image);
  result.width = out_width;
  result.height = out_height;
  result.status = ItemStatus::kOk;
  return result;
}

DecodeResult decode_jxl(std::span<const uint8_t> bytes, const DecodeOptions& options) {
  DecodeResult result;
  std::unique_ptr<JxlDecoder, JxlDecoderDeleter> decoder(JxlDecoderCreate(nullptr));
  if (!decoder ||
      JxlDecoderSubscribeEvents(decoder.get(), JXL_DEC_BASIC_INFO | JXL_DEC_FULL_IMAGE) !=
          JXL_DEC_SUCCESS ||
      JxlDecoderSetInput(decoder.get(), bytes.data(), bytes.size()) != JXL_DEC_SUCCESS ||
      // Straight colour even from a file with premultiplied alpha (libjxl would otherwise hand
      // out the premultiplied values as they are stored).
      JxlDecoderSetUnpremultiplyAlpha(decoder.get(), JXL_TRUE) != JXL_DEC_SUCCESS) {
    fail(result, ItemStatus::kCorrupt, "JPEG XL: cannot start the decoder");
    return result;
  }
  // Input is deliberately not closed: a truncated file then ends in JXL_DEC_NEED_MORE_INPUT,
  // reported cleanly, instead of an error that libjxl 0.7 also prints to stderr.
  JxlBasicInfo info{};
  JxlPixelFormat format{3, JXL_TYPE_UINT8, JXL_NATIVE_ENDIAN, 0};
  int color_channels = 3;
  bool alpha = false;
  std::vector<uint8_t> with_alpha;
  for (;;) {
    const JxlDecoderStatus status = JxlDecoderProcessInput(decoder.get());
    switch (status) {
      case JXL_DEC_ERROR:
        fail(result, ItemStatus::kCorrupt, "JPEG XL: corrupt or truncated data");
        return result;
      case JXL_DEC_NEED_MORE_INPUT:
        fail(result, ItemStatus::kCorrupt, "JPEG XL: unexpected end of data (truncated file)");
        return result;
      case JXL_DEC_BASIC_INFO: {
        if (JxlDecoderGetBasicInfo(decoder.get(), &info) != JXL_DEC_SUCCESS) {
          fail(result, ItemStatus::kCorrupt, "JPEG XL: invalid header");
          return result;
        }
        // The decoder applies the orientation; xsize/ysize are before it.
        const bool swap = info.orientation >= JXL_ORIENT_TRANSPOSE;
        const int64_t width = swap ? info.ysize : info.xsize;
        const int64_t height = swap ? info.xsize : info.ysize;
        if (refuse_size(result, "JPEG XL", width, height, options)) return result;
        result.width = static_cast<int>(width);
        result.height = static_cast<int>(height);
        color_channels = info.num_color_channels == 1 ? 1 : 3;
        alpha = info.alpha_bits > 0;
        format.num_channels = static_cast<uint32_t>(color_channels + (alpha ? 1 : 0));
        break;
      }
      case JXL_DEC_NEED_IMAGE_OUT_BUFFER: {
        size_t size = 0;
        if (result.width <= 0 ||
            JxlDecoderImageOutBufferSize(decoder.get(), &format, &size) != JXL_DEC_SUCCESS) {
          fail(result, ItemStatus::kCorrupt, "JPEG XL: cannot size the output");
          return result;
        }
        result.image = Image(result.width, result.height, color_channels);
        uint8_t* target = result.image.pixels.data();
        size_t capacity = result.image.pixels.size();
        if (alpha) {
          with_alpha.resize(static_cast<size_t>(result.width) * result.height *
                            format.num_channels);
          target = with_alpha.data();
          capacity = with_alpha.size();
        }
        if (size != capacity ||
            JxlDecoderSetImageOutBuffer(decoder.get(), &format, target, size) != JXL_DEC_SUCCESS) {
          fail(result, ItemStatus::kCorrupt, "JPEG XL: unexpected output size");
          return result;
        }
        break;
      }
      case JXL_DEC_FULL_IMAGE:
        if (alpha) {
          result.alpha = Image(result.width, result.height, 1);
          split_alpha(with_alpha.data(), result.image.pixels.data(), result.alpha.pixels.data(),
                      static_cast<size_t>(result.width) * result.height, color_channels, false);
        }
        result.status = ItemStatus::kOk;
        return result;  // the first frame is all we need
      case JXL_DEC_SUCCESS:
        fail(result, ItemStatus::kCorrupt, "JPEG XL: no image frame");
        return result;
      default:
        break;
    }
  }
}

}  // namespace vpipe::decode_detail
