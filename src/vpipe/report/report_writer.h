#pragma once

// Private to vpipe_report: the HTML report's writer, one class whose pages live in a file each
// (report_writer.cpp: the frame, assets and shared tiles; page_index.cpp, page_files.cpp,
// page_groups.cpp, page_rejects.cpp, page_predictions.cpp), and the formatting helpers they share
// (report_helpers.cpp).

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
#include "vpipe/crawl/url_store.h"
#include "vpipe/dedup/dedup_store.h"
#include "vpipe/dedup/grouping.h"
#include "vpipe/infer/inference_store.h"
#include "vpipe/io/atomic_file.h"
#include "vpipe/io/jpeg_quality.h"
#include "vpipe/io/manifest.h"
#include "vpipe/io/walk.h"
#include "vpipe/quality/rules.h"
#include "vpipe/report/html.h"
#include "vpipe/report/html_report.h"
#include "vpipe/report/style.h"
#include "vpipe/report/svg.h"
#include "vpipe/report/thumbnails.h"

namespace vpipe::report_detail {

namespace fs = std::filesystem;

using CuratedFile = DedupStore::CuratedFile;
using CuratedQuery = DedupStore::CuratedQuery;

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
[[nodiscard]] std::string_view rule_text(std::string_view rule);

[[nodiscard]] std::string esc(std::string_view text);

/// 1234567 -> "1,234,567".
[[nodiscard]] std::string grouped(int64_t n);

/// "1 file", "2 files".
[[nodiscard]] std::string count_text(int64_t n, std::string_view one, std::string_view many);

[[nodiscard]] std::string percent(int64_t part, int64_t whole);

/// Share 0..100 for CSS widths.
[[nodiscard]] double share(int64_t part, int64_t whole);

[[nodiscard]] std::string format_bytes(int64_t bytes);

[[nodiscard]] std::string format_duration(int64_t ns);

/// A measured value for display: 4 significant digits.
[[nodiscard]] std::string value_text(double v);

/// "2024-05-01T12:34:56.789Z" -> "2024-05-01 12:34:56" (the manifest's timestamps, shortened).
[[nodiscard]] std::string short_time(std::string_view iso);

/// The runs' counts, a flat JSON object of numbers, as "keep 403 · reject 144".
[[nodiscard]] std::string counts_text(std::string_view json);

[[nodiscard]] std::string now_utc();

/// The keeper order of the newest dedup pass, as its run recorded it (`"keeper":[...]` in the
/// config of `vpipe dedup` and `vpipe run`); the default order when none is recorded.
[[nodiscard]] std::vector<KeeperCriterion> recorded_keeper_order(
    const std::vector<Manifest::RunRecord>& runs);

/// "a/b/c.jpg" -> {"a/b/", "c.jpg"}. Splitting at '/' never cuts a UTF-8 sequence.
[[nodiscard]] std::pair<std::string_view, std::string_view> split_path(std::string_view path);

/// The longest directory prefix ("/data/photos/") shared by two paths; "" when none.
[[nodiscard]] std::string common_directory(std::string_view a, std::string_view b);

/// A file-name-safe form of a rule name ([A-Za-z0-9_-]); anything else is replaced and a short
/// hash keeps two different rules apart.
[[nodiscard]] std::string rule_slug(const std::string& rule);

[[nodiscard]] int64_t pages_for(int64_t items, int64_t page_size);

[[nodiscard]] std::string groups_page(int64_t page);

[[nodiscard]] std::string files_page(int64_t page);

[[nodiscard]] std::string rejects_page(const std::string& rule, int64_t page);

/// A model's predictions: "detections-<model>-N.html"; one label of them:
/// "detections-<model>.<label>-N.html" (a slug has no '.', so the two never collide).
[[nodiscard]] std::string detections_page(const std::string& model, const std::string& label,
                                          int64_t page);

[[nodiscard]] std::string crops_page(int64_t page);

/// What a prediction is called on the page: its label, or its class id for a model without labels
/// (as InferenceStore::label_counts counts it).
[[nodiscard]] std::string label_of(const DetectionRecord& d);

/// A colour class ("k0".."k7") per label, the same on every page.
[[nodiscard]] std::string label_colour(const std::string& label);

/// Size of the thumbnail ThumbnailCache makes of a `width` x `height` image with longer side
/// `size` (resize_to_fit: never enlarged, each side rounded): what a box is scaled to.
[[nodiscard]] std::pair<int, int> preview_size(int width, int height, int size);

/// Previous / numbered / next links; nothing for a single page.
[[nodiscard]] std::string pager(int64_t page, int64_t pages,
                                const std::function<std::string(int64_t)>& name,
                                std::string_view info);

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
    hists_.emplace_back(HistogramAxis{"highlight_level", "Highlights (99th percentile of gray)", "",
                                      0, 255, false, 51});
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
 private:
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

