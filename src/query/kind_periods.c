/*
** kind_periods.c — period_returns: return, P&L and trade count per
** calendar week (ISO, Monday start), month, quarter or year in the query's
** time zone, for every period overlapping the range, clipped to it; or,
** with `layout: "grid"`, the monthly-returns grid (one table row per year:
** Jan … Dec and the year).
**
** Data: E(from) and the daily sums per local day (Postgres decides the
** local day, so DST is settled before C sees a day ordinal; the one-pass
** read would cost more: gpx_qrun_load_day_sums); C groups the
** days into periods by calendar arithmetic (trading/periods.c). Each
** point is stamped with the start of its calendar period in the time zone
** (pandas' period-start label, as quantstats/empyrical aggregate by
** calendar period) — for a first period that began before the range, that
** instant precedes `from`; one small statement asks Postgres for it.
*/
#include <stdio.h>
#include <stdlib.h>

#include "query_int.h"

static const char *const gpx__month_names[12] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                                 "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
static const char *const gpx__return_display[GPX_PERIOD_COUNT] = {"Weekly return", "Monthly return",
                                                                  "Quarterly return", "Yearly return"};

/* The local midnight of a period start that lies before the range (the
   range's own days are in r->day_start_ms). */
static int gpx__start_before_range(gpx_qrun *r, int32_t day, int64_t *ns) {
  gpx_stmt st = {0};
  PGresult *res = NULL;
  int rc = gpx_sql_midnights(&st, r->q, &day, 1);
  if (rc != GPX_OK) rc = gpx_qrun_fail(r, rc, "period start", "building the statement failed");
  else rc = gpx_qrun_exec(r, &st, &res);
  if (rc == GPX_OK && PQntuples(res) != 1) rc = gpx_qrun_fail(r, EPROTO, "period start", "no row for the day");
  if (rc == GPX_OK) *ns = gpx_stmt_i64(&st, res, 0, GPX_MN_START_MS) * 1000000;
  PQclear(res);
  gpx_stmt_reset(&st);
  return rc;
}

/* One timeseries-multi frame per group: time, return, pnl, trades. */
static int gpx__series(gpx_qrun *r, const gpx_qgroup *g, const gpx_periods *p, int64_t first_start_ns,
                       const char *cur) {
  gpx_frame f;
  gpx_frame_init(&f);
  gpx_error err;
  int rc = gpx_frame_set_name(&f, g->name ? g->name : "period_returns", &err);
  if (rc == GPX_OK) rc = gpx_frame_set_type(&f, GPX_FRAME_TYPE_TIMESERIES_MULTI, 0, 1, &err);
  gpx_field *tf = rc == GPX_OK ? gpx_frame_add_field(&f, "time", GPX_FIELD_TIME, 0, &err) : NULL;
  gpx_field *rf = tf ? gpx_qrun_value_field(r, &f, g, "return", "percentunit", gpx__return_display[p->period], &err) : NULL;
  gpx_field *pf = rf ? gpx_qrun_value_field(r, &f, g, "pnl", cur, "P&L", &err) : NULL;
  gpx_field *nf = pf ? gpx_qrun_value_field(r, &f, g, "trades", "none", "Trades", &err) : NULL;
  if (rc == GPX_OK && nf == NULL) rc = EINVAL;
  for (size_t i = 0; i < p->n && rc == GPX_OK; i++) {
    const gpx_period_row *row = &p->rows[i];
    int64_t ts = row->start_day < r->first_day ? first_start_ns : gpx_qrun_day_start_ns(r, row->start_day);
    rc = gpx_field_append_time(tf, ts, &err);
    if (rc == GPX_OK) rc = gpx_field_append_f64(rf, row->ret, &err);
    if (rc == GPX_OK) rc = gpx_field_append_f64(pf, row->pnl, &err);
    if (rc == GPX_OK) rc = gpx_field_append_f64(nf, (double)row->trades, &err);
  }
  return gpx_qrun_finish_frame(r, &f, rc, &err);
}

/* The grid's fields: [the group's dimension], year, Jan … Dec, Year. */
typedef struct gpx__grid {
  gpx_frame f;
  gpx_field *group, *year, *month[12], *total;
} gpx__grid;

