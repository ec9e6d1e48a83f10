#!/usr/bin/env bash
# bench/run_projections.sh: the projections benchmark (bench/README.md; issue 6's closing note).
#
# Part 1, latency (each target a fresh release receiver and database on 127.0.0.1, payload log
# on, logging.level warn, workers.threads 4; deliveries pre-signed by webhook-bench-deliveries
# with --review-percent: mostly transaction.status_changed / payment.settled, each its own
# transaction, REVIEW_PERCENT of them payment.requiresReview):
#   log-fast     routes "*" -> log: COUNT deliveries as fast as webhook-bench-load goes (the
#                cost baseline: no projections).
#   proj-fast    the default routes (customer.* -> customers, log; * -> payments, reviews, log),
#                reviews.notify unset: the same load.
#   notify-fast  the default routes and reviews.notify -> a forward handler to
#                webhook-bench-downstream: the same load.
#   log-steady, proj-steady, notify-steady
#                the same three at a steady RATE below capacity for STEADY_SECONDS.
#   Per review, exactly, from the `reviews` table: notified_at_ms - opened_received_ms (receipt of
#   the opening event -> the notification answered 200). Without notify (no notification time
#   exists) the baseline is receipt -> done of the payment.requiresReview events
#   (events.updated_at_ms - received_at_ms) and the bucketed webhook_dispatch_delay_seconds of
#   the "reviews" group (receipt -> handler start).
# Part 2, queries: webhook-bench-projection-db builds a database of EVENTS events (default one
#   million) through the real storage code, then every operator command (reviews list / show,
#   customers show, payments show, compare over 7 and 1 days; events list / stats as the
#   baseline) runs against it with the release binary, text and --json: once cold (the database
#   file dropped from the page cache first) and QUERY_RUNS times warm (median, max).
# Prints a markdown report and writes it to bench/results/<UTC date>-projections.md.
#
# Settings (environment):
#   BENCH_PARTS="latency queries"  which parts to run
#   BENCH_COUNT=10000           deliveries in the *-fast targets
#   BENCH_REVIEW_PERCENT=5      payment.requiresReview share of the deliveries (1-100)
#   BENCH_CONNECTIONS=32        load generator connections in the *-fast targets
#   BENCH_RATE=200              steady deliveries/s, or auto: half of min(ingest, processed/s) of
#                               notify-fast, rounded down to 10/s, at most 500/s (the *-fast
#                               rates swing with the backlog they build, so auto is unstable) ...
#   BENCH_STEADY_SECONDS=60     ... for this long
#   BENCH_STEADY_CONNECTIONS=64
#   BENCH_WORKER_THREADS=4, BENCH_IO_THREADS=2, BENCH_DOWNSTREAM_THREADS=2
#   BENCH_DRAIN_TIMEOUT=180     seconds to wait, after the last acknowledgement, for processing
#   BENCH_PAUSE=3               seconds of rest between targets
#   BENCH_EVENTS=1000000        events in the query database (BENCH_EVENTS=100000: a quick run)
#   BENCH_DAYS=30               ... received over this many days before now
#   BENCH_GEN_TIMEOUT=900       seconds the generator may take
#   BENCH_QUERY_RUNS=5          warm runs per command (after one cold run)
#   BENCH_SLOW_MS=200           commands slower than this (warm median) are flagged
#   BENCH_BUILD_DIR=build/release   binaries (configured like the release preset when missing)
#   BENCH_SKIP_BUILD=1          use the binaries already built there
#   BENCH_NOTE, BENCH_RESULTS_DIR (bench/results), BENCH_KEEP_TMP=1, TMPDIR
# Traffic goes only to 127.0.0.1; every process started here is stopped by its PID.
set -Eeuo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

