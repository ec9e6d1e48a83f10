// Dispatcher without threads: run_once() on the test thread, a ManualClock, jitter fixed at 0 and
// a scripted handler, so every delay is asserted exactly.

#include <catch2/catch.hpp>

#include <chrono>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "storage/storage_test_support.hpp"
#include "support/memory_inbox.hpp"
#include "webhook/core/clock.hpp"
#include "webhook/log/log.hpp"
#include "webhook/worker/dispatcher.hpp"
#include "webhook/worker/inline_work_queue.hpp"

namespace {

using namespace std::chrono_literals;
using webhook::core::RetryPolicy;
using webhook::core::RouteRule;
using webhook::core::RouteTable;
using webhook::core::StoredEvent;
using webhook::test::make_delivery;
using webhook::test::make_quarantined;
using webhook::worker::Dispatcher;
using webhook::worker::DispatcherOptions;
using webhook::worker::DispatchReport;
using webhook::worker::Handler;
using webhook::worker::HandlerRegistry;
using webhook::worker::HandlerResult;

// Returns the queued results in order (success once the script runs out) and records the ids it
// was called with. A queued `throws` entry throws std::runtime_error with that text instead.
class ScriptedHandler final : public Handler {
 public:
  struct Step {
    HandlerResult result;
    std::optional<std::string> throws;
  };

  void then(HandlerResult result) {
    std::lock_guard lock(mutex_);
    script_.push_back({std::move(result), std::nullopt});
  }
  void then_throw(std::string what) {
    std::lock_guard lock(mutex_);
    script_.push_back({{}, std::move(what)});
  }
  std::vector<std::int64_t> calls() const {
    std::lock_guard lock(mutex_);
    return calls_;
  }

  HandlerResult handle(const StoredEvent& event) override {
    std::lock_guard lock(mutex_);
    calls_.push_back(event.id);
    if (script_.empty()) return HandlerResult::success();
    Step step = std::move(script_.front());
    script_.pop_front();
    if (step.throws) throw std::runtime_error(*step.throws);
    return step.result;
  }

 private:
  mutable std::mutex mutex_;
  std::deque<Step> script_;
  std::vector<std::int64_t> calls_;
};

RetryPolicy test_policy() {
  RetryPolicy p;
  p.initial = 1000ms;
  p.multiplier = 2.0;
  p.max = 32000ms;
  p.max_attempts = 3;
  return p;
}

// One inbox, one clock, one scripted handler named "script" and the dispatcher over them.
struct Rig {
  explicit Rig(std::vector<RouteRule> rules = {{"payment.*", {"script"}, std::nullopt}}) {
    auto owned = std::make_unique<ScriptedHandler>();
    script = owned.get();
    handlers.add("script", std::move(owned));
    dispatcher = std::make_unique<Dispatcher>(
        queue, RouteTable(std::move(rules)), handlers, test_policy(), clock, [] { return 0.0; },
        DispatcherOptions{},
        [this](const DispatchReport& r) {
          reports.push_back({r.event.id, std::string(r.outcome), r.started_at_ms});
          CHECK(r.handler_seconds >= 0.0);
        });
  }

  std::int64_t store(const webhook::core::Delivery& d) {
    const auto results = inbox.store_batch(std::span(&d, 1));
    REQUIRE(results.at(0).kind == webhook::core::StoreResult::Kind::inserted);
    return results[0].event_id;
  }
  StoredEvent event(std::int64_t id) { return inbox.find_event(id).value(); }

  struct Seen {
    std::int64_t id;
    std::string outcome;
    std::int64_t started_at_ms;
  };
  webhook::test::MemoryInbox inbox;
  webhook::worker::InlineWorkQueue queue{inbox};
  webhook::core::ManualClock clock;
  HandlerRegistry handlers;
  ScriptedHandler* script = nullptr;  // owned by `handlers`
  std::vector<Seen> reports;
  std::unique_ptr<Dispatcher> dispatcher;
};

}  // namespace

TEST_CASE("a handler's success marks the event done", "[dispatcher]") {
  Rig rig;
  const auto id = rig.store(make_delivery("tx-1"));
  REQUIRE(rig.dispatcher->run_once() == 1);
  const StoredEvent e = rig.event(id);
  CHECK(e.status == "done");
  CHECK(e.attempts == 1);
  CHECK(e.last_error.empty());
  CHECK(rig.script->calls() == std::vector<std::int64_t>{id});
  CHECK(rig.dispatcher->stats().done == 1);
  CHECK(rig.dispatcher->stats().started == 1);
  CHECK(rig.dispatcher->run_once() == 0);
}

