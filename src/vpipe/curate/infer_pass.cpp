#include "vpipe/curate/infer_pass.h"

#include <fmt/format.h>

#include <algorithm>
#include <map>
#include <optional>
#include <utility>
#include <vector>

#include "vpipe/core/error.h"
#include "vpipe/core/image_ops.h"
#include "vpipe/core/log.h"
#include "vpipe/dedup/dedup_store.h"
#include "vpipe/engine/threads.h"
#include "vpipe/infer/inference_store.h"
#include "vpipe/io/decode.h"
#include "vpipe/io/manifest.h"
#include "vpipe/io/read_file.h"
#include "vpipe/io/run_scope.h"

namespace vpipe {
namespace {

/// One file on its way through the infer pass.
struct InferItem {
  int64_t file_id = 0;
  std::string path;
  std::vector<uint8_t> bytes;  ///< read -> decode
  Image image;                 ///< decode -> preprocess
  int full_width = 0;          ///< full-resolution size after EXIF orientation
  int full_height = 0;
  ModelInput input;  ///< preprocess -> infer -> postprocess
  std::vector<Prediction> predictions;
  bool failed = false;
  std::string error;

  void fail(std::string message) {
    if (failed) return;
    failed = true;
    error = std::move(message);
  }
};

/// Whether a file goes to the model: it decoded at scan time, and (keepers_only) the dedup
/// pass kept it or has not run.
bool selected(const DedupStore::CuratedFile& f, bool keepers_only) {
  const ItemStatus s = f.file.status;
  if (s != ItemStatus::kOk && s != ItemStatus::kDamaged) return false;
  return !keepers_only || !f.has_decision || f.decision.decision == "keep";
}

/// The infer workers' models, one per worker, and the devices the infer stage waits on.
struct WorkerModels {
  std::vector<std::unique_ptr<Model>> models;
  /// For the run table: "cuda:0", "cuda:0+cuda:1"; empty on the CPU (or after a fallback to it).
  std::string stage_device;
};

/// Loads a model per infer worker on its device. With cpu_fallback, a device that cannot take
/// it sends that worker and every later one to the CPU (in fp32: half precision is CUDA
/// autocast), and `backend` records the fallback.
WorkerModels load_worker_models(const InferPassOptions& options, BackendOptions& backend) {
  std::vector<Device> devices = options.worker_devices;
  if (devices.empty()) {
    devices.assign(static_cast<size_t>(std::max(1, options.infer_workers)), backend.device);
  }
  WorkerModels out;
  bool fell_back = false;
  for (const Device device : devices) {
    if (options.make_model) {
      out.models.push_back(options.make_model());
      continue;
    }
    BackendOptions worker_backend = backend;
    worker_backend.device = fell_back ? Device::cpu() : device;
    try {
      out.models.push_back(load_model(options.model, worker_backend));
    } catch (const ConfigError& e) {
      if (!options.cpu_fallback || worker_backend.device.is_cpu()) throw;
      const bool was_half = backend.precision != "fp32";
      log().warn("{}; running it on the CPU instead{}", e.what(),
                 was_half ? fmt::format(" (in fp32, not {})", backend.precision) : "");
      fell_back = true;
      backend.precision = "fp32";
      worker_backend.device = Device::cpu();
      worker_backend.precision = "fp32";
      out.models.push_back(load_model(options.model, worker_backend));
    }
  }
  if (!options.make_model && !fell_back) {
    std::vector<Device> seen;
    for (const Device device : devices) {
      if (!device.is_cuda() || std::find(seen.begin(), seen.end(), device) != seen.end()) {
        continue;
      }
      seen.push_back(device);
      out.stage_device += (out.stage_device.empty() ? "" : "+") + device.str();
    }
  }
  return out;
}

/// Boxes and keypoints are in pixels of the decoded image, which DCT scaling may have reduced:
/// back to the full resolution.
void scale_to_full_resolution(InferItem& item) {
  const float sx = static_cast<float>(item.full_width) / static_cast<float>(item.input.image_width);
  const float sy =
      static_cast<float>(item.full_height) / static_cast<float>(item.input.image_height);
  for (Prediction& p : item.predictions) {
    p.box = Box{p.box.x1 * sx, p.box.y1 * sy, p.box.x2 * sx, p.box.y2 * sy};
    for (size_t k = 0; k + 1 < p.keypoints.size(); k += 2) {
      p.keypoints[k] *= sx;
      p.keypoints[k + 1] *= sy;
    }
  }
}

/// The manifest row of one item: its status, or its predictions (`labels` counts them: every
/// box of a detector, the top class of a classifier).
InferenceRecord inference_record(const InferItem& item, const ModelSpec& spec,
                                 std::map<std::string, int64_t>& labels) {
  InferenceRecord rec;
  rec.file_id = item.file_id;
  rec.model = spec.name;
  if (item.failed) {
    rec.status = "failed";
    rec.error = fmt::format("{}: {}", item.path, item.error);
    log().debug("infer: {}", rec.error);
    return rec;
  }
  const std::string task(to_string(spec.task));
  for (size_t r = 0; r < item.predictions.size(); ++r) {
    const Prediction& p = item.predictions[r];
    DetectionRecord d;
    d.file_id = item.file_id;
    d.model = spec.name;
    d.task = task;
    d.rank = static_cast<int>(r);
    d.class_id = p.class_id;
    d.label = class_label(spec, p.class_id);
    d.score = p.score;
    d.has_box = spec.task == ModelTask::kDetect;
    if (d.has_box) {
      d.x1 = p.box.x1;
      d.y1 = p.box.y1;
      d.x2 = p.box.x2;
      d.y2 = p.box.y2;
    }
    d.keypoints = p.keypoints;
    if (spec.task == ModelTask::kDetect || r == 0) ++labels[d.label];
    rec.detections.push_back(std::move(d));
  }
  return rec;
}

/// The read and decode stages: each file's bytes, then its pixels at the model's scale (over
/// black where transparent, as models saw images before alpha was kept).
void add_read_and_decode(Pipeline<InferItem>& pipeline, int threads,
                         const InferPassOptions& options, const DecodeOptions& decode_options) {
  const int io_workers = std::max(1, std::min(threads, 4));
  pipeline.add_stage(
      {.name = "read",
       .workers = io_workers,
       .queue_capacity = static_cast<size_t>(8 * io_workers)},
      [&options](int) {
        return [&options](std::span<InferItem> batch) {
          for (InferItem& item : batch) {
            std::string why;
            if (!read_file_bytes(item.path, options.max_file_bytes, item.bytes, why)) {
              item.fail(why);
            }
          }
        };
      });
  pipeline.add_stage(
      {.name = "decode", .workers = threads, .queue_capacity = static_cast<size_t>(8 * threads)},
      [&decode_options](int) {
        return
            [decoder = std::make_shared<Decoder>(), &decode_options](std::span<InferItem> batch) {
              for (InferItem& item : batch) {
                if (item.failed) continue;
                DecodeResult r = decoder->decode(item.bytes, decode_options);
                item.bytes = {};
                if (r.image.empty()) {
                  item.fail(fmt::format("{}: {}", to_string(r.status), r.message));
                  continue;
                }
                item.full_width = r.width;
                item.full_height = r.height;
                item.image = composite_over(std::move(r.image), r.alpha);
              }
            };
      });
}

/// The single writer: each batch's rows in one transaction; the summary's counts and `labels`
/// grow only once a batch is committed, so a run that fails on a write counts what the manifest
/// holds.
void add_write_stage(Pipeline<InferItem>& pipeline, const InferPassOptions& options,
                     Manifest& writer, const ModelSpec& spec, InferPassSummary& summary,
                     std::map<std::string, int64_t>& labels) {
  pipeline.add_stage(
      {.name = "write",
       .workers = 1,
       .batch = {.max_batch = static_cast<size_t>(std::max(1, options.manifest_batch)),
                 .max_delay =
                     std::chrono::milliseconds(std::max(1, options.manifest_max_delay_ms))},
       .queue_capacity = 1024},
      [&writer, &spec, &summary, &labels](int) {
        return [&writer, &spec, &summary, &labels](std::span<InferItem> batch) {
          std::vector<InferenceRecord> rows;
          rows.reserve(batch.size());
          int64_t ok = 0;
          int64_t failed = 0;
          int64_t predictions = 0;
          std::map<std::string, int64_t> batch_labels;
          for (InferItem& item : batch) {
            rows.push_back(inference_record(item, spec, batch_labels));
            if (item.failed) {
              ++failed;
            } else {
              ++ok;
              predictions += static_cast<int64_t>(item.predictions.size());
            }
          }
          InferenceStore(writer).record_inferences(rows);
          summary.ok += ok;
          summary.failed += failed;
          summary.predictions += predictions;
          for (const auto& [label, n] : batch_labels) labels[label] += n;
        };
      });
}

/// The infer stage: a worker per model, each on its device, batches of the items not failed.
void add_infer_stage(Pipeline<InferItem>& pipeline, const InferPassOptions& options,
                     const WorkerModels& loaded) {
  const std::vector<std::unique_ptr<Model>>& models = loaded.models;
  pipeline.add_stage(
      {.name = "infer",
       .workers = static_cast<int>(models.size()),
       .batch = options.batch,
       .queue_capacity = 2 * models.size() * options.batch.max_batch,
       .device = loaded.stage_device},
      [&models](int worker) {
        Model* model = models[static_cast<size_t>(worker)].get();
        return [model, inputs = std::vector<ModelInput*>()](std::span<InferItem> batch) mutable {
          inputs.clear();
          for (InferItem& item : batch) {
            if (!item.failed) inputs.push_back(&item.input);
          }
          if (inputs.empty()) return;
          model->infer(inputs);
          for (InferItem& item : batch) {
            if (!item.failed && !item.input.error.empty()) {
              item.fail(std::move(item.input.error));
            }
          }
        };
      });
}

/// The models' out-of-memory halvings and the smallest batch limit they settled on.
void add_batch_memory(InferPassSummary& summary,
                      const std::vector<std::unique_ptr<Model>>& models) {
  for (const auto& model : models) {
    const BatchMemoryStats m = model->batch_memory();
    summary.oom_halvings += m.halvings;
    if (m.limit > 0) {
      summary.batch_limit =
          summary.batch_limit == 0 ? m.limit : std::min(summary.batch_limit, m.limit);
    }
  }
}

}  // namespace

InferPassSummary run_infer_pass(const std::filesystem::path& db, const InferPassOptions& options) {
  const int threads = resolve_threads(options.threads);
  BackendOptions backend = options.backend;
  if (backend.threads == 0) backend.threads = threads;

  // Load every infer worker's model before the run starts: a model that cannot load ends the
  // run here, with its reason, rather than inside a worker.
  const WorkerModels loaded = load_worker_models(options, backend);
  const std::vector<std::unique_ptr<Model>>& models = loaded.models;
  const Model& shared = *models.front();  // prepare and decode are const and thread-safe
  const ModelSpec& spec = shared.spec();

  Manifest writer(db);
  Manifest reader(db);  // the source streams the files on its own connection
  const std::unordered_map<int64_t, int64_t> done =
      options.force ? std::unordered_map<int64_t, int64_t>{}
                    : InferenceStore(writer).inferred_files(spec.name);
  // Declared before the run: a failed run's record reads them (run_counts).
  InferPassSummary summary;
  summary.runtime = shared.runtime();
  std::atomic<int64_t> unchanged{0};
  RunScope run(writer, options.command, options.config_json, options.device.str());
  // The files to infer, counted before the run for the progress line's ETA: one streaming pass
  // over the manifest, seconds for millions of rows, against hours of inference.
  const auto to_infer = [&](const DedupStore::CuratedFile& f) {
    if (!selected(f, options.keepers_only)) return false;
    const auto it = done.find(f.file.id);
    return it == done.end() || it->second != f.file.mtime_ns;
  };
  int64_t to_do = 0;
  if (options.progress != nullptr) {
    DedupStore(reader).for_each_curated({}, [&](const DedupStore::CuratedFile& f) {
      to_do += to_infer(f) ? 1 : 0;
      return true;
    });
  }

  DecodeOptions decode_options;
  decode_options.min_long_side = shared.decode_long_side();
  decode_options.max_pixels = options.max_pixels;
  decode_options.lenient = true;  // the scan already judged damaged files; infer what decodes

  Pipeline<InferItem> pipeline;
  pipeline.set_source("select", [&](const Pipeline<InferItem>::Emit& emit) {
    DedupStore::CuratedQuery query;
    DedupStore(reader).for_each_curated(query, [&](const DedupStore::CuratedFile& f) {
      if (!selected(f, options.keepers_only)) return true;
      if (!to_infer(f)) {
        unchanged.fetch_add(1, std::memory_order_relaxed);
        return true;
      }
      InferItem item;
      item.file_id = f.file.id;
      item.path = f.file.path;
      return emit(std::move(item));
    });
  });
  add_read_and_decode(pipeline, threads, options, decode_options);
  // A stage of `threads` workers that keep no state of their own, `step` run on each item that
  // has not failed yet.
  const auto add_item_stage = [&](const char* name, auto step) {
    pipeline.add_stage(
        {.name = name, .workers = threads, .queue_capacity = static_cast<size_t>(8 * threads)},
        [step](int) {
          return [step](std::span<InferItem> batch) {
            for (InferItem& item : batch) {
              if (!item.failed) step(item);
            }
          };
        });
  };
  add_item_stage("preprocess", [&](InferItem& item) {
    shared.prepare(item.image, item.input);
    item.image = Image();
  });
  add_infer_stage(pipeline, options, loaded);
  add_item_stage("postprocess", [&](InferItem& item) {
    item.predictions = shared.decode(item.input);
    scale_to_full_resolution(item);
    item.input = ModelInput();
  });
  std::map<std::string, int64_t> labels;  // written by the single writer
  add_write_stage(pipeline, options, writer, spec, summary, labels);

  RunOptions run_options;
  run_options.stop = options.stop;
  run_options.progress = options.progress;
  run_options.trace = !options.trace_path.empty();
  run_options.unit = "images";
  run_options.expected_total = [to_do] { return to_do; };

  const auto run_counts = [&summary, &unchanged] {
    return std::map<std::string, int64_t>{{"ok", summary.ok},
                                          {"failed", summary.failed},
                                          {"unchanged", unchanged.load()},
                                          {"predictions", summary.predictions}};
  };
  run.counts_from(run_counts);
  summary.engine = pipeline.run(run_options);
  summary.files = summary.ok + summary.failed;
  add_batch_memory(summary, models);
  summary.unchanged = unchanged.load();
  summary.labels = std::move(labels);
  summary.stopped = summary.engine.stopped;
  run.record_stages("infer:" + spec.name, summary.engine);
  run.finish(summary.stopped, run_counts());
  if (!options.trace_path.empty()) pipeline.write_chrome_trace(options.trace_path);
  return summary;
}

}  // namespace vpipe
