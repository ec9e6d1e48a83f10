# bench/lib.sh: what the benchmark scripts share (bench/run.sh, run_workers.sh, run_write_path.sh, ...).
#
# Source it from the repository root with `set -Eeuo pipefail` on and BENCH_NAME set to the
# script's name (it prefixes error messages). Sourcing defines the helpers below, the PIDS array
# and WORK (empty), and installs the traps: on any exit every PID still in PIDS is stopped
# (SIGTERM, 5 s, SIGKILL) and WORK is removed unless BENCH_KEEP_TMP=1.
#   die, say                     messages (die exits 1)
#   stop_pid PID LIMIT_S         SIGTERM and wait; STOP_RC = its exit code; forget_pid PID
#   free_port, port_is_free, http_status
#   cache_value NAME             a value of $BUILD_PATH/CMakeCache.txt
#   dsync_rate                   synchronous 4 KiB writes/s on $WORK's file system
#   describe_machine             sets CPU_MODEL CPU_MHZ NPROC MEM KERNEL OS VIRT FS_SOURCE FS_TYPE
#                                FS_OPTS DISK DSYNC_START CXX_VERSION BUILD_TYPE BUILD_FLAGS WERROR
#                                SQLITE_VERSION GIT_REV GIT_DIRTY (needs WORK and BUILD_PATH)
#   CLK_TCK, cpu_ticks PID, busy_compilers, peak_rss_kib PID
#   start_nginx DIR              nginx `return 200`, one process (needs NGINX)
# shellcheck shell=bash
# shellcheck disable=SC2034  # the variables set here are used by the scripts that source it

: "${BENCH_NAME:?set BENCH_NAME before sourcing bench/lib.sh}"

die() { echo "$BENCH_NAME: error: $*" >&2; exit 1; }
say() { echo "==> $*" >&2; }

