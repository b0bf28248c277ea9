#include "vpipe/io/run_scope.h"

#include <exception>
#include <utility>

#include "vpipe/core/log.h"

namespace vpipe {

RunScope::RunScope(Manifest& manifest, std::string_view command, std::string_view config_json,
                   std::string_view device)
    : manifest_(manifest), id_(manifest.begin_run(command, config_json, device)) {}

RunScope::~RunScope() {
  if (ended_) return;
  try {
    manifest_.end_run(id_, "failed",
                      failure_counts_ ? failure_counts_() : std::map<std::string, int64_t>{});
  } catch (const std::exception& e) {
    log().error("could not record run {} as failed: {}", id_, e.what());
  } catch (...) {
    log().error("could not record run {} as failed", id_);
  }
}

void RunScope::counts_from(std::function<std::map<std::string, int64_t>()> source) {
  failure_counts_ = std::move(source);
}

void RunScope::record_stages(std::string_view pass, const RunReport& report) {
  manifest_.record_stage_metrics(id_, pass, report);
}

void RunScope::finish(bool stopped, const std::map<std::string, int64_t>& counts) {
  manifest_.end_run(id_, stopped ? "interrupted" : "completed", counts);
  ended_ = true;
  manifest_.checkpoint();
}

}  // namespace vpipe
