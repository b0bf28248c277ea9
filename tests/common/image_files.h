#pragma once

// Image files for tests: raw bytes, decoded images, and the photos scripts/fetch-models.sh
// fetches into test-photos/. Needs vpipe_codec (the decoder).

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <utility>
#include <vector>

#include "vpipe/core/image.h"
#include "vpipe/core/image_ops.h"
#include "vpipe/io/decode.h"

namespace vpipe::testing {

/// The whole file (empty when it cannot be read).
inline std::vector<uint8_t> read_bytes(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

/// The file decoded with default options, whatever the status (empty when it did not decode).
inline Image decode_file(const std::filesystem::path& path) {
  Decoder decoder;
  DecodeResult r = decoder.decode(read_bytes(path), DecodeOptions{});
  return composite_over(std::move(r.image), r.alpha);
}

/// A photo fetched by scripts/fetch-models.sh (from Debian's python3-skimage), decoded; empty
/// when it is missing or does not decode.
inline Image test_photo(const std::string& name) {
  const std::filesystem::path path = std::filesystem::path(VPIPE_SOURCE_DIR) / "test-photos" / name;
  std::ifstream in(path, std::ios::binary);
  if (!in) return {};
  const std::vector<uint8_t> bytes((std::istreambuf_iterator<char>(in)), {});
  Decoder decoder;
  DecodeResult r = decoder.decode(bytes, {});
  return r.status == ItemStatus::kOk ? composite_over(std::move(r.image), r.alpha) : Image{};
}

}  // namespace vpipe::testing
