#include "cli/replay_report.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <ostream>

namespace webhook::cli::replay {
namespace {

std::string fixed(double value, int decimals) {
  char buffer[64];
  std::snprintf(buffer, sizeof buffer, "%.*f", decimals, value);
  return buffer;
}

std::string rate_text(double per_second) {
  return fixed(per_second, per_second < 10 ? 1 : 0) + "/s";
}

std::string percent_text(double fraction) {
  return std::to_string(static_cast<int>(std::floor(std::clamp(fraction, 0.0, 1.0) * 100))) + "%";
}

}  // namespace

std::string_view to_string(ResultKind k) {
  switch (k) {
    case ResultKind::accepted:
      return "accepted";
    case ResultKind::duplicate:
      return "duplicate";
    case ResultKind::quarantined:
      return "quarantined";
    case ResultKind::rejected:
      return "rejected";
    case ResultKind::failed:
      break;
  }
  return "failed";
}

void Counts::add(const DeliveryResult& r) {
  switch (r.kind) {
    case ResultKind::accepted:
      ++accepted;
      break;
    case ResultKind::duplicate:
      ++duplicate;
      break;
    case ResultKind::quarantined:
      ++quarantined;
      break;
    case ResultKind::rejected:
      ++rejected;
      if (r.expected) ++rejected_expected;
      break;
    case ResultKind::failed:
      ++failed;
      break;
  }
}

int exit_code(const Counts& counts, bool strict) {
  if (counts.failed > 0) return 1;
  if (counts.rejected > counts.rejected_expected) return 1;
  if (strict && counts.skipped > 0) return 1;
  return 0;
}

std::string format_summary(const Counts& c, double elapsed_seconds, bool dry_run) {
  std::string s;
  if (dry_run) {
    s = "dry run: " + std::to_string(c.dry_run) + (c.dry_run == 1 ? " delivery" : " deliveries") +
        " would be sent, nothing was sent";
    if (c.failed > 0) s += ", " + std::to_string(c.failed) + " could not be prepared";
    s += '\n';
  } else {
    s = "sent " + std::to_string(c.sent()) + ", accepted " + std::to_string(c.accepted) +
        ", duplicate " + std::to_string(c.duplicate) + ", quarantined " +
        std::to_string(c.quarantined) + ", rejected " + std::to_string(c.rejected) + ", failed " +
        std::to_string(c.failed) + '\n';
    if (c.rejected_expected > 0) {
      s += "  rejected as expected (the source had not verified them either): " +
           std::to_string(c.rejected_expected) + '\n';
    }
    if (c.rejected > c.rejected_expected) {
      s += "  rejected although verified in the source, re-signed or hand-made: " +
           std::to_string(c.rejected - c.rejected_expected) + '\n';
    }
  }
  if (c.skipped > 0) {
    s += "  skipped unreadable input (see the lines above): " + std::to_string(c.skipped) + '\n';
  }
  if (c.filtered > 0) s += "  not selected by the filters: " + std::to_string(c.filtered) + '\n';
  if (!dry_run) {
    const double seconds = std::max(elapsed_seconds, 0.0);
    s += "  " + std::to_string(c.sent()) + " in " + fixed(seconds, 2) + " s";
    if (seconds > 0) s += " (" + rate_text(static_cast<double>(c.sent()) / seconds) + ")";
    s += '\n';
  }
  return s;
}

std::string format_progress_line(const Counts& c, double fraction, double per_second) {
  std::string s = "replay: " + std::to_string(c.sent()) + " sent (accepted " +
                  std::to_string(c.accepted) + ", duplicate " + std::to_string(c.duplicate) +
                  ", quarantined " + std::to_string(c.quarantined) + ", rejected " +
                  std::to_string(c.rejected) + ", failed " + std::to_string(c.failed) + ")";
  if (fraction >= 0) s += ", " + percent_text(fraction);
  s += ", " + rate_text(per_second);
  return s;
}

std::string format_progress_bar(const Counts& c, double fraction, double per_second, int width) {
  std::string s;
  if (fraction >= 0) {
    const int w = std::max(width, 1);
    const int filled =
        static_cast<int>(std::floor(std::clamp(fraction, 0.0, 1.0) * static_cast<double>(w)));
    s = "[" + std::string(static_cast<std::size_t>(filled), '#') +
        std::string(static_cast<std::size_t>(w - filled), '-') + "] ";
    std::string pct = percent_text(fraction);
    s += std::string(pct.size() < 4 ? 4 - pct.size() : 0, ' ') + pct + "  ";
  }
  s += std::to_string(c.sent()) + " sent  " +
       std::to_string(c.accepted + c.duplicate + c.quarantined) + " ok  " +
       std::to_string(c.rejected) + " rejected  " + std::to_string(c.failed) + " failed  " +
       rate_text(per_second);
  return s;
}

// ---- Reporter ---------------------------------------------------------------------------------

Reporter::Reporter(std::ostream& out, std::ostream& err, ProgressMode mode, bool verbose)
    : out_(out), err_(err), mode_(mode), verbose_(verbose) {}

Reporter::~Reporter() { stop_progress(); }

void Reporter::start_progress(FractionFn fraction, std::chrono::milliseconds plain_interval) {
  if (mode_ == ProgressMode::none || progress_.joinable()) return;
  fraction_ = std::move(fraction);
  const auto interval =
      mode_ == ProgressMode::bar ? std::chrono::milliseconds(200) : plain_interval;
  progress_ = std::thread([this, interval] { progress_loop(interval); });
}

void Reporter::stop_progress() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (!progress_.joinable()) return;
  progress_.join();
  std::lock_guard lock(mutex_);
  if (mode_ == ProgressMode::bar) draw_locked(true);
}

