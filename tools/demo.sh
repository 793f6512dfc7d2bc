#!/usr/bin/env bash
# demo.sh — `make demo`: Postgres with demo trades + the plugin through the
# protocol, printing the main numbers. DEMO_TRADES / DEMO_DAYS / DEMO_KEEP=1.
set -euo pipefail
cd "$(dirname "$0")/../tests"
exec go run ./cmd/demo
