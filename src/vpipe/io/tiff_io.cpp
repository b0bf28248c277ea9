#include "vpipe/io/tiff_io.h"

#include <algorithm>
#include <cstdarg>
#include <cstdio>
#include <cstring>
#include <mutex>

namespace vpipe::tiff_io {
namespace {

thread_local std::string t_errors;
thread_local std::string t_warnings;

void append_message(std::string& out, const char* module, const char* fmt, va_list args) {
  char text[512];
  std::vsnprintf(text, sizeof(text), fmt, args);
  if (out.size() > 4096) return;  // a damaged file can warn once per strip; keep the first ones
  if (!out.empty()) out += "; ";
  if (module != nullptr && *module != '\0') {
    out += module;
    out += ": ";
  }
  out += text;
}

void on_error(const char* module, const char* fmt, va_list args) {
  append_message(t_errors, module, fmt, args);
}

void on_warning(const char* module, const char* fmt, va_list args) {
  append_message(t_warnings, module, fmt, args);
}

// Reading, seeking and sizing work the same on both streams (a span being read, a vector being
// written and read back by libtiff), so they are written once over the stream type.
template <class Stream>
tmsize_t read_proc(thandle_t handle, void* buffer, tmsize_t size) {
  auto* stream = static_cast<Stream*>(handle);
  if (size <= 0 || stream->pos >= stream->bytes.size()) return 0;
  const uint64_t n =
      std::min<uint64_t>(static_cast<uint64_t>(size), stream->bytes.size() - stream->pos);
  std::memcpy(buffer, stream->bytes.data() + stream->pos, n);
  stream->pos += n;
  return static_cast<tmsize_t>(n);
}

template <class Stream>
toff_t seek_proc(thandle_t handle, toff_t offset, int whence) {
  auto* stream = static_cast<Stream*>(handle);
  uint64_t base = 0;
  if (whence == SEEK_CUR) base = stream->pos;
  if (whence == SEEK_END) base = stream->bytes.size();
  stream->pos = base + offset;
  return stream->pos;
}

template <class Stream>
toff_t size_proc(thandle_t handle) {
  return static_cast<Stream*>(handle)->bytes.size();
}

tmsize_t no_write_proc(thandle_t, void*, tmsize_t) { return -1; }

tmsize_t write_proc(thandle_t handle, void* buffer, tmsize_t size) {
  auto* stream = static_cast<WriteStream*>(handle);
  if (size < 0) return -1;
  const uint64_t end = stream->pos + static_cast<uint64_t>(size);
  if (end > stream->bytes.size()) stream->bytes.resize(end);
  std::memcpy(stream->bytes.data() + stream->pos, buffer, static_cast<size_t>(size));
  stream->pos = end;
  return size;
}

int close_proc(thandle_t) { return 0; }
int map_proc(thandle_t, void**, toff_t*) { return 0; }
void unmap_proc(thandle_t, void*, toff_t) {}

}  // namespace

void install_handlers() {
  static std::once_flag once;
  std::call_once(once, [] {
    TIFFSetErrorHandler(on_error);
    TIFFSetWarningHandler(on_warning);
  });
}

const std::string& errors() { return t_errors; }
const std::string& warnings() { return t_warnings; }

void clear_diagnostics() {
  t_errors.clear();
  t_warnings.clear();
}

TIFF* open_read(ReadStream* stream) {
  install_handlers();
  // "m": no memory mapping (the procs do not support it).
  return TIFFClientOpen("memory", "rm", stream, read_proc<ReadStream>, no_write_proc,
                        seek_proc<ReadStream>, close_proc, size_proc<ReadStream>, map_proc,
                        unmap_proc);
}

TIFF* open_write(WriteStream* stream) {
  install_handlers();
  return TIFFClientOpen("memory", "wm", stream, read_proc<WriteStream>, write_proc,
                        seek_proc<WriteStream>, close_proc, size_proc<WriteStream>, map_proc,
                        unmap_proc);
}

}  // namespace vpipe::tiff_io
