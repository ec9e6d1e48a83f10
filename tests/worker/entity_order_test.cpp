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
#include "webhook/storage/inbox_writer.hpp"
#include "webhook/worker/dispatcher.hpp"

namespace {

using namespace std::chrono_literals;
using webhook::core::Delivery;
using webhook::core::RetryPolicy;
using webhook::core::RouteTable;
using webhook::core::StoredEvent;
using webhook::storage::InboxWriter;
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

// A MemoryInbox whose load_pending() throws while `load_failures` is above zero.
class FlakyInbox final : public webhook::core::BatchStore {
 public:
  std::atomic<int> load_failures{0};
  MemoryInbox inner;

  webhook::core::BatchWritten write_batch(std::span<const Delivery> d,
                                          std::span<const webhook::core::WorkItem> w,
                                          bool durable) override {
    return inner.write_batch(d, w, durable);
  }
  std::vector<StoredEvent> load_pending(std::int64_t after, std::size_t limit) override {
    if (load_failures.fetch_sub(1) > 0) throw std::runtime_error("database is locked");
    return inner.load_pending(after, limit);
  }
  bool changed_elsewhere() override { return inner.changed_elsewhere(); }
};

// A handler that decides a projection change (as the built-in projections do).
class ChangingHandler final : public Handler {
 public:
  HandlerResult handle(const StoredEvent&) override { return HandlerResult::fail("no context"); }
  HandlerResult handle_in(const StoredEvent&, webhook::worker::HandlerContext& context) override {
    context.change({.kind = webhook::core::ProjectionChange::Kind::payment});
    return HandlerResult::success();
  }
};

RouteTable all_to_test();

// The service's shape: deliveries and results go through the writer, events reach the
// dispatcher in memory. Members are destroyed in reverse: dispatcher, writer, store.
struct Pool {
  Pool(webhook::core::BatchStore& store, const HandlerRegistry& handlers, DispatcherOptions options,
       RetryPolicy policy = RetryPolicy{})
      : writer(store, writer_options()),
        dispatcher(
            writer, all_to_test(), handlers, policy, clock, [] { return 0.0; }, options) {}
  static InboxWriter::Options writer_options() {
    InboxWriter::Options o;
    o.outside_check = 20ms;
    o.failure_pause = 10ms;
    return o;
  }
  // Any thread (no assertion here: Catch is not thread-safe); false when the writer refused.
  bool submit(Delivery d) { return writer.submit(std::move(d), {}); }
  void stop() {
    dispatcher.stop();
    writer.stop();
  }
  webhook::core::SystemClock clock;
  InboxWriter writer;
  Dispatcher dispatcher;
};

// idle_poll is long, so progress must come from notify(), finishing workers and due times.
DispatcherOptions threaded(int threads, std::chrono::milliseconds stop_timeout = 5s) {
  DispatcherOptions o;
  o.threads = threads;
  o.idle_poll = 60s;
  o.stop_timeout = stop_timeout;
  return o;
}

HandlerRegistry registry_with(std::unique_ptr<Handler> handler) {
  HandlerRegistry r;
  r.add("test", std::move(handler));
  return r;
}

RouteTable all_to_test() {
  RetryPolicy fast;
  fast.initial = 20ms;
  fast.max = 20ms;
  fast.max_attempts = 3;
  return RouteTable({{"*", {"test"}, fast}});
}

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
  auto owned = std::make_unique<RecordingHandler>();
  RecordingHandler& recorder = *owned;
  const HandlerRegistry handlers = registry_with(std::move(owned));
  Pool pool(inbox, handlers, threaded(4));
  Dispatcher& dispatcher = pool.dispatcher;
  dispatcher.start();
  REQUIRE(dispatcher.running());

  std::latch go(kSubmitters);
  std::atomic<int> refused{0};
  std::vector<std::thread> submitters;
  for (int s = 0; s < kSubmitters; ++s) {
    submitters.emplace_back([&, s] {
      go.arrive_and_wait();
      for (int b = 0; b < kBatches; ++b) {
        for (int i = 0; i < kBatchSize; ++i) {
          const int n = (s * kBatches + b) * kBatchSize + i;
          // The state token carries the submitter's sequence number and keeps every key unique.
          if (!pool.submit(make_delivery("tx-" + std::to_string((n + s) % kEntities),
                                         "payment.settled", "seq-" + std::to_string(n)))) {
            ++refused;
          }
        }
      }
    });
  }
  for (std::thread& t : submitters) t.join();
  REQUIRE(refused == 0);

  REQUIRE(wait_until([&] { return dispatcher.stats().done == kTotal; }, 60s));
  pool.stop();
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
  CHECK(stats.started == kTotal);
  CHECK(stats.errors == 0);
  CHECK(dispatcher.held() == 0);
}

