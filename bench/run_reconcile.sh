#!/usr/bin/env bash
# bench/run_reconcile.sh: the reconciliation benchmark (bench/README.md; issue 14's closing note).
# webhook-bench-reconcile (bench/reconcile_pass.cpp) runs, per round, on a fresh SQLite file and a
# FakeConomy on 127.0.0.1 in its own process: N payments awaiting settlement, a share of them
# SETTLED at the API; the baseline GETs every payment with the API client alone; then one
# reconciliation pass as the `reconcile` command runs it (choose, GET, judge, one durable
# transaction per finding), then a second pass that must find nothing. Prints a markdown report
# and writes it to bench/results/<UTC date>-reconcile.md.
# Settings (environment): BENCH_PAYMENTS (1000), BENCH_SETTLED_PERCENT (10), BENCH_ROUNDS (3),
# BENCH_BUILD_DIR (build/release), BENCH_SKIP_BUILD=1, BENCH_JOBS (2), BENCH_NOTE,
# BENCH_RESULTS_DIR (bench/results), BENCH_KEEP_TMP=1. Traffic goes only to 127.0.0.1.
set -Eeuo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

PAYMENTS="${BENCH_PAYMENTS:-1000}"
SETTLED_PERCENT="${BENCH_SETTLED_PERCENT:-10}"
ROUNDS="${BENCH_ROUNDS:-3}"
RESULTS_DIR="${BENCH_RESULTS_DIR:-bench/results}"
JOBS="${BENCH_JOBS:-2}"
BUILD_DIR="${BENCH_BUILD_DIR:-build/release}"
BUILD_PATH="$ROOT/$BUILD_DIR"

BENCH_NAME="bench/run_reconcile.sh"
# shellcheck source=bench/lib.sh
. "$ROOT/bench/lib.sh"

for v in PAYMENTS SETTLED_PERCENT ROUNDS; do
  case "${!v}" in *[!0-9]* | "") die "BENCH_$v must be a non-negative integer" ;; esac
done
[ "${BENCH_SKIP_BUILD:-0}" = 1 ] || build_tools webhook-bench-reconcile
TOOL="$BUILD_PATH/bench/webhook-bench-reconcile"
[ -x "$TOOL" ] || die "$TOOL not built"

WORK="$(mktemp -d "${TMPDIR:-/tmp}/webhook-bench-reconcile.XXXXXX")"
describe_machine
say "running $ROUNDS round(s) of $PAYMENTS payments"
TABLE="$("$TOOL" --payments "$PAYMENTS" --settled-percent "$SETTLED_PERCENT" --rounds "$ROUNDS" \
          --work "$WORK")" || die "webhook-bench-reconcile failed (a count was off; see above)"

REPORT="$WORK/report.md"
{
  echo "# Reconciliation benchmark, $(date -u +%F)"
  echo
  echo "$PAYMENTS payments awaiting settlement (CAPTURED two days ago), $SETTLED_PERCENT % of them" \
       "SETTLED at the API (FakeConomy, a Beast HTTP/1.1 server on 127.0.0.1 in the same process," \
       "keep-alive). **Baseline**: one API client GETs every payment, one after the other." \
       "**Pass**: \`Reconciler::run_pass()\` as the \`reconcile\` command runs it: choose from" \
       "the projections, GET, judge, and record each missed settlement in its own durable" \
       "transaction (synchronous=FULL). **2nd pass**: the same again; the settled ones are no" \
       "longer awaiting settlement, the rest agree with the API. $BUILD_TYPE build ($BUILD_DIR)."
  echo
  echo "$TABLE"
  echo
  echo "API calls per pass: one GET per payment (no retries were needed), plus one POST /auth" \
       "per token lifetime (3600 s here). In \`serve\` the same pass is paced: at the default" \
       "reconcile.max_calls_per_minute 60, a GET per second, so these $PAYMENTS payments take" \
       "$(( (PAYMENTS + 59) / 60 )) minutes of passes; the API, not the receiver, sets that pace."
  echo
  echo "## Machine"
  echo
  echo "- CPU: $CPU_MODEL, $NPROC logical CPUs, ${CPU_MHZ:-?} MHz; virtualisation: $VIRT"
  echo "- Memory: $MEM; OS / kernel: $OS, $KERNEL"
  echo "- Temp dir: $FS_TYPE on $FS_SOURCE ($DISK); $DSYNC_START synchronous 4 KiB writes/s"
  echo "- Compiler: $CXX_VERSION; build type $BUILD_TYPE ($BUILD_FLAGS), build dir $BUILD_DIR"
  echo "- Source tree $GIT_REV with $GIT_DIRTY files changed or new; SQLite $SQLITE_VERSION"
  if [ -n "${BENCH_NOTE:-}" ]; then echo "- Note: $BENCH_NOTE"; fi
} >"$REPORT"

mkdir -p "$RESULTS_DIR"
RESULT_FILE="$RESULTS_DIR/$(date -u +%F)-reconcile.md"
cp "$REPORT" "$RESULT_FILE"
cat "$REPORT"
say "written to $RESULT_FILE"
