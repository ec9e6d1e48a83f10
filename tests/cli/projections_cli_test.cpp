// Tests `webhook-receiver payments show`, `reviews list|show`, `customers show` and `compare`
// (src/cli/payments.cpp, reviews.cpp, customers.cpp, compare.cpp) through their *_at entry
// points with a fixed now, against a database filled through the real write path
// (tests/support/projection_fixture.hpp).

#include <rapidjson/document.h>
#include <catch2/catch.hpp>

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "cli/commands.hpp"
#include "support/cli_run.hpp"
#include "support/projection_fixture.hpp"
#include "webhook/storage/database.hpp"

namespace {

using webhook::cli::ArgList;
using webhook::cli::Io;
using webhook::testing::conomy_example;
using webhook::testing::customer_body;
using webhook::testing::ProjectionFixture;
using webhook::testing::tx_body;
using Run = webhook::testing::CliRun;
using Command = int (*)(const ArgList&, Io, std::int64_t);

constexpr std::int64_t kHour = std::int64_t{3600} * 1000;
constexpr std::int64_t kNow = 1777896000000;   // 2026-05-04T12:00:00Z
constexpr std::int64_t kMay3 = 1777766400000;  // 2026-05-03T00:00:00Z

const std::string kParent = "66a2b3c4d5e6f70812345601";
const std::string kRefund = "66a2b3c4d5e6f70812345699";
const std::string kReviewed = "66a2b3c4d5e6f70812345602";
const std::string kCustomer = "66a2b3c4d5e6f70899990002";

Run run(Command command, const ArgList& args, std::int64_t now = kNow) {
  return webhook::testing::run_cli([&](Io io) { return command(args, io, now); });
}

// A command that reads no clock, as a Command (for the tables below) or run directly.
template <int (*F)(const ArgList&, Io)>
int clockless(const ArgList& args, Io io, std::int64_t /*now_ms*/) {
  return F(args, io);
}
Run run(int (*command)(const ArgList&, Io), const ArgList& args) {
  return webhook::testing::run_cli([&](Io io) { return command(args, io); });
}

// The value of the "name  value" line starting with `name` in a text block, spaces squeezed;
// "(missing)" when there is no such line.
std::string field(const std::string& text, const std::string& name) {
  std::istringstream lines(text);
  for (std::string line; std::getline(lines, line);) {
    if (line.rfind(name + " ", 0) != 0) continue;
    std::istringstream words(line.substr(name.size()));
    std::string value;
    for (std::string word; words >> word;) value += (value.empty() ? "" : " ") + word;
    return value;
  }
  return "(missing)";
}

// The table row whose first cells are `first` (spaces squeezed), or "(missing)".
std::string row(const std::string& text, const std::string& first) {
  std::istringstream lines(text);
  for (std::string line; std::getline(lines, line);) {
    std::istringstream words(line);
    std::string squeezed;
    for (std::string word; words >> word;) squeezed += (squeezed.empty() ? "" : " ") + word;
    if (squeezed.rfind(first, 0) == 0) return squeezed;
  }
  return "(missing)";
}

rapidjson::Document parse(const std::string& json) {
  rapidjson::Document doc;
  doc.Parse(json.c_str());
  REQUIRE_FALSE(doc.HasParseError());
  return doc;
}

std::size_t lines(const std::string& text) {
  return static_cast<std::size_t>(std::count(text.begin(), text.end(), '\n'));
}

// The operator's day: a settled parent with a refund child, reviews of several ages, a customer
// whose history has a stale entry and one without a timestamp.
struct Operations {
  ProjectionFixture f;
  std::int64_t fresh_opening = 0;

  Operations() {
    f.deliver("production", conomy_example("04-status-changed-captured.json"), 1777727112000);
    f.deliver("production", conomy_example("05-status-changed-settled.json"), 1777740001000);
    f.deliver("production", conomy_example("09-payment-refund-created.json"), 1777885242000);

    // 06 opened 2026-05-03T10:12:30Z: 25h 47m before now. Owes a notification (pending).
    f.deliver("production", conomy_example("06-payment-requires-review.json"), 1777803151000, true);
    // Opened 5h 30m before now; its notification was sent.
    fresh_opening = f.deliver(
        "production",
        tx_body("payment.requiresReview", "rv-new", "REQUIRES_REVIEW", "2026-05-04T06:30:00Z",
                R"(,"totalAmount":"90000","currency":"CLP","customerId":"cu-9",)"
                R"("documentationStatus":"PENDING_UPLOAD")"),
        kNow - 5 * kHour, true);
    REQUIRE(f.store.mark_notified("production", "rv-new", fresh_opening, kNow - 5 * kHour + 60));
    // Sandbox, opened 1h 30m before now, no notification target.
    f.deliver("sandbox",
              tx_body("payment.requiresReview", "rv-sb", "REQUIRES_REVIEW", "2026-05-04T10:30:00Z",
                      R"(,"totalAmount":"10.00","currency":"USD")"),
              kNow - kHour);
    // Opened and approved the day before.
    f.deliver(
        "production",
        tx_body("payment.requiresReview", "rv-closed", "REQUIRES_REVIEW", "2026-05-02T08:00:00Z"),
        kMay3 - 16 * kHour);
    f.deliver("production",
              tx_body("payment.reviewApproved", "rv-closed", "CAPTURED", "2026-05-02T09:00:00Z",
                      R"(,"documentationStatus":"APPROVED")"),
              kMay3 - 15 * kHour);

    f.deliver("production", conomy_example("10-customer-level-changed.json"), kMay3 + 14 * kHour);
    f.deliver("production", customer_body(kCustomer, "INACTIVE", 0, "2026-05-03T09:00:00Z"),
              kMay3 + 15 * kHour);
    f.deliver("production", customer_body(kCustomer, "STANDARD", 2, ""), kMay3 + 16 * kHour);
  }

