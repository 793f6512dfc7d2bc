/*
** kinds.c — the registry of query kinds: the one list of them.
**
** Each row says everything the rest of the plugin knows of a kind: its
** queryType name, a description (for the editor and docs), the options it
** reads, its frame type and its runner. Parsing, dispatch, the metrics'
** query_type label and the list in error messages all derive from this
** table. Adding a kind = one kind_*.c file + one row here + tests + docs
** (docs/adding-a-query-kind.md).
*/
#include <pthread.h>
#include <stdio.h>

#include "query_int.h"

/* The runners, one kind_*.c file per family. */
int gpx_kind_equity_run(gpx_qrun *r); /* kind_curve.c */
int gpx_kind_pnl_run(gpx_qrun *r);
int gpx_kind_returns_run(gpx_qrun *r);
int gpx_kind_drawdown_run(gpx_qrun *r);
void gpx_kind_drawdown_need(const gpx_query *q, gpx_stream_need *need);
int gpx_kind_daily_pnl_run(gpx_qrun *r); /* kind_daily.c */
int gpx_kind_pnl_distribution_run(gpx_qrun *r);
void gpx_kind_daily_need(const gpx_query *q, gpx_stream_need *need);
int gpx_kind_stats_run(gpx_qrun *r);      /* kind_stats.c */
void gpx_kind_stats_need(const gpx_query *q, gpx_stream_need *need);
int gpx_kind_slippage_run(gpx_qrun *r);   /* kind_slippage.c */
int gpx_kind_trades_run(gpx_qrun *r);     /* kind_trades.c */
int gpx_kind_trade_count_run(gpx_qrun *r); /* kind_trade_count.c */
int gpx_kind_period_returns_run(gpx_qrun *r); /* kind_periods.c */
void gpx_kind_period_returns_need(const gpx_query *q, gpx_stream_need *need);
int gpx_kind_rolling_run(gpx_qrun *r);    /* kind_rolling.c */
void gpx_kind_rolling_need(const gpx_query *q, gpx_stream_need *need);
int gpx_kind_drawdown_episodes_run(gpx_qrun *r); /* kind_episodes.c */
void gpx_kind_drawdown_episodes_need(const gpx_query *q, gpx_stream_need *need);
int gpx_kind_breakdown_run(gpx_qrun *r);   /* kind_breakdown.c */
void gpx_kind_breakdown_need(const gpx_query *q, gpx_stream_need *need);
int gpx_kind_annotations_run(gpx_qrun *r); /* kind_annotations.c */
int gpx_kind_test_frame_run(gpx_qrun *r); /* kind_test_frame.c */

#define F GPX_QOPT_FILTERS
#define G GPX_QOPT_GROUP_BY
#define A GPX_QOPT_ANALYTICS
#define L GPX_QOPT_LIVE
#define C GPX_QOPT_CACHE

