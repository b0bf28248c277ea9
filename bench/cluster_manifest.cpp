// A benchmark manifest whose perceptual hashes cluster like a real photo collection, for the
// dedup pass at scale (issue 22). Every row holds what `vpipe scan` stores for dedup, computed by
// vpipe's own code (pHash, dHash, the eight orientation hashes and the nine crop-window hashes, bit
// for bit what measure_image gives, and the quality signals) on a working image made the way the
// scan makes it; only the files themselves do not exist.
//
//   cluster_manifest OUT.db --rows N --photos DIR [--profile crawl|heavy] [--seed S]
//                    [--threads T] [--force] [--truth FILE.csv] [--exact-signals]
//
// Sources (distinct pictures), each with its rows (the first row is the source itself, unedited):
//   - regions of the real photographs in DIR (JPEG/PNG; the repository's realphotos/, fetched by
//     scripts/realphoto/fetch.sh), 30..100% of each side at a random position: at most
//     kSourcesPerPhoto (6) per photo, round robin, given to the largest clusters first. Regions of
//     one photo overlap: 4% of pairs of random regions of one photo are near duplicates under the
//     default dedup (against 2e-5 for regions of different photos), so with more of them the pairs
//     between "distinct" sources grew with the square of N and swamped the planted ones.
//   - procedural scenes (synth::render_scene, one seed each) for every other source, including
//     all singletons: 7e-6 of pairs of scenes are near duplicates, a background of chance pairs
//     like real photos have. render_scene costs ~0.1 ms per thousand pixels, so a scene is
//     rendered once per source at 64..96 px (singletons: the size of a small web image, which is
//     then its working image), 128 px (clusters under 100 rows) or 512 px (larger), and claims a
//     plausible full-resolution size (640..4032 px on the longer side).
//
// Profiles:
//   crawl  "the proportions of a real crawl": ~70% of rows singletons, ~25% in clusters of 2..10
//          rows, ~5% in clusters of 100..500 rows (the last cluster of a kind may be smaller).
//          A copy is a mild edit: half are cropped to 80..100% of each side (anywhere), 60% are
//          resized to 40..100%, 30% get a brightness change (gain 0.9..1.1, offset -10..10), all
//          get slight noise standing in for a JPEG re-encode (sigma 0.5..2 levels), and 4% are
//          turned 90/180/270 degrees or mirrored.
//   heavy  the issue's worst case: every source has 200..600 rows (the last one the remainder),
//          each a random crop of 25..100% of each side, anywhere, with re-encode noise (sigma
//          0.5..1.5). No singletons.
//
// A row's working image is cut from a pyramid of its source (halvings), at the coarsest level
// whose cut is still >= 256 px on the longer side, then shrunk with resize_to_fit(kWorkingSize) as
// the scan does after TurboJPEG's DCT scaling; a copy resized below 256 px is resampled to its
// own size. The quality signals are measured by quality_signals_cpu on a copy of half the working
// size (a quarter of their cost; --exact-signals runs measure_image itself: heavy 200k 20% slower).
//
// Sources are shuffled and cut into windows of ~50,000 rows; the rows of a window get its paths in
// random order (copies of a picture land in different folders), are made source by source on
// --threads workers (default 2), and are written in path order (upsert_files, 10,000 rows a
// transaction) while the workers make the next window.
//
// Cost (2-core AMD EPYC VM, --threads 2, idle): ~0.33 ms of CPU per row, most of it vpipe's hashes
// (~0.13 ms), render_scene and the signals; 200,000 rows in 36 s (crawl) / 34 s (heavy), ~500 MB
// peak RSS (the decoded photos), ~600 bytes of manifest per row. 2,000,000 crawl rows: 646 s with
// a compiler competing for the cores (790 s of CPU), 620 MB.
//
// Each row: path /data/set%03d/img_%08d.jpg, status ok, format jpeg, the copy's width/height
// (photo pixels for a photo region), size_bytes ~0.12..0.45 bytes per pixel, mtime_ns from 2012
// on (a copy later than its source), a random unique content hash (no exact duplicates: the dedup
// pass would open the files to confirm them). The same --seed gives the same manifest whatever
// --threads. OUT.db must not exist (--force replaces it). Prints one line: rows, sources,
// singletons, largest cluster, seconds. --truth writes `path,source,copy,photo` for every row
// (source: an index into the plan; copy 0: the source itself; photo: the file a region came from,
// empty for a scene), to tell planted pairs from pairs between sources.
#include <algorithm>
#include <array>
#include <atomic>
#include <cctype>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <mutex>
#include <numbers>
#include <numeric>
#include <opencv2/core.hpp>
#include <opencv2/imgproc.hpp>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "vpipe/core/image.h"
#include "vpipe/core/image_ops.h"
#include "vpipe/core/record.h"
#include "vpipe/dedup/hashes.h"
#include "vpipe/io/decode.h"
#include "vpipe/io/file_store.h"
#include "vpipe/io/manifest.h"
#include "vpipe/quality/signals.h"
#include "vpipe/scan/scan.h"
#include "vpipe/synth/procedural.h"
#include "vpipe/synth/rng.h"

