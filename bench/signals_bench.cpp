// Cost per image of what the scan pass computes after decoding: the perceptual hashes and the
// quality signals on a 256-px working image, and the exact hash of the file's bytes.
//
// Link with benchmark::benchmark (this file has its own main), vpipe_dedup, vpipe_quality.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

#include "vpipe/core/image_ops.h"
#include "vpipe/dedup/hashes.h"
#include "vpipe/quality/edge_width.h"
#include "vpipe/quality/signals.h"

namespace {

/// A 256 x 192 RGB working image (the shape of a 4:3 photo after resize_to_fit): smooth
/// gradients with noise, so no branch or histogram bin is favoured.
vpipe::Image working_image(int channels) {
  std::mt19937 rng(42);
  std::uniform_int_distribution<int> noise(-12, 12);
  vpipe::Image img(vpipe::kWorkingSize, vpipe::kWorkingSize * 3 / 4, channels);
  for (int y = 0; y < img.height; ++y) {
    uint8_t* row = img.row(y);
    for (int x = 0; x < img.width; ++x) {
      for (int c = 0; c < channels; ++c) {
        const double base = 128 + 60 * std::sin(0.05 * x + 0.9 * c) * std::cos(0.04 * y);
        row[x * channels + c] = static_cast<uint8_t>(std::clamp(base + noise(rng), 0.0, 255.0));
      }
    }
  }
  return img;
}

void BM_PhashGray(benchmark::State& state) {
  const vpipe::Image gray = working_image(1);
  for (auto _ : state) benchmark::DoNotOptimize(vpipe::phash_cpu(gray));
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_PhashGray);

void BM_DhashGray(benchmark::State& state) {
  const vpipe::Image gray = working_image(1);
  for (auto _ : state) benchmark::DoNotOptimize(vpipe::dhash_cpu(gray));
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_DhashGray);

void BM_ToGray(benchmark::State& state) {
  const vpipe::Image rgb = working_image(3);
  for (auto _ : state) benchmark::DoNotOptimize(vpipe::to_gray(rgb));
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_ToGray);

/// Argument: channels of the working image (3 = the scan pass's RGB case, 1 = gray files).
void BM_QualitySignals(benchmark::State& state) {
  const vpipe::Image working = working_image(static_cast<int>(state.range(0)));
  for (auto _ : state) benchmark::DoNotOptimize(vpipe::quality_signals_cpu(working));
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_QualitySignals)->Arg(3)->Arg(1);

/// edge_width alone (part of BM_QualitySignals): four directions of monotonic runs over the
/// 256x192 gray working image.
void BM_EdgeWidth(benchmark::State& state) {
  const vpipe::Image gray = working_image(1);
  for (auto _ : state) {
    benchmark::DoNotOptimize(
        vpipe::edge_width_cpu(gray.pixels.data(), nullptr, gray.width, gray.height));
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_EdgeWidth);

/// Argument: channels. The same image with an alpha plane (transparent images): the left third
/// transparent, a soft band, the rest opaque; every signal over the opaque pixels.
void BM_QualitySignalsMasked(benchmark::State& state) {
  const vpipe::Image working = working_image(static_cast<int>(state.range(0)));
  vpipe::Image alpha(working.width, working.height, 1);
  for (int y = 0; y < alpha.height; ++y) {
    for (int x = 0; x < alpha.width; ++x) {
      alpha.row(y)[x] = static_cast<uint8_t>(std::clamp((x - alpha.width / 3) * 8, 0, 255));
    }
  }
  for (auto _ : state) benchmark::DoNotOptimize(vpipe::quality_signals_cpu(working, &alpha));
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_QualitySignalsMasked)->Arg(3)->Arg(1);

void BM_OrientationHashes(benchmark::State& state) {
  const vpipe::Image gray = working_image(1);
  for (auto _ : state) benchmark::DoNotOptimize(vpipe::orientation_hashes_cpu(gray));
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_OrientationHashes);

void BM_CropHashes(benchmark::State& state) {
  const vpipe::Image gray = working_image(1);
  for (auto _ : state) benchmark::DoNotOptimize(vpipe::crop_hashes_cpu(gray));
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_CropHashes);

/// Everything the scan pass computes from one RGB working image, in its order. Argument: 1 with
/// the orientation and crop hashes (the default scan), 0 with the plain pHash and dHash.
void BM_ScanSignals(benchmark::State& state) {
  const vpipe::Image working = working_image(3);
  const bool extra = state.range(0) != 0;
  for (auto _ : state) {
    const vpipe::Image gray = vpipe::to_gray(working);
    if (extra) {
      benchmark::DoNotOptimize(vpipe::orientation_hashes_cpu(gray));
      benchmark::DoNotOptimize(vpipe::crop_hashes_cpu(gray));
    } else {
      benchmark::DoNotOptimize(vpipe::phash_cpu(gray));
      benchmark::DoNotOptimize(vpipe::dhash_cpu(gray));
    }
    benchmark::DoNotOptimize(vpipe::quality_signals_cpu(working));
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_ScanSignals)->Arg(0)->Arg(1);

/// Argument: bytes hashed (1 MiB, a typical photo file).
void BM_ContentHash(benchmark::State& state) {
  std::vector<uint8_t> bytes(static_cast<size_t>(state.range(0)));
  std::mt19937 rng(7);
  for (auto& b : bytes) b = static_cast<uint8_t>(rng());
  for (auto _ : state) benchmark::DoNotOptimize(vpipe::content_hash(bytes));
  state.SetBytesProcessed(state.iterations() * state.range(0));
}
BENCHMARK(BM_ContentHash)->Arg(1 << 20);

}  // namespace

BENCHMARK_MAIN();
