/*
** trading.h — the pure analytics layer: equity curve, drawdown, down-sampling,
** the daily series, risk/return statistics and slippage.
**
** What it is: functions over arrays and small streaming accumulators. No I/O,
** no Postgres, no globals; every object is caller-owned, so the functions are
** thread-safe as long as one object is not shared between threads.
**
** What it is not: time-zone code or exact aggregation. Postgres does both (the
** architecture of issue 4): it delivers per-trade streams ordered by closed_at
** in chunks, the equity before the range, and daily P&L already keyed by the
** local day ordinal in the configured IANA zone. This layer turns those into
** the numbers of docs/trading-metrics.md (shared) and the `stats` frame of
** docs/query-model.md. Conventions where the spec is silent: docs/analytics.md.
**
** Null convention: every double output that is undefined is NaN ("null"); the
** frame layer converts NaN to null. No output is ever ±Inf.
*/
#ifndef GPX_TRADING_H
#define GPX_TRADING_H

#include <stddef.h>
#include <stdint.h>

#include "gpx/core.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------------- */
/* Settings that change the numbers (trading-metrics.md §2).                  */

typedef enum gpx_trading_days {
  GPX_DAYS_ALL = 0,      /**< every calendar day */
  GPX_DAYS_WEEKDAYS = 1  /**< Saturday/Sunday dropped unless they have trades */
} gpx_trading_days;

typedef struct gpx_analytics_opts {
  gpx_trading_days trading_days;
  double annualization;   /**< A, periods per year (> 0) */
  double risk_free_rate;  /**< annual rf (> -1); rf_d = (1+rf)^(1/A) - 1 */
} gpx_analytics_opts;

/** Defaults of the spec: all days, A = 252, rf = 0. */
void gpx_analytics_opts_default(gpx_analytics_opts *o);
/** EINVAL (message names the field) when A or rf is out of range. */
int gpx_analytics_opts_validate(const gpx_analytics_opts *o, gpx_error *err);

/**
 * Day of week of a day ordinal (days since 1970-01-01, a Thursday):
 * 0 = Monday … 6 = Sunday. Correct for negative ordinals.
 */
int gpx_day_weekday(int32_t day);

/* ------------------------------------------------------------------------- */
/* Trade-level aggregates: what SQL can give directly (count(*), sums with    */
/* FILTER) or what gpx_curve collects while streaming.                        */

typedef struct gpx_trade_agg {
  int64_t count;    /**< trades closed in the range (finite P&L) */
  int64_t wins;     /**< p > 0 */
  int64_t losses;   /**< p < 0 (zero-P&L trades are neither) */
  double sum_pnl;   /**< Σ p */
  double sum_win;   /**< Σ p over p > 0 */
  double sum_loss;  /**< Σ p over p < 0 (≤ 0) */
} gpx_trade_agg;

/* ------------------------------------------------------------------------- */
/* Per-trade curve: a streaming accumulator fed in chunks ordered by          */
/* closed_at. It keeps E, the running peak, the max drawdown and the trade    */
/* aggregates, and emits down-sampled points into an internal array.          */

/** One emitted point (one bucket, or one trade when not down-sampling). */
typedef struct gpx_curve_point {
  int64_t ts;              /**< closed_at (epoch ns) of the bucket's last trade */
  double equity;           /**< E after that trade */
  double pnl;              /**< C: cumulative P&L since the range start */
  double ret;              /**< R = E/E(from) - 1; NaN when E(from) <= 0 */
  int64_t dd_ts;           /**< closed_at of the bucket's deepest drawdown */
  double drawdown;         /**< min DD in the bucket (fraction ≤ 0); NaN if undefined */
  int64_t dd_amount_ts;    /**< closed_at of the bucket's deepest money drawdown */
  double drawdown_amount;  /**< min (E - peak) in the bucket (money ≤ 0) */
} gpx_curve_point;

