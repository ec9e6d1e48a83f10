#pragma once
// AdminApi: what the admin listener answers (docs/admin.md). The page (compiled in, no data)
// is public; everything under /api/ needs "Authorization: Bearer <token>", compared in constant
// time. Documents come from app/documents.hpp, the renderer the CLI's --json uses.
//  1. Reads go through their own read-only connection (WAL reader: never blocks ingest).
//  2. Redrive (POST /api/events/{id}/retry, /api/events/retry-dead) writes through a separate
//     connection like `events retry`, then calls on_redrive so the running service picks the
//     events up at once instead of at its next once-a-second check.
// Runs on the admin listener's one I/O thread; not thread-safe.

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "webhook/core/clock.hpp"
#include "webhook/http/admin_server.hpp"
#include "webhook/http/routes.hpp"

namespace webhook::app {

struct AdminApiOptions {
  std::string token;  // non-empty
  std::string sqlite_path;
  std::vector<std::string> sources;  // the configured source names (the summary lists each)
  std::vector<std::int64_t> review_bounds_ms;
  std::int64_t settlement_overdue_ms = 0;
  std::function<void()> on_redrive;  // may be empty
};

class AdminApi {
 public:
  AdminApi(AdminApiOptions options, const core::Clock& clock);
  ~AdminApi();
  AdminApi(const AdminApi&) = delete;
  AdminApi& operator=(const AdminApi&) = delete;

  http::OutboundResponse handle(const http::AdminRequest& request);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace webhook::app
