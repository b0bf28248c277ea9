// End-to-end tests of `vpipe run`, `dedup`, `export`, `report` and `undo`: the real binary on a
// synthetic corpus whose truth.csv says which files are duplicates of which and which are unusable.

#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <regex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "json_check.h"
#include "process.h"
#include "truth_csv.h"
#include "vpipe/core/image.h"
#include "vpipe/curate/actions.h"
#include "vpipe/dedup/dedup_store.h"
#include "vpipe/infer/inference_store.h"
#include "vpipe/io/decode.h"
#include "vpipe/io/encode.h"
#include "vpipe/io/file_store.h"
#include "vpipe/io/manifest.h"

namespace fs = std::filesystem;
using vpipe::testing::Child;
using vpipe::testing::CsvRow;
using vpipe::testing::read_truth;
using vpipe::testing::run_vpipe;

namespace {

std::string read_file(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), {}};
}

void write_file(const fs::path& p, const std::string& text) {
  fs::create_directories(p.parent_path());
  std::ofstream(p, std::ios::binary) << text;
}

/// path relative to `root` -> bytes, for every regular file under it but the marks vpipe leaves
/// in the folders it writes into (.vpipe-output).
std::map<std::string, std::string> snapshot(const fs::path& root) {
  std::map<std::string, std::string> files;
  for (const auto& e : fs::recursive_directory_iterator(root)) {
    if (e.is_regular_file() && e.path().filename() != ".vpipe-output") {
      files[fs::relative(e.path(), root)] = read_file(e.path());
    }
  }
  return files;
}

class RunCli : public ::testing::Test {
 public:
  static void SetUpTestSuite() {
    root_ = fs::temp_directory_path() / ("vpipe_run_cli_" + std::to_string(::getpid()));
    fs::remove_all(root_);
    fs::create_directories(root_);
    corpus_ = shared_corpus();
    truth_ = read_truth((corpus_ / "truth.csv").string());
  }
  static void TearDownTestSuite() { fs::remove_all(root_); }

  static fs::path shared_corpus() {
    std::string error;
    const fs::path dir = vpipe::testing::shared_synth_corpus(600, 21, root_.string(), &error);
    EXPECT_TRUE(error.empty()) << error;
    return dir;
  }


  void SetUp() override {
    scratch_ = root_ / ::testing::UnitTest::GetInstance()->current_test_info()->name();
    fs::create_directories(scratch_);
  }

  vpipe::testing::ProcessResult vpipe(const std::vector<std::string>& args) const {
    return run_vpipe(args, scratch_.string());
  }
  std::string db() const { return (scratch_ / "run.db").string(); }

  /// Writes a pipeline config into the scratch directory and returns its path.
  std::string config(const std::string& yaml) const {
    const fs::path p = scratch_ / "pipeline.yaml";
    write_file(p, yaml);
    return p.string();
  }

  /// Copies the corpus files whose truth row satisfies `keep` into scratch/in, preserving the
  /// relative layout (for tests whose actions move files).
  std::vector<CsvRow> copy_some(const std::function<bool(const CsvRow&)>& keep) const {
    std::vector<CsvRow> copied;
    for (const CsvRow& t : truth_) {
      if (!keep(t)) continue;
      const fs::path to = scratch_ / "in" / t.at("path");
      fs::create_directories(to.parent_path());
      fs::copy_file(corpus_ / t.at("path"), to);
      copied.push_back(t);
    }
    return copied;
  }

  static inline fs::path root_;
  static inline fs::path corpus_;
  static inline std::vector<CsvRow> truth_;
  fs::path scratch_;
};

bool is_defect(const std::string& kind) {
  return kind == "blurred" || kind == "dark" || kind == "overexposed" || kind == "tiny" ||
         kind == "truncated" || kind == "corrupt" || kind == "not_image";
}

// The default blur, dark and over-exposure thresholds are set for real photographs; synthetic
// scenes are softer and dimmer, so the synthetic corpus is judged at its own scale (the values of
// tests/unit/quality/verdict_accuracy_test.cpp, chosen on seed 11; docs/ACCURACY.md).
constexpr const char* kSyntheticScaleQuality =
    "quality:\n  blurry: {max_edge_width: 6}\n  dark: {min_highlight: 46}\n"
    "  overexposed: {max_clipped: 0.12}\n";

