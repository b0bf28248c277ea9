#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace vpipe {

/// Why a URL was not fetched: one value per stable reason of docs/CRAWL.md. The fetcher decides
/// on these, the crawl pass stores their names (failure_reason) in the manifest's `urls` table
/// and its rerun policy (retryable_on_rerun) reads them back (parse_failure_reason).
enum class FetchFailure : uint8_t {
  kNone,               ///< fetched
  kBadUrl,             ///< not a URL curl can parse
  kBadScheme,          ///< not http or https
  kRobotsDisallowed,   ///< robots.txt disallows it (or a hop of its redirects)
  kDeniedAddress,      ///< resolves to a private/local address (deny_private_addresses)
  kDnsFailed,          ///< the host name does not resolve
  kConnectFailed,      ///< no connection
  kTimeout,            ///< over the transfer's time limit
  kTlsFailed,          ///< TLS handshake or certificate
  kTooManyRedirects,   ///< over max_redirects
  kTooLarge,           ///< body over max_body_bytes
  kNotImage,           ///< the body's first bytes are no image format vpipe reads
  kHttpStatus,         ///< answered with a status that is not 2xx/3xx: "http_<status>"
  kNetworkError,       ///< the connection broke, HTTP/2 errors, anything else curl reports
  kWriteFailed,        ///< the image could not be written under the output folder
  kRobotsUnavailable,  ///< robots.txt answered 429/5xx (after its retries)
  kCancelled,          ///< the crawl was stopped before the URL ended
};

/// The stable name of a failure ("timeout", "robots_disallowed"...); kHttpStatus gives
/// "http_<status>" (http_status 100..999), kNone "".
[[nodiscard]] std::string failure_reason(FetchFailure failure, int http_status = 0);

/// A stored reason read back: the failure and, for "http_<3 digits>", its status. nullopt for
/// a name that is no reason (an older manifest's, or a typo).
struct ParsedFailure {
  FetchFailure failure = FetchFailure::kNone;
  int http_status = 0;
};
[[nodiscard]] std::optional<ParsedFailure> parse_failure_reason(std::string_view reason);

/// Whether a rerun with retry_failed should fetch a URL that failed so again: what may go
/// differently later (timeouts, network and TLS errors, DNS, robots.txt unavailable, a failed
/// write, 429 and 5xx), not what the URL or the server's policy decided (4xx, not_image,
/// too_large, robots_disallowed, a bad URL).
[[nodiscard]] bool retryable_on_rerun(FetchFailure failure, int http_status = 0);

}  // namespace vpipe