PARTS="${BENCH_PARTS:-latency queries}"
COUNT="${BENCH_COUNT:-10000}"
REVIEW_PERCENT="${BENCH_REVIEW_PERCENT:-5}"
CONNECTIONS="${BENCH_CONNECTIONS:-32}"
RATE="${BENCH_RATE:-200}"
RATE_CAP=500
STEADY_SECONDS="${BENCH_STEADY_SECONDS:-60}"
STEADY_CONNECTIONS="${BENCH_STEADY_CONNECTIONS:-64}"
WORKER_THREADS="${BENCH_WORKER_THREADS:-4}"
IO_THREADS="${BENCH_IO_THREADS:-2}"
DOWNSTREAM_THREADS="${BENCH_DOWNSTREAM_THREADS:-2}"
DRAIN_TIMEOUT="${BENCH_DRAIN_TIMEOUT:-180}"
PAUSE="${BENCH_PAUSE:-3}"
EVENTS="${BENCH_EVENTS:-1000000}"
DAYS="${BENCH_DAYS:-30}"
GEN_TIMEOUT="${BENCH_GEN_TIMEOUT:-900}"
QUERY_RUNS="${BENCH_QUERY_RUNS:-5}"
SLOW_MS="${BENCH_SLOW_MS:-200}"
RESULTS_DIR="${BENCH_RESULTS_DIR:-bench/results}"
JOBS="${BENCH_JOBS:-2}"
BUILD_DIR="${BENCH_BUILD_DIR:-build/release}"
case "$BUILD_DIR" in /*) BUILD_PATH="$BUILD_DIR" ;; *) BUILD_PATH="$ROOT/$BUILD_DIR" ;; esac
# Throw-away keys, known to the tools and the receiver only. Never real ones.
KEY="whsec_bench_only_projections_0123456789"
FORWARD_SECRET="whsec_YmVuY2gtb25seS1wcm9qZWN0aW9ucy1ub3QtYS1zZWNyZXQ="

BENCH_NAME="bench/run_projections.sh"
# shellcheck source=bench/lib.sh
. "$ROOT/bench/lib.sh"

for v in COUNT REVIEW_PERCENT CONNECTIONS STEADY_SECONDS STEADY_CONNECTIONS WORKER_THREADS \
         IO_THREADS DOWNSTREAM_THREADS DRAIN_TIMEOUT PAUSE EVENTS DAYS GEN_TIMEOUT QUERY_RUNS SLOW_MS; do
  case "${!v}" in *[!0-9]* | "") die "BENCH_$v must be a non-negative integer" ;; esac
done
[ "$COUNT" -ge 100 ] && [ "$COUNT" -le 1000000 ] || die "BENCH_COUNT must be 100 - 1000000"
[ "$REVIEW_PERCENT" -ge 1 ] && [ "$REVIEW_PERCENT" -le 100 ] || die "BENCH_REVIEW_PERCENT must be 1 - 100"
[ "$STEADY_SECONDS" -ge 1 ] && [ "$STEADY_SECONDS" -le 600 ] || die "BENCH_STEADY_SECONDS must be 1 - 600"
[ "$EVENTS" -ge 1000 ] && [ "$EVENTS" -le 10000000 ] || die "BENCH_EVENTS must be 1000 - 10000000"
[ "$QUERY_RUNS" -ge 1 ] && [ "$QUERY_RUNS" -le 50 ] || die "BENCH_QUERY_RUNS must be 1 - 50"
case "$RATE" in
  auto) ;;
  *[!0-9]* | "" | 0) die "BENCH_RATE must be auto or a positive integer" ;;
esac
if [ "$RATE" = auto ]; then MAX_STEADY=$(( RATE_CAP * STEADY_SECONDS )); else MAX_STEADY=$(( RATE * STEADY_SECONDS )); fi
[ "$MAX_STEADY" -le 1000000 ] || die "BENCH_RATE * BENCH_STEADY_SECONDS must be <= 1000000"
want() { case " $PARTS " in *" $1 "*) return 0 ;; *) return 1 ;; esac; }
want latency || want queries || die "BENCH_PARTS names neither latency nor queries"

for tool in curl sqlite3 cmake awk sort dd timeout; do
  command -v "$tool" >/dev/null || die "$tool not found (make deps installs the packages)"
done

# ---- build --------------------------------------------------------------------------------------
TOOLS=(webhook-bench-deliveries webhook-bench-downstream webhook-bench-load webhook-bench-projection-db)
[ "${BENCH_SKIP_BUILD:-0}" = 1 ] || build_tools webhook-receiver "${TOOLS[@]}"
RECEIVER="$BUILD_PATH/webhook-receiver"
GENERATOR="$BUILD_PATH/bench/webhook-bench-deliveries"
DOWNSTREAM="$BUILD_PATH/bench/webhook-bench-downstream"
LOADER="$BUILD_PATH/bench/webhook-bench-load"
PROJECTION_DB="$BUILD_PATH/bench/webhook-bench-projection-db"
for bin in "$RECEIVER" "$GENERATOR" "$DOWNSTREAM" "$LOADER" "$PROJECTION_DB"; do
  [ -x "$bin" ] || die "$bin not built"
done

WORK="$(mktemp -d "${TMPDIR:-/tmp}/webhook-bench-projections.XXXXXX")"
describe_machine

# ---- helpers ------------------------------------------------------------------------------------
declare -A R=()       # R[target.key] = value
declare -A BEFORE=()  # load on the machine when the target's run started
TARGETS=()
CHECK_FAILURES=()

ms() { if [ "${1:-}" = "" ] || [ "$1" = "-" ]; then echo "-"; else echo "$(fmt "$1" "${2:-1}") ms"; fi; }

# start_receiver DIR MODE: log = route "*" -> log; proj = the default routes (no "routes" key);
# notify = the default routes and reviews.notify -> forward handler "operator" (the downstream).
start_receiver() {
  local dir=$1 mode=$2 routes="" extra=""
  case "$mode" in
    log) routes='"routes": [ { "match": "*", "handlers": ["log"] } ],' ;;
    proj) ;;
    notify)
      extra="\"handlers\": { \"operator\": { \"type\": \"forward\",
      \"url\": \"http://127.0.0.1:$DOWNSTREAM_PORT/operator\", \"secret_env\": \"BENCH_FORWARD_SECRET\",
      \"timeout_ms\": 10000 } },
  \"reviews\": { \"notify\": \"operator\" }," ;;
  esac
  cat >"$dir/config.json" <<EOF
// Generated by bench/run_projections.sh: production settings except paths, port, log level
// and (mode $mode) the routes / the review notification.
{
  "server": { "listen": "127.0.0.1:0", "io_threads": $IO_THREADS },
  "storage": { "sqlite_path": "$dir/inbox.db" },
  "payload_log": { "path": "$dir/payloads.jsonl" },
  "logging": { "level": "warn" },
  "workers": { "threads": $WORKER_THREADS },
  $routes
  $extra
}
EOF
  launch_receiver "$dir" /readyz BENCH_FORWARD_SECRET="$FORWARD_SECRET"
}

# ---- part 1: one latency target -----------------------------------------------------------------
# run_target NAME MODE(log|proj|notify) COUNT RATE(0 = as fast as possible) CONNECTIONS
run_target() {
  local t=$1 mode=$2 count=$3 rate=$4 conns=$5 dir="$WORK/$1"
  mkdir -p "$dir"
  R[$t.mode]=$mode R[$t.count]=$count R[$t.rate]=$rate
  BEFORE[$t]="$(load_now), $(dsync_rate) dsync/s"
  DOWNSTREAM_PID=""
  if [ "$mode" = notify ]; then start_downstream "$dir"; fi
  start_receiver "$dir" "$mode"
  local url="http://127.0.0.1:$RECEIVER_PORT/webhooks"
  local load_timeout=$(( rate > 0 ? count / rate + 120 : 600 ))
  say "$t: $count deliveries, $( [ "$rate" = 0 ] && echo "as fast as possible" || echo "$rate/s"), $conns connections, mode $mode"
  local r_ticks0 t0
  r_ticks0="$(cpu_ticks "$RECEIVER_PID")"
  t0="$(now_ms)"
  "$LOADER" --url "$url" --deliveries "$DELIVERY_FILE" --count "$count" --connections "$conns" \
      --rate "$rate" --timeout-s "$load_timeout" --out "$dir/acks.csv" >"$dir/load.out" 2>"$dir/load.log" &
  local load_pid=$!
  PIDS+=("$load_pid")

  # Poll /metrics every 100 ms until every stored event is finished (or the drain timeout).
  local load_rc="" expected="" loaded_at="" fin=0 now complete=0 line kv
  while :; do
    now="$(now_ms)"
    read -r fin _ < <(curl -s --max-time 2 "http://127.0.0.1:$RECEIVER_PORT/metrics" 2>/dev/null \
                             | finished_from_metrics)
    if [ -z "$load_rc" ] && ! kill -0 "$load_pid" 2>/dev/null; then
      load_rc=0
      wait "$load_pid" || load_rc=$?
      forget_pid "$load_pid"
      loaded_at="$now"
      line="$(grep '^LOAD_SUMMARY ' "$dir/load.out" || true)"
      [ -n "$line" ] || { cat "$dir/load.log" >&2; die "$t: the load generator printed no summary (exit $load_rc)"; }
      for kv in ${line#LOAD_SUMMARY }; do R[$t.load_${kv%%=*}]="${kv#*=}"; done
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
  R[$t.load_after]="$(load_now)"
  R[$t.receiver_ticks]=$(( $(cpu_ticks "$RECEIVER_PID") - r_ticks0 ))
  R[$t.receiver_cpu]="$(awk -v d="${R[$t.receiver_ticks]}" -v hz="$CLK_TCK" \
                          -v s="$(( t1 - t0 ))" 'BEGIN { printf "%.2f", d / hz / (s / 1000) }')"
  curl -s --max-time 5 "http://127.0.0.1:$RECEIVER_PORT/metrics" >"$dir/metrics.txt" || true

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

  # ---- numbers, from the database (exact times) -------------------------------------------------
  local db="$dir/inbox.db" first_ack=${R[$t.load_first_ack_ms]} last_ack=${R[$t.load_last_ack_ms]}
  R[$t.rows]="$(sqlite3 "$db" 'SELECT count(*) FROM events;')"
  R[$t.done]="$(sqlite3 "$db" "SELECT count(*) FROM events WHERE status = 'done';")"
  # Receiver CPU time (user + system) per event, from the first send to the last event done.
  R[$t.cpu_ms_per_event]="$(awk -v d="${R[$t.receiver_ticks]}" -v hz="$CLK_TCK" -v n="${R[$t.done]}" \
                              'BEGIN { if (n > 0) printf "%.3f", 1000 * d / hz / n; else print "-" }')"
  R[$t.statuses]="$(sqlite3 "$db" "SELECT group_concat(status || ':' || n, ', ') FROM
                      (SELECT status, count(*) AS n FROM events GROUP BY status ORDER BY status);")"
  R[$t.retried]="$(sqlite3 "$db" "SELECT coalesce(sum(attempts - 1), 0) FROM events WHERE status = 'done';")"
  R[$t.review_events]="$(sqlite3 "$db" "SELECT count(*) FROM events WHERE event_type = 'payment.requiresReview';")"
  R[$t.last_done_ms]="$(sqlite3 "$db" "SELECT max(updated_at_ms) FROM events WHERE status = 'done';")"
  R[$t.proc_rate]="$(awk -v n="${R[$t.done]}" -v a="$first_ack" -v b="${R[$t.last_done_ms]:-0}" \
                       'BEGIN { s = (b - a) / 1000; if (s > 0) printf "%.1f", n / s; else print "-" }')"
  R[$t.proc_span_s]="$(awk -v a="$first_ack" -v b="${R[$t.last_done_ms]:-0}" 'BEGIN { printf "%.2f", (b - a) / 1000 }')"
  R[$t.drain_s]="$(awk -v a="$last_ack" -v b="${R[$t.last_done_ms]:-0}" 'BEGIN { printf "%.2f", (b - a) / 1000 }')"
  sqlite3 "$db" "SELECT updated_at_ms - received_at_ms FROM events WHERE status = 'done';" >"$dir/done_all.txt"
  sqlite3 "$db" "SELECT updated_at_ms - received_at_ms FROM events WHERE status = 'done'
                 AND event_type = 'payment.requiresReview';" >"$dir/done_review.txt"
  read_into "$t" da_n da_p50 da_p90 da_p99 da_max da_min da_neg < <(percentiles "$dir/done_all.txt")
  read_into "$t" dr_n dr_p50 dr_p90 dr_p99 dr_max dr_min dr_neg < <(percentiles "$dir/done_review.txt")
  read_into "$t" dd_count dd_p50 dd_p90 dd_p99 \
    < <(histogram_quantiles "$dir/metrics.txt" webhook_dispatch_delay_seconds 'group="reviews"')
  R[$t.handler_mean_ms]="$(awk -v s="$(metric_sum "$dir/metrics.txt" webhook_handler_duration_seconds_sum)" \
                              -v c="$(metric_sum "$dir/metrics.txt" webhook_handler_duration_seconds_count)" \
                              'BEGIN { if (c > 0) printf "%.3f", 1000 * s / c; else print "-" }')"
  R[$t.review_handler_mean_ms]="$(awk -v s="$(metric_sum "$dir/metrics.txt" webhook_handler_duration_seconds_sum 'group="reviews"')" \
                              -v c="$(metric_sum "$dir/metrics.txt" webhook_handler_duration_seconds_count 'group="reviews"')" \
                              'BEGIN { if (c > 0) printf "%.3f", 1000 * s / c; else print "-" }')"
  if [ "$mode" != log ]; then
    R[$t.reviews]="$(sqlite3 "$db" 'SELECT count(*) FROM reviews;')"
    R[$t.notify_states]="$(sqlite3 "$db" "SELECT group_concat(s || ':' || n, ', ') FROM
                      (SELECT coalesce(notify_state, 'none') AS s, count(*) AS n FROM reviews GROUP BY 1 ORDER BY 1);")"
    R[$t.payments]="$(sqlite3 "$db" 'SELECT count(*) FROM payments;')"
  fi
  if [ "$mode" = notify ]; then
    # The number the issue asks for: receipt of the opening event -> notification answered 200.
    sqlite3 "$db" "SELECT notified_at_ms - opened_received_ms FROM reviews WHERE notified_at_ms IS NOT NULL;" \
      >"$dir/notify.txt"
    read_into "$t" nt_n nt_p50 nt_p90 nt_p99 nt_max nt_min nt_neg < <(percentiles "$dir/notify.txt")
    read_into "$t" nm_count nm_p50 nm_p90 nm_p99 \
      < <(histogram_quantiles "$dir/metrics.txt" webhook_review_notify_seconds)
    # Receipt -> the notification arriving at the downstream; ack (200 read) -> arrival.
    sqlite3 -csv "$db" "SELECT id, received_at_ms FROM events WHERE event_type = 'payment.requiresReview';" \
      >"$dir/received.csv"
    awk -F, 'NR == FNR { rec[$1] = $2; next }
             FNR > 1 && ($1 in rec) && !($1 in seen) { seen[$1] = 1; print $2 - rec[$1] }' \
        "$dir/received.csv" "$dir/arrivals.csv" >"$dir/receipt_to_arrival.txt"
    awk -F, 'NR == FNR { if (FNR > 1 && $2 == 200 && $4 != "") ack[$4] = $6; next }
             FNR > 1 && ($1 in ack) && !($1 in seen) { seen[$1] = 1; print $2 - ack[$1] }' \
        "$dir/acks.csv" "$dir/arrivals.csv" >"$dir/ack_to_arrival.txt"
    read_into "$t" ra_n ra_p50 ra_p90 ra_p99 ra_max ra_min ra_neg < <(percentiles "$dir/receipt_to_arrival.txt")
    read_into "$t" aa_n aa_p50 aa_p90 aa_p99 aa_max aa_min aa_neg < <(percentiles "$dir/ack_to_arrival.txt")
  fi

  # ---- checks ---------------------------------------------------------------------------------
  local verdict=ok rows=${R[$t.rows]}
  if [ "$rows" -lt "${R[$t.load_ok200]}" ]; then
    verdict="FAIL: $rows rows for ${R[$t.load_ok200]} deliveries acknowledged"
  elif [ "$complete" != 1 ] || [ "${R[$t.done]}" != "$rows" ]; then
    verdict="FAIL: ${R[$t.done]} of $rows events done within ${DRAIN_TIMEOUT}s (${R[$t.statuses]})"
  elif [ "$mode" != log ] && [ "${R[$t.reviews]}" != "${R[$t.review_events]}" ]; then
    verdict="FAIL: ${R[$t.reviews]} reviews for ${R[$t.review_events]} payment.requiresReview events"
  elif [ "$mode" = notify ] && [ "${R[$t.nt_n]}" != "${R[$t.reviews]}" ]; then
    verdict="FAIL: ${R[$t.nt_n]} of ${R[$t.reviews]} reviews notified (${R[$t.notify_states]})"
  elif [ "$mode" = notify ] && [ "${R[$t.ds_distinct_event_ids]:-}" != "${R[$t.reviews]}" ]; then
    verdict="FAIL: the downstream saw ${R[$t.ds_distinct_event_ids]:-?} distinct notifications for ${R[$t.reviews]} reviews"
  elif [ "$mode" = notify ] && [ "${R[$t.ds_verify_failures]:-1}" != 0 ]; then
    verdict="FAIL: ${R[$t.ds_verify_failures]:-?} notifications failed the signature check"
  fi
  if [ "${R[$t.load_ok200]}" != "$count" ]; then
    R[$t.non200_note]="${R[$t.load_ok200]} of $count deliveries answered 200 (${R[$t.load_results]//,/, }); $rows stored"
  fi
  R[$t.check]=$verdict
  [ "$verdict" = ok ] || CHECK_FAILURES+=("$t: $verdict")
  say "$t: ${R[$t.done]} done in ${R[$t.proc_span_s]} s: ${R[$t.proc_rate]} events/s; $verdict"
  TARGETS+=("$t")
}

# ---- part 2: timing the operator commands -------------------------------------------------------
declare -A Q=()  # Q[row.key]
QROWS=()

# Drops the database's pages from the page cache (the file is synced first; dirty pages stay).
# EVICTED: what fincore (util-linux) reports still resident afterwards, when it is installed.
EVICTED="not checked (no fincore)"
evict_db() {
  local f
  for f in "$QDB" "$QDB-wal" "$QDB-shm"; do
    [ -e "$f" ] || continue
    sync "$f" 2>/dev/null || true
    dd if="$f" iflag=nocache count=0 status=none 2>/dev/null || true
  done
  if command -v fincore >/dev/null; then
    EVICTED="$(fincore -n -b -o RES "$QDB" 2>/dev/null | tr -d ' ') bytes of the database file resident after the last eviction"
  fi
}

# run_once OUT ARGS...: runs the receiver binary with ARGS (timeout 120 s); prints "ms rc".
run_once() {
  local out=$1 t0 t1 rc=0
  shift
  t0="$(date +%s%N)"
  timeout 120 "$RECEIVER" "$@" >"$out" 2>"$out.err" || rc=$?
  t1="$(date +%s%N)"
  awk -v a="$t0" -v b="$t1" -v rc="$rc" 'BEGIN { printf "%.1f %d\n", (b - a) / 1e6, rc }'
}

# time_command ROW LABEL ARGS...: one cold run (page cache dropped), QUERY_RUNS warm runs.
time_command() {
  local row=$1 label=$2 out="$WORK/q-$1.out" ms rc warm=() rcs=""
  shift 2
  QROWS+=("$row")
  Q[$row.label]=$label
  Q[$row.cmd]="webhook-receiver $*"
  evict_db
  read -r ms rc < <(run_once "$out" "$@")
  Q[$row.cold]=$ms
  rcs="$rc"
  for _ in $(seq "$QUERY_RUNS"); do
    read -r ms rc < <(run_once "$out" "$@")
    warm+=("$ms")
    [ "$rc" = 0 ] || rcs="$rcs $rc"
  done
  Q[$row.rc]="$(echo "$rcs" | tr ' ' '\n' | sort -u | tr '\n' ' ' | sed 's/ $//')"
  local median max
  read -r median max < <(printf '%s\n' "${warm[@]}" | sort -g \
    | awk '{ v[NR] = $1 } END { m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2; printf "%.1f %.1f\n", m, v[NR] }')
  Q[$row.median]=$median Q[$row.max]=$max
  Q[$row.lines]="$(wc -l <"$out" | tr -d ' ')"
  Q[$row.bytes]="$(wc -c <"$out" | tr -d ' ')"
  Q[$row.err]="$(head -c 300 "$out.err" | tr '\n' ' ')"
  say "$label: cold ${Q[$row.cold]} ms, warm median ${Q[$row.median]} ms, max ${Q[$row.max]} ms (exit ${Q[$row.rc]})"
}

# ---- the run --------------------------------------------------------------------------------------
STARTED_AT="$(date -u '+%Y-%m-%d %H:%M:%S UTC')"
COMMAND="$({ env | grep -E '^BENCH_[A-Z_]+=' | grep -v -e '^BENCH_NOTE=' -e '^BENCH_FORWARD_SECRET=' | sort || true; } | tr '\n' ' ')bench/run_projections.sh"
LOAD_AT_START="$(cut -d' ' -f1-3 /proc/loadavg)"

if want latency; then
  MAX_DELIVERIES=$(( COUNT > MAX_STEADY ? COUNT : MAX_STEADY ))
  say "generating $MAX_DELIVERIES pre-signed deliveries ($REVIEW_PERCENT% payment.requiresReview)"
  DELIVERY_FILE="$WORK/deliveries.tsv"
  "$GENERATOR" --key "$KEY" --count "$MAX_DELIVERIES" --review-percent "$REVIEW_PERCENT" \
      --out "$DELIVERY_FILE" 2>"$WORK/generator.log" \
    || { cat "$WORK/generator.log" >&2; die "webhook-bench-deliveries failed"; }
  MEAN_BODY="$(sed -n 's/.*mean body \([0-9]*\) bytes.*/\1/p' "$WORK/generator.log")"

  run_target log-fast log "$COUNT" 0 "$CONNECTIONS"
  sleep "$PAUSE"
  run_target proj-fast proj "$COUNT" 0 "$CONNECTIONS"
  sleep "$PAUSE"
  run_target notify-fast notify "$COUNT" 0 "$CONNECTIONS"
  sleep "$PAUSE"
  RATE_NOTE="BENCH_RATE=$RATE"
  if [ "$RATE" = auto ]; then
    RATE="$(awk -v p="${R[notify-fast.proc_rate]:-0}" -v i="${R[notify-fast.load_ack_rate]:-0}" -v cap="$RATE_CAP" \
              'BEGIN { c = (p < i ? p : i) / 2; r = int(c / 10) * 10; if (r > cap) r = cap; if (r < 10) r = 10; print r }')"
    RATE_NOTE="auto: half of min(ingest, processed/s) of notify-fast, rounded down to 10/s, at most $RATE_CAP/s"
  fi
  STEADY_COUNT=$(( RATE * STEADY_SECONDS ))
  run_target log-steady log "$STEADY_COUNT" "$RATE" "$STEADY_CONNECTIONS"
  sleep "$PAUSE"
  run_target proj-steady proj "$STEADY_COUNT" "$RATE" "$STEADY_CONNECTIONS"
  sleep "$PAUSE"
  run_target notify-steady notify "$STEADY_COUNT" "$RATE" "$STEADY_CONNECTIONS"
