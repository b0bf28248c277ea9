#pragma once

// Private to vpipe_codec: libtiff over memory buffers, and libtiff's global diagnostics routed
// into a per-thread buffer so the library never prints and concurrent threads do not mix.

#include <tiffio.h>

#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace vpipe::tiff_io {

/// Installs vpipe's libtiff error and warning handlers once per process (thread-safe). They
/// append to this thread's diagnostics buffer instead of printing.
void install_handlers();

/// This thread's libtiff errors ("; "-separated) since the last `clear_diagnostics`.
[[nodiscard]] const std::string& errors();
/// This thread's libtiff warnings since the last `clear_diagnostics`.
[[nodiscard]] const std::string& warnings();
void clear_diagnostics();

/// A read-only view of a TIFF file in memory; outlives the TIFF* opened on it.
struct ReadStream {
  std::span<const uint8_t> bytes;
  uint64_t pos = 0;
};

/// A growable TIFF file being written in memory; outlives the TIFF* opened on it.
struct WriteStream {
  std::vector<uint8_t> bytes;
  uint64_t pos = 0;
};

/// Opens a TIFF reader over `stream` (nullptr on failure; see `errors()`). Close with TIFFClose.
[[nodiscard]] TIFF* open_read(ReadStream* stream);
/// Opens a TIFF writer into `stream` (nullptr on failure). TIFFClose flushes the file.
[[nodiscard]] TIFF* open_write(WriteStream* stream);

}  // namespace vpipe::tiff_io
