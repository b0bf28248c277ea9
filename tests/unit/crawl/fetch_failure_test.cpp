// The crawl's failure reasons (crawl/fetch_failure.h): every value has one stable name that reads
// back to it, and the rerun policy retries what may pass later and nothing the server decided.

#include "vpipe/crawl/fetch_failure.h"

#include <gtest/gtest.h>

#include <set>
#include <string>

namespace vpipe {
namespace {

constexpr FetchFailure kAll[] = {
    FetchFailure::kBadUrl,         FetchFailure::kBadScheme,     FetchFailure::kRobotsDisallowed,
    FetchFailure::kDeniedAddress,  FetchFailure::kDnsFailed,     FetchFailure::kConnectFailed,
    FetchFailure::kTimeout,        FetchFailure::kTlsFailed,     FetchFailure::kTooManyRedirects,
    FetchFailure::kTooLarge,       FetchFailure::kNotImage,      FetchFailure::kHttpStatus,
    FetchFailure::kNetworkError,   FetchFailure::kWriteFailed,   FetchFailure::kRobotsUnavailable,
    FetchFailure::kCancelled};

TEST(FetchFailure, EveryValueHasItsOwnNameThatReadsBackToIt) {
  std::set<std::string> names;
  for (const FetchFailure f : kAll) {
    const std::string name = failure_reason(f, 503);
    ASSERT_FALSE(name.empty());
    EXPECT_TRUE(names.insert(name).second) << name << " is used twice";
    const auto parsed = parse_failure_reason(name);
    ASSERT_TRUE(parsed.has_value()) << name;
    EXPECT_EQ(parsed->failure, f) << name;
  }
  EXPECT_EQ(failure_reason(FetchFailure::kNone), "");
  EXPECT_EQ(failure_reason(FetchFailure::kHttpStatus, 404), "http_404");
  EXPECT_EQ(failure_reason(FetchFailure::kRobotsDisallowed), "robots_disallowed");
  EXPECT_EQ(parse_failure_reason("http_429")->http_status, 429);
}

TEST(FetchFailure, NamesThatAreNoReasonDoNotParse) {
  for (const char* s : {"", "http", "http_", "http_5xx", "http_42", "http_4290", "Timeout",
                        "timeout ", "none"}) {
    EXPECT_FALSE(parse_failure_reason(s).has_value()) << s;
  }
}

TEST(FetchFailure, ARerunRetriesWhatMayPassLaterAndNothingTheServerDecided) {
  for (const FetchFailure f :
       {FetchFailure::kTimeout, FetchFailure::kConnectFailed, FetchFailure::kDnsFailed,
        FetchFailure::kNetworkError, FetchFailure::kTlsFailed, FetchFailure::kRobotsUnavailable,
        FetchFailure::kWriteFailed}) {
    EXPECT_TRUE(retryable_on_rerun(f)) << failure_reason(f);
  }
  for (const FetchFailure f :
       {FetchFailure::kBadUrl, FetchFailure::kBadScheme, FetchFailure::kRobotsDisallowed,
        FetchFailure::kDeniedAddress, FetchFailure::kTooManyRedirects, FetchFailure::kTooLarge,
        FetchFailure::kNotImage, FetchFailure::kCancelled, FetchFailure::kNone}) {
    EXPECT_FALSE(retryable_on_rerun(f)) << failure_reason(f);
  }
  EXPECT_TRUE(retryable_on_rerun(FetchFailure::kHttpStatus, 429));
  EXPECT_TRUE(retryable_on_rerun(FetchFailure::kHttpStatus, 500));
  EXPECT_TRUE(retryable_on_rerun(FetchFailure::kHttpStatus, 503));
  EXPECT_FALSE(retryable_on_rerun(FetchFailure::kHttpStatus, 404));
  EXPECT_FALSE(retryable_on_rerun(FetchFailure::kHttpStatus, 410));
}

}  // namespace
}  // namespace vpipe
