#pragma once
// Shared by the storage tests: a private temporary directory per test, deliveries shaped the way
// core::ingest() builds them, and a migrated database on a real file.

#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <string>
#include <system_error>

#include "support/temp_dir.hpp"
#include "webhook/core/delivery.hpp"
#include "webhook/storage/database.hpp"

namespace webhook::test {

using TempDir = webhook::testing::TempDir;

// An ordinary transaction event, keyed by (production, event, transaction, entity_id, state).
inline core::Delivery make_delivery(const std::string& entity_id,
                                    const std::string& event = "payment.settled",
                                    const std::string& state = "") {
  core::Delivery d;
  d.key = {"production", event, "transaction", entity_id, state};
  d.event_type = event;
  d.entity_kind = "transaction";
  d.entity_id = entity_id;
  d.body =
      R"({"eventType":")" + event + R"(","data":{"transaction":{"id":")" + entity_id + R"("}}})";
  d.request_id = "req-" + entity_id;
  d.received_at_ms = 1'700'000'000'000;
  d.scheme = core::Scheme::header;
  d.candidate = core::BodyCandidate::none;
  d.key_slot = 0;
  return d;
}

// A verified delivery without an entity id, quarantined under the key of its body's digest.
inline core::Delivery make_quarantined(const std::string& body_digest_hex) {
  core::Delivery d;
  d.key = {"production", "payment.settled", "quarantine", body_digest_hex, ""};
  d.event_type = "payment.settled";
  d.quarantined = true;
  d.quarantine_reason = "no_entity_id";
  d.body = R"({"eventType":"payment.settled","data":{}})";
  d.request_id = "req-quarantined";
  d.received_at_ms = 1'700'000'000'001;
  d.scheme = core::Scheme::body;
  d.candidate = core::BodyCandidate::raw_strip;
  d.key_slot = 1;
  return d;
}

// A database file at `path`, opened and migrated to the embedded schema.
inline storage::Database open_migrated(const std::string& path) {
  storage::Database db = storage::Database::open(path);
  db.migrate(storage::embedded_migrations());
  return db;
}

}  // namespace webhook::test
