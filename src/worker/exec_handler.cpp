// The "exec" handler (see the header for the contract). posix_spawnp() starts the child without
// running any of our code between fork and exec; everything it needs (argv, envp, file actions)
// is prepared before the call. The parent then multiplexes stdin and stderr with poll() so a
// child that reads nothing, or writes a lot, never blocks us beyond the timeout.

#include "webhook/worker/exec_handler.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <exception>
#include <stdexcept>
#include <string_view>
#include <system_error>

extern char** environ;  // NOLINT: POSIX

namespace webhook::worker {
namespace {

using SteadyClock = std::chrono::steady_clock;

constexpr std::size_t kStderrTail = 2048;
constexpr std::size_t kWriteChunk = 64 * 1024;
constexpr std::array<std::string_view, 6> kSecretMarkers = {"SECRET",   "KEY",    "TOKEN",
                                                            "PASSWORD", "PASSWD", "CREDENTIAL"};
constexpr std::array<std::string_view, 8> kOwnVariables = {
    "WEBHOOK_EVENT_ID", "WEBHOOK_EVENT_TYPE", "WEBHOOK_ENTITY_KIND", "WEBHOOK_ENTITY_ID",
    "WEBHOOK_SOURCE",   "WEBHOOK_REQUEST_ID", "WEBHOOK_ATTEMPT",     "WEBHOOK_RECEIVED_AT_MS"};

std::string errno_text(int error) { return std::generic_category().message(error); }

// A file descriptor closed on destruction.
class Fd {
 public:
  Fd() = default;
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() { reset(); }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }
  bool open() const { return fd_ >= 0; }
  void reset(int fd = -1) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = fd;
  }
  // Moves the descriptor to 3 or above (a receiver started with 0-2 closed could otherwise get
  // them here, and the child's dup2 onto 0-2 would clobber one another). Close-on-exec stays.
  bool lift() {
    if (fd_ > 2) return true;
    const int moved = ::fcntl(fd_, F_DUPFD_CLOEXEC, 3);
    if (moved < 0) return false;
    reset(moved);
    return true;
  }

 private:
  int fd_ = -1;
};

bool is_secret_name(std::string_view name) {
  std::string upper(name);
  for (auto& c : upper) c = static_cast<char>(c >= 'a' && c <= 'z' ? c - 'a' + 'A' : c);
  return std::any_of(kSecretMarkers.begin(), kSecretMarkers.end(),
                     [&](std::string_view m) { return upper.find(m) != std::string::npos; });
}

std::vector<std::string> child_environment(const core::StoredEvent& e) {
  std::vector<std::string> env;
  for (char** p = environ; p != nullptr && *p != nullptr; ++p) {
    const std::string_view entry(*p);
    const std::string_view name = entry.substr(0, entry.find('='));
    if (is_secret_name(name)) continue;
    if (std::find(kOwnVariables.begin(), kOwnVariables.end(), name) != kOwnVariables.end()) {
      continue;
    }
    env.emplace_back(entry);
  }
  auto add = [&](std::string_view name, const std::string& value) {
    env.push_back(std::string(name) + "=" + value);
  };
  add("WEBHOOK_EVENT_ID", std::to_string(e.id));
  add("WEBHOOK_EVENT_TYPE", e.event_type);
  add("WEBHOOK_ENTITY_KIND", e.key.entity_kind);
  add("WEBHOOK_ENTITY_ID", e.key.entity_id);
  add("WEBHOOK_SOURCE", e.key.source);
  add("WEBHOOK_REQUEST_ID", e.request_id);
  add("WEBHOOK_ATTEMPT", std::to_string(e.attempts));
  add("WEBHOOK_RECEIVED_AT_MS", std::to_string(e.received_at_ms));
  return env;
}

// Null-terminated pointer array over `strings` (which must outlive it).
std::vector<char*> c_array(std::vector<std::string>& strings) {
  std::vector<char*> out;
  out.reserve(strings.size() + 1);
  for (auto& s : strings) out.push_back(s.data());
  out.push_back(nullptr);
  return out;
}

// The last kStderrTail bytes of stderr, printable: no partial UTF-8 sequence at the start, control
// characters other than tab and newline replaced, surrounding whitespace trimmed.
std::string clean_tail(std::string tail) {
  if (tail.size() > kStderrTail) tail.erase(0, tail.size() - kStderrTail);
  std::size_t start = 0;
  while (start < tail.size() && (static_cast<unsigned char>(tail[start]) & 0xC0) == 0x80) ++start;
  tail.erase(0, start);
  for (auto& c : tail) {
    const auto u = static_cast<unsigned char>(c);
    if ((u < 0x20 && c != '\n' && c != '\t') || u == 0x7f) c = '?';
  }
  const auto first = tail.find_first_not_of(" \t\n");
  if (first == std::string::npos) return {};
  const auto last = tail.find_last_not_of(" \t\n");
  return tail.substr(first, last - first + 1);
}

