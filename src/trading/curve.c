/*
** curve.c — the per-trade equity curve as a streaming accumulator.
**
** Fed with (closed_at, realized_pnl) chunks in closed_at order (cursor fetches
** from Postgres), it keeps E = E(from) + C, the running peak, the drawdown per
** trade and the trade aggregates, and emits one point per down-sampling bucket
** (trading-metrics.md §3–§4). It never holds all trades: memory is the number
** of emitted points. It is not the daily series (daily.c) nor the stats
** (stats.c). Chunking never changes a result: all state is carried per trade.
*/
#include <math.h>
#include <stdlib.h>

#include "gpx/trading.h"
#include "trading/trading_int.h"

int64_t gpx_bucket_width_ns(int64_t from_ns, int64_t to_ns, int64_t interval_ms,
                            int64_t max_points, int64_t n_trades) {
  /* §4: only series with more points than maxDataPoints are down-sampled. */
  if (n_trades >= 0 && max_points > 0 && n_trades <= max_points) return 0;
  int64_t w = 0;
  if (interval_ms > 0)
    w = interval_ms > INT64_MAX / 1000000 ? INT64_MAX : interval_ms * 1000000;
  int64_t range;
  if (max_points > 0 && to_ns > from_ns &&
      !__builtin_sub_overflow(to_ns, from_ns, &range)) {
    /* Ceiling, so (from, to] splits into at most max_points buckets. */
    int64_t wp = range / max_points + (range % max_points != 0);
    if (wp > w) w = wp;
  }
  return w;
}

int gpx_curve_init(gpx_curve *c, double base, int64_t from_ns, int64_t bucket_ns,
                   gpx_error *err) {
  gpx_curve_reset(c);
  if (!isfinite(base)) return gpx_error_set(err, EINVAL, "curve: equity at range start is not finite");
  if (bucket_ns < 0) return gpx_error_set(err, EINVAL, "curve: negative bucket width");
  c->base = base;
  c->from_ns = from_ns;
  c->bucket_ns = bucket_ns;
  c->peak = base; /* peak(t) includes E(from) */
  /* DD(from) = 0 when E(from) > 0; with E(from) <= 0 a ratio to the peak is
   * meaningless until the peak turns positive, so it starts undefined. */
  c->max_dd = base > 0 ? 0.0 : NAN;
  c->max_dd_amount = 0.0;
  return GPX_OK;
}

int gpx_curve_init_auto(gpx_curve *c, double base, int64_t from_ns, int64_t bucket_ns, size_t max_points,
                        gpx_error *err) {
  GPX_RETURN_NOT_OK(gpx_curve_init(c, base, from_ns, 0, err));
  if (bucket_ns < 0) return gpx_error_set(err, EINVAL, "curve: negative bucket width");
  c->later_bucket_ns = bucket_ns;
  c->per_trade_max = max_points;
  return GPX_OK;
}

void gpx_curve_reset(gpx_curve *c) {
  free(c->pts);
  memset(c, 0, sizeof *c);
}

double gpx_curve_equity(const gpx_curve *c) { return c->base + (c->csum + c->ccomp); }

gpx_drawdown_summary gpx_curve_drawdown(const gpx_curve *c) {
  gpx_drawdown_summary s = {c->max_dd, c->max_dd_amount};
  return s;
}

/* Bucket of a trade: buckets are right-closed, (from + k·w, from + (k+1)·w],
 * matching the range's from < closed_at <= to, so a trade at exactly `to`
 * lands in the last bucket, not in an extra one. Floor division. */
static int64_t bucket_of(const gpx_curve *c, int64_t ts) {
  int64_t d = ts - c->from_ns - 1; /* overflow excluded by the caller's check */
  int64_t q = d / c->bucket_ns;
  if (d % c->bucket_ns != 0 && d < 0) q--;
  return q;
}

static int reserve(gpx_curve *c, size_t extra, gpx_error *err) {
  if (extra <= c->cap - c->npts) return GPX_OK;
  size_t need = c->npts + extra, cap = c->cap ? c->cap : 64;
  while (cap < need) {
    if (cap > SIZE_MAX / 2 / sizeof *c->pts) return gpx_error_set(err, ENOMEM, "curve: too many points");
    cap *= 2;
  }
  gpx_curve_point *p = realloc(c->pts, cap * sizeof *p);
  if (!p) return gpx_error_set(err, ENOMEM, "curve: out of memory for %zu points", cap);
  c->pts = p;
  c->cap = cap;
  return GPX_OK;
}

/* min that treats NaN as "no value" (undefined drawdowns never win). */
static int lower(double v, double cur) { return !isnan(v) && (isnan(cur) || v < cur); }

/* Fold point p (one trade or one bucket) into the open bucket point b. */
static void fold_point(gpx_curve_point *b, const gpx_curve_point *p) {
  /* §4: drawdown takes the bucket minimum so a trough is never hidden. */
  if (lower(p->drawdown, b->drawdown)) { b->drawdown = p->drawdown; b->dd_ts = p->dd_ts; }
  if (lower(p->drawdown_amount, b->drawdown_amount)) { b->drawdown_amount = p->drawdown_amount; b->dd_amount_ts = p->dd_amount_ts; }
  /* equity / P&L / returns take the bucket's last value. */
  b->ts = p->ts;
  b->equity = p->equity;
  b->pnl = p->pnl;
  b->ret = p->ret;
}

/* gpx_curve_init_auto's switch: the per-trade points so far (emitted and
   open) become buckets of later_bucket_ns, in place. */
