#!/usr/bin/env bash
# Tally's pages in a real browser: GraphiQL offline, the creator dashboard (creator and
# personal account), CORS from a listed and an unlisted second origin, GraphiQL's CDN mode
# and axe-core on every page (.ci/browser/browser.mjs), in Debian's chromium, headless,
# driven by playwright-core (pinned in .ci/browser/package-lock.json), against the release
# binary serving `--demo` on a free port with SQLite in a temp dir.
#   .ci/browser.sh      # needs node >= 18, npm, and chromium (installed with apt-get if missing)
# Screenshots: target/browser/screenshots/. Environment: TALLY_BIN (a built binary to test
# instead; no build then), CHROMIUM (the browser, default /usr/bin/chromium).
set -euo pipefail
cd "$(dirname "$0")/.."

CHROMIUM="${CHROMIUM:-/usr/bin/chromium}"
if [ ! -x "$CHROMIUM" ]; then
  echo "== apt-get install chromium"
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y -q chromium >/dev/null 2>&1 || { apt-get update -q >/dev/null && apt-get install -y -q chromium >/dev/null; }
  CHROMIUM=/usr/bin/chromium
fi
echo "== $("$CHROMIUM" --version 2>/dev/null || echo "$CHROMIUM")"

if [ -z "${TALLY_BIN:-}" ]; then
  # The same packages as bench/fault.sh builds, so that after it (as in .ci/run) this is a
  # no-op: building `-p tally` alone could unify features differently and rebuild.
  echo "== build (release): tally"
  cargo build --release -q -p tally --bin tally -p tally-bench --bin fault
fi
BIN="$(realpath "${TALLY_BIN:-target/release/tally}")"

OUT=target/browser
mkdir -p "$OUT"
cp .ci/browser/package.json .ci/browser/package-lock.json .ci/browser/*.mjs .ci/browser/cors.* "$OUT/"
if ! cmp -s .ci/browser/package-lock.json "$OUT/node_modules/.package-lock.json.installed" 2>/dev/null; then
  echo "== npm ci (playwright-core, axe-core) into $OUT"
  (cd "$OUT" && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error)
  cp .ci/browser/package-lock.json "$OUT/node_modules/.package-lock.json.installed"
fi
rm -rf "$OUT/screenshots"

WORK="$(mktemp -d "${TMPDIR:-/tmp}/tally-browser.XXXXXX")"
trap 'rm -rf "$WORK"' EXIT
CHROMIUM="$CHROMIUM" node "$OUT/browser.mjs" "$BIN" "$WORK" "$(realpath "$OUT")"
