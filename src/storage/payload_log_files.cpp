// PayloadLog's files: which file a record goes to, opening, writing whole lines, rotation, and
// what happens when a write fails (counted, logged with a throttle, reported for /readyz).

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>
#include <mutex>
#include <stdexcept>
#include <system_error>

#include "webhook/core/log_throttle.hpp"
#include "webhook/log/log.hpp"
#include "webhook/storage/payload_log.hpp"

namespace webhook::storage {
namespace {

int open_log_file(const std::string& path) {
  int fd = -1;
  do {
    fd = ::open(path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, S_IRUSR | S_IWUSR);
  } while (fd < 0 && errno == EINTR);
  return fd;
}

std::uint64_t file_size(int fd) {
  struct stat st {};
  if (::fstat(fd, &st) != 0 || st.st_size < 0) return 0;
  return static_cast<std::uint64_t>(st.st_size);
}

std::string errno_text(int error) {
  return std::error_code(error, std::generic_category()).message();
}

// Creates a missing parent directory of `path` (mode 0700: it holds payloads). Throws.
void create_parent(const std::string& path) {
  const std::filesystem::path parent = std::filesystem::path(path).parent_path();
  std::error_code ec;
  if (parent.empty() || std::filesystem::exists(parent, ec)) return;
  std::filesystem::create_directories(parent, ec);
  if (ec) {
    throw std::runtime_error("payload_log: cannot create directory " + parent.string() + ": " +
                             ec.message());
  }
  std::filesystem::permissions(parent, std::filesystem::perms::owner_all, ec);
}

}  // namespace

bool goes_to_inbox(std::string_view verification) {
  return verification == "verified" || verification == "unsigned_allowed";
}

// One log file: its rotation budget, descriptor and failure state, under its own mutex.
class PayloadLog::File {
 public:
  struct Clock {
    std::function<std::chrono::steady_clock::time_point()> now;
    std::chrono::milliseconds log_interval;
  };

  // `name` is "verified" or "unverified" (the observer's label). Throws when it cannot open.
  File(std::string name, std::string path, std::uint64_t max_bytes, unsigned max_files, Clock clock)
      : name_(std::move(name)),
        path_(std::move(path)),
        max_bytes_(max_bytes),
        max_files_(max_files == 0 ? 1 : max_files),
        clock_(std::move(clock)) {
    create_parent(path_);
    fd_ = open_log_file(path_);
    if (fd_ < 0)
      throw std::runtime_error("payload_log: cannot open " + path_ + ": " + errno_text(errno));
    size_ = file_size(fd_);
  }
  ~File() {
    if (fd_ >= 0) ::close(fd_);
  }
  File(const File&) = delete;
  File& operator=(const File&) = delete;

  const std::string& name() const { return name_; }

  // Writes `line` (ending in '\n') whole, rotating first when it would pass max_bytes. Returns
  // how many failures (0, 1 or 2: rotation and write) the observer must hear of.
  int write(std::string_view line, bool& written) {
    std::string log_line;
    bool recovered = false;  // log_line reports the recovery, not a failure
    int failures = 0;
    {
      std::lock_guard lock(mutex_);
      // A failed rotation is counted, and the line still goes to whatever file is open.
      if (fd_ >= 0 && max_bytes_ > 0 && size_ > 0 && size_ + line.size() > max_bytes_) {
        if (!rotate_locked()) {
          ++failures;
          note_failure_locked("cannot rotate " + path_ + ": " + errno_text(errno), log_line);
        }
      }
      const int error = write_locked(line);
      written = error == 0;
      if (written) {
        if (failing_ && owe_recovery_) {  // only after a logged failure: no line per flap
          log_line = "payload log: " + path_ + " is writable again after " +
                     std::to_string(run_failures_) + " failed writes";
          owe_recovery_ = false;
          recovered = true;
        }
        failing_ = false;
        run_failures_ = 0;
      } else {
        ++failures;
        failing_ = true;
        ++run_failures_;
        last_error_ = errno_text(error);
        note_failure_locked("cannot write " + path_ + ": " + last_error_, log_line);
      }
      errors_ += static_cast<std::uint64_t>(failures);
    }
    if (!log_line.empty()) {
      if (recovered) {
        log::info(log_line);
      } else {
        log::error(log_line, {.detail = "deliveries are still acknowledged once in the inbox"});
      }
    }
    return failures;
  }

  std::uint64_t errors() const {
    std::lock_guard lock(mutex_);
    return errors_;
  }

  std::string problem() const {
    std::lock_guard lock(mutex_);
    if (!failing_) return {};
    return "payload log: cannot write " + path_ + ": " + last_error_ + " (" +
           std::to_string(run_failures_) + " writes failed)";
  }

 private:
  // 0 when `line` is in the file, otherwise the errno of the failure.
  int write_locked(std::string_view line) {
    if (fd_ < 0) {  // a previous rotation could not reopen the file: try again
      fd_ = open_log_file(path_);
      if (fd_ < 0) return errno;
      size_ = file_size(fd_);
    }
    std::size_t done = 0;
    while (done < line.size()) {
      const ssize_t n = ::write(fd_, line.data() + done, line.size() - done);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) {
        const int error = n < 0 ? errno : EIO;
        // Cut a partial line back off so the file stays whole lines (best effort).
        if (done > 0) (void)::ftruncate(fd_, static_cast<off_t>(size_));
        return error;
      }
      done += static_cast<std::size_t>(n);
    }
    size_ += line.size();
    return 0;
  }

