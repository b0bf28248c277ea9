// COCO detection datasets: one JSON with `images`, `annotations` and `categories`. yaml-cpp reads
// the JSON (JSON is YAML's flow style), which gives every entry's line for the findings.

#include <fmt/format.h>
#include <yaml-cpp/yaml.h>

#include <cmath>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "vpipe/validate/validate_internal.h"

namespace fs = std::filesystem;

namespace vpipe::validate_detail {
namespace {

int64_t line_of(const YAML::Node& node) { return node.Mark().is_null() ? 0 : node.Mark().line + 1; }

std::optional<int64_t> int_field(const YAML::Node& entry, const char* key) {
  const YAML::Node node = entry[key];
  if (!node || !node.IsScalar()) return std::nullopt;
  int64_t v = 0;
  if (!YAML::convert<int64_t>::decode(node, v)) return std::nullopt;
  return v;
}

std::optional<double> number(const YAML::Node& node) {
  if (!node || !node.IsScalar()) return std::nullopt;
  double v = 0;
  if (!YAML::convert<double>::decode(node, v) || !std::isfinite(v)) return std::nullopt;
  return v;
}

struct CocoImage {
  int64_t id = 0;
  int64_t line = 0;
  std::string file_name;  ///< empty when the entry has none
  int64_t width = 0;      ///< 0 when the entry has no valid width
  int64_t height = 0;
  bool annotated = false;
  std::vector<LabelledBox> boxes;  ///< valid bboxes of its annotations, in file order
};

/// True when `path` names `folder` or something inside it, by the names alone (lexically, after
/// removing "." and ".."; symbolic links are not followed).
bool within(const fs::path& path, const fs::path& folder) {
  const fs::path p = fs::absolute(path).lexically_normal();
  const fs::path f = fs::absolute(folder).lexically_normal();
  const fs::path rest = p.lexically_relative(f);
  return !rest.empty() && *rest.begin() != "..";
}

/// The folders `file_name` may be relative to, in the order they are tried.
std::vector<fs::path> image_bases(const ValidateOptions& options, const fs::path& json) {
  if (!options.coco_images.empty()) return {options.coco_images};
  std::vector<fs::path> candidates = {options.dir, options.dir / "images", json.parent_path()};
  // The COCO 2017 layout: annotations/instances_val2017.json beside val2017/.
  const std::string stem = json.stem().string();
  if (const size_t cut = stem.rfind('_'); cut != std::string::npos && cut + 1 < stem.size()) {
    candidates.push_back(options.dir / stem.substr(cut + 1));
  }
  std::vector<fs::path> bases;
  std::set<fs::path> seen;
  std::error_code ec;
  for (const fs::path& c : candidates) {
    const fs::path normal = c.lexically_normal();
    if (fs::is_directory(c, ec) && seen.insert(normal).second) bases.push_back(c);
  }
  return bases;
}

/// One COCO annotation file being checked: its entries read into `images` (with their boxes)
/// and `category_lines`, each finding added to `report` with the file's line.
struct CocoCheck {
  CocoCheck(const ValidateOptions& o, const fs::path& j, ValidationReport& r)
      : options(o), json(j), path(j.string()), report(r) {}

  const ValidateOptions& options;
  const fs::path& json;
  const std::string path;
  ValidationReport& report;
  std::map<int64_t, int64_t> category_lines;    // id -> line
  std::map<int64_t, CocoImage> images;          // by id
  std::vector<int64_t> image_order;             // ids in file order, first occurrence
  std::map<int64_t, int64_t> annotation_lines;  // id -> line

  void invalid(int64_t line, std::string message) {
    report.add(path, line, Severity::kError, "invalid_entry", std::move(message));
  }

  /// The top level's array `name`; a finding and nothing when it is missing or not an array.
  std::optional<YAML::Node> section(const YAML::Node& top, const char* name) {
    const YAML::Node node = top[name];
    if (!node) {
      invalid(line_of(top), fmt::format("no \"{}\" array", name));
      return std::nullopt;
    }
    if (!node.IsSequence()) {
      invalid(line_of(node), fmt::format("\"{}\" must be an array", name));
      return std::nullopt;
    }
    return node;
  }

  void read_category(const YAML::Node& entry) {
    const int64_t line = line_of(entry);
    const auto id = entry.IsMap() ? int_field(entry, "id") : std::nullopt;
    if (!id) {
      invalid(line, "category without an integer \"id\"");
      return;
    }
    if (auto [it, inserted] = category_lines.emplace(*id, line); !inserted) {
      report.add(path, line, Severity::kError, "duplicate_id",
                 fmt::format("category id {} is also used on line {}", *id, it->second));
    }
  }

