/*
** tradestats.c — the trade statistics of the stats frame that the curve
** does not carry: largest and average win/loss, gross profit/loss, streaks,
** holding times, SQN, long/short counts and win rates, exposure — folded per
** trade from the ordered stream — and the order-free leg columns (slippage,
** volume, fees). Definitions: docs/analytics.md "Trade statistics".
**
** Streaks and exposure are why this needs the (closed_at, trade_id) order.
** Exposure is the measure of the union of [max(opened_at, from), closed_at]:
** the intervals arrive ordered by their end, so the covered stretches are
** kept as disjoint spans in ascending order and a new interval can only
** merge with a suffix of them (every earlier span ends no later than it).
** What this is not: the drawdown or the daily series (curve.c, daily.c).
*/
#include <float.h>
#include <math.h>
#include <stdlib.h>

#include "gpx/trading.h"
#include "trading/trading_int.h"

void gpx_trade_acc_init(gpx_trade_acc *a, int64_t from_ns) {
  memset(a, 0, sizeof *a);
  a->from_ns = from_ns;
  a->largest_win = NAN;
  a->largest_loss = NAN;
}

void gpx_trade_acc_reset(gpx_trade_acc *a) {
  free(a->spans);
  memset(a, 0, sizeof *a);
}

int64_t gpx_trade_acc_streak(const gpx_trade_acc *a) {
  return a->win_run > 0 ? a->win_run : -a->loss_run;
}

static int reserve_spans(gpx_trade_acc *a, size_t extra, gpx_error *err) {
  if (extra <= a->capspans - a->nspans) return GPX_OK;
  size_t need = a->nspans + extra, cap = a->capspans ? a->capspans : 64;
  while (cap < need) {
    if (cap > SIZE_MAX / 2 / sizeof *a->spans) return gpx_error_set(err, ENOMEM, "trade stats: too many spans");
    cap *= 2;
  }
  gpx_span *p = realloc(a->spans, cap * sizeof *p);
  if (p == NULL) return gpx_error_set(err, ENOMEM, "trade stats: out of memory for %zu exposure spans", cap);
  a->spans = p;
  a->capspans = cap;
  return GPX_OK;
}

/* Add [s, e] to the union; every span already kept ends at or before e.
   Memory is bounded: past GPX_TRADE_SPANS_MAX disjoint spans (a bot that
   holds one position at a time makes one per trade) the older half is let
   go — counted, no longer open to merging — and later intervals start no
   earlier than where it ended. Exact unless a trade closes after more than
   GPX_TRADE_SPANS_MAX / 2 disjoint stretches passed since it opened. */
static void cover(gpx_trade_acc *a, int64_t s, int64_t e) {
  if (s < a->from_ns) s = a->from_ns;
  if (s < a->floor_ns) s = a->floor_ns;
  if (s >= e) return; /* empty (opened after closed) or a point: no measure */
  while (a->nspans > 0 && a->spans[a->nspans - 1].end >= s) {
    gpx_span *top = &a->spans[--a->nspans];
    if (top->start < s) s = top->start;
    a->covered_ns -= top->end - top->start;
  }
  a->spans[a->nspans++] = (gpx_span){s, e}; /* reserved by the caller */
  a->covered_ns += e - s;
  if (a->nspans > GPX_TRADE_SPANS_MAX) {
    size_t drop = a->nspans / 2;
    a->floor_ns = a->spans[drop - 1].end;
    memmove(a->spans, a->spans + drop, (a->nspans - drop) * sizeof *a->spans);
    a->nspans -= drop;
  }
}

static void add_hold(gpx_trade_acc *a, int k, double seconds) {
  gpx__nsum(&a->hold[k], &a->hold_comp[k], seconds);
  a->hold_n[k]++;
}