  const std::string& db() const { return f.path; }
};

}  // namespace

// ---- payments show ----------------------------------------------------------------------------

TEST_CASE("payments show prints the latest status, amounts, refunds and history",
          "[cli][payments]") {
  Operations ops;

  const Run r = run(webhook::cli::cmd_payments, {"show", kParent, "--db", ops.db()});

  INFO(r.err);
  REQUIRE(r.code == 0);
  CHECK(r.err.empty());
  CHECK(r.out.rfind("payment " + kParent + " (source production)\n", 0) == 0);
  CHECK(field(r.out, "status") == "SETTLED since 2026-05-02T16:40:00.000Z (event 2)");
  CHECK(field(r.out, "type") == "TOPUP_ACCOUNT");
  CHECK(field(r.out, "amount") == "48000.00 ARS");
  CHECK(field(r.out, "external_id") == "inv-7781");
  CHECK(field(r.out, "customer") == "66a2b3c4d5e6f70899990001");
  CHECK(field(r.out, "settlement_batch") == "settlement-ARS-1777740000");
  CHECK(field(r.out, "settled_at") == "2026-05-02T16:40:00Z");
  CHECK(field(r.out, "expired_at") == "-");
  CHECK(field(r.out, "captured") == "2026-05-02T13:05:11.000Z");
  CHECK(field(r.out, "refunds") == "1");
  CHECK(field(r.out, "parent") == "(missing)");
  CHECK(r.out.find("\nrefunds:\nTRANSACTION") != std::string::npos);
  CHECK(row(r.out, kRefund) ==
        kRefund + " RECEIVED 1500.00 ARS REFUND refund-inv-7781-1 2026-05-04T09:00:42.000Z");
  CHECK(row(r.out, "2026-05-02T13:05:12.000Z") ==
        "2026-05-02T13:05:12.000Z 2026-05-02T13:05:11.000Z 1 transaction.status_changed "
        "CAPTURED applied webhook");
  CHECK(row(r.out, "2026-05-02T16:40:01.000Z") ==
        "2026-05-02T16:40:01.000Z 2026-05-02T16:40:00.000Z 2 transaction.status_changed "
        "SETTLED applied webhook");
}

TEST_CASE("payments show links a refund child to its parent", "[cli][payments]") {
  Operations ops;

  const Run r = run(webhook::cli::cmd_payments, {"show", kRefund, "--db", ops.db()});

  INFO(r.err);
  REQUIRE(r.code == 0);
  CHECK(field(r.out, "status") == "RECEIVED since 2026-05-04T09:00:41.000Z (event 3)");
  CHECK(field(r.out, "type") == "REFUND");
  CHECK(field(r.out, "parent") == kParent + " SETTLED 48000.00 ARS");
  CHECK(field(r.out, "refunds") == "0");
}

TEST_CASE("payments show --json keeps amounts and ids as strings and nests the links",
          "[cli][payments]") {
  Operations ops;

  const Run parent = run(webhook::cli::cmd_payments, {"show", kParent, "--json", "--db", ops.db()});
  REQUIRE(parent.code == 0);
  const auto doc = parse(parent.out);
  REQUIRE(doc.IsArray());
  REQUIRE(doc.Size() == 1);
  const auto& p = doc[0];
  CHECK(std::string(p["source"].GetString()) == "production");
  CHECK(std::string(p["status"].GetString()) == "SETTLED");
  CHECK(std::string(p["status_at"].GetString()) == "2026-05-02T16:40:00.000Z");
  CHECK(p["status_at_ms"].GetInt64() == 1777740000000);
  CHECK(std::string(p["total_amount"].GetString()) == "48000.00");
  CHECK(p["expired_at"].IsNull());
  CHECK(p["parent"].IsNull());
  REQUIRE(p["children"].Size() == 1);
  CHECK(std::string(p["children"][0]["transaction_id"].GetString()) == kRefund);
  CHECK(std::string(p["children"][0]["total_amount"].GetString()) == "1500.00");
  CHECK(p["companions"].Size() == 0);
  REQUIRE(p["history"].Size() == 2);
  CHECK(std::string(p["history"][0]["status"].GetString()) == "CAPTURED");
  CHECK(std::string(p["history"][0]["effect"].GetString()) == "applied");
  CHECK(std::string(p["history"][0]["origin"].GetString()) == "webhook");
  CHECK(std::string(p["status_origin"].GetString()) == "webhook");
  CHECK(std::string(p["history"][0]["occurred_at"].GetString()) == "2026-05-02T13:05:11.000Z");

  const Run child = run(webhook::cli::cmd_payments, {"show", kRefund, "--json", "--db", ops.db()});
  REQUIRE(child.code == 0);
  const auto c = parse(child.out);
  CHECK(std::string(c[0]["parent_payment_id"].GetString()) == kParent);
  CHECK(std::string(c[0]["parent"]["status"].GetString()) == "SETTLED");
}

