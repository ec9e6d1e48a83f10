// webhook-bench-deliveries: writes N pre-signed webhook deliveries for the load generator
// (bench/wrk/deliveries.lua), one per line:
//
//   <hex HMAC-SHA256 of the body>\t<compact JSON body>\n
//
// Bodies have the shapes of the Conomy fixtures (tests/fixtures/conomy/05-status-changed-settled
// and 08-payment-settled, compacted): alternately transaction.status_changed and payment.settled,
// every one with its own transaction id, so every line is a distinct event for the receiver's
// dedup key. With --review-percent P, P of every 100 consecutive deliveries (spread out:
// delivery i when (i * 37) % 100 < P) are payment.requiresReview in the shape of fixture 06
// instead, each opening a review of its own transaction (bench/run_projections.sh); the others
// are unchanged. With --entities E (the worker pool's hot-entity case, bench/run_workers.sh) every
// delivery is instead a transaction.status_changed of transaction i mod E, so the dispatcher must
// run the events of one transaction one at a time; each is still a distinct event because its
// status, part of that event's dedup key, is a synthetic "STEP-<i>" (the receiver stores any
// status text). The output is a pure function of the arguments (no clock, no randomness), so two
// runs with the same arguments write the same bytes. The key is a throw-away benchmark key given
// on the command line; never pass a real one.
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
    "usage: webhook-bench-deliveries --key KEY --count N [--out FILE] [--first I]\n"
    "                                [--review-percent P | --entities E]\n"
    "\n"
    "Writes N pre-signed deliveries, one per line: <hex signature>\\t<compact JSON body>.\n"
    "  --key KEY    signing key (a fake benchmark key; the receiver must be given the same)\n"
    "  --count N    number of deliveries (1 - 100000000)\n"
    "  --out FILE   output file (default: standard output)\n"
    "  --first I    index of the first delivery (default 0); deliveries with different indexes\n"
    "               have different transaction ids\n"
    "  --review-percent P\n"
    "               P of every 100 deliveries are payment.requiresReview (0 - 100, default 0)\n"
    "  --entities E every delivery a transaction.status_changed of transaction i mod E\n"
    "               (1 - N; status STEP-<i>, so each is still a distinct event)\n";

std::optional<std::uint64_t> parse_u64(std::string_view text) {
  std::uint64_t value = 0;
  const auto* end = text.data() + text.size();
  const auto [ptr, ec] = std::from_chars(text.data(), end, value);
  if (ec != std::errc{} || ptr != end || text.empty()) return std::nullopt;
  return value;
}

// 24 lowercase hex digits, like the platform's ids: a fixed prefix and the index.
std::string object_id(std::string_view prefix8, std::uint64_t n) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.8s%016llx", prefix8.data(), static_cast<unsigned long long>(n));
  return buf;
}

// ISO-8601 UTC timestamp `seconds` after 2026-05-02T00:00:00Z (within one 28-day window, so the
// date arithmetic stays trivial and every timestamp is valid).
std::string timestamp(std::uint64_t seconds) {
  seconds %= 28ULL * 86400ULL;
  const auto day = 2 + seconds / 86400ULL;
  const auto h = (seconds / 3600ULL) % 24ULL;
  const auto m = (seconds / 60ULL) % 60ULL;
  const auto s = seconds % 60ULL;
  char buf[32];
  std::snprintf(buf, sizeof buf, "2026-05-%02lluT%02llu:%02llu:%02lluZ",
                static_cast<unsigned long long>(day), static_cast<unsigned long long>(h),
                static_cast<unsigned long long>(m), static_cast<unsigned long long>(s));
  return buf;
}

// A decimal amount with two places, derived from the index (varies the body length a little).
std::string amount(std::uint64_t i) {
  const std::uint64_t cents = 100000ULL + (i * 7919ULL) % 250000000ULL;
  char buf[32];
  std::snprintf(buf, sizeof buf, "%llu.%02llu", static_cast<unsigned long long>(cents / 100ULL),
                static_cast<unsigned long long>(cents % 100ULL));
  return buf;
}

