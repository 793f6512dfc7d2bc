/*
** kind_rolling.c — rolling: one metric (`metric`: sharpe, sortino,
** volatility, return, pnl, win_rate, profit_factor) over the `window`
** days of the daily series (per `tradingDays`) ending at each day; null
** until a full window exists. One point per day, at the same instants as
** daily_pnl, one series per group.
**
** Data: the daily sums per local day (with each day's wins and losses for
** win_rate and profit_factor) and E(from): for the trade ratios,
** ungrouped, folded by the one-pass read (stream.c: the fold cache serves
** it), else Postgres' sums per local day (gpx_qrun_load_day_sums). trading/rolling.c
** slides the window in O(days) with the formulas of `stats`.
*/
#include <stdio.h>
#include <stdlib.h>

#include "query_int.h"

static const char *const gpx__display[GPX_ROLL_COUNT] = {
    "Sharpe ratio", "Sortino ratio", "volatility", "return", "P&L", "win rate", "profit factor"};

static const char *gpx__unit(gpx_rolling_metric m, const char *cur) {
  switch (m) {
    case GPX_ROLL_VOLATILITY:
    case GPX_ROLL_RETURN:
    case GPX_ROLL_WIN_RATE: return "percentunit";
    case GPX_ROLL_PNL: return cur;
    default: return "none";
  }
}

/* One group's series: its daily series, the metric per day, the frame. */
static int gpx__group(gpx_qrun *r, const gpx_qgroup *g, gpx_rolling_metric m, int on_trades,
                      const gpx_analytics_opts *o, const char *cur) {
  gpx_daily d = {0};
  int rc = gpx_qrun_build_daily(r, g, &d);
  if (rc != GPX_OK) return rc;
  size_t n = d.n ? d.n : 1;
  int64_t *ts = malloc(n * sizeof *ts);
  double *v = malloc(n * sizeof *v);
  gpx_trade_agg *agg = on_trades ? calloc(n, sizeof *agg) : NULL;
  gpx_error err;
  if (ts == NULL || v == NULL || (on_trades && agg == NULL)) rc = gpx_qrun_fail(r, ENOMEM, "rolling", NULL);
  else if (agg && (rc = gpx_daily_spread_agg(&d, g->day, g->dagg, g->nd, agg, &err)) != GPX_OK)
    rc = gpx_qrun_fail(r, rc, "rolling", err.msg);
  else if ((rc = gpx_rolling(&d, agg, m, (size_t)r->q->window, o, v, &err)) != GPX_OK)
    rc = gpx_qrun_fail(r, rc, "rolling", err.msg);
  if (rc == GPX_OK) {
    char field[64], display[96];
    snprintf(field, sizeof field, "rolling_%s", gpx_rolling_metric_names[m]);
    snprintf(display, sizeof display, "Rolling %d-day %s", r->q->window, gpx__display[m]);
    for (size_t k = 0; k < d.n; k++) ts[k] = gpx_qrun_day_start_ns(r, d.day[k]);
    rc = gpx_qrun_series_frame(r, g, field, gpx__unit(m, cur), display, ts, v, d.n);
  }
  free(ts);
  free(v);
  free(agg);
  gpx_daily_reset(&d);
  return rc;
}

static int gpx__on_trades(gpx_rolling_metric m) { return m == GPX_ROLL_WIN_RATE || m == GPX_ROLL_PROFIT_FACTOR; }

/* What the one-pass read folds: the daily sums, with each day's wins and
   losses for the trade ratios. */
void gpx_kind_rolling_need(const gpx_query *q, gpx_stream_need *need) {
  memset(need, 0, sizeof *need);
  need->days = 1;
  need->day_aggs = gpx__on_trades((gpx_rolling_metric)q->rolling_metric);
}

int gpx_kind_rolling_run(gpx_qrun *r) {
  gpx_rolling_metric m = (gpx_rolling_metric)r->q->rolling_metric;
  int on_trades = gpx__on_trades(m);
  gpx_stream_need need;
  gpx_kind_rolling_need(r->q, &need);
  /* P&L and the trade ratios need no E(from) */
  /* on the read only for the trade ratios, ungrouped: else the GROUP BY is faster (load.c) */
  int rc = gpx_qrun_load_day_sums(r, &need, !on_trades && m != GPX_ROLL_PNL, on_trades && r->q->group_by == GPX_GROUP_NONE);
  gpx_analytics_opts o;
  gpx_analytics_opts_default(&o);
  o.trading_days = (gpx_trading_days)r->q->a.trading_days;
  o.annualization = r->q->a.annualization;
  o.risk_free_rate = r->q->a.risk_free_rate;
  char cur[32];
  gpx_qrun_currency_unit(r, cur, sizeof cur);
  for (size_t i = 0; i < r->groups.n && rc == GPX_OK; i++) rc = gpx__group(r, &r->groups.g[i], m, on_trades, &o, cur);
  return rc;
}