TEST_CASE("stop() with a handler past stop_timeout leaves unfinished events to the next start",
          "[dispatcher][threads][stop]") {
  MemoryInbox inbox;
  auto owned = std::make_unique<GatedHandler>();
  GatedHandler& gate = *owned;
  const HandlerRegistry handlers = registry_with(std::move(owned));
  const auto held = store_one(inbox, make_delivery("tx-1"));
  const auto queued_a = store_one(inbox, make_delivery("tx-2"));
  const auto queued_b = store_one(inbox, make_delivery("tx-3"));
  Pool pool(inbox, handlers, threaded(1, 100ms));
  Dispatcher& dispatcher = pool.dispatcher;
  LogCapture logs;
  dispatcher.start();

  // The one worker holds tx-1 in the handler (its attempt marked); tx-2 and tx-3 wait their
  // turn (in its batch, or in the ready queue).
  REQUIRE(
      wait_until([&] { return gate.entered() == 1 && status_of(inbox, held) == "processing"; }));
  CHECK(dispatcher.held() == 3);

  dispatcher.stop();  // returns after stop_timeout although the handler still runs
  CHECK(dispatcher.running());
  CHECK(logs.contains("handlers still running after stop_timeout"));

  gate.open();
  dispatcher.stop();  // the handler has returned (or does so now): its thread is joined
  CHECK_FALSE(dispatcher.running());
  pool.writer.stop();  // the late result, if recorded before this, is written
  CHECK(gate.entered() == 1);
  // Never run: pending again with no attempt counted, to run after a restart.
  for (const auto id : {queued_a, queued_b}) {
    CHECK(status_of(inbox, id) == "pending");
    CHECK(inbox.find_event(id)->attempts == 0);
  }
  CHECK(inbox.find_event(held)->attempts == 1);
  CHECK(dispatcher.stats().done == 0);  // settled only while the pool runs
}

TEST_CASE("stop() lets a running handler finish within stop_timeout",
          "[dispatcher][threads][stop]") {
  MemoryInbox inbox;
  auto owned = std::make_unique<GatedHandler>();
  GatedHandler& gate = *owned;
  const HandlerRegistry handlers = registry_with(std::move(owned));
  Pool pool(inbox, handlers, threaded(2, 30s));
  const auto id = store_one(inbox, make_delivery("tx-1"));
  LogCapture logs;
  pool.dispatcher.start();
  REQUIRE(wait_until([&] { return gate.entered() == 1; }));

  // Open the gate only once stop() has begun, so stop() has to wait for the handler.
  std::thread opener([&] {
    if (wait_until([&] { return logs.contains("worker pool stopping"); })) gate.open();
  });
  pool.stop();
  opener.join();
  CHECK_FALSE(pool.dispatcher.running());
  CHECK(status_of(inbox, id) == "done");
  CHECK_FALSE(logs.contains("handlers still running"));
}

TEST_CASE("events left processing by a crash run again after start, attempts counted",
          "[dispatcher][threads]") {
  MemoryInbox inbox;
  webhook::core::SystemClock clock;
  const auto id = store_one(inbox, make_delivery("tx-1"));
  REQUIRE(inbox.claim_due(clock.now_ms(), 10).size() == 1);  // the crashed run's attempt
  REQUIRE(status_of(inbox, id) == "processing");
  REQUIRE(inbox.release_claims(clock.now_ms()) == 1);  // what the service does at start-up

  const HandlerRegistry handlers = registry_with(std::make_unique<RecordingHandler>());
  Pool pool(inbox, handlers, threaded(2));
  pool.dispatcher.start();
  REQUIRE(wait_until([&] { return status_of(inbox, id) == "done"; }));
  CHECK(inbox.find_event(id)->attempts == 2);
  CHECK(pool.dispatcher.stats().loaded == 1);
}

TEST_CASE("a retry falls due without a notify", "[dispatcher][threads][retry]") {
  MemoryInbox inbox;
  const HandlerRegistry handlers = registry_with(std::make_unique<FailOnceHandler>());
  Pool pool(inbox, handlers, threaded(2));
  pool.dispatcher.start();
  REQUIRE(pool.submit(make_delivery("tx-1")));
  // idle_poll is 60 s: only the due time of the retry (Retry-After 50 ms) can wake it in time.
  REQUIRE(
      wait_until([&] { return inbox.count_events() == 1 && status_of(inbox, 1) == "done"; }, 10s));
  CHECK(inbox.find_event(1)->attempts == 2);
  CHECK(pool.dispatcher.stats().retried == 1);
}

