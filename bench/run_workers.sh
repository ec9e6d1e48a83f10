#!/usr/bin/env bash
# bench/run_workers.sh: the worker-pool benchmark (bench/README.md).
#
# In one run, each target with a fresh receiver (fresh database in a temp dir, payload log on,
# logging.level warn, workers.threads 4) on 127.0.0.1:
#   (a) log:     COUNT deliveries sent as fast as webhook-bench-load goes, route "*" -> the
#                built-in log handler; events processed per second.
#   (b) forward: the same with the forward handler to webhook-bench-downstream (a local server
#                that answers 200 and checks the Standard Webhooks signature).
#   (c) steady:  RATE deliveries/s (below capacity) for STEADY_SECONDS, forward handler; per
#                event the time from the acknowledgement (the 200 arriving at the load generator)
#                to the forwarded request arriving at the downstream, p50/p90/p99/max, and the
#                receiver's webhook_dispatch_delay_seconds histogram.
#   (a2), (b2):  the pool alone: the database of (a) / (b) cut to its first BACKLOG events, all
#                back to pending, a fresh receiver on it, nothing sent; events processed per
#                second while it drains that backlog.
#   (d) hot:     HOT_COUNT deliveries of only HOT_ENTITIES transactions, log handler (events of
#                one entity run one at a time), next to (d0) the same number of deliveries of
#                distinct transactions: the cost of the per-entity ordering.
# Every delivery of (a)-(c) and (d0) belongs to its own transaction. Prints a markdown report
# and writes it to bench/results/<date>-workers.md.
#
# Settings (environment):
#   BENCH_COUNT=20000           deliveries in (a) and (b)
#   BENCH_CONNECTIONS=32        load generator connections in (a), (b), (d)
#   BENCH_RATE=auto             (c): deliveries per second (auto: half of what (b) processed
#                               while ingesting, rounded down to 10/s, at most 500/s) ...
#   BENCH_STEADY_SECONDS=10     ... for this long
#   BENCH_STEADY_CONNECTIONS=64 (c): connections (each sends when its delivery falls due; many,
#                               so that a slow acknowledgement does not hold up the schedule)
#   BENCH_BACKLOG=5000          (a2), (b2): pending events (the first of (a) / (b)); 0 skips them
#   BENCH_HOT_ENTITIES=10       (d): transactions; 0 skips (d) and (d0)
#   BENCH_HOT_COUNT=2000        (d), (d0): deliveries
#   BENCH_WORKER_THREADS=4      receiver workers.threads (the default)
#   BENCH_IO_THREADS=2          receiver server.io_threads (the default)
#   BENCH_DOWNSTREAM_THREADS=2  webhook-bench-downstream I/O threads
#   BENCH_DRAIN_TIMEOUT=180     seconds to wait, after the last acknowledgement, for processing
#   BENCH_PAUSE=3               seconds of rest between targets
#   BENCH_NOTE                  free text added to the report's notes
#   BENCH_BUILD_DIR=build/release  where the binaries are (built there unless BENCH_SKIP_BUILD=1)
#   BENCH_SKIP_BUILD=1          use the binaries already built in BENCH_BUILD_DIR
#   BENCH_RESULTS_DIR           default bench/results; BENCH_KEEP_TMP=1 keeps the temp dir
# Traffic goes only to 127.0.0.1; every process started here is stopped by its PID.
set -Eeuo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

COUNT="${BENCH_COUNT:-20000}"
CONNECTIONS="${BENCH_CONNECTIONS:-32}"
RATE="${BENCH_RATE:-auto}"
RATE_CAP=500
STEADY_SECONDS="${BENCH_STEADY_SECONDS:-10}"
STEADY_CONNECTIONS="${BENCH_STEADY_CONNECTIONS:-64}"
BACKLOG="${BENCH_BACKLOG:-5000}"
HOT_ENTITIES="${BENCH_HOT_ENTITIES:-10}"
HOT_COUNT="${BENCH_HOT_COUNT:-2000}"
WORKER_THREADS="${BENCH_WORKER_THREADS:-4}"
IO_THREADS="${BENCH_IO_THREADS:-2}"
DOWNSTREAM_THREADS="${BENCH_DOWNSTREAM_THREADS:-2}"
DRAIN_TIMEOUT="${BENCH_DRAIN_TIMEOUT:-180}"
PAUSE="${BENCH_PAUSE:-3}"
RESULTS_DIR="${BENCH_RESULTS_DIR:-bench/results}"
JOBS="${BENCH_JOBS:-2}"
BUILD_DIR="${BENCH_BUILD_DIR:-build/release}"
BUILD_PATH="$ROOT/$BUILD_DIR"
# Throw-away keys, known to the tools and the receiver only. Never real ones.
KEY="whsec_bench_not_a_secret_0123456789"
FORWARD_SECRET="whsec_YmVuY2gtZm9yd2FyZC1ub3QtYS1yZWFsLXNlY3JldCE="

BENCH_NAME="bench/run_workers.sh"
# shellcheck source=bench/lib.sh
. "$ROOT/bench/lib.sh"

for v in COUNT CONNECTIONS STEADY_SECONDS STEADY_CONNECTIONS BACKLOG HOT_ENTITIES HOT_COUNT \
         WORKER_THREADS IO_THREADS DOWNSTREAM_THREADS DRAIN_TIMEOUT PAUSE; do
  case "${!v}" in *[!0-9]* | "") die "BENCH_$v must be a non-negative integer" ;; esac