int gpx_trade_acc_push(gpx_trade_acc *a, const gpx_trade *t, size_t n, gpx_error *err) {
  if (n == 0) return GPX_OK;
  if (t == NULL) return gpx_error_set(err, EINVAL, "trade stats: NULL input");
  /* validate first and reserve, so a failed push changes nothing */
  int64_t prev = a->last_closed;
  int have = a->have_last;
  for (size_t i = 0; i < n; i++) {
    if (have && t[i].closed_ns < prev)
      return gpx_error_set(err, EINVAL, "trade stats: closed_at goes backwards at row %zu (not ordered)", i);
    prev = t[i].closed_ns;
    have = 1;
  }
  GPX_RETURN_NOT_OK(reserve_spans(a, n, err));
  for (size_t i = 0; i < n; i++) {
    const gpx_trade *x = &t[i];
    a->last_closed = x->closed_ns;
    a->have_last = 1;
    double p = x->pnl;
    if (!isfinite(p)) {
      a->skipped++;
      continue;
    }
    a->count++;
    /* Welford: the mean and Σ(p − mean)² in one pass, stable for any order of magnitude */
    double d = p - a->mean;
    a->mean += d / (double)a->count;
    a->m2 += d * (p - a->mean);
    if (a->count == 1 || p < a->lo) a->lo = p;
    if (a->count == 1 || p > a->hi) a->hi = p;
    int kind = 0; /* holding-time bucket besides "all": 1 win, 2 loss */
    if (p > 0) {
      a->wins++;
      gpx__nsum(&a->gross_win, &a->gwcomp, p);
      if (!(p <= a->largest_win)) a->largest_win = p; /* NaN at first */
      a->win_run++;
      a->loss_run = 0;
      if (a->win_run > a->max_win_run) a->max_win_run = a->win_run;
      kind = 1;
    } else if (p < 0) {
      a->losses++;
      gpx__nsum(&a->gross_loss, &a->glcomp, p);
      if (!(p >= a->largest_loss)) a->largest_loss = p;
      a->loss_run++;
      a->win_run = 0;
      if (a->loss_run > a->max_loss_run) a->max_loss_run = a->loss_run;
      kind = 2;
    } else {
      a->win_run = a->loss_run = 0; /* a zero-P&L trade ends both streaks */
    }
    if (x->side == GPX_SIDE_LONG) {
      a->long_n++;
      a->long_wins += p > 0;
    } else if (x->side == GPX_SIDE_SHORT) {
      a->short_n++;
      a->short_wins += p > 0;
    }
    if (x->has_opened) {
      double held = (double)(x->closed_ns - x->opened_ns) / 1e9;
      add_hold(a, 0, held);
      if (kind) add_hold(a, kind, held);
      cover(a, x->opened_ns, x->closed_ns);
    }
  }
  return GPX_OK;
}

/* One leg into the slippage sums, the rules of gpx_slippage_add_trade
   (slippage.c): notional·bps = |qty|·s·(fill − expected)·1e4 directly, the
   notional-weighted form without the division and the multiplication back
   (a million trades per read; the same value within rounding). */
static void add_leg(gpx_slippage_acc *a, int buying, double aq, double fill, double expected) {
  if (!isfinite(fill) || !isfinite(expected) || !(expected > 0)) return;
  double w = aq * expected, wb = aq * (buying ? fill - expected : expected - fill) * 1e4;
  if (!isfinite(w) || !isfinite(wb)) return;
  gpx__nsum(&a->sum_wbps, &a->comp_wbps, wb);
  gpx__nsum(&a->sum_w, &a->comp_w, w);
  a->legs++;
}

void gpx_legs_add(gpx_legs_acc *a, gpx_side side, double qty, double entry, double exit, double exp_entry,
                  double exp_exit, double fees) {
  a->trades++;
  if ((side == GPX_SIDE_LONG || side == GPX_SIDE_SHORT) && isfinite(qty) && qty != 0) {
    int long_side = side == GPX_SIDE_LONG; /* a long buys to enter and sells to exit */
    add_leg(&a->slip, long_side, fabs(qty), entry, exp_entry);
    add_leg(&a->slip, !long_side, fabs(qty), exit, exp_exit);
  }
  double v = qty * (entry + exit);
  if (isfinite(v)) gpx__nsum(&a->volume, &a->vcomp, v);
  if (isfinite(fees)) gpx__nsum(&a->fees, &a->fcomp, fees);
}
