#!/usr/bin/env bash
# schemathesis against `fazhi serve`: every phase (coverage, fuzzing, stateful), every check,
# as the `importer` sample principal (it holds every role, so it can open a case of every
# procedure and take their actions), on a temporary SQLite file, then the stateful phase again
# with valid data only. Bounded: at most $ST_EXAMPLES examples per operation, $ST_SECONDS
# seconds for the first run and $ST_STATEFUL_SECONDS for the second. Exits non-zero when
# schemathesis finds anything (a failure or an error), when any answer was a 5xx, or when
# fewer than $ST_MIN_ACTIONS actions were taken.
set -euo pipefail
cd "$(dirname "$0")/.."
VERSION=4.32.5
ST_EXAMPLES=${ST_EXAMPLES:-20}
ST_SECONDS=${ST_SECONDS:-120}
ST_STATEFUL_SECONDS=${ST_STATEFUL_SECONDS:-60}
ST_MIN_ACTIONS=${ST_MIN_ACTIONS:-20}
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

# fazhi serve on a temporary database: sets URL, PID, TMP (cleaned up at exit).
source .ci/serve.sh

status=0
run() {
  "$VENV/bin/schemathesis" --config-file .ci/schemathesis.toml run "$URL/openapi.json" \
    --checks all --header "Authorization: Bearer dev-importer" \
    --max-examples "$ST_EXAMPLES" --workers 1 --seed 1 \
    --generation-database none --no-color "$@" || status=$?
}
# Every phase, valid and invalid data.
run --max-time "$ST_SECONDS" --report json --report-json-path "$TMP/report.json"
# The stateful phase again with valid data only, for $ST_STATEFUL_SECONDS: the links from
# an answer to the case view's `examples` take actions (invalid data would only be refused).
run --phases stateful --mode positive --max-time "$ST_STATEFUL_SECONDS"
# What it did, from the server's own counters (`fazhi_http_requests_total` by route and
# status) and the database: requests, 5xx answers, cases opened and actions taken. The
# stateful phase takes actions through the links to each case view's `examples` (a request
# body the case accepts now); fewer than $ST_MIN_ACTIONS actions taken fails the run, as
# would any 5xx.
python3 - "$URL/metrics" "$TMP/fazhi.db" "$ST_MIN_ACTIONS" <<'PY' || status=1
import re, sqlite3, sys, urllib.request
url, db, least = sys.argv[1], sys.argv[2], int(sys.argv[3])
metrics = urllib.request.urlopen(url, timeout=30).read().decode("utf-8")
sent = errors = taken = 0
for line in metrics.splitlines():
    m = re.match(r'fazhi_http_requests_total\{(.*)\} (\d+)', line)
    if not m:
        continue
    labels = dict(re.findall(r'(\w+)="([^"]*)"', m.group(1)))
    n = int(m.group(2))
    sent += n
    if labels.get("status", "").startswith("5"):
        errors += n
    if labels.get("route") == "/v1/cases/{id}/events" and labels.get("method") == "POST" \
            and labels.get("status") == "201":
        taken += n
c = sqlite3.connect(db)
cases = c.execute("select count(*) from cases").fetchone()[0]
acts = c.execute("select action, count(*) from events where seq > 0 group by 1 order by 2 desc").fetchall()
stored = sum(n for _, n in acts)
print(f"schemathesis: {sent} requests answered, {errors} with 5xx; {cases} cases opened; "
      f"{taken} take-action requests answered 201 ({stored} actions stored, "
      f"{len(acts)} kinds: {acts})")
if errors:
    print(f"FAIL: {errors} answers were 5xx", file=sys.stderr)
    sys.exit(1)
if stored < least:
    print(f"FAIL: schemathesis took {stored} actions, fewer than {least}: the links to the "
          "case view's `examples` are not followed", file=sys.stderr)
    sys.exit(1)
PY
exit "$status"
