#pragma once

#include <atomic>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <map>
#include <ostream>
#include <string>

#include "vpipe/core/device.h"
#include "vpipe/core/run_report.h"
#include "vpipe/engine/pipeline.h"
#include "vpipe/infer/model.h"

namespace vpipe {

/// Everything the infer pass (`vpipe detect`, `vpipe classify`, the `infer:` step of
/// `vpipe run`) can be told.
struct InferPassOptions {
  ModelSpec model;         ///< resolve_model()
  BackendOptions backend;  ///< device; threads 0 = the cores
  /// The device was picked automatically (`--device auto`): when the model cannot load there
  /// (a CPU-only LibTorch on a GPU machine), it is loaded on the CPU instead, with a warning,
  /// and in fp32 whatever backend.precision asked (fp16/bf16 are CUDA-only).
  bool cpu_fallback = false;
  int threads = 0;         ///< read / decode / pre-process / post-process workers; 0 = the cores
  int infer_workers = 1;   ///< one loaded model each
  /// The device of each infer worker (worker_devices(): one per GPU on a machine with several);
  /// when set, its size is the number of infer workers and infer_workers is ignored. Empty =
  /// infer_workers workers on backend.device.
  std::vector<Device> worker_devices;
  /// The engine's batcher in front of the model: a batch leaves with max_batch images, or when
  /// the oldest has waited max_delay.
  BatchPolicy batch{8, std::chrono::milliseconds(5)};
  bool keepers_only = true;  ///< only files the dedup pass kept (no dedup pass: every file)
  bool force = false;        ///< infer again files this model has already done
  uint64_t max_file_bytes = uint64_t{1} << 30;
  uint64_t max_pixels = 200'000'000;
  int manifest_batch = 256;  ///< inferences per manifest transaction
  int manifest_max_delay_ms = 250;
  std::ostream* progress = nullptr;
  std::string trace_path;
  const std::atomic<bool>* stop = nullptr;
  std::string command = "detect";  ///< recorded in the runs table
  Device device = Device::cpu();    ///< recorded in the runs table
  std::string config_json = "{}";
  /// Makes each infer worker's model instead of load_model(model, backend) (tests inject a
  /// model; `model` must still name it). Empty = load_model.
  std::function<std::unique_ptr<Model>()> make_model;
};

/// What an infer pass did.
struct InferPassSummary {
  int64_t files = 0;      ///< files inferred this run (ok + failed)
  int64_t ok = 0;
  int64_t failed = 0;     ///< could not be read or decoded, or the model refused them
  int64_t unchanged = 0;  ///< skipped: this model already did them and they did not change
  int64_t predictions = 0;
  std::map<std::string, int64_t> labels;  ///< label -> predictions this run (top-1 for classify)
  std::string runtime;                    ///< Model::runtime()
  /// Out-of-memory errors that halved a worker's batch (BatchHalving), and the smallest batch
  /// limit they left (0 = never limited): a run that finished despite too little device memory.
  size_t oom_halvings = 0;
  size_t batch_limit = 0;
  bool stopped = false;
  RunReport engine;  ///< read / decode / preprocess / infer / postprocess / write
};

/// The infer pass over the files of the manifest at `db` (docs/ARCHITECTURE.md): keepers that
/// decoded (status ok or damaged) are read, decoded at the model's scale (JPEG DCT scaling),
/// pre-processed into tensors in parallel, batched by the engine (max_batch, max_delay) into one
/// model call per batch, decoded into predictions mapped to full-resolution pixels, and written
/// to the manifest (a transaction per batch of files). Resumes: files already done by this model
/// with an unchanged mtime are skipped. Per-file failures are recorded as failed inferences
/// naming the reason; throws vpipe::Error for what ends the run (model cannot load, manifest).
InferPassSummary run_infer_pass(const std::filesystem::path& db, const InferPassOptions& options);

/// How crops are cut and written.
struct CropOptions {
  /// Crops go to dir/<model>/<label>/<stem>-<file id>-<rank>.<ext>; a relative dir is resolved
  /// against the current directory, and crops.path records absolute paths.
  std::filesystem::path dir;
  std::string model;          ///< whose detections; "" = every model's
  float margin = 0.1f;        ///< added on each side, as a fraction of the box's width/height
  int min_size = 16;          ///< boxes narrower or shorter than this (pixels) are not cropped
  std::string format = "jpeg";  ///< "jpeg" or "png"
  int quality = 92;             ///< JPEG quality
  float min_score = 0;          ///< detections below this score are not cropped
  bool keepers_only = true;
  int threads = 0;  ///< crop workers; 0 = the cores
  std::ostream* progress = nullptr;
  const std::atomic<bool>* stop = nullptr;
};

struct CropPassSummary {
  int64_t written = 0;    ///< crops (re)written this run
  int64_t unchanged = 0;  ///< already on disk with the recorded size and hash
  int64_t skipped = 0;    ///< boxes under min_size or scores under min_score
  int64_t failed = 0;     ///< source unreadable now, or the crop could not be written
  bool stopped = false;
  RunReport engine;
};

/// Crops every detection (boxes only) of the manifest at `db`: the box grown by the margin and
/// clamped to the image, cut from the full-resolution, EXIF-oriented image, written atomically
/// (temporary name, fsync, rename) under a deterministic name by a worker pool, and recorded in
/// table `crops`. Idempotent: a crop whose row, rectangle, file size and xxh64 all match is not
/// written again. Throws vpipe::Error for what ends the run.
CropPassSummary run_crop_pass(const std::filesystem::path& db, const CropOptions& options);

/// The deterministic file name of a crop (no folder), from the source path, file id and rank:
/// "<source stem>-<file id>-<rank>.<jpg|png>", the stem cut to 64 bytes.
[[nodiscard]] std::string crop_file_name(const std::string& source_path, int64_t file_id,
                                         int rank, const std::string& format);

}  // namespace vpipe
