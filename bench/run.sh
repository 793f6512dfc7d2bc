#!/usr/bin/env bash
# bench/run.sh — `make bench`: run benchmark sections, each on its own.
#
#   bench/run.sh               every section
#   bench/run.sh arrow pg      only the named sections
#   BENCH_PART=1 bench/run.sh  every section and `part` (10 M trades, plain vs
#                              partitioned; BENCH_TRADES to change N)
#   BENCH_CACHE_10M=1 bench/run.sh  every section and `cache10m` (the cache
#                              section on 10 M trades)
#
# Programs come from $GPX_BUILD_DIR (default build/, filled by `make build`).
# To add a section: write a function `section_<name>` below and append
# <name> to SECTIONS. A section prints its own table and returns non-zero on
# failure; the script runs every requested section and fails if any did.
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
export GPX_BUILD_DIR=$(realpath -m "${GPX_BUILD_DIR:-$ROOT/build}")
mkdir -p bench/out

need() { # need <program>: build it if the build dir lacks it
  [ -x "$GPX_BUILD_DIR/$1" ] && return 0
  cmake -S . -B "$GPX_BUILD_DIR" >/dev/null && cmake --build "$GPX_BUILD_DIR" -j "$(nproc)" --target "$1" >/dev/null
}

# --- arrow: frame encoder vs memcpy (bench/arrow_bench.c) ---------------------
section_arrow() {
  need arrow_bench || return 1
  echo "Arrow IPC encode of (time, float64) frames; GB/s of column bytes (16 B/row), best of ${ARROW_BENCH_RUNS:-7}."
  echo "warm = output buffer reused; cold = fresh allocation (page faults included)."
  "$GPX_BUILD_DIR/arrow_bench" "${ARROW_BENCH_RUNS:-7}" | tee bench/out/arrow.txt
  grep -q 'ratio >= 0.50 at every size: yes' bench/out/arrow.txt
}

# --- pg: every query type through the plugin vs the SQL a Grafana user writes --
section_pg() {
  echo "QueryData through the Grafana-host harness vs psql running the equivalent SQL (median of ${BENCH_RUNS:-5})."
  [ -n "${BENCH_COMPARE_BIN:-}" ] && echo "compared in the same run with the build at $BENCH_COMPARE_BIN (BENCH_COMPARE_BIN)"
  echo "trades: ${BENCH_TRADES:-1000000} (set BENCH_TRADES=10000000 for the 10M run)"
  (cd tests && go run ./cmd/pgbench) | tee bench/out/pg.md
}

# --- part: plain vs monthly-partitioned table, 10 M trades (opt-in) -----------
# Not in the default run: generating and copying 10 M trades takes ~10 min.
section_part() {
  echo "The same ${BENCH_TRADES:-10000000} trades in the plain table (sql/schema.sql) and the monthly-partitioned one"
  echo "(sql/partitioned.sql), through the plugin; median of ${BENCH_RUNS:-3}, interleaved run by run."
  (cd tests && go run ./cmd/partbench) | tee bench/out/part.md
}

# --- bouncer: pgbouncer's cost per query, direct vs transaction vs session mode --
section_bouncer() {
  echo "QueryData straight to Postgres and through pgbouncer (transaction, session mode), interleaved, median of ${BENCH_RUNS:-9}."
  (cd tests && go run ./cmd/bouncerbench) | tee bench/out/bouncer.md
  [ "${PIPESTATUS[0]}" -eq 0 ]
}

# --- par: the trading dashboard's queries as one request, sequential vs parallel --
section_par() {
  echo "dashboards/trading.json's panel queries in ONE QueryData: concurrentQueries=1 vs 4, interleaved, median of ${BENCH_RUNS:-5}."
  echo "trades: ${BENCH_TRADES:-1000000}"
  (cd tests && go run ./cmd/parbench) | tee bench/out/par.md
  [ "${PIPESTATUS[0]}" -eq 0 ]
}

# --- flight: the dashboard's 8 stat panels at once, single flight off vs on -----
section_flight() {
  echo "The trading dashboard's 8 stat panels refreshed at once (8 QueryData calls), single flight off vs on, same run."
  (cd tests && go run ./cmd/flightbench) | tee bench/out/flight.md
  [ "${PIPESTATUS[0]}" -eq 0 ]
}

# --- prepared: trades with named prepared statements on vs off (issue 14 item 4) --
section_prepared() {
  echo "trades through the plugin, named prepared statements on vs off (GPX_PG_PREPARED=0), interleaved, vs psql."
  (cd tests && go run ./cmd/prepbench) | tee bench/out/prepared.md
  [ "${PIPESTATUS[0]}" -eq 0 ]
}

# --- cache: the fold cache, cold vs after 0.1 % / 1 % new trades vs raw COPY ---
section_cache() {
  echo "Each cached kind, and the trading dashboard's full refresh (one call per panel, at once): cold vs warm after"
  echo "0.1 % / 1 % new trades vs the raw binary COPY; ${BENCH_TRADES:-1000000} trades over one year, median of ${BENCH_RUNS:-5}."
  (cd tests && go run ./cmd/cachebench) | tee bench/out/cache.md
  [ "${PIPESTATUS[0]}" -eq 0 ]
}

# --- cachelog: the cache section with sql/cache_changes.sql installed ----------
section_cachelog() {
  echo "The cache section with the change log (sql/cache_changes.sql) installed: the cache is checked by reading"
  echo "per-hour versions instead of a fingerprint scan. ${BENCH_TRADES:-1000000} trades, median of ${BENCH_RUNS:-5}."
  (cd tests && BENCH_CACHE_LOG=1 go run ./cmd/cachebench) | tee bench/out/cachelog.md
  [ "${PIPESTATUS[0]}" -eq 0 ]
}

# --- cache10m: the cache section on 10 M trades (opt-in) -----------------------
# Not in the default run: generating 10 M trades takes ~3 min and the cold
# cases ~10× those of 1 M (see bench/README.md for the time a run takes).
section_cache10m() {
  echo "The cache section on 10000000 trades, median of ${BENCH_RUNS:-3}; cacheMegabytes ${BENCH_CACHE_MB:-512} (a year of"
  echo "10 M trades is ~290 MB of cached rows: more than the default 64) and BENCH_CACHE_LOG=${BENCH_CACHE_LOG:-0}."
  (cd tests && BENCH_TRADES=10000000 BENCH_RUNS=${BENCH_RUNS:-3} BENCH_CACHE_MB=${BENCH_CACHE_MB:-512} go run ./cmd/cachebench) |
    tee bench/out/cache10m.md
  [ "${PIPESTATUS[0]}" -eq 0 ]
}

SECTIONS=(arrow pg bouncer par flight prepared cache cachelog)
[ "${BENCH_PART:-}" = 1 ] && SECTIONS+=(part)
[ "${BENCH_CACHE_10M:-}" = 1 ] && SECTIONS+=(cache10m)
[ $# -gt 0 ] && SECTIONS=("$@")
failed=()
for s in "${SECTIONS[@]}"; do
  if ! declare -F "section_$s" >/dev/null; then echo "bench: unknown section $s"; failed+=("$s"); continue; fi
  echo "=== bench: $s"
  "section_$s" || failed+=("$s")
done
if [ ${#failed[@]} -ne 0 ]; then echo "bench: failed sections: ${failed[*]}"; exit 1; fi
echo "bench: all sections done"
