#pragma once
// PostgresServer: a real PostgreSQL 15 (Debian's postgresql-15) for tests (issue 13).
//  1. start(): initdb into a fresh directory under /tmp as an unprivileged user (PostgreSQL
//     refuses root: as root the system user `webhook-test` is used, created with useradd if
//     missing; otherwise the current user), superuser `postgres` with kPassword over TCP
//     (scram-sha-256), trust over the Unix socket, which lives in that directory.
//  2. postgres listens on 127.0.0.1 on a free port (bound at port 0 and released; a start that
//     loses the port to someone else is retried on another), fsync off (tests need no crash
//     safety of the machine, only of the process); ready once PQping (what pg_isready does)
//     answers.
//  3. stop(): SIGINT (fast shutdown) to its PID, up to 10 s, then SIGKILL; the directory is
//     removed. Every step is bounded in time; a failure throws with the tail of the server log.
// Two ways to get one: the CTest fixture (tests/support/postgres_fixture.cpp, FIXTURES_SETUP and
// FIXTURES_CLEANUP of every [postgres] test) starts one server for the run and saves its state
// to a file named by WEBHOOK_TEST_POSTGRES_STATE; test_postgres() attaches to it. Run directly
// (no such variable), a test binary starts its own server on first use, stopped at exit.
// Tests isolate themselves by each creating a database of their own (create_database()).

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

namespace webhook::testing {

class PostgresServer {
 public:
  // The superuser's password: a fake, obviously a test value.
  static constexpr const char* kPassword = "fake-postgres-password-for-tests";
  static constexpr const char* kUnprivilegedUser = "webhook-test";

  // Starts a server (see above). `die_with_parent`: the server gets SIGKILL when the thread
  // that started it exits (a crashed test binary leaves no server behind); the CTest fixture
  // passes false since its start command exits at once. Throws std::runtime_error.
  static std::unique_ptr<PostgresServer> start(bool die_with_parent = true);
  // A server started by another process (the fixture), from its state file; not stopped by the
  // returned object. Throws std::runtime_error when the file is missing or the server is gone.
  static std::unique_ptr<PostgresServer> attach(const std::string& state_file);

  ~PostgresServer();  // stop() when this object started it
  PostgresServer(const PostgresServer&) = delete;
  PostgresServer& operator=(const PostgresServer&) = delete;

  // Writes what attach() reads: port, PID, directory, one per line.
  void save_state(const std::string& state_file) const;
  // This object no longer stops the server (the fixture's start command, which exits).
  void disown() { owned_ = false; }
  // Stops the server by PID (SIGINT, up to 10 s, SIGKILL) and removes its directory. Idempotent.
  void stop();

  // postgresql://postgres:<kPassword>@127.0.0.1:<port>/<database>
  std::string url(const std::string& database) const;
  // Creates a database with a name unique to this process and call, and returns its URL.
  std::string create_database();

  std::uint16_t port() const { return port_; }
  pid_t pid() const { return pid_; }
  const std::string& directory() const { return root_; }

 private:
  PostgresServer() = default;
  std::string root_;  // the temp directory: data/, the socket, postgres.log
  std::uint16_t port_ = 0;
  pid_t pid_ = -1;
  bool owned_ = false;     // started (and so stopped) by this object
  bool is_child_ = false;  // our child: reaped with waitpid; else polled through /proc
};

// The server for this test process: the fixture's when WEBHOOK_TEST_POSTGRES_STATE is set,
// else one started on first use and stopped at exit. Throws std::runtime_error.
PostgresServer& test_postgres();

}  // namespace webhook::testing
