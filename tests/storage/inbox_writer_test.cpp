// Tests include/webhook/storage/inbox_writer.hpp: exactly-once completion, group commit under
// concurrency, the bounded queue, stop() draining, and failures. Waits have deadlines; no sleeps.

#include "webhook/storage/inbox_writer.hpp"

#include <algorithm>
#include <catch2/catch.hpp>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <mutex>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "storage_test_support.hpp"
#include "support/memory_inbox.hpp"
#include "support/wait.hpp"
#include "webhook/storage/sqlite_inbox.hpp"

namespace {

using webhook::core::Delivery;
using webhook::core::StoreResult;
using webhook::storage::InboxWriter;
using webhook::storage::SqliteInbox;
using webhook::test::make_delivery;
using webhook::test::MemoryInbox;
using webhook::test::TempDir;
using Kind = StoreResult::Kind;
using namespace std::chrono_literals;

constexpr auto kDeadline = 60s;  // generous for sanitizer builds; only reached when broken

// Records every completion by slot, so "exactly once" and "its own result" can be checked.
class Completions {
 public:
  explicit Completions(std::size_t slots) : results_(slots) {}

  InboxWriter::Completion slot(std::size_t i) {
    return [this, i](const StoreResult& r) {
      std::lock_guard lock(mutex_);
      results_[i].push_back(r);
      ++total_;
      changed_.notify_all();
    };
  }
  bool wait_for(std::size_t total) {
    std::unique_lock lock(mutex_);
    return changed_.wait_for(lock, kDeadline, [&] { return total_ >= total; });
  }
  bool wait_for_slot(std::size_t i) {
    std::unique_lock lock(mutex_);
    return changed_.wait_for(lock, kDeadline, [&] { return !results_[i].empty(); });
  }
  std::size_t total() {
    std::lock_guard lock(mutex_);
    return total_;
  }
  // The results slot `i` received (normally exactly one).
  std::vector<StoreResult> of(std::size_t i) {
    std::lock_guard lock(mutex_);
    return results_[i];
  }

 private:
  std::mutex mutex_;
  std::condition_variable changed_;
  std::vector<std::vector<StoreResult>> results_;
  std::size_t total_ = 0;
};

// The writer calls write_batch(), which here stores the deliveries with store_batch() (there is
// no work in these tests): fakes for it derive from this, whose queue methods fail loudly if
// anything else is called.
class WriterOnlyInbox : public webhook::core::Inbox, public webhook::core::BatchStore {
 public:
  webhook::core::BatchWritten write_batch(std::span<const Delivery> deliveries,
                                          std::span<const webhook::core::WorkItem> work,
                                          bool /*durable*/) override {
    if (!work.empty()) throw std::logic_error("no work in these tests");
    webhook::core::BatchWritten out;
    out.stored = store_batch(deliveries);
    out.ok = std::none_of(out.stored.begin(), out.stored.end(),
                          [](const StoreResult& r) { return r.kind == Kind::failed; });
    return out;
  }
  std::vector<webhook::core::StoredEvent> load_pending(std::int64_t, std::size_t) override {
    throw std::logic_error("unused");
  }
  bool changed_elsewhere() override { return false; }
  std::vector<webhook::core::StoredEvent> claim_due(std::int64_t, std::size_t) override {
    throw std::logic_error("not used by the writer");
  }
  bool mark_done(std::int64_t, std::int64_t) override { throw std::logic_error("unused"); }
  bool mark_unhandled(std::int64_t, std::int64_t) override { throw std::logic_error("unused"); }
  bool schedule_retry(std::int64_t, std::int64_t, std::string_view, std::int64_t) override {
    throw std::logic_error("unused");
  }
  bool mark_dead(std::int64_t, std::string_view, std::int64_t) override {
    throw std::logic_error("unused");
  }
  std::size_t release_claims(std::int64_t) override { throw std::logic_error("unused"); }
  std::size_t redrive(std::span<const std::int64_t>, std::int64_t) override {
    throw std::logic_error("unused");
  }
  std::optional<std::int64_t> next_due_ms() override { throw std::logic_error("unused"); }
};

// An Inbox whose store_batch() announces itself and then blocks until open(), then forwards to
// `target`. Lets a test hold the writer inside a batch and fill the queue deterministically.
class GatedInbox final : public WriterOnlyInbox {
 public:
  explicit GatedInbox(webhook::core::Inbox& target) : target_(target) {}