# ---- processes started here: tracked by PID, stopped on any exit ------------------------------
PIDS=()
WORK=""
cleanup() {
  local rc=$?
  local pid
  for pid in "${PIDS[@]}"; do
    if kill -0 "$pid" 2>/dev/null; then
      echo "$BENCH_NAME: stopping leftover process $pid" >&2
      kill -TERM "$pid" 2>/dev/null || true
      for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
      kill -KILL "$pid" 2>/dev/null || true
      wait "$pid" 2>/dev/null || true
    fi
  done
  if [ -n "$WORK" ] && [ -d "$WORK" ]; then
    if [ "${BENCH_KEEP_TMP:-0}" = 1 ]; then
      echo "$BENCH_NAME: kept $WORK" >&2
    else
      rm -rf "$WORK"
    fi
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

forget_pid() {
  local keep=() p
  for p in "${PIDS[@]}"; do [ "$p" = "$1" ] || keep+=("$p"); done
  PIDS=("${keep[@]}")
}

# Sends SIGTERM to $1 and waits (at most $2 s) for it; sets STOP_RC to its exit code.
stop_pid() {
  local pid=$1 limit=$2
  STOP_RC=0
  kill -TERM "$pid" 2>/dev/null || true
  local waited=0
  while kill -0 "$pid" 2>/dev/null; do
    if [ "$waited" -ge $(( limit * 10 )) ]; then
      kill -KILL "$pid" 2>/dev/null || true
      wait "$pid" 2>/dev/null || true
      forget_pid "$pid"
      die "process $pid did not stop within ${limit}s of SIGTERM (killed)"
    fi
    sleep 0.1
    waited=$(( waited + 1 ))
  done
  wait "$pid" || STOP_RC=$?
  forget_pid "$pid"
}

port_is_free() {
  if command -v ss >/dev/null; then
    [ -z "$(ss -Htln "sport = :$1" 2>/dev/null)" ]
  else
    if (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then return 1; fi
  fi
}

free_port() {
  local p
  for _ in $(seq 100); do
    p=$(( 20000 + RANDOM % 40000 ))
    if port_is_free "$p"; then echo "$p"; return 0; fi
  done
  return 1
}

# HTTP status of a request to $1 (000 when nothing answers).
http_status() { curl -s -o /dev/null -w '%{http_code}' --max-time 2 "$@" || true; }

# ---- machine description ------------------------------------------------------------------------
cache_value() { sed -n "s/^$1:[A-Z]*=//p" "$BUILD_PATH/CMakeCache.txt" 2>/dev/null | head -1; }
# What one synchronous 4 KiB write costs on the temp dir's file system (the floor of a commit):
# 500 of them with dd oflag=dsync; prints the writes per second.
dsync_rate() {
  local secs
  secs="$({ dd if=/dev/zero of="$WORK/dsync.test" bs=4k count=500 oflag=dsync 2>&1 || true; } \
          | sed -n 's/.* copied, \([0-9.e+-]*\) s,.*/\1/p')"
  rm -f "$WORK/dsync.test"
  awk -v s="${secs:-0}" 'BEGIN { if (s > 0) printf "%.0f", 500 / s; else printf "?" }'
}
describe_machine() {
  CPU_MODEL="$({ grep -m1 'model name' /proc/cpuinfo || true; } | cut -d: -f2- | sed 's/^ *//')"
  CPU_MHZ="$({ grep -m1 'cpu MHz' /proc/cpuinfo || true; } | cut -d: -f2- | sed 's/^ *//')"
  NPROC="$(nproc)"
  MEM="$(awk '/MemTotal/ {printf "%.1f GiB", $2 / 1048576}' /proc/meminfo)"
  KERNEL="$(uname -srm)"
  # shellcheck disable=SC1091
  OS="$( (. /etc/os-release && echo "$PRETTY_NAME") 2>/dev/null || echo unknown)"
  VIRT_VM="$(systemd-detect-virt --vm 2>/dev/null || true)"
  VIRT_CT="$(systemd-detect-virt --container 2>/dev/null || true)"
  HYPERVISOR="$({ lscpu 2>/dev/null || true; } | sed -n 's/^Hypervisor vendor: *//p')"
  VIRT="VM: ${VIRT_VM:-?}${HYPERVISOR:+ (hypervisor $HYPERVISOR)}, container: ${VIRT_CT:-?}"
  FS_SOURCE="$(findmnt -n -o SOURCE --target "$WORK" 2>/dev/null || echo '?')"
  FS_TYPE="$(findmnt -n -o FSTYPE --target "$WORK" 2>/dev/null || echo '?')"
  FS_OPTS="$(findmnt -n -o OPTIONS --target "$WORK" 2>/dev/null || echo '?')"
  DISK="?"
  if [ -b "$FS_SOURCE" ]; then
    disk_name="$({ lsblk -no PKNAME "$FS_SOURCE" 2>/dev/null || true; } | head -1)"
    [ -n "$disk_name" ] || disk_name="$(basename "$FS_SOURCE")"
    rota="$(cat "/sys/block/$disk_name/queue/rotational" 2>/dev/null || echo '?')"
    model="$(sed 's/ *$//' "/sys/block/$disk_name/device/model" 2>/dev/null || true)"
    case "$disk_name" in vd*) kind="virtio block device" ;; nvme*) kind="NVMe" ;; *) kind="block device" ;; esac
    DISK="$kind $disk_name${model:+ ($model)}, kernel reports rotational=$rota"
  fi
  DSYNC_START="$(dsync_rate)"
  CXX_PATH="$(cache_value CMAKE_CXX_COMPILER)"
  CXX_VERSION="$({ "${CXX_PATH:-c++}" --version 2>/dev/null || true; } | head -1)"
  BUILD_TYPE="$(cache_value CMAKE_BUILD_TYPE)"
  BUILD_FLAGS="$(cache_value "CMAKE_CXX_FLAGS_$(echo "$BUILD_TYPE" | tr '[:lower:]' '[:upper:]')")"
  WERROR="$(cache_value WEBHOOK_WERROR)"
  SQLITE_VERSION="$(sqlite3 --version | cut -d' ' -f1)"
  GIT_REV="$(git rev-parse --short HEAD 2>/dev/null || echo 'no commit yet')"
  GIT_DIRTY="$({ git status --porcelain 2>/dev/null || true; } | wc -l | tr -d ' ')"
}

CLK_TCK="$(getconf CLK_TCK)"
# CPU time (user + system, in clock ticks) used so far by process $1.
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat" 2>/dev/null || echo 0; }

busy_compilers() { { pgrep -c -x cc1plus 2>/dev/null || true; } | head -1; }

# build_tools TARGET...: builds the targets in $BUILD_PATH ($BUILD_DIR) with $JOBS jobs: the
# release preset for build/release, otherwise a RelWithDebInfo directory configured when missing.
build_tools() {
  say "building (RelWithDebInfo, $BUILD_DIR)"
  if [ "$BUILD_DIR" = build/release ]; then
    cmake --preset release >/dev/null
  elif [ ! -f "$BUILD_PATH/CMakeCache.txt" ]; then
    cmake -S "$ROOT" -B "$BUILD_PATH" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DWEBHOOK_WERROR=OFF >/dev/null
  fi
  cmake --build "$BUILD_PATH" -j"$JOBS" --target "$@"
}

