// webhook-bench-reconcile: what one reconciliation pass costs for N payments awaiting
// settlement (issue 14's closing figure; bench/run_reconcile.sh, bench/README.md).
// Per round, on a fresh SQLite file and a FakeConomy (tests/http/fake_conomy.hpp, a real HTTP
// server on 127.0.0.1:0, in this process):
//  1. N payments CAPTURED two days ago are applied through storage::ProjectionStore, as the
//     payments handler would; the fake holds each, --settled-percent of them SETTLED.
//  2. Baseline: one ConomyApiClient GETs every payment, one after the other (the API calls
//     alone: token, HTTP, JSON).
//  3. Pass: a fresh client and app::Reconciler::run_pass() as the `reconcile` command runs it
//     (no pace, no budget limit): choose, GET, judge, record each finding in its own durable
//     transaction through SqliteInbox::write_batch.
//  4. Second pass: the same again; the settled ones are no longer awaiting settlement, the rest
//     agree with the API: nothing is found.
// Prints one markdown table row per round and checks the counts (exit 1 when a count is off).
// Traffic goes only to 127.0.0.1.
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "http/fake_conomy.hpp"
#include "webhook/app/reconciler.hpp"
#include "webhook/core/clock.hpp"
#include "webhook/log/log.hpp"
#include "webhook/storage/database.hpp"
#include "webhook/storage/projection_store.hpp"
#include "webhook/storage/sqlite_inbox.hpp"

namespace {

using Clock = std::chrono::steady_clock;
constexpr std::int64_t kDay = 86'400'000;
const std::string kSecret = "clientsecret_bench_only_0123456789";
const std::string kApiKey = "apikey_bench_only_0123456789";

struct Settings {
  int payments = 1000;
  int settled_percent = 10;
  int rounds = 3;
  std::string work = "/tmp";
};

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

std::string payment_id(int i) {
  char id[32];
  std::snprintf(id, sizeof id, "65f1a0c2b7e4d9a1%08d", i);
  return id;
}

webhook::http::ConomyApiOptions client_options(const webhook::testing::FakeConomy& fake) {
  webhook::http::ConomyApiOptions o;
  o.source = "production";
  o.base_url = fake.base_url();
  o.client_id = "client-test-0001";
  o.client_secret = {kSecret, ""};
  o.api_key = {kApiKey, ""};
  return o;
}

bool run_round(const Settings& s, int round) {
  const webhook::core::SystemClock clock;
  const std::string path = s.work + "/reconcile-round-" + std::to_string(round) + ".db";
  std::filesystem::remove(path);
  std::filesystem::remove(path + "-wal");
  std::filesystem::remove(path + "-shm");
  webhook::testing::FakeConomyOptions fake_options;
  fake_options.secrets = {kSecret};
  fake_options.api_key = kApiKey;
  fake_options.token_lifetime_s = 3600;
  webhook::testing::FakeConomy fake(fake_options, clock);

  const std::int64_t captured = clock.now_ms() - 2 * kDay;
  int settled = 0;
  {
    webhook::storage::Database db =
        webhook::storage::Database::open(path, webhook::storage::Database::Mode::read_write_create);
    db.migrate(webhook::storage::embedded_migrations());
    db.exec("PRAGMA synchronous=OFF");  // generation speed only
    webhook::storage::ProjectionStore store(std::move(db));
    for (int i = 0; i < s.payments; ++i) {
      const std::string id = payment_id(i);
      webhook::core::StoredEvent e;
      e.id = 1'000'000 + i;  // applied without an events row; clear of the pass's event ids
      e.key.source = "production";
      e.event_type = "payment.captured";
      e.received_at_ms = captured + i;
      e.scheme = "header";
      webhook::core::PaymentFacts f;
      f.transaction_id = id;
      f.status = "CAPTURED";
      f.occurred_at_ms = captured + i;
      store.apply_payment(e, f);
      const bool settles = (i * 100) / s.payments < s.settled_percent;
      settled += settles ? 1 : 0;
      fake.put_payment(id, R"({"id":")" + id + R"(","status":")" +
                               (settles ? "SETTLED" : "CAPTURED") + R"(","externalId":"order-)" +
                               std::to_string(i) +
                               R"(","totalAmount":"2000.00","currency":"ARS"})");
    }
  }

  // Baseline: the GETs alone.
  std::int64_t baseline_gets = 0;
  double baseline_s = 0;
  {
    webhook::http::ConomyApiClient client(client_options(fake), clock);
    const auto start = Clock::now();
    for (int i = 0; i < s.payments; ++i) {
      baseline_gets += client.get_payment(payment_id(i)).attempts;
    }
    baseline_s = seconds_since(start);
  }

  // The pass, as the `reconcile` command runs it.
  webhook::http::ConomyApiClient client(client_options(fake), clock);
  webhook::storage::SqliteInbox inbox(
      webhook::storage::Database::open(path, webhook::storage::Database::Mode::read_write));
  webhook::app::ReconcilerOptions options;
  options.settlement_overdue_ms = kDay;
  options.recheck_after_ms = 0;
  options.max_requests_per_pass = 1'000'000;
  webhook::app::Reconciler reconciler(
      {{"production", &client}}, inbox.database(),
      [&inbox](webhook::core::WorkItem item) -> std::optional<webhook::core::WorkRecorded> {
        auto written =
            inbox.write_batch({}, std::span<const webhook::core::WorkItem>(&item, 1), true);
        if (!written.ok) return std::nullopt;
        return written.work.front();
      },
      clock, options);
  const std::size_t auths_before = fake.auth_requests();
  auto start = Clock::now();
  const webhook::app::PassReport first = reconciler.run_pass();
  const double first_s = seconds_since(start);
  const std::size_t first_auths = fake.auth_requests() - auths_before;
  int found = 0;
  int applied = 0;
  for (const auto& c : first.checks) {
    found += c.finding == webhook::core::Finding::missed_event ? 1 : 0;
    applied += c.applied ? 1 : 0;
  }
  start = Clock::now();
  const webhook::app::PassReport second = reconciler.run_pass();
  const double second_s = seconds_since(start);

  std::printf(
      "| %d | %d | %lld | %.3f | %.0f | %zu | %lld | %zu | %.3f | %.2f | %d | %d | %zu | %lld "
      "| %.3f | %d |\n",
      round, s.payments, static_cast<long long>(baseline_gets), baseline_s,
      static_cast<double>(baseline_gets) / baseline_s, first.checks.size(),
      static_cast<long long>(first.api_requests), first_auths, first_s, first_s / baseline_s, found,
      applied, second.checks.size(), static_cast<long long>(second.api_requests), second_s,
      second.anything_found() ? 1 : 0);
  const bool ok = static_cast<int>(first.checks.size()) == s.payments &&
                  first.api_requests == s.payments && found == settled && applied == settled &&
                  static_cast<int>(second.checks.size()) == s.payments - settled &&
                  !second.anything_found();
  if (!ok) std::cerr << "webhook-bench-reconcile: round " << round << ": a count is off\n";
  std::filesystem::remove(path);
  std::filesystem::remove(path + "-wal");
  std::filesystem::remove(path + "-shm");
  return ok;
}