TEST_CASE("payments show exits 1 with one line for an unknown id", "[cli][payments]") {
  Operations ops;

  const Run text = run(webhook::cli::cmd_payments, {"show", "nope", "--db", ops.db()});
  CHECK(text.code == 1);
  CHECK(text.out.empty());
  CHECK(text.err == "webhook-receiver payments: no payment 'nope'\n");

  const Run other_source =
      run(webhook::cli::cmd_payments, {"show", kParent, "--source", "sandbox", "--db", ops.db()});
  CHECK(other_source.code == 1);
  CHECK(other_source.err ==
        "webhook-receiver payments: no payment '" + kParent + "' in source 'sandbox'\n");

  const Run json = run(webhook::cli::cmd_payments, {"show", "nope", "--json", "--db", ops.db()});
  CHECK(json.code == 1);
  CHECK(json.out == "[]\n");
  CHECK(lines(json.err) == 1);
}

// ---- reviews list / show ----------------------------------------------------------------------

TEST_CASE("reviews list shows open reviews oldest first with their age flags", "[cli][reviews]") {
  Operations ops;

  const Run r = run(webhook::cli::cmd_reviews_at, {"list", "--db", ops.db()});

  INFO(r.err);
  REQUIRE(r.code == 0);
  CHECK(r.err.empty());
  CHECK(row(r.out, "SOURCE") ==
        "SOURCE TRANSACTION AMOUNT CUSTOMER DOCUMENTATION OPENED AGE FLAG STATE NOTIFIED");
  CHECK(lines(r.out) == 4);
  CHECK(row(r.out, "production " + kReviewed) ==
        "production " + kReviewed +
            " 2500000.00 ARS 66a2b3c4d5e6f70899990002 PENDING_UPLOAD 2026-05-03T10:12:30.000Z "
            "1d 1h over 24h open pending");
  CHECK(row(r.out, "production rv-new") ==
        "production rv-new 90000 CLP cu-9 PENDING_UPLOAD 2026-05-04T06:30:00.000Z 5h 30m "
        "over 4h open sent");
  CHECK(row(r.out, "sandbox rv-sb") ==
        "sandbox rv-sb 10.00 USD - - 2026-05-04T10:30:00.000Z 1h 30m - open skipped");
  // Oldest first.
  CHECK(r.out.find(kReviewed) < r.out.find("rv-new"));
  CHECK(r.out.find("rv-new") < r.out.find("rv-sb"));
}

TEST_CASE("reviews list filters by state, source, age and limit", "[cli][reviews]") {
  Operations ops;
  const auto list = [&](ArgList args) {
    args.insert(args.begin(), "list");
    args.insert(args.end(), {"--db", ops.db()});
    return run(webhook::cli::cmd_reviews_at, args);
  };

  const Run older = list({"--older-than", "4h"});
  CHECK(older.code == 0);
  CHECK(older.out.find(kReviewed) != std::string::npos);
  CHECK(older.out.find("rv-new") != std::string::npos);
  CHECK(older.out.find("rv-sb") == std::string::npos);
  const Run day = list({"--older-than", "1d"});
  CHECK(lines(day.out) == 2);
  CHECK(day.out.find(kReviewed) != std::string::npos);
  CHECK(list({"--older-than", "2d"}).out == "no matching reviews\n");

  const Run closed = list({"--state", "closed"});
  CHECK(lines(closed.out) == 2);
  CHECK(row(closed.out, "production rv-closed") ==
        "production rv-closed - - APPROVED 2026-05-02T08:00:00.000Z - - closed (approved) "
        "skipped");

  const Run all = list({"--state", "all"});
  CHECK(lines(all.out) == 5);
  CHECK(all.out.find("rv-sb") < all.out.find("rv-closed"));

  const Run sandbox = list({"--source", "sandbox"});
  CHECK(lines(sandbox.out) == 2);
  CHECK(sandbox.out.find("rv-sb") != std::string::npos);

  const Run limited = list({"--limit", "1"});
  CHECK(lines(limited.out) == 2);
  CHECK(limited.out.find(kReviewed) != std::string::npos);
  CHECK(limited.err == "showing 1 review (the limit); more may match: raise --limit\n");
}

