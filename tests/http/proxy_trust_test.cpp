// Which peer may name the client's address.
#include <catch2/catch.hpp>

#include <stdexcept>
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

// Issue 10, defect 10: the parser itself is strict, whatever config validation catches first.
TEST_CASE(
    "issue 10: an entry with a zone id, spaces, signs, leading zeros or a bad prefix is refused",
    "[proxy][issue10]") {
  const std::vector<std::string> refused = {"fe80::1%eth0",
                                            "fe80::%eth0/10",
                                            "fe80::/10%eth0",
                                            " 10.0.0.1",
                                            "10.0.0.1 ",
                                            "10.0.0.0 /8",
                                            "10.0.0.0/ 8",
                                            "10.0.0.0/+8",
                                            "10.0.0.0/-8",
                                            "10.0.0.0/08",
                                            "10.0.0.0/008",
                                            "10.0.0.0/4294967328",
                                            "10.0.0.0/33",
                                            "::/129",
                                            "::/1000",
                                            "10.0.0.0/",
                                            "10.0.0.0/8/8",
                                            "/8",
                                            "",
                                            "[::1]",
                                            "[fd00::]/8",
                                            "010.0.0.1",
                                            "10.0.0.1\n",
                                            "10.0.0.0/8\t",
                                            "10.0.0.0/0x8"};
  for (const auto& entry : refused) {
    CAPTURE(entry);
    CHECK_THROWS_AS(ProxyTrust(std::vector<std::string>{entry}), std::invalid_argument);
    CHECK_FALSE(ProxyTrust::is_valid_entry(entry));
  }
  for (const std::string entry : {"10.0.0.0/8", "10.0.0.0/0", "0.0.0.0/32", "::/0", "fd00::/8",
                                  "::1", "127.0.0.1", "::ffff:10.0.0.0/104", "2001:db8::/128"}) {
    CAPTURE(entry);
    CHECK(ProxyTrust::is_valid_entry(entry));
    CHECK_NOTHROW(ProxyTrust(std::vector<std::string>{entry}));
  }
}

TEST_CASE("issue 10: an IPv4-mapped entry matches the IPv4 peer it names", "[proxy][issue10]") {
  const ProxyTrust trust(std::vector<std::string>{"::ffff:10.0.0.0/104"});
  CHECK(trust.trusts("10.0.0.1"));
  CHECK(trust.trusts("10.255.1.2"));
  CHECK(trust.trusts("::ffff:10.0.0.1"));
  CHECK_FALSE(trust.trusts("11.0.0.1"));
  CHECK_FALSE(trust.trusts("::a00:1"));  // 10.0.0.1 IPv4-compatible, not mapped: another address
  CHECK(trust.client_address("10.0.0.1", "", "198.51.100.7") == "198.51.100.7");
  const ProxyTrust single(std::vector<std::string>{"::ffff:127.0.0.1"});
  CHECK(single.trusts("127.0.0.1"));
  CHECK_FALSE(single.trusts("127.0.0.2"));
}

TEST_CASE(
    "issue 10: an IPv4 entry matches the same peer arriving IPv4-mapped on a dual-stack socket",
    "[proxy][issue10]") {
  const ProxyTrust trust(std::vector<std::string>{"10.0.0.0/8", "127.0.0.1"});
  CHECK(trust.trusts("::ffff:10.9.8.7"));
  CHECK(trust.trusts("::ffff:127.0.0.1"));
  CHECK_FALSE(trust.trusts("::ffff:127.0.0.2"));
  CHECK_FALSE(trust.trusts("::ffff:11.0.0.1"));
  CHECK(trust.client_address("::ffff:10.0.0.5", "198.51.100.4, ::ffff:10.0.0.9", "") ==
        "198.51.100.4");
}

TEST_CASE("issue 10: a link-local peer with a zone id is matched by its address",
          "[proxy][issue10]") {
  const ProxyTrust trust(std::vector<std::string>{"fe80::/10"});
  CHECK(trust.trusts("fe80::1%1"));
  CHECK_FALSE(trust.trusts("fec0::1%1"));
}