typedef struct gpx_curve {
  /* configuration (set by gpx_curve_init) */
  double base;          /**< E(from) */
  int64_t from_ns;      /**< bucket origin */
  int64_t bucket_ns;    /**< bucket width; 0 = one point per trade */
  int64_t later_bucket_ns; /**< gpx_curve_init_auto: width once per_trade_max is passed */
  size_t per_trade_max;    /**< gpx_curve_init_auto: most per-trade points before down-sampling */
  /* running state */
  double csum, ccomp;   /* Neumaier sum of P&L: C = csum + ccomp */
  double peak;          /* max E over [from, t], starts at E(from) */
  double max_dd;        /* min DD so far; NaN while undefined */
  double max_dd_amount; /* min (E - peak) so far */
  int64_t last_ts;
  int have_last;
  int64_t skipped;      /**< trades ignored because their P&L was not finite */
  gpx_trade_agg agg;    /**< aggregates of the pushed trades */
  double wcomp, lcomp;  /* compensation terms of agg.sum_win / agg.sum_loss */
  /* the open bucket */
  int bucket_open;
  int64_t bucket_idx;
  gpx_curve_point cur;
  /* emitted points (owned; freed by gpx_curve_reset) */
  gpx_curve_point *pts;
  size_t npts, cap;
} gpx_curve;

/**
 * Bucket width in ns for down-sampling: max(interval_ms, (to-from)/max_points)
 * per trading-metrics.md §4, or 0 (no down-sampling, one point per trade) when
 * n_trades is known (>= 0) and does not exceed max_points, or when both
 * interval_ms and max_points are <= 0. n_trades < 0 means "unknown".
 */
int64_t gpx_bucket_width_ns(int64_t from_ns, int64_t to_ns, int64_t interval_ms,
                            int64_t max_points, int64_t n_trades);

/**
 * Start a curve at E(from) = base (initialCapital + Σ p of matching trades
 * with closed_at <= from). bucket_ns from gpx_bucket_width_ns (0 = per trade).
 * c must be zeroed ({0}) or a curve initialised before (its points are
 * freed, so re-init does not leak); does not allocate.
 * EINVAL when base is not finite or bucket_ns < 0.
 */
int gpx_curve_init(gpx_curve *c, double base, int64_t from_ns, int64_t bucket_ns,
                   gpx_error *err);

/**
 * Like gpx_curve_init, for a stream whose length is not known in advance:
 * one point per trade while the trades with a finite P&L number at most
 * max_points, and buckets of bucket_ns (> 0) once they are more — the
 * per-trade points so far are then folded into their buckets, exactly as
 * if the curve had been bucketed from the start (trading-metrics.md §4:
 * only series with more points than maxDataPoints are down-sampled).
 */
int gpx_curve_init_auto(gpx_curve *c, double base, int64_t from_ns, int64_t bucket_ns, size_t max_points,
                        gpx_error *err);

/**
 * Push n trades (ts = closed_at epoch ns, pnl = realized P&L), ordered by ts
 * across all pushes. Trades with non-finite P&L are skipped and counted in
 * c->skipped. EINVAL (state unchanged) when ts decreases, ENOMEM when the
 * point array cannot grow. n == 0 is a no-op. Chunking never changes results.
 */
int gpx_curve_push(gpx_curve *c, const int64_t *ts, const double *pnl, size_t n,
                   gpx_error *err);

/** Close the open bucket; call once after the last push. ENOMEM possible. */
int gpx_curve_finish(gpx_curve *c, gpx_error *err);

/** Free the points and zero the struct. Safe on a zeroed struct. */
void gpx_curve_reset(gpx_curve *c);

/** Current equity E = base + C. */
double gpx_curve_equity(const gpx_curve *c);

/* ------------------------------------------------------------------------- */
/* Daily series.                                                              */

