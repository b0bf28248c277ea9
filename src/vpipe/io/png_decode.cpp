// The PNG decoder (decode_detail::decode_png): libpng's sequential reader, whole or, for a big
// image asked for at a reduced size, row by row into a box average.

#include <png.h>

#include <algorithm>
#include <csetjmp>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "vpipe/core/image_ops.h"
#include "vpipe/io/decode_internal.h"

namespace vpipe::decode_detail {
namespace {

// libpng reports errors by longjmp, so the function holding setjmp keeps only trivially
// destructible locals; all C++ state lives in PngReadState, in the caller's frame.

struct PngReadState {
  std::span<const uint8_t> bytes;
  size_t pos = 0;
  const DecodeOptions* options = nullptr;
  DecodeResult* result = nullptr;
  std::vector<uint8_t> scratch;  // RGBA / gray+alpha rows before the alpha is split off
  std::vector<png_bytep> rows;   // row pointers for png_read_image
  std::vector<uint64_t> sums;    // row by row: one output row's box sums (colour x alpha, alpha)
  char error[256] = {};
  std::string warning;
};

void png_read_from_memory(png_structp png, png_bytep out, size_t length) {
  auto* state = static_cast<PngReadState*>(png_get_io_ptr(png));
  if (length > state->bytes.size() - state->pos) {
    png_error(png, "unexpected end of data (truncated file)");
  }
  std::memcpy(out, state->bytes.data() + state->pos, length);
  state->pos += length;
}

[[noreturn]] void png_decode_error(png_structp png, png_const_charp message) {
  auto* state = static_cast<PngReadState*>(png_get_error_ptr(png));
  std::snprintf(state->error, sizeof(state->error), "%s", message);
  png_longjmp(png, 1);
}

void png_decode_warning(png_structp png, png_const_charp message) {
  auto* state = static_cast<PngReadState*>(png_get_error_ptr(png));
  if (state->warning.empty()) state->warning = std::string("PNG: ") + message;
}

/// The whole factor a big PNG is box-reduced by while it is read (>= 2), or 1 to read it whole:
/// the largest that keeps the longer side >= min_long_side, as resize_to_fit (core/image_ops.h)
/// picks for its first step, so that the scan's working image comes out the same.
int png_row_factor(png_uint_32 width, png_uint_32 height, int interlace,
                   const DecodeOptions& options) {
  if (options.min_long_side <= 0 || interlace != PNG_INTERLACE_NONE) return 1;
  if (uint64_t{width} * height <= kRowByRowPixels) return 1;
  const uint64_t factor = std::max(width, height) / static_cast<uint64_t>(options.min_long_side);
  return factor >= 2 ? static_cast<int>(std::min<uint64_t>(factor, 1u << 20)) : 1;
}

/// Reads the image row by row, averaging each `factor` x `factor` block (the last rows and
/// columns that do not fill one are read and left out, as resize_to_fit does). With alpha, colour
/// is averaged weighted by opacity (the black composite's average) and un-premultiplied, so the
/// composite of the result is the composite's average. Memory: one row and one row of sums.
/// libpng errors longjmp through here: only trivially destructible locals.
void png_read_reduced(png_structp png, PngReadState* state, png_uint_32 width, png_uint_32 height,
                      size_t row_bytes, int channels, int color_channels, int factor) {
  DecodeResult& result = *state->result;
  const int fx = static_cast<int>(std::min<png_uint_32>(factor, width));
  const int fy = static_cast<int>(std::min<png_uint_32>(factor, height));
  const int out_w = static_cast<int>(width / fx);
  const int out_h = static_cast<int>(height / fy);
  const bool has_alpha = channels != color_channels;
  result.image = Image(out_w, out_h, color_channels);
  if (has_alpha) result.alpha = Image(out_w, out_h, 1);
  result.lease.shrink_to(uint64_t{width} + static_cast<uint64_t>(out_w) * out_h);
  state->scratch.resize(row_bytes);
  state->sums.resize(static_cast<size_t>(out_w) * channels);
  const uint64_t area = static_cast<uint64_t>(fx) * fy;
  for (int oy = 0; oy < out_h; ++oy) {
    std::fill(state->sums.begin(), state->sums.end(), uint64_t{0});
    for (int r = 0; r < fy; ++r) {
      png_read_row(png, state->scratch.data(), nullptr);
      const uint8_t* row = state->scratch.data();
      for (int ox = 0; ox < out_w; ++ox) {
        uint64_t* sum = state->sums.data() + static_cast<size_t>(ox) * channels;
        const uint8_t* p = row + static_cast<size_t>(ox) * fx * channels;
        for (int dx = 0; dx < fx; ++dx, p += channels) {
          if (has_alpha) {
            const uint32_t a = p[color_channels];
            for (int c = 0; c < color_channels; ++c) sum[c] += uint64_t{p[c]} * a;
            sum[color_channels] += a;
          } else {
            for (int c = 0; c < channels; ++c) sum[c] += p[c];
          }
        }
      }
    }
    uint8_t* out = result.image.row(oy);
    for (int ox = 0; ox < out_w; ++ox) {
      const uint64_t* sum = state->sums.data() + static_cast<size_t>(ox) * channels;
      if (!has_alpha) {
        for (int c = 0; c < channels; ++c) {
          out[ox * channels + c] = static_cast<uint8_t>((sum[c] + area / 2) / area);
        }
        continue;
      }
      const auto a = static_cast<uint32_t>((sum[color_channels] + area / 2) / area);
      result.alpha.row(oy)[ox] = static_cast<uint8_t>(a);
      for (int c = 0; c < color_channels; ++c) {
        const auto premultiplied = static_cast<uint32_t>((sum[c] + 255 * area / 2) / (255 * area));
        out[ox * color_channels + c] = unpremultiply_sample(premultiplied, a);
      }
    }
  }
  for (png_uint_32 y = static_cast<png_uint_32>(out_h) * fy; y < height; ++y) {
    png_read_row(png, state->scratch.data(), nullptr);
  }
}

/// Returns false after a libpng error (state->error says why) or a refused size (result set).
bool png_decode_into(PngReadState* state) {
  png_structp png =
      png_create_read_struct(PNG_LIBPNG_VER_STRING, state, png_decode_error, png_decode_warning);
  if (png == nullptr) {
    std::snprintf(state->error, sizeof(state->error), "out of memory");
    return false;
  }
  png_infop info = png_create_info_struct(png);
  if (info == nullptr) {
    png_destroy_read_struct(&png, nullptr, nullptr);
    std::snprintf(state->error, sizeof(state->error), "out of memory");
    return false;
  }
  if (setjmp(png_jmpbuf(png))) {
    png_destroy_read_struct(&png, &info, nullptr);
    return false;
  }
  png_set_read_fn(png, state, png_read_from_memory);
  png_read_info(png, info);
  const png_uint_32 width = png_get_image_width(png, info);
  const png_uint_32 height = png_get_image_height(png, info);
  if (refuse_size(*state->result, "PNG", width, height, *state->options)) {
    state->error[0] = '\0';
    png_destroy_read_struct(&png, &info, nullptr);
    return false;
  }
  const int color_type = png_get_color_type(png, info);
  if (color_type == PNG_COLOR_TYPE_PALETTE) png_set_palette_to_rgb(png);
  if (color_type == PNG_COLOR_TYPE_GRAY && png_get_bit_depth(png, info) < 8) {
    png_set_expand_gray_1_2_4_to_8(png);
  }
  if (png_get_valid(png, info, PNG_INFO_tRNS)) png_set_tRNS_to_alpha(png);
  png_set_strip_16(png);  // keeps the high byte of 16-bit samples
  png_set_interlace_handling(png);
  png_read_update_info(png, info);

  const int channels = png_get_channels(png, info);
  const int color_channels = (channels == 1 || channels == 2) ? 1 : 3;
  DecodeResult& result = *state->result;
  const size_t row_bytes = png_get_rowbytes(png, info);
  const int factor =
      png_row_factor(width, height, png_get_interlace_type(png, info), *state->options);
  if (factor >= 2) {
    png_read_reduced(png, state, width, height, row_bytes, channels, color_channels, factor);
    png_read_end(png, nullptr);
    png_destroy_read_struct(&png, &info, nullptr);
    result.width = static_cast<int>(width);
    result.height = static_cast<int>(height);
    return true;
  }
  result.image = Image(static_cast<int>(width), static_cast<int>(height), color_channels);
  state->rows.resize(height);
  uint8_t* target = result.image.pixels.data();
  if (channels != color_channels) {  // alpha: decode RGBA / GA, then split the alpha off
    state->scratch.resize(row_bytes * height);
    target = state->scratch.data();
  }
  for (png_uint_32 y = 0; y < height; ++y) state->rows[y] = target + row_bytes * y;
  png_read_image(png, state->rows.data());
  png_read_end(png, nullptr);
  png_destroy_read_struct(&png, &info, nullptr);
  if (channels != color_channels) {  // PNG alpha is straight
    result.alpha = Image(static_cast<int>(width), static_cast<int>(height), 1);
    split_alpha(state->scratch.data(), result.image.pixels.data(), result.alpha.pixels.data(),
                static_cast<size_t>(width) * height, color_channels, false);
  }
  result.width = static_cast<int>(width);
  result.height = static_cast<int>(height);
  return true;
}

}  // namespace

DecodeResult decode_png(std::span<const uint8_t> bytes, const DecodeOptions& options) {
  DecodeResult result;
  PngReadState state;
  state.bytes = bytes;
  state.options = &options;
  state.result = &result;
  if (!png_decode_into(&state)) {
    if (state.error[0] != '\0') {
      fail(result, ItemStatus::kCorrupt, std::string("PNG: ") + state.error);
    }
    return result;
  }
  result.status = ItemStatus::kOk;
  result.message = std::move(state.warning);
  return result;
}

}  // namespace vpipe::decode_detail
