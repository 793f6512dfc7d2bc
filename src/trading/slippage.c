/*
** slippage.c — execution slippage in basis points (trading-metrics.md §3).
**
** Per leg with an expected price: a buying leg (long entry, short exit) pays
** (fill - expected)/expected·1e4, a selling leg (long exit, short entry)
** (expected - fill)/expected·1e4; positive = adverse. Averages are weighted
** by notional = |qty|·expected. Legs without a usable expected price are
** skipped, never counted as 0.
*/
#include <ctype.h>
#include <math.h>
#include <strings.h>

#include "gpx/trading.h"
#include "trading/trading_int.h"

gpx_side gpx_side_parse(const char *s) {
  if (!s) return GPX_SIDE_UNKNOWN;
  while (isspace((unsigned char)*s)) s++;
  size_t n = strlen(s);
  while (n > 0 && isspace((unsigned char)s[n - 1])) n--;
  if (n == 4 && strncasecmp(s, "long", 4) == 0) return GPX_SIDE_LONG;
  if (n == 5 && strncasecmp(s, "short", 5) == 0) return GPX_SIDE_SHORT;
  /* a bot that records the entry order's side: buying opens a long */
  if (n == 3 && strncasecmp(s, "buy", 3) == 0) return GPX_SIDE_LONG;
  if (n == 4 && strncasecmp(s, "sell", 4) == 0) return GPX_SIDE_SHORT;
  return GPX_SIDE_UNKNOWN;
}

double gpx_leg_slippage_bps(int buying, double fill, double expected) {
  if (!isfinite(fill) || !isfinite(expected) || expected <= 0) return NAN;
  double d = buying ? fill - expected : expected - fill;
  double bps = d / expected * 1e4; /* overflows to ±Inf for a tiny expected price */
  return isfinite(bps) ? bps : NAN;
}

/* Adds one leg; returns 1 when added. */
static int add_leg(gpx_slippage_acc *a, int buying, double qty, double fill, double expected) {
  double bps = gpx_leg_slippage_bps(buying, fill, expected);
  if (isnan(bps) || !isfinite(qty) || qty == 0) return 0;
  double w = fabs(qty) * expected;
  if (!isfinite(w) || !isfinite(w * bps)) return 0;
  gpx__nsum(&a->sum_wbps, &a->comp_wbps, w * bps);
  gpx__nsum(&a->sum_w, &a->comp_w, w);
  a->legs++;
  return 1;
}

int gpx_slippage_add_trade(gpx_slippage_acc *a, gpx_side side, double qty,
                           double entry, double exit, double exp_entry,
                           double exp_exit) {
  if (!a || (side != GPX_SIDE_LONG && side != GPX_SIDE_SHORT)) return 0;
  int long_side = side == GPX_SIDE_LONG;
  /* A long buys to enter and sells to exit; a short the reverse. */
  return add_leg(a, long_side, qty, entry, exp_entry) + add_leg(a, !long_side, qty, exit, exp_exit);
}

/* For a long, the entry is the buying leg: Σ (fill − expected)·|qty|·1e4 =
   (Σ fill·|qty| − Σ expected·|qty|)·1e4 over entry legs with an expected
   price, and the weights are Σ expected·|qty|. A short mirrors both legs. */
int gpx_slippage_add_sums(gpx_slippage_acc *a, gpx_side side, double fill_entry, double exp_entry,
                          double fill_exit, double exp_exit, int64_t legs) {
  if (!a || (side != GPX_SIDE_LONG && side != GPX_SIDE_SHORT) || legs <= 0) return 0;
  double s = side == GPX_SIDE_LONG ? 1.0 : -1.0;
  if (!isfinite(fill_entry)) fill_entry = 0;
  if (!isfinite(exp_entry)) exp_entry = 0;
  if (!isfinite(fill_exit)) fill_exit = 0;
  if (!isfinite(exp_exit)) exp_exit = 0;
  double wbps = s * ((fill_entry - exp_entry) + (exp_exit - fill_exit)) * 1e4;
  double w = exp_entry + exp_exit;
  if (!isfinite(wbps) || !isfinite(w) || w <= 0) return 0;
  gpx__nsum(&a->sum_wbps, &a->comp_wbps, wbps);
  gpx__nsum(&a->sum_w, &a->comp_w, w);
  a->legs += legs;
  return 1;
}

void gpx_slippage_merge(gpx_slippage_acc *into, const gpx_slippage_acc *from) {
  if (!into || !from || from->legs == 0) return;
  gpx__nsum(&into->sum_wbps, &into->comp_wbps, from->sum_wbps);
  gpx__nsum(&into->sum_wbps, &into->comp_wbps, from->comp_wbps);
  gpx__nsum(&into->sum_w, &into->comp_w, from->sum_w);
  gpx__nsum(&into->sum_w, &into->comp_w, from->comp_w);
  into->legs += from->legs;
}

double gpx_slippage_mean(const gpx_slippage_acc *a) {
  if (!a || a->legs == 0) return NAN;
  double w = a->sum_w + a->comp_w;
  if (!(w > 0)) return NAN;
  double m = (a->sum_wbps + a->comp_wbps) / w;
  return isfinite(m) ? m : NAN;
}

double gpx_trade_slippage_bps(gpx_side side, double qty, double entry,
                              double exit, double exp_entry, double exp_exit) {
  gpx_slippage_acc a = {0};
  gpx_slippage_add_trade(&a, side, qty, entry, exit, exp_entry, exp_exit);
  return gpx_slippage_mean(&a);
}
