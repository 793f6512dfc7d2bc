/*
** stats.c — risk/return statistics and the `stats` frame's fields.
**
** Formulas are trading-metrics.md §3; where it is silent they follow
** empyrical (nan-aware means, ddof=1, < 2 observations → null), see
** docs/analytics.md. Inputs are aggregates, the daily series and the curve's
** drawdown, so the same function serves SQL-side and C-side aggregation.
** Sums are compensated and the variance is two-pass around the mean, which
** avoids the catastrophic cancellation of Σx² - (Σx)²/n.
*/
#include <float.h>
#include <math.h>
#include <stddef.h>
#include <strings.h>

#include "gpx/trading.h"
#include "trading/trading_int.h"

void gpx_analytics_opts_default(gpx_analytics_opts *o) {
  o->trading_days = GPX_DAYS_ALL;
  o->annualization = 252;
  o->risk_free_rate = 0;
}

int gpx_analytics_opts_validate(const gpx_analytics_opts *o, gpx_error *err) {
  if (!o) return gpx_error_set(err, EINVAL, "analytics options missing");
  if (o->trading_days != GPX_DAYS_ALL && o->trading_days != GPX_DAYS_WEEKDAYS)
    return gpx_error_set(err, EINVAL, "tradingDays: must be one of all, weekdays");
  if (!isfinite(o->annualization) || o->annualization <= 0 || o->annualization > 1e6)
    return gpx_error_set(err, EINVAL, "annualization: must be a number > 0");
  if (!isfinite(o->risk_free_rate) || o->risk_free_rate <= -1)
    return gpx_error_set(err, EINVAL, "riskFreeRate: must be a number > -1");
  return GPX_OK;
}

/* rf_d = (1+rf)^(1/A) - 1, via log1p/expm1 so a small rf keeps its digits. */
static double rf_daily(const gpx_analytics_opts *o) {
  return expm1(log1p(o->risk_free_rate) / o->annualization);
}

static int opts_ok(const gpx_analytics_opts *o) { return gpx_analytics_opts_validate(o, NULL) == GPX_OK; }

/* Moments of x - shift over the finite x: count, mean, Σ(dev²) (two-pass)
 * and Σ min(x,0)². The variance counts as exactly 0 when the spread of the
 * values is within rounding noise of their magnitude (max - min <= 8 ulp of
 * max|x|): returns like 10/100, 11/110, 12.1/121 are "the same 10%" but differ
 * in the last bit, and a std of 1e-18 would turn into a Sharpe of 1e17 where
 * the spec (std = 0 → null) clearly means null. */
typedef struct moments {
  size_t k;
  double mean, ssd, down2;
} moments;

static moments moments_of(const double *r, size_t n, double shift) {
  moments m = {0, NAN, NAN, NAN};
  double s = 0, c = 0, lo = INFINITY, hi = -INFINITY, amax = 0;
  for (size_t i = 0; i < n; i++) {
    if (!isfinite(r[i])) continue;
    double x = r[i] - shift;
    if (x < lo) lo = x;
    if (x > hi) hi = x;
    if (fabs(x) > amax) amax = fabs(x);
    gpx__nsum(&s, &c, x);
    m.k++;
  }
  if (m.k == 0) return m;
  m.mean = (s + c) / (double)m.k;
  double q = 0, qc = 0, d2 = 0, dc = 0;
  for (size_t i = 0; i < n; i++) {
    if (!isfinite(r[i])) continue;
    double x = r[i] - shift, dev = x - m.mean;
    gpx__nsum(&q, &qc, dev * dev);
    if (x < 0) gpx__nsum(&d2, &dc, x * x);
  }
  m.ssd = hi - lo <= 8 * DBL_EPSILON * amax ? 0.0 : q + qc;
  m.down2 = d2 + dc;
  return m;
}

static double finite_or_nan(double x) { return isfinite(x) ? x : NAN; }

double gpx_sharpe(const double *r, size_t n, const gpx_analytics_opts *o) {
  if (!r || !opts_ok(o)) return NAN;
  moments m = moments_of(r, n, rf_daily(o));
  if (m.k < 2 || !(m.ssd > 0)) return NAN;
  double sd = sqrt(m.ssd / (double)(m.k - 1));
  return finite_or_nan(m.mean / sd * sqrt(o->annualization));
}

