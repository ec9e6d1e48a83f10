#!/usr/bin/env bash
# bench/run.sh: the receive benchmark (bench/README.md).
#
# In one run, with the same wrk settings and the same pre-signed deliveries, one after the other:
#   (a) nginx `return 200` on 127.0.0.1 (the ceiling of this machine + load generator),
#   (b) webhook-receiver with group commit (storage.max_batch at its default),
#   (c) webhook-receiver with group commit off (storage.max_batch: 1, one commit per delivery).
# Each receiver gets a fresh database and payload log in a temp dir, logging at warn. After each
# receiver run the rows in the database are checked against the deliveries acknowledged.
# Prints a markdown report and writes it to bench/results/<date>-receive.md.
#
# Settings (environment):
#   BENCH_THREADS=2 BENCH_CONNECTIONS=32 BENCH_DURATION=10s   wrk -t / -c / -d
#   BENCH_TIMEOUT=10s      wrk --timeout: latencies above it are not in the histogram, so it
#                          must exceed the receiver's ack budget (3 s)
#   BENCH_DUP_SHARE=0.1    share of requests that re-send an earlier delivery (duplicates)
#   BENCH_DELIVERIES       deliveries generated (default 25000 per second of BENCH_DURATION)
#   BENCH_IO_THREADS=2     receiver server.io_threads
#   BENCH_PAUSE=3          seconds of rest between targets
#   BENCH_NOTE             free text added to the report's notes
#   BENCH_SKIP_BUILD=1     use the binaries already built
#   BENCH_BUILD_DIR        default build/release (the release preset). Another directory is
#                          configured with `cmake --preset release -B DIR $BENCH_CONFIGURE_ARGS`
#   BENCH_RESULTS_DIR      default bench/results; BENCH_KEEP_TMP=1 keeps the temp dir
# Traffic goes only to 127.0.0.1; every process started here is stopped by its PID.
set -Eeuo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

THREADS="${BENCH_THREADS:-2}"
CONNECTIONS="${BENCH_CONNECTIONS:-32}"
DURATION="${BENCH_DURATION:-10s}"
TIMEOUT="${BENCH_TIMEOUT:-10s}"
DUP_SHARE="${BENCH_DUP_SHARE:-0.1}"
IO_THREADS="${BENCH_IO_THREADS:-2}"
PAUSE="${BENCH_PAUSE:-3}"
SEED="${BENCH_SEED:-1}"
BUILD_DIR="${BENCH_BUILD_DIR:-build/release}"
RESULTS_DIR="${BENCH_RESULTS_DIR:-bench/results}"
JOBS="${BENCH_JOBS:-2}"
NGINX="${BENCH_NGINX:-/usr/sbin/nginx}"
# A throw-away signing key, known to the generator and the receiver only. Never a real one.
KEY="whsec_bench_not_a_secret_0123456789"
LUA="$ROOT/bench/wrk/deliveries.lua"

BENCH_NAME="bench/run.sh"
# shellcheck source=bench/lib.sh
. "$ROOT/bench/lib.sh"

case "$DURATION" in
  *[!0-9smh]* | "") die "BENCH_DURATION must look like 10s, 2m or 30" ;;
esac
case "$DURATION" in
  *h) SECONDS_RUN=$(( ${DURATION%h} * 3600 )) ;;
  *m) SECONDS_RUN=$(( ${DURATION%m} * 60 )) ;;
  *s) SECONDS_RUN=${DURATION%s} ;;
  *) SECONDS_RUN=$DURATION ;;
esac
if [ "$SECONDS_RUN" -lt 1 ] || [ "$SECONDS_RUN" -gt 600 ]; then die "BENCH_DURATION must be 1 s - 10 min"; fi
DELIVERIES="${BENCH_DELIVERIES:-$(( SECONDS_RUN * 25000 ))}"
[ "$CONNECTIONS" -ge "$THREADS" ] || die "BENCH_CONNECTIONS must be >= BENCH_THREADS"

for tool in wrk curl sqlite3 cmake awk "$NGINX"; do
  command -v "$tool" >/dev/null || die "$tool not found (make deps installs the packages)"
done

# ---- build --------------------------------------------------------------------------------------
if [ "${BENCH_SKIP_BUILD:-0}" != 1 ]; then
  if [ "$BUILD_DIR" = build/release ]; then
    say "building (release preset, build/release)"
    cmake --preset release >/dev/null
    cmake --build --preset release -j"$JOBS" --target webhook-receiver webhook-bench-deliveries
  else
    say "building (release preset in $BUILD_DIR ${BENCH_CONFIGURE_ARGS:-})"
    # shellcheck disable=SC2086  # BENCH_CONFIGURE_ARGS is a list of -D options
    cmake --preset release -B "$BUILD_DIR" ${BENCH_CONFIGURE_ARGS:-} >/dev/null
    cmake --build "$BUILD_DIR" -j"$JOBS" --target webhook-receiver webhook-bench-deliveries
  fi
