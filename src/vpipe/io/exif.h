#pragma once

// Private to vpipe_codec: EXIF orientation of JPEG files and its application to pixels.

#include <cstdint>
#include <span>

#include "vpipe/core/image.h"

namespace vpipe {

/// The EXIF Orientation tag (1..8) of a JPEG file: the first APP1 "Exif" segment before the
/// first SOS, IFD0 tag 0x0112. Returns 1 when there is none or it is malformed (every offset
/// is bounds-checked against `jpeg`; nothing past it is read). Thread-safe.
[[nodiscard]] int jpeg_exif_orientation(std::span<const uint8_t> jpeg);

/// Applies EXIF orientation `orientation` (2..8; 1 or anything else leaves `img` as is) so the
/// image reads as intended: 2 mirror left-right, 3 rotate 180, 4 mirror top-bottom, 5 transpose,
/// 6 rotate 90 clockwise, 7 transverse, 8 rotate 90 counter-clockwise. 5..8 swap width and
/// height. For 1, 3 or 4 channels; allocates one new pixel buffer.
void apply_orientation(Image& img, int orientation);

}  // namespace vpipe