  std::vector<StoreResult> store_batch(std::span<const Delivery> batch) override {
    {
      std::unique_lock lock(mutex_);
      ++entered_;
      largest_ = std::max(largest_, batch.size());
      changed_.notify_all();
      changed_.wait(lock, [&] { return open_; });
    }
    return target_.store_batch(batch);
  }
  std::optional<webhook::core::StoredEvent> find_event(std::int64_t id) override {
    return target_.find_event(id);
  }
  std::optional<webhook::core::StoredEvent> find_by_key(
      const webhook::core::DedupKey& key) override {
    return target_.find_by_key(key);
  }
  std::int64_t count_events() override { return target_.count_events(); }

  bool wait_entered(int calls) {
    std::unique_lock lock(mutex_);
    return changed_.wait_for(lock, kDeadline, [&] { return entered_ >= calls; });
  }
  // The largest batch that has entered store_batch so far.
  std::size_t largest_batch() {
    std::lock_guard lock(mutex_);
    return largest_;
  }
  void open() {
    std::lock_guard lock(mutex_);
    open_ = true;
    changed_.notify_all();
  }

 private:
  webhook::core::Inbox& target_;
  std::mutex mutex_;
  std::condition_variable changed_;
  int entered_ = 0;
  std::size_t largest_ = 0;
  bool open_ = false;
};

}  // namespace

TEST_CASE("every submission completes exactly once with its own result", "[writer]") {
  MemoryInbox inbox;
  InboxWriter writer(inbox, {});
  const std::vector<Delivery> deliveries = {make_delivery("tx-1"), make_delivery("tx-2"),
                                            make_delivery("tx-1"), make_delivery("tx-3")};
  Completions done(deliveries.size());

  for (std::size_t i = 0; i < deliveries.size(); ++i) {
    REQUIRE(writer.submit(deliveries[i], done.slot(i)));
  }
  REQUIRE(done.wait_for(deliveries.size()));
  writer.stop();

  CHECK(done.total() == deliveries.size());
  for (std::size_t i = 0; i < deliveries.size(); ++i) REQUIRE(done.of(i).size() == 1);
  CHECK(done.of(0)[0].kind == Kind::inserted);
  CHECK(done.of(1)[0].kind == Kind::inserted);
  CHECK(done.of(2)[0].kind == Kind::duplicate);
  CHECK(done.of(2)[0].event_id == done.of(0)[0].event_id);
  CHECK(done.of(3)[0].kind == Kind::inserted);
  CHECK(inbox.count_events() == 3);
  CHECK(writer.stats().deliveries == 4);
}

