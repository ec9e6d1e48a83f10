// PgUrl (include/webhook/storage/pg_url.hpp): parsing, describing and scrubbing a postgres URL.

#include "webhook/storage/pg_url.hpp"

#include <cctype>

#include "webhook/core/text.hpp"

namespace webhook::storage {
namespace {

constexpr std::string_view kSchemes[] = {"postgresql://", "postgres://"};

bool all_digits(std::string_view s) {
  if (s.empty()) return false;
  for (const char c : s) {
    if (std::isdigit(static_cast<unsigned char>(c)) == 0) return false;
  }
  return true;
}

PgUrlParse fail(std::string error) { return PgUrlParse{std::nullopt, std::move(error)}; }

void replace_all(std::string& text, std::string_view what) {
  if (what.empty()) return;
  std::size_t at = 0;
  while ((at = text.find(what, at)) != std::string::npos) {
    text.replace(at, what.size(), "***");
    at += 3;
  }
}

}  // namespace

bool is_pg_url(std::string_view text) {
  for (const std::string_view scheme : kSchemes) {
    if (text.starts_with(scheme)) return true;
  }
  return false;
}

PgUrlParse parse_pg_url(std::string_view text) {
  std::string_view rest;
  for (const std::string_view scheme : kSchemes) {
    if (text.starts_with(scheme)) {
      rest = text.substr(scheme.size());
      break;
    }
  }
  if (!is_pg_url(text)) {
    return fail(
        "not a PostgreSQL URL (expected postgres://[user[:password]@]host[:port]/database)");
  }
  PgUrl url;

  // Query parameters: after the first '?'.
  if (const auto q = rest.find('?'); q != std::string_view::npos) {
    std::string_view query = rest.substr(q + 1);
    rest = rest.substr(0, q);
    while (!query.empty()) {
      const auto amp = query.find('&');
      const std::string_view pair = query.substr(0, amp);
      query = amp == std::string_view::npos ? std::string_view{} : query.substr(amp + 1);
      if (pair.empty()) continue;
      const auto eq = pair.find('=');
      if (eq == std::string_view::npos || eq == 0) {
        return fail("a query parameter of the PostgreSQL URL is not key=value");
      }
      const auto key = core::percent_decode(pair.substr(0, eq));
      const auto value = core::percent_decode(pair.substr(eq + 1));
      if (!key || !value) return fail("bad percent-encoding in a query parameter");
      if (*key == "password") {
        url.password = *value;
        url.password_as_written = std::string(pair.substr(eq + 1));
        continue;
      }
      url.params.emplace_back(*key, *value);
    }
  }

  // Database: after the first '/' of what is left.
  if (const auto slash = rest.find('/'); slash != std::string_view::npos) {
    const auto database = core::percent_decode(rest.substr(slash + 1));
    if (!database) return fail("bad percent-encoding in the database name");
    url.database = *database;
    rest = rest.substr(0, slash);
  }

  // Credentials: before the last '@' (a password may hold an unencoded '@').
  if (const auto at = rest.rfind('@'); at != std::string_view::npos) {
    const std::string_view credentials = rest.substr(0, at);
    rest = rest.substr(at + 1);
    const auto colon = credentials.find(':');
    const auto user = core::percent_decode(credentials.substr(0, colon));
    if (!user) return fail("bad percent-encoding in the user name");
    url.user = *user;
    if (colon != std::string_view::npos) {
      const std::string_view written = credentials.substr(colon + 1);
      const auto password = core::percent_decode(written);
      if (!password) return fail("bad percent-encoding in the password");
      url.password = *password;
      url.password_as_written = std::string(written);
    }
  }

  // Host and port: "[v6]:port", "host:port", "host"; libpq's comma-separated host lists are
  // kept as written in `host`.
  if (rest.starts_with('[')) {
    const auto close = rest.find(']');
    if (close == std::string_view::npos) return fail("unterminated [ in the host");
    url.host = std::string(rest.substr(1, close - 1));
    rest = rest.substr(close + 1);
    if (!rest.empty()) {
      if (rest.front() != ':') return fail("unexpected text after the IPv6 host");
      url.port = std::string(rest.substr(1));
    }
  } else if (const auto colon = rest.rfind(':');
             colon != std::string_view::npos && rest.find(',') == std::string_view::npos) {
    url.host = std::string(rest.substr(0, colon));
    url.port = std::string(rest.substr(colon + 1));
  } else {
    url.host = std::string(rest);
  }
  if (!url.port.empty() && (!all_digits(url.port) || url.port.size() > 5 ||
                            std::stoi(url.port) == 0 || std::stoi(url.port) > 65535)) {
    return fail("the port of the PostgreSQL URL is not a number from 1 to 65535");
  }
  return PgUrlParse{std::move(url), {}};
}

std::string PgUrl::describe() const {
  std::string out = "postgres ";
  out += host.empty() ? "(default host)" : host;
  if (!port.empty()) out += ":" + port;
  out += "/";
  out += database.empty() ? "(default database)" : database;
  return out;
}

std::string PgUrl::scrub(std::string_view text) const {
  std::string out(text);
  // The longer form first, so a decoded password inside the written one is not half-replaced.
  if (password_as_written.size() >= password.size()) {
    replace_all(out, password_as_written);
    replace_all(out, password);
  } else {
    replace_all(out, password);
    replace_all(out, password_as_written);
  }
  return out;
}

}  // namespace webhook::storage
