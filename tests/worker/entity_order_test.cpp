// Dispatcher with its threads (start()/stop()) on a SystemClock: per-entity order under
// concurrent submitters, parallelism across entities, stop() with a handler still running, and
// start() after a crash. Every wait is on a condition with a deadline.

#include <catch2/catch.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <latch>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "storage/storage_test_support.hpp"
#include "support/memory_inbox.hpp"
#include "support/wait.hpp"
#include "webhook/core/clock.hpp"
#include "webhook/log/log.hpp"
#include "webhook/worker/dispatcher.hpp"

namespace {

using namespace std::chrono_literals;
using webhook::core::Delivery;
using webhook::core::RetryPolicy;
using webhook::core::RouteTable;
using webhook::core::StoredEvent;
using webhook::test::make_delivery;
using webhook::test::MemoryInbox;
using webhook::testing::wait_until;
using webhook::worker::Dispatcher;
using webhook::worker::DispatcherOptions;
using webhook::worker::Handler;
using webhook::worker::HandlerRegistry;
using webhook::worker::HandlerResult;

// Records, per entity, the ids in the order handling began; tracks how many entities were inside
// the handler at once, and whether one entity ever was there twice. Sleeps a short time that
// varies by event (not random: the assertions do not depend on it) to shuffle interleavings.
class RecordingHandler final : public Handler {
 public:
  HandlerResult handle(const StoredEvent& event) override {
    {
      std::lock_guard lock(mutex_);
      if (!active_.insert(event.entity_id).second) same_entity_twice_ = true;
      max_active_ = std::max(max_active_, active_.size());
      order_[event.entity_id].push_back(event.id);
    }
    std::this_thread::sleep_for(std::chrono::microseconds(50 + (event.id * 7919) % 500));
    std::lock_guard lock(mutex_);
    active_.erase(event.entity_id);
    return HandlerResult::success();
  }

  std::map<std::string, std::vector<std::int64_t>> order() const {
    std::lock_guard lock(mutex_);
    return order_;
  }
  std::size_t max_active() const {
    std::lock_guard lock(mutex_);
    return max_active_;
  }
  bool same_entity_twice() const {
    std::lock_guard lock(mutex_);
    return same_entity_twice_;
  }

 private:
  mutable std::mutex mutex_;
  std::set<std::string> active_;
  std::size_t max_active_ = 0;
  bool same_entity_twice_ = false;
  std::map<std::string, std::vector<std::int64_t>> order_;
};

// Blocks every call until open() (counting entries), then succeeds.
class GatedHandler final : public Handler {
 public:
  HandlerResult handle(const StoredEvent&) override {
    std::unique_lock lock(mutex_);
    ++entered_;
    opened_.wait(lock, [this] { return open_; });
    return HandlerResult::success();
  }
  void open() {
    {
      std::lock_guard lock(mutex_);
      open_ = true;
    }
    opened_.notify_all();
  }
  int entered() const {
    std::lock_guard lock(mutex_);
    return entered_;
  }

 private:
  mutable std::mutex mutex_;
  std::condition_variable opened_;
  bool open_ = false;
  int entered_ = 0;
};

// Fails the first call with a Retry-After, then succeeds.
class FailOnceHandler final : public Handler {
 public:
  HandlerResult handle(const StoredEvent&) override {
    if (calls_++ == 0) return HandlerResult::retry("503 busy", 50ms);
    return HandlerResult::success();
  }

 private:
  std::atomic<int> calls_{0};
};

// A MemoryInbox whose claim_due() throws while `claim_failures` is above zero.
class FlakyInbox final : public webhook::core::Inbox {
 public:
  std::atomic<int> claim_failures{0};
  MemoryInbox inner;

