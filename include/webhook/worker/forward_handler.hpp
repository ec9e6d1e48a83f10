#pragma once
// The "forward" handler: POSTs each event's raw payload to one configured internal URL.
//  1. Headers: Content-Type: application/json, X-Webhook-Event-Id (the inbox row id),
//     X-Webhook-Event-Type, X-Webhook-Source, and the Standard Webhooks trio webhook-id,
//     webhook-timestamp (clock seconds at send) and webhook-signature ("v1,<base64>" under the
//     forward secret, core/standard_webhooks.hpp), so the internal service can trust the call.
//  2. webhook-id is forward_message_id(event): stable per event, so every retry (and a redrive)
//     carries the same id and the downstream can dedup on it.
//  3. Results: 2xx = success; 5xx, 408, timeouts and connection/TLS errors = retryable; 429 =
//     retryable after Retry-After; any other status (3xx: redirects are not followed, 4xx) =
//     permanent unless retry_4xx. A Retry-After in seconds is honoured on every retryable
//     status (HTTP-date values are ignored).
// Thread-safe: one HttpClient with a small connection pool serves all workers.

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "webhook/core/clock.hpp"
#include "webhook/core/inbox.hpp"
#include "webhook/worker/handler.hpp"

namespace webhook::worker {

struct ForwardOptions {
  std::string url;     // http://host[:port]/path or https://...
  std::string secret;  // "whsec_<base64>" (decoded) or any other text (raw key bytes)
  std::chrono::milliseconds timeout{10000};         // writing the request + reading the response
  std::chrono::milliseconds connect_timeout{3000};  // resolve + connect + TLS handshake
  std::string ca_file;     // https: PEM trust anchors instead of the system store ("" = system)
  bool retry_4xx = false;  // treat 3xx/4xx (other than 408 and 429) as retryable
};

// One outbound POST: the body and the identity headers. The forward handler sends each event's
// raw payload; the reviews handler sends its operator notification through the same path.
struct ForwardMessage {
  std::string id;          // webhook-id: stable across retries, so the receiver can dedup
  std::string event_id;    // X-Webhook-Event-Id
  std::string event_type;  // X-Webhook-Event-Type
  std::string source;      // X-Webhook-Source
  std::string_view body;   // must outlive send()
};

// Signs and POSTs messages to one URL and classifies the answer (point 3 above). Thread-safe.
class Forwarder {
 public:
  virtual ~Forwarder() = default;
  virtual HandlerResult send(const ForwardMessage& message) = 0;
};

// As make_forward_handler (same validation and exceptions).
std::unique_ptr<Forwarder> make_forwarder(ForwardOptions options, const core::Clock& clock);

// Throws std::invalid_argument for a bad URL, an empty or undecodable secret, a non-positive
// timeout or an unreadable ca_file (messages never contain the URL or the secret). `clock` must
// outlive the handler. One call takes at most connect_timeout + timeout, twice when a pooled
// connection turns out to be closed by the peer and a fresh one is tried.
std::unique_ptr<Handler> make_forward_handler(ForwardOptions options, const core::Clock& clock);

// "evt_<source>_<event id>", the source reduced to [A-Za-z0-9_-] (others become '-'): the
// spec wants no '.' in the id, since it is part of the signed content.
std::string forward_message_id(const core::StoredEvent& event);
// `prefix` + "_" + source reduced as above + "_" + `id` (message ids of other senders).
std::string message_id(std::string_view prefix, std::string_view source, std::int64_t id);

// A Retry-After value in delta-seconds (surrounding spaces allowed), capped at one day; nullopt
// for anything else (empty, negative, an HTTP-date, garbage).
std::optional<std::chrono::milliseconds> parse_retry_after(std::string_view value);

}  // namespace webhook::worker
