#!/usr/bin/env bash
# chromium.sh — renders the editors (real React + @grafana/ui, harness/) in
# headless Debian Chromium, saves screenshots under tests/artifacts/ and
# checks the dumped DOM for the key controls. Prints `chromium: N passed, N failed`.
set -uo pipefail
cd "$(dirname "$0")/.."
ART=${GPX_ARTIFACTS:-$(cd .. && pwd)/tests/artifacts}
mkdir -p "$ART"
CHROME=${CHROMIUM:-$(command -v chromium || command -v chromium-browser || true)}
if [ -z "$CHROME" ]; then echo "chromium: not installed (tools/apt-packages.txt lists it)"; echo "chromium: 0 passed, 1 failed"; exit 1; fi
npx --no-install webpack --config harness/webpack.harness.js >"$ART/harness-build.log" 2>&1 \
  || { cat "$ART/harness-build.log"; echo "chromium: 0 passed, 1 failed"; exit 1; }

run_chrome() { # run_chrome <size> <extra args...>: a fresh profile each time, no network use
  local ud; ud=$(mktemp -d)
  timeout 90 "$CHROME" --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
    --disable-background-networking --disable-component-update --disable-sync --hide-scrollbars \
    --user-data-dir="$ud" --window-size="$1" --virtual-time-budget=5000 "${@:2}" 2>>"$ART/chromium-stderr.log"
  local rc=$?; rm -rf "$ud"; return $rc
}

p=0; f=0
# view:width,height[:file name] (default <view>-editor)
for spec in config:1100,2200 presets:1100,1750:config-editor-presets query:1100,480 period:1100,400 rolling:1100,400 \
    variable:800,240; do
  view=${spec%%:*}; rest=${spec#*:}; size=${rest%%:*}; name=$view-editor
  [ "$rest" != "$size" ] && name=${rest#*:}
  url="file://$PWD/harness/index.html?view=$view"
  rm -f "$ART/$name.png"
  run_chrome "$size" --screenshot="$ART/$name.png" "$url" >/dev/null
  run_chrome "$size" --dump-dom "$url" >"$ART/$name.html"
  out=$(node tests/chromium-check.cjs "$view" "$ART/$name.html" "$ART/$name.png")
  echo "$out" | grep -v ' passed, '
  line=$(echo "$out" | tail -1)
  p=$((p + $(sed -E 's/.*: ([0-9]+) passed.*/\1/' <<<"$line")))
  f=$((f + $(sed -E 's/.*passed, ([0-9]+) failed.*/\1/' <<<"$line")))
done
echo "screenshots: $ART/{config,query,period,rolling,variable}-editor.png, $ART/config-editor-presets.png"
echo "chromium: $p passed, $f failed"
[ "$f" -eq 0 ]
