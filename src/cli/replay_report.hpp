#pragma once
// `replay`: what became of each delivery, the running counts, the progress display (a bar on a
// terminal, plain periodic lines otherwise) and the closing summary. The formatting functions are
// pure (tests/cli/replay_test.cpp); Reporter is the thread-safe tally the sinks report into.

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <iosfwd>
#include <mutex>
#include <string>
#include <thread>

namespace webhook::cli::replay {

enum class ResultKind { accepted, duplicate, quarantined, rejected, failed };
std::string_view to_string(ResultKind k);

struct DeliveryResult {
  ResultKind kind = ResultKind::failed;
  // A rejection of a delivery the source had not verified either (the receiver rejected it
  // then, the target rejects it now): reported, not a failure.
  bool expected = false;
  std::string detail;  // "401 invalid_signature", "connection refused", ...
  std::int64_t event_id = 0;
};

struct Counts {
  std::uint64_t accepted = 0;
  std::uint64_t duplicate = 0;
  std::uint64_t quarantined = 0;
  std::uint64_t rejected = 0;
  std::uint64_t rejected_expected = 0;  // part of `rejected`
  std::uint64_t failed = 0;
  std::uint64_t skipped = 0;   // unreadable input: malformed payload-log lines, unreadable files
  std::uint64_t filtered = 0;  // read, not selected by the filters
  std::uint64_t dry_run = 0;   // shown by --dry-run, not sent

  std::uint64_t sent() const { return accepted + duplicate + quarantined + rejected + failed; }
  void add(const DeliveryResult& r);
};

// Exit code of a run: 1 when anything failed, when a rejection was not expected (the source had
// verified the delivery, or it was re-signed or hand-made), or with `strict` when input was
// skipped; 0 otherwise.
int exit_code(const Counts& counts, bool strict);

// "sent 12, accepted 8, duplicate 2, quarantined 1, rejected 1, failed 0" and the detail lines.
std::string format_summary(const Counts& counts, double elapsed_seconds, bool dry_run);
// One plain progress line: "replay: 1200 sent (accepted 1190, ...), 41%, 812/s".
// `fraction` < 0 when the total is unknown.
std::string format_progress_line(const Counts& counts, double fraction, double per_second);
// A terminal bar of `width` columns for the bar itself, without "\r" or colours.
std::string format_progress_bar(const Counts& counts, double fraction, double per_second,
                                int width);

enum class ProgressMode { none, bar, plain };

// The tally, the problem lines and the progress display. Every write to `err` goes through the
// one mutex, so lines from worker threads and the progress thread never interleave.
class Reporter {
 public:
  using FractionFn = std::function<double()>;  // the source's progress, < 0 unknown

  Reporter(std::ostream& out, std::ostream& err, ProgressMode mode, bool verbose);
  ~Reporter();  // stop_progress()
  Reporter(const Reporter&) = delete;
  Reporter& operator=(const Reporter&) = delete;

  // Starts the progress thread (bar: every 200 ms; plain: every `plain_interval`).
  void start_progress(FractionFn fraction,
                      std::chrono::milliseconds plain_interval = std::chrono::seconds(5));
  void stop_progress();

  // One delivery's result; `what` names it ("payloads.jsonl:7 request_id=req-7").
  void result(const std::string& what, const DeliveryResult& r);
  void skipped(const std::string& where, const std::string& why);
  void filtered();
  void dry_run_line(const std::string& line);  // to `out`
  void note(const std::string& line);          // to `err`

  Counts counts() const;
  double elapsed_seconds() const;

 private:
  void write_err_locked(const std::string& line);
  void draw_locked(bool final);
  void progress_loop(std::chrono::milliseconds interval);

  std::ostream& out_;
  std::ostream& err_;
  const ProgressMode mode_;
  const bool verbose_;
  const std::chrono::steady_clock::time_point started_ = std::chrono::steady_clock::now();
  FractionFn fraction_;

  mutable std::mutex mutex_;
  std::condition_variable wake_;
  Counts counts_;           // GUARDED_BY(mutex_)
  bool bar_drawn_ = false;  // GUARDED_BY(mutex_)
  bool stopping_ = false;   // GUARDED_BY(mutex_)
  std::thread progress_;
};

}  // namespace webhook::cli::replay
