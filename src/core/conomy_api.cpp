// Conomy API rules (include/webhook/core/conomy_api.hpp).

#include "webhook/core/conomy_api.hpp"

#include <algorithm>
#include <array>
#include <charconv>

#include "core/json_text.hpp"
#include "core/object_facts.hpp"
#include "core/payload.hpp"

namespace webhook::core {
namespace {

using json_text::Value;
using std::chrono::milliseconds;

constexpr std::size_t kMaxFieldBytes = 200;
constexpr std::int64_t kMaxRetryAfterS = 86400;

// At most kMaxFieldBytes, control characters replaced: safe inside one log line.
std::string clean(std::string_view text) {
  std::string out(text.substr(0, kMaxFieldBytes));
  for (char& c : out) {
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7f) c = '?';
  }
  return out;
}

std::string text(const Value* object, std::string_view name) {
  return text_of(object, name, true).value_or(std::string{});
}

// The object a body describes: the top level, or "data" when the top level has no id.
const Value* main_object(const Value& root) {
  if (!root.is_object()) return nullptr;
  if (root.find("id") == nullptr) {
    if (const Value* data = root.object("data")) return data;
  }
  return &root;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

std::optional<int> digits(std::string_view s, std::size_t count) {
  if (s.size() != count) return std::nullopt;
  int value = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return std::nullopt;
    value = value * 10 + (c - '0');
  }
  return value;
}

// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's days_from_civil algorithm).
std::int64_t days_from_civil(std::int64_t y, unsigned m, unsigned d) {
  y -= m <= 2 ? 1 : 0;
  const std::int64_t era = (y >= 0 ? y : y - 399) / 400;
  const auto yoe = static_cast<unsigned>(y - era * 400);
  const unsigned mp = m > 2 ? m - 3 : m + 9;  // March = 0
  const unsigned doy = (153 * mp + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<std::int64_t>(doe) - 719468;
}

// "Sun, 06 Nov 1994 08:49:37 GMT" (IMF-fixdate) -> epoch ms.
std::optional<std::int64_t> parse_imf_fixdate(std::string_view s) {
  constexpr std::array<std::string_view, 12> kMonths = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                                        "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  // "Www, DD Mon YYYY HH:MM:SS GMT" is 29 bytes.
  if (s.size() != 29 || s.substr(3, 2) != ", " || s[7] != ' ' || s[11] != ' ' || s[16] != ' ' ||
      s[19] != ':' || s[22] != ':' || s.substr(25) != " GMT")
    return std::nullopt;
  const auto day = digits(s.substr(5, 2), 2);
  const auto year = digits(s.substr(12, 4), 4);
  const auto hour = digits(s.substr(17, 2), 2);
  const auto minute = digits(s.substr(20, 2), 2);
  const auto second = digits(s.substr(23, 2), 2);
  const auto month = std::find(kMonths.begin(), kMonths.end(), s.substr(8, 3));
  if (!day || !year || !hour || !minute || !second || month == kMonths.end()) return std::nullopt;
  if (*day < 1 || *day > 31 || *hour > 23 || *minute > 59 || *second > 60) return std::nullopt;
  const auto m = static_cast<unsigned>(month - kMonths.begin() + 1);
  const std::int64_t days = days_from_civil(*year, m, static_cast<unsigned>(*day));
  return ((days * 24 + *hour) * 60 + *minute) * 60000 + std::int64_t{*second} * 1000;
}

// A JSON string literal: quotes, backslash and control characters escaped; other bytes as given.
std::string json_string(std::string_view text) {
  constexpr std::string_view kHex = "0123456789abcdef";
  std::string out = "\"";
  for (const char c : text) {
    const auto u = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (u < 0x20) {
      out += "\\u00";
      out += kHex[u >> 4];
      out += kHex[u & 0x0f];
    } else {
      out += c;
    }
  }
  out += '"';
  return out;
}

}  // namespace

Result<AccessToken, std::string> parse_access_token(std::string_view body) {
  const auto doc = json_text::parse(body);
  if (!doc || !doc->root.is_object()) return Err{std::string("the answer is not a JSON object")};
  const Value* object = &doc->root;
  if (object->find("accessToken") == nullptr) {
    if (const Value* data = object->object("data")) object = data;
  }
  const auto token = text_of(object, "accessToken");
  if (!token || token->empty()) return Err{std::string("the answer has no accessToken")};
  for (char c : *token) {
    const auto u = static_cast<unsigned char>(c);
    if (u <= 0x20 || u == 0x7f) return Err{std::string("the accessToken is not header-safe")};
  }
  AccessToken out{*token, kDefaultTokenLifetimeS};
  if (const auto expires = whole_number(text(object, "expiresIn")); expires && *expires > 0) {
    out.expires_in_s = std::min<std::int64_t>(*expires, 366LL * 86400);
  }
  return out;
}

std::string auth_request_body(std::string_view client_id, std::string_view client_secret) {
  return R"({"clientId":)" + json_string(client_id) + R"(,"clientSecret":)" +
         json_string(client_secret) + "}";
}

std::string api_target(std::string_view base_path, std::string_view collection,
                       std::string_view id) {
  constexpr std::string_view kHex = "0123456789ABCDEF";
  while (!base_path.empty() && base_path.back() == '/') base_path.remove_suffix(1);
  std::string out(base_path);
  out += '/';
  out += collection;
  out += '/';
  for (const char c : id) {
    const auto u = static_cast<unsigned char>(c);
    const bool plain = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                       c == '-' || c == '.' || c == '_' || c == '~';
    if (plain) {
      out += c;
    } else {
      out += '%';
      out += kHex[u >> 4];
      out += kHex[u & 0x0f];
    }
  }
  return out;
}

std::int64_t token_expires_at(std::int64_t received_ms, std::int64_t expires_in_s) {
  return received_ms + std::max<std::int64_t>(expires_in_s, 0) * 1000;
}

std::int64_t token_refresh_at(std::int64_t received_ms, std::int64_t expires_in_s,
                              std::int64_t margin_ms) {
  const std::int64_t life_ms = std::max<std::int64_t>(expires_in_s, 0) * 1000;
  const std::int64_t before_margin = life_ms - std::max<std::int64_t>(margin_ms, 0);
  return received_ms + std::max(before_margin, life_ms / 2);
}

ApiStatusClass classify_api_status(unsigned status) {
  if (status == 0 || (status >= 500 && status <= 599)) return ApiStatusClass::retryable;
  if (status >= 200 && status <= 299) return ApiStatusClass::success;
  if (status == 404) return ApiStatusClass::not_found;
  if (status == 401) return ApiStatusClass::unauthorized;
  if (status == 429) return ApiStatusClass::rate_limited;
  return ApiStatusClass::permanent;
}

std::string_view to_string(ApiStatusClass c) {
  switch (c) {
    case ApiStatusClass::success:
      return "success";
    case ApiStatusClass::not_found:
      return "not_found";
    case ApiStatusClass::unauthorized:
      return "unauthorized";
    case ApiStatusClass::rate_limited:
      return "rate_limited";
    case ApiStatusClass::retryable:
      return "retryable";
    case ApiStatusClass::permanent:
      return "permanent";
  }
  return "permanent";
}

std::optional<milliseconds> parse_retry_after(std::string_view value, std::int64_t now_ms) {
  value = trim(value);
  if (value.empty()) return std::nullopt;
  if (std::all_of(value.begin(), value.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    std::int64_t seconds = 0;
    const auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), seconds);
    if (ec != std::errc{} || end != value.data() + value.size() || seconds > kMaxRetryAfterS)
      return std::nullopt;
    return milliseconds{seconds * 1000};
  }
  const auto at = parse_imf_fixdate(value);
  if (!at) return std::nullopt;
  const std::int64_t wait = std::max<std::int64_t>(*at - now_ms, 0);
  if (wait > kMaxRetryAfterS * 1000) return std::nullopt;
  return milliseconds{wait};
}

