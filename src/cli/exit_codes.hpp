#pragma once
// The one mapping from errors to exit codes and stderr lines, for every subcommand
// (README "Command line", docs/operator-commands.md, docs/replay.md):
//   0  success
//   1  a runtime failure, or an answer that is "no": a storage error (no database at the path,
//      one not migrated, an SQLite error), no such event/id, an input that cannot be read, a
//      delivery that failed, a signature that does not verify
//   2  bad usage (UsageError) or a bad configuration (app::ConfigError): nothing was done
// Each failure is one line on stderr, "webhook-receiver <command>: <message>", with
// " (see --help)" after a usage error and "configuration: " before a configuration error.

#include <exception>
#include <functional>
#include <iosfwd>
#include <string_view>

namespace webhook::cli {

inline constexpr int kExitOk = 0;
inline constexpr int kExitFailure = 1;
inline constexpr int kExitUsage = 2;

// kExitUsage for a UsageError or an app::ConfigError, kExitFailure for any other exception.
int exit_code_for(const std::exception& e);

// Writes the one stderr line for `e` (format above) and returns exit_code_for(e).
int report_error(std::ostream& err, std::string_view command, const std::exception& e);

// Writes "webhook-receiver <command>: <message>" and returns kExitFailure: the line of a
// runtime failure that is an outcome rather than an exception ("no event 42").
int report_failure(std::ostream& err, std::string_view command, std::string_view message);

// Runs `body` and returns its exit code; an exception it throws is reported (report_error())
// instead. Every public cmd_* entry point runs inside it (through run() or on its own).
int guarded(std::ostream& err, std::string_view command, const std::function<int()>& body);

}  // namespace webhook::cli