namespace {

namespace fs = std::filesystem;
using vpipe::FileRecord;
using vpipe::Image;
using vpipe::synth::Rng;
using vpipe::synth::stream_seed;

enum class Profile { kCrawl, kHeavy };

struct Options {
  fs::path out;
  int64_t rows = 0;
  fs::path photos;
  Profile profile = Profile::kCrawl;
  uint64_t seed = 1;
  int threads = 2;
  bool force = false;
  bool exact_signals = false;
  fs::path truth;  ///< optional CSV: path,source,copy,photo for every row
};

constexpr const char* kUsage =
    "usage: cluster_manifest OUT.db --rows N --photos DIR [--profile crawl|heavy] [--seed S]\n"
    "                        [--threads T] [--force] [--truth FILE.csv]\n"
    "                        [--exact-signals]\n";

Options parse_options(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) throw std::invalid_argument(std::string(arg) + " needs a value");
      return argv[++i];
    };
    if (arg == "--rows") {
      o.rows = std::stoll(value());
    } else if (arg == "--photos") {
      o.photos = value();
    } else if (arg == "--profile") {
      const std::string p = value();
      if (p != "crawl" && p != "heavy") throw std::invalid_argument("--profile: crawl or heavy");
      o.profile = p == "crawl" ? Profile::kCrawl : Profile::kHeavy;
    } else if (arg == "--seed") {
      o.seed = std::stoull(value());
    } else if (arg == "--threads") {
      o.threads = std::stoi(value());
    } else if (arg == "--truth") {
      o.truth = value();
    } else if (arg == "--exact-signals") {
      o.exact_signals = true;
    } else if (arg == "--force") {
      o.force = true;
    } else if (!arg.empty() && arg[0] != '-' && o.out.empty()) {
      o.out = arg;
    } else {
      throw std::invalid_argument("unknown argument '" + std::string(arg) + "'");
    }
  }
  if (o.out.empty() || o.photos.empty() || o.rows <= 0) {
    throw std::invalid_argument("OUT.db, --rows N (> 0) and --photos DIR are required");
  }
  if (o.rows > 100'000'000) throw std::invalid_argument("--rows: at most 100,000,000");
  if (o.threads < 1 || o.threads > 256) throw std::invalid_argument("--threads: 1..256");
  return o;
}

// --- Photos -----------------------------------------------------------------------------------

/// A source picture and its halvings: levels[0] is full size (HWC, gray or RGB), each next level
/// half the previous (area), down to the first whose longer side is < 512.
struct Pyramid {
  std::string name;  ///< the photo's file name; empty for a scene
  std::vector<Image> levels;
  [[nodiscard]] int width() const { return levels[0].width; }
  [[nodiscard]] int height() const { return levels[0].height; }
};

void build_levels(Pyramid& pyramid, Image full) {
  pyramid.levels.clear();
  pyramid.levels.push_back(std::move(full));
  while (std::max(pyramid.levels.back().width, pyramid.levels.back().height) >= 512) {
    const Image& top = pyramid.levels.back();
    pyramid.levels.push_back(vpipe::synth::resize_exact(top, top.width / 2, top.height / 2));
  }
}

bool is_photo_file(const fs::path& p) {
  std::string ext = p.extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return ext == ".jpg" || ext == ".jpeg" || ext == ".png";
}

