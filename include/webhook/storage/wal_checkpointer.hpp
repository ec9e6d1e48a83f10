#pragma once
// WalCheckpointer: copies the -wal back into the database file on its own thread and connection,
// so the one writer never stalls in a checkpoint.
//  1. attach(writer) turns SQLite's automatic checkpoint off on the writer's connection and
//     installs a WAL hook: after each commit the hook sees the -wal's size in pages and, past
//     `threshold_pages`, wakes this thread (the hook only sets a flag; never blocks the writer).
//  2. The thread runs a PASSIVE checkpoint on its own connection: it copies what no reader still
//     needs and takes no lock the writer waits for; the writer restarts the -wal from the top once
//     a checkpoint has copied all of it. It also runs one every `interval` while anything is
//     left, so an idle receiver's -wal shrinks too.
//  3. Under sustained writes a checkpoint beside the writer never quite finishes, and the -wal
//     would only grow: past 4 x threshold_pages the hook checkpoints on the writer's connection
//     itself, between two transactions, as SQLite's automatic checkpoint would (a rare stall that
//     bounds the -wal).
// Thread: attach() and stop() from the owner; the hook from the writer's thread.

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <string>
#include <thread>

#include "webhook/storage/database.hpp"

namespace webhook::storage {

class WalCheckpointer {
 public:
  // Opens its own connection to `path` (throws StorageError) and starts the thread.
  WalCheckpointer(const std::string& path, int threshold_pages = 1000,
                  std::chrono::milliseconds interval = std::chrono::milliseconds(1000));
  ~WalCheckpointer();  // stop()
  WalCheckpointer(const WalCheckpointer&) = delete;
  WalCheckpointer& operator=(const WalCheckpointer&) = delete;

  // `writer` must outlive this object, or be detached by stop() first.
  void attach(Database& writer);
  // Joins the thread and gives the writer's connection its automatic checkpoint back.
  void stop();

  std::uint64_t checkpoints() const;         // PASSIVE checkpoints run on this thread
  std::uint64_t writer_checkpoints() const;  // those the writer ran at the hard limit

 private:
  static int on_commit(void* self, struct sqlite3* db, const char* name, int pages);
  void run();

  Database db_;
  const int threshold_pages_;
  const std::chrono::milliseconds interval_;
  Database* writer_ = nullptr;
  mutable std::mutex mutex_;
  std::condition_variable wake_;
  bool due_ = false;               // GUARDED_BY(mutex_)
  bool stopping_ = false;          // GUARDED_BY(mutex_)
  std::uint64_t checkpoints_ = 0;  // GUARDED_BY(mutex_)
  std::atomic<std::uint64_t> writer_checkpoints_seen_{0};
  std::thread thread_;
};

}  // namespace webhook::storage
