#pragma once
// ProjectionFixture: a database file filled the way the service fills it. Each deliver() stores
// one delivery through SqliteInbox::store_batch and applies the stored event to the projections
// with ProjectionStore and the core::*_facts readers, as the built-in handlers do ("payments"
// and "reviews" for transaction-scoped bodies, "customers" for customer-scoped ones). Shared by
// tests/storage/projection_queries_test.cpp and tests/cli/projections_cli_test.cpp.

#include <rapidjson/document.h>
#include <catch2/catch.hpp>

#include <cstdint>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "support/conomy_payloads.hpp"
#include "support/temp_dir.hpp"
#include "webhook/core/delivery.hpp"
#include "webhook/core/projection.hpp"
#include "webhook/storage/database.hpp"
#include "webhook/storage/projection_store.hpp"
#include "webhook/storage/sqlite_inbox.hpp"

namespace webhook::testing {

struct ProjectionFixture {
  TempDir dir;
  std::string path = dir.file("receiver.db");
  storage::SqliteInbox inbox{migrated(path)};
  storage::ProjectionStore store{storage::Database::open(path)};
  int deliveries = 0;

  static storage::Database migrated(const std::string& path) {
    storage::Database db = storage::Database::open(path);
    db.migrate(storage::embedded_migrations());
    return db;
  }

  // Stores `body` as received from `source` at `received_at_ms` and applies it to the
  // projections; `notify`: whether review openings owe a notification. Returns the event id.
  std::int64_t deliver(const std::string& source, const std::string& body,
                       std::int64_t received_at_ms, bool notify = false) {
    return deliver(delivery(source, body, received_at_ms), notify);
  }

  // Stores `d` (from delivery()) and applies it to the projections; returns the event id.
  std::int64_t deliver(const core::Delivery& d, bool notify = false) {
    const auto payment = core::payment_facts(d.body);
    const auto customer = core::customer_facts(d.body);
    const std::vector<core::Delivery> batch = {d};
    const auto results = inbox.store_batch(batch);
    REQUIRE(results.size() == 1);
    REQUIRE(results[0].kind == core::StoreResult::Kind::inserted);
    const std::int64_t id = results[0].event_id;
    const core::StoredEvent event = inbox.find_event(id).value();
    if (payment) {
      store.apply_payment(event, *payment);
      store.apply_review(event, *payment, notify);
    } else {
      store.apply_customer(event, *customer);
    }
    return id;
  }

  // The delivery deliver() stores for `body` (the next one in this fixture's numbering); also
  // used to store the same delivery in a second backend.
  core::Delivery delivery(const std::string& source, const std::string& body,
                          std::int64_t received_at_ms) {
    const auto payment = core::payment_facts(body);
    const auto customer = core::customer_facts(body);
    REQUIRE((payment || customer));
    core::Delivery d;
    d.event_type = event_type_of(body);
    d.entity_kind = payment ? "transaction" : "customer";
    d.entity_id = payment ? payment->transaction_id : customer->customer_id;
    // A distinct state token per delivery: every call stores a new event.
    d.key = {source, d.event_type, d.entity_kind, d.entity_id, std::to_string(++deliveries)};
    d.body = body;
    d.request_id = "req-" + std::to_string(deliveries);
    d.received_at_ms = received_at_ms;
    d.scheme = core::Scheme::header;
    d.key_slot = 0;
    return d;
  }

  // Sets how an event ended, as the worker pool would have: `status`, `attempts`, and the
  // finish time `latency_ms` after its receipt.
  void finish(std::int64_t event_id, const std::string& status, int attempts,
              std::int64_t latency_ms) {
    store.database().exec("UPDATE events SET status = '" + status + "', attempts = " +
                          std::to_string(attempts) + ", updated_at_ms = received_at_ms + " +
                          std::to_string(latency_ms) + " WHERE id = " + std::to_string(event_id));
  }

 private:
  // "eventType", else the legacy "event".
  static std::string event_type_of(const std::string& body) {
    rapidjson::Document doc;
    doc.Parse(body.data(), body.size());
    REQUIRE(doc.IsObject());
    for (const char* key : {"eventType", "event"}) {
      if (doc.HasMember(key) && doc[key].IsString()) return doc[key].GetString();
    }
    return "";
  }
};

}  // namespace webhook::testing
