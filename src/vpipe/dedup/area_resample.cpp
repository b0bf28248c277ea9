#include "vpipe/dedup/area_resample.h"

#include <algorithm>
#include <memory>
#include <cassert>
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "vpipe/dedup/area_span.h"

namespace vpipe {

using area::SourceSpan;
using area::span_of;

namespace {

/// The source columns under each of `out_width` output columns (span_of), the same for every
/// output row of one resample, so computed once per resample.
std::vector<SourceSpan> column_spans(int width, int out_width) {
  std::vector<SourceSpan> spans(static_cast<size_t>(out_width));
  for (int j = 0; j < out_width; ++j) spans[static_cast<size_t>(j)] = span_of(j, width, out_width);
  return spans;
}

/// area::level_of(weighted_sum, area), by a double division: both operands are integers below
/// 2^53, so they convert exactly, and an exact integer quotient comes out exact. A quotient that is
/// not an integer lies at least 1 / area below the next one, far more than the division's rounding
/// (half an ulp, under 2^-45 for quotients up to 255), so truncating gives the integer quotient.
/// Cheaper than a 64-bit integer division, once per output pixel.
uint8_t level_by_double(uint64_t weighted_sum, uint64_t area) {
  return static_cast<uint8_t>(static_cast<double>(weighted_sum + area / 2) /
                              static_cast<double>(area));
}

/// One output row from the weighted column sums of the source rows under it: each output pixel
/// weighs the columns its span covers, then divides by `area` (both resamplers' last step).
void columns_to_row(const std::vector<uint32_t>& column_sums, const std::vector<SourceSpan>& spans,
                    int out_width, uint64_t area, std::span<uint8_t> row) {
  assert(area < (uint64_t{1} << 44) && "level_by_double needs the quotient's gap above rounding");
  for (int j = 0; j < out_width; ++j) {
    const SourceSpan& cols = spans[static_cast<size_t>(j)];
    uint64_t sum = cols.first_weight * column_sums[cols.first];
    if (cols.last > cols.first) {
      sum += cols.last_weight * column_sums[cols.last];
      uint64_t interior = 0;
      for (int x = cols.first + 1; x < cols.last; ++x) interior += column_sums[x];
      sum += static_cast<uint64_t>(out_width) * interior;
    }
    row[static_cast<size_t>(j)] = level_by_double(sum, area);
  }
}

}  // namespace

void area_resample_gray(const Image& gray, int out_width, int out_height, std::span<uint8_t> out) {
  assert(gray.channels == 1 && !gray.empty() && "area_resample_gray takes a non-empty gray image");
  assert(out_width >= 1 && out_height >= 1 && "output size must be positive");
  assert(out.size() == static_cast<size_t>(out_width) * out_height && "output buffer size");

  const int width = gray.width;
  // Weighted column sums of the source rows under one output row: at most 255 * height each.
  std::vector<uint32_t> column_sums(static_cast<size_t>(width));
  const auto add_row = [&](int y, uint32_t weight) {
    const uint8_t* row = gray.row(y);
    for (int x = 0; x < width; ++x) column_sums[x] += weight * row[x];
  };
  // Every output pixel gathers weight width * height (units above), at most 255 times that.
  const uint64_t area = static_cast<uint64_t>(width) * gray.height;
  const std::vector<SourceSpan> spans = column_spans(width, out_width);
  for (int i = 0; i < out_height; ++i) {
    const SourceSpan rows = span_of(i, gray.height, out_height);
    std::fill(column_sums.begin(), column_sums.end(), 0U);
    add_row(rows.first, static_cast<uint32_t>(rows.first_weight));
    if (rows.last > rows.first) {
      for (int y = rows.first + 1; y < rows.last; ++y)
        add_row(y, static_cast<uint32_t>(out_height));
      add_row(rows.last, static_cast<uint32_t>(rows.last_weight));
    }
    columns_to_row(column_sums, spans, out_width, area,
                   out.subspan(static_cast<size_t>(i) * out_width, static_cast<size_t>(out_width)));
  }
}

AreaResampler::AreaResampler(const Image& gray) : gray_(&gray) {
  assert(gray.channels == 1 && !gray.empty() && "AreaResampler takes a non-empty gray image");
  const auto width = static_cast<size_t>(gray.width);
  column_prefix_ =
      std::make_unique_for_overwrite<uint32_t[]>((static_cast<size_t>(gray.height) + 1) * width);
  std::fill(column_prefix_.get(), column_prefix_.get() + width, 0U);
  for (int y = 0; y < gray.height; ++y) {
    const uint8_t* row = gray.row(y);
    const uint32_t* above = column_prefix_.get() + static_cast<size_t>(y) * width;
    uint32_t* below = column_prefix_.get() + static_cast<size_t>(y + 1) * width;
    for (size_t x = 0; x < width; ++x) below[x] = above[x] + row[x];
  }
}

void AreaResampler::resample(int x0, int y0, int width, int height, int out_width, int out_height,
                             std::span<uint8_t> out) const {
  const Image& gray = *gray_;
  assert(x0 >= 0 && y0 >= 0 && width >= 1 && height >= 1 && x0 + width <= gray.width &&
         y0 + height <= gray.height && "the window lies inside the image");
  assert(out_width >= 1 && out_height >= 1 && "output size must be positive");
  assert(out.size() == static_cast<size_t>(out_width) * out_height && "output buffer size");

  const auto stride = static_cast<size_t>(gray.width);
  // The same weighted column sums as area_resample_gray; the rows strictly inside a span come
  // from the prefix sums (each weighs out_height), so only the two edge rows are read.
  std::vector<uint32_t> column_sums(static_cast<size_t>(width));
  const uint64_t area = static_cast<uint64_t>(width) * height;
  const std::vector<SourceSpan> spans = column_spans(width, out_width);
  const auto weight_inside = static_cast<uint32_t>(out_height);
  for (int i = 0; i < out_height; ++i) {
    const SourceSpan rows = span_of(i, height, out_height);
    const uint8_t* first = gray.row(y0 + rows.first) + x0;
    const auto first_weight = static_cast<uint32_t>(rows.first_weight);
    if (rows.last == rows.first) {
      for (int x = 0; x < width; ++x) column_sums[x] = first_weight * first[x];
    } else {
      const uint8_t* last = gray.row(y0 + rows.last) + x0;
      const auto last_weight = static_cast<uint32_t>(rows.last_weight);
      const uint32_t* top = column_prefix_.get() + (y0 + rows.first + 1) * stride + x0;
      const uint32_t* bottom = column_prefix_.get() + (y0 + rows.last) * stride + x0;
      for (int x = 0; x < width; ++x) {
        column_sums[x] = first_weight * first[x] + weight_inside * (bottom[x] - top[x]) +
                         last_weight * last[x];
      }
    }
    columns_to_row(column_sums, spans, out_width, area,
                   out.subspan(static_cast<size_t>(i) * out_width, static_cast<size_t>(out_width)));
  }
}

}  // namespace vpipe
