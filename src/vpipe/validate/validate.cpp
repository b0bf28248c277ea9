#include "vpipe/validate/validate.h"

#include <fmt/format.h>

#include <algorithm>
#include <atomic>
#include <fstream>
#include <sstream>
#include <thread>
#include <tuple>

#include "vpipe/core/error.h"
#include "vpipe/io/decode.h"
#include "vpipe/validate/validate_internal.h"

namespace fs = std::filesystem;

namespace vpipe {

std::string_view to_string(DatasetFormat f) {
  switch (f) {
    case DatasetFormat::kAuto:
      return "auto";
    case DatasetFormat::kYolo:
      return "yolo";
    case DatasetFormat::kCoco:
      return "coco";
  }
  return "auto";
}

std::optional<DatasetFormat> dataset_format_from_string(std::string_view name) {
  for (DatasetFormat f : {DatasetFormat::kAuto, DatasetFormat::kYolo, DatasetFormat::kCoco}) {
    if (to_string(f) == name) return f;
  }
  return std::nullopt;
}

std::string_view to_string(Severity s) { return s == Severity::kError ? "error" : "warning"; }

void ValidationReport::add(std::string path, int64_t line, Severity severity, std::string kind,
                           std::string message) {
  Finding f;
  f.path = std::move(path);
  f.line = line;
  f.severity = severity;
  f.kind = std::move(kind);
  f.message = std::move(message);
  findings.push_back(std::move(f));
}

void ValidationReport::sort_findings() {
  std::stable_sort(findings.begin(), findings.end(), [](const Finding& a, const Finding& b) {
    return std::tie(a.path, a.line, a.kind, a.message) <
           std::tie(b.path, b.line, b.kind, b.message);
  });
}

int64_t ValidationReport::errors() const {
  return std::count_if(findings.begin(), findings.end(),
                       [](const Finding& f) { return f.severity == Severity::kError; });
}

int64_t ValidationReport::warnings() const {
  return static_cast<int64_t>(findings.size()) - errors();
}

std::map<std::string, std::pair<Severity, int64_t>> ValidationReport::counts_by_kind() const {
  std::map<std::string, std::pair<Severity, int64_t>> counts;
  for (const Finding& f : findings) {
    auto [it, inserted] = counts.try_emplace(f.kind, f.severity, 0);
    ++it->second.second;
  }
  return counts;
}

namespace validate_detail {

double iou(const Box& a, const Box& b) {
  const double area_a = std::max(0.0, a.x2 - a.x1) * std::max(0.0, a.y2 - a.y1);
  const double area_b = std::max(0.0, b.x2 - b.x1) * std::max(0.0, b.y2 - b.y1);
  if (area_a <= 0 || area_b <= 0) return 0;
  const double w = std::min(a.x2, b.x2) - std::max(a.x1, b.x1);
  const double h = std::min(a.y2, b.y2) - std::max(a.y1, b.y1);
  if (w <= 0 || h <= 0) return 0;
  const double inter = w * h;
  return inter / (area_a + area_b - inter);
}

void report_duplicates(const std::vector<LabelledBox>& boxes, double threshold,
                       const std::string& path, const std::string& what, ValidationReport& report) {
  // Quadratic per image: images hold tens to hundreds of boxes, and this keeps "which earlier
  // box" exact (the first one, in file order).
  for (size_t j = 1; j < boxes.size(); ++j) {
    for (size_t i = 0; i < j; ++i) {
      if (boxes[i].category != boxes[j].category) continue;
      const Box& a = boxes[i].box;
      const Box& b = boxes[j].box;
      const bool identical = a.x1 == b.x1 && a.y1 == b.y1 && a.x2 == b.x2 && a.y2 == b.y2;
      const double overlap = iou(a, b);
      if (!identical && overlap <= threshold) continue;
      report.add(path, boxes[j].line, Severity::kWarning, "duplicate_box",
                 identical ? fmt::format("duplicate box: same class {} and box as {} on line {}",
                                         boxes[j].category, what, boxes[i].line)
                           : fmt::format("duplicate box: class {}, IoU {:.3f} with {} on line {}",
                                         boxes[j].category, overlap, what, boxes[i].line));
      break;
    }
  }
}

std::vector<ImageOutcome> decode_images(const std::vector<fs::path>& files, int threads,
                                        uint64_t max_pixels) {
  std::vector<ImageOutcome> out(files.size());
  if (files.empty()) return out;
  if (threads <= 0)
    threads = static_cast<int>(std::clamp(std::thread::hardware_concurrency(), 1U, 4U));
  const size_t workers = std::min(files.size(), static_cast<size_t>(threads));
  std::atomic<size_t> next{0};
  auto work = [&] {
    Decoder decoder;  // not thread-safe: one per worker
    DecodeOptions decode_options;
    decode_options.max_pixels = max_pixels;
    for (size_t i = next++; i < files.size(); i = next++) {
      ImageOutcome& o = out[i];
      std::ifstream in(files[i], std::ios::binary);
      if (!in) {
        o.status = ItemStatus::kUnreadable;
        o.message = "cannot open the file";
        continue;
      }
      std::vector<uint8_t> bytes((std::istreambuf_iterator<char>(in)),
                                 std::istreambuf_iterator<char>());
      if (in.bad()) {
        o.status = ItemStatus::kUnreadable;
        o.message = "read error";
        continue;
      }
      DecodeResult r = decoder.decode(bytes, decode_options);
      o.status = r.status;
      o.message = std::move(r.message);
      o.width = r.width;
      o.height = r.height;
    }
  };
  {
    std::vector<std::jthread> pool;
    for (size_t w = 1; w < workers; ++w) pool.emplace_back(work);
    work();
  }
  return out;
}

bool report_image_outcome(const ImageOutcome& outcome, const std::string& path, int64_t line,
                          const std::string& image, ValidationReport& report) {
  if (outcome.status == ItemStatus::kOk) return true;
  const std::string reason = outcome.message.empty() ? "" : ": " + outcome.message;
  const std::string what = image == path ? std::string("the image") : "image " + image;
  if (outcome.status == ItemStatus::kDamaged) {
    report.add(path, line, Severity::kWarning, "image_damaged",
               fmt::format("{} decodes only with a warning (e.g. truncated){}; some loaders "
                           "refuse it",
                           what, reason));
    return true;
  }
  report.add(path, line, Severity::kError, "image_corrupt",
             fmt::format("{} cannot be decoded ({}){}", what, to_string(outcome.status), reason));
  return false;
}

std::string read_text_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw IoError(fmt::format("{}: cannot open", path.string()));
  std::stringstream ss;
  ss << in.rdbuf();
  if (in.bad()) throw IoError(fmt::format("{}: read error", path.string()));
  return ss.str();
}

std::vector<fs::path> find_coco_jsons(const ValidateOptions& options) {
  if (!options.coco_json.empty()) {
    if (!fs::is_regular_file(options.coco_json)) {
      throw IoError(fmt::format("{}: no such COCO JSON file", options.coco_json.string()));
    }
    return {options.coco_json};
  }
  std::vector<fs::path> found;
  for (const char* name : {"annotations.json", "_annotations.coco.json"}) {
    if (fs::is_regular_file(options.dir / name)) found.push_back(options.dir / name);
  }
  std::error_code ec;
  if (fs::is_directory(options.dir / "annotations", ec)) {
    std::vector<fs::path> in_folder;
    for (const auto& e : fs::directory_iterator(options.dir / "annotations", ec)) {
      if (e.is_regular_file() && e.path().extension() == ".json") in_folder.push_back(e.path());
    }
    std::sort(in_folder.begin(), in_folder.end());
    found.insert(found.end(), in_folder.begin(), in_folder.end());
  }
  return found;
}

}  // namespace validate_detail

