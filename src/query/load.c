/*
** load.c — the loaders the kind files share: run one statement (sql.c)
** and fold its rows into the run's groups (rows.c).
**
** Data path (README "Design of the data path"):
**   base             Σ p before the range per group → E(from);
**   buckets          one row per bucket (Σ p, count), cumulated in C;
**   curve start      a group's per-trade curve as drawdown draws it (the
**                    trades come from stream.c's one-pass read);
**   days, daily      the calendar of the range and Σ p per local day
**                    (time zones/DST are Postgres' job);
**   slippage         sums per bucket and side.
*/
#include <math.h>
#include <stdlib.h>

#include "query_int.h"

double gpx_qrun_base_equity(const gpx_qrun *r, const gpx_qgroup *g) { return r->q->a.initial_capital + g->base_pnl; }

/* 1 when a sum of P&L in the result is NaN or ±Infinity: a broken row. */
static int gpx__poisoned(const gpx_stmt *st, const PGresult *res) {
  for (int c = 0; c < st->def->ncols; c++) {
    const gpx_sql_col *col = &st->def->cols[c];
    int sum = col->expr == GPX_EXPR_SUM || col->expr == GPX_EXPR_SUM_POS || col->expr == GPX_EXPR_SUM_NEG;
    if (!sum || col->col != GPX_COL_REALIZED_PNL) continue;
    for (int i = 0; i < PQntuples(res); i++)
      if (!gpx_stmt_isnull(st, res, i, c) && !isfinite(gpx_stmt_num(st, res, i, c))) return 1;
  }
  return 0;
}

int gpx_qrun_each_row(gpx_qrun *r, const gpx_stmt_def *def, int64_t width_ns, gpx_qrun_row_fn fn, void *arg) {
  gpx_stmt st = {0};
  PGresult *res = NULL;
  int rc = gpx_stmt_build(&st, def, r->s, r->q, width_ns, 0);
  if (rc != GPX_OK) rc = gpx_qrun_fail(r, rc, def->name, "building the statement failed");
  else rc = gpx_qrun_exec(r, &st, &res);
  if (rc == GPX_OK && !r->q->finite_only && gpx__poisoned(&st, res)) {
    /* rare: count the broken rows once, then run again without them */
    PQclear(res);
    res = NULL;
    rc = gpx_qrun_note_bad_pnl(r);
    if (rc == GPX_OK) rc = gpx_stmt_build(&st, def, r->s, r->q, width_ns, 0);
    if (rc == GPX_OK) rc = gpx_qrun_exec(r, &st, &res);
    else if (r->out->error.status == 200) rc = gpx_qrun_fail(r, rc, def->name, "building the statement failed");
  }
  for (int i = 0; rc == GPX_OK && i < PQntuples(res); i++) {
    gpx_qgroup *g;
    if ((i & 4095) == 4095 && gpx_qrun_cancelled(r)) rc = ECANCELED;
    else if ((rc = gpx_qrun_group(r, gpx_stmt_group(&st, res, i), &g)) == GPX_OK) rc = fn(r, g, &st, res, i, arg);
  }
  PQclear(res);
  gpx_stmt_reset(&st);
  return rc;
}

static int gpx__row_base(gpx_qrun *r, gpx_qgroup *g, const gpx_stmt *st, const PGresult *res, int i, void *arg) {
  double v = gpx_stmt_num(st, res, i, GPX_BASE_PNL);
  g->base_pnl = isnan(v) ? 0.0 : v; /* no trade before the range: sum() is NULL */
  return GPX_OK;
}

int gpx_qrun_load_base(gpx_qrun *r) {
  int rc = gpx_qrun_each_row(r, &gpx_stmt_base, 0, gpx__row_base, NULL);
  return rc == GPX_OK ? gpx_qrun_ensure_ungrouped(r) : rc;
}

static int gpx__push(gpx_qrun *r, gpx_qgroup *g, int64_t ts, double v, int64_t n) {
  int rc = gpx_group_push_row(g, ts, v, n);
  return rc == GPX_OK ? GPX_OK : gpx_qrun_fail(r, rc, "collecting rows", NULL);
}

static int gpx__row_bucket(gpx_qrun *r, gpx_qgroup *g, const gpx_stmt *st, const PGresult *res, int i, void *arg) {
  int64_t n = gpx_stmt_i64(st, res, i, GPX_BK_N);
  *(int64_t *)arg += n;
  return gpx__push(r, g, gpx_stmt_i64(st, res, i, GPX_BK_TS), gpx_stmt_num(st, res, i, GPX_BK_PNL), n);
}

int gpx_qrun_load_buckets(gpx_qrun *r, int64_t width_ns, int64_t *total) {
  *total = 0;
  return gpx_qrun_each_row(r, &gpx_stmt_buckets, width_ns, gpx__row_bucket, total);
}

static int gpx__row_trade(gpx_qrun *r, gpx_qgroup *g, const gpx_stmt *st, const PGresult *res, int i, void *arg) {
  return gpx__push(r, g, gpx_stmt_i64(st, res, i, GPX_TS_TS), gpx_stmt_num(st, res, i, GPX_TS_PNL), 1);
}

