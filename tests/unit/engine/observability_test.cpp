// Progress, trace and the metrics report of the engine.
#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <cctype>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <variant>
#include <vector>

#include "test_item.h"
#include "vpipe/core/error.h"
#include "vpipe/engine/pipeline.h"
#include "vpipe/engine/progress.h"

namespace vpipe {
namespace {

using namespace std::chrono_literals;
using testing::TestItem;
using TestPipeline = Pipeline<TestItem>;

// ---- a minimal JSON reader, enough to check the trace file -----------------------------------

struct Json;
using JsonObject = std::map<std::string, Json>;
using JsonArray = std::vector<Json>;
struct Json {
  std::variant<std::nullptr_t, bool, double, std::string, JsonArray, JsonObject> value;
  [[nodiscard]] const JsonObject& object() const { return std::get<JsonObject>(value); }
  [[nodiscard]] const JsonArray& array() const { return std::get<JsonArray>(value); }
  [[nodiscard]] const std::string& string() const { return std::get<std::string>(value); }
  [[nodiscard]] double number() const { return std::get<double>(value); }
};

class JsonParser {
 public:
  explicit JsonParser(const std::string& text) : text_(text) {}

  /// Parses the whole text; throws std::runtime_error on anything that is not strict JSON.
  Json parse_document() {
    Json value = parse_value();
    skip_space();
    if (pos_ != text_.size()) fail("trailing characters");
    return value;
  }

 private:
  [[noreturn]] void fail(const std::string& what) const {
    throw std::runtime_error("invalid JSON at " + std::to_string(pos_) + ": " + what);
  }
  void skip_space() {
    while (pos_ < text_.size() && std::isspace(static_cast<unsigned char>(text_[pos_]))) ++pos_;
  }
  char peek() {
    skip_space();
    if (pos_ >= text_.size()) fail("unexpected end");
    return text_[pos_];
  }
  void expect(char c) {
    if (peek() != c) fail(std::string("expected '") + c + "'");
    ++pos_;
  }
  bool literal(const std::string& word) {
    if (text_.compare(pos_, word.size(), word) != 0) return false;
    pos_ += word.size();
    return true;
  }
  Json parse_value() {
    const char c = peek();
    if (c == '{') return Json{parse_object()};
    if (c == '[') return Json{parse_array()};
    if (c == '"') return Json{parse_string()};
    if (literal("true")) return Json{true};
    if (literal("false")) return Json{false};
    if (literal("null")) return Json{nullptr};
    return Json{parse_number()};
  }
  JsonObject parse_object() {
    expect('{');
    JsonObject out;
    if (peek() == '}') {
      ++pos_;
      return out;
    }
    for (;;) {
      if (peek() != '"') fail("expected a key");
      std::string key = parse_string();
      expect(':');
      out[key] = parse_value();
      if (peek() == ',') {
        ++pos_;
        continue;
      }
      expect('}');
      return out;
    }
  }
  JsonArray parse_array() {
    expect('[');
    JsonArray out;
    if (peek() == ']') {
      ++pos_;
      return out;
    }
    for (;;) {
      out.push_back(parse_value());
      if (peek() == ',') {
        ++pos_;
        continue;
      }
      expect(']');
      return out;
    }
  }
  std::string parse_string() {
    expect('"');
    std::string out;
    while (pos_ < text_.size() && text_[pos_] != '"') {
      char c = text_[pos_++];
      if (static_cast<unsigned char>(c) < 0x20) fail("control character in string");
      if (c == '\\') {
        if (pos_ >= text_.size()) fail("bad escape");
        c = text_[pos_++];
        if (c == 'u') {
          if (pos_ + 4 > text_.size()) fail("bad \\u escape");
          out += '?';
          pos_ += 4;
          continue;
        }
        if (std::string("\"\\/bfnrt").find(c) == std::string::npos) fail("bad escape");
      }
      out += c;
    }
    if (pos_ >= text_.size()) fail("unterminated string");
    ++pos_;
    return out;
  }
  double parse_number() {
    const size_t start = pos_;
    if (pos_ < text_.size() && text_[pos_] == '-') ++pos_;
    while (pos_ < text_.size() &&
           (std::isdigit(static_cast<unsigned char>(text_[pos_])) || text_[pos_] == '.' ||
            text_[pos_] == 'e' || text_[pos_] == 'E' || text_[pos_] == '+' || text_[pos_] == '-')) {
      ++pos_;
    }
    if (start == pos_) fail("expected a value");
    return std::stod(text_.substr(start, pos_ - start));
  }

