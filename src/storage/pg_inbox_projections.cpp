// PgInbox's default projection applier (include/webhook/storage/pg_inbox.hpp): PgProjectionStore
// on the inbox's connection, inside its transaction (the item's savepoint).
// SWITCH: PgProjectionStore is implemented on another branch (issue 13). Until it is merged,
// kPgProjectionStoreLinked is false and a change fails its item (its fallback is recorded), so
// the library links without it; the call is compiled all the same (a discarded `if constexpr`
// statement needs no definition to link). After the merge: set it to true (or drop the switch).

#include <optional>
#include <string>

#include "webhook/storage/pg_inbox.hpp"
#include "webhook/storage/pg_projection_store.hpp"

namespace webhook::storage {
namespace {

constexpr bool kPgProjectionStoreLinked = false;

}  // namespace

std::optional<core::ReviewNotice> apply_pg_projection(PgConnection& db,
                                                      const core::StoredEvent& event,
                                                      const core::ProjectionChange& change) {
  if constexpr (kPgProjectionStoreLinked) {
    PgProjectionStore store(db);  // holds only the connection: cheap to make per change
    return store.apply(event, change);
  } else {
    throw PgError(db.describe() + ": projections on PostgreSQL are not built into this binary", "");
  }
}

}  // namespace webhook::storage
