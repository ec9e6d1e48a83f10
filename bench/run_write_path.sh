#!/usr/bin/env bash
# bench/run_write_path.sh: issue 11's target table (bench/README.md, "Write-path benchmark").
#
# In one run, side by side: nginx `return 200`, a BASELINE build of the receiver and a CANDIDATE
# build, each with a fresh database and payload log in a temp dir, on 127.0.0.1:
#   pinned runs (ROUNDS rounds of: nginx, baseline default, candidate default, baseline ingest,
#     candidate ingest): the server pinned to CPU 0 (taskset), wrk pinned to CPU 1, 32
#     connections, signed unique deliveries with 10 % re-sends (bench/wrk/deliveries.lua),
#     DURATION seconds each. "default" = the built-in configuration (routes to payments, reviews,
#     log; logging info); "ingest" = routes: [] and logging.level warn. Per run: acks/s, its ratio
#     to the nginx run of the same round, CPU per acknowledged delivery (utime + stime of the
#     server from /proc/PID/stat around the wrk run / 200 answers), p50/p99/p99.9, non-2xx
#     answers, peak RSS (VmHWM).
#   drain runs (baseline, then candidate): default configuration with
#     monitoring.backlog_sample_ms DRAIN_SAMPLE_MS, nothing pinned, DRAIN_SECONDS of wrk load, then
#     /metrics polled every 100 ms until webhook_backlog_events{group="all"} is 0 and every
#     accepted delivery has finished (webhook_events_total done + dead + unhandled >= accepted):
#     the drain time, the events processed per second during the load and during the drain.
#   STRACE=1 adds, per receiver, `strace -c -f` attached for STRACE_COUNT deliveries sent once
#     each (webhook-bench-load, default configuration) until they are all processed: syscalls per
#     acknowledged delivery by name.
# Prints one markdown table (rows = figures, columns = nginx | baseline | candidate | issue 11's
# target) plus the machine, and writes it to bench/results/<date>-write-path.md.
#
# Which receivers (environment):
#   BASELINE_REV   a git revision (default: the merge-base of HEAD and main), built from a
#                  `git archive` of it in build/bench-<rev>/src with the release preset
#   CANDIDATE_REV  a git revision (default: the working tree as it is, built in
#                  build/bench-worktree with the release preset)
#   BASELINE_BIN, CANDIDATE_BIN   a webhook-receiver binary to use instead (nothing built for it)
#   The tools (webhook-bench-deliveries, webhook-bench-load) are built from the working tree.
# Settings (environment):
#   BENCH_DURATION=10     seconds per pinned run       BENCH_ROUNDS=2   rounds of pinned runs
#   BENCH_CONNECTIONS=32  wrk -c                        BENCH_DUP_SHARE=0.1
#   BENCH_WRK_THREADS=1   wrk -t of the pinned runs (wrk has one CPU)
#   BENCH_SERVER_CPU=0 BENCH_LOAD_CPU=1   the CPUs of the pinned runs
#   DRAIN_SECONDS=30      load of a drain run (0 skips the drain runs)
#   DRAIN_TIMEOUT=120     longest wait for the backlog after the load
#   DRAIN_SAMPLE_MS=200   monitoring.backlog_sample_ms of the drain runs
#   BENCH_DRAIN_WRK_THREADS=2
#   BENCH_WRK_COUNT=bodies  deliveries.lua reads every answer (checks the database against the
#                         distinct eventIds acknowledged); "codes": wrk's status counts only (a
#                         cheaper load generator, no database check)
#   BENCH_DELIVERIES      pre-signed deliveries (default max(25000 x DURATION, 15000 x DRAIN_SECONDS))
#   STRACE=0 STRACE_COUNT=3000
#   BENCH_PAUSE=2 BENCH_JOBS=2 BENCH_SKIP_BUILD=1 BENCH_RESULTS_DIR BENCH_KEEP_TMP=1 BENCH_NOTE TMPDIR
# Traffic goes only to 127.0.0.1; every process started here is stopped by its PID; the temp dir
# is removed at the end.
set -Eeuo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

DURATION="${BENCH_DURATION:-10}"
ROUNDS="${BENCH_ROUNDS:-2}"
CONNECTIONS="${BENCH_CONNECTIONS:-32}"
DUP_SHARE="${BENCH_DUP_SHARE:-0.1}"
WRK_THREADS="${BENCH_WRK_THREADS:-1}"
SERVER_CPU="${BENCH_SERVER_CPU:-0}"
LOAD_CPU="${BENCH_LOAD_CPU:-1}"
DRAIN_SECONDS="${DRAIN_SECONDS:-30}"
DRAIN_TIMEOUT="${DRAIN_TIMEOUT:-120}"
DRAIN_SAMPLE_MS="${DRAIN_SAMPLE_MS:-200}"
DRAIN_WRK_THREADS="${BENCH_DRAIN_WRK_THREADS:-2}"
STRACE="${STRACE:-0}"
STRACE_COUNT="${STRACE_COUNT:-3000}"
PAUSE="${BENCH_PAUSE:-2}"
JOBS="${BENCH_JOBS:-2}"
SEED="${BENCH_SEED:-1}"
WRK_COUNT="${BENCH_WRK_COUNT:-bodies}"
RESULTS_DIR="${BENCH_RESULTS_DIR:-bench/results}"
NGINX="${BENCH_NGINX:-/usr/sbin/nginx}"
# A throw-away signing key, known to the generator and the receivers only. Never a real one.
KEY="whsec_bench_not_a_secret_0123456789"
LUA="$ROOT/bench/wrk/deliveries.lua"
# The syscalls reported one by one with STRACE=1 (the rest are in the total).
STRACE_NAMES="futex pwrite64 pread64 fcntl write writev fdatasync fsync clock_nanosleep"

