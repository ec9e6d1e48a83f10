// ConomyApiClient and SecretSource (see the header for the flow).

#include "webhook/http/conomy_client.hpp"

#include <sys/stat.h>

#include <algorithm>
#include <exception>
#include <stdexcept>
#include <thread>
#include <utility>
#include <vector>

#include "webhook/http/client.hpp"
#include "webhook/log/log.hpp"

namespace webhook::http {
namespace {

using std::chrono::milliseconds;

// After a refresh that failed while the current token still works, the next refresh is tried
// this much later (not on every call), and never after the token's expiry.
constexpr std::int64_t kRefreshRetryMs = 5000;
constexpr std::size_t kMaxApiBody = 1024 * 1024;
constexpr std::string_view kUserAgent = "webhook-receiver";

std::optional<std::string> read_whole_file(const std::string& path) {
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (f == nullptr) return std::nullopt;
  std::string content;
  char buffer[4096];
  std::size_t n = 0;
  while ((n = std::fread(buffer, 1, sizeof buffer, f)) > 0) content.append(buffer, n);
  const bool failed = std::ferror(f) != 0;
  std::fclose(f);
  if (failed) return std::nullopt;
  while (!content.empty() && (content.back() == '\n' || content.back() == '\r')) {
    content.pop_back();
  }
  return content;
}

// The traceId of an answer: in its JSON body, or else an x-trace-id / traceId header (the
// header is not documented; taken when present), cleaned for a log line as core cleans it.
std::string trace_id_of(const HttpResponse& res) {
  std::string id = core::trace_id_of(res.body);
  if (!id.empty()) return id;
  id = res.header("x-trace-id");
  if (id.empty()) id = res.header("traceId");
  id.resize(std::min<std::size_t>(id.size(), 200));
  for (char& c : id) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) c = '?';
  }
  return id;
}

}  // namespace

// ---- SecretSource -----------------------------------------------------------------------------

SecretSource::SecretSource(SecretSpec spec)
    : file_(std::move(spec.file)), value_(std::move(spec.value)) {
  if (!file_.empty()) last_stamp_ = stamp_now();
}

std::optional<SecretSource::Stamp> SecretSource::stamp_now() const {
  struct stat st {};
  if (::stat(file_.c_str(), &st) != 0) return std::nullopt;
  return Stamp{static_cast<std::uint64_t>(st.st_ino), static_cast<std::int64_t>(st.st_size),
               static_cast<std::int64_t>(st.st_mtim.tv_sec) * 1'000'000'000 +
                   static_cast<std::int64_t>(st.st_mtim.tv_nsec)};
}

std::string SecretSource::current() {
  std::lock_guard lock(mutex_);
  if (file_.empty()) return value_;
  const auto stamp = stamp_now();
  if (stamp && stamp == last_stamp_) return value_;
  auto content = stamp ? read_whole_file(file_) : std::nullopt;
  if (!content || content->empty()) {
    if (!unreadable_) {  // once per episode, not on every request
      log::warn("secret file cannot be read or is empty; keeping the last value",
                {.detail = file_});
    }
    unreadable_ = true;
    return value_;
  }
  unreadable_ = false;
  // The stamp is taken before the read: a write racing the read changes it again, and the next
  // call reads the file once more.
  last_stamp_ = stamp;
  if (*content != value_) {
    value_ = std::move(*content);
    log::info("secret file changed; the new value is used from the next token request",
              {.detail = file_});
  }
  return value_;
}

std::string SecretSource::reread() {
  {
    std::lock_guard lock(mutex_);
    last_stamp_.reset();
  }
  return current();
}

// ---- ConomyApiClient --------------------------------------------------------------------------

Sleeper real_sleeper() {
  return [](milliseconds delay) { std::this_thread::sleep_for(delay); };
}

std::string_view to_string(ApiOutcome o) {
  switch (o) {
    case ApiOutcome::found:
      return "found";
    case ApiOutcome::not_found:
      return "not_found";
    case ApiOutcome::failed:
      return "failed";
  }
  return "failed";
}

