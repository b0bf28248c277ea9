#pragma once

#include <cstdint>
#include <deque>
#include <span>
#include <string>

namespace vpipe::detail {

/// One span of work of one thread: a batch run by a stage worker, or a stretch of the source
/// producing items. Times are now_ns() values.
struct TraceSpan {
  int64_t start_ns = 0;
  int64_t duration_ns = 0;
  uint32_t items = 0;
};

/// The spans of one engine thread, for the trace file.
struct TraceThread {
  int tid = 0;
  std::string thread_name;  ///< e.g. "decode#2"
  std::string event_name;   ///< the stage name
  const std::deque<TraceSpan>* spans = nullptr;
};

/// At most this many spans are recorded per run (~24 bytes each), so memory stays bounded on
/// long runs; later spans are counted as dropped.
inline constexpr int64_t kMaxTraceSpans = 2'000'000;

/// Writes Chrome trace-event JSON (the "JSON Object Format": {"traceEvents": [...]}) loadable in
/// chrome://tracing and Perfetto: per thread a thread_name and thread_sort_index metadata event,
/// then one complete ("X") event per span, timestamps in microseconds from `origin_ns`.
/// The file is written under a temporary name and renamed into place, so a reader never sees
/// half of it. Throws IoError when it cannot be written.
void write_chrome_trace_file(const std::string& path, std::span<const TraceThread> threads,
                             int64_t origin_ns, uint64_t dropped_spans);

}  // namespace vpipe::detail
