// http/proxy_trust: the input is one entry per line, then (after a line "--") peer, X-Real-IP and
// X-Forwarded-For. The constructor accepts a list exactly when every entry is_valid_entry();
// a trusted peer's answer is the peer or an address taken from the headers.
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "fuzz_support.hpp"
#include "webhook/http/proxy_trust.hpp"

using webhook::fuzz::check;
using webhook::http::ProxyTrust;

namespace {

std::vector<std::string> lines(std::string_view text) {
  std::vector<std::string> out;
  while (!text.empty()) {
    const auto end = text.find('\n');
    out.emplace_back(text.substr(0, end));
    text = end == std::string_view::npos ? std::string_view{} : text.substr(end + 1);
  }
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text = webhook::fuzz::as_text(data, size);
  const auto split = text.find("\n--\n");
  std::vector<std::string> entries = lines(text.substr(0, split));
  std::vector<std::string> request =
      split == std::string_view::npos ? entries : lines(text.substr(split + 4));
  request.resize(3);

  bool all_valid = true;
  for (const auto& entry : entries) all_valid = all_valid && ProxyTrust::is_valid_entry(entry);
  std::optional<ProxyTrust> trust;
  try {
    trust.emplace(entries);
  } catch (const std::invalid_argument&) {
    check(!all_valid, "the constructor refuses only an entry is_valid_entry() refuses");
    return 0;
  }
  check(all_valid, "the constructor accepts only valid entries");
  for (const auto& entry : entries) {
    // A bare address trusts itself.
    if (entry.find('/') == std::string::npos)
      check(trust->trusts(entry), "an address trusts itself");
  }
  const std::string& peer = request[0];
  const std::string client = trust->client_address(peer, request[2], request[1]);
  check(client == peer || trust->trusts(peer), "an untrusted peer is its own client");
  return 0;
}