SCENARIO("a retryable failure runs again after exactly the policy delay", "[dispatcher][retry]") {
  Rig rig;
  rig.script->then(HandlerResult::retry("downstream answered 503"));
  const auto id = rig.store(make_delivery("tx-1"));
  const std::int64_t t0 = rig.clock.now_ms();

  WHEN("the first attempt fails") {
    REQUIRE(rig.dispatcher->run_once() == 1);
    THEN("the event is pending again, due after the initial delay, with the error kept") {
      const StoredEvent e = rig.event(id);
      CHECK(e.status == "pending");
      CHECK(e.attempts == 1);
      CHECK(e.next_attempt_at_ms == t0 + 1000);
      CHECK(e.last_error == "downstream answered 503");
      CHECK(rig.dispatcher->stats().retried == 1);
    }
    AND_WHEN("the clock reaches 1 ms before the delay") {
      rig.clock.advance(999ms);
      THEN("nothing is due") { CHECK(rig.dispatcher->run_once() == 0); }
    }
    AND_WHEN("the clock reaches the delay") {
      rig.clock.advance(1000ms);
      THEN("the second attempt succeeds") {
        CHECK(rig.dispatcher->run_once() == 1);
        const StoredEvent e = rig.event(id);
        CHECK(e.status == "done");
        CHECK(e.attempts == 2);
        CHECK(rig.script->calls().size() == 2);
      }
    }
  }
}

TEST_CASE("exhausted retries make the event dead with the last error", "[dispatcher][retry]") {
  Rig rig;  // max_attempts 3: delays 1 s, then 2 s, then give up
  rig.script->then(HandlerResult::retry("boom 1"));
  rig.script->then(HandlerResult::retry("boom 2"));
  rig.script->then(HandlerResult::retry("boom 3"));
  const auto id = rig.store(make_delivery("tx-1"));

  REQUIRE(rig.dispatcher->run_once() == 1);
  rig.clock.advance(1000ms);
  REQUIRE(rig.dispatcher->run_once() == 1);
  CHECK(rig.event(id).last_error == "boom 2");
  rig.clock.advance(1999ms);
  REQUIRE(rig.dispatcher->run_once() == 0);
  rig.clock.advance(1ms);
  REQUIRE(rig.dispatcher->run_once() == 1);

  const StoredEvent e = rig.event(id);
  CHECK(e.status == "dead");
  CHECK(e.attempts == 3);
  CHECK(e.last_error == "gave up after 3 attempts: boom 3");
  CHECK(rig.dispatcher->stats().retried == 2);
  CHECK(rig.dispatcher->stats().dead == 1);
  rig.clock.advance(24h);
  CHECK(rig.dispatcher->run_once() == 0);
}

TEST_CASE("a permanent failure makes the event dead at once", "[dispatcher]") {
  Rig rig;
  rig.script->then(HandlerResult::fail("422 from the application: unknown account"));
  const auto id = rig.store(make_delivery("tx-1"));
  REQUIRE(rig.dispatcher->run_once() == 1);
  const StoredEvent e = rig.event(id);
  CHECK(e.status == "dead");
  CHECK(e.attempts == 1);
  CHECK(e.last_error == "422 from the application: unknown account");
  rig.clock.advance(24h);
  CHECK(rig.dispatcher->run_once() == 0);
}

TEST_CASE("a handler that throws is retried with the exception's text", "[dispatcher][retry]") {
  Rig rig;
  rig.script->then_throw("socket closed by peer");
  const auto id = rig.store(make_delivery("tx-1"));
  REQUIRE(rig.dispatcher->run_once() == 1);
  const StoredEvent e = rig.event(id);
  CHECK(e.status == "pending");
  CHECK(e.last_error == "socket closed by peer");
  CHECK(e.next_attempt_at_ms == rig.clock.now_ms() + 1000);
  CHECK(rig.dispatcher->stats().retried == 1);
}

