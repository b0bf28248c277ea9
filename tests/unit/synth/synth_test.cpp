// Tests of vpipe_synth: the corpus is deterministic, has exactly what was asked for, and its
// truth.csv is true (checked with the real decoder).

#include "vpipe/synth/synth.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <map>
#include <opencv2/core.hpp>
#include <opencv2/imgproc.hpp>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "truth_csv.h"
#include "vpipe/core/error.h"
#include "vpipe/core/image_ops.h"
#include "vpipe/io/decode.h"
#include "vpipe/io/format.h"

namespace vpipe {
namespace {

namespace fs = std::filesystem;

using Row = std::map<std::string, std::string>;

std::string read_all(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::vector<Row> read_truth(const fs::path& csv) { return testing::read_truth(csv.string()); }

uint64_t fnv1a(const std::string& bytes) {
  uint64_t h = 0xcbf29ce484222325ULL;
  for (unsigned char c : bytes) h = (h ^ c) * 0x100000001b3ULL;
  return h;
}

// Relative path -> hash of the bytes, for every regular file under `dir`.
std::map<std::string, uint64_t> hash_tree(const fs::path& dir) {
  std::map<std::string, uint64_t> out;
  for (const auto& e : fs::recursive_directory_iterator(dir)) {
    if (e.is_regular_file())
      out[fs::relative(e.path(), dir).generic_string()] = fnv1a(read_all(e.path()));
  }
  return out;
}

DecodeResult decode_file(Decoder& decoder, const fs::path& p) {
  const std::string bytes = read_all(p);
  return decoder.decode({reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size()},
                        DecodeOptions{});
}

cv::Mat mat_of(const Image& img) {
  return cv::Mat(img.height, img.width, CV_8UC(img.channels),
                 const_cast<uint8_t*>(img.pixels.data()), img.stride());
}

// The image as 16 x 16 gray floats, normalised to mean 0 and variance 1, so that a brightness
// shift or a contrast change does not count.
cv::Mat thumbnail(const Image& img) {
  cv::Mat small;
  cv::resize(mat_of(to_gray(img)), small, cv::Size(16, 16), 0, 0, cv::INTER_AREA);
  small.convertTo(small, CV_32F);
  cv::Scalar mean, stddev;
  cv::meanStdDev(small, mean, stddev);
  return (small - mean[0]) / std::max(stddev[0], 1.0);
}

// Pearson correlation of two thumbnails: 1 for the same picture.
double correlation(const cv::Mat& a, const cv::Mat& b) {
  return a.dot(b) / static_cast<double>(a.total());
}

// A DCT perceptual hash as dedup computes one (32 x 32 gray, the 8 x 8 lowest frequencies,
// thresholded at their median), to check that the truth's groups are what a hash can see.
uint64_t dct_hash(const Image& img) {
  cv::Mat small;
  cv::resize(mat_of(to_gray(img)), small, cv::Size(32, 32), 0, 0, cv::INTER_AREA);
  small.convertTo(small, CV_32F);
  cv::Mat freq;
  cv::dct(small, freq);
  std::vector<float> low;
  for (int y = 0; y < 8; ++y) {
    for (int x = 0; x < 8; ++x) low.push_back(freq.at<float>(y, x));
  }
  std::vector<float> sorted(low.begin() + 1, low.end());  // without the DC term
  const auto middle = sorted.begin() + static_cast<std::ptrdiff_t>(sorted.size() / 2);
  std::nth_element(sorted.begin(), middle, sorted.end());
  const float median = *middle;
  uint64_t hash = 0;
  for (int i = 0; i < 64; ++i) hash |= static_cast<uint64_t>(low[i] > median) << i;
  return hash;
}

int hamming(uint64_t a, uint64_t b) { return __builtin_popcountll(a ^ b); }

double mean_luma(const Image& img) { return cv::mean(mat_of(to_gray(img)))[0]; }

// Variance of the Laplacian at the working size: low for blurred images.
double sharpness(const Image& img) {
  const Image small = resize_to_fit(to_gray(img), kWorkingSize);
  cv::Mat lap;
  cv::Laplacian(mat_of(small), lap, CV_32F);
  cv::Scalar mean, stddev;
  cv::meanStdDev(lap, mean, stddev);
  return stddev[0] * stddev[0];
}

const std::vector<std::string> kAllKinds = {
    "original",   "near_reencoded", "near_resized", "near_cropped", "near_brightness",
    "exact_copy", "format_variant", "blurred",      "dark",         "overexposed",
    "tiny",       "truncated",      "corrupt",      "not_image"};

const std::set<std::string> kNearKinds = {"near_reencoded",  "near_resized", "near_cropped",
                                          "near_brightness", "exact_copy",   "format_variant"};

class SynthTest : public ::testing::Test {
 protected:
  static constexpr int kCount = 240;

  static void SetUpTestSuite() {
    root_ = fs::temp_directory_path() / ("vpipe_synth_test_" + std::to_string(::getpid()));
    fs::remove_all(root_);
    fs::create_directories(root_);
  }
  static void TearDownTestSuite() { fs::remove_all(root_); }

  // The shared curate corpus (seed 7, 240 files, 2 threads), made on first use: ctest runs each
  // test in a process of its own, and the tests that do not need it should not pay for it.
  static const fs::path& corpus() {
    if (!made_) {
      SynthOptions options;
      options.out_dir = root_ / "corpus";
      options.count = kCount;
      options.seed = 7;
      options.threads = 2;
      summary_ = synthesize(options);
      truth_ = read_truth(options.out_dir / "truth.csv");
      corpus_ = options.out_dir;
      made_ = true;
    }
    return corpus_;
  }
  static const std::vector<Row>& truth() {
    corpus();
    return truth_;
  }
  static const SynthSummary& summary() {
    corpus();
    return summary_;
  }

  static const Row* row_of(const std::string& path) {
    for (const Row& r : truth()) {
      if (r.at("path") == path) return &r;
    }
    return nullptr;
  }

  static inline fs::path root_;
  static inline bool made_ = false;
  static inline fs::path corpus_;
  static inline SynthSummary summary_;
  static inline std::vector<Row> truth_;
};

TEST_F(SynthTest, SameSeedGivesTheSameBytesWhateverTheThreadCount) {
  SynthOptions options;
  options.out_dir = root_ / "one_thread";
  options.count = kCount;
  options.seed = 7;
  options.threads = 1;
  synthesize(options);
  const auto a = hash_tree(corpus());
  const auto b = hash_tree(options.out_dir);
  EXPECT_EQ(read_all(corpus() / "truth.csv"), read_all(options.out_dir / "truth.csv"));
  ASSERT_EQ(a.size(), b.size());
  EXPECT_EQ(a, b) << "threads=1 and threads=2 wrote different files";

  options.out_dir = root_ / "other_seed";
  options.seed = 8;
  options.threads = 2;
  synthesize(options);
  EXPECT_NE(read_all(corpus() / "truth.csv"), read_all(options.out_dir / "truth.csv"));
  const auto c = hash_tree(options.out_dir);
  std::set<uint64_t> hashes_a;
  for (const auto& [path, h] : a) hashes_a.insert(h);
  int shared = 0;
  for (const auto& [path, h] : c) shared += hashes_a.count(h) ? 1 : 0;
  EXPECT_EQ(shared, 0) << "another seed must give other files";
}

TEST_F(SynthTest, WritesExactlyCountFilesWithEveryKindAndOneRowEach) {
  const auto files = hash_tree(corpus());
  EXPECT_EQ(files.size(), static_cast<size_t>(kCount) + 1);
  EXPECT_TRUE(files.count("truth.csv"));
  ASSERT_EQ(truth().size(), static_cast<size_t>(kCount));
  EXPECT_EQ(summary().files, kCount);
  EXPECT_EQ(summary().truth_csv, corpus() / "truth.csv");

  std::set<std::string> paths;
  std::map<std::string, int64_t> kinds;
  std::set<std::string> dirs;
  bool spaces = false;
  for (const Row& r : truth()) {
    const std::string& p = r.at("path");
    EXPECT_TRUE(files.count(p)) << p << " is in truth.csv but not on disk";
    EXPECT_TRUE(paths.insert(p).second) << p << " twice in truth.csv";
    EXPECT_TRUE(has_image_extension(p)) << p;
    EXPECT_NE(fs::path(p).filename().string().front(), '.') << "temporary file left: " << p;
    ++kinds[r.at("kind")];
    dirs.insert(fs::path(p).parent_path().string());
    spaces = spaces || p.find(' ') != std::string::npos;
  }
  EXPECT_EQ(kinds, summary().kinds);
  for (const std::string& k : kAllKinds) EXPECT_GT(kinds[k], 0) << "no " << k << " file";
  EXPECT_EQ(kinds.size(), kAllKinds.size()) << "a kind that is not documented";
  // About half are originals.
  EXPECT_GE(kinds["original"], kCount * 4 / 10);
  EXPECT_LE(kinds["original"], kCount * 6 / 10);
  EXPECT_GE(dirs.size(), 4u);
  EXPECT_TRUE(spaces) << "some names must hold spaces";
}

TEST_F(SynthTest, EveryFileDecodesAsItsTruthSays) {
  Decoder decoder;
  std::set<std::string> formats;
  int exif = 0, gray = 0, sixteen = 0;
  for (const Row& r : truth()) {
    const std::string& p = r.at("path");
    const DecodeResult d = decode_file(decoder, corpus() / p);
    EXPECT_EQ(std::string(to_string(d.status)), r.at("expected_status")) << p << ": " << d.message;
    if (r.at("expected_status") == "not_image") {
      EXPECT_EQ(r.at("format"), "") << p;
      EXPECT_EQ(r.at("group"), "") << p;
      continue;
    }
    const std::string bytes = read_all(corpus() / p);
    const ImageFormat sniffed =
        sniff_format({reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size()});
    EXPECT_EQ(std::string(format_name(sniffed)), r.at("format")) << p;
    if (r.at("expected_status") == "corrupt") continue;
    formats.insert(r.at("format"));
    EXPECT_EQ(std::to_string(d.width), r.at("width")) << p;
    EXPECT_EQ(std::to_string(d.height), r.at("height")) << p;
    if (d.status != ItemStatus::kOk) continue;
    EXPECT_EQ(d.image.width, d.width) << p;
    EXPECT_EQ(d.image.height, d.height) << p;
    EXPECT_EQ(std::string(format_name(d.format)), r.at("format")) << p;
    const std::string& params = r.at("params");
    exif += params.find("exif=") != std::string::npos;
    sixteen += params.find("bits=16") != std::string::npos;
    if (params.find("gray") != std::string::npos) {
      ++gray;
      EXPECT_EQ(d.image.channels, 1) << p;
    }
  }
  for (const char* f : {"jpeg", "png", "webp", "tiff", "gif", "bmp", "heif", "avif", "jxl"}) {
    EXPECT_TRUE(formats.count(f)) << "no " << f << " file";
  }
  EXPECT_GT(exif, 0);
  EXPECT_GT(gray, 0);
  EXPECT_GT(sixteen, 0);
}

TEST_F(SynthTest, GroupsAndSourcesAreConsistent) {
  std::map<std::string, std::string> group_of;
  std::map<std::string, int> founders;  // group -> files that are not derived
  for (const Row& r : truth()) group_of[r.at("path")] = r.at("group");
  for (const Row& r : truth()) {
    const std::string& kind = r.at("kind");
    const std::string& source = r.at("source");
    if (kNearKinds.count(kind)) {
      const Row* src = row_of(source);
      ASSERT_NE(src, nullptr) << r.at("path") << " derives from a missing " << source;
      EXPECT_EQ(src->at("kind"), "original");
      EXPECT_EQ(r.at("group"), src->at("group"));
      EXPECT_FALSE(r.at("group").empty());
      if (kind == "exact_copy") {
        EXPECT_EQ(read_all(corpus() / r.at("path")), read_all(corpus() / source)) << r.at("path");
      }
    } else {
      EXPECT_TRUE(source.empty()) << r.at("path");
      if (kind == "corrupt" || kind == "not_image") {
        EXPECT_TRUE(r.at("group").empty()) << r.at("path");
      } else {
        EXPECT_FALSE(r.at("group").empty()) << r.at("path");
        ++founders[r.at("group")];
      }
    }
  }
  for (const auto& [group, n] : founders)
    EXPECT_EQ(n, 1) << "group " << group << " has two founders";
}

TEST_F(SynthTest, NearDuplicatesResembleTheirSourceAndOtherGroupsDoNot) {
  // At this Hamming distance a hash dedup recovers the truth's groups exactly: every
  // near-duplicate is within it of its source, every other pair beyond it.
  constexpr int kHashThreshold = 10;
  Decoder decoder;
  struct Look {
    cv::Mat thumb;
    uint64_t hash = 0;
  };
  std::map<std::string, Look> looks;
  auto look = [&](const std::string& path) -> const Look& {
    auto it = looks.find(path);
    if (it == looks.end()) {
      const DecodeResult d = decode_file(decoder, corpus() / path);
      EXPECT_EQ(d.status, ItemStatus::kOk) << path << ": " << d.message;
      it = looks.emplace(path, Look{thumbnail(d.image), dct_hash(d.image)}).first;
    }
    return it->second;
  };
  // One file per group that is not derived: originals and the defects that decode fully.
  std::vector<std::string> founders;
  for (const Row& r : truth()) {
    if (r.at("source").empty() && !r.at("group").empty() && r.at("expected_status") == "ok") {
      founders.push_back(r.at("path"));
    }
  }
  int near = 0, near_exif = 0;
  for (const Row& r : truth()) {
    if (!kNearKinds.count(r.at("kind"))) continue;
    const std::string& p = r.at("path");
    const Look& copy = look(p);
    const Look& source = look(r.at("source"));
    const double c = correlation(copy.thumb, source.thumb);
    EXPECT_GT(c, 0.8) << p << " (" << r.at("params") << ") vs " << r.at("source");
    EXPECT_LE(hamming(copy.hash, source.hash), kHashThreshold)
        << p << " (" << r.at("params") << ")";
    // Its source is the file it resembles most.
    for (const std::string& other : founders) {
      if (other == r.at("source")) continue;
      EXPECT_LT(correlation(copy.thumb, look(other).thumb), c) << p << " looks more like " << other;
    }
    ++near;
    near_exif += row_of(r.at("source"))->at("params").find("exif=") != std::string::npos;
  }
  EXPECT_GT(near, 0);
  EXPECT_GT(near_exif, 0) << "no near-duplicate of a rotated original checks EXIF orientation";

  int pairs = 0;
  for (size_t i = 0; i < founders.size(); ++i) {
    for (size_t j = i + 1; j < founders.size(); ++j) {
      EXPECT_GT(hamming(look(founders[i]).hash, look(founders[j]).hash), kHashThreshold)
          << founders[i] << " and " << founders[j] << " are in different groups";
      ++pairs;
    }
  }
  EXPECT_GT(pairs, 5000);
}

TEST_F(SynthTest, DefectsHaveTheirDefect) {
  Decoder decoder;
  std::vector<double> original_sharpness;
  std::vector<double> blurred_sharpness;
  for (const Row& r : truth()) {
    const std::string& kind = r.at("kind");
    if (kind != "original" && kind != "blurred" && kind != "dark" && kind != "overexposed" &&
        kind != "tiny") {
      continue;
    }
    const DecodeResult d = decode_file(decoder, corpus() / r.at("path"));
    ASSERT_EQ(d.status, ItemStatus::kOk) << r.at("path");
    if (kind == "original") original_sharpness.push_back(sharpness(d.image));
    if (kind == "blurred") blurred_sharpness.push_back(sharpness(d.image));
    if (kind == "dark") {
      EXPECT_LT(mean_luma(d.image), 35) << r.at("path");
    }
    if (kind == "overexposed") {
      EXPECT_GT(mean_luma(d.image), 215) << r.at("path");
    }
    if (kind == "tiny") {
      EXPECT_LT(std::max(d.width, d.height), 48) << r.at("path");
    }
    if (kind == "original") {
      EXPECT_GE(std::min(d.width, d.height), 64) << r.at("path");
    }
  }
  ASSERT_FALSE(original_sharpness.empty());
  ASSERT_FALSE(blurred_sharpness.empty());
  std::sort(original_sharpness.begin(), original_sharpness.end());
  const double tenth_percentile = original_sharpness[original_sharpness.size() / 10];
  for (double s : blurred_sharpness) EXPECT_LT(s, tenth_percentile / 2);
}

TEST_F(SynthTest, PhotosAreJpegsOfOneToThreeMegapixels) {
  SynthOptions options;
  options.out_dir = root_ / "photos";
  options.count = 6;
  options.mix = SynthMix::kPhotos;
  options.threads = 2;
  const SynthSummary s = synthesize(options);
  EXPECT_EQ(s.kinds, (std::map<std::string, int64_t>{{"original", 6}}));
  const auto truth = read_truth(s.truth_csv);
  ASSERT_EQ(truth.size(), 6u);
  Decoder decoder;
  for (const Row& r : truth) {
    const DecodeResult d = decode_file(decoder, options.out_dir / r.at("path"));
    ASSERT_EQ(d.status, ItemStatus::kOk) << r.at("path");
    EXPECT_EQ(d.format, ImageFormat::kJpeg);
    const int64_t pixels = static_cast<int64_t>(d.width) * d.height;
    EXPECT_GE(pixels, 1'000'000) << r.at("path");
    EXPECT_LE(pixels, 3'000'000) << r.at("path");
    const int q = std::stoi(r.at("params").substr(2));
    EXPECT_GE(q, 85);
    EXPECT_LE(q, 95);
  }
}

TEST_F(SynthTest, SmallMixIsSmallJpegs) {
  SynthOptions options;
  options.out_dir = root_ / "small";
  options.count = 60;
  options.mix = SynthMix::kSmall;
  const SynthSummary s = synthesize(options);
  const auto truth = read_truth(s.truth_csv);
  ASSERT_EQ(truth.size(), 60u);
  Decoder decoder;
  for (const Row& r : truth) {
    const DecodeResult d = decode_file(decoder, options.out_dir / r.at("path"));
    ASSERT_EQ(d.status, ItemStatus::kOk) << r.at("path");
    EXPECT_EQ(d.format, ImageFormat::kJpeg);
    EXPECT_GE(std::min(d.width, d.height), 64) << r.at("path");
    EXPECT_LE(std::max(d.width, d.height), 256) << r.at("path");
  }
}

TEST_F(SynthTest, RerunReplacesAPreviousCorpusButRefusesForeignFiles) {
  SynthOptions options;
  options.out_dir = root_ / "rerun";
  options.mix = SynthMix::kSmall;  // what is tested is the directory handling: keep it cheap
  options.count = 40;
  synthesize(options);
  options.count = 25;
  synthesize(options);
  EXPECT_EQ(hash_tree(options.out_dir).size(), 26u) << "files of the first run were left behind";

  std::ofstream(options.out_dir / "notes.txt") << "mine";
  EXPECT_THROW(synthesize(options), IoError);
  EXPECT_TRUE(fs::exists(options.out_dir / "notes.txt"));
  EXPECT_TRUE(fs::exists(options.out_dir / "truth.csv"))
      << "a refused run must not touch the corpus";
}

TEST_F(SynthTest, UnwritableDirectoryThrowsIoError) {
  const fs::path file = root_ / "a_file";
  std::ofstream(file) << "x";
  ASSERT_TRUE(fs::is_regular_file(file));
  SynthOptions options;
  options.out_dir = file / "corpus";
  options.count = 3;
  EXPECT_THROW(synthesize(options), IoError);
}

TEST_F(SynthTest, ZeroFilesWritesAnEmptyTruth) {
  SynthOptions options;
  options.out_dir = root_ / "empty";
  options.count = 0;
  const SynthSummary s = synthesize(options);
  EXPECT_EQ(s.files, 0);
  EXPECT_EQ(read_all(s.truth_csv),
            "path,kind,group,source,expected_status,format,width,height,params\n");
}

}  // namespace
}  // namespace vpipe
