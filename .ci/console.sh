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

cargo build -q --bin fazhi
BIN=${CARGO_TARGET_DIR:-target}/debug/fazhi
TMP=$(mktemp -d)
PID=
cleanup() {
  if [ -n "$PID" ]; then kill "$PID" 2>/dev/null || true; wait "$PID" 2>/dev/null || true; fi
  rm -rf "$TMP"
}
trap cleanup EXIT
"$BIN" serve --listen 127.0.0.1:0 --db "$TMP/fazhi.db" --create-db 2>"$TMP/serve.log" &
PID=$!
URL=
for _ in $(seq 1 100); do
  URL=$(grep -o 'listening on http://[0-9.:]*' "$TMP/serve.log" | head -1 | sed 's/listening on //') || true
  [ -n "$URL" ] && break
  kill -0 "$PID" 2>/dev/null || { cat "$TMP/serve.log" >&2; exit 1; }
  sleep 0.2
done
[ -n "$URL" ] || { echo "fazhi serve did not start" >&2; cat "$TMP/serve.log" >&2; exit 1; }

cp .ci/console/test.mjs "$NODE_DIR/test.mjs"
mkdir -p "$SHOTS"
node "$NODE_DIR/test.mjs" "$URL" "$(cd "$SHOTS" && pwd)"
