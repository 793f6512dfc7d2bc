#!/usr/bin/env bash
# dist-zip.sh — package dist/ as <id>-<version>.zip with a single root folder
# named after the plugin id (the layout Grafana's plugin installer and the
# plugin validator expect; ecosystem.md §1.1). Unix modes are kept, so the
# backend binary is 0755 inside the archive. Prints the archive path.
# Env: GPX_DIST (default dist), GPX_ZIP_OUT (default: repo root).
set -euo pipefail
cd "$(dirname "$0")/.."
DIST=${GPX_DIST:-dist}
read -r ID VERSION EXE < <(python3 -c 'import json;d=json.load(open("'"$DIST"'/plugin.json"));print(d["id"],d["info"]["version"],d["executable"])')
OUT=${GPX_ZIP_OUT:-$PWD}/$ID-$VERSION.zip
[ -x "$DIST/${EXE}_linux_amd64" ] || { echo "dist-zip: $DIST/${EXE}_linux_amd64 missing (run make build)" >&2; exit 1; }
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
cp -a "$DIST" "$stage/$ID"
# Debug leftovers never ship (the validator's backenddebug rule).
rm -f "$stage/$ID/standalone.txt" "$stage/$ID/pid.txt"
chmod 0755 "$stage/$ID/${EXE}"_linux_*
rm -f "$OUT"
(cd "$stage" && zip -q -r -X "$OUT" "$ID")
echo "$OUT"
