#pragma once

#include <string>
#include <string_view>

namespace vpipe::cli {

/// `text` as a JSON string literal, quotes included. Bytes that are not printable ASCII are written
/// as \u00XX escapes, so any path (non-UTF-8 included) gives valid JSON.
[[nodiscard]] std::string json_string(std::string_view text);

}  // namespace vpipe::cli
