#!/usr/bin/env bash
# run-tests.sh — run every test stage (or the ones named) and sum their counts.
#
# Each stage prints, as its last counting line, "N passed, N failed"; this
# script adds them up so the final line covers every test in the project.
# A stage that exits non-zero fails the run even if its counts look clean.
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
STAGES=("$@")
[ ${#STAGES[@]} -eq 0 ] && STAGES=(c go frontend monitoring dist fuzz soak)
mkdir -p tests/artifacts
total_p=0; total_f=0; failed_stages=()

stage_cmd() {
  case "$1" in
    c)          echo "tests/run-c.sh" ;;
    go)         echo "tests/run-go.sh" ;;
    frontend)   echo "frontend/run-tests.sh" ;;
    monitoring) echo "tests/monitoring/run.sh" ;;
    dist)       echo "tests/dist/run.sh" ;;
    fuzz)       echo "tests/fuzz/run.sh" ;;
    soak)       echo "tests/run-soak.sh" ;;
    *)          echo "" ;;
  esac
}

for s in "${STAGES[@]}"; do
  cmd=$(stage_cmd "$s")
  if [ -z "$cmd" ] || [ ! -x "$cmd" ]; then
    echo "=== stage $s: MISSING ($cmd not found)"; failed_stages+=("$s"); total_f=$((total_f+1)); continue
  fi
  echo "=== stage $s: $cmd"
  log="tests/artifacts/stage-$s.log"
  start=$(date +%s)
  "$ROOT/$cmd" 2>&1 | tee "$log"
  rc=${PIPESTATUS[0]}
  line=$(grep -E '^([A-Za-z-]+: )?[0-9]+ passed, [0-9]+ failed' "$log" | tail -1)
  p=$(sed -E 's/^([A-Za-z-]+: )?([0-9]+) passed.*/\2/' <<<"$line"); p=${p:-0}
  f=$(sed -E 's/^.*passed, ([0-9]+) failed.*/\1/' <<<"$line"); f=${f:-0}
  if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then f=1; fi
  [ "$rc" -ne 0 ] && failed_stages+=("$s")
  total_p=$((total_p+p)); total_f=$((total_f+f))
  echo "=== stage $s: $p passed, $f failed (exit $rc, $(( $(date +%s)-start )) s)"
done

if [ ${#failed_stages[@]} -ne 0 ]; then echo "failed stages: ${failed_stages[*]}"; fi
echo "total: $total_p passed, $total_f failed"
[ ${#failed_stages[@]} -eq 0 ] && [ "$total_f" -eq 0 ]