done
if [ "$COUNT" -lt 1 ] || [ "$COUNT" -gt 1000000 ]; then die "BENCH_COUNT must be 1 - 1000000"; fi
if [ "$BACKLOG" -gt "$COUNT" ]; then die "BENCH_BACKLOG must be 0 - BENCH_COUNT"; fi
case "$RATE" in
  auto) ;;
  *[!0-9]* | "" | 0) die "BENCH_RATE must be auto or a positive integer" ;;
esac
if [ "$STEADY_SECONDS" -lt 1 ] || [ "$STEADY_SECONDS" -gt 600 ]; then die "BENCH_STEADY_SECONDS must be 1 - 600"; fi
if [ "$RATE" = auto ]; then MAX_STEADY_COUNT=$(( RATE_CAP * STEADY_SECONDS )); else MAX_STEADY_COUNT=$(( RATE * STEADY_SECONDS )); fi
[ "$MAX_STEADY_COUNT" -le 1000000 ] || die "BENCH_RATE * BENCH_STEADY_SECONDS must be <= 1000000"
if [ "$HOT_ENTITIES" -gt 0 ] && { [ "$HOT_COUNT" -lt "$HOT_ENTITIES" ] || [ "$HOT_COUNT" -gt 1000000 ]; }; then
  die "BENCH_HOT_COUNT must be BENCH_HOT_ENTITIES - 1000000"
fi

for tool in curl sqlite3 cmake awk sort; do
  command -v "$tool" >/dev/null || die "$tool not found (make deps installs the packages)"
done

# ---- build --------------------------------------------------------------------------------------
TOOLS=(webhook-bench-deliveries webhook-bench-downstream webhook-bench-load)
[ "${BENCH_SKIP_BUILD:-0}" = 1 ] || build_tools webhook-receiver "${TOOLS[@]}"
RECEIVER="$BUILD_PATH/webhook-receiver"
GENERATOR="$BUILD_PATH/bench/webhook-bench-deliveries"
DOWNSTREAM="$BUILD_PATH/bench/webhook-bench-downstream"
LOADER="$BUILD_PATH/bench/webhook-bench-load"
for bin in "$RECEIVER" "$GENERATOR" "$DOWNSTREAM" "$LOADER"; do
  [ -x "$bin" ] || die "$bin not built"
done

WORK="$(mktemp -d "${TMPDIR:-/tmp}/webhook-bench-workers.XXXXXX")"

# ---- deliveries ---------------------------------------------------------------------------------
MAX_UNIQUE=$(( COUNT > MAX_STEADY_COUNT ? COUNT : MAX_STEADY_COUNT ))
[ "$HOT_COUNT" -le "$MAX_UNIQUE" ] || MAX_UNIQUE=$HOT_COUNT
say "generating $MAX_UNIQUE pre-signed deliveries (one transaction each)"
DELIVERY_FILE="$WORK/deliveries.tsv"
"$GENERATOR" --key "$KEY" --count "$MAX_UNIQUE" --out "$DELIVERY_FILE" 2>"$WORK/generator.log" \
  || { cat "$WORK/generator.log" >&2; die "webhook-bench-deliveries failed"; }
MEAN_BODY="$(sed -n 's/.*mean body \([0-9]*\) bytes.*/\1/p' "$WORK/generator.log")"
HOT_FILE="$WORK/hot.tsv"
if [ "$HOT_ENTITIES" -gt 0 ]; then
  say "generating $HOT_COUNT pre-signed deliveries of $HOT_ENTITIES transactions"
  "$GENERATOR" --key "$KEY" --count "$HOT_COUNT" --entities "$HOT_ENTITIES" \
      --out "$HOT_FILE" 2>"$WORK/entity-generator.log" \
    || { cat "$WORK/entity-generator.log" >&2; die "webhook-bench-deliveries --entities failed"; }
fi

# ---- machine description ------------------------------------------------------------------------
describe_machine
DEFAULT_IDLE_POLL="$(sed -n 's/.*milliseconds idle_poll{\([0-9]*\)}.*/\1/p' include/webhook/worker/dispatcher.hpp | head -1)"
DEFAULT_CLAIM_BATCH="$(sed -n 's/.*std::size_t claim_batch = \([0-9]*\);.*/\1/p' include/webhook/worker/dispatcher.hpp | head -1)"

# ---- helpers ------------------------------------------------------------------------------------
declare -A R=()       # R[target.key] = value
declare -A BEFORE=()  # load on the machine when the target's run started
TARGETS=()
CHECK_FAILURES=()

# start_receiver DIR HANDLER [READY_PATH]: waits until READY_PATH (default /readyz) answers 200.
start_receiver() {
  local dir=$1 handler=$2 ready=${3:-/readyz} handlers_block=""
  if [ "$handler" = forward ]; then
    handlers_block="\"handlers\": { \"downstream\": { \"type\": \"forward\",
      \"url\": \"http://127.0.0.1:$DOWNSTREAM_PORT/hook\", \"secret_env\": \"BENCH_FORWARD_SECRET\",
      \"timeout_ms\": 10000 } },"
    handler=downstream
  fi
  cat >"$dir/config.json" <<EOF
// Generated by bench/run_workers.sh: production settings except paths, port, log level, routes.
{
  "server": { "listen": "127.0.0.1:0", "io_threads": $IO_THREADS },
  "storage": { "sqlite_path": "$dir/inbox.db" },
  "payload_log": { "path": "$dir/payloads.jsonl" },
  "logging": { "level": "warn" },
  "workers": { "threads": $WORKER_THREADS },
  "routes": [ { "match": "*", "handlers": ["$handler"] } ],
  $handlers_block
}
EOF
  launch_receiver "$dir" "$ready" BENCH_FORWARD_SECRET="$FORWARD_SECRET"
}

