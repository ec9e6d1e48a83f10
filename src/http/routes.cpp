// Every status code the receiver answers is chosen in this file.
#include "webhook/http/routes.hpp"

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

namespace webhook::http {
namespace {

// {"<key>":"<value>"[,"eventId":N]} with proper escaping.
std::string json_object(std::string_view key, std::string_view value,
                        std::optional<std::int64_t> event_id = std::nullopt,
                        std::optional<std::pair<std::string_view, std::string_view>> extra = {}) {
  rapidjson::StringBuffer buffer;
  rapidjson::Writer<rapidjson::StringBuffer> w(buffer);
  w.StartObject();
  w.Key(key.data(), static_cast<rapidjson::SizeType>(key.size()));
  w.String(value.data(), static_cast<rapidjson::SizeType>(value.size()));
  if (event_id) {
    w.Key("eventId");
    w.Int64(*event_id);
  }
  if (extra) {
    w.Key(extra->first.data(), static_cast<rapidjson::SizeType>(extra->first.size()));
    w.String(extra->second.data(), static_cast<rapidjson::SizeType>(extra->second.size()));
  }
  w.EndObject();
  return {buffer.GetString(), buffer.GetSize()};
}

OutboundResponse json(unsigned status, std::string body) {
  OutboundResponse r;
  r.status = status;
  r.body = std::move(body);
  // After a 400 or 413 the rest of the bytes cannot be trusted to start a request (RFC 9112
  // section 6.3): the connection closes. 431 is made from a 400 and keeps this.
  r.close = status == 400 || status == 413;
  return r;
}

}  // namespace

Router::Router(std::vector<std::string> source_paths) : paths_(std::move(source_paths)) {}

Route Router::match(std::string_view target) const {
  const std::string_view path = target.substr(0, target.find('?'));
  for (std::size_t i = 0; i < paths_.size(); ++i) {
    if (path == paths_[i]) return {RouteKind::webhook, i};
  }
  if (path == "/healthz") return {RouteKind::healthz, 0};
  if (path == "/readyz") return {RouteKind::readyz, 0};
  if (path == "/metrics") return {RouteKind::metrics, 0};
  return {RouteKind::not_found, 0};
}

OutboundResponse to_response(const core::Outcome& outcome) {
  struct Map {
    OutboundResponse operator()(const core::Accepted& a) const {
      return json(200, json_object("status", "accepted", a.event_id));
    }
    OutboundResponse operator()(const core::Duplicate& d) const {
      return json(200, json_object("status", "duplicate", d.event_id));
    }
    OutboundResponse operator()(const core::Quarantined& q) const {
      if (q.reply_400) {
        return json(400, json_object("error", "unusable_payload", q.event_id,
                                     std::pair{"status", "quarantined"}));
      }
      return json(200, json_object("status", "quarantined", q.event_id));
    }
    OutboundResponse operator()(const core::Rejected& r) const {
      switch (r.reason) {
        case core::Rejected::Reason::invalid_signature:
          return json(401, json_object("error", "invalid_signature"));
        case core::Rejected::Reason::malformed_json:
          return json(400, json_object("error", "malformed_json"));
        case core::Rejected::Reason::too_large:
          break;
      }
      return payload_too_large(0);
    }
    OutboundResponse operator()(const core::Unavailable& u) const {
      OutboundResponse resp = json(503, json_object("error", core::to_string(u.reason)));
      resp.retry_after_seconds = kRetryAfterSeconds;
      return resp;
    }
  };
  return std::visit(Map{}, outcome);
}

OutboundResponse method_not_allowed(std::string_view allow) {
  OutboundResponse r = json(405, json_object("error", "method_not_allowed"));
  r.headers.emplace_back("Allow", std::string(allow));
  return r;
}

OutboundResponse not_found() { return json(404, json_object("error", "not_found")); }

OutboundResponse payload_too_large(std::size_t limit_bytes) {
  const std::string limit = std::to_string(limit_bytes);
  OutboundResponse r =
      limit_bytes == 0 ? json(413, json_object("error", "payload_too_large"))
                       : json(413, json_object("error", "payload_too_large", std::nullopt,
                                               std::pair{"limit_bytes", std::string_view(limit)}));
  return r;  // closes: the rest of the body is never read
}

OutboundResponse bad_request(std::string_view error) {
  return json(400, json_object("error", error));
}

OutboundResponse healthy() { return json(200, json_object("status", "ok")); }

OutboundResponse readiness(bool ready, std::string_view reason, std::string_view details_json) {
  rapidjson::StringBuffer buffer;
  rapidjson::Writer<rapidjson::StringBuffer> w(buffer);
  w.StartObject();
  w.Key("status");
  w.String(ready ? "ready" : "not_ready");
  if (!ready) {
    w.Key("reason");
    w.String(reason.data(), static_cast<rapidjson::SizeType>(reason.size()));
  }
  if (!details_json.empty()) {
    w.Key("details");
    w.RawValue(details_json.data(), details_json.size(), rapidjson::kObjectType);
  }
  w.EndObject();
  OutboundResponse r = json(ready ? 200 : 503, {buffer.GetString(), buffer.GetSize()});
  if (!ready) r.retry_after_seconds = kRetryAfterSeconds;
  return r;
}

OutboundResponse metrics_text(std::string text) {
  OutboundResponse r;
  r.status = 200;
  r.body = std::move(text);
  r.content_type = "text/plain; version=0.0.4; charset=utf-8";
  return r;
}

}  // namespace webhook::http
