#pragma once

#include <cstdint>

namespace vpipe {

/// Blur as the width of an image's sharpest edges (docs/SIGNALS.md, `edge_width`).
///
/// Along every row, column and both diagonals of `gray` (width * height bytes, 8-bit, row-major,
/// tight), the pixel differences are cut into monotonic runs (a run ends where the difference
/// changes sign or is 0). A run whose total rise |H| is at least kStrongEdgeRise gray levels is a
/// strong edge; its effective width is |H| / (largest single-step difference), in pixels (times
/// sqrt 2 along a diagonal). A Gaussian blur of sigma s widens it to about 2.5 s. Per direction,
/// the 20th percentile of the widths (the sharpest fifth of the edges: a photo with an
/// in-focus subject before a soft background still has sharp edges); the result is the widest
/// direction (motion blur widens the edges across its direction only), over directions that
/// have at least kMinStrongEdges strong edges. 0 when no direction has: a flat or nearly flat
/// image has nothing to judge sharpness by.
///
/// `alpha` (nullable, width * height bytes, 255 = opaque): a pixel under kEdgeOpaqueAlpha is
/// transparent and ends a run, so a transparent image's outline is not an edge. Pure,
/// thread-safe; O(width * height) time; scratch allocated per call: width * height bytes (twice
/// that with alpha) and about 12 bytes per strong edge of one direction.
///
/// The result is defined by walking one line after another (tests/unit/quality keeps that walk
/// as the reference); the implementation walks every line of a direction at once, 16 lanes to an
/// SSE2 instruction, and returns the same double, bit for bit.
[[nodiscard]] double edge_width_cpu(const uint8_t* gray, const uint8_t* alpha, int width,
                                    int height);

/// The alpha from which a pixel counts as opaque (as for every other signal).
inline constexpr uint8_t kEdgeOpaqueAlpha = 128;

/// Smallest total rise, in gray levels, of a run counted as a strong edge.
inline constexpr int kStrongEdgeRise = 24;
/// Fewest strong edges a direction needs to be judged.
inline constexpr int kMinStrongEdges = 20;

}  // namespace vpipe
