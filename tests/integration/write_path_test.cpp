// Issue 11, the write path, against the real binary and only what it shows outside: HTTP, the
// SQLite file, the processes it runs. A kill -9 while committed events wait for the worker pool,
// a projection that fails for one event of a burst, and a write lock held by another process.
#include <catch2/catch.hpp>

#include <signal.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "integration/http_client.hpp"
#include "integration/inbox_rows.hpp"
#include "integration/process.hpp"
#include "integration/served_binary.hpp"
#include "integration/signed_delivery.hpp"
#include "support/temp_dir.hpp"
#include "support/wait.hpp"

using namespace webhook::testing;
using std::chrono::milliseconds;
using std::chrono::seconds;
using SteadyClock = std::chrono::steady_clock;

namespace {

const std::string kKey = "whsec_test_only_write_path_0001";

// The config of these tests: a production source, no payload log, `rest` spliced at the top
// level (workers, handlers, routes) and `storage` into the "storage" object.
std::string config_for(const TempDir& dir, const std::string& rest,
                       const std::string& storage = {}) {
  return R"({
    "server": {"listen": "127.0.0.1:0", "io_threads": 2},
    "storage": {"sqlite_path": ")" +
         dir.file("inbox.db") + "\"" + (storage.empty() ? "" : ", " + storage) + R"(},
    "payload_log": {"path": ""},
    "logging": {"level": "warn"}, )" +
         rest + "\n  }";
}

std::string status_change(const std::string& tx, const std::string& status) {
  return R"({"eventType":"transaction.status_changed","transaction":{"id":")" + tx +
         R"(","status":")" + status + R"(","totalAmount":"100.00","currency":"ARS"}})";
}

HttpReply deliver(HttpClient& client, const std::string& body) {
  return client.post("/webhooks", body, signed_with(kKey, body));
}

long long event_id_of(const HttpReply& reply) {
  const std::string id = json_field(reply.body, "eventId");
  return id.empty() ? -1 : std::stoll(id);
}

// The lines of the file at `path` (none when it is missing).
std::vector<std::string> lines_in(const std::string& path) {
  std::vector<std::string> out;
  std::ifstream in(path);
  for (std::string line; std::getline(in, line);) out.push_back(line);
  return out;
}

// How many rows of `rows` hold exactly `body`.
std::size_t rows_with_body(const std::vector<InboxRow>& rows, const std::string& body) {
  return static_cast<std::size_t>(
      std::count_if(rows.begin(), rows.end(), [&](const InboxRow& r) { return r.body == body; }));
}

// The absolute path of `program` found on PATH, or "".
std::string on_path(const std::string& program) {
  const char* path = std::getenv("PATH");
  std::istringstream dirs(path == nullptr ? "/usr/bin:/bin" : path);
  for (std::string d; std::getline(dirs, d, ':');) {
    const std::filesystem::path candidate = std::filesystem::path(d) / program;
    if (::access(candidate.c_str(), X_OK) == 0) return candidate.string();
  }
  return {};
}

// Whether another connection holds the write lock of `db_path` right now: BEGIN IMMEDIATE with
// no busy wait fails with SQLITE_BUSY.
bool write_lock_taken(const std::string& db_path) {
  sqlite3* db = nullptr;
  bool busy = false;
  if (sqlite3_open_v2(db_path.c_str(), &db, SQLITE_OPEN_READWRITE, nullptr) == SQLITE_OK) {
    sqlite3_busy_timeout(db, 0);
    const int rc = sqlite3_exec(db, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr);
    busy = rc == SQLITE_BUSY;
    if (rc == SQLITE_OK) sqlite3_exec(db, "ROLLBACK", nullptr, nullptr, nullptr);
  }
  sqlite3_close(db);
  return busy;
}

}  // namespace

