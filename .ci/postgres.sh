#!/usr/bin/env bash
# Starts a throwaway PostgreSQL cluster for the tests and prints the
# environment line that points them at it:
#   eval "$(.ci/postgres.sh)"    # sets TESTERD_TEST_POSTGRES
# Debian's postgresql package; initdb refuses root, so the cluster runs as
# the postgres user, in a temporary directory, on a Unix socket only (no TCP
# port). .ci/postgres.sh stop DIR stops it.
set -euo pipefail
run() { if [ "$(id -u)" = 0 ]; then su postgres -s /bin/sh -c "$*"; else sh -c "$*"; fi; }
if [ "${1:-}" = stop ]; then
  run "'$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)/pg_ctl' -D '$2/data' -m fast stop" >/dev/null
  rm -rf "$2"
  exit 0
fi
bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1 || true)
if [ -z "$bin" ]; then
  SUDO=""; if [ "$(id -u)" != 0 ]; then SUDO=sudo; fi
  $SUDO apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq postgresql >/dev/null
  bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
fi
dir=$(mktemp -d /tmp/testerd-pg.XXXXXX)
chown postgres "$dir" 2>/dev/null || true
run "'$bin/initdb' -D '$dir/data' -U postgres --auth=trust --no-sync -E UTF8 --locale=C.UTF-8" >&2
run "'$bin/pg_ctl' -D '$dir/data' -l '$dir/log' -w -o \"-c listen_addresses='' -c unix_socket_directories='$dir' -c max_connections=300 -c fsync=on\" start" >&2
echo "export TESTERD_TEST_POSTGRES='postgres://postgres@/postgres?host=$dir&sslmode=disable'"
echo "export TESTERD_TEST_POSTGRES_DIR='$dir'"