  std::vector<webhook::core::StoreResult> store_batch(std::span<const Delivery> b) override {
    return inner.store_batch(b);
  }
  std::optional<StoredEvent> find_event(std::int64_t id) override { return inner.find_event(id); }
  std::optional<StoredEvent> find_by_key(const webhook::core::DedupKey& k) override {
    return inner.find_by_key(k);
  }
  std::int64_t count_events() override { return inner.count_events(); }
  std::vector<StoredEvent> claim_due(std::int64_t now, std::size_t limit) override {
    if (claim_failures.fetch_sub(1) > 0) throw std::runtime_error("database is locked");
    return inner.claim_due(now, limit);
  }
  bool mark_done(std::int64_t id, std::int64_t now) override { return inner.mark_done(id, now); }
  bool mark_unhandled(std::int64_t id, std::int64_t now) override {
    return inner.mark_unhandled(id, now);
  }
  bool schedule_retry(std::int64_t id, std::int64_t at, std::string_view e,
                      std::int64_t now) override {
    return inner.schedule_retry(id, at, e, now);
  }
  bool mark_dead(std::int64_t id, std::string_view e, std::int64_t now) override {
    return inner.mark_dead(id, e, now);
  }
  std::size_t release_claims(std::int64_t now) override { return inner.release_claims(now); }
  std::size_t redrive(std::span<const std::int64_t> ids, std::int64_t now) override {
    return inner.redrive(ids, now);
  }
  std::optional<std::int64_t> next_due_ms() override { return inner.next_due_ms(); }
};

// idle_poll is long, so progress must come from notify(), finishing workers and due times.
DispatcherOptions threaded(int threads, std::chrono::milliseconds stop_timeout = 5s) {
  DispatcherOptions o;
  o.threads = threads;
  o.claim_batch = 64;
  o.idle_poll = 60s;
  o.stop_timeout = stop_timeout;
  return o;
}

HandlerRegistry registry_with(std::unique_ptr<Handler> handler) {
  HandlerRegistry r;
  r.add("test", std::move(handler));
  return r;
}

RouteTable all_to_test() { return RouteTable({{"*", {"test"}, std::nullopt}}); }

std::int64_t store_one(webhook::core::Inbox& inbox, const Delivery& d) {
  return inbox.store_batch(std::span(&d, 1)).at(0).event_id;
}

std::string status_of(webhook::core::Inbox& inbox, std::int64_t id) {
  return inbox.find_event(id).value().status;
}

// Collects log lines from any thread.
struct LogCapture {
  LogCapture() {
    webhook::log::set_line_sink([this](std::string_view line) {
      std::lock_guard lock(mutex);
      lines.emplace_back(line);
    });
  }
  ~LogCapture() { webhook::log::set_line_sink({}); }
  bool contains(std::string_view text) {
    std::lock_guard lock(mutex);
    return std::any_of(lines.begin(), lines.end(),
                       [&](const std::string& l) { return l.find(text) != std::string::npos; });
  }
  std::mutex mutex;
  std::vector<std::string> lines;
};

}  // namespace

TEST_CASE("events of one entity are handled in arrival order while entities run in parallel",
          "[dispatcher][threads][order]") {
  constexpr int kSubmitters = 8, kBatches = 10, kBatchSize = 5, kEntities = 4;
  constexpr int kTotal = kSubmitters * kBatches * kBatchSize;
  MemoryInbox inbox;
  webhook::core::SystemClock clock;
  auto owned = std::make_unique<RecordingHandler>();
  RecordingHandler& recorder = *owned;
  const HandlerRegistry handlers = registry_with(std::move(owned));
  Dispatcher dispatcher(
      inbox, all_to_test(), handlers, RetryPolicy{}, clock, [] { return 0.0; }, threaded(4));
  dispatcher.start();
  REQUIRE(dispatcher.running());

  std::latch go(kSubmitters);
  std::vector<std::thread> submitters;
  for (int s = 0; s < kSubmitters; ++s) {
    submitters.emplace_back([&, s] {
      go.arrive_and_wait();
      for (int b = 0; b < kBatches; ++b) {
        std::vector<Delivery> batch;
        for (int i = 0; i < kBatchSize; ++i) {
          const int n = (s * kBatches + b) * kBatchSize + i;
          // The state token carries the submitter's sequence number and keeps every key unique.
          batch.push_back(make_delivery("tx-" + std::to_string((n + s) % kEntities),
                                        "payment.settled", "seq-" + std::to_string(n)));
        }
        inbox.store_batch(batch);
        dispatcher.notify();
      }
    });
  }
  for (std::thread& t : submitters) t.join();

  REQUIRE(wait_until([&] { return dispatcher.stats().done == kTotal; }, 60s));
  dispatcher.stop();
  CHECK_FALSE(dispatcher.running());

  // Arrival order is id order; every event ran once, per entity in that order.
  std::map<std::string, std::vector<std::int64_t>> arrival;
  REQUIRE(inbox.count_events() == kTotal);
  for (std::int64_t id = 1; id <= kTotal; ++id) {
    const StoredEvent e = inbox.find_event(id).value();
    CHECK(e.status == "done");
    CHECK(e.attempts == 1);
    arrival[e.entity_id].push_back(id);
  }
  CHECK(arrival.size() == kEntities);
  CHECK(recorder.order() == arrival);
  CHECK_FALSE(recorder.same_entity_twice());
  CHECK(recorder.max_active() >= 2);
  const auto stats = dispatcher.stats();
  CHECK(stats.claimed == kTotal);
  CHECK(stats.errors == 0);
}