typedef struct gpx_daily {
  size_t n;            /**< days in the series */
  int32_t *day;        /**< day ordinal (days since 1970-01-01 in the zone) */
  double *pnl;         /**< D_d (0 for days without trades) */
  int64_t *trades;     /**< trades closed that day */
  double *equity;      /**< E(end of day d) */
  double *ret;         /**< r_d = D_d / E(end of day d-1); NaN when that is <= 0 */
  double base;         /**< E(end of the day before the first) = E(from) */
  int32_t first_day;   /**< the requested range of day ordinals (inclusive), */
  int32_t last_day;    /**< even when weekdays mode dropped an edge weekend */
  int64_t skipped;     /**< input days whose P&L was not finite (used as 0) */
} gpx_daily;

/**
 * Build the full daily series from SQL's sparse per-day aggregates.
 * day[] strictly ascending within [first_day, last_day]; pnl[] the day's sum;
 * count[] its trades (may be NULL). Days absent from the input get D = 0; in
 * GPX_DAYS_WEEKDAYS mode absent Saturdays/Sundays are left out. The first
 * day's previous equity is `base` = E(from).
 * EINVAL on unordered/out-of-range days, first_day > last_day, a span over
 * 1,000,000 days or a non-finite base; ENOMEM. On failure *out is empty.
 * *out is overwritten without freeing (reset a used one first); the caller
 * frees with gpx_daily_reset.
 */
int gpx_daily_build(const int32_t *day, const double *pnl, const int64_t *count,
                    size_t n, int32_t first_day, int32_t last_day,
                    gpx_trading_days mode, double base, gpx_daily *out,
                    gpx_error *err);

/** Free and zero. Safe on a zeroed struct. */
void gpx_daily_reset(gpx_daily *d);

/** Daily loss of day d: max(0, -D_d); NaN if D_d is NaN. */
double gpx_daily_loss(double day_pnl);

/* ------------------------------------------------------------------------- */
/* Return statistics on a daily return array (NaN entries are skipped, as     */
/* empyrical's nan-aware functions do). All return NaN when undefined.        */

/** mean(r-rf_d)/std(r-rf_d, ddof=1)·√A; NaN for < 2 days or std = 0. */
double gpx_sharpe(const double *r, size_t n, const gpx_analytics_opts *o);
/** mean(r-rf_d)·A / (√mean(min(r-rf_d,0)²)·√A); NaN for < 2 days or no downside. */
double gpx_sortino(const double *r, size_t n, const gpx_analytics_opts *o);
/** std(r, ddof=1)·√A; NaN for < 2 days. */
double gpx_annual_volatility(const double *r, size_t n, const gpx_analytics_opts *o);
/** (E_end/E_start)^(A/N) - 1; NaN when N = 0, E_start <= 0 or E_end < 0. */
double gpx_cagr(double e_start, double e_end, size_t n_days, double annualization);

/* ------------------------------------------------------------------------- */
/* Slippage (bps, positive = adverse).                                        */

typedef enum gpx_side { GPX_SIDE_UNKNOWN = 0, GPX_SIDE_LONG = 1, GPX_SIDE_SHORT = 2 } gpx_side;

/** "long"/"short" (case-insensitive, surrounding blanks allowed); else UNKNOWN. */
gpx_side gpx_side_parse(const char *s);

/**
 * Notional-weighted slippage accumulator: Σ notional·bps and Σ notional over
 * legs, notional = |qty|·expected. Zeroed struct = empty.
 */
typedef struct gpx_slippage_acc {
  double sum_wbps, sum_w;     /* Neumaier sums */
  double comp_wbps, comp_w;
  int64_t legs;
} gpx_slippage_acc;

/** Slippage of one leg in bps; buying = 1 for a buy leg. NaN when expected
 *  or fill is not finite or expected <= 0. */
double gpx_leg_slippage_bps(int buying, double fill, double expected);

/**
 * Add a trade's legs (entry, exit). A leg is skipped when its expected price
 * is NaN (NULL), not positive, its fill is not finite, qty is not finite or
 * 0, or side is UNKNOWN. Returns the number of legs added (0..2).
 */
