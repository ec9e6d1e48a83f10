// `healthcheck` and `version`.
#include <openssl/crypto.h>
#include <rapidjson/rapidjson.h>
#include <spdlog/version.h>
#include <boost/version.hpp>
#include <iostream>

#include "cli/args.hpp"
#include "cli/commands.hpp"
#include "webhook/app/config.hpp"
#include "webhook/http/probe.hpp"
#include "webhook/storage/event_queries.hpp"
#include "webhook/version.hpp"

namespace webhook::cli {

int cmd_healthcheck(const ArgList& argv, Io io) {
  Args args(argv, {"--url", "--config", "--timeout-ms"}, {});
  if (args.has("--help")) {
    io.out << "usage: webhook-receiver healthcheck [--url URL | --config FILE] [--timeout-ms N]\n"
              "\nExits 0 when GET /healthz answers 200 (default URL from the configured listen\n"
              "address, with 0.0.0.0 probed as 127.0.0.1), 1 otherwise.\n";
    return 0;
  }
  std::string url;
  if (auto u = args.get("--url")) {
    url = *u;
  } else {
    auto config = app::load_config(args.get("--config"), app::process_environment(), false);
    std::string host = config.server.host;
    if (host == "0.0.0.0") host = "127.0.0.1";
    if (host == "::") host = "::1";
    if (host.find(':') != std::string::npos) host = "[" + host + "]";
    url = "http://" + host + ":" + std::to_string(config.server.port) + "/healthz";
  }
  auto target = http::parse_probe_url(url);
  if (!target) throw UsageError("--url must look like http://127.0.0.1:8080/healthz");
  const auto timeout =
      std::chrono::milliseconds(args.get_int("--timeout-ms", 100, 60000).value_or(3000));
  std::string error;
  auto status = http::probe_get(*target, timeout, error);
  if (!status) {
    io.err << "unhealthy: " << url << ": " << error << "\n";
    return 1;
  }
  if (*status != 200) {
    io.err << "unhealthy: " << url << " answered " << *status << "\n";
    return 1;
  }
  io.out << "healthy: " << url << "\n";
  return 0;
}

int cmd_version(const ArgList& argv, Io io) {
  Args args(argv, {}, {});
  if (args.has("--help")) {
    io.out << "usage: webhook-receiver version\n";
    return 0;
  }
  io.out << "webhook-receiver " << kVersion << " (" << kBuildType << ")\n"
         << "  boost " << BOOST_LIB_VERSION << ", " << OpenSSL_version(OPENSSL_VERSION)
         << ", sqlite " << storage::sqlite_library_version() << ", spdlog " << SPDLOG_VER_MAJOR
         << "." << SPDLOG_VER_MINOR << "." << SPDLOG_VER_PATCH << ", rapidjson "
         << RAPIDJSON_VERSION_STRING << "\n";
  return 0;
}

}  // namespace webhook::cli