TEST_CASE("stop() with a handler past stop_timeout returns unfinished claims to pending",
          "[dispatcher][threads][stop]") {
  MemoryInbox inbox;
  webhook::core::SystemClock clock;
  auto owned = std::make_unique<GatedHandler>();
  GatedHandler& gate = *owned;
  const HandlerRegistry handlers = registry_with(std::move(owned));
  Dispatcher dispatcher(
      inbox, all_to_test(), handlers, RetryPolicy{}, clock, [] { return 0.0; }, threaded(1, 100ms));
  const auto held = store_one(inbox, make_delivery("tx-1"));
  const auto queued_a = store_one(inbox, make_delivery("tx-2"));
  const auto queued_b = store_one(inbox, make_delivery("tx-3"));
  LogCapture logs;
  dispatcher.start();

  // One worker holds tx-1 in the handler; tx-2 and tx-3 are claimed and wait in the pool.
  REQUIRE(wait_until([&] { return gate.entered() == 1 && dispatcher.stats().claimed == 3; }));
  CHECK(status_of(inbox, queued_a) == "processing");

  dispatcher.stop();  // returns after stop_timeout although the handler still runs
  CHECK(dispatcher.running());
  CHECK(logs.contains("handlers still running after stop_timeout"));
  for (const auto id : {held, queued_a, queued_b}) CHECK(status_of(inbox, id) == "pending");

  gate.open();
  dispatcher.stop();  // the handler has returned (or does so now): its thread is joined
  CHECK_FALSE(dispatcher.running());
  CHECK(gate.entered() == 1);
  // The late result is discarded: the event stays pending and runs again after a restart.
  for (const auto id : {held, queued_a, queued_b}) CHECK(status_of(inbox, id) == "pending");
  CHECK(inbox.find_event(queued_a)->attempts == 1);
  CHECK(dispatcher.stats().done == 0);
}

TEST_CASE("stop() lets a running handler finish within stop_timeout",
          "[dispatcher][threads][stop]") {
  MemoryInbox inbox;
  webhook::core::SystemClock clock;
  auto owned = std::make_unique<GatedHandler>();
  GatedHandler& gate = *owned;
  const HandlerRegistry handlers = registry_with(std::move(owned));
  Dispatcher dispatcher(
      inbox, all_to_test(), handlers, RetryPolicy{}, clock, [] { return 0.0; }, threaded(2, 30s));
  const auto id = store_one(inbox, make_delivery("tx-1"));
  LogCapture logs;
  dispatcher.start();
  REQUIRE(wait_until([&] { return gate.entered() == 1; }));

  // Open the gate only once stop() has begun, so stop() has to wait for the handler.
  std::thread opener([&] {
    if (wait_until([&] { return logs.contains("worker pool stopping"); })) gate.open();
  });
  dispatcher.stop();
  opener.join();
  CHECK_FALSE(dispatcher.running());
  CHECK(status_of(inbox, id) == "done");
  CHECK(dispatcher.stats().done == 1);
  CHECK_FALSE(logs.contains("handlers still running"));
}

TEST_CASE("start() returns claims left processing by a crash to pending and runs them",
          "[dispatcher][threads]") {
  MemoryInbox inbox;
  webhook::core::SystemClock clock;
  const auto id = store_one(inbox, make_delivery("tx-1"));
  REQUIRE(inbox.claim_due(clock.now_ms(), 10).size() == 1);  // the crashed run's claim
  REQUIRE(status_of(inbox, id) == "processing");

  const HandlerRegistry handlers = registry_with(std::make_unique<RecordingHandler>());
  Dispatcher dispatcher(
      inbox, all_to_test(), handlers, RetryPolicy{}, clock, [] { return 0.0; }, threaded(2));
  LogCapture logs;
  dispatcher.start();
  REQUIRE(wait_until([&] { return status_of(inbox, id) == "done"; }));
  CHECK(inbox.find_event(id)->attempts == 2);
  CHECK(logs.contains("stale claims released=1"));
}

TEST_CASE("a retry falls due without a notify", "[dispatcher][threads][retry]") {
  MemoryInbox inbox;
  webhook::core::SystemClock clock;
  const HandlerRegistry handlers = registry_with(std::make_unique<FailOnceHandler>());
  Dispatcher dispatcher(
      inbox, all_to_test(), handlers, RetryPolicy{}, clock, [] { return 0.0; }, threaded(2));
  const auto id = store_one(inbox, make_delivery("tx-1"));
  dispatcher.start();
  // idle_poll is 60 s: only the due time of the retry (Retry-After 50 ms) can wake it in time.
  REQUIRE(wait_until([&] { return status_of(inbox, id) == "done"; }, 10s));
  CHECK(inbox.find_event(id)->attempts == 2);
  CHECK(dispatcher.stats().retried == 1);
}

TEST_CASE("a storage error in the dispatcher thread is logged and retried",
          "[dispatcher][threads]") {
  FlakyInbox inbox;
  inbox.claim_failures = 2;
  webhook::core::SystemClock clock;
  const HandlerRegistry handlers = registry_with(std::make_unique<RecordingHandler>());
  DispatcherOptions options = threaded(1);
  options.idle_poll = 20ms;  // the back-off after a storage error
  Dispatcher dispatcher(
      inbox, all_to_test(), handlers, RetryPolicy{}, clock, [] { return 0.0; }, options);
  const auto id = store_one(inbox, make_delivery("tx-1"));
  LogCapture logs;
  dispatcher.start();
  REQUIRE(wait_until([&] { return status_of(inbox, id) == "done"; }));
  CHECK(dispatcher.stats().errors == 2);
  CHECK(logs.contains("database is locked"));
  CHECK(dispatcher.running());
}
