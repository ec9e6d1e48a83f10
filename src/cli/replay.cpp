// `replay`: sends captured deliveries again, to a receiver over HTTP or straight into a database
// (docs/replay.md).
//  1. cmd_replay() parses and checks the options (exit 2 naming the flag).
//  2. A Source (replay_sources.hpp) yields Captures: payload-log lines, JSON files or the inbox
//     of another database; unreadable input is reported and skipped.
//  3. The Filter picks captures; the rate limiter paces them.
//  4. A Sink (replay_sinks.hpp) sends each: byte-exact with its original signature, or re-signed
//     (replay_capture.hpp, prepare_outbound), and reports its result to the Reporter.
//  5. The summary goes to stdout; the exit code follows exit_code() (replay_report.hpp).

#include <unistd.h>

#include <charconv>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <thread>

#include "cli/args.hpp"
#include "cli/commands.hpp"
#include "cli/exit_codes.hpp"
#include "cli/replay_capture.hpp"
#include "cli/replay_report.hpp"
#include "cli/replay_sinks.hpp"
#include "cli/replay_sources.hpp"
#include "cli/secrets.hpp"
#include "webhook/app/config.hpp"

namespace webhook::cli {
namespace {

using namespace replay;

constexpr const char* kReplayHelp =
    "usage: webhook-receiver replay SOURCE [FILTERS] (--to URL | --into DB | --dry-run) [options]\n"
    "\n"
    "Sends captured deliveries again: byte-exact with their original signature, or re-signed.\n"
    "\n"
    "sources (one kind per run):\n"
    "  --from LOG           a payload log (JSON Lines); repeat for rotated files, oldest first\n"
    "  --from-json PATH     a directory of *.json payloads (by name) or one payload file\n"
    "  --from-db DB         the inbox of another webhook-receiver database, in id order\n"
    "\n"
    "filters (all must match; a repeated flag matches any of its values):\n"
    "  --since TIME  --until TIME   received at or after / before TIME: 2026-11-28T18:22:29Z,\n"
    "                               2026-11-28, +02:00 offsets, or Unix epoch milliseconds (UTC)\n"
    "  --source NAME                the configured source it arrived on\n"
    "  --type TYPE                  event type: exact, a prefix glob \"payment.*\", or \"*\"\n"
    "  --verification RESULT        verified, bad_signature, missing_signature, ...\n"
    "  --request-id ID              the X-Request-Id the receiver gave it\n"
    "  --event-id ID  --id-range A-B  --status STATUS   database source: ids, ids A..B, status\n"
    "\n"
    "targets:\n"
    "  --to URL             POST to a receiver. With a path every delivery goes there; without\n"
    "                       one (http://127.0.0.1:8080) each goes to its captured path, or\n"
    "                       /webhooks when it has none (JSON files, database events)\n"
    "  --into DB            store into a database (created if missing) through the same\n"
    "                       verification, quarantine and dedup as HTTP; no server needed\n"
    "  --dry-run            print what would be sent (to --to or --into, or the selection)\n"
    "\n"
    "signing:\n"
    "  (default)            the original body bytes and X-Webhook-Signature header(s): the\n"
    "                       target must share the source's secret\n"
    "  --secret S | --secret-env NAME | --secret-file F\n"
    "  --scheme header|body re-sign with that secret: header = HMAC of the exact bytes in\n"
    "                       X-Webhook-Signature; body = only the top-level \"signature\" member\n"
    "                       rebuilt. Only deliveries the source verified, and JSON files, are\n"
    "                       re-signed; anything else goes out exactly as captured\n"
    "  --into verifies with --config FILE (the configured source of the same name, keys from\n"
    "  its environment variable), else with --secret keys (an ad-hoc source; with --scheme the\n"
    "  first one signs), else stores only what the source recorded as verified, as unsigned\n"
    "  (scheme none): nothing is stored as verified that no key verified in this run\n"
    "  --as-source NAME     --into: store under this source (default: the captured one)\n"
    "  --original-time     --into: keep the captured receive time instead of now\n"
    "\n"
    "pacing and output:\n"
    "  --rate N             at most N deliveries per second (decimals allowed)\n"
    "  --concurrency N      --to: requests in parallel (default 4); the deliveries of one\n"
    "                       transaction or customer keep their order\n"
    "  --timeout MS         --to: response timeout per request (default 10000)\n"
    "  --retries N          --to: more attempts on no answer, 429, 502, 503, 504 (default 2)\n"
    "  --batch N            --into: deliveries per transaction (default 256)\n"
    "  --progress auto|bar|plain|none   a bar on a terminal, else a line every 5 s (auto)\n"
    "  --progress-interval MS           plain progress line interval (default 5000)\n"
    "  --verbose            one line per delivery and its result on stdout\n"
    "  --strict             unreadable input (malformed log lines) counts as a failure\n"
    "\n"
    "Prints: sent, accepted, duplicate, quarantined, rejected, failed. Exit codes: 0 nothing\n"
    "failed (duplicates, quarantines and rejections of deliveries the source had not verified\n"
    "either are fine), 1 something failed or a delivery the source verified was rejected,\n"
    "2 usage.\n";

const std::set<std::string> kValued = {
    "--from",         "--from-json",  "--from-db",
    "--to",           "--into",       "--config",
    "--secret",       "--secret-env", "--secret-file",
    "--scheme",       "--as-source",  "--since",
    "--until",        "--source",     "--type",
    "--verification", "--request-id", "--event-id",
    "--id-range",     "--status",     "--rate",
    "--concurrency",  "--timeout",    "--retries",
    "--batch",        "--progress",   "--progress-interval",
};
const std::set<std::string> kBooleans = {"--dry-run", "--verbose", "--strict", "--original-time"};

// Paces deliveries: the first goes at once, each next one 1/rate after the previous (no burst
// to catch up after a slow stretch).
class RateLimiter {
 public:
  explicit RateLimiter(double per_second)
      : interval_(std::chrono::duration_cast<Clock::duration>(
            std::chrono::duration<double>(1.0 / per_second))) {}
  bool must_wait() const { return Clock::now() < next_; }
  void acquire() {
    const auto now = Clock::now();
    if (now < next_) std::this_thread::sleep_until(next_);
    next_ = std::max(next_, now) + interval_;
  }

