// webhook-bench-projection-db: builds a receiver database of N events with the projections
// (payments, reviews, customers) applied, through the receiver's own code, so the operator
// commands can be timed on a realistic database (bench/run_projections.sh, bench/README.md).
//  1. Plans Conomy payment lifecycles ("orders"): transaction.status_changed CAPTURED ->
//     RECEIVED -> SETTLED plus payment.settled; ~3% blocked for review (payment.requiresReview,
//     then approved / rejected + reviewResolved, a few reopened or left open); refund children
//     (payment.refund.*) linked to their parent; failed and expired payments; a few late
//     (out-of-order) deliveries; customer.levelChanged for a pool of customers. Every order is in
//     "production"; a quarter is also in "sandbox" under the same externalId, some ending in a
//     different status.
//  2. Emits the events in receipt order (a heap keyed by receipt time), receipts spread evenly
//     over the --days before --now-ms: a first pass without bodies finds the virtual time of the
//     N-th event, the second maps virtual to real times so the last receipt is at --now-ms.
//  3. Stores them with storage::SqliteInbox::store_batch (batches of --batch), marks each batch
//     done with a plain UPDATE (a benchmark shortcut: updated_at = receipt + a few ms, 1% with 2
//     attempts), and applies each event as the default routes would: customer.* -> customers,
//     everything else -> payments and reviews, with notification on (mark_notified at receipt +
//     a few hundred ms). The projections' connection runs with PRAGMA synchronous=OFF (speed of
//     generation only; the receiver uses NORMAL).
// Deterministic apart from --now-ms: choices come from a hash of the order number. Writes a
// summary line "PROJECTION_DB_SUMMARY key=value ..." to stdout, progress to stderr.
#include <algorithm>
#include <charconv>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <optional>
#include <queue>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "webhook/core/dedup_key.hpp"
#include "webhook/core/delivery.hpp"
#include "webhook/core/envelope.hpp"
#include "webhook/core/inbox.hpp"
#include "webhook/core/projection.hpp"
#include "webhook/storage/database.hpp"
#include "webhook/storage/projection_store.hpp"
#include "webhook/storage/sqlite_inbox.hpp"
#include "webhook/storage/statement.hpp"

