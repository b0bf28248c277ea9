// YOLO (Ultralytics/Darknet) datasets: images under an `images` folder, one label file per image
// under the mirrored `labels` folder (Ultralytics' rule: the last `images` component of the
// image's path becomes `labels`, the extension becomes .txt), class names in data.yaml.

#include <fmt/format.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "vpipe/io/format.h"
#include "vpipe/io/walk.h"
#include "vpipe/validate/validate_internal.h"

namespace fs = std::filesystem;

namespace vpipe::validate_detail {
namespace {

/// What data.yaml says about the classes and the label line shape.
struct DataYaml {
  std::optional<int64_t> classes;  ///< number of classes (from names, else nc); nullopt: unknown
  int64_t keypoint_values = 0;     ///< pose datasets: kpt_shape[0] * kpt_shape[1]; 0: none
};

int64_t line_of(const YAML::Node& node) { return node.Mark().is_null() ? 0 : node.Mark().line + 1; }

std::optional<int64_t> as_int(const YAML::Node& node) {
  if (!node.IsScalar()) return std::nullopt;
  int64_t v = 0;
  if (!YAML::convert<int64_t>::decode(node, v)) return std::nullopt;
  return v;
}

DataYaml read_data_yaml(const fs::path& dir, ValidationReport& report) {
  DataYaml data;
  fs::path file = dir / "data.yaml";
  if (!fs::is_regular_file(file) && fs::is_regular_file(dir / "data.yml")) file = dir / "data.yml";
  const std::string path = file.string();
  if (!fs::is_regular_file(file)) {
    report.add(path, 0, Severity::kWarning, "data_yaml_missing",
               "no data.yaml (or data.yml): class ids are not checked against the class names");
    return data;
  }
  report.sources.push_back(path);
  auto invalid = [&](int64_t line, std::string message) {
    report.add(path, line, Severity::kError, "data_yaml_invalid", std::move(message));
  };
  YAML::Node root;
  try {
    root = YAML::Load(read_text_file(file));
  } catch (const YAML::Exception& e) {
    invalid(e.mark.is_null() ? 0 : e.mark.line + 1, "not valid YAML: " + e.msg);
    return data;
  }
  if (!root.IsMap()) {
    invalid(line_of(root), "expected a mapping with `names` and/or `nc`");
    return data;
  }
  std::optional<int64_t> from_names;
  if (const YAML::Node names = root["names"]) {
    if (names.IsSequence()) {
      from_names = static_cast<int64_t>(names.size());
    } else if (names.IsMap()) {
      // Ultralytics' {0: person, 1: car}: the keys must be 0..N-1.
      std::set<int64_t> keys;
      bool ok = true;
      for (const auto& kv : names) {
        const auto key = as_int(kv.first);
        if (!key || *key < 0) {
          invalid(line_of(kv.first), "`names` keys must be class ids 0, 1, 2, ...");
          ok = false;
          break;
        }
        keys.insert(*key);
      }
      if (ok && !keys.empty() &&
          (*keys.begin() != 0 || *keys.rbegin() != static_cast<int64_t>(keys.size()) - 1)) {
        invalid(line_of(names),
                fmt::format("`names` keys must be 0..{} without gaps", keys.size() - 1));
        ok = false;
      }
      if (ok) from_names = static_cast<int64_t>(keys.size());
    } else {
      invalid(line_of(names), "`names` must be a list or a mapping of class id to name");
    }
  }
  std::optional<int64_t> nc;
  if (const YAML::Node nc_node = root["nc"]) {
    nc = as_int(nc_node);
    if (!nc || *nc < 0) {
      invalid(line_of(nc_node), "`nc` must be a non-negative integer");
      nc.reset();
    }
    if (nc && from_names && *nc != *from_names) {
      invalid(line_of(nc_node),
              fmt::format("`nc` is {} but `names` has {} classes", *nc, *from_names));
    }
  }
  if (!root["names"] && !root["nc"])
    invalid(line_of(root), "neither `names` nor `nc`: the classes are unknown");
  data.classes = from_names ? from_names : nc;
  if (const YAML::Node kpt = root["kpt_shape"]) {
    std::optional<int64_t> k;
    std::optional<int64_t> d;
    if (kpt.IsSequence() && kpt.size() == 2) {
      k = as_int(kpt[0]);
      d = as_int(kpt[1]);
    }
    if (!k || !d || *k <= 0 || (*d != 2 && *d != 3)) {
      invalid(line_of(kpt), "`kpt_shape` must be [keypoints, 2 or 3]");
    } else {
      data.keypoint_values = *k * *d;
    }
  }
  return data;
}

/// `rel` with its last component named `from` renamed `to`; nullopt when it has none (the file
/// is not in such a folder). The file name itself is not a candidate.
std::optional<fs::path> swap_component(const fs::path& rel, const std::string& from,
                                       const std::string& to) {
  std::vector<fs::path> parts(rel.begin(), rel.end());
  if (parts.size() < 2) return std::nullopt;
  for (size_t i = parts.size() - 1; i-- > 0;) {
    if (parts[i] == from) {
      parts[i] = to;
      fs::path out;
      for (const auto& p : parts) out /= p;
      return out;
    }
  }
  return std::nullopt;
}

/// Class ids from this on are refused whatever data.yaml says: 2^53, the first integer a double
/// cannot tell from its neighbour.
constexpr double kLargestClassId = 9007199254740992.0;

bool parse_number(std::string_view token, double& value) {
  const char* end = token.data() + token.size();
  const auto [ptr, ec] = std::from_chars(token.data(), end, value);
  return ec == std::errc() && ptr == end && std::isfinite(value);
}

void check_label_file(const std::string& path, const std::string& text, const DataYaml& data,
                      const ValidateOptions& options, ValidationReport& report) {
  std::vector<LabelledBox> boxes;
  const double tol = options.box_tolerance;
  int64_t line_no = 0;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t eol = text.find('\n', pos);
    if (eol == std::string::npos) eol = text.size();
    const std::string_view line(text.data() + pos, eol - pos);
    pos = eol + 1;
    ++line_no;
    std::vector<std::string_view> tokens;
    for (size_t i = 0; i < line.size();) {
      while (i < line.size() && std::isspace(static_cast<unsigned char>(line[i]))) ++i;
      size_t j = i;
      while (j < line.size() && !std::isspace(static_cast<unsigned char>(line[j]))) ++j;
      if (j > i) tokens.push_back(line.substr(i, j - i));
      i = j;
    }
    if (tokens.empty()) continue;  // blank lines are ignored, as Ultralytics does
    ++report.annotations;

    auto malformed = [&](std::string message) {
      report.add(path, line_no, Severity::kError, "malformed_line", std::move(message));
    };
    std::vector<double> v(tokens.size());
    bool numeric = true;
    for (size_t i = 0; i < tokens.size() && numeric; ++i) {
      if (!parse_number(tokens[i], v[i])) {
        malformed(fmt::format("'{}' is not a number", tokens[i]));
        numeric = false;
      }
    }
    if (!numeric) continue;
    const auto n = static_cast<int64_t>(v.size());
    enum class Shape { kBox, kPose, kPolygon } shape;
    if (n == 5) {
      shape = Shape::kBox;
    } else if (data.keypoint_values > 0 && n == 5 + data.keypoint_values) {
      shape = Shape::kPose;
    } else if (n >= 7 && (n - 1) % 2 == 0) {
      shape = Shape::kPolygon;
    } else {
      malformed(data.keypoint_values > 0
                    ? fmt::format("{} values: expected 5 (class cx cy w h), {} (with kpt_shape's "
                                  "keypoints) or a polygon (class x1 y1 ... xn yn, n >= 3)",
                                  n, 5 + data.keypoint_values)
                    : fmt::format("{} values: expected 5 (class cx cy w h) or a polygon "
                                  "(class x1 y1 x2 y2 ... xn yn, n >= 3)",
                                  n));
      continue;
    }
    if (v[0] != std::floor(v[0])) {
      malformed(fmt::format("class id '{}' is not an integer", tokens[0]));
      continue;
    }
    // The id is named as written: past 2^53 a double holds no exact integer, and past int64 it
    // has no conversion at all (1e30 once showed as -9223372036854775808).
    const bool representable = v[0] >= 0 && v[0] < kLargestClassId;
    const int64_t cls = representable ? static_cast<int64_t>(v[0]) : -1;
    if (!representable || (data.classes && cls >= *data.classes)) {
      report.add(path, line_no, Severity::kError, "class_out_of_range",
                 data.classes ? fmt::format("class id {} is outside 0..{} (data.yaml has {} classes)",
                                            tokens[0], *data.classes - 1, *data.classes)
                 : v[0] < 0   ? fmt::format("class id {} is negative", tokens[0])
                              : fmt::format("class id {} is too large for a class id", tokens[0]));
    }

    Box box;
    bool outside = false;
    if (shape == Shape::kPolygon) {
      box = {1e300, 1e300, -1e300, -1e300};
      for (int64_t i = 1; i + 1 < n; i += 2) {
        const double x = v[i];
        const double y = v[i + 1];
        box.x1 = std::min(box.x1, x);
        box.y1 = std::min(box.y1, y);
        box.x2 = std::max(box.x2, x);
        box.y2 = std::max(box.y2, y);
        outside = outside || x < -tol || x > 1 + tol || y < -tol || y > 1 + tol;
      }
    } else {
      box = {v[1] - v[3] / 2, v[2] - v[4] / 2, v[1] + v[3] / 2, v[2] + v[4] / 2};
      outside = box.x1 < -tol || box.y1 < -tol || box.x2 > 1 + tol || box.y2 > 1 + tol;
    }
    if (box.x2 - box.x1 <= 0 || box.y2 - box.y1 <= 0) {
      report.add(path, line_no, Severity::kError, "box_degenerate",
                 shape == Shape::kPolygon
                     ? fmt::format("polygon has no area (bounding box {:g}x{:g})", box.x2 - box.x1,
                                   box.y2 - box.y1)
                     : fmt::format("box has no area (width {:g}, height {:g})", v[3], v[4]));
      continue;
    }
    if (outside) {
      report.add(path, line_no, Severity::kError, "box_out_of_bounds",
                 fmt::format("{} reaches outside the image: x {:g}..{:g}, y {:g}..{:g} "
                             "(normalised; allowed 0..1 +- {:g})",
                             shape == Shape::kPolygon ? "polygon" : "box", box.x1, box.x2, box.y1,
                             box.y2, tol));
    }
    LabelledBox lb;
    lb.category = cls;
    lb.box = box;
    lb.line = line_no;
    boxes.push_back(lb);
  }
  report_duplicates(boxes, options.duplicate_iou, path, "the box", report);
}

}  // namespace

