// RunScope (io/run_scope.h): every pass's run ends in the manifest as completed, interrupted or
// failed, with its counts and stage figures, whichever way the pass leaves.

#include "vpipe/io/run_scope.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <map>
#include <stdexcept>
#include <string>

#include "temp_dir.h"

namespace vpipe {
namespace {

namespace fs = std::filesystem;
using testing::TempDir;

class RunScopeTest : public ::testing::Test {
 protected:
  TempDir tmp_{"vpipe_run_scope_"};
  fs::path db_ = tmp_.path() / "manifest.db";

  RunReport one_stage() const {
    RunReport report;
    StageMetrics stage;
    stage.name = "decode";
    stage.items_in = 7;
    stage.items_out = 7;
    report.stages.push_back(stage);
    report.wall_ns = 1000;
    return report;
  }
};

TEST_F(RunScopeTest, AFinishedRunIsCompletedWithItsCountsAndStages) {
  Manifest manifest(db_);
  int64_t id = 0;
  {
    RunScope run(manifest, "scan", "{}", "cpu");
    id = run.id();
    const auto open = manifest.runs();
    ASSERT_EQ(open.size(), 1u);
    EXPECT_EQ(open[0].outcome, "");  // recorded as started before anything ran
    run.record_stages("scan", one_stage());
    run.finish(false, {{"ok", 7}});
  }
  const auto runs = manifest.runs();
  ASSERT_EQ(runs.size(), 1u);
  EXPECT_EQ(runs[0].id, id);
  EXPECT_EQ(runs[0].command, "scan");
  EXPECT_EQ(runs[0].outcome, "completed");
  EXPECT_NE(runs[0].counts.find("\"ok\":7"), std::string::npos) << runs[0].counts;
  const auto metrics = manifest.latest_pass_metrics();
  ASSERT_EQ(metrics.size(), 1u);
  EXPECT_EQ(metrics[0].run_id, id);
  EXPECT_EQ(metrics[0].pass, "scan");
  ASSERT_EQ(metrics[0].report.stages.size(), 1u);
  EXPECT_EQ(metrics[0].report.stages[0].items_out, 7u);
}

TEST_F(RunScopeTest, AStoppedRunIsInterrupted) {
  Manifest manifest(db_);
  {
    RunScope run(manifest, "infer", "{}", "cpu");
    run.finish(true, {{"ok", 2}});
  }
  EXPECT_EQ(manifest.runs().back().outcome, "interrupted");
}

TEST_F(RunScopeTest, AnExceptionLeavesTheRunFailedWithTheCountsSoFar) {
  Manifest manifest(db_);
  std::map<std::string, int64_t> counts;
  EXPECT_THROW(
      {
        RunScope run(manifest, "dedup", "{}", "cpu");
        run.counts_from([&counts] { return counts; });
        counts["ok"] = 3;  // read when the scope ends, not when the source was set
        throw std::runtime_error("the pass failed");
      },
      std::runtime_error);
  const auto runs = manifest.runs();
  ASSERT_EQ(runs.size(), 1u);
  EXPECT_EQ(runs[0].outcome, "failed");
  EXPECT_NE(runs[0].counts.find("\"ok\":3"), std::string::npos) << runs[0].counts;
  EXPECT_FALSE(runs[0].ended_at.empty());
}

TEST_F(RunScopeTest, WithoutACountsSourceAFailedRunHasNone) {
  Manifest manifest(db_);
  { RunScope run(manifest, "crawl", "{}", "cpu"); }
  EXPECT_EQ(manifest.runs().back().outcome, "failed");
}

}  // namespace
}  // namespace vpipe
