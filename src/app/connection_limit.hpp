#pragma once
// The listener's connection cap (server.max_connections), fitted to the open-file limit.
//  1. The process keeps fd_reserve() descriptors for itself: stdio, the listener, four SQLite
//     connections (database, WAL and shared-memory files each), the payload log, and per worker
//     thread an outbound connection or an exec child's pipes. Connections get the rest.
//  2. When the cap needs more than the soft RLIMIT_NOFILE, the soft limit is raised toward the
//     hard one (any process may do that); a configured cap that still does not fit is refused.
// Pure: the limits are arguments; Application::start() reads and sets the real ones.

#include <cstdint>

namespace webhook::app {

// The automatic cap (server.max_connections 0) when the descriptors allow it.
inline constexpr int kDefaultMaxConnections = 1024;

struct FileLimit {
  std::uint64_t soft = 0;  // RLIM_INFINITY reads as a very large number
  std::uint64_t hard = 0;
};

struct ConnectionLimit {
  int max_connections = 0;
  std::uint64_t soft_limit = 0;  // the soft limit to run with (>= the current one)
};

// Descriptors kept for everything but client connections.
std::uint64_t fd_reserve(int worker_threads);

// `configured`: server.max_connections (0: automatic, kDefaultMaxConnections or what the hard
// limit leaves). Throws ConfigError naming server.max_connections when the configured cap, or
// for 0 a single connection, does not fit under the hard limit with the reserve.
ConnectionLimit fit_connection_limit(int configured, int worker_threads, FileLimit limits);

}  // namespace webhook::app
