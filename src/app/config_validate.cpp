// Environment overrides, then the checks that span keys or apply to values the environment can
// override: listen address, proxy CIDRs, source names and paths, routes -> handlers.

#include <arpa/inet.h>
#include <netinet/in.h>

#include <algorithm>
#include <charconv>
#include <string>
#include <string_view>

#include "app/config_internal.hpp"
#include "webhook/http/proxy_trust.hpp"
#include "webhook/http/url.hpp"
#include "webhook/storage/payload_log.hpp"
#include "webhook/worker/projection_handlers.hpp"

namespace webhook::app::config_internal {
namespace {

constexpr std::string_view kReservedPaths[] = {"/healthz", "/readyz", "/metrics"};

// "log, payments, reviews, customers", for messages.
std::string builtin_list() {
  std::string list;
  for (std::string_view name : worker::kBuiltinHandlers) {
    list += (list.empty() ? "" : ", ") + std::string(name);
  }
  return list;
}

bool is_builtin_handler(std::string_view name) {
  return std::find(worker::kBuiltinHandlers.begin(), worker::kBuiltinHandlers.end(), name) !=
         worker::kBuiltinHandlers.end();
}

bool is_ipv4(std::string_view text) {
  in_addr address{};
  return inet_pton(AF_INET, std::string(text).c_str(), &address) == 1;
}

bool is_ipv6(std::string_view text) {
  in6_addr address{};
  return inet_pton(AF_INET6, std::string(text).c_str(), &address) == 1;
}

bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_lower_name_char(char c) {
  return (c >= 'a' && c <= 'z') || is_digit(c) || c == '_' || c == '-';
}

// RFC 1123 host name; something that looks like a dotted number must be a valid IPv4 instead.
bool is_hostname(std::string_view text) {
  if (text.empty() || text.size() > 253) return false;
  if (std::all_of(text.begin(), text.end(), [](char c) { return is_digit(c) || c == '.'; }))
    return false;
  std::size_t start = 0;
  while (start <= text.size()) {
    std::size_t end = std::min(text.find('.', start), text.size());
    std::string_view label = text.substr(start, end - start);
    if (label.empty() || label.size() > 63 || label.front() == '-' || label.back() == '-')
      return false;
    for (char c : label)
      if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || is_digit(c) || c == '-'))
        return false;
    start = end + 1;
  }
  return true;
}

// Decimal without sign or leading '+'; nullopt past `max`.
std::optional<unsigned> parse_decimal(std::string_view text, unsigned max) {
  if (text.empty() || text.size() > 5 || !std::all_of(text.begin(), text.end(), is_digit))
    return std::nullopt;
  unsigned value = 0;
  std::from_chars(text.data(), text.data() + text.size(), value);
  if (value > max) return std::nullopt;
  return value;
}

bool is_lower_name(std::string_view text) {
  return !text.empty() && std::all_of(text.begin(), text.end(), is_lower_name_char);
}

bool has_space_or_control(std::string_view text) {
  return std::any_of(text.begin(), text.end(), [](char c) {
    auto u = static_cast<unsigned char>(c);
    return u <= 0x20 || u == 0x7f;
  });
}

// "*", "prefix.*", or an exact event type (no '*' elsewhere, no spaces).
bool is_route_pattern(std::string_view match) {
  if (match == "*") return true;
  if (match.empty() || has_space_or_control(match)) return false;
  std::string_view stem = match;
  if (match.size() > 2 && match.ends_with(".*")) stem = match.substr(0, match.size() - 2);
  return stem.find('*') == std::string_view::npos;
}

bool is_loopback(std::string_view host) {
  return host == "localhost" || host == "::1" || (host.starts_with("127.") && is_ipv4(host));
}

// sources[i].api: a usable base URL (the client secret never travels in clear text beyond this
// host), a client id, variable names, and a retry cap not below its first delay.
void validate_api(const ConomyApiConfig& api, const std::string& at, const Blame& blame) {
  const auto url = http::parse_url(api.base_url);
  if (!url || has_space_or_control(api.base_url) ||
      api.base_url.find_first_of("?#") != std::string::npos)
    blame.fail(at + ".base_url",
               "must be an http:// or https:// URL without query or fragment (production "
               "https://api.conomyhq.com, sandbox https://api.conomyhq.com/sandbox)");
  if (!url->tls && !is_loopback(url->host))
    blame.fail(at + ".base_url",
               "must be https:// (http:// only for a loopback host such as 127.0.0.1): the "
               "client secret is sent to it");
  if (api.client_id.empty() || has_space_or_control(api.client_id))
    blame.fail(at + ".client_id", "must be a non-empty string without spaces");
  for (const auto& [key, name] : {std::pair{"client_secret_env", &api.client_secret_env},
                                  std::pair{"api_key_env", &api.api_key_env}}) {
    if (!is_env_name(*name))
      blame.fail(at + "." + key,
                 "must be the NAME of an environment variable ([A-Z_][A-Z0-9_]*), not a secret");
  }
  if (api.client_secret_env == api.api_key_env)
    blame.fail(at + ".api_key_env", "must differ from client_secret_env");
  if (api.retry_max_ms < api.retry_initial_ms)
    blame.fail(at + ".retry.max_ms", "must be at least retry.initial_ms");
}

