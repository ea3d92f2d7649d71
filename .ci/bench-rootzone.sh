#!/usr/bin/env bash
# Adds an empty root zone to the nsd that ../shared/bench/rspamd/start.sh
# runs on 127.0.0.1:5400 (authoritative for bench.test only), and restarts
# it. testerd asks what a recursive resolver answers: the RFC 9989 tree
# walk asks _dmarc.test, which a bench.test-only nsd refuses, and a
# refusing resolver is the tester's failure, so every probe would be
# judged again and again. With the root zone, such names are NXDOMAIN.
#   .ci/bench-rootzone.sh            # after ./start.sh
set -euo pipefail
WORKDIR=${WORKDIR:-/tmp/rspamd-bench}
conf="$WORKDIR/nsd/nsd.conf"
[ -f "$conf" ] || { echo "no $conf: run ../shared/bench/rspamd/start.sh first" >&2; exit 1; }
cat > "$WORKDIR/nsd/root.zone" <<'ZONE'
$ORIGIN .
$TTL 3600
@ IN SOA ns1.bench.test. hostmaster.bench.test. 1 3600 900 604800 300
@ IN NS ns1.bench.test.
ZONE
grep -q 'zonefile: root.zone' "$conf" || printf 'zone:\n  name: "."\n  zonefile: root.zone\n' >> "$conf"
if [ -f "$WORKDIR/run/nsd.pid" ]; then kill "$(cat "$WORKDIR/run/nsd.pid")" 2>/dev/null || true; sleep 0.5; fi
nsd -d -c "$conf" >"$WORKDIR/log/nsd-root.out" 2>&1 &
echo $! > "$WORKDIR/run/nsd.pid"
sleep 0.5
kill -0 "$(cat "$WORKDIR/run/nsd.pid")" || { tail -5 "$WORKDIR/log/nsd-root.out" >&2; exit 1; }
echo "nsd on 127.0.0.1:5400 serves bench.test and an empty root"
