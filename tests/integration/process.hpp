#pragma once
// Process: runs the real webhook-receiver binary for tests and stops it by PID only.
#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace webhook::testing {

class Process {
 public:
  // Starts argv[0] with `argv`, the current environment plus `env` ("NAME=value"), stdout and
  // stderr appended to `log_path`. `max_open_files`: the child's RLIMIT_NOFILE (soft and hard),
  // set before exec. `pipe_stdin`: the child's stdin is a pipe fed by write_stdin() (else it
  // inherits ours).
  Process(const std::vector<std::string>& argv, const std::vector<std::string>& env,
          const std::string& log_path, std::optional<unsigned> max_open_files = std::nullopt,
          bool pipe_stdin = false);
  ~Process();  // SIGKILL and reap if still running
  Process(const Process&) = delete;
  Process& operator=(const Process&) = delete;

  pid_t pid() const { return pid_; }
  void signal(int sig) const;
  // Waits for exit; the exit code (128+signal when killed), nullopt on timeout.
  std::optional<int> wait(std::chrono::milliseconds timeout);
  // Writes all of `text` to the child's stdin pipe; false if there is none or it broke.
  bool write_stdin(const std::string& text);
  // Closes the stdin pipe: the child reads end of file.
  void close_stdin();

 private:
  pid_t pid_ = -1;
  int stdin_fd_ = -1;  // our end of the child's stdin pipe, or -1
  bool reaped_ = false;
};

// The contents of `path` once it is non-empty and ends in a newline, within `timeout`.
std::optional<std::string> wait_for_file_line(const std::string& path,
                                              std::chrono::milliseconds timeout);

// Starts `webhook-receiver serve --config CONFIG --port-file PORT_FILE` into `proc` with `env`
// added, output appended to `log_path`, and returns the port once written (nullopt after 30 s).
std::optional<std::uint16_t> start_serving(std::unique_ptr<Process>& proc,
                                           const std::string& config,
                                           const std::vector<std::string>& env,
                                           const std::string& log_path,
                                           const std::string& port_file);

}  // namespace webhook::testing