int gpx_slippage_add_trade(gpx_slippage_acc *a, gpx_side side, double qty,
                           double entry, double exit, double exp_entry,
                           double exp_exit);

/**
 * Add legs summarised by SQL for one side (the fast path over millions of
 * trades): fill_entry = Σ entry_price·|qty| and exp_entry = Σ
 * expected_entry_price·|qty| over trades with an expected entry price;
 * fill_exit / exp_exit the same for exits (NaN or 0 when none); legs = how
 * many legs the sums cover. Same result as adding each trade with
 * gpx_slippage_add_trade. Returns 1 when something was added.
 */
int gpx_slippage_add_sums(gpx_slippage_acc *a, gpx_side side, double fill_entry, double exp_entry,
                          double fill_exit, double exp_exit, int64_t legs);

/** Add accumulator `from` into `into` (e.g. sides of one bucket). */
void gpx_slippage_merge(gpx_slippage_acc *into, const gpx_slippage_acc *from);

/** Notional-weighted mean bps; NaN with no legs. */
double gpx_slippage_mean(const gpx_slippage_acc *a);

/** One trade's slippage (notional-weighted over its legs); NaN with no leg. */
double gpx_trade_slippage_bps(gpx_side side, double qty, double entry,
                              double exit, double exp_entry, double exp_exit);

/* ------------------------------------------------------------------------- */
/* Trade statistics the per-trade stream adds to the curve (tradestats.c).    */
/* Streaks, holding times and exposure need the trades in (closed_at,         */
/* trade_id) order; the rest is order-free but rides on the same pass.       */

/** One trade of the stream. */
typedef struct gpx_trade {
  int64_t closed_ns;   /**< closed_at, epoch ns; non-decreasing across pushes */
  int64_t opened_ns;   /**< opened_at, epoch ns; meaningful when has_opened */
  int has_opened;      /**< 0 when opened_at is NULL (or not representable) */
  double pnl;          /**< realized P&L; non-finite trades are left out (skipped) */
  gpx_side side;       /**< UNKNOWN when side is NULL or neither long nor short */
} gpx_trade;

/** A covered stretch [start, end] of the exposure union (ns). */
typedef struct gpx_span {
  int64_t start, end;
} gpx_span;

/** Most disjoint exposure spans kept open to merging (16 bytes each); see gpx_trade_acc. */
#define GPX_TRADE_SPANS_MAX 65536

/**
 * Streaming accumulator of the trade statistics (docs/analytics.md "Trade
 * statistics"). Zeroed + gpx_trade_acc_init; free with gpx_trade_acc_reset.
 * Memory: the exposure union keeps one gpx_span per disjoint covered stretch
 * (a later trade opened earlier may still merge them), at most
 * GPX_TRADE_SPANS_MAX: beyond, the older half is counted and let go, which is
 * exact unless a trade was open across more than half that many stretches.
 * Everything else is O(1).
 */
typedef struct gpx_trade_acc {
  int64_t from_ns;           /* exposure intervals start no earlier than this */
  int64_t last_closed;
  int have_last;
  int64_t count, wins, losses, skipped;
  double largest_win, largest_loss;   /* NaN until a win / a loss */
  double gross_win, gwcomp, gross_loss, glcomp;
  int64_t win_run, loss_run, max_win_run, max_loss_run;
  /* holding times in seconds, Neumaier sums: all / wins / losses */
  double hold[3], hold_comp[3];
  int64_t hold_n[3];
  /* P&L moments for SQN (Welford) and the spread of the values */
  double mean, m2, lo, hi;
  int64_t long_n, long_wins, short_n, short_wins;
  /* exposure: disjoint covered spans in ascending order, and their total */
  gpx_span *spans;
  size_t nspans, capspans;
  int64_t covered_ns;
  int64_t floor_ns;          /* spans before this were let go (memory bound) */
} gpx_trade_acc;

