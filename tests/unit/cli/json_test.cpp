#include "vpipe/cli/json.h"

#include <gtest/gtest.h>

namespace {

TEST(JsonString, QuotesAndEscapesWhatJsonRequires) {
  EXPECT_EQ(vpipe::cli::json_string("plain"), "\"plain\"");
  EXPECT_EQ(vpipe::cli::json_string("a\"b\\c"), "\"a\\\"b\\\\c\"");
  EXPECT_EQ(vpipe::cli::json_string("line\nbreak"), "\"line\\u000abreak\"");
}

TEST(JsonString, NonUtf8BytesBecomeEscapesSoTheOutputStaysAscii) {
  const std::string out = vpipe::cli::json_string("\xff\xfe.jpg");
  EXPECT_EQ(out, "\"\\u00ff\\u00fe.jpg\"");
  for (char c : out) EXPECT_LT(static_cast<unsigned char>(c), 0x80);
}

}  // namespace
