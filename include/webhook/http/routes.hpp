#pragma once
// The HTTP contract in one place (DESIGN.md section 4): which path is what, and which status code
// and JSON body every outcome gets. Pure: no sockets, no Beast; the session converts.

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "webhook/core/outcome.hpp"

namespace webhook::http {

struct OutboundResponse {
  unsigned status = 200;
  std::string body;  // JSON (or Prometheus text later); never secrets or payloads
  std::string content_type = "application/json";
  std::optional<unsigned> retry_after_seconds;
  std::vector<std::pair<std::string, std::string>> headers;  // extra headers (Allow, ...)
  bool close = false;  // close the connection after it: every 400, 413 and 431
};

enum class RouteKind { webhook, healthz, readyz, metrics, not_found };

struct Route {
  RouteKind kind = RouteKind::not_found;
  std::size_t source = 0;  // index into the configured sources, for RouteKind::webhook
};

// Maps request targets (the query string ignored) to routes. Webhook paths are exact matches.
class Router {
 public:
  explicit Router(std::vector<std::string> source_paths);
  Route match(std::string_view target) const;

 private:
  std::vector<std::string> paths_;
};

// Seconds a 503 asks the platform to wait before retrying.
inline constexpr unsigned kRetryAfterSeconds = 5;

OutboundResponse to_response(const core::Outcome& outcome);
OutboundResponse method_not_allowed(std::string_view allow);
OutboundResponse not_found();
OutboundResponse payload_too_large(std::size_t limit_bytes);
OutboundResponse bad_request(std::string_view error);
OutboundResponse healthy();
// 200 {"status":"ready"} or 503 {"status":"not_ready","reason":...}.
// `details_json`: a JSON object (built by the app) added as "details" when not empty.
OutboundResponse readiness(bool ready, std::string_view reason, std::string_view details_json = {});
// 200 with the Prometheus text exposition.
OutboundResponse metrics_text(std::string text);

}  // namespace webhook::http
