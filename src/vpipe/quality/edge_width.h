#pragma once

#include <cstdint>
#include <span>

namespace vpipe {

/// Blur as the width of an image's sharpest edges (docs/SIGNALS.md, `edge_width`).
///
/// Along every row, column and both diagonals of `gray` (width * height bytes, 8-bit, row-major,
/// tight), the pixel differences are cut into monotonic runs (a run ends where the difference
/// changes sign or is 0). A run whose total rise |H| is at least strong_edge_rise() gray levels
/// is a strong edge; its effective width is |H| / (largest single-step difference), in pixels (times
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
/// edge_width_cpu with the image's strong_edge_rise given (a caller that has the gray histogram
/// already need not count it again).
[[nodiscard]] double edge_width_cpu(const uint8_t* gray, const uint8_t* alpha, int width,
                                    int height, int strong_rise);

/// The alpha from which a pixel counts as opaque (as for every other signal).
inline constexpr uint8_t kEdgeOpaqueAlpha = 128;

/// The smallest total rise of a strong edge is a share of the image's tonal range: the 1st to the
/// 99th percentile of gray (over the opaque pixels), times kStrongEdgeRiseShare, rounded, and
/// held within [kMinStrongEdgeRise, kMaxStrongEdgeRise]. By measurement on the real-photo
/// calibration split and the synthetic corpus (docs/ACCURACY.md, "Taken: a strong edge relative
/// to the tonal range"): on a photo's full range (about 160..220 levels) it is 32..40, so the
/// texture that a short motion blur leaves sharp along its length is not read as the sharpest
/// edges; on a soft, dim picture it stays low enough for its real edges to count. It was 24
/// for every image before manifest schema 10.
inline constexpr double kStrongEdgeRiseShare = 0.2;
inline constexpr int kMinStrongEdgeRise = 16;
inline constexpr int kMaxStrongEdgeRise = 40;

/// The smallest rise of a strong edge of this image, as above (`alpha` as for edge_width_cpu).
/// kMinStrongEdgeRise when no pixel is opaque. Pure, thread-safe, O(width * height).
[[nodiscard]] int strong_edge_rise(const uint8_t* gray, const uint8_t* alpha, int width,
                                   int height);
/// The same from a histogram of the gray levels of the n (opaque) pixels, for a caller that has
/// one already (quality_signals_cpu).
[[nodiscard]] int strong_edge_rise(std::span<const int64_t, 256> counts, int64_t n);

/// Fewest strong edges a direction needs to be judged.
inline constexpr int kMinStrongEdges = 20;

}  // namespace vpipe
