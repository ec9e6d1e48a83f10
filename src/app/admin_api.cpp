// The admin API (include/webhook/app/admin_api.hpp, docs/admin.md).

#include "webhook/app/admin_api.hpp"

#include <charconv>
#include <map>
#include <optional>
#include <span>
#include <stdexcept>
#include <string_view>
#include <utility>

#include "app/admin_page.hpp"
#include "webhook/app/documents.hpp"
#include "webhook/app/json_out.hpp"
#include "webhook/core/signature.hpp"
#include "webhook/core/text.hpp"
#include "webhook/core/timestamp.hpp"
#include "webhook/log/log.hpp"
#include "webhook/storage/database.hpp"
#include "webhook/storage/event_queries.hpp"
#include "webhook/storage/projection_queries.hpp"
#include "webhook/storage/sqlite_inbox.hpp"

namespace webhook::app {
namespace {

using http::OutboundResponse;
using Query = std::map<std::string, std::string, std::less<>>;

constexpr std::int64_t kDefaultListLimit = 50;
constexpr std::int64_t kMaxListLimit = 500;
constexpr std::int64_t kDefaultCompareWindowMs = 7 * 86'400'000LL;
constexpr std::string_view kStatuses[] = {"pending",   "processing", "done",
                                          "unhandled", "dead",       "quarantined"};

// A request the API refuses: 400 with the parameter it names, or 404.
struct ApiError : std::runtime_error {
  ApiError(unsigned s, std::string error, std::string parameter, std::string reason)
      : std::runtime_error(reason),
        status(s),
        code(std::move(error)),
        param(std::move(parameter)) {}
  unsigned status;
  std::string code;
  std::string param;
};

ApiError bad_parameter(std::string name, std::string reason) {
  return ApiError(400, "bad_parameter", std::move(name), std::move(reason));
}

ApiError not_found(std::string reason) { return ApiError(404, "not_found", {}, std::move(reason)); }

OutboundResponse json(unsigned status, std::string body) {
  OutboundResponse r;
  r.status = status;
  r.body = std::move(body);
  return r;
}

OutboundResponse error_response(const ApiError& e) {
  JsonOut j;
  j.start_object();
  j.field("error", e.code);
  if (!e.param.empty()) j.field("parameter", e.param);
  j.field("reason", std::string_view(e.what()));
  j.end_object();
  return json(e.status, j.str());
}

OutboundResponse simple_error(unsigned status, std::string_view code) {
  JsonOut j;
  j.start_object();
  j.field("error", code);
  j.end_object();
  return json(status, j.str());
}

Query parse_query(std::string_view text) {
  Query query;
  while (!text.empty()) {
    const std::size_t amp = text.find('&');
    const std::string_view pair = text.substr(0, amp);
    text = amp == std::string_view::npos ? std::string_view() : text.substr(amp + 1);
    if (pair.empty()) continue;
    const std::size_t eq = pair.find('=');
    auto name = core::percent_decode(pair.substr(0, eq), true);
    auto value = core::percent_decode(
        eq == std::string_view::npos ? std::string_view() : pair.substr(eq + 1), true);
    if (!name || !value) throw bad_parameter(std::string(pair.substr(0, eq)), "bad %-escape");
    if (!query.emplace(std::move(*name), std::move(*value)).second) {
      throw bad_parameter(std::string(pair.substr(0, eq)), "given more than once");
    }
  }
  return query;
}

// The path's segments after "/api/", each percent-decoded.
std::vector<std::string> api_segments(std::string_view path) {
  std::vector<std::string> segments;
  path.remove_prefix(5);  // "/api/"
  while (true) {
    const std::size_t slash = path.find('/');
    auto segment = core::percent_decode(path.substr(0, slash));
    if (!segment) throw not_found("bad %-escape in the path");
    segments.push_back(std::move(*segment));
    if (slash == std::string_view::npos) break;
    path.remove_prefix(slash + 1);
  }
  return segments;
}

// Refuses parameters the endpoint does not take, so a typo never silently widens a query.
void only(const Query& q, std::initializer_list<std::string_view> known) {
  for (const auto& [name, value] : q) {
    bool ok = false;
    for (std::string_view k : known) ok = ok || name == k;
    if (!ok) throw bad_parameter(name, "not a parameter of this endpoint");
  }
}

std::optional<std::string> text_param(const Query& q, std::string_view name) {
  const auto it = q.find(name);
  if (it == q.end()) return std::nullopt;
  if (it->second.empty()) throw bad_parameter(std::string(name), "must not be empty");
  return it->second;
}

std::int64_t parse_positive(std::string_view text, const std::string& name, std::int64_t max) {
  std::int64_t n = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
  if (ec != std::errc{} || end != text.data() + text.size() || n < 1 || n > max) {
    throw bad_parameter(name, "must be a whole number from 1 to " + std::to_string(max));
  }
  return n;
}

std::int64_t limit_param(const Query& q, std::int64_t fallback) {
  const auto text = text_param(q, "limit");
  return text ? parse_positive(*text, "limit", kMaxListLimit) : fallback;
}

std::int64_t time_param(const Query& q, std::string_view name, std::int64_t fallback,
                        std::int64_t now_ms) {
  const auto text = text_param(q, name);
  if (!text) return fallback;
  const auto ms = core::parse_time_ms(*text, now_ms);
  if (!ms) throw bad_parameter(std::string(name), std::string(core::kTimeForms));
  return *ms;
}

// "<received_at_ms>-<id>", as "next" gives it.
std::string cursor_text(const storage::EventSummary& last) {
  return std::to_string(last.received_at_ms) + "-" + std::to_string(last.id);
}

storage::EventPosition parse_cursor(std::string_view text) {
  const std::size_t dash = text.find('-');
  const auto bad = [] {
    return bad_parameter("before", "must be the \"next\" of a previous page");
  };
  if (dash == std::string_view::npos) throw bad();
  storage::EventPosition p;
  const std::string_view ms = text.substr(0, dash);
  const std::string_view id = text.substr(dash + 1);
  const auto [e1, ec1] = std::from_chars(ms.data(), ms.data() + ms.size(), p.received_at_ms);
  const auto [e2, ec2] = std::from_chars(id.data(), id.data() + id.size(), p.id);
  if (ec1 != std::errc{} || e1 != ms.data() + ms.size() || ec2 != std::errc{} ||
      e2 != id.data() + id.size() || p.received_at_ms < 0 || p.id < 1) {
    throw bad();
  }
  return p;
}

std::int64_t event_id(const std::string& text) {
  std::int64_t id = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), id);
  if (ec != std::errc{} || end != text.data() + text.size() || id < 1) {
    throw not_found("no event '" + text + "' (ids are positive whole numbers)");
  }
  return id;
}

}  // namespace

