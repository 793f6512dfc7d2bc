/*
** rolling.c — a metric over a sliding window of the daily series (rolling).
**
** The value for day i uses the `window` series days ending at i, with the
** formulas of `stats` (stats.c): Sharpe, Sortino and volatility on the
** daily returns (NaN returns skipped, as empyrical's nan-functions do),
** return Π(1+r) − 1 = ΣD/E(start of the window), P&L ΣD, win rate and
** profit factor over the trades closed on those days. Days before the
** first full window are null.
**
** Cost O(days): each window's sums come from the previous one by adding
** the new day and removing the old one (Neumaier-compensated), and are
** recomputed from scratch every `window` days (amortised O(1)), so
** rounding cannot accumulate over a long series. The variance is taken
** around a shift (the mean at the last recomputation), which keeps the
** subtraction Σy² − (Σy)²/k small; when it would still cancel badly the
** window is recomputed two-pass. Sliding max/min (monotone deques) keep
** stats.c's rule that a spread within rounding noise is a zero std.
*/
#include <float.h>
#include <math.h>
#include <stdlib.h>

#include "gpx/trading.h"
#include "trading/trading_int.h"

const char *const gpx_rolling_metric_names[GPX_ROLL_COUNT] = {"sharpe",  "sortino",  "volatility",   "return",
                                                              "pnl",     "win_rate", "profit_factor"};

int gpx_rolling_metric_index(const char *name) {
  for (int i = 0; name && i < GPX_ROLL_COUNT; i++)
    if (strcmp(name, gpx_rolling_metric_names[i]) == 0) return i;
  return -1;
}

int gpx_daily_spread_agg(const gpx_daily *d, const int32_t *day, const gpx_trade_agg *agg, size_t n,
                         gpx_trade_agg *out, gpx_error *err) {
  if (d == NULL || (d->n > 0 && out == NULL) || (n > 0 && (day == NULL || agg == NULL)))
    return gpx_error_set(err, EINVAL, "rolling: NULL input arrays");
  if (d->n > 0) memset(out, 0, d->n * sizeof *out);
  size_t k = 0;
  for (size_t i = 0; i < n; i++) {
    if (i > 0 && day[i] <= day[i - 1]) return gpx_error_set(err, EINVAL, "rolling: days not strictly ascending at row %zu", i);
    while (k < d->n && d->day[k] < day[i]) k++;
    if (k == d->n || d->day[k] != day[i])
      return gpx_error_set(err, EINVAL, "rolling: day %d (row %zu) is not a day of the series", (int)day[i], i);
    out[k] = agg[i];
    if (!isfinite(out[k].sum_pnl)) out[k].sum_pnl = 0;
    if (!isfinite(out[k].sum_win)) out[k].sum_win = 0;
    if (!isfinite(out[k].sum_loss)) out[k].sum_loss = 0;
  }
  return GPX_OK;
}

/* ---- compensated sums that can also take values out again ---- */

typedef struct gpx__csum {
  double s, c;
} gpx__csum;

static void gpx__cadd(gpx__csum *a, double x) { gpx__nsum(&a->s, &a->c, x); }
static double gpx__cval(const gpx__csum *a) { return a->s + a->c; }
static double gpx__finite(double x) { return isfinite(x) ? x : NAN; }

/* Σ v over the window ending at each i >= w − 1. */
static void gpx__window_sums(const double *v, size_t n, size_t w, double *out) {
  gpx__csum s = {0, 0};
  for (size_t i = w - 1; i < n; i++) {
    if ((i - (w - 1)) % w == 0) {
      s = (gpx__csum){0, 0};
      for (size_t j = i + 1 - w; j <= i; j++) gpx__cadd(&s, v[j]);
    } else {
      gpx__cadd(&s, v[i]);
      gpx__cadd(&s, -v[i - w]);
    }
    out[i] = gpx__cval(&s);
  }
}

/* ---- moments of the finite x of a window ---- */

typedef struct gpx__mom {
  double shift;
  gpx__csum s1, s2, down; /* Σ(x − shift), Σ(x − shift)², Σ min(x, 0)² */
  int64_t k, kdown;
} gpx__mom;

static void gpx__mom_put(gpx__mom *m, double x, int sign) {
  if (!isfinite(x)) return;
  double y = x - m->shift;
  /* the value removed is bit-for-bit the one added: sign only flips it */
  gpx__cadd(&m->s1, sign * y);
  gpx__cadd(&m->s2, sign * y * y);
  if (x < 0) {
    gpx__cadd(&m->down, sign * x * x);
    m->kdown += sign;
  }
  m->k += sign;
}

