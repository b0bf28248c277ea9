#pragma once

// A strict JSON (RFC 8259) syntax check for tests of what vpipe prints: one value, nothing after
// it but whitespace. Says where the first error is; does not build a tree.

#include <cctype>
#include <cstddef>
#include <string>
#include <string_view>

namespace vpipe::testing {

class JsonChecker {
 public:
  explicit JsonChecker(std::string_view text) : text_(text) {}

  /// True when the whole text is one JSON value; else false, with `error` saying where.
  bool check() {
    skip_space();
    if (!value(0)) return false;
    skip_space();
    return at_ == text_.size() || fail("text after the value");
  }
  [[nodiscard]] const std::string& error() const { return error_; }

 private:
  bool fail(const char* what) {
    if (error_.empty()) error_ = std::string(what) + " at byte " + std::to_string(at_);
    return false;
  }
  [[nodiscard]] bool more() const { return at_ < text_.size(); }
  [[nodiscard]] char peek() const { return more() ? text_[at_] : '\0'; }
  void skip_space() {
    while (more() && (peek() == ' ' || peek() == '\t' || peek() == '\n' || peek() == '\r')) ++at_;
  }
  bool literal(std::string_view word) {
    if (text_.substr(at_, word.size()) != word) return fail("bad literal");
    at_ += word.size();
    return true;
  }
  bool value(int depth) {
    if (depth > 64) return fail("nested too deep");
    switch (peek()) {
      case '{':
        return object(depth);
      case '[':
        return array(depth);
      case '"':
        return string();
      case 't':
        return literal("true");
      case 'f':
        return literal("false");
      case 'n':
        return literal("null");
      default:
        return number();
    }
  }
  /// The members of an object or the items of an array, after its opening bracket: `item`
  /// reads one, then a ',' or the closing `close` follows.
  template <typename Item>
  bool members(char close, Item&& item) {
    ++at_;  // the opening bracket
    skip_space();
    if (peek() == close) return ++at_, true;
    for (;;) {
      skip_space();
      if (!item()) return false;
      skip_space();
      if (peek() == ',') {
        ++at_;
        continue;
      }
      if (peek() == close) return ++at_, true;
      return fail(close == '}' ? "expected ',' or '}'" : "expected ',' or ']'");
    }
  }
  bool object(int depth) {
    return members('}', [&] {
      if (peek() != '"' || !string()) return fail("expected a key");
      skip_space();
      if (peek() != ':') return fail("expected ':'");
      ++at_;
      skip_space();
      return value(depth + 1);
    });
  }
  bool array(int depth) {
    return members(']', [&] { return value(depth + 1); });
  }
  bool string() {
    ++at_;  // "
    while (more()) {
      const auto c = static_cast<unsigned char>(text_[at_++]);
      if (c == '"') return true;
      if (c < 0x20) return fail("control character in a string");
      if (c != '\\') continue;
      if (!more()) break;
      const char e = text_[at_++];
      if (e == 'u') {
        for (int k = 0; k < 4; ++k, ++at_) {
          if (!more() || std::isxdigit(static_cast<unsigned char>(peek())) == 0) {
            return fail("bad \\u escape");
          }
        }
      } else if (std::string_view("\"\\/bfnrt").find(e) == std::string_view::npos) {
        return fail("bad escape");
      }
    }
    return fail("unterminated string");
  }
  bool digits() {
    const size_t start = at_;
    while (more() && std::isdigit(static_cast<unsigned char>(peek())) != 0) ++at_;
    return at_ > start;
  }
  bool number() {
    if (peek() == '-') ++at_;
    if (peek() == '0') {
      ++at_;
    } else if (!digits()) {
      return fail("expected a value");
    }
    if (peek() == '.') {
      ++at_;
      if (!digits()) return fail("expected digits after '.'");
    }
    if (peek() == 'e' || peek() == 'E') {
      ++at_;
      if (peek() == '+' || peek() == '-') ++at_;
      if (!digits()) return fail("expected an exponent");
    }
    return true;
  }

  std::string_view text_;
  size_t at_ = 0;
  std::string error_;
};

/// "" when `text` is one JSON value, else where it is not.
inline std::string json_error(std::string_view text) {
  JsonChecker checker(text);
  return checker.check() ? std::string() : checker.error();
}

}  // namespace vpipe::testing
