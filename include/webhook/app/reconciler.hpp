#pragma once
// Reconciler: re-reads from the Conomy API what webhooks may have missed (issue 14;
// docs/reconciliation.md), and applies what it finds through the projection rules.
//  1. A pass picks, for each source with an API client: payments awaiting settlement for longer
//     than settlement_overdue_ms, open reviews, and customers whose record is older than
//     customer_max_age_ms. Never-checked entities come first, then the longest unchecked; one
//     checked less than recheck_after_ms ago is skipped. The three kinds take turns, so one
//     cannot starve the others, until the pass's budget of API requests is spent.
//     A target (the `reconcile` command's --transaction, --customer, --since) replaces that
//     choice with the entities it names.
//  2. Each is read once (GET /payments/{id} for a payment or a review, GET /customers/{id}) and
//     judged by core/reconcile.hpp: none, missed_event, state_differs, not_found, failed.
//  3. A missed event is recorded through `record` as one WorkKind::observed item: the API's
//     answer becomes an event (origin api) and its projection changes commit with it. In `serve`
//     `record` is the writer (the one write path); in the CLI, the inbox's own transaction. A dry
//     run records nothing and reports what it would change.
//  4. Each check is reported to `on_check` (metrics) and findings are logged at warn; a missed
//     settlement is one line, "reconcile: settlement webhook never arrived", with the traceId.
// One pass at a time per object (run_pass() is not reentrant); the clients may be shared.

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "webhook/app/config.hpp"
#include "webhook/core/clock.hpp"
#include "webhook/core/reconcile.hpp"
#include "webhook/core/work.hpp"
#include "webhook/http/conomy_client.hpp"
#include "webhook/storage/database.hpp"
#include "webhook/storage/projection_queries.hpp"

namespace webhook::app {

struct ReconcilerOptions {
  std::int64_t settlement_overdue_ms = 86400000;  // monitoring.settlement_overdue_ms
  std::int64_t customer_max_age_ms = 86400000;    // 0: customers are not checked
  std::int64_t recheck_after_ms = 3600000;
  // API GET requests per source per pass (retries count); a pass stops choosing once spent.
  std::int64_t max_requests_per_pass = 300;
  // Wait between two checks of a source (60 s / max_calls_per_minute in serve; 0 in the CLI).
  std::chrono::milliseconds pace{0};
};

// What to check instead of the pass's own choice (the `reconcile` command).
struct ReconcileTarget {
  std::optional<std::string> source;          // only this source
  std::optional<std::string> transaction_id;  // this payment (and its review when open)
  std::optional<std::string> customer_id;     // this customer
  // Every payment not settled or otherwise final, every open review and every customer seen at
  // or after this time; no age bounds, no recheck skip.
  std::optional<std::int64_t> since_ms;
  bool dry_run = false;
  bool empty() const { return !transaction_id && !customer_id && !since_ms; }
};

// One entity re-read from the API.
struct CheckResult {
  std::string source;
  core::CheckKind kind = core::CheckKind::payment;
  std::string entity_id;
  core::Finding finding = core::Finding::none;
  std::string known;          // the projection's status / level ("" when never seen)
  std::string api;            // the API's status / level ("" when not found or failed)
  std::string trace_id;       // of the API's answer
  std::string error;          // failed: why; not found: the API's message
  std::int64_t event_id = 0;  // the event that recorded the answer (0: none)
  bool applied = false;       // the answer changed the projection (never in a dry run)
};

struct PassReport {
  std::vector<CheckResult> checks;
  std::int64_t api_requests = 0;  // GET requests sent (retries included)
  bool budget_spent = false;      // a source stopped choosing because its budget ran out
  double seconds = 0.0;
  // Anything found or failed: the `reconcile` command's exit status 1.
  bool anything_found() const;
};

class Reconciler {
 public:
  struct Source {
    std::string name;
    http::ConomyApiClient* client = nullptr;  // outlives the Reconciler
  };
  // Records an observed item; nullopt when it could not be committed.
  using Record = std::function<std::optional<core::WorkRecorded>(core::WorkItem)>;
  using OnCheck = std::function<void(const CheckResult&)>;
  // Waits between checks; false: stop now (the service is stopping).
  using Wait = std::function<bool(std::chrono::milliseconds)>;

  // `reader` reads the projections (a WAL reader in serve; the CLI's own connection); it and
  // `clock` must outlive the Reconciler.
  Reconciler(std::vector<Source> sources, storage::Database& reader, Record record,
             const core::Clock& clock, ReconcilerOptions options, OnCheck on_check = {});

  // One pass (see the header comment). Throws StorageError when the projections cannot be
  // read; an API failure is a `failed` check, never an exception.
  PassReport run_pass(const ReconcileTarget& target = {}, const Wait& wait = {});

  const std::vector<Source>& sources() const { return sources_; }

 private:
  struct Candidate;
  // Both read through the pass's one `queries` (over reader_).
  std::vector<Candidate> choose(storage::ProjectionReader& queries, const Source& source,
                                const ReconcileTarget& target, std::int64_t now_ms);
  void check(storage::ProjectionReader& queries, const Source& source, const Candidate& c,
             const ReconcileTarget& target, PassReport& report);

  std::vector<Source> sources_;
  storage::Database& reader_;
  Record record_;
  const core::Clock& clock_;
  ReconcilerOptions options_;
  OnCheck on_check_;
  // "<source>\n<kind>\n<id>" -> when it was last checked (this process's memory: a restart
  // checks again, which costs one request each).
  std::map<std::string, std::int64_t> checked_at_;
};

// The API clients of the sources with an `api` (none: reconciliation has nothing to do), and
// the Reconciler's view of them. `sleeper` waits between an API call's retries.
struct ApiClients {
  std::vector<std::unique_ptr<http::ConomyApiClient>> owned;
  std::vector<Reconciler::Source> sources;
};
ApiClients make_api_clients(const Config& config, const core::Clock& clock,
                            http::Sleeper sleeper = http::real_sleeper());

// The options of the background passes: the budget is reconcile.max_calls_per_minute for one
// reconcile.interval_ms, spent at an even pace (one check every 60 s / max_calls_per_minute).
ReconcilerOptions reconciler_options(const Config& config);

}  // namespace webhook::app
