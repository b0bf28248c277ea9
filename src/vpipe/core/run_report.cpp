#include "vpipe/core/run_report.h"

#include <fmt/format.h>

#include <algorithm>

#include "vpipe/core/json.h"

namespace vpipe {

namespace {

// `ns` as a percentage of the stage's capacity over the run (workers * wall).
double percent_of_capacity(int64_t ns, int workers, int64_t wall_ns) {
  if (wall_ns <= 0 || workers <= 0) return 0.0;
  return 100.0 * static_cast<double>(ns) / (static_cast<double>(wall_ns) * workers);
}

}  // namespace

double StageMetrics::utilization(int64_t wall_ns) const {
  return percent_of_capacity(busy_ns, workers, wall_ns) / 100.0;
}

double StageMetrics::mean_batch_size() const {
  return batches == 0 ? 0.0 : static_cast<double>(items_in) / static_cast<double>(batches);
}

std::string RunReport::format_table() const {
  size_t name_width = 5;
  for (const StageMetrics& s : stages) name_width = std::max(name_width, s.name.size());
  std::string out =
      fmt::format("{:<{}} {:>7} {:>10} {:>10} {:>6} {:>9} {:>10} {:>10}\n", "stage", name_width,
                  "workers", "items in", "items out", "busy", "wait in", "wait room", "mean batch");
  for (const StageMetrics& s : stages) {
    const std::string batch = s.batches == 0 ? "-" : fmt::format("{:.1f}", s.mean_batch_size());
    out += fmt::format("{:<{}} {:>7} {:>10} {:>10} {:>5.1f}% {:>8.1f}% {:>9.1f}% {:>10}\n", s.name,
                       name_width, s.workers, s.items_in, s.items_out,
                       percent_of_capacity(s.busy_ns, s.workers, wall_ns),
                       percent_of_capacity(s.wait_input_ns, s.workers, wall_ns),
                       percent_of_capacity(s.wait_output_ns, s.workers, wall_ns), batch);
  }
  const StageMetrics* device_stage = nullptr;  // the busiest stage that runs on a device
  for (const StageMetrics& s : stages) {
    if (s.device.empty()) continue;
    const double busy = std::min(100.0, percent_of_capacity(s.busy_ns, 1, wall_ns));
    out += fmt::format("{} busy {:.0f}% of the run (stage '{}')\n", s.device, busy, s.name);
    if (device_stage == nullptr || s.busy_ns > device_stage->busy_ns) device_stage = &s;
  }
  if (bottleneck < 0 || bottleneck >= static_cast<int>(stages.size())) {
    out += "bottleneck: none (nothing ran)\n";
    return out;
  }
  const auto b = static_cast<size_t>(bottleneck);
  const StageMetrics& stage = stages[b];
  if (sequential) {
    // Steps run one after another: the slowest one is simply the largest share of the time.
    out += fmt::format("slowest step: {} ({:.0f}% of the pass's {:.2f} s)\n", stage.name,
                       percent_of_capacity(stage.busy_ns, 1, wall_ns), wall_ns / 1e9);
    return out;
  }
  std::string why = fmt::format("busy {:.0f}% of its capacity",
                                percent_of_capacity(stage.busy_ns, stage.workers, wall_ns));
  if (b > 0) {
    const StageMetrics& up = stages[b - 1];
    why += fmt::format("; '{}' before it waits {:.0f}% for room", up.name,
                       percent_of_capacity(up.wait_output_ns, up.workers, wall_ns));
  }
  if (b + 1 < stages.size()) {
    const StageMetrics& down = stages[b + 1];
    why += fmt::format("; '{}' after it waits {:.0f}% for input", down.name,
                       percent_of_capacity(down.wait_input_ns, down.workers, wall_ns));
  }
  if (device_stage != nullptr) {
    if (!stage.device.empty()) {
      why += fmt::format("; compute on {} bounds the run", stage.device);
    } else {
      why += fmt::format(
          "; the host bounds the run, {} idles {:.0f}%", device_stage->device,
          100.0 - std::min(100.0, percent_of_capacity(device_stage->busy_ns, 1, wall_ns)));
    }
  }
  out += fmt::format("bottleneck: {} ({})\n", stage.name, why);
  return out;
}

std::string RunReport::json() const {
  const auto seconds = [](int64_t ns) { return static_cast<double>(ns) / 1e9; };
  std::string stage_list = "[";
  for (const StageMetrics& s : stages) {
    JsonObject stage;
    stage.add("name", s.name).add("workers", s.workers);
    if (s.device.empty()) {
      stage.add_raw("device", "null");
    } else {
      stage.add("device", s.device);
    }
    stage.add("items_in", s.items_in).add("items_out", s.items_out);
    stage.add("busy_seconds", seconds(s.busy_ns));
    stage.add("wait_input_seconds", seconds(s.wait_input_ns));
    stage.add("wait_output_seconds", seconds(s.wait_output_ns));
    stage.add("utilization", s.utilization(wall_ns));
    if (stage_list.size() > 1) stage_list += ',';
    stage_list += stage.str();
  }
  stage_list += "]";
  JsonObject report;
  report.add("wall_seconds", seconds(wall_ns)).add("stopped", stopped);
  if (bottleneck >= 0 && bottleneck < static_cast<int>(stages.size())) {
    report.add("bottleneck", stages[static_cast<size_t>(bottleneck)].name);
  } else {
    report.add_raw("bottleneck", "null");
  }
  return report.add_raw("stages", stage_list).str();
}

}  // namespace vpipe