/* Mean and Σ(x − mean)² of the finite x[a..b], two-pass (as stats.c). */
static void gpx__two_pass(const double *x, size_t a, size_t b, double *mean, double *ssd) {
  gpx__csum s = {0, 0}, q = {0, 0};
  size_t k = 0;
  for (size_t j = a; j <= b; j++)
    if (isfinite(x[j])) gpx__cadd(&s, x[j]), k++;
  *mean = k ? gpx__cval(&s) / (double)k : 0;
  for (size_t j = a; j <= b; j++)
    if (isfinite(x[j])) gpx__cadd(&q, (x[j] - *mean) * (x[j] - *mean));
  *ssd = gpx__cval(&q);
}

static void gpx__mom_anchor(gpx__mom *m, const double *x, size_t a, size_t b) {
  double mean, ssd;
  gpx__two_pass(x, a, b, &mean, &ssd);
  memset(m, 0, sizeof *m);
  m->shift = mean;
  for (size_t j = a; j <= b; j++) gpx__mom_put(m, x[j], 1);
}

/* Monotone deque of indices: the window's max (or min) at its head. */
typedef struct gpx__deque {
  size_t *at;
  size_t head, tail;
  int max;
} gpx__deque;

static void gpx__dq_push(gpx__deque *q, const double *x, size_t i) {
  if (!isfinite(x[i])) return;
  while (q->tail > q->head && (q->max ? x[q->at[q->tail - 1]] <= x[i] : x[q->at[q->tail - 1]] >= x[i])) q->tail--;
  q->at[q->tail++] = i;
}

static void gpx__dq_expire(gpx__deque *q, size_t first) {
  while (q->head < q->tail && q->at[q->head] < first) q->head++;
}

/* Sharpe, Sortino or volatility over x = r − rf_d (or r), one window per i. */
static int gpx__moments_metric(const double *x, size_t n, size_t w, gpx_rolling_metric metric, double a, double *out,
                               gpx_error *err) {
  gpx__deque hi = {malloc(n * sizeof(size_t)), 0, 0, 1}, lo = {malloc(n * sizeof(size_t)), 0, 0, 0};
  if (hi.at == NULL || lo.at == NULL) {
    free(hi.at);
    free(lo.at);
    return gpx_error_set(err, ENOMEM, "rolling: out of memory for %zu days", n);
  }
  gpx__mom m = {0};
  for (size_t i = 0; i < n; i++) {
    gpx__dq_push(&hi, x, i);
    gpx__dq_push(&lo, x, i);
    if (i + 1 < w) continue;
    size_t first = i + 1 - w;
    gpx__dq_expire(&hi, first);
    gpx__dq_expire(&lo, first);
    if ((i - (w - 1)) % w == 0) {
      gpx__mom_anchor(&m, x, first, i);
    } else {
      gpx__mom_put(&m, x[i], 1);
      gpx__mom_put(&m, x[first - 1], -1);
    }
    out[i] = NAN;
    if (m.k < 2) continue;
    double k = (double)m.k, s1 = gpx__cval(&m.s1), s2 = gpx__cval(&m.s2);
    double mean = m.shift + s1 / k, ssd = s2 - s1 * s1 / k;
    double xh = x[hi.at[hi.head]], xl = x[lo.at[lo.head]];
    if (xh - xl <= 8 * DBL_EPSILON * fmax(fabs(xh), fabs(xl))) {
      ssd = 0; /* stats.c: a spread within rounding noise is no spread */
    } else if (!(ssd > 1e-6 * s2)) {
      gpx__two_pass(x, first, i, &mean, &ssd); /* the subtraction cancelled: do it exactly */
    }
    switch (metric) {
      case GPX_ROLL_SHARPE:
        if (ssd > 0) out[i] = gpx__finite(mean / sqrt(ssd / (k - 1)) * sqrt(a));
        break;
      case GPX_ROLL_SORTINO: {
        double down = m.kdown > 0 ? gpx__cval(&m.down) : 0;
        if (down > 0) out[i] = gpx__finite(mean * a / (sqrt(down / k) * sqrt(a)));
        break;
      }
      default: out[i] = gpx__finite(sqrt(ssd / (k - 1)) * sqrt(a)); break;
    }
  }
  free(hi.at);
  free(lo.at);
  return GPX_OK;
}

