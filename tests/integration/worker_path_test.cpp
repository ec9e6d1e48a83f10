// The worker pool end to end: deliveries over HTTP, handlers run by real processes (exec), the
// outcome read back from the real SQLite file.
#include <sys/stat.h>
#include <catch2/catch.hpp>

#include <atomic>
#include <fstream>
#include <map>
#include <sstream>
#include <thread>

#include "cli/commands.hpp"
#include "integration/http_client.hpp"
#include "integration/receiver_fixture.hpp"
#include "support/wait.hpp"
#include "webhook/core/signature.hpp"

using namespace webhook::testing;

namespace {

// A handler script: records "<event id> <entity id> <event type>" and exits `exit_code`
// until the file `<dir>/fixed` exists (if exit_code != 0).
std::string write_script(const TempDir& dir, const std::string& name, const std::string& body) {
  const std::string path = dir.file(name);
  std::ofstream(path) << "#!/bin/sh\ncat > /dev/null\n" << body;
  ::chmod(path.c_str(), 0700);
  return path;
}

std::string handlers_config(const std::string& record, const std::string& flaky,
                            const std::string& broken) {
  return R"("workers": {"threads": 3, "retry": {"initial_ms": 100, "max_ms": 200,
                                                 "max_attempts": 3}},
            "handlers": {"record": {"type": "exec", "command": [")" +
         record + R"("]},
                         "flaky":  {"type": "exec", "command": [")" +
         flaky + R"("]},
                         "broken": {"type": "exec", "command": [")" +
         broken + R"("]}},
            "routes": [{"match": "payment.requiresReview", "handlers": ["flaky"]},
                       {"match": "payment.reviewApproved", "handlers": ["broken"]},
                       {"match": "payment.*", "handlers": ["record"]},
                       {"match": "transaction.status_changed", "handlers": ["record"]}])";
}

// The fixture with three exec handlers whose scripts live in their own temp dir.
struct WorkerReceiver {
  TempDir scripts;
  std::string out = scripts.file("handled.txt");
  std::string record = write_script(
      scripts, "record.sh",
      "echo \"$WEBHOOK_EVENT_ID $WEBHOOK_ENTITY_ID $WEBHOOK_EVENT_TYPE\" >> " + out + "\n");
  std::string flaky = write_script(scripts, "flaky.sh",
                                   "f=" + scripts.file("attempts-") +
                                       "$WEBHOOK_EVENT_ID\n"
                                       "n=$(cat \"$f\" 2>/dev/null || echo 0); n=$((n+1)); "
                                       "echo $n > \"$f\"\n"
                                       "[ \"$n\" -ge 2 ] && exit 0\n"
                                       "echo \"not yet: attempt $n\" >&2; exit 3\n");
  std::string broken = write_script(
      scripts, "broken.sh",
      "[ -e " + scripts.file("fixed") + " ] && exit 0\necho \"downstream is down\" >&2; exit 1\n");
  Receiver receiver{{}, {}, handlers_config(record, flaky, broken)};

  HttpReply send(HttpClient& client, const std::string& body) {
    return client.post("/webhooks", body,
                       {{"X-Webhook-Signature", webhook::core::sign_header(kKey, body)}});
  }
  std::string handled() const { return read_file(out); }
};

std::string status_change(const std::string& tx, const std::string& status) {
  return R"({"eventType":"transaction.status_changed","transaction":{"id":")" + tx +
         R"(","status":")" + status + R"("}})";
}

}  // namespace

