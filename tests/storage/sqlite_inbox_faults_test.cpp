// Tests SqliteInbox::store_batch() against I/O errors at COMMIT (issue 10): a test VFS that wraps
// the default one and fails the -wal's fsync on demand.

#include <sqlite3.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <cstring>
#include <string>
#include <variant>
#include <vector>

#include "storage_test_support.hpp"
#include "webhook/core/outcome.hpp"
#include "webhook/storage/sqlite_inbox.hpp"

namespace {

using webhook::core::Delivery;
using webhook::core::StoreResult;
using webhook::storage::Database;
using webhook::storage::SqliteInbox;
using webhook::test::make_delivery;

std::atomic<bool> fail_wal_sync{false};

// A file of the "faulty" VFS: our header, then the real file of the default VFS.
struct FaultyFile {
  sqlite3_file base;
  bool is_wal;
  sqlite3_file* real() { return reinterpret_cast<sqlite3_file*>(this + 1); }
};

FaultyFile* faulty(sqlite3_file* f) { return reinterpret_cast<FaultyFile*>(f); }
sqlite3_file* real(sqlite3_file* f) { return faulty(f)->real(); }

int x_close(sqlite3_file* f) { return real(f)->pMethods->xClose(real(f)); }
int x_read(sqlite3_file* f, void* p, int n, sqlite3_int64 o) {
  return real(f)->pMethods->xRead(real(f), p, n, o);
}
int x_write(sqlite3_file* f, const void* p, int n, sqlite3_int64 o) {
  return real(f)->pMethods->xWrite(real(f), p, n, o);
}
int x_truncate(sqlite3_file* f, sqlite3_int64 n) {
  return real(f)->pMethods->xTruncate(real(f), n);
}
int x_sync(sqlite3_file* f, int flags) {
  if (faulty(f)->is_wal && fail_wal_sync.load()) return SQLITE_IOERR_FSYNC;
  return real(f)->pMethods->xSync(real(f), flags);
}
int x_file_size(sqlite3_file* f, sqlite3_int64* n) {
  return real(f)->pMethods->xFileSize(real(f), n);
}
int x_lock(sqlite3_file* f, int l) { return real(f)->pMethods->xLock(real(f), l); }
int x_unlock(sqlite3_file* f, int l) { return real(f)->pMethods->xUnlock(real(f), l); }
int x_check_reserved(sqlite3_file* f, int* r) {
  return real(f)->pMethods->xCheckReservedLock(real(f), r);
}
int x_file_control(sqlite3_file* f, int op, void* arg) {
  return real(f)->pMethods->xFileControl(real(f), op, arg);
}
int x_sector_size(sqlite3_file* f) { return real(f)->pMethods->xSectorSize(real(f)); }
int x_device(sqlite3_file* f) { return real(f)->pMethods->xDeviceCharacteristics(real(f)); }
int x_shm_map(sqlite3_file* f, int i, int size, int extend, void volatile** p) {
  return real(f)->pMethods->xShmMap(real(f), i, size, extend, p);
}
int x_shm_lock(sqlite3_file* f, int offset, int n, int flags) {
  return real(f)->pMethods->xShmLock(real(f), offset, n, flags);
}
void x_shm_barrier(sqlite3_file* f) { real(f)->pMethods->xShmBarrier(real(f)); }
int x_shm_unmap(sqlite3_file* f, int del) { return real(f)->pMethods->xShmUnmap(real(f), del); }

// Version 2 (no memory-mapped I/O): SQLite then never asks for xFetch/xUnfetch.
const sqlite3_io_methods kMethods = {2,           x_close,          x_read,         x_write,
                                     x_truncate,  x_sync,           x_file_size,    x_lock,
                                     x_unlock,    x_check_reserved, x_file_control, x_sector_size,
                                     x_device,    x_shm_map,        x_shm_lock,     x_shm_barrier,
                                     x_shm_unmap, nullptr,          nullptr};

sqlite3_vfs faulty_vfs;

int x_open(sqlite3_vfs* vfs, const char* name, sqlite3_file* file, int flags, int* out_flags) {
  auto* base = static_cast<sqlite3_vfs*>(vfs->pAppData);
  FaultyFile* f = faulty(file);
  std::memset(f, 0, sizeof(FaultyFile));
  const int rc = base->xOpen(base, name, f->real(), flags, out_flags);
  if (f->real()->pMethods == nullptr) return rc;  // nothing opened: no xClose either
  f->base.pMethods = &kMethods;
  f->is_wal = (flags & SQLITE_OPEN_WAL) != 0;
  return rc;
}

// Registers the "faulty" VFS once (not as the default).
void register_faulty_vfs() {
  static const bool registered = [] {
    sqlite3_vfs* base = sqlite3_vfs_find(nullptr);
    faulty_vfs = *base;
    faulty_vfs.zName = "faulty";
    faulty_vfs.szOsFile = static_cast<int>(sizeof(FaultyFile)) + base->szOsFile;
    faulty_vfs.pAppData = base;
    faulty_vfs.xOpen = x_open;
    return sqlite3_vfs_register(&faulty_vfs, 0) == SQLITE_OK;
  }();
  REQUIRE(registered);
}

}  // namespace

TEST_CASE("issue 10: an I/O error at commit fails the whole batch, so it is answered 503",
          "[inbox][sqlite][faults]") {
  register_faulty_vfs();
  webhook::test::TempDir dir;
  const std::string uri = "file:" + dir.file("inbox.db") + "?vfs=faulty";
  Database db = Database::open(uri);
  db.migrate(webhook::storage::embedded_migrations());
  SqliteInbox inbox(std::move(db));
  REQUIRE(inbox.store_batch(std::vector<Delivery>{make_delivery("tx-1")}).at(0).kind ==
          StoreResult::Kind::inserted);

  fail_wal_sync = true;
  const auto results =
      inbox.store_batch(std::vector<Delivery>{make_delivery("tx-2"), make_delivery("tx-3")});
  fail_wal_sync = false;

  REQUIRE(results.size() == 2);
  for (const StoreResult& r : results) {
    CHECK(r.kind == StoreResult::Kind::failed);
    CHECK(r.error == "i/o error");
    // What the HTTP layer answers for it: 503 with Retry-After (http/routes.cpp).
    CHECK(std::holds_alternative<webhook::core::Unavailable>(
        webhook::core::to_outcome(false, r, false)));
  }
  // The connection recovers; the platform's retry is stored once.
  CHECK(inbox.store_batch(std::vector<Delivery>{make_delivery("tx-2")}).at(0).kind ==
        StoreResult::Kind::inserted);
  CHECK(inbox.find_by_key(make_delivery("tx-3").key) == std::nullopt);
}
