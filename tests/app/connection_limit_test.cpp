// The connection cap fitted to the open-file limit (server.max_connections).
#include <catch2/catch.hpp>

#include "app/connection_limit.hpp"
#include "webhook/app/config.hpp"

using namespace webhook::app;

TEST_CASE("the automatic cap is 1024 when the open-file limit allows it", "[connection_limit]") {
  const auto fit = fit_connection_limit(0, 4, {20000, 20000});
  CHECK(fit.max_connections == kDefaultMaxConnections);
  CHECK(fit.soft_limit == 20000);  // never lowered
}

TEST_CASE("the automatic cap shrinks to what the limit leaves after the reserve",
          "[connection_limit]") {
  CHECK(fd_reserve(4) == 80);
  const auto fit = fit_connection_limit(0, 4, {256, 256});
  CHECK(fit.max_connections == 256 - 80);
  CHECK(fit.soft_limit == 256);
}

TEST_CASE("the soft limit is raised toward the hard one when the cap needs it",
          "[connection_limit]") {
  // systemd and Docker: soft 1024, hard 524288.
  const auto automatic = fit_connection_limit(0, 4, {1024, 524288});
  CHECK(automatic.max_connections == 1024);
  CHECK(automatic.soft_limit == 1024 + 80);
  const auto configured = fit_connection_limit(4000, 4, {1024, 524288});
  CHECK(configured.max_connections == 4000);
  CHECK(configured.soft_limit == 4080);
}

TEST_CASE("a configured cap that does not fit under the hard limit is refused by name",
          "[connection_limit]") {
  CHECK_THROWS_WITH(fit_connection_limit(500, 2, {200, 200}),
                    Catch::StartsWith("server.max_connections: 500 does not fit") &&
                        Catch::Contains("leaves 128 for connections"));
  CHECK(fit_connection_limit(128, 2, {200, 200}).max_connections == 128);
  CHECK_THROWS_WITH(fit_connection_limit(0, 4, {64, 64}),
                    Catch::StartsWith("server.max_connections: no connection fits"));
}