  const std::string& text_;
  size_t pos_ = 0;
};

std::filesystem::path temp_dir() {
  auto dir =
      std::filesystem::temp_directory_path() / ("vpipe_engine_test_" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  return dir;
}

StageSpec spec(std::string name, int workers = 1, size_t max_batch = 1,
               std::chrono::microseconds max_delay = 0us) {
  return StageSpec{std::move(name), workers, BatchPolicy{max_batch, max_delay}, 0};
}

TestPipeline::SourceFn count_to(int count) {
  return [count](const TestPipeline::Emit& emit) {
    for (int i = 0; i < count; ++i) {
      if (!emit(TestItem(i))) return;
    }
  };
}

TestPipeline::WorkerFactory sleep_per_batch(std::chrono::microseconds pause) {
  return
      [pause](int) { return [pause](std::span<TestItem>) { std::this_thread::sleep_for(pause); }; };
}

// ---- trace ------------------------------------------------------------------------------------

TEST(Trace, WritesValidChromeTraceWithEventsForEachStage) {
  TestPipeline pipeline;
  pipeline.set_source("scan \"files\"", count_to(300));
  pipeline.add_stage(spec("decode", 2, 4, 200us), sleep_per_batch(20us));
  pipeline.add_stage(spec("hash", 1), sleep_per_batch(10us));
  RunOptions options;
  options.trace = true;
  pipeline.run(options);

  const auto path = temp_dir() / "trace.json";
  pipeline.write_chrome_trace(path.string());
  std::ifstream in(path);
  ASSERT_TRUE(in.good());
  std::stringstream text;
  text << in.rdbuf();
  Json doc;
  ASSERT_NO_THROW(doc = JsonParser(text.str()).parse_document()) << text.str().substr(0, 2000);

  std::map<std::string, int> complete_events;  // per event name
  std::map<std::string, uint64_t> items;       // per event name, summed over events
  std::set<std::string> thread_names;
  std::set<double> tids_with_events;
  for (const Json& event : doc.object().at("traceEvents").array()) {
    const JsonObject& e = event.object();
    const std::string& ph = e.at("ph").string();
    if (ph == "M" && e.at("name").string() == "thread_name") {
      thread_names.insert(e.at("args").object().at("name").string());
    }
    if (ph == "X") {
      const std::string& name = e.at("name").string();
      ++complete_events[name];
      items[name] += static_cast<uint64_t>(e.at("args").object().at("items").number());
      EXPECT_GE(e.at("ts").number(), 0.0);
      EXPECT_GE(e.at("dur").number(), 0.0);
      tids_with_events.insert(e.at("tid").number());
    }
  }
  EXPECT_GT(complete_events["decode"], 0);
  EXPECT_GT(complete_events["hash"], 0);
  EXPECT_GT(complete_events["scan \"files\""], 0) << "the source is traced too";
  EXPECT_EQ(items["decode"], 300u) << "one span per batch, each with its item count";
  EXPECT_EQ(items["hash"], 300u);
  EXPECT_EQ(items["scan \"files\""], 300u);
  EXPECT_TRUE(thread_names.count("decode#0") && thread_names.count("decode#1"));
  EXPECT_TRUE(thread_names.count("hash"));
  EXPECT_GE(tids_with_events.size(), 3u) << "a tid per worker thread";

  // Written atomically: no temporary file is left next to it.
  for (const auto& entry : std::filesystem::directory_iterator(path.parent_path())) {
    EXPECT_EQ(entry.path().filename().string().find(".tmp"), std::string::npos);
  }
  std::filesystem::remove_all(path.parent_path());
}

TEST(Trace, WithoutTracingHasNoEvents) {
  TestPipeline pipeline;
  pipeline.set_source("source", count_to(50));
  pipeline.add_stage(spec("a"), sleep_per_batch(0us));
  pipeline.run();
  const auto path = temp_dir() / "empty.json";
  pipeline.write_chrome_trace(path.string());
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  const Json doc = JsonParser(text.str()).parse_document();
  for (const Json& event : doc.object().at("traceEvents").array()) {
    EXPECT_NE(event.object().at("ph").string(), "X");
  }
  std::filesystem::remove_all(path.parent_path());
}

TEST(Trace, UnwritablePathThrowsIoError) {
  TestPipeline pipeline;
  pipeline.set_source("source", count_to(5));
  RunOptions options;
  options.trace = true;
  pipeline.run(options);
  EXPECT_THROW(pipeline.write_chrome_trace("/nonexistent-dir-vpipe/sub/trace.json"), IoError);
}

// ---- progress ---------------------------------------------------------------------------------

TEST(Progress, LiveLinesShowRateEtaAndBottleneck) {
  constexpr int kItems = 400;
  TestPipeline pipeline;
  std::atomic<int> progress_ticks{0};
  pipeline.set_source("source", count_to(kItems));
  pipeline.add_stage(spec("fast", 1), sleep_per_batch(0us));
  pipeline.add_stage(spec("slow", 1), [&](int) {
    return [&](std::span<TestItem> batch) {
      // Hold the run until the monitor has drawn at least two live lines (it calls
      // expected_total once per line), so the test does not depend on timing.
      if (batch.front().id == 0) {
        const auto give_up = std::chrono::steady_clock::now() + 20s;
        while (progress_ticks.load() < 3 && std::chrono::steady_clock::now() < give_up) {
          std::this_thread::sleep_for(5ms);
        }
      }
      std::this_thread::sleep_for(200us);
    };
  });
  std::ostringstream out;
  RunOptions options;
  options.progress = &out;
  options.expected_total = [&] {
    progress_ticks.fetch_add(1);
    return int64_t{kItems};
  };
  const RunReport report = pipeline.run(options);
  const std::string text = out.str();
  EXPECT_GE(progress_ticks.load(), 3);
  EXPECT_NE(text.find('\r'), std::string::npos) << "the line is redrawn in place";
  EXPECT_NE(text.find("items/s"), std::string::npos) << text;
  EXPECT_NE(text.find("ETA"), std::string::npos) << text;
  EXPECT_NE(text.find("bottleneck: slow"), std::string::npos) << text;
  EXPECT_NE(text.find("/400 items"), std::string::npos) << text;
  EXPECT_EQ(text.back(), '\n') << "the final line is closed";
  EXPECT_NE(text.find("400 items in"), std::string::npos) << text;
  EXPECT_EQ(report.stages[report.bottleneck].name, "slow");
}

TEST(Progress, LineUsesTheWindowNotTheWholeRun) {
  detail::ProgressStages stages{{"source", "decode", "embed"}, {1, 4, 1}};
  // Over the whole run decode was busiest, but over this window embed is.
  detail::ProgressSample oldest{
      10'000'000'000, 1000, {1'000'000'000, 30'000'000'000, 1'000'000'000}};
  detail::ProgressSample newest{
      12'000'000'000, 1200, {1'100'000'000, 30'400'000'000, 2'900'000'000}};
  const std::string line = detail::format_progress_line(oldest, newest, stages, 2200);
  EXPECT_NE(line.find("1200/2200 items"), std::string::npos) << line;
  EXPECT_NE(line.find("100.0 items/s"), std::string::npos) << line;
  EXPECT_NE(line.find("ETA 0:00:10"), std::string::npos) << line;
  EXPECT_NE(line.find("bottleneck: embed (95% busy)"), std::string::npos) << line;

