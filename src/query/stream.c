/*
** stream.c — the one-pass read of the trades behind stats, breakdown,
** drawdown_episodes, drawdown and, ungrouped, daily_pnl, pnl_distribution
** and rolling's win_rate/profit_factor (README "Design of the data path").
**
** One ordered read of the range, by (closed_at, trade_id) — grouped, each
** group's trades in that order and the groups interleaved, so no sort by
** group — carries closed_at, the P&L and, when a requested number needs
** them, opened_at and side; each group folds it into its curve (max drawdown, trade
** aggregates), its daily sums (on the day boundaries Postgres gave for the
** time zone: gpx_qrun_load_days), its trade statistics and its drawdown
** episodes. The leg columns (side, qty, prices, fees) feed sums only, so
** they are read without order on a second session at the same time when
** the pool has one free, else after the ordered read on the same session.
** Both are COPY reads (pg/copy.c): the server streams, the client folds.
**
** Columns the table lacks are found when a read is described (SQLSTATE
** 42703): the table's columns are looked up once, the optional ones it
** lacks read as NULL (q->missing), and the kind nulls the numbers that need
** them with a notice. In curve mode (need->curve: drawdown) each group's
** curve is started as the curve kinds' own read starts it — a point per
** trade, buckets beyond maxDataPoints — and nothing else is folded: a
** group's trades come in the same order either way, so the curve is the
** same, and the fold cache serves it. What this is not: the numbers
** (trading/) or frames.
*/
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "query_int.h"

#define GPX__BATCH 4096
/* From how many rows (the planner's estimate) a new connection for the
   legs read pays: measured, a second read of 1 M trades at the same time
   saves ~40 % of the wall time; of 10,000 trades, less than connecting. */
#define GPX_STREAM_SECOND_SESSION_ROWS 100000
#define BIT(c) (UINT32_C(1) << (c))

/* optional columns a read may take as NULL */
static const uint32_t gpx__ordered_opt = BIT(GPX_COL_OPENED_AT) | BIT(GPX_COL_SIDE);
static const uint32_t gpx__legs_opt = BIT(GPX_COL_SIDE) | BIT(GPX_COL_QTY) | BIT(GPX_COL_ENTRY_PRICE) |
                                      BIT(GPX_COL_EXIT_PRICE) | BIT(GPX_COL_EXPECTED_ENTRY_PRICE) |
                                      BIT(GPX_COL_EXPECTED_EXIT_PRICE) | BIT(GPX_COL_FEES);

/* One read: its statement, its COPY and the group its last row belonged to
   (an index: a new group may move the group array). */
typedef struct gpx__read {
  gpx_qrun *r;
  const gpx_stream_need *need;
  const gpx_stmt_def *def;
  uint32_t omit;
  gpx_stmt st;
  gpx_stmt shown;    /* with the fold cache: the cold read's statement, for executedQueryString */
  gpx_pg_copy copy;
  size_t cur, cur_len;
  int have_cur;
  int rc;            /* a failure the row callback met (the run is failed with it) */
  gpx_error err;
  uint32_t want;     /* optional ordered columns the fold takes (others as if NULL, as a cold read omits them) */
  gpx_qcache_run *cu; /* the fold cache of this read, or NULL */
  int64_t from_ns;   /* rows at or before it are kept for the cache, not folded */
  size_t k;          /* rows batched for the current group */
  int64_t ts[GPX__BATCH];
  double pnl[GPX__BATCH];
  gpx_trade tr[GPX__BATCH];
} gpx__read;