TEST_CASE(
    "write_path, issue 11: kill -9 between the commit of a batch and the dispatch of its events "
    "loses "
    "nothing",
    "[integration][crash][worker][write_path]") {
  TempDir dir;
  // The handler marks itself running (so the test knows when orphans of the killed receiver are
  // done), takes 50 ms, and appends "<event id> <entity id>" to handled.txt.
  const std::string handled = dir.file("handled.txt");
  const std::string running = dir.file("running");
  std::filesystem::create_directories(running);
  const std::string script = dir.file("slow-handler.sh");
  std::ofstream(script) << "#!/bin/sh\nmark=" << running
                        << "/$$\n: > \"$mark\"\ncat > /dev/null\nsleep 0.05\n"
                           "echo \"$WEBHOOK_EVENT_ID $WEBHOOK_ENTITY_ID\" >> "
                        << handled << "\nrm -f \"$mark\"\n";
  ::chmod(script.c_str(), 0700);
  Served receiver(dir,
                  config_for(dir, R"("workers": {"threads": 4},
    "handlers": {"slow": {"type": "exec", "command": ["/bin/sh", ")" +
                                      script + R"("]}},
    "routes": [{"match": "*", "handlers": ["slow"]}])"),
                  kKey);

  // 200 deliveries for 40 entities over 8 connections; each connection owns 5 entities and sends
  // their transitions in turn, so per entity the sending order is the id order.
  constexpr int kConnections = 8;
  constexpr int kPerConnection = 25;
  constexpr std::size_t kKillAfter = 150;
  std::mutex mutex;
  std::vector<std::pair<long long, std::string>> acked;  // (event id, body)
  std::atomic<int> refused{0};
  std::vector<std::thread> clients;
  for (int c = 0; c < kConnections; ++c) {
    clients.emplace_back([&, c] {
      HttpClient client(receiver.port(), seconds(10));
      for (int i = 0; i < kPerConnection; ++i) {
        const std::string body =
            status_change("wp-" + std::to_string(c * 5 + i % 5), "S" + std::to_string(i / 5));
        const HttpReply reply = deliver(client, body);
        if (reply.status == 0) return;  // the receiver is gone
        if (reply.status != 200) {
          ++refused;
          continue;
        }
        std::lock_guard lock(mutex);
        acked.emplace_back(event_id_of(reply), body);
      }
    });
  }
  // Most of the burst is committed and acknowledged long before the pool can handle it: kill.
  const bool reached = wait_until(
      [&] {
        std::lock_guard lock(mutex);
        return acked.size() >= kKillAfter;
      },
      seconds(60));
  receiver.process().signal(SIGKILL);
  REQUIRE(receiver.process().wait(seconds(10)) == 128 + SIGKILL);
  for (auto& t : clients) t.join();
  REQUIRE(reached);
  CHECK(refused == 0);

  // Handlers already started keep running after the kill (their own process group); the
  // crash boundary in handled.txt is where the last of them has finished.
  // (Checked twice: a handler spawned just before the kill may not have marked itself yet.)
  auto none_running = [&] { return std::filesystem::is_empty(running); };
  REQUIRE(wait_until(
      [&] {
        if (!none_running()) return false;
        std::this_thread::sleep_for(milliseconds(300));
        return none_running();
      },
      seconds(20)));
  const std::size_t before_restart = lines_in(handled).size();
  INFO("acknowledged " << acked.size() << ", handled before the restart " << before_restart);
  CHECK(before_restart < acked.size());  // the kill really left committed events unhandled

  // Restarted on the same database, it finishes everything that was committed.
  receiver.start();
  const std::string db = dir.file("inbox.db");
  CHECK(wait_until(
      [&] {
        return db_value(db, "SELECT count(*) FROM events WHERE status <> 'done'") == "0" &&
               std::stoll("0" + db_value(db, "SELECT count(*) FROM events")) >=
                   static_cast<long long>(acked.size());
      },
      seconds(120)));
  receiver.process().signal(SIGTERM);
  CHECK(receiver.process().wait(seconds(30)) == 0);

  // Every acknowledged delivery is stored exactly once, under the id it was acknowledged with.
  const std::vector<InboxRow> rows = read_inbox(db);
  std::map<long long, const InboxRow*> by_id;
  for (const auto& r : rows) by_id[r.id] = &r;
  std::size_t missing = 0, repeated = 0;
  for (const auto& [id, body] : acked) {
    const auto it = by_id.find(id);
    if (it == by_id.end() || it->second->body != body) ++missing;
    if (rows_with_body(rows, body) != 1) ++repeated;
  }
  CHECK(missing == 0);
  CHECK(repeated == 0);

  // Handled: every acknowledged event at least once; at most once per run of the receiver, so
  // at most twice in all; per entity in id order within each run, and a run after the crash
  // starts again only with events the first run had handled (a re-run), never an earlier one.
  const std::vector<std::string> lines = lines_in(handled);
  std::map<long long, int> runs_before, runs_after;
  std::map<std::string, std::vector<long long>> before, after;
  for (std::size_t i = 0; i < lines.size(); ++i) {
    std::istringstream line(lines[i]);
    long long id = 0;
    std::string entity;
    REQUIRE(static_cast<bool>(line >> id >> entity));
    (i < before_restart ? runs_before : runs_after)[id]++;
    (i < before_restart ? before : after)[entity].push_back(id);
  }
  std::size_t never_handled = 0, handled_twice_in_a_run = 0, rerun = 0;
  for (const auto& [id, body] : acked) {
    never_handled += runs_before.count(id) + runs_after.count(id) == 0 ? 1u : 0u;
  }
  for (const auto& [id, n] : runs_before) handled_twice_in_a_run += n > 1 ? 1u : 0u;
  for (const auto& [id, n] : runs_after) {
    handled_twice_in_a_run += n > 1 ? 1u : 0u;
    rerun += runs_before.count(id);
  }
  CHECK(never_handled == 0);
  CHECK(handled_twice_in_a_run == 0);
  std::cout << "write_path kill -9 test: " << acked.size() << " acknowledged, " << before_restart
            << " handled before the restart, " << rerun << " run again after it\n";
  for (const auto& [entity, ids] : after) {
    INFO("entity " << entity);
    CHECK(std::is_sorted(ids.begin(), ids.end()));
    const auto& earlier = before[entity];
    CHECK(std::is_sorted(earlier.begin(), earlier.end()));
    const long long last_before = earlier.empty() ? 0 : earlier.back();
    for (long long id : ids) {
      if (id <= last_before) CHECK(std::count(earlier.begin(), earlier.end(), id) == 1);
    }
  }
}