TEST_F(RunCli, RunFindsTheTruthsDuplicatesAndDefects) {
  const auto r = vpipe({"run", config("inputs: [" + corpus_.string() + "]\nmanifest: run.db\n" +
                                      kSyntheticScaleQuality)});
  ASSERT_EQ(r.exit_code, 0) << r.err;

  vpipe::Manifest manifest(db());
  std::map<std::string, vpipe::DedupStore::CuratedFile> by_path;
  vpipe::DedupStore(manifest).for_each_curated({}, [&](const vpipe::DedupStore::CuratedFile& f) {
    by_path.emplace(f.file.path, f);
    return true;
  });
  ASSERT_EQ(by_path.size(), truth_.size());
  // The summary printed is the manifest's.
  EXPECT_NE(r.out.find(std::to_string(vpipe::DedupStore(manifest).count_groups()) + " groups"),
            std::string::npos)
      << r.out;

  // Near/exact duplicate pairs: every pair of files that share a truth group, against every
  // pair that shares a vpipe group.
  std::map<std::string, std::vector<std::string>> truth_groups;
  std::map<int64_t, std::vector<std::string>> found_groups;
  for (const CsvRow& t : truth_) {
    const std::string path = (corpus_ / t.at("path")).string();
    if (!t.at("group").empty()) truth_groups[t.at("group")].push_back(path);
    const auto& d = by_path.at(path).decision;
    if (d.group_id > 0) found_groups[d.group_id].push_back(path);
  }
  const auto pairs_of = [](const auto& groups) {
    std::set<std::pair<std::string, std::string>> pairs;
    for (const auto& [id, members] : groups) {
      for (size_t i = 0; i < members.size(); ++i) {
        for (size_t j = i + 1; j < members.size(); ++j) {
          pairs.emplace(std::min(members[i], members[j]), std::max(members[i], members[j]));
        }
      }
    }
    return pairs;
  };
  const auto truth_pairs = pairs_of(truth_groups);
  const auto found_pairs = pairs_of(found_groups);
  size_t both = 0;
  for (const auto& p : found_pairs) both += truth_pairs.count(p);
  ASSERT_GT(truth_pairs.size(), 100U);
  const double recall = static_cast<double>(both) / truth_pairs.size();
  const double precision = static_cast<double>(both) / std::max<size_t>(1, found_pairs.size());
  EXPECT_GE(recall, 0.95) << both << " of " << truth_pairs.size() << " truth pairs found";
  EXPECT_GE(precision, 0.99) << both << " of " << found_pairs.size() << " found pairs are true";

  // The default keeper policy puts pixel count first, sizes within 1% of the largest tying: no
  // member of a group is more than 1% larger than its keeper (among members that passed the
  // quality rules).
  for (const auto& [id, members] : found_groups) {
    int64_t keeper_pixels = -1;
    int64_t largest = 0;
    for (const std::string& path : members) {
      const auto& f = by_path.at(path);
      const int64_t pixels = int64_t{f.file.width} * f.file.height;
      if (f.decision.is_keeper) keeper_pixels = pixels;
      if (f.decision.decision != "reject") largest = std::max(largest, pixels);
    }
    EXPECT_GE(static_cast<double>(keeper_pixels), 0.99 * static_cast<double>(largest))
        << "group " << id;
  }

  // Quality: blurred, dark and broken files are found; clean files are rarely rejected.
  std::map<std::string, std::pair<int, int>> rejected_of_kind;  // kind -> (rejected, total)
  int clean = 0;
  int clean_rejected = 0;
  for (const CsvRow& t : truth_) {
    const auto& f = by_path.at((corpus_ / t.at("path")).string());
    const bool rejected = f.decision.decision == "reject";
    auto& [r_count, total] = rejected_of_kind[t.at("kind")];
    r_count += rejected ? 1 : 0;
    total += 1;
    if (!is_defect(t.at("kind"))) {
      ++clean;
      clean_rejected += rejected ? 1 : 0;
      if (rejected) std::printf("clean but rejected: %s (%s)\n", t.at("path").c_str(), t.at("kind").c_str());
    }
  }
  const auto recall_of = [&](std::initializer_list<const char*> kinds) {
    int hit = 0;
    int total = 0;
    for (const char* k : kinds) {
      hit += rejected_of_kind[k].first;
      total += rejected_of_kind[k].second;
    }
    EXPECT_GT(total, 0);
    return total > 0 ? static_cast<double>(hit) / total : 0.0;
  };
  // At the synthetic scale the softest clean scenes (edge width up to 6.3 px) and the least
  // blurred defects (down to 5.7) overlap: one blurred file of 18 passes on this seed.
  EXPECT_GE(recall_of({"blurred"}), 0.9);
  EXPECT_GE(recall_of({"dark"}), 0.95);
  EXPECT_GE(recall_of({"corrupt", "truncated", "not_image"}), 0.95);
  EXPECT_LE(clean_rejected, clean * 0.02);
}