# ---- shared by run_workers.sh and run_projections.sh --------------------------------------------
# start_downstream uses the caller's DOWNSTREAM (the binary), DOWNSTREAM_THREADS, FORWARD_SECRET
# and PIDS, and sets DOWNSTREAM_PID and DOWNSTREAM_PORT; read_into fills the caller's R.

now_ms() { date +%s%3N; }

fmt() { awk -v v="$1" -v d="${2:-1}" 'BEGIN { if (v == "" || v == "-") print "-"; else printf "%.*f", d, v }'; }

load_now() { echo "load $(cut -d' ' -f1 /proc/loadavg), $(busy_compilers) cc1plus"; }

# Sum of the samples of metric $2 in file $1 whose labels match regex $3 ("" = all).
metric_sum() {
  awk -v name="$2" -v re="${3:-}" '
    index($0, name) == 1 { rest = substr($0, length(name) + 1)
      if (rest ~ /^(\{| )/ && (re == "" || rest ~ re)) s += $NF }
    END { printf "%.10g", s + 0 }' "$1"
}

# "finished done" events from /metrics on stdin.
finished_from_metrics() {
  awk '/^webhook_events_total\{/ { if ($0 ~ /outcome="(done|dead|unhandled)"/) f += $NF
                                    if ($0 ~ /outcome="done"/) d += $NF }
       END { printf "%d %d\n", f, d }'
}

# Bucketed quantiles of histogram $2 in /metrics file $1, label sets matching regex $3 summed:
# "count p50 p90 p99", each quantile "≤ <bucket bound> ms".
histogram_quantiles() {
  awk -v name="$2_bucket" -v re="${3:-}" '
    index($0, name "{") == 1 && (re == "" || $0 ~ re) {
      match($0, /le="[^"]*"/); le = substr($0, RSTART + 4, RLENGTH - 5)
      c[le] += $NF; if (!(le in seen)) { seen[le] = 1; les[++n] = le } }
    END {
      for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) {
        a = (les[i] == "+Inf") ? 1e308 : les[i] + 0; b = (les[j] == "+Inf") ? 1e308 : les[j] + 0
        if (b < a) { t = les[i]; les[i] = les[j]; les[j] = t } }
      total = c["+Inf"] + 0; printf "%d", total
      split("0.5 0.9 0.99", qs, " ")
      for (k = 1; k <= 3; k++) {
        out = "-"
        if (total > 0) for (i = 1; i <= n; i++) if (c[les[i]] >= qs[k] * total) {
          if (les[i] == "+Inf") out = "> " prev_ms " ms"; else out = "≤ " (les[i] * 1000) " ms"
          break } else { prev_ms = (les[i] == "+Inf") ? "?" : les[i] * 1000 }
        printf "\t%s", out }
      printf "\n" }' "$1"
}

# "n p50 p90 p99 max min negatives" of the numbers in file $1 (nearest rank: exact samples).
percentiles() {
  sort -g "$1" | awk '
    { v[NR] = $1; if ($1 < 0) neg++ }
    function at(q,   r) { r = int(q * NR); if (r < q * NR) r++; if (r < 1) r = 1; return v[r] }
    END { if (NR == 0) { print "0\t-\t-\t-\t-\t-\t0"; exit }
          printf "%d\t%.2f\t%.2f\t%.2f\t%.2f\t%.2f\t%d\n", NR, at(0.5), at(0.9), at(0.99), v[NR], v[1], neg + 0 }'
}

# read_into T KEY...: one tab-separated line from stdin into R[T.KEY]...
read_into() {
  local t=$1 k i=0
  shift
  local -a vals=()
  IFS=$'\t' read -r -a vals || true
  for k in "$@"; do R[$t.$k]="${vals[$i]:-}"; i=$(( i + 1 )); done
}

start_downstream() {
  local dir=$1
  env BENCH_FORWARD_SECRET="$FORWARD_SECRET" "$DOWNSTREAM" --port-file "$dir/downstream.port" \
      --csv "$dir/arrivals.csv" --threads "$DOWNSTREAM_THREADS" --secret-env BENCH_FORWARD_SECRET \
      >"$dir/downstream.out" 2>"$dir/downstream.log" &
  DOWNSTREAM_PID=$!
  PIDS+=("$DOWNSTREAM_PID")
  DOWNSTREAM_PORT=""
  for _ in $(seq 100); do
    kill -0 "$DOWNSTREAM_PID" 2>/dev/null || break
    if [ -s "$dir/downstream.port" ]; then DOWNSTREAM_PORT="$(tr -d '[:space:]' <"$dir/downstream.port")"; break; fi
    sleep 0.05
  done
  [ -n "$DOWNSTREAM_PORT" ] || { cat "$dir/downstream.log" >&2; die "the downstream did not start"; }
}

