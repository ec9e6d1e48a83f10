// webhook-bench-entity-deliveries: writes N pre-signed deliveries that all belong to E
// transactions, for the worker pool's hot-entity case (bench/run_workers.sh, bench/README.md).
// Same line format as webhook-bench-deliveries: "<hex HMAC-SHA256 of the body>\t<compact JSON>\n".
//
// Delivery i is a transaction.status_changed (the shape of tests/fixtures/conomy/05-…) of
// transaction i mod E, so the receiver's dispatcher must run the events of one transaction one at
// a time, in arrival order. Every delivery must still be a distinct event, and the dedup key of
// transaction.status_changed is (event, transaction id, status): the status is therefore a
// synthetic "STEP-<i>" (the receiver stores any status text; nothing else in the pipeline looks
// at it). Pure function of the arguments, like webhook-bench-deliveries; the key is a throw-away
// benchmark key given on the command line, never a real one.
#include <charconv>
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <optional>
#include <string>
#include <string_view>

#include "webhook/core/signature.hpp"

namespace {

constexpr const char* kUsage =
    "usage: webhook-bench-entity-deliveries --key KEY --count N --entities E [--out FILE]\n"
    "\n"
    "Writes N pre-signed transaction.status_changed deliveries of E transactions (delivery i\n"
    "belongs to transaction i mod E), each a distinct event (status STEP-<i>).\n"
    "  --key KEY     signing key (a fake benchmark key; the receiver must be given the same)\n"
    "  --count N     number of deliveries (1 - 10000000)\n"
    "  --entities E  number of transactions (1 - N)\n"
    "  --out FILE    output file (default: standard output)\n";

std::optional<std::uint64_t> parse_u64(std::string_view text) {
  std::uint64_t value = 0;
  const auto* end = text.data() + text.size();
  const auto [ptr, ec] = std::from_chars(text.data(), end, value);
  if (ec != std::errc{} || ptr != end || text.empty()) return std::nullopt;
  return value;
}

std::string body(std::uint64_t i, std::uint64_t entities) {
  char tx[32], step[32], when[32], amount[32];
  std::snprintf(tx, sizeof tx, "66a2b3c6%016llx", static_cast<unsigned long long>(i % entities));
  std::snprintf(step, sizeof step, "STEP-%09llu", static_cast<unsigned long long>(i));
  const std::uint64_t s = i % (28ULL * 86400ULL);
  std::snprintf(when, sizeof when, "2026-05-%02lluT%02llu:%02llu:%02lluZ",
                static_cast<unsigned long long>(2 + s / 86400ULL),
                static_cast<unsigned long long>((s / 3600ULL) % 24ULL),
                static_cast<unsigned long long>((s / 60ULL) % 60ULL),
                static_cast<unsigned long long>(s % 60ULL));
  const std::uint64_t cents = 100000ULL + ((i % entities) * 7919ULL) % 250000000ULL;
  std::snprintf(amount, sizeof amount, "%llu.%02llu",
                static_cast<unsigned long long>(cents / 100ULL),
                static_cast<unsigned long long>(cents % 100ULL));
  std::string b;
  b.reserve(600);
  b += R"({"eventType":"transaction.status_changed","timestamp":")";
  b += when;
  b += R"(","transaction":{"id":")";
  b += tx;
  b += R"(","externalId":"inv-hot-)";
  b += std::to_string(i % entities);
  b += R"(","status":")";
  b += step;
  b += R"(","totalAmount":")";
  b += amount;
  b +=
      R"(","currency":"USD","type":"TOPUP_ACCOUNT","parentPaymentId":null,"relatedPaymentId":null,)";
  b += R"("customerId":"66a2b3c5d5e6f708aaaa0002","settledAt":null,"expiredAt":null,)";
  b +=
      R"("unsettledAt":null,"unsettledReason":null,"settlementBatchId":null,"documentationStatus":null},)";
  b += R"("identity":{"id":"66a2b3c4d5e6f708aaaa0001","email":"treasury@merchant-demo.example"}})";
  return b;
}

}  // namespace

int main(int argc, char** argv) {
  std::string key, out_path;
  std::optional<std::uint64_t> count, entities;
  for (int a = 1; a < argc; ++a) {
    const std::string_view arg = argv[a];
    if (arg == "--help" || arg == "-h") {
      std::cout << kUsage;
      return 0;
    }
    if (a + 1 >= argc) {
      std::cerr << "webhook-bench-entity-deliveries: " << arg
                << " needs a value (or unknown option)\n"
                << kUsage;
      return 2;
    }
    const std::string_view value = argv[++a];
    if (arg == "--key") {
      key = value;
    } else if (arg == "--count") {
      count = parse_u64(value);
    } else if (arg == "--entities") {
      entities = parse_u64(value);
    } else if (arg == "--out") {
      out_path = value;
    } else {
      std::cerr << "webhook-bench-entity-deliveries: unknown option " << arg << "\n" << kUsage;
      return 2;
    }
  }
  if (key.empty() || !count || !entities || *count < 1 || *count > 10000000ULL || *entities < 1 ||
      *entities > *count) {
    std::cerr << "webhook-bench-entity-deliveries: --key, --count (1-10000000) and --entities "
                 "(1-count) are required\n"
              << kUsage;
    return 2;
  }

  std::ofstream file;
  if (!out_path.empty()) {
    file.open(out_path, std::ios::binary | std::ios::trunc);
    if (!file) {
      std::cerr << "webhook-bench-entity-deliveries: cannot write " << out_path << "\n";
      return 1;
    }
  }
  std::ostream& out = out_path.empty() ? std::cout : file;
  std::string line;
  for (std::uint64_t i = 0; i < *count; ++i) {
    const std::string b = body(i, *entities);
    line.clear();
    line += webhook::core::sign_header(key, b);
    line += '\t';
    line += b;
    line += '\n';
    out.write(line.data(), static_cast<std::streamsize>(line.size()));
  }
  out.flush();
  if (!out) {
    std::cerr << "webhook-bench-entity-deliveries: write failed\n";
    return 1;
  }
  std::cerr << "webhook-bench-entity-deliveries: wrote " << *count << " deliveries of " << *entities
            << " transactions\n";
  return 0;
}