std::vector<Pyramid> load_photos(const fs::path& dir, int threads) {
  if (!fs::is_directory(dir)) {
    throw std::runtime_error("--photos: '" + dir.string() +
                             "' is not a directory (bash scripts/realphoto/fetch.sh makes "
                             "realphotos/)");
  }
  std::vector<fs::path> files;
  for (const auto& entry : fs::directory_iterator(dir)) {
    if (entry.is_regular_file() && is_photo_file(entry.path())) files.push_back(entry.path());
  }
  std::sort(files.begin(), files.end());  // the plan depends on the order, not on the listing
  std::vector<Pyramid> photos(files.size());
  std::atomic<size_t> next{0};
  std::vector<std::jthread> workers;
  workers.reserve(static_cast<size_t>(threads));
  for (int t = 0; t < threads; ++t) {
    workers.emplace_back([&] {
      vpipe::Decoder decoder;
      for (size_t i = next++; i < files.size(); i = next++) {
        std::ifstream in(files[i], std::ios::binary);
        const std::vector<uint8_t> bytes((std::istreambuf_iterator<char>(in)), {});
        vpipe::DecodeResult decoded = decoder.decode(bytes, {});
        photos[i].name = files[i].filename().string();
        if (!vpipe::has_signals(decoded.status) || decoded.image.empty()) continue;
        build_levels(photos[i], vpipe::composite_over(std::move(decoded.image), decoded.alpha));
      }
    });
  }
  workers.clear();  // joins
  std::erase_if(photos, [&](const Pyramid& p) {
    if (!p.levels.empty()) return false;
    std::fprintf(stderr, "cluster_manifest: skipping %s (does not decode)\n", p.name.c_str());
    return true;
  });
  if (photos.empty()) {
    throw std::runtime_error("no JPEG or PNG photo decodes in '" + dir.string() +
                             "' (bash scripts/realphoto/fetch.sh fetches them)");
  }
  return photos;
}

// --- The plan: sources, their rows, and where each row lands ------------------------------------

/// At most this many sources are regions of one photo (see the header).
constexpr int kSourcesPerPhoto = 6;
/// Rows of a window (consecutive sources) whose paths are shuffled among themselves.
constexpr int64_t kWindowRows = 50'000;

/// A source picture: a region of a photo (a rectangle in its full-size pixels), or the procedural
/// scene of `scene_seed` rendered at scene_width x scene_height.
struct Source {
  bool scene = false;
  uint32_t photo = 0;
  double x = 0, y = 0, w = 0, h = 0;
  uint64_t scene_seed = 0;
  uint16_t scene_width = 0, scene_height = 0;
  float scene_full_scale = 1;  ///< claimed full-resolution pixels per rendered pixel
  int32_t rows = 0;
  int64_t first_row = 0;      ///< rows first_row .. first_row + rows - 1, in source order
  int64_t base_mtime_ns = 0;  ///< the source's own time; its copies are later
};

/// Consecutive sources whose rows share a range of paths.
struct Window {
  size_t first_source = 0, end_source = 0;
  int64_t first_row = 0, end_row = 0;  ///< also its paths: first_row .. end_row - 1
};

struct Plan {
  Profile profile = Profile::kCrawl;
  uint64_t seed = 0;
  bool exact_signals = false;
  std::vector<Source> sources;
  std::vector<Window> windows;
  std::vector<uint32_t> path_of_row;  ///< row -> path index, a permutation within each window
  int64_t singletons = 0;
  int64_t photo_sources = 0;
  int32_t largest = 0;
};

/// Cluster sizes drawn uniformly from [lo, hi] until they hold `target` rows (the last one is cut
/// to fit; a remainder below 2 rows is left to the singletons).
void draw_clusters(Rng& rng, int64_t target, int lo, int hi, std::vector<int32_t>& sizes) {
  while (target >= 2) {
    const int size = static_cast<int>(std::min<int64_t>(rng.range(lo, hi), target));
    sizes.push_back(size);
    target -= size;
  }
}

void set_photo_region(Rng& rng, const Pyramid& photo, Source& s) {
  s.w = photo.width() * rng.uniform(0.3, 1.0);
  s.h = photo.height() * rng.uniform(0.3, 1.0);
  s.x = rng.uniform(0.0, photo.width() - s.w);
  s.y = rng.uniform(0.0, photo.height() - s.h);
}