void validate_sources(const Config& config, const Blame& blame) {
  if (config.sources.empty()) blame.fail("sources", "at least one source is required");
  for (std::size_t i = 0; i < config.sources.size(); ++i) {
    const SourceConfig& s = config.sources[i];
    const std::string at = "sources[" + std::to_string(i) + "]";
    if (!is_lower_name(s.name)) blame.fail(at + ".name", "must match [a-z0-9_-]+");
    if (!s.path.starts_with('/') || has_space_or_control(s.path) ||
        s.path.find_first_of("?#") != std::string::npos)
      blame.fail(at + ".path", "must start with \"/\" and contain no spaces, '?' or '#'");
    if (std::find(std::begin(kReservedPaths), std::end(kReservedPaths), s.path) !=
        std::end(kReservedPaths))
      blame.fail(at + ".path", "is reserved (/healthz, /readyz, /metrics)");
    if (!is_env_name(s.secret_keys_env))
      blame.fail(at + ".secret_keys_env",
                 "must be the NAME of an environment variable ([A-Z_][A-Z0-9_]*), not a key");
    if (s.api) validate_api(*s.api, at + ".api", blame);
    for (std::size_t j = 0; j < i; ++j) {
      const std::string other = "sources[" + std::to_string(j) + "]";
      if (config.sources[j].name == s.name)
        blame.fail(at + ".name", "duplicate source name \"" + s.name + "\" (also " + other + ")");
      if (config.sources[j].path == s.path)
        blame.fail(at + ".path", "duplicate path (also " + other + ".path)");
    }
  }
}

void validate_handlers(const Config& config, const Blame& blame) {
  for (const HandlerConfig& h : config.handlers) {
    const std::string at = "handlers." + h.name;
    if (!is_lower_name(h.name)) blame.fail(at, "handler names must match [a-z0-9_-]+");
    if (is_builtin_handler(h.name))
      blame.fail(at, "\"" + h.name + "\" is a built-in handler (" + builtin_list() +
                         "); choose another name");
    if (h.type == "forward") {
      bool http = h.url.starts_with("http://") && h.url.size() > 7;
      bool https = h.url.starts_with("https://") && h.url.size() > 8;
      if (!(http || https) || has_space_or_control(h.url))
        blame.fail(at + ".url", "must be an http:// or https:// URL");
      if (!h.secret_env.empty() && !is_env_name(h.secret_env))
        blame.fail(at + ".secret_env",
                   "must be the NAME of an environment variable ([A-Z_][A-Z0-9_]*), not a secret");
    }
    if (h.type == "exec") {
      if (h.command.empty())
        blame.fail(at + ".command", "must be a non-empty array (argv, no shell)");
      if (h.command.front().empty()) blame.fail(at + ".command[0]", "must not be empty");
    }
  }
}

void validate_reviews(const Config& config, const Blame& blame) {
  const std::string& notify = config.reviews.notify;
  if (notify.empty()) return;
  const auto it = std::find_if(config.handlers.begin(), config.handlers.end(),
                               [&](const HandlerConfig& h) { return h.name == notify; });
  if (it == config.handlers.end() || it->type != "forward")
    blame.fail("reviews.notify",
               "must name a handler of type forward defined under handlers (\"" + notify +
                   "\" is " +
                   (it == config.handlers.end() ? "not defined" : "of type " + it->type) + ")");
}

void validate_routes(const Config& config, const Blame& blame) {
  for (std::size_t i = 0; i < config.routes.size(); ++i) {
    const RouteConfig& r = config.routes[i];
    const std::string at = "routes[" + std::to_string(i) + "]";
    if (!is_route_pattern(r.match))
      blame.fail(at + ".match", "must be an event type, \"prefix.*\" or \"*\"");
    if (r.handlers.empty()) blame.fail(at + ".handlers", "must name at least one handler");
    for (std::size_t j = 0; j < r.handlers.size(); ++j) {
      const std::string& name = r.handlers[j];
      bool defined =
          is_builtin_handler(name) || std::any_of(config.handlers.begin(), config.handlers.end(),
                                                  [&](const auto& h) { return h.name == name; });
      if (!defined)
        blame.fail(at + ".handlers[" + std::to_string(j) + "]",
                   "unknown handler \"" + name +
                       "\" (define it under handlers, or use a built-in: " + builtin_list() + ")");
    }
    if (r.retry && r.retry->max_ms < r.retry->initial_ms)
      blame.fail(at + ".retry.max_ms", "must be at least the route's retry.initial_ms");
  }
}

}  // namespace

