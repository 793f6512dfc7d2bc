#!/usr/bin/env bash
# soak.sh — `make soak`: the plugin under 50 clients' mixed, partly cancelled
# load for SOAK_MINUTES (default 30) on SOAK_TRADES (default 1,000,000)
# trades, watched for leaks and slow calls (tests/cmd/soak says what and how;
# every knob is also a flag: tools/soak.sh -h). The output is kept in
# tests/artifacts/soak.log; the exit status is non-zero when a criterion failed.
set -uo pipefail
cd "$(dirname "$0")/../tests"
mkdir -p artifacts
go run ./cmd/soak "$@" 2>&1 | tee artifacts/soak.log
exit "${PIPESTATUS[0]}"
