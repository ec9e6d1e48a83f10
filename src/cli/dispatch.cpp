// `webhook-receiver <command> ...`: picks the subcommand and runs it inside guarded(), which
// turns errors into exit codes (cli/exit_codes.hpp).
#include <iostream>
#include <map>

#include "cli/args.hpp"
#include "cli/commands.hpp"
#include "cli/exit_codes.hpp"

namespace webhook::cli {
namespace {

constexpr const char* kUsage =
    "usage: webhook-receiver <command> [options]\n"
    "\n"
    "commands:\n"
    "  serve [--config FILE]            run the service (default command)\n"
    "  migrate [--config FILE | --db PATH]\n"
    "                                   apply pending database migrations and exit\n"
    "  sign --secret S --scheme header|body FILE\n"
    "                                   print a signed delivery (curl config by default)\n"
    "  verify --secret S [--header SIG] FILE\n"
    "                                   check a captured delivery; exit 0 when authentic\n"
    "  events list|show ID|stats|retry ID...|--dead|purge --older-than D [--config F | --db P]\n"
    "                                   inspect, redrive and prune the inbox\n"
    "  summary [--json]                 per source: backlog, dead letters, settlement, reviews\n"
    "  payments show ID [--source S]    a transaction's latest status, links and history\n"
    "  reviews list|show TXID           the review queue: open reviews oldest first, age flags\n"
    "  customers show ID [--source S]   a customer's level, documentation and level history\n"
    "  compare [--a NAME] [--b NAME] [--since T] [--until T]\n"
    "                                   two sources side by side: outcomes, latency, payments\n"
    "                                   whose final status differs (docs/operator-commands.md)\n"
    "  reconcile [--transaction ID | --customer ID | --since T] [--dry-run]\n"
    "                                   re-read from the Conomy API what webhooks missed\n"
    "  replay (--from LOG | --from-json PATH | --from-db DB) (--to URL | --into DB)\n"
    "                                   send captured deliveries again (docs/replay.md)\n"
    "  healthcheck [--url URL]          exit 0 when /healthz answers 200\n"
    "  version                          version, build type, library versions\n"
    "\n"
    "Each command takes --help. Exit codes: 0 success, 1 runtime failure, 2 usage or\n"
    "configuration error.\n";

}  // namespace

int run(const ArgList& argv, Io io) {
  using Command = int (*)(const ArgList&, Io);
  static const std::map<std::string, Command> commands = {
      {"serve", cmd_serve},     {"migrate", cmd_migrate},         {"sign", cmd_sign},
      {"verify", cmd_verify},   {"healthcheck", cmd_healthcheck}, {"version", cmd_version},
      {"events", cmd_events},   {"replay", cmd_replay},           {"payments", cmd_payments},
      {"reviews", cmd_reviews}, {"customers", cmd_customers},     {"compare", cmd_compare},
      {"summary", cmd_summary}, {"reconcile", cmd_reconcile},
  };
  std::string name = "serve";
  ArgList rest = argv;
  if (!argv.empty() && argv[0].rfind("--", 0) != 0) {
    name = argv[0];
    rest.erase(rest.begin());
  } else if (!argv.empty() && (argv[0] == "--help" || argv[0] == "-h")) {
    io.out << kUsage;
    return 0;
  }
  if (name == "help") {
    io.out << kUsage;
    return 0;
  }
  auto it = commands.find(name);
  if (it == commands.end()) {
    io.err << "webhook-receiver: unknown command '" << name << "' (see webhook-receiver --help)\n";
    return kExitUsage;
  }
  return guarded(io.err, name, [&] { return it->second(rest, io); });
}

}  // namespace webhook::cli
