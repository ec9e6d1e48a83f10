#pragma once
// PgUrl: a postgres:// connection string taken apart, so messages and logs can name the server
// without the password (issue 13: "log the host and database only").
//  1. parse_pg_url() checks the shape libpq accepts for URIs (postgres:// or postgresql://,
//     optional user[:password]@, host[:port] or [v6]:port, /database, ?key=value&...) and
//     percent-decodes the parts; it never throws and its error text never repeats the input.
//  2. describe() is what every message about the server prints: "postgres HOST:PORT/DATABASE".
//  3. scrub() removes the password (as written and percent-decoded) from any text, for messages
//     that come from libpq or the server, which we do not control.
// Pure functions of strings; no libpq here.

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace webhook::storage {

struct PgUrl {
  std::string user;      // decoded; "" when absent
  std::string password;  // decoded; "" when absent (never print it)
  std::string host;      // as written, without brackets for IPv6; "" when absent (libpq default)
  std::string port;      // "" when absent (libpq default 5432)
  std::string database;  // decoded; "" when absent (libpq defaults it to the user name)
  // The query parameters, decoded, in order. A "password" parameter is moved to `password`.
  std::vector<std::pair<std::string, std::string>> params;
  // The password exactly as written in the URL (percent-encoded), for scrub().
  std::string password_as_written;

  // "postgres HOST:PORT/DATABASE" with "(default)" for absent parts; no user, no password.
  std::string describe() const;
  // `text` with every occurrence of the password (decoded or as written) replaced by "***".
  std::string scrub(std::string_view text) const;
};

struct PgUrlParse {
  std::optional<PgUrl> url;  // set when the text is a postgres URL we accept
  std::string error;         // otherwise: what is wrong, without repeating the input
};

// Parses `text` (see the header comment). Never throws.
PgUrlParse parse_pg_url(std::string_view text);

// True when `text` starts with "postgres://" or "postgresql://" (what `--db` will test to tell
// a PostgreSQL URL from an SQLite path).
bool is_pg_url(std::string_view text);

}  // namespace webhook::storage