# launch_receiver DIR [READY_PATH] [NAME=value...]: starts the caller's $RECEIVER with
# DIR/config.json and the caller's KEY as the source's key (plus the given variables), output
# to DIR/receiver.log, and waits until READY_PATH (default /readyz) answers 200. Sets
# RECEIVER_PID (tracked in PIDS) and RECEIVER_PORT.
launch_receiver() {
  local dir=$1 ready=${2:-/readyz}
  shift $(( $# < 2 ? $# : 2 ))
  env -u WEBHOOK_RECEIVER_CONFIG -u WEBHOOK_RECEIVER_LISTEN -u WEBHOOK_RECEIVER_SQLITE_PATH \
      -u WEBHOOK_RECEIVER_PAYLOAD_LOG -u WEBHOOK_RECEIVER_LOG_FORMAT -u WEBHOOK_RECEIVER_LOG_LEVEL \
      -u WEBHOOK_RECEIVER_SECRET_KEYS_FILE -u BENCH_FORWARD_SECRET_FILE \
      WEBHOOK_RECEIVER_SECRET_KEYS="$KEY" "$@" \
      "$RECEIVER" serve --config "$dir/config.json" --port-file "$dir/port" >"$dir/receiver.log" 2>&1 &
  RECEIVER_PID=$!
  PIDS+=("$RECEIVER_PID")
  RECEIVER_PORT=""
  for _ in $(seq 100); do
    kill -0 "$RECEIVER_PID" 2>/dev/null || break
    if [ -s "$dir/port" ]; then RECEIVER_PORT="$(tr -d '[:space:]' <"$dir/port")"; fi
    if [ -n "$RECEIVER_PORT" ] && [ "$(http_status "http://127.0.0.1:$RECEIVER_PORT$ready")" = 200 ]; then break; fi
    RECEIVER_PORT=""
    sleep 0.1
  done
  [ -n "$RECEIVER_PORT" ] || { cat "$dir/receiver.log" >&2; die "the receiver did not become ready"; }
}

# start_nginx DIR: nginx `return 200` on a free 127.0.0.1 port: one process in the foreground
# (master_process off, one worker), config, logs and temp paths in DIR, answering every request
# with a constant {"status":"accepted"} after receiving (and discarding) its body. Uses the
# caller's NGINX (the binary). Sets NGINX_PID (tracked in PIDS) and NGINX_PORT.
start_nginx() {
  local dir=$1 attempt
  mkdir -p "$dir/logs" "$dir/tmp"
  NGINX_PID=""
  NGINX_PORT=""
  for attempt in 1 2 3 4 5; do
    NGINX_PORT="$(free_port)" || die "no free port"
    cat >"$dir/nginx.conf" <<CONF
# Generated by $BENCH_NAME: one process in the foreground, loopback only.
daemon off;
master_process off;
worker_processes 1;
pid $dir/nginx.pid;
error_log $dir/logs/error.log warn;
events { worker_connections 1024; }
http {
  access_log off;
  keepalive_requests 100000000;
  keepalive_timeout 60s;
  client_body_temp_path $dir/tmp/body;
  proxy_temp_path $dir/tmp/proxy;
  fastcgi_temp_path $dir/tmp/fastcgi;
  uwsgi_temp_path $dir/tmp/uwsgi;
  scgi_temp_path $dir/tmp/scgi;
  server {
    listen 127.0.0.1:$NGINX_PORT;
    location / {
      default_type application/json;
      return 200 '{"status":"accepted"}';
    }
  }
}
CONF
    "$NGINX" -p "$dir/" -c "$dir/nginx.conf" -e "$dir/logs/error.log" >"$dir/logs/stdout.log" 2>&1 &
    NGINX_PID=$!
    PIDS+=("$NGINX_PID")
    local up=0
    for _ in $(seq 50); do
      kill -0 "$NGINX_PID" 2>/dev/null || break
      if [ "$(http_status -X POST -d '{}' "http://127.0.0.1:$NGINX_PORT/webhooks")" = 200 ]; then up=1; break; fi
      sleep 0.1
    done
    [ "$up" = 1 ] && return 0
    stop_pid "$NGINX_PID" 10 || true
    say "nginx did not come up on port $NGINX_PORT (attempt $attempt): $(tail -1 "$dir/logs/error.log" 2>/dev/null)"
  done
  die "nginx could not be started"
}

# Peak resident set size (VmHWM) of process $1 in KiB (0 when it is gone).
peak_rss_kib() { awk '/^VmHWM:/ { print $2; found = 1 } END { if (!found) print 0 }' "/proc/$1/status" 2>/dev/null || echo 0; }