TEST_CASE("an event type without a route is unhandled and never retried", "[dispatcher]") {
  Rig rig;  // routes only payment.*
  const auto id = rig.store(make_delivery("cus-1", "customer.created"));
  REQUIRE(rig.dispatcher->run_once() == 1);
  CHECK(rig.event(id).status == "unhandled");
  CHECK(rig.event(id).last_error.empty());
  CHECK(rig.script->calls().empty());
  CHECK(rig.dispatcher->stats().unhandled == 1);
  rig.clock.advance(24h);
  CHECK(rig.dispatcher->run_once() == 0);
}

TEST_CASE("a route that names an unknown handler makes the event dead", "[dispatcher]") {
  Rig rig({{"payment.*", {"script", "missing"}, std::nullopt}});
  const auto id = rig.store(make_delivery("tx-1"));
  REQUIRE(rig.dispatcher->run_once() == 1);
  CHECK(rig.event(id).status == "dead");
  CHECK(rig.event(id).last_error == "unknown handler missing");
  CHECK(rig.script->calls().size() == 1);  // the handlers before it ran, in order
}

TEST_CASE("a failing handler stops the route: later handlers do not run", "[dispatcher]") {
  Rig rig({{"payment.*", {"script", "log"}, std::nullopt}, {"*", {"log"}, std::nullopt}});
  std::vector<std::string> lines;
  webhook::log::set_line_sink([&](std::string_view line) { lines.emplace_back(line); });
  rig.script->then(HandlerResult::retry("first handler failed"));
  const auto id = rig.store(make_delivery("tx-1"));
  REQUIRE(rig.dispatcher->run_once() == 1);
  webhook::log::set_line_sink({});
  CHECK(rig.event(id).status == "pending");
  for (const std::string& line : lines) CHECK(line.find("event handled") == std::string::npos);
}

TEST_CASE("quarantined events are never dispatched", "[dispatcher]") {
  Rig rig({{"*", {"script"}, std::nullopt}});
  const auto id = rig.store(make_quarantined(std::string(64, 'a')));
  CHECK(rig.dispatcher->run_once() == 0);
  rig.clock.advance(24h);
  CHECK(rig.dispatcher->run_once() == 0);
  CHECK(rig.event(id).status == "quarantined");
  CHECK(rig.script->calls().empty());
}

TEST_CASE("a Retry-After from the handler replaces the computed delay", "[dispatcher][retry]") {
  Rig rig;
  rig.script->then(HandlerResult::retry("429 too many requests", 5000ms));
  const auto id = rig.store(make_delivery("tx-1"));
  REQUIRE(rig.dispatcher->run_once() == 1);
  CHECK(rig.event(id).next_attempt_at_ms == rig.clock.now_ms() + 5000);
  rig.clock.advance(4999ms);
  CHECK(rig.dispatcher->run_once() == 0);
  rig.clock.advance(1ms);
  CHECK(rig.dispatcher->run_once() == 1);
  CHECK(rig.event(id).status == "done");
}

TEST_CASE("a route's own retry policy overrides the default", "[dispatcher][retry]") {
  RetryPolicy fast;
  fast.initial = 250ms;
  fast.multiplier = 2.0;
  fast.max = 1000ms;
  fast.max_attempts = 2;
  Rig rig({{"payment.*", {"script"}, fast}});
  rig.script->then(HandlerResult::retry("timeout"));
  rig.script->then(HandlerResult::retry("timeout again"));
  const auto id = rig.store(make_delivery("tx-1"));

  REQUIRE(rig.dispatcher->run_once() == 1);
  CHECK(rig.event(id).next_attempt_at_ms == rig.clock.now_ms() + 250);
  rig.clock.advance(250ms);
  REQUIRE(rig.dispatcher->run_once() == 1);
  CHECK(rig.event(id).status == "dead");
  CHECK(rig.event(id).last_error == "gave up after 2 attempts: timeout again");
}

TEST_CASE("the jitter shortens the delay as the policy says", "[dispatcher][retry]") {
  webhook::test::MemoryInbox inbox;
  webhook::core::ManualClock clock;
  HandlerRegistry handlers;
  auto owned = std::make_unique<ScriptedHandler>();
  owned->then(HandlerResult::retry("503"));
  handlers.add("script", std::move(owned));
  webhook::worker::InlineWorkQueue queue(inbox);
  Dispatcher dispatcher(
      queue, RouteTable({{"*", {"script"}, std::nullopt}}), handlers, test_policy(), clock,
      [] { return 0.5; }, DispatcherOptions{});
  const auto d = make_delivery("tx-1");
  inbox.store_batch(std::span(&d, 1));
  REQUIRE(dispatcher.run_once() == 1);
  const auto expected = test_policy().next_delay(1, 0.5).value();
  CHECK(inbox.find_event(1)->next_attempt_at_ms == clock.now_ms() + expected.count());
  CHECK(expected < 1000ms);
}