TEST_CASE("reviews list --json gives ages, flags and the bound passed", "[cli][reviews]") {
  Operations ops;

  const Run r =
      run(webhook::cli::cmd_reviews_at, {"list", "--state", "all", "--json", "--db", ops.db()});

  REQUIRE(r.code == 0);
  const auto doc = parse(r.out);
  REQUIRE(doc.Size() == 4);
  const auto& oldest = doc[0];
  CHECK(std::string(oldest["transaction_id"].GetString()) == kReviewed);
  CHECK(std::string(oldest["state"].GetString()) == "open");
  CHECK(std::string(oldest["total_amount"].GetString()) == "2500000.00");
  CHECK(oldest["opened_at_ms"].GetInt64() == 1777803150000);
  CHECK(oldest["age_ms"].GetInt64() == kNow - 1777803150000);
  CHECK(std::string(oldest["flag"].GetString()) == "over 24h");
  CHECK(oldest["flag_after_ms"].GetInt64() == 86400000);
  CHECK(std::string(oldest["notify_state"].GetString()) == "pending");
  CHECK(oldest["outcome"].IsNull());
  CHECK(std::string(doc[1]["flag"].GetString()) == "over 4h");
  CHECK(std::string(doc[1]["notify_state"].GetString()) == "sent");
  CHECK(doc[2]["flag"].IsNull());
  const auto& closed = doc[3];
  CHECK(std::string(closed["state"].GetString()) == "closed");
  CHECK(std::string(closed["outcome"].GetString()) == "approved");
  CHECK(closed["age_ms"].IsNull());
  CHECK(closed["flag"].IsNull());
  CHECK(std::string(closed["closed_at"].GetString()) == "2026-05-02T09:00:00.000Z");
}

TEST_CASE("reviews list takes the flag bounds from the configuration", "[cli][reviews]") {
  Operations ops;
  const std::string config = ops.f.dir.file("config.json");
  std::ofstream(config) << R"({ "storage": { "sqlite_path": ")" << ops.db()
                        << R"(" }, "reviews": { "flag_after_ms": [3600000, 7200000] } })";

  const Run r = run(webhook::cli::cmd_reviews_at, {"list", "--config", config});

  INFO(r.err);
  REQUIRE(r.code == 0);
  CHECK(row(r.out, "production " + kReviewed).find(" over 2h open") != std::string::npos);
  CHECK(row(r.out, "production rv-new").find(" over 2h open") != std::string::npos);
  CHECK(row(r.out, "sandbox rv-sb").find(" 1h 30m over 1h open") != std::string::npos);
}

TEST_CASE("reviews show prints the review and the events that moved it", "[cli][reviews]") {
  Operations ops;

  const Run open = run(webhook::cli::cmd_reviews_at, {"show", kReviewed, "--db", ops.db()});
  INFO(open.err);
  REQUIRE(open.code == 0);
  CHECK(open.out.rfind("review of " + kReviewed + " (source production)\n", 0) == 0);
  CHECK(field(open.out, "state") == "open");
  CHECK(field(open.out, "cycle") == "1");
  CHECK(field(open.out, "amount") == "2500000.00 ARS");
  CHECK(field(open.out, "documentation") == "PENDING_UPLOAD");
  CHECK(field(open.out, "opened") == "2026-05-03T10:12:30.000Z, age 1d 1h, over 24h (event 4)");
  CHECK(field(open.out, "closed") == "-");
  CHECK(field(open.out, "notified") == "pending");
  CHECK(
      row(open.out, "2026-05-03T10:12:31.000Z") ==
      "2026-05-03T10:12:31.000Z 2026-05-03T10:12:30.000Z 4 payment.requiresReview opened webhook");

  const Run closed = run(webhook::cli::cmd_reviews_at,
                         {"show", "rv-closed", "--source", "production", "--db", ops.db()});
  REQUIRE(closed.code == 0);
  CHECK(field(closed.out, "state") == "closed (approved)");
  CHECK(field(closed.out, "closed") == "2026-05-02T09:00:00.000Z (event 8)");
  CHECK(
      row(closed.out, "2026-05-02T09:00:00.000Z") ==
      "2026-05-02T09:00:00.000Z 2026-05-02T09:00:00.000Z 8 payment.reviewApproved closed webhook");

  const Run json =
      run(webhook::cli::cmd_reviews_at, {"show", "rv-closed", "--json", "--db", ops.db()});
  REQUIRE(json.code == 0);
  const auto doc = parse(json.out);
  REQUIRE(doc.Size() == 1);
  CHECK(std::string(doc[0]["outcome"].GetString()) == "approved");
  CHECK(doc[0]["closed_event_id"].GetInt64() == 8);
  REQUIRE(doc[0]["history"].Size() == 2);
  CHECK(std::string(doc[0]["history"][0]["action"].GetString()) == "opened");
  CHECK(std::string(doc[0]["history"][1]["action"].GetString()) == "closed");

  const Run missing = run(webhook::cli::cmd_reviews_at, {"show", kParent, "--db", ops.db()});
  CHECK(missing.code == 1);
  CHECK(missing.err == "webhook-receiver reviews: no review '" + kParent + "'\n");
}

