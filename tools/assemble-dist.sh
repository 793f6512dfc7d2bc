#!/usr/bin/env bash
# assemble-dist.sh — lay out dist/ as the folder Grafana loads (the binary is
# already written there by CMake).
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p dist
cp plugin.json dist/plugin.json
for f in README.md CHANGELOG.md LICENSE; do [ -f "$f" ] && cp "$f" dist/; done
[ -d img ] && mkdir -p dist/img && cp -r img/. dist/img/
if [ -d dashboards ] && ls dashboards/*.json >/dev/null 2>&1; then
  mkdir -p dist/dashboards && cp dashboards/*.json dist/dashboards/
fi
chmod 0755 dist/gpx_algotrading_pnl_linux_amd64 2>/dev/null || true
