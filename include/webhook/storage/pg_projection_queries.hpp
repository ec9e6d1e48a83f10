#pragma once
// PgProjectionQueries: the read side of the projections and the source comparison on PostgreSQL
// (issue 13), the twin of storage::ProjectionQueries (projection_queries.hpp): the same methods,
// the same result structs, the same rows in the same order for the same data.
//  1. The constructor refuses a database not migrated to migrations/postgres/0003 (the history
//     origins) with a StorageError that says to run `webhook-receiver migrate`.
//  2. Text is ordered with COLLATE "C" (byte order, as SQLite and std::string compare), whatever
//     the database's collation; NULL times sort as SQLite sorts them (first ascending, last
//     descending).
//  3. One difference: SQLite breaks ties of opened_at_ms in `reviews` by rowid (insertion
//     order), which PostgreSQL has no counterpart of; here ties are broken by (source,
//     transaction_id). Results equal SQLite's whenever opened times differ.
//  4. compare() reads in one REPEATABLE READ, READ ONLY transaction (one snapshot) and counts
//     events with storage::CompareEventTally, as the SQLite class does.
// Read-only. Same thread rules as the PgConnection, which must outlive the object. Errors throw
// PgError (a StorageError).

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "webhook/storage/pg_connection.hpp"
#include "webhook/storage/projection_queries.hpp"

namespace webhook::storage {

class PgProjectionQueries final : public ProjectionReader {
 public:
  explicit PgProjectionQueries(PgConnection& db);

  std::vector<PaymentView> payment(const std::string& transaction_id,
                                   const std::optional<std::string>& source) override;
  std::vector<ReviewRow> reviews(const ReviewFilter& filter) override;
  std::vector<ReviewView> review(const std::string& transaction_id,
                                 const std::optional<std::string>& source) override;
  std::vector<CustomerView> customer(const std::string& customer_id,
                                     const std::optional<std::string>& source) override;
  std::vector<PaymentRow> payments_awaiting_settlement(const std::string& source,
                                                       std::int64_t captured_before_ms,
                                                       std::int64_t limit) override;
  std::vector<PaymentRow> payments_open_since(const std::string& source, std::int64_t since_ms,
                                              std::int64_t limit) override;
  std::vector<CustomerRow> customers_seen(const std::string& source, std::int64_t since_ms,
                                          std::int64_t before_ms, std::int64_t limit) override;
  Comparison compare(const std::string& a, const std::string& b, std::int64_t since_ms,
                     std::int64_t until_ms, std::int64_t difference_limit) override;

 private:
  std::optional<PaymentRow> one_payment(const std::string& source, const std::string& id);

  PgConnection& db_;
};

}  // namespace webhook::storage