double gpx_sortino(const double *r, size_t n, const gpx_analytics_opts *o) {
  if (!r || !opts_ok(o)) return NAN;
  moments m = moments_of(r, n, rf_daily(o));
  if (m.k < 2 || !(m.down2 > 0)) return NAN;
  /* empyrical downside_risk: √(mean over ALL days of min(r - rf_d, 0)²)·√A */
  double dr = sqrt(m.down2 / (double)m.k) * sqrt(o->annualization);
  return finite_or_nan(m.mean * o->annualization / dr);
}

double gpx_annual_volatility(const double *r, size_t n, const gpx_analytics_opts *o) {
  if (!r || !opts_ok(o)) return NAN;
  moments m = moments_of(r, n, 0);
  if (m.k < 2) return NAN;
  return finite_or_nan(sqrt(m.ssd / (double)(m.k - 1)) * sqrt(o->annualization));
}

/* CAGR from growth g = E_end/E_start - 1: expm1(A/N · log1p(g)), exact for
 * tiny g where pow(1+g, A/N) - 1 would cancel. */
static double cagr_growth(double g, size_t n_days, double a) {
  if (n_days == 0 || !isfinite(g) || !isfinite(a) || a <= 0 || g < -1) return NAN;
  if (g == -1) return -1.0; /* everything lost: E_end = 0 */
  return finite_or_nan(expm1(a / (double)n_days * log1p(g)));
}

double gpx_cagr(double e_start, double e_end, size_t n_days, double annualization) {
  /* E_end < 0 checked here: the growth can round to exactly -1 (−100 %) */
  if (!isfinite(e_start) || !isfinite(e_end) || e_start <= 0 || e_end < 0) return NAN;
  return cagr_growth((e_end - e_start) / e_start, n_days, annualization);
}

/* ------------------------------------------------------------------------- */

const char *const gpx_stats_field_names[GPX_STATS_NFIELDS] = {
    "total_pnl",     "total_return", "equity",       "trade_count",   "win_rate",
    "profit_factor", "payoff_ratio", "expectancy",   "max_drawdown",  "max_drawdown_amount",
    "sharpe",        "sortino",      "calmar",       "cagr",          "annual_volatility",
    "avg_slippage_bps", "daily_loss", "worst_day",   "best_day",
    /* from the trade stream */
    "largest_win",   "largest_loss", "avg_win",      "avg_loss",      "gross_profit",
    "gross_loss",    "max_win_streak", "max_loss_streak", "current_streak", "total_fees",
    "avg_holding_time", "avg_holding_time_win", "avg_holding_time_loss", "sqn", "long_trades",
    "short_trades",  "long_win_rate", "short_win_rate", "exposure",   "current_drawdown",
    "recovery_factor", "volume",
};

static const size_t stats_offsets[GPX_STATS_NFIELDS] = {
    offsetof(gpx_stats, total_pnl),     offsetof(gpx_stats, total_return),
    offsetof(gpx_stats, equity),        offsetof(gpx_stats, trade_count),
    offsetof(gpx_stats, win_rate),      offsetof(gpx_stats, profit_factor),
    offsetof(gpx_stats, payoff_ratio),  offsetof(gpx_stats, expectancy),
    offsetof(gpx_stats, max_drawdown),  offsetof(gpx_stats, max_drawdown_amount),
    offsetof(gpx_stats, sharpe),        offsetof(gpx_stats, sortino),
    offsetof(gpx_stats, calmar),        offsetof(gpx_stats, cagr),
    offsetof(gpx_stats, annual_volatility), offsetof(gpx_stats, avg_slippage_bps),
    offsetof(gpx_stats, daily_loss),    offsetof(gpx_stats, worst_day),
    offsetof(gpx_stats, best_day),
    offsetof(gpx_stats, largest_win),   offsetof(gpx_stats, largest_loss),
    offsetof(gpx_stats, avg_win),       offsetof(gpx_stats, avg_loss),
    offsetof(gpx_stats, gross_profit),  offsetof(gpx_stats, gross_loss),
    offsetof(gpx_stats, max_win_streak), offsetof(gpx_stats, max_loss_streak),
    offsetof(gpx_stats, current_streak), offsetof(gpx_stats, total_fees),
    offsetof(gpx_stats, avg_holding_time), offsetof(gpx_stats, avg_holding_time_win),
    offsetof(gpx_stats, avg_holding_time_loss), offsetof(gpx_stats, sqn),
    offsetof(gpx_stats, long_trades),   offsetof(gpx_stats, short_trades),
    offsetof(gpx_stats, long_win_rate), offsetof(gpx_stats, short_win_rate),
    offsetof(gpx_stats, exposure),      offsetof(gpx_stats, current_drawdown),
    offsetof(gpx_stats, recovery_factor), offsetof(gpx_stats, volume),
};
_Static_assert(sizeof(gpx_stats) == GPX_STATS_NFIELDS * sizeof(double), "gpx_stats: one double per field name");

