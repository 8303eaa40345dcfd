#!/usr/bin/env bash
# Builds the service and runs it on a fresh, throw-away data directory for
# one end-to-end test run. Playwright starts this as its web server and
# stops it (SIGTERM) when the run ends; the data directory goes with it.
# LATCH_E2E_SERVE_ARGS adds flags, e.g. "--dpop-nonce=true" to run the
# suite against a service that demands DPoP nonces.
set -euo pipefail

cd "$(dirname "$0")/.."
go build -o bin/latch ./cmd/latch

data="$(mktemp -d -t latch-e2e.XXXXXX)"
port="${LATCH_E2E_PORT:-8089}"
# Specs that run operator commands (latch users recover) find the data
# directory here.
datafile="bin/e2e-data-$port"
pid=""
cleanup() {
  if [[ -n "$pid" ]]; then
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  fi
  rm -rf "$data" "$datafile"
}
trap cleanup EXIT
trap 'exit 143' INT TERM

echo "$data" > "$datafile"
# The cross-origin spec serves its app page on port+1000: that origin may
# call Latch (CORS) and run passkey ceremonies.
web="http://localhost:$((port + 1000))"
./bin/latch serve --addr "127.0.0.1:$port" --issuer "http://localhost:$port" --data "$data" \
  --web-origin "$web" --origins "http://localhost:$port,$web" ${LATCH_E2E_SERVE_ARGS:-} &
pid=$!
wait "$pid"
