#pragma once
// ProjectionQueries: the read side of the projections (migrations/0003_projections.sql) and the
// source comparison, for the operator commands (`payments show`, `reviews list|show`,
// `customers show`, `compare`; docs/operator-commands.md).
//  1. The constructor checks that the projection tables exist (a database not migrated to 0003
//     is refused with a StorageError that says to run `webhook-receiver migrate`).
//  2. Each query is one or a few SELECTs that walk an index: look-ups by id without a source
//     enumerate the sources with index seeks (a skip-scan), `reviews` walk reviews_by_state,
//     `compare` reads one receipt-time range of events_received_at.
//  3. Results are plain structs; strings are kept as stored ("" for NULL), amounts and ids
//     stay strings, times are epoch milliseconds.
// Read-only: nothing here writes. Same thread rules as the Database; the Database must outlive
// the object. SQLite errors throw StorageError.

#include <array>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "webhook/storage/database.hpp"

namespace webhook::storage {

// ---- payments ---------------------------------------------------------------------------------

struct PaymentRow {
  std::string source;
  std::string transaction_id;
  std::string status;                        // "" while no event with a status has arrived
  std::optional<std::int64_t> status_at_ms;  // event time of the event that set it
  std::int64_t status_event_id = 0;
  std::string external_id;
  std::string type;
  std::string total_amount;
  std::string currency;
  std::string customer_id;
  std::string parent_payment_id;
  std::string related_payment_id;
  std::string settlement_batch_id;
  std::string documentation_status;
  std::string settled_at;  // ISO strings, as sent
  std::string expired_at;
  std::string unsettled_at;
  std::string unsettled_reason;
  std::optional<std::int64_t> captured_at_ms;
  std::int64_t first_seen_ms = 0;
  std::int64_t last_seen_ms = 0;
  std::optional<std::int64_t> latest_at_ms;  // the latest event time applied (decide_status)
  std::string status_origin = "webhook";     // of the status: webhook | api (reconciliation)
};

struct PaymentHistoryEntry {
  std::int64_t event_id = 0;
  std::string event_type;
  std::string status;  // as the event reported it ("" when it had none)
  std::optional<std::int64_t> occurred_at_ms;
  std::int64_t received_at_ms = 0;
  std::string effect;  // applied | stale | terminal_kept | no_status
  std::string origin;  // webhook | api (a reconciliation answer, event type api.payment)
};

// One transaction of one source with what is linked to it (all within the same source).
struct PaymentView {
  PaymentRow payment;
  std::vector<PaymentHistoryEntry> history;  // by received_at_ms, then event_id
  // The row named by payment.parent_payment_id; nullopt when there is none, or when it was
  // never seen (the id is still in payment.parent_payment_id).
  std::optional<PaymentRow> parent;
  std::vector<PaymentRow> children;  // rows whose parent_payment_id is this id (refunds)
  // Under/overpaid companions: rows whose related_payment_id is this id, and the row named by
  // this one's related_payment_id; each once, by transaction id.
  std::vector<PaymentRow> companions;
};

// ---- reviews ----------------------------------------------------------------------------------

struct ReviewRow {
  std::string source;
  std::string transaction_id;
  std::string state;    // open | closed
  std::string outcome;  // closed: approved | rejected | resolved | settled | failed | ...
  std::int64_t cycle = 1;
  std::string external_id;
  std::string total_amount;
  std::string currency;
  std::string customer_id;
  std::string documentation_status;
  std::optional<std::int64_t> opened_event_id;  // nullopt while only a closing has arrived
  std::optional<std::int64_t> opened_at_ms;     // event time of the opening, else its receipt
  std::optional<std::int64_t> opened_received_ms;
  std::optional<std::int64_t> closed_event_id;
  std::optional<std::int64_t> closed_at_ms;
  std::string notify_state;  // pending | sent | skipped, "" when none was ever owed
  std::optional<std::int64_t> notify_event_id;
  std::optional<std::int64_t> notified_at_ms;
  std::int64_t updated_at_ms = 0;
};

struct ReviewHistoryEntry {
  std::int64_t event_id = 0;
  std::string event_type;
  std::string action;  // opened | reopened | closed | refined | stale | noted
  std::optional<std::int64_t> occurred_at_ms;
  std::int64_t received_at_ms = 0;
  std::string origin;  // webhook | api
};

struct ReviewView {
  ReviewRow review;
  std::vector<ReviewHistoryEntry> history;  // by received_at_ms, then event_id
};

struct ReviewFilter {
  enum class State { open, closed, all };
  State state = State::open;
  std::optional<std::string> source;
  // Only reviews opened before this time (reviews without an opening are left out then).
  std::optional<std::int64_t> opened_before_ms;
  std::int64_t limit = 100;
};

// ---- customers --------------------------------------------------------------------------------

struct CustomerRow {
  std::string source;
  std::string customer_id;
  std::string client_id;
  std::string operation_level;
  std::optional<std::int64_t> documents_count;
  bool documented = false;
  std::optional<bool> auto_created;  // nullopt when never sent
  std::optional<std::int64_t> state_at_ms;
  std::int64_t state_event_id = 0;
  std::int64_t first_seen_ms = 0;
  std::int64_t last_seen_ms = 0;
};

struct CustomerHistoryEntry {
  std::int64_t event_id = 0;
  std::string event_type;
  std::string operation_level;
  std::optional<std::int64_t> documents_count;
  std::optional<std::int64_t> occurred_at_ms;  // nullopt: the payload had no timestamp
  std::int64_t received_at_ms = 0;
  std::string effect;  // applied | stale
  std::string origin;  // webhook | api
};

struct CustomerView {
  CustomerRow customer;
  std::vector<CustomerHistoryEntry> history;  // by received_at_ms, then event_id
};

// ---- compare ----------------------------------------------------------------------------------

// The events of one source (and one event type, or all) received in the window.
struct SourceEventStats {
  std::int64_t received = 0;
  std::int64_t done = 0;
  std::int64_t unhandled = 0;
  std::int64_t dead = 0;
  std::int64_t pending = 0;  // pending or processing
  std::int64_t quarantined = 0;
  std::int64_t retried = 0;  // needed more than one attempt (attempts > 1)
  // Receipt to finish (updated_at_ms - received_at_ms) of done and unhandled events,
  // nearest-rank percentiles; nullopt when there is none.
  std::optional<std::int64_t> p50_ms;
  std::optional<std::int64_t> p95_ms;
  std::optional<std::int64_t> max_ms;
};

struct EventTypeComparison {
  std::string event_type;
  SourceEventStats a;
  SourceEventStats b;
};

// Two transactions, one per source, that share an externalId and whose statuses differ.
struct PaymentDifference {
  std::string external_id;
  std::string a_transaction_id;
  std::string a_status;
  std::string b_transaction_id;
  std::string b_status;
};

struct Comparison {
  std::vector<EventTypeComparison> by_type;  // sorted by event type; zeros where a source had none
  SourceEventStats total_a;
  SourceEventStats total_b;
  // Payments: pairs (a, b) with the same externalId where either was seen in the window
  // (first_seen_ms < until and last_seen_ms >= since).
  std::int64_t shared_external_ids = 0;        // distinct externalIds with at least one pair
  std::int64_t agreeing_external_ids = 0;      // ... whose pairs all have the same status
  std::int64_t differing_pairs = 0;            // pairs whose statuses differ
  std::vector<PaymentDifference> differences;  // the first `difference_limit`, by externalId
};

// The read side of the projections, whatever the backend: ProjectionQueries (SQLite, below) and
// PgProjectionQueries (pg_projection_queries.hpp) answer the same questions with the same
// results. The operator commands take a ProjectionReader&.
class ProjectionReader {
 public:
  virtual ~ProjectionReader() = default;
  virtual std::vector<PaymentView> payment(const std::string& transaction_id,
                                           const std::optional<std::string>& source) = 0;
  virtual std::vector<ReviewRow> reviews(const ReviewFilter& filter) = 0;
  virtual std::vector<ReviewView> review(const std::string& transaction_id,
                                         const std::optional<std::string>& source) = 0;
  virtual std::vector<CustomerView> customer(const std::string& customer_id,
                                             const std::optional<std::string>& source) = 0;
  virtual std::vector<PaymentRow> payments_awaiting_settlement(const std::string& source,
                                                               std::int64_t captured_before_ms,
                                                               std::int64_t limit) = 0;
  virtual std::vector<PaymentRow> payments_open_since(const std::string& source,
                                                      std::int64_t since_ms,
                                                      std::int64_t limit) = 0;
  virtual std::vector<CustomerRow> customers_seen(const std::string& source, std::int64_t since_ms,
                                                  std::int64_t before_ms, std::int64_t limit) = 0;
  virtual Comparison compare(const std::string& a, const std::string& b, std::int64_t since_ms,
                             std::int64_t until_ms, std::int64_t difference_limit) = 0;

