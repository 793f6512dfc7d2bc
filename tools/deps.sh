#!/usr/bin/env bash
# deps.sh — install everything the project needs on a fresh Debian machine.
# Idempotent: only missing Debian packages are installed; npm/go caches are reused.
set -euo pipefail
cd "$(dirname "$0")/.."

mapfile -t pkgs < <(grep -v '^\s*#' tools/apt-packages.txt | sed '/^\s*$/d')
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "deps: installing Debian packages: ${missing[*]}"
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
else
  echo "deps: Debian packages present"
fi

if command -v go >/dev/null; then
  (cd tests && go mod download) && echo "deps: Go test modules downloaded"
else
  echo "deps: go not found (needed for the Grafana-host harness)" >&2; exit 1
fi

for d in frontend tests/monitoring; do
  if [ -f "$d/package-lock.json" ]; then
    if [ ! -d "$d/node_modules" ] || [ "$d/package-lock.json" -nt "$d/node_modules/.package-lock.json" ]; then
      (cd "$d" && npm ci --no-audit --no-fund --loglevel=error) && echo "deps: npm ci in $d"
    fi
  fi
done
