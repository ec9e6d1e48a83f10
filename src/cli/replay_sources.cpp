#include "cli/replay_sources.hpp"

#include <rapidjson/document.h>

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <fstream>
#include <limits>
#include <stdexcept>

#include "cli/secrets.hpp"
#include "webhook/core/reconcile.hpp"
#include "webhook/storage/database.hpp"
#include "webhook/storage/event_queries.hpp"
#include "webhook/storage/payload_log.hpp"
#include "webhook/storage/pg_connection.hpp"
#include "webhook/storage/pg_event_queries.hpp"
#include "webhook/storage/pg_url.hpp"

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

// The rows of `filter.id_range` in id order, through storage::EventQueries (the primary key):
// an SQLite file, or a PostgreSQL database (a postgres:// URL; `origin` names it without the
// password).
class DatabaseSource final : public Source {
 public:
  DatabaseSource(const std::string& path, const Filter& filter)
      : path_(path), queries_(open_queries(path, sqlite_, postgres_, path_)) {
    const std::int64_t lo = filter.id_range ? filter.id_range->first : 0;
    const std::int64_t hi =
        filter.id_range ? filter.id_range->second : std::numeric_limits<std::int64_t>::max();
    try {
      total_ = static_cast<std::uint64_t>(
          std::max<std::int64_t>(0, queries_->count_in_id_range(lo, hi)));
      cursor_ = queries_->events_in_id_range(lo, hi);
    } catch (const storage::StorageError& e) {
      throw std::runtime_error(path_ + " is not a webhook-receiver database (" + e.what() + ")");
    }
  }

  std::optional<Capture> next(Reporter&) override {
    std::optional<storage::ReplayEvent> event;
    // Answers of the Conomy API recorded by reconciliation (scheme api) were never deliveries:
    // there is nothing to send again.
    do {
      try {
        event = cursor_->next();
      } catch (const storage::StorageError& e) {
        throw std::runtime_error("reading " + path_ + ": " + e.what());
      }
      if (!event) return std::nullopt;
      ++done_;
    } while (event->scheme == core::kApiScheme);
    Capture c;
    c.event_id = event->id;
    c.origin = path_ + " event " + std::to_string(c.event_id);
    c.source = std::move(event->source);
    c.event_type = std::move(event->event_type);
    c.status = std::move(event->status);
    c.body = std::move(event->body);
    c.request_id = std::move(event->request_id);
    c.received_at_ms = event->received_at_ms;
    // Only what was verified, or accepted unsigned, is ever stored.
    c.verification = event->scheme == "none" ? "unsigned_allowed" : "verified";
    return c;
  }

  double fraction() const override { return ratio(done_.load(), total_); }

 private:
  // Opens `path` into `sqlite` or `postgres` and returns the queries over it; `name` becomes
  // what reports call the database.
  static std::unique_ptr<storage::EventQueries> open_queries(
      const std::string& path, std::unique_ptr<storage::Database>& sqlite,
      std::unique_ptr<storage::PgConnection>& postgres, std::string& name) {
    if (storage::is_pg_url(path)) {
      postgres = std::make_unique<storage::PgConnection>(storage::PgConnection::connect(path));
      storage::check_pg_inbox_schema(*postgres);
      name = postgres->describe();
      return std::make_unique<storage::PgEventQueries>(*postgres);
    }
    const bool plain_file = path != ":memory:" && !path.starts_with("file:");
    if (plain_file && !fs::exists(path)) throw std::runtime_error("no database at " + path);
    sqlite = std::make_unique<storage::Database>(
        storage::Database::open(path, storage::Database::Mode::read_only));
    return std::make_unique<storage::SqliteEventQueries>(*sqlite);
  }

  std::string path_;
  std::unique_ptr<storage::Database> sqlite_;
  std::unique_ptr<storage::PgConnection> postgres_;
  std::unique_ptr<storage::EventQueries> queries_;  // over one of the two
  std::unique_ptr<storage::EventCursor> cursor_;    // over queries_; goes first
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
