#include "vpipe/core/json.h"

#include <gtest/gtest.h>

#include <string>

namespace vpipe {
namespace {

TEST(JsonQuote, EscapesQuotesBackslashesAndControlCharacters) {
  EXPECT_EQ(json_quote("a\"b\\c"), R"("a\"b\\c")");
  // A NUL inside the text is kept as an escape, not a terminator.
  EXPECT_EQ(json_quote(std::string("line\nbreak\ttab\x01\0z", 17)),
            R"("line\u000abreak\u0009tab\u0001\u0000z")");
  EXPECT_EQ(json_quote(""), "\"\"");
}

TEST(JsonQuote, KeepsValidUtf8AsItIs) {
  // 2-, 3- and 4-byte sequences: é, €, and U+1F600.
  const std::string text = "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80";
  EXPECT_EQ(json_quote(text), "\"" + text + "\"");
}

TEST(JsonQuote, InvalidBytesBecomeSurrogateEscapes) {
  // A lone continuation byte, a truncated sequence, an overlong encoding of '/', and a UTF-16
  // surrogate encoded in UTF-8 are all invalid: each byte is escaped as \udcXX, so the exact
  // bytes can be recovered (Python: os.fsencode(json.loads(s))).
  EXPECT_EQ(json_quote("a\x80z"), R"("a\udc80z")");
  EXPECT_EQ(json_quote("\xe2\x82"), R"("\udce2\udc82")");
  EXPECT_EQ(json_quote("\xc0\xaf"), R"("\udcc0\udcaf")");
  EXPECT_EQ(json_quote("\xed\xa0\x80"), R"("\udced\udca0\udc80")");
  EXPECT_EQ(json_quote("\xff.jpg"), R"("\udcff.jpg")");
}

}  // namespace
}  // namespace vpipe