fi

if want queries; then
  QDB="$WORK/projections.db"
  GEN_NOW_MS="$(now_ms)"
  say "building a database of $EVENTS events over $DAYS days (webhook-bench-projection-db, at most ${GEN_TIMEOUT}s)"
  GEN_BEFORE="$(load_now)"
  gen_rc=0
  timeout "$GEN_TIMEOUT" "$PROJECTION_DB" --db "$QDB" --events "$EVENTS" --days "$DAYS" --now-ms "$GEN_NOW_MS" \
      >"$WORK/projection-db.out" 2>"$WORK/projection-db.log" || gen_rc=$?
  [ "$gen_rc" = 0 ] || { tail -5 "$WORK/projection-db.log" >&2; die "webhook-bench-projection-db failed (exit $gen_rc; 124 = timeout)"; }
  GEN_AFTER="$(load_now)"
  line="$(grep '^PROJECTION_DB_SUMMARY ' "$WORK/projection-db.out")"
  declare -A G=()
  for kv in ${line#PROJECTION_DB_SUMMARY }; do G[${kv%%=*}]="${kv#*=}"; done
  DB_BYTES="$(stat -c %s "$QDB")"
  say "database: ${G[events]} events, $(( DB_BYTES / 1048576 )) MiB, built in ${G[total_s]} s"
  # What to look up: the production review, customer and refunded parent with the most history.
  REVIEW_TX="$(sqlite3 "$QDB" "SELECT transaction_id FROM review_history WHERE source = 'production'
                               GROUP BY transaction_id ORDER BY count(*) DESC, transaction_id LIMIT 1;")"
  CUSTOMER_ID="$(sqlite3 "$QDB" "SELECT customer_id FROM customer_history WHERE source = 'production'
                                 GROUP BY customer_id ORDER BY count(*) DESC, customer_id LIMIT 1;")"
  PARENT_TX="$(sqlite3 "$QDB" "SELECT parent_payment_id FROM payments WHERE source = 'production'
                               AND parent_payment_id IS NOT NULL GROUP BY parent_payment_id
                               ORDER BY count(*) DESC, parent_payment_id LIMIT 1;")"
  PARENT_CHILDREN="$(sqlite3 "$QDB" "SELECT count(*) FROM payments WHERE source = 'production' AND parent_payment_id = '$PARENT_TX';")"
  CUSTOMER_HISTORY="$(sqlite3 "$QDB" "SELECT count(*) FROM customer_history WHERE customer_id = '$CUSTOMER_ID';")"
  REVIEW_HISTORY="$(sqlite3 "$QDB" "SELECT count(*) FROM review_history WHERE transaction_id = '$REVIEW_TX';")"
  EVENTS_7D="$(sqlite3 "$QDB" "SELECT count(*) FROM events WHERE received_at_ms >= $GEN_NOW_MS - 7 * 86400000;")"
  EVENTS_1D="$(sqlite3 "$QDB" "SELECT count(*) FROM events WHERE received_at_ms >= $GEN_NOW_MS - 86400000;")"
  QUERY_BEFORE="$(load_now)"

  time_command floor "\`version\` (process start, no database: the floor)" version
  for json in "" --json; do
    sfx="${json:+-json}"
    time_command "events-list$sfx" "\`events list\`${json:+ --json}" events list --db "$QDB" $json
    time_command "events-stats$sfx" "\`events stats\`${json:+ --json}" events stats --db "$QDB" $json
    time_command "reviews-list$sfx" "\`reviews list\`${json:+ --json}" reviews list --db "$QDB" $json
    time_command "reviews-all$sfx" "\`reviews list --state all --limit 100\`${json:+ --json}" \
      reviews list --state all --limit 100 --db "$QDB" $json
    time_command "reviews-show$sfx" "\`reviews show TX\`${json:+ --json}" reviews show "$REVIEW_TX" --db "$QDB" $json
    time_command "customers-show$sfx" "\`customers show ID\`${json:+ --json}" customers show "$CUSTOMER_ID" --db "$QDB" $json
    time_command "payments-show$sfx" "\`payments show PARENT\`${json:+ --json}" payments show "$PARENT_TX" --db "$QDB" $json
    time_command "compare-7d$sfx" "\`compare\` (default window: 7 days)${json:+ --json}" compare --db "$QDB" $json
    time_command "compare-1d$sfx" "\`compare --since 1d\`${json:+ --json}" compare --since 1d --db "$QDB" $json
  done
  QUERY_AFTER="$(load_now)"
fi
FINISHED_AT="$(date -u '+%Y-%m-%d %H:%M:%S UTC')"
LOAD_AT_END="$(cut -d' ' -f1-3 /proc/loadavg)"

# ---- report ---------------------------------------------------------------------------------------
label() {
  case $1 in
    log-fast) echo "log-fast: route \`*\` → \`log\` (no projections), $COUNT sent as fast as possible" ;;
    proj-fast) echo "proj-fast: default routes, no notification, $COUNT sent as fast as possible" ;;
    notify-fast) echo "notify-fast: default routes + \`reviews.notify\`, $COUNT sent as fast as possible" ;;
    log-steady) echo "log-steady: route \`*\` → \`log\` (no projections), steady $RATE/s for ${STEADY_SECONDS}s" ;;
    proj-steady) echo "proj-steady: default routes, no notification, steady $RATE/s for ${STEADY_SECONDS}s" ;;
    notify-steady) echo "notify-steady: default routes + \`reviews.notify\`, steady $RATE/s for ${STEADY_SECONDS}s" ;;
  esac
}
lat_row() {  # lat_row TEXT T PREFIX
  echo "| $1 | ${R[$2.$3_n]:-0} | $(ms "${R[$2.$3_p50]:-}") | $(ms "${R[$2.$3_p90]:-}") | $(ms "${R[$2.$3_p99]:-}") | $(ms "${R[$2.$3_max]:-}") |"
}
rc_cell() { if [ "${Q[$1.rc]}" = 0 ]; then echo ok; else echo "exit ${Q[$1.rc]}: ${Q[$1.err]:0:120}"; fi; }