namespace {

using webhook::core::Delivery;
using webhook::core::StoredEvent;
using webhook::storage::Database;

constexpr const char* kUsage =
    "usage: webhook-bench-projection-db --db PATH [--events N] [--days D] [--now-ms MS]\n"
    "                                   [--batch B]\n"
    "\n"
    "Builds a new database at PATH (it must not exist) with N events (default 1000000) received\n"
    "over the D days (default 30) before MS (default: now), marked done, with the payments,\n"
    "reviews and customers projections applied. Prints PROJECTION_DB_SUMMARY on stdout.\n"
    "  --batch B   deliveries per store_batch transaction (default 5000)\n";

constexpr std::int64_t kMinute = 60'000;
constexpr std::int64_t kHour = 60 * kMinute;
constexpr std::int64_t kDay = 24 * kHour;

// ---- deterministic choices
// ------------------------------------------------------------------------

std::uint64_t mix(std::uint64_t x) {  // splitmix64
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

// A number in [0, n) for choice `salt` of order `o`.
std::uint64_t pick(std::uint64_t o, std::uint64_t salt, std::uint64_t n) {
  return mix(o * 1'000'003ULL + salt) % n;
}

// ---- what an event is, before it has a body
// ------------------------------------------------------

enum class Type : std::uint8_t {
  status_changed,
  settled,
  requires_review,
  review_approved,
  review_rejected,
  review_resolved,
  refund_created,
  refund_settled,
  refund_failed,
  level_changed,
};

constexpr std::string_view kTypeNames[] = {
    "transaction.status_changed", "payment.settled",        "payment.requiresReview",
    "payment.reviewApproved",     "payment.reviewRejected", "payment.reviewResolved",
    "payment.refund.created",     "payment.refund.settled", "payment.refund.failed",
    "customer.levelChanged",
};

struct Planned {
  std::int64_t received_v = 0;  // virtual receipt time (ms)
  std::uint64_t seq = 0;        // tie-break: planning order
  std::int64_t occurred_v = 0;  // virtual event time (the payload's "timestamp")
  Type type = Type::status_changed;
  bool sandbox = false;
  std::string_view status;      // transaction status
  std::string_view doc_status;  // documentationStatus ("" = null)
  std::uint64_t order = 0;      // the externalId's number
  std::uint64_t tx = 0;         // transaction number (customer number for level_changed)
  std::uint64_t parent = 0;     // refund children: the parent's transaction number + 1
  std::uint64_t customer = 0;   // customer number
  std::uint32_t refund_no = 0;  // refund children: 1, 2
  std::uint32_t docs = 0;       // level_changed: documentsCount
};

struct Later {
  bool operator()(const Planned& a, const Planned& b) const {
    return a.received_v != b.received_v ? a.received_v > b.received_v : a.seq > b.seq;
  }
};

constexpr std::uint64_t kProductionCustomers = 10'000;
constexpr std::uint64_t kSandboxCustomers = 2'500;

// Plans the events of order `o` (and its sandbox twin) starting at virtual time `start`.
class Planner {
 public:
  template <typename Push>
  void plan_order(std::uint64_t o, std::int64_t start, Push&& push) {
    lifecycle(o, start, false, push);
    if (pick(o, 1, 4) == 0)
      lifecycle(o, start + static_cast<std::int64_t>(pick(o, 2, 10 * kMinute)), true, push);
  }

  std::uint64_t customer_events = 0;

 private:
  template <typename Push>
  void lifecycle(std::uint64_t o, std::int64_t start, bool sandbox, Push& push) {
    const std::uint64_t salt = sandbox ? 100 : 0;
    const std::uint64_t tx = o * 8 + (sandbox ? 4 : 0);
    const std::uint64_t customer = sandbox
                                       ? kProductionCustomers + pick(o, 3 + salt, kSandboxCustomers)
                                       : pick(o, 3, kProductionCustomers);
    // A sandbox twin ends differently now and then (what `compare` is for).
    const bool diverge = sandbox && pick(o, 4, 100) < 3;
    auto event = [&](Type type, std::int64_t at, std::string_view status,
                     std::string_view doc = {}) {
      Planned p;
      p.type = type;
      p.sandbox = sandbox;
      p.status = status;
      p.doc_status = doc;
      p.order = o;
      p.tx = tx;
      p.customer = customer;
      p.occurred_v = at;
      p.received_v = at + 200 + static_cast<std::int64_t>(pick(o, seq_++, 2800));  // delivery lag
      return p;
    };
    auto emit = [&](Planned p) {
      p.seq = next_seq_++;
      push(p);
    };

    std::int64_t t = start;
    const std::uint64_t r = pick(o, 5, 1000);
    if (r < 30) {
      review_lifecycle(o, t, diverge, event, emit);
    } else {
      // CAPTURED; 1% of them delivered after the RECEIVED (a late, stale delivery).
      Planned captured = event(Type::status_changed, t, "CAPTURED");
      const std::int64_t received_at =
          t + 2 * kMinute + static_cast<std::int64_t>(pick(o, 6, 8 * kMinute));
      if (pick(o, 7 + salt, 100) == 0) captured.received_v = received_at + 15 * kMinute;
      emit(captured);
      emit(event(Type::status_changed, received_at, "RECEIVED"));
      const std::uint64_t fate = diverge ? 990 + pick(o, 8, 10) : pick(o, 9, 1000);
      if (fate < 920) {
        const std::int64_t settled_at =
            received_at + 4 * kHour + static_cast<std::int64_t>(pick(o, 10, 4 * kHour));
        emit(event(Type::status_changed, settled_at, "SETTLED"));
        emit(event(Type::settled, settled_at + 1000, "SETTLED"));
        refunds(o, settled_at, tx, sandbox, event, emit);
      } else if (fate < 960) {
        emit(event(Type::status_changed, received_at + 30 * kMinute, "FAILED"));
      } else if (fate < 980) {
        emit(event(Type::status_changed, start + kDay, "EXPIRED"));
      }  // else: still RECEIVED (awaiting settlement)
    }
    customer_event(o, start, sandbox, customer, event, emit);
  }

  // ~3% of orders: blocked for review, then decided (or not).
  template <typename Event, typename Emit>
  void review_lifecycle(std::uint64_t o, std::int64_t t, bool diverge, Event& event, Emit& emit) {
    emit(event(Type::status_changed, t, "CAPTURED"));
    const std::int64_t opened = t + kMinute;
    emit(event(Type::requires_review, opened, "REQUIRES_REVIEW", "PENDING_UPLOAD"));
    const std::uint64_t outcome = diverge ? 70 : pick(o, 11, 100);  // twin: rejected
    std::int64_t decided =
        opened + 30 * kMinute + static_cast<std::int64_t>(pick(o, 12, 6 * kHour));
    if (outcome >= 88 && outcome < 98) decided = opened + 3 * kDay;  // left open for days
    if (outcome >= 98) return;                                       // never decided
    if (outcome < 65 || outcome >= 88) {
      emit(event(Type::review_approved, decided, "CAPTURED", "APPROVED"));
      emit(event(Type::review_resolved, decided + 1000, "CAPTURED", "APPROVED"));
      std::int64_t settle = decided + 4 * kHour;
      if (pick(o, 13, 100) < 5) {  // blocked again: reopened, closed by the settlement
        emit(event(Type::status_changed, decided + kHour, "REQUIRES_REVIEW", "PENDING_UPLOAD"));
        settle += 2 * kHour;
      }
      emit(event(Type::status_changed, settle, "SETTLED", "APPROVED"));
      emit(event(Type::settled, settle + 1000, "SETTLED", "APPROVED"));
    } else {
      emit(event(Type::review_rejected, decided, "FAILED", "REJECTED"));
      emit(event(Type::review_resolved, decided + 1000, "FAILED", "REJECTED"));
      // The pending deposit goes back: a refund child.
      Planned created = event(Type::refund_created, decided + 5 * kMinute, "RECEIVED");
      created.parent = created.tx + 1;
      created.tx += 1;
      created.refund_no = 1;
      emit(created);
      Planned done = event(Type::refund_settled, decided + kDay, "SETTLED");
      done.parent = created.parent;
      done.tx = created.tx;
      done.refund_no = 1;
      emit(done);
    }
  }

  // 5% of settled payments get one refund child, a fifth of those two.
  template <typename Event, typename Emit>
  void refunds(std::uint64_t o, std::int64_t settled_at, std::uint64_t tx, bool sandbox,
               Event& event, Emit& emit) {
    if (pick(o, 14, 100) >= 5) return;
    const std::uint32_t n = pick(o, 15, 5) == 0 ? 2 : 1;
    for (std::uint32_t k = 1; k <= n; ++k) {
      const std::int64_t at = settled_at + static_cast<std::int64_t>(k) * kDay +
                              static_cast<std::int64_t>(pick(o, 16 + k, 2 * kDay));
      Planned created = event(Type::refund_created, at, "RECEIVED");
      created.parent = tx + 1;
      created.tx = tx + k;
      created.refund_no = k;
      emit(created);
      const bool failed = pick(o, 20 + k + (sandbox ? 100 : 0), 10) == 0;
      Planned end = event(failed ? Type::refund_failed : Type::refund_settled, at + kDay,
                          failed ? "FAILED" : "SETTLED");
      end.parent = created.parent;
      end.tx = created.tx;
      end.refund_no = k;
      emit(end);
    }
  }

  // 12% of lifecycles: the customer's level or documents change (BASIC, then STANDARD, FULL),
  // 2% of those delivered half an hour late.
  template <typename Event, typename Emit>
  void customer_event(std::uint64_t o, std::int64_t start, bool sandbox, std::uint64_t customer,
                      Event& event, Emit& emit) {
    if (pick(o, 30 + (sandbox ? 100 : 0), 100) >= 12) return;
    if (steps_.size() <= customer) steps_.resize(customer + 1, 0);
    const std::uint32_t step = ++steps_[customer];
    const std::int64_t at = start + static_cast<std::int64_t>(pick(o, 31, kHour));
    Planned p = event(Type::level_changed, at, "");
    p.tx = customer;
    p.docs = step;
    if (pick(o, 32, 50) == 0) p.received_v += 30 * kMinute;
    emit(p);
    ++customer_events;
  }

  std::uint64_t seq_ = 1000;  // salt for the per-event delivery lag
  std::uint64_t next_seq_ = 0;
  std::vector<std::uint32_t> steps_;  // per customer: level changes so far
};

// Runs the plan until `count` events have come out in receipt order; calls sink(event) for each
// and returns the virtual receipt time of the last one.
template <typename Sink>
std::int64_t run_plan(std::uint64_t count, std::int64_t order_interval_v, Sink&& sink) {
  Planner planner;
  std::priority_queue<Planned, std::vector<Planned>, Later> heap;
  std::uint64_t emitted = 0;
  std::int64_t last = 0;
  for (std::uint64_t o = 0;; ++o) {
    const std::int64_t start = static_cast<std::int64_t>(o) * order_interval_v;
    while (!heap.empty() && heap.top().received_v < start) {
      last = heap.top().received_v;
      sink(heap.top());
      heap.pop();
      if (++emitted == count) return last;
    }
    planner.plan_order(o, start, [&heap](const Planned& p) { heap.push(p); });
  }
}

// ---- bodies
// ----------------------------------------------------------------------------------------

std::string hex_id(std::string_view prefix8, std::uint64_t n) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.8s%016llx", prefix8.data(), static_cast<unsigned long long>(n));
  return buf;
}

// "YYYY-MM-DDTHH:MM:SSZ" for epoch milliseconds (days-to-civil, proleptic Gregorian).
std::string iso_seconds(std::int64_t ms) {
  const std::int64_t secs = ms / 1000;
  std::int64_t days = secs / 86400;
  const std::int64_t rem = secs % 86400;
  days += 719468;
  const std::int64_t era = days / 146097;
  const std::int64_t doe = days - era * 146097;
  const std::int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const std::int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const std::int64_t mp = (5 * doy + 2) / 153;
  const std::int64_t d = doy - (153 * mp + 2) / 5 + 1;
  const std::int64_t m = mp < 10 ? mp + 3 : mp - 9;
  const std::int64_t y = yoe + era * 400 + (m <= 2 ? 1 : 0);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%04lld-%02lld-%02lldT%02lld:%02lld:%02lldZ",
                static_cast<long long>(y), static_cast<long long>(m), static_cast<long long>(d),
                static_cast<long long>(rem / 3600), static_cast<long long>(rem / 60 % 60),
                static_cast<long long>(rem % 60));
  return buf;
}