TEST_CASE(
    "write_path, issue 11: a projection that throws for one event does not roll back the other "
    "events "
    "of its batch",
    "[integration][projections][write_path]") {
  TempDir dir;
  const std::string db = dir.file("inbox.db");
  // The schema first, then a trigger that makes the payments projection fail for exactly one
  // transaction: its history row (the first thing the projection writes) is refused.
  {
    Process migrate({WEBHOOK_RECEIVER_BIN, "migrate", "--db", db}, {}, dir.file("migrate.log"));
    REQUIRE(migrate.wait(seconds(30)) == 0);
    sqlite3* conn = nullptr;
    REQUIRE(sqlite3_open_v2(db.c_str(), &conn, SQLITE_OPEN_READWRITE, nullptr) == SQLITE_OK);
    const int rc = sqlite3_exec(conn,
                                "CREATE TRIGGER poison BEFORE INSERT ON payment_history "
                                "WHEN NEW.transaction_id = 'POISON-1' "
                                "BEGIN SELECT RAISE(ABORT, 'poisoned for the test'); END",
                                nullptr, nullptr, nullptr);
    sqlite3_close(conn);
    REQUIRE(rc == SQLITE_OK);
  }
  Served receiver(dir, config_for(dir, R"("workers": {"threads": 2},
    "routes": [{"match": "*", "handlers": ["payments"],
                "retry": {"initial_ms": 50, "max_ms": 100, "max_attempts": 3}}])"),
                  kKey);

  // 40 payments at once over 8 connections, so that they share commits; one is poisoned.
  constexpr int kPayments = 40;
  constexpr int kConnections = 8;
  auto tx_of = [](int i) { return i == 20 ? std::string("POISON-1") : "PAY-" + std::to_string(i); };
  std::atomic<int> not_ok{0};
  std::vector<std::thread> senders;
  for (int c = 0; c < kConnections; ++c) {
    senders.emplace_back([&, c] {
      HttpClient client(receiver.port());
      for (int i = c; i < kPayments; i += kConnections) {
        if (deliver(client, status_change(tx_of(i), "CAPTURED")).status != 200) ++not_ok;
      }
    });
  }
  for (auto& t : senders) t.join();
  REQUIRE(not_ok == 0);

  // Every other event is done and projected; the poisoned one has been retried.
  auto poisoned_value = [&](const std::string& column) {
    return db_value(db, "SELECT " + column + " FROM events WHERE entity_id = 'POISON-1'");
  };
  CHECK(wait_until(
      [&] {
        return db_value(db, "SELECT count(*) FROM events WHERE status = 'done'") ==
                   std::to_string(kPayments - 1) &&
               std::stoll("0" + poisoned_value("attempts")) >= 2 &&
               (poisoned_value("status") == "dead" || poisoned_value("status") == "pending");
      },
      seconds(60)));
  CHECK(db_value(db, "SELECT count(*) FROM events") == std::to_string(kPayments));
  CHECK(db_value(db,
                 "SELECT count(*) FROM payments WHERE transaction_id LIKE 'PAY-%' AND status "
                 "= 'CAPTURED'") == std::to_string(kPayments - 1));
  CHECK(db_value(db, "SELECT count(*) FROM payment_history") == std::to_string(kPayments - 1));
  CHECK(db_value(db, "SELECT count(*) FROM payments WHERE transaction_id = 'POISON-1'") == "0");
  CHECK(poisoned_value("status") != "done");
  CHECK(std::stoll("0" + poisoned_value("attempts")) >= 2);
  CHECK_THAT(poisoned_value("last_error"), Catch::Contains("poisoned for the test"));
  receiver.process().signal(SIGTERM);
  CHECK(receiver.process().wait(seconds(30)) == 0);
}

