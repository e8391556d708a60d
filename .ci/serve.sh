# Sourced by the CI scripts that test a running server: builds `fazhi`, starts
# `fazhi serve` on a free loopback port with a new database in a temporary directory, and
# sets URL (the server's address), PID and TMP (removed, and the server stopped, at exit).
# Exits non-zero, with the server's log, when it does not start.
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
