// PostgresServer (tests/support/postgres_server.hpp): initdb, start, wait, stop by PID.

#include "support/postgres_server.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <grp.h>
#include <libpq-fe.h>
#include <netinet/in.h>
#include <pwd.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <optional>
#include <random>
#include <sstream>
#include <stdexcept>
#include <thread>
#include <vector>

namespace webhook::testing {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

constexpr const char* kBinDir = "/usr/lib/postgresql/15/bin";
constexpr auto kInitdbTimeout = std::chrono::seconds(90);
constexpr auto kReadyTimeout = std::chrono::seconds(60);
constexpr auto kStopTimeout = std::chrono::seconds(10);
constexpr int kPortAttempts = 5;

struct Account {
  uid_t uid;
  gid_t gid;
  bool switch_to;  // we are root: switch to this account in the child
};

[[noreturn]] void fail(const std::string& what) {
  throw std::runtime_error("postgres test server: " + what);
}

std::string read_tail(const std::string& path, std::size_t max_bytes = 2000) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  std::string text = ss.str();
  if (text.size() > max_bytes) text = "..." + text.substr(text.size() - max_bytes);
  return text;
}

// The account the server runs as (see the header): root switches to kUnprivilegedUser.
Account account() {
  if (::geteuid() != 0) return Account{::getuid(), ::getgid(), false};
  for (int attempt = 0; attempt < 2; ++attempt) {
    if (const passwd* pw = ::getpwnam(PostgresServer::kUnprivilegedUser)) {
      return Account{pw->pw_uid, pw->pw_gid, true};
    }
    // A concurrent useradd of the same name fails; the lookup after it then succeeds.
    const std::string cmd = std::string(
                                "useradd --system --no-create-home --home-dir /nonexistent"
                                " --shell /usr/sbin/nologin ") +
                            PostgresServer::kUnprivilegedUser + " >/dev/null 2>&1";
    [[maybe_unused]] const int rc = std::system(cmd.c_str());
  }
  if (const passwd* pw = ::getpwnam(PostgresServer::kUnprivilegedUser)) {
    return Account{pw->pw_uid, pw->pw_gid, true};
  }
  fail(std::string("cannot create the system user ") + PostgresServer::kUnprivilegedUser);
}

std::uint16_t free_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) fail("socket: " + std::string(std::strerror(errno)));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t len = sizeof addr;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    ::close(fd);
    fail("bind 127.0.0.1:0: " + std::string(std::strerror(errno)));
  }
  ::close(fd);
  return ntohs(addr.sin_port);
}

