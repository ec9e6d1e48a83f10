#pragma once
// Shared by the projection commands (src/cli/payments.cpp, reviews.cpp, customers.cpp,
// compare.cpp; docs/operator-commands.md): the --source flag and the id argument, cells for the
// text output and the JSON writer (app/json_out.hpp). Built on events_support.hpp (database,
// times, Table, printable); errors and exit codes are cli/exit_codes.hpp's. Nothing
// here reads the clock.

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "cli/args.hpp"
#include "cli/commands.hpp"
#include "cli/events_support.hpp"
#include "webhook/app/json_out.hpp"
#include "webhook/storage/projection_queries.hpp"

namespace webhook::cli::projections_cli {

inline constexpr const char* kSourceFlag = "--source";

// --source S: nullopt when absent; an empty value is a UsageError.
std::optional<std::string> source_flag(const Args& args);

// The one positional argument (`what`: "a transaction id"); a UsageError when there is none,
// several, or it is empty.
std::string single_id(const Args& args, std::string_view action, std::string_view what);

// The not-found outcome of a `show`: "no <what> '<id>'" (and " in source 'S'") on err, exit 1;
// with --json an empty array on out as well, so scripts always read valid JSON.
int not_found(std::string_view command, Io io, std::string_view what, const std::string& id,
              const std::optional<std::string>& source, bool json);

// One action of a command ("list", "show") and what runs it on the arguments after its name.
using Action = std::pair<std::string, std::function<int(const ArgList&)>>;

// `<command> <action> ...` within guarded() (cli/exit_codes.hpp): `--help` (or no action: a usage
// error) prints `help`; an unknown action is a usage error naming the known ones.
int run_actions(std::string_view command, const ArgList& argv, Io io, const char* help,
                const std::vector<Action>& actions);

// The `show ID` action of payments, reviews and customers: --config/--db, --source, --json and
// one id (`id_name`: "transaction id"). Opens the database read-only, gets the views with
// lookup(queries, id, source) and prints them with print(out, views, json, args); none found:
// not_found() for a `noun` ("payment").
template <typename Lookup, typename Print>
int show_action(const ArgList& argv, Io io, std::string_view command, const char* help,
                std::string_view noun, std::string_view id_name, Lookup&& lookup, Print&& print) {
  const Args args(argv, {events_cli::kConfigFlag, events_cli::kDbFlag, kSourceFlag},
                  {events_cli::kJsonFlag});
  if (args.has("--help")) {
    io.out << help;
    return 0;
  }
  const std::string id = single_id(args, "show", id_name);
  const std::optional<std::string> source = source_flag(args);
  const bool json = args.has(events_cli::kJsonFlag);
  const events_cli::ProjectionsDatabase db = events_cli::open_projections(args);
  const auto views = lookup(*db.queries, id, source);
  if (views.empty()) return not_found(command, io, noun, id, source, json);
  print(io.out, views, json, args);
  return 0;
}

// ---- text cells --------------------------------------------------------------------------------

inline constexpr std::string_view kNoTimestamp = "(no timestamp)";

std::string or_dash(std::string_view text);                   // printable(text), "-" for ""
std::string time_cell(std::optional<std::int64_t> epoch_ms);  // ISO-8601, or kNoTimestamp
std::string amount_cell(std::string_view amount, std::string_view currency);  // "48000.00 ARS"
// A latency: "350ms", "2.4s", "3m 5s" (short_age beyond a minute), "-" for none.
std::string latency_cell(std::optional<std::int64_t> ms);

// ---- JSON --------------------------------------------------------------------------------------

// The JSON documents themselves are app/documents.hpp's (one renderer for the CLI and the admin
// API).
using app::JsonOut;

}  // namespace webhook::cli::projections_cli