  ReportSummary run();

  // --- Output -------------------------------------------------------------------------------

  void write_asset(const std::string& name, std::string_view text);

  /// Wraps `body` in the page frame (head, navigation, footer) and writes it atomically.
  void write_page(const std::string& name, std::string_view nav, std::string_view heading,
                  const std::string& body);

  /// Removes pages of an earlier report (more groups or files then) that this one did not write.
  void remove_stale_pages();

  // --- Pieces -------------------------------------------------------------------------------

  /// The thumbnail box: picture or placeholder, with badges in its corner.
  static void append_thumb(std::string& out, const Thumbnail& thumb, const std::string& badges);

  /// File name (bold) and directory (muted, relative to the corpus root, its start elided when
  /// too long), the whole path as a tooltip.
  void append_name(std::string& out, const std::string& path) const;

  static std::string size_text(const FileRecord& f);

  static void append_reason(std::string& out, const ReasonRecord& r, bool current,
                            const FileRecord& f);

  std::string group_link(int64_t group_id) const;

  /// The directory all files are under: the common prefix of the first and the last path in
  /// byte order is the common prefix of all of them.
  void find_root();

  /// "under /data/photos/" for subtitles, or nothing.
  std::string root_note() const;

  // --- files-N.html and the histograms -----------------------------------------------------

  void write_files_pages();

  void render_group(std::string& out, const GroupCard& g, std::span<const Thumbnail> thumbs) const;

  void write_groups_pages();

  // --- rejects-<rule>-N.html and rejects.html ------------------------------------------------

  std::string rule_tabs(const std::string& active) const;

  const ThresholdRecord* threshold_of(const std::string& rule) const;

  /// A gallery tile of a rejected image: picture, name, and every reason (this rule highlighted).
  void render_reject_tile(std::string& out, const CuratedFile& row, const Thumbnail& thumb,
                          const std::string& rule) const;

  void write_rule_pages(const std::string& rule, int64_t count);

  /// The first kOverviewExamples files `query` selects, with their thumbnails.
  std::pair<std::vector<CuratedFile>, std::vector<Thumbnail>> overview_examples(CuratedQuery query);

  void write_rejects_overview();

  /// The `grayscale` rule informs while it is disabled (the default): a panel with how many kept
  /// files have no colour and the least colourful of them. Nothing when the rule rejects (its
  /// files are then on its own rule page) or no file is colourless.
  void append_informational_grayscale(std::string& body);

  // --- detections-<model>[.<label>]-N.html --------------------------------------------------

  /// Whether `fd` belongs on the pages of `label`: one of its boxes has it, or (a classifier)
  /// its best class is it, as InferenceStore::label_counts counts.
  static bool has_label(const InferenceStore::FileDetections& fd, const std::string& label);

  std::string model_tabs(const std::string& active) const;

  /// The label filter: every label with the number of images it is on; those with pages are
  /// links.
  static std::string label_tabs(const ModelTotals& t, const std::string& active);

  /// A file with the predictions of one model: its preview with every box drawn (an SVG over the
  /// picture, in the preview's pixels), and the predictions listed below. On a label's page the
  /// boxes of other labels are dimmed.
  void render_prediction_tile(std::string& out, const InferenceStore::FileDetections& fd,
                              const Thumbnail& thumb, const std::string& label) const;

  [[nodiscard]] int previews_size() const;

  /// The pages of one model's predictions (`label` empty), or of one of its labels: `count`
  /// files, by path, `page_size` a page.
  void write_prediction_pages(const ModelTotals& t, const std::string& label, int64_t count);

  void write_model_pages(const std::string& model);

  static void render_crop_tile(std::string& out, const CropTile& c, const Thumbnail& thumb,
                               const std::string& root);

  void write_crops_pages();

  // --- index.html -----------------------------------------------------------------------------

  int64_t decision(const char* name) const;

  void index_cards(std::string& body) const;

  /// The decisions, file status and group totals panel of index.html.
  void index_decisions(std::string& body) const;
  /// The rejection reasons panel of index.html: rules by files, thresholds, disabled rules.
  void index_reasons(std::string& body) const;
  /// The keepers of the largest groups, on index.html.
  void index_largest_groups(std::string& body) const;
  void index_breakdown(std::string& body) const;

  /// What the crawl fetched: URLs by state, failures by reason, bytes, and per host (of the
  /// latest crawl run) its share and throughput.
  void index_crawl(std::string& body) const;

  /// Per model: what it found, its most frequent labels linked to their pages.
  void index_predictions(std::string& body) const;

  void index_histograms(std::string& body) const;

  static void index_pass(std::string& body, const Manifest::PassMetrics& pass);

  void index_runs(std::string& body) const;

  void write_index();

 private:
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

}  // namespace vpipe::report_detail