 private:
  using Clock = std::chrono::steady_clock;
  Clock::duration interval_;
  Clock::time_point next_ = Clock::now();
};

std::int64_t parse_id(const std::string& flag, const std::string& text) {
  std::int64_t id = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), id);
  if (ec != std::errc{} || end != text.data() + text.size() || id < 1) {
    throw UsageError(flag + ": bad event id '" + text + "' (a positive whole number)");
  }
  return id;
}

std::optional<std::int64_t> time_flag(const Args& args, const std::string& flag) {
  const auto text = args.get(flag);
  if (!text) return std::nullopt;
  const auto ms = parse_time_ms(*text);
  if (!ms) {
    throw UsageError(flag + ": bad time '" + *text +
                     "' (2026-11-28T18:22:29Z, 2026-11-28 or epoch milliseconds)");
  }
  return ms;
}

Filter parse_filter(const Args& args) {
  Filter f;
  f.since_ms = time_flag(args, "--since");
  f.until_ms = time_flag(args, "--until");
  f.sources = args.all("--source");
  f.types = args.all("--type");
  f.verifications = args.all("--verification");
  f.request_ids = args.all("--request-id");
  f.statuses = args.all("--status");
  for (const auto& id : args.all("--event-id")) f.event_ids.push_back(parse_id("--event-id", id));
  if (const auto range = args.get("--id-range")) {
    f.id_range = parse_id_range(*range);
    if (!f.id_range) throw UsageError("--id-range: '" + *range + "' is not A-B, A- or -B");
  }
  return f;
}

// Flags that make no sense without `needed` (named in the message).
void only_with(const Args& args, bool allowed, std::initializer_list<const char*> flags,
               const std::string& needed) {
  if (allowed) return;
  for (const char* flag : flags) {
    if (args.has(flag)) throw UsageError(std::string(flag) + " needs " + needed);
  }
}

ProgressMode progress_mode(const Args& args, const Io& io) {
  const std::string mode = args.get("--progress").value_or("auto");
  if (mode == "bar") return ProgressMode::bar;
  if (mode == "plain") return ProgressMode::plain;
  if (mode == "none") return ProgressMode::none;
  if (mode != "auto") throw UsageError("--progress must be auto, bar, plain or none");
  const bool terminal = &io.err == &std::cerr && ::isatty(::fileno(stderr)) == 1;
  return terminal ? ProgressMode::bar : ProgressMode::plain;
}

double rate_flag(const Args& args) {
  const auto text = args.get("--rate");
  if (!text) return 0;
  double rate = 0;
  const auto [end, ec] = std::from_chars(text->data(), text->data() + text->size(), rate);
  if (ec != std::errc{} || end != text->data() + text->size() || !(rate > 0) || rate > 1e6) {
    throw UsageError("--rate must be a number of deliveries per second above 0");
  }
  return rate;
}

bool same_file(const std::string& a, const std::string& b) {
  std::error_code ec1, ec2;
  const auto ca = std::filesystem::weakly_canonical(a, ec1);
  const auto cb = std::filesystem::weakly_canonical(b, ec2);
  return !ec1 && !ec2 && ca == cb;
}

