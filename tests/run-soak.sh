#!/usr/bin/env bash
# run-soak.sh — the `soak` stage of `make test`: tests/cmd/soak shortened to
# fit the test run (SOAK_TEST_MINUTES, default 2, on SOAK_TEST_TRADES,
# default 100,000 trades; about 3 minutes in all). `make soak` is the full
# run (tools/soak.sh: 30 minutes on 1M trades). The program prints one
# PASS/FAIL line per criterion and ends with "soak: N passed, N failed".
set -uo pipefail
cd "$(dirname "$0")"
go run ./cmd/soak -minutes "${SOAK_TEST_MINUTES:-2}" -trades "${SOAK_TEST_TRADES:-100000}"