# ---- one target ---------------------------------------------------------------------------------
# run_target NAME HANDLER(log|forward) FILE COUNT RATE(0 = as fast as possible) CONNECTIONS [BACKLOG_OF]
# With BACKLOG_OF (a finished target's name) nothing is sent: the receiver starts on a copy of
# that target's database in which every event was put back to pending (a backlog of COUNT events
# that the pool drains with no ingest going on).
run_target() {
  local t=$1 handler=$2 file=$3 count=$4 rate=$5 conns=$6 backlog_of=${7:-} dir="$WORK/$1"
  mkdir -p "$dir"
  R[$t.handler]=$handler R[$t.count]=$count R[$t.rate]=$rate R[$t.connections]=$conns
  R[$t.mode]=$( [ -n "$backlog_of" ] && echo backlog || echo ingest )
  BEFORE[$t]="$(load_now), $(dsync_rate) dsync/s"
  if [ -n "$backlog_of" ]; then
    sqlite3 "$WORK/$backlog_of/inbox.db" ".backup '$dir/inbox.db'"
    sqlite3 "$dir/inbox.db" "DELETE FROM events WHERE id NOT IN (SELECT id FROM events ORDER BY id LIMIT $count);
                             UPDATE events SET status = 'pending', attempts = 0, next_attempt_at_ms = 0,
                               last_error = NULL WHERE status IN ('done', 'unhandled', 'dead');"
    local pending
    pending="$(sqlite3 "$dir/inbox.db" "SELECT count(*) FROM events WHERE status = 'pending';")"
    [ "$pending" = "$count" ] || die "$t: $pending pending events in the copy of $backlog_of, expected $count"
  fi
  DOWNSTREAM_PID=""
  if [ "$handler" = forward ]; then start_downstream "$dir"; fi
  local r_ticks0=0 d_ticks0=0 t0
  t0="$(now_ms)"
  [ -z "$DOWNSTREAM_PID" ] || d_ticks0="$(cpu_ticks "$DOWNSTREAM_PID")"
  # A receiver draining a backlog may fail its storage probe (write lock busy): /healthz then.
  start_receiver "$dir" "$handler" "$( [ -n "$backlog_of" ] && echo /healthz || echo /readyz)"
  local url="http://127.0.0.1:$RECEIVER_PORT/webhooks"
  local load_timeout=$(( rate > 0 ? count / rate + 120 : 600 ))

  local load_pid=""
  if [ -z "$backlog_of" ]; then
    say "$t: $count deliveries, $( [ "$rate" = 0 ] && echo "as fast as possible" || echo "$rate/s"), $conns connections, handler $handler"
    r_ticks0="$(cpu_ticks "$RECEIVER_PID")"
    [ -z "$DOWNSTREAM_PID" ] || d_ticks0="$(cpu_ticks "$DOWNSTREAM_PID")"
    t0="$(now_ms)"
    "$LOADER" --url "$url" --deliveries "$file" --count "$count" --connections "$conns" \
        --rate "$rate" --timeout-s "$load_timeout" --out "$dir/acks.csv" \
        >"$dir/load.out" 2>"$dir/load.log" &
    load_pid=$!
    PIDS+=("$load_pid")
  else
    say "$t: draining a backlog of $count pending events (copy of $backlog_of), handler $handler"
  fi

  # Poll /metrics every 100 ms until every acknowledged event is finished (or the drain timeout).
  local load_rc="" expected="" loaded_at="" fin=0 done_n=0 now complete=0 line
  if [ -n "$backlog_of" ]; then load_rc=none expected=$count loaded_at="$t0"; fi
  : >"$dir/progress.txt"
  while :; do
    now="$(now_ms)"
    read -r fin done_n < <(curl -s --max-time 2 "http://127.0.0.1:$RECEIVER_PORT/metrics" 2>/dev/null \
                             | finished_from_metrics)
    echo "$now $done_n $fin" >>"$dir/progress.txt"
    if [ -z "$load_rc" ] && ! kill -0 "$load_pid" 2>/dev/null; then
      load_rc=0
      wait "$load_pid" || load_rc=$?
      forget_pid "$load_pid"
      loaded_at="$now"
      line="$(grep '^LOAD_SUMMARY ' "$dir/load.out" || true)"
      [ -n "$line" ] || { cat "$dir/load.log" >&2; die "$t: the load generator printed no summary (exit $load_rc)"; }
      local kv
      for kv in ${line#LOAD_SUMMARY }; do R[$t.load_${kv%%=*}]="${kv#*=}"; done
      # Every stored event, also one answered 503 (ack budget missed) but committed after all.
      expected="$(sqlite3 "$dir/inbox.db" 'SELECT count(*) FROM events;' 2>/dev/null || echo 0)"
      [ "$expected" -ge "${R[$t.load_ok200]}" ] || expected="${R[$t.load_ok200]}"
      say "$t: load done: ${R[$t.load_results]}, ${R[$t.load_ack_rate]:-} acks/s; waiting for the workers"
    fi
    kill -0 "$RECEIVER_PID" 2>/dev/null || { say "$t: the receiver died"; break; }
    if [ -n "$expected" ]; then
      if [ "$fin" -ge "$expected" ]; then complete=1; break; fi
      if [ $(( now - loaded_at )) -gt $(( DRAIN_TIMEOUT * 1000 )) ]; then break; fi
    fi
    sleep 0.1
  done
  local t1
  t1="$(now_ms)"
  R[$t.complete]=$complete
  R[$t.polled_done_ms]=$now
  R[$t.load_after]="$(load_now)"
  R[$t.receiver_cpu]="$(awk -v a="$r_ticks0" -v b="$(cpu_ticks "$RECEIVER_PID")" -v hz="$CLK_TCK" \
                          -v s="$(( t1 - t0 ))" 'BEGIN { printf "%.2f", (b - a) / hz / (s / 1000) }')"
  if [ -n "$DOWNSTREAM_PID" ]; then
    R[$t.downstream_cpu]="$(awk -v a="$d_ticks0" -v b="$(cpu_ticks "$DOWNSTREAM_PID")" -v hz="$CLK_TCK" \
                              -v s="$(( t1 - t0 ))" 'BEGIN { printf "%.2f", (b - a) / hz / (s / 1000) }')"
  fi
  curl -s --max-time 5 "http://127.0.0.1:$RECEIVER_PORT/metrics" >"$dir/metrics.txt" || true

  # Stop: the receiver first (its exit code must be 0), then the downstream (writes its CSV).
  stop_pid "$RECEIVER_PID" 60
  R[$t.exit]=$STOP_RC
  if [ "$STOP_RC" != 0 ]; then
    tail -20 "$dir/receiver.log" >&2
    CHECK_FAILURES+=("$t: the receiver exited with $STOP_RC after SIGTERM (expected 0)")
  fi
  if [ -n "$DOWNSTREAM_PID" ]; then
    stop_pid "$DOWNSTREAM_PID" 30
    [ "$STOP_RC" = 0 ] || CHECK_FAILURES+=("$t: the downstream exited with $STOP_RC")
    line="$(grep '^DOWNSTREAM_SUMMARY ' "$dir/downstream.out" || true)"
    for kv in ${line#DOWNSTREAM_SUMMARY }; do R[$t.ds_${kv%%=*}]="${kv#*=}"; done
  fi

  R[$t.log_errors]="$(grep -c ' error ' "$dir/receiver.log" || true)"
  R[$t.log_error_kinds]="$(grep ' error ' "$dir/receiver.log" | sed -E 's/^[^ ]+ error //; s/ [a-z_]+=.*//' \
                            | sort | uniq -c | sort -rn \
                            | awk '{ n = $1; $1 = ""; sub(/^ /, ""); printf "%s\"%s\" ×%d", (NR > 1 ? ", " : ""), $0, n }' || true)"

  # ---- numbers, from the database (exact times) and the tools' CSVs -------------------------
  local db="$dir/inbox.db"
  R[$t.rows]="$(sqlite3 "$db" 'SELECT count(*) FROM events;')"
  R[$t.statuses]="$(sqlite3 "$db" "SELECT group_concat(status || ':' || n, ', ') FROM
                      (SELECT status, count(*) AS n FROM events GROUP BY status ORDER BY status);")"
  R[$t.done]="$(sqlite3 "$db" "SELECT count(*) FROM events WHERE status = 'done';")"
  R[$t.retried_attempts]="$(sqlite3 "$db" "SELECT coalesce(sum(attempts - 1), 0) FROM events WHERE status = 'done';")"
  R[$t.last_done_ms]="$(sqlite3 "$db" "SELECT max(updated_at_ms) FROM events WHERE status = 'done';")"
  R[$t.first_done_ms]="$(sqlite3 "$db" "SELECT min(updated_at_ms) FROM events WHERE status = 'done';")"
  if [ -z "$backlog_of" ]; then
    # processed/s: done events / (last one done - first acknowledgement)
    local first_ack=${R[$t.load_first_ack_ms]} last_ack=${R[$t.load_last_ack_ms]}
    R[$t.done_by_last_ack]="$(sqlite3 "$db" "SELECT count(*) FROM events WHERE status = 'done' AND updated_at_ms <= ${last_ack%.*};")"
    R[$t.proc_rate]="$(awk -v n="${R[$t.done]}" -v a="$first_ack" -v b="${R[$t.last_done_ms]:-0}" \
                         'BEGIN { s = (b - a) / 1000; if (s > 0) printf "%.1f", n / s; else print "-" }')"
    R[$t.proc_span_s]="$(awk -v a="$first_ack" -v b="${R[$t.last_done_ms]:-0}" 'BEGIN { printf "%.2f", (b - a) / 1000 }')"
    R[$t.ingest_span_s]="$(awk -v a="$first_ack" -v b="$last_ack" 'BEGIN { printf "%.2f", (b - a) / 1000 }')"
    R[$t.drain_s]="$(awk -v a="$last_ack" -v b="${R[$t.last_done_ms]:-0}" 'BEGIN { printf "%.2f", (b - a) / 1000 }')"
  else
    # processed/s: (done events - 1) / (last one done - first one done); nothing else runs.
    R[$t.proc_rate]="$(awk -v n="${R[$t.done]}" -v a="${R[$t.first_done_ms]:-0}" -v b="${R[$t.last_done_ms]:-0}" \
                         'BEGIN { s = (b - a) / 1000; if (s > 0) printf "%.1f", (n - 1) / s; else print "-" }')"
    R[$t.proc_span_s]="$(awk -v a="${R[$t.first_done_ms]:-0}" -v b="${R[$t.last_done_ms]:-0}" 'BEGIN { printf "%.2f", (b - a) / 1000 }')"
    R[$t.done_by_last_ack]="-" R[$t.ingest_span_s]="-" R[$t.drain_s]="-"
  fi
  # The rate between the 10th and the 90th percentile of completion times (no start or tail).
  R[$t.proc_rate_mid]="$(sqlite3 "$db" "SELECT updated_at_ms FROM events WHERE status = 'done' ORDER BY updated_at_ms;" \
    | awk '{ v[NR] = $1 } END { if (NR < 10) { print "-"; exit } a = v[int(NR * 0.1) + 1]; b = v[int(NR * 0.9)]
             if (b > a) printf "%.1f", (int(NR * 0.9) - int(NR * 0.1)) / ((b - a) / 1000); else print "-" }')"
  # The rate over the first and over the last 10% of the completions.
  read_into "$t" rate_first10 rate_last10 < <(sqlite3 "$db" "SELECT updated_at_ms FROM events WHERE status = 'done' ORDER BY updated_at_ms;" \
    | awk 'function r(i, j) { return (v[j] > v[i]) ? sprintf("%.1f", (j - i) / ((v[j] - v[i]) / 1000)) : "-" }
           { v[NR] = $1 } END { if (NR < 20) { print "-\t-"; exit } k = int(NR / 10)
                                printf "%s\t%s\n", r(1, k + 1), r(NR - k, NR) }')
  R[$t.handler_mean_ms]="$(awk -v s="$(metric_sum "$dir/metrics.txt" webhook_handler_duration_seconds_sum)" \
                              -v c="$(metric_sum "$dir/metrics.txt" webhook_handler_duration_seconds_count)" \
                              'BEGIN { if (c > 0) printf "%.3f", 1000 * s / c; else print "-" }')"
  R[$t.commit_batch_mean]="$(awk -v s="$(metric_sum "$dir/metrics.txt" webhook_commit_batch_size_sum)" \
                              -v c="$(metric_sum "$dir/metrics.txt" webhook_commit_batch_size_count)" \
                              'BEGIN { if (c > 0) printf "%.1f", s / c; else print "-" }')"
  R[$t.commit_mean_ms]="$(awk -v s="$(metric_sum "$dir/metrics.txt" webhook_commit_duration_seconds_sum)" \
                              -v c="$(metric_sum "$dir/metrics.txt" webhook_commit_duration_seconds_count)" \
                              'BEGIN { if (c > 0) printf "%.2f", 1000 * s / c; else print "-" }')"
  if [ -z "$backlog_of" ]; then
    read_into "$t" dd_count dd_p50 dd_p90 dd_p99 \
      < <(histogram_quantiles "$dir/metrics.txt" webhook_dispatch_delay_seconds)
  else  # received_at_ms is the original run's: the delay would measure the pause between runs
    R[$t.dd_count]=- R[$t.dd_p50]=- R[$t.dd_p90]=- R[$t.dd_p99]=-
  fi

  # Per event: acknowledgement -> downstream arrival, and receipt (received_at_ms) -> arrival.
  if [ "$handler" = forward ] && [ -z "$backlog_of" ] && [ -s "$dir/arrivals.csv" ]; then
    sqlite3 -csv "$db" 'SELECT id, received_at_ms FROM events;' >"$dir/received.csv"
    awk -F, 'NR == FNR { if (FNR > 1 && $2 == 200 && $4 != "") ack[$4] = $6; next }
             FNR > 1 && ($1 in ack) && !($1 in seen) { seen[$1] = 1; print $2 - ack[$1] }' \
        "$dir/acks.csv" "$dir/arrivals.csv" >"$dir/ack_to_arrival.txt"
    awk -F, 'NR == FNR { rec[$1] = $2; next }
             FNR > 1 && ($1 in rec) && !($1 in seen) { seen[$1] = 1; print $2 - rec[$1] }' \
        "$dir/received.csv" "$dir/arrivals.csv" >"$dir/receipt_to_arrival.txt"
    read_into "$t" lat_n lat_p50 lat_p90 lat_p99 lat_max lat_min lat_neg \
      < <(percentiles "$dir/ack_to_arrival.txt")
    read_into "$t" rl_n rl_p50 rl_p90 rl_p99 rl_max rl_min rl_neg \
      < <(percentiles "$dir/receipt_to_arrival.txt")
    R[$t.last_arrival_ms]="${R[$t.ds_last_arrival_ms]:-}"
  fi

  # ---- checks ---------------------------------------------------------------------------------
  # Checks: nothing acknowledged is missing, everything stored was processed (and, forwarded,
  # reached the downstream once, correctly signed). A 503 is a measured outcome, not a failure:
  # it is counted in the notes (the platform would retry it after Retry-After).
  local verdict=ok rows=${R[$t.rows]}
  if [ -z "$backlog_of" ] && [ "$rows" -lt "${R[$t.load_ok200]}" ]; then
    verdict="FAIL: $rows rows for ${R[$t.load_ok200]} deliveries acknowledged"
  elif [ -n "$backlog_of" ] && [ "$rows" != "$count" ]; then
    verdict="FAIL: $rows rows for a backlog of $count"
  elif [ "$complete" != 1 ] || [ "${R[$t.done]}" != "$rows" ]; then
    verdict="FAIL: ${R[$t.done]} of $rows events done within ${DRAIN_TIMEOUT}s (${R[$t.statuses]})"
  elif [ "$handler" = forward ] && [ "${R[$t.ds_distinct_event_ids]:-}" != "$rows" ]; then
    verdict="FAIL: the downstream saw ${R[$t.ds_distinct_event_ids]:-?} distinct events of $rows"
  elif [ "$handler" = forward ] && [ "${R[$t.ds_verify_failures]:-1}" != 0 ]; then
    verdict="FAIL: ${R[$t.ds_verify_failures]:-?} forwarded requests failed the signature check"
  fi
  if [ -z "$backlog_of" ] && [ "${R[$t.load_ok200]}" != "$count" ]; then
    R[$t.non200_note]="${R[$t.load_ok200]} of $count deliveries answered 200 (${R[$t.load_results]//,/, });"
    R[$t.non200_note]+=" $rows stored (a 503 after the ack budget may still commit)"
  fi
  R[$t.check]=$verdict
  [ "$verdict" = ok ] || CHECK_FAILURES+=("$t: $verdict")
  say "$t: ${R[$t.done]} done in ${R[$t.proc_span_s]} s: ${R[$t.proc_rate]} events/s; $verdict"
  TARGETS+=("$t")
}

# ---- the run --------------------------------------------------------------------------------------
STARTED_AT="$(date -u '+%Y-%m-%d %H:%M:%S UTC')"
COMMAND="$({ env | grep -E '^BENCH_[A-Z_]+=' | grep -v -e '^BENCH_NOTE=' -e '^BENCH_FORWARD_SECRET=' | sort || true; } | tr '\n' ' ')bench/run_workers.sh"
LOAD_AT_START="$(cut -d' ' -f1-3 /proc/loadavg)"

run_target log log "$DELIVERY_FILE" "$COUNT" 0 "$CONNECTIONS"
sleep "$PAUSE"
if [ "$BACKLOG" -gt 0 ]; then
  run_target log-backlog log "" "$BACKLOG" 0 0 log
  sleep "$PAUSE"
fi
run_target forward forward "$DELIVERY_FILE" "$COUNT" 0 "$CONNECTIONS"
sleep "$PAUSE"
if [ "$BACKLOG" -gt 0 ]; then
  run_target forward-backlog forward "" "$BACKLOG" 0 0 forward
  sleep "$PAUSE"
fi
# (c) below capacity: half of what (b) processed while ingesting, at most $RATE_CAP/s.
RATE_NOTE="BENCH_RATE=$RATE"
if [ "$RATE" = auto ]; then
  RATE="$(awk -v p="${R[forward.proc_rate]:-0}" -v i="${R[forward.load_ack_rate]:-0}" -v cap="$RATE_CAP" \
            'BEGIN { c = (p < i ? p : i) / 2; r = int(c / 10) * 10; if (r > cap) r = cap; if (r < 10) r = 10; print r }')"
  RATE_NOTE="auto: half of min(ingest, processed/s) of (b), rounded down to 10/s, at most $RATE_CAP/s"
fi
STEADY_COUNT=$(( RATE * STEADY_SECONDS ))
run_target steady forward "$DELIVERY_FILE" "$STEADY_COUNT" "$RATE" "$STEADY_CONNECTIONS"
if [ "$HOT_ENTITIES" -gt 0 ]; then
  sleep "$PAUSE"
  run_target distinct-small log "$DELIVERY_FILE" "$HOT_COUNT" 0 "$CONNECTIONS"
  sleep "$PAUSE"
  run_target hot log "$HOT_FILE" "$HOT_COUNT" 0 "$CONNECTIONS"
fi
FINISHED_AT="$(date -u '+%Y-%m-%d %H:%M:%S UTC')"
LOAD_AT_END="$(cut -d' ' -f1-3 /proc/loadavg)"

# ---- report ---------------------------------------------------------------------------------------
label() {
  case $1 in
    log) echo "(a) \`log\`, $COUNT events sent as fast as possible" ;;
    log-backlog) echo "(a2) \`log\`, a backlog of $BACKLOG events, no ingest" ;;
    forward) echo "(b) \`forward\` to the local downstream, $COUNT events sent as fast as possible" ;;
    forward-backlog) echo "(b2) \`forward\`, a backlog of $BACKLOG events, no ingest" ;;
    steady) echo "(c) \`forward\`, steady $RATE/s for ${STEADY_SECONDS}s" ;;
    distinct-small) echo "(d0) \`log\`, $HOT_COUNT events sent as fast as possible" ;;
    hot) echo "(d) \`log\`, $HOT_COUNT events of $HOT_ENTITIES transactions" ;;
  esac
}
short() { label "$1" | cut -d' ' -f1; }
ms() { if [ "${1:-}" = "" ] || [ "$1" = "-" ]; then echo "-"; else echo "$(fmt "$1" 2) ms"; fi; }
secs() { if [ "${1:-}" = "" ] || [ "$1" = "-" ]; then echo "-"; else echo "$1 s"; fi; }