void set_scene(Rng& rng, int long_side, Source& s) {
  static constexpr std::array<std::array<int, 2>, 6> kAspects{
      {{4, 3}, {3, 2}, {16, 9}, {1, 1}, {3, 4}, {2, 3}}};
  const auto aspect = kAspects[static_cast<size_t>(rng.range(0, 5))];
  const int a = std::max(aspect[0], aspect[1]);
  s.scene = true;
  s.scene_seed = rng.next();
  s.scene_width = static_cast<uint16_t>(std::max(1, long_side * aspect[0] / a));
  s.scene_height = static_cast<uint16_t>(std::max(1, long_side * aspect[1] / a));
  s.scene_full_scale = static_cast<float>(rng.range(640, 4032)) / static_cast<float>(long_side);
}

Plan make_plan(Profile profile, int64_t rows, uint64_t seed, const std::vector<Pyramid>& photos) {
  Plan plan;
  plan.profile = profile;
  plan.seed = seed;
  Rng rng(stream_seed(seed, 0));
  std::vector<int32_t> cluster_sizes;  // largest kind first: they get the photo regions
  if (profile == Profile::kCrawl) {
    draw_clusters(rng, rows * 5 / 100, 100, 500, cluster_sizes);
    draw_clusters(rng, rows * 25 / 100, 2, 10, cluster_sizes);
  } else {
    draw_clusters(rng, rows, 200, 600, cluster_sizes);
  }
  plan.singletons = rows - std::accumulate(cluster_sizes.begin(), cluster_sizes.end(), int64_t{0});
  const auto photo_budget = static_cast<size_t>(kSourcesPerPhoto) * photos.size();
  for (size_t i = 0; i < cluster_sizes.size(); ++i) {
    Source s;
    s.rows = cluster_sizes[i];
    if (i < photo_budget) {
      s.photo = static_cast<uint32_t>(i % photos.size());
      set_photo_region(rng, photos[s.photo], s);
      ++plan.photo_sources;
    } else {
      set_scene(rng, s.rows >= 100 ? 512 : 128, s);
    }
    plan.largest = std::max(plan.largest, s.rows);
    plan.sources.push_back(s);
  }
  for (int64_t i = 0; i < plan.singletons; ++i) {
    Source s;
    s.rows = 1;
    set_scene(rng, rng.range(64, 96), s);
    plan.largest = std::max(plan.largest, s.rows);
    plan.sources.push_back(s);
  }

  // Sources in random order; their rows in that order; windows of consecutive sources whose
  // rows take the window's paths in random order.
  Rng shuffle(stream_seed(seed, 1));
  for (size_t i = plan.sources.size() - 1; i > 0; --i) {
    std::swap(plan.sources[i], plan.sources[static_cast<size_t>(shuffle.next() % (i + 1))]);
  }
  constexpr int64_t kEpoch2012Ns = 1'325'376'000LL * 1'000'000'000LL;
  constexpr double kTenYearsNs = 10.0 * 365.25 * 86400.0 * 1e9;
  int64_t row = 0;
  for (size_t i = 0; i < plan.sources.size(); ++i) {
    Source& s = plan.sources[i];
    s.first_row = row;
    s.base_mtime_ns = kEpoch2012Ns + static_cast<int64_t>(shuffle.uniform() * kTenYearsNs);
    row += s.rows;
    if (plan.windows.empty() ||
        plan.windows.back().end_row - plan.windows.back().first_row >= kWindowRows) {
      plan.windows.push_back({i, i, s.first_row, s.first_row});
    }
    plan.windows.back().end_source = i + 1;
    plan.windows.back().end_row = row;
  }
  plan.path_of_row.resize(static_cast<size_t>(rows));
  std::iota(plan.path_of_row.begin(), plan.path_of_row.end(), 0u);
  for (const Window& w : plan.windows) {
    for (int64_t i = w.end_row - 1; i > w.first_row; --i) {
      const int64_t j = w.first_row + static_cast<int64_t>(shuffle.next() % (i - w.first_row + 1));
      std::swap(plan.path_of_row[static_cast<size_t>(i)], plan.path_of_row[static_cast<size_t>(j)]);
    }
  }
  return plan;
}

// --- One row ----------------------------------------------------------------------------------

