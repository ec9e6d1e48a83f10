// `replay --into DB`: each delivery goes through core::ingest() as an HTTP POST would (same
// verification, same envelope rules, same quarantine) and is stored with
// SqliteInbox::store_batch() (same dedup), many deliveries per transaction.
//
// Verification keys, in order of precedence:
//  --config FILE  the configured source of the same name (--as-source to pick another): its
//                 keys, scheme policy, allow_unsigned, dedup policy and body limit;
//  --secret ...   an ad-hoc source with these keys (rotation order) and default policies;
//  neither        trust the capture: only deliveries the source recorded as verified (or
//                 accepted unsigned) are stored, and as unsigned (scheme none, key_slot -1),
//                 because nothing was verified here. Nothing is ever stored as verified unless a
//                 key verified it in this run.
#include <algorithm>
#include <chrono>
#include <map>
#include <optional>

#include "cli/replay_sinks.hpp"
#include "webhook/core/ingest.hpp"
#include "webhook/core/signature.hpp"
#include "webhook/storage/database.hpp"
#include "webhook/storage/sqlite_inbox.hpp"

namespace webhook::cli::replay {
namespace {

constexpr std::size_t kDefaultMaxBody = 1048576;  // server.max_body_bytes default

bool safe_request_id(std::string_view id) {
  if (id.empty() || id.size() > 128) return false;
  for (const char c : id) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '-' || c == '_' || c == '.' || c == ':';
    if (!ok) return false;
  }
  return true;
}

std::int64_t unix_ms_now() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

bool encoded(const Capture& c) {
  for (const auto& value : c.header_values("Content-Encoding")) {
    std::string lower;
    for (const char ch : value)
      lower.push_back(ch >= 'A' && ch <= 'Z' ? static_cast<char>(ch + 32) : ch);
    if (lower != "identity" && !lower.empty()) return true;
  }
  return false;
}

class DatabaseSink final : public Sink {
 public:
  DatabaseSink(DatabaseSinkOptions options, Reporter& reporter)
      : options_(std::move(options)), reporter_(reporter) {
    if (options_.config) max_body_ = options_.config->server.max_body_bytes;
    if (options_.batch == 0) options_.batch = 1;
    if (options_.dry_run) return;
    auto db = storage::Database::open(options_.path);
    db.migrate(storage::embedded_migrations());
    inbox_ = std::make_unique<storage::SqliteInbox>(std::move(db));
  }
  ~DatabaseSink() override = default;

  void submit(Capture capture) override {
    const std::string what = describe(capture);
    const Verdict verdict = capture.verdict();
    const bool expected = verdict == Verdict::not_verified;
    auto reject = [&](std::string why) {
      if (options_.dry_run) {
        reporter_.dry_run_line("would reject " + what + ": " + why);
      } else {
        report_decided(what, {ResultKind::rejected, expected, std::move(why), 0});
      }
    };
    auto fail = [&](std::string why) {
      report_decided(what, {ResultKind::failed, false, std::move(why), 0});
    };

    const std::string name = !options_.as_source.empty() ? options_.as_source
                             : !capture.source.empty()   ? capture.source
                                                         : default_source();
    const core::SourceSpec* spec = spec_for(name);
    if (spec == nullptr) {
      return fail("no source named '" + name + "' in the configuration (see --as-source)");
    }
    std::string error;
    auto out = prepare_outbound(capture, options_.sign, error);
    if (!out) return fail(error);
    if (encoded(capture)) return reject("415 unsupported_content_encoding");
    if (out->body.size() > max_body_) return reject("413 payload_too_large");
    if (trust_capture() && verdict != Verdict::verified && verdict != Verdict::unsigned_allowed) {
      return reject("no --config or --secret to verify it here");
    }

    std::vector<std::string_view> signatures;
    if (!trust_capture()) {
      signatures.assign(out->signature_headers.begin(), out->signature_headers.end());
    }
    const std::string request_id =
        safe_request_id(capture.request_id)
            ? capture.request_id
            : "replay-" + std::to_string(started_ms_) + "-" + std::to_string(++sequence_);
    const std::int64_t received_at = options_.original_time && capture.received_at_ms >= 0
                                         ? capture.received_at_ms
                                         : unix_ms_now();
    auto decision =
        core::ingest(*spec, core::RawDelivery{out->body, signatures, request_id, received_at});
    switch (decision.kind) {
      case core::IngestDecision::Kind::reject_signature:
        return reject("401 invalid_signature (" +
                      std::string(core::to_string(decision.verification.status)) + ")");
      case core::IngestDecision::Kind::reject_malformed_json:
        return reject("400 malformed_json");
      case core::IngestDecision::Kind::store:
        break;
    }
    core::Delivery& d = *decision.delivery;
    if (options_.dry_run) {
      reporter_.dry_run_line(
          "would store " + what + " into " + options_.path + " source=" + d.key.source +
          " type=" + (d.event_type.empty() ? "-" : d.event_type) +
          (d.quarantined ? " quarantined=" + d.quarantine_reason : std::string()) +
          " scheme=" + std::string(core::to_string(d.scheme)) +
          " key_slot=" + std::to_string(d.key_slot) + " signing=" + out->signing);
      return;
    }
    items_.push_back({what, std::nullopt, batch_.size()});
    batch_.push_back(std::move(d));
    if (batch_.size() >= options_.batch) flush();
  }