std::string with_tail(std::string what, const std::string& raw_tail) {
  const std::string tail = clean_tail(raw_tail);
  if (!tail.empty()) what += ": " + tail;
  return what;
}

class ExecHandler final : public Handler {
 public:
  explicit ExecHandler(ExecOptions options) : options_(std::move(options)) {}

  HandlerResult handle(const core::StoredEvent& event) override {
    try {
      return run(event);
    } catch (const std::exception& e) {
      return HandlerResult::retry(std::string("exec: ") + e.what());
    }
  }

 private:
  struct Child {
    pid_t pid = -1;  // -1 before the spawn and once reaped
    Fd stdin_w;      // our end of the child's stdin (a socket: send() never raises SIGPIPE)
    Fd stderr_r;     // read end of the child's stderr pipe

    Child() = default;
    Child(const Child&) = delete;
    Child& operator=(const Child&) = delete;
    // Only when run() leaves early (an exception): no child outlives the call unreaped.
    ~Child() {
      if (pid <= 0) return;
      ::kill(-pid, SIGKILL);
      while (::waitpid(pid, nullptr, 0) < 0 && errno == EINTR) {
      }
    }
  };

  // Starts the child; returns 0 or an errno value (exec failures included: glibc reports them).
  int spawn(const core::StoredEvent& event, Child& child) const {
    std::vector<std::string> argv_strings = options_.command;
    std::vector<std::string> env_strings = child_environment(event);
    std::vector<char*> argv = c_array(argv_strings);
    std::vector<char*> envp = c_array(env_strings);

    int sv[2];
    if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) return errno;
    child.stdin_w.reset(sv[0]);
    Fd child_stdin(sv[1]);
    int ep[2];
    if (::pipe2(ep, O_CLOEXEC) != 0) return errno;
    child.stderr_r.reset(ep[0]);
    Fd child_stderr(ep[1]);
    if (!child_stdin.lift() || !child_stderr.lift()) return errno;

