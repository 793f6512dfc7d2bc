#!/usr/bin/env bash
# run-go.sh — the `go` stage: every Go test package under tests/ (one module,
# tests/go.mod), e.g. tests/frames (Arrow frames checked by the Grafana SDK
# decoder) and whatever harness packages others add. Generic on purpose:
# `go test ./...` picks up new packages without touching this script.
#
# Go tests that drive C programs find them in $GPX_BUILD_DIR (default build/,
# which `make build` fills before this stage runs); if frame_gen is missing
# there it is built first. Counts every `--- PASS` / `--- FAIL` line,
# subtests included, and ends with "go: N passed, N failed".
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
export GPX_BUILD_DIR=$(realpath -m "${GPX_BUILD_DIR:-$ROOT/build}")
if [ ! -x "$GPX_BUILD_DIR/frame_gen" ]; then
  echo "run-go: $GPX_BUILD_DIR/frame_gen missing, building it"
  { cmake -S . -B "$GPX_BUILD_DIR" >/dev/null && cmake --build "$GPX_BUILD_DIR" -j "$(nproc)" --target frame_gen >/dev/null; } ||
    { echo "run-go: cannot build frame_gen"; echo "go: 0 passed, 1 failed"; exit 1; }
fi
mkdir -p tests/artifacts
log=tests/artifacts/go-test.log
(cd tests && go test ./... -count=1 -v 2>&1) >"$log"
rc=$?
# tests/cache (the fold cache's randomized equality tests) is picked up by
# ./... too; CACHE_SEED replays one of its runs (the seed is in the log).
# Second pass: the plugin-driving packages again, against the ASan + UBSan
# build of the plugin (tests/run-c.sh built it); any sanitizer report on the
# plugin's stderr fails the test that launched it (tests/harness).
# tests/faults is not in this pass: its ~30 s are timeouts waited out on
# purpose, and the C paths it drives (abandoned connections, cancel helper
# threads, nonblocking close) run under ASan + LSan in check_pg's fake-server
# tests (tests/run-c.sh).
ASAN_BIN=${BUILD_ASAN:-$ROOT/build-asan}/dist/gpx_algotrading_pnl_linux_amd64
if [ -x "$ASAN_BIN" ]; then
  echo "run-go: sanitizer pass of tests/harness, tests/analytics, tests/live, tests/flight, tests/prepared and tests/cache against $ASAN_BIN" >>"$log"
  # tests/cache drives the fold cache's fills, verifications and LRU
  # evictions; fewer random sequences than in the first pass keep it short.
  (cd tests && GPX_PLUGIN_BIN=$ASAN_BIN ASAN_OPTIONS=detect_leaks=1 CACHE_SEQUENCES=${CACHE_SEQUENCES:-4} \
    go test ./harness/ ./analytics/ ./live/ ./flight/ ./prepared/ ./cache/ -count=1 -v 2>&1) |
    sed 's/^\(\s*--- [A-Z]*: \)/\1[asan] /' >>"$log"
  rc2=${PIPESTATUS[0]}
  [ "$rc2" -ne 0 ] && rc=$rc2
else
  echo "run-go: no sanitizer build at $ASAN_BIN (run tests/run-c.sh first); sanitizer pass skipped" | tee -a "$log"
fi
# Keep the console readable: top-level results, failures and test logs, not
# thousands of "=== RUN" lines or subtest passes (the full log is kept in $log).
grep -vE '^\s*=== (RUN|PAUSE|CONT|NAME)|^\s{4,}--- PASS' "$log" | tail -n 300
passed=$(grep -cE '^\s*--- PASS' "$log")
failed=$(grep -cE '^\s*--- FAIL' "$log")
# A package that fails to build or panics produces no --- FAIL line.
if [ "$rc" -ne 0 ] && [ "$failed" -eq 0 ]; then failed=1; fi
echo "go: $passed passed, $failed failed"
exit $rc