/// How a row's copy differs from its source. Fractions are of the source's sides.
struct Variant {
  double crop_x = 0, crop_y = 0, crop_w = 1, crop_h = 1;
  double scale = 1;  ///< the copy was resized by this
  double gain = 1, offset = 0;
  double noise_sigma = 0;  ///< gray levels
  int turn = 0;            ///< 0 none, 1..3 rotated 90/180/270 clockwise, 4 mirrored
};

Variant draw_variant(Profile profile, Rng& rng) {
  Variant v;
  auto crop = [&](double lo) {
    v.crop_w = rng.uniform(lo, 1.0);
    v.crop_h = rng.uniform(lo, 1.0);
    v.crop_x = rng.uniform(0.0, 1.0 - v.crop_w);
    v.crop_y = rng.uniform(0.0, 1.0 - v.crop_h);
  };
  if (profile == Profile::kHeavy) {
    crop(0.25);
    v.noise_sigma = rng.uniform(0.5, 1.5);
    return v;
  }
  if (rng.chance(0.5)) crop(0.8);
  if (rng.chance(0.6)) v.scale = rng.uniform(0.4, 1.0);
  if (rng.chance(0.3)) {
    v.gain = rng.uniform(0.9, 1.1);
    v.offset = rng.uniform(-10.0, 10.0);
  }
  v.noise_sigma = rng.uniform(0.5, 2.0);
  if (rng.chance(0.04)) v.turn = rng.range(1, 4);
  return v;
}

/// Gaussian noise, shared read-only by every worker: for each sigma of kSigmaStep, 0..kMaxSigma
/// levels, kSize samples rounded to whole levels. A row's noise is a run of one table from a
/// random start, cheaper than drawing 150,000 samples per row.
struct NoiseTable {
  static constexpr size_t kSize = size_t{1} << 18;
  static constexpr double kSigmaStep = 0.25;
  static constexpr double kMaxSigma = 2.0;
  std::vector<std::vector<int8_t>> by_sigma;  ///< [round(sigma / kSigmaStep)][i]
  NoiseTable() {
    std::vector<double> z(kSize);
    Rng rng(0x6e6f697365ULL);
    for (double& v : z) {
      // Box-Muller, clipped at 4 sigma.
      const double u1 = std::max(rng.uniform(), 1e-12);
      const double normal =
          std::sqrt(-2.0 * std::log(u1)) * std::cos(2.0 * std::numbers::pi * rng.uniform());
      v = std::clamp(normal, -4.0, 4.0);
    }
    for (double sigma = 0; sigma <= kMaxSigma + 1e-9; sigma += kSigmaStep) {
      std::vector<int8_t>& table = by_sigma.emplace_back(kSize);
      for (size_t i = 0; i < kSize; ++i) table[i] = static_cast<int8_t>(std::lround(z[i] * sigma));
    }
  }
};

/// out = saturate(in * gain + offset + noise), in place (the working image, any channels).
void apply_tone_and_noise(Image& img, const Variant& v, const NoiseTable& noise, Rng& rng) {
  if (v.gain != 1 || v.offset != 0) {
    cv::Mat mat(img.height, img.width, CV_8UC(img.channels), img.pixels.data(), img.stride());
    mat.convertTo(mat, -1, v.gain, v.offset);
  }
  const auto level = static_cast<size_t>(
      std::lround(std::clamp(v.noise_sigma, 0.0, NoiseTable::kMaxSigma) / NoiseTable::kSigmaStep));
  if (level == 0) return;
  const int8_t* table = noise.by_sigma[level].data();
  const size_t n = img.pixels.size();
  size_t start = static_cast<size_t>(rng.next() % NoiseTable::kSize);
  uint8_t* px = img.pixels.data();
  for (size_t done = 0; done < n;) {
    const size_t run = std::min(n - done, NoiseTable::kSize - start);
    const int8_t* z = table + start;
    uint8_t* out = px + done;
    for (size_t i = 0; i < run; ++i) {
      const int value = out[i] + z[i];
      out[i] = static_cast<uint8_t>(value < 0 ? 0 : (value > 255 ? 255 : value));
    }
    done += run;
    start = 0;
  }
}