namespace {

bool looks_like_yolo(const fs::path& dir) {
  std::error_code ec;
  if (fs::is_regular_file(dir / "data.yaml", ec) || fs::is_regular_file(dir / "data.yml", ec))
    return true;
  if (fs::is_directory(dir / "labels", ec)) return true;
  for (const auto& e : fs::directory_iterator(dir, ec)) {
    if (e.is_directory(ec) && fs::is_directory(e.path() / "labels", ec)) return true;
  }
  return false;
}

}  // namespace

DatasetFormat detect_dataset_format(const ValidateOptions& options) {
  if (options.format != DatasetFormat::kAuto) return options.format;
  if (!options.coco_json.empty()) return DatasetFormat::kCoco;
  const bool yolo = looks_like_yolo(options.dir);
  const bool coco = !validate_detail::find_coco_jsons(options).empty();
  if (yolo && coco) {
    throw ConfigError(fmt::format(
        "{}: holds both YOLO labels (data.yaml or labels/) and COCO JSON: choose with --format",
        options.dir.string()));
  }
  if (yolo) return DatasetFormat::kYolo;
  if (coco) return DatasetFormat::kCoco;
  throw ConfigError(
      fmt::format("{}: neither a YOLO dataset (data.yaml, labels/) nor COCO (annotations.json, "
                  "annotations/*.json): pass --format or --coco FILE",
                  options.dir.string()));
}

ValidationReport validate_dataset(const ValidateOptions& options) {
  std::error_code ec;
  if (options.dir.empty() || !fs::is_directory(options.dir, ec)) {
    throw IoError(fmt::format("{}: no such directory", options.dir.string()));
  }
  ValidationReport report;
  report.root = options.dir;
  report.format = detect_dataset_format(options);
  if (report.format == DatasetFormat::kYolo) {
    validate_detail::validate_yolo(options, report);
  } else {
    const auto jsons = validate_detail::find_coco_jsons(options);
    if (jsons.empty()) {
      throw IoError(
          fmt::format("{}: no COCO JSON (annotations.json, _annotations.coco.json, "
                      "annotations/*.json): name one with --coco",
                      options.dir.string()));
    }
    validate_detail::validate_coco(options, jsons, report);
  }
  report.sort_findings();
  return report;
}

}  // namespace vpipe