std::string quoted_or_null(std::string_view v) {
  return v.empty() ? std::string("null") : "\"" + std::string(v) + "\"";
}

constexpr std::string_view kCurrencies[] = {"ARS", "BRL", "MXN", "USD", "COP", "CLP"};

std::string external_id(const Planned& p, bool review) {
  std::string id = review ? "vitawallet:dep-" : (pick(p.order, 40, 10) < 7 ? "inv-" : "order-");
  id += std::to_string(100000 + p.order);
  if (p.refund_no > 0) id = "refund-" + id + "-" + std::to_string(p.refund_no);
  return id;
}

std::string body(const Planned& p, std::int64_t occurred_ms) {
  std::string b;
  b.reserve(700);
  b += R"({"eventType":")";
  b += kTypeNames[static_cast<int>(p.type)];
  b += R"(","timestamp":")" + iso_seconds(occurred_ms) + "\"";
  if (p.type == Type::level_changed) {
    const std::string_view level = p.docs <= 1 ? "BASIC" : p.docs == 2 ? "STANDARD" : "FULL";
    b += R"(,"customer":{"id":")" + hex_id("66c0ffee", p.tx);
    b += p.sandbox ? R"(","clientId":"bench-client-sandbox")" : R"(","clientId":"bench-client-ar")";
    b += R"(,"firstName":"Bench","lastName":"Customer)" + std::to_string(p.tx);
    b += R"(","email":"customer)" + std::to_string(p.tx) + R"(@mail.example","documentNumber":")";
    b += std::to_string(20000000000ULL + p.tx) + R"(","operationLevel":")";
    b += level;
    b += R"(","autoCreated":)";
    b += pick(p.tx, 41, 3) == 0 ? "false" : "true";
    b += R"(,"documentsCount":)" + std::to_string(p.docs - 1) + "}}";
    return b;
  }
  const bool refund = p.refund_no > 0;
  const bool review = pick(p.order, 5, 1000) < 30;
  const std::uint64_t cents = 100000ULL + mix(p.order) % 250000000ULL;
  const std::uint64_t amount = refund ? cents / (3 + p.refund_no) : cents;
  char amount_text[32];
  std::snprintf(amount_text, sizeof amount_text, "%llu.%02llu",
                static_cast<unsigned long long>(amount / 100),
                static_cast<unsigned long long>(amount % 100));
  const std::string_view currency = kCurrencies[pick(p.order, 42, 6)];
  const bool settled = p.status == "SETTLED";
  const std::string when = iso_seconds(occurred_ms);
  b += R"(,"transaction":{"id":")" + hex_id("66b0c0de", p.tx);
  b += R"(","externalId":")" + external_id(p, review);
  b += R"(","status":")";
  b += p.status;
  b += R"(","totalAmount":")";
  b += amount_text;
  b += R"(","currency":")";
  b += currency;
  b += R"(","type":")";
  b += refund ? "REFUND" : review ? "LOCAL_DEPOSIT" : "TOPUP_ACCOUNT";
  b += R"(","parentPaymentId":)" +
       (refund ? quoted_or_null(hex_id("66b0c0de", p.parent - 1)) : "null");
  b += R"(,"relatedPaymentId":null,"customerId":")" + hex_id("66c0ffee", p.customer);
  b += R"(","settledAt":)" + (settled ? quoted_or_null(when) : "null");
  b += R"(,"expiredAt":)" + (p.status == "EXPIRED" ? quoted_or_null(when) : "null");
  b += R"(,"unsettledAt":null,"unsettledReason":null,"settlementBatchId":)";
  b += settled ? "\"settlement-" + std::string(currency) + "-" +
                     std::to_string(occurred_ms / kDay) + "\""
               : std::string("null");
  b += R"(,"documentationStatus":)" + quoted_or_null(p.doc_status);
  b +=
      R"(},"identity":{"id":"66a2b3c4d5e6f708aaaa0001","email":"treasury@merchant-demo.example"}})";
  return b;
}