// Delivery `i`: even = transaction.status_changed (as fixture 05), odd = payment.settled (as 08).
std::string body(std::uint64_t i) {
  constexpr std::string_view kStatuses[] = {"CAPTURED", "SETTLED", "RECEIVED", "FAILED"};
  constexpr std::string_view kCurrencies[] = {"ARS", "BRL", "MXN", "USD"};
  const bool payment = (i % 2) == 1;
  const std::string when = timestamp(i * 3);
  const std::string tx = object_id("66a2b3c4", i);
  const std::string customer = object_id("66a2b3c5", i % 5000);
  const std::string_view status = payment ? "SETTLED" : kStatuses[(i / 2) % 4];
  const std::string_view currency = kCurrencies[(i / 3) % 4];
  const bool settled = status == "SETTLED";

  std::string b;
  b.reserve(640);
  b += R"({"eventType":")";
  b += payment ? "payment.settled" : "transaction.status_changed";
  b += R"(","timestamp":")" + when + R"(","transaction":{"id":")" + tx;
  b += payment ? R"(","externalId":"vitawallet:dep-)" : R"(","externalId":"inv-)";
  b += std::to_string(100000 + i);
  b += R"(","status":")";
  b += status;
  b += R"(","totalAmount":")" + amount(i) + R"(","currency":")";
  b += currency;
  b += R"(","type":")";
  b += payment ? "LOCAL_DEPOSIT" : "TOPUP_ACCOUNT";
  b += R"(","parentPaymentId":null,"relatedPaymentId":null,"customerId":")" + customer;
  b += R"(","settledAt":)";
  b += settled ? "\"" + when + "\"" : std::string("null");
  b += R"(,"expiredAt":null,"unsettledAt":null,"unsettledReason":null,"settlementBatchId":)";
  b += settled ? "\"settlement-" + std::string(currency) + "-" +
                     std::to_string(1777740000 + i / 1000) + "\""
               : std::string("null");
  b += R"(,"documentationStatus":)";
  b += payment ? R"("APPROVED")" : "null";
  b +=
      R"(},"identity":{"id":"66a2b3c4d5e6f708aaaa0001","email":"treasury@merchant-demo.example"}})";
  return b;
}

// Delivery `i` as payment.requiresReview (fixture 06): the transaction is blocked for review.
std::string review_body(std::uint64_t i) {
  constexpr std::string_view kCurrencies[] = {"ARS", "BRL", "MXN", "USD"};
  std::string b;
  b.reserve(640);
  b += R"({"eventType":"payment.requiresReview","timestamp":")" + timestamp(i * 3);
  b += R"(","transaction":{"id":")" + object_id("66a2b3c4", i);
  b += R"(","externalId":"vitawallet:dep-)" + std::to_string(100000 + i);
  b += R"(","status":"REQUIRES_REVIEW","totalAmount":")" + amount(i) + R"(","currency":")";
  b += kCurrencies[(i / 3) % 4];
  b += R"(","type":"LOCAL_DEPOSIT","parentPaymentId":null,"relatedPaymentId":null,"customerId":")";
  b += object_id("66a2b3c5", i % 5000);
  b += R"(","settledAt":null,"expiredAt":null,"unsettledAt":null,"unsettledReason":null,)";
  b += R"("settlementBatchId":null,"documentationStatus":"PENDING_UPLOAD"},)";
  b += R"("identity":{"id":"66a2b3c4d5e6f708aaaa0001","email":"treasury@merchant-demo.example"}})";
  return b;
}

// Delivery `i` of the hot-entity case: a transaction.status_changed of transaction i mod E.
std::string entity_body(std::uint64_t i, std::uint64_t entities) {
  const std::uint64_t tx = i % entities;
  char step[32];
  std::snprintf(step, sizeof step, "STEP-%09llu", static_cast<unsigned long long>(i));
  std::string b;
  b.reserve(600);
  b += R"({"eventType":"transaction.status_changed","timestamp":")" + timestamp(i);
  b += R"(","transaction":{"id":")" + object_id("66a2b3c6", tx);
  b += R"(","externalId":"inv-hot-)" + std::to_string(tx);
  b += R"(","status":")";
  b += step;
  b += R"(","totalAmount":")" + amount(tx);
  b += R"(","currency":"USD","type":"TOPUP_ACCOUNT","parentPaymentId":null,)";
  b += R"("relatedPaymentId":null,"customerId":"66a2b3c5d5e6f708aaaa0002","settledAt":null,)";
  b += R"("expiredAt":null,"unsettledAt":null,"unsettledReason":null,"settlementBatchId":null,)";
  b += R"("documentationStatus":null},)";
  b += R"("identity":{"id":"66a2b3c4d5e6f708aaaa0001","email":"treasury@merchant-demo.example"}})";
  return b;
}

}  // namespace

