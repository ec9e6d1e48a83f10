// PgConnection, PgResult, PgTransaction (include/webhook/storage/pg_connection.hpp).
// Messages: "<describe()>: <what>: <libpq's message, scrubbed of the password>".

#include "webhook/storage/pg_connection.hpp"

#include <libpq-fe.h>

#include <charconv>
#include <string>
#include <vector>

namespace webhook::storage {
namespace {

// libpq's messages end in a newline (sometimes several lines); one line reads better in logs.
std::string one_line(std::string text) {
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
  for (char& c : text) {
    if (c == '\n') c = ' ';
  }
  return text;
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

// ---- PgResult --------------------------------------------------------------------------------

PgResult::~PgResult() { PQclear(result_); }

PgResult& PgResult::operator=(PgResult&& other) noexcept {
  if (this != &other) {
    PQclear(result_);
    result_ = std::exchange(other.result_, nullptr);
  }
  return *this;
}

std::string_view PgResult::command() const { return PQcmdStatus(result_); }

int PgResult::rows() const { return PQntuples(result_); }
int PgResult::columns() const { return PQnfields(result_); }

std::int64_t PgResult::affected() const {
  const char* text = PQcmdTuples(result_);
  std::int64_t n = 0;
  if (text != nullptr) std::from_chars(text, text + std::char_traits<char>::length(text), n);
  return n;
}

bool PgResult::is_null(int row, int column) const { return PQgetisnull(result_, row, column) != 0; }

std::string_view PgResult::text(int row, int column) const {
  return {PQgetvalue(result_, row, column),
          static_cast<std::size_t>(PQgetlength(result_, row, column))};
}

std::int64_t PgResult::integer(int row, int column) const {
  const std::string_view value = text(row, column);
  std::int64_t n = 0;
  const auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), n);
  if (is_null(row, column) || ec != std::errc{} || end != value.data() + value.size()) {
    throw PgError("postgres: column " + std::to_string(column) + " of row " + std::to_string(row) +
                      " is not an integer",
                  "");
  }
  return n;
}

std::string PgResult::bytes(int row, int column) const {
  const std::string_view value = text(row, column);
  if (!value.starts_with("\\x") || value.size() % 2 != 0) {
    throw PgError("postgres: column " + std::to_string(column) + " is not bytea in hex form", "");
  }
  std::string out;
  out.reserve((value.size() - 2) / 2);
  for (std::size_t i = 2; i < value.size(); i += 2) {
    const int hi = hex_value(value[i]);
    const int lo = hex_value(value[i + 1]);
    if (hi < 0 || lo < 0) {
      throw PgError("postgres: column " + std::to_string(column) + " has a bad hex digit", "");
    }
    out += static_cast<char>(hi * 16 + lo);
  }
  return out;
}

// ---- PgConnection ----------------------------------------------------------------------------

PgConnection PgConnection::connect(std::string_view url, int connect_timeout_seconds) {
  PgUrlParse parsed = parse_pg_url(url);
  if (!parsed.url) throw PgError("postgres: " + parsed.error, "");
  const std::string target(url);
  const std::string timeout = std::to_string(connect_timeout_seconds);
  // connect_timeout first: the URL (expanded from dbname) overrides it when it has its own.
  const char* const keywords[] = {"connect_timeout", "application_name", "dbname", nullptr};
  const char* const values[] = {timeout.c_str(), "webhook-receiver", target.c_str(), nullptr};
  pg_conn* conn = PQconnectdbParams(keywords, values, /*expand_dbname=*/1);
  PgConnection connection(conn, std::move(*parsed.url));  // owns it even when connecting failed
  if (conn == nullptr) throw PgError(connection.describe_ + ": connect: out of memory", "");
  if (PQstatus(conn) != CONNECTION_OK) connection.fail("connect", nullptr);
  // Server notices (NOTICE, WARNING: "relation ... already exists, skipping") would go to
  // stderr by default; they are never errors, and the service logs only through spdlog.
  PQsetNoticeProcessor(
      conn, [](void*, const char*) {}, nullptr);
  return connection;
}

PgConnection::PgConnection(pg_conn* conn, PgUrl url)
    : conn_(conn), url_(std::move(url)), describe_(url_.describe()) {}

PgConnection::PgConnection(PgConnection&& other) noexcept
    : conn_(std::exchange(other.conn_, nullptr)),
      url_(std::move(other.url_)),
      describe_(std::move(other.describe_)) {}

PgConnection& PgConnection::operator=(PgConnection&& other) noexcept {
  if (this != &other) {
    if (conn_ != nullptr) PQfinish(conn_);
    conn_ = std::exchange(other.conn_, nullptr);
    url_ = std::move(other.url_);
    describe_ = std::move(other.describe_);
  }
  return *this;
}

PgConnection::~PgConnection() {
  if (conn_ != nullptr) PQfinish(conn_);
}

void PgConnection::fail(std::string_view what, pg_result* result) const {
  std::string sqlstate;
  std::string message;
  if (result != nullptr) {
    if (const char* state = PQresultErrorField(result, PG_DIAG_SQLSTATE)) sqlstate = state;
    message = PQresultErrorMessage(result);
    PQclear(result);
  }
  if (message.empty() && conn_ != nullptr) message = PQerrorMessage(conn_);
  throw PgError(describe_ + ": " + std::string(what) + ": " + url_.scrub(one_line(message)),
                sqlstate);
}

void PgConnection::exec(std::string_view sql) {
  const std::string text(sql);  // PQexec needs a terminated string
  pg_result* result = PQexec(conn_, text.c_str());
  const ExecStatusType status = PQresultStatus(result);
  if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) fail("exec", result);
  PQclear(result);
}

