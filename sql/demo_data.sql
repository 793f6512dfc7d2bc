-- demo_data.sql — deterministic demo trades for the default `trades` table.
--
--   psql -v n=100000 -v start="'2025-01-01'" -v days=365 -v seed=42 -f sql/schema.sql -f sql/demo_data.sql
--
-- Variables (all optional): n trades [100000], start date in UTC ['2025-01-01'],
-- days covered [365], seed [42]. The table is TRUNCATEd first, so the result
-- depends on (n, start, days, seed) alone.
--
-- Determinism: every random number is a pure function of (seed, trade index,
-- stream) through hashint8extended — Postgres's stable 64-bit hash (the one
-- hash partitioning relies on, so it cannot change between versions) — never
-- random()/setseed(), so neither row order, parallel workers nor the session
-- time zone can change a value. Times are computed as UTC epoch seconds.
--
-- What the data looks like:
--   * 5 strategies on 4 accounts, 6 symbols on 3 venues (crypto 24/7, stocks
--     and FX Monday–Friday only, so `tradingDays` matters), long and short;
--   * per strategy a market regime redrawn every 5 days (good / bad / flat):
--     winning and losing streaks show on the equity curve;
--   * fills with slippage around expected prices (mostly adverse), expected
--     prices NULL for ~15 % of entries and ~25 % of exits;
--   * freqtrade-style dimensions: an entry tag per strategy signal (two per
--     strategy, NULL for ~5 % of trades) and an exit reason that follows
--     the trade's outcome: roi (take-profit) for large moves in the trade's
--     favour, stop_loss for large moves against it, trailing_stop_loss for
--     some moderate winners, exit_signal otherwise;
--   * fees per venue, realized_pnl = side·qty·(exit − entry) − fees, exact in
--     numeric; position size scales with 1/√(n/1e5) so the equity curve stays
--     in a sensible range for the default initialCapital 100000 at any n.

\set ON_ERROR_STOP on
\if :{?n}
\else
  \set n 100000
\endif
\if :{?start}
\else
  \set start '''2025-01-01'''
\endif
\if :{?days}
\else
  \set days 365
\endif
\if :{?seed}
\else
  \set seed 42
\endif

-- u(i, k): uniform in (0, 1) from the top 53 bits of a 64-bit hash of trade i
-- in stream k. Inlined by the planner (simple SQL function).
CREATE OR REPLACE FUNCTION pg_temp.demo_u(i bigint, k bigint) RETURNS float8
  LANGUAGE sql IMMUTABLE PARALLEL SAFE
  AS $$ SELECT ((hashint8extended(i, k) & 9007199254740991)::float8 + 0.5) / 9007199254740992.0 $$;

BEGIN;
TRUNCATE trades;

INSERT INTO trades (trade_id, account, exchange, strategy, symbol, side, qty,
                    entry_price, exit_price, expected_entry_price, expected_exit_price,
                    opened_at, closed_at, fees, realized_pnl, entry_tag, exit_reason)
SELECT i, account, exchange, strategy, symbol, CASE WHEN dir = 1 THEN 'long' ELSE 'short' END,
       qty, entry, exit, CASE WHEN null_ee THEN NULL ELSE exp_entry END,
       CASE WHEN null_ex THEN NULL ELSE exp_exit END,
       to_timestamp(t_close - hold_s), to_timestamp(t_close), fees,
       round(dir * qty * (exit - entry) - fees, 8), entry_tag, exit_reason