TEST_F(RunCli, InterruptedRunResumesAndFinishes) {
  const std::string yaml = config("inputs: [" + corpus_.string() + "]\nmanifest: run.db\n" +
                                  "scan: {threads: 1}\nreport: {out: report}\n");
  Child child({"run", yaml}, scratch_.string());
  std::this_thread::sleep_for(std::chrono::milliseconds(400));
  child.signal(SIGINT);
  const auto first = child.wait();
  ASSERT_TRUE(first.exit_code == 130 || first.exit_code == 0) << first.err;
  const auto second = vpipe({"run", yaml});
  ASSERT_EQ(second.exit_code, 0) << second.err;
  vpipe::Manifest manifest(db());
  EXPECT_EQ(vpipe::FileStore(manifest).count_files(), static_cast<int64_t>(truth_.size()));
  int64_t decided = 0;
  for (const auto& [name, n] : vpipe::DedupStore(manifest).decision_counts()) decided += n;
  EXPECT_EQ(decided, static_cast<int64_t>(truth_.size()));
  EXPECT_EQ(manifest.integrity_check(), "ok");
  EXPECT_TRUE(fs::exists(scratch_ / "report" / "index.html"));
  if (first.exit_code == 130) {
    EXPECT_NE(second.out.find("unchanged"), std::string::npos);
  }
  // A third run, with --json: every file unchanged, every pass's object in one JSON line.
  const auto third = vpipe({"run", yaml, "--json"});
  ASSERT_EQ(third.exit_code, 0) << third.err;
  EXPECT_EQ(vpipe::testing::json_error(third.out), "") << third.out;
  EXPECT_EQ(third.out.find('\n'), third.out.size() - 1) << third.out;
  EXPECT_EQ(third.out.rfind(R"({"command":"run",)", 0), 0U) << third.out;
  EXPECT_NE(third.out.find(R"("scan":{"scanned":0,"unchanged":)" + std::to_string(truth_.size())),
            std::string::npos)
      << third.out;
  EXPECT_NE(third.out.find(R"("dedup":{"files":)" + std::to_string(truth_.size())),
            std::string::npos)
      << third.out;
  EXPECT_NE(third.out.find(R"("report":{"index":)"), std::string::npos) << third.out;
  EXPECT_NE(third.out.find(R"("pass_seconds":{"scan":)"), std::string::npos) << third.out;
}