PgResult PgConnection::query(std::string_view sql, std::span<const PgParam> params) {
  const std::string text(sql);
  std::vector<const char*> values(params.size());
  std::vector<int> lengths(params.size());
  std::vector<int> formats(params.size());
  for (std::size_t i = 0; i < params.size(); ++i) {
    // Text parameters travel as C strings: a NUL byte would silently cut the value (two ids
    // differing after it would become one dedup key). PostgreSQL text cannot hold NUL anyway.
    if (!params[i].is_binary() && !params[i].is_null() &&
        params[i].value().find('\0') != std::string::npos) {
      throw PgError(describe_ + ": text parameter $" + std::to_string(i + 1) +
                        " holds a NUL byte, which PostgreSQL text cannot store",
                    "22021");
    }
    values[i] = params[i].is_null() ? nullptr : params[i].value().data();
    lengths[i] = static_cast<int>(params[i].value().size());
    formats[i] = params[i].is_binary() ? 1 : 0;
  }
  pg_result* result =
      PQexecParams(conn_, text.c_str(), static_cast<int>(params.size()), /*paramTypes=*/nullptr,
                   values.data(), lengths.data(), formats.data(), /*resultFormat=*/0);
  const ExecStatusType status = PQresultStatus(result);
  if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) fail("query", result);
  return PgResult(result);
}

bool PgConnection::in_transaction() const {
  const PGTransactionStatusType status = PQtransactionStatus(conn_);
  return status == PQTRANS_INTRANS || status == PQTRANS_INERROR || status == PQTRANS_ACTIVE;
}

bool PgConnection::ok() const { return conn_ != nullptr && PQstatus(conn_) == CONNECTION_OK; }

bool PgConnection::reset() {
  if (conn_ == nullptr) return false;
  PQreset(conn_);
  return ok();
}

// ---- PgTransaction ---------------------------------------------------------------------------

PgTransaction::PgTransaction(PgConnection& connection) : connection_(connection) {
  connection_.exec("BEGIN");
}

PgTransaction::~PgTransaction() {
  if (done_ || !connection_.ok() || !connection_.in_transaction()) return;
  PQclear(PQexec(connection_.handle(), "ROLLBACK"));
}

void PgTransaction::commit() {
  done_ = true;  // a failed COMMIT ends the transaction too
  const PgResult result = connection_.query("COMMIT");
  if (result.command() == "ROLLBACK") {
    throw PgError(connection_.describe() + ": commit: the transaction had failed; rolled back",
                  "40000");
  }
}

}  // namespace webhook::storage
