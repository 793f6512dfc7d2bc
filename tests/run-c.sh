#!/usr/bin/env bash
# run-c.sh — every Check suite, built with ASan + UBSan, under ctest.
# Check forks each test (one process per test, libuv-style), so a crash is one failure.
set -uo pipefail
cd "$(dirname "$0")/.."
B=${BUILD_ASAN:-build-asan}
cmake -S . -B "$B" -DCMAKE_BUILD_TYPE=Debug -DGPX_SANITIZE=ON -DGPX_DIST_DIR="$PWD/$B/dist" >/dev/null || exit 1
cmake --build "$B" -j "$(nproc)" >/dev/null || { cmake --build "$B" -j1; exit 1; }
# allocator_may_return_null: our code handles a failed allocation (ENOMEM);
# tests ask for impossible sizes on purpose.
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=0:halt_on_error=1:allocator_may_return_null=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
export CK_VERBOSITY=${CK_VERBOSITY:-normal}
# Check's default 4 s per test is a liveness guard, not a benchmark: on a
# loaded 2-core machine the sanitizer build of a big case can take longer.
export CK_DEFAULT_TIMEOUT=${CK_DEFAULT_TIMEOUT:-120}
export CK_TIMEOUT_MULTIPLIER=${CK_TIMEOUT_MULTIPLIER:-4}
out=$(cd "$B" && ctest -V --timeout 600 -j "$(nproc)" 2>&1)
rc=$?
echo "$out"
# Sum the Check summaries ("NN%: Checks: N, Failures: F, Errors: E").
read -r checks fails < <(grep -oE 'Checks: [0-9]+, Failures: [0-9]+, Errors: [0-9]+' <<<"$out" |
  awk -F'[:,] *' '{c+=$2; f+=$4+$6} END {print c+0, f+0}')
echo "check: $((checks-fails)) passed, $fails failed"
exit $rc
