#include "vpipe/engine/trace.h"

#include "vpipe/core/json.h"

#include <fmt/format.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <memory>
#include <system_error>

#include "vpipe/core/error.h"

namespace vpipe::detail {

namespace {

struct FileCloser {
  void operator()(std::FILE* file) const { std::fclose(file); }
};

// Buffers the JSON text and hands it to the file in large writes.
class TraceWriter {
 public:
  TraceWriter(std::FILE* file, const std::string& path) : file_(file), path_(path) {}

  fmt::memory_buffer& buffer() { return buffer_; }

  void flush_if_full() {
    if (buffer_.size() >= kFlushBytes) flush();
  }

  void flush() {
    if (buffer_.size() != 0 &&
        std::fwrite(buffer_.data(), 1, buffer_.size(), file_) != buffer_.size()) {
      throw IoError(fmt::format("cannot write trace file '{}': {}", path_, std::strerror(errno)));
    }
    buffer_.clear();
  }

 private:
  static constexpr size_t kFlushBytes = 1 << 20;
  std::FILE* file_;
  const std::string& path_;
  fmt::memory_buffer buffer_;
};

double to_us(int64_t ns) { return static_cast<double>(ns) / 1000.0; }

}  // namespace


void write_chrome_trace_file(const std::string& path, std::span<const TraceThread> threads,
                             int64_t origin_ns, uint64_t dropped_spans) {
  const std::string temp_path = fmt::format("{}.tmp.{}", path, ::getpid());
  std::unique_ptr<std::FILE, FileCloser> file(std::fopen(temp_path.c_str(), "wb"));
  if (!file) {
    throw IoError(
        fmt::format("cannot create trace file '{}': {}", temp_path, std::strerror(errno)));
  }
  try {
    TraceWriter writer(file.get(), path);
    auto out = std::back_inserter(writer.buffer());
    fmt::format_to(out,
                   "{{\"displayTimeUnit\":\"ms\",\"otherData\":{{\"producer\":\"vpipe\","
                   "\"dropped_spans\":{}}},\"traceEvents\":[\n",
                   dropped_spans);
    fmt::format_to(
        out, R"({{"name":"process_name","ph":"M","pid":1,"tid":0,"args":{{"name":"vpipe"}}}})");
    for (const TraceThread& thread : threads) {
      fmt::format_to(out,
                     ",\n{{\"name\":\"thread_name\",\"ph\":\"M\",\"pid\":1,\"tid\":{},"
                     "\"args\":{{\"name\":{}}}}}",
                     thread.tid, json_quote(thread.thread_name));
      fmt::format_to(out,
                     ",\n{{\"name\":\"thread_sort_index\",\"ph\":\"M\",\"pid\":1,\"tid\":{},"
                     "\"args\":{{\"sort_index\":{}}}}}",
                     thread.tid, thread.tid);
    }
    for (const TraceThread& thread : threads) {
      if (thread.spans == nullptr) continue;
      const std::string name = json_quote(thread.event_name);
      for (const TraceSpan& span : *thread.spans) {
        fmt::format_to(out,
                       ",\n{{\"name\":{},\"cat\":\"stage\",\"ph\":\"X\",\"pid\":1,\"tid\":{},"
                       "\"ts\":{:.3f},\"dur\":{:.3f},\"args\":{{\"items\":{}}}}}",
                       name, thread.tid, to_us(span.start_ns - origin_ns), to_us(span.duration_ns),
                       span.items);
        writer.flush_if_full();
      }
    }
    fmt::format_to(out, "\n]}}\n");
    writer.flush();
    if (std::fflush(file.get()) != 0) {
      throw IoError(fmt::format("cannot write trace file '{}': {}", path, std::strerror(errno)));
    }
    if (std::fclose(file.release()) != 0) {
      throw IoError(fmt::format("cannot write trace file '{}': {}", path, std::strerror(errno)));
    }
    std::error_code error;
    std::filesystem::rename(temp_path, path, error);
    if (error) {
      throw IoError(fmt::format("cannot write trace file '{}': {}", path, error.message()));
    }
  } catch (...) {
    file.reset();
    std::error_code ignored;
    std::filesystem::remove(temp_path, ignored);
    throw;
  }
}

}  // namespace vpipe::detail