    posix_spawn_file_actions_t actions;
    posix_spawnattr_t attr;
    if (const int rc = posix_spawn_file_actions_init(&actions); rc != 0) return rc;
    if (const int rc = posix_spawnattr_init(&attr); rc != 0) {
      posix_spawn_file_actions_destroy(&actions);
      return rc;
    }
    sigset_t no_signals;
    sigemptyset(&no_signals);
    sigset_t defaults;  // signals the receiver may ignore that the child must not inherit
    sigemptyset(&defaults);
    for (int sig : {SIGPIPE, SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGCHLD, SIGUSR1, SIGUSR2}) {
      sigaddset(&defaults, sig);
    }
    int rc = 0;
    auto step = [&rc](int r) {
      if (rc == 0) rc = r;
    };
    step(posix_spawn_file_actions_adddup2(&actions, child_stdin.get(), STDIN_FILENO));
    step(posix_spawn_file_actions_adddup2(&actions, child_stderr.get(), STDERR_FILENO));
    step(posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, "/dev/null", O_WRONLY, 0));
    step(posix_spawn_file_actions_addclosefrom_np(&actions, 3));
    step(posix_spawnattr_setflags(
        &attr, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF));
    step(posix_spawnattr_setpgroup(&attr, 0));  // a new group led by the child
    step(posix_spawnattr_setsigmask(&attr, &no_signals));
    step(posix_spawnattr_setsigdefault(&attr, &defaults));
    if (rc == 0) {
      rc = posix_spawnp(&child.pid, argv[0], &actions, &attr, argv.data(), envp.data());
      if (rc != 0) child.pid = -1;  // glibc reaps a child whose exec failed
    }
    posix_spawnattr_destroy(&attr);
    posix_spawn_file_actions_destroy(&actions);
    return rc;  // the child's ends close here, in the parent
  }

  HandlerResult run(const core::StoredEvent& event) const {
    const auto started = SteadyClock::now();
    Child child;
    if (const int rc = spawn(event, child); rc != 0) {
      const std::string why = "cannot run " + options_.command[0] + ": " + errno_text(rc);
      const bool hopeless = rc == ENOENT || rc == EACCES || rc == ENOEXEC || rc == ENOTDIR ||
                            rc == ELOOP || rc == ENAMETOOLONG;
      return hopeless ? HandlerResult::fail(why) : HandlerResult::retry(why);
    }
    const std::string& body = event.body;
    ::fcntl(child.stdin_w.get(), F_SETFL, O_NONBLOCK);
    ::fcntl(child.stderr_r.get(), F_SETFL, O_NONBLOCK);
    if (body.empty()) child.stdin_w.reset();

    const auto deadline = started + options_.timeout;
    std::size_t written = 0;
    std::string tail;
    // Reads one chunk of stderr into `tail`; false when nothing more is there right now (closed
    // at EOF or on an error).
    auto read_stderr = [&] {
      char buf[4096];
      const ssize_t n = ::read(child.stderr_r.get(), buf, sizeof buf);
      if (n > 0) {
        tail.append(buf, static_cast<std::size_t>(n));
        if (tail.size() > 2 * kStderrTail) tail.erase(0, tail.size() - kStderrTail);
        return true;
      }
      if (n < 0 && errno == EINTR) return true;
      if (n == 0 || errno != EAGAIN) child.stderr_r.reset();
      return false;
    };

    int status = 0;
    bool reaped = false;
    bool timed_out = false;
    for (;;) {
      const pid_t r = ::waitpid(child.pid, &status, WNOHANG);
      if (r == child.pid || (r < 0 && errno != EINTR)) {
        reaped = r == child.pid;
        child.pid = -1;
        break;
      }
      const auto now = SteadyClock::now();
      if (now >= deadline) {
        ::kill(-child.pid, SIGKILL);  // the group id is still ours: the leader is not reaped yet
        while (::waitpid(child.pid, &status, 0) < 0 && errno == EINTR) {
        }
        child.pid = -1;
        reaped = true;
        timed_out = true;
        break;
      }
      // With stderr open its EOF usually announces the exit; without, poll for it briefly.
      const auto tick = std::chrono::milliseconds(child.stderr_r.open() ? 100 : 5);
      const auto remaining = std::chrono::ceil<std::chrono::milliseconds>(deadline - now);
      pollfd fds[2];
      nfds_t n = 0;
      if (child.stdin_w.open()) fds[n++] = {child.stdin_w.get(), POLLOUT, 0};
      if (child.stderr_r.open()) fds[n++] = {child.stderr_r.get(), POLLIN, 0};
      if (::poll(fds, n, static_cast<int>(std::min(remaining, tick).count())) <= 0) continue;
      for (nfds_t i = 0; i < n; ++i) {
        if (fds[i].revents == 0) continue;
        if (fds[i].fd == child.stdin_w.get()) {
          const std::size_t len = std::min(kWriteChunk, body.size() - written);
          const ssize_t sent =
              ::send(fds[i].fd, body.data() + written, len, MSG_NOSIGNAL | MSG_DONTWAIT);
          if (sent > 0) written += static_cast<std::size_t>(sent);
          // Done, or the child stopped reading (EPIPE, ECONNRESET): it gets EOF either way.
          if (written == body.size() || (sent < 0 && errno != EAGAIN && errno != EINTR)) {
            child.stdin_w.reset();
          }
        } else {
          read_stderr();
        }
      }
    }
    // What the child wrote last, without waiting for descendants that may hold the pipe open.
    for (int i = 0; i < 64 && child.stderr_r.open() && read_stderr(); ++i) {
    }

    if (timed_out) {
      return HandlerResult::retry(
          with_tail("timed out after " + std::to_string(options_.timeout.count()) + " ms", tail));
    }
    if (!reaped) return HandlerResult::retry("exec: lost track of the child process");
    if (WIFEXITED(status)) {
      const int code = WEXITSTATUS(status);
      if (code == 0) return HandlerResult::success();
      return HandlerResult::retry(with_tail("exit " + std::to_string(code), tail));
    }
    if (WIFSIGNALED(status)) {
      const int sig = WTERMSIG(status);
      const char* abbrev = ::sigabbrev_np(sig);
      return HandlerResult::retry(with_tail("killed by signal " + std::to_string(sig) +
                                                (abbrev ? std::string(" (SIG") + abbrev + ")" : ""),
                                            tail));
    }
    return HandlerResult::retry(with_tail("exec: unexpected wait status", tail));
  }

  const ExecOptions options_;
};

}  // namespace

std::unique_ptr<Handler> make_exec_handler(ExecOptions options) {
  if (options.command.empty() || options.command.front().empty()) {
    throw std::invalid_argument("exec handler: command is empty");
  }
  if (options.timeout <= std::chrono::milliseconds::zero()) {
    throw std::invalid_argument("exec handler: timeout must be positive");
  }
  return std::make_unique<ExecHandler>(std::move(options));
}

}  // namespace webhook::worker
