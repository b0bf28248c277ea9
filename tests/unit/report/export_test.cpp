#include "vpipe/report/export.h"

#include <gtest/gtest.h>

#include <string>

namespace vpipe {
namespace {

TEST(CsvField, QuotesOnlyWhenNeededAndDoublesQuotes) {
  EXPECT_EQ(csv_field("plain.jpg"), "plain.jpg");
  EXPECT_EQ(csv_field("a,b.jpg"), "\"a,b.jpg\"");
  EXPECT_EQ(csv_field("say \"cheese\".jpg"), "\"say \"\"cheese\"\".jpg\"");
  EXPECT_EQ(csv_field("two\nlines.jpg"), "\"two\nlines.jpg\"");
  EXPECT_EQ(csv_field("\r"), "\"\r\"");
}

TEST(ExportFormat, ParsesTheThreeNames) {
  ExportFormat f = ExportFormat::kCsv;
  EXPECT_TRUE(parse_export_format("jsonl", f));
  EXPECT_EQ(f, ExportFormat::kJsonl);
  EXPECT_TRUE(parse_export_format("keepers", f));
  EXPECT_EQ(f, ExportFormat::kKeepers);
  EXPECT_FALSE(parse_export_format("xml", f));
}

}  // namespace
}  // namespace vpipe