/* The group of a row, found by its bytes; the last one is checked first. */
static int gpx__group(gpx__read *x, const char *name, size_t len, gpx_qgroup **out) {
  gpx_qrun *r = x->r;
  if (x->have_cur) {
    gpx_qgroup *g = &r->groups.g[x->cur];
    if (name == NULL ? g->name == NULL : (g->name && x->cur_len == len && memcmp(g->name, name, len) == 0)) {
      *out = g;
      return GPX_OK;
    }
  }
  char small[256], *nm = NULL;
  if (name) {
    nm = len < sizeof small ? small : malloc(len + 1);
    if (nm == NULL) return x->rc = gpx_qrun_fail(r, ENOMEM, "groups", NULL);
    memcpy(nm, name, len);
    nm[len] = '\0';
  }
  int rc = gpx_qrun_group(r, nm, out); /* fails the run itself */
  if (nm != small) free(nm);
  if (rc != GPX_OK) return x->rc = rc;
  x->cur = (size_t)(*out - r->groups.g);
  x->cur_len = len;
  x->have_cur = 1;
  return GPX_OK;
}

/* A group's accumulators, started at its first trade (or at the end). */
static int gpx__start(gpx_qrun *r, gpx_qgroup *g, const gpx_stream_need *need, gpx_error *err) {
  if (g->stream_ready) return GPX_OK;
  g->stream_ready = 1;
  double e0 = gpx_qrun_base_equity(r, g);
  int64_t from_ns = r->q->from_ms * 1000000;
  gpx_trade_acc_init(&g->trades, from_ns);
  /* the curve kinds: the curve as their own read starts it, nothing else */
  if (need->curve) return gpx_qrun_curve_start(r, g, need->curve_bucket_ns, need->curve_max, err);
  /* one bucket over the range: the curve carries the drawdown and the aggregates */
  GPX_RETURN_NOT_OK(gpx_curve_init(&g->curve, e0, from_ns, (r->q->to_ms - r->q->from_ms) * 1000000 + 1, err));
  g->curve_ready = 1;
  if (need->days) gpx_day_fold_init(&g->days, r->day_start_ms, r->n_days, r->first_day);
  if (need->days && need->day_aggs) gpx_day_fold_keep_agg(&g->days);
  if (need->episodes) GPX_RETURN_NOT_OK(gpx_episodes_init(&g->episodes, e0, from_ns, need->episodes, err));
  return GPX_OK;
}

static int gpx__flush(gpx__read *x) {
  if (x->k == 0 || !x->have_cur) return GPX_OK;
  gpx_qgroup *g = &x->r->groups.g[x->cur];
  int rc = gpx_curve_push(&g->curve, x->ts, x->pnl, x->k, &x->err);
  if (rc == GPX_OK && x->need->trades) rc = gpx_trade_acc_push(&g->trades, x->tr, x->k, &x->err);
  if (rc == GPX_OK && x->need->days) rc = gpx_day_fold_push(&g->days, x->ts, x->pnl, x->k, &x->err);
  if (rc == GPX_OK && x->need->episodes) rc = gpx_episodes_push(&g->episodes, x->ts, x->pnl, x->k, &x->err);
  x->k = 0;
  if (rc != GPX_OK) x->rc = gpx_qrun_fail(x->r, rc, "stats stream", x->err.msg);
  return rc;
}

/* Make run group gi the batch's group (flushing the other's batch) and start it. */
static int gpx__use_group(gpx__read *x, size_t gi) {
  if (x->have_cur && x->cur == gi) return GPX_OK;
  if (gpx__flush(x) != GPX_OK) return x->rc;
  gpx_qgroup *g = &x->r->groups.g[gi];
  x->cur = gi;
  x->cur_len = g->name ? strlen(g->name) : 0;
  x->have_cur = 1;
  if ((x->rc = gpx__start(x->r, g, x->need, &x->err)) != GPX_OK)
    return x->rc = gpx_qrun_fail(x->r, x->rc, "stats stream", x->err.msg);
  return GPX_OK;
}

/* One trade of the current group into its batch: the columns the fold does
   not take read as NULL, exactly as the cold read that omits them. */