  // The throttle: a failure is logged when none was in the last interval, with the number of
  // failures the line stands for. Sets `out` to the line to log, if any.
  void note_failure_locked(const std::string& what, std::string& out) {
    const std::uint64_t n = throttle_.note(clock_.now());
    if (n == 0) return;
    out = "payload log: " + what;
    if (n > 1) out += " (" + std::to_string(n) + " failures since the last report)";
    owe_recovery_ = true;
  }

  // path -> path.1 -> ... -> path.(max_files-1); rename() over the last one drops the oldest.
  // max_files == 1: the live file is truncated instead. Returns false on any failure (errno
  // set); fd_ is then either still the live file (nothing moved) or -1 (write reopens).
  bool rotate_locked() {
    if (max_files_ <= 1) {
      if (::ftruncate(fd_, 0) != 0) return false;
      size_ = 0;
      return true;
    }
    const auto numbered = [this](unsigned i) { return path_ + "." + std::to_string(i); };
    for (unsigned i = max_files_ - 1; i > 1; --i) {
      if (::rename(numbered(i - 1).c_str(), numbered(i).c_str()) != 0 && errno != ENOENT)
        return false;
    }
    if (::rename(path_.c_str(), numbered(1).c_str()) != 0) return false;
    ::close(fd_);
    fd_ = open_log_file(path_);
    if (fd_ < 0) return false;
    size_ = file_size(fd_);
    return true;
  }

  const std::string name_;
  const std::string path_;
  const std::uint64_t max_bytes_;
  const unsigned max_files_;
  const Clock clock_;
  mutable std::mutex mutex_;
  int fd_ = -1;                     // GUARDED_BY(mutex_)
  std::uint64_t size_ = 0;          // GUARDED_BY(mutex_)
  std::uint64_t errors_ = 0;        // GUARDED_BY(mutex_)
  bool failing_ = false;            // GUARDED_BY(mutex_): the last write failed
  std::uint64_t run_failures_ = 0;  // GUARDED_BY(mutex_): failed writes since the last success
  std::string last_error_;          // GUARDED_BY(mutex_)
  bool owe_recovery_ = false;       // GUARDED_BY(mutex_): a logged failure awaits its recovery
  core::LogThrottle throttle_{clock_.log_interval};  // GUARDED_BY(mutex_)
};

PayloadLog::PayloadLog(Options options, ErrorObserver on_error)
    : on_error_(std::move(on_error)), unverified_body_bytes_(options.unverified_body_bytes) {
  File::Clock clock{options.now ? options.now : [] { return std::chrono::steady_clock::now(); },
                    options.error_log_interval};
  if (!options.path.empty()) {
    verified_ = std::make_unique<File>("verified", options.path, options.max_bytes,
                                       options.max_files, clock);
  }
  if (!options.unverified_path.empty()) {
    if (options.unverified_path == options.path) {
      throw std::runtime_error("payload_log: unverified_path must differ from path (" +
                               options.path + ")");
    }
    unverified_ =
        std::make_unique<File>("unverified", options.unverified_path, options.unverified_max_bytes,
                               options.unverified_max_files, clock);
  }
}

PayloadLog::~PayloadLog() = default;

bool PayloadLog::append(const PayloadRecord& record) noexcept {
  File* file = nullptr;
  try {
    const bool verified = goes_to_inbox(record.verification);
    file = verified ? verified_.get() : unverified_.get();
    if (file == nullptr) return true;  // that log is off
    std::string line = verified ? format_payload_line(record)
                                : format_payload_line(record, unverified_body_bytes_);
    line += '\n';
    bool written = false;
    const int failures = file->write(line, written);
    for (int i = 0; i < failures && on_error_; ++i) on_error_(file->name());
    return written;
  } catch (...) {
    try {
      if (on_error_ && file != nullptr) on_error_(file->name());
    } catch (...) {
    }
    return false;
  }
}

std::string PayloadLog::verified_line(const PayloadRecord& record) const {
  if (!verified_) return {};
  std::string line = format_payload_line(record);
  line += '\n';
  return line;
}

bool PayloadLog::append_verified(std::string_view lines) noexcept {
  if (!verified_ || lines.empty()) return true;
  try {
    bool written = false;
    const int failures = verified_->write(lines, written);
    for (int i = 0; i < failures && on_error_; ++i) on_error_(verified_->name());
    return written;
  } catch (...) {
    try {
      if (on_error_) on_error_(verified_->name());
    } catch (...) {
    }
    return false;
  }
}

std::uint64_t PayloadLog::write_errors() const {
  return (verified_ ? verified_->errors() : 0) + (unverified_ ? unverified_->errors() : 0);
}

std::string PayloadLog::problem() const {
  std::string problem = verified_ ? verified_->problem() : std::string();
  if (problem.empty() && unverified_) problem = unverified_->problem();
  return problem;
}

}  // namespace webhook::storage