BENCH_NAME="bench/run_write_path.sh"
# shellcheck source=bench/lib.sh
. "$ROOT/bench/lib.sh"

for v in DURATION ROUNDS CONNECTIONS WRK_THREADS SERVER_CPU LOAD_CPU DRAIN_SECONDS DRAIN_TIMEOUT \
         DRAIN_SAMPLE_MS DRAIN_WRK_THREADS STRACE_COUNT PAUSE JOBS; do
  case "${!v}" in *[!0-9]* | "") die "$v must be a non-negative integer" ;; esac
done
if [ "$DURATION" -lt 1 ] || [ "$DURATION" -gt 600 ]; then die "BENCH_DURATION must be 1 - 600 s"; fi
if [ "$ROUNDS" -lt 1 ] || [ "$ROUNDS" -gt 10 ]; then die "BENCH_ROUNDS must be 1 - 10"; fi
if [ "$DRAIN_SECONDS" -gt 600 ] || [ "$DRAIN_TIMEOUT" -gt 1800 ]; then die "DRAIN_SECONDS <= 600, DRAIN_TIMEOUT <= 1800"; fi
if [ "$DRAIN_SAMPLE_MS" -lt 100 ]; then die "DRAIN_SAMPLE_MS must be >= 100 (the receiver's minimum)"; fi
if [ "$STRACE_COUNT" -lt 1 ] || [ "$STRACE_COUNT" -gt 100000 ]; then die "STRACE_COUNT must be 1 - 100000"; fi
if [ "$CONNECTIONS" -lt "$WRK_THREADS" ] || [ "$CONNECTIONS" -lt "$DRAIN_WRK_THREADS" ]; then
  die "BENCH_CONNECTIONS must be >= the wrk threads"
fi
case "$WRK_COUNT" in bodies | codes) ;; *) die "BENCH_WRK_COUNT must be bodies or codes" ;; esac
[ "$SERVER_CPU" != "$LOAD_CPU" ] || die "BENCH_SERVER_CPU and BENCH_LOAD_CPU must differ"
DEFAULT_DELIVERIES=$(( DURATION * 25000 ))
[ $(( DRAIN_SECONDS * 15000 )) -le "$DEFAULT_DELIVERIES" ] || DEFAULT_DELIVERIES=$(( DRAIN_SECONDS * 15000 ))
DELIVERIES="${BENCH_DELIVERIES:-$DEFAULT_DELIVERIES}"
case "$DELIVERIES" in *[!0-9]* | "" | 0) die "BENCH_DELIVERIES must be a positive integer" ;; esac

for tool in wrk curl sqlite3 cmake awk taskset git tar "$NGINX"; do
  command -v "$tool" >/dev/null || die "$tool not found (make deps installs the packages)"
done
if [ "$STRACE" = 1 ]; then command -v strace >/dev/null || die "strace not found (STRACE=1)"; fi

# ---- build --------------------------------------------------------------------------------------
# Each revision in its own build dir, so that the two never share objects. The archive of a
# revision sits in build/bench-<rev>/src and its build dir two levels below it
# (src/build/bench-release), the same relative place as build/bench-worktree in this tree: with
# CCACHE_BASEDIR and CCACHE_NOHASHDIR, identical sources then hit the compiler cache.
export CCACHE_NOHASHDIR="${CCACHE_NOHASHDIR:-1}"
TOOLS=(webhook-bench-deliveries webhook-bench-load)
WORKTREE_BUILD="$ROOT/build/bench-worktree"

# configure_release SRC BUILD: the release preset of SRC into BUILD (plain RelWithDebInfo for a
# revision without the preset).
configure_release() {
  local src=$1 build=$2
  if [ -f "$build/CMakeCache.txt" ]; then return 0; fi
  if grep -q '"name": *"release"' "$src/CMakePresets.json" 2>/dev/null; then
    (cd "$src" && cmake --preset release -B "$build" >/dev/null)
  else
    cmake -S "$src" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DWEBHOOK_WERROR=OFF >/dev/null
  fi
}

