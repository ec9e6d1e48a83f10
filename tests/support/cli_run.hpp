#pragma once
// run_cli(): calls a subcommand in-process with `input` on stdin and returns its exit code and
// what it wrote to stdout and stderr. Shared by every test of the command line.
#include <sstream>
#include <string>
#include <utility>

#include "cli/commands.hpp"

namespace webhook::testing {

struct CliRun {
  int code = -1;
  std::string out;
  std::string err;
};

// `command` is called as command(Io) and returns the exit code.
template <typename Command>
CliRun run_cli(Command&& command, const std::string& input = "") {
  std::istringstream in(input);
  std::ostringstream out;
  std::ostringstream err;
  CliRun r;
  r.code = std::forward<Command>(command)(cli::Io{in, out, err});
  r.out = out.str();
  r.err = err.str();
  return r;
}

}  // namespace webhook::testing
