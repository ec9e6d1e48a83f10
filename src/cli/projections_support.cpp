// Helpers shared by the projection commands (see projections_support.hpp).

#include "cli/projections_support.hpp"

#include <algorithm>
#include <ostream>

#include "cli/events_support.hpp"
#include "cli/exit_codes.hpp"

namespace webhook::cli::projections_cli {
namespace {

constexpr std::int64_t kSecondMs = 1000;
constexpr std::int64_t kMinuteMs = 60 * kSecondMs;
constexpr std::int64_t kHourMs = 60 * kMinuteMs;

}  // namespace

int run_actions(std::string_view command, const ArgList& argv, Io io, const char* help,
                const std::vector<Action>& actions) {
  return guarded(io.err, command, [&] {
    std::string names;
    for (const auto& [name, run] : actions) names += (names.empty() ? "" : ", ") + name;
    if (argv.empty()) throw UsageError("needs an action (" + names + ")");
    if (argv[0] == "--help" || argv[0] == "-h" || argv[0] == "help") {
      io.out << help;
      return 0;
    }
    for (const auto& [name, run] : actions) {
      if (argv[0] == name) return run(ArgList(argv.begin() + 1, argv.end()));
    }
    throw UsageError("unknown action '" + argv[0] + "' (" + names + ")");
  });
}

std::optional<std::string> source_flag(const Args& args) {
  std::optional<std::string> source = args.get(kSourceFlag);
  if (args.has(kSourceFlag) && (!source || source->empty())) {
    throw UsageError("--source needs a source name");
  }
  return source;
}

std::string single_id(const Args& args, std::string_view action, std::string_view what) {
  const auto& ids = args.positionals();
  if (ids.size() != 1 || ids.front().empty()) {
    throw UsageError(std::string(action) + " needs exactly one " + std::string(what));
  }
  return ids.front();
}

int not_found(std::string_view command, Io io, std::string_view what, const std::string& id,
              const std::optional<std::string>& source, bool json) {
  if (json) io.out << "[]\n";
  std::string message = "no " + std::string(what) + " '" + events_cli::printable(id, 80) + "'";
  if (source) message += " in source '" + events_cli::printable(*source, 40) + "'";
  return report_failure(io.err, command, message);
}

// ---- text cells --------------------------------------------------------------------------------

std::string or_dash(std::string_view text) {
  return text.empty() ? "-" : events_cli::printable(text);
}

std::string time_cell(std::optional<std::int64_t> epoch_ms) {
  return epoch_ms ? events_cli::iso_time(*epoch_ms) : std::string(kNoTimestamp);
}

std::string amount_cell(std::string_view amount, std::string_view currency) {
  if (amount.empty() && currency.empty()) return "-";
  if (currency.empty()) return events_cli::printable(amount);
  return or_dash(amount) + " " + events_cli::printable(currency);
}

std::string latency_cell(std::optional<std::int64_t> ms) {
  if (!ms) return "-";
  if (*ms < kSecondMs) return std::to_string(std::max<std::int64_t>(*ms, 0)) + "ms";
  if (*ms < kMinuteMs) {
    const std::int64_t tenths = *ms / 100;
    return std::to_string(tenths / 10) + "." + std::to_string(tenths % 10) + "s";
  }
  return events_cli::short_age(*ms);
}

}  // namespace webhook::cli::projections_cli