TEST_F(RunCli, ConfigErrorsNameTheFileLineAndKey) {
  const std::string yaml = config("manifest: run.db\ndedup:\n  phash_treshold: 8\n");
  const auto r = vpipe({"run", yaml});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("pipeline.yaml:3"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("phash_treshold"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("phash_threshold"), std::string::npos) << r.err;  // the suggestion
  EXPECT_FALSE(fs::exists(db()));  // nothing was touched
}

// docs/CLI.md, "Exit codes": 2 for every usage error, 1 for an error that ends a run.
TEST_F(RunCli, UsageErrorsExitWithTwoAndNameWhatIsWrong) {
  const auto bogus = vpipe({"bogus"});
  EXPECT_EQ(bogus.exit_code, 2);
  EXPECT_NE(bogus.err.find("unknown command 'bogus'"), std::string::npos) << bogus.err;
  const auto typo = vpipe({"-v", "dedpu", "x.db"});
  EXPECT_EQ(typo.exit_code, 2);
  EXPECT_NE(typo.err.find("did you mean 'dedup'"), std::string::npos) << typo.err;
  EXPECT_EQ(vpipe({}).exit_code, 2);
  EXPECT_EQ(vpipe({"scan", "--no-such-option"}).exit_code, 2);
  // A mistyped option is named with the one meant; an option of another command is not offered.
  const auto flag =
      vpipe({"dedup", "x.db", "--phash-threshhold", "8", "--thread=2", "--model", "yolov8n"});
  EXPECT_EQ(flag.exit_code, 2);
  EXPECT_NE(flag.err.find("unknown option '--phash-threshhold' for 'dedup' (did you mean "
                          "'--phash-threshold'?)"),
            std::string::npos)
      << flag.err;
  EXPECT_NE(flag.err.find("unknown option '--thread' for 'dedup' (did you mean '--threads'?)"),
            std::string::npos)
      << flag.err;
  EXPECT_NE(flag.err.find("unknown option '--model' for 'dedup'\n"), std::string::npos)
      << flag.err;

  const std::string missing = (scratch_ / "missing.db").string();
  for (const std::vector<std::string>& args :
       {std::vector<std::string>{"dedup", missing}, {"report", missing}, {"undo", missing},
        {"export", missing, "--format", "csv"}, {"detect", "--db", missing, "--model", "blazeface"}}) {
    const auto r = vpipe(args);
    EXPECT_EQ(r.exit_code, 2) << args[0] << ": " << r.err;
    EXPECT_NE(r.err.find("missing.db"), std::string::npos) << args[0] << ": " << r.err;
  }
  EXPECT_FALSE(fs::exists(missing));

  int n = 0;
  copy_some([&](const CsvRow&) { return n++ < 4; });
  ASSERT_EQ(vpipe({"scan", (scratch_ / "in").string(), "--db", db()}).exit_code, 0);
  const auto keeper = vpipe({"dedup", db(), "--keeper", "pixels,bogus"});
  EXPECT_EQ(keeper.exit_code, 2);
  EXPECT_NE(keeper.err.find("bogus"), std::string::npos) << keeper.err;
  const auto match = vpipe({"dedup", db(), "--match", "bogus"});
  EXPECT_EQ(match.exit_code, 2);
  EXPECT_NE(match.err.find("--match"), std::string::npos) << match.err;

  // Not usage: a file that is not a manifest ends the run with 1.
  write_file(scratch_ / "notes.db", "not a database, but a text file long enough to be read\n");
  EXPECT_EQ(vpipe({"dedup", (scratch_ / "notes.db").string()}).exit_code, 1);
}

// Every command's --help: exit 0, its usage line, examples, and none of CLI11's "{false}"
// defaults that a negated flag used to show ("--no-robots{false}").
TEST_F(RunCli, EveryCommandsHelpIsCleanOfParserLeftovers) {
  for (const std::string command : {"crawl", "scan", "synth", "dedup", "run", "detect", "classify",
                                    "report", "export", "validate", "undo", "config", "devices"}) {
    const auto r = vpipe({command, "--help"});
    EXPECT_EQ(r.exit_code, 0) << command << ": " << r.err;
    EXPECT_NE(r.out.find("Usage:"), std::string::npos) << command << ": " << r.out;
    EXPECT_NE(r.out.find("Examples:\n  vpipe "), std::string::npos) << command << ": " << r.out;
    EXPECT_EQ(r.out.find("{false}"), std::string::npos) << command << ": " << r.out;
    EXPECT_EQ(r.out.find("{true}"), std::string::npos) << command << ": " << r.out;
  }
}

TEST_F(RunCli, DedupOptionsOverrideAndExportsAgreeWithTheManifest) {
  ASSERT_EQ(vpipe({"scan", corpus_.string(), "--db", db()}).exit_code, 0);
  // Threshold 0 on pHash alone: only files with identical hashes group.
  const auto strict = vpipe({"dedup", db(), "--match", "phash", "--phash-threshold", "0"});
  ASSERT_EQ(strict.exit_code, 0) << strict.err;
  int64_t strict_groups = 0;
  {
    vpipe::Manifest manifest(db());
    strict_groups = vpipe::DedupStore(manifest).count_groups();
    vpipe::DedupStore(manifest).for_each_curated({}, [](const vpipe::DedupStore::CuratedFile& f) {
      if (f.decision.group_id > 0) {
        EXPECT_EQ(f.decision.phash_distance, 0) << f.file.path;
      }
      return true;
    });
  }
  const auto on_auto = vpipe({"dedup", db(), "--gpu-min-images", "0"});
  ASSERT_EQ(on_auto.exit_code, 0) << on_auto.err;
  std::map<std::string, int64_t> auto_decisions =
      vpipe::DedupStore(vpipe::Manifest(db())).decision_counts();
  // The summary says where the near-pair search ran: the CPU when asked, and with auto either
  // the GPU (one that can run it) or the CPU (none, or one that cannot, with the reason).
  const auto on_cpu = vpipe({"dedup", db(), "--device", "cpu"});
  ASSERT_EQ(on_cpu.exit_code, 0) << on_cpu.err;
  EXPECT_NE(on_cpu.out.find("near-pair search on cpu\n"), std::string::npos) << on_cpu.out;
  // Why the keepers won: counted in the summary, one line per group with --explain.
  EXPECT_NE(on_cpu.out.find("  keepers decided by: "), std::string::npos) << on_cpu.out;
  EXPECT_EQ(on_cpu.out.find("group 1: keeps "), std::string::npos) << on_cpu.out;
  const auto explained = vpipe({"dedup", db(), "--device", "cpu", "--explain"});
  ASSERT_EQ(explained.exit_code, 0) << explained.err;
  const std::regex reason(
      R"(\ngroup 1: keeps [^\n]+: (every member rejected|not rejected|largest|least degraded|higher|oldest|shortest)[^\n]*\n)");
  EXPECT_TRUE(std::regex_search(explained.out, reason)) << explained.out;
  EXPECT_TRUE(on_auto.out.find("near-pair search on cpu") != std::string::npos ||
              on_auto.out.find("near-pair search on cuda:0") != std::string::npos)
      << on_auto.out;
  EXPECT_EQ(vpipe::DedupStore(vpipe::Manifest(db())).decision_counts(), auto_decisions);
  const auto bad = vpipe({"dedup", db(), "--device", "tpu"});
  EXPECT_EQ(bad.exit_code, 1);
  EXPECT_NE(bad.err.find("tpu"), std::string::npos) << bad.err;
  vpipe::Manifest manifest(db());
  EXPECT_GT(vpipe::DedupStore(manifest).count_groups(), strict_groups);
  const auto decisions = vpipe::DedupStore(manifest).decision_counts();

  const fs::path csv = scratch_ / "files.csv";
  ASSERT_EQ(vpipe({"export", db(), "--format", "csv", "--out", csv.string()}).exit_code, 0);
  const auto rows = vpipe::testing::parse_csv(read_file(csv));
  ASSERT_EQ(rows.size(), truth_.size() + 1);  // a header
  EXPECT_EQ(rows[0][0], "path");
  const size_t decision_col = std::find(rows[0].begin(), rows[0].end(), "decision") - rows[0].begin();
  std::map<std::string, int64_t> csv_counts;
  for (size_t i = 1; i < rows.size(); ++i) csv_counts[rows[i].at(decision_col)] += 1;
  EXPECT_EQ(csv_counts, decisions);

  const fs::path jsonl = scratch_ / "files.jsonl";
  ASSERT_EQ(vpipe({"export", db(), "--format", "jsonl", "--out", jsonl.string()}).exit_code, 0);
  const std::string json_text = read_file(jsonl);
  EXPECT_EQ(static_cast<size_t>(std::count(json_text.begin(), json_text.end(), '\n')), truth_.size());
  size_t reject_lines = 0;
  for (size_t at = 0; (at = json_text.find("\"decision\":\"reject\"", at)) != std::string::npos; ++at) {
    ++reject_lines;
  }
  EXPECT_EQ(static_cast<int64_t>(reject_lines), decisions.at("reject"));

  const auto keepers = vpipe({"export", db(), "--format", "keepers", "-0"});
  ASSERT_EQ(keepers.exit_code, 0);
  EXPECT_EQ(std::count(keepers.out.begin(), keepers.out.end(), '\0'), decisions.at("keep"));
}

TEST_F(RunCli, ActionsMoveAndLinkThenUndoRestoresTheTree) {
  // A small tree of its own: the actions move files.
  int n = 0;
  copy_some([&](const CsvRow&) { return n++ % 6 == 0; });
  const std::map<std::string, std::string> before = snapshot(scratch_ / "in");
  const std::string yaml = config(
      "inputs: [in]\nmanifest: run.db\nactions:\n  move_rejects: rejects\n"
      "  move_duplicates: dups\n  link_keepers: keepers\n");
  const auto r = vpipe({"run", yaml});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  vpipe::Manifest manifest(db());
  const auto decisions = vpipe::DedupStore(manifest).decision_counts();
  ASSERT_GT(decisions.at("reject"), 0);
  ASSERT_GT(decisions.at("duplicate"), 0);
  EXPECT_EQ(snapshot(scratch_ / "rejects").size(), static_cast<size_t>(decisions.at("reject")));
  EXPECT_EQ(snapshot(scratch_ / "dups").size(), static_cast<size_t>(decisions.at("duplicate")));
  EXPECT_EQ(snapshot(scratch_ / "keepers").size(), static_cast<size_t>(decisions.at("keep")));
  EXPECT_EQ(snapshot(scratch_ / "in").size(), static_cast<size_t>(decisions.at("keep")));

  const auto undo = vpipe({"undo", db()});
  ASSERT_EQ(undo.exit_code, 0) << undo.err;
  EXPECT_EQ(snapshot(scratch_ / "in"), before);
  EXPECT_TRUE(snapshot(scratch_ / "keepers").empty());
  EXPECT_TRUE(snapshot(scratch_ / "rejects").empty());
}

TEST_F(RunCli, CrashInTheMiddleOfMovingThenUndo) {
  int n = 0;
  copy_some([&](const CsvRow& t) { return is_defect(t.at("kind")) && n++ < 12; });
  const std::map<std::string, std::string> before = snapshot(scratch_ / "in");
  ASSERT_EQ(vpipe({"scan", (scratch_ / "in").string(), "--db", db()}).exit_code, 0);
  // The fourth move dies after it is journaled and before the file moves (exit 137, as a kill).
  ::setenv("VPIPE_FAULT_AFTER_ACTIONS", "3", 1);
  const auto crashed = vpipe({"dedup", db(), "--move-rejects", (scratch_ / "rejects").string()});
  ::unsetenv("VPIPE_FAULT_AFTER_ACTIONS");
  ASSERT_EQ(crashed.exit_code, 137) << crashed.out << crashed.err;
  EXPECT_EQ(snapshot(scratch_ / "rejects").size(), 3U);
  for (const auto& e : fs::recursive_directory_iterator(scratch_)) {
    EXPECT_EQ(e.path().filename().native().find(".vpipe-tmp-"), std::string::npos) << e.path();
  }
  const auto undo = vpipe({"undo", db()});
  ASSERT_EQ(undo.exit_code, 0) << undo.err;
  EXPECT_EQ(snapshot(scratch_ / "in"), before);
  EXPECT_TRUE(snapshot(scratch_ / "rejects").empty());
}

TEST_F(RunCli, TwoActionRunsAtOnceAreKeptApartAndUndoRestoresTheTree) {
  int n = 0;
  copy_some([&](const CsvRow&) { return n++ % 5 == 0; });
  const std::map<std::string, std::string> before = snapshot(scratch_ / "in");
  ASSERT_EQ(vpipe({"scan", (scratch_ / "in").string(), "--db", db()}).exit_code, 0);
  const std::vector<std::string> args = {"dedup", db(), "--move-duplicates",
                                         (scratch_ / "dups").string(), "--copy-keepers",
                                         (scratch_ / "keep").string()};
  fs::create_directories(scratch_ / "a");
  fs::create_directories(scratch_ / "b");
  Child first(args, (scratch_ / "a").string());
  Child second(args, (scratch_ / "b").string());
  const auto r1 = first.wait();
  const auto r2 = second.wait();
  ASSERT_EQ(r1.exit_code, 0) << r1.out << r1.err;
  ASSERT_EQ(r2.exit_code, 0) << r2.out << r2.err;
  vpipe::Manifest manifest(db());
  const auto decisions = vpipe::DedupStore(manifest).decision_counts();
  ASSERT_GT(decisions.at("duplicate"), 0);
  EXPECT_EQ(snapshot(scratch_ / "dups").size(), static_cast<size_t>(decisions.at("duplicate")));
  EXPECT_EQ(snapshot(scratch_ / "keep").size(), static_cast<size_t>(decisions.at("keep")));

  const auto undo = vpipe({"undo", db()});
  ASSERT_EQ(undo.exit_code, 0) << undo.out << undo.err;
  EXPECT_EQ(snapshot(scratch_ / "in"), before);
  EXPECT_TRUE(snapshot(scratch_ / "dups").empty());
  EXPECT_TRUE(snapshot(scratch_ / "keep").empty());
}

TEST_F(RunCli, AnActionRunWaitsForTheLockOrFailsWithNoWait) {
  int n = 0;
  copy_some([&](const CsvRow&) { return n++ < 60; });
  const std::map<std::string, std::string> before = snapshot(scratch_ / "in");
  ASSERT_EQ(vpipe({"scan", (scratch_ / "in").string(), "--db", db()}).exit_code, 0);
  const std::string dups = (scratch_ / "dups").string();
  std::optional<vpipe::FileLock> held(vpipe::lock_actions(db(), false, nullptr));

  const auto busy = vpipe({"dedup", db(), "--move-duplicates", dups, "--no-wait"});
  EXPECT_EQ(busy.exit_code, 75) << busy.out << busy.err;
  EXPECT_NE(busy.err.find("pid " + std::to_string(::getpid())), std::string::npos) << busy.err;
  EXPECT_FALSE(fs::exists(dups));
  EXPECT_EQ(vpipe({"undo", db(), "--no-wait"}).exit_code, 75);

  // Without --no-wait it says once that it waits, touches nothing, and goes on when released.
  fs::create_directories(scratch_ / "waiter");
  Child waiter({"dedup", db(), "--move-duplicates", dups}, (scratch_ / "waiter").string());
  std::string err;
  for (int i = 0; i < 200 && err.find("waiting") == std::string::npos; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    err = Child::slurp((scratch_ / "waiter" / "child.err").string());
  }
  EXPECT_NE(err.find("waiting"), std::string::npos) << err;
  EXPECT_EQ(snapshot(scratch_ / "in"), before);
  held.reset();
  const auto done = waiter.wait();
  ASSERT_EQ(done.exit_code, 0) << done.out << done.err;
  EXPECT_GT(snapshot(dups).size(), 0U);
}

// A rescan drops the rows of files that left the scanned folder (here: moved away as duplicates),
// so that a later dedup, under another keeper order, cannot keep a file that is gone and move the
// copy that is still there. Before the fix the second dedup emptied the folder.
TEST_F(RunCli, ARescanDropsMovedFilesSoALaterDedupKeepsWhatIsThere) {
  const CsvRow& original = *std::find_if(truth_.begin(), truth_.end(), [](const CsvRow& t) {
    return t.at("kind") == "original" && t.at("format") == "jpeg" && t.at("expected_status") == "ok";
  });
  const fs::path in = scratch_ / "in";
  fs::create_directories(in);
  fs::copy_file(corpus_ / original.at("path"), in / "x.jpg");
  fs::copy_file(corpus_ / original.at("path"), in / "x_with_a_longer_name.jpg");
  // The copy with the longer name is the older one.
  fs::last_write_time(in / "x_with_a_longer_name.jpg",
                      fs::last_write_time(in / "x.jpg") - std::chrono::hours(24));
  ASSERT_EQ(vpipe({"scan", in.string(), "--db", db()}).exit_code, 0);
  const auto first = vpipe({"dedup", db(), "--keeper", "shortest_path", "--move-duplicates",
                            (scratch_ / "dups").string()});
  ASSERT_EQ(first.exit_code, 0) << first.out << first.err;
  ASSERT_TRUE(fs::exists(in / "x.jpg"));
  ASSERT_FALSE(fs::exists(in / "x_with_a_longer_name.jpg"));

  const auto rescan = vpipe({"scan", in.string(), "--db", db()});
  ASSERT_EQ(rescan.exit_code, 0) << rescan.out << rescan.err;
  EXPECT_TRUE(std::regex_search(rescan.out, std::regex("removed +1 "))) << rescan.out;
  {
    vpipe::Manifest manifest(db());
    const auto files = vpipe::FileStore(manifest).all_files();
    EXPECT_EQ(files.size(), 1U);
    for (const vpipe::FileRecord& f : files) EXPECT_TRUE(fs::exists(f.path)) << f.path;
  }
  const auto second = vpipe({"dedup", db(), "--keeper", "oldest", "--move-duplicates",
                             (scratch_ / "dups2").string()});
  ASSERT_EQ(second.exit_code, 0) << second.out << second.err;
  EXPECT_TRUE(fs::exists(in / "x.jpg"));
  EXPECT_FALSE(fs::exists(scratch_ / "dups2" / "x.jpg"));

  // Undo puts the moved copy back and says that it needs a scan; the scan brings its row back.
  const auto undo = vpipe({"undo", db()});
  ASSERT_EQ(undo.exit_code, 0) << undo.out << undo.err;
  EXPECT_TRUE(fs::exists(in / "x_with_a_longer_name.jpg"));
  EXPECT_NE(undo.out.find("1 of the files moved back were dropped by a scan"), std::string::npos)
      << undo.out;
  ASSERT_EQ(vpipe({"scan", in.string(), "--db", db()}).exit_code, 0);
  EXPECT_EQ(vpipe::FileStore(vpipe::Manifest(db())).count_files(), 2);
}

// A folder none of whose files is found (an unmounted drive looks like an empty folder) keeps its
// rows, with a warning, where one file gone of several is dropped.
TEST_F(RunCli, AFolderThatLostEveryFileKeepsItsRowsWithAWarning) {
  int n = 0;
  copy_some([&](const CsvRow& t) { return t.at("expected_status") == "ok" && n++ < 3; });
  std::vector<fs::path> files;
  for (const auto& e : fs::recursive_directory_iterator(scratch_ / "in")) {
    if (e.is_regular_file()) files.push_back(e.path());
  }
  ASSERT_EQ(files.size(), 3U);
  ASSERT_EQ(vpipe({"scan", (scratch_ / "in").string(), "--db", db()}).exit_code, 0);
  fs::create_directories(scratch_ / "away");
  for (size_t i = 0; i < files.size(); ++i) {
    fs::rename(files[i], scratch_ / "away" / std::to_string(i));
  }
  const auto r = vpipe({"scan", (scratch_ / "in").string(), "--db", db()});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.err.find("none of the 3 files"), std::string::npos) << r.err;
  EXPECT_EQ(vpipe::FileStore(vpipe::Manifest(db())).count_files(), 3);

  fs::rename(scratch_ / "away" / "0", files[0]);
  fs::rename(scratch_ / "away" / "1", files[1]);
  ASSERT_EQ(vpipe({"scan", (scratch_ / "in").string(), "--db", db()}).exit_code, 0);
  EXPECT_EQ(vpipe::FileStore(vpipe::Manifest(db())).count_files(), 2);
}

