#!/usr/bin/env bash
# docs/deploy.md, followed literally on one machine: a PostgreSQL primary and a streaming
# replica (initdb, pg_basebackup -R), a Redis, `tally migrate up` once, two `tally serve`
# instances A and B (release build, both reading from the replica, both on the Redis); then
# checks with curl that a like through A is counted through B, that the likes quota is shared,
# that an unfollow through A hides the liker's FOLLOWERS like on the very next read through
# B while the replica lags (replay paused), and that /metrics answers on both.
#   .ci/deploy.sh       # needs PostgreSQL's server binaries, redis-server, curl, jq, openssl
# Environment: TALLY_BIN (a built binary; default target/release/tally, built if missing),
# DEPLOY_PGBIN (default: the newest /usr/lib/postgresql/*/bin), DEPLOY_KEEP=1 keeps the
# temp dir. Exits non-zero on any failed check; always stops what it started.
set -euo pipefail
cd "$(dirname "$0")/.."

for tool in redis-server:redis-server jq:jq curl:curl openssl:openssl; do
  if ! command -v "${tool%%:*}" >/dev/null; then
    echo "== apt-get install ${tool#*:}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y -q "${tool#*:}" >/dev/null 2>&1 \
      || { apt-get update -q >/dev/null && apt-get install -y -q "${tool#*:}" >/dev/null; }
  fi
done
PGBIN="${DEPLOY_PGBIN:-$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)}"
if [ ! -x "$PGBIN/initdb" ]; then
  echo "deploy.sh: no PostgreSQL server binaries (install postgresql or set DEPLOY_PGBIN)" >&2
  exit 2
fi
# initdb and the server refuse to run as root: as `postgres` then (docs/deploy.md, step 2).
AS_PG=""
if [ "$(id -u)" = 0 ]; then AS_PG="runuser -u postgres --"; fi

if [ -z "${TALLY_BIN:-}" ] && [ ! -x target/release/tally ]; then
  echo "== build (release): tally"
  cargo build --release -p tally
fi
TALLY="$(realpath "${TALLY_BIN:-target/release/tally}")"

spare_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
PG_PRIMARY=$(spare_port) PG_REPLICA=$(spare_port) REDIS_PORT=$(spare_port) PORT_A=$(spare_port) PORT_B=$(spare_port)

WORK="$(mktemp -d "${TMPDIR:-/tmp}/tally-deploy.XXXXXX")"
if [ -n "$AS_PG" ]; then chown postgres "$WORK"; fi
PIDS=()
cleanup() {
  local rc=$?
  for pid in "${PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
  $AS_PG "$PGBIN/pg_ctl" -D "$WORK/replica" -m immediate stop >/dev/null 2>&1 || true
  $AS_PG "$PGBIN/pg_ctl" -D "$WORK/primary" -m immediate stop >/dev/null 2>&1 || true
  if [ "$rc" -ne 0 ]; then
    for log in a.log b.log primary.log replica.log; do
      echo "== last lines of $log"; tail -n 15 "$WORK/$log" 2>/dev/null || true
    done
  fi
  if [ -n "${DEPLOY_KEEP:-}" ]; then echo "kept $WORK"; else rm -rf "$WORK"; fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

echo "== 1. the shared secrets"
export TALLY_JWT_SECRET="$(openssl rand -hex 32)"
export TALLY_ID_KEY="$(openssl rand -hex 32)"

echo "== 2. PostgreSQL $("$PGBIN/postgres" --version | awk '{print $3}'): primary on $PG_PRIMARY, streaming replica on $PG_REPLICA"
$AS_PG "$PGBIN/initdb" -D "$WORK/primary" -U postgres -A trust --no-sync >"$WORK/initdb.log" 2>&1 \
  || { cat "$WORK/initdb.log"; exit 1; }
cat >>"$WORK/primary/postgresql.conf" <<EOF
port = $PG_PRIMARY
listen_addresses = '127.0.0.1'
max_connections = 100
wal_level = replica
unix_socket_directories = '$WORK'
EOF
$AS_PG "$PGBIN/pg_ctl" -D "$WORK/primary" -l "$WORK/primary.log" -w start >/dev/null
createdb -h 127.0.0.1 -p "$PG_PRIMARY" -U postgres tally
$AS_PG "$PGBIN/pg_basebackup" -h 127.0.0.1 -p "$PG_PRIMARY" -U postgres -D "$WORK/replica" -R -X stream -c fast --no-sync
echo "port = $PG_REPLICA" >>"$WORK/replica/postgresql.conf"
$AS_PG "$PGBIN/pg_ctl" -D "$WORK/replica" -l "$WORK/replica.log" -w start >/dev/null
in_recovery=$(psql -h 127.0.0.1 -p "$PG_REPLICA" -U postgres -Atc 'SELECT pg_is_in_recovery()')
[ "$in_recovery" = t ] || { echo "deploy.sh: the replica is not in recovery" >&2; exit 1; }

echo "== 3. Redis on $REDIS_PORT"
redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save '' --appendonly no >"$WORK/redis.log" 2>&1 &
PIDS+=($!)
for _ in $(seq 100); do redis-cli -p "$REDIS_PORT" ping 2>/dev/null | grep -q PONG && break; sleep 0.05; done

echo "== 4. migrations, once: tally migrate up"
export DATABASE_URL="postgres://postgres@127.0.0.1:$PG_PRIMARY/tally"
"$TALLY" migrate up

echo "== 5. the instances: A on $PORT_A, B on $PORT_B"
export TALLY_READ_DATABASE_URLS="postgres://postgres@127.0.0.1:$PG_REPLICA/tally"
export TALLY_REDIS_URL="redis://127.0.0.1:$REDIS_PORT"
export TALLY_INTROSPECTION=false TALLY_GRAPHIQL=false
# For check 2: a small likes quota, so that the shared limit shows after a few calls. The
# sign-ups all come from 127.0.0.1: the auth bucket is off here.
export TALLY_RATE_LIKES=1/h TALLY_RATE_LIKES_BURST=4 TALLY_RATE_AUTH=0 RUST_LOG="${RUST_LOG:-warn}"
TALLY_BIND="127.0.0.1:$PORT_A" "$TALLY" serve >"$WORK/a.log" 2>&1 &
PIDS+=($!)
TALLY_BIND="127.0.0.1:$PORT_B" "$TALLY" serve >"$WORK/b.log" 2>&1 &
PIDS+=($!)
for port in "$PORT_A" "$PORT_B"; do
  for _ in $(seq 200); do curl -sf "http://127.0.0.1:$port/readyz" >/dev/null && break; sleep 0.05; done
  curl -sf "http://127.0.0.1:$port/readyz" >/dev/null || { echo "deploy.sh: instance on $port not ready" >&2; exit 1; }
done

A="http://127.0.0.1:$PORT_A/graphql" B="http://127.0.0.1:$PORT_B/graphql"
# gql URL TOKEN QUERY [VARIABLES]: the response body; fails on anything but HTTP 200.
gql() {
  local auth=() vars="${4:-}"
  if [ -n "$2" ]; then auth=(-H "Authorization: Bearer $2"); fi
  if [ -z "$vars" ]; then vars='{}'; fi
  curl -sf "$1" -H 'Content-Type: application/json' "${auth[@]}" \
    -d "$(jq -nc --arg q "$3" --argjson v "$vars" '{query: $q, variables: $v}')"
}
# ok URL TOKEN QUERY VARIABLES JQ: the JQ of a response without errors.
ok() {
  local body; body=$(gql "$1" "$2" "$3" "$4")
  if [ "$(jq 'has("errors")' <<<"$body")" != false ]; then echo "deploy.sh: $3 -> $body" >&2; exit 1; fi
  jq -r "$5" <<<"$body"
}
sign_up() { ok "$1" "" "mutation { signUp(input: {handle: \"$2\", password: \"password123\" $3}) { token user { id } } }" '{}' '.data.signUp | "\(.token) \(.user.id)"'; }
fail() { echo "deploy.sh: FAILED: $*" >&2; exit 1; }
replica_reads() { curl -sf "http://127.0.0.1:$PORT_B/metrics" | awk '/^tally_db_reads_total\{on="replica"\}/ {print $2}' | head -n 1; }

read -r VIEWER VIEWER_ID <<<"$(sign_up "$A" viewer '')"
read -r LIKER LIKER_ID <<<"$(sign_up "$B" liker ', likesVisibility: FOLLOWERS')"
read -r SPAMMER _ <<<"$(sign_up "$A" spammer '')"
VIDEO=$(ok "$A" "$VIEWER" 'mutation { createVideo(input: {mediaUrl: "https://media.example.com/v.mp4", caption: "deploy"}) { id } }' '{}' '.data.createVideo.id')
ok "$B" "$VIEWER" 'mutation($u: ID!) { followUser(userId: $u) { state } }' "{\"u\":\"$LIKER_ID\"}" '.data.followUser.state' >/dev/null

echo "== check 1: a like through A is counted through B"
ok "$A" "$LIKER" 'mutation($v: ID!) { likeVideo(videoId: $v) { likeCount } }' "{\"v\":\"$VIDEO\"}" '.data.likeVideo.likeCount' >/dev/null
count=$(ok "$B" "" 'query($v: ID!) { video(id: $v) { likeCount } }' "{\"v\":\"$VIDEO\"}" '.data.video.likeCount')
[ "$count" = 1 ] || fail "likeCount through B is $count, not 1"
echo "likeCount through B: $count"

echo "== check 2: the likes quota (burst 4) is shared by A and B"
for i in 1 2 3 4; do
  url=$A; [ $((i % 2)) = 0 ] && url=$B
  field=likeVideo; [ $((i % 2)) = 0 ] && field=unlikeVideo
  ok "$url" "$SPAMMER" "mutation(\$v: ID!) { $field(videoId: \$v) { likeCount } }" "{\"v\":\"$VIDEO\"}" '.data | keys[0]' >/dev/null
done
refusal=$(gql "$B" "$SPAMMER" 'mutation($v: ID!) { likeVideo(videoId: $v) { likeCount } }' "{\"v\":\"$VIDEO\"}")
[ "$(jq -r '.errors[0].extensions.code' <<<"$refusal")" = RATE_LIMITED ] || fail "the 5th like was not refused: $refusal"
retry=$(jq -r '.errors[0].extensions.retryAfter' <<<"$refusal")
[ "$retry" -ge 1 ] || fail "no retryAfter: $refusal"
echo "4 allowed across A and B, the 5th RATE_LIMITED, retryAfter $retry s"

echo "== check 3: an unfollow through A hides the FOLLOWERS like on the very next read through B"
LIKERS='query($v: ID!) { video(id: $v) { visibleLikers { totalCount hiddenCount edges { node { handle } } } } }'
seen=$(ok "$B" "$VIEWER" "$LIKERS" "{\"v\":\"$VIDEO\"}" '[.data.video.visibleLikers.edges[].node.handle] | join(",")')
[ "$seen" = liker ] || fail "before the unfollow, B shows likers [$seen], not [liker]"
psql -h 127.0.0.1 -p "$PG_REPLICA" -U postgres -qAtc 'SELECT pg_wal_replay_pause()' >/dev/null
ok "$A" "$VIEWER" 'mutation($u: ID!) { unfollowUser(userId: $u) }' "{\"u\":\"$LIKER_ID\"}" '.data.unfollowUser' >/dev/null
stale=$(psql -h 127.0.0.1 -p "$PG_REPLICA" -U postgres -d tally -Atc 'SELECT count(*) FROM follows')
[ "$stale" = 1 ] || fail "the paused replica does not hold the follow any more ($stale): nothing to show"
after=$(ok "$B" "$VIEWER" "$LIKERS" "{\"v\":\"$VIDEO\"}" '.data.video.visibleLikers | "\(.totalCount) \(.hiddenCount)"')
[ "$after" = "0 1" ] || fail "after the unfollow, B shows totalCount/hiddenCount $after, not 0 1"
echo "replica paused and still holding the follow; B shows 0 likers, 1 hidden"
psql -h 127.0.0.1 -p "$PG_REPLICA" -U postgres -qAtc 'SELECT pg_wal_replay_resume()' >/dev/null
before=$(replica_reads)
for _ in $(seq 100); do
  after=$(ok "$B" "$VIEWER" "$LIKERS" "{\"v\":\"$VIDEO\"}" '.data.video.visibleLikers | "\(.totalCount) \(.hiddenCount)"')
  [ "$after" = "0 1" ] || fail "after replay resumed, B shows $after, not 0 1"
  [ "$(replica_reads)" != "$before" ] && break
  sleep 0.05
done
[ "$(replica_reads)" != "$before" ] || fail "B never read from the replica again after replay resumed"
echo "replay resumed: B reads from the replica again (tally_db_reads_total{on=\"replica\"} $before -> $(replica_reads))"

echo "== check 4: /metrics answers on both (after a query through each)"
for port in "$PORT_A" "$PORT_B"; do
  ok "http://127.0.0.1:$port/graphql" "" 'query($v: ID!) { video(id: $v) { likeCount } }' "{\"v\":\"$VIDEO\"}" '.data.video.likeCount' >/dev/null
  metrics=$(curl -sf "http://127.0.0.1:$port/metrics") || fail "/metrics on $port did not answer 200"
  grep -q '^tally_db_reads_total{' <<<"$metrics" || fail "/metrics on $port does not count the read: $metrics"
  echo "/metrics on $port: $(grep -c '^tally_' <<<"$metrics") tally_ samples"
done
echo "== deploy checks: all 4 passed"
