// args -> config -> Application -> exit code. Everything else lives in the modules.
#include <iostream>

#include "cli/commands.hpp"

int main(int argc, char** argv) {
  webhook::cli::ArgList args(argv + 1, argv + argc);
  return webhook::cli::run(args, {std::cin, std::cout, std::cerr});
}
