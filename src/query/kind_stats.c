/*
** kind_stats.c — stats: one numeric-wide frame with one field per metric
** and group (docs/query-model.md), which stat panels and alert rules
** reduce per group. Every number comes from one ordered read of the trades
** (stream.c; the leg columns on a second session at the same time) folded
** by trading/; the fields, units and display names are stat_fields.c's.
*/
#include <stdio.h>

#include "query_int.h"

void gpx_kind_stats_need(const gpx_query *q, gpx_stream_need *need) { gpx_stats_need(q->metrics, q->n_metrics, need); }

int gpx_kind_stats_run(gpx_qrun *r) {
  const gpx_query *q = r->q;
  gpx_stream_need need;
  gpx_kind_stats_need(q, &need);
  int rc = gpx_qrun_load_stream(r, &need);
  if (rc != GPX_OK) return rc;
  gpx_frame f;
  gpx_frame_init(&f);
  gpx_error err;
  rc = gpx_frame_set_name(&f, "stats", &err);
  if (rc == GPX_OK) rc = gpx_frame_set_type(&f, GPX_FRAME_TYPE_NUMERIC_WIDE, 0, 1, &err);
  for (size_t i = 0; i < r->groups.n && rc == GPX_OK; i++) {
    const gpx_qgroup *g = &r->groups.g[i];
    gpx_stats st;
    if ((rc = gpx_qrun_group_stats(r, g, &need, &st)) != GPX_OK) {
      gpx_frame_reset(&f);
      return rc;
    }
    for (int m = 0; m < q->n_metrics && rc == GPX_OK; m++) {
      int idx = q->metrics[m];
      char unit[32];
      gpx_field *fl = gpx_qrun_value_field(r, &f, g, gpx_stats_field_names[idx], gpx_stat_unit(r, idx, unit, sizeof unit),
                                           gpx_stat_fields[idx].display, &err);
      rc = fl == NULL ? EINVAL : gpx_field_append_f64(fl, gpx_stats_get(&st, (size_t)idx), &err);
    }
  }
  if (rc == GPX_OK) rc = gpx_stats_missing_notice(r, q->metrics, q->n_metrics, &f, &err);
  return gpx_qrun_finish_frame(r, &f, rc, &err);
}
