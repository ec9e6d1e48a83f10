// postgres_fixture start|stop STATE_FILE: the CTest fixture of the [postgres] tests
// (tests/CMakeLists.txt). `start` starts one PostgresServer for the whole run (stopping one left
// behind by an interrupted run first) and writes STATE_FILE; `stop` stops that server by its PID
// and removes its directory and STATE_FILE. One server per run, each test its own database:
// initdb costs seconds, CREATE DATABASE milliseconds.

#include <cstdio>
#include <exception>
#include <filesystem>
#include <string>

#include "support/postgres_server.hpp"

namespace {

void stop_recorded(const std::string& state) {
  if (!std::filesystem::exists(state)) return;
  try {
    // attach() checks the PID still runs postgres; stop() signals it, waits, removes its files.
    auto server = webhook::testing::PostgresServer::attach(state);
    server->stop();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "%s (nothing to stop)\n", e.what());
  }
  std::filesystem::remove(state);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 3 || (std::string(argv[1]) != "start" && std::string(argv[1]) != "stop")) {
    std::fprintf(stderr, "usage: postgres_fixture start|stop STATE_FILE\n");
    return 2;
  }
  const std::string state = argv[2];
  try {
    stop_recorded(state);
    if (std::string(argv[1]) == "stop") return 0;
    auto server = webhook::testing::PostgresServer::start(/*die_with_parent=*/false);
    server->save_state(state);
    std::printf("postgres pid %d on 127.0.0.1:%u in %s\n", static_cast<int>(server->pid()),
                static_cast<unsigned>(server->port()), server->directory().c_str());
    server->disown();  // the server outlives this command; `stop` ends it
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "%s\n", e.what());
    return 1;
  }
}
