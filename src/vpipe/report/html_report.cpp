#include "vpipe/report/html_report.h"

#include <fmt/format.h>
#include <xxhash.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <deque>
#include <functional>
#include <iterator>
#include <map>
#include <optional>
#include <regex>
#include <set>
#include <span>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

#include "vpipe/core/error.h"
#include "vpipe/core/log.h"
#include "vpipe/core/version.h"
#include "vpipe/dedup/grouping.h"
#include "vpipe/io/atomic_file.h"
#include "vpipe/io/jpeg_quality.h"
#include "vpipe/io/manifest.h"
#include "vpipe/io/walk.h"
#include "vpipe/quality/rules.h"
#include "vpipe/report/html.h"
#include "vpipe/report/style.h"
#include "vpipe/report/svg.h"
#include "vpipe/report/thumbnails.h"

namespace vpipe {
namespace {

namespace fs = std::filesystem;
using CuratedFile = Manifest::CuratedFile;
using CuratedQuery = Manifest::CuratedQuery;

/// Examples of each rule shown on rejects.html.
constexpr int64_t kOverviewExamples = 6;
/// Largest groups previewed on index.html.
constexpr size_t kIndexGroupPreviews = 8;
/// Runs listed on index.html, newest first.
constexpr size_t kRunsShown = 20;
/// Predictions pages show thumbnails this many times the gallery size, so that boxes and their
/// labels can be read; they are cached beside the others (the size is part of the cache key).
constexpr int kPreviewScale = 2;
/// Labels of a model that get pages of their own (the most frequent); the rest are only counted.
constexpr size_t kLabelPages = 30;
/// Labels of a model listed on index.html.
constexpr size_t kIndexLabels = 12;
constexpr size_t kIndexHosts = 15;  // hosts listed on the index page (busiest first)
/// Predictions listed under a thumbnail (the boxes on it show them all).
constexpr size_t kCaptionPredictions = 6;

/// What a quality rule means, for page headings (the threshold rules' own words, quality/rules.h).
std::string_view rule_text(std::string_view rule) {
  for (const ThresholdRuleInfo& r : threshold_rules()) {
    if (r.rule == rule) return r.meaning;
  }
  if (rule == "corrupt") return "no usable pixels: the file could not be read or decoded";
  return "rejected by this rule";
}

// ---------------------------------------------------------------------------------------------
// Small formatting helpers.

std::string esc(std::string_view text) { return html_escape(text); }

/// 1234567 -> "1,234,567".
std::string grouped(int64_t n) {
  std::string digits = std::to_string(n < 0 ? -n : n);
  std::string out;
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return n < 0 ? "-" + out : out;
}

/// "1 file", "2 files".
std::string count_text(int64_t n, std::string_view one, std::string_view many) {
  return fmt::format("{} {}", grouped(n), n == 1 ? one : many);
}

std::string percent(int64_t part, int64_t whole) {
  if (whole <= 0) return "0%";
  const double p = 100.0 * static_cast<double>(part) / static_cast<double>(whole);
  if (p > 0 && p < 0.1) return "<0.1%";
  return fmt::format("{:.1f}%", p);
}

/// Share 0..100 for CSS widths.
double share(int64_t part, int64_t whole) {
  return whole <= 0 ? 0.0 : 100.0 * static_cast<double>(part) / static_cast<double>(whole);
}

std::string format_bytes(int64_t bytes) {
  const auto b = static_cast<double>(bytes);
  if (bytes < 1024) return fmt::format("{} B", bytes);
  if (b < 1024.0 * 1024) return fmt::format("{:.1f} KB", b / 1024);
  if (b < 1024.0 * 1024 * 1024) return fmt::format("{:.1f} MB", b / (1024.0 * 1024));
  return fmt::format("{:.2f} GB", b / (1024.0 * 1024 * 1024));
}

std::string format_duration(int64_t ns) {
  const double s = static_cast<double>(ns) / 1e9;
  if (s < 1) return fmt::format("{:.0f} ms", s * 1e3);
  if (s < 60) return fmt::format("{:.2f} s", s);
  const auto total = static_cast<int64_t>(s);
  if (total < 3600) return fmt::format("{} min {:02} s", total / 60, total % 60);
  return fmt::format("{} h {:02} min", total / 3600, (total / 60) % 60);
}

/// A measured value for display: 4 significant digits.
std::string value_text(double v) { return fmt::format("{:.4g}", v); }

/// "2024-05-01T12:34:56.789Z" -> "2024-05-01 12:34:56" (the manifest's timestamps, shortened).
std::string short_time(std::string_view iso) {
  std::string out(iso.substr(0, 19));
  if (out.size() > 10 && out[10] == 'T') out[10] = ' ';
  return out;
}

/// The runs' counts, a flat JSON object of numbers, as "keep 403 · reject 144".
std::string counts_text(std::string_view json) {
  std::string out;
  for (char c : json) {
    if (c == '{' || c == '}' || c == '"') continue;
    if (c == ',') {
      out += " · ";
    } else if (c == ':') {
      out += ' ';
    } else {
      out += c;
    }
  }
  return out;
}

std::string now_utc() {
  const std::time_t t = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M UTC", &tm);
  return buf;
}

/// The keeper order of the newest dedup pass, as its run recorded it (`"keeper":[...]` in the
/// config of `vpipe dedup` and `vpipe run`); the default order when none is recorded.
std::vector<KeeperCriterion> recorded_keeper_order(const std::vector<Manifest::RunRecord>& runs) {
  static const std::regex kKeeperList(R"re("keeper"\s*:\s*\[([^\]]*)\])re");
  static const std::regex kName(R"re("([a-z_]+)")re");
  for (auto run = runs.rbegin(); run != runs.rend(); ++run) {
    if (run->command != "dedup") continue;
    std::smatch list;
    if (!std::regex_search(run->config, list, kKeeperList)) break;
    std::vector<KeeperCriterion> order;
    const std::string names = list[1].str();
    for (auto it = std::sregex_iterator(names.begin(), names.end(), kName);
         it != std::sregex_iterator(); ++it) {
      if (const auto c = keeper_criterion_from_string((*it)[1].str())) order.push_back(*c);
    }
    if (!order.empty()) return order;
    break;
  }
  return DedupOptions{}.keeper_order;
}

/// "a/b/c.jpg" -> {"a/b/", "c.jpg"}. Splitting at '/' never cuts a UTF-8 sequence.
std::pair<std::string_view, std::string_view> split_path(std::string_view path) {
  const size_t slash = path.rfind('/');
  if (slash == std::string_view::npos) return {{}, path};
  return {path.substr(0, slash + 1), path.substr(slash + 1)};
}

/// The longest directory prefix ("/data/photos/") shared by two paths; "" when none.
std::string common_directory(std::string_view a, std::string_view b) {
  const size_t n =
      static_cast<size_t>(std::mismatch(a.begin(), a.end(), b.begin(), b.end()).first - a.begin());
  const size_t slash = a.substr(0, n).rfind('/');
  return slash == std::string_view::npos ? std::string() : std::string(a.substr(0, slash + 1));
}

/// A file-name-safe form of a rule name ([A-Za-z0-9_-]); anything else is replaced and a short
/// hash keeps two different rules apart.
std::string rule_slug(const std::string& rule) {
  std::string slug;
  bool changed = rule.empty();
  for (char c : rule) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '_' || c == '-';
    slug += ok ? c : '_';
    changed = changed || !ok;
  }
  if (changed)
    slug += fmt::format("-{:08x}", static_cast<uint32_t>(XXH3_64bits(rule.data(), rule.size())));
  return slug;
}

int64_t pages_for(int64_t items, int64_t page_size) {
  return std::max<int64_t>(1, (items + page_size - 1) / page_size);
}

std::string groups_page(int64_t page) { return fmt::format("groups-{}.html", page); }
std::string files_page(int64_t page) { return fmt::format("files-{}.html", page); }
std::string rejects_page(const std::string& rule, int64_t page) {
  return fmt::format("rejects-{}-{}.html", rule_slug(rule), page);
}
/// A model's predictions: "detections-<model>-N.html"; one label of them:
/// "detections-<model>.<label>-N.html" (a slug has no '.', so the two never collide).
std::string detections_page(const std::string& model, const std::string& label, int64_t page) {
  if (label.empty()) return fmt::format("detections-{}-{}.html", rule_slug(model), page);
  return fmt::format("detections-{}.{}-{}.html", rule_slug(model), rule_slug(label), page);
}
std::string crops_page(int64_t page) { return fmt::format("crops-{}.html", page); }

/// What a prediction is called on the page: its label, or its class id for a model without labels
/// (as Manifest::label_counts counts it).
std::string label_of(const DetectionRecord& d) {
  return d.label.empty() ? std::to_string(d.class_id) : d.label;
}

/// A colour class ("k0".."k7") per label, the same on every page.
std::string label_colour(const std::string& label) {
  return fmt::format("k{}", XXH3_64bits(label.data(), label.size()) % 8);
}

/// Size of the thumbnail ThumbnailCache makes of a `width` x `height` image with longer side
/// `size` (resize_to_fit: never enlarged, each side rounded): what a box is scaled to.
std::pair<int, int> preview_size(int width, int height, int size) {
  const int longer = std::max(width, height);
  if (longer <= size) return {width, height};
  const double scale = static_cast<double>(size) / longer;
  return {std::max(1, static_cast<int>(std::lround(width * scale))),
          std::max(1, static_cast<int>(std::lround(height * scale)))};
}

/// Previous / numbered / next links; nothing for a single page.
std::string pager(int64_t page, int64_t pages, const std::function<std::string(int64_t)>& name,
                  std::string_view info) {
  if (pages <= 1) return {};
  std::string out = "<nav class=\"pager\" aria-label=\"pages\">";
  if (page > 1) {
    fmt::format_to(std::back_inserter(out), "<a rel=\"prev\" href=\"{}\">&lsaquo; Previous</a>",
                   name(page - 1));
  } else {
    out += "<span class=\"dis\">&lsaquo; Previous</span>";
  }
  std::set<int64_t> shown = {1, pages};
  for (int64_t p = page - 2; p <= page + 2; ++p) {
    if (p >= 1 && p <= pages) shown.insert(p);
  }
  int64_t last = 0;
  for (int64_t p : shown) {
    if (p > last + 1) out += "<span class=\"gap\">&hellip;</span>";
    if (p == page) {
      fmt::format_to(std::back_inserter(out), "<span class=\"cur\" aria-current=\"page\">{}</span>",
                     p);
    } else {
      fmt::format_to(std::back_inserter(out), "<a href=\"{}\">{}</a>", name(p), p);
    }
    last = p;
  }
  if (page < pages) {
    fmt::format_to(std::back_inserter(out), "<a rel=\"next\" href=\"{}\">Next &rsaquo;</a>",
                   name(page + 1));
  } else {
    out += "<span class=\"dis\">Next &rsaquo;</span>";
  }
  fmt::format_to(std::back_inserter(out), "<span class=\"pinfo\">{}</span></nav>", info);
  return out;
}

// ---------------------------------------------------------------------------------------------
// Signal histograms.

/// The histograms of index.html: one per quality signal and per size measure, fixed bins.
class SignalHistograms {
 public:
  SignalHistograms() {
    // Ranges from docs/SIGNALS.md; sharpness and sizes span decades, so log axes.
    hists_.emplace_back(
        HistogramAxis{"sharpness", "Sharpness (variance of the Laplacian)", "", 1, 1e5, true, 50});
    hists_.emplace_back(
        HistogramAxis{"brightness", "Brightness (mean gray level)", "", 0, 255, false, 51});
    hists_.emplace_back(
        HistogramAxis{"contrast", "Contrast (std of gray levels)", "", 0, 128, false, 64});
    hists_.emplace_back(HistogramAxis{"entropy", "Entropy (bits)", "bits", 0, 8, false, 64});
    hists_.emplace_back(HistogramAxis{"colorfulness", "Colourfulness (Hasler & Suesstrunk)", "", 0,
                                      150, false, 50});
    hists_.emplace_back(
        HistogramAxis{"min_side", "Shorter side (pixels)", "px", 8, 16384, true, 44});
    hists_.emplace_back(
        HistogramAxis{"aspect_ratio", "Aspect ratio (long / short side)", "", 1, 10, true, 40});
    hists_.emplace_back(HistogramAxis{"edge_width", "Edge width (sharpest edges, px at 256 px)",
                                      "px", 0, 12, false, 48});
    hists_.emplace_back(HistogramAxis{"highlight_level", "Highlights (99th percentile of gray)",
                                      "", 0, 255, false, 51});
    hists_.emplace_back(HistogramAxis{"clipped_fraction", "Clipped pixels (a channel >= 250)", "",
                                      0, 1, false, 50});
  }