// ---- storing and projecting
// --------------------------------------------------------------------------

struct Counts {
  std::uint64_t stored = 0;
  std::uint64_t duplicates = 0;
  std::uint64_t failed = 0;
  std::uint64_t notified = 0;
  double store_s = 0;
  double apply_s = 0;
};

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

class Builder {
 public:
  Builder(webhook::storage::SqliteInbox& inbox, webhook::storage::ProjectionStore& store)
      : inbox_(inbox), store_(store) {}

  void add(Delivery d) { batch_.push_back(std::move(d)); }
  std::size_t pending() const { return batch_.size(); }

  // Stores the batch (one transaction), marks it done, applies every new event.
  void flush() {
    if (batch_.empty()) return;
    auto t0 = std::chrono::steady_clock::now();
    const auto results = inbox_.store_batch(batch_);
    std::int64_t lo = INT64_MAX;
    std::int64_t hi = 0;
    for (const auto& r : results) {
      if (r.kind == webhook::core::StoreResult::Kind::inserted) {
        lo = std::min(lo, r.event_id);
        hi = std::max(hi, r.event_id);
      }
    }
    if (hi > 0) {
      inbox_.database().exec(
          "UPDATE events SET status = 'done', attempts = CASE WHEN id % 100 = 7 THEN 2 ELSE 1 END,"
          " updated_at_ms = received_at_ms + 3 + id % 40 WHERE id BETWEEN " +
          std::to_string(lo) + " AND " + std::to_string(hi));
    }
    counts.store_s += seconds_since(t0);

    t0 = std::chrono::steady_clock::now();
    for (std::size_t i = 0; i < batch_.size(); ++i) {
      const auto& r = results[i];
      if (r.kind == webhook::core::StoreResult::Kind::duplicate) ++counts.duplicates;
      if (r.kind == webhook::core::StoreResult::Kind::failed) {
        ++counts.failed;
        if (counts.failed == 1)
          std::cerr << "webhook-bench-projection-db: store failed: " << r.error << "\n";
      }
      if (r.kind != webhook::core::StoreResult::Kind::inserted) continue;
      ++counts.stored;
      apply(batch_[i], r.event_id);
    }
    counts.apply_s += seconds_since(t0);
    batch_.clear();
  }