fi
case "$BUILD_DIR" in /*) BUILD_PATH="$BUILD_DIR" ;; *) BUILD_PATH="$ROOT/$BUILD_DIR" ;; esac
RECEIVER="$BUILD_PATH/webhook-receiver"
GENERATOR="$BUILD_PATH/bench/webhook-bench-deliveries"
[ -x "$RECEIVER" ] || die "$RECEIVER not built"
[ -x "$GENERATOR" ] || die "$GENERATOR not built"

WORK="$(mktemp -d "${TMPDIR:-/tmp}/webhook-bench.XXXXXX")"

# ---- deliveries -------------------------------------------------------------------------------
say "generating $DELIVERIES pre-signed deliveries"
DELIVERY_FILE="$WORK/deliveries.tsv"
"$GENERATOR" --key "$KEY" --count "$DELIVERIES" --out "$DELIVERY_FILE" 2>"$WORK/generator.log" \
  || { cat "$WORK/generator.log" >&2; die "webhook-bench-deliveries failed"; }
MEAN_BODY="$(sed -n 's/.*mean body \([0-9]*\) bytes.*/\1/p' "$WORK/generator.log")"

# ---- machine description ------------------------------------------------------------------------
describe_machine
WRK_VERSION="$({ wrk -v 2>&1 || true; } | head -1 | sed 's/ Copyright.*//')"
NGINX_VERSION="$("$NGINX" -v 2>&1 | sed 's/^nginx version: //')"
DEFAULT_MAX_BATCH="$(sed -n 's/.*std::size_t max_batch = \([0-9]*\);.*/\1/p' include/webhook/app/config.hpp | head -1)"
[ -n "$DEFAULT_MAX_BATCH" ] || DEFAULT_MAX_BATCH="default"

# ---- one wrk run ----------------------------------------------------------------------------------
declare -A R=()       # R[target.key] = value from the BENCH_SUMMARY line
declare -A BEFORE=()  # load on the machine when the target's run started
TARGETS=()