int replay_main(const ArgList& argv, Io io) {
  const Args args(argv, kValued, kBooleans);
  if (args.has("--help")) {
    io.out << kReplayHelp;
    return 0;
  }
  if (!args.positionals().empty()) throw UsageError("unexpected argument " + args.positionals()[0]);

  // Source.
  const auto logs = args.all("--from");
  const auto jsons = args.all("--from-json");
  const auto dbs = args.all("--from-db");
  const int kinds = (logs.empty() ? 0 : 1) + (jsons.empty() ? 0 : 1) + (dbs.empty() ? 0 : 1);
  if (kinds == 0) throw UsageError("needs a source: --from LOG, --from-json PATH or --from-db DB");
  if (kinds > 1) throw UsageError("give one kind of source (--from, --from-json or --from-db)");
  if (dbs.size() > 1) throw UsageError("--from-db takes one database");

  const Filter filter = parse_filter(args);
  only_with(args, jsons.empty(),
            {"--since", "--until", "--source", "--verification", "--request-id"},
            "a payload log or database source (JSON files carry no such data)");
  only_with(args, !dbs.empty(), {"--event-id", "--id-range", "--status"}, "--from-db");

  // Target.
  const bool dry_run = args.has("--dry-run");
  const auto to = args.get("--to");
  const auto into = args.get("--into");
  if (to && into) throw UsageError("give --to or --into, not both");
  if (!to && !into && !dry_run)
    throw UsageError("needs a target: --to URL or --into DB (or --dry-run)");
  only_with(args, to.has_value(), {"--concurrency", "--timeout", "--retries"}, "--to");
  only_with(args, into.has_value(), {"--config", "--as-source", "--original-time", "--batch"},
            "--into");
  if (into && !dbs.empty() && same_file(*into, dbs.front())) {
    throw UsageError("--into and --from-db name the same database");
  }

  // Signing.
  const auto secrets = find_secrets(argv, kValued);
  SignPlan plan;
  if (const auto scheme = args.get("--scheme")) {
    if (*scheme == "header") {
      plan.scheme = ResignScheme::header;
    } else if (*scheme == "body") {
      plan.scheme = ResignScheme::body;
    } else {
      throw UsageError("--scheme must be header or body");
    }
    if (secrets.empty())
      throw UsageError("--scheme re-signs: give --secret, --secret-env or --secret-file");
    plan.secret = secrets.front();
  }
  if (!secrets.empty() && plan.scheme == ResignScheme::none && !into) {
    throw UsageError("a secret re-signs: give --scheme header|body");
  }
  if (!into && secrets.size() > 1) throw UsageError("re-signing takes one secret");
  if (into && args.has("--config") && !secrets.empty() && plan.scheme == ResignScheme::none) {
    throw UsageError(
        "with --config the keys come from the configuration; a secret only "
        "re-signs (--scheme header|body)");
  }

  const ProgressMode mode = progress_mode(args, io);
  const auto interval = args.get_int("--progress-interval", 100, 3600000).value_or(5000);
  const double rate = rate_flag(args);
  Reporter reporter(io.out, io.err, mode, args.has("--verbose"));

  std::unique_ptr<Sink> sink;
  if (to) {
    UrlSinkOptions o;
    o.url = *to;
    o.sign = plan;
    o.concurrency = static_cast<int>(args.get_int("--concurrency", 1, 64).value_or(4));
    o.timeout_ms = static_cast<int>(args.get_int("--timeout", 100, 600000).value_or(10000));
    o.retries = static_cast<int>(args.get_int("--retries", 0, 10).value_or(2));
    o.dry_run = dry_run;
    sink = make_url_sink(std::move(o), reporter);
  } else if (into) {
    DatabaseSinkOptions o;
    o.path = *into;
    if (const auto config = args.get("--config")) {
      o.config = app::load_config(config, app::process_environment());
    } else {
      o.keys = secrets;
    }
    o.sign = plan;
    o.as_source = args.get("--as-source").value_or("");
    o.original_time = args.has("--original-time");
    o.batch = static_cast<std::size_t>(args.get_int("--batch", 1, 100000).value_or(256));
    o.dry_run = dry_run;
    if (!o.config && o.keys.empty()) {
      reporter.note(
          "no --config or --secret: storing only deliveries the source recorded as "
          "verified, as unsigned (scheme none)");
    }
    sink = make_database_sink(std::move(o), reporter);
  } else {
    sink = make_listing_sink(plan, reporter);
  }

  std::unique_ptr<Source> source = !logs.empty()    ? open_payload_logs(logs)
                                   : !jsons.empty() ? open_json_files(jsons)
                                                    : open_database(dbs.front(), filter);
  struct StopProgress {  // before `source` goes, even when it throws
    Reporter& reporter;
    ~StopProgress() { reporter.stop_progress(); }
  } stop_progress{reporter};
  reporter.start_progress([&source] { return source->fraction(); },
                          std::chrono::milliseconds(interval));
  std::optional<RateLimiter> limiter;
  if (rate > 0) limiter.emplace(rate);
  while (auto capture = source->next(reporter)) {
    if (!filter.matches(*capture)) {
      reporter.filtered();
      continue;
    }
    if (limiter) {
      if (limiter->must_wait()) sink->flush();
      limiter->acquire();
    }
    sink->submit(std::move(*capture));
  }
  sink->finish();
  reporter.stop_progress();

  const Counts counts = reporter.counts();
  io.out << format_summary(counts, reporter.elapsed_seconds(), dry_run);
  io.out.flush();
  return exit_code(counts, args.has("--strict"));
}

}  // namespace

int cmd_replay(const ArgList& argv, Io io) {
  return guarded(io.err, "replay", [&] { return replay_main(argv, io); });
}

}  // namespace webhook::cli
