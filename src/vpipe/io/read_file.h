#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace vpipe {

/// Reads a whole file into `bytes`. False, with `why` ("cannot open: ...", "file is N bytes,
/// over the M-byte limit", "cannot read: ..."), when it cannot, or when it is larger than
/// `max_bytes`. Thread-safe.
bool read_file_bytes(const std::string& path, uint64_t max_bytes, std::vector<uint8_t>& bytes,
                     std::string& why);

}  // namespace vpipe