/** Start an accumulator for a range starting at from_ns. Frees nothing: use on a zeroed struct. */
void gpx_trade_acc_init(gpx_trade_acc *a, int64_t from_ns);
/**
 * Fold n trades (closed_ns non-decreasing across pushes). A trade whose P&L is
 * not finite is left out and counted in skipped. EINVAL (state unchanged) when
 * closed_at goes backwards; ENOMEM when the exposure spans cannot grow.
 */
int gpx_trade_acc_push(gpx_trade_acc *a, const gpx_trade *t, size_t n, gpx_error *err);
/** Free the spans and zero. Safe on a zeroed struct. */
void gpx_trade_acc_reset(gpx_trade_acc *a);
/** The current streak: +n after n wins in a row, -n after n losses, 0 otherwise. */
int64_t gpx_trade_acc_streak(const gpx_trade_acc *a);

/**
 * The per-trade columns that need no order: slippage legs, volume (Σ qty·(entry
 * + exit) over trades with all three), fees (Σ over non-NULL fees). Zeroed = empty.
 */
typedef struct gpx_legs_acc {
  gpx_slippage_acc slip;
  double volume, vcomp, fees, fcomp;
  int64_t trades;
} gpx_legs_acc;

/** Add one trade's legs; NaN marks a NULL value. */
void gpx_legs_add(gpx_legs_acc *a, gpx_side side, double qty, double entry, double exit, double exp_entry,
                  double exp_exit, double fees);

/* ------------------------------------------------------------------------- */
/* Daily sums from the ordered stream (daily.c): local day boundaries come    */
/* from Postgres as instants, so the time zone stays Postgres' business.      */

/**
 * Σ p and count per local day, folded from trades in closed_at order. Day i
 * (ordinal first_day + i) starts at start_ms[i]; a trade belongs to the last
 * day whose start is <= its closed_at. The boundaries are borrowed. Output:
 * day/pnl/count[0..nd), only days with trades, ascending — the input of
 * gpx_daily_build. Zeroed + gpx_day_fold_init; free with gpx_day_fold_reset.
 * With gpx_day_fold_keep_agg, also each day's gpx_trade_agg (wins, losses
 * and their sums, as gpx_curve counts them) in agg[0..nd).
 */
typedef struct gpx_day_fold {
  const int64_t *start_ms;
  size_t n;
  int32_t first_day;
  size_t cur;
  int open;
  double sum, comp;
  int64_t cnt;
  int64_t last_ns;
  int have_last;
  int32_t *day;
  double *pnl;
  int64_t *count;
  size_t nd, cap;
  /* per-day trade aggregates (gpx_day_fold_keep_agg) */
  int keep_agg;
  gpx_trade_agg cur_agg;
  double wcomp, lcomp;
  gpx_trade_agg *agg;
} gpx_day_fold;

void gpx_day_fold_init(gpx_day_fold *f, const int64_t *start_ms, size_t n, int32_t first_day);
/** Keep each day's trade aggregates too (after init, before the first push). */
void gpx_day_fold_keep_agg(gpx_day_fold *f);
/**
 * Fold n trades. Non-finite P&L is left out. EINVAL when a trade lies before
 * the first day's start or closed_at goes backwards; ENOMEM.
 */
int gpx_day_fold_push(gpx_day_fold *f, const int64_t *ts_ns, const double *pnl, size_t n, gpx_error *err);
/** Close the open day (call once after the last push). ENOMEM. */
int gpx_day_fold_finish(gpx_day_fold *f, gpx_error *err);
/** Free and zero. Safe on a zeroed struct. */
void gpx_day_fold_reset(gpx_day_fold *f);

/* ------------------------------------------------------------------------- */
/* Drawdown episodes (episodes.c): maximal stretches during which equity,    */
/* per trade, is below its running peak (peak includes E(from)).             */

