#include "vpipe/crawl/url_list.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fstream>

#include "temp_dir.h"

namespace vpipe {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Pair;

std::string error_of(std::string_view text, std::string_view name, UrlListOptions o = {}) {
  try {
    (void)parse_url_list(text, name, o);
  } catch (const UrlListError& e) {
    return e.what();
  }
  return "no error";
}

TEST(UrlList, PlainSkipsCommentsAndBlankLinesAndKeepsLineNumbers) {
  const auto r = parse_url_list("# a list\n\nhttp://a/1.jpg\n  https://b/2.png  \r\n#x\nhttp://c/3\n",
                                "urls.txt");
  ASSERT_EQ(r.size(), 3u);
  EXPECT_EQ(r[0].url, "http://a/1.jpg");
  EXPECT_EQ(r[0].line, 3u);
  EXPECT_EQ(r[1].url, "https://b/2.png");
  EXPECT_EQ(r[1].line, 4u);
  EXPECT_EQ(r[2].line, 6u);
  EXPECT_TRUE(r[2].extras.empty());
}

TEST(UrlList, DuplicatesAreFlaggedWithTheirFirstIndex) {
  const auto r = parse_url_list("http://a/1\nhttp://b/2\nhttp://a/1\n", "x.txt");
  ASSERT_EQ(r.size(), 3u);
  EXPECT_FALSE(r[0].duplicate);
  EXPECT_FALSE(r[1].duplicate);
  EXPECT_TRUE(r[2].duplicate);
  EXPECT_EQ(r[2].first_index, 0u);
  EXPECT_EQ(r[1].first_index, 1u);
}

TEST(UrlList, CsvQuotingAndExtrasInColumnOrder) {
  const std::string csv =
      "caption,URL,license\r\n"
      "\"a cat, sitting\",http://h/1.jpg,cc-by\r\n"
      "\"she said \"\"hi\"\"\nover two lines\",http://h/2.jpg,\r\n"
      "\n"
      "plain,http://h/3.jpg,cc0\n";
  const auto r = parse_url_list(csv, "meta.csv");
  ASSERT_EQ(r.size(), 3u);
  EXPECT_EQ(r[0].url, "http://h/1.jpg");
  EXPECT_THAT(r[0].extras, ElementsAre(Pair("caption", "a cat, sitting"), Pair("license", "cc-by")));
  EXPECT_EQ(r[0].line, 2u);
  EXPECT_THAT(r[1].extras,
              ElementsAre(Pair("caption", "she said \"hi\"\nover two lines"), Pair("license", "")));
  EXPECT_EQ(r[1].line, 3u);
  EXPECT_EQ(r[2].line, 6u);  // the quoted newline and the blank line are counted
}

TEST(UrlList, TsvWithoutHeaderTakesTheColumnByNumber) {
  UrlListOptions o;
  o.header = false;
  o.url_field = "2";
  const auto r = parse_url_list("a dog\thttp://h/d.jpg\nsky\thttp://h/s.jpg\n", "cc3m.tsv", o);
  ASSERT_EQ(r.size(), 2u);
  EXPECT_EQ(r[1].url, "http://h/s.jpg");
  EXPECT_THAT(r[0].extras, ElementsAre(Pair("1", "a dog")));
}

TEST(UrlList, JsonlKeepsStringAndNumberFields) {
  const std::string jsonl =
      R"({"url": "http://h/1.jpg", "caption": "caf\u00e9 \"x\"", "width": 640, "nsfw": false, "tags": ["a", {"b": 1}], "score": -1.5e3})"
      "\n\n"
      R"({"caption":"two","url":"http://h/2.jpg"})"
      "\n";
  const auto r = parse_url_list(jsonl, "laion.jsonl");
  ASSERT_EQ(r.size(), 2u);
  EXPECT_EQ(r[0].url, "http://h/1.jpg");
  EXPECT_THAT(r[0].extras, ElementsAre(Pair("caption", "caf\xC3\xA9 \"x\""), Pair("width", "640"),
                                       Pair("score", "-1.5e3")));
  EXPECT_EQ(r[1].line, 3u);
  EXPECT_THAT(r[1].extras, ElementsAre(Pair("caption", "two")));
}

TEST(UrlList, ErrorsNameTheFileAndLine) {
  EXPECT_THAT(error_of("url,caption\nhttp://a,\"open\n", "bad.csv"),
              HasSubstr("bad.csv:2: unterminated quoted field"));
  EXPECT_THAT(error_of("link,caption\nhttp://a,x\n", "nocol.csv"),
              HasSubstr("nocol.csv:1: no column named 'url'"));
  EXPECT_THAT(error_of("url,c\nhttp://a,x\nhttp://b,x,extra\n", "wide.csv"),
              HasSubstr("wide.csv:3: 3 fields, the header has 2"));
  EXPECT_THAT(error_of("url\tc\n\tx\n", "empty.tsv"), HasSubstr("empty.tsv:2: empty URL"));
  EXPECT_THAT(error_of("{\"url\":\"http://a\"}\n{\"url\": \"http://b\",}\n", "bad.jsonl"),
              HasSubstr("bad.jsonl:2: invalid JSON"));
  EXPECT_THAT(error_of("{\"url\":\"http://a\"}\n\n{\"link\":\"http://b\"}\n", "field.jsonl"),
              HasSubstr("field.jsonl:3: no string field 'url'"));
  EXPECT_THAT(error_of("{\"url\":\"http://a\"} x\n", "tail.jsonl"), HasSubstr("tail.jsonl:1:"));
}

TEST(UrlList, ReadsFilesAndPicksTheFormatFromTheExtension) {
  testing::TempDir dir("vpipe-urllist-");
  const auto path = dir.path() / "list.tsv";
  std::ofstream(path) << "url\tlicense\nhttp://h/1.jpg\tcc0\n";
  const auto r = read_url_list(path);
  ASSERT_EQ(r.size(), 1u);
  EXPECT_THAT(r[0].extras, ElementsAre(Pair("license", "cc0")));
  EXPECT_EQ(url_list_format_for("X.JSONL"), UrlListFormat::kJsonl);
  EXPECT_EQ(url_list_format_for("a.txt"), UrlListFormat::kPlain);
  EXPECT_THROW((void)read_url_list(dir.path() / "missing.txt"), IoError);
}

}  // namespace
TEST(RequestUrl, EncodesWhatABrowserEncodesAndKeepsTheRest) {
  EXPECT_EQ(request_url("https://example.com/a/b.jpg?x=1&y=2"), "https://example.com/a/b.jpg?x=1&y=2");
  EXPECT_EQ(request_url("http://h/my photo.jpg"), "http://h/my%20photo.jpg");
  EXPECT_EQ(request_url("http://h/q?name=a b"), "http://h/q?name=a%20b");
  EXPECT_EQ(request_url("http://h/caf\xc3\xa9.jpg"), "http://h/caf%C3%A9.jpg");
  EXPECT_EQ(request_url("http://h/<a>\"b\"{c}|d^e`f\\g"), "http://h/%3Ca%3E%22b%22%7Bc%7D%7Cd%5Ee%60f%5Cg");
  EXPECT_EQ(request_url("http://h/already%20encoded%2F.jpg"), "http://h/already%20encoded%2F.jpg");
  EXPECT_EQ(request_url("http://h/a.jpg#part"), "http://h/a.jpg");  // never sent
  EXPECT_EQ(request_url("http://h/a\tb\nc.jpg"), "http://h/abc.jpg");
  EXPECT_EQ(request_url("http://h/x\x7f\x01.jpg"), "http://h/x%7F%01.jpg");
  // The host is left as written: the fetcher judges it.
  EXPECT_EQ(request_url("http://bad host/a b"), "http://bad host/a%20b");
  EXPECT_EQ(request_url("http://h"), "http://h");
  EXPECT_EQ(request_url("not a url"), "not a url");
}

}  // namespace vpipe
