// The predictions pages (per model and label) and crops.html.

#include "vpipe/infer/inference_store.h"
#include "vpipe/report/report_writer.h"

namespace vpipe::report_detail {

bool ReportWriter::has_label(const InferenceStore::FileDetections& fd, const std::string& label) {
  return std::any_of(fd.detections.begin(), fd.detections.end(), [&](const DetectionRecord& d) {
    return label_of(d) == label && (d.task != "classify" || d.rank == 0);
  });
}

std::string ReportWriter::model_tabs(const std::string& active) const {
  if (models_.size() < 2) return {};
  std::string out = "<nav class=\"tabs\" aria-label=\"models\">";
  for (const std::string& model : models_) {
    fmt::format_to(std::back_inserter(out), "<a href=\"{}\"{}>model ",
                   detections_page(model, {}, 1), model == active ? " class=\"active\"" : "");
    append_html_escaped(out, model);
    out += "</a>";
  }
  out += "</nav>";
  return out;
}

std::string ReportWriter::label_tabs(const ModelTotals& t, const std::string& active) {
  std::string out = "<nav class=\"tabs\" aria-label=\"labels\">";
  fmt::format_to(std::back_inserter(out),
                 "<a href=\"{}\"{}>All labels<span class=\"n\">{}</span>"
                 "</a>",
                 detections_page(t.model, {}, 1), active.empty() ? " class=\"active\"" : "",
                 grouped(t.files_shown));
  int64_t unlinked = 0;
  for (const auto& [label, predictions] : t.labels) {
    if (!t.label_pages.contains(label)) {
      ++unlinked;
      continue;
    }
    fmt::format_to(std::back_inserter(out), "<a href=\"{}\"{}><i class=\"dot {}\"></i>",
                   detections_page(t.model, label, 1), label == active ? " class=\"active\"" : "",
                   label_colour(label));
    append_html_escaped(out, label);
    fmt::format_to(std::back_inserter(out), "<span class=\"n\">{}</span></a>",
                   grouped(t.label_files.at(label)));
  }
  if (unlinked > 0) {
    fmt::format_to(std::back_inserter(out), "<span class=\"muted\">and {} rarer labels</span>",
                   grouped(unlinked));
  }
  out += "</nav>";
  return out;
}

void ReportWriter::render_prediction_tile(std::string& out,
                                          const InferenceStore::FileDetections& fd,
                                          const Thumbnail& thumb, const std::string& label) const {
  const FileRecord& f = fd.file;
  out += "<figure class=\"tile ptile\">";
  const bool boxes = std::any_of(fd.detections.begin(), fd.detections.end(),
                                 [](const DetectionRecord& d) { return d.has_box; });
  if (!thumb.src.empty() && f.width > 0 && f.height > 0) {
    // The preview keeps the aspect ratio; scaling each axis by its own rounded side keeps
    // the boxes exactly on the picture that the browser stretches over the same viewBox.
    const auto [tw, th] = preview_size(f.width, f.height, previews_size());
    const double sx = static_cast<double>(tw) / f.width;
    const double sy = static_cast<double>(th) / f.height;
    fmt::format_to(std::back_inserter(out),
                   "<div class=\"pview\"><img src=\"{}\" width=\"{}\" height=\"{}\" alt=\"\" "
                   "loading=\"lazy\">",
                   thumb.src, tw, th);
    if (boxes) {
      fmt::format_to(std::back_inserter(out),
                     "<svg class=\"boxes\" viewBox=\"0 0 {} {}\" preserveAspectRatio=\"none\" "
                     "xmlns=\"http://www.w3.org/2000/svg\">",
                     tw, th);
      for (const DetectionRecord& d : fd.detections) {
        if (!d.has_box) continue;
        const std::string name = label_of(d);
        const std::string text = fmt::format("{} {:.2f}", esc(name), d.score);
        const double x = d.x1 * sx, y = d.y1 * sy;
        fmt::format_to(std::back_inserter(out),
                       "<g class=\"det {}{}\"><title>{}</title><rect class=\"det-box\" "
                       "x=\"{:.1f}\" y=\"{:.1f}\" width=\"{:.1f}\" height=\"{:.1f}\"/>",
                       label_colour(name), !label.empty() && name != label ? " dim" : "", text, x,
                       y, (d.x2 - d.x1) * sx, (d.y2 - d.y1) * sy);
        for (size_t k = 0; k + 1 < d.keypoints.size(); k += 2) {
          fmt::format_to(std::back_inserter(out),
                         "<circle class=\"det-kp\" cx=\"{:.1f}\" cy=\"{:.1f}\" r=\"2.5\"/>",
                         d.keypoints[k] * sx, d.keypoints[k + 1] * sy);
        }
        // Above the box, or inside its top edge when the box touches the top of the picture.
        fmt::format_to(std::back_inserter(out),
                       "<text class=\"det-label\" x=\"{:.1f}\" y=\"{:.1f}\">{}</text></g>",
                       std::max(0.0, x) + 1, y >= 13 ? y - 3 : std::max(0.0, y) + 11, text);
      }
      out += "</svg>";
    }
    out += "</div>";
  } else {
    append_thumb(out, thumb, {});
  }
  out += "<figcaption>";
  append_name(out, f.path);
  const auto n = static_cast<int64_t>(fd.detections.size());
  const bool classes = !fd.detections.empty() && fd.detections.front().task == "classify";
  fmt::format_to(std::back_inserter(out), "<div class=\"facts\"><span>{}</span><span>{}</span>",
                 size_text(f),
                 classes ? count_text(n, "class", "classes") : count_text(n, "box", "boxes"));
  if (!fd.crops.empty())
    fmt::format_to(std::back_inserter(out), "<span>{}</span>",
                   count_text(static_cast<int64_t>(fd.crops.size()), "crop", "crops"));
  out += "</div>";
  if (classes) {
    // Whole-image classes: "cat 0.93, dog 0.04".
    out += "<div class=\"classes\">";
    for (size_t i = 0; i < fd.detections.size() && i < kCaptionPredictions; ++i) {
      const DetectionRecord& d = fd.detections[i];
      if (i > 0) out += ", ";
      out += i == 0 ? "<span class=\"top\">" : "<span>";
      append_html_escaped(out, label_of(d));
      fmt::format_to(std::back_inserter(out), " {:.2f}</span>", d.score);
    }
    out += "</div>";
  } else if (n > 0) {
    out += "<div class=\"preds\">";
    for (size_t i = 0; i < fd.detections.size() && i < kCaptionPredictions; ++i) {
      const DetectionRecord& d = fd.detections[i];
      const std::string name = label_of(d);
      fmt::format_to(std::back_inserter(out), "<span class=\"pred {}\">", label_colour(name));
      append_html_escaped(out, name);
      fmt::format_to(std::back_inserter(out), " {:.2f}</span>", d.score);
    }
    if (fd.detections.size() > kCaptionPredictions) {
      fmt::format_to(std::back_inserter(out), "<span class=\"muted\">+{} more</span>",
                     fd.detections.size() - kCaptionPredictions);
    }
    out += "</div>";
  } else {
    out += "<div class=\"muted\">nothing found</div>";
  }
  out += "</figcaption></figure>";
}

int ReportWriter::previews_size() const {
  return std::max(16, kPreviewScale * options_.thumbnail_size);
}

void ReportWriter::write_prediction_pages(const ModelTotals& t, const std::string& label,
                                          int64_t count) {
  const int64_t pages = pages_for(count, page_size_);
  const auto name = [&](int64_t p) { return detections_page(t.model, label, p); };
  int64_t page = 1;
  std::vector<InferenceStore::FileDetections> rows;
  const auto write = [&] {
    std::vector<const FileRecord*> files;
    files.reserve(rows.size());
    for (const InferenceStore::FileDetections& r : rows) files.push_back(&r.file);
    const std::vector<Thumbnail> thumbs = previews_.get(files);
    std::string body = "<h1>Predictions of ";
    append_html_escaped(body, t.model);
    if (!label.empty()) {
      body += ": ";
      append_html_escaped(body, label);
    }
    body += "</h1><div class=\"sub\">";
    if (label.empty()) {
      fmt::format_to(std::back_inserter(body), "{} with predictions &middot; {} &middot; ",
                     count_text(count, "image", "images"),
                     t.classifier ? count_text(t.detections, "class", "classes")
                                  : count_text(t.detections, "detection", "detections"));
      if (t.failed > 0) {
        fmt::format_to(std::back_inserter(body), "{} failed &middot; ",
                       count_text(t.failed, "image", "images"));
      }
    } else {
      fmt::format_to(std::back_inserter(body), "{} {} &middot; ",
                     count_text(count, "image", "images"),
                     t.classifier ? "classified so (best class)" : "with this label");
    }
    fmt::format_to(std::back_inserter(body), "by path; on this page {}&ndash;{}</div>",
                   count == 0 ? 0 : (page - 1) * page_size_ + 1,
                   std::min(count, page * page_size_));
    body += model_tabs(t.model);
    body += label_tabs(t, label);
    const std::string nav = pager(page, pages, name, fmt::format("page {} of {}", page, pages));
    body += nav;
    if (rows.empty()) body += "<div class=\"empty\">No images on this page.</div>";
    body += "<div class=\"gallery preds-gallery\">";
    for (size_t i = 0; i < rows.size(); ++i)
      render_prediction_tile(body, rows[i], thumbs[i], label);
    body += "</div>";
    body += nav;
    write_page(name(page), "detections",
               fmt::format("Predictions of {}{}{}, page {}", t.model, label.empty() ? "" : ": ",
                           label, page),
               body);
    rows.clear();
    ++page;
  };
  InferenceStore::DetectionQuery query;
  query.model = t.model;
  InferenceStore(manifest_).for_each_detection(
      query, [&](const InferenceStore::FileDetections& fd) {
        if (!label.empty() && !has_label(fd, label)) return true;
        if (static_cast<int64_t>(rows.size()) == page_size_) write();
        rows.push_back(fd);
        return true;
      });
  while (page <= pages) write();
}

void ReportWriter::write_model_pages(const std::string& model) {
  ModelTotals t;
  t.model = model;
  const std::map<std::string, int64_t> status = InferenceStore(manifest_).inference_counts(model);
  const auto of = [&](const char* s) {
    const auto it = status.find(s);
    return it == status.end() ? int64_t{0} : it->second;
  };
  t.ok = of("ok");
  t.failed = of("failed");
  t.detections = InferenceStore(manifest_).count_detections(model);
  for (const auto& [label, n] : InferenceStore(manifest_).label_counts(model))
    t.labels.emplace_back(label, n);
  std::stable_sort(t.labels.begin(), t.labels.end(),
                   [](const auto& a, const auto& b) { return a.second > b.second; });
  // One streaming pass to count the files of each label: the label pages' pagers need them.
  InferenceStore::DetectionQuery query;
  query.model = model;
  InferenceStore(manifest_).for_each_detection(query,
                                               [&](const InferenceStore::FileDetections& fd) {
                                                 ++t.files_shown;
                                                 std::set<std::string> labels;
                                                 for (const DetectionRecord& d : fd.detections) {
                                                   if (d.task == "classify") {
                                                     t.classifier = true;
                                                     if (d.rank != 0) continue;
                                                   }
                                                   labels.insert(label_of(d));
                                                 }
                                                 for (const std::string& label : labels)
                                                   ++t.label_files[label];
                                                 return true;
                                               });
  for (const auto& [label, n] : t.labels) {
    if (t.label_pages.size() == kLabelPages) break;
    if (t.label_files.contains(label)) t.label_pages.insert(label);
  }
  write_prediction_pages(t, {}, t.files_shown);
  for (const std::string& label : t.label_pages)
    write_prediction_pages(t, label, t.label_files.at(label));
  model_totals_.push_back(std::move(t));
}

void ReportWriter::render_crop_tile(std::string& out, const CropTile& c, const Thumbnail& thumb,
                                    const std::string& root) {
  const std::string name = label_of(c.detection);
  out += "<figure class=\"tile crop\">";
  append_thumb(out, thumb, {});
  fmt::format_to(std::back_inserter(out),
                 "<figcaption><div class=\"preds\"><span class=\"pred {}\">", label_colour(name));
  append_html_escaped(out, name);
  fmt::format_to(std::back_inserter(out),
                 " {:.2f}</span></div><div class=\"facts\"><span>{}&times;{}</span><span>",
                 c.detection.score, c.crop.width, c.crop.height);
  append_html_escaped(out, c.detection.model);
  out += "</span></div>";
  // The source image, its directory relative to the corpus root, as the other galleries do.
  auto [dir, base] = split_path(c.source);
  if (!root.empty() && dir.starts_with(root)) dir.remove_prefix(root.size());
  fmt::format_to(std::back_inserter(out),
                 "<div class=\"fdir src\" title=\"{}\"><span dir=\"ltr\">from {}{}</span></div>",
                 esc(c.source), esc(dir), esc(base));
  fmt::format_to(std::back_inserter(out),
                 "<div class=\"fdir\" title=\"{0}\"><span dir=\"ltr\">{0}</span></div>",
                 esc(c.crop.path));
  out += "</figcaption></figure>";
}

void ReportWriter::write_crops_pages() {
  const int64_t pages = pages_for(crops_, page_size_);
  int64_t page = 1;
  std::vector<CropTile> tiles;
  const auto write = [&] {
    std::vector<const FileRecord*> files;
    files.reserve(tiles.size());
    for (const CropTile& c : tiles) files.push_back(&c.picture);
    const std::vector<Thumbnail> thumbs = thumbs_.get(files);
    std::string body = fmt::format(
        "<h1>Crops</h1><div class=\"sub\">{} cut from the images by <code>vpipe detect "
        "--crops</code>, by source path; on this page {}&ndash;{}</div>",
        count_text(crops_, "crop", "crops"), crops_ == 0 ? 0 : (page - 1) * page_size_ + 1,
        std::min(crops_, page * page_size_));
    const std::string nav =
        pager(page, pages, crops_page, fmt::format("page {} of {}", page, pages));
    body += nav;
    if (tiles.empty()) body += "<div class=\"empty\">No crops on this page.</div>";
    body += "<div class=\"gallery\">";
    for (size_t i = 0; i < tiles.size(); ++i) render_crop_tile(body, tiles[i], thumbs[i], root_);
    body += "</div>";
    body += nav;
    write_page(crops_page(page), "crops", fmt::format("Crops, page {}", page), body);
    tiles.clear();
    ++page;
  };
  InferenceStore(manifest_).for_each_detection({}, [&](const InferenceStore::FileDetections& fd) {
    for (const CropRecord& crop : fd.crops) {
      const auto d =
          std::find_if(fd.detections.begin(), fd.detections.end(),
                       [&](const DetectionRecord& x) { return x.id == crop.detection_id; });
      if (d == fd.detections.end()) continue;  // for_each_detection pairs them; never here
      if (static_cast<int64_t>(tiles.size()) == page_size_) write();
      CropTile tile;
      tile.crop = crop;
      tile.detection = *d;
      tile.source = fd.file.path;
      tile.picture.path = crop.path;
      tile.picture.size_bytes = crop.size_bytes;
      tile.picture.mtime_ns = static_cast<int64_t>(crop.xxh64);
      tile.picture.status = ItemStatus::kOk;
      tile.picture.width = crop.width;
      tile.picture.height = crop.height;
      tiles.push_back(std::move(tile));
    }
    return true;
  });
  while (page <= pages) write();
}

}  // namespace vpipe::report_detail