TEST_CASE("the observer sees each outcome", "[dispatcher][observer]") {
  Rig rig;
  rig.script->then(HandlerResult::success());
  rig.script->then(HandlerResult::retry("503"));
  rig.script->then(HandlerResult::fail("bad"));
  const auto done = rig.store(make_delivery("tx-1"));
  const auto retried = rig.store(make_delivery("tx-2"));
  const auto dead = rig.store(make_delivery("tx-3"));
  const auto unhandled = rig.store(make_delivery("cus-1", "customer.created"));
  REQUIRE(rig.dispatcher->run_once() == 4);

  REQUIRE(rig.reports.size() == 4);
  CHECK(rig.reports[0].id == done);
  CHECK(rig.reports[0].outcome == "done");
  CHECK(rig.reports[1].id == retried);
  CHECK(rig.reports[1].outcome == "retried");
  CHECK(rig.reports[2].id == dead);
  CHECK(rig.reports[2].outcome == "dead");
  CHECK(rig.reports[3].id == unhandled);
  CHECK(rig.reports[3].outcome == "unhandled");
  for (const auto& r : rig.reports) CHECK(r.started_at_ms == rig.clock.now_ms());
}

TEST_CASE("events of one entity run one at a time in arrival order", "[dispatcher][order]") {
  Rig rig;
  rig.script->then(HandlerResult::retry("503"));
  const auto first = rig.store(make_delivery("tx-1", "payment.created"));
  const auto second = rig.store(make_delivery("tx-1", "payment.settled"));
  const auto other = rig.store(make_delivery("tx-2", "payment.created"));

  // The first fails; the second waits behind it although it is due, the other entity runs.
  REQUIRE(rig.dispatcher->run_once() == 2);
  CHECK(rig.script->calls() == std::vector<std::int64_t>{first, other});
  CHECK(rig.dispatcher->run_once() == 0);
  CHECK(rig.event(second).status == "pending");
  CHECK(rig.event(second).attempts == 0);

  // Once the first is done, the second is next (in the same round: its result unblocked it).
  rig.clock.advance(1000ms);
  REQUIRE(rig.dispatcher->run_once() == 2);
  CHECK(rig.script->calls() == std::vector<std::int64_t>{first, other, first, second});
  CHECK(rig.event(second).status == "done");
}

TEST_CASE("a long error is truncated before it is stored", "[dispatcher]") {
  Rig rig;
  rig.script->then(HandlerResult::fail(std::string(100'000, 'x')));
  const auto id = rig.store(make_delivery("tx-1"));
  REQUIRE(rig.dispatcher->run_once() == 1);
  const std::string error = rig.event(id).last_error;
  CHECK(error.size() <= 4096);
  CHECK(error.size() > 1000);
  CHECK(error.find("[truncated]") != std::string::npos);
}

TEST_CASE("the built-in log handler logs the event and succeeds", "[handler]") {
  HandlerRegistry handlers;
  webhook::worker::Handler* log_handler = handlers.find("log");
  REQUIRE(log_handler != nullptr);
  CHECK(handlers.find("nope") == nullptr);

  StoredEvent e;
  e.id = 42;
  e.key.source = "production";
  e.event_type = "payment.settled";
  e.entity_id = "tx-9";
  e.request_id = "req-7";
  e.body = R"({"secret-ish":"payload"})";
  std::vector<std::string> lines;
  webhook::log::set_line_sink([&](std::string_view line) { lines.emplace_back(line); });
  const HandlerResult result = log_handler->handle(e);
  webhook::log::set_line_sink({});

  CHECK(result.kind == HandlerResult::Kind::ok);
  REQUIRE(lines.size() == 1);
  const std::string& line = lines[0];
  CHECK(line.find("event handled") != std::string::npos);
  for (const char* part : {"42", "payment.settled", "tx-9", "production", "req-7"}) {
    CHECK(line.find(part) != std::string::npos);
  }
  CHECK(line.find("payload") == std::string::npos);  // never the body
}