static int rebucket(gpx_curve *c, gpx_error *err) {
  size_t n = c->npts;
  if (c->bucket_open) {
    GPX_RETURN_NOT_OK(reserve(c, 1, err));
    c->pts[n++] = c->cur;
  }
  for (size_t i = 0; i < n; i++) {
    int64_t d;
    if (__builtin_sub_overflow(c->pts[i].ts, c->from_ns, &d) || d == INT64_MIN)
      return gpx_error_set(err, EINVAL, "curve: closed_at of trade %zu is out of range", i);
  }
  c->bucket_ns = c->later_bucket_ns;
  c->per_trade_max = 0;
  size_t out = 0;
  int64_t cur_b = 0;
  for (size_t i = 0; i < n; i++) {
    int64_t b = bucket_of(c, c->pts[i].ts);
    if (out == 0 || b != cur_b) {
      c->pts[out++] = c->pts[i];
      cur_b = b;
    } else {
      fold_point(&c->pts[out - 1], &c->pts[i]);
    }
  }
  c->bucket_open = out > 0;
  if (out > 0) {
    c->cur = c->pts[out - 1];
    c->bucket_idx = cur_b;
    out--;
  }
  c->npts = out;
  return GPX_OK;
}

int gpx_curve_push(gpx_curve *c, const int64_t *ts, const double *pnl, size_t n,
                   gpx_error *err) {
  if (n == 0) return GPX_OK;
  if (!ts || !pnl) return gpx_error_set(err, EINVAL, "curve: NULL input arrays");
  int switching = 0; /* gpx_curve_init_auto: this chunk passes per_trade_max */
  if (c->per_trade_max > 0 && c->bucket_ns == 0 && c->later_bucket_ns > 0) {
    size_t finite = 0;
    for (size_t i = 0; i < n; i++) finite += isfinite(pnl[i]) != 0;
    switching = (size_t)c->agg.count + finite > c->per_trade_max;
  }
  /* Pass 0 validates the chunk, at the width it will be bucketed with,
   * before anything changes (the switch to buckets included): a failed push
   * leaves the curve exactly as it was. */
  int64_t width = switching ? c->later_bucket_ns : c->bucket_ns;
  int64_t prev = c->last_ts;
  int have = c->have_last;
  for (size_t i = 0; i < n; i++) {
    if (have && ts[i] < prev)
      return gpx_error_set(err, EINVAL, "curve: closed_at goes backwards at row %zu (not ordered by closed_at)", i);
    int64_t d;
    if (width > 0 && (__builtin_sub_overflow(ts[i], c->from_ns, &d) || d == INT64_MIN))
      return gpx_error_set(err, EINVAL, "curve: closed_at at row %zu is out of range", i);
    prev = ts[i];
    have = 1;
  }
  if (switching) GPX_RETURN_NOT_OK(rebucket(c, err));
  /* Pass 1 counts the buckets this chunk can open, so the point array is
   * reserved up front and pass 2 cannot fail half-way. */
  size_t opens = 0;
  int64_t prev_b = c->bucket_open ? c->bucket_idx : 0;
  int open = c->bucket_open;
  for (size_t i = 0; i < n; i++) {
    if (c->bucket_ns == 0) { opens++; continue; }
    int64_t b = bucket_of(c, ts[i]);
    if (!open || b != prev_b) opens++;
    open = 1;
    prev_b = b;
  }
  GPX_RETURN_NOT_OK(reserve(c, opens, err));

  for (size_t i = 0; i < n; i++) {
    c->last_ts = ts[i];
    c->have_last = 1;
    double p = pnl[i];
    if (!isfinite(p)) { c->skipped++; continue; }
    gpx_trade_agg *a = &c->agg;
    a->count++;
    if (p > 0) { a->wins++; gpx__nsum(&a->sum_win, &c->wcomp, p); }
    else if (p < 0) { a->losses++; gpx__nsum(&a->sum_loss, &c->lcomp, p); }
    gpx__nsum(&c->csum, &c->ccomp, p);
    double C = c->csum + c->ccomp;
    a->sum_pnl = C;
    double E = c->base + C;
    if (E > c->peak) c->peak = E;
    /* Sums of huge P&Ls, or ratios to a tiny E(from) or peak, can overflow:
       such outputs are NaN (null), never ±Inf (gpx__fin). */
    double money = gpx__fin(E - c->peak);
    /* (E - peak)/peak rather than E/peak - 1: same value, no cancellation. */
    double dd = c->peak > 0 ? gpx__fin(money / c->peak) : NAN;
    /* R = E/E(from) - 1 = C/E(from), again without cancellation. */
    double r = c->base > 0 ? gpx__fin(C / c->base) : NAN;
    if (lower(dd, c->max_dd)) c->max_dd = dd;
    if (money < c->max_dd_amount) c->max_dd_amount = money;

    int64_t b = c->bucket_ns > 0 ? bucket_of(c, ts[i]) : 0;
    if (c->bucket_open && (c->bucket_ns == 0 || b != c->bucket_idx)) {
      c->pts[c->npts++] = c->cur; /* reserved in pass 1 */
      c->bucket_open = 0;
    }
    gpx_curve_point pt = {ts[i], gpx__fin(E), gpx__fin(C), r, ts[i], dd, ts[i], money};
    if (!c->bucket_open) {
      c->bucket_open = 1;
      c->bucket_idx = b;
      c->cur = pt;
    } else {
      fold_point(&c->cur, &pt);
    }
  }
  /* Pass 1 counted buckets of skipped trades too, so this never overflows. */
  return GPX_OK;
}

int gpx_curve_finish(gpx_curve *c, gpx_error *err) {
  if (!c->bucket_open) return GPX_OK;
  GPX_RETURN_NOT_OK(reserve(c, 1, err));
  c->pts[c->npts++] = c->cur;
  c->bucket_open = 0;
  return GPX_OK;
}