int main(int argc, char** argv) {
  std::string key;
  std::optional<std::uint64_t> count;
  std::uint64_t first = 0;
  std::uint64_t review_percent = 0;
  std::optional<std::uint64_t> entities;
  std::string out_path;
  for (int a = 1; a < argc; ++a) {
    const std::string_view arg = argv[a];
    if (arg == "--help" || arg == "-h") {
      std::cout << kUsage;
      return 0;
    }
    if (a + 1 >= argc) {
      std::cerr << "webhook-bench-deliveries: " << arg << " needs a value (or unknown option)\n"
                << kUsage;
      return 2;
    }
    const std::string_view value = argv[++a];
    if (arg == "--key") {
      key = value;
    } else if (arg == "--count") {
      count = parse_u64(value);
      if (!count || *count < 1 || *count > 100000000ULL) {
        std::cerr << "webhook-bench-deliveries: --count must be 1 - 100000000\n";
        return 2;
      }
    } else if (arg == "--first") {
      const auto f = parse_u64(value);
      if (!f) {
        std::cerr << "webhook-bench-deliveries: --first must be a non-negative integer\n";
        return 2;
      }
      first = *f;
    } else if (arg == "--review-percent") {
      const auto p = parse_u64(value);
      if (!p || *p > 100) {
        std::cerr << "webhook-bench-deliveries: --review-percent must be 0 - 100\n";
        return 2;
      }
      review_percent = *p;
    } else if (arg == "--entities") {
      entities = parse_u64(value);
      if (!entities || *entities < 1) {
        std::cerr << "webhook-bench-deliveries: --entities must be a positive integer\n";
        return 2;
      }
    } else if (arg == "--out") {
      out_path = value;
    } else {
      std::cerr << "webhook-bench-deliveries: unknown option " << arg << "\n" << kUsage;
      return 2;
    }
  }
  if (key.empty() || !count) {
    std::cerr << "webhook-bench-deliveries: --key and --count are required\n" << kUsage;
    return 2;
  }
  if (entities && (*entities > *count || review_percent > 0)) {
    std::cerr
        << "webhook-bench-deliveries: --entities must be 1 - count, without --review-percent\n";
    return 2;
  }

  std::ofstream file;
  if (!out_path.empty()) {
    file.open(out_path, std::ios::binary | std::ios::trunc);
    if (!file) {
      std::cerr << "webhook-bench-deliveries: cannot write " << out_path << "\n";
      return 1;
    }
  }
  std::ostream& out = out_path.empty() ? std::cout : file;

  std::string line;
  std::uint64_t bytes = 0;
  std::uint64_t reviews = 0;
  for (std::uint64_t i = first; i < first + *count; ++i) {
    const bool review = (i * 37) % 100 < review_percent;
    const std::string b = entities ? entity_body(i, *entities) : review ? review_body(i) : body(i);
    reviews += review ? 1 : 0;
    line.clear();
    line += webhook::core::sign_header(key, b);
    line += '\t';
    line += b;
    line += '\n';
    out.write(line.data(), static_cast<std::streamsize>(line.size()));
    bytes += b.size();
  }
  out.flush();
  if (!out) {
    std::cerr << "webhook-bench-deliveries: write failed\n";
    return 1;
  }
  std::cerr << "webhook-bench-deliveries: wrote " << *count << " deliveries, mean body "
            << bytes / *count << " bytes";
  if (review_percent > 0) std::cerr << ", " << reviews << " payment.requiresReview";
  std::cerr << "\n";
  return 0;
}