FROM (
  SELECT i, dir, strategy, account, symbol, exchange, qty, exp_entry, entry, exp_exit, exit,
         t_close, hold_s, null_ee, null_ex, entry_tag, exit_reason,
         round(qty * (entry + exit) * fee_rate, 8) AS fees
  FROM (
    SELECT i, dir, strategy, account, symbol, exchange, fee_rate, t_close, hold_s, null_ee, null_ex,
           entry_tag, exit_reason, qty, exp_entry, entry, exp_exit,
           -- exit fill: a long sells (adverse = lower), a short buys (adverse = higher)
           round((exp_exit * (1 - dir * slip_x / 1e4))::numeric, dec) AS exit
    FROM (
      SELECT i, dir, strategy, account, symbol, exchange, fee_rate, t_close, hold_s, null_ee, null_ex,
             entry_tag, exit_reason, dec, slip_x, qty, exp_entry, entry,
             -- the decision price for the exit: entry fill moved by the trade's return
             round((entry * (1 + dir * ret))::numeric, dec) AS exp_exit
      FROM (
        SELECT i, dir, strategy, account, symbol, exchange, fee_rate, t_close, hold_s, null_ee, null_ex,
               entry_tag, dec, slip_x, vol * z AS ret,
               -- why the bot closed: the trade's move z in units of sigma decides
               CASE WHEN z >= 1.0 THEN 'roi' WHEN z <= -1.0 THEN 'stop_loss'
                    WHEN z >= 0.3 AND u14 < 0.5 THEN 'trailing_stop_loss' ELSE 'exit_signal' END AS exit_reason,
               CASE WHEN sym <= 3 THEN round((notional / px)::numeric, 4)
                    WHEN sym <= 5 THEN greatest(1, round((notional / px)::numeric))
                    ELSE greatest(100, round((notional / px)::numeric, -2)) END AS qty,
               round(px::numeric, dec) AS exp_entry,
               -- entry fill: a long buys (adverse = higher), a short sells (adverse = lower)
               round((px * (1 + dir * slip_e / 1e4))::numeric, dec) AS entry
        FROM (
          SELECT i, t_close, sym, dir,
                 (ARRAY['momentum','mean_reversion','breakout','stat_arb','market_making'])[st] AS strategy,
                 CASE WHEN st = 1 AND sym BETWEEN 4 AND 5 THEN 'gamma-4'
                      ELSE (ARRAY['alpha-1','alpha-1','beta-2','beta-2','mm-3'])[st] END AS account,
                 (ARRAY['BTCUSDT','ETHUSDT','SOLUSDT','AAPL','MSFT','EURUSD'])[sym] AS symbol,
                 (ARRAY['binance','binance','binance','nasdaq','nasdaq','oanda'])[sym] AS exchange,
                 -- taker fee per leg by venue; the market maker pays a quarter (rebates)
                 (ARRAY[0.0002, 0.0002, 0.0002, 0.00005, 0.00005, 0.00003])[sym]
                   * CASE WHEN st = 5 THEN 0.25 ELSE 1 END AS fee_rate,
                 (ARRAY[2, 2, 3, 2, 2, 5])[sym] AS dec,
                 -- slowly wandering price: base · exp(a·sin(2πt/90d + phase))
                 (ARRAY[60000, 3000, 150, 190, 410, 1.08])[sym]
                   * exp((ARRAY[0.25, 0.3, 0.35, 0.15, 0.15, 0.05])[sym]
                         * sin(2 * pi() * t_close / (90 * 86400.0) + sym)) AS px,
                 -- per-trade return ret = vol · z: regime edge plus noise z, in
                 -- units of sigma = the symbol's volatility scaled by the
                 -- strategy's holding time
                 (ARRAY[0.012, 0.015, 0.02, 0.006, 0.006, 0.0015])[sym]
                   * (ARRAY[1.0, 0.6, 0.8, 0.4, 0.15])[st] AS vol,
                 (ARRAY[1.2, 1.0, 0.8, 1.1, 0.6])[st]
                   * CASE WHEN reg < 0.5 THEN 0.26 WHEN reg < 0.8 THEN -0.22 ELSE 0.02 END
                   + sqrt(-2 * ln(u5)) * cos(2 * pi() * u6) AS z,
                 -- the signal that opened it: one of the strategy's two tags, or none
                 CASE WHEN u13 < 0.05 THEN NULL
                      ELSE (ARRAY['ema_cross', 'macd_up', 'rsi_oversold', 'bb_lower', 'range_break',
                                  'volume_spike', 'spread_z2', 'spread_z3', 'quote_bid', 'quote_ask'])
                           [2 * st - 1 + floor((u13 - 0.05) / 0.95 * 2)::int] END AS entry_tag, u14,
                 0.8 + 2.0 * sqrt(-2 * ln(u11)) * cos(2 * pi() * u12) AS slip_e,
                 0.8 + 2.0 * sqrt(-2 * ln(u12)) * sin(2 * pi() * u11) AS slip_x,
                 -- holding time: exponential with a per-strategy mean, capped at 10 days
                 least(864000.0, -ln(u7) * (ARRAY[21600, 7200, 14400, 3600, 180])[st]) AS hold_s,
                 2000.0 * sqrt(100000.0 / :n) * (0.5 + u8) AS notional,
                 u9 < 0.15 AS null_ee, u10 < 0.25 AS null_ex
          FROM (
            SELECT i, t_close, u5, u6, u7, u8, u9, u10, u11, u12, u13, u14, st,
                   -- stocks and FX do not trade on Saturday/Sunday (UTC)
                   CASE WHEN weekend THEN 1 + floor(u3 * 3)::int ELSE 1 + floor(u3 * 6)::int END AS sym,
                   CASE WHEN u4 < 0.55 THEN 1 ELSE -1 END AS dir,
                   -- regime of (strategy, 5-day block): one hash per pair
                   pg_temp.demo_u(st * 1000003 + floor(t_close / 432000.0)::bigint, :seed * 1000 + 99) AS reg
            FROM (
              SELECT i, t_close,
                     ((floor(t_close / 86400.0)::bigint + 3) % 7) >= 5 AS weekend,
                     1 + floor(pg_temp.demo_u(i, :seed * 1000 + 2) * 5)::int AS st,
                     pg_temp.demo_u(i, :seed * 1000 + 3) AS u3, pg_temp.demo_u(i, :seed * 1000 + 4) AS u4,
                     pg_temp.demo_u(i, :seed * 1000 + 5) AS u5, pg_temp.demo_u(i, :seed * 1000 + 6) AS u6,
                     pg_temp.demo_u(i, :seed * 1000 + 7) AS u7, pg_temp.demo_u(i, :seed * 1000 + 8) AS u8,
                     pg_temp.demo_u(i, :seed * 1000 + 9) AS u9, pg_temp.demo_u(i, :seed * 1000 + 10) AS u10,
                     pg_temp.demo_u(i, :seed * 1000 + 11) AS u11, pg_temp.demo_u(i, :seed * 1000 + 12) AS u12,
                     pg_temp.demo_u(i, :seed * 1000 + 13) AS u13, pg_temp.demo_u(i, :seed * 1000 + 14) AS u14
              FROM (
                -- closed_at as UTC epoch seconds: trade i sits at a jittered
                -- position in slot i of n equal slots, so ids follow time
                SELECT i, extract(epoch FROM (:start::timestamp AT TIME ZONE 'UTC'))::float8
                          + (i - 1 + pg_temp.demo_u(i, :seed * 1000 + 1)) / :n * (:days * 86400.0) AS t_close
                FROM generate_series(1, :n::bigint) AS i
                OFFSET 0  -- each level is evaluated once per row (see note at the top)
              ) a
              OFFSET 0
            ) b
            OFFSET 0
          ) c
          OFFSET 0
        ) d
        OFFSET 0
      ) e
      OFFSET 0
    ) f
    OFFSET 0
  ) g
  OFFSET 0
) h;

COMMIT;
ANALYZE trades;