std::optional<ListenAddress> parse_listen(std::string_view text) {
  std::string_view host;
  std::string_view port;
  if (text.starts_with('[')) {
    std::size_t close = text.find(']');
    if (close == std::string_view::npos || close + 1 >= text.size() || text[close + 1] != ':')
      return std::nullopt;
    host = text.substr(1, close - 1);
    port = text.substr(close + 2);
    if (!is_ipv6(host)) return std::nullopt;
  } else {
    std::size_t colon = text.rfind(':');
    if (colon == std::string_view::npos) return std::nullopt;
    host = text.substr(0, colon);
    port = text.substr(colon + 1);
    if (!is_ipv4(host) && !is_hostname(host)) return std::nullopt;
  }
  auto number = parse_decimal(port, 65535);
  if (!number) return std::nullopt;
  return ListenAddress{std::string(host), static_cast<std::uint16_t>(*number)};
}

bool is_env_name(std::string_view text) {
  if (text.empty() || is_digit(text.front())) return false;
  return std::all_of(text.begin(), text.end(),
                     [](char c) { return (c >= 'A' && c <= 'Z') || is_digit(c) || c == '_'; });
}

void apply_env_overrides(Config& config, const EnvLookup& env, Blame& blame) {
  auto take = [&](std::string_view variable, std::string_view path, std::string& target,
                  bool may_be_empty) {
    auto value = lookup(env, variable);
    if (!value) return;
    if (value->empty() && !may_be_empty)
      throw ConfigError(std::string(variable) + ": is set but empty");
    target = *value;
    blame.set_env(std::string(path), std::string(variable));
  };
  take("WEBHOOK_RECEIVER_LISTEN", "server.listen", config.server.listen, false);
  take("WEBHOOK_RECEIVER_ADMIN_LISTEN", "admin.listen", config.admin.listen, true);
  take("WEBHOOK_RECEIVER_SQLITE_PATH", "storage.sqlite_path", config.storage.sqlite_path, false);
  take("WEBHOOK_RECEIVER_PAYLOAD_LOG", "payload_log.path", config.payload_log.path, true);
  take("WEBHOOK_RECEIVER_LOG_FORMAT", "logging.format", config.logging.format, false);
  take("WEBHOOK_RECEIVER_LOG_LEVEL", "logging.level", config.logging.level, false);
}

void validate(Config& config, const Blame& blame) {
  auto listen = parse_listen(config.server.listen);
  if (!listen)
    blame.fail("server.listen",
               "must be host:port (IPv4, hostname or [IPv6]) with a port from 0 to 65535");
  config.server.host = listen->host;
  config.server.port = listen->port;
  for (std::size_t i = 0; i < config.server.trusted_proxies.size(); ++i)
    if (!http::ProxyTrust::is_valid_entry(config.server.trusted_proxies[i]))
      blame.fail("server.trusted_proxies[" + std::to_string(i) + "]",
                 "must be an IPv4 or IPv6 address or CIDR (10.0.0.0/8, fd00::/8) without spaces, "
                 "zone id or leading zeros");

  if (!config.admin.listen.empty()) {
    auto admin = parse_listen(config.admin.listen);
    if (!admin)
      blame.fail(
          "admin.listen",
          "must be host:port (IPv4, hostname or [IPv6]) with a port from 0 to 65535, or \"\" "
          "to turn the admin listener off");
    config.admin.host = admin->host;
    config.admin.port = admin->port;
  }

  validate_sources(config, blame);

  if (config.storage.sqlite_path.empty()) blame.fail("storage.sqlite_path", "must not be empty");
  // After the environment overrides, so the default follows WEBHOOK_RECEIVER_PAYLOAD_LOG.
  auto& payloads = config.payload_log;
  if (!payloads.unverified_path) {
    payloads.unverified_path = storage::default_unverified_path(payloads.path);
  } else if (!payloads.unverified_path->empty() && *payloads.unverified_path == payloads.path) {
    blame.fail("payload_log.unverified_path", "must differ from payload_log.path");
  }
  if (config.workers.retry.max_ms < config.workers.retry.initial_ms)
    blame.fail("workers.retry.max_ms", "must be at least workers.retry.initial_ms");

  validate_handlers(config, blame);
  validate_reviews(config, blame);
  validate_routes(config, blame);

  const auto& fmt = config.logging.format;
  if (fmt != "text" && fmt != "json") blame.fail("logging.format", "must be one of text, json");
  const auto& lvl = config.logging.level;
  if (lvl != "trace" && lvl != "debug" && lvl != "info" && lvl != "warn" && lvl != "error")
    blame.fail("logging.level", "must be one of trace, debug, info, warn, error");
}

}  // namespace webhook::app::config_internal