// ---- customers show ---------------------------------------------------------------------------

TEST_CASE("customers show prints the level, documentation and level history", "[cli][customers]") {
  Operations ops;

  const Run r = run(webhook::cli::cmd_customers, {"show", kCustomer, "--db", ops.db()});

  INFO(r.err);
  REQUIRE(r.code == 0);
  CHECK(r.out.rfind("customer " + kCustomer + " (source production)\n", 0) == 0);
  CHECK(field(r.out, "operation_level") == "STANDARD");
  CHECK(field(r.out, "documents_count") == "2");
  CHECK(field(r.out, "documented") == "yes");
  CHECK(field(r.out, "auto_created") == "yes");
  CHECK(field(r.out, "client") == "demo-client-ar");
  CHECK(field(r.out, "state_at") ==
        "(no timestamp) (event 11); latest event time 2026-05-03T13:58:02.000Z");
  CHECK(field(r.out, "first_seen") == "2026-05-03T14:00:00.000Z");
  CHECK(field(r.out, "last_seen") == "2026-05-03T16:00:00.000Z");
  CHECK(row(r.out, "2026-05-03T14:00:00.000Z") ==
        "2026-05-03T14:00:00.000Z 2026-05-03T13:58:02.000Z 9 customer.levelChanged BASIC 1 "
        "applied webhook");
  CHECK(row(r.out, "2026-05-03T15:00:00.000Z") ==
        "2026-05-03T15:00:00.000Z 2026-05-03T09:00:00.000Z 10 customer.levelChanged INACTIVE 0 "
        "stale webhook");
  CHECK(row(r.out, "2026-05-03T16:00:00.000Z") ==
        "2026-05-03T16:00:00.000Z (no timestamp) 11 customer.levelChanged STANDARD 2 applied "
        "webhook");

  const Run json =
      run(webhook::cli::cmd_customers, {"show", kCustomer, "--json", "--db", ops.db()});
  REQUIRE(json.code == 0);
  const auto doc = parse(json.out);
  REQUIRE(doc.Size() == 1);
  CHECK(std::string(doc[0]["operation_level"].GetString()) == "STANDARD");
  CHECK(doc[0]["documents_count"].GetInt64() == 2);
  CHECK(doc[0]["documented"].GetBool());
  CHECK(doc[0]["auto_created"].GetBool());
  REQUIRE(doc[0]["history"].Size() == 3);
  CHECK(std::string(doc[0]["history"][1]["effect"].GetString()) == "stale");
  CHECK(doc[0]["history"][2]["occurred_at"].IsNull());
  CHECK(doc[0]["history"][2]["occurred_at_ms"].IsNull());

  const Run missing = run(webhook::cli::cmd_customers,
                          {"show", kCustomer, "--source", "sandbox", "--json", "--db", ops.db()});
  CHECK(missing.code == 1);
  CHECK(missing.out == "[]\n");
  CHECK(missing.err ==
        "webhook-receiver customers: no customer '" + kCustomer + "' in source 'sandbox'\n");
}

// ---- compare ----------------------------------------------------------------------------------

namespace {

// Production and sandbox over one day: outcomes and latencies, and payments sharing externalIds
// (inv-1 agrees, inv-2 differs, inv-3 is production's only).
struct TwoSources {
  ProjectionFixture f;
  static constexpr std::int64_t kDayStart = kMay3;

  TwoSources() {
    const auto pay = [&](const std::string& source, const std::string& id,
                         const std::string& status, const std::string& external, std::int64_t at) {
      return f.deliver(
          source, tx_body("payment.settled", id, status, "", R"(,"externalId":")" + external + '"'),
          at);
    };
    f.finish(pay("production", "p-1", "SETTLED", "inv-1", kDayStart + kHour), "done", 1, 120);
    f.finish(pay("production", "p-2", "FAILED", "inv-2", kDayStart + 2 * kHour), "done", 2, 2500);
    f.finish(pay("production", "p-3", "SETTLED", "inv-3", kDayStart + 3 * kHour), "dead", 5, 0);
    f.finish(pay("sandbox", "s-1", "SETTLED", "inv-1", kDayStart + kHour), "done", 1, 40);
    f.finish(pay("sandbox", "s-2", "SETTLED", "inv-2", kDayStart + 2 * kHour), "unhandled", 1, 60);
    f.deliver("sandbox", customer_body("c-1", "BASIC", 1, ""), kDayStart + 4 * kHour);
  }
};

}  // namespace