int parse_int(std::string_view flag, const char* text, int lo, int hi) {
  const int v = std::atoi(text);
  if (v < lo || v > hi) {
    std::cerr << "webhook-bench-reconcile: " << flag << " must be " << lo << ".." << hi << "\n";
    std::exit(2);
  }
  return v;
}

}  // namespace

int main(int argc, char** argv) {
  Settings s;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string_view flag = argv[i];
    if (flag == "--payments") {
      s.payments = parse_int(flag, argv[i + 1], 1, 1'000'000);
    } else if (flag == "--settled-percent") {
      s.settled_percent = parse_int(flag, argv[i + 1], 0, 100);
    } else if (flag == "--rounds") {
      s.rounds = parse_int(flag, argv[i + 1], 1, 100);
    } else if (flag == "--work") {
      s.work = argv[i + 1];
    } else {
      std::cerr << "usage: webhook-bench-reconcile [--payments N] [--settled-percent P] "
                   "[--rounds R] [--work DIR]\n";
      return 2;
    }
  }
  webhook::log::configure(webhook::log::Format::text, webhook::log::Level::error);
  std::printf(
      "| round | payments awaiting | baseline GETs | baseline s | GETs/s | pass checks | pass "
      "GETs | POST /auth | pass s | pass / baseline | missed found | applied | 2nd pass checks "
      "| 2nd pass GETs | 2nd pass s | 2nd pass found |\n");
  std::printf("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n");
  bool ok = true;
  for (int r = 1; r <= s.rounds; ++r) ok = run_round(s, r) && ok;
  return ok ? 0 : 1;
}