run_wrk() {
  local target=$1 url=$2 server_pid=$3 out="$WORK/$1.wrk.txt"
  local ticks_before
  ticks_before="$(cpu_ticks "$server_pid")"
  BEFORE[$target]="load $(cut -d' ' -f1 /proc/loadavg), $(busy_compilers) cc1plus, $(dsync_rate) dsync/s"
  say "$target: wrk -t$THREADS -c$CONNECTIONS -d$DURATION --latency --timeout $TIMEOUT $url"
  timeout -k 10 $(( SECONDS_RUN + 180 )) \
    wrk -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" --latency --timeout "$TIMEOUT" -s "$LUA" \
        "$url" -- "$DELIVERY_FILE" "$THREADS" "$DUP_SHARE" "$SEED" >"$out" 2>&1 \
    || { cat "$out" >&2; die "$target: wrk failed"; }
  cat "$out" >&2
  R[$target.server_cpu]="$(awk -v a="$ticks_before" -v b="$(cpu_ticks "$server_pid")" -v hz="$CLK_TCK" \
                             -v s="$SECONDS_RUN" 'BEGIN { printf "%.2f", (b - a) / hz / s }')"
  local line kv
  line="$(grep '^BENCH_SUMMARY ' "$out" || true)"
  [ -n "$line" ] || die "$target: no BENCH_SUMMARY line in the wrk output"
  for kv in ${line#BENCH_SUMMARY }; do R[$target.${kv%%=*}]="${kv#*=}"; done
  TARGETS+=("$target")
}

# ---- (a) nginx ------------------------------------------------------------------------------------
run_nginx() {
  start_nginx "$WORK/nginx"
  local port=$NGINX_PORT pid=$NGINX_PID
  run_wrk nginx "http://127.0.0.1:$port/webhooks" "$pid"
  stop_pid "$pid" 30
  R[nginx.exit]=$STOP_RC
  [ "$STOP_RC" = 0 ] || die "nginx exited with $STOP_RC"
}

# ---- (b), (c) the receiver ------------------------------------------------------------------------
CHECK_FAILURES=()

run_receiver() {
  local target=$1 max_batch=$2 dir="$WORK/$1"
  mkdir -p "$dir"
  local batch_line=""
  [ "$max_batch" = default ] || batch_line="\"max_batch\": $max_batch,"
  cat >"$dir/config.json" <<EOF
// Generated by bench/run.sh: production settings except paths, port and log level.
{
  "server": { "listen": "127.0.0.1:0", "io_threads": $IO_THREADS },
  "storage": { "sqlite_path": "$dir/inbox.db", $batch_line },
  "payload_log": { "path": "$dir/payloads.jsonl" },
  "logging": { "level": "warn" },
}
EOF
  # Only the variables this run means: no listen/path/log overrides from the caller's environment.
  env -u WEBHOOK_RECEIVER_CONFIG -u WEBHOOK_RECEIVER_LISTEN -u WEBHOOK_RECEIVER_SQLITE_PATH \
      -u WEBHOOK_RECEIVER_PAYLOAD_LOG -u WEBHOOK_RECEIVER_LOG_FORMAT -u WEBHOOK_RECEIVER_LOG_LEVEL \
      -u WEBHOOK_RECEIVER_SECRET_KEYS_FILE WEBHOOK_RECEIVER_SECRET_KEYS="$KEY" \
      "$RECEIVER" serve --config "$dir/config.json" --port-file "$dir/port" >"$dir/receiver.log" 2>&1 &
  local pid=$!
  PIDS+=("$pid")
  local port=""
  for _ in $(seq 100); do
    kill -0 "$pid" 2>/dev/null || break
    if [ -s "$dir/port" ]; then port="$(tr -d '[:space:]' <"$dir/port")"; fi
    if [ -n "$port" ] && [ "$(http_status "http://127.0.0.1:$port/readyz")" = 200 ]; then break; fi
    port=""
    sleep 0.1
  done
  if [ -z "$port" ]; then
    cat "$dir/receiver.log" >&2
    die "$target: the receiver did not become ready"
  fi
  run_wrk "$target" "http://127.0.0.1:$port/webhooks" "$pid"
  stop_pid "$pid" 60
  R[$target.exit]=$STOP_RC
  if [ "$STOP_RC" != 0 ]; then
    tail -20 "$dir/receiver.log" >&2
    die "$target: the receiver exited with $STOP_RC after SIGTERM (expected 0)"
  fi

  # Every acknowledged delivery must be in the inbox, once; nothing else may be.
  local rows quarantined
  rows="$(sqlite3 "$dir/inbox.db" 'SELECT count(*) FROM events;')"
  quarantined="$(sqlite3 "$dir/inbox.db" "SELECT count(*) FROM events WHERE status = 'quarantined';")"
  R[$target.rows]=$rows
  R[$target.quarantined_rows]=$quarantined
  R[$target.log_errors]="$(grep -c -i 'error' "$dir/receiver.log" || true)"
  R[$target.payload_lines]="$(cat "$dir"/payloads.jsonl* 2>/dev/null | wc -l | tr -d ' ')"
  local acked=${R[$target.acked_distinct]} accepted=${R[$target.accepted]}
  local sent_new=${R[$target.sent_new]} non200=${R[$target.non200]}
  local unanswered=$(( ${R[$target.sent_new]} + ${R[$target.sent_dup]} - ${R[$target.requests]} ))
  R[$target.unanswered]=$unanswered
  local extra=$(( rows - acked ))
  local verdict="ok"
  if [ "$rows" -lt "$acked" ]; then
    verdict="FAIL: $(( acked - rows )) acknowledged deliveries are missing from the database"
  elif [ "$rows" -gt "$sent_new" ]; then
    verdict="FAIL: more rows than distinct deliveries sent ($sent_new): dedup broken"
  elif [ "$extra" -gt $(( unanswered + non200 )) ]; then
    verdict="FAIL: $extra rows beyond the acknowledged ones, more than the $unanswered requests unanswered at wrk's stop + $non200 non-200"
  elif [ "$quarantined" != 0 ]; then
    verdict="FAIL: $quarantined deliveries were quarantined (generator bug?)"
  elif [ "${R[$target.exhausted]}" != 0 ]; then
    verdict="FAIL: wrk threads ran out of new deliveries (raise BENCH_DELIVERIES)"
  fi
  R[$target.check]=$verdict
  local sent_text="$sent_new distinct deliveries sent"
  if [ "$rows" = "$sent_new" ]; then sent_text="rows = the $sent_new distinct deliveries sent"; fi
  R[$target.check_text]="rows $rows = $acked acknowledged (distinct eventIds; $accepted \"accepted\") + $extra committed but not acknowledged (bound: $unanswered requests unanswered when wrk stopped + $non200 non-200); $sent_text"
  say "$target: ${R[$target.check_text]}: $verdict"
  [ "$verdict" = ok ] || CHECK_FAILURES+=("$target: $verdict")
}

# ---- the run --------------------------------------------------------------------------------------
STARTED_AT="$(date -u '+%Y-%m-%d %H:%M:%S UTC')"
COMMAND="$({ env | grep -E '^BENCH_[A-Z_]+=' | grep -v '^BENCH_NOTE=' | sort || true; } | tr '\n' ' ')bench/run.sh"
LOAD_AT_START="$(cut -d' ' -f1-3 /proc/loadavg)"
GC=receiver-group-commit
NOGC=receiver-max-batch-1

run_nginx
sleep "$PAUSE"
run_receiver "$GC" default
sleep "$PAUSE"
run_receiver "$NOGC" 1
FINISHED_AT="$(date -u '+%Y-%m-%d %H:%M:%S UTC')"

# ---- report ---------------------------------------------------------------------------------------
fmt() { awk -v v="$1" -v d="${2:-1}" 'BEGIN { printf "%.*f", d, v }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else printf "n/a" }'; }
label() {
  case $1 in
    nginx) echo "nginx \`return 200\` (baseline)" ;;
    "$GC") echo "receiver, group commit (max_batch $DEFAULT_MAX_BATCH)" ;;
    "$NOGC") echo "receiver, group commit off (max_batch 1)" ;;
  esac
}

