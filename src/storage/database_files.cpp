// The database's files on disk: who may write them (before opening) and whether the paths still
// name the files a connection opened (after a commit). No SQLite calls here.

#include "storage/database_files.hpp"

#include <fcntl.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstdio>
#include <filesystem>
#include <system_error>

#include "webhook/storage/database.hpp"

namespace webhook::storage::files {
namespace {

std::string errno_text(int error) {
  return std::error_code(error, std::generic_category()).message();
}

std::string octal_mode(mode_t mode) {
  std::array<char, 8> text{};
  std::snprintf(text.data(), text.size(), "%04o", static_cast<unsigned>(mode & 07777));
  return text.data();
}

bool writable(const std::string& path, int mode) {
  return ::faccessat(AT_FDCWD, path.c_str(), mode, AT_EACCESS) == 0;
}

// What to do about `file` (the database or one of its siblings) when this process cannot write it.
std::string advice(const std::string& db_path, const std::string& file) {
  if (file == db_path + "-shm") {
    return "fix its mode or owner (it only holds an index: it may also be removed while no "
           "process has the database open)";
  }
  if (file == db_path + "-wal") {
    return "fix its mode or owner; do not remove it (it may hold committed deliveries)";
  }
  return "fix its mode or owner";
}

[[noreturn]] void not_writable(const std::string& db_path, const std::string& file,
                               const struct stat& st, int error) {
  std::string message = "sqlite database " + db_path + ": " + file;
  if (error == EROFS) {
    message += " is on a read-only file system";
  } else {
    message += " is not writable by uid " + std::to_string(::geteuid()) + " (mode " +
               octal_mode(st.st_mode) + ", owner uid " + std::to_string(st.st_uid) +
               "): " + advice(db_path, file);
  }
  throw StorageError(std::move(message), SQLITE_READONLY);
}

}  // namespace

std::optional<FileId> id_of(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return std::nullopt;
  return FileId{st.st_dev, st.st_ino};
}

std::string moved(const std::string& path, const FileId& opened) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    if (errno == ENOENT) return path + " was deleted";
    return path + " cannot be examined (" + errno_text(errno) + ")";
  }
  if (FileId{st.st_dev, st.st_ino} != opened) return path + " was replaced by another file";
  return {};
}

void require_writable(const std::string& db_path) {
  bool sibling_missing = false;
  for (const std::string& file : {db_path, db_path + "-wal", db_path + "-shm"}) {
    struct stat st {};
    if (::stat(file.c_str(), &st) != 0) {
      sibling_missing = sibling_missing || file != db_path;
      continue;  // missing: SQLite creates it, or reports a missing database itself
    }
    if (!writable(file, R_OK | W_OK)) not_writable(db_path, file, st, errno);
  }
  if (!sibling_missing) return;
  std::filesystem::path dir = std::filesystem::path(db_path).parent_path();
  if (dir.empty()) dir = ".";
  if (!writable(dir.string(), W_OK | X_OK)) {
    throw StorageError("sqlite database " + db_path + ": directory " + dir.string() +
                           " is not writable by uid " + std::to_string(::geteuid()) + " (" +
                           errno_text(errno) + "); SQLite creates " + db_path + "-wal and " +
                           db_path + "-shm there",
                       SQLITE_CANTOPEN);
  }
}

}  // namespace webhook::storage::files
