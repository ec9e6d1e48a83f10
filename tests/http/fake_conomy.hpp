#pragma once
// FakeConomy: a local stand-in for the Conomy API on 127.0.0.1:0 (WEBHOOKS.md section 6), for the
// API client's tests. Real HTTP/1.1 (Boost.Beast), a coroutine per connection on a few threads.
//  - POST {base}/auth checks x-api-key and {clientId, clientSecret} against the accepted secrets
//    and issues a token "fake-token-N" living `token_lifetime_s` by the given clock (the test's
//    ManualClock: the client and the fake agree on time without waiting for it).
//  - GET {base}/payments/{id} and {base}/customers/{id} check "Authorization: Bearer" (issued,
//    not revoked, not expired) and x-api-key, then answer a scripted failure if one is queued,
//    else the stored object (200) or 404.
//  - Every answer carries "x-trace-id: fake-trace-N"; error bodies carry the same traceId.
// Counters and settings are thread-safe.

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "webhook/core/clock.hpp"

namespace webhook::testing {

struct FakeAnswer {
  unsigned status = 200;
  std::string body;  // "" with an error status: documented shape
  std::vector<std::pair<std::string, std::string>> headers;  // extra headers
};

struct FakeConomyOptions {
  std::string base_path = "/sandbox";
  std::string client_id = "client-test-0001";
  std::string api_key = "apikey_test_only_0123456789";
  std::set<std::string> secrets = {"clientsecret_test_only_A_0123456789"};
  std::int64_t token_lifetime_s = 60;
  std::chrono::milliseconds auth_delay{0};  // each POST /auth answers this much later
};

class FakeConomy {
 public:
  FakeConomy(FakeConomyOptions options, const core::Clock& clock);
  ~FakeConomy();
  FakeConomy(const FakeConomy&) = delete;
  FakeConomy& operator=(const FakeConomy&) = delete;

  // "http://127.0.0.1:<port><base_path>"
  std::string base_url() const;

  void put_payment(const std::string& id, std::string object_json);
  void put_customer(const std::string& id, std::string object_json);
  // Answers for the next GETs (after their token checks), in order.
  void script(std::vector<FakeAnswer> answers);
  // Answers for the next POST /auth requests, instead of checking them.
  void script_auth(std::vector<FakeAnswer> answers);
  // The client secrets /auth accepts from now on (a rotation revokes the old one).
  void set_secrets(std::set<std::string> secrets);
  // Every token issued so far is refused from now on (401).
  void revoke_tokens();

  std::size_t auth_requests() const { return auth_requests_; }
  std::size_t auth_accepted() const { return auth_accepted_; }
  std::size_t api_requests() const { return api_requests_; }      // GETs, any answer
  std::size_t refused_tokens() const { return refused_tokens_; }  // GETs answered 401
  // The x-api-key and clientSecret each request sent, for checks; lower-case header names.
  std::vector<std::string> secrets_seen() const;

 private:
  struct Impl;
  friend struct Impl;

  FakeConomyOptions options_;
  const core::Clock& clock_;
  std::uint16_t port_ = 0;

  mutable std::mutex mutex_;
  std::map<std::string, std::string> payments_;   // GUARDED_BY(mutex_)
  std::map<std::string, std::string> customers_;  // GUARDED_BY(mutex_)
  std::deque<FakeAnswer> script_;                 // GUARDED_BY(mutex_)
  std::deque<FakeAnswer> auth_script_;            // GUARDED_BY(mutex_)
  std::map<std::string, std::int64_t> tokens_;    // GUARDED_BY(mutex_): token -> expiry
  std::vector<std::string> secrets_seen_;         // GUARDED_BY(mutex_)
  std::atomic<std::size_t> auth_requests_{0};
  std::atomic<std::size_t> auth_accepted_{0};
  std::atomic<std::size_t> api_requests_{0};
  std::atomic<std::size_t> refused_tokens_{0};
  std::atomic<std::size_t> trace_counter_{0};

  std::unique_ptr<Impl> impl_;  // last: its threads stop before the state above goes
};

}  // namespace webhook::testing
