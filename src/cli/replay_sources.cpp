#include "cli/replay_sources.hpp"

#include <rapidjson/document.h>
#include <sqlite3.h>

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <fstream>
#include <limits>
#include <stdexcept>

#include "cli/secrets.hpp"
#include "webhook/storage/database.hpp"
#include "webhook/storage/payload_log.hpp"

namespace webhook::cli::replay {
namespace {

namespace fs = std::filesystem;

double ratio(std::uint64_t done, std::uint64_t total) {
  if (total == 0) return 1.0;
  return std::min(1.0, static_cast<double>(done) / static_cast<double>(total));
}

// Why a payload-log line is not a record, for the skip message.
std::string why_not_a_record(const std::string& line) {
  rapidjson::Document doc;
  doc.Parse<rapidjson::kParseIterativeFlag>(line.data(), line.size());
  if (doc.HasParseError()) return "not valid JSON (a truncated or corrupted line)";
  return "not a payload-log record (needs received_at_ms, body and string members)";
}

// ---- payload logs ---------------------------------------------------------------------------

class PayloadLogSource final : public Source {
 public:
  explicit PayloadLogSource(std::vector<std::string> paths) : paths_(std::move(paths)) {
    for (const auto& path : paths_) {
      std::error_code ec;
      const auto size = fs::file_size(path, ec);
      if (ec) throw std::runtime_error("cannot read payload log " + path + ": " + ec.message());
      sizes_.push_back(size);
      total_bytes_ += size;
    }
  }

  std::optional<Capture> next(Reporter& reporter) override {
    std::string line;
    for (;;) {
      if (!file_.is_open()) {
        if (index_ >= paths_.size()) return std::nullopt;
        file_.open(paths_[index_], std::ios::binary);
        if (!file_) throw std::runtime_error("cannot read payload log " + paths_[index_]);
        line_number_ = 0;
        read_in_file_ = 0;
      }
      // Only what the file held when the run started: a receiver appending to its own log while
      // it is replayed into must not feed the replay forever.
      if (read_in_file_ >= sizes_[index_] || !std::getline(file_, line)) {
        file_.close();
        ++index_;
        continue;
      }
      ++line_number_;
      read_in_file_ += line.size() + 1;
      done_bytes_ += line.size() + 1;
      if (line.empty()) continue;  // a blank line carries nothing to replay
      const std::string where = paths_[index_] + ":" + std::to_string(line_number_);
      auto record = storage::parse_payload_line(line);
      if (!record) {
        reporter.skipped(where, why_not_a_record(line));
        continue;
      }
      if (record->truncated_from_bytes) {  // the unverified log keeps excerpts only
        reporter.skipped(where, "the body is an excerpt (" + std::to_string(record->body.size()) +
                                    " of " + std::to_string(*record->truncated_from_bytes) +
                                    " bytes): nothing to replay");
        continue;
      }
      Capture c;
      c.origin = where;
      c.received_at_ms = record->received_at_ms;
      c.source = std::move(record->source);
      c.request_id = std::move(record->request_id);
      c.target = std::move(record->target);
      c.headers = std::move(record->headers);
      c.verification = std::move(record->verification);
      if (c.verification.empty()) c.verification = "unknown";  // a record always has a verdict
      c.body = std::move(record->body);
      return c;
    }
  }

  double fraction() const override { return ratio(done_bytes_.load(), total_bytes_); }

 private:
  std::vector<std::string> paths_;
  std::size_t index_ = 0;
  std::ifstream file_;
  std::uint64_t line_number_ = 0;
  std::vector<std::uint64_t> sizes_;  // each file's size when the run started
  std::uint64_t read_in_file_ = 0;
  std::uint64_t total_bytes_ = 0;
  std::atomic<std::uint64_t> done_bytes_{0};
};

// ---- JSON files -----------------------------------------------------------------------------

class JsonFilesSource final : public Source {
 public:
  explicit JsonFilesSource(const std::vector<std::string>& paths) {
    for (const auto& path : paths) {
      std::error_code ec;
      if (fs::is_directory(path, ec)) {
        std::vector<std::string> found;
        for (const auto& entry : fs::directory_iterator(path, ec)) {
          if (entry.path().extension() == ".json" && entry.is_regular_file(ec)) {
            found.push_back(entry.path().string());
          }
        }
        if (ec) throw std::runtime_error("cannot list " + path + ": " + ec.message());
        std::sort(found.begin(), found.end());
        files_.insert(files_.end(), found.begin(), found.end());
      } else if (fs::exists(path, ec)) {
        files_.push_back(path);
      } else {
        throw std::runtime_error("no such file or directory: " + path);
      }
    }
  }

  std::optional<Capture> next(Reporter& reporter) override {
    while (index_ < files_.size()) {
      const std::string& path = files_[index_];
      ++index_;
      done_ = index_;
      std::ifstream in(path, std::ios::binary);
      if (!in) {
        reporter.skipped(path, "cannot read the file");
        continue;
      }
      Capture c;
      c.origin = path;
      c.body = read_all(in);
      return c;
    }
    return std::nullopt;
  }

