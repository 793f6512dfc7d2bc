/*
** kind_curve.c — equity, pnl, returns and drawdown: one series per group
** from the per-trade curve (trading/curve.c).
**
** equity, pnl, returns: the last value of each bucket is E(from) plus the
** running sum of bucket sums, so Postgres returns one row per bucket and C
** cumulates; with no more trades than maxDataPoints, one row per trade.
** drawdown needs every trade in order (a bucket keeps its deepest point):
** the one-pass read (stream.c, curve mode, served by the fold cache) folds
** each trade and down-samples only once a group has more trades than
** maxDataPoints. Each line starts at the range start.
*/
#include <math.h>
#include <stdlib.h>

#include "query_int.h"

typedef enum { GPX__PT_EQUITY, GPX__PT_PNL, GPX__PT_RETURN, GPX__PT_DRAWDOWN, GPX__PT_DRAWDOWN_MONEY } gpx__pt_kind;

/* One series frame from a group's curve: a point at the range start with
   value `first`, one per curve point, and (extend) the last value repeated
   at the range end. Drawdown points sit at the time of each bucket's
   deepest trade, so troughs show; they are kept strictly increasing. */
static int gpx__curve_frame(gpx_qrun *r, const gpx_qgroup *g, gpx__pt_kind kind, double first, int extend,
                            const char *field, const char *unit, const char *display) {
  size_t n = g->curve.npts;
  int64_t *ts = malloc((n + 2) * sizeof *ts);
  double *v = malloc((n + 2) * sizeof *v);
  if (!ts || !v) {
    free(ts);
    free(v);
    return gpx_qrun_fail(r, ENOMEM, field, NULL);
  }
  size_t k = 0;
  ts[k] = r->q->from_ms * 1000000;
  v[k++] = first;
  for (size_t p = 0; p < n; p++, k++) {
    const gpx_curve_point *pt = &g->curve.pts[p];
    switch (kind) {
      case GPX__PT_EQUITY: ts[k] = pt->ts, v[k] = pt->equity; break;
      case GPX__PT_PNL: ts[k] = pt->ts, v[k] = pt->pnl; break;
      case GPX__PT_RETURN: ts[k] = pt->ts, v[k] = pt->ret; break;
      case GPX__PT_DRAWDOWN: ts[k] = pt->dd_ts, v[k] = pt->drawdown; break;
      case GPX__PT_DRAWDOWN_MONEY: ts[k] = pt->dd_amount_ts, v[k] = pt->drawdown_amount; break;
    }
    if (kind >= GPX__PT_DRAWDOWN && ts[k] <= ts[k - 1]) ts[k] = ts[k - 1] + 1;
  }
  if (extend && ts[k - 1] < r->q->to_ms * 1000000) {
    ts[k] = r->q->to_ms * 1000000;
    v[k] = v[k - 1];
    k++;
  }
  int rc = gpx_qrun_series_frame(r, g, field, unit, display, ts, v, k);
  free(ts);
  free(v);
  return rc;
}

/* equity / pnl / returns: last value of each bucket, from bucket sums. */
static int gpx__run_curve(gpx_qrun *r, gpx__pt_kind kind, const char *field, const char *display) {
  int rc = gpx_qrun_load_base(r);
  int64_t total = 0;
  if (rc == GPX_OK) rc = gpx_qrun_load_buckets(r, gpx_query_bucket_ns(r->q), &total);
  if (rc == GPX_OK && total <= r->q->max_points) {
    /* Few trades: one point per trade, no down-sampling. */
    for (size_t i = 0; i < r->groups.n; i++) r->groups.g[i].nt = 0;
    rc = gpx_qrun_load_trades(r);
  }
  if (rc == GPX_OK && (rc = gpx_groups_order(&r->groups)) != GPX_OK) return gpx_qrun_fail(r, rc, field, NULL);
  if (rc != GPX_OK) return rc;
  char cur[32];
  gpx_qrun_currency_unit(r, cur, sizeof cur);
  const char *unit = kind == GPX__PT_RETURN ? "percentunit" : cur;
  for (size_t i = 0; i < r->groups.n && rc == GPX_OK; i++) {
    gpx_qgroup *g = &r->groups.g[i];
    double e0 = gpx_qrun_base_equity(r, g);
    gpx_error err;
    /* Each SQL row (bucket or trade) is one point of the curve. */
    rc = gpx_curve_init(&g->curve, e0, r->q->from_ms * 1000000, 0, &err);
    if (rc == GPX_OK) rc = gpx_curve_push(&g->curve, g->ts, g->v, g->nt, &err);
    if (rc == GPX_OK) rc = gpx_curve_finish(&g->curve, &err);
    if (rc != GPX_OK) return gpx_qrun_fail(r, rc, field, err.msg);
    /* The range start carries E(from) (C = R = 0) so the line starts where
       the range does; the range end repeats the last value. */
    double first = kind == GPX__PT_EQUITY ? e0 : kind == GPX__PT_RETURN && !(e0 > 0) ? NAN : 0.0;
    rc = gpx__curve_frame(r, g, kind, first, 1, field, unit, display);
  }
  return rc;
}

int gpx_kind_equity_run(gpx_qrun *r) { return gpx__run_curve(r, GPX__PT_EQUITY, "equity", "Portfolio value"); }
int gpx_kind_pnl_run(gpx_qrun *r) { return gpx__run_curve(r, GPX__PT_PNL, "pnl", "Cumulative P&L"); }
int gpx_kind_returns_run(gpx_qrun *r) { return gpx__run_curve(r, GPX__PT_RETURN, "returns", "Cumulative return"); }

void gpx_kind_drawdown_need(const gpx_query *q, gpx_stream_need *need) {
  need->curve = 1;
  need->curve_bucket_ns = gpx_query_bucket_ns(q);
  need->curve_max = (size_t)q->max_points;
}

int gpx_kind_drawdown_run(gpx_qrun *r) {
  gpx_stream_need need = {0};
  gpx_kind_drawdown_need(r->q, &need);
  /* the one-pass read in curve mode (stream.c): base, trades, finished and ordered groups */
  int rc = gpx_qrun_load_stream(r, &need);
  if (rc != GPX_OK) return rc;
  char cur[32];
  gpx_qrun_currency_unit(r, cur, sizeof cur);
  int money = r->q->drawdown_money;
  for (size_t i = 0; i < r->groups.n && rc == GPX_OK; i++) {
    const gpx_qgroup *g = &r->groups.g[i];
    double first = gpx_qrun_base_equity(r, g) > 0 || money ? 0.0 : NAN;
    rc = gpx__curve_frame(r, g, money ? GPX__PT_DRAWDOWN_MONEY : GPX__PT_DRAWDOWN, first, 0, "drawdown",
                          money ? cur : "percentunit", "Drawdown");
  }
  return rc;
}