static int gpx__grid_init(gpx_qrun *r, gpx__grid *t, gpx_error *err) {
  gpx_frame_init(&t->f);
  int rc = gpx_frame_set_name(&t->f, "period_returns", err);
  if (rc == GPX_OK) rc = gpx_frame_set_type(&t->f, GPX_FRAME_TYPE_TABLE, 0, 1, err);
  if (rc == GPX_OK && r->q->group_by != GPX_GROUP_NONE &&
      (t->group = gpx_frame_add_field(&t->f, gpx_group_label(r->q->group_by), GPX_FIELD_STRING, 0, err)) == NULL)
    rc = EINVAL;
  if (rc == GPX_OK && (t->year = gpx_frame_add_field(&t->f, "year", GPX_FIELD_INT64, 0, err)) == NULL) rc = EINVAL;
  if (rc == GPX_OK) rc = gpx_field_set_decimals(t->year, 0, err);
  for (int m = 0; m <= 12 && rc == GPX_OK; m++) {
    gpx_field *fl = gpx_frame_add_field(&t->f, m < 12 ? gpx__month_names[m] : "Year", GPX_FIELD_FLOAT64, 1, err);
    if (fl == NULL) rc = EINVAL;
    else rc = gpx_field_set_unit(fl, "percentunit", err);
    if (m < 12) t->month[m] = fl;
    else t->total = fl;
  }
  return rc;
}

static int gpx__grid_rows(gpx__grid *t, const gpx_qgroup *g, const gpx_periods *p, gpx_error *err) {
  gpx_month_grid_row *rows = NULL;
  size_t n = 0;
  int rc = gpx_month_grid(p, &rows, &n, err);
  for (size_t i = 0; i < n && rc == GPX_OK; i++) {
    if (t->group) rc = gpx_field_append_str(t->group, g->name ? g->name : "", g->name ? strlen(g->name) : 0, err);
    if (rc == GPX_OK) rc = gpx_field_append_i64(t->year, rows[i].year, err);
    for (int m = 0; m < 12 && rc == GPX_OK; m++) rc = gpx_field_append_f64(t->month[m], rows[i].month[m], err);
    if (rc == GPX_OK) rc = gpx_field_append_f64(t->total, rows[i].year_ret, err);
  }
  free(rows);
  return rc;
}

/* What the one-pass read folds: the daily sums. */
void gpx_kind_period_returns_need(const gpx_query *q, gpx_stream_need *need) {
  (void)q;
  memset(need, 0, sizeof *need);
  need->days = 1;
}

int gpx_kind_period_returns_run(gpx_qrun *r) {
  gpx_period per = (gpx_period)r->q->period;
  gpx_stream_need need;
  gpx_kind_period_returns_need(r->q, &need);
  int rc = gpx_qrun_load_day_sums(r, &need, 1, 0); /* the GROUP BY is faster (load.c) */
  /* the calendar is the same for every group: one look-up at most */
  int64_t first_start = gpx_period_first_day(r->first_day, per), first_start_ns = 0;
  if (rc == GPX_OK && !r->q->period_grid && first_start < r->first_day)
    rc = gpx__start_before_range(r, (int32_t)first_start, &first_start_ns);
  if (rc != GPX_OK) return rc;
  char cur[32];
  gpx_qrun_currency_unit(r, cur, sizeof cur);
  gpx__grid t = {0};
  gpx_error err;
  if (r->q->period_grid && (rc = gpx__grid_init(r, &t, &err)) != GPX_OK) return gpx_qrun_finish_frame(r, &t.f, rc, &err);
  for (size_t i = 0; i < r->groups.n && rc == GPX_OK; i++) {
    const gpx_qgroup *g = &r->groups.g[i];
    gpx_daily d = {0};
    gpx_periods p = {0};
    if ((rc = gpx_qrun_build_daily(r, g, &d)) != GPX_OK) break;
    if ((rc = gpx_periods_build(&d, per, &p, &err)) != GPX_OK) rc = gpx_qrun_fail(r, rc, "periods", err.msg);
    else if (!r->q->period_grid) rc = gpx__series(r, g, &p, first_start_ns, cur);
    else if ((rc = gpx__grid_rows(&t, g, &p, &err)) != GPX_OK) rc = gpx_qrun_fail(r, rc, "grid", err.msg);
    gpx_periods_reset(&p);
    gpx_daily_reset(&d);
  }
  if (!r->q->period_grid) return rc;
  if (rc != GPX_OK) {
    gpx_frame_reset(&t.f);
    return rc;
  }
  return gpx_qrun_finish_frame(r, &t.f, GPX_OK, &err);
}