/// `img` turned by Variant::turn (1..4).
Image turned(const Image& img, int turn) {
  const bool swaps = turn == 1 || turn == 3;
  Image out(swaps ? img.height : img.width, swaps ? img.width : img.height, img.channels);
  const cv::Mat in(img.height, img.width, CV_8UC(img.channels),
                   const_cast<uint8_t*>(img.pixels.data()), img.stride());
  cv::Mat dst(out.height, out.width, CV_8UC(out.channels), out.pixels.data(), out.stride());
  if (turn == 4) {
    cv::flip(in, dst, 1);
  } else {
    cv::rotate(in, dst,
               turn == 1 ? cv::ROTATE_90_CLOCKWISE
                         : (turn == 2 ? cv::ROTATE_180 : cv::ROTATE_90_COUNTERCLOCKWISE));
  }
  return out;
}

/// The working image of the copy of the rectangle x, y, w, h (pixels of `source` at full size)
/// resized to `file_w` x `file_h`: cut from the coarsest pyramid level that still has the pixels
/// the scan would have (>= kWorkingSize on the longer side after its DCT scaling, or the file's own
/// size when that is smaller), then shrunk as the scan does.
Image working_image(const Pyramid& source, double x, double y, double w, double h, int file_w,
                    int file_h) {
  const int file_long = std::max(file_w, file_h);
  const double need = std::min(file_long, vpipe::kWorkingSize);
  size_t level = 0;
  while (level + 1 < source.levels.size() && std::max(w, h) / (2 << level) >= need) ++level;
  const Image& src = source.levels[level];
  const double f = 1.0 / (1 << level);
  const int cx = std::clamp(static_cast<int>(x * f), 0, src.width - 1);
  const int cy = std::clamp(static_cast<int>(y * f), 0, src.height - 1);
  const int cw = std::clamp(static_cast<int>(std::lround(w * f)), 1, src.width - cx);
  const int ch = std::clamp(static_cast<int>(std::lround(h * f)), 1, src.height - cy);
  Image cut = vpipe::crop_image(src, cx, cy, cw, ch);
  if (file_long <= vpipe::kWorkingSize) {
    // A copy smaller than the working size is measured at its own size.
    if (cut.width != file_w || cut.height != file_h) {
      cut = vpipe::synth::resize_exact(cut, file_w, file_h);
    }
    return cut;
  }
  return vpipe::resize_to_fit(cut, vpipe::kWorkingSize);
}

/// What `vpipe scan` stores for dedup, from the working image (longer side <= kWorkingSize):
/// with `exact_signals`, measure_image itself. Otherwise the same hashes, bit for bit (the same
/// calls measure_image makes), and the quality signals measured on a copy of half the working
/// size (a quarter of the cost; edges come out sharper, so fewer rows are `blurry`).
void measure_row(const Image& working, FileRecord& record, bool exact_signals) {
  if (exact_signals) {
    vpipe::measure_image(working, record, /*orientation_hashes=*/true);
    return;
  }
  const Image gray = vpipe::to_gray(working);
  vpipe::store_dedup_hashes(gray, record);
  const int longer = std::max(working.width, working.height);
  if (longer >= 128) {
    const Image half = vpipe::resize_to_fit(working, longer / 2);
    record.quality = vpipe::quality_signals_cpu(half, vpipe::to_gray(half));
  } else {
    record.quality = vpipe::quality_signals_cpu(working, gray);
  }
  record.has_signals = true;
}

/// The path of the row at `path_index` in path order: 10,000 rows a folder.
std::string row_path(int64_t path_index) {
  char path[64];
  std::snprintf(path, sizeof path, "/data/set%03lld/img_%08lld.jpg",
                static_cast<long long>(path_index / 10000), static_cast<long long>(path_index));
  return path;
}