TEST_CASE("compare shows two sources side by side and the payments whose status differs",
          "[cli][compare]") {
  TwoSources s;

  const Run r = run(webhook::cli::cmd_compare_at,
                    {"--since", "2026-05-03", "--until", "2026-05-04", "--db", s.f.path});

  INFO(r.err);
  REQUIRE(r.code == 0);
  CHECK(r.err.empty());
  CHECK(r.out.rfind("production (a) and sandbox (b), events received from "
                    "2026-05-03T00:00:00.000Z to 2026-05-04T00:00:00.000Z\n",
                    0) == 0);
  CHECK(row(r.out, "EVENT TYPE") ==
        "EVENT TYPE SOURCE EVENTS DONE UNHANDLED DEAD PENDING QUARANTINED RETRIED P50 P95 MAX");
  CHECK(row(r.out, "customer.levelChanged") ==
        "customer.levelChanged production 0 0 0 0 0 0 0 - - -");
  CHECK(row(r.out, "sandbox 1 0") == "sandbox 1 0 0 0 1 0 0 - - -");
  CHECK(row(r.out, "payment.settled") ==
        "payment.settled production 3 2 0 1 0 0 2 120ms 2.5s 2.5s");
  CHECK(row(r.out, "sandbox 2") == "sandbox 2 1 1 0 0 0 0 40ms 60ms 60ms");
  CHECK(row(r.out, "(all)") == "(all) production 3 2 0 1 0 0 2 120ms 2.5s 2.5s");
  CHECK(row(r.out, "sandbox 3") == "sandbox 3 1 1 0 1 0 0 40ms 60ms 60ms");
  CHECK(r.out.find("\npayments sharing an externalId: 2 externalIds, 1 agree, 1 differ\n") !=
        std::string::npos);
  CHECK(row(r.out, "EXTERNAL ID") == "EXTERNAL ID A TRANSACTION A STATUS B TRANSACTION B STATUS");
  CHECK(row(r.out, "inv-2") == "inv-2 p-2 FAILED s-2 SETTLED");
  CHECK(r.out.find("inv-1") == std::string::npos);
}

TEST_CASE("compare --json has per-type stats for both sources and the differences",
          "[cli][compare]") {
  TwoSources s;

  const Run r =
      run(webhook::cli::cmd_compare_at,
          {"--json", "--since", "2026-05-03T00:00:00Z", "--db", s.f.path}, kMay3 + 24 * kHour);

  REQUIRE(r.code == 0);
  const auto doc = parse(r.out);
  CHECK(std::string(doc["a"].GetString()) == "production");
  CHECK(std::string(doc["b"].GetString()) == "sandbox");
  CHECK(doc["since_ms"].GetInt64() == kMay3);
  CHECK(doc["until_ms"].GetInt64() == kMay3 + 24 * kHour);
  REQUIRE(doc["event_types"].Size() == 2);
  const auto& settled = doc["event_types"][1];
  CHECK(std::string(settled["event_type"].GetString()) == "payment.settled");
  CHECK(settled["a"]["received"].GetInt64() == 3);
  CHECK(settled["a"]["dead"].GetInt64() == 1);
  CHECK(settled["a"]["retried"].GetInt64() == 2);
  CHECK(settled["a"]["p50_ms"].GetInt64() == 120);
  CHECK(settled["a"]["p95_ms"].GetInt64() == 2500);
  CHECK(settled["b"]["unhandled"].GetInt64() == 1);
  CHECK(doc["event_types"][0]["a"]["p50_ms"].IsNull());
  CHECK(doc["total"]["b"]["pending"].GetInt64() == 1);
  const auto& payments = doc["payments"];
  CHECK(payments["shared_external_ids"].GetInt64() == 2);
  CHECK(payments["agreeing_external_ids"].GetInt64() == 1);
  CHECK(payments["differing_external_ids"].GetInt64() == 1);
  CHECK(payments["differing_pairs"].GetInt64() == 1);
  CHECK_FALSE(payments["differences_truncated"].GetBool());
  REQUIRE(payments["differences"].Size() == 1);
  const auto& d = payments["differences"][0];
  CHECK(std::string(d["external_id"].GetString()) == "inv-2");
  CHECK(std::string(d["a"]["transaction_id"].GetString()) == "p-2");
  CHECK(std::string(d["a"]["status"].GetString()) == "FAILED");
  CHECK(std::string(d["b"]["status"].GetString()) == "SETTLED");
}

TEST_CASE("compare defaults to the last 7 days and shows zeros for an unknown source",
          "[cli][compare]") {
  TwoSources s;

  // Now is 2026-05-09T12:00:00Z: the window starts 2026-05-02T12:00:00Z.
  const Run r = run(webhook::cli::cmd_compare_at, {"--b", "staging", "--db", s.f.path},
                    kMay3 + kHour * 24 * 6 + kHour * 12);

  INFO(r.err);
  REQUIRE(r.code == 0);
  CHECK(r.out.rfind("production (a) and staging (b), events received from "
                    "2026-05-02T12:00:00.000Z to 2026-05-09T12:00:00.000Z\n",
                    0) == 0);
  CHECK(row(r.out, "payment.settled") ==
        "payment.settled production 3 2 0 1 0 0 2 120ms 2.5s 2.5s");
  CHECK(row(r.out, "staging") == "staging 0 0 0 0 0 0 0 - - -");
  CHECK(r.out.find("payments sharing an externalId: 0 externalIds, 0 agree, 0 differ\n") !=
        std::string::npos);
  CHECK(r.out.find("customer.levelChanged") == std::string::npos);  // sandbox's only

  // Without --since, the window is the 7 days before --until.
  const Run until =
      run(webhook::cli::cmd_compare_at, {"--until", "2026-05-03T02:00:00Z", "--db", s.f.path},
          kNow + kHour * 24 * 30);
  REQUIRE(until.code == 0);
  CHECK(until.out.rfind("production (a) and sandbox (b), events received from "
                        "2026-04-26T02:00:00.000Z to 2026-05-03T02:00:00.000Z\n",
                        0) == 0);
  CHECK(row(until.out, "(all)") == "(all) production 1 1 0 0 0 0 0 120ms 120ms 120ms");
}

