#!/usr/bin/env bash
# run.sh — the `dist` test stage: package dist/ with tools/dist-zip.sh, check
# the archive against the offline validator rules (check_archive.py), prove the
# checker catches each defect (selftest.py), and run dist/ in a minimal Debian
# root (portable.sh). Ends with `dist: N passed, N failed`.
set -uo pipefail
cd "$(dirname "$0")/../.."
ART=tests/artifacts; mkdir -p "$ART"
P=0; F=0
tally() { # tally <output>: add the counts of its last "N passed, N failed" line
  local l; l=$(grep -E '[0-9]+ passed, [0-9]+ failed' <<<"$1" | tail -1)
  if [ -z "$l" ]; then F=$((F + 1)); return; fi
  P=$((P + $(sed -E 's/.* ([0-9]+) passed.*/\1/' <<<"$l"))); F=$((F + $(sed -E 's/.*passed, ([0-9]+) failed.*/\1/' <<<"$l")))
}
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT

if zip=$(GPX_ZIP_OUT="$tmp" tools/dist-zip.sh 2>&1); then
  echo "ok   dist-zip: $(basename "$zip") ($(du -h "$zip" | cut -f1))"; P=$((P + 1))
  out=$(python3 tests/dist/check_archive.py "$zip"); echo "$out"; tally "$out"
  out=$(python3 tests/dist/selftest.py "$zip"); echo "$out" | grep -v '^ok '; tally "$out"
else
  echo "FAIL dist-zip: $zip"; F=$((F + 1))
fi
out=$(tests/dist/portable.sh 2>&1); echo "$out"; tally "$out"
echo "dist: $P passed, $F failed"
[ "$F" -eq 0 ]