  void add(const FileRecord& f) {
    if (f.has_signals) {
      hists_[0].add(f.quality.sharpness);
      hists_[1].add(f.quality.brightness);
      hists_[2].add(f.quality.contrast);
      hists_[3].add(f.quality.entropy);
      hists_[4].add(f.quality.colorfulness);
      hists_[7].add(f.quality.edge_width);
      hists_[8].add(f.quality.highlight_level);
      hists_[9].add(f.quality.clipped_fraction);
    }
    if (f.width > 0 && f.height > 0) {
      const int lo = std::min(f.width, f.height);
      const int hi = std::max(f.width, f.height);
      hists_[5].add(lo);
      hists_[6].add(static_cast<double>(hi) / lo);
    }
  }

  [[nodiscard]] const std::vector<Histogram>& all() const { return hists_; }

 private:
  std::vector<Histogram> hists_;
};

// ---------------------------------------------------------------------------------------------
// The report being written.

/// A group as the groups pass saw it, for index.html.
struct GroupPreview {
  int64_t id = 0;
  int64_t size = 0;
  std::string kind;
  std::string keeper_path;
  Thumbnail keeper_thumb;
};

/// Totals that the streaming passes find and index.html shows.
struct GroupTotals {
  int64_t exact = 0, near = 0, mixed = 0;
  int64_t members = 0;
  int64_t reclaimable_bytes = 0;  ///< bytes of the members that are not keepers
  std::vector<GroupPreview> largest;
};

/// What one model predicted, for index.html and the predictions pages' filters.
struct ModelTotals {
  std::string model;
  int64_t ok = 0, failed = 0;  ///< inferences by status
  int64_t files_shown = 0;     ///< files with an "ok" inference (the predictions pages)
  int64_t detections = 0;      ///< predictions: boxes, or classes of whole images
  bool classifier = false;     ///< its predictions are classifications (no boxes)
  std::vector<std::pair<std::string, int64_t>> labels;  ///< label -> predictions, most first
  std::map<std::string, int64_t> label_files;  ///< label -> files it is on (top-1 for classes)
  std::set<std::string> label_pages;           ///< labels with pages of their own
};

class ReportWriter {
 public:
  ReportWriter(const Manifest& manifest, const ReportOptions& options)
      : manifest_(manifest),
        options_(options),
        dir_(options.out_dir),
        thumbs_(options.out_dir, options.thumbnail_size, options.threads),
        previews_(options.out_dir, kPreviewScale * options.thumbnail_size, options.threads),
        page_size_(options.page_size),
        generated_at_(now_utc()) {
    title_ = options.title.empty() ? "vpipe report" : options.title;
  }

  ReportSummary run() {
    write_asset("style.css", kReportStyle);
    files_ = manifest_.count_files();
    groups_ = manifest_.count_groups();
    decisions_ = manifest_.decision_counts();
    reasons_ = manifest_.reason_counts();
    for (const auto& [status, n] : manifest_.status_counts()) statuses_.emplace_back(status, n);
    const auto rank = [](const std::string& name) {
      const std::optional<ItemStatus> s = item_status_from_string(name);
      return s ? static_cast<int>(*s) : 1000;
    };
    std::stable_sort(statuses_.begin(), statuses_.end(),
                     [&](const auto& a, const auto& b) { return rank(a.first) < rank(b.first); });
    thresholds_ = manifest_.quality_thresholds();
    keeper_order_ = recorded_keeper_order(manifest_.runs());
    rejected_ = decisions_.contains("reject") ? decisions_.at("reject") : 0;
    // Rules by number of files, largest first.
    for (const auto& [rule, n] : reasons_) rules_by_count_.emplace_back(rule, n);
    std::stable_sort(rules_by_count_.begin(), rules_by_count_.end(),
                     [](const auto& a, const auto& b) { return a.second > b.second; });

    models_ = manifest_.inferred_models();
    crops_ = models_.empty() ? 0 : manifest_.count_crops();
    url_states_ = manifest_.url_state_counts();
    if (!url_states_.empty()) {
      url_failures_ = manifest_.url_failure_counts();
      crawled_bytes_ = manifest_.crawled_bytes();
      crawl_hosts_ = manifest_.latest_crawl_hosts();
    }
    find_root();
    write_files_pages();
    write_groups_pages();
    for (const auto& [rule, n] : rules_by_count_) write_rule_pages(rule, n);
    write_rejects_overview();
    for (const std::string& model : models_) write_model_pages(model);
    if (crops_ > 0) write_crops_pages();
    write_index();
    remove_stale_pages();

    ReportSummary summary;
    summary.pages = static_cast<int64_t>(written_.size());
    summary.thumbnails_made = thumbs_.made() + previews_.made();
    summary.thumbnails_cached = thumbs_.cached() + previews_.cached();
    summary.thumbnail_failures = thumbs_.failures() + previews_.failures();
    summary.index = dir_ / "index.html";
    return summary;
  }

 private:
  // --- Output -------------------------------------------------------------------------------

  void write_asset(const std::string& name, std::string_view text) {
    write_file_atomic(dir_ / name,
                      std::span(reinterpret_cast<const uint8_t*>(text.data()), text.size()));
  }

  /// Wraps `body` in the page frame (head, navigation, footer) and writes it atomically.
  void write_page(const std::string& name, std::string_view nav, std::string_view heading,
                  const std::string& body) {
    std::string html;
    html.reserve(body.size() + 4096);
    html +=
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
        "<meta name=\"generator\" content=\"vpipe\"><link rel=\"icon\" href=\"data:,\">"
        "<link rel=\"stylesheet\" href=\"style.css\"><title>";
    append_html_escaped(html, heading);
    html += " · ";
    append_html_escaped(html, title_);
    html +=
        "</title></head>\n<body>\n<header class=\"topbar\"><a class=\"brand\" href=\"index.html\">"
        "<span class=\"logo\"></span>";
    append_html_escaped(html, title_);
    html += "</a><nav class=\"nav\">";
    const auto item = [&](std::string_view key, std::string_view href, std::string_view label,
                          std::optional<int64_t> n) {
      fmt::format_to(std::back_inserter(html), "<a href=\"{}\"{}>{}", href,
                     key == nav ? " class=\"active\"" : "", label);
      if (n) fmt::format_to(std::back_inserter(html), "<span class=\"n\">{}</span>", grouped(*n));
      html += "</a>";
    };
    item("index", "index.html", "Overview", std::nullopt);
    item("groups", groups_page(1), "Duplicate groups", groups_);
    item("rejects", "rejects.html", "Rejected", rejected_);
    item("files", files_page(1), "All files", files_);
    if (!models_.empty()) {
      item("detections", detections_page(models_.front(), {}, 1), "Predictions", std::nullopt);
    }
    if (crops_ > 0) item("crops", crops_page(1), "Crops", crops_);
    html += "</nav></header>\n<main>\n";
    html += body;
    fmt::format_to(std::back_inserter(html),
                   "</main>\n<footer>Generated by vpipe {} on {}. A static page: no scripts, no "
                   "network.</footer>\n</body></html>\n",
                   kVersion, generated_at_);
    write_file_atomic(dir_ / name,
                      std::span(reinterpret_cast<const uint8_t*>(html.data()), html.size()));
    written_.insert(name);
  }

