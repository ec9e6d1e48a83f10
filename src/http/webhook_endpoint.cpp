// The webhook POST path:
//  1. ingest() decides (verify, parse, dedup key) without I/O;
//  2. the payload log gets the raw delivery and the verdict, verified or not (a delivery for the
//     inbox carries its line to the writer, which writes a batch's lines at once before its
//     commit; any other is written here);
//  3. a rejected delivery is answered at once and never reaches the inbox;
//  4. a stored one is answered only once the writer's transaction has committed, or 503 when
//     the ack budget runs out first.
#include <chrono>

#include "http/server_impl.hpp"
#include "webhook/core/work.hpp"
#include "webhook/log/log.hpp"
#include "webhook/storage/payload_log.hpp"

namespace webhook::http {
namespace {

// Headers kept in the payload log (never Authorization or cookies).
constexpr std::string_view kLoggedHeaders[] = {
    "Content-Type", "Content-Encoding", "User-Agent", "X-Webhook-Signature",
    "X-Request-Id", "X-Forwarded-For",  "X-Real-IP",  "X-Forwarded-Proto",
};

std::int64_t unix_ms_now() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string_view verdict(const core::IngestDecision& d) {
  if (d.verification.ok()) return "verified";
  if (d.kind == core::IngestDecision::Kind::store) return "unsigned_allowed";
  return core::to_string(d.verification.status);
}

// Shared between a waiting session and the writer's completion; lives on the session's strand.
struct AckWait {
  explicit AckWait(const net::any_io_executor& ex) : timer(ex) {}
  net::steady_timer timer;
  std::optional<core::StoreResult> result;
};

}  // namespace

net::awaitable<core::Outcome> Server::Impl::store(core::Delivery delivery,
                                                  bool malformed_reply_400) {
  using core::Unavailable;
  auto wait = std::make_shared<AckWait>(co_await net::this_coro::executor);
  wait->timer.expires_after(options.ack_budget);
  const bool quarantined = delivery.quarantined;
  // The completion runs on the writer thread: it only posts the result to our strand.
  const bool queued = writer.submit(std::move(delivery), [wait](const core::StoreResult& r) {
    net::post(wait->timer.get_executor(), [wait, r] {
      wait->result = r;
      wait->timer.cancel();
    });
  });
  if (!queued) {
    co_return Unavailable{stopping ? Unavailable::Reason::shutting_down
                                   : Unavailable::Reason::overloaded};
  }
  // Either the commit cancels the timer, or the budget expires first.
  co_await wait->timer.async_wait(net::as_tuple(net::use_awaitable));
  if (!wait->result) co_return Unavailable{Unavailable::Reason::ack_budget_exceeded};
  co_return core::to_outcome(quarantined, *wait->result, malformed_reply_400);
}

net::awaitable<OutboundResponse> Server::Impl::handle_webhook(const core::SourceSpec& source,
                                                              const Request& req,
                                                              const RequestContext& ctx) {
  const std::int64_t received_at = unix_ms_now();
  const auto request_started = std::chrono::steady_clock::now();
  // Reports the result to the metrics hook; ack time only for deliveries that reached the inbox.
  auto report = [&](std::string_view result, bool stored) {
    if (!hooks.on_delivery) return;
    const double seconds =
        stored ? std::chrono::duration<double>(std::chrono::steady_clock::now() - request_started)
                     .count()
               : -1.0;
    hooks.on_delivery(source.name, result, seconds);
  };
  const std::string_view body = req.body();

  // An encoded body cannot be verified reliably (which bytes were signed is undocumented).
  const auto encoding = req[bhttp::field::content_encoding];
  const bool encoded = !encoding.empty() && !beast::iequals(encoding, "identity");

  std::vector<std::string_view> signatures;
  for (const auto& field : req) {
    if (beast::iequals(field.name_string(), core::kSignatureHeader)) {
      signatures.push_back(field.value());
    }
  }
  core::IngestDecision decision;
  if (!encoded) {
    decision =
        core::ingest(source, core::RawDelivery{body, signatures, ctx.request_id, received_at});
  }

  storage::PayloadRecord record;
  record.received_at_ms = received_at;
  record.source = source.name;
  record.request_id = ctx.request_id;
  record.remote_address = ctx.remote;
  record.method = req.method_string();
  record.target = req.target();
  for (std::string_view name : kLoggedHeaders) {
    for (const auto& field : req) {
      if (beast::iequals(field.name_string(), name)) {
        record.headers.emplace_back(field.name_string(), field.value());
      }
    }
  }
  record.verification = encoded ? std::string_view("content_encoded") : verdict(decision);
  record.scheme = core::to_string(decision.verification.scheme);
  record.candidate = core::to_string(decision.verification.candidate);
  record.key_slot = decision.verification.key_slot;
  record.body = body;
  const bool to_inbox = !encoded && decision.kind == core::IngestDecision::Kind::store &&
                        storage::goes_to_inbox(record.verification);
  if (to_inbox) {
    decision.delivery->payload_log_line = payload_log.verified_line(record);
  } else {
    payload_log.append(record);
  }

  log::Fields fields{.request_id = ctx.request_id, .source = source.name, .remote = ctx.remote};
  if (encoded) {
    log::warn("rejected: content encoding is not supported", fields);
    report("malformed", false);
    OutboundResponse r = bad_request("unsupported_content_encoding");
    r.status = 415;
    co_return r;
  }
  switch (decision.kind) {
    case core::IngestDecision::Kind::reject_signature: {
      fields.result = "invalid_signature";
      fields.detail = core::to_string(decision.verification.status);
      log::warn("rejected: signature not verified", fields);
      report("invalid_signature", false);
      co_return to_response(core::Rejected{core::Rejected::Reason::invalid_signature});
    }
    case core::IngestDecision::Kind::reject_malformed_json:
      fields.result = "malformed";
      log::warn("rejected: body is not a JSON object", fields);
      report("malformed", false);
      co_return to_response(core::Rejected{core::Rejected::Reason::malformed_json});
    case core::IngestDecision::Kind::store:
      break;
  }

  core::Delivery& delivery = *decision.delivery;
  const std::string event_type = delivery.event_type;
  const std::string entity_id = delivery.entity_id;
  const core::Scheme scheme = delivery.scheme;
  const core::BodyCandidate candidate = delivery.candidate;
  const int key_slot = delivery.key_slot;
  const std::string quarantine_reason = delivery.quarantine_reason;
  const core::Outcome outcome = co_await store(std::move(delivery), source.malformed_reply_400);

  fields.event_type = event_type;
  fields.entity_id = entity_id;
  fields.result = core::result_label(outcome);
  report(fields.result, !std::holds_alternative<core::Unavailable>(outcome));
  if (const auto* a = std::get_if<core::Accepted>(&outcome)) fields.event_id = a->event_id;
  if (const auto* d = std::get_if<core::Duplicate>(&outcome)) fields.event_id = d->event_id;
  if (const auto* q = std::get_if<core::Quarantined>(&outcome)) fields.event_id = q->event_id;
  if (const auto* u = std::get_if<core::Unavailable>(&outcome)) {
    fields.detail = core::to_string(u->reason);
    log::error("not acknowledged: delivery not durable", fields);
  } else if (log::enabled(log::Level::info)) {
    // Which scheme, candidate and key slot verified it (never the key itself).
    const std::string verified_by =
        "scheme=" + std::string(core::to_string(scheme)) +
        " candidate=" + std::string(core::to_string(candidate)) +
        " key_slot=" + std::to_string(key_slot) +
        (quarantine_reason.empty() ? "" : " quarantine_reason=" + quarantine_reason);
    fields.detail = verified_by;
    log::info("delivery acknowledged", fields);
  }
  co_return to_response(outcome);
}

}  // namespace webhook::http
