#pragma once
// probe_get(): a tiny blocking HTTP GET for `webhook-receiver healthcheck` (Docker HEALTHCHECK).
#include <chrono>
#include <optional>
#include <string>

namespace webhook::http {

struct ProbeTarget {
  std::string host;
  std::string port;
  std::string target = "/healthz";
};

// Parses "http://host:port/path"; nullopt for anything else (no https: the probe is local).
std::optional<ProbeTarget> parse_probe_url(const std::string& url);

// The status code of GET target, or nullopt (with `error` set) when no answer came in time.
std::optional<unsigned> probe_get(const ProbeTarget& target, std::chrono::milliseconds timeout,
                                  std::string& error);

}  // namespace webhook::http