struct AdminApi::Impl {
  Impl(AdminApiOptions o, const core::Clock& c) : options(std::move(o)), clock(c) {}

  OutboundResponse route(std::string_view method, std::string_view path, const Query& query);
  storage::Database& reader();
  storage::SqliteInbox& writer();
  bool authorized(std::string_view header) const;

  OutboundResponse summary(const Query& q);
  OutboundResponse reviews(const Query& q);
  OutboundResponse events(const Query& q);
  OutboundResponse compare(const Query& q);
  OutboundResponse redrive(std::span<const std::int64_t> ids);

  AdminApiOptions options;
  // The token's SHA-256: a presented token is hashed and compared with it in constant time, so
  // neither the token's content nor its length shows in the timing.
  core::Digest token_digest = core::sha256(options.token);
  const core::Clock& clock;
  std::optional<storage::Database> read_db;
  std::optional<storage::SqliteInbox> write_inbox;
};

storage::Database& AdminApi::Impl::reader() {
  if (!read_db) {
    read_db.emplace(
        storage::Database::open(options.sqlite_path, storage::Database::Mode::read_only));
  }
  return *read_db;
}

storage::SqliteInbox& AdminApi::Impl::writer() {
  if (!write_inbox) {
    write_inbox.emplace(
        storage::Database::open(options.sqlite_path, storage::Database::Mode::read_write));
  }
  return *write_inbox;
}

// Both sides hashed first, so the comparison takes the same time whatever the lengths.
bool AdminApi::Impl::authorized(std::string_view header) const {
  constexpr std::string_view kScheme = "bearer ";  // the scheme name is case-insensitive
  if (header.size() <= kScheme.size()) return false;
  for (std::size_t i = 0; i < kScheme.size(); ++i) {
    const char c = header[i];
    if ((c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c) != kScheme[i]) return false;
  }
  return core::constant_time_equal(core::sha256(header.substr(kScheme.size())), token_digest);
}

OutboundResponse AdminApi::Impl::summary(const Query& q) {
  only(q, {});
  const documents::SummaryInput in =
      documents::read_summary(reader(), options.sources, options.review_bounds_ms,
                              options.settlement_overdue_ms, clock.now_ms());
  return json(200, documents::summary(in));
}

