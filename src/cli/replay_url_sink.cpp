// `replay --to URL`: POSTs each delivery with the shared HttpClient (one per target path, thread
// safe, keep-alive), on `concurrency` lanes. A lane is chosen by the delivery's entity, so the
// deliveries of one transaction or customer arrive in their captured order.
#include <rapidjson/document.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <csignal>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <thread>

#include "cli/args.hpp"
#include "cli/replay_sinks.hpp"
#include "webhook/core/signature.hpp"
#include "webhook/http/client.hpp"

namespace webhook::cli::replay {
namespace {

constexpr std::size_t kLaneQueue = 64;
constexpr std::string_view kDefaultTarget = "/webhooks";
constexpr auto kMaxRetryWait = std::chrono::seconds(5);

std::string json_member(const std::string& body, const char* name) {
  rapidjson::Document doc;
  doc.Parse(body.data(), body.size());
  if (doc.HasParseError() || !doc.IsObject()) return {};
  const auto it = doc.FindMember(name);
  if (it == doc.MemberEnd()) return {};
  if (it->value.IsString()) return {it->value.GetString(), it->value.GetStringLength()};
  if (it->value.IsInt64()) return std::to_string(it->value.GetInt64());
  return {};
}

bool retryable(unsigned status) {
  return status == 0 || status == 429 || status == 502 || status == 503 || status == 504;
}

// Retry-After in seconds (capped), else 250 ms doubling.
std::chrono::milliseconds retry_wait(const std::string& retry_after, int attempt) {
  int seconds = -1;
  if (!retry_after.empty() &&
      std::all_of(retry_after.begin(), retry_after.end(),
                  [](char c) { return c >= '0' && c <= '9'; }) &&
      retry_after.size() < 6) {
    seconds = std::stoi(retry_after);
  }
  if (seconds >= 0) {
    return std::min<std::chrono::milliseconds>(std::chrono::seconds(seconds), kMaxRetryWait);
  }
  return std::chrono::milliseconds(250) * (1 << std::min(attempt, 4));
}

class UrlSink final : public Sink {
 public:
  UrlSink(UrlSinkOptions options, Reporter& reporter)
      : options_(std::move(options)), reporter_(reporter) {
    auto parsed = http::parse_url(options_.url);
    if (!parsed) throw UsageError("--to: not an http:// or https:// URL: " + options_.url);
    base_ = *parsed;
    const auto authority = options_.url.find("://") + 3;
    fixed_target_ = options_.url.find_first_of("/?", authority) != std::string::npos;
    if (options_.dry_run) return;
    std::signal(SIGPIPE, SIG_IGN);  // a peer closing mid-write is an error, not a kill
    const int lanes = std::max(options_.concurrency, 1);
    for (int i = 0; i < lanes; ++i) {
      lanes_.push_back(std::make_unique<Lane>());
      Lane& lane = *lanes_.back();
      lane.thread = std::thread([this, &lane] { run_lane(lane); });
    }
  }
  ~UrlSink() override { finish(); }
  UrlSink(const UrlSink&) = delete;
  UrlSink& operator=(const UrlSink&) = delete;

  void submit(Capture capture) override {
    if (options_.dry_run) {
      show(capture);
      return;
    }
    const std::size_t n = lanes_.size();
    Lane& lane = *lanes_[n == 1 ? 0 : std::hash<std::string>{}(ordering_key(capture)) % n];
    std::unique_lock lock(lane.mutex);
    lane.changed.wait(lock, [&] { return lane.queue.size() < kLaneQueue; });
    lane.queue.push_back(std::move(capture));
    lane.changed.notify_all();
  }

  void finish() override {
    for (auto& lane : lanes_) {
      {
        std::lock_guard lock(lane->mutex);
        lane->closing = true;
      }
      lane->changed.notify_all();
    }
    for (auto& lane : lanes_) {
      if (lane->thread.joinable()) lane->thread.join();
    }
  }

 private:
  struct Lane {
    std::mutex mutex;
    std::condition_variable changed;
    std::deque<Capture> queue;  // GUARDED_BY(mutex)
    bool closing = false;       // GUARDED_BY(mutex)
    std::thread thread;
  };

  std::string target_for(const Capture& c) const {
    if (fixed_target_) return base_.target;
    return c.target.empty() ? std::string(kDefaultTarget) : c.target;
  }

  std::string full_url(const std::string& target) const {
    const bool v6 = base_.host.find(':') != std::string::npos;
    return std::string(base_.tls ? "https://" : "http://") + (v6 ? "[" : "") + base_.host +
           (v6 ? "]" : "") + ":" + base_.port + target;
  }

  http::HttpClient& client_for(const std::string& target) {
    std::lock_guard lock(clients_mutex_);
    auto& slot = clients_[target];
    if (!slot) {
      http::ParsedUrl url = base_;
      url.target = target;
      http::HttpClientOptions o;
      o.response_timeout = std::chrono::milliseconds(options_.timeout_ms);
      o.max_idle_connections = static_cast<std::size_t>(std::max(options_.concurrency, 1));
      slot = std::make_unique<http::HttpClient>(std::move(url), o);
    }
    return *slot;
  }

  static http::HttpHeaders headers_for(const Capture& c, const Outbound& out) {
    http::HttpHeaders headers;
    const auto type = c.header_values("Content-Type");
    headers.emplace_back("Content-Type", type.empty() ? "application/json" : type.front());
    for (const auto& v : c.header_values("Content-Encoding"))
      headers.emplace_back("Content-Encoding", v);
    const auto agent = c.header_values("User-Agent");
    if (!agent.empty()) headers.emplace_back("User-Agent", agent.front());
    // The client sends one line per name: several captured values go out comma-joined, which
    // HTTP defines as the same thing (and which no key verifies, as before).
    std::string signature;
    for (const auto& v : out.signature_headers) signature += (signature.empty() ? "" : ", ") + v;
    if (!out.signature_headers.empty()) {
      headers.emplace_back(std::string(core::kSignatureHeader), signature);
    }
    if (!c.request_id.empty()) headers.emplace_back("X-Request-Id", c.request_id);
    return headers;
  }

