// JSON text -> Config over the defaults. Each object is checked against its known keys before
// anything is read, so a typo anywhere stops start-up with the key's full path. Types,
// enumerations and numeric ranges are checked here, where the key path is at hand; checks that
// span keys or that the environment can override are in config_validate.cpp.

#include <rapidjson/document.h>
#include <rapidjson/error/en.h>

#include <algorithm>
#include <cctype>
#include <cstdint>
#include <initializer_list>
#include <limits>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "app/config_internal.hpp"

namespace webhook::app::config_internal {
namespace {

using rapidjson::Value;

// Iterative: the recursive parser's stack depth is the document's nesting depth, so a file of
// 200,000 '[' overflowed the stack (issue 10, defect 12). Nothing here walks a value recursively.
constexpr unsigned kParseFlags = rapidjson::kParseIterativeFlag | rapidjson::kParseCommentsFlag |
                                 rapidjson::kParseTrailingCommasFlag |
                                 rapidjson::kParseValidateEncodingFlag;
constexpr std::int64_t kNoUpperBound = std::numeric_limits<std::int64_t>::max();
constexpr std::int64_t kThirtyDaysMs = 30LL * 24 * 60 * 60 * 1000;

constexpr std::string_view kSecretsNotHere =
    "secrets are never read from the config file; put them in the environment variable named "
    "by secret_keys_env (comma-separated, current key first) or in the file named by its "
    "*_FILE variable";
constexpr std::string_view kApiSecretsNotHere =
    "secrets are never read from the config file; name the environment variables that hold "
    "them in client_secret_env and api_key_env";
constexpr std::string_view kHandlerSecretsNotHere =
    "secrets are never read from the config file; name the environment variable that holds it "
    "in secret_env";

std::string member_path(std::string_view path, std::string_view key) {
  if (path.empty()) return std::string(key);
  return std::string(path) + "." + std::string(key);
}

std::string element_path(std::string_view path, std::size_t index) {
  return std::string(path) + "[" + std::to_string(index) + "]";
}

std::string_view view(const Value& v) { return {v.GetString(), v.GetStringLength()}; }

std::string join(std::initializer_list<std::string_view> words) {
  std::string out;
  for (auto w : words) out += (out.empty() ? "" : ", ") + std::string(w);
  return out;
}

// Levenshtein distance, for "did you mean" on short key names.
std::size_t distance(std::string_view a, std::string_view b) {
  std::vector<std::size_t> row(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    std::size_t diagonal = row[0];
    row[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      std::size_t above = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0u : 1u)});
      diagonal = above;
    }
  }
  return row[b.size()];
}