  void read_image(const YAML::Node& entry) {
    CocoImage image;
    image.line = line_of(entry);
    const auto id = entry.IsMap() ? int_field(entry, "id") : std::nullopt;
    if (!id) {
      invalid(image.line, "image without an integer \"id\"");
      return;
    }
    image.id = *id;
    std::vector<std::string> problems;
    const YAML::Node file_name = entry["file_name"];
    if (file_name && file_name.IsScalar() && !file_name.Scalar().empty()) {
      image.file_name = file_name.Scalar();
    } else {
      problems.emplace_back("no \"file_name\"");
    }
    const auto width = int_field(entry, "width");
    const auto height = int_field(entry, "height");
    if (width && height && *width > 0 && *height > 0) {
      image.width = *width;
      image.height = *height;
    } else {
      problems.emplace_back("no positive integer \"width\" and \"height\"");
    }
    if (!problems.empty()) {
      invalid(image.line, fmt::format("image {}: {}", image.id, fmt::join(problems, ", ")));
    }
    if (auto [it, inserted] = images.emplace(image.id, image); !inserted) {
      report.add(path, image.line, Severity::kError, "duplicate_id",
                 fmt::format("image id {} is also used on line {}", image.id, it->second.line));
      return;
    }
    image_order.push_back(image.id);
  }

  void read_annotation(const YAML::Node& entry) {
    ++report.annotations;
    const int64_t line = line_of(entry);
    if (!entry.IsMap()) {
      invalid(line, "annotation must be an object");
      return;
    }
    const auto id = int_field(entry, "id");
    const auto image_id = int_field(entry, "image_id");
    const auto category_id = int_field(entry, "category_id");
    const YAML::Node bbox_node = entry["bbox"];
    std::optional<Box> bbox;
    double w = 0;
    double h = 0;
    if (bbox_node && bbox_node.IsSequence() && bbox_node.size() == 4) {
      const auto x = number(bbox_node[0]);
      const auto y = number(bbox_node[1]);
      const auto bw = number(bbox_node[2]);
      const auto bh = number(bbox_node[3]);
      if (x && y && bw && bh) {
        w = *bw;
        h = *bh;
        bbox = Box{*x, *y, *x + w, *y + h};
      }
    }
    std::vector<std::string> problems;
    if (!id) problems.emplace_back("no integer \"id\"");
    if (!image_id) problems.emplace_back("no integer \"image_id\"");
    if (!category_id) problems.emplace_back("no integer \"category_id\"");
    if (!bbox) problems.emplace_back("no \"bbox\" of 4 numbers [x, y, width, height]");
    if (!problems.empty()) invalid(line, fmt::format("annotation: {}", fmt::join(problems, ", ")));

    if (id) {
      if (auto [it, inserted] = annotation_lines.emplace(*id, line); !inserted) {
        report.add(path, line, Severity::kError, "duplicate_id",
                   fmt::format("annotation id {} is also used on line {}", *id, it->second));
      }
    }
    CocoImage* image = nullptr;
    if (image_id) {
      if (auto it = images.find(*image_id); it != images.end()) {
        image = &it->second;
        image->annotated = true;
      } else {
        report.add(path, line, Severity::kError, "unknown_image_id",
                   fmt::format("image_id {} is not in \"images\"", *image_id));
      }
    }
    if (category_id && category_lines.count(*category_id) == 0) {
      report.add(path, line, Severity::kError, "unknown_category_id",
                 fmt::format("category_id {} is not in \"categories\"", *category_id));
    }
    if (!bbox) return;
    if (w <= 0 || h <= 0) {
      report.add(path, line, Severity::kError, "box_degenerate",
                 fmt::format("bbox has no area (width {:g}, height {:g})", w, h));
      return;
    }
    if (image != nullptr && image->width > 0) {
      const double tx = options.box_tolerance * static_cast<double>(image->width);
      const double ty = options.box_tolerance * static_cast<double>(image->height);
      if (bbox->x1 < -tx || bbox->y1 < -ty || bbox->x2 > static_cast<double>(image->width) + tx ||
          bbox->y2 > static_cast<double>(image->height) + ty) {
        report.add(path, line, Severity::kError, "box_out_of_bounds",
                   fmt::format("bbox x {:g}..{:g}, y {:g}..{:g} reaches outside image {} ({}x{})",
                               bbox->x1, bbox->x2, bbox->y1, bbox->y2, image->id, image->width,
                               image->height));
      }
    }
    // Crowd regions (iscrowd 1) cover groups and may coincide with single objects' boxes.
    const bool crowd = int_field(entry, "iscrowd").value_or(0) != 0;
    if (image != nullptr && category_id && !crowd) {
      LabelledBox lb;
      lb.category = *category_id;
      lb.box = *bbox;
      lb.line = line;
      image->boxes.push_back(lb);
    }
  }

