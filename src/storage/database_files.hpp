#pragma once
// The files behind one SQLite database on disk: the database itself and its -wal and -shm
// siblings. Two checks live here (database.cpp calls them):
//  1. Before a writable open: every one of the three that exists must be writable by this
//     process, and the directory must be writable when a sibling is missing; otherwise a
//     StorageError names the exact file, its mode and what to do. SQLite would otherwise open
//     the database read-only, create a -shm it cannot write, and fail later naming the database.
//  2. After a commit: the database and -wal paths must still name the files the connection
//     opened. A deleted or replaced -wal means commits go to a file no later start will read.

#include <sys/types.h>

#include <optional>
#include <string>

namespace webhook::storage::files {

// Identifies one file independently of its name.
struct FileId {
  dev_t device = 0;
  ino_t inode = 0;
  bool operator==(const FileId&) const = default;
};

// The file `path` names now; nullopt when it does not exist or cannot be examined.
std::optional<FileId> id_of(const std::string& path);

// "" when `path` still names `opened`; otherwise "<path> was deleted" or "<path> was replaced
// by another file". One stat(2).
std::string moved(const std::string& path, const FileId& opened);

// Throws StorageError (SQLITE_READONLY or SQLITE_CANTOPEN) naming the first file among the
// database at `db_path`, its -wal and -shm, and their directory that this process cannot write.
// Files that do not exist are skipped (SQLite creates them). Never modifies anything.
void require_writable(const std::string& db_path);

}  // namespace webhook::storage::files