TEST_CASE("accepted events run their route and end done, unrouted types end unhandled",
          "[integration][worker]") {
  WorkerReceiver w;
  HttpClient client(w.receiver.port());
  for (const char* name : {"04-status-changed-captured.json", "08-payment-settled.json",
                           "10-customer-level-changed.json", "12-unknown-future-event.json"}) {
    const std::string body = *webhook::core::compact_json(example(name), false);
    REQUIRE(w.send(client, body).status == 200);
  }
  REQUIRE(wait_until([&] { return w.receiver.count("status IN ('done', 'unhandled')") == 4; }));
  CHECK(w.receiver.count("status = 'done'") == 3);
  // The customer event has no route: unhandled, never an error. The invented future type
  // payment.chargebackOpened is taken by the payment.* prefix route like any payment event.
  CHECK(w.receiver.count("status = 'unhandled' AND event_type = 'customer.levelChanged'") == 1);
  CHECK(w.receiver.count("status = 'done' AND event_type = 'payment.chargebackOpened'") == 1);
  const std::string handled = w.handled();
  CHECK(handled.find("66a2b3c4d5e6f70812345601 transaction.status_changed") != std::string::npos);
  CHECK(handled.find("66a2b3c4d5e6f70812345602 payment.settled") != std::string::npos);
}

TEST_CASE("a handler that fails once is retried after the backoff and ends done",
          "[integration][worker]") {
  WorkerReceiver w;
  HttpClient client(w.receiver.port());
  const std::string body =
      *webhook::core::compact_json(example("06-payment-requires-review.json"), false);
  REQUIRE(w.send(client, body).status == 200);
  REQUIRE(wait_until([&] { return w.receiver.count("status = 'done'") == 1; }));
  CHECK(w.receiver.count("attempts = 2 AND last_error LIKE '%not yet: attempt 1%'") == 1);
}

TEST_CASE("a handler that keeps failing is dead-lettered and events retry redrives it",
          "[integration][worker]") {
  WorkerReceiver w;
  HttpClient client(w.receiver.port());
  const std::string body =
      *webhook::core::compact_json(example("07-payment-review-approved.json"), false);
  REQUIRE(w.send(client, body).status == 200);
  REQUIRE(wait_until([&] { return w.receiver.count("status = 'dead'") == 1; }));
  CHECK(w.receiver.count("attempts = 3 AND last_error LIKE '%downstream is down%'") == 1);

  // The operator fixes the downstream and redrives the dead letters from the command line.
  std::ofstream(w.scripts.file("fixed")) << "ok\n";
  std::istringstream in;
  std::ostringstream out, err;
  const int code = webhook::cli::run(
      {"events", "retry", "--dead", "--db", w.receiver.config().storage.sqlite_path},
      {in, out, err});
  CHECK(code == 0);
  INFO(out.str() << err.str());
  REQUIRE(wait_until([&] { return w.receiver.count("status = 'done'") == 1; }));
}

TEST_CASE("events of one entity are handled one at a time in arrival order",
          "[integration][worker]") {
  WorkerReceiver w;
  constexpr int kEntities = 5;
  const char* const kStatuses[] = {"CREATED", "AUTHORIZED", "CAPTURED", "RECEIVED", "SETTLED"};
  // Four connections send every entity's transitions concurrently; a status is sent only after
  // the previous one of the same entity was acknowledged, so arrival order is known per entity.
  // Catch2's assertions are not thread-safe: the senders count answers, the test checks them.
  std::atomic<int> not_ok{0};
  std::vector<std::thread> senders;
  for (int c = 0; c < 4; ++c) {
    senders.emplace_back([&, c] {
      HttpClient client(w.receiver.port());
      for (int e = c; e < kEntities; e += 4) {
        for (const char* status : kStatuses) {
          const auto reply = w.send(client, status_change("tx-order-" + std::to_string(e), status));
          if (reply.status != 200) ++not_ok;
        }
      }
    });
  }
  for (auto& t : senders) t.join();
  CHECK(not_ok == 0);
  REQUIRE(wait_until([&] { return w.receiver.count("status = 'done'") == kEntities * 5; },
                     std::chrono::seconds(30)));
  // The handled order per entity is the id (arrival) order.
  std::map<std::string, std::vector<long long>> per_entity;
  std::istringstream lines(w.handled());
  long long id = 0;
  std::string entity, type;
  while (lines >> id >> entity >> type) per_entity[entity].push_back(id);
  REQUIRE(per_entity.size() == kEntities);
  for (const auto& [name, ids] : per_entity) {
    INFO(name);
    CHECK(ids.size() == 5);
    CHECK(std::is_sorted(ids.begin(), ids.end()));
  }
}