REPORT="$WORK/report.md"
{
  echo "# Projections benchmark, $(date -u +%F)"
  echo
  echo "Command: \`$COMMAND\`. Run $STARTED_AT - $FINISHED_AT."
  if want latency; then
    echo
    echo "## Part 1: receipt → operator notification under load"
    echo
    echo "Each target a fresh receiver (production settings: workers.threads $WORKER_THREADS, server.io_threads" \
         "$IO_THREADS, payload log on, group commit; \`logging.level: warn\`) and database, ${PAUSE}s apart." \
         "Load: \`webhook-bench-load\`, each delivery once; deliveries pre-signed by \`webhook-bench-deliveries" \
         "--review-percent $REVIEW_PERCENT\` (mean body $MEAN_BODY bytes): $REVIEW_PERCENT of every 100 are" \
         "\`payment.requiresReview\` (each opens a review of its own transaction), the rest alternately" \
         "\`transaction.status_changed\` and \`payment.settled\`, each its own transaction. With" \
         "\`reviews.notify\` the reviews handler sends each opened review to a \`forward\` handler whose URL is" \
         "\`webhook-bench-downstream\` (answers 200, checks the Standard Webhooks signature)."
    echo
    echo "### Receipt → notification, steady $RATE/s ($RATE_NOTE) for ${STEADY_SECONDS}s"
    echo
    echo "| interval (per review or event; exact, nearest-rank, over integer-millisecond times) | n | p50 | p90 | p99 | max |"
    echo "| --- | ---: | ---: | ---: | ---: | ---: |"
    lat_row "**receipt → notification sent** (\`reviews.notified_at_ms − opened_received_ms\`), notify-steady" notify-steady nt
    lat_row "receipt → notification read by the downstream (its arrival time − \`received_at_ms\`), notify-steady" notify-steady ra
    lat_row "ack → notification read by the downstream (200 read by the load generator → arrival), notify-steady" notify-steady aa
    lat_row "receipt → review event done (\`events.updated_at_ms − received_at_ms\`), notify-steady" notify-steady dr
    lat_row "*baseline:* receipt → review event done, proj-steady (no notification)" proj-steady dr
    lat_row "receipt → event done, all events, notify-steady" notify-steady da
    lat_row "*baseline:* receipt → event done, all events, proj-steady" proj-steady da
    lat_row "*baseline:* receipt → event done, all events, log-steady (no projections)" log-steady da
    echo
    echo "| bucketed metrics (quantile = the bucket holding it) | count | p50 | p90 | p99 |"
    echo "| --- | ---: | ---: | ---: | ---: |"
    echo "| \`webhook_review_notify_seconds\`, notify-steady | ${R[notify-steady.nm_count]:-0} | ${R[notify-steady.nm_p50]:--} | ${R[notify-steady.nm_p90]:--} | ${R[notify-steady.nm_p99]:--} |"
    for t in notify-steady proj-steady; do
      echo "| \`webhook_dispatch_delay_seconds{group=\"reviews\"}\` (receipt → handler start), $t | ${R[$t.dd_count]:-0} | ${R[$t.dd_p50]:--} | ${R[$t.dd_p90]:--} | ${R[$t.dd_p99]:--} |"
    done
    echo
    echo "### Throughput: what the projections cost"
    echo
    echo "| run | events | reviews | ingest (acks/s) | **processed/s** | drain after the last ack | handler mean (all / reviews group) | **receiver CPU per event** | receipt → done p50 / p99 | notify p50 / p99 / max | check |"
    echo "| --- | ---: | ---: | ---: | ---: | ---: | --- | ---: | --- | --- | --- |"
    for t in "${TARGETS[@]}"; do
      nt="-"
      [ "${R[$t.mode]}" != notify ] || nt="$(ms "${R[$t.nt_p50]}") / $(ms "${R[$t.nt_p99]}") / $(ms "${R[$t.nt_max]}")"
      echo "| $(label "$t") | ${R[$t.count]} | ${R[$t.reviews]:--} | $(fmt "${R[$t.load_ack_rate]:-}" 0) |" \
           "**$(fmt "${R[$t.proc_rate]}" 0)** | ${R[$t.drain_s]} s | $(ms "${R[$t.handler_mean_ms]}" 2) / $(ms "${R[$t.review_handler_mean_ms]}" 2) |" \
           "**$(ms "${R[$t.cpu_ms_per_event]}" 2)** |" \
           "$(ms "${R[$t.da_p50]}") / $(ms "${R[$t.da_p99]}") | $nt | ${R[$t.check]} |"
    done
    echo
    echo "- **processed/s** = events done / (last \`updated_at_ms\` of a done event − first acknowledgement)." \
         "proj-fast vs log-fast: $(awk -v a="${R[proj-fast.proc_rate]:-0}" -v b="${R[log-fast.proc_rate]:-0}" \
           'BEGIN { if (a > 0 && b > 0) printf "%.2fx", a / b; else print "n/a" }'); notify-fast vs log-fast:" \
         "$(awk -v a="${R[notify-fast.proc_rate]:-0}" -v b="${R[log-fast.proc_rate]:-0}" \
           'BEGIN { if (a > 0 && b > 0) printf "%.2fx", a / b; else print "n/a" }')."
    echo "- **receiver CPU per event** = the receiver process's CPU time (user + system, /proc) from the first" \
         "send to the last event done / events done: the projections' cost per event independent of the" \
         "backlog (compare rows of the same rate; it includes the receiver's fixed costs, e.g. the /metrics" \
         "scrape every 100 ms, so it is larger at a lower rate) — processed/s of the *-fast rows also depends on how large" \
         "the backlog grew (a claim round skips pending events that are not due or wait behind their entity)."
    echo "- **notified_at_ms** is taken by the reviews handler after the forward handler's POST was answered" \
         "(the clock read after \`send()\` returns), \`opened_received_ms\` is the receipt of the" \
         "\`payment.requiresReview\` delivery: the interval covers commit, queueing, claiming, the payments and" \
         "reviews handlers before it, signing, and one POST/response over loopback."
    echo "- Under the as-fast-as-possible load the notification waits behind the backlog: the *-fast numbers" \
         "are an overload picture, the steady ones the answer to \"under load\"."
    echo
    echo "### Details"
    echo
    echo "| run | statuses | re-runs | payments rows | notify states | downstream (posts, distinct, verified, failures) | send→200 p50 / p99 | receiver CPU (cores) | error lines | load before → after |"
    echo "| --- | --- | ---: | ---: | --- | --- | --- | ---: | ---: | --- |"
    for t in "${TARGETS[@]}"; do
      ds="-"
      [ "${R[$t.mode]}" != notify ] || ds="${R[$t.ds_posts]:-?}, ${R[$t.ds_distinct_event_ids]:-?}, ${R[$t.ds_verified]:-?}, ${R[$t.ds_verify_failures]:-?}"
      echo "| $t | ${R[$t.statuses]} | ${R[$t.retried]} | ${R[$t.payments]:--} | ${R[$t.notify_states]:--} | $ds |" \
           "$(ms "${R[$t.load_ack_p50_ms]:-}") / $(ms "${R[$t.load_ack_p99_ms]:-}") | ${R[$t.receiver_cpu]} |" \
           "${R[$t.log_errors]} | ${BEFORE[$t]} → ${R[$t.load_after]} |"
    done
    echo
    for t in "${TARGETS[@]}"; do
      if [ -n "${R[$t.non200_note]:-}" ]; then echo "- $t: ${R[$t.non200_note]}."; fi
    done
    echo "- Receiver exit codes after SIGTERM: $(for t in "${TARGETS[@]}"; do printf '%s %s; ' "$t" "${R[$t.exit]}"; done | sed 's/; $//')."
  fi
  if want queries; then
    echo
    echo "## Part 2: operator commands on a database of $EVENTS events"
    echo
    echo "Database built by \`webhook-bench-projection-db --events $EVENTS --days $DAYS\` (bench/make_projection_db.cpp)" \
         "through the receiver's storage code: \`SqliteInbox::store_batch\` in batches of 5000, a plain UPDATE to" \
         "\`done\`, then \`ProjectionStore::apply_payment\` / \`apply_review\` (notification on, \`mark_notified\`) /" \
         "\`apply_customer\` per event as the default routes would run them. The projections' connection ran with" \
         "\`PRAGMA synchronous=OFF\` (generation speed only). Built in $(fmt "${G[total_s]}" 0) s" \
         "(store $(fmt "${G[store_s]}" 0) s, projections $(fmt "${G[apply_s]}" 0) s; $GEN_BEFORE → $GEN_AFTER);" \
         "$(( DB_BYTES / 1048576 )) MiB, no ANALYZE (as the receiver leaves it)."
    echo
    echo "| table | rows |"
    echo "| --- | ---: |"
    echo "| events (duplicates refused: ${G[duplicates]}) | ${G[events]} |"
    echo "| payments / payment_history | ${G[payments]} / ${G[payment_history]} |"
    echo "| reviews (open) / review_history | ${G[reviews]} (${G[reviews_open]}) / ${G[review_history]} |"
    echo "| customers / customer_history | ${G[customers]} / ${G[customer_history]} |"
    echo "| events in the last 7 days / 1 day | $EVENTS_7D / $EVENTS_1D |"
    echo
    echo "Event types: $(for k in "${!G[@]}"; do case $k in type.*) [ "${G[$k]}" = 0 ] || printf '%s %s\n' "${k#type.}" "${G[$k]}" ;; esac; done \
                          | sort -k2,2nr | awk '{ printf "%s%s %s", (NR > 1 ? ", " : ""), $1, $2 }')."
    echo "Looked up: review \`$REVIEW_TX\` ($REVIEW_HISTORY history rows), customer \`$CUSTOMER_ID\`" \
         "($CUSTOMER_HISTORY history rows), parent payment \`$PARENT_TX\` ($PARENT_CHILDREN refund children)."
    echo
    echo "Wall time of the whole process (start, open read-only, query, format, exit), measured by the script" \
         "(\`date +%s%N\` around it). **cold** = the first run after the database file was dropped from the page" \
         "cache (\`dd iflag=nocache count=0\` after \`sync FILE\`); **warm** = the median and max of the" \
         "$QUERY_RUNS runs after it. Flagged: warm median over ${SLOW_MS} ms."
    echo
    echo "| command | cold | warm median | warm max | output | result |"
    echo "| --- | ---: | ---: | ---: | ---: | --- |"
    for row in "${QROWS[@]}"; do
      slow=""
      if awk -v m="${Q[$row.median]}" -v s="$SLOW_MS" 'BEGIN { exit !(m > s) }'; then slow=" **(slow)**"; fi
      echo "| ${Q[$row.label]}$slow | $(ms "${Q[$row.cold]}") | **$(ms "${Q[$row.median]}")** | $(ms "${Q[$row.max]}") |" \
           "${Q[$row.lines]} lines, ${Q[$row.bytes]} B | $(rc_cell "$row") |"
    done
    echo
    echo "Load during the queries: $QUERY_BEFORE → $QUERY_AFTER. Cold check: $EVICTED."
  fi
  echo
  echo "## Machine"
  echo
  echo "- CPU: $CPU_MODEL, $NPROC logical CPUs (nproc), ${CPU_MHZ:-?} MHz; virtualisation: $VIRT"
  echo "- Memory: $MEM"
  echo "- OS / kernel: $OS, $KERNEL"
  echo "- Temp dir (databases): $FS_TYPE on $FS_SOURCE ($DISK), options $FS_OPTS;" \
       "$DSYNC_START synchronous 4 KiB writes/s at the start (dd oflag=dsync)"
  echo "- Compiler: $CXX_VERSION; build type $BUILD_TYPE ($BUILD_FLAGS), WEBHOOK_WERROR=$WERROR, build dir $BUILD_DIR"
  echo "- sqlite3 CLI $SQLITE_VERSION (reading results only); source tree $GIT_REV with $GIT_DIRTY files" \
       "changed or new (work in progress)"
  echo "- Load average at start $LOAD_AT_START, at the end $LOAD_AT_END"
  echo
  echo "## Notes"
  echo
  if [ -n "${BENCH_NOTE:-}" ]; then echo "- $BENCH_NOTE"; fi
  for f in "${CHECK_FAILURES[@]}"; do echo "- CHECK FAILED: $f"; done
  echo "- One run per target on a shared 2-CPU machine: receiver, load generator and downstream share the" \
       "CPUs with each other and with whatever else runs (see the load columns); compare within one report."
} >"$REPORT"

mkdir -p "$RESULTS_DIR"
RESULT_FILE="$RESULTS_DIR/$(date -u +%F)-projections.md"
cp "$REPORT" "$RESULT_FILE.tmp"
mv "$RESULT_FILE.tmp" "$RESULT_FILE"
cat "$REPORT"
say "written to $RESULT_FILE"

if [ "${#CHECK_FAILURES[@]}" -gt 0 ]; then
  printf 'bench/run_projections.sh: check failed: %s\n' "${CHECK_FAILURES[@]}" >&2
  exit 1
fi
