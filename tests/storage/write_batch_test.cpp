// SqliteInbox::write_batch() (the one write path, core/work.hpp): deliveries and work in one
// transaction, a projection change that fails rolls back only its own item (a savepoint) and
// records the item's fallback, load_pending() in id order, and changed_elsewhere().

#include <catch2/catch.hpp>

#include <chrono>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "storage_test_support.hpp"
#include "support/sql_rows.hpp"
#include "support/wait.hpp"
#include "webhook/storage/sqlite_inbox.hpp"
#include "webhook/storage/wal_checkpointer.hpp"

namespace {

using webhook::core::ProjectionChange;
using webhook::core::StoredEvent;
using webhook::core::WorkItem;
using webhook::core::WorkKind;
using webhook::storage::SqliteInbox;
using webhook::test::make_delivery;
using webhook::test::open_migrated;
using webhook::test::TempDir;
using webhook::testing::value;

std::shared_ptr<const StoredEvent> event_of(SqliteInbox& inbox, std::int64_t id) {
  return std::make_shared<const StoredEvent>(inbox.find_event(id).value());
}

WorkItem item(std::shared_ptr<const StoredEvent> event, WorkKind kind, int attempts = 1) {
  WorkItem w;
  w.event = std::move(event);
  w.kind = kind;
  w.attempts = attempts;
  w.at_ms = 1000;
  return w;
}

WorkItem paid(std::shared_ptr<const StoredEvent> event, const std::string& transaction) {
  WorkItem w = item(std::move(event), WorkKind::done);
  ProjectionChange change;
  change.kind = ProjectionChange::Kind::payment;
  change.payment.transaction_id = transaction;
  change.payment.status = "SETTLED";
  w.changes.push_back(change);
  w.fallback = WorkKind::retry;
  w.next_attempt_at_ms = 5000;
  return w;
}

}  // namespace

TEST_CASE("write_batch stores deliveries and records work in one transaction", "[write_batch]") {
  TempDir dir;
  SqliteInbox inbox(open_migrated(dir.file("receiver.db")));
  const std::vector deliveries{make_delivery("tx-1"), make_delivery("tx-2"), make_delivery("tx-1")};
  const auto first = inbox.write_batch(deliveries, {}, true);
  REQUIRE(first.ok);
  REQUIRE(first.stored.size() == 3);
  CHECK(first.stored[2].kind == webhook::core::StoreResult::Kind::duplicate);
  CHECK(first.work.empty());

  const auto e1 = event_of(inbox, first.stored[0].event_id);
  const auto e2 = event_of(inbox, first.stored[1].event_id);
  const std::vector work{item(e1, WorkKind::started), item(e2, WorkKind::started),
                         item(e1, WorkKind::done)};
  const auto second = inbox.write_batch({}, work, false);
  REQUIRE(second.ok);
  REQUIRE(second.work.size() == 3);
  for (const auto& r : second.work) CHECK(r.recorded);
  CHECK(inbox.find_event(e1->id)->status == "done");
  CHECK(inbox.find_event(e1->id)->attempts == 1);
  CHECK(inbox.find_event(e2->id)->status == "processing");

  // A result for an event that is not processing changes nothing and says so.
  const std::vector again{item(e1, WorkKind::done)};
  const auto third = inbox.write_batch({}, again, false);
  REQUIRE(third.ok);
  CHECK_FALSE(third.work.at(0).recorded);
}

TEST_CASE("a projection change that fails rolls back only its own event", "[write_batch]") {
  TempDir dir;
  SqliteInbox inbox(open_migrated(dir.file("receiver.db")));
  inbox.database().exec(
      "CREATE TRIGGER poison BEFORE INSERT ON payment_history WHEN NEW.transaction_id = 'POISON' "
      "BEGIN SELECT RAISE(ABORT, 'poisoned for the test'); END");
  const std::vector deliveries{make_delivery("tx-1"), make_delivery("POISON"),
                               make_delivery("tx-3")};
  const auto stored = inbox.write_batch(deliveries, {}, true);
  REQUIRE(stored.ok);
  std::vector<std::shared_ptr<const StoredEvent>> events;
  std::vector<WorkItem> starts;
  for (const auto& r : stored.stored) {
    events.push_back(event_of(inbox, r.event_id));
    starts.push_back(item(events.back(), WorkKind::started));
  }
  REQUIRE(inbox.write_batch({}, starts, false).ok);

  const std::vector results{paid(events[0], "tx-1"), paid(events[1], "POISON"),
                            paid(events[2], "tx-3")};
  const auto written = inbox.write_batch({}, results, false);
  REQUIRE(written.ok);
  CHECK(written.work[0].kind == WorkKind::done);
  CHECK(written.work[1].kind == WorkKind::retry);  // the fallback
  CHECK(written.work[1].error.find("poisoned for the test") != std::string::npos);
  CHECK(written.work[2].kind == WorkKind::done);
  for (const auto& r : written.work) CHECK(r.recorded);

  CHECK(inbox.find_event(events[0]->id)->status == "done");
  CHECK(inbox.find_event(events[2]->id)->status == "done");
  const StoredEvent poisoned = inbox.find_event(events[1]->id).value();
  CHECK(poisoned.status == "pending");
  CHECK(poisoned.next_attempt_at_ms == 5000);
  CHECK(poisoned.last_error.find("poisoned for the test") != std::string::npos);
  CHECK(value(inbox.database(), "SELECT count(*) FROM payments") == "2");
  CHECK(value(inbox.database(), "SELECT count(*) FROM payments WHERE transaction_id = 'POISON'") ==
        "0");
}

