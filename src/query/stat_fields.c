/*
** stat_fields.c — the stats fields described once: display name, unit,
** and what each needs from the one-pass read (the daily series, optional
** columns, the legs read). stats, breakdown and alert rules (through stats)
** read their fields from here; trading/stats.c computes them. The field
** names and their order are gpx_stats_field_names (docs/query-model.md).
*/
#include <math.h>
#include <stdio.h>

#include "query_int.h"

#define BIT(c) (UINT32_C(1) << (c))
#define SIDE BIT(GPX_COL_SIDE)
#define OPENED BIT(GPX_COL_OPENED_AT)
#define PRICES (BIT(GPX_COL_QTY) | BIT(GPX_COL_ENTRY_PRICE) | BIT(GPX_COL_EXIT_PRICE))
#define EXPECTED (BIT(GPX_COL_EXPECTED_ENTRY_PRICE) | BIT(GPX_COL_EXPECTED_EXIT_PRICE))

#define NONE GPX_STAT_UNIT_NONE
#define MONEY GPX_STAT_UNIT_MONEY
#define FRAC GPX_STAT_UNIT_FRACTION
#define BPS GPX_STAT_UNIT_BPS
#define SEC GPX_STAT_UNIT_SECONDS

/* display name, unit, daily series, from the legs read, optional columns */
const gpx_stat_field gpx_stat_fields[GPX_STATS_NFIELDS] = {
    {"Total P&L", MONEY, 0, 0, 0},
    {"Total return", FRAC, 0, 0, 0},
    {"Portfolio value", MONEY, 0, 0, 0},
    {"Trade count", NONE, 0, 0, 0},
    {"Win rate", FRAC, 0, 0, 0},
    {"Profit factor", NONE, 0, 0, 0},
    {"Payoff ratio", NONE, 0, 0, 0},
    {"Expectancy", MONEY, 0, 0, 0},
    {"Max drawdown", FRAC, 0, 0, 0},
    {"Max drawdown (money)", MONEY, 0, 0, 0},
    {"Sharpe ratio", NONE, 1, 0, 0},
    {"Sortino ratio", NONE, 1, 0, 0},
    {"Calmar ratio", NONE, 1, 0, 0},
    {"Annual return (CAGR)", FRAC, 1, 0, 0},
    {"Annual volatility", FRAC, 1, 0, 0},
    {"Average slippage", BPS, 0, 1, SIDE | PRICES | EXPECTED},
    {"Daily loss (today)", MONEY, 1, 0, 0},
    {"Worst day", MONEY, 1, 0, 0},
    {"Best day", MONEY, 1, 0, 0},
    {"Largest win", MONEY, 0, 0, 0},
    {"Largest loss", MONEY, 0, 0, 0},
    {"Average win", MONEY, 0, 0, 0},
    {"Average loss", MONEY, 0, 0, 0},
    {"Gross profit", MONEY, 0, 0, 0},
    {"Gross loss", MONEY, 0, 0, 0},
    {"Max winning streak", NONE, 0, 0, 0},
    {"Max losing streak", NONE, 0, 0, 0},
    {"Current streak", NONE, 0, 0, 0},
    {"Total fees", MONEY, 0, 1, BIT(GPX_COL_FEES)},
    {"Average holding time", SEC, 0, 0, OPENED},
    {"Average holding time (wins)", SEC, 0, 0, OPENED},
    {"Average holding time (losses)", SEC, 0, 0, OPENED},
    {"SQN", NONE, 0, 0, 0},
    {"Long trades", NONE, 0, 0, SIDE},
    {"Short trades", NONE, 0, 0, SIDE},
    {"Long win rate", FRAC, 0, 0, SIDE},
    {"Short win rate", FRAC, 0, 0, SIDE},
    {"Exposure", FRAC, 0, 0, OPENED},
    {"Current drawdown", FRAC, 0, 0, 0},
    {"Recovery factor", NONE, 0, 0, 0},
    {"Volume", MONEY, 0, 1, PRICES},
};

const char *gpx_stat_unit(const gpx_qrun *r, int i, char *buf, size_t cap) {
  switch (gpx_stat_fields[i].unit) {
    case GPX_STAT_UNIT_MONEY: gpx_qrun_currency_unit(r, buf, cap); return buf;
    case GPX_STAT_UNIT_FRACTION: return "percentunit";
    case GPX_STAT_UNIT_BPS: return "suffix: bps";
    case GPX_STAT_UNIT_SECONDS: return "s";
    default: return "none";
  }
}

