#pragma once
// Conomy API rules (WEBHOOKS.md section 6): what the API client decides, from plain values.
// Pure: bodies, statuses, header text and times in; decisions out. http/conomy_client.hpp does
// the I/O and calls these.
//  1. parse_access_token(): the POST /auth answer -> token and lifetime; token_refresh_at() says
//     when a cached token is replaced (before expiresIn runs out, never after).
//  2. classify_api_status() and api_retry_delay(): which answers are retried and after how long
//     (5xx and transport failures: backoff; 429: Retry-After; any other 4xx: never).
//  3. parse_api_error(): status, code, type, message and traceId from any documented error shape.
//  4. parse_api_payment() / parse_api_customer(): the object (top level, or under "data") read
//     into the same facts the projections keep from a webhook.
// Nothing here throws on any input.

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "webhook/core/projection.hpp"
#include "webhook/core/result.hpp"
#include "webhook/core/retry_policy.hpp"

namespace webhook::core {

// ---- tokens ----------------------------------------------------------------------------------

struct AccessToken {
  std::string token;              // the bearer token (a JWT); never logged
  std::int64_t expires_in_s = 0;  // lifetime in seconds, > 0
};

// A token answer without a usable expiresIn is taken to live this long (short: it is renewed
// early rather than used past its real expiry).
inline constexpr std::int64_t kDefaultTokenLifetimeS = 300;
// A cached token is replaced this long before it expires (see token_refresh_at()).
inline constexpr std::int64_t kTokenRefreshMarginMs = 60000;

// {"accessToken": "...", "tokenType": "Bearer", "expiresIn": 3600}, also under "data".
// expiresIn may be a number or a numeric string; absent or not a positive whole number:
// kDefaultTokenLifetimeS. Error (a short reason, never the body) when accessToken is missing,
// empty, not a string, or holds a control character or space (it goes into a header).
Result<AccessToken, std::string> parse_access_token(std::string_view body);

// The clock time (ms) at which a token received at `received_ms`, living `expires_in_s`, should
// be replaced: `margin_ms` before it expires, but not before half its life has passed (a token
// living 60 s with a 60 s margin is replaced after 30 s, not at once).
std::int64_t token_refresh_at(std::int64_t received_ms, std::int64_t expires_in_s,
                              std::int64_t margin_ms = kTokenRefreshMarginMs);
// When such a token stops being usable at all.
std::int64_t token_expires_at(std::int64_t received_ms, std::int64_t expires_in_s);

// The POST /auth body: {"clientId":"...","clientSecret":"..."}, JSON-escaped (WEBHOOKS.md 6.1).
// Holds the secret: never log it.
std::string auth_request_body(std::string_view client_id, std::string_view client_secret);

// The request target of a resource under the base URL's path: api_target("/sandbox", "payments",
// "p 1") == "/sandbox/payments/p%201". The id is percent-encoded (all but A-Z a-z 0-9 - . _ ~),
// so an id cannot add path segments or a query. A trailing '/' of the base path is dropped.
std::string api_target(std::string_view base_path, std::string_view collection,
                       std::string_view id);

// ---- statuses and retries --------------------------------------------------------------------

enum class ApiStatusClass {
  success,       // 2xx
  not_found,     // 404: does not exist, or belongs to another tenant (WEBHOOKS.md 6.1)
  unauthorized,  // 401: the token is refused (refresh once, then retry)
  rate_limited,  // 429: retry after Retry-After, or after the backoff
  retryable,     // 5xx, or 0 (no answer: transport error, timeout)
  permanent,     // any other status (4xx, 3xx, 1xx): never retried unchanged
};
ApiStatusClass classify_api_status(unsigned status);
std::string_view to_string(ApiStatusClass c);

// A Retry-After header: delta-seconds ("120") or an IMF-fixdate HTTP-date
// ("Sun, 06 Nov 1994 08:49:37 GMT", a date in the past giving 0), surrounding spaces allowed.
// nullopt for anything else (empty, negative, other date forms, more than a day).
std::optional<std::chrono::milliseconds> parse_retry_after(std::string_view value,
                                                           std::int64_t now_ms);

// The wait before the next attempt after `attempts_made` attempts (1 after the first failed),
// the last one answered with `status` (0: no answer), or nullopt: do not retry.
//  - retryable: policy.next_delay(attempts_made, no jitter): 1 s, 2 s, 4 s, ... capped at max;
//  - rate_limited: the Retry-After when it parses, otherwise the same backoff; a Retry-After
//    longer than policy.max ends the call (a caller's thread is not held for minutes);
//  - anything else: nullopt. attempts_made >= policy.max_attempts: nullopt.
std::optional<std::chrono::milliseconds> api_retry_delay(const RetryPolicy& policy,
                                                         int attempts_made, unsigned status,
                                                         std::string_view retry_after,
                                                         std::int64_t now_ms);

// ---- errors ----------------------------------------------------------------------------------

// An error answer, read leniently from any of the documented shapes (WEBHOOKS.md 6.2):
//   {"status":400,"code":"11","type":"invalidParam","detail":"...","traceId":"..."}
//   {"statusCode":400,"error":"Bad Request","message":"..."}
//   {"error":{"type":"bad_request","info":null},"message":null}
// Fields absent from the body are "". message falls back to detail, message, a string error,
// error.info, then "HTTP <status>" (or "no response" for status 0). Each field is cut to 200
// bytes and control characters become '?', so it can go into one log line.
struct ApiError {
  unsigned status = 0;  // the HTTP status; 0 when no answer arrived
  std::string code;     // "11" (a number is kept as its text)
  std::string type;     // "invalidParam", or error.type / a string error of the other shapes
  std::string message;
  std::string trace_id;
};
ApiError parse_api_error(unsigned status, std::string_view body);

// The top-level "traceId" of any JSON object body (also under "data"), cleaned as above; "" when
// there is none.
std::string trace_id_of(std::string_view body);

// ---- objects ---------------------------------------------------------------------------------

// GET /payments/{id}: the payment object with the fields of WEBHOOKS.md 4.2, read into the facts
// the payments projection keeps. occurred_at_ms stays nullopt (an API object has no event time;
// the caller decides what "now" is).
struct ApiPayment {
  PaymentFacts facts;
  std::string purchase_amount;  // legacy-shape field, kept when present
};
// GET /customers/{id}: the customer object, read into the customers projection's facts.
struct ApiCustomer {
  CustomerFacts facts;
  std::optional<bool> is_documented;  // "isDocumented" when the API sends it
};

// The object is the body's top-level object, or the object under "data" when the top level has
// no "id" and a "data" object. nullopt when the body is not JSON, or there is no object with a
// non-empty string id.
std::optional<ApiPayment> parse_api_payment(std::string_view body);
std::optional<ApiCustomer> parse_api_customer(std::string_view body);

}  // namespace webhook::core