struct ConomyApiClient::Fetched {
  ApiOutcome outcome = ApiOutcome::failed;
  HttpResponse response;  // the last answer (status 0 when none)
  core::ApiError error;
  std::string trace_id;
  int attempts = 0;
};

ConomyApiClient::ConomyApiClient(ConomyApiOptions options, const core::Clock& clock,
                                 Sleeper sleeper)
    : options_(std::move(options)),
      clock_(clock),
      sleeper_(sleeper ? std::move(sleeper) : real_sleeper()),
      client_secret_(options_.client_secret),
      api_key_(options_.api_key) {
  auto url = parse_url(options_.base_url);
  if (!url || url->target.find('?') != std::string::npos) {
    throw std::invalid_argument("Conomy API base_url must be http(s)://host[:port][/path]");
  }
  base_path_ = url->target;
  HttpClientOptions http;
  http.connect_timeout = std::min(options_.timeout, milliseconds{3000});
  http.response_timeout = options_.timeout;
  http.ca_file = options_.ca_file;
  http.max_body_kept = kMaxApiBody;
  http_ = std::make_unique<HttpClient>(std::move(*url), std::move(http));
}

ConomyApiClient::~ConomyApiClient() = default;

ConomyApiClient::Counters ConomyApiClient::counters() const {
  std::lock_guard lock(mutex_);
  return counters_;
}

std::string ConomyApiClient::redact(std::string text) {
  std::vector<std::string> secrets = {client_secret_.current(), api_key_.current()};
  {
    std::lock_guard lock(mutex_);
    secrets.push_back(token_);
  }
  for (const std::string& secret : secrets) {
    if (secret.size() < 4) continue;
    for (auto at = text.find(secret); at != std::string::npos; at = text.find(secret, at)) {
      text.replace(at, secret.size(), "[redacted]");
    }
  }
  return text;
}

core::Result<core::AccessToken, core::ApiError> ConomyApiClient::authenticate() {
  const std::string secret = client_secret_.current();
  const std::string key = api_key_.current();
  const std::string target = base_path_ == "/" ? "/auth" : base_path_ + "/auth";
  const HttpHeaders headers = {{"Content-Type", "application/json"},
                               {"Accept", "application/json"},
                               {"User-Agent", std::string(kUserAgent)},
                               {"x-api-key", key}};
  const std::string body = core::auth_request_body(options_.client_id, secret);
  for (int attempt = 1;; ++attempt) {
    HttpResponse res = http_->request("POST", target, body, headers);
    {
      std::lock_guard lock(mutex_);
      ++counters_.auths;
    }
    const std::string trace = trace_id_of(res);
    const std::string status = std::to_string(res.status);
    const auto c = core::classify_api_status(res.status);
    if (c == core::ApiStatusClass::success) {
      auto token = core::parse_access_token(res.body);
      if (token.ok()) {
        log::info("conomy api: token obtained",
                  {.source = options_.source,
                   .result = status,
                   .detail = "POST /auth traceId=" + trace +
                             " expiresIn=" + std::to_string(token->expires_in_s)});
        return std::move(token).value();
      }
      core::ApiError e{res.status, "", "", "token answer unusable: " + token.error(), trace};
      log::warn("conomy api: token answer unusable",
                {.source = options_.source,
                 .result = status,
                 .detail = "POST /auth traceId=" + trace + " " + token.error()});
      return core::Err{std::move(e)};
    }
    core::ApiError e = core::parse_api_error(res.status, res.body);
    if (res.status == 0) e.message = res.error;
    e.message = redact(std::move(e.message));
    if (e.trace_id.empty()) e.trace_id = trace;
    const auto delay = core::api_retry_delay(options_.retry, attempt, res.status, res.retry_after,
                                             clock_.now_ms());
    log::warn(
        delay ? "conomy api: token request failed, retrying" : "conomy api: token request failed",
        {.source = options_.source,
         .result = status,
         .detail = "POST /auth traceId=" + e.trace_id + " attempt=" + std::to_string(attempt) +
                   " code=" + e.code + " " + e.message +
                   (delay ? " retry_in_ms=" + std::to_string(delay->count()) : "")});
    if (!delay) return core::Err{std::move(e)};
    sleeper_(*delay);
  }
}

