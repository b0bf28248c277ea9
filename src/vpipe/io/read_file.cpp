#include "vpipe/io/read_file.h"

#include <fmt/format.h>

#include <cerrno>
#include <cstring>
#include <fstream>

namespace vpipe {

bool read_file_bytes(const std::string& path, uint64_t max_bytes, std::vector<uint8_t>& bytes,
                     std::string& why) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    why = fmt::format("cannot open: {}", std::strerror(errno));
    return false;
  }
  in.seekg(0, std::ios::end);
  const std::streamoff size = in.tellg();
  if (size < 0) {
    why = "cannot read: the file has no size";
    return false;
  }
  if (static_cast<uint64_t>(size) > max_bytes) {
    why = fmt::format("file is {} bytes, over the {}-byte limit", size, max_bytes);
    return false;
  }
  in.seekg(0);
  bytes.resize(static_cast<size_t>(size));
  in.read(reinterpret_cast<char*>(bytes.data()), size);
  if (in.gcount() != size) {
    why = "cannot read: the file shrank while it was read";
    return false;
  }
  return true;
}

}  // namespace vpipe