static int gpx__batch(gpx__read *x, const gpx_qcache_row_t *row) {
  x->ts[x->k] = row->ts;
  x->pnl[x->k] = row->pnl;
  if (x->need->trades) {
    gpx_trade *t = &x->tr[x->k];
    int op = (x->want & BIT(GPX_COL_OPENED_AT)) && row->has_opened;
    *t = (gpx_trade){.closed_ns = row->ts, .pnl = row->pnl,
                     .side = (x->want & BIT(GPX_COL_SIDE)) ? row->side : GPX_SIDE_UNKNOWN,
                     .has_opened = op, .opened_ns = op ? row->opened : 0};
  }
  if (++x->k == GPX__BATCH && gpx__flush(x) != GPX_OK) return x->rc;
  return GPX_OK;
}

/* A row of the ordered read: every group's trades in order, the groups
   interleaved; a run of one group's trades is batched. With the fold
   cache, a settled row is also kept for the entry. */
static int gpx__on_ordered(const gpx_pg_value *v, int n, void *arg) {
  gpx__read *x = arg;
  gpx_crow row = {v, x->copy.types};
  size_t glen = 0;
  const char *gname = gpx_crow_group(&x->st, row, &glen);
  int same = x->have_cur && (gname == NULL || (x->cur_len == glen && memcmp(x->r->groups.g[x->cur].name, gname, glen) == 0));
  if (!same) {
    gpx_qgroup *g;
    if (gpx__flush(x) != GPX_OK || gpx__group(x, gname, glen, &g) != GPX_OK) return 1;
    if ((x->rc = gpx__start(x->r, g, x->need, &x->err)) != GPX_OK) {
      x->rc = gpx_qrun_fail(x->r, x->rc, "stats stream", x->err.msg);
      return 1;
    }
  }
  gpx_qcache_row_t t = {0};
  gpx_crow_time(&x->st, row, GPX_SS_TS, &t.ts);
  t.pnl = gpx_crow_num(&x->st, row, GPX_SS_PNL);
  if (x->need->trades || x->cu) {
    size_t sl;
    const char *sd = gpx_crow_text(&x->st, row, GPX_SS_SIDE, &sl);
    t.side = gpx_side_stored(x->r->s, sd, sl);
    t.has_opened = gpx_crow_time(&x->st, row, GPX_SS_OPENED, &t.opened);
  }
  if (x->cu && gpx_qcache_keep(x->cu, x->cur, gname, glen, &t) != GPX_OK) {
    x->rc = gpx_qrun_fail(x->r, ENOMEM, "cache", NULL);
    return 1;
  }
  if (t.ts <= x->from_ns) return 0; /* read again for the cache only */
  return gpx__batch(x, &t) == GPX_OK ? 0 : 1;
}

/* The verified cached trades inside the query's range, before the new ones. */
static int gpx__feed_cached(gpx__read *x) {
  const gpx_qcache_rows *w;
  size_t n;
  if (!gpx_qcache_rows_view(x->cu, &w, &n)) return GPX_OK;
  gpx_qrun *r = x->r;
  int64_t to_ns = r->q->to_ms * 1000000;
  size_t ng = gpx_qcache_groups(w);
  int64_t *e2r = malloc((ng ? ng : 1) * sizeof *e2r);
  if (e2r == NULL) return gpx_qrun_fail(r, ENOMEM, "cache", NULL);
  for (size_t g = 0; g < ng; g++) e2r[g] = -1;
  int rc = GPX_OK;
  for (size_t i = gpx_qcache_lower(w, x->from_ns); i < n && rc == GPX_OK; i++) {
    gpx_qcache_row_t t;
    gpx_qcache_row(w, i, &t);
    if (t.ts > to_ns) break;
    if ((i & 65535) == 65535 && gpx_qrun_cancelled(r)) {
      rc = gpx_query_fail(r->out, ECANCELED, 499, "plugin", "request cancelled");
      break;
    }
    if (e2r[t.grp] < 0) {
      size_t len;
      const char *name = gpx_qcache_group_name(w, t.grp, &len);
      gpx_qgroup *g;
      if ((rc = gpx__flush(x)) != GPX_OK || (rc = gpx__group(x, name, len, &g)) != GPX_OK) break;
      e2r[t.grp] = (int64_t)x->cur;
      gpx_qcache_map_group(x->cu, x->cur, t.grp);
      x->have_cur = 0; /* started by gpx__use_group */
    }
    if ((rc = gpx__use_group(x, (size_t)e2r[t.grp])) == GPX_OK) rc = gpx__batch(x, &t);
  }
  free(e2r);
  if (rc == GPX_OK) rc = gpx__flush(x);
  return rc;
}