  /// Removes pages of an earlier report (more groups or files then) that this one did not write.
  void remove_stale_pages() {
    static const std::regex kOurs(
        R"((groups|files|crops)-\d+\.html|(rejects|detections)-.+-\d+\.html)");
    std::error_code ec;
    for (const fs::directory_entry& entry : fs::directory_iterator(dir_, ec)) {
      const std::string name = entry.path().filename().string();
      if (written_.contains(name) || !std::regex_match(name, kOurs)) continue;
      fs::remove(entry.path(), ec);
    }
  }

  // --- Pieces -------------------------------------------------------------------------------

  /// The thumbnail box: picture or placeholder, with badges in its corner.
  static void append_thumb(std::string& out, const Thumbnail& thumb, const std::string& badges) {
    out += "<div class=\"thumb\">";
    if (!thumb.src.empty()) {
      fmt::format_to(std::back_inserter(out), "<img src=\"{}\" alt=\"\" loading=\"lazy\">",
                     thumb.src);
    } else {
      out += "<div class=\"ph\"><span class=\"icon\"></span><b>no preview</b><small>";
      append_html_escaped(out, thumb.failure);
      out += "</small></div>";
    }
    if (!badges.empty())
      fmt::format_to(std::back_inserter(out), "<div class=\"corner\">{}</div>", badges);
    out += "</div>";
  }

  /// File name (bold) and directory (muted, relative to the corpus root, its start elided when
  /// too long), the whole path as a tooltip.
  void append_name(std::string& out, const std::string& path) const {
    auto [dir, base] = split_path(path);
    if (!root_.empty() && dir.starts_with(root_)) dir.remove_prefix(root_.size());
    const std::string full = esc(path);
    fmt::format_to(std::back_inserter(out), "<div class=\"fname\" title=\"{}\">{}</div>", full,
                   esc(base));
    if (!dir.empty()) {
      fmt::format_to(std::back_inserter(out),
                     "<div class=\"fdir\" title=\"{}\"><span dir=\"ltr\">{}</span></div>", full,
                     esc(dir));
    }
  }

  static std::string size_text(const FileRecord& f) {
    return f.width > 0 && f.height > 0 ? fmt::format("{}&times;{}", f.width, f.height) : "&mdash;";
  }

  static void append_reason(std::string& out, const ReasonRecord& r, bool current,
                            const FileRecord& f) {
    fmt::format_to(std::back_inserter(out), "<span class=\"reason{}\">", current ? " on" : "");
    append_html_escaped(out, r.rule);
    if (r.rule == "corrupt") {
      out += ": ";
      append_html_escaped(out, f.error.empty() ? std::string(to_string(f.status)) : f.error);
    } else {
      fmt::format_to(std::back_inserter(out), " <b>{}</b> {} {}", value_text(r.value),
                     r.value < r.threshold ? "&lt;" : "&gt;", value_text(r.threshold));
    }
    out += "</span>";
  }

  std::string group_link(int64_t group_id) const {
    return fmt::format("{}#g{}", groups_page((group_id - 1) / page_size_ + 1), group_id);
  }

  /// The directory all files are under: the common prefix of the first and the last path in
  /// byte order is the common prefix of all of them.
  void find_root() {
    if (files_ == 0) return;
    std::string first, last;
    CuratedQuery query;
    query.limit = 1;
    manifest_.for_each_curated(query, [&](const CuratedFile& row) {
      first = row.file.path;
      return false;
    });
    query.offset = files_ - 1;
    manifest_.for_each_curated(query, [&](const CuratedFile& row) {
      last = row.file.path;
      return false;
    });
    root_ = common_directory(first, last);
    if (root_ == "/") root_.clear();
  }

  /// "under /data/photos/" for subtitles, or nothing.
  std::string root_note() const {
    return root_.empty() ? std::string() : " under <code>" + esc(root_) + "</code>";
  }

  // --- files-N.html and the histograms -----------------------------------------------------

  void write_files_pages() {
    const int64_t pages = pages_for(files_, page_size_);
    int64_t page = 1;
    int64_t index = 0;
    std::string rows;
    const auto flush = [&] {
      std::string body = fmt::format(
          "<h1>All files</h1><div class=\"sub\">{} files{} by path; on this page {}&ndash;{}</div>",
          grouped(files_), root_note(), files_ == 0 ? 0 : (page - 1) * page_size_ + 1,
          std::min(files_, page * page_size_));
      const std::string nav =
          pager(page, pages, files_page, fmt::format("page {} of {}", page, pages));
      body += nav;
      if (rows.empty()) {
        body +=
            "<div class=\"empty\">The manifest has no files yet: run <code>vpipe "
            "scan</code>.</div>";
      } else {
        body +=
            "<div class=\"panel\" style=\"padding:4px 6px\"><table class=\"files\"><thead><tr>"
            "<th class=\"num\">#</th><th>file</th><th>status</th><th>decision</th>"
            "<th class=\"num\">pixels</th><th>format</th><th class=\"num\">size</th>"
            "<th class=\"num\">sharpness</th><th class=\"num\">brightness</th>"
            "<th class=\"num\">contrast</th><th class=\"num\">entropy</th></tr></thead><tbody>";
        body += rows;
        body += "</tbody></table></div>";
      }
      body += nav;
      write_page(files_page(page), "files", fmt::format("All files, page {}", page), body);
      rows.clear();
      ++page;
    };

    CuratedQuery query;
    query.order = CuratedQuery::Order::kPath;
    manifest_.for_each_curated(query, [&](const CuratedFile& row) {
      const FileRecord& f = row.file;
      histograms_.add(f);
      if (index > 0 && index % page_size_ == 0) flush();
      ++index;
      fmt::format_to(std::back_inserter(rows),
                     "<tr><td class=\"num muted\">{}</td><td class=\"path\">", grouped(index));
      append_name(rows, f.path);
      if (!f.error.empty()) {
        rows += "<div class=\"error\">";
        append_html_escaped(rows, f.error);
        rows += "</div>";
      }
      const std::string_view status = to_string(f.status);
      fmt::format_to(std::back_inserter(rows),
                     "</td><td><span class=\"chip {}\">{}</span></td><td>",
                     f.status == ItemStatus::kOk        ? "ok"
                     : f.status == ItemStatus::kDamaged ? "damaged"
                                                        : "bad",
                     status);
      if (row.has_decision) {
        const DecisionRecord& d = row.decision;
        fmt::format_to(std::back_inserter(rows), "<span class=\"chip {}\">{}</span>",
                       esc(d.decision), esc(d.decision));
        if (d.group_id > 0) {
          fmt::format_to(std::back_inserter(rows), " <a href=\"{}\">group {}</a>{}",
                         group_link(d.group_id), d.group_id,
                         d.is_keeper ? " <span class=\"muted\">(keeper)</span>" : "");
        }
        for (const ReasonRecord& r : d.reasons) {
          fmt::format_to(std::back_inserter(rows), " <a class=\"muted\" href=\"{}\">",
                         rejects_page(r.rule, 1));
          append_html_escaped(rows, r.rule);
          rows += "</a>";
        }
      } else {
        rows += "<span class=\"muted\">&mdash;</span>";
      }
      const auto sig = [&](double v) {
        return f.has_signals ? value_text(v) : std::string("&mdash;");
      };
      fmt::format_to(std::back_inserter(rows),
                     "</td><td class=\"num\">{}</td><td>{}</td><td class=\"num\">{}</td>"
                     "<td class=\"num sig\">{}</td><td class=\"num sig\">{}</td>"
                     "<td class=\"num sig\">{}</td><td class=\"num sig\">{}</td></tr>",
                     size_text(f), f.format.empty() ? "&mdash;" : esc(f.format),
                     format_bytes(f.size_bytes), sig(f.quality.sharpness),
                     sig(f.quality.brightness), sig(f.quality.contrast), sig(f.quality.entropy));
      return true;
    });
    // The last page, and empty ones if the manifest changed under us, so every link works.
    while (page <= pages) flush();
  }

  // --- groups-N.html ------------------------------------------------------------------------

  /// One group as streamed: the members shown (keeper first) and totals over all of them.
  struct GroupCard {
    int64_t id = 0;
    std::vector<CuratedFile> shown;
    int64_t size = 0;
    int64_t exact = 0, near = 0;
    int max_phash = 0;
    int64_t reclaimable = 0;
    std::string keeper_reason;  ///< explain_keeper over all members, shown under the keeper
    // Every member's keeper inputs while the group streams in; dropped once it is explained.
    std::vector<GroupingItem> members;
    std::deque<std::string> member_paths;  ///< what members' path views point at (stable)
    size_t keeper = 0;                     ///< index of the keeper in `members`

    [[nodiscard]] std::string kind() const {
      if (near == 0) return "exact";
      return exact == 0 ? "near" : "mixed";
    }
  };

