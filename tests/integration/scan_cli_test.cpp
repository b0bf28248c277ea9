// End-to-end tests of `vpipe scan`, `synth`, `devices` and `--version`, run as a user would run
// them: the real binary on a synthetic corpus whose truth.csv says what every file is.
#include <gtest/gtest.h>
#include <sqlite3.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <regex>
#include <set>

#include "json_check.h"
#include "process.h"
#include "truth_csv.h"
#include "vpipe/core/json.h"
#include "vpipe/core/version.h"
#include "vpipe/dedup/dedup_store.h"
#include "vpipe/io/file_store.h"
#include "vpipe/io/manifest.h"

namespace fs = std::filesystem;
using vpipe::testing::Child;
using vpipe::testing::read_truth;
using vpipe::testing::run_vpipe;

namespace {

class ScanCli : public ::testing::Test {
 public:
  static void SetUpTestSuite() {
    root_ = fs::temp_directory_path() / ("vpipe_scan_cli_" + std::to_string(::getpid()));
    fs::remove_all(root_);
    fs::create_directories(root_);
    corpus_ = shared_corpus();
    truth_ = read_truth((corpus_ / "truth.csv").string());
  }

  static fs::path shared_corpus() {
    std::string error;
    const fs::path dir = vpipe::testing::shared_synth_corpus(300, 11, root_.string(), &error);
    EXPECT_TRUE(error.empty()) << error;
    return dir;
  }

  static void TearDownTestSuite() { fs::remove_all(root_); }

  void SetUp() override {
    scratch_ = root_ / ::testing::UnitTest::GetInstance()->current_test_info()->name();
    fs::create_directories(scratch_);
  }

  std::string db() const { return (scratch_ / "run.db").string(); }
  const fs::path& corpus() const { return corpus_; }
  const fs::path& scratch() const { return scratch_; }
  const std::vector<vpipe::testing::CsvRow>& truth() const { return truth_; }
  vpipe::testing::ProcessResult vpipe(std::vector<std::string> args) const {
    return run_vpipe(args, scratch_.string());
  }
  static std::map<std::string, vpipe::FileRecord> rows_by_path(const std::string& db_path) {
    vpipe::Manifest m(db_path);
    std::map<std::string, vpipe::FileRecord> out;
    for (auto& r : vpipe::FileStore(m).all_files()) out.emplace(r.path, r);
    return out;
  }

  /// The newest row of the manifest's runs table, column name -> text (read with raw SQLite, as
  /// a user's tool would).
  static std::map<std::string, std::string> last_run(const std::string& db_path) {
    std::map<std::string, std::string> row;
    sqlite3* db = nullptr;
    EXPECT_EQ(sqlite3_open_v2(db_path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr), SQLITE_OK);
    sqlite3_stmt* stmt = nullptr;
    EXPECT_EQ(
        sqlite3_prepare_v2(db, "SELECT * FROM runs ORDER BY id DESC LIMIT 1", -1, &stmt, nullptr),
        SQLITE_OK);
    if (stmt != nullptr && sqlite3_step(stmt) == SQLITE_ROW) {
      for (int c = 0; c < sqlite3_column_count(stmt); ++c) {
        const auto* text = sqlite3_column_text(stmt, c);
        row[sqlite3_column_name(stmt, c)] = text ? reinterpret_cast<const char*>(text) : "";
      }
    }
    sqlite3_finalize(stmt);
    sqlite3_close(db);
    return row;
  }