REPORT="$WORK/report.md"
{
  echo "# Receive benchmark, $(date -u +%F)"
  echo
  echo "Command: \`$COMMAND\` (wrk -t$THREADS -c$CONNECTIONS -d$DURATION --latency --timeout $TIMEOUT," \
       "bench/wrk/deliveries.lua, $(fmt "$(awk -v s="$DUP_SHARE" 'BEGIN{print s*100}')" 0)% re-sends)." \
       "Run $STARTED_AT - $FINISHED_AT, one target after the other, ${PAUSE}s apart."
  echo "Deliveries: $DELIVERIES pre-signed (header scheme), alternately transaction.status_changed and" \
       "payment.settled, unique transaction ids, mean body $MEAN_BODY bytes."
  echo
  echo "| target | requests/s | acked/s | p50 | p99 | non-2xx | rows |"
  echo "| --- | ---: | ---: | ---: | ---: | ---: | ---: |"
  for t in "${TARGETS[@]}"; do
    echo "| $(label "$t") | $(fmt "${R[$t.rps]}" 0) | $(fmt "${R[$t.acked_rps]}" 0) |" \
         "$(fmt "${R[$t.p50_ms]}" 2) ms | $(fmt "${R[$t.p99_ms]}" 2) ms | ${R[$t.non200]} |" \
         "${R[$t.rows]:--} |"
  done
  echo
  echo "**Group commit speed-up: $(ratio "${R[$GC.acked_rps]}" "${R[$NOGC.acked_rps]}")x acked/s**" \
       "(max_batch $DEFAULT_MAX_BATCH vs 1, same run); p99 $(fmt "${R[$GC.p99_ms]}" 2) ms vs" \
       "$(fmt "${R[$NOGC.p99_ms]}" 2) ms." \
       "The receiver with group commit acknowledges $(awk -v a="${R[$GC.acked_rps]}" -v b="${R[nginx.acked_rps]}" 'BEGIN { printf "%.0f", 100 * a / b }')% of" \
       "the requests/s nginx answers with a constant on the same machine and load generator."
  echo
  echo "acked/s = 200 responses per second (\"accepted\" + \"duplicate\"); a receiver 200 is sent only after" \
       "the SQLite transaction holding the delivery has committed (synchronous=FULL). Latency percentiles" \
       "are wrk's (coordinated-omission corrected) over all responses."
  echo
  echo "## Details"
  echo
  echo "| target | responses | statuses | re-sent | p90 | max | socket errors (c/r/w/t) | unanswered at stop | payload log lines | server CPU (cores) | load before |"
  echo "| --- | ---: | --- | ---: | ---: | ---: | --- | ---: | ---: | ---: | --- |"
  for t in "${TARGETS[@]}"; do
    echo "| $(label "$t") | ${R[$t.requests]} | ${R[$t.statuses]//,/, } | ${R[$t.sent_dup]} |" \
         "$(fmt "${R[$t.p90_ms]}" 2) ms | $(fmt "${R[$t.max_ms]}" 1) ms |" \
         "${R[$t.err_connect]}/${R[$t.err_read]}/${R[$t.err_write]}/${R[$t.err_timeout]} |" \
         "$(( ${R[$t.sent_new]} + ${R[$t.sent_dup]} - ${R[$t.requests]} )) | ${R[$t.payload_lines]:--} |" \
         "${R[$t.server_cpu]} | ${BEFORE[$t]} |"
  done
  echo
  echo "server CPU = CPU time the server process used during the run / run time (2.00 = both CPUs busy);" \
       "unanswered at stop = requests wrk had sent but not seen answered when its time was up;" \
       "load before = load average, running compilers and synchronous 4 KiB writes/s of the temp dir" \
       "(dd oflag=dsync, the floor of one commit) just before the target's run."
  echo
  echo "Database check after each receiver run (SIGTERM, exit code, then \`SELECT count(*) FROM events\`):"
  echo
  for t in "$GC" "$NOGC"; do
    echo "- $(label "$t"): exit ${R[$t.exit]}; ${R[$t.check_text]}: **${R[$t.check]}**."
  done
  echo
  echo "## Machine"
  echo
  echo "- CPU: $CPU_MODEL, $NPROC logical CPUs (nproc), ${CPU_MHZ:-?} MHz; virtualisation: $VIRT"
  echo "- Memory: $MEM"
  echo "- OS / kernel: $OS, $KERNEL"
  echo "- Temp dir (database, payload log): $FS_TYPE on $FS_SOURCE ($DISK), options $FS_OPTS;" \
       "$DSYNC_START synchronous 4 KiB writes/s at the start (dd oflag=dsync; per target under *Details*)"
  echo "- Compiler: $CXX_VERSION; build type $BUILD_TYPE ($BUILD_FLAGS), WEBHOOK_WERROR=$WERROR, build dir $BUILD_DIR"
  echo "- Tools: $WRK_VERSION, nginx $NGINX_VERSION (one process, master_process off), sqlite3 CLI $SQLITE_VERSION"
  echo "- Receiver: server.io_threads $IO_THREADS, payload log on, logging.level warn; source tree $GIT_REV" \
       "with $GIT_DIRTY files changed or new (work in progress)"
  echo "- Load generator, nginx and receiver all on this machine, over loopback; load average at start $LOAD_AT_START"
  echo
  echo "## Notes"
  echo
  if [ -n "${BENCH_NOTE:-}" ]; then echo "- $BENCH_NOTE"; fi
  for t in "${TARGETS[@]}"; do
    if [[ "${BEFORE[$t]}" != *", 0 cc1plus,"* ]]; then
      echo "- $(label "$t"): other compilations were running when it started (${BEFORE[$t]}); its numbers are noisy."
    fi
    if [ "${R[$t.exhausted]}" != 0 ]; then
      echo "- $(label "$t"): wrk threads ran out of new deliveries and re-sent ${R[$t.exhausted]} extra" \
           "$( [ "$t" = nginx ] && echo "(irrelevant for nginx, which ignores the body)" || echo "(the duplicate share is off)")."
    fi
    if [ "${R[$t.non200]}" != 0 ]; then
      echo "- $(label "$t"): ${R[$t.non200]} responses were not 200 (${R[$t.statuses]//,/, })."
    fi
    if [ "$(( ${R[$t.err_connect]} + ${R[$t.err_read]} + ${R[$t.err_write]} + ${R[$t.err_timeout]} ))" != 0 ]; then
      echo "- $(label "$t"): wrk socket errors (connect/read/write/timeout):" \
           "${R[$t.err_connect]}/${R[$t.err_read]}/${R[$t.err_write]}/${R[$t.err_timeout]}."
    fi
  done
  for f in "${CHECK_FAILURES[@]}"; do echo "- CHECK FAILED: $f"; done
  echo "- One short run per target on a shared 2-CPU machine: differences of a few percent are noise;" \
       "the ratios within one run are the result, not the absolute numbers."
  echo
  echo "## Raw wrk output"
  for t in "${TARGETS[@]}"; do
    echo
    echo "<details><summary>$(label "$t")</summary>"
    echo
    echo '```'
    grep -v '^BENCH_SUMMARY' "$WORK/$t.wrk.txt"
    echo '```'
    echo
    echo "</details>"
  done
} >"$REPORT"

mkdir -p "$RESULTS_DIR"
RESULT_FILE="$RESULTS_DIR/$(date -u +%F)-receive.md"
cp "$REPORT" "$RESULT_FILE.tmp"
mv "$RESULT_FILE.tmp" "$RESULT_FILE"
cat "$REPORT"
say "written to $RESULT_FILE"

if [ "${#CHECK_FAILURES[@]}" -gt 0 ]; then
  printf 'bench/run.sh: check failed: %s\n' "${CHECK_FAILURES[@]}" >&2
  exit 1
fi