  void render_group(std::string& out, const GroupCard& g, std::span<const Thumbnail> thumbs) const {
    fmt::format_to(
        std::back_inserter(out),
        "<section class=\"group-card\" id=\"g{0}\"><div class=\"group-head\">"
        "<a class=\"group-id\" href=\"#g{0}\">Group {0}</a><span class=\"chip {1}\">{1}</span>"
        "<span class=\"muted\">{2} &middot; max pHash distance {3} &middot; "
        "{4} reclaimable</span></div><div class=\"gallery\">",
        g.id, g.kind(), count_text(g.size, "file", "files"), g.max_phash,
        format_bytes(g.reclaimable));
    for (size_t i = 0; i < g.shown.size(); ++i) {
      const FileRecord& f = g.shown[i].file;
      const DecisionRecord& d = g.shown[i].decision;
      std::string badges;
      if (d.is_keeper) badges += "<span class=\"badge keeper\">&#9733; keeper</span>";
      if (d.decision == "reject") badges += "<span class=\"badge rejected\">rejected</span>";
      fmt::format_to(std::back_inserter(out), "<figure class=\"tile{}\">",
                     d.is_keeper ? " is-keeper" : "");
      append_thumb(out, thumbs[i], badges);
      out += "<figcaption>";
      append_name(out, f.path);
      fmt::format_to(
          std::back_inserter(out),
          "<div class=\"facts\"><span>{}</span><span>{}</span><span>quality {:.2f}</span></div>",
          size_text(f), format_bytes(f.size_bytes), d.quality_score);
      if (d.is_keeper && !g.keeper_reason.empty()) {
        out += "<div class=\"why\" title=\"why this file is the keeper (docs/DEDUP.md)\">kept: ";
        append_html_escaped(out, g.keeper_reason);
        out += "</div>";
      }
      out += "<div class=\"dists\">";
      if (d.is_keeper) {
        out += "<span class=\"dist ref\">reference</span>";
      } else if (d.match == "exact") {
        out += "<span class=\"dist\">identical bytes</span>";
      } else {
        fmt::format_to(std::back_inserter(out),
                       "<span class=\"dist\" title=\"Hamming distance of the "
                       "perceptual hashes to the keeper's\">pHash {} &middot; dHash {}</span>",
                       d.phash_distance < 0 ? std::string("?") : std::to_string(d.phash_distance),
                       d.dhash_distance < 0 ? std::string("?") : std::to_string(d.dhash_distance));
        if (!d.match.empty() && d.match != "near") {
          out += "<span class=\"dist\">";
          append_html_escaped(out, d.match);
          out += "</span>";
        }
      }
      if (!d.orientation.empty()) {
        out +=
            "<span class=\"dist orient\" title=\"how this file is turned relative to the keeper\">";
        append_html_escaped(out, d.orientation);
        out += "</span>";
      }
      out += "</div></figcaption></figure>";
    }
    if (g.size > static_cast<int64_t>(g.shown.size())) {
      fmt::format_to(std::back_inserter(out), "<div class=\"more\">+ {} more</div>",
                     grouped(g.size - static_cast<int64_t>(g.shown.size())));
    }
    out += "</div></section>\n";
  }

  void write_groups_pages() {
    const int64_t pages = pages_for(groups_, page_size_);
    const auto max_shown = static_cast<size_t>(std::max(1, options_.max_group_members));
    int64_t page = 1;
    std::vector<GroupCard> cards;
    std::optional<GroupCard> current;

    const auto write = [&] {
      // Thumbnails for every member shown on this page, made in parallel in one batch.
      std::vector<const FileRecord*> files;
      for (const GroupCard& g : cards) {
        for (const CuratedFile& m : g.shown) files.push_back(&m.file);
      }
      const std::vector<Thumbnail> thumbs = thumbs_.get(files);
      const int64_t first = (page - 1) * page_size_ + 1;
      const int64_t last = std::min(groups_, page * page_size_);
      std::string body = fmt::format(
          "<h1>Duplicate groups</h1><div class=\"sub\">{} groups, largest first; on this page "
          "groups "
          "{}&ndash;{}. The keeper of each group is kept; every other member is shown with its "
          "distance to the keeper.</div>",
          grouped(groups_), groups_ == 0 ? 0 : first, last);
      const std::string nav =
          pager(page, pages, groups_page, fmt::format("page {} of {}", page, pages));
      body += nav;
      if (cards.empty()) {
        body += groups_ == 0 ? "<div class=\"empty\">No duplicate groups: every file is unique (or "
                               "<code>vpipe dedup</code> has not run yet).</div>"
                             : "<div class=\"empty\">No groups on this page.</div>";
      }
      size_t t = 0;
      for (const GroupCard& g : cards) {
        render_group(body, g, std::span(thumbs).subspan(t, g.shown.size()));
        if (group_totals_.largest.size() < kIndexGroupPreviews && !g.shown.empty()) {
          group_totals_.largest.push_back(
              GroupPreview{g.id, g.size, g.kind(), g.shown[0].file.path, thumbs[t]});
        }
        t += g.shown.size();
      }
      body += nav;
      write_page(groups_page(page), "groups", fmt::format("Duplicate groups, page {}", page), body);
      cards.clear();
      ++page;
    };
    const auto finish_group = [&] {
      if (!current) return;
      GroupCard& g = *current;
      if (g.near == 0)
        ++group_totals_.exact;
      else if (g.exact == 0)
        ++group_totals_.near;
      else
        ++group_totals_.mixed;
      group_totals_.members += g.size;
      group_totals_.reclaimable_bytes += g.reclaimable;
      if (!g.members.empty()) {
        // Recomputed from the manifest's rows: the JPEG quality is read from the files' headers
        // only when two JPEG members are still tied when least_degraded is reached.
        g.keeper_reason = explain_keeper(g.members, g.keeper, keeper_order_, [&](size_t k) {
                            return g.members[k].jpeg
                                       ? read_jpeg_quality(g.member_paths[k]).value_or(0)
                                       : 0;
                          }).text;
      }
      g.members = {};
      g.member_paths = {};
      const int64_t g_page = (g.id - 1) / page_size_ + 1;
      while (page < g_page && page <= pages) write();
      cards.push_back(std::move(g));
      current.reset();
    };

    CuratedQuery query;
    query.order = CuratedQuery::Order::kGroup;
    manifest_.for_each_curated(query, [&](const CuratedFile& row) {
      const DecisionRecord& d = row.decision;
      if (!current || current->id != d.group_id) {
        finish_group();
        current.emplace();
        current->id = d.group_id;
      }
      GroupCard& g = *current;
      ++g.size;
      if (!d.is_keeper) {
        g.reclaimable += row.file.size_bytes;
        if (d.match == "exact")
          ++g.exact;
        else
          ++g.near;
        g.max_phash = std::max(g.max_phash, d.phash_distance);
      }
      if (g.shown.size() < max_shown) g.shown.push_back(row);
      if (d.is_keeper) g.keeper = g.members.size();
      GroupingItem& item = g.members.emplace_back();
      item.path = g.member_paths.emplace_back(row.file.path);
      set_keeper_inputs(item, row.file);
      item.quality = d.quality_score;
      item.rejected = d.decision == "reject";
      return true;
    });
    finish_group();
    while (page <= pages) write();
  }

  // --- rejects-<rule>-N.html and rejects.html ------------------------------------------------

  std::string rule_tabs(const std::string& active) const {
    std::string out = "<nav class=\"tabs\">";
    fmt::format_to(std::back_inserter(out), "<a href=\"rejects.html\"{}>All reasons</a>",
                   active.empty() ? " class=\"active\"" : "");
    for (const auto& [rule, n] : rules_by_count_) {
      fmt::format_to(std::back_inserter(out), "<a href=\"{}\"{}>", rejects_page(rule, 1),
                     rule == active ? " class=\"active\"" : "");
      append_html_escaped(out, rule);
      fmt::format_to(std::back_inserter(out), "<span class=\"n\">{}</span></a>", grouped(n));
    }
    out += "</nav>";
    return out;
  }

  const ThresholdRecord* threshold_of(const std::string& rule) const {
    for (const ThresholdRecord& t : thresholds_) {
      if (t.rule == rule) return &t;
    }
    return nullptr;
  }

  /// A gallery tile of a rejected image: picture, name, and every reason (this rule highlighted).
  void render_reject_tile(std::string& out, const CuratedFile& row, const Thumbnail& thumb,
                          const std::string& rule) const {
    const FileRecord& f = row.file;
    out += "<figure class=\"tile\">";
    append_thumb(out, thumb, {});
    out += "<figcaption>";
    append_name(out, f.path);
    fmt::format_to(std::back_inserter(out),
                   "<div class=\"facts\"><span>{}</span><span>{}</span></div>", size_text(f),
                   format_bytes(f.size_bytes));
    out += "<div class=\"reasons\">";
    // This page's rule first, then the others (worst first, as the manifest orders them).
    for (const ReasonRecord& r : row.decision.reasons) {
      if (r.rule == rule) append_reason(out, r, true, f);
    }
    for (const ReasonRecord& r : row.decision.reasons) {
      if (r.rule != rule) append_reason(out, r, false, f);
    }
    out += "</div></figcaption></figure>";
  }

  void write_rule_pages(const std::string& rule, int64_t count) {
    const int64_t pages = pages_for(count, page_size_);
    const auto name = [&](int64_t p) { return rejects_page(rule, p); };
    const ThresholdRecord* threshold = threshold_of(rule);
    int64_t page = 1;
    std::vector<CuratedFile> rows;
    const auto write = [&] {
      std::vector<const FileRecord*> files;
      files.reserve(rows.size());
      for (const CuratedFile& r : rows) files.push_back(&r.file);
      const std::vector<Thumbnail> thumbs = thumbs_.get(files);
      std::string body = "<h1>Rejected: ";
      append_html_escaped(body, rule);
      fmt::format_to(std::back_inserter(body), "</h1><div class=\"sub\">{}: {}",
                     count_text(count, "file", "files"), rule_text(rule));
      if (threshold != nullptr) {
        fmt::format_to(std::back_inserter(body), " (<code>{}</code> {} {})", esc(threshold->signal),
                       threshold->rejects_below ? "&lt;" : "&gt;",
                       value_text(threshold->threshold));
      }
      fmt::format_to(std::back_inserter(body), ". Worst first; on this page {}&ndash;{}.</div>",
                     count == 0 ? 0 : (page - 1) * page_size_ + 1,
                     std::min(count, page * page_size_));
      body += rule_tabs(rule);
      const std::string nav = pager(page, pages, name, fmt::format("page {} of {}", page, pages));
      body += nav;
      if (rows.empty()) body += "<div class=\"empty\">No files on this page.</div>";
      body += "<div class=\"gallery\">";
      for (size_t i = 0; i < rows.size(); ++i) render_reject_tile(body, rows[i], thumbs[i], rule);
      body += "</div>";
      body += nav;
      std::string heading = "Rejected: " + rule;
      write_page(name(page), "rejects", fmt::format("{}, page {}", heading, page), body);
      rows.clear();
      ++page;
    };
    CuratedQuery query;
    query.order = CuratedQuery::Order::kSeverity;
    query.rule = rule;
    manifest_.for_each_curated(query, [&](const CuratedFile& row) {
      if (static_cast<int64_t>(rows.size()) == page_size_) write();
      rows.push_back(row);
      return true;
    });
    while (page <= pages) write();
  }

