#!/usr/bin/env bash
# Build docker/Dockerfile and check the image end to end, with no Docker engine and no registry:
# Debian archive -> mmdebstrap base rootfs -> podman import -> buildah bud -> podman run.
#
#   sudo docker/verify-image.sh          # from anywhere; run as root on Debian bookworm
#
# Contacts only the Debian archive (apt, mmdebstrap, apt-get inside the Dockerfile's RUN steps)
# and 127.0.0.1. Idempotent: tools are installed only when missing, the base rootfs tar is cached
# in $WEBHOOK_IMAGE_CACHE, build layers are cached in podman's storage (/var/lib/containers).
# It removes the containers and the volume it created (by name), nothing else.
#
# Environment:
#   WEBHOOK_IMAGE_CACHE   cache dir for the base tar and containers.conf
#                         (default /var/cache/webhook-receiver-image; keep it between CI runs)
#   WEBHOOK_IMAGE         tag to build (default localhost/webhook-receiver:test)
#   WEBHOOK_BASE_REFRESH  1 = rebuild the base tar even when a cached one exists
#   WEBHOOK_BUILD_JOBS    compile jobs in the build stage (default: all CPUs)
#   WEBHOOK_VERIFY_KEEP   1 = keep the temp dir (log, key file) after a successful run
#   WEBHOOK_DEBIAN_MIRROR           Debian archive for the base rootfs (and so for the Dockerfile's
#                                   apt-get); default: the machine's own apt sources (below)
#   WEBHOOK_DEBIAN_SECURITY_MIRROR  same for bookworm-security
set -Eeuo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
IMAGE=${WEBHOOK_IMAGE:-localhost/webhook-receiver:test}
CACHE=${WEBHOOK_IMAGE_CACHE:-/var/cache/webhook-receiver-image}
BASE_TAR=$CACHE/bookworm-slim.tar
BASE_IMAGE=localhost/debian:bookworm-slim
FIXTURE=$REPO/tests/fixtures/conomy/08-payment-settled.json
TEST_KEY=whsec_test_only_image_check

TMP=$(mktemp -d /tmp/webhook-verify-image.XXXXXX)
LOG=$TMP/verify.log
: >"$LOG"
# Everything this run creates in podman carries this prefix; cleanup removes exactly these names.
NAME=wr-verify-$$
C_FIRST=$NAME-first
C_SECOND=$NAME-second
VOLUME=$NAME-data
SECRET_IN_CONTAINER=/run/secrets/webhook_secret_keys