// ---- what every command shares ----------------------------------------------------------------

// ---- summary ----------------------------------------------------------------------------------

TEST_CASE("summary counts open reviews per source and bound, as text and as the admin document",
          "[cli][summary]") {
  Operations ops;

  const Run text = run(webhook::cli::cmd_summary_at, {"--db", ops.db()});
  INFO(text.err);
  REQUIRE(text.code == 0);
  CHECK(row(text.out, "SOURCE") ==
        "SOURCE PENDING PROCESSING OLDEST DEAD AWAITING SETTLEMENT OVERDUE OPEN REVIEWS OLDEST "
        "REVIEW OVER 4h OVER 24h");
  // production: the 25h 47m old review and the 5h 30m one; sandbox: the 1h 30m one.
  CHECK(row(text.out, "production").find(" 2 1d 1h 2 1") != std::string::npos);
  CHECK(row(text.out, "sandbox").find(" 1 1h 30m 0 0") != std::string::npos);

  const Run json = run(webhook::cli::cmd_summary_at, {"--json", "--db", ops.db()});
  REQUIRE(json.code == 0);
  const rapidjson::Document doc = parse(json.out);
  CHECK(doc["now_ms"].GetInt64() == kNow);
  REQUIRE(doc["sources"].Size() == 2);
  const auto& production = doc["sources"][0];
  CHECK(std::string(production["source"].GetString()) == "production");
  CHECK(production["reviews"]["open"].GetInt64() == 2);
  REQUIRE(production["reviews"]["over"].Size() == 2);
  CHECK(std::string(production["reviews"]["over"][0]["label"].GetString()) == "4h");
  CHECK(production["reviews"]["over"][0]["count"].GetInt64() == 2);
  CHECK(production["reviews"]["over"][1]["count"].GetInt64() == 1);
  CHECK(production["reviews"]["oldest_open_age_ms"].GetInt64() > 25 * kHour);
  CHECK(production["settlement"]["overdue_after_ms"].GetInt64() > 0);
  CHECK(std::string(doc["sources"][1]["source"].GetString()) == "sandbox");
  CHECK(doc["sources"][1]["reviews"]["over"][0]["count"].GetInt64() == 0);
}

TEST_CASE("projection commands reject bad usage with exit 2 and one line naming the flag",
          "[cli][projections]") {
  Operations ops;
  const std::string& db = ops.db();
  struct Case {
    Command command;
    ArgList args;
    std::string mentions;
  };
  const std::vector<Case> cases = {
      {webhook::cli::cmd_reviews_at, {"list", "--state", "stale", "--db", db}, "--state"},
      {webhook::cli::cmd_reviews_at, {"list", "--older-than", "5x", "--db", db}, "--older-than"},
      {webhook::cli::cmd_reviews_at, {"list", "--limit", "0", "--db", db}, "--limit"},
      {webhook::cli::cmd_reviews_at, {"list", "extra", "--db", db}, "'extra'"},
      {webhook::cli::cmd_reviews_at, {"show", "--db", db}, "transaction id"},
      {webhook::cli::cmd_reviews_at, {}, "action"},
      {webhook::cli::cmd_reviews_at, {"approve", "--db", db}, "'approve'"},
      {clockless<webhook::cli::cmd_payments>, {"show", "a", "b", "--db", db}, "transaction id"},
      {clockless<webhook::cli::cmd_payments>,
       {"show", "a", "--source", "", "--db", db},
       "--source"},
      {clockless<webhook::cli::cmd_payments>,
       {"show", "a", "--db", db, "--config", "x.json"},
       "--config"},
      {clockless<webhook::cli::cmd_payments>, {"list", "--db", db}, "'list'"},
      {clockless<webhook::cli::cmd_customers>, {"show", "c", "--bogus", "--db", db}, "--bogus"},
      {clockless<webhook::cli::cmd_customers>, {"show", "c", "--db"}, "--db"},
      {webhook::cli::cmd_compare_at,
       {"--since", "2026-05-05", "--until", "2026-05-04", "--db", db},
       "--since"},
      {webhook::cli::cmd_compare_at, {"--since", "yesterday", "--db", db}, "--since"},
      {webhook::cli::cmd_compare_at, {"--a", "sandbox", "--db", db}, "--a"},
      {webhook::cli::cmd_compare_at, {"--limit", "-1", "--db", db}, "--limit"},
      {webhook::cli::cmd_compare_at, {"production", "--db", db}, "'production'"},
  };
  for (const Case& c : cases) {
    const Run r = run(c.command, c.args);
    INFO(r.err);
    CHECK(r.code == 2);
    CHECK(r.out.empty());
    CHECK(r.err.rfind("webhook-receiver ", 0) == 0);
    CHECK(r.err.find(c.mentions) != std::string::npos);
    CHECK(lines(r.err) == 1);
  }
}