# build_rev REV: builds webhook-receiver of REV ("worktree" = this tree, with the tools); prints
# the binary's path.
build_rev() {
  local rev=$1
  if [ "$rev" = worktree ]; then
    say "building the working tree (release preset, $WORKTREE_BUILD)"
    configure_release "$ROOT" "$WORKTREE_BUILD" >&2
    cmake --build "$WORKTREE_BUILD" -j"$JOBS" --target webhook-receiver "${TOOLS[@]}" >&2
    echo "$WORKTREE_BUILD/webhook-receiver"
    return
  fi
  local sha top
  sha="$(git rev-parse --short=7 "$rev^{commit}" 2>/dev/null)" || die "unknown revision $rev"
  top="$ROOT/build/bench-$sha"
  if [ ! -f "$top/src/CMakeLists.txt" ]; then
    say "extracting $rev ($sha) into $top/src"
    rm -rf "$top/src.tmp"
    mkdir -p "$top/src.tmp"
    git archive "$sha" | tar -x -C "$top/src.tmp"
    mv "$top/src.tmp" "$top/src"
  fi
  say "building $sha (release preset, $top/src/build/bench-release)"
  configure_release "$top/src" "$top/src/build/bench-release" >&2
  cmake --build "$top/src/build/bench-release" -j"$JOBS" --target webhook-receiver >&2
  echo "$top/src/build/bench-release/webhook-receiver"
}

rev_label() {  # REV -> a short description
  if [ "$1" = worktree ]; then
    echo "working tree at $(git rev-parse --short=7 HEAD) + $({ git status --porcelain || true; } | wc -l | tr -d ' ') changed files"
  else
    echo "$(git rev-parse --short=7 "$1^{commit}") ($(git log -1 --format=%s "$1" | awk '{ print (length($0) > 70 ? substr($0, 1, 67) "..." : $0) }'))"
  fi
}

if [ -z "${BASELINE_REV:-}" ]; then
  BASELINE_REV="$(git merge-base HEAD main 2>/dev/null || git rev-parse HEAD)"
fi
CANDIDATE_REV="${CANDIDATE_REV:-worktree}"
declare -A BIN=() DESC=()
BUILD_STARTED=$SECONDS
if [ "${BENCH_SKIP_BUILD:-0}" != 1 ]; then
  # The tools (and the candidate, when it is the working tree) first.
  if [ -z "${CANDIDATE_BIN:-}" ] && [ "$CANDIDATE_REV" = worktree ]; then
    BIN[c]="$(build_rev worktree)"
  else
    say "building the tools from the working tree ($WORKTREE_BUILD)"
    configure_release "$ROOT" "$WORKTREE_BUILD"
    cmake --build "$WORKTREE_BUILD" -j"$JOBS" --target "${TOOLS[@]}" >&2
  fi
  if [ -z "${CANDIDATE_BIN:-}" ] && [ "$CANDIDATE_REV" != worktree ]; then BIN[c]="$(build_rev "$CANDIDATE_REV")"; fi
  if [ -z "${BASELINE_BIN:-}" ]; then BIN[b]="$(build_rev "$BASELINE_REV")"; fi
else
  if [ -z "${CANDIDATE_BIN:-}" ]; then
    if [ "$CANDIDATE_REV" = worktree ]; then BIN[c]="$WORKTREE_BUILD/webhook-receiver"
    else BIN[c]="$ROOT/build/bench-$(git rev-parse --short=7 "$CANDIDATE_REV^{commit}")/src/build/bench-release/webhook-receiver"; fi
  fi
  if [ -z "${BASELINE_BIN:-}" ]; then
    BIN[b]="$ROOT/build/bench-$(git rev-parse --short=7 "$BASELINE_REV^{commit}")/src/build/bench-release/webhook-receiver"
  fi
fi
BUILD_SECONDS=$(( SECONDS - BUILD_STARTED ))
if [ -n "${BASELINE_BIN:-}" ]; then BIN[b]="$BASELINE_BIN"; DESC[b]="binary $BASELINE_BIN"; else DESC[b]="$(rev_label "$BASELINE_REV")"; fi
if [ -n "${CANDIDATE_BIN:-}" ]; then BIN[c]="$CANDIDATE_BIN"; DESC[c]="binary $CANDIDATE_BIN"; else DESC[c]="$(rev_label "$CANDIDATE_REV")"; fi
GENERATOR="$WORKTREE_BUILD/bench/webhook-bench-deliveries"
LOADER="$WORKTREE_BUILD/bench/webhook-bench-load"
for bin in "${BIN[b]}" "${BIN[c]}" "$GENERATOR" "$LOADER"; do
  [ -x "$bin" ] || die "$bin not built"
done
BUILD_PATH="$WORKTREE_BUILD"   # describe_machine reads the compiler and flags from its cache

WORK="$(mktemp -d "${TMPDIR:-/tmp}/webhook-bench-write-path.XXXXXX")"
RUN_STARTED=$SECONDS
STARTED_AT="$(date -u '+%Y-%m-%d %H:%M:%S UTC')"

# ---- deliveries -------------------------------------------------------------------------------
say "generating $DELIVERIES pre-signed deliveries"
ALL_FILE="$WORK/deliveries.tsv"
"$GENERATOR" --key "$KEY" --count "$DELIVERIES" --out "$ALL_FILE" 2>"$WORK/generator.log" \
  || { cat "$WORK/generator.log" >&2; die "webhook-bench-deliveries failed"; }
MEAN_BODY="$(sed -n 's/.*mean body \([0-9]*\) bytes.*/\1/p' "$WORK/generator.log")"
PINNED_FILE="$WORK/pinned.tsv"
head -n $(( DURATION * 25000 )) "$ALL_FILE" >"$PINNED_FILE"