std::optional<milliseconds> api_retry_delay(const RetryPolicy& policy, int attempts_made,
                                            unsigned status, std::string_view retry_after,
                                            std::int64_t now_ms) {
  const ApiStatusClass c = classify_api_status(status);
  if (c != ApiStatusClass::retryable && c != ApiStatusClass::rate_limited) return std::nullopt;
  if (attempts_made >= policy.max_attempts) return std::nullopt;
  if (c == ApiStatusClass::rate_limited) {
    if (const auto wait = parse_retry_after(retry_after, now_ms)) {
      if (*wait > policy.max) return std::nullopt;
      return *wait;
    }
  }
  return policy.next_delay(attempts_made, 0.0);
}

ApiError parse_api_error(unsigned status, std::string_view body) {
  ApiError out;
  out.status = status;
  const auto doc = json_text::parse(body);
  const Value* root = doc && doc->root.is_object() ? &doc->root : nullptr;
  if (root != nullptr) {
    const Value* error_object = root->object("error");
    out.code = clean(text(root, "code"));
    out.type = clean(text(root, "type"));
    if (out.type.empty()) out.type = clean(text(error_object, "type"));
    if (out.type.empty()) out.type = clean(text(root, "error"));
    for (const std::string& candidate :
         {text(root, "detail"), text(root, "message"), text(root, "error"),
          text(error_object, "info"), text(error_object, "message")}) {
      if (!candidate.empty()) {
        out.message = clean(candidate);
        break;
      }
    }
    out.trace_id = clean(text(root, "traceId"));
    if (out.trace_id.empty()) out.trace_id = clean(text(error_object, "traceId"));
  }
  if (out.message.empty()) {
    out.message = status == 0 ? "no response" : "HTTP " + std::to_string(status);
  }
  return out;
}

std::string trace_id_of(std::string_view body) {
  const auto doc = json_text::parse(body);
  if (!doc || !doc->root.is_object()) return {};
  std::string id = text(&doc->root, "traceId");
  if (id.empty()) id = text(doc->root.object("data"), "traceId");
  return clean(id);
}

std::optional<ApiPayment> parse_api_payment(std::string_view body) {
  const auto doc = json_text::parse(body);
  if (!doc) return std::nullopt;
  const Value* object = main_object(doc->root);
  if (object == nullptr || !text_of(object, "id")) return std::nullopt;
  ApiPayment out{payment_object_facts(*object), text(object, "purchaseAmount")};
  if (out.facts.transaction_id.empty()) return std::nullopt;
  return out;
}

std::optional<ApiCustomer> parse_api_customer(std::string_view body) {
  const auto doc = json_text::parse(body);
  if (!doc) return std::nullopt;
  const Value* object = main_object(doc->root);
  if (object == nullptr || !text_of(object, "id")) return std::nullopt;
  ApiCustomer out{customer_object_facts(*object), std::nullopt};
  if (out.facts.customer_id.empty()) return std::nullopt;
  if (const Value* v = object->find("isDocumented");
      v != nullptr && v->kind == Value::Kind::boolean) {
    out.is_documented = v->boolean;
  }
  return out;
}

}  // namespace webhook::core