core::Result<ConomyApiClient::Token, core::ApiError> ConomyApiClient::token() {
  std::unique_lock lock(mutex_);
  for (;;) {
    const std::int64_t now = clock_.now_ms();
    const bool usable = !token_.empty() && now < expires_at_ms_;
    if (usable && (now < refresh_at_ms_ || refreshing_)) return Token{token_, generation_};
    if (!refreshing_) break;
    // Someone else is refreshing and there is no token to use meanwhile: wait for its answer.
    const std::uint64_t round = refresh_rounds_;
    refreshed_.wait(lock, [&] { return !refreshing_ || refresh_rounds_ != round; });
    if (refresh_rounds_ != round) {
      const bool now_usable = !token_.empty() && clock_.now_ms() < expires_at_ms_;
      if (now_usable) return Token{token_, generation_};
      return core::Err{last_auth_error_};
    }
  }
  refreshing_ = true;
  lock.unlock();
  core::Result<core::AccessToken, core::ApiError> answer =
      core::Err{core::ApiError{0, "", "", "token request failed", ""}};
  try {
    answer = authenticate();
  } catch (const std::exception& e) {  // bad_alloc: the waiters must still be woken
    answer = core::Err{core::ApiError{0, "", "", std::string("token request: ") + e.what(), ""}};
  }
  lock.lock();
  refreshing_ = false;
  ++refresh_rounds_;
  const std::int64_t now = clock_.now_ms();
  std::optional<Token> result;
  if (answer.ok()) {
    token_ = std::move(answer->token);
    ++generation_;
    refresh_at_ms_ =
        core::token_refresh_at(now, answer->expires_in_s, options_.token_refresh_margin_ms);
    expires_at_ms_ = core::token_expires_at(now, answer->expires_in_s);
    result = Token{token_, generation_};
  } else {
    ++counters_.auth_failures;
    last_auth_error_ = answer.error();
    if (!token_.empty() && now < expires_at_ms_) {
      // A refused auth (say, with a new secret that is not active yet) keeps the current token
      // until it expires; the refresh is tried again a little later.
      refresh_at_ms_ = std::min(expires_at_ms_, now + kRefreshRetryMs);
      log::warn("conomy api: keeping the current token until it expires",
                {.source = options_.source,
                 .detail = "expires_in_ms=" + std::to_string(expires_at_ms_ - now)});
      result = Token{token_, generation_};
    }
  }
  refreshed_.notify_all();
  if (result) return *result;
  return core::Err{last_auth_error_};
}

void ConomyApiClient::drop_token(std::uint64_t generation) {
  std::lock_guard lock(mutex_);
  if (generation == generation_) expires_at_ms_ = 0;  // a newer token is left alone
}