TEST_F(RunCli, TurnedAndMirroredCopiesGroupWithOrientationMatchingTheDefault) {
  // One original and its copies turned by 90 and 180 degrees and mirrored, re-encoded.
  const CsvRow& original = *std::find_if(truth_.begin(), truth_.end(), [](const CsvRow& t) {
    return t.at("kind") == "original" && t.at("format") == "jpeg" && std::stoi(t.at("width")) > 200;
  });
  const std::string bytes = read_file(corpus_ / original.at("path"));
  vpipe::Decoder decoder;
  const vpipe::DecodeResult decoded = decoder.decode(
      std::span(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size()), {});
  ASSERT_EQ(decoded.status, vpipe::ItemStatus::kOk);
  const vpipe::Image& img = decoded.image;
  const auto turned = [&](int which) {  // 0: rotate 90 cw, 1: rotate 180, 2: mirror
    const bool swap = which == 0;
    vpipe::Image out(swap ? img.height : img.width, swap ? img.width : img.height, img.channels);
    for (int y = 0; y < out.height; ++y) {
      for (int x = 0; x < out.width; ++x) {
        int sx = x;
        int sy = y;
        if (which == 0) { sx = y; sy = img.height - 1 - x; }
        if (which == 1) { sx = img.width - 1 - x; sy = img.height - 1 - y; }
        if (which == 2) { sx = img.width - 1 - x; }
        std::copy_n(img.row(sy) + sx * img.channels, img.channels, out.row(y) + x * img.channels);
      }
    }
    return out;
  };
  fs::create_directories(scratch_ / "in");
  fs::copy_file(corpus_ / original.at("path"), scratch_ / "in" / "a.jpg");
  const char* names[] = {"rot90.jpg", "rot180.jpg", "mirror.jpg"};
  for (int k = 0; k < 3; ++k) {
    const auto jpeg = vpipe::encode_jpeg(turned(k), 90);
    write_file(scratch_ / "in" / names[k], std::string(jpeg.begin(), jpeg.end()));
  }
  ASSERT_EQ(vpipe({"run", config("inputs: [in]\nmanifest: run.db\n"
                                  "scan: {orientations: false}\ndedup: {orientations: false}\n")})
                .exit_code,
            0);
  EXPECT_EQ(vpipe::DedupStore(vpipe::Manifest(db())).count_groups(), 0);

  const auto r = vpipe({"run", config("inputs: [in]\nmanifest: run.db\n"
                                       "dedup: {keeper: [shortest_path]}\n")});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  vpipe::Manifest manifest(db());
  ASSERT_EQ(vpipe::DedupStore(manifest).count_groups(), 1);
  std::map<std::string, std::string> orientation_of;
  vpipe::DedupStore(manifest).for_each_curated({}, [&](const vpipe::DedupStore::CuratedFile& f) {
    orientation_of[fs::path(f.file.path).filename()] =
        f.decision.is_keeper ? "keeper" : f.decision.orientation;
    return true;
  });
  EXPECT_EQ(orientation_of["a.jpg"], "keeper");  // the shortest path: the original
  EXPECT_EQ(orientation_of["rot90.jpg"], "rotate90");
  EXPECT_EQ(orientation_of["rot180.jpg"], "rotate180");
  EXPECT_EQ(orientation_of["mirror.jpg"], "mirror");
}

}  // namespace

