/*
** kind_trade_count.c — trade_count: the number of trades closed per time
** bucket, one series per group. Buckets follow the one bucket rule
** (gpx_query_bucket_ns: max(interval, range/maxDataPoints), right-closed:
** a bucket holds start < closed_at ≤ start + width); each point sits at its
** bucket's start and every bucket of the range has one, 0 when no trade
** closed in it. Postgres counts per bucket (the buckets statement).
*/
#include <stdlib.h>

#include "query_int.h"

static int gpx__row(gpx_qrun *r, gpx_qgroup *g, const gpx_stmt *st, const PGresult *res, int i, void *arg) {
  int rc = gpx_group_push_row(g, gpx_stmt_i64(st, res, i, GPX_BK_B), 0, gpx_stmt_i64(st, res, i, GPX_BK_N));
  return rc == GPX_OK ? GPX_OK : gpx_qrun_fail(r, rc, "trade_count", NULL);
}

int gpx_kind_trade_count_run(gpx_qrun *r) {
  int64_t w = gpx_query_bucket_ns(r->q), from_ns = r->q->from_ms * 1000000;
  int64_t range = r->q->to_ms * 1000000 - from_ns;
  int64_t nb = range / w + (range % w != 0);
  if (nb < 1) nb = 1;
  int rc = gpx_qrun_each_row(r, &gpx_stmt_buckets, w, gpx__row, NULL);
  if (rc == GPX_OK) rc = gpx_qrun_ensure_ungrouped(r);
  if (rc != GPX_OK) return rc;
  rc = gpx_groups_order(&r->groups);
  int64_t *ts = rc == GPX_OK ? malloc((size_t)nb * sizeof *ts) : NULL;
  double *v = ts ? malloc((size_t)nb * sizeof *v) : NULL;
  if (rc == GPX_OK && v == NULL) rc = ENOMEM;
  if (rc != GPX_OK) rc = gpx_qrun_fail(r, rc, "trade_count", NULL);
  for (int64_t b = 0; rc == GPX_OK && b < nb; b++) ts[b] = from_ns + b * w;
  for (size_t i = 0; i < r->groups.n && rc == GPX_OK; i++) {
    const gpx_qgroup *g = &r->groups.g[i];
    for (int64_t b = 0; b < nb; b++) v[b] = 0;
    for (size_t k = 0; k < g->nt; k++)
      if (g->ts[k] >= 0 && g->ts[k] < nb) v[g->ts[k]] += (double)g->n[k]; /* ts holds the bucket index */
    rc = gpx_qrun_series_frame(r, g, "trade_count", "none", "Trades", ts, v, (size_t)nb);
  }
  free(ts);
  free(v);
  return rc;
}
