#pragma once
// ConomyApiClient: reads payments and customers from the Conomy API for one source
// (WEBHOOKS.md section 6; docs/conomy-api.md). The decisions are core's (core/conomy_api.hpp).
//  1. get_payment(id) / get_customer(id) take the cached bearer token, or obtain one with
//     POST {base}/auth: one caller refreshes while callers without a usable token wait for it.
//     The token is replaced a minute before expiresIn runs out (halfway for short lifetimes).
//  2. GET {base}/payments/{id} with Authorization, x-api-key and User-Agent. 5xx and transport
//     failures are retried after 1 s, 2 s, ... (the injected Sleeper waits), 429 after
//     Retry-After; any other 4xx is final. A 401 drops the token, refreshes once and retries.
//  3. Every answer is logged with its traceId (log::info, or log::warn for failures).
//  4. Before each POST /auth the secret files (NAME_FILE) are checked (inode, size, mtime) and
//     re-read when they changed, so a rotated client secret is used without a restart. An auth
//     refused with the new secret keeps the current token until it expires.
// The client secret, the api key and tokens never appear in a log line or an ApiError.
// Thread-safe: any number of threads may call at once (HttpClient keeps a connection each).

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

#include "webhook/core/clock.hpp"
#include "webhook/core/conomy_api.hpp"
#include "webhook/core/retry_policy.hpp"

namespace webhook::http {

class HttpClient;

// Where a secret comes from: a value read once (an environment variable), or a file re-read when
// it changes (NAME_FILE: Docker secrets, a rotated file). `value` is what was read at start-up.
struct SecretSpec {
  std::string value;
  std::string file;  // "" = fixed value
};

// A secret that follows its file. Thread-safe.
class SecretSource {
 public:
  explicit SecretSource(SecretSpec spec);
  // The current value. From a file: re-read when its inode, size or mtime changed since the last
  // read (trailing line endings dropped); a file that cannot be read or is empty keeps the last
  // value, with a warning that names the file, never the content.
  std::string current();
  // Reads the file now, changed or not (SIGHUP); as current() otherwise.
  std::string reread();
  bool from_file() const { return !file_.empty(); }

 private:
  struct Stamp {
    std::uint64_t inode = 0;
    std::int64_t size = -1;
    std::int64_t mtime_ns = 0;
    bool operator==(const Stamp&) const = default;
  };
  std::optional<Stamp> stamp_now() const;

  const std::string file_;
  std::mutex mutex_;
  std::string value_;                // GUARDED_BY(mutex_)
  std::optional<Stamp> last_stamp_;  // GUARDED_BY(mutex_)
  bool unreadable_ = false;          // GUARDED_BY(mutex_); warned, not readable again yet
};

struct ConomyApiOptions {
  std::string source;    // the configured source's name, on every log line
  std::string base_url;  // "https://api.conomyhq.com/sandbox", or a local URL in tests
  std::string client_id;
  SecretSpec client_secret;                  // never logged
  SecretSpec api_key;                        // the x-api-key header; never logged
  std::chrono::milliseconds timeout{10000};  // per request: connect + write + read
  // 5xx, timeouts and 429 without Retry-After; multiplier 2 (WEBHOOKS.md 6.3).
  core::RetryPolicy retry{std::chrono::milliseconds{1000}, 2.0, std::chrono::milliseconds{32000},
                          5};
  std::int64_t token_refresh_margin_ms = core::kTokenRefreshMarginMs;
  std::string ca_file;  // https: trust anchors instead of the system store ("" = system)
};

// Waits; tests pass one that records the delays and returns at once.
using Sleeper = std::function<void(std::chrono::milliseconds)>;
Sleeper real_sleeper();

enum class ApiOutcome { found, not_found, failed };
std::string_view to_string(ApiOutcome o);

// The answer to one get_*() call, after retries.
template <class T>
struct ApiResult {
  ApiOutcome outcome = ApiOutcome::failed;
  std::optional<T> value;  // found
  // not_found and failed: status (0: no answer), code, type, message, traceId of the last
  // answer (or of the refused POST /auth when no token could be obtained).
  core::ApiError error;
  std::string trace_id;  // the last answer's traceId ("" when it had none)
  int attempts = 0;      // GET requests sent for this call (POST /auth not counted)
  std::string body;      // found: the answer's body as received (what reconciliation records)

  bool found() const { return outcome == ApiOutcome::found; }
};
using PaymentResult = ApiResult<core::ApiPayment>;
using CustomerResult = ApiResult<core::ApiCustomer>;

class ConomyApiClient {
 public:
  // Throws std::invalid_argument for a base_url that is not http(s)://host[:port][/path] or when
  // https cannot be set up. Nothing is sent until the first call. `clock` must outlive the client.
  ConomyApiClient(ConomyApiOptions options, const core::Clock& clock,
                  Sleeper sleeper = real_sleeper());
  ~ConomyApiClient();
  ConomyApiClient(const ConomyApiClient&) = delete;
  ConomyApiClient& operator=(const ConomyApiClient&) = delete;

  // GET /payments/{id}: found (the object, whose id is `id`), not_found (404: absent or another
  // tenant's), or failed. Blocks for the requests and the retry waits (at most
  // retry.max_attempts requests). Never throws.
  PaymentResult get_payment(std::string_view id);
  // GET /customers/{id}, likewise.
  CustomerResult get_customer(std::string_view id);

  // Ends calls at their next step, for good: a call about to send or waiting to retry fails at
  // once ("cancelled: the service is stopping"). A request in flight ends by its timeout. Any
  // thread.
  void cancel() { cancelled_.store(true); }

  // Re-reads the secret files now (SIGHUP), whether or not they look changed; the next token
  // request uses what they hold. Returns how many secrets come from files. Any thread.
  int reread_secrets();

  struct Counters {
    std::uint64_t requests = 0;       // GET requests sent
    std::uint64_t auths = 0;          // POST /auth requests sent
    std::uint64_t auth_failures = 0;  // token refreshes that ended without a new token
  };
  Counters counters() const;

 private:
  struct Token {
    std::string value;
    std::uint64_t generation = 0;
  };
  struct Fetched;  // the raw answer of a GET, after retries

  Fetched fetch(std::string_view collection, std::string_view id);
  core::Result<Token, core::ApiError> token();
  core::Result<core::AccessToken, core::ApiError> authenticate();
  void drop_token(std::uint64_t generation);
  std::string redact(std::string text);

  ConomyApiOptions options_;
  const core::Clock& clock_;
  Sleeper sleeper_;
  std::string base_path_;
  std::unique_ptr<HttpClient> http_;
  SecretSource client_secret_;
  SecretSource api_key_;

  mutable std::mutex mutex_;
  std::condition_variable refreshed_;
  std::string token_;                 // GUARDED_BY(mutex_); never logged
  std::uint64_t generation_ = 0;      // GUARDED_BY(mutex_); +1 per token obtained
  std::int64_t refresh_at_ms_ = 0;    // GUARDED_BY(mutex_)
  std::int64_t expires_at_ms_ = 0;    // GUARDED_BY(mutex_)
  bool refreshing_ = false;           // GUARDED_BY(mutex_)
  std::uint64_t refresh_rounds_ = 0;  // GUARDED_BY(mutex_); +1 per finished refresh
  core::ApiError last_auth_error_;    // GUARDED_BY(mutex_)
  Counters counters_;                 // GUARDED_BY(mutex_)
  std::atomic<bool> cancelled_{false};
};

}  // namespace webhook::http