  static inline fs::path root_;
  static inline fs::path corpus_;
  static inline std::vector<vpipe::testing::CsvRow> truth_;
  fs::path scratch_;
};

TEST_F(ScanCli, EveryFileGetsTheStatusItsTruthSays) {
  const auto r = vpipe({"scan", corpus_.string(), "--db", db(), "--threads", "2"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("bottleneck:"), std::string::npos) << r.out;

  const auto rows = rows_by_path(db());
  ASSERT_EQ(rows.size(), truth_.size())
      << "every synthesized file, and only those, is in the manifest";
  std::map<std::string, int> broken_kinds_seen;
  for (const auto& t : truth_) {
    const std::string path = (corpus_ / t.at("path")).string();
    auto it = rows.find(path);
    ASSERT_NE(it, rows.end()) << path;
    const vpipe::FileRecord& rec = it->second;
    EXPECT_EQ(vpipe::to_string(rec.status), t.at("expected_status")) << path << ": " << rec.error;
    if (rec.status != vpipe::ItemStatus::kOk) {
      EXPECT_FALSE(rec.error.empty())
          << path << " has status " << vpipe::to_string(rec.status) << " but no reason";
      ++broken_kinds_seen[t.at("kind")];
    } else {
      EXPECT_TRUE(rec.has_signals) << path;
      EXPECT_EQ(std::to_string(rec.width), t.at("width")) << path;
      EXPECT_EQ(std::to_string(rec.height), t.at("height")) << path;
    }
    EXPECT_TRUE(rec.has_content_hash) << path;
  }
  // The corpus has several kinds of broken files; the run went on past all of them.
  EXPECT_GE(broken_kinds_seen.size(), 3u);

  const auto run = last_run(db());
  EXPECT_EQ(run.at("command"), "scan");
  EXPECT_EQ(run.at("outcome"), "completed");
  EXPECT_EQ(run.at("vpipe_version"), vpipe::kVersion);
  EXPECT_EQ(run.at("device"), "cpu");
  EXPECT_FALSE(run.at("ended_at").empty());
  EXPECT_NE(run.at("config").find("\"threads\":2"), std::string::npos) << run.at("config");
  EXPECT_NE(run.at("counts").find("\"ok\""), std::string::npos) << run.at("counts");
}

TEST_F(ScanCli, ExactCopiesShareTheContentHashAndNearDuplicatesStayNear) {
  ASSERT_EQ(vpipe({"scan", corpus_.string(), "--db", db()}).exit_code, 0);
  const auto rows = rows_by_path(db());
  int exact = 0;
  int near = 0;
  for (const auto& t : truth_) {
    if (t.at("source").empty()) continue;
    const auto& copy = rows.at((corpus_ / t.at("path")).string());
    const auto& source = rows.at((corpus_ / t.at("source")).string());
    if (t.at("kind") == "exact_copy") {
      EXPECT_EQ(copy.content_hash, source.content_hash) << t.at("path");
      ++exact;
    } else if (t.at("kind") == "near_reencoded" && copy.has_signals && source.has_signals) {
      EXPECT_LE(__builtin_popcountll(copy.phash ^ source.phash), 10) << t.at("path");
      EXPECT_NE(copy.content_hash, source.content_hash) << t.at("path");
      ++near;
    }
  }
  EXPECT_GT(exact, 0);
  EXPECT_GT(near, 0);
}

TEST_F(ScanCli, RerunSkipsUnchangedFilesAndScansOnlyNewOnes) {
  ASSERT_EQ(vpipe({"scan", corpus_.string(), "--db", db()}).exit_code, 0);
  const size_t first = rows_by_path(db()).size();

  auto again = vpipe({"scan", corpus_.string(), "--db", db()});
  ASSERT_EQ(again.exit_code, 0);
  EXPECT_NE(again.out.find("scanned 0 files"), std::string::npos) << again.out;

  // Ten new files beside the scanned corpus: exactly those ten are scanned.
  const fs::path extra = scratch_ / "extra";
  fs::create_directories(extra);
  int copied = 0;
  for (const auto& t : truth_) {
    if (t.at("expected_status") != "ok" || copied == 10) continue;
    fs::copy_file(corpus_ / t.at("path"),
                  extra / ("new_" + std::to_string(copied) + "." + t.at("format")));
    ++copied;
  }
  auto more = vpipe({"scan", corpus_.string(), extra.string(), "--db", db()});
  ASSERT_EQ(more.exit_code, 0) << more.err;
  EXPECT_NE(more.out.find("scanned 10 files"), std::string::npos) << more.out;
  EXPECT_EQ(rows_by_path(db()).size(), first + 10);

  // A changed mtime makes a file new again; --force rescans everything.
  fs::last_write_time(extra / "new_0.jpeg", fs::file_time_type::clock::now());
  auto touched = vpipe({"scan", extra.string(), "--db", db()});
  EXPECT_NE(touched.out.find("scanned 1 files"), std::string::npos) << touched.out;
  auto forced = vpipe({"scan", extra.string(), "--db", db(), "--force"});
  EXPECT_NE(forced.out.find("scanned 10 files"), std::string::npos) << forced.out;
}

TEST_F(ScanCli, SigkillAtRandomPointsThenRerunLeavesEveryFileExactlyOnce) {
  std::mt19937 rng(1234);
  std::uniform_int_distribution<int> delay_ms(20, 900);
  for (int round = 0; round < 5; ++round) {
    Child child({"scan", corpus_.string(), "--db", db(), "--threads", "2"}, scratch_.string());
    std::this_thread::sleep_for(std::chrono::milliseconds(delay_ms(rng)));
    child.signal(SIGKILL);
    child.wait();
    if (fs::exists(db())) {
      vpipe::Manifest m(db());
      EXPECT_EQ(m.integrity_check(), "ok") << "after kill " << round;
    }
  }
  const auto r = vpipe({"scan", corpus_.string(), "--db", db(), "--threads", "2"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  vpipe::Manifest m(db());
  EXPECT_EQ(m.integrity_check(), "ok");
  const auto rows = vpipe::FileStore(m).all_files();
  std::set<std::string> unique;
  for (const auto& row : rows) unique.insert(row.path);
  EXPECT_EQ(unique.size(), rows.size());
  EXPECT_EQ(rows.size(), truth_.size());
  for (const auto& t : truth_)
    EXPECT_TRUE(unique.count((corpus_ / t.at("path")).string())) << t.at("path");
}

/// Starts a scan, sends `sig` shortly after it began, and checks the clean stop: the exit code,
/// a sound manifest recording an interrupted run, and a rerun that scans only the rest.
void expect_clean_stop(ScanCli& t, int sig, int expected_exit) {
  // Interrupt early; retry earlier if the machine was fast enough to finish first.
  int delay_ms = 300;
  vpipe::testing::ProcessResult r;
  for (int attempt = 0; attempt < 4; ++attempt, delay_ms /= 3) {
    fs::remove(t.db());
    Child child({"scan", t.corpus().string(), "--db", t.db(), "--threads", "1"},
                t.scratch().string());
    // Wait until the manifest exists (the run has started), then interrupt.
    for (int i = 0; i < 500 && !fs::exists(t.db()); ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    std::this_thread::sleep_for(std::chrono::milliseconds(delay_ms));
    child.signal(sig);
    r = child.wait();
    if (r.exit_code != 0) break;
  }
  ASSERT_EQ(r.exit_code, expected_exit) << r.err;
  EXPECT_NE(r.err.find("interrupted"), std::string::npos) << r.err;
  size_t done = 0;
  {
    vpipe::Manifest m(t.db());
    EXPECT_EQ(m.integrity_check(), "ok");
    done = vpipe::FileStore(m).all_files().size();
  }
  EXPECT_LT(done, t.truth().size());
  EXPECT_EQ(ScanCli::last_run(t.db()).at("outcome"), "interrupted");
  // The rerun resumes: it scans only what the interrupted run did not record.
  const auto resumed = t.vpipe({"scan", t.corpus().string(), "--db", t.db()});
  ASSERT_EQ(resumed.exit_code, 0);
  EXPECT_NE(resumed.out.find("scanned " + std::to_string(t.truth().size() - done) + " files"),
            std::string::npos)
      << resumed.out;
}

TEST_F(ScanCli, SigintFinishesInFlightFilesAndExits130) { expect_clean_stop(*this, SIGINT, 130); }

TEST_F(ScanCli, SigtermFinishesInFlightFilesAndExits143) { expect_clean_stop(*this, SIGTERM, 143); }

TEST_F(ScanCli, MaxMegapixelsRefusesLargerImagesWithAReason) {
  ASSERT_EQ(vpipe({"scan", corpus_.string(), "--db", db(), "--max-megapixels", "0.5"}).exit_code,
            0);
  const auto rows = rows_by_path(db());
  int refused = 0;
  for (const auto& t : truth_) {
    if (t.at("expected_status") != "ok") continue;
    const auto& rec = rows.at((corpus_ / t.at("path")).string());
    const bool large = std::stoll(t.at("width")) * std::stoll(t.at("height")) > 500'000;
    if (large) {
      EXPECT_EQ(rec.status, vpipe::ItemStatus::kTooLarge) << t.at("path");
      EXPECT_FALSE(rec.error.empty()) << t.at("path");
      ++refused;
    } else {
      EXPECT_EQ(rec.status, vpipe::ItemStatus::kOk) << t.at("path") << ": " << rec.error;
    }
  }
  EXPECT_GT(refused, 0);
}

TEST_F(ScanCli, PathsWithSpacesNewlinesAndNonUtf8BytesWorkByWalkAndByList) {
  std::string jpeg;
  for (const auto& t : truth_) {
    if (t.at("format") == "jpeg" && t.at("expected_status") == "ok") {
      jpeg = (corpus_ / t.at("path")).string();
      break;
    }
  }
  ASSERT_FALSE(jpeg.empty());
  const fs::path dir = scratch_ / "odd names";
  fs::create_directories(dir);
  const std::vector<std::string> names = {"a b.jpg", "new\nline.jpg",
                                          std::string("\xff\xfe bytes.jpg"), "no_extension"};
  for (const auto& n : names) fs::copy_file(jpeg, dir / n);

  ASSERT_EQ(vpipe({"scan", dir.string(), "--db", db()}).exit_code, 0);
  auto rows = rows_by_path(db());
  ASSERT_EQ(rows.size(), names.size());
  for (const auto& n : names) {
    auto it = rows.find((dir / n).string());
    ASSERT_NE(it, rows.end()) << n;
    EXPECT_EQ(it->second.status, vpipe::ItemStatus::kOk) << n;
    EXPECT_EQ(it->second.format, "jpeg") << "recognised by its bytes: " << n;
  }

  // The same files named in a NUL-delimited list (find -print0).
  const std::string list = (scratch_ / "list.bin").string();
  {
    std::ofstream out(list, std::ios::binary);
    for (const auto& n : names) out << (dir / n).string() << '\0';
  }
  const std::string db2 = (scratch_ / "list.db").string();
  auto r = vpipe({"scan", "--list", list, "-0", "--db", db2});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(rows_by_path(db2).size(), names.size());
}

TEST_F(ScanCli, FilesAreRecognisedByTheirBytesNotTheirNames) {
  const fs::path dir = scratch_ / "mixed";
  fs::create_directories(dir);
  std::ofstream(dir / "notes.txt") << "plain text, not an image";
  std::ofstream(dir / "fake.png") << "<html>not a png</html>";
  ASSERT_EQ(vpipe({"scan", dir.string(), "--db", db()}).exit_code, 0);
  const auto rows = rows_by_path(db());
  EXPECT_EQ(rows.count((dir / "notes.txt").string()), 0u)
      << "a text file without an image name is ignored";
  auto fake = rows.find((dir / "fake.png").string());
  ASSERT_NE(fake, rows.end());
  EXPECT_EQ(fake->second.status, vpipe::ItemStatus::kNotImage);
  EXPECT_NE(fake->second.error.find("not an image"), std::string::npos) << fake->second.error;
}

TEST_F(ScanCli, TraceIsChromeTraceJsonNamingEveryStage) {
  const std::string trace = (scratch_ / "trace.json").string();
  ASSERT_EQ(vpipe({"scan", corpus_.string(), "--db", db(), "--trace", trace}).exit_code, 0);
  const std::string text = Child::slurp(trace);
  ASSERT_FALSE(text.empty());
  EXPECT_EQ(text.find_first_not_of(" \n\t"), text.find_first_of("{["));
  for (const char* stage : {"walk", "read", "decode", "signals", "manifest"}) {
    EXPECT_NE(text.find(std::string("\"") + stage + "\""), std::string::npos) << stage;
  }
}

TEST_F(ScanCli, ProgressGoesToStderrAndNamesTheBottleneck) {
  const auto r = vpipe({"scan", corpus_.string(), "--db", db(), "--progress"});
  ASSERT_EQ(r.exit_code, 0);
  EXPECT_NE(r.err.find("/s"), std::string::npos) << r.err;
  EXPECT_EQ(r.out.find("\r"), std::string::npos) << "progress must not go to stdout";
}

TEST_F(ScanCli, FatalErrorsNameWhatToFixAndExitNonZero) {
  auto missing = vpipe({"scan", (scratch_ / "nope").string(), "--db", db()});
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_NE(missing.err.find("nope"), std::string::npos) << missing.err;

  const std::string bogus_db = (scratch_ / "bogus.db").string();
  std::ofstream(bogus_db) << "this is not a database, but it is long enough to look like a file";
  auto bad_db = vpipe({"scan", corpus_.string(), "--db", bogus_db});
  EXPECT_EQ(bad_db.exit_code, 1);
  EXPECT_NE(bad_db.err.find("bogus.db"), std::string::npos) << bad_db.err;

  auto bad_device = vpipe({"scan", corpus_.string(), "--db", db(), "--device", "tpu"});
  EXPECT_EQ(bad_device.exit_code, 1);
  EXPECT_NE(bad_device.err.find("tpu"), std::string::npos) << bad_device.err;

  auto usage = vpipe({"scan", corpus_.string()});
  EXPECT_EQ(usage.exit_code, 2) << "--db is required";
}

// A write that fails part way (the review filled the disk; here a trigger refuses rows past 100)
// ends the scan with 1, and the run's counts are what was committed, not what was decoded.
TEST_F(ScanCli, AFailedWriteRecordsTheCountsOfTheRowsCommitted) {
  fs::create_directories(scratch_ / "empty");
  ASSERT_EQ(vpipe({"scan", (scratch_ / "empty").string(), "--db", db()}).exit_code, 0);
  {
    sqlite3* raw = nullptr;
    ASSERT_EQ(sqlite3_open(db().c_str(), &raw), SQLITE_OK);
    ASSERT_EQ(sqlite3_exec(raw,
                           "CREATE TRIGGER full AFTER INSERT ON files "
                           "WHEN (SELECT count(*) FROM files) > 100 "
                           "BEGIN SELECT RAISE(ABORT, 'database or disk is full (test)'); END",
                           nullptr, nullptr, nullptr),
              SQLITE_OK);
    sqlite3_close(raw);
  }
  // Batches of 16 rows: some commit before the one that fails.
  const fs::path yaml = scratch_ / "pipeline.yaml";
  std::ofstream(yaml) << "inputs: [" << corpus_.string() << "]\nmanifest: " << db()
                      << "\nscan: {manifest_batch: 16}\n";
  const auto r = vpipe({"run", yaml.string()});
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  EXPECT_NE(r.err.find("disk is full"), std::string::npos) << r.err;

  const auto run = last_run(db());
  EXPECT_EQ(run.at("outcome"), "failed");
  int64_t counted = 0;
  const std::regex status_count(
      R"re("(ok|damaged|corrupt|not_image|too_large|unreadable|unsupported|failed)":(\d+))re");
  const std::string& counts = run.at("counts");
  for (auto it = std::sregex_iterator(counts.begin(), counts.end(), status_count);
       it != std::sregex_iterator(); ++it) {
    counted += std::stoll((*it)[2]);
  }
  const auto rows = static_cast<int64_t>(rows_by_path(db()).size());
  EXPECT_GT(rows, 0);
  EXPECT_LE(rows, 100);
  EXPECT_EQ(counted, rows) << counts;
}

TEST_F(ScanCli, JsonPrintsOneObjectWhoseCountsAreTheManifests) {
  const auto scan = vpipe({"scan", corpus().string(), "--db", db(), "--json"});
  ASSERT_EQ(scan.exit_code, 0) << scan.err;
  // One line, one valid JSON object, no text around it.
  ASSERT_FALSE(scan.out.empty());
  EXPECT_EQ(scan.out.find('\n'), scan.out.size() - 1) << scan.out;
  EXPECT_EQ(vpipe::testing::json_error(scan.out), "") << scan.out;
  EXPECT_EQ(scan.out.find("scanned "), std::string::npos) << "no text with --json";
  const auto rows = rows_by_path(db());
  EXPECT_NE(scan.out.find(R"({"command":"scan","manifest":)"), std::string::npos) << scan.out;
  EXPECT_NE(scan.out.find(R"("scanned":)" + std::to_string(rows.size()) + ","), std::string::npos)
      << scan.out;
  std::map<std::string, int64_t> statuses;
  for (const auto& [path, r] : rows) ++statuses[std::string(to_string(r.status))];
  std::string expected = R"("statuses":{)";
  for (const auto& [status, n] : statuses) {
    expected +=
        (expected.back() == '{' ? "" : ",") + vpipe::json_quote(status) + ":" + std::to_string(n);
  }
  EXPECT_NE(scan.out.find(expected + "}"), std::string::npos) << expected << "\n" << scan.out;
  EXPECT_NE(scan.out.find(R"("stages":[{"name":)"), std::string::npos) << scan.out;

  // dedup: the decisions it prints are the manifest's.
  const auto dedup = vpipe({"dedup", db(), "--json", "--explain"});
  ASSERT_EQ(dedup.exit_code, 0) << dedup.err;
  EXPECT_EQ(vpipe::testing::json_error(dedup.out), "") << dedup.out;
  vpipe::Manifest manifest(db());
  std::string decisions = R"("decisions":{)";
  for (const auto& [decision, n] : vpipe::DedupStore(manifest).decision_counts()) {
    decisions += (decisions.back() == '{' ? "" : ",") + vpipe::json_quote(decision) + ":" +
                 std::to_string(n);
  }
  EXPECT_NE(dedup.out.find(decisions + "}"), std::string::npos) << decisions << "\n" << dedup.out;
  EXPECT_NE(dedup.out.find(R"("groups":)" +
                           std::to_string(vpipe::DedupStore(manifest).count_groups()) + ","),
            std::string::npos)
      << dedup.out;
  EXPECT_NE(dedup.out.find(R"("keepers":[{"group":1,"keeper":)"), std::string::npos) << dedup.out;
  EXPECT_NE(dedup.out.find(R"("actions":{"copied":0,)"), std::string::npos) << dedup.out;

  // --set overrides a key as the YAML would; a mistyped one is refused with a suggestion.
  const auto exact_only = vpipe({"dedup", db(), "--json", "--set", "dedup.near=false"});
  ASSERT_EQ(exact_only.exit_code, 0) << exact_only.err;
  EXPECT_NE(exact_only.out.find(R"("near_groups":0,"near_pairs":0,)"), std::string::npos)
      << exact_only.out;
  EXPECT_EQ(dedup.out.find(R"("near_groups":0,)"), std::string::npos)
      << "the corpus has near-duplicates: " << dedup.out;
  const auto typo = vpipe({"dedup", db(), "--set", "dedup.phash_treshold=8"});
  EXPECT_EQ(typo.exit_code, 1) << typo.err;
  EXPECT_NE(typo.err.find("--set dedup.phash_treshold=8: unknown key"), std::string::npos)
      << typo.err;
  EXPECT_NE(typo.err.find("phash_threshold"), std::string::npos) << typo.err;
}

TEST_F(ScanCli, VersionAndDevices) {
  auto v = vpipe({"--version"});
  EXPECT_EQ(v.exit_code, 0);
  EXPECT_NE(v.out.find(vpipe::kVersion), std::string::npos) << v.out;

  auto d = vpipe({"devices", "--json"});
  ASSERT_EQ(d.exit_code, 0) << d.err;
  const std::string cores = "\"cores\":" + std::to_string(std::thread::hardware_concurrency());
  EXPECT_NE(d.out.find(cores), std::string::npos) << d.out;
  // Without a driver the binary still runs, says why, and picks the CPU.
  if (!fs::exists("/dev/nvidiactl")) {
    EXPECT_NE(d.out.find("\"auto\":\"cpu\""), std::string::npos) << d.out;
    EXPECT_NE(d.out.find("\"cuda\":[]"), std::string::npos) << d.out;
  }
}

}  // namespace
