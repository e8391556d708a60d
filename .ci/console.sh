#!/usr/bin/env bash
# The console in a real browser (issue 19): headless Chromium from Debian's packages, driven
# by playwright-core (npm registry, into a cache dir; it downloads no browser), against
# `fazhi serve` on a temporary SQLite file. The checks and the seeding are in
# .ci/console/test.mjs; screenshots go to $CONSOLE_SHOTS (default target/console-shots;
# `CONSOLE_SHOTS=docs/console bash .ci/console.sh` refreshes the ones in the docs).
set -euo pipefail
cd "$(dirname "$0")/.."
PW_VERSION=1.64.1
NODE_DIR=${CONSOLE_NODE_DIR:-${TMPDIR:-/tmp}/fazhi-console-node-$PW_VERSION}
SHOTS=${CONSOLE_SHOTS:-target/console-shots}

if ! command -v chromium >/dev/null; then
  if [ "${CI:-}" = true ]; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
  else
    echo "the console test needs Debian's chromium (apt-get install -y chromium)" >&2
    exit 1
  fi
fi
command -v node >/dev/null || { echo "the console test needs node (Node.js 20) and npm" >&2; exit 1; }
if [ ! -f "$NODE_DIR/node_modules/playwright-core/package.json" ]; then
  mkdir -p "$NODE_DIR"
  (cd "$NODE_DIR" && echo '{"private":true}' >package.json &&
    npm install --silent --no-audit --no-fund "playwright-core@$PW_VERSION")
fi

# fazhi serve on a temporary database: sets URL, PID, TMP (cleaned up at exit).
source .ci/serve.sh

cp .ci/console/test.mjs "$NODE_DIR/test.mjs"
mkdir -p "$SHOTS"
node "$NODE_DIR/test.mjs" "$URL" "$(cd "$SHOTS" && pwd)"
