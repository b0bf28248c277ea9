#pragma once

#include "vpipe/core/image.h"
#include "vpipe/core/record.h"

namespace vpipe {

/// Computes every quality signal of docs/SIGNALS.md from a working image: gray or RGB, longer
/// side at most kWorkingSize (core/image_ops.h; callers shrink with resize_to_fit first, so
/// sharpness is measured at one fixed scale whatever the file's resolution). Thread-safe (pure
/// function). CPU reference implementation.
///
/// `alpha` (optional): the working image's alpha plane, 1 channel, 8-bit, same width and height,
/// stride width, 255 = opaque. With one, a pixel counts when its alpha is >= 128: brightness,
/// contrast, dark/bright fractions and entropy come from the histogram of those pixels,
/// colourfulness from them, sharpness from those whose four neighbours count too (the outline of
/// a subject against transparency is not an edge of the picture), and opaque_fraction is their
/// share of all pixels; with none at all, every signal is 0. `working` should then hold straight
/// (un-premultiplied) colour. Without a plane (nullptr or empty) opaque_fraction is 1 and the
/// result is what it was before masks existed, bit for bit. An empty `working` gives all zeros.
[[nodiscard]] QualitySignals quality_signals_cpu(const Image& working,
                                                 const Image* alpha = nullptr);

/// quality_signals_cpu(working) of an opaque image whose gray version the caller has already:
/// `gray` must be to_gray(working) (core/image_ops.h; `working` itself when it is gray), which
/// is then not computed again. Same result, bit for bit. Thread-safe.
[[nodiscard]] QualitySignals quality_signals_cpu(const Image& working, const Image& gray);

}  // namespace vpipe
