#include "app/connection_limit.hpp"

#include <algorithm>
#include <string>

#include "webhook/app/config.hpp"

namespace webhook::app {

std::uint64_t fd_reserve(int worker_threads) {
  return 64 + 4 * static_cast<std::uint64_t>(std::max(worker_threads, 0));
}

ConnectionLimit fit_connection_limit(int configured, int worker_threads, FileLimit limits) {
  const std::uint64_t reserve = fd_reserve(worker_threads);
  const std::uint64_t wanted =
      static_cast<std::uint64_t>(configured > 0 ? configured : kDefaultMaxConnections);
  // Raise the soft limit as far as the cap needs and the hard limit allows; never lower it.
  const std::uint64_t soft = std::max(limits.soft, std::min(wanted + reserve, limits.hard));
  const std::uint64_t room = soft > reserve ? soft - reserve : 0;
  const std::string fit = "the open-file limit (ulimit -n, hard " + std::to_string(limits.hard) +
                          ") keeps " + std::to_string(reserve) +
                          " descriptors for the database, payload log and handlers";
  if (configured > 0 && room < wanted) {
    throw ConfigError("server.max_connections: " + std::to_string(configured) +
                      " does not fit: " + fit + " and leaves " + std::to_string(room) +
                      " for connections; lower it or raise the limit");
  }
  if (room == 0) {
    throw ConfigError("server.max_connections: no connection fits: " + fit + "; raise the limit");
  }
  return {static_cast<int>(std::min(wanted, room)), soft};
}

}  // namespace webhook::app
