#include "vpipe/crawl/fetch_failure.h"

#include <array>
#include <utility>

#include <fmt/format.h>

namespace vpipe {

namespace {

constexpr std::array<std::pair<FetchFailure, std::string_view>, 16> kNames{{
    {FetchFailure::kBadUrl, "bad_url"},
    {FetchFailure::kBadScheme, "bad_scheme"},
    {FetchFailure::kRobotsDisallowed, "robots_disallowed"},
    {FetchFailure::kDeniedAddress, "denied_address"},
    {FetchFailure::kDnsFailed, "dns_failed"},
    {FetchFailure::kConnectFailed, "connect_failed"},
    {FetchFailure::kTimeout, "timeout"},
    {FetchFailure::kTlsFailed, "tls_failed"},
    {FetchFailure::kTooManyRedirects, "too_many_redirects"},
    {FetchFailure::kTooLarge, "too_large"},
    {FetchFailure::kNotImage, "not_image"},
    {FetchFailure::kHttpStatus, "http"},
    {FetchFailure::kNetworkError, "network_error"},
    {FetchFailure::kWriteFailed, "write_failed"},
    {FetchFailure::kRobotsUnavailable, "robots_unavailable"},
    {FetchFailure::kCancelled, "cancelled"},
}};

}  // namespace

std::string failure_reason(FetchFailure failure, int http_status) {
  if (failure == FetchFailure::kNone) return {};
  if (failure == FetchFailure::kHttpStatus) return fmt::format("http_{}", http_status);
  for (const auto& [f, name] : kNames) {
    if (f == failure) return std::string(name);
  }
  return "network_error";  // unreachable: every value is named above
}

std::optional<ParsedFailure> parse_failure_reason(std::string_view reason) {
  if (reason.size() == 8 && reason.starts_with("http_")) {
    int status = 0;
    for (const char c : reason.substr(5)) {
      if (c < '0' || c > '9') return std::nullopt;
      status = status * 10 + (c - '0');
    }
    if (status < 100) return std::nullopt;
    return ParsedFailure{FetchFailure::kHttpStatus, status};
  }
  for (const auto& [f, name] : kNames) {
    if (f != FetchFailure::kHttpStatus && name == reason) return ParsedFailure{f, 0};
  }
  return std::nullopt;
}

bool retryable_on_rerun(FetchFailure failure, int http_status) {
  switch (failure) {
    case FetchFailure::kTimeout:
    case FetchFailure::kConnectFailed:
    case FetchFailure::kDnsFailed:
    case FetchFailure::kNetworkError:
    case FetchFailure::kTlsFailed:
    case FetchFailure::kRobotsUnavailable:
    case FetchFailure::kWriteFailed:
      return true;
    case FetchFailure::kHttpStatus:
      return http_status == 429 || (http_status >= 500 && http_status <= 599);
    default:
      return false;
  }
}

}  // namespace vpipe
