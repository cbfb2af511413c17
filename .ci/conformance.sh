#!/usr/bin/env bash
# GraphQL over HTTP conformance: the server audits of the npm package `graphql-http`
# (pinned in .ci/conformance/package-lock.json) against the release binary, serving a temp
# SQLite database on a free port. Prints every audit and its result; exits non-zero on any
# error (MUST), warning (SHOULD) or notice (MAY) not accepted in .ci/conformance/audit.mjs.
#   .ci/conformance.sh            # needs node >= 18 and npm (installs into target/conformance-node)
# Environment: TALLY_BIN (an already built binary to audit instead; no build then).
set -euo pipefail
cd "$(dirname "$0")/.."

if [ -z "${TALLY_BIN:-}" ]; then
  # The same packages as bench/fault.sh builds, so that after it (as in .ci/run) this is a
  # no-op: building `-p tally` alone could unify features differently and rebuild.
  echo "== build (release): tally"
  cargo build --release -q -p tally --bin tally -p tally-bench --bin fault
fi
BIN="${TALLY_BIN:-target/release/tally}"

NODE_DIR=target/conformance-node
mkdir -p "$NODE_DIR"
cp .ci/conformance/package.json .ci/conformance/package-lock.json .ci/conformance/audit.mjs "$NODE_DIR/"
if ! cmp -s .ci/conformance/package-lock.json "$NODE_DIR/node_modules/.package-lock.json.installed" 2>/dev/null; then
  echo "== npm ci (graphql-http) into $NODE_DIR"
  (cd "$NODE_DIR" && npm ci --no-audit --no-fund --loglevel=error)
  cp .ci/conformance/package-lock.json "$NODE_DIR/node_modules/.package-lock.json.installed"
fi

WORK="$(mktemp -d "${TMPDIR:-/tmp}/tally-conformance.XXXXXX")"
TALLY_PID=""
cleanup() {
  local rc=$?
  trap - EXIT
  if [ -n "$TALLY_PID" ] && kill -0 "$TALLY_PID" 2>/dev/null; then
    kill -TERM "$TALLY_PID" 2>/dev/null || true
    wait "$TALLY_PID" 2>/dev/null || true
  fi
  if [ "$rc" -ne 0 ]; then
    echo "== last lines of the Tally log ($WORK/tally.log)"
    tail -n 20 "$WORK/tally.log" 2>/dev/null || true
  fi
  rm -rf "$WORK"
  exit "$rc"
}
trap cleanup EXIT

# Port 0: the service picks a free port and prints its address. The JWT secret and the ID
# key are generated beside the temp database. No rate limit is reached by the audit's
# 61 queries, and none of them is a mutation that would run.
DATABASE_URL="sqlite://$WORK/tally.db?mode=rwc" TALLY_BIND=127.0.0.1:0 RUST_LOG=warn \
  "$BIN" serve >"$WORK/tally.out" 2>"$WORK/tally.log" &
TALLY_PID=$!
BASE=""
for _ in $(seq 1 100); do
  BASE="$(grep -Eo 'http://[0-9.]+:[0-9]+' "$WORK/tally.out" | head -n 1 || true)"
  [ -n "$BASE" ] && break
  kill -0 "$TALLY_PID" 2>/dev/null || { echo "conformance: tally exited at start-up" >&2; exit 1; }
  sleep 0.1
done
[ -n "$BASE" ] || { echo "conformance: tally printed no address within 10 s" >&2; exit 1; }

echo "== graphql-http server audits against $BASE/graphql"
node "$NODE_DIR/audit.mjs" "$BASE/graphql"