typedef struct gpx_episode {
  int64_t start_ns;     /**< the trade that set the peak, or from when the peak is E(from) */
  int64_t valley_ns;    /**< the deepest trade (the first, on a tie) */
  int64_t end_ns;       /**< the first trade with E >= peak again; meaningful when recovered */
  int recovered;
  double peak, valley;  /**< equity at the peak and at the valley */
  double depth;         /**< (valley − peak)/peak, < 0; NaN when peak <= 0 */
  double depth_amount;  /**< valley − peak, < 0 */
  double duration_s;    /**< start → end, or → the range end while open */
  double recovery_s;    /**< valley → end; NaN while open */
} gpx_episode;

/**
 * Streaming accumulator keeping the k deepest episodes. Zeroed +
 * gpx_episodes_init; free with gpx_episodes_reset. Memory O(k).
 */
typedef struct gpx_episodes {
  size_t k;
  double base, csum, ccomp;  /* E = base + C, C a Neumaier sum as in gpx_curve */
  double peak;
  int64_t peak_ns, last_ns;
  int have_last;
  int open;
  gpx_episode cur;
  gpx_episode *top;          /* a heap of at most k: the shallowest kept at the root */
  size_t ntop, cap;
  int64_t skipped;
} gpx_episodes;

/** Start at E(from) = base (finite), the range starting at from_ns; keep k >= 1 episodes. EINVAL, ENOMEM. */
int gpx_episodes_init(gpx_episodes *e, double base, int64_t from_ns, size_t k, gpx_error *err);
/** Fold n trades in closed_at order; non-finite P&L is skipped. EINVAL (state unchanged) when ts goes backwards. */
int gpx_episodes_push(gpx_episodes *e, const int64_t *ts, const double *pnl, size_t n, gpx_error *err);
/**
 * Close the range at to_ns (call once, after the last push): an open episode
 * is kept unrecovered (its duration runs to to_ns), durations are filled and
 * top[0..ntop) is sorted deepest first. ENOMEM.
 */
int gpx_episodes_finish(gpx_episodes *e, int64_t to_ns, gpx_error *err);
void gpx_episodes_reset(gpx_episodes *e);
/**
 * Order of episodes, deepest first: defined depth before undefined, then by
 * depth, then depth_amount, then the earlier start. <0 when a goes first.
 */
int gpx_episode_cmp(const gpx_episode *a, const gpx_episode *b);

/* ------------------------------------------------------------------------- */
/* The `stats` frame (docs/query-model.md): one double per field, NaN = null. */

typedef struct gpx_stats {
  double total_pnl;
  double total_return;
  double equity;
  double trade_count;
  double win_rate;
  double profit_factor;
  double payoff_ratio;
  double expectancy;
  double max_drawdown;
  double max_drawdown_amount;
  double sharpe;
  double sortino;
  double calmar;
  double cagr;
  double annual_volatility;
  double avg_slippage_bps;
  double daily_loss;
  double worst_day;
  double best_day;
  /* from the trade stream (gpx_stats_compute_trades) */
  double largest_win;
  double largest_loss;
  double avg_win;
  double avg_loss;
  double gross_profit;
  double gross_loss;
  double max_win_streak;
  double max_loss_streak;
  double current_streak;
  double total_fees;
  double avg_holding_time;
  double avg_holding_time_win;
  double avg_holding_time_loss;
  double sqn;
  double long_trades;
  double short_trades;
  double long_win_rate;
  double short_win_rate;
  double exposure;
  double current_drawdown;
  double recovery_factor;
  double volume;
} gpx_stats;

/** Field names in frame order, and how many: gpx_stats viewed as double[]. */
#define GPX_STATS_NFIELDS 41
extern const char *const gpx_stats_field_names[GPX_STATS_NFIELDS];
/** Value of field i (0 <= i < GPX_STATS_NFIELDS); NaN when out of range. */
double gpx_stats_get(const gpx_stats *s, size_t i);
/** Index of a field by name, -1 when unknown (for the `metrics` filter). */
int gpx_stats_index(const char *name);

