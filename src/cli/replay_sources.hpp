#pragma once
// `replay`: where captured deliveries come from, behind one small interface.
//  payload logs (JSON Lines, docs/payload-log.md): one Capture per line, in file order, up to
//    each file's size when the run started; a line that is not a record is reported with its
//    line number and skipped;
//  JSON files: a directory of *.json (sorted by name, not recursive) or single files, the body
//    byte-exact, no signature and no verdict (tests/fixtures/conomy/ is the shape);
//  a database: the inbox of another webhook-receiver database, in id order, read-only.

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "cli/replay_capture.hpp"
#include "cli/replay_report.hpp"

namespace webhook::cli::replay {

class Source {
 public:
  virtual ~Source() = default;
  // The next capture, or nullopt at the end. Unreadable input goes to reporter.skipped().
  virtual std::optional<Capture> next(Reporter& reporter) = 0;
  // How far through its input the source is, 0..1 (< 0: unknown). Any thread.
  virtual double fraction() const = 0;
};

// Each throws std::runtime_error naming the path when it cannot be opened at all.
std::unique_ptr<Source> open_payload_logs(const std::vector<std::string>& paths);
std::unique_ptr<Source> open_json_files(const std::vector<std::string>& paths);
// Reads only rows in `filter.id_range` (when set); the other filters are applied by the caller.
std::unique_ptr<Source> open_database(const std::string& path, const Filter& filter);

}  // namespace webhook::cli::replay