TEST_CASE("a storage error reading events back is logged and retried", "[dispatcher][threads]") {
  FlakyInbox store;
  store.load_failures = 2;
  const HandlerRegistry handlers = registry_with(std::make_unique<RecordingHandler>());
  DispatcherOptions options = threaded(1);
  options.idle_poll = 20ms;  // the back-off after a storage error
  const auto id = store_one(store.inner, make_delivery("tx-1"));
  Pool pool(store, handlers, options);
  LogCapture logs;
  pool.dispatcher.start();
  REQUIRE(wait_until([&] { return status_of(store.inner, id) == "done"; }));
  CHECK(pool.dispatcher.stats().errors == 2);
  CHECK(logs.contains("database is locked"));
  CHECK(pool.dispatcher.running());
}

TEST_CASE("past its memory bound the pool reads events back from the database, in order",
          "[dispatcher][threads][order]") {
  constexpr int kTotal = 300, kEntities = 5;
  MemoryInbox inbox;
  auto owned = std::make_unique<RecordingHandler>();
  RecordingHandler& recorder = *owned;
  const HandlerRegistry handlers = registry_with(std::move(owned));
  DispatcherOptions options = threaded(3);
  options.max_events_in_memory = 8;
  options.load_batch = 3;
  Pool pool(inbox, handlers, options);
  pool.dispatcher.start();
  for (int n = 0; n < kTotal; ++n) {
    REQUIRE(pool.submit(make_delivery("tx-" + std::to_string(n % kEntities), "payment.settled",
                                      "seq-" + std::to_string(n))));
  }
  REQUIRE(wait_until([&] { return pool.dispatcher.stats().done == kTotal; }, 60s));
  pool.stop();
  std::map<std::string, std::vector<std::int64_t>> arrival;
  for (std::int64_t id = 1; id <= kTotal; ++id) {
    const StoredEvent e = inbox.find_event(id).value();
    CHECK(e.status == "done");
    arrival[e.entity_id].push_back(id);
  }
  CHECK(recorder.order() == arrival);  // each ran once, per entity in id order
  CHECK(pool.dispatcher.stats().loaded > 0);
}

TEST_CASE("an event redriven by another process is picked up by the running pool",
          "[dispatcher][threads]") {
  MemoryInbox inbox;
  webhook::core::SystemClock clock;
  auto owned = std::make_unique<RecordingHandler>();
  RecordingHandler& recorder = *owned;
  const HandlerRegistry handlers = registry_with(std::move(owned));
  const auto dead = store_one(inbox, make_delivery("tx-1"));
  REQUIRE(inbox.claim_due(clock.now_ms(), 10).size() == 1);
  REQUIRE(inbox.mark_dead(dead, "gave up", clock.now_ms()));
  Pool pool(inbox, handlers, threaded(1));
  pool.dispatcher.start();
  REQUIRE(pool.submit(make_delivery("tx-2")));
  REQUIRE(wait_until([&] { return recorder.order().count("tx-2") == 1; }));
  CHECK(recorder.order().count("tx-1") == 0);

  // `events retry` in another process: the database changes under the running service.
  REQUIRE(inbox.redrive(std::vector<std::int64_t>{dead}, clock.now_ms()) == 1);
  inbox.outside_change = true;
  REQUIRE(wait_until([&] { return status_of(inbox, dead) == "done"; }));
  CHECK(recorder.order().at("tx-1") == std::vector<std::int64_t>{dead});
}

TEST_CASE("a projection change that fails retries its event, and only its event",
          "[dispatcher][threads][projections]") {
  MemoryInbox inbox;
  const HandlerRegistry handlers = registry_with(std::make_unique<ChangingHandler>());
  const auto poisoned = store_one(inbox, make_delivery("tx-1"));
  const auto fine = store_one(inbox, make_delivery("tx-2"));
  inbox.fail_changes_of.insert(poisoned);
  Pool pool(inbox, handlers, threaded(2));
  pool.dispatcher.start();
  REQUIRE(wait_until([&] { return status_of(inbox, poisoned) == "dead"; }));
  CHECK(status_of(inbox, fine) == "done");
  const StoredEvent e = inbox.find_event(poisoned).value();
  CHECK(e.attempts == 3);  // the route's policy: 3 attempts
  CHECK(e.last_error.find("simulated projection failure") != std::string::npos);
  const auto changes = inbox.changes_applied();
  CHECK(std::count_if(changes.begin(), changes.end(),
                      [&](const auto& c) { return c.first == fine; }) == 1);
  CHECK(std::none_of(changes.begin(), changes.end(),
                     [&](const auto& c) { return c.first == poisoned; }));
  CHECK(pool.dispatcher.stats().retried == 2);
  CHECK(pool.dispatcher.stats().dead == 1);
}