/** Max drawdown of the curve (fraction ≤ 0, 0 if never fell; NaN if undefined). */
typedef struct gpx_drawdown_summary {
  double max_drawdown;
  double max_drawdown_amount;
} gpx_drawdown_summary;

/** The curve's drawdown summary (valid after any number of pushes). */
gpx_drawdown_summary gpx_curve_drawdown(const gpx_curve *c);

/**
 * Compute every stats field from: base = E(from); agg (from SQL or from
 * gpx_curve.agg); dd (from gpx_curve_drawdown); the daily series; today's day
 * ordinal (daily_loss is NaN when today is outside the series' range);
 * slip (may be NULL → avg_slippage_bps NaN). EINVAL on bad options or
 * inconsistent aggregates (negative counts, wins+losses > count).
 */
int gpx_stats_compute(double base, const gpx_trade_agg *agg,
                      const gpx_drawdown_summary *dd, const gpx_daily *daily,
                      int32_t today, const gpx_slippage_acc *slip,
                      const gpx_analytics_opts *o, gpx_stats *out, gpx_error *err);

/**
 * Fill the fields of the trade stream into out (after gpx_stats_compute,
 * which leaves them NaN): t from the ordered stream, legs (NULL → slippage,
 * volume and fees NaN) from the legs columns, the curve for the current
 * drawdown, range_ns = to − from for exposure (null when 0). The old fields
 * are left as they are, except avg_slippage_bps when legs is given.
 */
void gpx_stats_compute_trades(const gpx_trade_acc *t, const gpx_legs_acc *legs, const gpx_curve *c,
                              int64_t range_ns, gpx_stats *out);

/* ------------------------------------------------------------------------- */
/* Calendar periods of the daily series (period_returns; src/trading/periods.c). */
/* Pure calendar arithmetic on day ordinals: the local days come from Postgres */
/* (so DST is already settled), a week/month/quarter/year is a run of them.  */

typedef enum gpx_period {
  GPX_PERIOD_WEEK = 0, /**< ISO week, Monday to Sunday */
  GPX_PERIOD_MONTH,
  GPX_PERIOD_QUARTER,  /**< Jan–Mar, Apr–Jun, Jul–Sep, Oct–Dec */
  GPX_PERIOD_YEAR,
  GPX_PERIOD_COUNT
} gpx_period;

/** Option values of `period`, indexed by gpx_period. */
extern const char *const gpx_period_names[GPX_PERIOD_COUNT];

/** Proleptic Gregorian date of a day ordinal (days since 1970-01-01): month 1–12, mday 1–31. */
void gpx_day_civil(int32_t day, int32_t *year, int *month, int *mday);
/** Day ordinal of a date (month 1–12; out-of-range mday/month are not normalised). */
int64_t gpx_day_from_civil(int64_t year, int month, int mday);
/** First day of the calendar period that contains day (a Monday for weeks). */
int64_t gpx_period_first_day(int32_t day, gpx_period p);
/** First day of the period after the one starting at start (a period's first day). */
int64_t gpx_period_next(int64_t start, gpx_period p);

/** One calendar period of a daily series, clipped to the series' range. */
typedef struct gpx_period_row {
  int32_t start_day;    /**< the calendar period's first day (before the range when clipped) */
  int32_t first_day;    /**< the period within the range: [max(start, range first), */
  int32_t last_day;     /**<   min(period end, range last)] */
  double pnl;           /**< Σ D over those days */
  int64_t trades;       /**< trades closed on those days */
  double equity_start;  /**< E at the start of the clipped period (E(from) for the first) */
  double equity_end;    /**< E at its end */
  double ret;           /**< E(end)/E(start) − 1, computed as pnl/E(start); NaN when E(start) <= 0 */
} gpx_period_row;

typedef struct gpx_periods {
  gpx_period_row *rows; /**< every period overlapping [d->first_day, d->last_day], in order */
  size_t n;
  gpx_period period;
} gpx_periods;