TEST_CASE("load_pending reads pending events after an id, in id order", "[write_batch]") {
  TempDir dir;
  SqliteInbox inbox(open_migrated(dir.file("receiver.db")));
  std::vector<webhook::core::Delivery> deliveries;
  for (int i = 0; i < 5; ++i) deliveries.push_back(make_delivery("tx-" + std::to_string(i)));
  const auto stored = inbox.write_batch(deliveries, {}, true);
  REQUIRE(stored.ok);
  const std::vector work{item(event_of(inbox, stored.stored[1].event_id), WorkKind::started)};
  REQUIRE(inbox.write_batch({}, work, false).ok);  // 2 is processing, not pending

  const auto all = inbox.load_pending(0, 10);
  REQUIRE(all.size() == 4);
  CHECK(all[0].id == stored.stored[0].event_id);
  CHECK(all[1].id == stored.stored[2].event_id);
  const auto page = inbox.load_pending(stored.stored[2].event_id, 1);
  REQUIRE(page.size() == 1);
  CHECK(page[0].id == stored.stored[3].event_id);
  CHECK(page[0].body == deliveries[3].body);
}

TEST_CASE("changed_elsewhere notices another connection's commit, not its own", "[write_batch]") {
  TempDir dir;
  const std::string path = dir.file("receiver.db");
  SqliteInbox inbox(open_migrated(path));
  CHECK_FALSE(inbox.changed_elsewhere());  // the baseline
  const std::vector own{make_delivery("tx-1")};
  REQUIRE(inbox.write_batch(own, {}, true).ok);
  CHECK_FALSE(inbox.changed_elsewhere());

  SqliteInbox other(open_migrated(path));
  const std::vector theirs{make_delivery("tx-2")};
  REQUIRE(other.write_batch(theirs, {}, true).ok);
  CHECK(inbox.changed_elsewhere());
  CHECK_FALSE(inbox.changed_elsewhere());
}

TEST_CASE("checkpoints beside the writer keep its -wal bounded", "[write_batch][wal]") {
  TempDir dir;
  const std::string path = dir.file("receiver.db");
  SqliteInbox inbox(open_migrated(path));
  webhook::storage::WalCheckpointer checkpointer(path, 50, std::chrono::milliseconds(20));
  checkpointer.attach(inbox.database());
  // 1,200 rows of about one page each, in back-to-back transactions (sustained writes).
  for (int batch = 0; batch < 60; ++batch) {
    std::vector<webhook::core::Delivery> deliveries;
    for (int i = 0; i < 20; ++i) {
      webhook::core::Delivery d = make_delivery("tx-" + std::to_string(batch * 20 + i));
      d.body += std::string(2000, ' ');
      deliveries.push_back(std::move(d));
    }
    REQUIRE(inbox.write_batch(deliveries, {}, false).ok);
  }
  // The commits woke the background thread.
  REQUIRE(webhook::testing::wait_until([&] { return checkpointer.checkpoints() > 0; }));
  checkpointer.stop();
  CHECK(inbox.count_events() == 1200);
  // Without checkpoints the -wal would hold every page written (about 1,300 with the indexes).
  // Which side checkpointed, and how far the file grew while a checkpoint ran, depends on timing
  // (the background thread when it keeps up, else the writer itself past the hard limit of
  // 4 x 50 pages; 616 pages were seen under ThreadSanitizer): the file stays well below that.
  CHECK(std::filesystem::file_size(path + "-wal") < 1000 * 4096);
}
