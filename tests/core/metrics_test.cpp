// The Prometheus text exposition of core::Registry.
#include <catch2/catch.hpp>

#include <thread>
#include <vector>

#include "webhook/core/metrics.hpp"

using namespace webhook::core;
using Catch::Matchers::Contains;

TEST_CASE("counters render with HELP, TYPE and sorted label sets", "[metrics]") {
  Registry registry;
  auto& deliveries =
      registry.counter("webhook_deliveries_total", "Deliveries by result.", {"source", "result"});
  deliveries.with({"sandbox", "accepted"}).inc();
  deliveries.with({"production", "duplicate"}).inc(2);
  deliveries.with({"production", "accepted"}).inc(3);
  CHECK(registry.render() ==
        "# HELP webhook_deliveries_total Deliveries by result.\n"
        "# TYPE webhook_deliveries_total counter\n"
        "webhook_deliveries_total{source=\"production\",result=\"accepted\"} 3\n"
        "webhook_deliveries_total{source=\"production\",result=\"duplicate\"} 2\n"
        "webhook_deliveries_total{source=\"sandbox\",result=\"accepted\"} 1\n");
}

TEST_CASE("histograms have cumulative buckets, +Inf, sum and count", "[metrics]") {
  Registry registry;
  auto& h = registry.histogram("webhook_ack_seconds", "Ack latency.", {}, {0.01, 0.1, 1});
  for (double v : {0.005, 0.01, 0.05, 0.5, 3.0}) h.with().observe(v);
  const std::string text = registry.render();
  CHECK_THAT(text, Contains("webhook_ack_seconds_bucket{le=\"0.01\"} 2\n"));
  CHECK_THAT(text, Contains("webhook_ack_seconds_bucket{le=\"0.1\"} 3\n"));
  CHECK_THAT(text, Contains("webhook_ack_seconds_bucket{le=\"1\"} 4\n"));
  CHECK_THAT(text, Contains("webhook_ack_seconds_bucket{le=\"+Inf\"} 5\n"));
  CHECK_THAT(text, Contains("webhook_ack_seconds_sum 3.565\n"));
  CHECK_THAT(text, Contains("webhook_ack_seconds_count 5\n"));
}

TEST_CASE("gauges render their last value and label values are escaped", "[metrics]") {
  Registry registry;
  auto& g = registry.gauge("webhook_backlog_events", "Pending events.", {"group"});
  g.with({"a\"b\\c\nd"}).set(2.5);
  CHECK_THAT(registry.render(),
             Contains("webhook_backlog_events{group=\"a\\\"b\\\\c\\nd\"} 2.5\n"));
}

TEST_CASE("concurrent updates are all counted", "[metrics]") {
  Registry registry;
  auto& c = registry.counter("c_total", "c", {"k"});
  auto& h = registry.histogram("h_seconds", "h", {}, latency_buckets());
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 1000; ++i) {
        c.with({t % 2 == 0 ? "even" : "odd"}).inc();
        h.with().observe(0.001);
      }
    });
  }
  for (auto& t : threads) t.join();
  CHECK(c.with({"even"}).value() == 4000);
  CHECK(c.with({"odd"}).value() == 4000);
  CHECK(h.with().count() == 8000);
  CHECK(h.with().cumulative().back() == 8000);
}