TEST_CASE("projection commands refuse a missing database and create nothing",
          "[cli][projections]") {
  webhook::testing::TempDir dir;
  const std::string path = dir.file("typo.db");
  for (const auto& [command, args] : std::vector<std::pair<Command, ArgList>>{
           {clockless<webhook::cli::cmd_payments>, {"show", "x", "--db", path}},
           {webhook::cli::cmd_reviews_at, {"list", "--db", path}},
           {clockless<webhook::cli::cmd_customers>, {"show", "x", "--db", path}},
           {webhook::cli::cmd_compare_at, {"--db", path}}}) {
    const Run r = run(command, args);
    CHECK(r.code == 1);
    CHECK(r.err.find("no database at " + path) != std::string::npos);
    CHECK(lines(r.err) == 1);
  }
  CHECK_FALSE(std::filesystem::exists(path));
}

TEST_CASE("projection commands tell to migrate a database without the projection tables",
          "[cli][projections]") {
  webhook::testing::TempDir dir;
  const std::string path = dir.file("old.db");
  {
    webhook::storage::Database db = webhook::storage::Database::open(path);
    std::vector<webhook::storage::Migration> inbox_only;
    for (const auto& m : webhook::storage::embedded_migrations()) {
      if (m.version < 3) inbox_only.push_back(m);
    }
    db.migrate(inbox_only);
  }
  for (const auto& [command, args] : std::vector<std::pair<Command, ArgList>>{
           {clockless<webhook::cli::cmd_payments>, {"show", "x", "--db", path}},
           {webhook::cli::cmd_reviews_at, {"list", "--db", path}},
           {clockless<webhook::cli::cmd_customers>, {"show", "x", "--json", "--db", path}},
           {webhook::cli::cmd_compare_at, {"--db", path}}}) {
    const Run r = run(command, args);
    INFO(r.err);
    CHECK(r.code == 1);
    CHECK(r.out.empty());
    CHECK(r.err.find("has no projection tables") != std::string::npos);
    CHECK(r.err.find("run webhook-receiver migrate") != std::string::npos);
    CHECK(lines(r.err) == 1);
  }
}

TEST_CASE("projection commands answer --help", "[cli][projections]") {
  const std::vector<std::pair<Command, ArgList>> helps = {
      {clockless<webhook::cli::cmd_payments>, {"--help"}},
      {clockless<webhook::cli::cmd_payments>, {"show", "--help"}},
      {webhook::cli::cmd_reviews_at, {"--help"}},
      {webhook::cli::cmd_reviews_at, {"list", "--help"}},
      {webhook::cli::cmd_reviews_at, {"show", "--help"}},
      {clockless<webhook::cli::cmd_customers>, {"--help"}},
      {clockless<webhook::cli::cmd_customers>, {"show", "--help"}},
      {webhook::cli::cmd_compare_at, {"--help"}},
  };
  for (const auto& [command, args] : helps) {
    const Run r = run(command, args);
    CHECK(r.code == 0);
    CHECK(r.out.rfind("usage: webhook-receiver ", 0) == 0);
    CHECK(r.err.empty());
  }
  CHECK(run(webhook::cli::cmd_reviews_at, {"list", "--help"}).out.find("--older-than") !=
        std::string::npos);
  CHECK(run(webhook::cli::cmd_compare_at, {"--help"}).out.find("p50") != std::string::npos);
}

TEST_CASE("webhook-receiver dispatches the projection commands", "[cli][projections]") {
  Operations ops;
  std::istringstream in;
  std::ostringstream out;
  std::ostringstream err;

  CHECK(webhook::cli::run({"payments", "show", kRefund, "--db", ops.db()}, Io{in, out, err}) == 0);
  CHECK(out.str().rfind("payment " + kRefund, 0) == 0);
  std::ostringstream reviews;
  CHECK(webhook::cli::run({"reviews", "list", "--state", "closed", "--db", ops.db()},
                          Io{in, reviews, err}) == 0);
  CHECK(reviews.str().find("rv-closed") != std::string::npos);
  std::ostringstream help;
  CHECK(webhook::cli::run({"--help"}, Io{in, help, err}) == 0);
  for (const char* command : {"payments show", "reviews list|show", "customers show", "compare"}) {
    CHECK(help.str().find(command) != std::string::npos);
  }
}
