/*
** kind_episodes.c — drawdown_episodes: the deepest drawdowns as one table
** frame, deepest first, `limit` rows (default 10) per group: start, valley,
** end (null while not recovered), depth (fraction), depth_amount (money),
** duration and recovery (seconds). With groupBy a leading column named
** after the dimension, each group's episodes in turn (groups by name).
** The episodes come from the one ordered read of (closed_at, P&L) — the
** drawdown stream — folded by trading/episodes.c, which keeps only the
** deepest `limit`; definitions in docs/analytics.md.
*/
#include <math.h>

#include "query_int.h"

#define GPX__DEFAULT_LIMIT 10

enum { C_START, C_VALLEY, C_END, C_DEPTH, C_AMOUNT, C_DURATION, C_RECOVERY, C_N };

void gpx_kind_drawdown_episodes_need(const gpx_query *q, gpx_stream_need *need) {
  memset(need, 0, sizeof *need);
  need->episodes = (size_t)(q->limit_given || q->limit < GPX__DEFAULT_LIMIT ? q->limit : GPX__DEFAULT_LIMIT);
}

int gpx_kind_drawdown_episodes_run(gpx_qrun *r) {
  const gpx_query *q = r->q;
  gpx_stream_need need;
  gpx_kind_drawdown_episodes_need(q, &need);
  int rc = gpx_qrun_load_stream(r, &need);
  if (rc != GPX_OK) return rc;
  char cur[32];
  gpx_qrun_currency_unit(r, cur, sizeof cur);
  static const struct {
    const char *name, *display;
    gpx_field_type type;
    int nullable;
  } cols[C_N] = {
      [C_START] = {"start", "Start", GPX_FIELD_TIME, 0},
      [C_VALLEY] = {"valley", "Valley", GPX_FIELD_TIME, 0},
      [C_END] = {"end", "Recovered", GPX_FIELD_TIME, 1},
      [C_DEPTH] = {"depth", "Depth", GPX_FIELD_FLOAT64, 1},
      [C_AMOUNT] = {"depth_amount", "Depth (money)", GPX_FIELD_FLOAT64, 1},
      [C_DURATION] = {"duration", "Duration", GPX_FIELD_FLOAT64, 1},
      [C_RECOVERY] = {"recovery", "Recovery time", GPX_FIELD_FLOAT64, 1},
  };
  const char *units[C_N] = {[C_DEPTH] = "percentunit", [C_AMOUNT] = cur, [C_DURATION] = "s", [C_RECOVERY] = "s"};
  gpx_frame f;
  gpx_frame_init(&f);
  gpx_error err;
  rc = gpx_frame_set_name(&f, "drawdown_episodes", &err);
  if (rc == GPX_OK) rc = gpx_frame_set_type(&f, GPX_FRAME_TYPE_TABLE, 0, 0, &err);
  gpx_field *gf = NULL, *fl[C_N] = {0};
  if (rc == GPX_OK && q->group_by != GPX_GROUP_NONE &&
      (gf = gpx_frame_add_field(&f, gpx_group_label(q->group_by), GPX_FIELD_STRING, 0, &err)) == NULL)
    rc = EINVAL;
  for (int c = 0; c < C_N && rc == GPX_OK; c++) {
    fl[c] = gpx_frame_add_field(&f, cols[c].name, cols[c].type, cols[c].nullable, &err);
    if (fl[c] == NULL) rc = EINVAL;
    if (rc == GPX_OK && units[c]) rc = gpx_field_set_unit(fl[c], units[c], &err);
    if (rc == GPX_OK) rc = gpx_field_set_display_name_from_ds(fl[c], cols[c].display, &err);
  }
  for (size_t i = 0; i < r->groups.n && rc == GPX_OK; i++) {
    const gpx_qgroup *g = &r->groups.g[i];
    for (size_t k = 0; k < g->episodes.ntop && rc == GPX_OK; k++) {
      const gpx_episode *e = &g->episodes.top[k];
      if (gf) rc = gpx_field_append_str(gf, g->name ? g->name : "", g->name ? strlen(g->name) : 0, &err);
      if (rc == GPX_OK) rc = gpx_field_append_time(fl[C_START], e->start_ns, &err);
      if (rc == GPX_OK) rc = gpx_field_append_time(fl[C_VALLEY], e->valley_ns, &err);
      if (rc == GPX_OK)
        rc = e->recovered ? gpx_field_append_time(fl[C_END], e->end_ns, &err) : gpx_field_append_null(fl[C_END], &err);
      if (rc == GPX_OK) rc = gpx_field_append_f64(fl[C_DEPTH], e->depth, &err);
      if (rc == GPX_OK) rc = gpx_field_append_f64(fl[C_AMOUNT], e->depth_amount, &err);
      if (rc == GPX_OK) rc = gpx_field_append_f64(fl[C_DURATION], e->duration_s, &err);
      if (rc == GPX_OK) rc = gpx_field_append_f64(fl[C_RECOVERY], e->recovery_s, &err);
    }
  }
  return gpx_qrun_finish_frame(r, &f, rc, &err);
}