TEST_CASE(
    "write_path, issue 11: a write lock held by another process yields 503 and Retry-After, never "
    "a "
    "hang, and recovers",
    "[integration][storage][write_path]") {
  const std::string shell = on_path("sqlite3");
  INFO("this test runs Debian's sqlite3 shell (package sqlite3; make deps installs it)");
  REQUIRE(!shell.empty());
  TempDir dir;
  const std::string db = dir.file("inbox.db");
  constexpr long long kAckBudgetMs = 400;
  constexpr auto kHold = milliseconds(2500);
  constexpr long long kSlackMs = 2000;  // a loaded machine, a sanitizer build
  Served receiver(dir,
                  config_for(dir, R"("workers": {"threads": 2})",
                             R"("ack_budget_ms": 400, "busy_timeout_ms": 5000)"),
                  kKey);
  HttpClient client(receiver.port());
  std::vector<std::string> sent;  // every distinct body, in order
  auto fresh = [&] {
    sent.push_back(status_change("lock-main-" + std::to_string(sent.size()), "CAPTURED"));
    return sent.back();
  };
  REQUIRE(deliver(client, fresh()).status == 200);

  // Another process takes the write lock, and prints once it holds it.
  Process holder({shell, "-bail", db}, {}, dir.file("sqlite3.out"), std::nullopt, true);
  // (It waits its turn if the receiver is writing, and stops at the first error.)
  REQUIRE(holder.write_stdin(".timeout 5000\nBEGIN IMMEDIATE;\nSELECT 'locked';\n"));
  REQUIRE(wait_for_file_line(dir.file("sqlite3.out"), seconds(10)) == "locked");
  REQUIRE(write_lock_taken(db));
  const auto locked_at = SteadyClock::now();

  // While it holds the lock, two connections keep delivering; each answer is timed.
  struct Answer {
    std::string body;
    unsigned status = 0;
    long long elapsed_ms = 0;
    std::string retry_after, error;
  };
  std::mutex mutex;
  std::vector<Answer> answers;
  std::vector<std::thread> senders;
  for (int c = 0; c < 2; ++c) {
    senders.emplace_back([&, c] {
      HttpClient sender(receiver.port(), seconds(15));
      for (int i = 0; SteadyClock::now() < locked_at + kHold; ++i) {
        Answer a;
        a.body = status_change("lock-" + std::to_string(c) + "-" + std::to_string(i), "CAPTURED");
        const auto started = SteadyClock::now();
        const HttpReply reply = deliver(sender, a.body);
        a.elapsed_ms =
            std::chrono::duration_cast<milliseconds>(SteadyClock::now() - started).count();
        a.status = reply.status;
        a.retry_after = reply.header("Retry-After");
        a.error = json_field(reply.body, "error");
        std::lock_guard lock(mutex);
        answers.push_back(std::move(a));
      }
    });
  }
  // Liveness does not depend on the database.
  HttpClient probe(receiver.port(), seconds(15));
  const auto health_started = SteadyClock::now();
  CHECK(probe.get("/healthz").status == 200);
  CHECK(SteadyClock::now() - health_started < milliseconds(kSlackMs));
  for (auto& t : senders) t.join();
  CHECK(write_lock_taken(db));  // held the whole time

  // The other process commits and leaves; stopped by its PID if it does not.
  holder.write_stdin("COMMIT;\n");
  holder.close_stdin();
  const auto released_at = SteadyClock::now();
  CHECK(holder.wait(seconds(10)) == 0);

  // Nothing hung: every answer came within the budget plus slack, and each was a 503 with a
  // Retry-After and a JSON reason (nothing can commit while the lock is held).
  REQUIRE(answers.size() >= 4);
  for (const Answer& a : answers) {
    INFO(a.body << " -> " << a.status << " after " << a.elapsed_ms << " ms");
    CHECK(a.elapsed_ms <= kAckBudgetMs + kSlackMs);
    CHECK(a.status == 503);
    CHECK(!a.retry_after.empty());
    CHECK(a.retry_after.find_first_not_of("0123456789") == std::string::npos);
    CHECK(!a.error.empty());
  }

  // It recovers: new deliveries are acknowledged within a couple of seconds, /readyz is 200.
  CHECK(wait_until([&] { return deliver(client, fresh()).status == 200; }, seconds(10)));
  const auto recovered_ms =
      std::chrono::duration_cast<milliseconds>(SteadyClock::now() - released_at).count();
  std::cout << "write_path lock test: " << answers.size() << " answers while locked, first "
            << "acknowledgement " << recovered_ms << " ms after the lock was released\n";
  CHECK(recovered_ms <= 2000 + kSlackMs);
  CHECK(deliver(client, fresh()).status == 200);
  CHECK(wait_until([&] { return probe.get("/readyz").status == 200; }, seconds(15)));

  // Every 503-answered delivery re-sent now is taken (new, or already stored after the lock
  // was released) and stored exactly once.
  for (const Answer& a : answers) {
    const HttpReply again = deliver(client, a.body);
    INFO(a.body << " -> " << again.status << " " << again.body);
    CHECK(again.status == 200);
    const std::string status = json_field(again.body, "status");
    CHECK((status == "accepted" || status == "duplicate"));
    sent.push_back(a.body);
  }
  const std::vector<InboxRow> rows = read_inbox(db);
  std::size_t not_once = 0;
  for (const std::string& body : sent) not_once += rows_with_body(rows, body) == 1 ? 0u : 1u;
  CHECK(not_once == 0);
  CHECK(rows.size() == sent.size());
  receiver.process().signal(SIGTERM);
  CHECK(receiver.process().wait(seconds(30)) == 0);
}