describe_machine
LOAD_AT_START="$(cut -d' ' -f1-3 /proc/loadavg), $(busy_compilers) cc1plus"
WRK_VERSION="$({ wrk -v 2>&1 || true; } | head -1 | sed 's/ Copyright.*//')"
NGINX_VERSION="$("$NGINX" -v 2>&1 | sed 's/^nginx version: //')"

# ---- one wrk run ----------------------------------------------------------------------------------
declare -A R=()   # R[run.key]: the BENCH_SUMMARY values of a run, plus the figures below
RUNS=()           # the wrk runs in order
NOTES=()

# measure RUN URL PID THREADS SECONDS FILE [CPU]: wrk against URL (pinned to CPU when given);
# also CPU time and peak RSS of PID.
measure() {
  local run=$1 url=$2 pid=$3 threads=$4 secs=$5 file=$6 cpu=${7:-} out="$WORK/$1.wrk.txt"
  local -a pin=()
  [ -z "$cpu" ] || pin=(taskset -c "$cpu")
  R[$run.before]="$(load_now)"
  say "$run: wrk -t$threads -c$CONNECTIONS -d${secs}s${cpu:+ on CPU $cpu} ($(load_now))"
  local ticks0 ticks1
  ticks0="$(cpu_ticks "$pid")"
  timeout -k 10 $(( secs + 180 )) "${pin[@]}" \
    wrk -t"$threads" -c"$CONNECTIONS" -d"${secs}s" --latency --timeout 10s -s "$LUA" \
        "$url" -- "$file" "$threads" "$DUP_SHARE" "$SEED" "$WRK_COUNT" >"$out" 2>&1 \
    || { cat "$out" >&2; die "$run: wrk failed"; }
  ticks1="$(cpu_ticks "$pid")"
  R[$run.end_ms]="$(now_ms)"
  RUNS+=("$run")
  local line kv
  line="$(grep '^BENCH_SUMMARY ' "$out" || true)"
  [ -n "$line" ] || { cat "$out" >&2; die "$run: no BENCH_SUMMARY line in the wrk output"; }
  for kv in ${line#BENCH_SUMMARY }; do R[$run.${kv%%=*}]="${kv#*=}"; done
  R[$run.cpu_us]="$(awk -v t=$(( ticks1 - ticks0 )) -v hz="$CLK_TCK" -v n="${R[$run.ok200]}" \
                    'BEGIN { if (n > 0) printf "%.1f", t / hz * 1e6 / n; else print "-" }')"
  R[$run.cores]="$(awk -v t=$(( ticks1 - ticks0 )) -v hz="$CLK_TCK" -v s="${R[$run.duration_s]}" \
                   'BEGIN { printf "%.2f", t / hz / s }')"
  R[$run.rss_kib]="$(peak_rss_kib "$pid")"
  say "$run: ${R[$run.acked_rps]} acks/s, p99 ${R[$run.p99_ms]} ms, ${R[$run.cpu_us]} us CPU per ack, non-2xx ${R[$run.non200]}"
  local errs=$(( ${R[$run.err_connect]} + ${R[$run.err_read]} + ${R[$run.err_write]} + ${R[$run.err_timeout]} ))
  if [ "$errs" != 0 ]; then
    NOTES+=("$run: wrk socket errors connect/read/write/timeout ${R[$run.err_connect]}/${R[$run.err_read]}/${R[$run.err_write]}/${R[$run.err_timeout]}")
  fi
  if [ "${R[$run.non200]}" != 0 ]; then NOTES+=("$run: ${R[$run.non200]} non-2xx answers (${R[$run.statuses]//,/, })"); fi
  if [ "${R[$run.exhausted]}" != 0 ] && [[ "$run" != n-* ]]; then
    NOTES+=("$run: wrk ran out of new deliveries (${R[$run.exhausted]} extra re-sends; raise BENCH_DELIVERIES)")
  fi
}

# ---- the receiver -------------------------------------------------------------------------------
# write_config DIR MODE [SAMPLE_MS]: default = the built-in configuration (the example file's:
# routes to customers/payments/reviews/log, logging info) with paths and port of DIR;
# ingest = the same with routes: [] and logging.level warn.
write_config() {
  local dir=$1 mode=$2 sample=${3:-} extra=""
  [ "$mode" = ingest ] && extra='"routes": [], "logging": { "level": "warn" },'
  [ -z "$sample" ] || extra="$extra \"monitoring\": { \"backlog_sample_ms\": $sample },"
  cat >"$dir/config.json" <<EOF
// Generated by bench/run_write_path.sh ($mode): built-in defaults except paths and port.
{
  "server": { "listen": "127.0.0.1:0" },
  "storage": { "sqlite_path": "$dir/inbox.db" },
  "payload_log": { "path": "$dir/payloads.jsonl" },
  $extra
}
EOF
}

# finish_receiver RUN PID DIR: SIGTERM (exit 0 expected), then every acknowledged delivery must
# be in the database; the database and payload log are removed.
finish_receiver() {
  local run=$1 pid=$2 dir=$3
  stop_pid "$pid" 60
  if [ "$STOP_RC" != 0 ]; then
    tail -20 "$dir/receiver.log" >&2
    die "$run: the receiver exited with $STOP_RC after SIGTERM (expected 0)"
  fi
  local rows
  rows="$(sqlite3 "$dir/inbox.db" 'SELECT count(*) FROM events;' 2>/dev/null || echo '?')"
  R[$run.rows]=$rows
  if [ -n "${R[$run.acked_distinct]:-}" ] && { [ "$rows" = '?' ] || [ "$rows" -lt "${R[$run.acked_distinct]}" ]; }; then
    NOTES+=("$run: CHECK FAILED: $rows rows for ${R[$run.acked_distinct]} acknowledged deliveries")
    CHECK_FAILED=1
  fi
  R[$run.log_errors]="$(grep -c -i -E '\[(error|critical)\]|"level":"(error|critical)"' "$dir/receiver.log" || true)"
  if [ "${R[$run.log_errors]}" != 0 ]; then
    NOTES+=("$run: ${R[$run.log_errors]} error lines in the receiver log, e.g. $(grep -m1 -i -E '\[(error|critical)\]|"level":"(error|critical)"' "$dir/receiver.log" | cut -c1-200)")
  fi
  rm -f "$dir"/inbox.db* "$dir"/payloads*
}
CHECK_FAILED=0

# pinned_receiver T MODE ROUND: receiver T (b or c), pinned to SERVER_CPU, wrk on LOAD_CPU.
pinned_receiver() {
  local t=$1 mode=$2 round=$3 run="$1-$2-$3" dir="$WORK/$1-$2-$3"
  mkdir -p "$dir"
  write_config "$dir" "$mode"
  RECEIVER="${BIN[$t]}"
  launch_receiver "$dir"
  local pid=$RECEIVER_PID
  taskset -a -p -c "$SERVER_CPU" "$pid" >/dev/null
  measure "$run" "http://127.0.0.1:$RECEIVER_PORT/webhooks" "$pid" "$WRK_THREADS" "$DURATION" \
          "$PINNED_FILE" "$LOAD_CPU"
  finish_receiver "$run" "$pid" "$dir"
}

pinned_nginx() {
  local round=$1 run="n-nginx-$1"
  start_nginx "$WORK/$run"
  local pid=$NGINX_PID
  taskset -a -p -c "$SERVER_CPU" "$pid" >/dev/null
  measure "$run" "http://127.0.0.1:$NGINX_PORT/webhooks" "$pid" "$WRK_THREADS" "$DURATION" \
          "$PINNED_FILE" "$LOAD_CPU"
  stop_pid "$pid" 30
  [ "$STOP_RC" = 0 ] || die "nginx exited with $STOP_RC"
}

# metrics_now PORT FILE: /metrics into FILE; prints "backlog_all finished accepted".
metrics_now() {
  curl -s --max-time 2 -o "$2" "http://127.0.0.1:$1/metrics" || : >"$2"
  local fin
  fin="$(finished_from_metrics <"$2" | cut -d' ' -f1)"
  echo "$(metric_sum "$2" webhook_backlog_events 'group="all"') ${fin:-0} $(metric_sum "$2" webhook_deliveries_total 'result="accepted"')"
}

# drain_receiver T: DRAIN_SECONDS of unpinned load, then the time until the backlog is 0.
drain_receiver() {
  local t=$1 run="$1-drain" dir="$WORK/$1-drain"
  mkdir -p "$dir"
  write_config "$dir" default "$DRAIN_SAMPLE_MS"
  RECEIVER="${BIN[$t]}"
  launch_receiver "$dir"
  local pid=$RECEIVER_PID port=$RECEIVER_PORT
  measure "$run" "http://127.0.0.1:$port/webhooks" "$pid" "$DRAIN_WRK_THREADS" "$DRAIN_SECONDS" "$ALL_FILE"
  local end_ms=${R[$run.end_ms]} backlog finished accepted
  read -r backlog finished accepted < <(metrics_now "$port" "$dir/metrics.txt")
  R[$run.accepted_end]=$accepted
  R[$run.finished_end]=$finished
  R[$run.backlog_end]=$(( accepted - finished ))
  R[$run.processed_load]="$(awk -v f="$finished" -v s="${R[$run.duration_s]}" 'BEGIN { printf "%.0f", f / s }')"
  local done_ms="" now
  while :; do
    now="$(now_ms)"
    read -r backlog finished accepted < <(metrics_now "$port" "$dir/metrics.txt")
    if awk -v b="$backlog" -v f="$finished" -v a="$accepted" 'BEGIN { exit !(b == 0 && f >= a) }'; then
      done_ms=$now
      break
    fi
    [ $(( now - end_ms )) -lt $(( DRAIN_TIMEOUT * 1000 )) ] || break
    sleep 0.1
  done
  R[$run.ticks_drain]="$(cpu_ticks "$pid")"
  if [ -n "$done_ms" ]; then
    R[$run.drain_s]="$(awk -v d=$(( done_ms - end_ms )) 'BEGIN { printf "%.1f", d / 1000 }')"
    R[$run.processed_drain]="$(awk -v n=$(( finished - ${R[$run.finished_end]} )) -v d=$(( done_ms - end_ms )) \
                               'BEGIN { if (n <= 0) print "-"; else printf "%.0f", n / (d > 0 ? d / 1000 : 0.001) }')"
  else
    R[$run.drain_s]="> $DRAIN_TIMEOUT"
    R[$run.processed_drain]="$(awk -v n=$(( finished - ${R[$run.finished_end]} )) -v d=$(( DRAIN_TIMEOUT * 1000 )) \
                               'BEGIN { printf "%.0f", n / (d / 1000) }')"
    NOTES+=("$run: the backlog was not drained within DRAIN_TIMEOUT=$DRAIN_TIMEOUT s ($backlog left per the gauge; $finished of $accepted finished)")
  fi
  R[$run.rss_kib]="$(peak_rss_kib "$pid")"
  say "$run: backlog ${R[$run.backlog_end]} at the end of the load, drained in ${R[$run.drain_s]} s"
  finish_receiver "$run" "$pid" "$dir"
}

# strace_receiver T: syscalls per delivery (STRACE_COUNT deliveries sent once each).
strace_receiver() {
  local t=$1 run="$1-strace" dir="$WORK/$1-strace"
  mkdir -p "$dir"
  write_config "$dir" default
  RECEIVER="${BIN[$t]}"
  launch_receiver "$dir"
  local pid=$RECEIVER_PID port=$RECEIVER_PORT
  strace -c -f -p "$pid" -o "$dir/strace.txt" 2>"$dir/strace.log" &
  local spid=$!
  PIDS+=("$spid")
  sleep 1
  say "$run: $STRACE_COUNT deliveries under strace -c -f"
  timeout -k 10 600 "$LOADER" --url "http://127.0.0.1:$port/webhooks" --deliveries "$PINNED_FILE" \
    --out "$dir/load.csv" --count "$STRACE_COUNT" --connections "$CONNECTIONS" >"$dir/load.out" 2>&1 \
    || { cat "$dir/load.out" >&2; die "$run: webhook-bench-load failed"; }
  local ok backlog finished accepted
  ok="$(awk -F, '$2 == 200 { n++ } END { print n + 0 }' "$dir/load.csv")"
  for _ in $(seq 600); do
    # The live counters only: the backlog gauge is sampled every 5 s here.
    read -r backlog finished accepted < <(metrics_now "$port" "$dir/metrics.txt")
    if [ "$finished" -ge "$accepted" ]; then break; fi
    sleep 0.1
  done
  stop_pid "$spid" 30
  R[$run.ok200]=$ok
  R[$run.non200]=$(( STRACE_COUNT - ok ))
  [ "$ok" -gt 0 ] || die "$run: no delivery acknowledged under strace"
  # strace -c: "% time seconds usecs/call calls [errors] syscall"; the calls are field 4.
  local name
  for name in $STRACE_NAMES total; do
    R[$run.sc_$name]="$(awk -v n="$name" -v ok="$ok" '$NF == n && $4 ~ /^[0-9]+$/ { c = $4 }
                        END { printf "%.2f", c / ok }' "$dir/strace.txt")"
  done
  R[$run.sc_top]="$(awk -v ok="$ok" -v skip=" $STRACE_NAMES total " '$4 ~ /^[0-9]+$/ && $1 ~ /^[0-9.]+$/ && index(skip, " " $NF " ") == 0 { printf "%s %s\n", $4, $NF }' "$dir/strace.txt" \
                    | sort -rn | head -4 | awk -v ok="$ok" '{ printf "%s%s %.2f", (NR > 1 ? ", " : ""), $2, $1 / ok }')"
  finish_receiver "$run" "$pid" "$dir"
}

# ---- the run --------------------------------------------------------------------------------------
PHASE_START=$SECONDS
for round in $(seq "$ROUNDS"); do
  pinned_nginx "$round";               sleep "$PAUSE"
  pinned_receiver b default "$round";  sleep "$PAUSE"
  pinned_receiver c default "$round";  sleep "$PAUSE"
  pinned_receiver b ingest "$round";   sleep "$PAUSE"
  pinned_receiver c ingest "$round";   sleep "$PAUSE"
done
PINNED_SECONDS=$(( SECONDS - PHASE_START )); PHASE_START=$SECONDS
if [ "$DRAIN_SECONDS" -gt 0 ]; then
  drain_receiver b
  sleep "$PAUSE"; drain_receiver c
fi
DRAIN_PHASE_SECONDS=$(( SECONDS - PHASE_START )); PHASE_START=$SECONDS
if [ "$STRACE" = 1 ]; then
  sleep "$PAUSE"; strace_receiver b
  sleep "$PAUSE"; strace_receiver c
fi
STRACE_PHASE_SECONDS=$(( SECONDS - PHASE_START ))
FINISHED_AT="$(date -u '+%Y-%m-%d %H:%M:%S UTC')"
RUN_SECONDS=$(( SECONDS - RUN_STARTED ))
LOAD_AT_END="$(cut -d' ' -f1-3 /proc/loadavg), $(busy_compilers) cc1plus"

# ---- report ---------------------------------------------------------------------------------------
# per_round T MODE KEY DIGITS: the value of every round, " / " between them.
per_round() {
  local t=$1 mode=$2 key=$3 d=$4 r out="" v
  for r in $(seq "$ROUNDS"); do
    v="${R[$t-$mode-$r.$key]:-}"
    out+="${out:+ / }$(fmt "$v" "$d")"
  done
  echo "$out"
}
# ratio_round T MODE: acks/s of each round / nginx's acks/s of the same round.
ratio_round() {
  local t=$1 mode=$2 r out=""
  for r in $(seq "$ROUNDS"); do
    out+="${out:+ / }$(awk -v a="${R[$t-$mode-$r.acked_rps]}" -v b="${R[n-nginx-$r.acked_rps]}" \
                        'BEGIN { if (b > 0) printf "%.3fx", a / b; else print "-" }')"
  done
  echo "$out"
}
nginx_cell() { per_round n nginx "$1" "$2"; }
# non2xx T: non-2xx answers of all runs of T.
non2xx() {
  local t=$1 k sum=0 runs=0
  for k in "${!R[@]}"; do
    if [[ "$k" == "$t"-*.non200 ]]; then sum=$(( sum + ${R[$k]} )); runs=$(( runs + 1 )); fi
  done
  echo "$sum ($runs runs)"
}
# peak_rss T: the largest VmHWM of the pinned runs, and of the drain run.
peak_rss() {
  local t=$1 k max=0
  for k in "${!R[@]}"; do
    if [[ "$k" == "$t"-*-[0-9]*.rss_kib ]] && [ "${R[$k]}" -gt "$max" ]; then max=${R[$k]}; fi
  done
  local out
  out="$(awk -v k="$max" 'BEGIN { printf "%.1f", k / 1024 }')"
  if [ -n "${R[$t-drain.rss_kib]:-}" ]; then
    out+=" / $(awk -v k="${R[$t-drain.rss_kib]}" 'BEGIN { printf "%.1f", k / 1024 }')"
  fi
  echo "$out"
}
drain_cell() { if [ "$DRAIN_SECONDS" -gt 0 ]; then echo "${R[$1-drain.$2]:--}"; else echo "-"; fi; }

REPORT="$WORK/report.md"
{
  echo "# Write-path benchmark (issue 11), $(date -u +%F)"
  echo
  echo "- baseline: ${DESC[b]}"
  echo "- candidate: ${DESC[c]}"
  echo "- $ROUNDS rounds of (nginx, baseline default, candidate default, baseline ingest, candidate ingest)," \
       "${DURATION} s each, server on CPU $SERVER_CPU, wrk -t$WRK_THREADS -c$CONNECTIONS on CPU $LOAD_CPU;" \
       "values of the rounds are separated by \" / \"."
  echo "- $DELIVERIES pre-signed deliveries (header scheme, unique transaction ids, mean body $MEAN_BODY bytes)," \
       "$(awk -v s="$DUP_SHARE" 'BEGIN { printf "%g", s * 100 }') % re-sends (bench/wrk/deliveries.lua)."
  echo
  echo "| figure | nginx \`return 200\` | baseline | candidate | issue 11 target |"
  echo "| --- | ---: | ---: | ---: | ---: |"
  echo "| acks/s, pinned, default config | $(nginx_cell acked_rps 0) | $(per_round b default acked_rps 0) | $(per_round c default acked_rps 0) | |"
  echo "| ratio to nginx (same round), default config | 1 | $(ratio_round b default) | $(ratio_round c default) | >= 0.25x |"
  echo "| acks/s, pinned, ingest only (\`routes: []\`, warn) | $(nginx_cell acked_rps 0) | $(per_round b ingest acked_rps 0) | $(per_round c ingest acked_rps 0) | |"
  echo "| ratio to nginx (same round), ingest only | 1 | $(ratio_round b ingest) | $(ratio_round c ingest) | >= 0.5x |"
  echo "| CPU per ack, default config (us) | $(nginx_cell cpu_us 1) | $(per_round b default cpu_us 1) | $(per_round c default cpu_us 1) | <= 60 |"
  echo "| CPU per ack, ingest only (us) | $(nginx_cell cpu_us 1) | $(per_round b ingest cpu_us 1) | $(per_round c ingest cpu_us 1) | |"
  echo "| p50 latency, default config (ms) | $(nginx_cell p50_ms 2) | $(per_round b default p50_ms 2) | $(per_round c default p50_ms 2) | |"
  echo "| p99 latency, default config (ms) | $(nginx_cell p99_ms 2) | $(per_round b default p99_ms 2) | $(per_round c default p99_ms 2) | <= 5 |"
  echo "| p99.9 latency, default config (ms) | $(nginx_cell p999_ms 2) | $(per_round b default p999_ms 2) | $(per_round c default p999_ms 2) | <= 20 |"
  echo "| p99 / p99.9, ingest only (ms), round 1 | | $(fmt "${R[b-ingest-1.p99_ms]}" 2) / $(fmt "${R[b-ingest-1.p999_ms]}" 2) | $(fmt "${R[c-ingest-1.p99_ms]}" 2) / $(fmt "${R[c-ingest-1.p999_ms]}" 2) | |"
  if [ "$DRAIN_SECONDS" -gt 0 ]; then
    echo "| drain run: acks/s during ${DRAIN_SECONDS} s of unpinned load, default config | | $(fmt "${R[b-drain.acked_rps]}" 0) | $(fmt "${R[c-drain.acked_rps]}" 0) | |"
    echo "| drain run: events processed/s during the load | | $(drain_cell b processed_load) | $(drain_cell c processed_load) | |"
    echo "| drain run: backlog at the end of the load (events) | | $(drain_cell b backlog_end) | $(drain_cell c backlog_end) | |"
    echo "| drain run: seconds from the end of the load to backlog 0 | | $(drain_cell b drain_s) | $(drain_cell c drain_s) | <= 5 |"
    echo "| drain run: events processed/s during the drain | | $(drain_cell b processed_drain) | $(drain_cell c processed_drain) | >= 15000 |"
  fi
  echo "| non-2xx answers, all runs | $(non2xx n) | $(non2xx b) | $(non2xx c) | 0 |"
  echo "| peak RSS, VmHWM (MB): pinned runs max / drain run | $(peak_rss n) | $(peak_rss b) | $(peak_rss c) | <= 30 |"
  if [ "$STRACE" = 1 ]; then
    for name in total $STRACE_NAMES; do
      echo "| syscalls per delivery: $name | | ${R[b-strace.sc_$name]} | ${R[c-strace.sc_$name]} | |"
    done
    echo "| syscalls per delivery: largest others | | ${R[b-strace.sc_top]} | ${R[c-strace.sc_top]} | |"
  fi
  echo
  echo "acks/s = 200 answers per second (wrk, deliveries.lua). CPU per ack = utime + stime of the server" \
       "process during the wrk run / 200 answers (work left in the backlog when the load stops is not" \
       "counted). Latency = wrk's percentiles over all answers. Drain: the backlog is" \
       "webhook_deliveries_total{result=\"accepted\"} - webhook_events_total{done,dead,unhandled} at the" \
       "end of the load; drained = webhook_backlog_events{group=\"all\"} (sampled every ${DRAIN_SAMPLE_MS} ms)" \
       "is 0 and every accepted delivery has finished, polled every 100 ms.$( [ "$STRACE" = 1 ] && echo " Syscalls: strace -c -f attached while $STRACE_COUNT deliveries (sent once each, 32 connections, default config) were acknowledged and processed, / acknowledged deliveries.")"
  echo
  echo "## Machine"
  echo
  echo "- $NPROC CPUs (nproc): $CPU_MODEL, ${CPU_MHZ:-?} MHz; $VIRT; memory $MEM"
  echo "- $OS, kernel $KERNEL"
  echo "- temp dir: $FS_TYPE on $FS_SOURCE ($DISK); $DSYNC_START synchronous 4 KiB writes/s at the start"
  echo "- $CXX_VERSION, $BUILD_TYPE ($BUILD_FLAGS); $WRK_VERSION; nginx $NGINX_VERSION (one process); sqlite3 CLI $SQLITE_VERSION"
  echo "- run $STARTED_AT - $FINISHED_AT ($RUN_SECONDS s: pinned runs $PINNED_SECONDS s, drain runs" \
       "$DRAIN_PHASE_SECONDS s, strace $STRACE_PHASE_SECONDS s; the build before it $BUILD_SECONDS s);" \
       "load average at start $LOAD_AT_START, at the end $LOAD_AT_END"
  echo
  echo "## Runs"
  echo
  echo "| run | acks/s | non-2xx | p50 / p99 / p99.9 ms | server CPUs busy | CPU per ack us | VmHWM MB | load before |"
  echo "| --- | ---: | ---: | --- | ---: | ---: | ---: | --- |"
  for run in "${RUNS[@]}"; do
    echo "| $run | $(fmt "${R[$run.acked_rps]}" 0) | ${R[$run.non200]} | $(fmt "${R[$run.p50_ms]}" 2) / $(fmt "${R[$run.p99_ms]}" 2) / $(fmt "${R[$run.p999_ms]}" 2) |" \
         "${R[$run.cores]} | ${R[$run.cpu_us]} | $(awk -v k="${R[$run.rss_kib]}" 'BEGIN { printf "%.1f", k / 1024 }') | ${R[$run.before]} |"
  done
  echo
  echo "## Notes"
  echo
  [ -z "${BENCH_NOTE:-}" ] || echo "- $BENCH_NOTE"
  for n in "${NOTES[@]}"; do echo "- $n"; done
  echo "- Runs: n = nginx, b = baseline, c = candidate; the receivers' processes were checked after each run" \
       "(SIGTERM, exit 0, every acknowledged delivery in the database)."
  echo "- One machine shared with other work: compare within a round; differences of 10-20 % between" \
       "rounds are noise on a shared 2-CPU VM (see the load before each run)."
} >"$REPORT"

mkdir -p "$RESULTS_DIR"
RESULT_FILE="$RESULTS_DIR/$(date -u +%F)-write-path.md"
cp "$REPORT" "$RESULT_FILE.tmp"
mv "$RESULT_FILE.tmp" "$RESULT_FILE"
cat "$REPORT"
say "written to $RESULT_FILE ($RUN_SECONDS s after the build)"
[ "$CHECK_FAILED" = 0 ] || die "a database check failed (see Notes)"
