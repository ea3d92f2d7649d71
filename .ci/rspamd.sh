#!/usr/bin/env bash
# Starts rspamd (Debian's package) for the tests with the configuration in
# .ci/rspamd (offline rules only; the normal worker on 127.0.0.1:11343) and
# prints the environment lines that point the tests at it:
#   eval "$(.ci/rspamd.sh)"        # sets TESTERD_TEST_RSPAMD
# .ci/rspamd.sh stop DIR stops it (by its pid) and removes DIR.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
if [ "${1:-}" = stop ]; then
  if [ -f "$2/rspamd.main.pid" ]; then kill "$(cat "$2/rspamd.main.pid")" 2>/dev/null || true; fi
  for i in $(seq 50); do [ -f "$2/rspamd.main.pid" ] && kill -0 "$(cat "$2/rspamd.main.pid")" 2>/dev/null || break; sleep 0.1; done
  rm -rf "$2"
  exit 0
fi
if ! command -v rspamd >/dev/null 2>&1; then
  SUDO=""; if [ "$(id -u)" != 0 ]; then SUDO=sudo; fi
  $SUDO apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq rspamd >/dev/null
fi
# Debian starts the packaged service on install: the tests use their own.
if command -v systemctl >/dev/null 2>&1; then systemctl stop rspamd >/dev/null 2>&1 || true; fi
dir=$(mktemp -d /tmp/testerd-rspamd.XXXXXX)
mkdir -p "$dir"/{db,run,log}
cp -r "$here/rspamd" "$dir/conf"
user=()
if [ "$(id -u)" = 0 ]; then
  chown -R _rspamd:_rspamd "$dir/db" "$dir/run" "$dir/log" 2>/dev/null || true
  user=(-u _rspamd -g _rspamd)
fi
rspamd -f "${user[@]}" -c /etc/rspamd/rspamd.conf \
  --var=LOCAL_CONFDIR="$dir/conf" --var=DBDIR="$dir/db" --var=RUNDIR="$dir/run" --var=LOGDIR="$dir/log" \
  >"$dir/log/rspamd.out" 2>&1 &
echo $! > "$dir/rspamd.main.pid"
for i in $(seq 600); do
  if curl -sf http://127.0.0.1:11343/ping >/dev/null 2>&1; then break; fi
  if ! kill -0 "$(cat "$dir/rspamd.main.pid")" 2>/dev/null; then
    echo "rspamd exited:" >&2; tail -30 "$dir/log/rspamd.out" >&2; exit 1
  fi
  sleep 0.1
done
curl -sf http://127.0.0.1:11343/ping >/dev/null || { echo "rspamd did not answer in 60 s:" >&2; tail -30 "$dir/log/rspamd.out" >&2; exit 1; }
echo "export TESTERD_TEST_RSPAMD='http://127.0.0.1:11343'"
echo "export TESTERD_TEST_RSPAMD_DIR='$dir'"
