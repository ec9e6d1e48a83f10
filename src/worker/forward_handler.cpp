// The "forward" handler (see the header for the contract).

#include "webhook/worker/forward_handler.hpp"

#include <charconv>
#include <exception>
#include <stdexcept>

#include "webhook/core/standard_webhooks.hpp"
#include "webhook/http/client.hpp"

namespace webhook::worker {
namespace {

constexpr std::size_t kMaxBodyInError = 200;
constexpr std::uint64_t kMaxRetryAfterSeconds = 24 * 60 * 60;

// Header-safe text: control characters (CR and LF above all) become '?'. Event types come from
// the payload, so they are untrusted.
std::string header_value(std::string_view s) {
  std::string out(s);
  for (auto& c : out) {
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7f) c = '?';
  }
  return out;
}

// The start of a response body for last_error: printable ASCII only, short.
std::string body_excerpt(std::string_view body) {
  std::string out;
  for (const char c : body.substr(0, kMaxBodyInError)) {
    const auto u = static_cast<unsigned char>(c);
    out.push_back(u >= 0x20 && u < 0x7f ? c : ' ');
  }
  const auto last = out.find_last_not_of(' ');
  out.erase(last == std::string::npos ? 0 : last + 1);
  return out;
}

std::int64_t floor_seconds(std::int64_t ms) { return ms >= 0 ? ms / 1000 : -((999 - ms) / 1000); }

class HttpForwarder final : public Forwarder {
 public:
  HttpForwarder(const ForwardOptions& options, http::ParsedUrl url, const core::Clock& clock)
      : secret_(options.secret),
        retry_4xx_(options.retry_4xx),
        clock_(clock),
        client_(std::move(url), client_options(options)) {}

  HandlerResult send(const ForwardMessage& m) override {
    try {
      const std::int64_t timestamp = floor_seconds(clock_.now_ms());
      const http::HttpHeaders headers = {
          {"Content-Type", "application/json"},
          {"X-Webhook-Event-Id", header_value(m.event_id)},
          {"X-Webhook-Event-Type", header_value(m.event_type)},
          {"X-Webhook-Source", header_value(m.source)},
          {std::string(core::kStandardWebhooksIdHeader), m.id},
          {std::string(core::kStandardWebhooksTimestampHeader), std::to_string(timestamp)},
          {std::string(core::kStandardWebhooksSignatureHeader),
           core::standard_webhooks_signature(secret_, m.id, timestamp, m.body)},
      };
      return classify(client_.post(m.body, headers));
    } catch (const std::exception& e) {
      return HandlerResult::retry(std::string("forward: ") + e.what());
    }
  }

 private:
  static http::HttpClientOptions client_options(const ForwardOptions& o) {
    http::HttpClientOptions c;
    c.connect_timeout = o.connect_timeout;
    c.response_timeout = o.timeout;
    c.ca_file = o.ca_file;
    return c;
  }

  HandlerResult classify(const http::HttpResponse& res) const {
    if (res.status == 0) return HandlerResult::retry("forward: " + res.error);
    if (res.status >= 200 && res.status < 300) return HandlerResult::success();
    std::string why = "forward: HTTP " + std::to_string(res.status);
    if (const std::string excerpt = body_excerpt(res.body); !excerpt.empty()) {
      why += ": " + excerpt;
    }
    const bool transient =
        res.status >= 500 || res.status == 429 || res.status == 408 || retry_4xx_;
    if (!transient) return HandlerResult::fail(std::move(why));
    return HandlerResult::retry(std::move(why), parse_retry_after(res.retry_after));
  }

  const std::string secret_;
  const bool retry_4xx_;
  const core::Clock& clock_;
  http::HttpClient client_;
};

// Forwards each event's raw payload under its stable message id.
class ForwardHandler final : public Handler {
 public:
  explicit ForwardHandler(std::unique_ptr<Forwarder> forwarder)
      : forwarder_(std::move(forwarder)) {}

  HandlerResult handle(const core::StoredEvent& event) override {
    return forwarder_->send({forward_message_id(event), std::to_string(event.id), event.event_type,
                             event.key.source, event.body});
  }

 private:
  std::unique_ptr<Forwarder> forwarder_;
};

}  // namespace

std::string message_id(std::string_view prefix, std::string_view source, std::int64_t id) {
  std::string out(prefix);
  out += '_';
  for (const char c : source) {
    const bool keep = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                      c == '_' || c == '-';
    out += keep ? c : '-';
  }
  return out + "_" + std::to_string(id);
}

std::string forward_message_id(const core::StoredEvent& event) {
  return message_id("evt", event.key.source, event.id);
}

std::optional<std::chrono::milliseconds> parse_retry_after(std::string_view value) {
  const auto first = value.find_first_not_of(" \t");
  if (first == std::string_view::npos) return std::nullopt;
  value = value.substr(first, value.find_last_not_of(" \t") - first + 1);
  std::uint64_t seconds = 0;
  const char* end = value.data() + value.size();
  const auto [ptr, ec] = std::from_chars(value.data(), end, seconds);
  if (ptr != end || (ec != std::errc() && ec != std::errc::result_out_of_range)) {
    return std::nullopt;
  }
  if (ec == std::errc::result_out_of_range || seconds > kMaxRetryAfterSeconds) {
    seconds = kMaxRetryAfterSeconds;
  }
  return std::chrono::seconds(seconds);
}

std::unique_ptr<Forwarder> make_forwarder(ForwardOptions options, const core::Clock& clock) {
  auto url = http::parse_url(options.url);
  if (!url) {
    throw std::invalid_argument(
        "forward handler: url must be http://host[:port]/path or https://host[:port]/path");
  }
  if (options.secret.empty()) throw std::invalid_argument("forward handler: secret is empty");
  if (!core::standard_webhooks_key(options.secret)) {
    throw std::invalid_argument("forward handler: a whsec_ secret must be base64 after the prefix");
  }
  if (options.timeout <= std::chrono::milliseconds::zero() ||
      options.connect_timeout <= std::chrono::milliseconds::zero()) {
    throw std::invalid_argument("forward handler: timeouts must be positive");
  }
  try {
    return std::make_unique<HttpForwarder>(options, std::move(*url), clock);
  } catch (const std::invalid_argument& e) {
    throw std::invalid_argument(std::string("forward handler: ") + e.what());
  }
}

std::unique_ptr<Handler> make_forward_handler(ForwardOptions options, const core::Clock& clock) {
  return std::make_unique<ForwardHandler>(make_forwarder(std::move(options), clock));
}

}  // namespace webhook::worker
