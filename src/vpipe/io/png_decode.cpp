// The PNG decoder (decode_detail::decode_png): libpng's sequential reader, whole or, for a big
// image asked for at a reduced size, row by row into a box average.

#include <png.h>

#include <csetjmp>
#include <cstdio>
#include <cstring>
#include <optional>
#include <string>
#include <vector>

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
  std::optional<RowBoxReducer> reducer;  // row by row: the box average being read
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

/// Reads the image row by row into state->reducer (the rows past the last whole block are read
/// too, so that libpng sees the whole image). libpng errors longjmp through here: only trivially
/// destructible locals.
void png_read_reduced(png_structp png, PngReadState* state, png_uint_32 width, png_uint_32 height,
                      size_t row_bytes, int channels, int color_channels, int factor) {
  state->reducer.emplace(static_cast<int>(width), static_cast<int>(height), channels,
                         color_channels, factor, false);
  state->result->lease.shrink_to(uint64_t{width} + state->reducer->out_pixels());
  state->scratch.resize(row_bytes);
  for (png_uint_32 y = 0; y < height; ++y) {
    png_read_row(png, state->scratch.data(), nullptr);
    state->reducer->add_row(state->scratch.data());
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
  // Interlaced images are read whole: their rows come in seven passes.
  const int factor = png_get_interlace_type(png, info) == PNG_INTERLACE_NONE
                         ? row_by_row_factor(width, height, *state->options)
                         : 1;
  if (factor >= 2) {
    png_read_reduced(png, state, width, height, row_bytes, channels, color_channels, factor);
    png_read_end(png, nullptr);
    png_destroy_read_struct(&png, &info, nullptr);
    state->reducer->finish(result);
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