/* Win rate or profit factor over the trades of each window. */
static int gpx__trades_metric(const gpx_trade_agg *ag, size_t n, size_t w, gpx_rolling_metric metric, double *out,
                              gpx_error *err) {
  double *v = malloc(4 * n * sizeof *v);
  if (v == NULL) return gpx_error_set(err, ENOMEM, "rolling: out of memory for %zu days", n);
  double *sw = v + 2 * n, *sl = v + 3 * n;
  if (metric == GPX_ROLL_PROFIT_FACTOR) {
    for (size_t i = 0; i < n; i++) v[i] = ag[i].sum_win, v[n + i] = ag[i].sum_loss;
    gpx__window_sums(v, n, w, sw);
    gpx__window_sums(v + n, n, w, sl);
  }
  int64_t cnt = 0, wins = 0, losses = 0;
  for (size_t i = 0; i < n; i++) {
    cnt += ag[i].count, wins += ag[i].wins, losses += ag[i].losses;
    if (i + 1 < w) continue;
    if (i >= w) cnt -= ag[i - w].count, wins -= ag[i - w].wins, losses -= ag[i - w].losses;
    if (metric == GPX_ROLL_WIN_RATE) out[i] = cnt > 0 ? (double)wins / (double)cnt : NAN;
    /* stats.c: null with no losing trade, 0 with losers only */
    else out[i] = losses == 0 ? NAN : wins == 0 ? 0.0 : gpx__finite(sw[i] / fabs(sl[i]));
  }
  free(v);
  return GPX_OK;
}

int gpx_rolling(const gpx_daily *d, const gpx_trade_agg *day_agg, gpx_rolling_metric m, size_t window,
                const gpx_analytics_opts *o, double *out, gpx_error *err) {
  GPX_RETURN_NOT_OK(gpx_analytics_opts_validate(o, err));
  if ((unsigned)m >= GPX_ROLL_COUNT)
    return gpx_error_set(err, EINVAL, "metric: must be one of sharpe, sortino, volatility, return, pnl, win_rate, profit_factor");
  if (window < GPX_ROLLING_WINDOW_MIN || window > GPX_ROLLING_WINDOW_MAX)
    return gpx_error_set(err, EINVAL, "window: must be a whole number of days from %d to %d", GPX_ROLLING_WINDOW_MIN,
                         GPX_ROLLING_WINDOW_MAX);
  if (d == NULL || (d->n > 0 && (out == NULL || d->ret == NULL || d->pnl == NULL || d->equity == NULL)))
    return gpx_error_set(err, EINVAL, "rolling: missing daily series");
  if ((m == GPX_ROLL_WIN_RATE || m == GPX_ROLL_PROFIT_FACTOR) && d->n > 0 && day_agg == NULL)
    return gpx_error_set(err, EINVAL, "rolling: %s needs the per-day trade aggregates", gpx_rolling_metric_names[m]);
  size_t n = d->n, w = window;
  for (size_t i = 0; i < n; i++) out[i] = NAN;
  if (n < w) return GPX_OK; /* no full window yet: all null */
  switch (m) {
    case GPX_ROLL_SHARPE:
    case GPX_ROLL_SORTINO:
    case GPX_ROLL_VOLATILITY: {
      double *x = malloc(n * sizeof *x);
      if (x == NULL) return gpx_error_set(err, ENOMEM, "rolling: out of memory for %zu days", n);
      /* the excess over rf_d for the ratios (stats.c), the returns as they are for volatility */
      double rf = m == GPX_ROLL_VOLATILITY ? 0 : expm1(log1p(o->risk_free_rate) / o->annualization);
      for (size_t i = 0; i < n; i++) x[i] = d->ret[i] - rf;
      int rc = gpx__moments_metric(x, n, w, m, o->annualization, out, err);
      free(x);
      return rc;
    }
    case GPX_ROLL_RETURN:
    case GPX_ROLL_PNL:
      gpx__window_sums(d->pnl, n, w, out);
      if (m == GPX_ROLL_RETURN) {
        for (size_t i = w - 1; i < n; i++) {
          /* Π(1 + r) over the window = E(end)/E(start): start = the end of the day before it */
          double e0 = i >= w ? d->equity[i - w] : d->base;
          out[i] = e0 > 0 ? gpx__finite(out[i] / e0) : NAN;
        }
      }
      return GPX_OK;
    default: return gpx__trades_metric(day_agg, n, w, m, out, err);
  }
}