  /// The first kOverviewExamples files `query` selects, with their thumbnails.
  std::pair<std::vector<CuratedFile>, std::vector<Thumbnail>> overview_examples(
      CuratedQuery query) {
    query.limit = kOverviewExamples;
    std::vector<CuratedFile> rows;
    manifest_.for_each_curated(query, [&](const CuratedFile& row) {
      rows.push_back(row);
      return true;
    });
    std::vector<const FileRecord*> files;
    files.reserve(rows.size());
    for (const CuratedFile& r : rows) files.push_back(&r.file);
    std::vector<Thumbnail> thumbs = thumbs_.get(files);
    return {std::move(rows), std::move(thumbs)};
  }

  void write_rejects_overview() {
    std::string body = fmt::format(
        "<h1>Rejected images</h1><div class=\"sub\">{} files rejected by the quality rules "
        "({} of all files). A file can be rejected for several reasons; each rule lists its files "
        "worst first.</div>",
        grouped(rejected_), percent(rejected_, files_));
    body += rule_tabs({});
    if (rules_by_count_.empty()) {
      body += "<div class=\"empty\">Nothing was rejected";
      body += decisions_.empty() ? " (<code>vpipe dedup</code> has not run yet)." : ".";
      body += "</div>";
    }
    for (const auto& [rule, count] : rules_by_count_) {
      CuratedQuery query;
      query.order = CuratedQuery::Order::kSeverity;
      query.rule = rule;
      const auto [rows, thumbs] = overview_examples(query);
      body +=
          "<section class=\"panel\" style=\"margin-bottom:16px\"><div class=\"panel-head\"><h3>";
      append_html_escaped(body, rule);
      fmt::format_to(std::back_inserter(body),
                     " <span class=\"chip reject\">{}</span></h3><a href=\"{}\">see all "
                     "&rsaquo;</a></div><div class=\"muted\" style=\"margin:-4px 0 12px\">{}</div>"
                     "<div class=\"gallery\">",
                     count_text(count, "file", "files"), rejects_page(rule, 1), rule_text(rule));
      for (size_t i = 0; i < rows.size(); ++i) render_reject_tile(body, rows[i], thumbs[i], rule);
      body += "</div></section>";
    }
    append_informational_grayscale(body);
    write_page("rejects.html", "rejects", "Rejected images", body);
  }

  /// The `grayscale` rule informs while it is disabled (the default): a panel with how many kept
  /// files have no colour and the least colourful of them. Nothing when the rule rejects (its
  /// files are then on its own rule page) or no file is colourless.
  void append_informational_grayscale(std::string& body) {
    const ThresholdRecord* rule = threshold_of("grayscale");
    if (rule == nullptr || rule->enabled) return;
    const int64_t count = manifest_.count_colourless(rule->threshold);
    if (count == 0) return;
    CuratedQuery query;
    query.order = CuratedQuery::Order::kColourless;
    query.colorfulness_below = rule->threshold;
    const auto [rows, thumbs] = overview_examples(query);
    fmt::format_to(std::back_inserter(body),
                   "<section class=\"panel informational\" style=\"margin-bottom:16px\">"
                   "<div class=\"panel-head\"><h3>grayscale <span class=\"chip\">{}, "
                   "informational</span></h3></div><div class=\"muted\" style=\"margin:-4px 0 "
                   "12px\">Kept files without colour (colourfulness under {}): not rejected. "
                   "<code>quality.grayscale.enabled: true</code> rejects them. The least colourful "
                   "first.</div><div class=\"gallery\">",
                   count_text(count, "file", "files"), value_text(rule->threshold));
    for (size_t i = 0; i < rows.size(); ++i) {
      const FileRecord& f = rows[i].file;
      body += "<figure class=\"tile\">";
      append_thumb(body, thumbs[i], {});
      body += "<figcaption>";
      append_name(body, f.path);
      fmt::format_to(std::back_inserter(body),
                     "<div class=\"facts\"><span>{}</span><span>{}</span></div><div "
                     "class=\"reasons\"><span class=\"reason\">colourfulness <b>{}</b> &lt; "
                     "{}</span></div></figcaption></figure>",
                     size_text(f), format_bytes(f.size_bytes), value_text(f.quality.colorfulness),
                     value_text(rule->threshold));
    }
    body += "</div></section>";
  }

  // --- detections-<model>[.<label>]-N.html --------------------------------------------------

  /// Whether `fd` belongs on the pages of `label`: one of its boxes has it, or (a classifier)
  /// its best class is it, as Manifest::label_counts counts.
  static bool has_label(const Manifest::FileDetections& fd, const std::string& label) {
    return std::any_of(fd.detections.begin(), fd.detections.end(), [&](const DetectionRecord& d) {
      return label_of(d) == label && (d.task != "classify" || d.rank == 0);
    });
  }

