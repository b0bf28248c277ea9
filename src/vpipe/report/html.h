#pragma once

#include <string>
#include <string_view>

namespace vpipe {

/// Appends `text` to `out` so that it shows as exactly that text in HTML, both as element content
/// and inside a double- or single-quoted attribute value:
/// - `& < > " '` become `&amp; &lt; &gt; &quot; &#39;`;
/// - invalid UTF-8 (file names are raw bytes) becomes U+FFFD, one per maximal invalid subpart
///   (the WHATWG decoder's rule), so a browser never guesses another encoding;
/// - C0 control characters and DEL become their Unicode Control Pictures (U+2400..U+2421), so a
///   newline or tab in a file name stays visible instead of collapsing into a space.
/// Thread-safe (pure function).
void append_html_escaped(std::string& out, std::string_view text);

/// `append_html_escaped` into a new string.
[[nodiscard]] std::string html_escape(std::string_view text);

}  // namespace vpipe