  void show(const Capture& c) {
    std::string error;
    const auto out = prepare_outbound(c, options_.sign, error);
    if (!out) {
      reporter_.result(describe(c), {ResultKind::failed, false, error, 0});
      return;
    }
    const std::string type = event_type_of(c);
    reporter_.dry_run_line(
        "POST " + full_url(target_for(c)) + " " + describe(c) +
        " source=" + (c.source.empty() ? "-" : c.source) + " type=" + (type.empty() ? "-" : type) +
        " verification=" + (c.verification.empty() ? "-" : c.verification) +
        " signing=" + out->signing + " bytes=" + std::to_string(out->body.size()));
  }

  void run_lane(Lane& lane) {
    for (;;) {
      Capture capture;
      {
        std::unique_lock lock(lane.mutex);
        lane.changed.wait(lock, [&] { return lane.closing || !lane.queue.empty(); });
        if (lane.queue.empty()) return;
        capture = std::move(lane.queue.front());
        lane.queue.pop_front();
        lane.changed.notify_all();
      }
      DeliveryResult result;
      try {
        result = deliver(capture);
      } catch (const std::exception& e) {
        result = {ResultKind::failed, false, e.what(), 0};
      }
      reporter_.result(describe(capture), result);
    }
  }

  DeliveryResult deliver(const Capture& c) {
    std::string error;
    const auto out = prepare_outbound(c, options_.sign, error);
    if (!out) return {ResultKind::failed, false, error, 0};
    http::HttpClient& client = client_for(target_for(c));
    const auto headers = headers_for(c, *out);
    http::HttpResponse response;
    for (int attempt = 0;; ++attempt) {
      response = client.post(out->body, headers);
      if (!retryable(response.status) || attempt >= options_.retries) break;
      std::this_thread::sleep_for(retry_wait(response.retry_after, attempt));
    }
    return classify_response(response.status, response.body, response.error, c.verdict());
  }

  UrlSinkOptions options_;
  Reporter& reporter_;
  http::ParsedUrl base_;
  bool fixed_target_ = false;
  std::mutex clients_mutex_;
  std::map<std::string, std::unique_ptr<http::HttpClient>> clients_;  // GUARDED_BY(clients_mutex_)
  std::vector<std::unique_ptr<Lane>> lanes_;
};

// Lists what a run would send when there is no target (--dry-run alone).
class ListingSink final : public Sink {
 public:
  ListingSink(SignPlan sign, Reporter& reporter) : sign_(std::move(sign)), reporter_(reporter) {}
  void submit(Capture c) override {
    std::string error;
    const auto out = prepare_outbound(c, sign_, error);
    if (!out) {
      reporter_.result(describe(c), {ResultKind::failed, false, error, 0});
      return;
    }
    const std::string type = event_type_of(c);
    reporter_.dry_run_line(describe(c) + " source=" + (c.source.empty() ? "-" : c.source) +
                           " type=" + (type.empty() ? "-" : type) +
                           " verification=" + (c.verification.empty() ? "-" : c.verification) +
                           " signing=" + out->signing +
                           " bytes=" + std::to_string(out->body.size()));
  }
  void finish() override {}

 private:
  SignPlan sign_;
  Reporter& reporter_;
};

}  // namespace

DeliveryResult classify_response(unsigned status, const std::string& body, const std::string& error,
                                 Verdict verdict) {
  DeliveryResult r;
  if (status == 0) {
    r.kind = ResultKind::failed;
    r.detail = error.empty() ? std::string("no response") : error;
    return r;
  }
  const std::string state = json_member(body, "status");
  const std::string id = json_member(body, "eventId");
  if (!id.empty() &&
      std::all_of(id.begin(), id.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    r.event_id = std::stoll(id);
  }
  const std::string code = std::to_string(status);
  if (status >= 200 && status < 300) {
    r.kind = state == "duplicate"     ? ResultKind::duplicate
             : state == "quarantined" ? ResultKind::quarantined
                                      : ResultKind::accepted;
    if (state.empty()) r.detail = "HTTP " + code;  // not a webhook-receiver: any 2xx is taken
    return r;
  }
  const std::string reason = json_member(body, "error");
  r.detail = code + (reason.empty() ? std::string() : " " + reason);
  if (status == 400 && state == "quarantined") {  // malformed_reply: 400
    r.kind = ResultKind::quarantined;
    return r;
  }
  if (status == 400 || status == 401 || status == 413 || status == 415) {
    r.kind = ResultKind::rejected;
    r.expected = verdict == Verdict::not_verified;
    return r;
  }
  r.kind = ResultKind::failed;
  r.detail = "HTTP " + r.detail;
  return r;
}

std::string describe(const Capture& c) {
  std::string s = c.origin;
  if (!c.request_id.empty()) s += " request_id=" + c.request_id;
  return s;
}

std::unique_ptr<Sink> make_url_sink(UrlSinkOptions options, Reporter& reporter) {
  return std::make_unique<UrlSink>(std::move(options), reporter);
}

std::unique_ptr<Sink> make_listing_sink(SignPlan sign, Reporter& reporter) {
  return std::make_unique<ListingSink>(std::move(sign), reporter);
}

}  // namespace webhook::cli::replay
