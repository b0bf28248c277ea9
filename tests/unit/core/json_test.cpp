#include "vpipe/core/json.h"

#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <string>

#include "json_check.h"
#include "vpipe/core/run_report.h"

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

TEST(JsonObject, WritesMembersInOrderWithEveryKindOfValue) {
  JsonObject inner;
  inner.add("n", 1);
  JsonObject o;
  o.add("text", "a\"b").add("int", int64_t{-3}).add("big", uint64_t{18446744073709551615U});
  o.add("real", 0.25)
      .add("yes", true)
      .add("counts", std::map<std::string, int64_t>{{"b", 2}, {"a", 1}});
  o.add("inner", inner).add_raw("list", "[1,2]");
  EXPECT_EQ(o.str(), R"({"text":"a\"b","int":-3,"big":18446744073709551615,"real":0.25,"yes":true,)"
                     R"("counts":{"a":1,"b":2},"inner":{"n":1},"list":[1,2]})");
  EXPECT_EQ(testing::json_error(o.str()), "");
  EXPECT_EQ(JsonObject().str(), "{}");
  EXPECT_EQ(JsonObject().add("empty", std::map<std::string, int64_t>{}).str(), R"({"empty":{}})");
}

TEST(JsonObject, NumbersStayJsonWhateverTheirValue) {
  JsonObject o;
  o.add("nan", std::nan("")).add("inf", HUGE_VAL).add("tiny", 1e-300).add("huge", 1e300);
  o.add("third", 1.0 / 3);
  const std::string text = o.str();
  EXPECT_EQ(testing::json_error(text), "") << text;
  EXPECT_NE(text.find(R"("nan":null,"inf":null)"), std::string::npos) << text;
  EXPECT_NE(text.find("0.3333333333333333"), std::string::npos) << "round-trip digits: " << text;
}

TEST(JsonCheck, RefusesWhatIsNotJson) {
  // The checker the --json tests rely on must catch broken output.
  for (const char* bad : {"", "{", R"({"a":})", R"({"a":1,})", "[1 2]", R"({a:1})", "01", "1.",
                          "tru", R"("open)", "{}{}", R"({"a":"\x"})"}) {
    EXPECT_NE(testing::json_error(bad), "") << bad;
  }
  for (const char* good : {"{}", "[]", "0", "-1.5e+3", R"({"a":[true,false,null,"\u00e9"]})"}) {
    EXPECT_EQ(testing::json_error(good), "") << good;
  }
}

TEST(RunReportJson, StagesWithTheirFiguresAndTheBottleneck) {
  RunReport report;
  report.wall_ns = 2'000'000'000;
  StageMetrics read;
  read.name = "read";
  read.items_in = read.items_out = 10;
  read.busy_ns = 500'000'000;
  StageMetrics infer = read;
  infer.name = "infer \"gpu\"";
  infer.device = "cuda:0";
  infer.busy_ns = 1'500'000'000;
  report.stages = {read, infer};
  report.bottleneck = 1;
  const std::string text = report.json();
  EXPECT_EQ(testing::json_error(text), "") << text;
  EXPECT_NE(text.find(R"("wall_seconds":2,"stopped":false,"bottleneck":"infer \"gpu\"")"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find(R"({"name":"read","workers":1,"device":null,"items_in":10,"items_out":10,)"
                      R"("busy_seconds":0.5)"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find(R"("device":"cuda:0")"), std::string::npos) << text;
  EXPECT_NE(text.find(R"("utilization":0.75)"), std::string::npos) << text;
  EXPECT_NE(RunReport().json().find(R"("bottleneck":null,"stages":[])"), std::string::npos);
}

}  // namespace
}  // namespace vpipe