/// Fills `record` with row `row` of the plan, a copy of `src` (its first row: the source itself),
/// whose pixels are `pixels` (for a photo region, the photo's pyramid; for a scene, its
/// rendering). Thread-safe (reads its arguments only).
void make_row(const Plan& plan, const Source& src, const Pyramid& pixels, const NoiseTable& noise,
              int64_t row, FileRecord& record) {
  const int64_t copy = row - src.first_row;
  Rng rng(stream_seed(plan.seed ^ 0x726f77ULL, static_cast<uint64_t>(row)));
  record = FileRecord{};
  record.path = row_path(plan.path_of_row[static_cast<size_t>(row)]);
  record.status = vpipe::ItemStatus::kOk;
  record.format = "jpeg";
  record.content_hash = {rng.next(), rng.next()};
  record.has_content_hash = true;
  record.mtime_ns = src.base_mtime_ns;
  if (copy > 0) record.mtime_ns += static_cast<int64_t>(rng.uniform() * 3.0 * 365.25 * 86400e9);

  const Variant v = copy == 0 ? Variant{} : draw_variant(plan.profile, rng);
  // The rectangle in the source's full-size pixels and the copy's size in the same pixels.
  const double sx = src.scene ? 0.0 : src.x;
  const double sy = src.scene ? 0.0 : src.y;
  const double sw = src.scene ? pixels.width() : src.w;
  const double sh = src.scene ? pixels.height() : src.h;
  const double x = sx + v.crop_x * sw;
  const double y = sy + v.crop_y * sh;
  const double w = v.crop_w * sw;
  const double h = v.crop_h * sh;
  const int file_w = std::max(1, static_cast<int>(std::lround(w * v.scale)));
  const int file_h = std::max(1, static_cast<int>(std::lround(h * v.scale)));
  Image working = working_image(pixels, x, y, w, h, file_w, file_h);
  apply_tone_and_noise(working, v, noise, rng);
  if (v.turn != 0) working = turned(working, v.turn);
  const double full_scale = src.scene ? src.scene_full_scale : 1.0;
  const bool swaps = v.turn == 1 || v.turn == 3;
  record.width = std::max(1, static_cast<int>(std::lround((swaps ? file_h : file_w) * full_scale)));
  record.height =
      std::max(1, static_cast<int>(std::lround((swaps ? file_w : file_h) * full_scale)));
  const double bytes_per_pixel = rng.uniform(0.12, 0.45);  // JPEG qualities ~70..95
  record.size_bytes = 1024 + static_cast<int64_t>(static_cast<double>(record.width) *
                                                  record.height * bytes_per_pixel);
  measure_row(working, record, plan.exact_signals);
}

/// Fills the rows of source `src` into `window_rows` (indexed by path - first_path): renders a
/// scene once for all its rows. Thread-safe.
void make_source_rows(const Plan& plan, const std::vector<Pyramid>& photos, const NoiseTable& noise,
                      const Source& src, int64_t first_path, std::vector<FileRecord>& window_rows) {
  Pyramid scene;
  if (src.scene) {
    build_levels(scene,
                 vpipe::synth::render_scene(src.scene_seed, src.scene_width, src.scene_height, 3));
  }
  const Pyramid& pixels = src.scene ? scene : photos[src.photo];
  for (int64_t row = src.first_row; row < src.first_row + src.rows; ++row) {
    const int64_t slot = plan.path_of_row[static_cast<size_t>(row)] - first_path;
    make_row(plan, src, pixels, noise, row, window_rows[static_cast<size_t>(slot)]);
  }
}

// --- Writing ----------------------------------------------------------------------------------

/// Makes the rows window by window, each window's sources on `threads` workers (largest first),
/// and writes each window in path order, kBatch rows a transaction, on this thread while the
/// workers make the next. A worker's exception is rethrown here.
void build_rows(const Plan& plan, const std::vector<Pyramid>& photos, int threads,
                vpipe::Manifest& manifest) {
  constexpr size_t kBatch = 10'000;
  const NoiseTable noise;
  std::array<std::vector<FileRecord>, 2> buffers;
  std::exception_ptr error;
  std::mutex error_mutex;

  auto make_window = [&](const Window& window, std::vector<FileRecord>& out) {
    out.resize(static_cast<size_t>(window.end_row - window.first_row));
    std::vector<size_t> order(window.end_source - window.first_source);
    std::iota(order.begin(), order.end(), window.first_source);
    std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
      return plan.sources[a].rows > plan.sources[b].rows;  // the long ones first: no straggler
    });
    std::atomic<size_t> next{0};
    std::vector<std::jthread> workers;
    workers.reserve(static_cast<size_t>(threads));
    for (int t = 0; t < threads; ++t) {
      workers.emplace_back([&] {
        try {
          for (size_t i = next++; i < order.size(); i = next++) {
            make_source_rows(plan, photos, noise, plan.sources[order[i]], window.first_row, out);
          }
        } catch (...) {
          const std::lock_guard lock(error_mutex);
          if (!error) error = std::current_exception();
        }
      });
    }
  };

  std::jthread maker;
  for (size_t w = 0; w < plan.windows.size(); ++w) {
    std::vector<FileRecord>& current = buffers[w % 2];
    if (w == 0) make_window(plan.windows[0], current);
    if (maker.joinable()) maker.join();
    if (error) std::rethrow_exception(error);
    if (w + 1 < plan.windows.size()) {
      maker = std::jthread([&, w] { make_window(plan.windows[w + 1], buffers[(w + 1) % 2]); });
    }
    for (size_t b = 0; b < current.size(); b += kBatch) {
      vpipe::FileStore(manifest).upsert_files(
          std::span<const FileRecord>(current).subspan(b, std::min(kBatch, current.size() - b)));
    }
  }
  if (maker.joinable()) maker.join();
  if (error) std::rethrow_exception(error);
}