OutboundResponse AdminApi::Impl::reviews(const Query& q) {
  only(q, {"state", "source", "limit"});
  storage::ReviewFilter f;
  if (const auto state = text_param(q, "state")) {
    if (*state == "open") {
      f.state = storage::ReviewFilter::State::open;
    } else if (*state == "closed") {
      f.state = storage::ReviewFilter::State::closed;
    } else if (*state == "all") {
      f.state = storage::ReviewFilter::State::all;
    } else {
      throw bad_parameter("state", "must be open, closed or all");
    }
  }
  f.source = text_param(q, "source");
  f.limit = limit_param(q, 100);
  storage::ProjectionQueries queries(reader());
  return json(200,
              documents::review_list(queries.reviews(f), options.review_bounds_ms, clock.now_ms()));
}

OutboundResponse AdminApi::Impl::events(const Query& q) {
  only(q, {"status", "type", "source", "entity", "limit", "before"});
  storage::EventFilter f;
  if (const auto statuses = text_param(q, "status")) {
    std::string_view rest = *statuses;
    while (true) {
      const std::size_t comma = rest.find(',');
      const std::string_view one = rest.substr(0, comma);
      bool known = false;
      for (std::string_view s : kStatuses) known = known || s == one;
      if (!known) {
        throw bad_parameter("status", "'" + std::string(one) +
                                          "' is not one of pending, processing, done, unhandled, "
                                          "dead, quarantined");
      }
      f.statuses.emplace_back(one);
      if (comma == std::string_view::npos) break;
      rest.remove_prefix(comma + 1);
    }
  }
  if (const auto type = text_param(q, "type")) {
    f.type = *type;
    f.type_is_prefix = type->back() == '.';
  }
  f.source = text_param(q, "source");
  f.entity_id = text_param(q, "entity");
  if (const auto before = text_param(q, "before")) f.before = parse_cursor(*before);
  f.limit = limit_param(q, kDefaultListLimit);
  storage::SqliteEventQueries queries(reader());
  const std::vector<storage::EventSummary> rows = queries.list(f);
  JsonOut j;
  j.start_object();
  j.key("events");
  documents::event_summaries(j, rows);
  j.field_or_null("next", static_cast<std::int64_t>(rows.size()) == f.limit && !rows.empty()
                              ? cursor_text(rows.back())
                              : std::string());
  j.end_object();
  return json(200, j.str());
}

OutboundResponse AdminApi::Impl::compare(const Query& q) {
  only(q, {"a", "b", "since", "until", "limit"});
  const std::int64_t now_ms = clock.now_ms();
  documents::ComparisonWindow w;
  w.a = text_param(q, "a").value_or("production");
  w.b = text_param(q, "b").value_or("sandbox");
  if (w.a == w.b) throw bad_parameter("b", "names the same source as a");
  w.until_ms = time_param(q, "until", now_ms, now_ms);
  w.since_ms = time_param(q, "since", w.until_ms - kDefaultCompareWindowMs, now_ms);
  if (w.since_ms >= w.until_ms) throw bad_parameter("since", "must be before until");
  const std::int64_t limit = limit_param(q, kDefaultListLimit);
  storage::ProjectionQueries queries(reader());
  return json(200,
              documents::comparison(w, queries.compare(w.a, w.b, w.since_ms, w.until_ms, limit)));
}

OutboundResponse AdminApi::Impl::redrive(std::span<const std::int64_t> ids) {
  storage::SqliteInbox& inbox = writer();
  const std::size_t moved = inbox.redrive(ids, clock.now_ms());
  if (moved > 0 && options.on_redrive) options.on_redrive();
  JsonOut j;
  j.start_object();
  if (ids.empty()) {
    j.field("retried", static_cast<std::int64_t>(moved));
  } else if (moved == 1) {
    j.field("id", ids.front());
    j.field("status", "pending");
  } else {
    const auto event = inbox.find_event(ids.front());
    if (!event) throw not_found("no event " + std::to_string(ids.front()));
    return json(409, [&] {
      JsonOut e;
      e.start_object();
      e.field("error", "not_dead");
      e.field("status", event->status);
      e.field("reason", "only a dead event can be retried");
      e.end_object();
      return e.str();
    }());
  }
  j.end_object();
  log::info("admin: redrive", {.detail = std::to_string(moved) + " event(s) back to pending"});
  return json(200, j.str());
}

