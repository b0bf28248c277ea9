// The dataset exports of the infer pass's results: COCO JSON, a YOLO dataset directory, and a
// CSV of detections (docs/CLI.md, `vpipe export`).

#include <fcntl.h>
#include <fmt/format.h>
#include <unistd.h>
#include <xxhash.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <map>
#include <memory>
#include <system_error>
#include <unordered_set>

#include "vpipe/core/error.h"
#include "vpipe/core/json.h"
#include "vpipe/core/log.h"
#include "vpipe/core/version.h"
#include "vpipe/infer/inference_store.h"
#include "vpipe/io/manifest.h"
#include "vpipe/io/walk.h"
#include "vpipe/report/export.h"
#include "vpipe/report/export_sink.h"

namespace vpipe {
namespace {

namespace fs = std::filesystem;

/// Marks a directory as written by `vpipe export`: only such a directory is replaced by --force.
/// How a COCO JSON file of vpipe export begins: an existing --out that begins so is an earlier
/// export, replaced without --force.
constexpr std::string_view kCocoStart = "{\"info\":{\"description\":\"vpipe export\",";

std::string errno_text(int err) { return std::generic_category().message(err); }

/// The model to export: the one asked for, or the manifest's only one.
std::string resolve_model(const Manifest& manifest, const std::string& wanted) {
  const std::vector<std::string> models = InferenceStore(manifest).inferred_models();
  if (models.empty()) {
    throw ConfigError("export: the manifest has no inferences yet; run the infer pass first");
  }
  std::string list;
  for (const std::string& m : models) list += (list.empty() ? "" : ", ") + m;
  if (wanted.empty()) {
    if (models.size() == 1) return models.front();
    throw ConfigError("export: the manifest has predictions of several models (" + list +
                      "); choose one with --model");
  }
  if (std::find(models.begin(), models.end(), wanted) == models.end()) {
    throw ConfigError("export: --model '" + wanted +
                      "' has no inferences in the manifest (it has " + list + ")");
  }
  return wanted;
}

/// A box clipped to the image, as x, y, width, height in pixels; false when nothing is left.
struct PixelBox {
  float x = 0, y = 0, w = 0, h = 0;
};
bool clip_box(const DetectionRecord& d, int width, int height, PixelBox& box) {
  const float x1 = std::clamp(std::min(d.x1, d.x2), 0.0f, static_cast<float>(width));
  const float x2 = std::clamp(std::max(d.x1, d.x2), 0.0f, static_cast<float>(width));
  const float y1 = std::clamp(std::min(d.y1, d.y2), 0.0f, static_cast<float>(height));
  const float y2 = std::clamp(std::max(d.y1, d.y2), 0.0f, static_cast<float>(height));
  box = PixelBox{x1, y1, x2 - x1, y2 - y1};
  return box.w > 0 && box.h > 0;
}

/// An export directory built as `DIR.partial-<pid>` and moved onto DIR by commit(); removed
/// if never committed, so a failed or interrupted export never leaves a half DIR.
class DatasetDir final {
 public:
  DatasetDir(const fs::path& out, bool force) : out_(out) {
    if (out_.empty() || out_ == "-") {
      throw ConfigError("export: this format writes a directory; give it with --out DIR");
    }
    if (!out_.has_filename()) out_ = out_.parent_path();  // "dir/" -> "dir"
    std::error_code ec;
    const fs::file_status status = fs::symlink_status(out_, ec);
    replace_ = fs::exists(status);
    if (replace_) {
      if (!force) {
        throw ConfigError("export: '" + out_.string() +
                          "' exists; choose another --out, or --force to replace an earlier "
                          "vpipe export");
      }
      if (!fs::is_directory(status) || !fs::exists(out_ / kExportMarker, ec)) {
        throw ConfigError("export: '" + out_.string() +
                          "' is not a directory written by vpipe export (no " + kExportMarker +
                          "); vpipe will not replace it");
      }
    }
    partial_ = out_;
    partial_ += fmt::format(".partial-{}", ::getpid());
    fs::remove_all(partial_, ec);  // a leftover of this very pid: ours to redo
    for (const fs::path& dir : {partial_, partial_ / "images"}) {
      if (!fs::create_directories(dir, ec) && ec) {
        throw IoError("export: cannot create '" + dir.string() + "': " + ec.message());
      }
    }
  }
  ~DatasetDir() {
    if (!committed_) {
      std::error_code ec;
      fs::remove_all(partial_, ec);
    }
  }
  DatasetDir(const DatasetDir&) = delete;
  DatasetDir& operator=(const DatasetDir&) = delete;