  const std::string no_total = detail::format_progress_line(oldest, newest, stages, -1);
  EXPECT_EQ(no_total.find("ETA"), std::string::npos) << no_total;
  EXPECT_NE(no_total.find("1200 items"), std::string::npos) << no_total;
}

// ---- report -----------------------------------------------------------------------------------

TEST(RunReport, UtilizationAndTable) {
  RunReport report;
  report.wall_ns = 1'000'000'000;
  StageMetrics source;
  source.name = "scan";
  source.items_out = 10;
  source.busy_ns = 100'000'000;
  source.wait_output_ns = 900'000'000;
  StageMetrics embed;
  embed.name = "embed";
  embed.workers = 2;
  embed.items_in = embed.items_out = 10;
  embed.batches = 4;
  embed.busy_ns = 1'800'000'000;
  report.stages = {source, embed};
  report.bottleneck = 1;
  EXPECT_DOUBLE_EQ(embed.utilization(report.wall_ns), 0.9);
  EXPECT_DOUBLE_EQ(embed.mean_batch_size(), 2.5);
  EXPECT_DOUBLE_EQ(StageMetrics{}.mean_batch_size(), 0.0);
  const std::string table = report.format_table();
  EXPECT_NE(table.find("bottleneck: embed (busy 90% of its capacity; 'scan' before it waits 90% "
                       "for room)"),
            std::string::npos)
      << table;
  EXPECT_NE(table.find("2.5"), std::string::npos) << table;
  EXPECT_EQ(table.find(" busy 90% of the run"), std::string::npos) << "no device stage: " << table;

  // A stage on a GPU: its busy share is the device's, and the verdict says who bounds the run.
  report.stages[1].device = "cuda:0";
  std::string on_gpu = report.format_table();
  EXPECT_NE(on_gpu.find("cuda:0 busy 100% of the run (stage 'embed')"), std::string::npos)
      << on_gpu;  // two workers busy 1.8 s in 1 s: the device is busy all the time, not 180%
  EXPECT_NE(on_gpu.find("; compute on cuda:0 bounds the run)"), std::string::npos) << on_gpu;
  report.stages[1].busy_ns = 400'000'000;
  report.bottleneck = 0;
  report.stages[0].busy_ns = 950'000'000;
  on_gpu = report.format_table();
  EXPECT_NE(on_gpu.find("cuda:0 busy 40% of the run"), std::string::npos) << on_gpu;
  EXPECT_NE(on_gpu.find("bottleneck: scan (busy 95% of its capacity; 'embed' after it waits"),
            std::string::npos)
      << on_gpu;
  EXPECT_NE(on_gpu.find("; the host bounds the run, cuda:0 idles 60%)"), std::string::npos)
      << on_gpu;
  report.stages[1].device.clear();
  report.stages[1].busy_ns = 1'800'000'000;
  report.stages[0].busy_ns = 100'000'000;
  report.bottleneck = 1;

  // Steps that ran one after another name the slowest step, with its share of the wall time.
  report.sequential = true;
  report.stages[1].workers = 1;
  report.stages[1].busy_ns = 700'000'000;
  const std::string steps = report.format_table();
  EXPECT_NE(steps.find("slowest step: embed (70% of the pass's 1.00 s)"), std::string::npos)
      << steps;
  EXPECT_EQ(steps.find("bottleneck:"), std::string::npos) << steps;
}

}  // namespace
}  // namespace vpipe