REPORT="$WORK/report.md"
{
  echo "# Worker-pool benchmark, $(date -u +%F)"
  echo
  echo "Command: \`$COMMAND\`. Run $STARTED_AT - $FINISHED_AT, one target after the other," \
       "${PAUSE}s apart, each with a fresh receiver and database."
  echo "Receiver: production settings (workers.threads $WORKER_THREADS, server.io_threads $IO_THREADS," \
       "payload log on, group commit max_batch default) except \`logging.level: warn\`, so neither the" \
       "\`log\` handler's line nor the per-event \"event done\" line is written (both are info):" \
       "the \`log\` handler costs next to nothing here. Route \`\"*\"\` → one handler."
  echo "Load: \`webhook-bench-load\` (bench/load.cpp) sends each delivery once over keep-alive connections" \
       "and records when its 200 arrived; deliveries pre-signed by \`webhook-bench-deliveries\` (mean body" \
       "$MEAN_BODY bytes, alternately transaction.status_changed and payment.settled, each its own" \
       "transaction, no re-sends)."
  echo
  echo "## Results"
  echo
  echo "| run | events | ingest (acks/s) | **processed/s** | processed/s, 10-90% | done by the last ack | drain after the last ack | handler mean | check |"
  echo "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |"
  for t in "${TARGETS[@]}"; do
    echo "| $(label "$t") | ${R[$t.count]} | $(fmt "${R[$t.load_ack_rate]:-}" 0) | **$(fmt "${R[$t.proc_rate]}" 0)** |" \
         "$(fmt "${R[$t.proc_rate_mid]}" 0) | ${R[$t.done_by_last_ack]} | $(secs "${R[$t.drain_s]}") |" \
         "$(ms "${R[$t.handler_mean_ms]}") | ${R[$t.check]} |"
  done
  echo
  echo "- **processed/s** = events done / (time the last one was marked done − the first acknowledgement)," \
       "from the database (\`max(updated_at_ms)\` of the done events; the first ack as the load generator saw it)." \
       "For the backlog runs (a2), (b2): (events − 1) / (last done − first done). *10-90%* is the rate between" \
       "the 10th and the 90th percentile of the completion times (no ramp-up or tail)."
  echo "- **backlog runs** (a2), (b2): the database of (a) / (b) cut to its first $BACKLOG events, all put back" \
       "to \`pending\` (sqlite3 \`DELETE\`/\`UPDATE\`), a fresh receiver started on it, nothing sent: the pool's" \
       "own rate with a full queue and no ingest competing for the database. *Details* has the rate over" \
       "the first and the last 10% of the completions (a full vs a nearly empty queue)."
  echo "- **ingest** = acknowledgements per second between the first and the last ack, while the workers run" \
       "alongside (compare \`bench/results/*-receive.md\`, which measures ingest with the \`log\` route and" \
       "32 wrk connections)."
  echo "- **done by the last ack**: events already done when the last delivery was acknowledged; the rest" \
       "was the backlog, worked off in **drain**."
  if [ "$HOT_ENTITIES" -gt 0 ]; then
    echo "- **(d) vs (d0)**: the same number of events, all in $HOT_ENTITIES transactions vs each in its own:" \
         "$(awk -v a="${R[hot.proc_rate]:-0}" -v b="${R[distinct-small.proc_rate]:-0}" \
              'BEGIN { if (a > 0 && b > 0) printf "%.2fx the processing rate", a / b; else print "n/a" }')" \
         "(events of one transaction run one at a time, in arrival order)."
  fi
  echo
  echo "### Acknowledgement → handler start, steady load (c)"
  echo
  echo "$RATE deliveries/s ($RATE_NOTE) for ${STEADY_SECONDS}s over $STEADY_CONNECTIONS connections (achieved: $(fmt "${R[steady.load_ack_rate]}" 0) acks/s;" \
       "the load generator sent p99 $(ms "${R[steady.load_lag_p99_ms]}") / max $(ms "${R[steady.load_lag_max_ms]}") behind its schedule)," \
       "\`forward\` handler. Per event, matched by event id."
  echo
  echo "| interval | events | p50 | p90 | p99 | max | min |"
  echo "| --- | ---: | ---: | ---: | ---: | ---: | ---: |"
  echo "| **ack → handler start** (200 read by the load generator → forwarded request read by the downstream) |" \
       "${R[steady.lat_n]:-0} | **$(ms "${R[steady.lat_p50]:-}")** | **$(ms "${R[steady.lat_p90]:-}")** |" \
       "**$(ms "${R[steady.lat_p99]:-}")** | **$(ms "${R[steady.lat_max]:-}")** | $(ms "${R[steady.lat_min]:-}") |"
  echo "| receipt → handler start (\`received_at_ms\` in the database → downstream arrival) |" \
       "${R[steady.rl_n]:-0} | $(ms "${R[steady.rl_p50]:-}") | $(ms "${R[steady.rl_p90]:-}") |" \
       "$(ms "${R[steady.rl_p99]:-}") | $(ms "${R[steady.rl_max]:-}") | $(ms "${R[steady.rl_min]:-}") |"
  echo "| \`webhook_dispatch_delay_seconds\` (receipt → first handler start; bucketed) | ${R[steady.dd_count]:-0} |" \
       "${R[steady.dd_p50]:-} | ${R[steady.dd_p90]:-} | ${R[steady.dd_p99]:-} | - | - |"
  echo "| send → 200 at the load generator (for reference) | ${R[steady.load_answered]:-0} |" \
       "$(ms "${R[steady.load_ack_p50_ms]:-}") | $(ms "${R[steady.load_ack_p90_ms]:-}") |" \
       "$(ms "${R[steady.load_ack_p99_ms]:-}") | $(ms "${R[steady.load_ack_max_ms]:-}") | - |"
  echo
  echo "- The downstream's arrival time stands for the handler start: it adds the forward handler's" \
       "signing and one keep-alive POST over loopback (handler mean $(ms "${R[steady.handler_mean_ms]:-}")" \
       "for the whole request/response)."
  echo "- Negative values are possible and not an error: the dispatcher is woken by the commit, the" \
       "acknowledgement is written after it, so a handler can start before the 200 has been read;" \
       "${R[steady.lat_neg]:-0} of ${R[steady.lat_n]:-0} events here."
  echo "- \`webhook_dispatch_delay_seconds\` has buckets at 0.5, 1, 2.5, 5, 10, 25, 50, 100 ms ...: its" \
       "quantiles say only which bucket holds them (\"≤ 5 ms\"). It starts at receipt, before the" \
       "commit and the ack. Times are system-clock milliseconds of one machine; all tools run on it."
  echo
  echo "## Details"
  echo
  echo "| run | ingest span | processed span | processed/s first 10% / last 10% | statuses | re-runs | commit batch mean / time mean | ack→arrival p50 / p99 | receipt→handler (bucketed) p50 / p99 | send→200 p50 / p99 / max | receiver CPU (cores) | downstream CPU | downstream (posts, distinct, verified, failures, conns) | load before → after |"
  echo "| --- | ---: | ---: | --- | --- | ---: | --- | --- | --- | --- | ---: | ---: | --- | --- |"
  for t in "${TARGETS[@]}"; do
    ds_text="-"
    if [ "${R[$t.handler]}" = forward ]; then
      ds_text="${R[$t.ds_posts]:-?}, ${R[$t.ds_distinct_event_ids]:-?}, ${R[$t.ds_verified]:-?}, ${R[$t.ds_verify_failures]:-?}, ${R[$t.ds_connections]:-?}"
    fi
    echo "| $(label "$t") | $(secs "${R[$t.ingest_span_s]}") | $(secs "${R[$t.proc_span_s]}") |" \
         "$(fmt "${R[$t.rate_first10]}" 0) / $(fmt "${R[$t.rate_last10]}" 0) | ${R[$t.statuses]} | ${R[$t.retried_attempts]} |" \
         "${R[$t.commit_batch_mean]} / $(ms "${R[$t.commit_mean_ms]}") |" \
         "$( [ "${R[$t.handler]}" = forward ] && echo "$(ms "${R[$t.lat_p50]:-}") / $(ms "${R[$t.lat_p99]:-}")" || echo "-") |" \
         "${R[$t.dd_p50]} / ${R[$t.dd_p99]} |" \
         "$(ms "${R[$t.load_ack_p50_ms]:-}") / $(ms "${R[$t.load_ack_p99_ms]:-}") / $(ms "${R[$t.load_ack_max_ms]:-}") |" \
         "${R[$t.receiver_cpu]} | ${R[$t.downstream_cpu]:--} | $ds_text | ${BEFORE[$t]} → ${R[$t.load_after]} |"
  done
  echo
  echo "re-runs = handler attempts beyond the first (retries) among the done events; receiver CPU = CPU" \
       "time of the receiver process from the first send to the last event done / that time" \
       "(2.00 = both CPUs); load before = load average, running compilers and synchronous 4 KiB" \
       "writes/s of the temp dir (dd oflag=dsync) just before the run; after = at its end."
  echo "The receiver is stopped with SIGTERM after each run (exit code: $(for t in "${TARGETS[@]}"; do printf '%s %s; ' "$t" "${R[$t.exit]}"; done | sed 's/; $//'))."
  echo
  echo "## Machine"
  echo
  echo "- CPU: $CPU_MODEL, $NPROC logical CPUs (nproc), ${CPU_MHZ:-?} MHz; virtualisation: $VIRT"
  echo "- Memory: $MEM"
  echo "- OS / kernel: $OS, $KERNEL"
  echo "- Temp dir (databases, payload logs): $FS_TYPE on $FS_SOURCE ($DISK), options $FS_OPTS;" \
       "$DSYNC_START synchronous 4 KiB writes/s at the start (dd oflag=dsync; per run under *Details*)"
  echo "- Compiler: $CXX_VERSION; build type $BUILD_TYPE ($BUILD_FLAGS), WEBHOOK_WERROR=$WERROR, build dir $BUILD_DIR"
  echo "- Tools: webhook-bench-load (1 I/O thread), webhook-bench-downstream ($DOWNSTREAM_THREADS I/O threads," \
       "Standard Webhooks check on), curl polling /metrics every 100 ms, sqlite3 CLI $SQLITE_VERSION"
  echo "- Receiver: workers.threads $WORKER_THREADS, server.io_threads $IO_THREADS, dispatcher claim_batch" \
       "${DEFAULT_CLAIM_BATCH:-?} and idle_poll ${DEFAULT_IDLE_POLL:-?} ms (compiled-in defaults), payload log on," \
       "logging.level warn; source tree $GIT_REV with $GIT_DIRTY files changed or new (work in progress)"
  echo "- Load generator, receiver and downstream all on this machine, over loopback; load average" \
       "at start $LOAD_AT_START, at the end $LOAD_AT_END"
  echo
  echo "## Notes"
  echo
  if [ -n "${BENCH_NOTE:-}" ]; then echo "- $BENCH_NOTE"; fi
  busy_runs=""
  for t in "${TARGETS[@]}"; do
    if [[ "${BEFORE[$t]}" != *", 0 cc1plus,"* ]] || [[ "${R[$t.load_after]}" != *", 0 cc1plus" ]]; then
      busy_runs+="${busy_runs:+; }$(short "$t") ${BEFORE[$t]%, * dsync/s} → ${R[$t.load_after]#load }"
    fi
  done
  if [ -n "$busy_runs" ]; then
    echo "- Other compilations were running during these runs (load average and compilers at the start →" \
         "at the end): $busy_runs. Their numbers are noisy."
  fi
  for t in "${TARGETS[@]}"; do
    if [ -n "${R[$t.non200_note]:-}" ]; then echo "- $(label "$t"): ${R[$t.non200_note]}."; fi
    if [ "${R[$t.log_errors]:-0}" != 0 ]; then
      echo "- $(label "$t"): ${R[$t.log_errors]} error lines in the receiver's log: ${R[$t.log_error_kinds]}."
    fi
  done
  for f in "${CHECK_FAILURES[@]}"; do echo "- CHECK FAILED: $f"; done
  echo "- One run per target on a shared 2-CPU machine: the receiver, the load generator and the" \
       "downstream share the CPUs with each other (and with whatever else runs); compare rates within" \
       "one report, not absolute numbers across machines."
} >"$REPORT"

mkdir -p "$RESULTS_DIR"
RESULT_FILE="$RESULTS_DIR/$(date -u +%F)-workers.md"
cp "$REPORT" "$RESULT_FILE.tmp"
mv "$RESULT_FILE.tmp" "$RESULT_FILE"
cat "$REPORT"
say "written to $RESULT_FILE"

if [ "${#CHECK_FAILURES[@]}" -gt 0 ]; then
  printf 'bench/run_workers.sh: check failed: %s\n' "${CHECK_FAILURES[@]}" >&2
  exit 1
fi
