/*
** kind_daily.c — daily_pnl and pnl_distribution: P&L per calendar day in
** the query's time zone, every day of the range (days without trades are
** 0; `weekdays` drops empty weekends). Postgres sums per local day; C
** completes the calendar (trading/daily.c).
*/
#include <stdlib.h>

#include "query_int.h"

/* Daily P&L needs no E(from): no aggregate over the history before the
   range (the daily returns computed alongside are not shown). */
static int gpx__load(gpx_qrun *r) {
  int rc = GPX_OK;
  if (r->q->group_by == GPX_GROUP_NONE && gpx_groups_get(&r->groups, NULL) == NULL)
    rc = gpx_qrun_fail(r, ENOMEM, "daily", NULL);
  if (rc == GPX_OK) rc = gpx_qrun_load_days(r);
  if (rc == GPX_OK) rc = gpx_qrun_load_daily(r);
  if (rc == GPX_OK && (rc = gpx_groups_order(&r->groups)) != GPX_OK) rc = gpx_qrun_fail(r, rc, "daily", NULL);
  return rc;
}

int gpx_kind_daily_pnl_run(gpx_qrun *r) {
  int rc = gpx__load(r);
  char cur[32];
  gpx_qrun_currency_unit(r, cur, sizeof cur);
  for (size_t i = 0; i < r->groups.n && rc == GPX_OK; i++) {
    const gpx_qgroup *g = &r->groups.g[i];
    gpx_daily d = {0};
    if ((rc = gpx_qrun_build_daily(r, g, &d)) != GPX_OK) break;
    int64_t *ts = malloc((d.n ? d.n : 1) * sizeof *ts);
    if (ts == NULL) rc = gpx_qrun_fail(r, ENOMEM, "daily_pnl", NULL);
    for (size_t k = 0; rc == GPX_OK && k < d.n; k++) {
      /* a day's point sits at its local midnight, as Postgres computed it */
      int64_t idx = (int64_t)d.day[k] - r->first_day;
      ts[k] = (idx >= 0 && (size_t)idx < r->n_days ? r->day_start_ms[idx] : (int64_t)d.day[k] * 86400000) * 1000000;
    }
    if (rc == GPX_OK) rc = gpx_qrun_series_frame(r, g, "daily_pnl", cur, "Daily P&L", ts, d.pnl, d.n);
    free(ts);
    gpx_daily_reset(&d);
  }
  return rc;
}

int gpx_kind_pnl_distribution_run(gpx_qrun *r) {
  int rc = gpx__load(r);
  char cur[32];
  gpx_qrun_currency_unit(r, cur, sizeof cur);
  for (size_t i = 0; i < r->groups.n && rc == GPX_OK; i++) {
    const gpx_qgroup *g = &r->groups.g[i];
    gpx_daily d = {0};
    if ((rc = gpx_qrun_build_daily(r, g, &d)) != GPX_OK) break;
    gpx_frame f;
    gpx_frame_init(&f);
    gpx_error err;
    rc = gpx_frame_set_name(&f, g->name ? g->name : "pnl_distribution", &err);
    if (rc == GPX_OK) rc = gpx_frame_set_type(&f, GPX_FRAME_TYPE_NUMERIC_LONG, 0, 1, &err);
    gpx_field *vf = rc == GPX_OK ? gpx_qrun_value_field(r, &f, g, "daily_pnl", cur, "Daily P&L", &err) : NULL;
    if (rc == GPX_OK && vf == NULL) rc = EINVAL;
    if (rc == GPX_OK) rc = gpx_field_append_f64s(vf, d.pnl, d.n, &err);
    rc = gpx_qrun_finish_frame(r, &f, rc, &err);
    gpx_daily_reset(&d);
  }
  return rc;
}
