#pragma once
// ProxyTrust: which peers may tell us the client's address (config server.trusted_proxies).
// A request's client address is the peer's, unless the peer is trusted: then X-Real-IP when it
// holds an address, else the right-most X-Forwarded-For entry that is not itself a trusted proxy.
// A spoofed header from an untrusted peer is ignored. Pure; thread-safe after construction.

#include <string>
#include <string_view>
#include <vector>

namespace webhook::http {

class ProxyTrust {
 public:
  ProxyTrust() = default;
  // CIDRs or bare addresses ("10.0.0.0/8", "127.0.0.1", "fd00::/8"). Throws
  // std::invalid_argument naming the entry when one does not parse (config validates first).
  explicit ProxyTrust(const std::vector<std::string>& cidrs);

  bool trusts(std::string_view address) const;

  // The client address for a request from `peer` (an IP address, no port) with these header
  // values ("" when absent).
  std::string client_address(std::string_view peer, std::string_view x_forwarded_for,
                             std::string_view x_real_ip) const;

 private:
  struct Network;
  std::vector<std::string> cidrs_;  // normalised "address/prefix"
};

}  // namespace webhook::http