const gpx_query_kind gpx_query_kinds[] = {
    {"equity", "Portfolio value E(t) = initial capital + all P&L up to t", F | G | A | L, 0, "timeseries-multi",
     gpx_kind_equity_run, NULL},
    {"pnl", "Cumulative P&L since the range start", F | G | A | L, 0, "timeseries-multi", gpx_kind_pnl_run, NULL},
    {"daily_pnl", "P&L per calendar day in the time zone, every day of the range", F | G | A | L | C, 0,
     "timeseries-multi", gpx_kind_daily_pnl_run, gpx_kind_daily_need},
    {"drawdown", "Drawdown from the running peak per trade (fraction or money)", F | G | A | GPX_QOPT_DRAWDOWN_MODE | L | C,
     0, "timeseries-multi", gpx_kind_drawdown_run, gpx_kind_drawdown_need},
    {"returns", "Cumulative return E(t)/E(from) - 1", F | G | A | L, 0, "timeseries-multi", gpx_kind_returns_run, NULL},
    {"stats", "One row of performance statistics (Sharpe, max drawdown, win rate, ...)", F | G | A | GPX_QOPT_METRICS | L | C,
     0, "numeric-wide", gpx_kind_stats_run, gpx_kind_stats_need},
    {"pnl_distribution", "The daily P&L values, for a histogram", F | G | A | C, 0, "numeric-long",
     gpx_kind_pnl_distribution_run, gpx_kind_daily_need},
    {"slippage", "Notional-weighted average slippage in bps over time", F | G, 0, "timeseries-multi",
     gpx_kind_slippage_run, NULL},
    {"trades", "The trades, newest first, up to the row limit", F | GPX_QOPT_LIMIT | L, 0, "table", gpx_kind_trades_run, NULL},
    {"trade_count", "Number of trades closed per time bucket", F | G, 0, "timeseries-multi",
     gpx_kind_trade_count_run, NULL},
    {"period_returns", "Return, P&L and trades per calendar week, month, quarter or year (or the monthly-returns grid)",
     F | G | A | GPX_QOPT_PERIOD, 0, "timeseries-multi", gpx_kind_period_returns_run,
     gpx_kind_period_returns_need},
    {"rolling", "Sharpe, Sortino, volatility, return, P&L, win rate or profit factor over a sliding window of days",
     F | G | A | GPX_QOPT_ROLLING | C, 0, "timeseries-multi", gpx_kind_rolling_run, gpx_kind_rolling_need},
    {"drawdown_episodes", "The deepest drawdowns: when each started, bottomed and recovered, how deep and how long",
     F | G | A | GPX_QOPT_LIMIT | C, 0, "table", gpx_kind_drawdown_episodes_run, gpx_kind_drawdown_episodes_need},
    {"breakdown", "One row per group (strategy, symbol, ...): trades, P&L, win rate, Sharpe, ... sorted by P&L",
     F | G | A | GPX_QOPT_METRICS | L | C, 0, "table", gpx_kind_breakdown_run, gpx_kind_breakdown_need},
    {"annotations", "Events to mark on the time axis: trades, large losses, drawdown episodes or losing days",
     F | G | A | GPX_QOPT_EVENTS, 0, "table", gpx_kind_annotations_run, NULL},
    /* test-only kinds last: they are listed nowhere */
    {"__test_frame", "Test frames (GPX_TEST_QUERIES=1)", 0, GPX_QKIND_TEST_ONLY | GPX_QKIND_NO_DATASOURCE, "",
     gpx_kind_test_frame_run, NULL},
};

#undef C
#undef F
#undef G
#undef A
#undef L

#define GPX__NKINDS (sizeof gpx_query_kinds / sizeof gpx_query_kinds[0])
_Static_assert(GPX__NKINDS <= GPX_QUERY_KINDS_MAX, "raise GPX_QUERY_KINDS_MAX (query.h): the metrics tables size by it");

size_t gpx_query_kind_count(void) { return GPX__NKINDS; }

int gpx_query_kind_find(const char *name, int allow_test) {
  for (size_t i = 0; name && i < GPX__NKINDS; i++) {
    if (strcmp(name, gpx_query_kinds[i].name) != 0) continue;
    if ((gpx_query_kinds[i].flags & GPX_QKIND_TEST_ONLY) && !allow_test) return -1;
    return (int)i;
  }
  return -1;
}

static char gpx__list[GPX_QUERY_KINDS_MAX * 24];
static pthread_once_t gpx__list_once = PTHREAD_ONCE_INIT;

static void gpx__build_list(void) {
  size_t off = 0;
  for (size_t i = 0; i < GPX__NKINDS && off < sizeof gpx__list; i++) {
    if (gpx_query_kinds[i].flags & GPX_QKIND_TEST_ONLY) continue;
    off += (size_t)snprintf(gpx__list + off, sizeof gpx__list - off, "%s%s", off ? ", " : "", gpx_query_kinds[i].name);
  }
}

const char *gpx_query_kind_list(void) {
  pthread_once(&gpx__list_once, gpx__build_list);
  return gpx__list;
}