/* A row of the legs read: order-free sums. */
static int gpx__on_legs(const gpx_pg_value *v, int n, void *arg) {
  gpx__read *x = arg;
  gpx_crow row = {v, x->copy.types};
  size_t glen = 0, sl;
  const char *gname = gpx_crow_group(&x->st, row, &glen);
  gpx_qgroup *g;
  if (gpx__group(x, gname, glen, &g) != GPX_OK) return 1;
  const char *sd = gpx_crow_text(&x->st, row, GPX_LG_SIDE, &sl);
  gpx_legs_add(&g->legs, gpx_side_stored(x->r->s, sd, sl), gpx_crow_num(&x->st, row, GPX_LG_QTY),
               gpx_crow_num(&x->st, row, GPX_LG_ENTRY), gpx_crow_num(&x->st, row, GPX_LG_EXIT),
               gpx_crow_num(&x->st, row, GPX_LG_EXP_ENTRY), gpx_crow_num(&x->st, row, GPX_LG_EXP_EXIT),
               gpx_crow_num(&x->st, row, GPX_LG_FEES));
  return 0;
}

/* The optional mapped columns the table lacks, from its catalog entry. */
static int gpx__find_missing(gpx_qrun *r) {
  gpx_stmt st = {0};
  PGresult *res = NULL;
  int rc = gpx_sql_table_columns(&st, r->s);
  if (rc != GPX_OK) rc = gpx_qrun_fail(r, rc, "table columns", "building the statement failed");
  else rc = gpx_qrun_exec(r, &st, &res);
  /* a list of columns is not looked at: one it lacks is the mapping's error */
  uint32_t missing = gpx__ordered_opt | gpx__legs_opt;
  for (int c = 0; c < GPX_COL_COUNT; c++)
    if (r->s->columns[c].n > 1) missing &= ~BIT(c);
  for (int i = 0; rc == GPX_OK && i < PQntuples(res); i++) {
    const char *name = gpx_stmt_text(&st, res, i, GPX_ATT_NAME, NULL);
    for (int c = 0; c < GPX_COL_COUNT && name; c++)
      if ((missing & BIT(c)) && r->s->columns[c].n == 1 && strcmp(r->s->columns[c].name[0], name) == 0)
        missing &= ~BIT(c);
  }
  if (rc == GPX_OK) r->q->missing |= missing;
  PQclear(res);
  gpx_stmt_reset(&st);
  return rc;
}

/* Build and describe a read on sess. A column the table lacks (42703) is
   looked up once and read as NULL; any other failure is left in *pe with
   EIO returned, so the caller decides (the run is not failed). */
static int gpx__prepare(gpx__read *x, gpx_pg_session *sess, gpx_pg_error *pe) {
  gpx_qrun *r = x->r;
  pe->status = GPX_PG_OK;
  for (int attempt = 0;; attempt++) {
    int rc = gpx_stmt_build_copy(&x->st, x->def, r->s, r->q, x->omit, sess);
    if (rc != GPX_OK) return gpx_qrun_fail(r, rc, x->def->name, "building the statement failed");
    x->copy.s = sess;
    x->copy.select = gpx_sql_cstr(&x->st.sql);
    if (gpx_pg_copy_describe(&x->copy, pe) == GPX_OK) return GPX_OK;
    uint32_t before = r->q->missing;
    if (attempt > 0 || pe->status != GPX_PG_QUERY_ERROR || strcmp(pe->sqlstate, "42703") != 0) return EIO;
    if ((rc = gpx__find_missing(r)) != GPX_OK) return rc;
    if (r->q->missing == before) return EIO; /* a required column: the mapping's error */
  }
}