  Counts counts;

 private:
  // As the default routes: customer.* -> customers; * -> payments, reviews (notify on).
  void apply(Delivery& d, std::int64_t id) {
    StoredEvent e;
    e.id = id;
    e.key = d.key;
    e.event_type = d.event_type;
    e.entity_kind = d.entity_kind;
    e.entity_id = d.entity_id;
    e.status = "done";
    e.body = std::move(d.body);
    e.received_at_ms = d.received_at_ms;
    if (e.event_type.rfind("customer.", 0) == 0) {
      if (e.entity_kind != "customer") return;
      if (const auto facts = webhook::core::customer_facts(e.body))
        store_.apply_customer(e, *facts);
      return;
    }
    if (e.entity_kind != "transaction") return;
    const auto facts = webhook::core::payment_facts(e.body);
    if (!facts) return;
    store_.apply_payment(e, *facts);
    const auto review = store_.apply_review(e, *facts, true);
    if (review.notification_owed) {
      // The operator notification went out a few hundred ms after receipt.
      const std::int64_t sent = e.received_at_ms + 150 + id % 400;
      if (store_.mark_notified(e.key.source, facts->transaction_id, e.id, sent)) ++counts.notified;
    }
  }

  webhook::storage::SqliteInbox& inbox_;
  webhook::storage::ProjectionStore& store_;
  std::vector<Delivery> batch_;
};

