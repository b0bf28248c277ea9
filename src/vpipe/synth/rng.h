#pragma once

#include <cstdint>

namespace vpipe::synth {

/// One step of SplitMix64 (Steele, Lea, Flood 2014): advances `state` and returns a well-mixed
/// 64-bit value. The corpus depends only on this function and on Rng below, never on std::
/// distributions, whose output differs between standard library versions.
[[nodiscard]] constexpr uint64_t splitmix64(uint64_t& state) {
  uint64_t z = (state += 0x9E3779B97F4A7C15ULL);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}

/// The seed of stream `stream` (a file index, a sub-purpose) under `seed`: independent streams
/// for every file, so a file's bytes depend on (seed, index) and not on which thread made it.
[[nodiscard]] constexpr uint64_t stream_seed(uint64_t seed, uint64_t stream) {
  uint64_t state = seed ^ (stream * 0xD1B54A32D192ED03ULL);
  (void)splitmix64(state);
  return splitmix64(state);
}

/// A small deterministic PRNG (SplitMix64). Not thread-safe: one per file, never shared.
class Rng {
 public:
  explicit Rng(uint64_t seed) : state_(seed) {}

  [[nodiscard]] uint64_t next() { return splitmix64(state_); }

  /// Uniform in [0, 1), 53 bits.
  [[nodiscard]] double uniform() { return static_cast<double>(next() >> 11) * 0x1.0p-53; }

  /// Uniform in [lo, hi).
  [[nodiscard]] double uniform(double lo, double hi) { return lo + (hi - lo) * uniform(); }

  /// Uniform integer in [lo, hi] (inclusive); `hi >= lo`. Multiply-shift: the bias is below
  /// 2^-32 for the small ranges used here.
  [[nodiscard]] int range(int lo, int hi) {
    const uint64_t span = static_cast<uint64_t>(static_cast<int64_t>(hi) - lo + 1);
    return lo + static_cast<int>(((next() >> 32) * span) >> 32);
  }

  /// True with probability `p`.
  [[nodiscard]] bool chance(double p) { return uniform() < p; }

 private:
  uint64_t state_;
};

}  // namespace vpipe::synth