/* executedQueryString shows the statement whose rows make the answer, as
   a cold run reads it: with the fold cache the read takes more columns
   (for the entry) and may start later (after its watermark), and the
   answer is the same bytes either way (docs/query-model.md "Cache"). */
static void gpx__record(gpx_qrun *r, gpx__read *x) {
  gpx_qrun_record(r, "COPY (", x->shown.def ? &x->shown.sql : &x->st.sql);
  gpx_buf_append_str(&r->executed, ") TO STDOUT (FORMAT binary)");
}

/* Run the reads (one or two), recording them; fails the run on error. */
static int gpx__run(gpx_qrun *r, gpx__read **xs, int n) {
  gpx_pg_copy *cs[2];
  for (int i = 0; i < n; i++) {
    cs[i] = &xs[i]->copy;
    gpx__record(r, xs[i]);
  }
  struct timespec t0, t1;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  gpx_pg_error pe;
  int rc = gpx_pg_copy_run(cs, n, &pe);
  clock_gettime(CLOCK_MONOTONIC, &t1);
  r->out->sql_seconds += (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
  for (int i = 0; rc == GPX_OK && i < n; i++)
    if (xs[i]->def == &gpx_stmt_stats_stream) rc = gpx__flush(xs[i]);
  if (rc == GPX_OK) return GPX_OK;
  for (int i = 0; i < n; i++)
    if (xs[i]->rc != GPX_OK) return xs[i]->rc; /* the run was failed where it was decided */
  return gpx_qrun_fail_pg(r, &pe);
}

static gpx__read *gpx__read_new(gpx_qrun *r, const gpx_stream_need *need, const gpx_stmt_def *def, uint32_t omit,
                                gpx_pg_row_fn fn) {
  gpx__read *x = calloc(1, sizeof *x);
  if (x == NULL) return NULL;
  x->r = r;
  x->need = need;
  x->def = def;
  x->omit = omit;
  x->copy.fn = fn;
  x->copy.arg = x;
  return x;
}

static void gpx__read_free(gpx__read *x) {
  if (x == NULL) return;
  gpx_stmt_reset(&x->st);
  gpx_stmt_reset(&x->shown);
  free(x);
}

/* The legs read again on the run's session, after the ordered read found
   P&L that is not a number (now left out by every statement). */
static int gpx__legs_again(gpx_qrun *r, gpx__read *l) {
  for (size_t i = 0; i < r->groups.n; i++) memset(&r->groups.g[i].legs, 0, sizeof r->groups.g[i].legs);
  l->have_cur = 0;
  gpx_pg_error pe;
  int rc = gpx__prepare(l, &r->sess, &pe);
  if (rc == EIO) return gpx_qrun_fail_pg(r, &pe);
  return rc == GPX_OK ? gpx__run(r, &l, 1) : rc;
}

static int gpx__finish(gpx_qrun *r, const gpx_stream_need *need) {
  gpx_error err;
  int64_t skipped = 0;
  for (size_t i = 0; i < r->groups.n; i++) {
    gpx_qgroup *g = &r->groups.g[i];
    int rc = gpx__start(r, g, need, &err); /* a group without trades in the range: flat */
    if (rc == GPX_OK) rc = gpx_curve_finish(&g->curve, &err);
    if (rc == GPX_OK && need->days) rc = gpx_day_fold_finish(&g->days, &err);
    for (size_t d = 0; rc == GPX_OK && need->days && d < g->days.nd; d++)
      rc = g->days.agg ? gpx_group_push_day_agg(g, g->days.day[d], g->days.pnl[d], &g->days.agg[d])
                       : gpx_group_push_day(g, g->days.day[d], g->days.pnl[d], g->days.count[d]);
    if (rc == GPX_OK && need->episodes) rc = gpx_episodes_finish(&g->episodes, r->q->to_ms * 1000000, &err);
    if (rc == ENOMEM) return gpx_qrun_fail(r, rc, "stats", NULL);
    if (rc != GPX_OK) return gpx_qrun_fail(r, rc, "stats", err.msg);
    skipped += g->curve.skipped;
  }
  return skipped > 0 ? gpx_qrun_note_bad_pnl(r) : GPX_OK;
}

/* Rows Postgres' planner expects a read to return (0 when it cannot say). */
static double gpx__estimate(gpx_qrun *r, const gpx__read *x) {
  gpx_buf b = {0};
  PGresult *res = NULL;
  gpx_pg_error pe;
  double rows = 0;
  if (gpx_buf_printf(&b, "EXPLAIN (FORMAT JSON) %s", x->copy.select) == GPX_OK && gpx_buf_terminate(&b) == GPX_OK &&
      gpx_pg_exec(&r->sess, (const char *)b.data, 0, NULL, 0, &res, &pe) == GPX_OK && PQntuples(res) == 1) {
    json_t *j = json_loads(PQgetvalue(res, 0, 0), 0, NULL);
    json_t *n = json_object_get(json_object_get(json_array_get(j, 0), "Plan"), "Plan Rows");
    if (json_is_number(n)) rows = json_number_value(n);
    json_decref(j);
  }
  PQclear(res);
  gpx_buf_reset(&b);
  return rows;
}

/* A second session for the legs read: an idle pooled connection if there
   is one; a new connection only when the read is large enough to repay it
   (on a few thousand trades the legs read takes milliseconds, opening a
   connection about as much, and a dashboard of stat panels would double
   its connections for nothing). */
static int gpx__second_session(gpx_qrun *r, const gpx__read *l, gpx_pg_session *s2) {
  gpx_pg_error pe;
  if (gpx_pg_acquire_more(&r->sess, s2, 0, &pe) == GPX_OK) return 1;
  if (gpx__estimate(r, l) < GPX_STREAM_SECOND_SESSION_ROWS) return 0;
  return gpx_pg_acquire_more(&r->sess, s2, 1, &pe) == GPX_OK;
}

/* In one snapshot: the cache entry's check, then the ordered read set to
   read only what the entry lacks, after its rows are folded. ENOTSUP: the
   check cannot be made here (the run goes on cold). */
static int gpx__cache_begin(gpx__read *o, gpx_qcache_run *cu) {
  gpx_qrun *r = o->r;
  int rc = gpx_qcache_verify(r, cu);
  if (rc != GPX_OK) return rc;
  gpx_query qd = *r->q; /* shallow: only the range start differs */
  qd.from_ms = cu->read_from;
  o->cu = cu;
  if ((rc = gpx_stmt_build_copy(&o->st, o->def, r->s, &qd, o->omit, &r->sess)) != GPX_OK)
    return gpx_qrun_fail(r, rc, o->def->name, "building the statement failed");
  o->copy.select = gpx_sql_cstr(&o->st.sql);
  return gpx__feed_cached(o);
}

int gpx_qrun_load_stream(gpx_qrun *r, gpx_stream_need *need) {
  if (r->loaded) { /* another run's read, borrowed (flight.c) */
    need->legs_read = r->legs_read;
    return GPX_OK;
  }
  int rc = gpx_qrun_load_base(r);
  if (rc == GPX_OK && need->days) rc = gpx_qrun_load_days(r);
  if (rc != GPX_OK) return rc;
  need->legs_read = 0;
  uint32_t ocols = need->trades ? need->ordered_cols & gpx__ordered_opt : 0;
  uint32_t lcols = need->leg_cols & gpx__legs_opt;
  /* with the fold cache the ordered read takes every column an entry keeps */
  int may_cache = gpx_qcache_possible(r);
  gpx__read *o = gpx__read_new(r, need, &gpx_stmt_stats_stream, may_cache ? 0 : gpx__ordered_opt & ~ocols,
                               gpx__on_ordered);
  gpx__read *l = lcols ? gpx__read_new(r, need, &gpx_stmt_stats_legs, gpx__legs_opt & ~lcols, gpx__on_legs) : NULL;
  if (o == NULL || (lcols && l == NULL)) {
    gpx__read_free(o);
    gpx__read_free(l);
    return gpx_qrun_fail(r, ENOMEM, "stats stream", NULL);
  }
  o->want = ocols;
  o->from_ns = r->q->from_ms * 1000000;
  gpx_pg_error pe;
  gpx_pg_session s2;
  int two = 0;
  rc = gpx__prepare(o, &r->sess, &pe);
  if (rc == EIO) rc = gpx_qrun_fail_pg(r, &pe);
  if (rc == GPX_OK && l && (lcols & ~r->q->missing)) {
    /* the legs on a second session at the same time when one is to be had
       at once; else after the ordered read, on this one */
    rc = gpx__prepare(l, &r->sess, &pe);
    /* described here; the same text serves the second session (the pool's
       connections share their settings, so the literals read the same) */
    if (rc == GPX_OK && (two = gpx__second_session(r, l, &s2))) l->copy.s = &s2;
    if (rc == EIO) rc = gpx_qrun_fail_pg(r, &pe);
    need->legs_read = rc == GPX_OK && (lcols & ~r->q->missing);
  }
  if (rc == GPX_OK && may_cache) {
    rc = gpx_stmt_build_copy(&o->shown, o->def, r->s, r->q, gpx__ordered_opt & ~ocols, &r->sess);
    if (rc != GPX_OK) rc = gpx_qrun_fail(r, rc, o->def->name, "building the statement failed");
  }
  gpx_qcache_run cu;
  int cached = rc == GPX_OK && may_cache && gpx_qcache_start(r, &cu);
  if (cached && (rc = gpx__cache_begin(o, &cu)) == ENOTSUP) {
    gpx_qcache_finish(r, &cu, 0); /* this one runs cold */
    cached = 0;
    rc = GPX_OK;
  }
  if (rc == GPX_OK) {
    gpx__read *both[2] = {o, l};
    /* behind a pooler in transaction mode the cache's transaction holds a
       server connection the second session may need: the legs go after it */
    if (two && need->legs_read && !(cached && gpx_pg_pool_behind_pooler(r->sess.pool))) rc = gpx__run(r, both, 2);
    else {
      rc = gpx__run(r, both, 1);
      if (cached) gpx_qcache_finish(r, &cu, rc == GPX_OK);
      cached = 0;
      if (rc == GPX_OK && need->legs_read) rc = gpx__run(r, both + 1, 1);
    }
  }
  if (two) gpx_pg_release(&s2);
  if (cached) gpx_qcache_finish(r, &cu, rc == GPX_OK);
  o->cu = NULL;
  int finite_before = r->q->finite_only;
  if (rc == GPX_OK) rc = gpx__finish(r, need);
  /* the legs were summed with the broken rows the ordered read left out */
  if (rc == GPX_OK && need->legs_read && r->q->finite_only && !finite_before) rc = gpx__legs_again(r, l);
  gpx__read_free(o);
  gpx__read_free(l);
  if (rc == GPX_OK && (rc = gpx_groups_order(&r->groups)) != GPX_OK) return gpx_qrun_fail(r, rc, "stats", NULL);
  if (rc == GPX_OK) {
    r->loaded = 1;
    r->legs_read = need->legs_read;
  }
  return rc;
}
