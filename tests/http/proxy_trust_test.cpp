// Which peer may name the client's address.
#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "webhook/http/proxy_trust.hpp"

using webhook::http::ProxyTrust;

TEST_CASE("an untrusted peer's forwarding headers are ignored", "[proxy]") {
  const ProxyTrust trust(std::vector<std::string>{"10.0.0.0/8"});
  CHECK(trust.client_address("203.0.113.9", "198.51.100.1", "198.51.100.2") == "203.0.113.9");
  const ProxyTrust nobody(std::vector<std::string>{});
  CHECK(nobody.client_address("127.0.0.1", "198.51.100.1", "") == "127.0.0.1");
}

TEST_CASE("a trusted proxy's X-Real-IP names the client", "[proxy]") {
  const ProxyTrust trust(std::vector<std::string>{"127.0.0.1", "10.0.0.0/8"});
  CHECK(trust.client_address("127.0.0.1", "", "198.51.100.7") == "198.51.100.7");
  CHECK(trust.client_address("10.1.2.3", "1.1.1.1", "198.51.100.7") == "198.51.100.7");
}

TEST_CASE("X-Forwarded-For is read from the right, skipping trusted hops", "[proxy]") {
  const ProxyTrust trust(std::vector<std::string>{"10.0.0.0/8", "127.0.0.1/32"});
  // The client put a spoofed entry first; the proxies appended what they saw.
  CHECK(trust.client_address("127.0.0.1", "6.6.6.6, 198.51.100.4, 10.0.0.5", "") == "198.51.100.4");
  CHECK(trust.client_address("127.0.0.1", "10.0.0.5", "") == "127.0.0.1");
  CHECK(trust.client_address("127.0.0.1", "not-an-ip, 198.51.100.4", "") == "198.51.100.4");
  CHECK(trust.client_address("127.0.0.1", "198.51.100.4, garbage", "") == "127.0.0.1");
}

TEST_CASE("IPv6 networks and IPv4-mapped peers are matched", "[proxy]") {
  const ProxyTrust trust(std::vector<std::string>{"fd00::/8", "192.168.0.0/16"});
  CHECK(trust.trusts("fd12::1"));
  CHECK_FALSE(trust.trusts("fe80::1"));
  CHECK(trust.trusts("::ffff:192.168.1.1"));
  CHECK(trust.client_address("fd00::2", "[2001:db8::5]", "") == "2001:db8::5");
}

TEST_CASE("a bad trusted_proxies entry is refused by name", "[proxy]") {
  CHECK_THROWS_WITH(ProxyTrust(std::vector<std::string>{"10.0.0.0/33"}), "not a CIDR: 10.0.0.0/33");
  CHECK_THROWS_WITH(ProxyTrust(std::vector<std::string>{"example.com"}),
                    "not an address: example.com");
}
