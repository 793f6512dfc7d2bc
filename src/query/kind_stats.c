/*
** kind_stats.c — stats: one numeric-wide frame with one field per metric
** and group (docs/query-model.md), which stat panels and alert rules
** reduce per group. Inputs: E(from), the daily series, slippage sums and
** the per-trade curve (max drawdown, trade aggregates) — trading/stats.c
** computes the numbers.
*/
#include <stdio.h>

#include "query_int.h"

static const char *const gpx__stat_display[GPX_STATS_NFIELDS] = {
    "Total P&L", "Total return", "Portfolio value", "Trade count", "Win rate", "Profit factor",
    "Payoff ratio", "Expectancy", "Max drawdown", "Max drawdown (money)", "Sharpe ratio", "Sortino ratio",
    "Calmar ratio", "Annual return (CAGR)", "Annual volatility", "Average slippage", "Daily loss (today)",
    "Worst day", "Best day"};

static const char *gpx__stat_unit(int i, const char *cur) {
  const char *name = gpx_stats_field_names[i];
  if (!strcmp(name, "total_pnl") || !strcmp(name, "equity") || !strcmp(name, "expectancy") ||
      !strcmp(name, "max_drawdown_amount") || !strcmp(name, "daily_loss") || !strcmp(name, "worst_day") ||
      !strcmp(name, "best_day"))
    return cur;
  if (!strcmp(name, "total_return") || !strcmp(name, "win_rate") || !strcmp(name, "max_drawdown") ||
      !strcmp(name, "cagr") || !strcmp(name, "annual_volatility"))
    return "percentunit";
  if (!strcmp(name, "avg_slippage_bps")) return "suffix: bps";
  return "none";
}

/* Slippage needs the optional side/qty/price columns: a table without them
   (a mapping error, 400) still gets every other number, with a notice. */
static int gpx__load_slippage(gpx_qrun *r, int *missing) {
  gpx_pg_error pe;
  *missing = 0;
  /* one bucket over the whole range */
  int rc = gpx_qrun_load_slippage(r, (r->q->to_ms - r->q->from_ms) * 1000000 + 1, 0, &pe);
  if (rc == GPX_OK || pe.status == GPX_PG_OK) return rc;
  gpx_query_error e;
  gpx_query_error_from_pg(&pe, r->s->query_timeout_s, &e);
  if (e.status != 400) return gpx_qrun_fail_pg(r, &pe);
  *missing = 1;
  return GPX_OK;
}

int gpx_kind_stats_run(gpx_qrun *r) {
  int no_slippage = 0;
  int rc = gpx_qrun_load_base(r);
  if (rc == GPX_OK) rc = gpx_qrun_load_days(r);
  if (rc == GPX_OK) rc = gpx_qrun_load_daily(r);
  if (rc == GPX_OK) rc = gpx__load_slippage(r, &no_slippage);
  /* one bucket: the curve only carries the drawdown and trade aggregates */
  if (rc == GPX_OK) rc = gpx_qrun_stream_curves(r, (r->q->to_ms - r->q->from_ms) * 1000000 + 1, 0);
  if (rc == GPX_OK && (rc = gpx_groups_order(&r->groups)) != GPX_OK) return gpx_qrun_fail(r, rc, "stats", NULL);
  if (rc != GPX_OK) return rc;
  char cur[32];
  gpx_qrun_currency_unit(r, cur, sizeof cur);
  gpx_analytics_opts o;
  gpx_analytics_opts_default(&o);
  o.trading_days = (gpx_trading_days)r->q->a.trading_days;
  o.annualization = r->q->a.annualization;
  o.risk_free_rate = r->q->a.risk_free_rate;
  gpx_frame f;
  gpx_frame_init(&f);
  gpx_error err;
  rc = gpx_frame_set_name(&f, "stats", &err);
  if (rc == GPX_OK) rc = gpx_frame_set_type(&f, GPX_FRAME_TYPE_NUMERIC_WIDE, 0, 1, &err);
  for (size_t i = 0; i < r->groups.n && rc == GPX_OK; i++) {
    const gpx_qgroup *g = &r->groups.g[i];
    gpx_daily d = {0};
    if ((rc = gpx_qrun_build_daily(r, g, &d)) != GPX_OK) {
      gpx_frame_reset(&f);
      return rc;
    }
    gpx_drawdown_summary dd = gpx_curve_drawdown(&g->curve);
    gpx_stats st;
    rc = gpx_stats_compute(gpx_qrun_base_equity(r, g), &g->curve.agg, &dd, &d, r->today, &g->slip, &o, &st, &err);
    gpx_daily_reset(&d);
    for (int m = 0; m < r->q->n_metrics && rc == GPX_OK; m++) {
      int idx = r->q->metrics[m];
      gpx_field *fl = gpx_qrun_value_field(r, &f, g, gpx_stats_field_names[idx], gpx__stat_unit(idx, cur),
                                           gpx__stat_display[idx], &err);
      rc = fl == NULL ? EINVAL : gpx_field_append_f64(fl, gpx_stats_get(&st, (size_t)idx), &err);
    }
  }
  if (rc == GPX_OK && no_slippage)
    rc = gpx_frame_add_notice(&f, GPX_NOTICE_INFO,
                              "avg_slippage_bps is null: the table lacks the side/qty/price columns it needs", &err);
  return gpx_qrun_finish_frame(r, &f, rc, &err);
}