int gpx_qrun_load_trades(gpx_qrun *r) { return gpx_qrun_each_row(r, &gpx_stmt_trade_stream, 0, gpx__row_trade, NULL); }

/* ---- the curve kinds' curve (read by stream.c) ---- */

int gpx_qrun_curve_start(gpx_qrun *r, gpx_qgroup *g, int64_t bucket_ns, size_t per_trade_max, gpx_error *err) {
  if (g->curve_ready) return GPX_OK;
  g->curve_ready = 1;
  double e0 = gpx_qrun_base_equity(r, g);
  int64_t from_ns = r->q->from_ms * 1000000;
  if (per_trade_max > 0) return gpx_curve_init_auto(&g->curve, e0, from_ns, bucket_ns, per_trade_max, err);
  return gpx_curve_init(&g->curve, e0, from_ns, bucket_ns, err);
}

/* ---- days ---- */

int gpx_qrun_load_days(gpx_qrun *r) {
  gpx_stmt st = {0};
  PGresult *res = NULL;
  int rc = gpx_sql_days(&st, r->q);
  if (rc != GPX_OK) rc = gpx_qrun_fail(r, rc, "days", "building the statement failed");
  else rc = gpx_qrun_exec(r, &st, &res);
  int n = rc == GPX_OK ? PQntuples(res) : 0;
  if (rc == GPX_OK) {
    r->n_days = (size_t)n;
    r->day_start_ms = calloc(n ? (size_t)n : 1, sizeof *r->day_start_ms);
    if (r->day_start_ms == NULL) rc = gpx_qrun_fail(r, ENOMEM, "days", NULL);
  }
  for (int i = 0; i < n && rc == GPX_OK; i++) {
    int32_t day = (int32_t)gpx_stmt_i64(&st, res, i, GPX_DAYS_DAY);
    if (i == 0) r->first_day = day;
    r->last_day = day;
    r->today = (int32_t)gpx_stmt_i64(&st, res, i, GPX_DAYS_TODAY);
    r->day_start_ms[i] = gpx_stmt_i64(&st, res, i, GPX_DAYS_START_MS);
  }
  PQclear(res);
  gpx_stmt_reset(&st);
  return rc;
}

static int gpx__row_day(gpx_qrun *r, gpx_qgroup *g, const gpx_stmt *st, const PGresult *res, int i, void *arg) {
  int rc = gpx_group_push_day(g, (int32_t)gpx_stmt_i64(st, res, i, GPX_DY_DAY), gpx_stmt_num(st, res, i, GPX_DY_PNL),
                              gpx_stmt_i64(st, res, i, GPX_DY_N));
  return rc == GPX_OK ? GPX_OK : gpx_qrun_fail(r, rc, "daily", NULL);
}

int gpx_qrun_load_daily(gpx_qrun *r) { return gpx_qrun_each_row(r, &gpx_stmt_daily, 0, gpx__row_day, NULL); }

static int gpx__row_day_trades(gpx_qrun *r, gpx_qgroup *g, const gpx_stmt *st, const PGresult *res, int i, void *arg) {
  gpx_trade_agg a = {0};
  a.count = gpx_stmt_i64(st, res, i, GPX_DY_N);
  a.wins = gpx_stmt_i64(st, res, i, GPX_DY_WINS);
  a.losses = gpx_stmt_i64(st, res, i, GPX_DY_LOSSES);
  a.sum_pnl = gpx_stmt_num(st, res, i, GPX_DY_PNL);
  /* sum() over no row is NULL: a day without winners has won 0 */
  a.sum_win = a.wins > 0 ? gpx_stmt_num(st, res, i, GPX_DY_SUM_WIN) : 0;
  a.sum_loss = a.losses > 0 ? gpx_stmt_num(st, res, i, GPX_DY_SUM_LOSS) : 0;
  int rc = gpx_group_push_day_agg(g, (int32_t)gpx_stmt_i64(st, res, i, GPX_DY_DAY), a.sum_pnl, &a);
  return rc == GPX_OK ? GPX_OK : gpx_qrun_fail(r, rc, "daily", NULL);
}

int gpx_qrun_load_daily_trades(gpx_qrun *r) {
  return gpx_qrun_each_row(r, &gpx_stmt_daily_trades, 0, gpx__row_day_trades, NULL);
}

int gpx_qrun_load_day_sums(gpx_qrun *r, gpx_stream_need *need, int base, int on_stream) {
  if (on_stream && !r->loaded && !gpx_qcache_log_installed(r)) on_stream = 0;
  if (on_stream) return gpx_qrun_load_stream(r, need);
  if (r->loaded) return GPX_OK; /* another run's, borrowed (flight.c) */
  int rc = base ? gpx_qrun_load_base(r) : gpx_qrun_ensure_ungrouped(r);
  if (rc == GPX_OK) rc = gpx_qrun_load_days(r);
  if (rc == GPX_OK) rc = need->day_aggs ? gpx_qrun_load_daily_trades(r) : gpx_qrun_load_daily(r);
  if (rc == GPX_OK && (rc = gpx_groups_order(&r->groups)) != GPX_OK) rc = gpx_qrun_fail(r, rc, "daily", NULL);
  if (rc == GPX_OK) r->loaded = 1;
  return rc;
}