ConomyApiClient::Fetched ConomyApiClient::fetch(std::string_view collection, std::string_view id) {
  Fetched out;
  const std::string what = "GET /" + std::string(collection);
  if (id.empty()) {
    out.error = core::ApiError{0, "", "", "empty id", ""};
    return out;
  }
  const std::string target = core::api_target(base_path_, collection, id);
  bool refreshed_after_401 = false;
  for (;;) {
    if (cancelled_.load()) {
      out.error = core::ApiError{0, "", "", "cancelled: the service is stopping", out.trace_id};
      return out;
    }
    auto token = this->token();
    if (!token.ok()) {
      out.error = token.error();
      out.error.message = "no token: " + out.error.message;
      return out;
    }
    const HttpHeaders headers = {{"Accept", "application/json"},
                                 {"User-Agent", std::string(kUserAgent)},
                                 {"Authorization", "Bearer " + token->value},
                                 {"x-api-key", api_key_.current()}};
    out.response = http_->request("GET", target, "", headers);
    ++out.attempts;
    {
      std::lock_guard lock(mutex_);
      ++counters_.requests;
    }
    const HttpResponse& res = out.response;
    out.trace_id = trace_id_of(res);
    const auto c = core::classify_api_status(res.status);
    const std::string status = std::to_string(res.status);
    if (c == core::ApiStatusClass::success) {
      log::info("conomy api: answer", {.source = options_.source,
                                       .entity_id = id,
                                       .result = status,
                                       .detail = what + " traceId=" + out.trace_id +
                                                 " attempt=" + std::to_string(out.attempts)});
      out.outcome = ApiOutcome::found;
      return out;
    }
    out.error = core::parse_api_error(res.status, res.body);
    if (res.status == 0) out.error.message = res.error;
    out.error.message = redact(std::move(out.error.message));
    if (out.error.trace_id.empty()) out.error.trace_id = out.trace_id;
    out.trace_id = out.error.trace_id;
    std::optional<milliseconds> delay;
    const bool retry_401 = c == core::ApiStatusClass::unauthorized && !refreshed_after_401 &&
                           out.attempts < options_.retry.max_attempts;
    if (!retry_401) {
      delay = core::api_retry_delay(options_.retry, out.attempts, res.status, res.retry_after,
                                    clock_.now_ms());
    }
    const bool final = !retry_401 && !delay;
    const std::string detail =
        what + " traceId=" + out.trace_id + " attempt=" + std::to_string(out.attempts) +
        " code=" + out.error.code + " " + out.error.message +
        (retry_401 ? " refreshing the token"
                   : (delay ? " retry_in_ms=" + std::to_string(delay->count()) : ""));
    const log::Fields fields{
        .source = options_.source, .entity_id = id, .result = status, .detail = detail};
    if (c == core::ApiStatusClass::not_found) {
      log::info("conomy api: answer", fields);
      out.outcome = ApiOutcome::not_found;
      return out;
    }
    log::warn(final ? "conomy api: call failed" : "conomy api: call failed, retrying", fields);
    if (final) return out;
    if (retry_401) {
      refreshed_after_401 = true;
      drop_token(token->generation);
      continue;
    }
    sleeper_(*delay);
  }
}

int ConomyApiClient::reread_secrets() {
  int files = 0;
  for (SecretSource* source : {&client_secret_, &api_key_}) {
    if (!source->from_file()) continue;
    source->reread();
    ++files;
  }
  return files;
}

PaymentResult ConomyApiClient::get_payment(std::string_view id) {
  Fetched f = fetch("payments", id);
  PaymentResult out{f.outcome, std::nullopt, std::move(f.error), std::move(f.trace_id), f.attempts};
  if (out.outcome != ApiOutcome::found) return out;
  out.value = core::parse_api_payment(f.response.body);
  if (out.value && out.value->facts.transaction_id == id) {
    out.body = std::move(f.response.body);
  } else {
    const bool other = out.value.has_value();
    out.value.reset();
    out.outcome = ApiOutcome::failed;
    out.error = core::ApiError{f.response.status, "", "",
                               other ? "the answer is another payment" : "the answer is no payment",
                               out.trace_id};
    log::warn("conomy api: unusable answer",
              {.source = options_.source, .entity_id = id, .detail = out.error.message});
  }
  return out;
}

CustomerResult ConomyApiClient::get_customer(std::string_view id) {
  Fetched f = fetch("customers", id);
  CustomerResult out{f.outcome, std::nullopt, std::move(f.error), std::move(f.trace_id),
                     f.attempts};
  if (out.outcome != ApiOutcome::found) return out;
  out.value = core::parse_api_customer(f.response.body);
  if (out.value && out.value->facts.customer_id == id) {
    out.body = std::move(f.response.body);
  } else {
    const bool other = out.value.has_value();
    out.value.reset();
    out.outcome = ApiOutcome::failed;
    out.error = core::ApiError{
        f.response.status, "", "",
        other ? "the answer is another customer" : "the answer is no customer", out.trace_id};
    log::warn("conomy api: unusable answer",
              {.source = options_.source, .entity_id = id, .detail = out.error.message});
  }
  return out;
}

}  // namespace webhook::http