void gpx_stats_need(const int *metrics, int n, gpx_stream_need *need) {
  memset(need, 0, sizeof *need);
  need->trades = 1;
  for (int m = 0; m < n; m++) {
    const gpx_stat_field *f = &gpx_stat_fields[metrics[m]];
    need->days |= f->daily;
    if (f->legs) need->leg_cols |= f->cols;
    else need->ordered_cols |= f->cols;
  }
}

int gpx_qrun_group_stats(gpx_qrun *r, const gpx_qgroup *g, const gpx_stream_need *need, gpx_stats *st) {
  gpx_analytics_opts o;
  gpx_analytics_opts_default(&o);
  o.trading_days = (gpx_trading_days)r->q->a.trading_days;
  o.annualization = r->q->a.annualization;
  o.risk_free_rate = r->q->a.risk_free_rate;
  gpx_daily d = {0};
  int rc = need->days ? gpx_qrun_build_daily(r, g, &d) : GPX_OK;
  if (rc != GPX_OK) return rc;
  gpx_drawdown_summary dd = gpx_curve_drawdown(&g->curve);
  gpx_error err;
  rc = gpx_stats_compute(gpx_qrun_base_equity(r, g), &g->curve.agg, &dd, &d, need->days ? r->today : 0, NULL, &o,
                         st, &err);
  gpx_daily_reset(&d);
  if (rc != GPX_OK) return gpx_qrun_fail(r, rc, "stats", err.msg);
  gpx_stats_compute_trades(&g->trades, need->legs_read ? &g->legs : NULL, &g->curve,
                           (r->q->to_ms - r->q->from_ms) * 1000000, st);
  /* a number whose columns the table lacks is null, not a number of nothing */
  for (int i = 0; i < GPX_STATS_NFIELDS; i++) {
    if (!(gpx_stat_fields[i].cols & r->q->missing)) continue;
    double nan = NAN;
    memcpy((char *)st + (size_t)i * sizeof(double), &nan, sizeof nan); /* gpx_stats is double[GPX_STATS_NFIELDS] */
  }
  return GPX_OK;
}

size_t gpx_col_describe(const gpx_ds_settings *s, gpx_col c, const char *sep, char *buf, size_t cap) {
  if (cap == 0) return 0;
  const char *col = s->columns[c].name[0];
  int n = s->columns[c].n == 0
              ? snprintf(buf, cap, "%s%s (jsonData.columns.%s is null)", sep, gpx_col_names[c], gpx_col_names[c])
              : snprintf(buf, cap, "%s%.*s", sep, (int)gpx_utf8_clip(col, 64), col);
  return n < 0 ? 0 : (size_t)n < cap ? (size_t)n : cap;
}

int gpx_columns_missing_notice(const gpx_qrun *r, uint32_t cols, const char *what, gpx_frame *f, gpx_error *err) {
  cols &= r->q->missing;
  if (!cols) return GPX_OK;
  char names[600] = "";
  size_t off = 0;
  int nc = 0;
  for (int c = 0; c < GPX_COL_COUNT; c++)
    if ((cols & BIT(c)) && off < sizeof names) off += gpx_col_describe(r->s, (gpx_col)c, nc++ ? ", " : "", names + off, sizeof names - off);
  char msg[900];
  snprintf(msg, sizeof msg, "%s null: the table has no column%s %s (see the data source's column mapping)", what,
           nc == 1 ? "" : "s", names);
  gpx_utf8_scrub(msg);
  return gpx_frame_add_notice(f, GPX_NOTICE_INFO, msg, err);
}

int gpx_stats_missing_notice(const gpx_qrun *r, const int *metrics, int n, gpx_frame *f, gpx_error *err) {
  uint32_t cols = 0;
  char fields[600] = "";
  size_t off = 0;
  int nf = 0;
  for (int m = 0; m < n; m++) {
    uint32_t c = gpx_stat_fields[metrics[m]].cols & r->q->missing;
    if (!c) continue;
    cols |= c;
    if (off < sizeof fields)
      off += (size_t)snprintf(fields + off, sizeof fields - off, "%s%s", nf++ ? ", " : "", gpx_stats_field_names[metrics[m]]);
  }
  if (!cols) return GPX_OK;
  char names[600] = "";
  off = 0;
  int nc = 0;
  for (int c = 0; c < GPX_COL_COUNT; c++) {
    if (!(cols & BIT(c)) || off >= sizeof names) continue;
    off += gpx_col_describe(r->s, (gpx_col)c, nc++ ? ", " : "", names + off, sizeof names - off);
  }
  char msg[1300];
  snprintf(msg, sizeof msg, "%s %s null: the table has no column%s %s (see the data source's column mapping)", fields,
           nf == 1 ? "is" : "are", nc == 1 ? "" : "s", names);
  gpx_utf8_scrub(msg);
  return gpx_frame_add_notice(f, GPX_NOTICE_INFO, msg, err);
}
