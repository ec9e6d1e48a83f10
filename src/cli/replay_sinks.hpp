#pragma once
// `replay`: where deliveries go, behind one small interface.
//  UrlSink: POSTs to a receiver (or any handler) over HTTP(S) with the shared HttpClient, on
//    `concurrency` lanes; deliveries about one entity share a lane, so their order is kept.
//  DatabaseSink: straight into a database through core::ingest() (the HTTP path's verification
//    and envelope rules) and SqliteInbox::store_batch() (the HTTP path's dedup), no server.
// With dry_run both print what they would do and touch nothing.

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "cli/replay_capture.hpp"
#include "cli/replay_report.hpp"
#include "webhook/app/config.hpp"

namespace webhook::cli::replay {

class Sink {
 public:
  virtual ~Sink() = default;
  // Hands one selected capture over; may block while the sink is busy.
  virtual void submit(Capture capture) = 0;
  // Called before the rate limiter sleeps: write out anything buffered.
  virtual void flush() {}
  // Waits until every submitted capture has its result reported.
  virtual void finish() = 0;
};

struct UrlSinkOptions {
  std::string url;  // with a path: every delivery goes there; without: to its captured target
  SignPlan sign;
  int concurrency = 4;
  int timeout_ms = 10000;
  int retries = 2;  // more attempts for no answer, 429, 502, 503 and 504
  bool dry_run = false;
};

struct DatabaseSinkOptions {
  std::string path;
  // Verification keys: the configured sources' (when set), else `keys` for an ad-hoc source;
  // with neither, only deliveries the source verified are stored, as unsigned (scheme none).
  std::optional<app::Config> config;
  std::vector<std::string> keys;
  SignPlan sign;
  std::string as_source;       // store under this source ("" = the capture's own)
  bool original_time = false;  // received_at_ms from the capture instead of now
  std::size_t batch = 256;     // deliveries per transaction
  bool dry_run = false;
};

// Throws UsageError for a URL that cannot be used.
std::unique_ptr<Sink> make_url_sink(UrlSinkOptions options, Reporter& reporter);
// Throws storage::StorageError when the database cannot be opened or migrated.
std::unique_ptr<Sink> make_database_sink(DatabaseSinkOptions options, Reporter& reporter);
// --dry-run without a target: lists the selected captures.
std::unique_ptr<Sink> make_listing_sink(SignPlan sign, Reporter& reporter);

// How a URL sink classifies an answer (tests/cli/replay_test.cpp).
DeliveryResult classify_response(unsigned status, const std::string& body, const std::string& error,
                                 Verdict verdict);
// "payloads.jsonl:7 request_id=req-7": how messages name a capture.
std::string describe(const Capture& capture);

}  // namespace webhook::cli::replay