bool mentions_secret(std::string_view key) {
  std::string lower(key);
  std::transform(lower.begin(), lower.end(), lower.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return lower.find("secret") != std::string::npos || lower == "keys" || lower == "key";
}

// Reads one JSON object at `path`. The constructor rejects duplicate and unknown keys; the
// getters leave `out` untouched when the key is absent (the default stays).
class ObjectReader {
 public:
  ObjectReader(const Value& object, std::string path, const Blame& blame,
               std::vector<std::string_view> known, std::string_view secrets_hint = kSecretsNotHere)
      : object_(object), path_(std::move(path)), blame_(blame), known_(std::move(known)) {
    if (!object_.IsObject()) blame_.fail(path_, "must be an object");
    std::set<std::string_view> seen;
    for (const auto& member : object_.GetObject()) {
      std::string_view key = view(member.name);
      if (!seen.insert(key).second) blame_.fail(at(key), "duplicate key");
      if (std::find(known_.begin(), known_.end(), key) != known_.end()) continue;
      if (mentions_secret(key)) blame_.fail(at(key), secrets_hint);
      blame_.fail(at(key), "unknown key" + suggestion(key));
    }
  }

  std::string at(std::string_view key) const { return member_path(path_, key); }
  const Blame& blame() const { return blame_; }

  const Value* find(std::string_view key) const {
    for (const auto& member : object_.GetObject())
      if (view(member.name) == key) return &member.value;
    return nullptr;
  }

  const Value& required(std::string_view key) const {
    const Value* v = find(key);
    if (v == nullptr) blame_.fail(at(key), "is required");
    return *v;
  }

  template <typename T>
  void integer(std::string_view key, T& out, std::int64_t min, std::int64_t max) const {
    const Value* v = find(key);
    if (v == nullptr) return;
    if (!v->IsInt64() || v->GetInt64() < min || v->GetInt64() > max) {
      std::string range = max == kNoUpperBound
                              ? "of at least " + std::to_string(min)
                              : "from " + std::to_string(min) + " to " + std::to_string(max);
      blame_.fail(at(key), "must be an integer " + range);
    }
    out = static_cast<T>(v->GetInt64());
  }

  void number(std::string_view key, double& out, double min, double max) const {
    const Value* v = find(key);
    if (v == nullptr) return;
    if (!v->IsNumber() || v->GetDouble() < min || v->GetDouble() > max)
      blame_.fail(at(key), "must be a number from " + trim_number(min) + " to " + trim_number(max));
    out = v->GetDouble();
  }

  void boolean(std::string_view key, bool& out) const {
    const Value* v = find(key);
    if (v == nullptr) return;
    if (!v->IsBool()) blame_.fail(at(key), "must be true or false");
    out = v->GetBool();
  }

  void string(std::string_view key, std::string& out) const {
    const Value* v = find(key);
    if (v == nullptr) return;
    if (!v->IsString()) blame_.fail(at(key), "must be a string");
    out = std::string(view(*v));
  }

  // Index of the value in `options`; `fallback` when absent.
  std::size_t choice(std::string_view key, std::initializer_list<std::string_view> options,
                     std::size_t fallback) const {
    const Value* v = find(key);
    if (v == nullptr) return fallback;
    if (v->IsString()) {
      auto it = std::find(options.begin(), options.end(), view(*v));
      if (it != options.end()) return static_cast<std::size_t>(it - options.begin());
    }
    blame_.fail(at(key), "must be one of " + join(options));
  }

  void string_list(std::string_view key, std::vector<std::string>& out) const {
    const Value* v = find(key);
    if (v == nullptr) return;
    if (!v->IsArray()) blame_.fail(at(key), "must be an array of strings");
    std::vector<std::string> list;
    for (rapidjson::SizeType i = 0; i < v->Size(); ++i) {
      if (!(*v)[i].IsString()) blame_.fail(element_path(at(key), i), "must be a string");
      list.emplace_back(view((*v)[i]));
    }
    out = std::move(list);
  }

  const Value* array(std::string_view key) const {
    const Value* v = find(key);
    if (v != nullptr && !v->IsArray()) blame_.fail(at(key), "must be an array");
    return v;
  }

 private:
  static std::string trim_number(double d) {
    std::string s = std::to_string(d);
    s.erase(s.find_last_not_of('0') + 1);
    if (s.back() == '.') s.pop_back();
    return s;
  }

  std::string suggestion(std::string_view key) const {
    for (auto candidate : known_)
      if (distance(key, candidate) <= 2 && key.size() > 2)
        return " (did you mean \"" + std::string(candidate) + "\"?)";
    return "";
  }

  const Value& object_;
  std::string path_;
  const Blame& blame_;
  std::vector<std::string_view> known_;
};

void read_server(const ObjectReader& r, ServerConfig& s) {
  r.string("listen", s.listen);
  r.integer("io_threads", s.io_threads, 1, 64);
  r.integer("max_body_bytes", s.max_body_bytes, 1024, 64 * 1024 * 1024);
  r.integer("header_timeout_ms", s.header_timeout_ms, 100, 600000);
  r.integer("body_timeout_ms", s.body_timeout_ms, 100, 600000);
  r.integer("shutdown_timeout_ms", s.shutdown_timeout_ms, 100, 600000);
  r.integer("max_connections", s.max_connections, 0, 1000000);
  r.string_list("trusted_proxies", s.trusted_proxies);
}

// sources[].api: the four names are required, the rest have defaults.
ConomyApiConfig read_api(const Value& v, const std::string& path, const Blame& blame) {
  ObjectReader r(
      v, path, blame,
      {"base_url", "client_id", "client_secret_env", "api_key_env", "timeout_ms", "retry"},
      kApiSecretsNotHere);
  ConomyApiConfig api;
  for (std::string_view key : {"base_url", "client_id", "client_secret_env", "api_key_env"}) {
    if (!r.required(key).IsString()) blame.fail(r.at(key), "must be a string");
  }
  r.string("base_url", api.base_url);
  r.string("client_id", api.client_id);
  r.string("client_secret_env", api.client_secret_env);
  r.string("api_key_env", api.api_key_env);
  r.integer("timeout_ms", api.timeout_ms, 100, 600000);
  if (const Value* retry = r.find("retry")) {
    ObjectReader rr(*retry, r.at("retry"), blame, {"initial_ms", "max_ms", "max_attempts"});
    rr.integer("initial_ms", api.retry_initial_ms, 1, 600000);
    rr.integer("max_ms", api.retry_max_ms, 1, 600000);
    rr.integer("max_attempts", api.retry_max_attempts, 1, 20);
  }
  return api;
}

SourceConfig read_source(const ObjectReader& r) {
  SourceConfig s;
  if (!r.required("name").IsString()) r.blame().fail(r.at("name"), "must be a string");
  if (!r.required("path").IsString()) r.blame().fail(r.at("path"), "must be a string");
  r.string("name", s.name);
  r.string("path", s.path);
  // The spellings are core's (parse_scheme_setting); choice() gives the message listing them.
  constexpr std::string_view kSchemes[] = {"auto", "header", "body"};
  s.scheme = core::parse_scheme_setting(kSchemes[r.choice("scheme", {"auto", "header", "body"}, 0)])
                 .value_or(s.scheme);
  r.string("secret_keys_env", s.secret_keys_env);
  s.require_all_when_both = r.choice("both_present", {"either", "require_all"}, 0) == 1;
  r.boolean("allow_sha256_prefix", s.allow_sha256_prefix);
  r.boolean("allow_unsigned", s.allow_unsigned);
  if (const Value* v = r.find("malformed_reply")) {
    if (!v->IsInt() || (v->GetInt() != 200 && v->GetInt() != 400))
      r.blame().fail(r.at("malformed_reply"), "must be 200 or 400 (a number)");
    s.malformed_reply_400 = v->GetInt() == 400;
  }
  if (const Value* v = r.find("dedup")) {
    ObjectReader d(*v, r.at("dedup"), r.blame(),
                   {"customer_state", "include_state_everywhere", "review_cycles"});
    d.boolean("customer_state", s.dedup.customer_state);
    d.boolean("include_state_everywhere", s.dedup.include_state_everywhere);
    d.boolean("review_cycles", s.dedup.review_cycles);
  }
  if (const Value* v = r.find("api")) s.api = read_api(*v, r.at("api"), r.blame());
  return s;
}

void read_storage(const ObjectReader& r, StorageConfig& s) {
  r.string("sqlite_path", s.sqlite_path);
  r.integer("ack_budget_ms", s.ack_budget_ms, 100, 9000);
  r.integer("max_batch", s.max_batch, 1, 10000);
  r.integer("max_queue", s.max_queue, 1, 1000000);
  r.integer("busy_timeout_ms", s.busy_timeout_ms, 100, 600000);
}

void read_payload_log(const ObjectReader& r, PayloadLogConfig& p) {
  r.string("path", p.path);
  r.integer("max_bytes", p.max_bytes, 64 * 1024, kNoUpperBound);
  r.integer("max_files", p.max_files, 1, 1000);
  if (r.find("unverified_path") != nullptr) {
    std::string path;
    r.string("unverified_path", path);
    p.unverified_path = std::move(path);
  }
  r.integer("unverified_max_bytes", p.unverified_max_bytes, 64 * 1024, kNoUpperBound);
  r.integer("unverified_max_files", p.unverified_max_files, 1, 1000);
  r.integer("unverified_body_bytes", p.unverified_body_bytes, 0, 64 * 1024 * 1024);
}

// A retry object; keys it leaves out keep the values already in `retry`.
void read_retry(const ObjectReader& r, RetryConfig& retry) {
  r.integer("initial_ms", retry.initial_ms, 1, 86400000);
  r.number("multiplier", retry.multiplier, 1.0, 10.0);
  r.integer("max_ms", retry.max_ms, 1, 86400000);
  r.integer("max_attempts", retry.max_attempts, 1, 100);
}

const std::vector<std::string_view> kRetryKeys = {"initial_ms", "multiplier", "max_ms",
                                                  "max_attempts"};

void read_workers(const ObjectReader& r, WorkersConfig& w) {
  r.integer("threads", w.threads, 1, 256);
  if (const Value* v = r.find("retry")) {
    read_retry(ObjectReader(*v, r.at("retry"), r.blame(), kRetryKeys), w.retry);
  }
}

// `base` is workers.retry: a route's retry object overrides only the keys it names.
RouteConfig read_route(const ObjectReader& r, const RetryConfig& base) {
  RouteConfig route;
  if (!r.required("match").IsString()) r.blame().fail(r.at("match"), "must be a string");
  r.required("handlers");
  r.string("match", route.match);
  r.string_list("handlers", route.handlers);
  if (const Value* v = r.find("retry")) {
    route.retry = base;
    read_retry(ObjectReader(*v, r.at("retry"), r.blame(), kRetryKeys), *route.retry);
  }
  return route;
}

HandlerConfig read_handler(const Value& v, const std::string& path, const Blame& blame,
                           std::string_view name) {
  if (!v.IsObject()) blame.fail(path, "must be an object");
  // Which keys each type takes; a key of another type is named as such, not as unknown.
  struct TypeKeys {
    std::string_view type;
    std::vector<std::string_view> keys;
  };
  const TypeKeys kTypes[] = {
      {"log", {}},
      {"forward", {"url", "secret_env", "connect_timeout_ms", "ca_file", "retry_4xx"}},
      {"exec", {"command"}}};
  const std::vector<std::string_view> all = {"type",       "timeout_ms", "url",
                                             "secret_env", "command",    "connect_timeout_ms",
                                             "ca_file",    "retry_4xx"};
  ObjectReader r(v, path, blame, all, kHandlerSecretsNotHere);
  r.required("type");
  const std::size_t type = r.choice("type", {"log", "forward", "exec"}, 0);
  for (const auto& member : v.GetObject()) {
    std::string_view key = view(member.name);
    if (key == "type" || key == "timeout_ms") continue;
    const auto& allowed = kTypes[type].keys;
    if (std::find(allowed.begin(), allowed.end(), key) == allowed.end())
      blame.fail(r.at(key), "not used by handlers of type " + std::string(kTypes[type].type));
  }
  HandlerConfig h;
  h.name = std::string(name);
  h.type = std::string(kTypes[type].type);
  r.string("url", h.url);
  r.string("secret_env", h.secret_env);
  r.string_list("command", h.command);
  r.integer("timeout_ms", h.timeout_ms, 100, 600000);
  r.integer("connect_timeout_ms", h.connect_timeout_ms, 100, 600000);
  r.string("ca_file", h.ca_file);
  r.boolean("retry_4xx", h.retry_4xx);
  if (type == 1) r.required("url");
  if (type == 1) r.required("secret_env");
  if (type == 2) r.required("command");
  return h;
}

std::string describe_offset(std::string_view text, std::size_t offset) {
  std::size_t line = 1;
  std::size_t column = 1;
  for (std::size_t i = 0; i < offset && i < text.size(); ++i) {
    if (text[i] == '\n') {
      ++line;
      column = 1;
    } else {
      ++column;
    }
  }
  return "byte " + std::to_string(offset) + " (line " + std::to_string(line) + ", column " +
         std::to_string(column) + ")";
}

}  // namespace

