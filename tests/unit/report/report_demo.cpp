// Builds a demo report: a synthetic corpus with known duplicates and defects (vpipe synth), the
// scan, the dedup pass with default rules, then the HTML report.
//
//   report_demo OUT_DIR [FILES=800] [PAGE_SIZE=60]
//
// Writes OUT_DIR/corpus, OUT_DIR/run.db and OUT_DIR/report/index.html.
//
//   report_demo --scale OUT_DIR FILES [PAGE_SIZE=200]
//
// Instead writes a made-up manifest of FILES rows (no image files: every preview is a
// placeholder) and reports it, to check the report's time and memory on a large manifest.

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "vpipe/core/error.h"
#include "vpipe/curate/dedup_pass.h"
#include "vpipe/dedup/dedup_store.h"
#include "vpipe/io/file_store.h"
#include "vpipe/io/manifest.h"
#include "vpipe/report/html_report.h"
#include "vpipe/scan/scan.h"
#include "vpipe/synth/synth.h"

namespace {

/// A manifest of `n` made-up files: a fifth in groups of 2..5, a tenth rejected.
void make_large_manifest(const std::filesystem::path& db, int64_t n) {
  vpipe::Manifest m(db);
  m.begin_run("scan", "{}", "cpu");
  std::vector<vpipe::FileRecord> batch;
  for (int64_t i = 0; i < n; ++i) {
    vpipe::FileRecord f;
    f.path = "/data/set/" + std::to_string(i % 97) + "/img_" + std::to_string(i) + ".jpg";
    f.size_bytes = 100'000 + i % 5000;
    f.mtime_ns = i;
    f.format = "jpeg";
    f.width = 640 + static_cast<int>(i % 700);
    f.height = 480 + static_cast<int>(i % 300);
    f.has_signals = true;
    f.quality = {static_cast<double>(i % 3000),
                 static_cast<double>(i % 256),
                 static_cast<double>(i % 90),
                 0,
                 0,
                 4 + static_cast<double>(i % 40) / 10,
                 static_cast<double>(i % 120)};
    batch.push_back(f);
    if (batch.size() == 10'000) {
      vpipe::FileStore(m).upsert_files(batch);
      batch.clear();
    }
  }
  vpipe::FileStore(m).upsert_files(batch);
  m.begin_run("dedup", "{}", "cpu");
  std::vector<vpipe::GroupRecord> groups;
  std::vector<vpipe::DecisionRecord> decisions;
  int64_t id = 1;  // files.id follow insertion order in a new database
  while (id <= n) {
    const int64_t kind = id % 10;
    if (kind < 2 && id + 4 <= n) {
      const int64_t size = 2 + id % 4;
      const int64_t gid = static_cast<int64_t>(groups.size()) + 1;
      groups.push_back({gid, "near", id, size, 3});
      for (int64_t k = 0; k < size; ++k) {
        vpipe::DecisionRecord d;
        d.file_id = id + k;
        d.decision = k == 0 ? "keep" : "duplicate";
        d.group_id = gid;
        d.is_keeper = k == 0;
        d.match = k == 0 ? "" : "near";
        d.phash_distance = k == 0 ? -1 : static_cast<int>(k);
        d.dhash_distance = k == 0 ? -1 : static_cast<int>(k + 1);
        decisions.push_back(d);
      }
      id += size;
      continue;
    }
    vpipe::DecisionRecord d;
    d.file_id = id;
    if (kind == 3) {
      d.decision = "reject";
      d.reasons.push_back({id % 2 == 0 ? "blurry" : "dark", static_cast<double>(id % 40), 40,
                           static_cast<double>(id % 1000) / 1000});
    } else {
      d.decision = "keep";
    }
    decisions.push_back(d);
    ++id;
  }
  // Largest group first, as the dedup pass numbers them.
  std::stable_sort(groups.begin(), groups.end(),
                   [](const auto& a, const auto& b) { return a.size > b.size; });
  std::vector<int64_t> new_id(groups.size() + 1);
  for (size_t i = 0; i < groups.size(); ++i) {
    new_id[static_cast<size_t>(groups[i].id)] = static_cast<int64_t>(i) + 1;
    groups[i].id = static_cast<int64_t>(i) + 1;
  }
  for (vpipe::DecisionRecord& d : decisions) {
    if (d.group_id > 0) d.group_id = new_id[static_cast<size_t>(d.group_id)];
  }
  vpipe::DedupStore(m).replace_dedup_results(
      groups, decisions,
      std::vector<vpipe::ThresholdRecord>{{"blurry", "sharpness", 40, true, true},
                                          {"dark", "brightness", 40, true, true}});
  m.checkpoint();
}

int scale_run(int argc, char** argv) {
  namespace fs = std::filesystem;
  if (argc < 4) {
    std::fprintf(stderr, "usage: %s --scale OUT_DIR FILES [PAGE_SIZE]\n", argv[0]);
    return 2;
  }
  const fs::path out = argv[2];
  const int64_t files = std::atoll(argv[3]);
  fs::create_directories(out);
  const fs::path db = out / "scale.db";
  if (!fs::exists(db)) make_large_manifest(db, files);
  vpipe::ReportOptions report;
  report.out_dir = out / "scale-report";
  report.page_size = argc > 4 ? std::atoi(argv[4]) : 200;
  const auto start = std::chrono::steady_clock::now();
  const vpipe::ReportSummary summary = vpipe::write_report(db, report);
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf("%lld files: %lld pages in %.1f s, %lld placeholders\n",
              static_cast<long long>(files), static_cast<long long>(summary.pages), seconds,
              static_cast<long long>(summary.thumbnail_failures));
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  namespace fs = std::filesystem;
  if (argc > 1 && std::string(argv[1]) == "--scale") {
    try {
      return scale_run(argc, argv);
    } catch (const vpipe::Error& e) {
      std::fprintf(stderr, "report_demo: %s\n", e.what());
      return 1;
    }
  }
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s OUT_DIR [FILES] [PAGE_SIZE]\n", argv[0]);
    return 2;
  }
  const fs::path out = argv[1];
  const int files = argc > 2 ? std::atoi(argv[2]) : 800;
  const int page_size = argc > 3 ? std::atoi(argv[3]) : 60;
  try {
    fs::create_directories(out);
    const fs::path corpus = out / "corpus";
    const fs::path db = out / "run.db";
    if (!fs::exists(corpus / "truth.csv")) {
      vpipe::SynthOptions synth;
      synth.out_dir = corpus;
      synth.count = files;
      vpipe::synthesize(synth);
    }
    vpipe::ScanOptions scan;
    scan.roots = {corpus.string()};
    scan.db = db;
    const vpipe::ScanSummary scanned = vpipe::run_scan(scan);
    {
      // Keep the scan's stage timings for the report (when the scan itself did not).
      vpipe::Manifest manifest(db);
      bool recorded = false;
      for (const auto& pass : manifest.latest_pass_metrics())
        recorded = recorded || pass.pass == "scan";
      const auto runs = manifest.runs();
      if (!recorded && scanned.scanned > 0) {
        for (auto it = runs.rbegin(); it != runs.rend(); ++it) {
          if (it->command == "scan") {
            manifest.record_stage_metrics(it->id, "scan", scanned.engine);
            break;
          }
        }
      }
    }
    vpipe::DedupPassOptions dedup;
    vpipe::run_dedup_pass(db, dedup);
    vpipe::ReportOptions report;
    report.out_dir = out / "report";
    report.page_size = page_size;
    const vpipe::ReportSummary summary = vpipe::write_report(db, report);
    std::printf("%s: %lld pages, %lld thumbnails made, %lld reused, %lld without preview\n",
                summary.index.c_str(), static_cast<long long>(summary.pages),
                static_cast<long long>(summary.thumbnails_made),
                static_cast<long long>(summary.thumbnails_cached),
                static_cast<long long>(summary.thumbnail_failures));
  } catch (const vpipe::Error& e) {
    std::fprintf(stderr, "report_demo: %s\n", e.what());
    return 1;
  }
  return 0;
}