TEST_F(RunCli, InferStepDetectsFacesOnTheKeepersOnlyAndResumes) {
  const fs::path photos = fs::path(VPIPE_SOURCE_DIR) / "test-photos";
  const fs::path model =
      fs::path(VPIPE_SOURCE_DIR) / "models" / "blazeface" / "face_detection_front_128x128.onnx";
  if (!fs::exists(photos / "astronaut.png") || !fs::exists(model)) {
    GTEST_SKIP() << "BlazeFace model or test photos missing: run scripts/fetch-models.sh";
  }
  int n = 0;
  copy_some([&](const CsvRow&) { return n++ % 10 == 0; });
  // The astronaut twice (an exact duplicate: only its keeper goes to the model) and the coffee.
  fs::copy_file(photos / "astronaut.png", scratch_ / "in" / "astronaut.png");
  fs::copy_file(photos / "astronaut.png", scratch_ / "in" / "zz-astronaut-copy.png");
  fs::copy_file(photos / "coffee.png", scratch_ / "in" / "coffee.png");
  const std::string yaml = config(
      "inputs: [in]\nmanifest: run.db\ninfer:\n  model: blazeface\n  max_batch: 4\n"
      "  crops: crops\n");
  const auto r = vpipe({"run", yaml});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("infer: blazeface on"), std::string::npos) << r.out;
  int64_t keep = 0;
  {
    vpipe::Manifest manifest(db());
    keep = vpipe::DedupStore(manifest).decision_counts().at("keep");
    EXPECT_EQ(vpipe::InferenceStore(manifest).inference_counts("blazeface").at("ok"), keep)
        << "keepers only";
    std::map<std::string, size_t> faces;
    vpipe::InferenceStore::DetectionQuery q;
    q.model = "blazeface";
    vpipe::InferenceStore(manifest).for_each_detection(
        q, [&](const vpipe::InferenceStore::FileDetections& f) {
          faces[fs::path(f.file.path).filename()] = f.detections.size();
          return true;
        });
    EXPECT_EQ(faces.at("astronaut.png"), 1U);
    EXPECT_EQ(faces.count("zz-astronaut-copy.png"), 0U) << "a duplicate went to the model";
    EXPECT_EQ(faces.at("coffee.png"), 0U);
    EXPECT_EQ(vpipe::InferenceStore(manifest).count_crops(), 1);
  }
  const auto crops = snapshot(scratch_ / "crops");
  ASSERT_EQ(crops.size(), 1U);
  const fs::path crop = scratch_ / "crops" / crops.begin()->first;
  const auto stamp = fs::last_write_time(crop);

  // The rerun infers nothing and rewrites no crop.
  const auto again = vpipe({"run", yaml});
  ASSERT_EQ(again.exit_code, 0) << again.err;
  EXPECT_NE(again.out.find("(0 ok, 0 failed, " + std::to_string(keep) + " unchanged)"),
            std::string::npos)
      << again.out;
  EXPECT_NE(again.out.find("crops: 0 written, 1 unchanged"), std::string::npos) << again.out;
  EXPECT_EQ(fs::last_write_time(crop), stamp);
}
