#include "webhook/http/proxy_trust.hpp"

#include <stdexcept>

#include "http/asio.hpp"

namespace webhook::http {
namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// Parses an address; also accepts "[v6]" and strips an IPv4-mapped IPv6 prefix.
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

bool in_network(const net::ip::address& a, const std::string& cidr) {
  boost::system::error_code ec;
  if (a.is_v4()) {
    auto network = net::ip::make_network_v4(cidr, ec);
    if (ec) return false;
    const auto host = net::ip::network_v4(a.to_v4(), network.prefix_length()).canonical();
    return host == network.canonical();
  }
  auto network = net::ip::make_network_v6(cidr, ec);
  if (ec) return false;
  const auto host = net::ip::network_v6(a.to_v6(), network.prefix_length()).canonical();
  return host == network.canonical();
}

}  // namespace

ProxyTrust::ProxyTrust(const std::vector<std::string>& cidrs) {
  for (const auto& entry : cidrs) {
    std::string cidr = entry;
    net::ip::address a;
    if (cidr.find('/') == std::string::npos) {
      if (!parse_address(cidr, a)) throw std::invalid_argument("not an address: " + entry);
      cidr = a.to_string() + (a.is_v4() ? "/32" : "/128");
    }
    boost::system::error_code ec4, ec6;
    net::ip::make_network_v4(cidr, ec4);
    net::ip::make_network_v6(cidr, ec6);
    if (ec4 && ec6) throw std::invalid_argument("not a CIDR: " + entry);
    cidrs_.push_back(cidr);
  }
}

bool ProxyTrust::trusts(std::string_view address) const {
  net::ip::address a;
  if (cidrs_.empty() || !parse_address(address, a)) return false;
  for (const auto& cidr : cidrs_) {
    if (in_network(a, cidr)) return true;
  }
  return false;
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
    const std::string_view hop =
        trim(comma == std::string_view::npos ? rest : rest.substr(comma + 1));
    rest = comma == std::string_view::npos ? std::string_view{} : rest.substr(0, comma);
    if (!parse_address(hop, a)) break;  // garbage: stop trusting what lies beyond it
    if (!trusts(a.to_string())) return a.to_string();
  }
  return std::string(peer);
}

}  // namespace webhook::http