 protected:
  // What both backends do the same way around their SQL:
  // The companions of `v` (rows whose related_payment_id is its id, already read) completed with
  // the row its own related_payment_id names (`find(source, id)`), each once, sorted by id.
  using FindPayment =
      std::function<std::optional<PaymentRow>(const std::string& source, const std::string& id)>;
  static void finish_companions(PaymentView& v, const FindPayment& find);
  // Open reviews oldest first, then closed ones newest first, at most filter.limit in all:
  // `fetch(state, oldest_first, room)` reads one state's rows, at most `room`.
  using FetchReviews = std::function<std::vector<ReviewRow>(const char* state, bool oldest_first,
                                                            std::int64_t room)>;
  static std::vector<ReviewRow> reviews_in_order(const ReviewFilter& filter,
                                                 const FetchReviews& fetch);
};

class ProjectionQueries final : public ProjectionReader {
 public:
  // Throws StorageError when the projection tables or their history origins are missing (not
  // migrated to 0005).
  explicit ProjectionQueries(Database& db);

  // The transaction in every source that has it (sorted by source), or in `source` only.
  // Empty when not found.
  std::vector<PaymentView> payment(const std::string& transaction_id,
                                   const std::optional<std::string>& source) override;

  // Reviews matching `filter`, at most filter.limit: open ones oldest opened first, then (for
  // State::all) closed ones most recently opened first; closed reviews never opened last.
  std::vector<ReviewRow> reviews(const ReviewFilter& filter) override;
  std::vector<ReviewView> review(const std::string& transaction_id,
                                 const std::optional<std::string>& source) override;

