// WalCheckpointer (include/webhook/storage/wal_checkpointer.hpp).

#include "webhook/storage/wal_checkpointer.hpp"

#include <sqlite3.h>

#include "webhook/log/log.hpp"

namespace webhook::storage {

WalCheckpointer::WalCheckpointer(const std::string& path, int threshold_pages,
                                 std::chrono::milliseconds interval)
    : db_(Database::open(path, Database::Mode::read_write)),
      threshold_pages_(threshold_pages < 1 ? 1 : threshold_pages),
      interval_(interval) {
  thread_ = std::thread([this] { run(); });
}

WalCheckpointer::~WalCheckpointer() { stop(); }

int WalCheckpointer::on_commit(void* self, sqlite3* db, const char* name, int pages) {
  auto* checkpointer = static_cast<WalCheckpointer*>(self);
  if (pages < checkpointer->threshold_pages_) return SQLITE_OK;
  if (pages >= 4 * checkpointer->threshold_pages_) {
    // The background checkpoints are not keeping up: this one runs between two of the
    // writer's transactions, so it copies everything no reader still needs.
    sqlite3_wal_checkpoint_v2(db, name, SQLITE_CHECKPOINT_PASSIVE, nullptr, nullptr);
    checkpointer->writer_checkpoints_seen_.fetch_add(1, std::memory_order_relaxed);
    return SQLITE_OK;
  }
  {
    std::lock_guard lock(checkpointer->mutex_);
    if (checkpointer->due_) return SQLITE_OK;
    checkpointer->due_ = true;
  }
  checkpointer->wake_.notify_one();
  return SQLITE_OK;
}

void WalCheckpointer::attach(Database& writer) {
  writer_ = &writer;
  // Replaces the automatic checkpoint (sqlite3_wal_autocheckpoint is a WAL hook too).
  sqlite3_wal_hook(writer.handle(), &WalCheckpointer::on_commit, this);
}

void WalCheckpointer::stop() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
  if (writer_ != nullptr) {
    sqlite3_wal_autocheckpoint(writer_->handle(), 1000);  // SQLite's default again
    writer_ = nullptr;
  }
}

std::uint64_t WalCheckpointer::checkpoints() const {
  std::lock_guard lock(mutex_);
  return checkpoints_;
}

std::uint64_t WalCheckpointer::writer_checkpoints() const {
  return writer_checkpoints_seen_.load(std::memory_order_relaxed);
}

void WalCheckpointer::run() {
  std::unique_lock lock(mutex_);
  bool left = false;  // the last checkpoint could not copy everything
  for (;;) {
    if (left) {
      wake_.wait_for(lock, interval_, [this] { return stopping_ || due_; });
    } else {
      wake_.wait(lock, [this] { return stopping_ || due_; });
    }
    if (stopping_) return;
    due_ = false;
    lock.unlock();
    int wal_pages = -1;
    int copied = -1;
    const int rc = sqlite3_wal_checkpoint_v2(db_.handle(), nullptr, SQLITE_CHECKPOINT_PASSIVE,
                                             &wal_pages, &copied);
    if (rc != SQLITE_OK && rc != SQLITE_BUSY) {
      log::warn("background checkpoint failed", {.detail = sqlite3_errstr(rc)});
    }
    lock.lock();
    if (rc == SQLITE_OK) ++checkpoints_;
    left = rc != SQLITE_OK || copied < wal_pages;
  }
}

}  // namespace webhook::storage
