#!/usr/bin/env bash
# The likes-at-scale benchmark: installs wrk, builds release binaries, then runs
# tally-bench on PostgreSQL and SQLite. Extra arguments go to every tally-bench run.
#   bench/run.sh                       # full: 1k / 100k / 1M likes, 0% 50% 99% private (PostgreSQL), 50% (SQLite)
#   QUICK=1 bench/run.sh               # smoke: 1k / 10k likes, short runs
#   SOAK=1 bench/run.sh                # soak: 600 s of mixed load on PostgreSQL, RSS sampled (SOAK_SECS to change)
#   TIMING=1 bench/run.sh              # timing classes: hidden-1,500 ÷ hidden-0 per read path, SQLite and PostgreSQL
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v wrk >/dev/null 2>&1; then
  apt-get update -qq && apt-get install -y -qq wrk
fi
cargo build --release -p tally -p tally-bench

BENCH=target/release/tally-bench
OUT=bench/out
mkdir -p "$OUT"
if [ -n "${TIMING:-}" ]; then
  "$BENCH" --backend sqlite --timing "$@"
  "$BENCH" --backend postgres --timing "$@"
  echo "results: $OUT/timing-sqlite.md, $OUT/timing-postgres.md"
  exit 0
fi
if [ -n "${SOAK:-}" ]; then
  # 1k / 10k likes are enough: the soak is about staying up and flat, not about scale.
  "$BENCH" --backend postgres --sizes 1000,10000 --viewer-follows 500 --soak "${SOAK_SECS:-600}" "$@"
  echo "result: $OUT/soak-postgres.md"
  exit 0
fi
if [ -n "${QUICK:-}" ]; then
  COMMON=(--sizes 1000,10000 --duration 3 --floor-iterations 100 --viewer-follows 500 "$@")
  "$BENCH" --backend postgres --private-share 0.5 "${COMMON[@]}"
  "$BENCH" --backend sqlite --private-share 0.5 "${COMMON[@]}"
  exit 0
fi
for share in 0.99 0.5 0.0; do
  "$BENCH" --backend postgres --private-share "$share" "$@"
done
"$BENCH" --backend sqlite --private-share 0.5 "$@"
echo "results: $OUT/results-*.md, plans: $OUT/explain-*.md"
