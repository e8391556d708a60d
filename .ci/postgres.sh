#!/usr/bin/env bash
# PostgreSQL's server binaries for the tests of the PostgreSQL store (issue 16). The tests
# start their own throw-away cluster (initdb into a temporary directory, a Unix socket in it,
# no TCP port), one per test binary, killed with the test process; they only need the
# binaries. In CI they are installed from Debian's packages when missing; elsewhere this says
# what to install (or set FAZHI_TEST_PG to a server's URL instead).
set -euo pipefail
if [ -n "${FAZHI_TEST_PG:-}" ] || [ -n "${FAZHI_PG_BIN:-}" ] || ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
  exit 0
fi
if [ "${CI:-}" = true ]; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
  # The package starts a cluster of its own on Debian: the tests do not use it.
else
  echo "the PostgreSQL tests need PostgreSQL's server: apt-get install postgresql (or set FAZHI_TEST_PG)" >&2
  exit 1
fi
