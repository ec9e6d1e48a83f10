#pragma once
// The subcommands of `webhook-receiver` (DESIGN.md section 4). Each takes its arguments (after
// the subcommand name) and the streams to write to, and returns the exit code:
// 0 success, 1 runtime failure, 2 usage or configuration error (one line naming the flag/key).

#include <cstdint>
#include <iosfwd>
#include <string>
#include <vector>

namespace webhook::cli {

struct Io {
  std::istream& in;
  std::ostream& out;
  std::ostream& err;
};

using ArgList = std::vector<std::string>;

int run(const ArgList& argv, Io io);  // dispatches on argv[0] (default: serve)

int cmd_serve(const ArgList& args, Io io);
int cmd_migrate(const ArgList& args, Io io);
int cmd_sign(const ArgList& args, Io io);
int cmd_verify(const ArgList& args, Io io);
int cmd_healthcheck(const ArgList& args, Io io);
int cmd_events(const ArgList& args, Io io);  // src/cli/events.cpp
int cmd_replay(const ArgList& args, Io io);  // src/cli/replay.cpp
// The projection commands (docs/operator-commands.md); the *_at variants of those that compute
// ages or windows take "now", so tests can fix it.
int cmd_payments(const ArgList& args, Io io);  // src/cli/payments.cpp
int cmd_reviews(const ArgList& args, Io io);   // src/cli/reviews.cpp
int cmd_reviews_at(const ArgList& args, Io io, std::int64_t now_ms);
int cmd_customers(const ArgList& args, Io io);  // src/cli/customers.cpp
int cmd_compare(const ArgList& args, Io io);    // src/cli/compare.cpp
int cmd_compare_at(const ArgList& args, Io io, std::int64_t now_ms);
int cmd_summary(const ArgList& args, Io io);  // src/cli/summary.cpp
int cmd_summary_at(const ArgList& args, Io io, std::int64_t now_ms);
int cmd_reconcile(const ArgList& args, Io io);  // src/cli/reconcile.cpp
int cmd_version(const ArgList& args, Io io);

}  // namespace webhook::cli