/**
 * Cut a daily series (gpx_daily_build) into the calendar periods that
 * overlap its requested range [d->first_day, d->last_day] — independent of
 * tradingDays: a period whose days were all dropped is still there with
 * return 0. *out is overwritten without freeing; free with
 * gpx_periods_reset (safe on a zeroed struct). EINVAL (bad period, bad
 * series), ENOMEM; on failure *out is empty.
 */
int gpx_periods_build(const gpx_daily *d, gpx_period p, gpx_periods *out, gpx_error *err);
void gpx_periods_reset(gpx_periods *p);

/** One year of the monthly-returns grid (quantstats' heatmap layout). */
typedef struct gpx_month_grid_row {
  int32_t year;
  double month[12];  /**< that month's return within the range; NaN where the month is outside it */
  double year_ret;   /**< the year within the range: E(end)/E(start) − 1 (= its months compounded) */
} gpx_month_grid_row;

/**
 * The grid of monthly periods (gpx_periods_build with GPX_PERIOD_MONTH):
 * one row per calendar year the range touches, in order. *rows is
 * allocated (free() it), *n its length. EINVAL when months are not
 * monthly periods; ENOMEM.
 */
int gpx_month_grid(const gpx_periods *months, gpx_month_grid_row **rows, size_t *n, gpx_error *err);

/* ------------------------------------------------------------------------- */
/* Rolling metrics over the daily series (rolling; src/trading/rolling.c).     */

typedef enum gpx_rolling_metric {
  GPX_ROLL_SHARPE = 0,   /**< as gpx_sharpe over the window's returns */
  GPX_ROLL_SORTINO,      /**< as gpx_sortino */
  GPX_ROLL_VOLATILITY,   /**< as gpx_annual_volatility */
  GPX_ROLL_RETURN,       /**< Π(1+r) − 1 = ΣD / E(start of the window) */
  GPX_ROLL_PNL,          /**< ΣD */
  GPX_ROLL_WIN_RATE,     /**< wins/trades of the trades closed in the window */
  GPX_ROLL_PROFIT_FACTOR,/**< Σ wins/|Σ losses| of those trades */
  GPX_ROLL_COUNT
} gpx_rolling_metric;

/** Option values of `metric`, indexed by gpx_rolling_metric. */
extern const char *const gpx_rolling_metric_names[GPX_ROLL_COUNT];
/** Index of a metric by name, -1 when unknown. */
int gpx_rolling_metric_index(const char *name);

#define GPX_ROLLING_WINDOW_MIN 2
#define GPX_ROLLING_WINDOW_MAX 3650

/**
 * Align sparse per-day trade aggregates (day[] strictly ascending, as SQL
 * gives them for days with trades) with the series: out[i] belongs to
 * d->day[i], zero for days without trades. Non-finite sums count as 0 (as
 * gpx_daily_build does). EINVAL when a day is not a day of the series.
 */
int gpx_daily_spread_agg(const gpx_daily *d, const int32_t *day, const gpx_trade_agg *agg, size_t n,
                         gpx_trade_agg *out, gpx_error *err);

/**
 * out[i] (d->n values) = metric m over the `window` series days ending at
 * d->day[i], with the formulas of `stats`; NaN for i < window − 1 (and
 * where the formula is undefined). day_agg (d->n entries, from
 * gpx_daily_spread_agg) is needed for WIN_RATE and PROFIT_FACTOR only.
 * O(d->n): running sums with compensation, recomputed from scratch every
 * `window` days so rounding cannot build up; sliding max/min keep the
 * "std = 0 within rounding noise" rule of gpx_sharpe. EINVAL for a window
 * outside [2, 3650], an unknown metric, bad options or a missing day_agg.
 */
int gpx_rolling(const gpx_daily *d, const gpx_trade_agg *day_agg, gpx_rolling_metric m, size_t window,
                const gpx_analytics_opts *o, double *out, gpx_error *err);

#ifdef __cplusplus
}
#endif
#endif /* GPX_TRADING_H */
