#pragma once
// ProxyTrust: which peers may tell us the client's address (config server.trusted_proxies).
// A request's client address is the peer's, unless the peer is trusted: then X-Real-IP when it
// holds an address, else the right-most X-Forwarded-For entry that is not itself a trusted proxy.
// A spoofed header from an untrusted peer is ignored. Pure; thread-safe after construction.
// Addresses are compared as 128-bit IPv6, an IPv4 address as its IPv4-mapped form
// (::ffff:a.b.c.d), so "10.0.0.0/8" and "::ffff:10.0.0.0/104" are the same network and match
// both 10.0.0.1 and a dual-stack socket's ::ffff:10.0.0.1.

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace webhook::http {

class ProxyTrust {
 public:
  ProxyTrust() = default;
  // CIDRs or bare addresses ("10.0.0.0/8", "127.0.0.1", "fd00::/8"). Throws
  // std::invalid_argument naming the entry when one is not is_valid_entry().
  explicit ProxyTrust(const std::vector<std::string>& cidrs);

  // An entry is an IPv4 dotted quad or an IPv6 address (no brackets, no zone id "%eth0"),
  // optionally followed by "/prefix": decimal, no sign, no leading zero, at most 32 (IPv4) or
  // 128 (IPv6). Nothing else, not even surrounding whitespace.
  static bool is_valid_entry(std::string_view entry);

  bool trusts(std::string_view address) const;

  // The client address for a request from `peer` (an IP address, no port) with these header
  // values ("" when absent).
  std::string client_address(std::string_view peer, std::string_view x_forwarded_for,
                             std::string_view x_real_ip) const;

 private:
  using Bits = std::array<std::uint8_t, 16>;
  struct Network {
    Bits address{};       // IPv4 entries as IPv4-mapped IPv6
    unsigned prefix = 0;  // 0-128, in the 128-bit form
  };

  bool trusts(const Bits& address) const;

  std::vector<Network> networks_;
};

}  // namespace webhook::http