Config read_document(std::string_view json_text, const Blame& blame) {
  rapidjson::Document doc;
  doc.Parse<kParseFlags>(json_text.data(), json_text.size());
  if (doc.HasParseError()) {
    throw ConfigError(blame.origin() + ": invalid JSON at " +
                      describe_offset(json_text, doc.GetErrorOffset()) + ": " +
                      rapidjson::GetParseError_En(doc.GetParseError()));
  }
  if (!doc.IsObject()) blame.fail("", "the top level must be a JSON object");

  Config config = default_config();
  ObjectReader top(doc, "", blame,
                   {"server", "admin", "sources", "storage", "payload_log", "workers", "routes",
                    "handlers", "monitoring", "reviews", "reconcile", "logging"});
  if (const Value* v = top.find("server"))
    read_server(ObjectReader(*v, "server", blame,
                             {"listen", "io_threads", "max_body_bytes", "header_timeout_ms",
                              "body_timeout_ms", "shutdown_timeout_ms", "max_connections",
                              "trusted_proxies"}),
                config.server);
  if (const Value* v = top.find("admin")) {
    ObjectReader r(*v, "admin", blame, {"listen"});
    r.string("listen", config.admin.listen);
  }
  if (const Value* v = top.array("sources")) {
    config.sources.clear();
    for (rapidjson::SizeType i = 0; i < v->Size(); ++i)
      config.sources.push_back(read_source(ObjectReader(
          (*v)[i], element_path("sources", i), blame,
          {"name", "path", "scheme", "secret_keys_env", "both_present", "allow_sha256_prefix",
           "allow_unsigned", "malformed_reply", "dedup", "api"})));
  }
  if (const Value* v = top.find("storage"))
    read_storage(
        ObjectReader(*v, "storage", blame,
                     {"sqlite_path", "ack_budget_ms", "max_batch", "max_queue", "busy_timeout_ms"}),
        config.storage);
  if (const Value* v = top.find("payload_log"))
    read_payload_log(
        ObjectReader(*v, "payload_log", blame,
                     {"path", "max_bytes", "max_files", "unverified_path", "unverified_max_bytes",
                      "unverified_max_files", "unverified_body_bytes"}),
        config.payload_log);
  if (const Value* v = top.find("workers"))
    read_workers(ObjectReader(*v, "workers", blame, {"threads", "retry"}), config.workers);
  if (const Value* v = top.array("routes")) {
    config.routes.clear();
    for (rapidjson::SizeType i = 0; i < v->Size(); ++i)
      config.routes.push_back(read_route(
          ObjectReader((*v)[i], element_path("routes", i), blame, {"match", "handlers", "retry"}),
          config.workers.retry));
  }
  if (const Value* v = top.find("handlers")) {
    if (!v->IsObject()) blame.fail("handlers", "must be an object of name -> handler");
    std::set<std::string_view> seen;
    for (const auto& member : v->GetObject()) {
      std::string_view name = view(member.name);
      std::string path = member_path("handlers", name);
      if (!seen.insert(name).second) blame.fail(path, "duplicate key");
      config.handlers.push_back(read_handler(member.value, path, blame, name));
    }
  }
  if (const Value* v = top.find("monitoring")) {
    ObjectReader r(*v, "monitoring", blame,
                   {"backlog_sample_ms", "max_backlog_age_ms", "settlement_overdue_ms"});
    r.integer("backlog_sample_ms", config.monitoring.backlog_sample_ms, 100, 600000);
    r.integer("max_backlog_age_ms", config.monitoring.max_backlog_age_ms, 0, 604800000);
    r.integer("settlement_overdue_ms", config.monitoring.settlement_overdue_ms, 60000,
              kThirtyDaysMs);
  }
  if (const Value* v = top.find("reconcile")) {
    ObjectReader r(
        *v, "reconcile", blame,
        {"interval_ms", "max_calls_per_minute", "recheck_after_ms", "customer_max_age_ms"});
    r.integer("interval_ms", config.reconcile.interval_ms, 0, 86400000);
    if (config.reconcile.interval_ms != 0 && config.reconcile.interval_ms < 1000)
      blame.fail(r.at("interval_ms"), "must be 0 (off) or from 1000 to 86400000");
    r.integer("max_calls_per_minute", config.reconcile.max_calls_per_minute, 1, 6000);
    r.integer("recheck_after_ms", config.reconcile.recheck_after_ms, 0, kThirtyDaysMs);
    r.integer("customer_max_age_ms", config.reconcile.customer_max_age_ms, 0, kThirtyDaysMs);
  }
  if (const Value* v = top.find("reviews")) {
    ObjectReader r(*v, "reviews", blame, {"notify", "notify_sla_ms", "flag_after_ms"});
    r.string("notify", config.reviews.notify);
    r.integer("notify_sla_ms", config.reviews.notify_sla_ms, 1000, 86400000);
    if (const Value* bounds = r.array("flag_after_ms")) {
      config.reviews.flag_after_ms.clear();
      for (rapidjson::SizeType i = 0; i < bounds->Size(); ++i) {
        const Value& b = (*bounds)[i];
        const std::string at = element_path(r.at("flag_after_ms"), i);
        if (!b.IsInt64() || b.GetInt64() < 60000 || b.GetInt64() > kThirtyDaysMs)
          blame.fail(at, "must be an integer from 60000 to " + std::to_string(kThirtyDaysMs));
        if (!config.reviews.flag_after_ms.empty() &&
            b.GetInt64() <= config.reviews.flag_after_ms.back())
          blame.fail(at, "bounds must be in increasing order");
        config.reviews.flag_after_ms.push_back(b.GetInt64());
      }
      if (config.reviews.flag_after_ms.size() > 4)
        blame.fail(r.at("flag_after_ms"), "at most 4 bounds");
    }
  }
  if (const Value* v = top.find("logging")) {
    ObjectReader r(*v, "logging", blame, {"format", "level"});
    r.string("format", config.logging.format);
    r.string("level", config.logging.level);
  }
  return config;
}

}  // namespace webhook::app::config_internal
