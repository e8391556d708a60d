#!/usr/bin/env bash
# schemathesis against `fazhi serve`: every phase (coverage, fuzzing, stateful), every check,
# as the `importer` sample principal (it holds every role, so it can open a case of every
# procedure and take their actions), on a temporary SQLite file. Bounded: at most
# $ST_EXAMPLES examples per operation and $ST_SECONDS seconds in all. Exits non-zero when
# schemathesis finds anything (a failure or an error).
set -euo pipefail
cd "$(dirname "$0")/.."
VERSION=4.32.5
ST_EXAMPLES=${ST_EXAMPLES:-20}
ST_SECONDS=${ST_SECONDS:-150}
VENV=${SCHEMATHESIS_VENV:-${TMPDIR:-/tmp}/fazhi-schemathesis-$VERSION}

if ! python3 -c 'import venv, ensurepip' 2>/dev/null; then
  if [ "${CI:-}" = true ]; then
    apt-get update -qq && apt-get install -y -qq python3-venv python3-pip >/dev/null
  else
    echo "schemathesis needs python3 with venv (apt-get install -y python3-venv python3-pip)" >&2
    exit 1
  fi
fi
if ! "$VENV/bin/schemathesis" --version 2>/dev/null | grep -q "$VERSION"; then
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q --disable-pip-version-check "schemathesis==$VERSION"
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

status=0
"$VENV/bin/schemathesis" --config-file .ci/schemathesis.toml run "$URL/openapi.json" \
  --checks all --header "Authorization: Bearer dev-importer" \
  --max-examples "$ST_EXAMPLES" --max-time "$ST_SECONDS" --workers 1 --seed 1 \
  --generation-database none --no-color \
  --report json --report-json-path "$TMP/report.json" || status=$?
# What it did: cases opened and actions taken, from the database.
python3 - "$TMP/fazhi.db" <<'PY' || true
import sqlite3, sys
c = sqlite3.connect(sys.argv[1])
cases = c.execute("select count(*) from cases").fetchone()[0]
acts = c.execute("select action, count(*) from events where seq > 0 group by 1").fetchall()
print(f"schemathesis opened {cases} cases and took {sum(n for _, n in acts)} actions: {acts}")
PY
exit "$status"
