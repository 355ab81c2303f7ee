#!/usr/bin/env bash
# The test suite: installs what it needs, builds, starts a real private PostgreSQL server (Tessera's own
# embedded cluster in a temporary folder, Unix socket only), runs every test against it, and cleans up.
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf '==> %s\n' "$*"; }

ops/setup.sh

say "building (debug, with tests)"
build_log=$(mktemp)
if ! swift build --build-tests >"$build_log" 2>&1; then cat "$build_log" >&2; rm -f "$build_log"; exit 1; fi
grep -E 'warning:|Compiling|Build complete' "$build_log" | grep -v '^\[' | sort -u | tail -5 || true
rm -f "$build_log"

state=$(mktemp -d /tmp/tessera-test.XXXXXX)
chmod 755 "$state"   # the server runs as the unprivileged postgres user when we are root
cleanup() {
  status=$?
  say "stopping the test PostgreSQL server"
  env -u TESSERA_DATABASE_URL TESSERA_HOME="$state" .build/debug/tessera dev down >/dev/null 2>&1 || true
  rm -rf "$state"
  exit $status
}
trap cleanup EXIT

say "starting a private PostgreSQL server in $state"
env -u TESSERA_DATABASE_URL TESSERA_HOME="$state" .build/debug/tessera dev up

export TESSERA_TEST_PG="host=$state/postgres/run user=tessera"
export TESSERA_BIN="$PWD/.build/debug/tessera"
export TESSERA_MIGRATIONS="$PWD/migrations"
export TESSERA_TEXT_ENCODER="$PWD/models/all-MiniLM-L6-v2"   # installed by ops/setup.sh
export TESSERA_WEED="$PWD/.venv/bin/weed"   # SeaweedFS, installed by ops/setup.sh; the storage tests start it

say "running the tests"
swift test --skip-build "$@"