  /// Per-image findings, then each image's file: found within the dataset, decoded, its size
  /// against the entry's.
  void check_images(bool have_annotations) {
    // Per-image findings, then the files.
    const std::vector<fs::path> bases = image_bases(options, json);
    std::vector<fs::path> files;
    std::vector<const CocoImage*> decoded;
    for (const int64_t id : image_order) {
      const CocoImage& image = images.at(id);
      report_duplicates(image.boxes, options.duplicate_iou, path, "the annotation", report);
      if (have_annotations && !image.annotated) {
        report.add(path, image.line, Severity::kWarning, "unlabeled_image",
                   fmt::format("image {} ({}) has no annotations: a background image, which is "
                               "legal; make sure it is meant to be empty",
                               image.id, image.file_name));
      }
      if (image.file_name.empty()) continue;
      std::optional<fs::path> found;
      const fs::path name(image.file_name);
      // A file_name may not lead out of the dataset ("/etc/shadow", "../../secret"): it is a
      // finding, and the file is not opened. Judged on the names, so a folder of the dataset
      // that is a symbolic link elsewhere stays usable.
      const fs::path root = options.coco_images.empty() ? options.dir : options.coco_images;
      const bool escapes =
          name.is_absolute() ? !within(name, options.dir) && !within(name, root)
                             : std::none_of(bases.begin(), bases.end(), [&](const fs::path& base) {
                                 return within(base / name, base);
                               });
      if (escapes) {
        report.add(path, image.line, Severity::kError, "image_outside_dataset",
                   fmt::format("image {}: file {} lies outside the dataset ({}); not read",
                               image.id, image.file_name, root.string()));
        continue;
      }
      // A name the file system refuses (longer than NAME_MAX, a folder without permission) is not
      // found: the throwing overloads ended the whole validation (fuzz/validate_coco_fuzzer.cpp).
      std::error_code ec;
      if (name.is_absolute()) {
        if (fs::is_regular_file(name, ec)) found = name;
      } else {
        for (const fs::path& base : bases) {
          if (within(base / name, base) && fs::is_regular_file(base / name, ec)) {
            found = base / name;
            break;
          }
        }
      }
      if (!found) {
        std::vector<std::string> looked;
        for (const fs::path& base : bases) looked.push_back(base.string());
        report.add(path, image.line, Severity::kError, "image_missing",
                   name.is_absolute()
                       ? fmt::format("image {}: file {} not found", image.id, image.file_name)
                       : fmt::format("image {}: file {} not found (looked in {})", image.id,
                                     image.file_name, fmt::join(looked, ", ")));
        continue;
      }
      files.push_back(*found);
      decoded.push_back(&image);
    }

    const std::vector<ImageOutcome> outcomes =
        decode_images(files, options.threads, options.max_pixels);
    for (size_t i = 0; i < files.size(); ++i) {
      ++report.images;
      const CocoImage& image = *decoded[i];
      if (!report_image_outcome(outcomes[i], path, image.line, files[i].string(), report)) continue;
      if (image.width > 0 &&
          (outcomes[i].width != image.width || outcomes[i].height != image.height)) {
        const bool rotated = outcomes[i].width == image.height && outcomes[i].height == image.width;
        report.add(path, image.line, Severity::kError, "image_size_mismatch",
                   fmt::format(
                       "image {}: entry says {}x{} but {} is {}x{}{}", image.id, image.width,
                       image.height, files[i].string(), outcomes[i].width, outcomes[i].height,
                       rotated ? " (after its EXIF orientation; without it the sizes match)" : ""));
      }
    }
  }
};

void validate_one_json(const ValidateOptions& options, const fs::path& json,
                       ValidationReport& report) {
  CocoCheck check(options, json, report);
  report.sources.push_back(check.path);
  YAML::Node root;
  try {
    root = YAML::Load(read_text_file(json));
  } catch (const YAML::Exception& e) {
    report.add(check.path, e.mark.is_null() ? 0 : e.mark.line + 1, Severity::kError,
               "json_parse_error", "not valid JSON: " + e.msg);
    return;
  }
  if (!root.IsMap()) {
    check.invalid(line_of(root),
                  "the top level must be an object with images, annotations and categories");
    return;
  }
  const auto categories = check.section(root, "categories");
  const auto images = check.section(root, "images");
  const auto annotations = check.section(root, "annotations");
  if (categories) {
    for (const YAML::Node& entry : *categories) check.read_category(entry);
  }
  if (images) {
    for (const YAML::Node& entry : *images) check.read_image(entry);
  }
  if (annotations) {
    for (const YAML::Node& entry : *annotations) check.read_annotation(entry);
  }
  check.check_images(annotations.has_value());
}

}  // namespace

void validate_coco(const ValidateOptions& options, const std::vector<fs::path>& jsons,
                   ValidationReport& report) {
  for (const fs::path& json : jsons) validate_one_json(options, json, report);
}

}  // namespace vpipe::validate_detail
