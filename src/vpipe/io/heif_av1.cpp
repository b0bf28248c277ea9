// vpipe's AV1 decoder plugin for libheif: dav1d with a frame-size limit and one thread.
//
// libheif 1.15's own dav1d plugin lets a frame of up to 32768 x 32768 pixels through whatever
// the file's `ispe` box says, so a tiny AVIF whose sequence header claims a huge frame made dav1d
// allocate gigabytes (found by the fuzz_decode_heif target). This plugin, registered above
// libheif's, refuses any coded frame larger than the limit decode_heif sets for the image it is
// decoding (heif_coded_limit_scope), and runs dav1d on the calling thread: vpipe decodes on
// many workers at once, and libheif's plugin started a thread per core for every image.

#include "vpipe/io/heif_init.h"

#include <dav1d/dav1d.h>
#include <libheif/heif.h>
#include <libheif/heif_plugin.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstdarg>
#include <cstring>
#include <memory>
#include <vector>

namespace vpipe {

namespace {

// 0: no image is being decoded through decode_heif on this thread (then the pixel cap of
// scan.max_megapixels' default applies, see heif_coded_limit_scope).
thread_local uint64_t t_coded_pixel_limit = 0;
constexpr uint64_t kFallbackPixelLimit = 200'000'000;

constexpr int kPriority = 200;  // above libheif's own dav1d (150) and libaom (100) plugins

struct Av1Decoder {
  std::vector<uint8_t> data;
};

heif_error ok() { return {heif_error_Ok, heif_suberror_Unspecified, "Success"}; }

heif_error plugin_error(const char* message) {
  return {heif_error_Decoder_plugin_error, heif_suberror_Unspecified, message};
}

const char* plugin_name() { return "vpipe dav1d (frame-size limited)"; }

int supports(heif_compression_format format) {
  return format == heif_compression_AV1 ? kPriority : 0;
}

heif_error new_decoder(void** decoder) {
  *decoder = new Av1Decoder;
  return ok();
}

void free_decoder(void* decoder) { delete static_cast<Av1Decoder*>(decoder); }

heif_error push_data(void* decoder, const void* data, size_t size) {
  auto* d = static_cast<Av1Decoder*>(decoder);
  const auto* bytes = static_cast<const uint8_t*>(data);
  d->data.insert(d->data.end(), bytes, bytes + size);
  return ok();
}

// dav1d reports every malformed OBU on stderr; the decode's status and reason say it instead.
void quiet_log(void* /*cookie*/, const char* /*format*/, va_list /*args*/) {}

struct Dav1dClose {
  void operator()(Dav1dContext* c) const { dav1d_close(&c); }
};

/// dav1d's "free" callback for bytes it wraps: they belong to the Av1Decoder.
void keep_bytes(const uint8_t* /*data*/, void* /*cookie*/) {}

/// Decodes the first shown frame of `bytes` into `pic`; false when there is none.
bool decode_first_frame(Dav1dContext* ctx, const std::vector<uint8_t>& bytes, Dav1dPicture* pic) {
  if (bytes.empty()) return false;  // an AV1 item of no bytes
  // dav1d reads the pushed bytes in place (no copy): they outlive the context, closed first.
  Dav1dData data{};
  if (dav1d_data_wrap(&data, bytes.data(), bytes.size(), keep_bytes, nullptr) != 0) return false;
  bool got = false;
  while (!got) {
    if (data.sz > 0) {
      const int sent = dav1d_send_data(ctx, &data);
      if (sent < 0 && sent != DAV1D_ERR(EAGAIN)) break;
    }
    const int r = dav1d_get_picture(ctx, pic);
    if (r == 0) {
      got = true;
    } else if (r != DAV1D_ERR(EAGAIN) || data.sz == 0) {
      break;
    }
  }
  if (data.sz > 0) dav1d_data_unref(&data);
  return got;
}

/// Copies `rows` rows of `row_bytes` from `src` (stride `src_stride`) into a new plane.
bool copy_plane(heif_image* image, heif_channel channel, int width, int height, int bpc,
                const void* src, ptrdiff_t src_stride) {
  if (heif_image_add_plane(image, channel, width, height, bpc).code != heif_error_Ok) return false;
  int dst_stride = 0;
  uint8_t* dst = heif_image_get_plane(image, channel, &dst_stride);
  if (dst == nullptr) return false;
  const size_t row_bytes = static_cast<size_t>(width) * (bpc > 8 ? 2 : 1);
  const auto* s = static_cast<const uint8_t*>(src);
  for (int y = 0; y < height; ++y) {
    std::memcpy(dst + static_cast<size_t>(y) * dst_stride, s + y * src_stride, row_bytes);
  }
  return true;
}

heif_error decode_image(void* decoder, heif_image** out) {
  auto* d = static_cast<Av1Decoder*>(decoder);
  Dav1dSettings settings;
  dav1d_default_settings(&settings);
  settings.n_threads = 1;
  settings.max_frame_delay = 1;
  settings.all_layers = 0;
  const uint64_t limit = t_coded_pixel_limit != 0 ? t_coded_pixel_limit : kFallbackPixelLimit;
  settings.frame_size_limit = static_cast<unsigned>(std::min<uint64_t>(limit, UINT_MAX));
  settings.logger.cookie = nullptr;
  settings.logger.callback = quiet_log;
  Dav1dContext* raw = nullptr;
  if (dav1d_open(&raw, &settings) != 0) return plugin_error("cannot start the AV1 decoder");
  std::unique_ptr<Dav1dContext, Dav1dClose> ctx(raw);

  Dav1dPicture pic{};
  if (!decode_first_frame(ctx.get(), d->data, &pic)) {
    return plugin_error(
        "no decodable AV1 frame (corrupt data, or a coded frame larger than the image's size)");
  }
  struct Unref {
    Dav1dPicture* p;
    ~Unref() { dav1d_picture_unref(p); }
  } unref{&pic};

  const int w = pic.p.w;
  const int h = pic.p.h;
  const int bpc = pic.p.bpc;
  heif_colorspace colorspace = heif_colorspace_YCbCr;
  heif_chroma chroma = heif_chroma_420;
  int cw = (w + 1) / 2;
  int ch = (h + 1) / 2;
  switch (pic.p.layout) {
    case DAV1D_PIXEL_LAYOUT_I400:
      colorspace = heif_colorspace_monochrome;
      chroma = heif_chroma_monochrome;
      break;
    case DAV1D_PIXEL_LAYOUT_I420:
      break;
    case DAV1D_PIXEL_LAYOUT_I422:
      chroma = heif_chroma_422;
      ch = h;
      break;
    case DAV1D_PIXEL_LAYOUT_I444:
      chroma = heif_chroma_444;
      cw = w;
      ch = h;
      break;
  }
  heif_image* image = nullptr;
  if (heif_image_create(w, h, colorspace, chroma, &image).code != heif_error_Ok) {
    return plugin_error("cannot allocate the decoded AV1 image");
  }
  bool planes_ok = copy_plane(image, heif_channel_Y, w, h, bpc, pic.data[0], pic.stride[0]);
  if (planes_ok && colorspace == heif_colorspace_YCbCr) {
    planes_ok = copy_plane(image, heif_channel_Cb, cw, ch, bpc, pic.data[1], pic.stride[1]) &&
                copy_plane(image, heif_channel_Cr, cw, ch, bpc, pic.data[2], pic.stride[1]);
  }
  if (!planes_ok) {
    heif_image_release(image);
    return plugin_error("cannot allocate the decoded AV1 image");
  }
  // The stream's own colour description, used where the file has no `colr` box.
  if (heif_color_profile_nclx* nclx = heif_nclx_color_profile_alloc(); nclx != nullptr) {
    // An out-of-range code leaves the field at libheif's default ("unspecified").
    (void)heif_nclx_color_profile_set_color_primaries(nclx, static_cast<uint16_t>(pic.seq_hdr->pri));
    (void)heif_nclx_color_profile_set_transfer_characteristics(
        nclx, static_cast<uint16_t>(pic.seq_hdr->trc));
    (void)heif_nclx_color_profile_set_matrix_coefficients(
        nclx, static_cast<uint16_t>(pic.seq_hdr->mtrx));
    nclx->full_range_flag = pic.seq_hdr->color_range != 0 ? 1 : 0;
    (void)heif_image_set_nclx_color_profile(image, nclx);
    heif_nclx_color_profile_free(nclx);
  }
  *out = image;
  return ok();
}

void set_strict_decoding(void* /*decoder*/, int /*flag*/) {}

const heif_decoder_plugin kPlugin = {
    .plugin_api_version = 3,
    .get_plugin_name = plugin_name,
    .init_plugin = nullptr,
    .deinit_plugin = nullptr,
    .does_support_format = supports,
    .new_decoder = new_decoder,
    .free_decoder = free_decoder,
    .push_data = push_data,
    .decode_image = decode_image,
    .set_strict_decoding = set_strict_decoding,
    .id_name = "vpipe-dav1d",
};

}  // namespace

void register_heif_av1_plugin() { (void)heif_register_decoder_plugin(&kPlugin); }

HeifCodedLimitScope::HeifCodedLimitScope(uint64_t max_pixels)
    : previous_(t_coded_pixel_limit) {
  t_coded_pixel_limit = max_pixels;
}

HeifCodedLimitScope::~HeifCodedLimitScope() { t_coded_pixel_limit = previous_; }

}  // namespace vpipe
