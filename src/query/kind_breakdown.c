/*
** kind_breakdown.c — breakdown: one table frame, one row per group (the
** groupBy dimension), sorted by total P&L, largest first; the columns are
** the dimension, then trade_count, total_pnl, win_rate, profit_factor,
** expectancy, max_drawdown, sharpe, avg_holding_time — or the metrics the
** query names (any stats field). It is the grouped one-pass stats read
** (stream.c) laid out as a table, so 50 groups cost about one pass.
*/
#include <stdlib.h>

#include "query_int.h"

static const char *const gpx__default[] = {"trade_count", "total_pnl", "win_rate", "profit_factor",
                                           "expectancy", "max_drawdown", "sharpe", "avg_holding_time"};
#define GPX__NDEFAULT (int)(sizeof gpx__default / sizeof *gpx__default)

typedef struct {
  const gpx_qgroup *g;
  gpx_stats st;
} gpx__row;

/* total P&L, largest first; equal P&L by group name */
static int gpx__cmp(const void *a, const void *b) {
  const gpx__row *x = a, *y = b;
  if (x->st.total_pnl != y->st.total_pnl) return x->st.total_pnl > y->st.total_pnl ? -1 : 1;
  return strcmp(x->g->name ? x->g->name : "", y->g->name ? y->g->name : "");
}

/* The columns: the query's metrics, else the defaults. */
static int gpx__metrics(const gpx_query *q, int *metrics) {
  int n = 0;
  if (q->metrics_given) {
    for (n = 0; n < q->n_metrics; n++) metrics[n] = q->metrics[n];
  } else {
    for (int i = 0; i < GPX__NDEFAULT; i++) metrics[n++] = gpx_stats_index(gpx__default[i]);
  }
  return n;
}

void gpx_kind_breakdown_need(const gpx_query *q, gpx_stream_need *need) {
  int metrics[GPX_STATS_NFIELDS];
  gpx_stats_need(metrics, gpx__metrics(q, metrics), need);
}

int gpx_kind_breakdown_run(gpx_qrun *r) {
  const gpx_query *q = r->q;
  if (q->group_by == GPX_GROUP_NONE)
    return gpx_query_fail(r->out, EINVAL, 400, "plugin",
                          "groupBy: breakdown needs a dimension to break the trades down by (groupBy must not be none)");
  int metrics[GPX_STATS_NFIELDS];
  int n = gpx__metrics(q, metrics);
  gpx_stream_need need;
  gpx_stats_need(metrics, n, &need);
  int rc = gpx_qrun_load_stream(r, &need);
  if (rc != GPX_OK) return rc;
  gpx__row *rows = calloc(r->groups.n ? r->groups.n : 1, sizeof *rows);
  if (rows == NULL) return gpx_qrun_fail(r, ENOMEM, "breakdown", NULL);
  for (size_t i = 0; i < r->groups.n && rc == GPX_OK; i++) {
    rows[i].g = &r->groups.g[i];
    rc = gpx_qrun_group_stats(r, rows[i].g, &need, &rows[i].st);
  }
  if (rc != GPX_OK) {
    free(rows);
    return rc;
  }
  qsort(rows, r->groups.n, sizeof *rows, gpx__cmp);
  gpx_frame f;
  gpx_frame_init(&f);
  gpx_error err;
  rc = gpx_frame_set_name(&f, "breakdown", &err);
  if (rc == GPX_OK) rc = gpx_frame_set_type(&f, GPX_FRAME_TYPE_TABLE, 0, 0, &err);
  const char *dim = gpx_group_label(q->group_by);
  gpx_field *gf = rc == GPX_OK ? gpx_frame_add_field(&f, dim, GPX_FIELD_STRING, 0, &err) : NULL;
  if (rc == GPX_OK && gf == NULL) rc = EINVAL;
  gpx_field *fl[GPX_STATS_NFIELDS] = {0};
  for (int m = 0; m < n && rc == GPX_OK; m++) {
    char unit[32];
    fl[m] = gpx_frame_add_field(&f, gpx_stats_field_names[metrics[m]], GPX_FIELD_FLOAT64, 1, &err);
    if (fl[m] == NULL) rc = EINVAL;
    if (rc == GPX_OK) rc = gpx_field_set_unit(fl[m], gpx_stat_unit(r, metrics[m], unit, sizeof unit), &err);
    if (rc == GPX_OK) rc = gpx_field_set_display_name_from_ds(fl[m], gpx_stat_fields[metrics[m]].display, &err);
  }
  for (size_t i = 0; i < r->groups.n && rc == GPX_OK; i++) {
    const char *name = rows[i].g->name ? rows[i].g->name : "";
    rc = gpx_field_append_str(gf, name, strlen(name), &err);
    for (int m = 0; m < n && rc == GPX_OK; m++)
      rc = gpx_field_append_f64(fl[m], gpx_stats_get(&rows[i].st, (size_t)metrics[m]), &err);
  }
  free(rows);
  if (rc == GPX_OK) rc = gpx_stats_missing_notice(r, metrics, n, &f, &err);
  return gpx_qrun_finish_frame(r, &f, rc, &err);
}