OutboundResponse AdminApi::Impl::route(std::string_view method, std::string_view path,
                                       const Query& query) {
  const std::vector<std::string> s = api_segments(path);
  const bool get = method == "GET";
  const bool post = method == "POST";
  const auto allow = [](std::string_view methods) { return http::method_not_allowed(methods); };
  const auto one_source = [&]() {
    only(query, {"source"});
    return text_param(query, "source");
  };
  if (s.size() == 1 && s[0] == "summary") return get ? summary(query) : allow("GET, HEAD");
  if (s.size() == 1 && s[0] == "reviews") return get ? reviews(query) : allow("GET, HEAD");
  if (s.size() == 1 && s[0] == "events") return get ? events(query) : allow("GET, HEAD");
  if (s.size() == 1 && s[0] == "compare") return get ? compare(query) : allow("GET, HEAD");
  if (s.size() == 2 && s[0] == "events" && s[1] == "retry-dead") {
    if (!post) return allow("POST");
    only(query, {});
    return redrive({});
  }
  if (s.size() == 2 && s[0] == "events") {
    if (!get) return allow("GET, HEAD");
    only(query, {});
    const std::int64_t id = event_id(s[1]);
    storage::SqliteEventQueries queries(reader());
    const auto record = queries.find(id);
    if (!record) throw not_found("no event " + std::to_string(id));
    return json(200, documents::event_record(*record));
  }
  if (s.size() == 3 && s[0] == "events" && s[2] == "retry") {
    if (!post) return allow("POST");
    only(query, {});
    const std::int64_t id = event_id(s[1]);
    return redrive({&id, 1});
  }
  if (s.size() == 2 && !s[1].empty() &&
      (s[0] == "reviews" || s[0] == "payments" || s[0] == "customers")) {
    if (!get) return allow("GET, HEAD");
    const std::optional<std::string> source = one_source();
    storage::ProjectionQueries queries(reader());
    std::string body;
    if (s[0] == "reviews") {
      const auto views = queries.review(s[1], source);
      if (!views.empty())
        body = documents::review_views(views, options.review_bounds_ms, clock.now_ms());
    } else if (s[0] == "payments") {
      const auto views = queries.payment(s[1], source);
      if (!views.empty()) body = documents::payment_views(views);
    } else {
      const auto views = queries.customer(s[1], source);
      if (!views.empty()) body = documents::customer_views(views);
    }
    if (body.empty()) {
      const std::string noun = s[0] == "reviews"    ? "review"
                               : s[0] == "payments" ? "payment"
                                                    : "customer";
      throw not_found("no " + noun + " '" + s[1] + "'" +
                      (source ? " in source '" + *source + "'" : std::string()));
    }
    return json(200, std::move(body));
  }
  throw not_found("no such endpoint");
}

AdminApi::AdminApi(AdminApiOptions options, const core::Clock& clock)
    : impl_(std::make_unique<Impl>(std::move(options), clock)) {
  if (impl_->options.token.empty()) throw std::invalid_argument("AdminApi needs a token");
}

AdminApi::~AdminApi() = default;

OutboundResponse AdminApi::handle(const http::AdminRequest& request) {
  const std::string_view target = request.target;
  const std::size_t question = target.find('?');
  const std::string_view path = target.substr(0, question);
  const std::string_view query_text =
      question == std::string_view::npos ? std::string_view() : target.substr(question + 1);

  if (path.substr(0, 5) != "/api/") {
    for (const PageAsset& asset : admin_page_assets()) {
      if (asset.path != path) continue;
      if (request.method != "GET") return http::method_not_allowed("GET, HEAD");
      OutboundResponse r;
      r.content_type = std::string(asset.content_type);
      r.body = std::string(asset.body);
      return r;
    }
    return simple_error(404, "not_found");
  }
  if (!impl_->authorized(request.authorization)) {
    OutboundResponse r = simple_error(401, "unauthorized");
    r.headers.emplace_back("WWW-Authenticate", R"(Bearer realm="webhook-receiver admin")");
    return r;
  }
  try {
    return impl_->route(request.method, path, parse_query(query_text));
  } catch (const ApiError& e) {
    return error_response(e);
  } catch (const storage::StorageError& e) {
    // The connections reopen on the next request (a moved or replaced file, a full disk).
    impl_->read_db.reset();
    impl_->write_inbox.reset();
    log::warn("admin: storage error", {.detail = e.what()});
    OutboundResponse r = simple_error(503, "storage_unavailable");
    r.retry_after_seconds = http::kRetryAfterSeconds;
    return r;
  }
}

}  // namespace webhook::app
