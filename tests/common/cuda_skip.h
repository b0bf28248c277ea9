#pragma once

// CUDA tests run their kernels against the CPU reference when a device is usable and skip, with
// the reason, when not (no driver, no GPU, or a build without nvcc): the CPU suite stays green
// on machines without a GPU.

#include <gtest/gtest.h>

#include "vpipe/device/cuda/gpu.h"

#define VPIPE_SKIP_WITHOUT_CUDA()                                                  \
  do {                                                                             \
    if (const std::string why = ::vpipe::cuda::unavailable_reason(); !why.empty()) \
      GTEST_SKIP() << "no CUDA device: " << why;                                   \
  } while (false)