void validate_yolo(const ValidateOptions& options, ValidationReport& report) {
  const fs::path& dir = options.dir;
  const DataYaml data = read_data_yaml(dir, report);

  struct ImageFile {
    std::string path;
    fs::path label_rel;  ///< where its label file should be, relative to dir
  };
  std::vector<ImageFile> images;
  std::map<fs::path, std::string> labels;  // relative path -> path as walked
  std::set<fs::path> image_stems;          // relative paths without extension
  const std::vector<std::string> roots = {dir.string()};
  walk_files(roots, [&](WalkEntry&& e) {
    const fs::path rel = fs::path(e.path).lexically_relative(dir);
    if (has_image_extension(e.path)) {
      if (auto label = swap_component(rel, "images", "labels")) {
        image_stems.insert(fs::path(rel).replace_extension());
        images.push_back({e.path, label->replace_extension(".txt")});
      }
    } else if (rel.extension() == ".txt" && rel.filename() != "classes.txt" &&
               swap_component(rel, "labels", "images")) {
      labels.emplace(rel, e.path);
    }
    return true;
  });

  if (images.empty()) {
    report.add(dir.string(), 0, Severity::kError, "no_images",
               "no image files under an images/ folder (expected images/[split/]NAME.jpg with "
               "labels/[split/]NAME.txt)");
  }
  for (const ImageFile& image : images) {
    if (labels.count(image.label_rel) == 0) {
      report.add(image.path, 0, Severity::kWarning, "unlabeled_image",
                 fmt::format("no label file ({}): a background image with no objects, which is "
                             "legal; make sure it is meant to be empty",
                             (dir / image.label_rel).string()));
    }
  }
  for (const auto& [rel, path] : labels) {
    const fs::path image_stem = swap_component(rel, "labels", "images")->replace_extension();
    if (image_stems.count(image_stem) == 0) {
      report.add(path, 0, Severity::kError, "label_without_image",
                 fmt::format("no image for this label file (expected {}.jpg, .png, ...)",
                             (dir / image_stem).string()));
    }
    std::string text;
    try {
      text = read_text_file(path);
    } catch (const std::exception& e) {
      report.add(path, 0, Severity::kError, "label_unreadable", e.what());
      continue;
    }
    ++report.label_files;
    check_label_file(path, text, data, options, report);
  }

  std::vector<fs::path> files;
  files.reserve(images.size());
  for (const ImageFile& image : images) files.emplace_back(image.path);
  const std::vector<ImageOutcome> outcomes =
      decode_images(files, options.threads, options.max_pixels);
  for (size_t i = 0; i < images.size(); ++i) {
    ++report.images;
    report_image_outcome(outcomes[i], images[i].path, 0, images[i].path, report);
  }
}

}  // namespace vpipe::validate_detail
