#!/usr/bin/env bash
# run-tests.sh — the `frontend` test stage: type-check, jest component tests
# (jsdom), the SystemJS load test of the BUILT module.js, and the headless
# Chromium render of the editors. Ends with `frontend: N passed, N failed`.
set -uo pipefail
cd "$(dirname "$0")"
ART=$(cd .. && pwd)/tests/artifacts
mkdir -p "$ART"
P=0; F=0
add() { P=$((P + $1)); F=$((F + $2)); }
counts() { # counts <line "...N passed, N failed">
  local l=$1
  add "$(sed -E 's/.* ([0-9]+) passed.*/\1/' <<<"$l")" "$(sed -E 's/.*passed, ([0-9]+) failed.*/\1/' <<<"$l")"
}
[ -d node_modules ] || npm ci --no-audit --no-fund --loglevel=error

# 1. type-check (one check)
if npx --no-install tsc --noEmit >"$ART/frontend-tsc.log" 2>&1; then echo "ok   typecheck"; add 1 0
else cat "$ART/frontend-tsc.log"; echo "FAIL typecheck"; add 0 1; fi

# 2. jest (counts from its JSON report)
npx --no-install jest --ci --json --outputFile="$ART/frontend-jest.json" >"$ART/frontend-jest.log" 2>&1
jrc=$?
if [ -f "$ART/frontend-jest.json" ]; then
  read -r jp jf < <(node -e 'const r=require(process.argv[1]);console.log(r.numPassedTests, r.numFailedTests + r.numRuntimeErrorTestSuites)' "$ART/frontend-jest.json")
  echo "jest: $jp passed, $jf failed"; add "$jp" "$jf"
  [ "$jf" -ne 0 ] && grep -E '✕|●' "$ART/frontend-jest.log" | head -40
else
  cat "$ART/frontend-jest.log"; add 0 1
fi
[ $jrc -ne 0 ] && [ "${jf:-0}" -eq 0 ] && add 0 1

# 3. load the built module.js through SystemJS (dist/ of the repo, else our own build)
MOD=../dist/module.js
if [ ! -f "$MOD" ]; then npm run --silent build >/dev/null && MOD=dist/module.js; fi
out=$(node tests/load-module.cjs "$MOD"); echo "$out"; counts "$(tail -1 <<<"$out")"

# 4. headless Chromium render + screenshots
out=$(tests/chromium.sh 2>&1); echo "$out"; counts "$(tail -1 <<<"$out")"

echo "frontend: $P passed, $F failed"
[ "$F" -eq 0 ]
