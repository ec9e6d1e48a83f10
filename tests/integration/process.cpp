#include "integration/process.hpp"

#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>

extern char** environ;

namespace webhook::testing {

Process::Process(const std::vector<std::string>& argv, const std::vector<std::string>& env,
                 const std::string& log_path, std::optional<unsigned> max_open_files,
                 bool pipe_stdin) {
  std::vector<std::string> environment;
  for (char** e = environ; *e != nullptr; ++e) environment.emplace_back(*e);
  environment.insert(environment.end(), env.begin(), env.end());
  std::vector<char*> args, envp;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  for (const auto& e : environment) envp.push_back(const_cast<char*>(e.c_str()));
  envp.push_back(nullptr);

  // Both ends close on exec: only the child's dup2 onto 0 survives into the program.
  int stdin_pipe[2] = {-1, -1};
  if (pipe_stdin && ::pipe2(stdin_pipe, O_CLOEXEC) != 0) throw std::runtime_error("pipe failed");
  pid_ = ::fork();
  if (pid_ < 0) throw std::runtime_error("fork failed");
  if (pid_ == 0) {
    if (pipe_stdin) ::dup2(stdin_pipe[0], 0);
    const int fd = ::open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0600);
    if (fd >= 0) {
      ::dup2(fd, 1);
      ::dup2(fd, 2);
      ::close(fd);
    }
    if (max_open_files) {
      const rlimit limit{*max_open_files, *max_open_files};
      if (::setrlimit(RLIMIT_NOFILE, &limit) != 0) ::_exit(126);
    }
    ::execve(args[0], args.data(), envp.data());
    ::_exit(127);
  }
  if (pipe_stdin) {
    ::close(stdin_pipe[0]);
    stdin_fd_ = stdin_pipe[1];
  }
}

Process::~Process() {
  close_stdin();
  if (pid_ > 0 && !reaped_) {
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
  }
}

void Process::signal(int sig) const {
  if (pid_ > 0 && !reaped_) ::kill(pid_, sig);
}

std::optional<int> Process::wait(std::chrono::milliseconds timeout) {
  if (reaped_) return std::nullopt;
  const auto until = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    int status = 0;
    const pid_t r = ::waitpid(pid_, &status, WNOHANG);
    if (r == pid_) {
      reaped_ = true;
      if (WIFEXITED(status)) return WEXITSTATUS(status);
      if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
      return -1;
    }
    if (std::chrono::steady_clock::now() >= until) return std::nullopt;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

bool Process::write_stdin(const std::string& text) {
  // A child that already exited would raise SIGPIPE: hold it for this thread, write, then
  // discard the one raised (if any) before unblocking, so a broken pipe is just `false`.
  sigset_t pipe_only, previous;
  sigemptyset(&pipe_only);
  sigaddset(&pipe_only, SIGPIPE);
  ::pthread_sigmask(SIG_BLOCK, &pipe_only, &previous);
  std::size_t done = 0;
  bool ok = stdin_fd_ >= 0;
  while (ok && done < text.size()) {
    const ssize_t n = ::write(stdin_fd_, text.data() + done, text.size() - done);
    if (n < 0 && errno == EINTR) continue;
    ok = n > 0;
    if (ok) done += static_cast<std::size_t>(n);
  }
  const timespec now{0, 0};
  while (::sigtimedwait(&pipe_only, nullptr, &now) == SIGPIPE) {
  }
  ::pthread_sigmask(SIG_SETMASK, &previous, nullptr);
  return ok;
}

void Process::close_stdin() {
  if (stdin_fd_ >= 0) ::close(stdin_fd_);
  stdin_fd_ = -1;
}

std::optional<std::string> wait_for_file_line(const std::string& path,
                                              std::chrono::milliseconds timeout) {
  const auto until = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < until) {
    std::ifstream in(path);
    std::stringstream s;
    s << in.rdbuf();
    const std::string text = s.str();
    if (!text.empty() && text.back() == '\n') return text.substr(0, text.size() - 1);
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return std::nullopt;
}

std::optional<std::uint16_t> start_serving(std::unique_ptr<Process>& proc,
                                           const std::string& config,
                                           const std::vector<std::string>& env,
                                           const std::string& log_path,
                                           const std::string& port_file) {
  std::remove(port_file.c_str());
  proc =
      std::make_unique<Process>(std::vector<std::string>{WEBHOOK_RECEIVER_BIN, "serve", "--config",
                                                         config, "--port-file", port_file},
                                env, log_path);
  const auto port = wait_for_file_line(port_file, std::chrono::seconds(30));
  if (!port) return std::nullopt;
  return static_cast<std::uint16_t>(std::stoi(*port));
}

}  // namespace webhook::testing