int64_t gpx_qrun_day_start_ns(const gpx_qrun *r, int32_t day) {
  int64_t idx = (int64_t)day - r->first_day;
  return (idx >= 0 && (size_t)idx < r->n_days ? r->day_start_ms[idx] : (int64_t)day * 86400000) * 1000000;
}

int gpx_qrun_build_daily(gpx_qrun *r, const gpx_qgroup *g, gpx_daily *d) {
  gpx_error err;
  int rc = gpx_daily_build(g->day, g->dpnl, g->dcount, g->nd, r->first_day, r->last_day,
                           (gpx_trading_days)r->q->a.trading_days, gpx_qrun_base_equity(r, g), d, &err);
  return rc == GPX_OK ? GPX_OK : gpx_qrun_fail(r, rc, "daily series", err.msg);
}

/* ---- slippage ---- */

/* Rows (group?, b, side, ts, Σfill·q entry, Σexp·q entry, Σfill·q exit,
   Σexp·q exit, n), one per bucket and side: folded into each group's total
   and, per bucket, into a series point. */
typedef struct gpx__slip_row {
  size_t g; /* group index (pointers move when the group array grows) */
  int64_t b, ts;
  gpx_slippage_acc acc;
} gpx__slip_row;

static int gpx__cmp_slip(const void *x, const void *y) {
  const gpx__slip_row *a = x, *c = y;
  if (a->g != c->g) return (a->g > c->g) - (a->g < c->g);
  return (a->b > c->b) - (a->b < c->b);
}

int gpx_qrun_load_slippage(gpx_qrun *r, int64_t width_ns, int per_bucket, gpx_pg_error *pe) {
  gpx_stmt st = {0};
  PGresult *res = NULL;
  pe->status = GPX_PG_OK;
  int rc = gpx_stmt_build(&st, &gpx_stmt_slippage, r->s, r->q, width_ns, 0);
  if (rc != GPX_OK) rc = gpx_qrun_fail(r, rc, "slippage", "building the statement failed");
  else if ((rc = gpx_qrun_exec_raw(r, &st, &res, pe)) != GPX_OK) {
    gpx_stmt_reset(&st);
    return rc; /* the caller decides what a Postgres error means here */
  }
  int n = rc == GPX_OK ? PQntuples(res) : 0;
  gpx__slip_row *rows = calloc(n ? (size_t)n : 1, sizeof *rows);
  if (rows == NULL && rc == GPX_OK) rc = gpx_qrun_fail(r, ENOMEM, "slippage", NULL);
  for (int i = 0; i < n && rc == GPX_OK; i++) {
    gpx_qgroup *g;
    if ((rc = gpx_qrun_group(r, gpx_stmt_group(&st, res, i), &g)) != GPX_OK) break;
    rows[i].g = (size_t)(g - r->groups.g);
    size_t sl = 0;
    const char *sd = gpx_stmt_text(&st, res, i, GPX_SL_SIDE, &sl);
    gpx_side side = gpx_side_stored(r->s, sd, sl);
    rows[i].b = gpx_stmt_i64(&st, res, i, GPX_SL_B);
    rows[i].ts = gpx_stmt_i64(&st, res, i, GPX_SL_TS);
    gpx_slippage_add_sums(&rows[i].acc, side, gpx_stmt_num(&st, res, i, GPX_SL_FILL_ENTRY),
                          gpx_stmt_num(&st, res, i, GPX_SL_EXP_ENTRY), gpx_stmt_num(&st, res, i, GPX_SL_FILL_EXIT),
                          gpx_stmt_num(&st, res, i, GPX_SL_EXP_EXIT), gpx_stmt_i64(&st, res, i, GPX_SL_N));
  }
  PQclear(res);
  gpx_stmt_reset(&st);
  if (rc == GPX_OK && n > 1) qsort(rows, (size_t)n, sizeof *rows, gpx__cmp_slip);
  for (int i = 0; i < n && rc == GPX_OK;) {
    /* merge the sides of one bucket */
    gpx_qgroup *g = &r->groups.g[rows[i].g];
    gpx_slippage_acc acc = {0};
    int64_t ts = rows[i].ts;
    int k = i;
    for (; k < n && rows[k].g == rows[i].g && rows[k].b == rows[i].b; k++) {
      gpx_slippage_merge(&acc, &rows[k].acc);
      gpx_slippage_merge(&g->slip, &rows[k].acc);
      if (rows[k].ts > ts) ts = rows[k].ts;
    }
    if (per_bucket) rc = gpx__push(r, g, ts, gpx_slippage_mean(&acc), acc.legs);
    i = k;
  }
  free(rows);
  return rc;
}
