// The fetcher's pure helpers (fetch_support.h) and the public ones of fetcher.h that need no
// transfer: file names, the address deny-list, reasons.

#include "vpipe/crawl/fetch_support.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <xxhash.h>

#include <cstring>
#include <memory>

#include <fmt/format.h>

#include "vpipe/core/text.h"

namespace vpipe {
namespace fetch_detail {

std::string_view extension_for(ImageFormat f) {
  switch (f) {
    case ImageFormat::kJpeg: return "jpg";
    case ImageFormat::kTiff: return "tif";
    case ImageFormat::kHeif: return "heic";
    default: return format_name(f);
  }
}

std::string url_hash_hex(std::string_view url) {
  const XXH128_hash_t h = XXH3_128bits(url.data(), url.size());
  return fmt::format("{:016x}{:016x}", h.high64, h.low64);
}

bool denied_v4(uint32_t a) {  // host byte order
  const auto in = [a](uint32_t net, int bits) {
    const uint32_t mask = bits == 0 ? 0 : ~uint32_t{0} << (32 - bits);
    return (a & mask) == (net & mask);
  };
  return in(0x00000000, 8) ||   // 0.0.0.0/8 "this network"
         in(0x0A000000, 8) ||   // 10/8
         in(0x64400000, 10) ||  // 100.64/10 CGNAT
         in(0x7F000000, 8) ||   // loopback
         in(0xA9FE0000, 16) ||  // link-local (cloud metadata lives here)
         in(0xAC100000, 12) ||  // 172.16/12
         in(0xC0000000, 24) ||  // 192.0.0/24 IETF protocol assignments
         in(0xC0A80000, 16) ||  // 192.168/16
         in(0xC6120000, 15) ||  // 198.18/15 benchmarking
         in(0xE0000000, 3);     // multicast, reserved, broadcast (224/4, 240/4)
}

bool denied_v6(const uint8_t* b) {
  static constexpr uint8_t kZero[16] = {};
  if (std::memcmp(b, kZero, 15) == 0 && (b[15] == 0 || b[15] == 1)) return true;  // ::, ::1
  // ::ffff:a.b.c.d (mapped) and 64:ff9b::a.b.c.d (NAT64) carry an IPv4 address
  static constexpr uint8_t kMapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  static constexpr uint8_t kNat64[12] = {0, 0x64, 0xff, 0x9b, 0, 0, 0, 0, 0, 0, 0, 0};
  if (std::memcmp(b, kMapped, 12) == 0 || std::memcmp(b, kNat64, 12) == 0) {
    return denied_v4(uint32_t{b[12]} << 24 | uint32_t{b[13]} << 16 | uint32_t{b[14]} << 8 | b[15]);
  }
  if ((b[0] & 0xFE) == 0xFC) return true;                  // fc00::/7 unique local
  if (b[0] == 0xFE && (b[1] & 0xC0) == 0x80) return true;  // fe80::/10 link-local
  if (b[0] == 0xFE && (b[1] & 0xC0) == 0xC0) return true;  // fec0::/10 site-local (deprecated)
  if (b[0] == 0xFF) return true;                           // multicast
  return false;
}

UrlParts split_url(CURLU* parser, const std::string& url) {
  UrlParts out;
  auto part = [&](CURLUPart p, unsigned flags) {
    char* s = nullptr;
    std::string text;
    if (curl_url_get(parser, p, &s, flags) == CURLUE_OK && s != nullptr) text = s;
    curl_free(s);
    return text;
  };
  // Cleared first: a relative string would otherwise resolve against the URL parsed before.
  curl_url_set(parser, CURLUPART_URL, nullptr, 0);
  if (curl_url_set(parser, CURLUPART_URL, url.c_str(), CURLU_NON_SUPPORT_SCHEME) != CURLUE_OK) {
    out.failure =
        url.find("://") != std::string::npos ? FetchFailure::kBadUrl : FetchFailure::kBadScheme;
    return out;
  }
  const std::string scheme = ascii_lower(part(CURLUPART_SCHEME, 0));
  out.host = ascii_lower(part(CURLUPART_HOST, 0));  // kept for a bad scheme too (url_host)
  if (scheme != "http" && scheme != "https") {
    out.failure = FetchFailure::kBadScheme;
    return out;
  }
  if (out.host.empty()) {
    out.failure = FetchFailure::kBadUrl;
    return out;
  }
  out.origin =
      fmt::format("{}://{}:{}", scheme, out.host, part(CURLUPART_PORT, CURLU_DEFAULT_PORT));
  out.robots_path = part(CURLUPART_PATH, 0);
  if (const std::string q = part(CURLUPART_QUERY, 0); !q.empty()) out.robots_path += "?" + q;
  return out;
}

FetchFailure curl_failure(CURLcode rc, bool denied, bool too_large, bool not_image,
                          bool& retryable) {
  retryable = false;
  switch (rc) {
    case CURLE_OPERATION_TIMEDOUT: retryable = true; return FetchFailure::kTimeout;
    case CURLE_COULDNT_RESOLVE_HOST: return FetchFailure::kDnsFailed;
    case CURLE_COULDNT_CONNECT:
      return denied ? FetchFailure::kDeniedAddress : FetchFailure::kConnectFailed;
    case CURLE_UNSUPPORTED_PROTOCOL: return FetchFailure::kBadScheme;
    case CURLE_TOO_MANY_REDIRECTS: return FetchFailure::kTooManyRedirects;
    case CURLE_FILESIZE_EXCEEDED: return FetchFailure::kTooLarge;
    case CURLE_URL_MALFORMAT: return FetchFailure::kBadUrl;
    case CURLE_WRITE_ERROR:
      if (too_large) return FetchFailure::kTooLarge;
      if (not_image) return FetchFailure::kNotImage;
      return FetchFailure::kWriteFailed;
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CIPHER:
    case CURLE_SSL_CACERT_BADFILE:
      return FetchFailure::kTlsFailed;
    case CURLE_GOT_NOTHING:
    case CURLE_RECV_ERROR:
    case CURLE_SEND_ERROR:
    case CURLE_PARTIAL_FILE:
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM:
      retryable = true;
      return FetchFailure::kNetworkError;
    default: return FetchFailure::kNetworkError;
  }
}

}  // namespace fetch_detail

using fetch_detail::denied_v4;
using fetch_detail::denied_v6;
using fetch_detail::url_hash_hex;

std::string http_reason(int status) { return failure_reason(FetchFailure::kHttpStatus, status); }

std::filesystem::path image_path_for(const std::filesystem::path& out_dir, std::string_view url,
                                     std::string_view ext) {
  const std::string hex = url_hash_hex(url);
  return out_dir / hex.substr(0, 2) / fmt::format("{}.{}", hex, ext);
}

bool is_denied_address(std::string_view ip) {
  const std::string s(ip);
  in_addr v4{};
  if (inet_pton(AF_INET, s.c_str(), &v4) == 1) return denied_v4(ntohl(v4.s_addr));
  in6_addr v6{};
  if (inet_pton(AF_INET6, s.c_str(), &v6) == 1) return denied_v6(v6.s6_addr);
  return true;  // not an address we understand: refuse
}

std::string url_host(std::string_view url) {
  // One parser per thread, reused: the crawl asks for every URL's host twice (listing and result).
  thread_local const std::unique_ptr<CURLU, decltype(&curl_url_cleanup)> parser(curl_url(),
                                                                                curl_url_cleanup);
  if (!parser) return {};
  return fetch_detail::split_url(parser.get(), std::string(url)).host;
}

}  // namespace vpipe
