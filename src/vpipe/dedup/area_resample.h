#pragma once

#include <cstdint>
#include <span>

#include "vpipe/core/image.h"

namespace vpipe {

/// Resamples the 8-bit gray image `gray` to `out_width` x `out_height` by exact area averaging,
/// the thumbnail step of the perceptual hashes (docs/SIGNALS.md). Output pixel (col j, row i)
/// is the mean of the source rectangle [j * W / out_width, (j + 1) * W / out_width) x
/// [i * H / out_height, (i + 1) * H / out_height), where W x H is the source size; source
/// pixels on the rectangle's edge count with the fraction of them it covers. The mean is
/// rounded to the nearest level, halves up. Integer arithmetic throughout, so the result is
/// exact and the same on every machine (a constant image gives the same constant). When
/// enlarging, each output pixel covers part of one or two source pixels.
///
/// `gray`: 1 channel, not empty. `out`: out_width * out_height bytes, row-major, tight.
/// Thread-safe (pure function); allocates one row of width * 4 bytes.
void area_resample_gray(const Image& gray, int out_width, int out_height, std::span<uint8_t> out);

}  // namespace vpipe
