/*
** kind_daily.c — daily_pnl and pnl_distribution: P&L per calendar day in
** the query's time zone, every day of the range (days without trades are
** 0; `weekdays` drops empty weekends). Postgres gives the local days'
** boundaries; ungrouped, the one-pass read (stream.c, so the fold cache
** serves it) sums each day's trades — grouped, Postgres sums per group and
** day (gpx_qrun_load_day_sums) — and C completes the calendar
** (trading/daily.c).
*/
#include <stdlib.h>

#include "query_int.h"

typedef int (*gpx__daily_frame_fn)(gpx_qrun *r, const gpx_qgroup *g, const gpx_daily *d, const char *cur);

/* What the one-pass read folds for daily_pnl and pnl_distribution: the
   daily sums only. */
void gpx_kind_daily_need(const gpx_query *q, gpx_stream_need *need) {
  (void)q;
  memset(need, 0, sizeof *need);
  need->days = 1;
}

/* Load the calendar and the daily sums (the read orders the groups), then
   one frame per group. */
static int gpx__run(gpx_qrun *r, gpx__daily_frame_fn frame) {
  gpx_stream_need need;
  gpx_kind_daily_need(r->q, &need);
  /* daily P&L needs no E(from); grouped, the GROUP BY is faster (load.c) */
  int rc = gpx_qrun_load_day_sums(r, &need, 0, r->q->group_by == GPX_GROUP_NONE);
  char cur[32];
  gpx_qrun_currency_unit(r, cur, sizeof cur);
  for (size_t i = 0; i < r->groups.n && rc == GPX_OK; i++) {
    gpx_daily d = {0};
    if ((rc = gpx_qrun_build_daily(r, &r->groups.g[i], &d)) == GPX_OK) rc = frame(r, &r->groups.g[i], &d, cur);
    gpx_daily_reset(&d);
  }
  return rc;
}

/* daily_pnl: a time series, each day's point at its local midnight as
   Postgres computed it. */
static int gpx__daily_pnl(gpx_qrun *r, const gpx_qgroup *g, const gpx_daily *d, const char *cur) {
  int64_t *ts = malloc((d->n ? d->n : 1) * sizeof *ts);
  if (ts == NULL) return gpx_qrun_fail(r, ENOMEM, "daily_pnl", NULL);
  for (size_t k = 0; k < d->n; k++) ts[k] = gpx_qrun_day_start_ns(r, d->day[k]);
  int rc = gpx_qrun_series_frame(r, g, "daily_pnl", cur, "Daily P&L", ts, d->pnl, d->n);
  free(ts);
  return rc;
}

/* pnl_distribution: the same values without time, for a histogram. */
static int gpx__distribution(gpx_qrun *r, const gpx_qgroup *g, const gpx_daily *d, const char *cur) {
  gpx_frame f;
  gpx_frame_init(&f);
  gpx_error err;
  int rc = gpx_frame_set_name(&f, g->name ? g->name : "pnl_distribution", &err);
  if (rc == GPX_OK) rc = gpx_frame_set_type(&f, GPX_FRAME_TYPE_NUMERIC_LONG, 0, 1, &err);
  gpx_field *vf = rc == GPX_OK ? gpx_qrun_value_field(r, &f, g, "daily_pnl", cur, "Daily P&L", &err) : NULL;
  if (rc == GPX_OK && vf == NULL) rc = EINVAL;
  if (rc == GPX_OK) rc = gpx_field_append_f64s(vf, d->pnl, d->n, &err);
  return gpx_qrun_finish_frame(r, &f, rc, &err);
}

int gpx_kind_daily_pnl_run(gpx_qrun *r) { return gpx__run(r, gpx__daily_pnl); }
int gpx_kind_pnl_distribution_run(gpx_qrun *r) { return gpx__run(r, gpx__distribution); }