# ---- output: one line per step, details in $LOG -----------------------------------------------
now_ms() { local t=${EPOCHREALTIME//[!0-9]/}; echo $((10#$t / 1000)); }
T_START=$(now_ms)
STEP_NAMES=()
STEP_MS=()
CURRENT=""
fmt_s() { printf '%d.%01d s' $(($1 / 1000)) $(($1 % 1000 / 100)); }
step() {
  finish_step
  CURRENT=$1
  STEP_T0=$(now_ms)
  printf '%-58s' "$1"
  echo "===== $1" >>"$LOG"
}
finish_step() {
  [ -n "$CURRENT" ] || return 0
  local ms=$(($(now_ms) - STEP_T0))
  STEP_NAMES+=("$CURRENT")
  STEP_MS+=("$ms")
  printf 'ok  %s\n' "$(fmt_s "$ms")"
  CURRENT=""
}
# run CMD...: its output goes to the log only, each line stamped with the wall clock.
stamp() {
  local line
  while IFS= read -r line || [ -n "$line" ]; do printf '%(%H:%M:%S)T %s\n' -1 "$line"; done
}
run() {
  printf '%(%H:%M:%S)T + %s\n' -1 "$*" >>"$LOG"
  "$@" 2>&1 | stamp >>"$LOG"
}
fail() {
  trap - ERR
  [ "$BASH_SUBSHELL" = 0 ] || exit 1  # inside $(...): the caller fails and reports
  echo "FAILED"
  echo "verify-image: ${CURRENT:-setup}: $*"
  for c in "$C_FIRST" "$C_SECOND"; do
    if podman container exists "$c" 2>/dev/null; then
      echo "----- podman logs $c" >>"$LOG"
      podman logs --tail 30 "$c" >>"$LOG" 2>&1 || true
    fi
  done
  echo "----- last 40 lines of $LOG"
  tail -n 40 "$LOG"
  KEEP_TMP=1
  exit 1
}
trap 'fail "command failed (line $LINENO, exit $?)"' ERR

KEEP_TMP=${WEBHOOK_VERIFY_KEEP:-0}
cleanup() {
  local rc=$?
  if command -v podman >/dev/null 2>&1; then
    podman rm -f -t 0 "$C_FIRST" "$C_SECOND" >>"$LOG" 2>&1 || true
    podman volume rm -f "$VOLUME" >>"$LOG" 2>&1 || true
  fi
  rm -rf "$TMP/secrets"
  if [ "$KEEP_TMP" = 1 ] || [ "$rc" != 0 ]; then
    echo "log: $LOG"
  else
    rm -rf "$TMP"
  fi
}
trap cleanup EXIT

[ "$(id -u)" = 0 ] || { echo "verify-image: run as root" >&2; exit 2; }
[ -r "$FIXTURE" ] || { echo "verify-image: missing $FIXTURE" >&2; exit 2; }

free_port() {
  local p=$((20000 + RANDOM % 20000))
  while ss -Hltn "sport = :$p" | grep -q .; do p=$((p + 1)); done
  echo "$p"
}
wait_healthz() {  # PORT CONTAINER: /healthz answers 200 within 30 s, container still running
  local port=$1 c=$2 deadline=$(($(now_ms) + 30000))
  while [ "$(now_ms)" -lt "$deadline" ]; do
    if curl -fsS --max-time 1 "http://127.0.0.1:$port/healthz" >>"$LOG" 2>&1; then
      echo >>"$LOG"
      return 0
    fi
    [ "$(podman inspect -f '{{.State.Running}}' "$c" 2>/dev/null)" = true ] ||
      fail "container $c exited: $(podman inspect -f '{{.State.ExitCode}}' "$c" 2>&1)"
    sleep 0.2
  done
  fail "no 200 from http://127.0.0.1:$port/healthz within 30 s"
}
# post CURLCONFIG PORT: prints "HTTPCODE BODY"
post() {
  local out
  out=$(curl -sS --max-time 10 -w ' %{http_code}' -K - "http://127.0.0.1:$2/webhooks" <"$1")
  echo "${out##* } ${out% *}"
}
expect() {  # WHAT ACTUAL PATTERN
  echo "$1: $2" >>"$LOG"
  [[ $2 =~ $3 ]] || fail "$1: expected /$3/, got: $2"
}
start_receiver() {  # NAME PORT
  run podman run -d --name "$1" \
    -p "127.0.0.1:$2:8080" \
    -v "$VOLUME:/var/lib/webhook-receiver" \
    -v "$TMP/secrets/keys:$SECRET_IN_CONTAINER:ro" \
    -e WEBHOOK_RECEIVER_SECRET_KEYS_FILE=$SECRET_IN_CONTAINER \
    "$IMAGE"
}
stop_graceful() {  # NAME: SIGTERM, 15 s grace, must exit 0 by itself
  local t0 ms code
  t0=$(now_ms)
  run podman stop -t 15 "$1"
  ms=$(($(now_ms) - t0))
  code=$(podman inspect -f '{{.State.ExitCode}}' "$1")
  echo "$1 stopped in ${ms} ms, exit code $code; its last log lines:" >>"$LOG"
  podman logs --tail 4 "$1" >>"$LOG" 2>&1 || true
  [ "$code" = 0 ] || fail "$1 exit code $code after SIGTERM (0 expected; 137 = killed after 15 s)"
}

# ---- Debian mirror: the machine's own apt sources, so the run contacts only what apt here may ----
# Prints "URI SUITE" for each enabled http(s) `deb` entry of the deb822 *.sources files and the
# one-line sources.list(.d/*.list) files.
apt_source_entries() {
  local f
  for f in /etc/apt/sources.list.d/*.sources; do
    [ -r "$f" ] || continue
    awk '
      function flush() {
        if (types ~ /(^| )deb( |$)/ && enabled != "no" && uri != "")
          for (i = 1; i <= n; i++) print uri, suite[i]
        types = ""; enabled = ""; uri = ""; n = 0
      }
      /^[ \t]*#/ { next }
      /^[ \t]*$/ { flush(); next }
      tolower($1) == "types:"   { types = substr($0, index($0, ":") + 1) }
      tolower($1) == "enabled:" { enabled = tolower($2) }
      tolower($1) == "uris:"    { uri = $2 }
      tolower($1) == "suites:"  { n = 0; for (i = 2; i <= NF; i++) suite[++n] = $i }
      END { flush() }' "$f"
  done
  for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
    [ -r "$f" ] || continue
    # deb [opt=val ...] URI SUITE COMPONENT...
    sed -e 's/#.*//' -e 's/\[[^]]*\]//' "$f" | awk '$1 == "deb" && NF >= 3 { print $2, $3 }'
  done
}
# pick_mirror SUITE-PATTERN: the first entry whose suite matches (bash regex), http(s) only.
pick_mirror() {
  local uri suite
  while read -r uri suite; do
    [[ $uri =~ ^https?:// && $suite =~ $1 ]] && { echo "${uri%/}"; return 0; }
  done <<<"$APT_SOURCES"
  return 1
}
APT_SOURCES=$(apt_source_entries)
MIRROR=${WEBHOOK_DEBIAN_MIRROR:-$(pick_mirror '^bookworm$' || pick_mirror '^bookworm-updates$' || true)}
SECURITY_MIRROR=${WEBHOOK_DEBIAN_SECURITY_MIRROR:-$(pick_mirror '^bookworm-security$' || true)}
if [ -z "$MIRROR" ]; then
  echo "verify-image: no http(s) Debian bookworm mirror in /etc/apt/sources.list.d/*.sources" \
    "or /etc/apt/sources.list; set WEBHOOK_DEBIAN_MIRROR=http://<mirror>/debian" >&2
  exit 2
fi
# No bookworm-security entry: the conventional sibling path (as on deb.debian.org) when the
# mirror's path ends in /debian; otherwise the base is built without the security suite.
if [ -z "$SECURITY_MIRROR" ] && [[ $MIRROR == */debian ]]; then
  SECURITY_MIRROR=${MIRROR%/debian}/debian-security
fi
MIRROR_LINES=("deb $MIRROR bookworm main" "deb $MIRROR bookworm-updates main")
if [ -n "$SECURITY_MIRROR" ]; then
  MIRROR_LINES+=("deb $SECURITY_MIRROR bookworm-security main")
else
  echo "verify-image: no bookworm-security mirror found; the base rootfs gets no security suite" >&2
fi

cd "$REPO"

# ---- (a) tools -------------------------------------------------------------------------------
step "tools: podman buildah runc mmdebstrap"
export DEBIAN_FRONTEND=noninteractive
missing=()
for p in podman buildah runc mmdebstrap curl iproute2; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing: ${missing[*]}" >>"$LOG"
  run apt-get update -qq
  run apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
run podman --version
run buildah --version

# ---- (b) containers.conf ---------------------------------------------------------------------
# runc: crun 1.8 refuses hybrid cgroups (v1 plus a cgroup2 mount holding a controller).
# default_ulimits: without CAP_SYS_RESOURCE rootful podman cannot raise nofile/nproc to its
# default 1048576; use this shell's hard limits (nproc capped at pid_max, as podman does).
step "containers.conf (runc, default_ulimits)"
mkdir -p "$CACHE"
nofile=$(ulimit -Hn)
[ "$nofile" = unlimited ] && nofile=1048576
pid_max=$(cat /proc/sys/kernel/pid_max)
nproc=$(ulimit -Hu)
if [ "$nproc" = unlimited ] || [ "$nproc" -gt "$pid_max" ]; then nproc=$pid_max; fi
cat >"$CACHE/containers.conf" <<EOF
# Written by docker/verify-image.sh; use with: export CONTAINERS_CONF=$CACHE/containers.conf
[containers]
default_ulimits = ["nofile=$nofile:$nofile", "nproc=$nproc:$nproc"]

[engine]
runtime = "runc"
EOF
export CONTAINERS_CONF=$CACHE/containers.conf
cat "$CONTAINERS_CONF" >>"$LOG"

# ---- (c) base image ----------------------------------------------------------------------------
if [ -s "$BASE_TAR" ] && [ "${WEBHOOK_BASE_REFRESH:-0}" != 1 ]; then
  step "base rootfs: cached $(basename "$BASE_TAR")"
else
  step "base rootfs: mmdebstrap bookworm minbase"
  printf 'mirror: %s\n' "${MIRROR_LINES[@]}" >>"$LOG"
  mkdir -p "$TMP/hooks"
  # Make the rootfs behave like the official debian:bookworm-slim (debuerreotype's settings):
  # no apt caches in layers, no docs/man/locales, no host resolv.conf/hostname.
  cat >"$TMP/hooks/customize50-docker-slim.sh" <<'HOOK'
#!/bin/sh
set -eu
R="$1"
cat > "$R/etc/apt/apt.conf.d/docker-clean" <<'EOF'
DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
APT::Update::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
Dir::Cache::pkgcache "";
Dir::Cache::srcpkgcache "";
EOF
echo 'Acquire::GzipIndexes "true";' > "$R/etc/apt/apt.conf.d/docker-gzip-indexes"
echo 'Acquire::Languages "none";' > "$R/etc/apt/apt.conf.d/docker-no-languages"
echo 'Apt::AutoRemove::SuggestsImportant "false";' > "$R/etc/apt/apt.conf.d/docker-autoremove-suggests"
echo 'force-unsafe-io' > "$R/etc/dpkg/dpkg.cfg.d/docker-apt-speedup"
cat > "$R/etc/dpkg/dpkg.cfg.d/docker" <<'EOF'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/groff/*
path-exclude /usr/share/info/*
path-exclude /usr/share/linda/*
path-exclude /usr/share/lintian/overrides/*
path-exclude /usr/share/locale/*
path-exclude /usr/share/man/*
EOF
rm -f "$R/etc/resolv.conf"
echo localhost > "$R/etc/hostname"
rm -f "$R/etc/dpkg/dpkg.cfg.d/99mmdebstrap" "$R/etc/apt/apt.conf.d/99mmdebstrap"
rm -rf "$R/var/cache/apt/"*.bin "$R/var/lib/apt/lists/"* "$R/var/log/"*.log "$R/var/log/apt/"*
HOOK
  chmod +x "$TMP/hooks/customize50-docker-slim.sh"
  # The merged-usr hook avoids the usrmerge package (and perl); the output name must end in .tar.
  run mmdebstrap --variant=minbase --mode=root \
    --hook-dir=/usr/share/mmdebstrap/hooks/merged-usr --hook-dir="$TMP/hooks" \
    --dpkgopt=force-unsafe-io \
    --dpkgopt='path-exclude=/usr/share/man/*' --dpkgopt='path-exclude=/usr/share/doc/*' \
    --dpkgopt='path-include=/usr/share/doc/*/copyright' --dpkgopt='path-exclude=/usr/share/locale/*' \
    --dpkgopt='path-exclude=/usr/share/info/*' --dpkgopt='path-exclude=/usr/share/groff/*' \
    --dpkgopt='path-exclude=/usr/share/lintian/overrides/*' \
    bookworm "$CACHE/bookworm-slim.partial.$$.tar" "${MIRROR_LINES[@]}"
  mv -f "$CACHE/bookworm-slim.partial.$$.tar" "$BASE_TAR"
fi

# Re-importing the same tar would give a new image ID and void every cached build layer, so the
# import is skipped when the local image already came from this exact tar (label = its sha256).
step "base image: import as $BASE_IMAGE"
base_sum=$(sha256sum "$BASE_TAR" | cut -d' ' -f1)
have_sum=$(podman image inspect -f '{{index .Config.Labels "org.webhook-receiver.base-tar-sha256"}}' \
  "$BASE_IMAGE" 2>/dev/null || true)
if [ "$have_sum" != "$base_sum" ]; then
  run podman import \
    --change 'CMD ["bash"]' \
    --change "LABEL org.webhook-receiver.base-tar-sha256=$base_sum" \
    "$BASE_TAR" "$BASE_IMAGE"
else
  echo "already imported from $BASE_TAR ($base_sum)" >>"$LOG"
fi
# The Dockerfile's FROM lines name Docker Hub images; point those names at the local image.
run podman tag "$BASE_IMAGE" docker.io/library/debian:bookworm-slim docker.io/library/debian:bookworm

# ---- (d) build -------------------------------------------------------------------------------
step "build: buildah bud docker/Dockerfile"
build_args=()
[ -n "${WEBHOOK_BUILD_JOBS:-}" ] && build_args+=(--build-arg "BUILD_JOBS=$WEBHOOK_BUILD_JOBS")
run buildah bud --format docker --pull=never --layers "${build_args[@]}" \
  -f docker/Dockerfile -t "$IMAGE" .
user=$(podman image inspect -f '{{.Config.User}}' "$IMAGE")
health=$(podman image inspect -f '{{if .Config.Healthcheck}}{{.Config.Healthcheck.Test}}{{end}}' "$IMAGE")
expect "image user" "$user" '^10001'
expect "image healthcheck" "$health" 'webhook-receiver healthcheck'
run podman run --rm --no-healthcheck "$IMAGE" version
# The compose config must load in the image (it is what docker/compose.yaml mounts). The data
# dir is an anonymous volume here, which --rm removes.
run podman run --rm --no-healthcheck \
  -v "$REPO/docker/receiver.compose.json:/etc/webhook-receiver/config.json:ro" \
  "$IMAGE" migrate

# ---- (e) run: key from a read-only secret file, published port ---------------------------------
step "run: secret file, -p 127.0.0.1:PORT:8080, /healthz"
mkdir -p "$TMP/secrets"
printf '%s\n' "$TEST_KEY" >"$TMP/secrets/keys"
chown 10001:10001 "$TMP/secrets/keys"
chmod 0400 "$TMP/secrets/keys"
run podman volume create "$VOLUME"
PORT=$(free_port)
echo "port $PORT" >>"$LOG"
start_receiver "$C_FIRST" "$PORT"
wait_healthz "$PORT" "$C_FIRST"

# ---- (f) signed deliveries -------------------------------------------------------------------
step "deliveries: accepted, duplicate, bad signature 401"
# Signed by the image's own binary; the key is passed by name (-e KEY), never on a command line.
KEY=$TEST_KEY podman run --rm -i --no-healthcheck -e KEY "$IMAGE" \
  sign --secret-env KEY --scheme header --compact - <"$FIXTURE" >"$TMP/signed.curl" 2>>"$LOG"
KEY=whsec_not_the_configured_key podman run --rm -i --no-healthcheck -e KEY "$IMAGE" \
  sign --secret-env KEY --scheme header --compact - <"$FIXTURE" >"$TMP/forged.curl" 2>>"$LOG"
first=$(post "$TMP/signed.curl" "$PORT")
expect "first delivery" "$first" '^200 .*"status":"accepted"'
event_id=$(sed -n 's/.*"eventId":\([0-9]*\).*/\1/p' <<<"$first")
again=$(post "$TMP/signed.curl" "$PORT")
expect "same delivery again" "$again" "^200 .*\"status\":\"duplicate\".*\"eventId\":$event_id"
forged=$(post "$TMP/forged.curl" "$PORT")
expect "wrong signature" "$forged" '^401 '

# ---- (g) health, user, graceful stop, persistence ----------------------------------------------
step "healthcheck, uid 10001, SIGTERM exit 0"
run podman healthcheck run "$C_FIRST"
status=$(podman inspect -f '{{.State.Health.Status}}' "$C_FIRST" 2>>"$LOG" ||
  podman inspect -f '{{.State.Healthcheck.Status}}' "$C_FIRST")
expect "health status" "$status" '^healthy$'
uid=$(podman exec "$C_FIRST" id -u)
expect "uid in container" "$uid" '^10001$'
stop_graceful "$C_FIRST"

step "volume: database persists, second container dedups"
mountpoint=$(podman volume inspect -f '{{.Mountpoint}}' "$VOLUME")
run ls -ln "$mountpoint"
[ -s "$mountpoint/webhook-receiver.db" ] || fail "no database in the volume ($mountpoint)"
[ -s "$mountpoint/payloads.jsonl" ] || fail "no payload log in the volume ($mountpoint)"
owner=$(stat -c %u "$mountpoint/webhook-receiver.db")
expect "database owner" "$owner" '^10001$'
PORT2=$(free_port)
echo "port $PORT2" >>"$LOG"
start_receiver "$C_SECOND" "$PORT2"
wait_healthz "$PORT2" "$C_SECOND"
second=$(post "$TMP/signed.curl" "$PORT2")
expect "delivery to the second container" "$second" \
  "^200 .*\"status\":\"duplicate\".*\"eventId\":$event_id"
stop_graceful "$C_SECOND"
finish_step

# ---- (h) summary -------------------------------------------------------------------------------
size=$(podman image inspect -f '{{.Size}}' "$IMAGE")
total=$(($(now_ms) - T_START))
{
  echo "---- webhook-receiver image verified"
  printf '%-26s %s\n' "image" "$IMAGE ($(podman image inspect -f '{{.Id}}' "$IMAGE" | cut -c1-12))"
  printf '%-26s %s MB (%s bytes)\n' "image size" "$(awk -v b="$size" 'BEGIN{printf "%.1f", b/1e6}')" "$size"
  printf '%-26s %s\n' "tools" "$(podman --version), $(buildah --version | cut -d' ' -f1-3), runc $(runc --version | sed -n 's/^runc version //p')"
  for i in "${!STEP_NAMES[@]}"; do
    printf '  %-56s %8s\n' "${STEP_NAMES[$i]}" "$(fmt_s "${STEP_MS[$i]}")"
  done
  printf '  %-56s %8s\n' "total" "$(fmt_s "$total")"
}