double gpx_stats_get(const gpx_stats *s, size_t i) {
  if (!s || i >= GPX_STATS_NFIELDS) return NAN;
  double v;
  memcpy(&v, (const char *)s + stats_offsets[i], sizeof v);
  return v;
}

int gpx_stats_index(const char *name) {
  if (!name) return -1;
  for (int i = 0; i < GPX_STATS_NFIELDS; i++)
    if (strcmp(name, gpx_stats_field_names[i]) == 0) return i;
  return -1;
}

static double ratio(double num, double den) { return den != 0 ? finite_or_nan(num / den) : NAN; }

int gpx_stats_compute(double base, const gpx_trade_agg *agg,
                      const gpx_drawdown_summary *dd, const gpx_daily *daily,
                      int32_t today, const gpx_slippage_acc *slip,
                      const gpx_analytics_opts *o, gpx_stats *out, gpx_error *err) {
  for (size_t i = 0; i < GPX_STATS_NFIELDS; i++) {
    double nan = NAN;
    memcpy((char *)out + stats_offsets[i], &nan, sizeof nan);
  }
  GPX_RETURN_NOT_OK(gpx_analytics_opts_validate(o, err));
  if (!agg || !daily) return gpx_error_set(err, EINVAL, "stats: missing aggregates or daily series");
  if (agg->count < 0 || agg->wins < 0 || agg->losses < 0 || agg->wins > agg->count ||
      agg->losses > agg->count - agg->wins)
    return gpx_error_set(err, EINVAL, "stats: inconsistent trade counts (count %lld, wins %lld, losses %lld)",
                         (long long)agg->count, (long long)agg->wins, (long long)agg->losses);
  if (!isfinite(base)) return gpx_error_set(err, EINVAL, "stats: equity at range start is not finite");

  double total = finite_or_nan(agg->sum_pnl);
  out->total_pnl = total;
  out->equity = finite_or_nan(base + total);
  out->total_return = base > 0 ? finite_or_nan(total / base) : NAN; /* R(to) = C(to)/E(from) */
  out->trade_count = (double)agg->count;
  if (agg->count > 0) {
    /* Zero-P&L trades count in the denominator (§3). */
    out->win_rate = (double)agg->wins / (double)agg->count;
    out->expectancy = ratio(total, (double)agg->count);
  }
  if (agg->losses > 0) out->profit_factor = ratio(agg->sum_win, fabs(agg->sum_loss));
  if (agg->wins > 0 && agg->losses > 0)
    out->payoff_ratio = ratio(agg->sum_win / (double)agg->wins, fabs(agg->sum_loss) / (double)agg->losses);

  if (dd) {
    out->max_drawdown = finite_or_nan(dd->max_drawdown);
    out->max_drawdown_amount = finite_or_nan(dd->max_drawdown_amount);
  }

  out->sharpe = gpx_sharpe(daily->ret, daily->n, o);
  out->sortino = gpx_sortino(daily->ret, daily->n, o);
  out->annual_volatility = gpx_annual_volatility(daily->ret, daily->n, o);
  if (base > 0) out->cagr = cagr_growth(total / base, daily->n, o->annualization);
  /* empyrical calmar_ratio: null unless max drawdown < 0. */
  if (isfinite(out->cagr) && out->max_drawdown < 0)
    out->calmar = finite_or_nan(out->cagr / fabs(out->max_drawdown));

  if (slip) out->avg_slippage_bps = gpx_slippage_mean(slip);

  if (daily->n > 0) {
    double lo = daily->pnl[0], hi = daily->pnl[0];
    for (size_t i = 1; i < daily->n; i++) {
      if (daily->pnl[i] < lo) lo = daily->pnl[i];
      if (daily->pnl[i] > hi) hi = daily->pnl[i];
    }
    out->worst_day = lo;
    out->best_day = hi;
  }
  /* Today inside the series' range: its loss (0 for a day without trades,
   * including a weekend dropped in weekdays mode); outside: null. */
  if (daily->n > 0 && today >= daily->first_day && today <= daily->last_day) {
    size_t lo = 0, hi = daily->n;
    while (lo < hi) {
      size_t mid = lo + (hi - lo) / 2;
      if (daily->day[mid] < today) lo = mid + 1; else hi = mid;
    }
    out->daily_loss = lo < daily->n && daily->day[lo] == today ? gpx_daily_loss(daily->pnl[lo]) : 0.0;
  }
  return GPX_OK;
}

