#!/usr/bin/env bash
# run.sh — the fuzz stage: build the libFuzzer targets of tests/fuzz/ with
# clang (ASan + UBSan, their own build dir; the main build stays gcc) and run
# each one for a fixed, seeded time over its checked-in corpus.
#
#   FUZZ_SECONDS   seconds per target (default 30; `make fuzz` asks for more)
#   FUZZ_TARGETS   names to run, e.g. "fuzz_query fuzz_svc" (default: all)
#   FUZZ_SEED      libFuzzer -seed (default 1)
#   FUZZ_PARALLEL  targets run at once (default: number of cores)
#   FUZZ_MERGE=1   afterwards, add inputs that reach new coverage to the
#                  checked-in corpus (tests/fuzz/corpus/<target>/) to commit
#   BUILD_FUZZ     build dir (default build-fuzz)
#
# A target that finds a crash, a leak, undefined behaviour or a broken
# property (FUZZ_CHECK) fails; its input is saved under tests/artifacts/fuzz/
# and the line printed says how to replay it. Inputs found along the way go
# to $BUILD_FUZZ/corpus/<target>/ (kept between runs, never committed).
# Last line: "fuzz: N passed, N failed" (one per target).
set -uo pipefail
cd "$(dirname "$0")/../.."
B=${BUILD_FUZZ:-build-fuzz}
SECONDS_PER=${FUZZ_SECONDS:-30}
SEED=${FUZZ_SEED:-1}
PAR=${FUZZ_PARALLEL:-$(nproc)}
ART=tests/artifacts/fuzz
mkdir -p "$ART"

die() {
  echo "fuzz: $*" >&2
  echo "fuzz: 0 passed, 1 failed"
  exit 1
}

command -v clang >/dev/null || die "clang not found (tools/deps.sh installs clang and libclang-rt-dev)"
CC=clang cmake -S . -B "$B" -DGPX_FUZZ=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo -DGPX_DIST_DIR="$PWD/$B/dist" \
  >"$ART/configure.log" 2>&1 || { cat "$ART/configure.log"; die "configure failed"; }
cmake --build "$B" -j "$(nproc)" --target fuzz >"$ART/build.log" 2>&1 ||
  { tail -40 "$ART/build.log"; die "build failed"; }

if [ -n "${FUZZ_TARGETS:-}" ]; then
  read -r -a targets <<<"$FUZZ_TARGETS"
else
  mapfile -t targets < <(cd tests/fuzz && ls fuzz_*.c | sed 's/\.c$//')
fi

# One target: run it, then write its summary line to $ART/<t>.result.
run_one() {
  local t=$1 work="$B/corpus/$1" seeds="tests/fuzz/corpus/$1" log="$ART/$1.log" dict="tests/fuzz/$1.dict"
  mkdir -p "$work" "$seeds"
  rm -f "$ART/$t"-crash-* "$ART/$t"-leak-* "$ART/$t"-timeout-* "$ART/$t"-oom-* "$ART/$t"-slow-unit-*
  local args=(-seed="$SEED" -max_total_time="$SECONDS_PER" -timeout=60 -rss_limit_mb=4096
              -print_final_stats=1 -artifact_prefix="$ART/$t-")
  [ -f "$dict" ] && args+=(-dict="$dict")
  local start=$SECONDS
  # halt_on_error: the first report ends the run, so libFuzzer saves that input
  ASAN_OPTIONS=detect_leaks=1:halt_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    "$B/$t" "${args[@]}" "$work" "$seeds" >"$log" 2>&1
  local rc=$? took=$((SECONDS - start))
  local runs cov ft corp
  runs=$(grep -aoE 'stat::number_of_executed_units: [0-9]+' "$log" | tail -1 | grep -oE '[0-9]+$')
  read -r cov ft corp < <(grep -aoE 'cov: [0-9]+ ft: [0-9]+ corp: [0-9]+' "$log" | tail -1 |
                          sed -E 's/cov: ([0-9]+) ft: ([0-9]+) corp: ([0-9]+)/\1 \2 \3/')
  if [ $rc -eq 0 ]; then
    echo "PASS $t: ${runs:-?} runs, cov ${cov:-?}, ft ${ft:-?}, corpus ${corp:-?} (${took} s)" >"$ART/$t.result"
    if [ "${FUZZ_MERGE:-0}" = 1 ]; then
      "$B/$t" -merge=1 "$seeds" "$work" >>"$log" 2>&1 &&
        echo "     $t: merged new coverage into $seeds" >>"$ART/$t.result"
    fi
  else
    local input why
    input=$(ls -t "$ART/$t"-{crash,leak,timeout,oom,slow-unit}-* 2>/dev/null | head -1)
    why=$(grep -aE 'FUZZ CHECK FAILED|^SUMMARY:|runtime error|ERROR: (AddressSanitizer|LeakSanitizer|libFuzzer)' "$log" |
          head -2 | tr '\n' ' ')
    {
      echo "FAIL $t (exit $rc after ${took} s, ${runs:-?} runs): ${why:-see $log}"
      grep -aA1 'FUZZ CHECK FAILED' "$log" | tail -1 | cut -c1-300
      echo "     replay: $B/$t ${input:-<input>}   (log: $log)"
    } >"$ART/$t.result"
  fi
}

echo "fuzz: ${#targets[@]} targets, ${SECONDS_PER} s each, seed $SEED, $PAR at a time ($B)"
running=0
for t in "${targets[@]}"; do
  [ -x "$B/$t" ] || { echo "FAIL $t: not built" >"$ART/$t.result"; continue; }
  run_one "$t" &
  running=$((running + 1))
  if [ "$running" -ge "$PAR" ]; then
    wait -n
    running=$((running - 1))
  fi
done
wait

pass=0 fail=0
for t in "${targets[@]}"; do
  cat "$ART/$t.result"
  if grep -q '^PASS' "$ART/$t.result"; then pass=$((pass + 1)); else fail=$((fail + 1)); fi
done
echo "fuzz: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
