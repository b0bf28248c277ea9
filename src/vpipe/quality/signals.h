#pragma once

#include "vpipe/core/image.h"
#include "vpipe/core/record.h"

namespace vpipe {

/// Computes every quality signal of docs/SIGNALS.md from a working image: gray or RGB, longer
/// side at most kWorkingSize (core/image_ops.h; callers shrink with resize_to_fit first, so
/// sharpness is measured at one fixed scale whatever the file's resolution). Thread-safe (pure
/// function). CPU reference implementation.
[[nodiscard]] QualitySignals quality_signals_cpu(const Image& working);

}  // namespace vpipe
