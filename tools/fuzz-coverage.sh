#!/usr/bin/env bash
# fuzz-coverage.sh — line/region coverage of what the fuzz corpora reach.
#
# Builds the fuzz targets once more with source-based coverage
# (GPX_FUZZ_COVERAGE=ON, in build-fuzz-cov/), replays each target over its
# checked-in corpus plus what the fuzz runs grew in build-fuzz/corpus/
# (-runs=0: no fuzzing), merges the profiles and prints llvm-cov's report for
# the modules that read untrusted input. Not part of `make test`.
#
#   tools/fuzz-coverage.sh [dir ...]     default: src/query src/ds src/pg
set -euo pipefail
cd "$(dirname "$0")/.."
B=${BUILD_FUZZ_COV:-build-fuzz-cov}
GROWN=${BUILD_FUZZ:-build-fuzz}/corpus
DIRS=("$@")
[ ${#DIRS[@]} -eq 0 ] && DIRS=(src/query src/ds src/pg)
ver=$(clang --version | sed -nE 's/.*clang version ([0-9]+).*/\1/p' | head -1)
PROFDATA=$(command -v "llvm-profdata-$ver" || command -v llvm-profdata)
COV=$(command -v "llvm-cov-$ver" || command -v llvm-cov)
CC=clang cmake -S . -B "$B" -DGPX_FUZZ=ON -DGPX_FUZZ_COVERAGE=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DGPX_DIST_DIR="$PWD/$B/dist" >/dev/null
cmake --build "$B" -j "$(nproc)" --target fuzz >/dev/null
rm -rf "$B/profiles"
mkdir -p "$B/profiles"
objs=()
for src in tests/fuzz/fuzz_*.c; do
  t=$(basename "$src" .c)
  corpora=("tests/fuzz/corpus/$t")
  [ -d "$GROWN/$t" ] && corpora+=("$GROWN/$t")
  LLVM_PROFILE_FILE="$B/profiles/$t-%p.profraw" ASAN_OPTIONS=detect_leaks=0 \
    "$B/$t" -runs=0 "${corpora[@]}" >/dev/null 2>&1 || echo "coverage: $t exited non-zero while replaying" >&2
  objs+=(-object "$B/$t")
done
"$PROFDATA" merge -sparse "$B"/profiles/*.profraw -o "$B/fuzz.profdata"
srcs=()
for d in "${DIRS[@]}"; do srcs+=("$PWD/$d"); done
"$COV" report "${objs[@]:1}" -instr-profile="$B/fuzz.profdata" "${srcs[@]}"
