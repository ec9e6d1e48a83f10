// URL parsing for the outbound clients (include/webhook/http/url.hpp). Pure: no sockets, so the
// configuration (and its fuzzer) can check URLs without linking the client.

#include "webhook/http/url.hpp"

#include <algorithm>
#include <charconv>

namespace webhook::http {
namespace {

bool valid_port(std::string_view port) {
  unsigned value = 0;
  const auto* end = port.data() + port.size();
  const auto [ptr, ec] = std::from_chars(port.data(), end, value);
  return !port.empty() && ec == std::errc() && ptr == end && value >= 1 && value <= 65535;
}

}  // namespace

std::optional<ParsedUrl> parse_url(std::string_view url) {
  ParsedUrl out;
  if (url.starts_with("http://")) {
    url.remove_prefix(7);
  } else if (url.starts_with("https://")) {
    out.tls = true;
    url.remove_prefix(8);
  } else {
    return std::nullopt;
  }
  url = url.substr(0, url.find('#'));
  const auto path_at = std::min(url.find_first_of("/?"), url.size());
  const std::string_view authority = url.substr(0, path_at);
  const std::string_view target = url.substr(path_at);
  if (authority.find('@') != std::string_view::npos) return std::nullopt;
  for (const char ch : url) {
    if (static_cast<unsigned char>(ch) <= 0x20 || ch == 0x7f) return std::nullopt;
  }

  std::string_view host = authority;
  std::string_view port;
  bool has_port = false;
  if (authority.starts_with('[')) {
    const auto close = authority.find(']');
    if (close == std::string_view::npos) return std::nullopt;
    host = authority.substr(1, close - 1);
    const std::string_view after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') return std::nullopt;
      port = after.substr(1);
      has_port = true;
    }
  } else if (const auto colon = authority.find(':'); colon != std::string_view::npos) {
    host = authority.substr(0, colon);
    port = authority.substr(colon + 1);
    has_port = true;
  }
  if (host.empty() || (has_port && !valid_port(port))) return std::nullopt;
  out.host = std::string(host);
  out.port = has_port ? std::string(port) : (out.tls ? "443" : "80");
  if (target.empty()) {
    out.target = "/";
  } else {
    out.target = target.front() == '?' ? "/" + std::string(target) : std::string(target);
  }
  return out;
}

}  // namespace webhook::http