  std::string model_tabs(const std::string& active) const {
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

  /// The label filter: every label with the number of images it is on; those with pages are
  /// links.
  static std::string label_tabs(const ModelTotals& t, const std::string& active) {
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

  /// A file with the predictions of one model: its preview with every box drawn (an SVG over the
  /// picture, in the preview's pixels), and the predictions listed below. On a label's page the
  /// boxes of other labels are dimmed.
  void render_prediction_tile(std::string& out, const Manifest::FileDetections& fd,
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

  [[nodiscard]] int previews_size() const {
    return std::max(16, kPreviewScale * options_.thumbnail_size);
  }

  /// The pages of one model's predictions (`label` empty), or of one of its labels: `count`
  /// files, by path, `page_size` a page.
  void write_prediction_pages(const ModelTotals& t, const std::string& label, int64_t count) {
    const int64_t pages = pages_for(count, page_size_);
    const auto name = [&](int64_t p) { return detections_page(t.model, label, p); };
    int64_t page = 1;
    std::vector<Manifest::FileDetections> rows;
    const auto write = [&] {
      std::vector<const FileRecord*> files;
      files.reserve(rows.size());
      for (const Manifest::FileDetections& r : rows) files.push_back(&r.file);
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
    Manifest::DetectionQuery query;
    query.model = t.model;
    manifest_.for_each_detection(query, [&](const Manifest::FileDetections& fd) {
      if (!label.empty() && !has_label(fd, label)) return true;
      if (static_cast<int64_t>(rows.size()) == page_size_) write();
      rows.push_back(fd);
      return true;
    });
    while (page <= pages) write();
  }

  void write_model_pages(const std::string& model) {
    ModelTotals t;
    t.model = model;
    const std::map<std::string, int64_t> status = manifest_.inference_counts(model);
    const auto of = [&](const char* s) {
      const auto it = status.find(s);
      return it == status.end() ? int64_t{0} : it->second;
    };
    t.ok = of("ok");
    t.failed = of("failed");
    t.detections = manifest_.count_detections(model);
    for (const auto& [label, n] : manifest_.label_counts(model)) t.labels.emplace_back(label, n);
    std::stable_sort(t.labels.begin(), t.labels.end(),
                     [](const auto& a, const auto& b) { return a.second > b.second; });
    // One streaming pass to count the files of each label: the label pages' pagers need them.
    Manifest::DetectionQuery query;
    query.model = model;
    manifest_.for_each_detection(query, [&](const Manifest::FileDetections& fd) {
      ++t.files_shown;
      std::set<std::string> labels;
      for (const DetectionRecord& d : fd.detections) {
        if (d.task == "classify") {
          t.classifier = true;
          if (d.rank != 0) continue;
        }
        labels.insert(label_of(d));
      }
      for (const std::string& label : labels) ++t.label_files[label];
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

  // --- crops-N.html -------------------------------------------------------------------------

  /// A crop as the gallery shows it. Its picture goes through the thumbnail cache like any image:
  /// the report stays self-contained (crops may live anywhere, or be deleted later) and a changed
  /// crop (new bytes, so a new hash) gets a new thumbnail.
  struct CropTile {
    CropRecord crop;
    DetectionRecord detection;
    std::string source;  ///< path of the image it was cut from
    FileRecord picture;  ///< the crop file, as the cache keys it
  };

  static void render_crop_tile(std::string& out, const CropTile& c, const Thumbnail& thumb,
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

  void write_crops_pages() {
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
    manifest_.for_each_detection({}, [&](const Manifest::FileDetections& fd) {
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

  // --- index.html -----------------------------------------------------------------------------

  int64_t decision(const char* name) const {
    const auto it = decisions_.find(name);
    return it == decisions_.end() ? 0 : it->second;
  }

  void index_cards(std::string& body) const {
    int64_t unusable = 0;
    for (const auto& [status, n] : statuses_) {
      if (status != "ok" && status != "damaged") unusable += n;
    }
    const int64_t keep = decision("keep");
    const int64_t dup = decision("duplicate");
    body += "<div class=\"cards\">";
    fmt::format_to(std::back_inserter(body),
                   "<a class=\"card files\" href=\"{}\"><div class=\"label\">Files</div>"
                   "<div class=\"value\">{}</div><div class=\"detail\">in the manifest</div></a>",
                   files_page(1), grouped(files_));
    fmt::format_to(
        std::back_inserter(body),
        "<div class=\"card keep\"><div class=\"label\">Kept</div><div class=\"value\">{}</div>"
        "<div class=\"detail\">{} of all files</div></div>",
        grouped(keep), percent(keep, files_));
    fmt::format_to(std::back_inserter(body),
                   "<a class=\"card duplicate\" href=\"{}\"><div class=\"label\">Duplicates</div>"
                   "<div class=\"value\">{}</div><div class=\"detail\">in {} groups &middot; {} "
                   "reclaimable</div></a>",
                   groups_page(1), grouped(dup), grouped(groups_),
                   format_bytes(group_totals_.reclaimable_bytes));
    fmt::format_to(
        std::back_inserter(body),
        "<a class=\"card reject\" href=\"rejects.html\"><div class=\"label\">Rejected</div>"
        "<div class=\"value\">{}</div><div class=\"detail\">{} of all files &middot; {} "
        "reasons</div></a>",
        grouped(rejected_), percent(rejected_, files_), rules_by_count_.size());
    fmt::format_to(std::back_inserter(body),
                   "<div class=\"card broken\"><div class=\"label\">Unreadable</div>"
                   "<div class=\"value\">{}</div><div class=\"detail\">no usable pixels (corrupt, "
                   "not an image, ...)</div></div>",
                   grouped(unusable));
    for (const ModelTotals& t : model_totals_) {
      fmt::format_to(std::back_inserter(body),
                     "<a class=\"card model\" href=\"{}\"><div class=\"label\">Model ",
                     detections_page(t.model, {}, 1));
      append_html_escaped(body, t.model);
      if (t.classifier) {
        fmt::format_to(std::back_inserter(body),
                       "</div><div class=\"value\">{}</div><div class=\"detail\">images "
                       "classified &middot; {} classes seen &middot; {} failed</div></a>",
                       grouped(t.ok), grouped(static_cast<int64_t>(t.labels.size())),
                       grouped(t.failed));
      } else {
        fmt::format_to(std::back_inserter(body),
                       "</div><div class=\"value\">{}</div><div class=\"detail\">detections in "
                       "{} images &middot; {} failed</div></a>",
                       grouped(t.detections), grouped(t.ok), grouped(t.failed));
      }
    }
    if (crops_ > 0) {
      fmt::format_to(std::back_inserter(body),
                     "<a class=\"card crops\" href=\"{}\"><div class=\"label\">Crops</div>"
                     "<div class=\"value\">{}</div><div class=\"detail\">cut from the "
                     "predictions' boxes</div></a>",
                     crops_page(1), grouped(crops_));
    }
    body += "</div>";
  }

  void index_breakdown(std::string& body) const {
    body += "<div class=\"grid2\" style=\"margin-top:16px\">";
    // Decisions.
    const int64_t keep = decision("keep");
    const int64_t dup = decision("duplicate");
    const int64_t undecided = std::max<int64_t>(0, files_ - keep - dup - rejected_);
    body += "<section class=\"panel\"><h3>Decisions</h3>";
    if (decisions_.empty()) {
      body +=
          "<div class=\"note\">No dedup pass yet: run <code>vpipe dedup</code> to group "
          "duplicates and apply the quality rules.</div>";
    }
    fmt::format_to(
        std::back_inserter(body),
        "<div class=\"stack\"><span class=\"c-keep\" style=\"width:{:.3f}%\"></span>"
        "<span class=\"c-duplicate\" style=\"width:{:.3f}%\"></span><span class=\"c-reject\" "
        "style=\"width:{:.3f}%\"></span><span class=\"c-none\" "
        "style=\"width:{:.3f}%\"></span></div>",
        share(keep, files_), share(dup, files_), share(rejected_, files_),
        share(undecided, files_));
    fmt::format_to(std::back_inserter(body),
                   "<div class=\"legend\"><span><i class=\"c-keep\"></i>keep {} ({})</span>"
                   "<span><i class=\"c-duplicate\"></i>duplicate {} ({})</span>"
                   "<span><i class=\"c-reject\"></i>reject {} ({})</span>",
                   grouped(keep), percent(keep, files_), grouped(dup), percent(dup, files_),
                   grouped(rejected_), percent(rejected_, files_));
    if (undecided > 0) {
      fmt::format_to(std::back_inserter(body), "<span><i class=\"c-none\"></i>undecided {}</span>",
                     grouped(undecided));
    }
    body += "</div>";
    // Status.
    body += "<h3 style=\"margin-top:18px\">File status</h3><div class=\"stack\">";
    for (const auto& [status, n] : statuses_) {
      const char* cls = status == "ok" ? "c-ok" : status == "damaged" ? "c-damaged" : "c-bad";
      fmt::format_to(std::back_inserter(body),
                     "<span class=\"{}\" style=\"width:{:.3f}%\" title=\"{}\"></span>", cls,
                     share(n, files_), esc(status));
    }
    body += "</div><div class=\"legend\">";
    for (const auto& [status, n] : statuses_) {
      const char* cls = status == "ok" ? "c-ok" : status == "damaged" ? "c-damaged" : "c-bad";
      fmt::format_to(std::back_inserter(body), "<span><i class=\"{}\"></i>{} {} ({})</span>", cls,
                     esc(status), grouped(n), percent(n, files_));
    }
    body += "</div>";
    // Groups.
    fmt::format_to(
        std::back_inserter(body),
        "<h3 style=\"margin-top:18px\">Duplicate groups</h3><table><tbody>"
        "<tr><td>exact copies (same bytes)</td><td class=\"num\">{}</td></tr>"
        "<tr><td>near duplicates (perceptual hashes)</td><td class=\"num\">{}</td></tr>"
        "<tr><td>mixed (exact and near members)</td><td class=\"num\">{}</td></tr>"
        "<tr><td>files in groups</td><td class=\"num\">{}</td></tr>"
        "<tr><td>bytes held by non-keepers</td><td class=\"num\">{}</td></tr></tbody></table>",
        grouped(group_totals_.exact), grouped(group_totals_.near), grouped(group_totals_.mixed),
        grouped(group_totals_.members), format_bytes(group_totals_.reclaimable_bytes));
    body += "</section>";

    // Reasons.
    body +=
        "<section class=\"panel\"><div class=\"panel-head\"><h3>Rejection reasons</h3>"
        "<a href=\"rejects.html\">browse &rsaquo;</a></div>";
    if (rules_by_count_.empty()) {
      body += "<div class=\"muted\">Nothing rejected.</div>";
    } else {
      const int64_t top = rules_by_count_.front().second;
      body +=
          "<table><thead><tr><th>rule</th><th>threshold</th><th class=\"num\">files</th><th></th>"
          "</tr></thead><tbody>";
      for (const auto& [rule, n] : rules_by_count_) {
        fmt::format_to(std::back_inserter(body), "<tr><td><a href=\"{}\">", rejects_page(rule, 1));
        append_html_escaped(body, rule);
        body += "</a></td><td class=\"muted\">";
        if (const ThresholdRecord* t = threshold_of(rule)) {
          fmt::format_to(std::back_inserter(body), "{} {} {}", esc(t->signal),
                         t->rejects_below ? "&lt;" : "&gt;", value_text(t->threshold));
        } else {
          body += "&mdash;";
        }
        fmt::format_to(std::back_inserter(body),
                       "</td><td class=\"num\">{}</td><td class=\"meter\"><div class=\"bar\">"
                       "<span style=\"width:{:.2f}%\"></span></div></td></tr>",
                       grouped(n), share(n, top));
      }
      body += "</tbody></table>";
      const std::vector<const ThresholdRecord*> disabled = [&] {
        std::vector<const ThresholdRecord*> out;
        for (const ThresholdRecord& t : thresholds_) {
          if (!t.enabled) out.push_back(&t);
        }
        return out;
      }();
      if (!disabled.empty()) {
        body += "<div class=\"muted\" style=\"margin-top:8px;font-size:12.5px\">Disabled rules: ";
        for (size_t i = 0; i < disabled.size(); ++i) {
          if (i > 0) body += ", ";
          append_html_escaped(body, disabled[i]->rule);
        }
        body += "</div>";
      }
    }
    body += "</section></div>";
    // Largest groups, their keepers.
    if (!group_totals_.largest.empty()) {
      fmt::format_to(
          std::back_inserter(body),
          "<section class=\"panel\" style=\"margin-top:16px\"><div class=\"panel-head\">"
          "<h3>Largest duplicate groups <span class=\"muted\">(the keeper of each)</span></h3>"
          "<a href=\"{}\">all groups &rsaquo;</a></div><div class=\"strip\">",
          groups_page(1));
      for (const GroupPreview& g : group_totals_.largest) {
        fmt::format_to(std::back_inserter(body), "<a class=\"tile\" href=\"{}\" title=\"{}\">",
                       group_link(g.id), esc(g.keeper_path));
        append_thumb(
            body, g.keeper_thumb,
            fmt::format("<span class=\"badge\">{}</span>", count_text(g.size, "file", "files")));
        fmt::format_to(
            std::back_inserter(body),
            "<figcaption><div class=\"fname\">Group {}</div><div class=\"facts\">{}</div>"
            "</figcaption></a>",
            g.id, esc(g.kind));
      }
      body += "</div></section>";
    }
  }

  /// What the crawl fetched: URLs by state, failures by reason, bytes, and per host (of the
  /// latest crawl run) its share and throughput.
  void index_crawl(std::string& body) const {
    if (url_states_.empty()) return;
    const auto state = [&](const char* name) {
      const auto it = url_states_.find(name);
      return it == url_states_.end() ? int64_t{0} : it->second;
    };
    int64_t total = 0;
    for (const auto& [name, n] : url_states_) total += n;
    const int64_t failed = state("failed");
    fmt::format_to(std::back_inserter(body),
                   "<h2 id=\"crawl\">Crawl</h2><div class=\"grid2\"><section class=\"panel\">"
                   "<h3>URLs</h3><div class=\"muted\" style=\"margin:-4px 0 10px\">{} URLs "
                   "&middot; {} fetched</div><table><tbody>"
                   "<tr><td>fetched</td><td class=\"num\">{}</td><td class=\"num\">{}</td></tr>"
                   "<tr><td>failed</td><td class=\"num\">{}</td><td class=\"num\">{}</td></tr>",
                   grouped(total), format_bytes(crawled_bytes_), grouped(state("done")),
                   percent(state("done"), total), grouped(failed), percent(failed, total));
    std::vector<std::pair<std::string, int64_t>> reasons(url_failures_.begin(),
                                                         url_failures_.end());
    std::stable_sort(reasons.begin(), reasons.end(),
                     [](const auto& a, const auto& b) { return a.second > b.second; });
    for (const auto& [reason, n] : reasons) {
      body += "<tr><td style=\"padding-left:18px\"><code>";
      append_html_escaped(body, reason);
      fmt::format_to(std::back_inserter(body),
                     "</code></td><td class=\"num\">{}</td><td class=\"num\">{}</td></tr>",
                     grouped(n), percent(n, total));
    }
    if (state("pending") > 0) {
      fmt::format_to(std::back_inserter(body),
                     "<tr><td>pending (rerun to fetch)</td><td class=\"num\">{}</td><td "
                     "class=\"num\">{}</td></tr>",
                     grouped(state("pending")), percent(state("pending"), total));
    }
    body += "</tbody></table></section>";
    body +=
        "<section class=\"panel\"><h3>Hosts (latest crawl run)</h3><table><thead><tr>"
        "<th>host</th><th class=\"num\">URLs</th><th class=\"num\">fetched</th>"
        "<th class=\"num\">failed</th><th class=\"num\">bytes</th>"
        "<th class=\"num\">throughput</th></tr></thead><tbody>";
    for (size_t i = 0; i < crawl_hosts_.size() && i < kIndexHosts; ++i) {
      const CrawlHostRecord& h = crawl_hosts_[i];
      body += "<tr><td>";
      append_html_escaped(body, h.host);
      fmt::format_to(std::back_inserter(body),
                     "</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td "
                     "class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}/s"
                     "</td></tr>",
                     grouped(h.urls), grouped(h.done), grouped(h.failed), format_bytes(h.bytes),
                     format_bytes(h.seconds > 0 ? static_cast<int64_t>(
                                                      static_cast<double>(h.bytes) / h.seconds)
                                                : 0));
    }
    body += "</tbody></table>";
    if (crawl_hosts_.size() > kIndexHosts) {
      fmt::format_to(std::back_inserter(body),
                     "<div class=\"muted\" style=\"margin-top:8px\">{} more hosts (table "
                     "<code>crawl_hosts</code> of the manifest).</div>",
                     crawl_hosts_.size() - kIndexHosts);
    }
    body += "</section></div>";
  }

  /// Per model: what it found, its most frequent labels linked to their pages.
  void index_predictions(std::string& body) const {
    if (model_totals_.empty()) return;
    body += "<h2 id=\"predictions\">Predictions</h2><div class=\"grid2\">";
    for (const ModelTotals& t : model_totals_) {
      fmt::format_to(std::back_inserter(body),
                     "<section class=\"panel\"><div class=\"panel-head\"><h3>Model ");
      append_html_escaped(body, t.model);
      fmt::format_to(std::back_inserter(body),
                     " <span class=\"chip\">{}</span></h3><a href=\"{}\">browse &rsaquo;</a>"
                     "</div><div class=\"muted\" style=\"margin:-4px 0 10px\">{} done &middot; {} "
                     "failed &middot; {}</div>",
                     t.classifier ? "classify" : "detect", detections_page(t.model, {}, 1),
                     count_text(t.ok, "image", "images"), grouped(t.failed),
                     t.classifier ? count_text(t.detections, "class", "classes")
                                  : count_text(t.detections, "detection", "detections"));
      if (t.labels.empty()) {
        body += "<div class=\"muted\">Nothing found.</div></section>";
        continue;
      }
      const int64_t top = t.labels.front().second;
      body +=
          "<table><thead><tr><th>label</th><th class=\"num\">predictions</th>"
          "<th class=\"num\">images</th><th></th></tr></thead><tbody>";
      for (size_t i = 0; i < t.labels.size() && i < kIndexLabels; ++i) {
        const auto& [label, n] = t.labels[i];
        fmt::format_to(std::back_inserter(body), "<tr><td><i class=\"dot {}\"></i>",
                       label_colour(label));
        if (t.label_pages.contains(label)) {
          fmt::format_to(std::back_inserter(body), "<a href=\"{}\">",
                         detections_page(t.model, label, 1));
          append_html_escaped(body, label);
          body += "</a>";
        } else {
          append_html_escaped(body, label);
        }
        const auto files = t.label_files.find(label);
        fmt::format_to(std::back_inserter(body),
                       "</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td "
                       "class=\"meter\"><div class=\"bar pred-bar\"><span "
                       "style=\"width:{:.2f}%\"></span></div></td></tr>",
                       grouped(n), grouped(files == t.label_files.end() ? 0 : files->second),
                       share(n, top));
      }
      body += "</tbody></table>";
      if (t.labels.size() > kIndexLabels) {
        fmt::format_to(std::back_inserter(body),
                       "<div class=\"muted\" style=\"margin-top:8px\">{} more labels.</div>",
                       t.labels.size() - kIndexLabels);
      }
      body += "</section>";
    }
    body += "</div>";
  }

  void index_histograms(std::string& body) const {
    body += "<h2 id=\"signals\">Quality signals</h2><div class=\"hists\">";
    for (const Histogram& h : histograms_.all()) {
      std::vector<ThresholdMarker> markers;
      for (const ThresholdRecord& t : thresholds_) {
        if (t.enabled && t.signal == h.axis().signal)
          markers.push_back({t.rule, t.threshold, t.rejects_below});
      }
      body += "<section class=\"panel\"><h3>";
      append_html_escaped(body, h.axis().title);
      body += "</h3>";
      body += render_histogram_svg(h, markers);
      fmt::format_to(std::back_inserter(body), "<div class=\"hist-foot\">{} images",
                     grouped(h.total()));
      if (h.below() > 0)
        fmt::format_to(std::back_inserter(body), " &middot; {} below the axis", grouped(h.below()));
      if (h.above() > 0)
        fmt::format_to(std::back_inserter(body), " &middot; {} above it", grouped(h.above()));
      for (const ThresholdMarker& m : markers) {
        const auto it = reasons_.find(m.rule);
        fmt::format_to(std::back_inserter(body), " &middot; <a href=\"{}\">",
                       rejects_page(m.rule, 1));
        append_html_escaped(body, m.rule);
        fmt::format_to(std::back_inserter(body), "</a>: {} rejected",
                       grouped(it == reasons_.end() ? 0 : it->second));
      }
      body += "</div></section>";
    }
    body += "</div>";
  }

  static void index_pass(std::string& body, const Manifest::PassMetrics& pass) {
    const RunReport& r = pass.report;
    const auto pct = [&](int64_t ns, int workers) {
      if (r.wall_ns <= 0 || workers <= 0) return 0.0;
      return std::clamp(100.0 * static_cast<double>(ns) /
                            (static_cast<double>(workers) * static_cast<double>(r.wall_ns)),
                        0.0, 100.0);
    };
    body +=
        "<section class=\"panel\" style=\"margin-bottom:16px\"><div "
        "class=\"panel-head\"><h3>Pass: ";
    append_html_escaped(body, pass.pass);
    fmt::format_to(std::back_inserter(body),
                   "</h3><span class=\"muted\">run {} &middot; wall time {}{}</span></div>",
                   pass.run_id, format_duration(r.wall_ns),
                   r.stopped ? " &middot; stopped early" : "");
    body +=
        "<table><thead><tr><th>stage</th><th class=\"num\">workers</th><th class=\"num\">items</th>"
        "<th>share of time</th><th class=\"num\">busy</th>"
        "<th class=\"num\">items/s</th><th class=\"num\">batch</th></tr></thead><tbody>";
    for (size_t i = 0; i < r.stages.size(); ++i) {
      const StageMetrics& s = r.stages[i];
      const bool bottleneck = static_cast<int>(i) == r.bottleneck;
      const double busy = pct(s.busy_ns, s.workers);
      const double in = pct(s.wait_input_ns, s.workers);
      const double out = pct(s.wait_output_ns, s.workers);
      const double rate =
          r.wall_ns > 0 ? static_cast<double>(s.items_out) * 1e9 / static_cast<double>(r.wall_ns)
                        : 0;
      fmt::format_to(std::back_inserter(body), "<tr{}><td>",
                     bottleneck ? " class=\"bottleneck\"" : "");
      append_html_escaped(body, s.name);
      if (bottleneck) {
        body += r.sequential ? " <span class=\"chip bottleneck\">slowest step</span>"
                             : " <span class=\"chip bottleneck\">bottleneck</span>";
      }
      fmt::format_to(
          std::back_inserter(body),
          "</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td style=\"width:45%\">"
          "<div class=\"stack\" style=\"margin:0\" title=\"busy {:.1f}%, waiting for input "
          "{:.1f}%, waiting for room {:.1f}%\"><span class=\"c-busy\" "
          "style=\"width:{:.2f}%\"></span>"
          "<span class=\"c-wait-in\" style=\"width:{:.2f}%\"></span><span class=\"c-wait-out\" "
          "style=\"width:{:.2f}%\"></span></div></td><td class=\"num\">{:.0f}%</td>"
          "<td class=\"num\">{}</td><td class=\"num\">{}</td></tr>",
          s.workers, grouped(static_cast<int64_t>(s.items_out)), busy, in, out, busy, in, out, busy,
          short_number(rate),
          s.batches == 0 ? std::string("&mdash;") : fmt::format("{:.1f}", s.mean_batch_size()));
    }
    body += "</tbody></table>";
    body +=
        "<div class=\"legend\" style=\"margin-top:8px\"><span><i class=\"c-busy\"></i>busy</span>"
        "<span><i class=\"c-wait-in\"></i>waiting for input</span><span><i class=\"c-wait-out\">"
        "</i>waiting for room downstream</span><span>(share of each stage's capacity: workers "
        "&times; wall time)</span></div>";
    if (r.sequential && r.bottleneck >= 0 && r.bottleneck < static_cast<int>(r.stages.size())) {
      // Steps that ran one after another: no stage waits on another, the slowest is the cost.
      const StageMetrics& s = r.stages[static_cast<size_t>(r.bottleneck)];
      body += "<p class=\"verdict\">The steps of this pass run one after another; the slowest is <b>";
      append_html_escaped(body, s.name);
      fmt::format_to(std::back_inserter(body), "</b>, {:.0f}% of its time.</p>",
                     pct(s.busy_ns, 1));
    } else if (r.bottleneck >= 0 && r.bottleneck < static_cast<int>(r.stages.size())) {
      const auto b = static_cast<size_t>(r.bottleneck);
      const StageMetrics& s = r.stages[b];
      body += "<p class=\"verdict\">Bottleneck: <b>";
      append_html_escaped(body, s.name);
      fmt::format_to(std::back_inserter(body), "</b>, busy {:.0f}% of its capacity",
                     pct(s.busy_ns, s.workers));
      if (b > 0) {
        const StageMetrics& up = r.stages[b - 1];
        body += "; <i>";
        append_html_escaped(body, up.name);
        fmt::format_to(std::back_inserter(body), "</i> before it waits {:.0f}% for room",
                       pct(up.wait_output_ns, up.workers));
      }
      if (b + 1 < r.stages.size()) {
        const StageMetrics& down = r.stages[b + 1];
        body += "; <i>";
        append_html_escaped(body, down.name);
        fmt::format_to(std::back_inserter(body), "</i> after it waits {:.0f}% for input",
                       pct(down.wait_input_ns, down.workers));
      }
      body += ". Speeding it up (more workers, a faster device) speeds up the pass.</p>";
    }
    body += "</section>";
  }

  void index_runs(std::string& body) const {
    const std::vector<Manifest::RunRecord> runs = manifest_.runs();
    body += "<h2 id=\"runs\">Runs</h2><section class=\"panel\" style=\"padding:4px 6px\">";
    if (runs.empty()) {
      body += "<div class=\"muted\" style=\"padding:12px\">No runs recorded.</div></section>";
      return;
    }
    body +=
        "<table><thead><tr><th class=\"num\">run</th><th>command</th><th>started</th>"
        "<th>ended</th><th>outcome</th><th>device</th><th>vpipe</th><th>counts</th></tr></"
        "thead><tbody>";
    size_t shown = 0;
    for (auto it = runs.rbegin(); it != runs.rend() && shown < kRunsShown; ++it, ++shown) {
      const Manifest::RunRecord& run = *it;
      const std::string outcome =
          run.outcome.empty() ? (run.ended_at.empty() ? "running or killed" : "?") : run.outcome;
      fmt::format_to(
          std::back_inserter(body),
          "<tr><td class=\"num\">{}</td><td><code>{}</code></td><td class=\"muted nowrap\">{}</td>"
          "<td class=\"muted nowrap\">{}</td><td><span class=\"chip {}\">{}</span></td><td>{}</td>"
          "<td class=\"muted\">{}</td><td class=\"counts muted\">{}</td></tr>",
          run.id, esc(run.command), esc(short_time(run.started_at)), esc(short_time(run.ended_at)),
          esc(outcome), esc(outcome), esc(run.device), esc(run.vpipe_version),
          esc(counts_text(run.counts)));
    }
    body += "</tbody></table>";
    if (runs.size() > kRunsShown) {
      fmt::format_to(std::back_inserter(body),
                     "<div class=\"muted\" style=\"padding:8px 10px\">{} earlier "
                     "runs not shown.</div>",
                     runs.size() - kRunsShown);
    }
    body += "</section>";
  }

  void write_index() {
    std::string body = "<h1>";
    append_html_escaped(body, title_);
    fmt::format_to(
        std::back_inserter(body),
        "</h1><div class=\"sub\">{} files{} &middot; {} duplicate groups &middot; {} rejected "
        "&middot; generated {}</div>",
        grouped(files_), root_note(), grouped(groups_), grouped(rejected_), generated_at_);
    body += "<nav class=\"toc\">";
    if (!url_states_.empty()) body += "<a href=\"#crawl\">Crawl</a>";
    if (!models_.empty()) body += "<a href=\"#predictions\">Predictions</a>";
    body +=
        "<a href=\"#signals\">Quality signals</a><a href=\"#timings\">Stage timings</a>"
        "<a href=\"#runs\">Runs</a></nav>";
    index_cards(body);
    index_breakdown(body);
    index_crawl(body);
    index_predictions(body);
    index_histograms(body);
    const std::vector<Manifest::PassMetrics> passes = manifest_.latest_pass_metrics();
    body += "<h2 id=\"timings\">Stage timings</h2>";
    if (passes.empty()) {
      body += "<div class=\"empty\">No stage timings recorded.</div>";
    } else {
      for (const Manifest::PassMetrics& pass : passes) index_pass(body, pass);
    }
    index_runs(body);
    write_page("index.html", "index", "Overview", body);
  }

  const Manifest& manifest_;
  const ReportOptions& options_;
  fs::path dir_;
  ThumbnailCache thumbs_;
  ThumbnailCache previews_;  ///< bigger thumbnails for the predictions pages, boxes drawn on them
  int64_t page_size_;
  std::string title_;
  std::string generated_at_;
  std::set<std::string> written_;
  std::string root_;  ///< directory prefix shared by every path ("" = none), not repeated on tiles

  int64_t files_ = 0;
  std::vector<std::string> models_;        ///< models with inferences, sorted
  std::vector<ModelTotals> model_totals_;  ///< filled as each model's pages are written
  int64_t crops_ = 0;
  std::map<std::string, int64_t> url_states_;    ///< the crawl's URLs by state; empty = no crawl
  std::map<std::string, int64_t> url_failures_;  ///< failed URLs by reason
  int64_t crawled_bytes_ = 0;
  std::vector<CrawlHostRecord> crawl_hosts_;
  int64_t groups_ = 0;
  int64_t rejected_ = 0;
  std::map<std::string, int64_t> decisions_;
  std::map<std::string, int64_t> reasons_;
  std::vector<std::pair<std::string, int64_t>> statuses_;  ///< status -> files, ok first
  std::vector<ThresholdRecord> thresholds_;
  std::vector<KeeperCriterion> keeper_order_;  ///< of the last dedup pass, for explain_keeper
  std::vector<std::pair<std::string, int64_t>> rules_by_count_;
  SignalHistograms histograms_;
  GroupTotals group_totals_;
};

}  // namespace

void check_report_dir(const fs::path& out_dir, bool force) {
  std::error_code ec;
  const fs::file_status status = fs::status(out_dir, ec);
  if (!fs::exists(status)) return;
  if (!fs::is_directory(status)) {
    throw ConfigError(fmt::format("report: '{}' exists and is not a directory; choose another folder",
                                  out_dir.string()));
  }
  if (force || fs::is_empty(out_dir, ec) || fs::exists(out_dir / kOutputMarker, ec)) return;
  // Every page vpipe writes carries this in its head.
  constexpr std::string_view kGenerator = "<meta name=\"generator\" content=\"vpipe\">";
  std::string head(4096, '\0');
  if (std::FILE* index = std::fopen((out_dir / "index.html").c_str(), "rb"); index != nullptr) {
    head.resize(std::fread(head.data(), 1, head.size(), index));
    std::fclose(index);
    if (head.find(kGenerator) != std::string::npos) return;
  }
  throw ConfigError(fmt::format(
      "report: '{}' is not empty and holds no earlier vpipe report (an index.html written by "
      "vpipe); its index.html and pages would be replaced. Choose another folder or empty it "
      "(`vpipe report --force` writes into it anyway)",
      out_dir.string()));
}

ReportSummary write_report(const Manifest& manifest, const ReportOptions& options) {
  if (options.page_size < 1) {
    throw ConfigError(
        fmt::format("report page size must be at least 1, not {}", options.page_size));
  }
  if (options.out_dir.empty()) throw ConfigError("report needs an output directory");
  check_report_dir(options.out_dir, options.force);
  if (std::string error; !make_output_dir(options.out_dir.native(), error)) {
    throw IoError(
        fmt::format("cannot create report directory {}: {}", options.out_dir.string(), error));
  }
  ReportWriter writer(manifest, options);
  ReportSummary summary = writer.run();
  log().info("report: {} pages in {}, {} thumbnails made, {} reused, {} without preview",
             summary.pages, options.out_dir.string(), summary.thumbnails_made,
             summary.thumbnails_cached, summary.thumbnail_failures);
  return summary;
}

ReportSummary write_report(const fs::path& db, const ReportOptions& options) {
  std::error_code ec;
  if (!fs::is_regular_file(db, ec)) {
    throw IoError(fmt::format("manifest {} does not exist: run `vpipe scan --db {}` first",
                              db.string(), db.string()));
  }
  const Manifest manifest(db, Manifest::Access::read_only);
  ReportOptions with_title = options;
  if (with_title.title.empty()) with_title.title = "vpipe report: " + db.filename().string();
  return write_report(manifest, with_title);
}

}  // namespace vpipe
