#include "vpipe/crawl/robots.h"

#include <gtest/gtest.h>

namespace vpipe {
namespace {

constexpr const char* kRobots =
    "# comment\n"
    "User-agent: *\n"
    "Disallow: /private/\n"
    "Allow: /private/ok\n"
    "Disallow: /*.gif$\n"
    "\n"
    "User-agent: BadBot\n"
    "User-agent: vpipe-special\n"
    "Disallow: /\n"
    "Allow: /public\n";

TEST(Robots, StarGroupLongestMatchWins) {
  const RobotsRules r = RobotsRules::parse(kRobots, "vpipe-crawler/0.1 (+x)");
  EXPECT_TRUE(r.allowed("/a.jpg"));
  EXPECT_FALSE(r.allowed("/private/x.jpg"));
  EXPECT_TRUE(r.allowed("/private/ok.jpg"));
  EXPECT_FALSE(r.allowed("/img/a.gif"));
  EXPECT_TRUE(r.allowed("/img/a.gif?x=1"));  // '$' anchors the end
  EXPECT_TRUE(r.allowed("/robots.txt"));
}

TEST(Robots, NamedGroupReplacesTheStarGroup) {
  const RobotsRules r = RobotsRules::parse(kRobots, "VPIPE-SPECIAL/2");
  EXPECT_FALSE(r.allowed("/a.jpg"));
  EXPECT_TRUE(r.allowed("/public/a.jpg"));
  EXPECT_TRUE(r.allowed("/robots.txt"));
}

TEST(Robots, EmptyAndDisallowAll) {
  EXPECT_TRUE(RobotsRules().allowed("/anything"));
  EXPECT_TRUE(RobotsRules::parse("User-agent: *\nDisallow:\n", "x").allowed("/a"));
  EXPECT_FALSE(RobotsRules::disallow_all().allowed("/a"));
  // an Allow of the same length beats a Disallow
  EXPECT_TRUE(RobotsRules::parse("User-agent: *\nDisallow: /a\nAllow: /a\n", "x").allowed("/a"));
}

}  // namespace
}  // namespace vpipe