TEST_CASE("concurrent submitters share commits and every row is stored once", "[writer]") {
  constexpr std::size_t kThreads = 16;
  constexpr std::size_t kPerThread = 200;
  constexpr std::size_t kTotal = kThreads * kPerThread;
  TempDir dir;
  SqliteInbox inbox(webhook::test::open_migrated(dir.file("inbox.db")));
  GatedInbox gated(inbox);
  InboxWriter writer(gated, {});
  Completions done(kTotal);

  // Each submitter behaves like a session: submit, wait for the durable answer, next.
  const auto started = std::chrono::steady_clock::now();
  std::vector<std::thread> submitters;
  for (std::size_t t = 0; t < kThreads; ++t) {
    submitters.emplace_back([&, t] {
      for (std::size_t n = 0; n < kPerThread; ++n) {
        const std::size_t slot = t * kPerThread + n;
        if (!writer.submit(make_delivery("tx-" + std::to_string(slot)), done.slot(slot))) return;
        if (!done.wait_for_slot(slot)) return;
      }
    });
  }
  // Hold the first commit until it already carries several deliveries or at least two others
  // have queued behind it (then the next commit does), however fast or loaded the machine is.
  REQUIRE(gated.wait_entered(1));
  REQUIRE(webhook::testing::wait_until(
      [&] { return gated.largest_batch() >= 2 || writer.queued() >= 2; }));
  gated.open();
  for (auto& s : submitters) s.join();
  REQUIRE(done.wait_for(kTotal));
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  writer.stop();

  const auto stats = writer.stats();
  std::set<std::int64_t> ids;
  for (std::size_t i = 0; i < kTotal; ++i) {
    const auto results = done.of(i);
    REQUIRE(results.size() == 1);
    REQUIRE(results[0].kind == Kind::inserted);
    ids.insert(results[0].event_id);
  }
  CHECK(ids.size() == kTotal);
  CHECK(inbox.count_events() == static_cast<std::int64_t>(kTotal));
  CHECK(stats.deliveries == kTotal);
  CHECK(stats.max_batch > 1);
  CHECK(stats.batches < stats.deliveries);
  CHECK(stats.failed_batches == 0);
  std::printf(
      "[writer] %zu deliveries in %llu commits, %.3f s: %.0f deliveries/s, "
      "%.0f commits/s, max batch %llu\n",
      kTotal, static_cast<unsigned long long>(stats.batches), seconds,
      static_cast<double>(kTotal) / seconds, static_cast<double>(stats.batches) / seconds,
      static_cast<unsigned long long>(stats.max_batch));
}

TEST_CASE("max_batch 1 commits every delivery on its own", "[writer]") {
  constexpr std::size_t kCount = 50;
  MemoryInbox inbox;
  InboxWriter writer(inbox, {.max_batch = 1, .max_queue = 10000});
  Completions done(kCount);

  for (std::size_t i = 0; i < kCount; ++i) {
    REQUIRE(writer.submit(make_delivery("tx-" + std::to_string(i)), done.slot(i)));
  }
  REQUIRE(done.wait_for(kCount));
  writer.stop();

  CHECK(writer.stats().batches == kCount);
  CHECK(writer.stats().max_batch == 1);
  CHECK(inbox.count_events() == static_cast<std::int64_t>(kCount));
}

TEST_CASE("a full queue refuses the submission and never completes it", "[writer]") {
  MemoryInbox memory;
  GatedInbox gated(memory);
  InboxWriter writer(gated, {.max_batch = 512, .max_queue = 2});
  Completions done(4);

  REQUIRE(writer.submit(make_delivery("tx-0"), done.slot(0)));
  REQUIRE(gated.wait_entered(1));  // the writer holds tx-0 inside store_batch; the queue is empty
  REQUIRE(writer.submit(make_delivery("tx-1"), done.slot(1)));
  REQUIRE(writer.submit(make_delivery("tx-2"), done.slot(2)));
  CHECK(writer.queued() == 2);
  CHECK_FALSE(writer.submit(make_delivery("tx-3"), done.slot(3)));

  gated.open();
  REQUIRE(done.wait_for(3));
  writer.stop();
  CHECK(done.of(3).empty());
  CHECK(memory.count_events() == 3);
}

TEST_CASE("stop() writes everything still queued before it returns", "[writer]") {
  MemoryInbox memory;
  GatedInbox gated(memory);
  InboxWriter writer(gated, {});
  constexpr std::size_t kMaxProbes = 5000;
  Completions done(3 + kMaxProbes);

  REQUIRE(writer.submit(make_delivery("tx-0"), done.slot(0)));
  REQUIRE(gated.wait_entered(1));
  REQUIRE(writer.submit(make_delivery("tx-1"), done.slot(1)));
  REQUIRE(writer.submit(make_delivery("tx-2"), done.slot(2)));

  // stop() runs while the writer is held in a batch; the gate opens only once submit() refuses,
  // i.e. once stop() has begun, so whatever is queued by then must be drained by stop() itself.
  std::thread stopper([&] { writer.stop(); });
  std::size_t probes = 0;
  const auto deadline = std::chrono::steady_clock::now() + kDeadline;
  while (probes < kMaxProbes && std::chrono::steady_clock::now() < deadline &&
         writer.submit(make_delivery("probe-" + std::to_string(probes)), done.slot(3 + probes))) {
    ++probes;
    std::this_thread::yield();
  }
  gated.open();
  stopper.join();

  CHECK(done.total() == 3 + probes);
  CHECK(memory.count_events() == static_cast<std::int64_t>(3 + probes));
  CHECK(writer.queued() == 0);
}

