// Tests src/storage/database_files.hpp through Database and SqliteInbox (issue 10): a database
// whose -wal was deleted or replaced under it, and files the process cannot write.

#include <fcntl.h>
#include <grp.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "storage_test_support.hpp"
#include "webhook/storage/database.hpp"
#include "webhook/storage/sqlite_inbox.hpp"
#include "webhook/storage/statement.hpp"

namespace {

using webhook::core::Delivery;
using webhook::core::StoreResult;
using webhook::storage::Database;
using webhook::storage::SqliteInbox;
using webhook::storage::StorageError;
using webhook::test::make_delivery;
using webhook::test::TempDir;

constexpr uid_t kNobody = 65534;

// Runs `body` in a forked child that is not root (as uid/gid 65534 when the tests run as root,
// as CI does: root may write any file) and returns what it returned, or "child failed: ...".
std::string run_unprivileged(const std::function<std::string()>& body) {
  int out[2];
  REQUIRE(::pipe(out) == 0);
  const pid_t pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    ::close(out[0]);
    std::string result;
    if (::geteuid() == 0 &&
        (::setgroups(0, nullptr) != 0 || ::setgid(kNobody) != 0 || ::setuid(kNobody) != 0)) {
      result = "child failed: cannot drop privileges";
    } else {
      result = body();
    }
    const ssize_t ignored = ::write(out[1], result.data(), result.size());
    (void)ignored;
    ::_exit(0);
  }
  ::close(out[1]);
  std::string result;
  char buffer[4096];
  for (ssize_t n; (n = ::read(out[0], buffer, sizeof buffer)) > 0;) {
    result.append(buffer, static_cast<std::size_t>(n));
  }
  ::close(out[0]);
  int status = 0;
  ::waitpid(pid, &status, 0);
  if (!WIFEXITED(status)) return "child failed: status " + std::to_string(status);
  return result;
}

// Hands `path` to the unprivileged user (when root) with `mode`.
void give_away(const std::string& path, mode_t mode) {
  if (::geteuid() == 0) REQUIRE(::chown(path.c_str(), kNobody, kNobody) == 0);
  REQUIRE(::chmod(path.c_str(), mode) == 0);
}

// "opened", or the message the open threw.
std::string try_open(const std::string& path) {
  try {
    Database db = Database::open(path);
    return "opened";
  } catch (const StorageError& e) {
    return e.what();
  }
}

// A fresh migrated database at `path`, closed again (its -wal and -shm gone with the last close).
void create_database(const std::string& path) { Database db = webhook::test::open_migrated(path); }

long long count_events(Database& db) {
  webhook::storage::Statement count(db, "SELECT count(*) FROM events");
  webhook::storage::Statement::Use use(count);
  use.step();
  return use.column_int(0);
}

}  // namespace

TEST_CASE("a connection's files stay intact while other connections come and go",
          "[database][files]") {
  TempDir dir;
  const std::string path = dir.file("inbox.db");
  Database db = webhook::test::open_migrated(path);
  CHECK(db.files_problem().empty());
  { Database other = Database::open(path, Database::Mode::read_write); }
  CHECK(db.files_problem().empty());
  db.exec("PRAGMA wal_checkpoint(TRUNCATE)");
  CHECK(db.files_problem().empty());
}

TEST_CASE("issue 10: a deleted or replaced -wal or database is named by files_problem",
          "[database][files]") {
  TempDir dir;
  const std::string path = dir.file("inbox.db");
  Database db = webhook::test::open_migrated(path);

  SECTION("deleted -wal") {
    std::filesystem::remove(path + "-wal");
    CHECK(db.files_problem() == path + "-wal was deleted");
  }
  SECTION("replaced -wal") {
    std::filesystem::rename(path + "-wal", dir.file("moved-wal"));
    std::filesystem::copy_file(dir.file("moved-wal"), path + "-wal");
    CHECK(db.files_problem() == path + "-wal was replaced by another file");
  }
  SECTION("replaced database") {
    std::filesystem::rename(path, dir.file("moved.db"));
    std::filesystem::copy_file(dir.file("moved.db"), path);
    CHECK(db.files_problem() == path + " was deleted or replaced by another file");
  }
}

TEST_CASE(
    "issue 10: after its -wal is deleted the inbox refuses every batch and saves what it "
    "acknowledged into the database file",
    "[inbox][sqlite][files]") {
  TempDir dir;
  const std::string path = dir.file("inbox.db");
  SqliteInbox inbox(webhook::test::open_migrated(path));
  REQUIRE(inbox.store_batch(std::vector<Delivery>{make_delivery("tx-1")}).at(0).kind ==
          StoreResult::Kind::inserted);
  CHECK(inbox.fault().empty());

  std::filesystem::remove(path + "-wal");
  const auto refused = inbox.store_batch(std::vector<Delivery>{make_delivery("tx-2")});
  CHECK(refused.at(0).kind == StoreResult::Kind::failed);
  CHECK(refused.at(0).error == "database files replaced");
  CHECK(inbox.fault().find(path + "-wal was deleted") != std::string::npos);
  // It stays refused: the process's other connections still write the deleted file.
  CHECK(inbox.store_batch(std::vector<Delivery>{make_delivery("tx-3")}).at(0).kind ==
        StoreResult::Kind::failed);
  CHECK(inbox.check_files() == inbox.fault());

  // The database file alone (what a restart after kill -9 finds) holds the acknowledged tx-1.
  std::filesystem::copy_file(path, dir.file("alone.db"));
  Database alone = Database::open(dir.file("alone.db"), Database::Mode::read_write);
  CHECK(count_events(alone) >= 1);
}

TEST_CASE(
    "issue 10: a database this user cannot write is refused by name before SQLite leaves an "
    "unwritable -shm behind",
    "[database][files]") {
  TempDir dir;
  const std::string path = dir.file("inbox.db");
  create_database(path);
  give_away(dir.path().string(), 0755);
  give_away(path, 0400);

  const std::string refused = run_unprivileged([&] { return try_open(path); });
  CHECK_THAT(refused, Catch::Contains(path + " is not writable") && Catch::Contains("mode 0400") &&
                          Catch::Contains("fix its mode"));
  CHECK_FALSE(std::filesystem::exists(path + "-shm"));

  // Once the operator fixes the database's mode, the next start works.
  REQUIRE(::chmod(path.c_str(), 0600) == 0);
  CHECK(run_unprivileged([&] { return try_open(path); }) == "opened");
}

TEST_CASE("issue 10: an unwritable -shm left by an earlier start is named with its mode",
          "[database][files]") {
  TempDir dir;
  const std::string path = dir.file("inbox.db");
  create_database(path);
  give_away(dir.path().string(), 0755);
  give_away(path, 0600);
  const int fd = ::open((path + "-shm").c_str(), O_WRONLY | O_CREAT, 0400);
  REQUIRE(fd >= 0);
  ::close(fd);
  give_away(path + "-shm", 0400);

  const std::string refused = run_unprivileged([&] { return try_open(path); });
  CHECK_THAT(refused, Catch::Contains(path + "-shm is not writable") &&
                          Catch::Contains("mode 0400") &&
                          Catch::Contains("removed while no process has the database open"));
}
