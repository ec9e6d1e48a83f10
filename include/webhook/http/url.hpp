#pragma once
// http:// and https:// URLs of the outbound clients (forward handler, replay, Conomy API). Pure.

#include <optional>
#include <string>
#include <string_view>

namespace webhook::http {

struct ParsedUrl {
  bool tls = false;          // https
  std::string host;          // name or address; IPv6 without brackets
  std::string port;          // explicit, or 80 / 443
  std::string target = "/";  // path and query, never empty; the fragment is dropped
};

// Parses "http://host[:port][/path][?query]" or "https://...", IPv6 as "[::1]". nullopt for any
// other scheme, userinfo ("user@host"), an empty host or a port outside 1-65535.
std::optional<ParsedUrl> parse_url(std::string_view url);

}  // namespace webhook::http
