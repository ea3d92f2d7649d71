#!/bin/sh
# The test command: go test -race over every package, saying first which
# suites will be skipped on this machine (go test shows skips only with -v).
# Extra arguments go to go test, e.g. ./test.sh -run Golden.
cd "$(dirname "$0")" || exit 1
shared=${TESTERD_SHARED:-../shared}
if [ ! -d "$shared/testdata" ]; then
  if [ "${TESTERD_REQUIRE_SHARED:-}" = 1 ]; then
    echo "test.sh: $shared/testdata not found and TESTERD_REQUIRE_SHARED=1: the suites that read it will fail" >&2
  else
    echo "test.sh: $shared/testdata not found: the SPF suites, DKIM vectors, DMARC reports and load corpus tests will be SKIPPED (clone ../shared beside the repository or set TESTERD_SHARED)" >&2
  fi
fi
browser=
for b in chromium chromium-browser google-chrome headless-shell; do
  command -v "$b" >/dev/null 2>&1 && browser=$b && break
done
if [ -z "$browser" ]; then
  echo "test.sh: no Chromium found: the browser tests of the web pages will be SKIPPED (apt-get install chromium)" >&2
fi
if [ -z "${TESTERD_TEST_POSTGRES:-}" ]; then
  echo "test.sh: TESTERD_TEST_POSTGRES not set: the store's PostgreSQL half and the PostgreSQL server tests will be SKIPPED (eval \"\$(.ci/postgres.sh)\" starts a throwaway server, as root or as the postgres user)" >&2
fi
if [ -z "${TESTERD_TEST_RSPAMD:-}" ]; then
  echo "test.sh: TESTERD_TEST_RSPAMD not set: the real-rspamd test will be SKIPPED (eval \"\$(.ci/rspamd.sh)\" starts one from Debian's rspamd package)" >&2
fi
exec go test -race -count=1 "$@" ./...