  std::vector<CustomerView> customer(const std::string& customer_id,
                                     const std::optional<std::string>& source) override;

  // ---- reconciliation (app/reconciler.hpp): what it re-reads from the Conomy API ----
  // Payments of `source` CAPTURED or RECEIVED since before `captured_before_ms`, oldest first.
  std::vector<PaymentRow> payments_awaiting_settlement(const std::string& source,
                                                       std::int64_t captured_before_ms,
                                                       std::int64_t limit) override;
  // Payments of `source` in a non-terminal status, seen at or after `since_ms`, oldest first.
  std::vector<PaymentRow> payments_open_since(const std::string& source, std::int64_t since_ms,
                                              std::int64_t limit) override;
  // Customers of `source` last seen in [since_ms, before_ms), oldest first.
  std::vector<CustomerRow> customers_seen(const std::string& source, std::int64_t since_ms,
                                          std::int64_t before_ms, std::int64_t limit) override;

  // Events of sources `a` and `b` received in [since_ms, until_ms), and payments of both
  // sharing an externalId (see Comparison). An unknown source counts zeros.
  Comparison compare(const std::string& a, const std::string& b, std::int64_t since_ms,
                     std::int64_t until_ms, std::int64_t difference_limit) override;

 private:
  Database& db_;
};

// The nearest-rank percentile (0 < p <= 100) of `values` (reordered); nullopt when empty.
std::optional<std::int64_t> nearest_rank_percentile(std::vector<std::int64_t>& values, int p);

// The event half of compare(), shared by the SQLite and PostgreSQL backends: add() each event
// of source a (side 0) or b (side 1) received in the window, in any order; finish() fills
// by_type (sorted by event type, bytewise) and the two totals.
class CompareEventTally {
 public:
  void add(std::size_t side, const std::string& event_type, std::string_view status,
           std::int64_t attempts, std::int64_t latency_ms);
  void finish(Comparison& result);

 private:
  // One source's events of one type (or all) while they are being counted.
  struct Tally {
    SourceEventStats stats;
    std::vector<std::int64_t> latencies_ms;
    void add(std::string_view status, std::int64_t attempts, std::int64_t latency_ms);
    SourceEventStats finish();
  };
  std::map<std::string, std::array<Tally, 2>> by_type_;
  std::array<Tally, 2> totals_;
};

}  // namespace webhook::storage
