#!/usr/bin/env bash
# The fault run (issue 4): Tally (release build) on a PostgreSQL instance of its own, a like
# storm over HTTP, the database stopped and started again mid-storm, then every acknowledged
# like and every counter checked (bench/src/bin/fault/ does the storm and the checks).
# Then (issue 12) views of one hot video from many clients with a `kill -9` of the server
# mid-run and a restart: every acknowledged view stored, counted once and folded into the
# rollups by the restarted server (bench/src/bin/view_fault.rs; ≈ 20 s).
#   bench/fault.sh                               # ≈ 20 s storm, 8 s outage, 20 s storm after recovery
#   FAULT_STOP_MODE=immediate bench/fault.sh     # crash the database instead of a fast shutdown
#   bench/fault.sh --clients 64 --outage-secs 12 # extra arguments go to the `fault` client
# Environment: VIEW_FAULT_ARGS (extra arguments of `view_fault`), FAULT_PG_PORT (55433), FAULT_PORT (18282, Tally), FAULT_PGBIN (newest
# /usr/lib/postgresql/*/bin), FAULT_STOP_MODE (fast | immediate), FAULT_KEEP=1 keeps the temp dir.
# Exits non-zero on any violation; always stops its PostgreSQL and Tally and removes its temp dir.
set -euo pipefail
cd "$(dirname "$0")/.."

PG_PORT="${FAULT_PG_PORT:-55433}"
PORT="${FAULT_PORT:-18282}"
STOP_MODE="${FAULT_STOP_MODE:-fast}"
PGBIN="${FAULT_PGBIN:-$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)}"
if [ ! -x "$PGBIN/initdb" ]; then
  echo "fault.sh: no PostgreSQL server binaries found (install postgresql or set FAULT_PGBIN)" >&2
  exit 2
fi
# initdb and the server refuse to run as root: run them as `postgres` then.
AS_PG=""
if [ "$(id -u)" = 0 ]; then AS_PG="runuser -u postgres --"; fi

if "$PGBIN/pg_isready" -q -h 127.0.0.1 -p "$PG_PORT"; [ $? -ne 2 ]; then
  echo "fault.sh: something already listens on port $PG_PORT (set FAULT_PG_PORT)" >&2
  exit 2
fi
if (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null; then
  echo "fault.sh: something already listens on port $PORT (set FAULT_PORT)" >&2
  exit 2
fi

started=$(date +%s)
echo "== build (release): tally, fault"
cargo build --release -q -p tally --bin tally -p tally-bench --bin fault --bin view_fault

WORK="$(mktemp -d "${TMPDIR:-/tmp}/tally-fault.XXXXXX")"
if [ -n "$AS_PG" ]; then chown postgres "$WORK"; fi
DATA="$WORK/pg"
PG_CTL="$AS_PG $PGBIN/pg_ctl -D $DATA -l $WORK/postgres.log"
TALLY_PID=""
cleanup() {
  local rc=$?
  if [ -n "$TALLY_PID" ] && kill -0 "$TALLY_PID" 2>/dev/null; then
    kill -TERM "$TALLY_PID" 2>/dev/null || true
    wait "$TALLY_PID" 2>/dev/null || true
  fi
  # The server the view run restarted (not a child of this shell).
  if [ -s "$WORK/tally.pid" ]; then
    local pid; pid=$(cat "$WORK/tally.pid")
    if kill -0 "$pid" 2>/dev/null; then
      kill -TERM "$pid" 2>/dev/null || true
      for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    fi
  fi
  $PG_CTL -m immediate stop >/dev/null 2>&1 || true
  if [ "$rc" -ne 0 ]; then
    echo "== panics in the Tally log, if any"
    grep -n -A3 'panicked' "$WORK/tally.log" 2>/dev/null | head -n 40 || true
    echo "== last lines of the Tally log ($WORK/tally.log)"
    tail -n 20 "$WORK/tally.log" 2>/dev/null || true
    echo "== last lines of the PostgreSQL log"
    tail -n 10 "$WORK/postgres.log" 2>/dev/null || true
  fi
  if [ -n "${FAULT_KEEP:-}" ]; then echo "kept $WORK"; else rm -rf "$WORK"; fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

echo "== PostgreSQL of its own: $("$PGBIN/postgres" --version), port $PG_PORT, $DATA"
$AS_PG "$PGBIN/initdb" -D "$DATA" -U postgres -A trust --no-sync >"$WORK/initdb.log" 2>&1 \
  || { cat "$WORK/initdb.log"; exit 1; }
cat >>"$DATA/postgresql.conf" <<EOF
port = $PG_PORT
listen_addresses = '127.0.0.1'
unix_socket_directories = '$WORK'
max_connections = 50
EOF
$PG_CTL -w start >/dev/null
"$PGBIN/createdb" -h 127.0.0.1 -p "$PG_PORT" -U postgres tally
DB_URL="postgres://postgres@127.0.0.1:$PG_PORT/tally"

# The storm signs up its accounts from one address: the sign-up rate limit is off; the like
# limit stays as configured (a RATE_LIMITED answer is counted, not taken for a fault).
echo "== Tally (target/release/tally serve) on 127.0.0.1:$PORT; migrations run at start-up"
# The ID key is required on PostgreSQL; the checker reads the server's IDs with it too.
export TALLY_ID_KEY="$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')"
# Exported: the view run restarts the server with the very same settings. The views limit is
# off (the view run's clients record as fast as they can; no like storm records views).
export DATABASE_URL="$DB_URL" TALLY_JWT_SECRET="$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')" \
  TALLY_BIND="127.0.0.1:$PORT" RUST_LOG="${RUST_LOG:-warn}" TALLY_RATE_AUTH=0 TALLY_RATE_VIEWS=0
target/release/tally serve >"$WORK/tally.log" 2>&1 &
TALLY_PID=$!

echo "== like storm with a database restart (pg_ctl stop -m $STOP_MODE, then start)"
status=0
target/release/fault \
  --base "http://127.0.0.1:$PORT" \
  --database-url "$DB_URL" \
  --server-pid "$TALLY_PID" \
  --pg-stop "$PG_CTL -m $STOP_MODE -w stop" \
  --pg-start "$PG_CTL -w start" \
  "$@" || status=$?

if ! kill -0 "$TALLY_PID" 2>/dev/null; then
  echo "fault.sh: the Tally process is gone" >&2
  status=1
fi
errors=$(grep -c 'ERROR' "$WORK/tally.log" || true)
warnings=$(grep -c 'WARN' "$WORK/tally.log" || true)
echo "== Tally logged $errors ERROR and $warnings WARN lines (the requests that failed while the database was away)"

echo "== views of one hot video with a kill -9 of the server mid-run and a restart"
echo "$TALLY_PID" >"$WORK/tally.pid"
target/release/view_fault \
  --base "http://127.0.0.1:$PORT" \
  --database-url "$DB_URL" \
  --kill "kill -9 \$(cat '$WORK/tally.pid')" \
  --start "target/release/tally serve >>'$WORK/tally.log' 2>&1 & echo \$! >'$WORK/tally.pid'" \
  ${VIEW_FAULT_ARGS:-} || status=$?
wait "$TALLY_PID" 2>/dev/null || true   # the killed server, reaped
TALLY_PID=""
echo "== fault run took $(( $(date +%s) - started )) s in all"
exit "$status"