  double fraction() const override { return ratio(done_.load(), files_.size()); }

 private:
  std::vector<std::string> files_;
  std::size_t index_ = 0;
  std::atomic<std::uint64_t> done_{0};
};

// ---- a database -----------------------------------------------------------------------------

constexpr const char* kSelectEvents = R"sql(
SELECT id, source, event_type, status, body, request_id, received_at_ms, scheme
FROM events WHERE id BETWEEN ?1 AND ?2 ORDER BY id
)sql";
constexpr const char* kCountEvents = "SELECT count(*) FROM events WHERE id BETWEEN ?1 AND ?2";

std::string column_text(sqlite3_stmt* stmt, int column) {
  const auto* bytes = sqlite3_column_blob(stmt, column);
  const int size = sqlite3_column_bytes(stmt, column);
  if (bytes == nullptr || size <= 0) return {};
  return std::string(static_cast<const char*>(bytes), static_cast<std::size_t>(size));
}

class DatabaseSource final : public Source {
 public:
  DatabaseSource(const std::string& path, const Filter& filter)
      : path_(path),
        db_(open_existing(path)),
        lo_(filter.id_range ? filter.id_range->first : 0),
        hi_(filter.id_range ? filter.id_range->second : std::numeric_limits<std::int64_t>::max()) {
    sqlite3_stmt* count = prepare(kCountEvents);
    sqlite3_bind_int64(count, 1, lo_);
    sqlite3_bind_int64(count, 2, hi_);
    if (sqlite3_step(count) == SQLITE_ROW) {
      total_ =
          static_cast<std::uint64_t>(std::max<sqlite3_int64>(0, sqlite3_column_int64(count, 0)));
    }
    sqlite3_finalize(count);
    select_ = prepare(kSelectEvents);
    sqlite3_bind_int64(select_, 1, lo_);
    sqlite3_bind_int64(select_, 2, hi_);
  }
  ~DatabaseSource() override { sqlite3_finalize(select_); }
  DatabaseSource(const DatabaseSource&) = delete;
  DatabaseSource& operator=(const DatabaseSource&) = delete;

  std::optional<Capture> next(Reporter&) override {
    if (finished_) return std::nullopt;
    const int rc = sqlite3_step(select_);
    if (rc == SQLITE_DONE) {
      finished_ = true;
      return std::nullopt;
    }
    if (rc != SQLITE_ROW) {
      throw std::runtime_error("reading " + path_ + ": " + sqlite3_errmsg(db_.handle()));
    }
    ++done_;
    Capture c;
    c.event_id = sqlite3_column_int64(select_, 0);
    c.origin = path_ + " event " + std::to_string(c.event_id);
    c.source = column_text(select_, 1);
    c.event_type = column_text(select_, 2);
    c.status = column_text(select_, 3);
    c.body = column_text(select_, 4);
    c.request_id = column_text(select_, 5);
    c.received_at_ms = sqlite3_column_int64(select_, 6);
    // Only what was verified, or accepted unsigned, is ever stored.
    c.verification = column_text(select_, 7) == "none" ? "unsigned_allowed" : "verified";
    return c;
  }

  double fraction() const override { return ratio(done_.load(), total_); }

 private:
  static storage::Database open_existing(const std::string& path) {
    const bool plain_file = path != ":memory:" && !path.starts_with("file:");
    if (plain_file && !fs::exists(path)) throw std::runtime_error("no database at " + path);
    return storage::Database::open(path, storage::Database::Mode::read_only);
  }

  sqlite3_stmt* prepare(const char* sql) {
    sqlite3_stmt* stmt = nullptr;
    if (sqlite3_prepare_v2(db_.handle(), sql, -1, &stmt, nullptr) != SQLITE_OK) {
      const std::string why = sqlite3_errmsg(db_.handle());
      sqlite3_finalize(stmt);
      throw std::runtime_error(path_ + " is not a webhook-receiver database (" + why + ")");
    }
    return stmt;
  }

  std::string path_;
  storage::Database db_;
  std::int64_t lo_;
  std::int64_t hi_;
  sqlite3_stmt* select_ = nullptr;
  bool finished_ = false;
  std::uint64_t total_ = 0;
  std::atomic<std::uint64_t> done_{0};
};

}  // namespace

std::unique_ptr<Source> open_payload_logs(const std::vector<std::string>& paths) {
  return std::make_unique<PayloadLogSource>(paths);
}

std::unique_ptr<Source> open_json_files(const std::vector<std::string>& paths) {
  return std::make_unique<JsonFilesSource>(paths);
}

std::unique_ptr<Source> open_database(const std::string& path, const Filter& filter) {
  return std::make_unique<DatabaseSource>(path, filter);
}

}  // namespace webhook::cli::replay
