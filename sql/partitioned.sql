-- partitioned.sql — the `trades` table of schema.sql, partitioned by month on
-- closed_at (declarative range partitioning, Postgres ≥ 12), for histories of
-- tens of millions of trades and more (docs/scale.md). Copy it, or run it:
--
--   psql -v start="'2024-01-01'" -v months=36 -f sql/partitioned.sql
--
-- Variables (optional): start, the first month ['2025-01-01']; months, how
-- many monthly partitions from there [24]. Idempotent: run it again with a
-- later start to add months (schedule it, e.g. with pg_cron, a few months
-- ahead of time). Or let pg_partman keep the months (Debian 12:
-- postgresql-15-partman, pg_partman 4.7): run only this file's CREATE TABLE
-- trades and CREATE INDEX statements, then
--   CREATE SCHEMA partman; CREATE EXTENSION pg_partman SCHEMA partman;
--   SELECT partman.create_parent('public.trades', 'closed_at', 'native', 'monthly');
-- and call partman.run_maintenance_proc() daily: it makes the months ahead
-- (trades_pYYYY_MM, each with the parent's indexes) and a default partition.
-- sql/demo_data.sql fills it like the plain table (its rows go to their
-- month's partition).
--
-- What the plugin needs from it: nothing more than from the plain table.
-- Every query filters `closed_at > from AND closed_at <= to`, so Postgres
-- reads only the partitions that overlap the range (tests/partition checks
-- the plans); the equity base (Σ P&L before the range) reads the
-- partitions up to `from`. The data source's table setting stays `trades`.
--
-- Differences from the plain table, all forced by partitioning:
--   * the primary key must contain the partition key: (trade_id,
--     closed_at). trade_id stays unique in practice (the bot assigns it),
--     but Postgres only enforces it per closed_at;
--   * a DEFAULT partition catches a row whose month has no partition yet,
--     so the bot's INSERT never fails. Keep it empty by creating months
--     ahead: creating a month's partition scans the default one, and fails
--     while the default holds rows of that month (move them first). A range
--     reaching past the monthly partitions also reads the default one, and
--     the ordered reads then merge the partitions (Merge Append) instead of
--     reading them one after another;
--   * the indexes are declared once, on the parent: every partition, now and
--     later, gets its own copy (with its own name). On a live table, build a
--     new index per partition with CREATE INDEX CONCURRENTLY, then
--     `CREATE INDEX … ON ONLY trades …` and `ALTER INDEX … ATTACH PARTITION`.
--   * JIT: a plan over many partitions has one set of expressions per
--     partition, and on tens of millions of rows Postgres JIT-compiles them
--     all, with inlining and optimization: full-range equity and daily P&L
--     on 10 M trades took 1.7× as long as on the plain table, and the same
--     with JIT off (bench/README.md). For this table, turn JIT off for the
--     plugin's role:  ALTER ROLE grafana SET jit = off;
-- A bot that keeps open trades in the table (closed_at NULL) needs closed_at
-- nullable: those rows live in the default partition and move to their
-- month when the UPDATE sets closed_at.

\set ON_ERROR_STOP on
\if :{?start}
\else
  \set start '''2025-01-01'''
\endif
\if :{?months}
\else
  \set months 24
\endif

CREATE TABLE IF NOT EXISTS trades (
  trade_id             bigint NOT NULL,
  account              text,
  exchange             text,
  strategy             text NOT NULL,
  symbol               text NOT NULL,
  side                 text CHECK (side IN ('long', 'short')),
  qty                  numeric,          -- absolute quantity
  entry_price          numeric,          -- average fill prices
  exit_price           numeric,
  expected_entry_price numeric,          -- decision/limit/arrival price; NULL = unknown
  expected_exit_price  numeric,
  opened_at            timestamptz,
  closed_at            timestamptz NOT NULL,  -- P&L realisation time; the partition key
  fees                 numeric,          -- quote currency
  realized_pnl         numeric NOT NULL, -- quote currency, net of fees
  entry_tag            text,
  exit_reason          text,
  PRIMARY KEY (trade_id, closed_at)
) PARTITION BY RANGE (closed_at);

-- The recommended indexes of schema.sql, declared on the parent so that
-- each partition has them: range filtering, the three filter columns, and
-- the covering index that lets the drawdown and stats reads run as
-- index-only scans in (closed_at, trade_id) order — per partition, and the
-- partitions are read in month order (an ordered Append, no merge or sort).
CREATE INDEX IF NOT EXISTS trades_closed_at_idx          ON trades (closed_at);
CREATE INDEX IF NOT EXISTS trades_strategy_closed_at_idx ON trades (strategy, closed_at);
CREATE INDEX IF NOT EXISTS trades_symbol_closed_at_idx   ON trades (symbol, closed_at);
CREATE INDEX IF NOT EXISTS trades_account_closed_at_idx  ON trades (account, closed_at);
CREATE INDEX IF NOT EXISTS trades_closed_at_id_pnl_idx ON trades (closed_at, trade_id)
  INCLUDE (realized_pnl, opened_at, side);

-- One partition per calendar month in UTC, named trades_YYYY_MM:
-- [first instant of the month, first instant of the next).
SELECT format('CREATE TABLE IF NOT EXISTS %I PARTITION OF trades FOR VALUES FROM (%L) TO (%L)',
              'trades_' || to_char(m, 'YYYY_MM'), m::timestamp AT TIME ZONE 'UTC',
              (m + interval '1 month')::timestamp AT TIME ZONE 'UTC')
FROM generate_series(date_trunc('month', (:start)::date), date_trunc('month', (:start)::date)
                     + (:months - 1) * interval '1 month', interval '1 month') AS m
\gexec

CREATE TABLE IF NOT EXISTS trades_default PARTITION OF trades DEFAULT;