/* ------------------------------------------------------------------------- */
/* The fields of the trade stream (docs/analytics.md "Trade statistics").     */

static double mean_or_nan(double sum, int64_t n) { return n > 0 ? finite_or_nan(sum / (double)n) : NAN; }

/* SQN = √N·mean/std(ddof=1); null for N < 2 or std 0 — with the same
   rounding-noise rule as the Sharpe ratio (moments_of). */
static double sqn(const gpx_trade_acc *t) {
  if (t->count < 2) return NAN;
  double amax = fmax(fabs(t->lo), fabs(t->hi));
  if (t->hi - t->lo <= 8 * DBL_EPSILON * amax || !(t->m2 > 0)) return NAN;
  double sd = sqrt(t->m2 / (double)(t->count - 1));
  return finite_or_nan(sqrt((double)t->count) * t->mean / sd);
}

void gpx_stats_compute_trades(const gpx_trade_acc *t, const gpx_legs_acc *legs, const gpx_curve *c,
                              int64_t range_ns, gpx_stats *out) {
  double gw = t->gross_win + t->gwcomp, gl = t->gross_loss + t->glcomp;
  out->largest_win = t->largest_win;
  out->largest_loss = t->largest_loss;
  out->avg_win = mean_or_nan(gw, t->wins);
  out->avg_loss = mean_or_nan(gl, t->losses);
  out->gross_profit = gw;
  out->gross_loss = gl;
  out->max_win_streak = (double)t->max_win_run;
  out->max_loss_streak = (double)t->max_loss_run;
  out->current_streak = (double)gpx_trade_acc_streak(t);
  for (int k = 0; k < 3; k++) {
    double v = mean_or_nan(t->hold[k] + t->hold_comp[k], t->hold_n[k]);
    if (k == 0) out->avg_holding_time = v;
    else if (k == 1) out->avg_holding_time_win = v;
    else out->avg_holding_time_loss = v;
  }
  out->sqn = sqn(t);
  out->long_trades = (double)t->long_n;
  out->short_trades = (double)t->short_n;
  out->long_win_rate = t->long_n > 0 ? (double)t->long_wins / (double)t->long_n : NAN;
  out->short_win_rate = t->short_n > 0 ? (double)t->short_wins / (double)t->short_n : NAN;
  out->exposure = range_ns > 0 ? (double)t->covered_ns / (double)range_ns : NAN;
  out->current_drawdown = out->recovery_factor = out->total_fees = out->volume = NAN;
  if (c) {
    double e = gpx_curve_equity(c);
    out->current_drawdown = c->peak > 0 ? finite_or_nan((e - c->peak) / c->peak) : NAN;
  }
  if (isfinite(out->max_drawdown_amount) && out->max_drawdown_amount != 0)
    out->recovery_factor = ratio(out->total_pnl, fabs(out->max_drawdown_amount));
  if (legs) {
    out->avg_slippage_bps = gpx_slippage_mean(&legs->slip);
    out->total_fees = finite_or_nan(legs->fees + legs->fcomp);
    out->volume = finite_or_nan(legs->volume + legs->vcomp);
  }
}
