#!/usr/bin/env bash
# The Prometheus and Grafana files of docker/ checked against the real binary (issue 12, part 4).
#   tests/observability/promtool_test.sh <webhook-receiver binary> <repository root>
# 1. promtool check rules / test rules / check config on docker/prometheus/;
# 2. the Grafana dashboard is valid JSON;
# 3. the real binary serves on 127.0.0.1:0 (config and SQLite in a temp dir, fake keys), gets a
#    few deliveries (signed with its own `sign`, plus one unsigned), and its /metrics scrape
#    passes `promtool check metrics` with no output at all: parse errors and lint problems
#    (missing HELP, counter without _total, non-base units, ...) both fail, since every family
#    is ours and each of those is a defect a scraper or a PromQL author trips on;
# 4. every webhook_* name in the dashboard and the alert rules is a family of that scrape (a
#    histogram's _bucket/_sum/_count count as the histogram), and the counters the alerts take
#    increase() of exist at zero for every configured source before anything happened.
# The receiver is stopped by its PID (trap); every wait has a deadline. Exit 0 = all passed.
set -Eeuo pipefail

if [ $# -ne 2 ]; then
  echo "usage: $0 <webhook-receiver binary> <repository root>" >&2
  exit 2
fi
BIN=$1
ROOT=$2
PROM=$ROOT/docker/prometheus
DASHBOARD=$ROOT/docker/grafana/webhook-receiver.json

fail() {
  echo "FAIL: $*" >&2
  exit 1
}
step() { echo "--- $*"; }

command -v promtool >/dev/null || fail "promtool not found (Debian package prometheus; make deps)"
command -v curl >/dev/null || fail "curl not found"
[ -x "$BIN" ] || fail "not an executable: $BIN"

WORK=$(mktemp -d "${TMPDIR:-/tmp}/promtool-test.XXXXXX")
PID=
cleanup() {
  if [ -n "$PID" ]; then
    kill "$PID" 2>/dev/null || true
    wait "$PID" 2>/dev/null || true
  fi
  rm -rf "$WORK"
}
trap cleanup EXIT

# --- 1. rules, rule unit tests, config ---------------------------------------------------------
step "promtool check rules"
promtool check rules "$PROM/alerts.yml"
step "promtool test rules"
promtool test rules "$PROM/alerts.test.yml"
step "promtool check config"
promtool check config "$PROM/prometheus.yml"

# --- 2. the dashboard parses ------------------------------------------------------------------
step "dashboard JSON"
if command -v python3 >/dev/null; then
  python3 -c 'import json, sys; d = json.load(open(sys.argv[1])); assert d["panels"], "no panels"' \
    "$DASHBOARD" || fail "$DASHBOARD: not valid JSON"
elif command -v node >/dev/null; then
  node -e 'const d = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
           if (!d.panels.length) throw new Error("no panels");' "$DASHBOARD" ||
    fail "$DASHBOARD: not valid JSON"
elif command -v jq >/dev/null; then
  jq -e '.panels | length > 0' "$DASHBOARD" >/dev/null || fail "$DASHBOARD: not valid JSON"
else
  fail "no JSON parser (python3, node or jq) to check $DASHBOARD"
fi
echo "  valid JSON"

# --- 3. the real binary, a few deliveries, a live scrape ---------------------------------------
step "serve the real binary"
cat >"$WORK/config.json" <<EOF
{
  "server": {"listen": "127.0.0.1:0", "shutdown_timeout_ms": 2000},
  "sources": [
    {"name": "production", "path": "/webhooks"},
    {"name": "sandbox", "path": "/webhooks/sandbox",
     "secret_keys_env": "WEBHOOK_RECEIVER_SANDBOX_SECRET_KEYS"}
  ],
  "storage": {"sqlite_path": "$WORK/inbox.db"},
  "payload_log": {"path": "$WORK/payloads.jsonl"},
  "monitoring": {"backlog_sample_ms": 200},
  "logging": {"level": "error"}
}
EOF
# Obviously fake keys; the overrides of the caller's environment must not reach the binary.
unset WEBHOOK_RECEIVER_CONFIG WEBHOOK_RECEIVER_LISTEN WEBHOOK_RECEIVER_SQLITE_PATH \
  WEBHOOK_RECEIVER_PAYLOAD_LOG WEBHOOK_RECEIVER_SECRET_KEYS_FILE \
  WEBHOOK_RECEIVER_SANDBOX_SECRET_KEYS_FILE
export WEBHOOK_RECEIVER_SECRET_KEYS=whsec_test_only_promtool_0001
export WEBHOOK_RECEIVER_SANDBOX_SECRET_KEYS=whsec_test_only_promtool_sandbox_0002
"$BIN" serve --config "$WORK/config.json" --port-file "$WORK/port" >"$WORK/receiver.log" 2>&1 &
PID=$!

# wait_for SECONDS CMD...: runs CMD every 0.1 s until it succeeds; fails after SECONDS.
wait_for() {
  local deadline=$((SECONDS + $1))
  shift
  until "$@"; do
    [ $SECONDS -lt $deadline ] || return 1
    kill -0 "$PID" 2>/dev/null || return 1
    sleep 0.1
  done
}
port_written() { grep -qE '^[0-9]+$' "$WORK/port" 2>/dev/null; }
if ! wait_for 30 port_written; then
  tail -n 20 "$WORK/receiver.log" >&2
  fail "the receiver did not write its port within 30 s"
fi
PORT=$(head -n 1 "$WORK/port")
BASE=http://127.0.0.1:$PORT
echo "  pid $PID, port $PORT"

# post_signed KEY_ENV PATH FIXTURE: prints the HTTP status of one signed delivery.
post_signed() {
  "$BIN" sign --secret-env "$1" --scheme header "$ROOT/tests/fixtures/conomy/$3" |
    curl -sS -o /dev/null -m 10 -w '%{http_code}' -K - "$BASE$2"
}
expect() {  # expect WHAT EXPECTED ACTUAL
  [ "$2" = "$3" ] || fail "$1: expected $2, got $3"
  echo "  $1: $3"
}
expect "production requiresReview" 200 \
  "$(post_signed WEBHOOK_RECEIVER_SECRET_KEYS /webhooks 06-payment-requires-review.json)"
expect "production settled" 200 \
  "$(post_signed WEBHOOK_RECEIVER_SECRET_KEYS /webhooks 08-payment-settled.json)"
expect "production settled again (duplicate)" 200 \
  "$(post_signed WEBHOOK_RECEIVER_SECRET_KEYS /webhooks 08-payment-settled.json)"
expect "sandbox captured" 200 \
  "$(post_signed WEBHOOK_RECEIVER_SANDBOX_SECRET_KEYS /webhooks/sandbox \
    01-legacy-transaction-captured.json)"
expect "sandbox unsigned" 401 \
  "$(curl -sS -o /dev/null -m 10 -w '%{http_code}' -H 'Content-Type: application/json' \
    --data-binary '{"eventType":"payment.settled"}' "$BASE/webhooks/sandbox")"

# Scrape once the handlers ran the three new events (labelled worker-side series exist).
scrape() { curl -sS -f -m 10 -o "$WORK/metrics.txt" "$BASE/metrics"; }
handled() {
  scrape || return 1
  [ "$(awk '/^webhook_events_total\{/ {n += $2} END {print n + 0}' "$WORK/metrics.txt")" = 3 ]
}
wait_for 20 handled || fail "the three new events were not all handled within 20 s"
echo "  scraped $(grep -c . "$WORK/metrics.txt") lines"

step "promtool check metrics (live scrape)"
rc=0
promtool check metrics <"$WORK/metrics.txt" >"$WORK/lint.txt" 2>&1 || rc=$?
if [ "$rc" != 0 ] || [ -s "$WORK/lint.txt" ]; then
  cat "$WORK/lint.txt" >&2
  fail "promtool check metrics: exit $rc (1 = unparsable exposition, 3 = lint problems)"
fi
echo "  no problems"

# --- 4. names used by the dashboard and the alerts exist; zero-initialised counters -------------
step "metric names of the dashboard and alerts"
grep -oE '^# TYPE [a-zA-Z_:][a-zA-Z0-9_:]* [a-z]+' "$WORK/metrics.txt" |
  awk '{print $3, $4}' >"$WORK/families.txt"
missing=0
for name in $(cat "$DASHBOARD" "$PROM/alerts.yml" | grep -oE 'webhook_[a-z0-9_]+' | sort -u); do
  if grep -q "^$name " "$WORK/families.txt"; then
    continue
  fi
  base=${name%_bucket}
  base=${base%_sum}
  base=${base%_count}
  if [ "$base" != "$name" ] && grep -q "^$base histogram$" "$WORK/families.txt"; then
    continue
  fi
  echo "  not in /metrics: $name" >&2
  missing=$((missing + 1))
done
[ "$missing" = 0 ] || fail "$missing metric names of the dashboard or alerts are not exported"
echo "  $(cat "$DASHBOARD" "$PROM/alerts.yml" | grep -oE 'webhook_[a-z0-9_]+' | sort -u |
  wc -l) names, all exported"

# A counter series born at 1 shows no increase(): the alerted counters exist at 0 beforehand.
for series in 'webhook_review_notify_over_sla_total{source="sandbox"} 0' \
  'webhook_review_notifications_total{source="sandbox",result="failed"} 0' \
  'webhook_deliveries_total{source="production",result="unavailable"} 0' \
  'webhook_reconcile_found_total{source="production",kind="missed_event"} 0' \
  'webhook_commit_failures_total 0'; do
  grep -qxF "$series" "$WORK/metrics.txt" || fail "not in /metrics: $series"
done
echo "  alerted counters start at zero"

# --- stop by PID: SIGTERM, a clean exit within the shutdown timeout ----------------------------
step "stop the receiver"
kill "$PID"
# A watchdog SIGKILLs it after 15 s; it ends as soon as the receiver has been reaped.
(
  for _ in $(seq 150); do
    sleep 0.1
    kill -0 "$PID" 2>/dev/null || exit 0
  done
  kill -9 "$PID" 2>/dev/null
) &
WATCHDOG=$!
rc=0
wait "$PID" || rc=$?
PID=
wait "$WATCHDOG" || true
[ "$rc" = 0 ] || fail "the receiver exited $rc on SIGTERM (137: killed after 15 s)"
echo "PASS"
