// Tests include/webhook/app/service_metrics.hpp: the projection sample kept for /readyz and the
// gauges it sets.
#include "webhook/app/service_metrics.hpp"

#include <catch2/catch.hpp>

#include <string>
#include <vector>

using webhook::app::ProjectionBounds;
using webhook::app::ServiceMetrics;
using webhook::storage::ProjectionSample;

namespace {

std::vector<std::string> sources_of(const std::vector<ProjectionSample>& samples) {
  std::vector<std::string> names;
  for (const auto& s : samples) names.push_back(s.source);
  return names;
}

}  // namespace

TEST_CASE("the projection sample lists configured sources first, then any source seen since",
          "[metrics]") {
  ServiceMetrics metrics(ProjectionBounds{}, {"production", "sandbox"});
  // Before any sample: the configured sources, at zero.
  CHECK(sources_of(metrics.projections()) == std::vector<std::string>{"production", "sandbox"});

  ProjectionSample old;
  old.source = "old-source";  // no longer configured, still holding open reviews
  old.open_reviews = 2;
  ProjectionSample sandbox;
  sandbox.source = "sandbox";
  sandbox.awaiting_settlement = 7;
  metrics.on_projections({old, sandbox}, 1'000);
  const auto sample = metrics.projections();
  REQUIRE(sources_of(sample) == std::vector<std::string>{"production", "sandbox", "old-source"});
  CHECK(sample[0].awaiting_settlement == 0);
  CHECK(sample[1].awaiting_settlement == 7);
  CHECK(sample[2].open_reviews == 2);
  CHECK_THAT(metrics.render(), Catch::Contains("webhook_reviews_open{source=\"old-source\"} 2"));

  // Once its reviews are closed the source drops out of the sample; it reads zero, not 2.
  metrics.on_projections({sandbox}, 2'000);
  CHECK(metrics.projections()[2].open_reviews == 0);
  CHECK_THAT(metrics.render(), Catch::Contains("webhook_reviews_open{source=\"old-source\"} 0"));
  CHECK_THAT(metrics.render(),
             Catch::Contains("webhook_reviews_open_over{source=\"old-source\",bound=\"24h\"} 0"));
}

TEST_CASE("connection metrics start at zero and count sheds by reason", "[metrics]") {
  ServiceMetrics metrics;
  const auto has = [&](const std::string& line) {
    return metrics.render().find(line + "\n") != std::string::npos;
  };
  CHECK(has("webhook_connections_shed_total{reason=\"slow\"} 0"));
  CHECK(has("webhook_accept_errors_total 0"));
  metrics.on_connection_shed("slow");
  metrics.on_connection_shed("slow");
  metrics.on_connection_shed("idle");
  metrics.on_connection_shed("refused");
  metrics.on_accept_error();
  metrics.on_connections(7, 64);
  CHECK(has("webhook_connections_shed_total{reason=\"slow\"} 2"));
  CHECK(has("webhook_connections_shed_total{reason=\"idle\"} 1"));
  CHECK(has("webhook_connections_shed_total{reason=\"refused\"} 1"));
  CHECK(has("webhook_accept_errors_total 1"));
  CHECK(has("webhook_connections_open 7"));
  CHECK(has("webhook_connections_max 64"));
}