  /// Where to write until commit().
  [[nodiscard]] const fs::path& root() const { return partial_; }
  /// The final directory.
  [[nodiscard]] const fs::path& final_path() const { return out_; }

  void commit() {
    write_text(partial_ / kExportMarker, fmt::format("vpipe {}\n", kVersion));
    std::error_code ec;
    if (!replace_) {
      if (std::rename(partial_.c_str(), out_.c_str()) != 0) fail_move(errno);
      committed_ = true;
      return;
    }
    // --force over an earlier export: swap the two atomically, then remove the old one (now at
    // partial_), so DIR is never missing.
    if (::renameat2(AT_FDCWD, partial_.c_str(), AT_FDCWD, out_.c_str(), RENAME_EXCHANGE) == 0) {
      committed_ = true;
      fs::remove_all(partial_, ec);
      return;
    }
    // No atomic exchange on this filesystem: move the old one aside first.
    fs::path aside = out_;
    aside += fmt::format(".old-{}", ::getpid());
    if (std::rename(out_.c_str(), aside.c_str()) != 0) fail_move(errno);
    if (std::rename(partial_.c_str(), out_.c_str()) != 0) {
      const int err = errno;
      std::rename(aside.c_str(), out_.c_str());
      fail_move(err);
    }
    committed_ = true;
    fs::remove_all(aside, ec);
  }

  /// Writes a small text file inside the directory.
  static void write_text(const fs::path& path, std::string_view text) {
    std::FILE* file = std::fopen(path.c_str(), "wb");
    bool ok = file != nullptr;
    if (ok) ok = std::fwrite(text.data(), 1, text.size(), file) == text.size();
    int err = errno;
    if (file != nullptr && std::fclose(file) != 0 && ok) {
      ok = false;
      err = errno;
    }
    if (!ok) throw IoError("export: cannot write '" + path.string() + "': " + errno_text(err));
  }

 private:
  [[noreturn]] void fail_move(int err) const {
    throw IoError("export: cannot move '" + partial_.string() + "' to '" + out_.string() +
                  "': " + errno_text(err));
  }

  fs::path out_;
  fs::path partial_;
  bool replace_ = false;
  bool committed_ = false;
};

/// Names and places the images of a directory export: images/<name>, unique by stem (YOLO pairs
/// an image with labels/<stem>.txt), as hard links, symlinks where a hard link is impossible
/// (another filesystem), or copies.
class ImagePlacer final {
 public:
  ImagePlacer(fs::path images_dir, bool copy) : dir_(std::move(images_dir)), copy_(copy) {}

  /// The unique output stem and file name for `path`: its own name, or, when an earlier input
  /// had that stem, the stem followed by '_' and 8 hex digits of XXH3 of the whole path.
  void name(const std::string& path, std::string& stem, std::string& file_name) {
    const fs::path source(path);
    stem = source.stem().native();
    const std::string extension = source.extension().native();
    if (stem.empty()) stem = "image";
    if (!used_stems_.insert(stem).second) {
      const auto hash = static_cast<uint32_t>(XXH3_64bits(path.data(), path.size()));
      const std::string base = stem + fmt::format("_{:08x}", hash);
      stem = base;
      for (int n = 2; !used_stems_.insert(stem).second; ++n) stem = base + "_" + std::to_string(n);
    }
    file_name = stem + extension;
  }

