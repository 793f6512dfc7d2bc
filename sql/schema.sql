-- schema.sql — the default `trades` table of docs/trading-metrics.md §1.
--
-- One row per closed round trip. Every name is configurable in the data
-- source's column mapping; this file is the default layout that the demo
-- data, the bundled dashboards and the integration tests use.
-- Idempotent: safe to run on a database that already has the table.

CREATE TABLE IF NOT EXISTS trades (
  trade_id             bigint PRIMARY KEY,
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
  closed_at            timestamptz NOT NULL,  -- P&L realisation time; all filtering uses it
  fees                 numeric,          -- quote currency
  realized_pnl         numeric NOT NULL, -- quote currency, net of fees
  entry_tag            text,             -- optional: the signal that opened it (freqtrade's enter_tag)
  exit_reason          text              -- optional: why it closed (roi, stop_loss, exit_signal, …)
);
-- A table made by an older version of this file gains the two optional columns.
ALTER TABLE trades ADD COLUMN IF NOT EXISTS entry_tag text, ADD COLUMN IF NOT EXISTS exit_reason text;

-- The four recommended indexes: every query filters on a closed_at range,
-- optionally narrowed by one of the three filter columns.
CREATE INDEX IF NOT EXISTS trades_closed_at_idx          ON trades (closed_at);
CREATE INDEX IF NOT EXISTS trades_strategy_closed_at_idx ON trades (strategy, closed_at);
CREATE INDEX IF NOT EXISTS trades_symbol_closed_at_idx   ON trades (symbol, closed_at);
CREATE INDEX IF NOT EXISTS trades_account_closed_at_idx  ON trades (account, closed_at);

-- Covering index for the hot path. The drawdown stream reads only
-- (closed_at, realized_pnl) over a time range, ordered by (closed_at,
-- trade_id) so ties are deterministic; with the key in exactly that order and
-- realized_pnl in the leaf, Postgres answers it with an index-only scan (once
-- VACUUM has set the visibility map) and no sort: measured on 1M trades, 144
-- ms instead of 277 ms (index scan + incremental sort). The E(from) aggregate
-- uses it too. The stats read also takes opened_at and side (holding times,
-- exposure, long/short): with them in the leaf it stays index-only (1M
-- trades: 0.27 s of backend CPU instead of 0.36 s; the index grows from 44 to
-- 61 MB). The plain (closed_at) index stays because it is the documented
-- recommendation and serves the trades table query, which needs whole rows.
CREATE INDEX IF NOT EXISTS trades_closed_at_id_pnl_idx ON trades (closed_at, trade_id)
  INCLUDE (realized_pnl, opened_at, side);