// Forks and execs argv as `who`, in `dir`, stdin /dev/null, stdout and stderr to `log`.
// Everything the child needs is prepared before fork (only async-signal-safe calls after it).
pid_t spawn(const std::vector<std::string>& args, const Account& who, const std::string& dir,
            const std::string& log, bool die_with_parent) {
  std::vector<char*> argv;
  for (const std::string& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  const std::string home = "HOME=" + dir;
  const char* env[] = {"LC_ALL=C", "PATH=/usr/bin:/bin", home.c_str(), nullptr};
  const int out = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  const int in = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  if (out < 0 || in < 0) fail("cannot open " + log);
  if (who.switch_to && ::fchown(out, who.uid, who.gid) != 0) fail("chown " + log);
  const pid_t parent = ::getpid();
  const pid_t pid = ::fork();
  if (pid < 0) fail("fork: " + std::string(std::strerror(errno)));
  if (pid == 0) {
    ::setsid();  // its own session: a terminal's ^C reaches it only through stop()
    if (::dup2(in, 0) < 0 || ::dup2(out, 1) < 0 || ::dup2(out, 2) < 0) ::_exit(126);
    if (who.switch_to) {
      if (::setgroups(0, nullptr) != 0 || ::setgid(who.gid) != 0 || ::setuid(who.uid) != 0) {
        ::_exit(126);
      }
    }
    // After setuid, which clears it; the parent may have died in the meantime.
    if (die_with_parent) {
      ::prctl(PR_SET_PDEATHSIG, SIGKILL);
      if (::getppid() != parent) ::_exit(126);
    }
    if (::chdir(dir.c_str()) != 0) ::_exit(126);
    ::execve(argv[0], argv.data(), const_cast<char* const*>(env));
    ::_exit(127);
  }
  ::close(out);
  ::close(in);
  return pid;
}

// Waits for our child `pid` up to `timeout`; its exit status, nullopt while it still runs.
std::optional<int> wait_child(pid_t pid, Clock::duration timeout) {
  const auto until = Clock::now() + timeout;
  for (;;) {
    int status = 0;
    const pid_t r = ::waitpid(pid, &status, WNOHANG);
    if (r == pid) return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    if (r < 0) return -1;  // not our child (already reaped)
    if (Clock::now() >= until) return std::nullopt;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

// For a server that is not our child: alive unless gone or a zombie awaiting its reaper.
bool alive(pid_t pid) {
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  if (!std::getline(stat, line)) return false;
  const auto close = line.rfind(')');
  return close != std::string::npos && close + 2 < line.size() && line[close + 2] != 'Z';
}

// True when `pid` runs Debian's postgres binary (a recycled PID is never signalled).
bool is_postgres(pid_t pid) {
  std::ifstream cmdline("/proc/" + std::to_string(pid) + "/cmdline");
  std::string argv0;
  std::getline(cmdline, argv0, '\0');
  return argv0 == std::string(kBinDir) + "/postgres";
}

bool ping(std::uint16_t port) {
  const std::string conninfo = "host=127.0.0.1 port=" + std::to_string(port) +
                               " dbname=postgres user=postgres connect_timeout=2";
  return PQping(conninfo.c_str()) == PQPING_OK;
}

std::string random_hex() {
  std::random_device rd;
  std::ostringstream out;
  out << std::hex << rd();
  return out.str();
}

}  // namespace

std::unique_ptr<PostgresServer> PostgresServer::start(bool die_with_parent) {
  const Account who = account();
  std::unique_ptr<PostgresServer> server(new PostgresServer());
  server->owned_ = true;
  server->is_child_ = die_with_parent;

  // 1. A private directory owned by the server's account.
  std::string pattern = (fs::temp_directory_path() / "webhook-pg-XXXXXX").string();
  if (::mkdtemp(pattern.data()) == nullptr) fail("mkdtemp: " + std::string(std::strerror(errno)));
  server->root_ = pattern;
  const std::string root = server->root_;
  if (who.switch_to && ::chown(root.c_str(), who.uid, who.gid) != 0) fail("chown " + root);
  const std::string pwfile = root + "/pwfile";
  {
    std::ofstream(pwfile) << kPassword << "\n";
    fs::permissions(pwfile, fs::perms::owner_read | fs::perms::owner_write);
    if (who.switch_to && ::chown(pwfile.c_str(), who.uid, who.gid) != 0) fail("chown pwfile");
  }

  // 2. initdb.
  const std::string initdb_log = root + "/initdb.log";
  const pid_t initdb = spawn({std::string(kBinDir) + "/initdb", "-D", root + "/data", "-U",
                              "postgres", "--pwfile=" + pwfile, "--auth-local=trust",
                              "--auth-host=scram-sha-256", "-E", "UTF8", "--locale=C", "-N"},
                             who, root, initdb_log, false);
  const std::optional<int> initdb_rc = wait_child(initdb, kInitdbTimeout);
  if (!initdb_rc) {
    ::kill(initdb, SIGKILL);
    wait_child(initdb, std::chrono::seconds(5));
    fail("initdb timed out: " + read_tail(initdb_log));
  }
  if (*initdb_rc != 0)
    fail("initdb failed (" + std::to_string(*initdb_rc) + "): " + read_tail(initdb_log));
  fs::remove(pwfile);

  // 3. postgres on a free port; a lost race for the port is retried on another.
  const std::string log = root + "/postgres.log";
  for (int attempt = 1;; ++attempt) {
    server->port_ = free_port();
    server->pid_ = spawn(
        {std::string(kBinDir) + "/postgres", "-D", root + "/data", "-k", root, "-h", "127.0.0.1",
         "-p", std::to_string(server->port_), "-c", "fsync=off", "-c", "shared_buffers=32MB"},
        who, root, log, die_with_parent);
    const auto until = Clock::now() + kReadyTimeout;
    bool ready = false;
    std::optional<int> exited;
    while (Clock::now() < until) {
      if (ping(server->port_)) {
        ready = true;
        break;
      }
      exited = wait_child(server->pid_, std::chrono::milliseconds(0));
      if (exited) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    if (ready) break;
    if (!exited) {
      server->stop();
      fail("not ready within " + std::to_string(kReadyTimeout.count()) + " s: " + read_tail(log));
    }
    server->pid_ = -1;
    const std::string tail = read_tail(log);
    if (attempt >= kPortAttempts || tail.find("could not bind") == std::string::npos) {
      server->stop();
      fail("postgres exited (" + std::to_string(*exited) + "): " + tail);
    }
  }
  // The fixture's start command exits now; its server is polled through /proc from here on.
  if (!die_with_parent) server->is_child_ = false;
  return server;
}

std::unique_ptr<PostgresServer> PostgresServer::attach(const std::string& state_file) {
  std::ifstream in(state_file);
  std::unique_ptr<PostgresServer> server(new PostgresServer());
  unsigned port = 0;
  if (!(in >> port >> server->pid_ >> server->root_)) fail("no server state in " + state_file);
  server->port_ = static_cast<std::uint16_t>(port);
  if (!alive(server->pid_) || !is_postgres(server->pid_)) {
    fail("the server of " + state_file + " (pid " + std::to_string(server->pid_) + ") is gone");
  }
  return server;
}

PostgresServer::~PostgresServer() {
  if (owned_) {
    try {
      stop();
    } catch (...) {  // a destructor never throws; stop() only throws on file system errors
    }
  }
}

void PostgresServer::save_state(const std::string& state_file) const {
  std::ofstream out(state_file + ".tmp");
  out << port_ << "\n" << pid_ << "\n" << root_ << "\n";
  out.close();
  fs::rename(state_file + ".tmp", state_file);
}

void PostgresServer::stop() {
  if (pid_ > 0) {
    const auto gone = [&](Clock::duration timeout) {
      if (is_child_) return wait_child(pid_, timeout).has_value();
      const auto until = Clock::now() + timeout;
      while (alive(pid_)) {
        if (Clock::now() >= until) return false;
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
      }
      return true;
    };
    if (is_child_ || is_postgres(pid_)) {
      // Immediate shutdown: no checkpoint. The data directory is deleted next, so there is
      // nothing to keep; a checkpoint of the hundreds of test databases took over a minute.
      ::kill(pid_, SIGQUIT);
      if (!gone(kStopTimeout)) {
        ::kill(pid_, SIGKILL);
        gone(std::chrono::seconds(5));
      }
    }
    pid_ = -1;
  }
  if (!root_.empty()) {
    std::error_code ignored;
    fs::remove_all(root_, ignored);
    root_.clear();
  }
  owned_ = false;
}

std::string PostgresServer::url(const std::string& database) const {
  return std::string("postgresql://postgres:") + kPassword + "@127.0.0.1:" + std::to_string(port_) +
         "/" + database;
}

std::string PostgresServer::create_database() {
  static std::atomic<unsigned> counter{0};
  const std::string name =
      "t_" + std::to_string(::getpid()) + "_" + std::to_string(counter++) + "_" + random_hex();
  PGconn* conn = PQconnectdb(url("postgres").c_str());
  if (PQstatus(conn) != CONNECTION_OK) {
    const std::string message = PQerrorMessage(conn);
    PQfinish(conn);
    fail("connect to create a database: " + message);
  }
  PGresult* result = PQexec(conn, ("CREATE DATABASE " + name).c_str());
  const bool ok = PQresultStatus(result) == PGRES_COMMAND_OK;
  const std::string message = ok ? "" : PQresultErrorMessage(result);
  PQclear(result);
  PQfinish(conn);
  if (!ok) fail("CREATE DATABASE " + name + ": " + message);
  return url(name);
}

PostgresServer& test_postgres() {
  static std::mutex mutex;
  static std::unique_ptr<PostgresServer> server;
  const std::lock_guard lock(mutex);
  if (!server) {
    const char* state = std::getenv("WEBHOOK_TEST_POSTGRES_STATE");
    server = state != nullptr && *state != '\0' ? PostgresServer::attach(state)
                                                : PostgresServer::start(true);
  }
  return *server;
}

}  // namespace webhook::testing
