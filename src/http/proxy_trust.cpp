#include "webhook/http/proxy_trust.hpp"

#include <algorithm>
#include <optional>
#include <stdexcept>

#include "http/asio.hpp"

namespace webhook::http {
namespace {

constexpr unsigned kMappedPrefix = 96;  // ::ffff:0:0/96 holds the IPv4-mapped addresses

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

bool only(std::string_view s, std::string_view allowed) {
  return s.find_first_not_of(allowed) == std::string_view::npos;
}

// A peer or header address: also "[v6]", a zone id, surrounding blanks. An IPv4-mapped IPv6
// address comes back as the IPv4 address, as clients are named.
bool parse_address(std::string_view text, net::ip::address& out) {
  text = trim(text);
  if (text.size() > 2 && text.front() == '[' && text.back() == ']') {
    text = text.substr(1, text.size() - 2);
  }
  boost::system::error_code ec;
  out = net::ip::make_address(std::string(text), ec);
  if (ec) return false;
  if (out.is_v6() && out.to_v6().is_v4_mapped()) {
    out = net::ip::make_address_v4(net::ip::v4_mapped, out.to_v6());
  }
  return true;
}

std::array<std::uint8_t, 16> bits_of(const net::ip::address& a) {
  if (a.is_v4()) return net::ip::make_address_v6(net::ip::v4_mapped, a.to_v4()).to_bytes();
  return a.to_v6().to_bytes();
}

// "0", or 1-3 digits without a leading zero, at most `max`.
std::optional<unsigned> parse_prefix(std::string_view text, unsigned max) {
  if (text.empty() || text.size() > 3 || !only(text, "0123456789")) return std::nullopt;
  if (text.size() > 1 && text.front() == '0') return std::nullopt;
  unsigned value = 0;
  for (char c : text) value = value * 10 + static_cast<unsigned>(c - '0');
  if (value > max) return std::nullopt;
  return value;
}

struct Entry {
  std::array<std::uint8_t, 16> bits{};
  unsigned prefix = 0;
};

// The strict entry grammar of ProxyTrust::is_valid_entry. inet_pton (behind make_address_v4/v6)
// already refuses blanks and leading zeros in a dotted quad; the character sets keep zone ids,
// brackets and anything else out before it is asked.
std::optional<Entry> parse_entry(std::string_view entry) {
  const auto slash = entry.find('/');
  const std::string_view text = entry.substr(0, slash);
  boost::system::error_code ec;
  Entry parsed;
  unsigned offset = 0;
  unsigned max = 128;
  if (only(text, "0123456789.")) {
    parsed.bits = bits_of(net::ip::make_address_v4(std::string(text), ec));
    offset = kMappedPrefix;
    max = 32;
  } else if (only(text, "0123456789abcdefABCDEF:.")) {
    parsed.bits = net::ip::make_address_v6(std::string(text), ec).to_bytes();
  } else {
    return std::nullopt;
  }
  if (ec || text.empty()) return std::nullopt;
  if (slash == std::string_view::npos) {
    parsed.prefix = 128;
    return parsed;
  }
  const auto prefix = parse_prefix(entry.substr(slash + 1), max);
  if (!prefix) return std::nullopt;
  parsed.prefix = offset + *prefix;
  return parsed;
}

}  // namespace

ProxyTrust::ProxyTrust(const std::vector<std::string>& cidrs) {
  for (const auto& entry : cidrs) {
    auto parsed = parse_entry(entry);
    if (!parsed) {
      throw std::invalid_argument(
          (entry.find('/') == std::string::npos ? "not an address: " : "not a CIDR: ") + entry);
    }
    networks_.push_back(Network{parsed->bits, parsed->prefix});
  }
}

bool ProxyTrust::is_valid_entry(std::string_view entry) { return parse_entry(entry).has_value(); }

bool ProxyTrust::trusts(const Bits& address) const {
  for (const auto& network : networks_) {
    const unsigned whole = network.prefix / 8;
    const unsigned rest = network.prefix % 8;
    bool match = std::equal(address.begin(), address.begin() + whole, network.address.begin());
    if (match && rest != 0) {
      const auto mask = static_cast<std::uint8_t>(0xff << (8 - rest));
      match = (address[whole] & mask) == (network.address[whole] & mask);
    }
    if (match) return true;
  }
  return false;
}

bool ProxyTrust::trusts(std::string_view address) const {
  net::ip::address a;
  return !networks_.empty() && parse_address(address, a) && trusts(bits_of(a));
}

std::string ProxyTrust::client_address(std::string_view peer, std::string_view x_forwarded_for,
                                       std::string_view x_real_ip) const {
  if (!trusts(peer)) return std::string(peer);
  net::ip::address a;
  if (!x_real_ip.empty() && parse_address(x_real_ip, a)) return a.to_string();
  // Walk X-Forwarded-For from the right: each hop appended the address it saw.
  std::string_view rest = x_forwarded_for;
  while (!rest.empty()) {
    const auto comma = rest.rfind(',');
    const std::string_view hop = comma == std::string_view::npos ? rest : rest.substr(comma + 1);
    rest = comma == std::string_view::npos ? std::string_view{} : rest.substr(0, comma);
    if (!parse_address(hop, a)) break;  // garbage: stop trusting what lies beyond it
    if (!trusts(bits_of(a))) return a.to_string();
  }
  return std::string(peer);
}

}  // namespace webhook::http
