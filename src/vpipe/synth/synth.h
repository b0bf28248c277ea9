#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <string>

namespace vpipe {

/// Which corpus `synthesize` makes.
enum class SynthMix : uint8_t {
  /// Originals (64 px .. 3 MP) plus everything derived from them: near-duplicates, exact
  /// copies, defects, broken files, non-images and other formats. For tests and the demo.
  kCurate,
  /// JPEG photos of 1..3 MP only, no derivatives: the scan benchmark corpus.
  kPhotos,
  /// Small JPEGs (64..256 px) only: cheap, for corpus-size and memory benchmarks (100k files).
  kSmall,
};

struct SynthOptions {
  std::filesystem::path out_dir;  ///< created if missing; files go under it
  int count = 2000;               ///< total number of files written (truth.csv not counted)
  uint64_t seed = 1;              ///< same seed + count + mix => byte-identical corpus
  SynthMix mix = SynthMix::kCurate;
  int threads = 0;                ///< 0 = hardware concurrency; output does not depend on it
};

struct SynthSummary {
  int64_t files = 0;
  std::map<std::string, int64_t> kinds;  ///< kind -> count, as in truth.csv
  std::filesystem::path truth_csv;
};

/// Writes a deterministic corpus with ground truth to `out_dir/truth.csv` (columns documented in
/// docs/SYNTH.md: path,kind,group,source,expected_status,format,width,height,params). Throws
/// vpipe::IoError when the directory cannot be written or holds files that are not a corpus
/// (see docs/SYNTH.md), vpipe::ConfigError for a negative count. Thread-safe for distinct
/// out_dirs; uses `threads` worker threads of its own.
SynthSummary synthesize(const SynthOptions& options);

}  // namespace vpipe
