#!/usr/bin/env bash
# Builds the `fuzz` preset (clang, libFuzzer, ASan, UBSan) and runs every target of tests/fuzz for
# N seconds each on a scratch copy of its corpus: the committed corpus is never written, and
# crash artifacts go to a temporary directory that is kept (and named) only when something fails.
#   tests/fuzz/run.sh [seconds-per-target] [target...]     (default: $FUZZ_SECONDS, else 60)
# Prints one line per target (executions, exec/s, corpus growth); exits 1 when any target
# crashed, leaked, timed out or broke an invariant, 2 when it cannot build.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
seconds=${1:-${FUZZ_SECONDS:-60}}
shift $(( $# > 0 ? 1 : 0 ))
all_targets=(json_text signature envelope timestamp text proxy_trust config)
targets=("$@")
(( ${#targets[@]} )) || targets=("${all_targets[@]}")
jobs=${JOBS:-$(nproc)}

# clang and the libFuzzer runtime (Debian bookworm: clang 14). A fresh CI machine runs as root.
packages=(clang libclang-rt-14-dev)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || missing+=("$p")
done
if (( ${#missing[@]} )); then
  if [[ $(id -u) == 0 ]]; then
    echo "installing: ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  else
    echo "missing packages; run as root: apt-get install -y --no-install-recommends ${missing[*]}" >&2
    exit 2
  fi
fi

if command -v ccache >/dev/null && [[ -z ${CMAKE_CXX_COMPILER_LAUNCHER:-} ]]; then
  export CMAKE_CXX_COMPILER_LAUNCHER=ccache
fi
cd "$root"
if ! { cmake --preset fuzz >/dev/null && cmake --build --preset fuzz -j "$jobs" >/dev/null; }; then
  echo "fuzz build failed; run: cmake --preset fuzz && cmake --build --preset fuzz" >&2
  exit 2
fi

scratch=$(mktemp -d "${TMPDIR:-/tmp}/webhook-fuzz.XXXXXX")
failed=0
export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1:suppressions=$root/tests/fuzz/ubsan.supp"
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1}"
for t in "${targets[@]}"; do
  work="$scratch/$t"
  mkdir -p "$work/artifacts"
  cp -r "tests/fuzz/corpus/$t" "$work/corpus"
  seeds=$(find "$work/corpus" -type f | wc -l)
  dict=()
  case $t in json_text | signature | envelope | config) dict=(-dict=tests/fuzz/json.dict) ;; esac
  rc=0
  "build/fuzz/tests/fuzz/fuzz_$t" "$work/corpus" "${dict[@]}" -max_total_time="$seconds" \
    -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 -artifact_prefix="$work/artifacts/" \
    >"$work/log" 2>&1 || rc=$?
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$work/log" | tail -1)
  rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$work/log" | tail -1)
  units=$(find "$work/corpus" -type f | wc -l)
  if (( rc == 0 )); then
    printf '%-12s ok      %12s executions %8s exec/s  corpus %d -> %d\n' \
      "$t" "${runs:-?}" "${rate:-?}" "$seeds" "$units"
  else
    failed=1
    printf '%-12s FAILED  %12s executions %8s exec/s  (exit %d)\n' "$t" "${runs:-?}" "${rate:-?}" "$rc"
    grep -E 'fuzz invariant violated|ERROR: |runtime error|SUMMARY' "$work/log" | head -5 | sed 's/^/    /'
    echo "    log: $work/log"
    ls "$work/artifacts"/* 2>/dev/null | sed 's/^/    artifact: /'
  fi
done
if (( failed )); then
  echo "fuzzing found a problem; the logs and inputs are kept in $scratch" >&2
  exit 1
fi
rm -rf "$scratch"