  void flush() override {
    if (items_.empty()) return;
    const auto results = inbox_->store_batch(batch_);
    for (const Item& item : items_) {
      if (item.decided) {
        reporter_.result(item.what, *item.decided);
        continue;
      }
      const std::size_t i = item.index;
      const core::StoreResult r =
          i < results.size() ? results[i] : core::StoreResult::failed("no result");
      DeliveryResult out;
      out.event_id = r.event_id;
      switch (r.kind) {
        case core::StoreResult::Kind::inserted:
          out.kind = batch_[i].quarantined ? ResultKind::quarantined : ResultKind::accepted;
          if (batch_[i].quarantined) out.detail = batch_[i].quarantine_reason;
          break;
        case core::StoreResult::Kind::duplicate:
          out.kind = ResultKind::duplicate;
          break;
        case core::StoreResult::Kind::failed:
          out.kind = ResultKind::failed;
          out.detail = "storage: " + r.error;
          break;
      }
      reporter_.result(item.what, out);
    }
    items_.clear();
    batch_.clear();
  }

  void finish() override { flush(); }

 private:
  bool trust_capture() const { return !options_.config && options_.keys.empty(); }

  std::string default_source() const {
    if (options_.config && !options_.config->sources.empty()) {
      return options_.config->sources.front().name;
    }
    return "production";
  }

  // The ingest view of source `name`, or nullptr when the configuration has no such source.
  const core::SourceSpec* spec_for(const std::string& name) {
    if (auto it = specs_.find(name); it != specs_.end()) return &it->second;
    core::SourceSpec spec;
    if (options_.config) {
      const auto& sources = options_.config->sources;
      const auto found = std::find_if(sources.begin(), sources.end(),
                                      [&](const app::SourceConfig& s) { return s.name == name; });
      if (found == sources.end()) return nullptr;
      spec = app::to_source_spec(*found);
    } else {
      spec.name = name;
      spec.keys = options_.keys;
      if (trust_capture()) {
        // No signature is looked at (the header scheme with no header): only allow_unsigned
        // lets it through, so it is stored exactly like an unsigned delivery.
        spec.verify.scheme = core::SchemeSetting::header;
        spec.allow_unsigned = true;
      }
    }
    return &specs_.emplace(name, std::move(spec)).first->second;
  }

  DatabaseSinkOptions options_;
  Reporter& reporter_;
  std::unique_ptr<storage::SqliteInbox> inbox_;
  std::size_t max_body_ = kDefaultMaxBody;
  std::map<std::string, core::SourceSpec> specs_;
  // What was submitted since the last flush, in order: decided at once (rejected, failed) or
  // waiting for its place in `batch_`. Results are reported in submission order.
  struct Item {
    std::string what;
    std::optional<DeliveryResult> decided;
    std::size_t index = 0;  // into batch_ when not decided
  };
  void report_decided(const std::string& what, DeliveryResult result) {
    if (items_.empty()) {
      reporter_.result(what, result);
      return;
    }
    items_.push_back({what, std::move(result), 0});
    if (items_.size() >= options_.batch) flush();
  }
  std::vector<Item> items_;
  std::vector<core::Delivery> batch_;
  const std::int64_t started_ms_ = unix_ms_now();
  std::uint64_t sequence_ = 0;
};

}  // namespace

std::unique_ptr<Sink> make_database_sink(DatabaseSinkOptions options, Reporter& reporter) {
  return std::make_unique<DatabaseSink>(std::move(options), reporter);
}

}  // namespace webhook::cli::replay