  /// Puts the image at images/<file_name>; false (with a warning) when the input is gone.
  bool place(const std::string& path, const std::string& file_name) {
    const fs::path target = dir_ / file_name;
    std::error_code ec;
    if (!fs::is_regular_file(path, ec)) {
      log().warn("export: '{}' is missing or not a file any more; left out", path);
      return false;
    }
    if (copy_) {
      if (!fs::copy_file(path, target, ec)) {
        throw IoError("export: cannot copy '" + path + "' to '" + target.string() +
                      "': " + ec.message());
      }
      return true;
    }
    fs::create_hard_link(path, target, ec);
    if (!ec) return true;
    if (!warned_symlinks_) {
      log().info("export: cannot hard-link '{}' ({}); using symbolic links", path, ec.message());
      warned_symlinks_ = true;
    }
    const fs::path absolute = fs::absolute(path, ec);
    fs::create_symlink(ec ? fs::path(path) : absolute, target, ec);
    if (ec) {
      throw IoError("export: cannot link '" + path + "' as '" + target.string() +
                    "': " + ec.message());
    }
    return true;
  }

 private:
  fs::path dir_;
  bool copy_;
  bool warned_symlinks_ = false;
  std::unordered_set<std::string> used_stems_;  // one per image: the only state that grows
};

/// A number for JSON/CSV: shortest form that reads back as the same float.
std::string number(float v) { return fmt::format("{}", v); }

/// Appends the FILE's whole content to `sink`.
void append_file(std::FILE* from, ExportSink& sink) {
  std::rewind(from);
  char buffer[1 << 16];
  size_t n = 0;
  while ((n = std::fread(buffer, 1, sizeof buffer, from)) > 0) sink.write({buffer, n});
  if (std::ferror(from)) throw IoError("export: cannot read back a temporary file");
}

struct FileCloser {
  void operator()(std::FILE* f) const { std::fclose(f); }
};

/// Category of a class: COCO ids start at 1 (0 is background in many tools), so id = class + 1.
std::string category_name(int class_id, const std::string& label) {
  return label.empty() ? fmt::format("class_{}", class_id) : label;
}

DatasetExportSummary export_coco(const Manifest& manifest, const ExportOptions& options,
                                 const InferenceStore::DetectionQuery& query,
                                 DatasetExportSummary summary) {
  // A file (X.json or stdout) names the images by their paths; a directory gets images/ and
  // annotations.json naming them relative to it.
  const bool to_file = options.out == "-" || options.out.extension() == ".json";
  std::unique_ptr<DatasetDir> dir;
  std::unique_ptr<ImagePlacer> placer;
  fs::path json_path = options.out;
  if (!to_file) {
    dir = std::make_unique<DatasetDir>(options.out, options.force);
    placer = std::make_unique<ImagePlacer>(dir->root() / "images", options.copy_images);
    json_path = dir->root() / "annotations.json";
  }
  // Images and annotations are two arrays but arrive together, one file at a time: the
  // annotations wait in an anonymous temporary file, so memory stays flat.
  std::unique_ptr<std::FILE, FileCloser> annotations(std::tmpfile());
  if (!annotations) throw IoError("export: cannot create a temporary file: " + errno_text(errno));
  std::map<int, std::string> categories;  // class id -> name
  {
    ExportSink sink(json_path, options.force,
                    [](std::string_view head) { return head.starts_with(kCocoStart); });
    sink.write(fmt::format("{}\"model\":{},\"vpipe_version\":{}}},\n\"images\":[", kCocoStart,
                           json_quote(summary.model), json_quote(kVersion)));
    std::string stem;
    std::string file_name;
    std::string line;
    InferenceStore(manifest).for_each_detection(query, [&](const InferenceStore::FileDetections&
                                                               row) {
      const FileRecord& f = row.file;
      if (f.width <= 0 || f.height <= 0) {
        ++summary.skipped;
        return true;
      }
      file_name = f.path;
      if (placer) {
        placer->name(f.path, stem, file_name);
        if (!placer->place(f.path, file_name)) {
          ++summary.skipped;
          return true;
        }
        file_name = "images/" + file_name;
      }
      sink.write(fmt::format("{}\n{{\"id\":{},\"file_name\":{},\"width\":{},\"height\":{}}}",
                             summary.images == 0 ? "" : ",", f.id, json_quote(file_name),
                             f.width, f.height));
      ++summary.images;
      for (const DetectionRecord& d : row.detections) {
        PixelBox b;
        if (!d.has_box || d.score < options.min_score || !clip_box(d, f.width, f.height, b)) {
          continue;
        }
        categories.try_emplace(d.class_id, category_name(d.class_id, d.label));
        line = fmt::format(
            "{}\n{{\"id\":{},\"image_id\":{},\"category_id\":{},\"bbox\":[{},{},{},{}],"
            "\"area\":{},\"iscrowd\":0,\"score\":{}}}",
            summary.annotations == 0 ? "" : ",", d.id, f.id, d.class_id + 1, number(b.x),
            number(b.y), number(b.w), number(b.h), number(b.w * b.h), number(d.score));
        if (std::fwrite(line.data(), 1, line.size(), annotations.get()) != line.size()) {
          throw IoError("export: cannot write a temporary file: " + errno_text(errno));
        }
        ++summary.annotations;
      }
      return true;
    });
    sink.write("],\n\"annotations\":[");
    append_file(annotations.get(), sink);
    sink.write("],\n\"categories\":[");
    bool first = true;
    for (const auto& [class_id, name] : categories) {
      sink.write(fmt::format("{}\n{{\"id\":{},\"name\":{},\"supercategory\":\"\"}}",
                             first ? "" : ",", class_id + 1, json_quote(name)));
      first = false;
    }
    sink.write("]}\n");
    sink.commit();
  }
  if (dir) dir->commit();
  return summary;
}

DatasetExportSummary export_yolo(const Manifest& manifest, const ExportOptions& options,
                                 const InferenceStore::DetectionQuery& query,
                                 DatasetExportSummary summary) {
  DatasetDir dir(options.out, options.force);
  const fs::path labels_dir = dir.root() / "labels";
  std::error_code ec;
  if (!fs::create_directories(labels_dir, ec) && ec) {
    throw IoError("export: cannot create '" + labels_dir.string() + "': " + ec.message());
  }
  ImagePlacer placer(dir.root() / "images", options.copy_images);
  std::map<int, std::string> names;  // class id -> label
  std::string stem;
  std::string file_name;
  std::string labels;
  InferenceStore(manifest).for_each_detection(
      query, [&](const InferenceStore::FileDetections& row) {
        const FileRecord& f = row.file;
        if (f.width <= 0 || f.height <= 0) {
          ++summary.skipped;
          return true;
        }
        placer.name(f.path, stem, file_name);
        if (!placer.place(f.path, file_name)) {
          ++summary.skipped;
          return true;
        }
        labels.clear();
        const auto w = static_cast<double>(f.width);
        const auto h = static_cast<double>(f.height);
        for (const DetectionRecord& d : row.detections) {
          PixelBox b;
          if (!d.has_box || d.score < options.min_score || !clip_box(d, f.width, f.height, b)) {
            continue;
          }
          auto [it, inserted] = names.try_emplace(d.class_id, d.label);
          if (!inserted && it->second.empty()) it->second = d.label;
          // Clipped to the image, so every value is in [0, 1].
          labels += fmt::format("{} {:.6f} {:.6f} {:.6f} {:.6f}\n", d.class_id, (b.x + b.w / 2) / w,
                                (b.y + b.h / 2) / h, b.w / w, b.h / h);
          ++summary.annotations;
        }
        // Written for every image, empty when it has no box: YOLO reads that as "background".
        DatasetDir::write_text(labels_dir / (stem + ".txt"), labels);
        ++summary.images;
        return true;
      });
  // Class ids are the model's own, so nc covers 0..max seen; classes never predicted get a
  // placeholder name (the manifest knows only labels it has seen).
  const int nc = names.empty() ? 0 : names.rbegin()->first + 1;
  std::string yaml = fmt::format(
      "# Written by vpipe {} export: predictions of model {}\n"
      "path: {}\ntrain: images\nval: images\nnc: {}\nnames:{}\n",
      kVersion, summary.model, json_quote(fs::absolute(dir.final_path()).string()), nc,
      nc == 0 ? " {}" : "");
  for (int c = 0; c < nc; ++c) {
    const auto it = names.find(c);
    yaml += fmt::format("  {}: {}\n", c,
                        json_quote(it == names.end() ? fmt::format("class_{}", c)
                                                     : category_name(c, it->second)));
  }
  DatasetDir::write_text(dir.root() / "data.yaml", yaml);
  dir.commit();
  return summary;
}

constexpr const char* kDetectionsHeader =
    "path,model,task,rank,class_id,label,score,x1,y1,x2,y2,crop_path\n";

DatasetExportSummary export_detections_csv(const Manifest& manifest, const ExportOptions& options,
                                           const InferenceStore::DetectionQuery& query,
                                           DatasetExportSummary summary) {
  ExportSink sink(options.out, options.force,
                  [](std::string_view head) { return head.starts_with(kDetectionsHeader); });
  sink.write(kDetectionsHeader);
  std::string line;
  InferenceStore(manifest).for_each_detection(
      query, [&](const InferenceStore::FileDetections& row) {
        ++summary.images;
        const std::string path = csv_field(row.file.path);
        for (const DetectionRecord& d : row.detections) {
          if (d.score < options.min_score) continue;
          std::string crop_path;
          for (const CropRecord& c : row.crops) {
            if (c.detection_id == d.id) crop_path = c.path;
          }
          line = fmt::format("{},{},{},{},{},{},{},", path, csv_field(d.model), d.task, d.rank,
                             d.class_id, csv_field(d.label), number(d.score));
          if (d.has_box) {
            line +=
                fmt::format("{},{},{},{},", number(d.x1), number(d.y1), number(d.x2), number(d.y2));
          } else {
            line += ",,,,";
          }
          line += csv_field(crop_path) + '\n';
          sink.write(line);
          ++summary.annotations;
        }
        return true;
      });
  sink.commit();
  return summary;
}

}  // namespace

bool is_dataset_format(ExportFormat format) {
  return format == ExportFormat::kCoco || format == ExportFormat::kYolo ||
         format == ExportFormat::kDetections;
}

DatasetExportSummary export_dataset(const Manifest& manifest, const ExportOptions& options) {
  if (!is_dataset_format(options.format)) {
    throw ConfigError("export: not a dataset format (use coco, yolo or detections)");
  }
  if (!options.task.empty() && options.task != "detect" && options.task != "classify") {
    throw ConfigError("export: --task '" + options.task + "': use detect or classify");
  }
  const bool boxes_only = options.format != ExportFormat::kDetections;
  if (boxes_only && options.task == "classify") {
    throw ConfigError(
        "export: COCO and YOLO hold boxes; export classifications with --format detections");
  }
  if (options.format == ExportFormat::kYolo && options.out == "-") {
    throw ConfigError("export: --format yolo writes a directory; give it with --out DIR");
  }
  DatasetExportSummary summary;
  summary.model = resolve_model(manifest, options.model);
  InferenceStore::DetectionQuery query;
  query.model = summary.model;
  query.task = boxes_only ? "detect" : options.task;
  query.keepers_only = !options.all_files;
  switch (options.format) {
    case ExportFormat::kCoco:
      return export_coco(manifest, options, query, std::move(summary));
    case ExportFormat::kYolo:
      return export_yolo(manifest, options, query, std::move(summary));
    default:
      return export_detections_csv(manifest, options, query, std::move(summary));
  }
}

}  // namespace vpipe
