// PgInbox's default projection applier (include/webhook/storage/pg_inbox.hpp): PgProjectionStore
// on the inbox's connection, inside its transaction (the item's savepoint).

#include <optional>

#include "webhook/storage/pg_inbox.hpp"
#include "webhook/storage/pg_projection_store.hpp"

namespace webhook::storage {

std::optional<core::ReviewNotice> apply_pg_projection(PgConnection& db,
                                                      const core::StoredEvent& event,
                                                      const core::ProjectionChange& change) {
  PgProjectionStore store(db);  // holds only the connection: cheap to make per change
  return store.apply(event, change);
}

}  // namespace webhook::storage
