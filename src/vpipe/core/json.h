#pragma once

#include <string>
#include <string_view>

namespace vpipe {

/// `text` as a JSON string literal, quotes included (RFC 8259), for every JSON vpipe writes
/// (exports, the runs table's config, traces, `--json` output). Quotes, backslashes and control
/// characters are escaped; valid UTF-8 is kept as it is; a byte that is not part of valid UTF-8
/// becomes the escape \udcXX (XX = the byte), the "surrogateescape" convention, so a path that
/// is not UTF-8 still gives valid JSON and Python's `os.fsencode(json.loads(s))` returns its
/// exact bytes. Thread-safe (pure function).
[[nodiscard]] std::string json_quote(std::string_view text);

}  // namespace vpipe