std::optional<std::int64_t> parse_int(std::string_view text) {
  std::int64_t value = 0;
  const auto* end = text.data() + text.size();
  const auto [ptr, ec] = std::from_chars(text.data(), end, value);
  if (ec != std::errc{} || ptr != end || text.empty()) return std::nullopt;
  return value;
}

std::int64_t scalar(Database& db, const std::string& sql) {
  webhook::storage::Statement s(db, sql);
  webhook::storage::Statement::Use q(s);
  return q.step() ? q.column_int(0) : 0;
}

}  // namespace

int main(int argc, char** argv) {
  std::string path;
  std::int64_t events = 1'000'000;
  std::int64_t days = 30;
  std::int64_t batch = 5000;
  std::int64_t now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                            std::chrono::system_clock::now().time_since_epoch())
                            .count();
  for (int a = 1; a < argc; ++a) {
    const std::string_view arg = argv[a];
    if (arg == "--help" || arg == "-h") {
      std::cout << kUsage;
      return 0;
    }
    if (a + 1 >= argc) {
      std::cerr << "webhook-bench-projection-db: " << arg << " needs a value\n" << kUsage;
      return 2;
    }
    const std::string_view value = argv[++a];
    const auto number = parse_int(value);
    if (arg == "--db") {
      path = value;
    } else if (arg == "--events" && number && *number >= 1 && *number <= 100'000'000) {
      events = *number;
    } else if (arg == "--days" && number && *number >= 1 && *number <= 3650) {
      days = *number;
    } else if (arg == "--batch" && number && *number >= 1 && *number <= 100'000) {
      batch = *number;
    } else if (arg == "--now-ms" && number && *number > 0) {
      now_ms = *number;
    } else {
      std::cerr << "webhook-bench-projection-db: bad option or value: " << arg << " " << value
                << "\n"
                << kUsage;
      return 2;
    }
  }
  if (path.empty()) {
    std::cerr << "webhook-bench-projection-db: --db is required\n" << kUsage;
    return 2;
  }
  if (std::filesystem::exists(path)) {
    std::cerr << "webhook-bench-projection-db: " << path << " exists; give a new path\n";
    return 2;
  }

  try {
    const auto t_start = std::chrono::steady_clock::now();
    const auto count = static_cast<std::uint64_t>(events);
    const std::int64_t span = days * kDay;
    // Pass 1: where the N-th event falls in virtual time (about 5.4 events per order).
    const std::int64_t interval_v = std::max<std::int64_t>(1, span * 54 / (events * 10));
    const std::int64_t last_v =
        std::max<std::int64_t>(1, run_plan(count, interval_v, [](const Planned&) {}));
    const double scale = static_cast<double>(span) / static_cast<double>(last_v);
    const std::int64_t begin_ms = now_ms - span;
    auto real = [&](std::int64_t v) {
      return begin_ms + static_cast<std::int64_t>(static_cast<double>(v) * scale);
    };

    auto db = Database::open(path);
    db.migrate(webhook::storage::embedded_migrations());
    auto projection_db = Database::open(path);
    projection_db.exec("PRAGMA synchronous=OFF");  // generation speed only (see the header)
    webhook::storage::SqliteInbox inbox(std::move(db));
    webhook::storage::ProjectionStore store(std::move(projection_db));
    Builder builder(inbox, store);

    // Pass 2: the same plan with bodies, stored and applied batch by batch.
    std::uint64_t n = 0;
    std::uint64_t by_type[std::size(kTypeNames)] = {};
    const webhook::core::DedupPolicy policy;
    run_plan(count, interval_v, [&](const Planned& p) {
      const std::int64_t received = real(p.received_v);
      std::string b = body(p, real(p.occurred_v));
      const auto envelope = webhook::core::parse_envelope(b);
      if (!envelope) throw std::runtime_error("generated body does not parse");
      const std::string_view source = p.sandbox ? "sandbox" : "production";
      auto key = webhook::core::derive_dedup_key(source, envelope.value(), policy);
      if (!key) throw std::runtime_error("generated body has no dedup key");
      Delivery d;
      d.key = std::move(*key);
      d.event_type = envelope.value().event_name;
      d.entity_kind = std::string(webhook::core::to_string(envelope.value().entity_kind));
      d.entity_id = envelope.value().entity_id;
      d.body = std::move(b);
      d.request_id = "bench-" + std::to_string(n);
      d.received_at_ms = received;
      d.scheme = webhook::core::Scheme::header;
      d.key_slot = 0;
      builder.add(std::move(d));
      ++by_type[static_cast<int>(p.type)];
      if (builder.pending() >= static_cast<std::size_t>(batch)) builder.flush();
      if (++n % 100'000 == 0) {
        std::cerr << "webhook-bench-projection-db: " << n << " events, " << seconds_since(t_start)
                  << " s\n";
      }
    });
    builder.flush();

    Database& out = inbox.database();
    out.exec("PRAGMA wal_checkpoint(TRUNCATE)");
    const Counts& c = builder.counts;
    std::cout << "PROJECTION_DB_SUMMARY events=" << scalar(out, "SELECT count(*) FROM events")
              << " stored=" << c.stored << " duplicates=" << c.duplicates << " failed=" << c.failed
              << " payments=" << scalar(out, "SELECT count(*) FROM payments")
              << " payment_history=" << scalar(out, "SELECT count(*) FROM payment_history")
              << " reviews=" << scalar(out, "SELECT count(*) FROM reviews") << " reviews_open="
              << scalar(out, "SELECT count(*) FROM reviews WHERE state = 'open'")
              << " review_history=" << scalar(out, "SELECT count(*) FROM review_history")
              << " notified=" << c.notified
              << " customers=" << scalar(out, "SELECT count(*) FROM customers")
              << " customer_history=" << scalar(out, "SELECT count(*) FROM customer_history")
              << " first_received_ms=" << scalar(out, "SELECT min(received_at_ms) FROM events")
              << " last_received_ms=" << scalar(out, "SELECT max(received_at_ms) FROM events");
    for (std::size_t i = 0; i < std::size(kTypeNames); ++i) {
      std::cout << " type." << kTypeNames[i] << "=" << by_type[i];
    }
    std::cout << " store_s=" << c.store_s << " apply_s=" << c.apply_s
              << " total_s=" << seconds_since(t_start) << "\n";
    return c.failed == 0 ? 0 : 1;
  } catch (const std::exception& e) {
    std::cerr << "webhook-bench-projection-db: " << e.what() << "\n";
    return 1;
  }
}