void Reporter::progress_loop(std::chrono::milliseconds interval) {
  std::unique_lock lock(mutex_);
  while (!stopping_) {
    if (wake_.wait_for(lock, interval, [this] { return stopping_; })) break;
    draw_locked(false);
  }
}

void Reporter::draw_locked(bool final) {
  const double fraction = fraction_ ? fraction_() : -1.0;
  const double elapsed = elapsed_seconds();
  const double rate = elapsed > 0 ? static_cast<double>(counts_.sent()) / elapsed : 0.0;
  if (mode_ == ProgressMode::bar) {
    err_ << "\r\033[K" << format_progress_bar(counts_, fraction, rate, 30);
    if (final) err_ << '\n';
    bar_drawn_ = !final;
  } else if (mode_ == ProgressMode::plain) {
    err_ << format_progress_line(counts_, fraction, rate) << '\n';
  }
  err_.flush();
}

void Reporter::write_err_locked(const std::string& line) {
  if (bar_drawn_) err_ << "\r\033[K";
  err_ << line << '\n';
  if (bar_drawn_) draw_locked(false);
  err_.flush();
}

void Reporter::result(const std::string& what, const DeliveryResult& r) {
  std::lock_guard lock(mutex_);
  counts_.add(r);
  if (r.kind == ResultKind::rejected || r.kind == ResultKind::failed) {
    std::string line = "replay: " + what + ": " + std::string(to_string(r.kind));
    if (r.kind == ResultKind::rejected) {
      line += r.expected ? " (expected: not verified in the source either)" : " (unexpected)";
    }
    if (!r.detail.empty()) line += ": " + r.detail;
    write_err_locked(line);
  }
  if (verbose_) {
    out_ << what << " -> " << to_string(r.kind);
    if (r.event_id > 0) out_ << " (event " << r.event_id << ")";
    if (!r.detail.empty()) out_ << ": " << r.detail;
    out_ << '\n';
  }
}

void Reporter::skipped(const std::string& where, const std::string& why) {
  std::lock_guard lock(mutex_);
  ++counts_.skipped;
  write_err_locked("replay: " + where + ": skipped: " + why);
}

void Reporter::filtered() {
  std::lock_guard lock(mutex_);
  ++counts_.filtered;
}

void Reporter::dry_run_line(const std::string& line) {
  std::lock_guard lock(mutex_);
  ++counts_.dry_run;
  out_ << line << '\n';
}

void Reporter::note(const std::string& line) {
  std::lock_guard lock(mutex_);
  write_err_locked("replay: " + line);
}

Counts Reporter::counts() const {
  std::lock_guard lock(mutex_);
  return counts_;
}

double Reporter::elapsed_seconds() const {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - started_).count();
}

}  // namespace webhook::cli::replay
