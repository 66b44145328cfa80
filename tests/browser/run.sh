#!/usr/bin/env bash
# The live page in a real browser: start the greeting server with its debug page on,
# drive load at it, open /_eddy in headless Chromium (Debian's, driven by playwright-core)
# and check that the page shows the server at work (page.test.js says what exactly).
# Leaves a screenshot in docs/debug-page.png (SCREENSHOT=path to put it elsewhere).
#
#   bash tests/browser/run.sh          # from anywhere; ~10 s once built
#
# Installs what is missing: Chromium with apt-get, playwright-core with `npm ci` (the
# version pinned in package-lock.json). Stops everything it started, by PID. Exits
# non-zero with a line saying what failed.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
cd "$root"

say() { echo "browser test [${SECONDS}s]: $*"; }
die() { echo "browser test FAILED: $*" >&2; exit 1; }

# ---- What it needs ------------------------------------------------------------------------
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else return 1; fi; }
chromium="${CHROMIUM:-/usr/bin/chromium}"
if [ ! -x "$chromium" ]; then
  say "installing chromium (apt-get)"
  as_root apt-get install -y chromium >/tmp/eddy-apt-chromium.log 2>&1 \
    || die "no $chromium and 'apt-get install -y chromium' failed (see /tmp/eddy-apt-chromium.log)"
fi
if ! command -v node >/dev/null; then
  say "installing node (apt-get)"
  as_root apt-get install -y nodejs npm >/tmp/eddy-apt-node.log 2>&1 \
    || die "no node and 'apt-get install -y nodejs npm' failed (see /tmp/eddy-apt-node.log)"
fi
if [ ! -f "$here/node_modules/playwright-core/package.json" ]; then
  say "installing playwright-core (npm ci)"
  (cd "$here" && npm ci --no-audit --no-fund --loglevel=error) || die "npm ci in tests/browser failed"
fi

# ---- The server ---------------------------------------------------------------------------
# A debug build is enough to show the page working, and cargo test has built most of it.
cargo build --quiet --example greeting || die "cargo build --example greeting failed"
target_dir="${CARGO_TARGET_DIR:-$root/target}"
greeting="$target_dir/debug/examples/greeting"
[ -x "$greeting" ] || die "no greeting binary at $greeting"
say "built $greeting"

work="$(mktemp -d /tmp/eddy-browser.XXXXXX)"
pids=()
cleanup() {
  # Stop what this script started, by PID: the load first, then the server (SIGTERM is its
  # graceful shutdown; SIGKILL if it is still there after 5 s).
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null || true
  done
  rm -rf "$work"
}
trap cleanup EXIT

# Port 0: the kernel picks a free port, and the server's "listening on" line says which.
RUST_LOG="warn,eddy_http::server=info" "$greeting" --debug-page --addr 127.0.0.1:0 --workers 2 >"$work/server.log" 2>&1 &
server_pid=$!
pids+=("$server_pid")
addr=""
for _ in $(seq 100); do
  addr="$(grep -o 'listening on http://[0-9.:]*' "$work/server.log" | head -1 | sed 's|listening on http://||')" || true
  [ -n "$addr" ] && break
  kill -0 "$server_pid" 2>/dev/null || { cat "$work/server.log" >&2; die "the greeting server exited at start"; }
  sleep 0.1
done
[ -n "$addr" ] || { cat "$work/server.log" >&2; die "the greeting server printed no 'listening on' line in 10 s"; }
say "greeting server (pid $server_pid) on $addr"

# ---- The load -----------------------------------------------------------------------------
# Keep-alive load for as long as the test runs (it is stopped at exit): wrk if the machine
# has it, else a shell loop of curl processes. Modest on purpose: the page has to show work,
# and the browser shares the machine's cores with it.
if command -v wrk >/dev/null; then
  wrk -t1 -c8 -d120s "http://$addr/Alice" >"$work/load.log" 2>&1 &
  pids+=("$!")
  say "load: wrk -t1 -c8 (pid $!)"
else
  (while :; do curl -s -o /dev/null "http://$addr/Alice" "http://$addr/Bob" "http://$addr/" || true; done) &
  pids+=("$!")
  say "load: a curl loop (pid $!)"
fi

# ---- The browser --------------------------------------------------------------------------
shot="${SCREENSHOT:-$root/docs/debug-page.png}"
CHROMIUM="$chromium" timeout 90 node "$here/page.test.js" "http://$addr/_eddy" "$shot" \
  || { echo "--- server log (last lines):" >&2; tail -20 "$work/server.log" >&2; die "see the line above"; }
say "done; stopping what it started"