void write_truth(const Plan& plan, const std::vector<Pyramid>& photos, const fs::path& file) {
  std::vector<uint32_t> source_of_path(plan.path_of_row.size());
  std::vector<uint32_t> copy_of_path(plan.path_of_row.size());
  for (size_t i = 0; i < plan.sources.size(); ++i) {
    const Source& src = plan.sources[i];
    for (int32_t c = 0; c < src.rows; ++c) {
      const uint32_t path = plan.path_of_row[static_cast<size_t>(src.first_row + c)];
      source_of_path[path] = static_cast<uint32_t>(i);
      copy_of_path[path] = static_cast<uint32_t>(c);
    }
  }
  std::FILE* out = std::fopen(file.c_str(), "w");
  if (out == nullptr) throw std::runtime_error("cannot write '" + file.string() + "'");
  std::fputs("path,source,copy,photo\n", out);
  for (size_t p = 0; p < source_of_path.size(); ++p) {
    const Source& src = plan.sources[source_of_path[p]];
    std::fprintf(out, "%s,%u,%u,%s\n", row_path(static_cast<int64_t>(p)).c_str(), source_of_path[p],
                 copy_of_path[p], src.scene ? "" : photos[src.photo].name.c_str());
  }
  if (std::fclose(out) != 0) throw std::runtime_error("cannot write '" + file.string() + "'");
}

}  // namespace

int main(int argc, char** argv) {
  Options options;
  try {
    options = parse_options(argc, argv);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "cluster_manifest: %s\n%s", e.what(), kUsage);
    return 2;
  }
  try {
    const auto t0 = std::chrono::steady_clock::now();
    if (fs::exists(options.out)) {
      if (!options.force) {
        throw std::runtime_error("'" + options.out.string() + "' exists (--force replaces it)");
      }
      for (const char* suffix : {"", "-wal", "-shm"}) {
        fs::remove(options.out.string() + suffix);
      }
    }
    cv::setNumThreads(1);  // the workers are the parallelism
    const std::vector<Pyramid> photos = load_photos(options.photos, options.threads);
    const double load_seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    Plan plan = make_plan(options.profile, options.rows, options.seed, photos);
    plan.exact_signals = options.exact_signals;
    const char* profile = options.profile == Profile::kCrawl ? "crawl" : "heavy";
    vpipe::Manifest manifest(options.out);
    char config[160];
    std::snprintf(config, sizeof config,
                  R"({"generator":"cluster_manifest","profile":"%s","rows":%lld,"seed":%llu})",
                  profile, static_cast<long long>(options.rows),
                  static_cast<unsigned long long>(options.seed));
    const int64_t run = manifest.begin_run("cluster_manifest", config, "cpu");
    build_rows(plan, photos, options.threads, manifest);
    manifest.end_run(run, "completed", {{"ok", options.rows}});
    if (!options.truth.empty()) write_truth(plan, photos, options.truth);
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    std::printf(
        "cluster_manifest: %lld rows, %zu sources (%lld singletons, %lld photo regions), largest "
        "cluster %d, profile %s, seed %llu, %zu photos (%.1f s to load), %d threads, %.1f s\n",
        static_cast<long long>(options.rows), plan.sources.size(),
        static_cast<long long>(plan.singletons), static_cast<long long>(plan.photo_sources),
        plan.largest, profile, static_cast<unsigned long long>(options.seed), photos.size(),
        load_seconds, options.threads, seconds);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "cluster_manifest: %s\n", e.what());
    return 1;
  }
  return 0;
}
