#include "vpipe/core/text.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace vpipe {
namespace {

TEST(TerminalSafe, KeepsPrintableTextAndUtf8) {
  EXPECT_EQ(terminal_safe("photos/été 2024/猫.jpg"), "photos/été 2024/猫.jpg");
  EXPECT_EQ(terminal_safe(""), "");
}

TEST(TerminalSafe, EscapesEveryControlCharacter) {
  // An escape sequence that would clear the screen, a title change (OSC ... BEL), a forged log
  // line, DEL, and a C1 CSI (U+009B).
  EXPECT_EQ(terminal_safe("a\x1b[2Jb"), "a\\x1b[2Jb");
  EXPECT_EQ(terminal_safe("\x1b]0;pwned\x07"), "\\x1b]0;pwned\\x07");
  EXPECT_EQ(terminal_safe("x.jpg\n[warning] forged"), "x.jpg\\n[warning] forged");
  EXPECT_EQ(terminal_safe("tab\there\rcr"), "tab\\there\\rcr");
  EXPECT_EQ(terminal_safe("del\x7f"), "del\\x7f");
  EXPECT_EQ(terminal_safe("csi\xc2\x9b" "31m"), "csi\\u009b31m");
  EXPECT_EQ(terminal_safe(std::string("nul\0end", 7)), "nul\\x00end");
  for (int c = 0; c < 0x20; ++c) {
    const std::string out = terminal_safe(std::string(1, static_cast<char>(c)));
    EXPECT_EQ(out.front(), '\\') << c;
  }
}

TEST(TerminalSafe, EscapesBytesThatAreNotUtf8) {
  // A Latin-1 name, a lone 8-bit CSI byte, a truncated sequence.
  EXPECT_EQ(terminal_safe("caf\xe9.jpg"), "caf\\xe9.jpg");
  EXPECT_EQ(terminal_safe("\x9b" "2J"), "\\x9b2J");
  EXPECT_EQ(terminal_safe("\xe7\x8c"), "\\xe7\\x8c");
}

TEST(Utf8SequenceLength, ValidAndMaximalInvalidSubparts) {
  size_t bad = 0;
  EXPECT_EQ(utf8_sequence_length("\xc3\xa9", &bad), 2U);
  EXPECT_EQ(utf8_sequence_length("\xf0\x9f\x98\x80", &bad), 4U);
  EXPECT_EQ(utf8_sequence_length("\xc0\xaf", &bad), 0U);  // overlong
  EXPECT_EQ(bad, 1U);
  EXPECT_EQ(utf8_sequence_length("\xe7\x8c", &bad), 0U);  // truncated after two of three
  EXPECT_EQ(bad, 2U);
}

TEST(EditDistance, CountsEachInsertionDeletionSubstitutionAndNeighbourSwapOnce) {
  EXPECT_EQ(edit_distance("", ""), 0U);
  EXPECT_EQ(edit_distance("scan", "scan"), 0U);
  EXPECT_EQ(edit_distance("", "scan"), 4U);
  EXPECT_EQ(edit_distance("scan", "sca"), 1U);
  EXPECT_EQ(edit_distance("scan", "scab"), 1U);
  EXPECT_EQ(edit_distance("dedpu", "dedup"), 1U);  // swapped neighbours
  EXPECT_EQ(edit_distance("scna", "scan"), 1U);
  EXPECT_EQ(edit_distance("kitten", "sitting"), 3U);
  EXPECT_EQ(edit_distance("ab", "ba"), 1U);
  EXPECT_EQ(edit_distance("abc", "ca"), 3U);  // OSA: no edit of a swapped pair
}

TEST(Closest, SuggestsOnlyANearTypo) {
  const std::vector<std::string_view> commands = {"scan", "dedup", "report", "export", "undo"};
  EXPECT_EQ(closest("dedpu", commands), "dedup");
  EXPECT_EQ(closest("reprot", commands), "report");
  EXPECT_EQ(closest("scan", commands), "scan");
  EXPECT_EQ(closest("bogus", commands), "");
  EXPECT_EQ(closest("x", {}), "");
}

}  // namespace
}  // namespace vpipe