TEST_CASE("a storage failure completes every item of its batch as failed", "[writer]") {
  MemoryInbox memory;
  GatedInbox gated(memory);
  std::vector<std::pair<std::size_t, bool>> observed;  // writer thread only; read after stop()
  double slowest = -1.0;
  InboxWriter writer(gated, {}, [&](std::size_t size, double seconds, bool ok) {
    observed.emplace_back(size, ok);
    slowest = std::max(slowest, seconds);
  });
  Completions done(4);

  // tx-0 is stored alone; its completion arms the failure for the next batch (tx-1..tx-3).
  REQUIRE(writer.submit(make_delivery("tx-0"), [&](const StoreResult& r) {
    memory.fail_next = true;
    done.slot(0)(r);
  }));
  REQUIRE(gated.wait_entered(1));
  for (std::size_t i = 1; i < 4; ++i) {
    REQUIRE(writer.submit(make_delivery("tx-" + std::to_string(i)), done.slot(i)));
  }
  gated.open();
  REQUIRE(done.wait_for(4));
  writer.stop();

  CHECK(done.of(0).at(0).kind == Kind::inserted);
  for (std::size_t i = 1; i < 4; ++i) {
    REQUIRE(done.of(i).size() == 1);
    CHECK(done.of(i)[0].kind == Kind::failed);
    CHECK_FALSE(done.of(i)[0].error.empty());
  }
  const auto stats = writer.stats();
  CHECK(stats.batches == 2);
  CHECK(stats.failed_batches == 1);
  CHECK(stats.deliveries == 1);
  CHECK(stats.max_batch == 3);
  CHECK(observed == std::vector<std::pair<std::size_t, bool>>{{1, true}, {3, false}});
  CHECK(slowest >= 0.0);
  CHECK(memory.count_events() == 1);
}

TEST_CASE("submit after stop returns false and never completes", "[writer]") {
  MemoryInbox inbox;
  InboxWriter writer(inbox, {});
  Completions done(1);
  writer.stop();
  writer.stop();  // idempotent

  CHECK_FALSE(writer.submit(make_delivery("tx-1"), done.slot(0)));
  CHECK(done.total() == 0);
  CHECK(inbox.count_events() == 0);
}

TEST_CASE("a throwing completion does not stop the writer", "[writer]") {
  MemoryInbox inbox;
  InboxWriter writer(inbox, {});
  Completions done(1);

  REQUIRE(writer.submit(make_delivery("tx-1"),
                        [](const StoreResult&) { throw std::runtime_error("handler bug"); }));
  REQUIRE(writer.submit(make_delivery("tx-2"), done.slot(0)));
  REQUIRE(done.wait_for(1));
  writer.stop();

  CHECK(done.of(0).at(0).kind == Kind::inserted);
  CHECK(inbox.count_events() == 2);
}

TEST_CASE("an inbox that throws fails the batch instead of killing the writer", "[writer]") {
  struct Throwing final : WriterOnlyInbox {
    std::vector<StoreResult> store_batch(std::span<const Delivery>) override {
      throw std::runtime_error("not expected");
    }
    std::optional<webhook::core::StoredEvent> find_event(std::int64_t) override { return {}; }
    std::optional<webhook::core::StoredEvent> find_by_key(const webhook::core::DedupKey&) override {
      return {};
    }
    std::int64_t count_events() override { return 0; }
  } inbox;
  InboxWriter writer(inbox, {});
  Completions done(2);

  REQUIRE(writer.submit(make_delivery("tx-1"), done.slot(0)));
  REQUIRE(done.wait_for(1));
  REQUIRE(writer.submit(make_delivery("tx-2"), done.slot(1)));
  REQUIRE(done.wait_for(2));
  writer.stop();

  CHECK(done.of(0).at(0).kind == Kind::failed);
  CHECK(done.of(1).at(0).kind == Kind::failed);
  CHECK(writer.stats().failed_batches == 2);
}
