/*
** run.c — execute a parsed query: SQL through pg/, numbers through
** trading/, frames through frame/.
**
** Data path (README "Design of the data path"):
**   equity, pnl, returns  one row per bucket (Σ p), cumulated in C;
**   drawdown, stats       a binary cursor over (closed_at, pnl), because the
**                         drawdown needs every trade in order; never held
**                         in memory at once;
**   daily_pnl, stats,     Σ p per local day from Postgres (time zones/DST
**   pnl_distribution      there), completed into a full daily series in C;
**   slippage              sums per bucket; trades: LIMIT n+1 rows.
** Each group is its own portfolio starting at initialCapital.
*/
#include <endian.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <strings.h>
#include <time.h>

#include "gpx/frame.h"
#include "gpx/log.h"
#include "gpx/query.h"
#include "query_model.h"

typedef struct gpx__group {
  char *name;        /* NULL when ungrouped */
  double base_pnl;   /* Σ p before the range */
  gpx_curve curve;
  int curve_ready;
  /* daily rows from SQL */
  int32_t *day;
  double *dpnl;
  int64_t *dcount;
  size_t nd, capd;
  /* slippage of the whole range */
  gpx_slippage_acc slip;
  /* bucket/trade rows for curves computed from SQL rows */
  int64_t *ts;
  double *pnl;
  size_t nt, capt;
} gpx__group;

typedef struct gpx__run {
  gpx_app *app;
  gpx_rpc_ctx *ctx;
  const gpx_ds_settings *s;
  gpx_query *q;
  gpx_data_response *dr;
  gpx_pg_session sess;
  gpx_buf executed;
  gpx__group *g;
  size_t ng, capg;
  /* days query */
  int32_t first_day, last_day, today;
  int64_t *day_start_ms; /* index: day - first_day */
  size_t n_days;
  double sql_seconds; /* time spent waiting for Postgres */
} gpx__run;

static double gpx__now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* ------------------------------------------------------------ groups */

static gpx__group *gpx__group_get(gpx__run *r, const char *name) {
  for (size_t i = 0; i < r->ng; i++) {
    const char *n = r->g[i].name;
    if ((n == NULL && name == NULL) || (n && name && strcmp(n, name) == 0)) return &r->g[i];
  }
  if (r->ng == r->capg) {
    size_t cap = r->capg ? r->capg * 2 : 8;
    gpx__group *p = realloc(r->g, cap * sizeof *p);
    if (p == NULL) return NULL;
    r->g = p;
    r->capg = cap;
  }
  gpx__group *g = &r->g[r->ng];
  memset(g, 0, sizeof *g);
  if (name) {
    g->name = strdup(name);
    if (g->name == NULL) return NULL;
  }
  r->ng++;
  return g;
}

/* Group key of a result row: column 0 when grouped. NULL values get "(none)". */
static const char *gpx__row_group(gpx__run *r, const PGresult *res, int row) {
  if (r->q->group_by == GPX_GROUP_NONE) return NULL;
  return PQgetisnull(res, row, 0) ? "(none)" : PQgetvalue(res, row, 0);
}

/* Typed realloc of array p to cap elements; returns ENOMEM from the
   enclosing function on failure (p keeps its old block). */
#define GPX__REALLOC(p, cap)                         \
  do {                                               \
    void *gpx__q = realloc((p), (cap) * sizeof *(p)); \
    if (gpx__q == NULL) return ENOMEM;               \
    (p) = gpx__q;                                    \
  } while (0)

static size_t gpx__next_cap(size_t cap) { return cap ? cap * 2 : 64; }

static int gpx__push_row(gpx__group *g, int64_t ts, double pnl) {
  if (g->nt == g->capt) {
    size_t c = gpx__next_cap(g->capt);
    GPX__REALLOC(g->ts, c);
    GPX__REALLOC(g->pnl, c);
    g->capt = c;
  }
  g->ts[g->nt] = ts;
  g->pnl[g->nt] = pnl;
  g->nt++;
  return GPX_OK;
}

static int gpx__push_day(gpx__group *g, int32_t d, double pnl, int64_t n) {
  if (g->nd == g->capd) {
    size_t c = gpx__next_cap(g->capd);
    GPX__REALLOC(g->day, c);
    GPX__REALLOC(g->dpnl, c);
    GPX__REALLOC(g->dcount, c);
    g->capd = c;
  }
  g->day[g->nd] = d;
  g->dpnl[g->nd] = pnl;
  g->dcount[g->nd] = n;
  g->nd++;
  return GPX_OK;
}

/* ---- ordering: aggregate SQL returns rows in hash order (sql.c) ---- */

typedef struct {
  int64_t ts;
  double v;
} gpx__tv;
typedef struct {
  int32_t d;
  double p;
  int64_t n;
} gpx__dv;

static int gpx__cmp_tv(const void *a, const void *b) {
  int64_t x = ((const gpx__tv *)a)->ts, y = ((const gpx__tv *)b)->ts;
  return (x > y) - (x < y);
}
static int gpx__cmp_dv(const void *a, const void *b) {
  int32_t x = ((const gpx__dv *)a)->d, y = ((const gpx__dv *)b)->d;
  return (x > y) - (x < y);
}
static int gpx__cmp_group(const void *a, const void *b) {
  const char *x = ((const gpx__group *)a)->name, *y = ((const gpx__group *)b)->name;
  if (x == NULL || y == NULL) return (x != NULL) - (y != NULL);
  return strcmp(x, y);
}

/* Sort groups by name and each group's rows by time / day. */
static int gpx__order(gpx__run *r) {
  if (r->ng > 1) qsort(r->g, r->ng, sizeof *r->g, gpx__cmp_group);
  for (size_t i = 0; i < r->ng; i++) {
    gpx__group *g = &r->g[i];
    size_t n = g->nt > g->nd ? g->nt : g->nd;
    if (n < 2) continue;
    if (g->nt > 1) {
      gpx__tv *t = malloc(g->nt * sizeof *t);
      if (t == NULL) return ENOMEM;
      for (size_t k = 0; k < g->nt; k++) t[k] = (gpx__tv){g->ts[k], g->pnl[k]};
      qsort(t, g->nt, sizeof *t, gpx__cmp_tv);
      for (size_t k = 0; k < g->nt; k++) g->ts[k] = t[k].ts, g->pnl[k] = t[k].v;
      free(t);
    }
    if (g->nd > 1) {
      gpx__dv *t = malloc(g->nd * sizeof *t);
      if (t == NULL) return ENOMEM;
      for (size_t k = 0; k < g->nd; k++) t[k] = (gpx__dv){g->day[k], g->dpnl[k], g->dcount[k]};
      qsort(t, g->nd, sizeof *t, gpx__cmp_dv);
      for (size_t k = 0; k < g->nd; k++) g->day[k] = t[k].d, g->dpnl[k] = t[k].p, g->dcount[k] = t[k].n;
      free(t);
    }
  }
  return GPX_OK;
}

static void gpx__run_reset(gpx__run *r) {
  for (size_t i = 0; i < r->ng; i++) {
    free(r->g[i].name);
    gpx_curve_reset(&r->g[i].curve);
    free(r->g[i].day);
    free(r->g[i].dpnl);
    free(r->g[i].dcount);
    free(r->g[i].ts);
    free(r->g[i].pnl);
  }
  free(r->g);
  free(r->day_start_ms);
  gpx_buf_reset(&r->executed);
}

/* ------------------------------------------------------------ errors */

static void gpx__fail_pg(gpx__run *r, const gpx_pg_error *e) {
  switch (e->status) {
    case GPX_PG_UNAVAILABLE:
    case GPX_PG_AUTH:
    case GPX_PG_NO_DATABASE:
      gpx_data_response_error(r->dr, 502, "downstream", "Postgres unavailable: %s", e->msg);
      break;
    case GPX_PG_TIMEOUT:
      gpx_data_response_error(r->dr, 504, "downstream", "query timed out after %d s", r->s->query_timeout_s);
      break;
    case GPX_PG_CANCELLED:
      gpx_data_response_error(r->dr, 499, "plugin", "request cancelled");
      break;
    default: {
      const char *st = e->sqlstate;
      /* Undefined table/column/function, bad values (e.g. time zone): the
         settings or the query are wrong, not Postgres. */
      int config = strcmp(st, "42P01") == 0 || strcmp(st, "42703") == 0 || strcmp(st, "3F000") == 0 ||
                   strcmp(st, "42883") == 0 || strcmp(st, "42804") == 0;
      int value = strcmp(st, "22023") == 0 || strncmp(st, "22", 2) == 0;
      if (config)
        gpx_data_response_error(r->dr, 400, "downstream", "%s (check the data source's table and column mapping)", e->msg);
      else if (value)
        gpx_data_response_error(r->dr, 400, "downstream", "%s", e->msg);
      else
        gpx_data_response_error(r->dr, 500, "downstream", "query failed: %s", e->msg);
    }
  }
}

static void gpx__fail(gpx__run *r, int rc, const char *what) {
  if (r->dr->error[0]) return;
  gpx_data_response_error(r->dr, 500, "plugin", "%s failed (%s)", what, strerror(rc));
}

/* Append a statement and its parameter values to meta.executedQueryString;
   returns the statement text. */
static const char *gpx__record_sql(gpx__run *r, const char *prefix, gpx_sql *sql) {
  const char *text = gpx_sql_cstr(sql);
  if (r->executed.len) gpx_buf_append_str(&r->executed, ";\n");
  gpx_buf_printf(&r->executed, "%s%s", prefix, text);
  if (sql->n) {
    gpx_buf_append_str(&r->executed, "\n-- parameters:");
    for (int i = 0; i < sql->n; i++) gpx_buf_printf(&r->executed, " $%d=%.200s", i + 1, sql->params[i]);
  }
  return text;
}

/* Record the statement for meta.executedQueryString, then run it. */
static int gpx__exec(gpx__run *r, gpx_sql *sql, int binary, PGresult **out) {
  const char *text = gpx__record_sql(r, "", sql);
  gpx_pg_error e;
  double t0 = gpx__now();
  int rc = gpx_pg_exec(&r->sess, text, sql->n, (const char *const *)sql->params, binary, out, &e);
  r->sql_seconds += gpx__now() - t0;
  if (rc != GPX_OK) gpx__fail_pg(r, &e);
  return rc;
}

/* ------------------------------------------------------------ SQL steps */

/* Run a statement (binary results) and hand each row to fn with its group
   and the index of the first column after the optional group column. */
typedef int (*gpx__row_fn)(gpx__run *r, gpx__group *g, const PGresult *res, int row, int pc, void *arg);

static int gpx__each_row(gpx__run *r, int build_rc, gpx_sql *sql, gpx__row_fn fn, void *arg) {
  PGresult *res = NULL;
  int rc = build_rc == GPX_OK ? gpx__exec(r, sql, 1, &res) : build_rc;
  gpx_sql_reset(sql);
  if (rc != GPX_OK) return rc;
  int pc = r->q->group_by == GPX_GROUP_NONE ? 0 : 1;
  for (int i = 0; i < PQntuples(res) && rc == GPX_OK; i++) {
    gpx__group *g = gpx__group_get(r, gpx__row_group(r, res, i));
    rc = g == NULL ? ENOMEM : fn(r, g, res, i, pc, arg);
  }
  PQclear(res);
  return rc;
}

static int gpx__row_base(gpx__run *r, gpx__group *g, const PGresult *res, int i, int pc, void *arg) {
  g->base_pnl = gpx_pg_get_float8(res, i, pc);
  return GPX_OK;
}

static int gpx__load_base(gpx__run *r) {
  gpx_sql sql = {0};
  int rc = gpx__each_row(r, gpx_sql_base(&sql, r->s, r->q), &sql, gpx__row_base, NULL);
  if (rc == GPX_OK && r->q->group_by == GPX_GROUP_NONE && gpx__group_get(r, NULL) == NULL) rc = ENOMEM;
  return rc;
}

static double gpx__base_equity(gpx__run *r, const gpx__group *g) {
  return r->q->a.initial_capital + g->base_pnl;
}

/* Rows (group?, b, ts, pnl, n) from the bucket query, or (group?, ts, pnl)
   per trade when per_trade. */
typedef struct {
  int per_trade;
  int64_t total;
} gpx__rows_arg;

static int gpx__row_point(gpx__run *r, gpx__group *g, const PGresult *res, int i, int pc, void *arg) {
  gpx__rows_arg *a = arg;
  if (a->per_trade) {
    a->total++;
    return gpx__push_row(g, gpx_pg_get_timestamptz_ns(res, i, pc), gpx_pg_get_number(res, i, pc + 1));
  }
  a->total += gpx_pg_get_int8(res, i, pc + 3);
  return gpx__push_row(g, gpx_pg_get_timestamptz_ns(res, i, pc + 1), gpx_pg_get_float8(res, i, pc + 2));
}

static int gpx__load_rows(gpx__run *r, int build_rc, gpx_sql *sql, int per_trade, int64_t *total) {
  gpx__rows_arg a = {per_trade, 0};
  int rc = gpx__each_row(r, build_rc, sql, gpx__row_point, &a);
  *total = a.total;
  return rc;
}

typedef struct gpx__stream_ctx {
  gpx__run *r;
  gpx__group *cur;
  int64_t bucket_ns;
  int rc;
  gpx_error err;
  int64_t tsbuf[4096];
  double pbuf[4096];
} gpx__stream_ctx;

static int gpx__curve_start(gpx__run *r, gpx__group *g, int64_t bucket_ns, gpx_error *err) {
  if (g->curve_ready) return GPX_OK;
  g->curve_ready = 1;
  return gpx_curve_init(&g->curve, gpx__base_equity(r, g), r->q->from_ms * 1000000, bucket_ns, err);
}

/* One fetched chunk: feed each group's curve in slices. */
static int gpx__on_chunk(const PGresult *res, void *arg) {
  gpx__stream_ctx *sc = arg;
  gpx__run *r = sc->r;
  int pc = r->q->group_by == GPX_GROUP_NONE ? 0 : 1;
  int n = PQntuples(res);
  size_t k = 0;
  for (int i = 0; i < n; i++) {
    const char *name = gpx__row_group(r, res, i);
    if (sc->cur == NULL || (name && (sc->cur->name == NULL || strcmp(sc->cur->name, name) != 0))) {
      if (k && sc->cur) {
        sc->rc = gpx_curve_push(&sc->cur->curve, sc->tsbuf, sc->pbuf, k, &sc->err);
        k = 0;
        if (sc->rc) return 1;
      }
      sc->cur = gpx__group_get(r, name);
      if (sc->cur == NULL) return sc->rc = ENOMEM, 1;
      if ((sc->rc = gpx__curve_start(r, sc->cur, sc->bucket_ns, &sc->err)) != GPX_OK) return 1;
    }
    sc->tsbuf[k] = gpx_pg_get_timestamptz_ns(res, i, pc);
    sc->pbuf[k] = gpx_pg_get_number(res, i, pc + 1);
    if (++k == 4096) {
      sc->rc = gpx_curve_push(&sc->cur->curve, sc->tsbuf, sc->pbuf, k, &sc->err);
      k = 0;
      if (sc->rc) return 1;
    }
  }
  if (k) sc->rc = gpx_curve_push(&sc->cur->curve, sc->tsbuf, sc->pbuf, k, &sc->err);
  return sc->rc ? 1 : 0;
}

static int gpx__stream_curves(gpx__run *r, int64_t bucket_ns) {
  gpx_sql sql = {0};
  int rc = gpx_sql_trade_stream(&sql, r->s, r->q);
  if (rc != GPX_OK) {
    gpx_sql_reset(&sql);
    return rc;
  }
  const char *text = gpx__record_sql(r, "DECLARE gpx_stream NO SCROLL CURSOR FOR ", &sql);
  gpx__stream_ctx *sc = calloc(1, sizeof *sc);
  if (sc == NULL) {
    gpx_sql_reset(&sql);
    return ENOMEM;
  }
  sc->r = r;
  sc->bucket_ns = bucket_ns;
  gpx_pg_error e;
  double t0 = gpx__now();
  rc = gpx_pg_stream(&r->sess, text, sql.n, (const char *const *)sql.params, 65536, gpx__on_chunk, sc, &e);
  r->sql_seconds += gpx__now() - t0; /* includes folding the chunks into the curve */
  gpx_sql_reset(&sql);
  if (rc != GPX_OK) {
    if (sc->rc != GPX_OK) {
      gpx_data_response_error(r->dr, 500, "plugin", "drawdown: %s", sc->err.msg);
      rc = sc->rc;
    } else {
      gpx__fail_pg(r, &e);
    }
  }
  free(sc);
  gpx_error err;
  for (size_t i = 0; rc == GPX_OK && i < r->ng; i++) {
    rc = gpx__curve_start(r, &r->g[i], bucket_ns, &err);
    if (rc == GPX_OK) rc = gpx_curve_finish(&r->g[i].curve, &err);
    if (rc != GPX_OK) gpx_data_response_error(r->dr, 500, "plugin", "drawdown: %s", err.msg);
  }
  return rc;
}

static int gpx__load_days(gpx__run *r) {
  gpx_sql sql = {0};
  PGresult *res = NULL;
  int rc = gpx_sql_days(&sql, r->q);
  if (rc == GPX_OK) rc = gpx__exec(r, &sql, 1, &res);
  gpx_sql_reset(&sql);
  if (rc != GPX_OK) return rc;
  int n = PQntuples(res);
  r->n_days = (size_t)n;
  r->day_start_ms = calloc(n ? (size_t)n : 1, sizeof *r->day_start_ms);
  if (r->day_start_ms == NULL) rc = ENOMEM;
  for (int i = 0; i < n && rc == GPX_OK; i++) {
    uint32_t d;
    memcpy(&d, PQgetvalue(res, i, 0), 4);
    int32_t day = (int32_t)be32toh(d);
    if (i == 0) r->first_day = day;
    r->last_day = day;
    memcpy(&d, PQgetvalue(res, i, 1), 4);
    r->today = (int32_t)be32toh(d);
    r->day_start_ms[i] = gpx_pg_get_int8(res, i, 2);
  }
  PQclear(res);
  return rc;
}

static int gpx__row_day(gpx__run *r, gpx__group *g, const PGresult *res, int i, int pc, void *arg) {
  uint32_t d;
  memcpy(&d, PQgetvalue(res, i, pc), 4);
  return gpx__push_day(g, (int32_t)be32toh(d), gpx_pg_get_float8(res, i, pc + 1), gpx_pg_get_int8(res, i, pc + 2));
}

static int gpx__load_daily(gpx__run *r) {
  gpx_sql sql = {0};
  return gpx__each_row(r, gpx_sql_daily(&sql, r->s, r->q), &sql, gpx__row_day, NULL);
}

/* Rows (group?, b, side, ts, Σfill·q entry, Σexp·q entry, Σfill·q exit,
   Σexp·q exit, n), one per bucket and side: folded into each group's total
   and, per bucket, into a series point. */
typedef struct gpx__slip_row {
  size_t g;  /* group index (pointers move when the group array grows) */
  int64_t b, ts;
  gpx_slippage_acc acc;
} gpx__slip_row;

static int gpx__cmp_slip(const void *x, const void *y) {
  const gpx__slip_row *a = x, *c = y;
  if (a->g != c->g) return (a->g > c->g) - (a->g < c->g);
  return (a->b > c->b) - (a->b < c->b);
}

static double gpx__f8_or_nan(const PGresult *res, int row, int col) {
  return PQgetisnull(res, row, col) ? NAN : gpx_pg_get_float8(res, row, col);
}

static int gpx__load_slippage(gpx__run *r, int64_t width_ms, int per_bucket) {
  gpx_sql sql = {0};
  PGresult *res = NULL;
  int rc = gpx_sql_slippage(&sql, r->s, r->q, width_ms);
  if (rc == GPX_OK) rc = gpx__exec(r, &sql, 1, &res);
  gpx_sql_reset(&sql);
  if (rc != GPX_OK) return rc;
  int pc = r->q->group_by == GPX_GROUP_NONE ? 0 : 1;
  int n = PQntuples(res);
  gpx__slip_row *rows = calloc(n ? (size_t)n : 1, sizeof *rows);
  if (rows == NULL) rc = ENOMEM;
  for (int i = 0; i < n && rc == GPX_OK; i++) {
    gpx__group *g = gpx__group_get(r, gpx__row_group(r, res, i));
    if (g == NULL) {
      rc = ENOMEM;
      break;
    }
    rows[i].g = (size_t)(g - r->g);
    gpx_side side = gpx_side_parse(PQgetisnull(res, i, pc + 1) ? NULL : PQgetvalue(res, i, pc + 1));
    rows[i].b = gpx_pg_get_int8(res, i, pc);
    rows[i].ts = gpx_pg_get_timestamptz_ns(res, i, pc + 2);
    gpx_slippage_add_sums(&rows[i].acc, side, gpx__f8_or_nan(res, i, pc + 3), gpx__f8_or_nan(res, i, pc + 4),
                          gpx__f8_or_nan(res, i, pc + 5), gpx__f8_or_nan(res, i, pc + 6), gpx_pg_get_int8(res, i, pc + 7));
  }
  PQclear(res);
  if (rc == GPX_OK && n > 1) qsort(rows, (size_t)n, sizeof *rows, gpx__cmp_slip);
  for (int i = 0; i < n && rc == GPX_OK;) {
    /* merge the sides of one bucket */
    gpx__group *g = &r->g[rows[i].g];
    gpx_slippage_acc acc = {0};
    int64_t ts = rows[i].ts;
    int k = i;
    for (; k < n && rows[k].g == rows[i].g && rows[k].b == rows[i].b; k++) {
      gpx_slippage_merge(&acc, &rows[k].acc);
      gpx_slippage_merge(&g->slip, &rows[k].acc);
      if (rows[k].ts > ts) ts = rows[k].ts;
    }
    if (per_bucket) rc = gpx__push_row(g, ts, gpx_slippage_mean(&acc));
    i = k;
  }
  free(rows);
  return rc;
}

/* ------------------------------------------------------------ frames */

static void gpx__currency_unit(const char *code, char *buf, size_t cap) {
  static const char *const known[] = {"USD", "EUR", "GBP", "JPY", "CHF", "CAD", "AUD", "CNY", "INR",
                                      "BRL", "RUB", "SEK", "NOK", "DKK", "PLN", "CZK", "ZAR", "KRW",
                                      "BTC", "UAH", "ISK", "HKD", NULL};
  for (int i = 0; known[i]; i++) {
    if (strcasecmp(code, known[i]) == 0) {
      snprintf(buf, cap, "currency%s", known[i]);
      return;
    }
  }
  snprintf(buf, cap, "suffix: %s", code);
}

static int gpx__emit(gpx__run *r, gpx_frame *f) {
  gpx_error err;
  int rc = gpx_frame_set_ref_id(f, r->q->ref_id, &err);
  if (rc == GPX_OK) rc = gpx_frame_set_executed_query(f, gpx_buf_terminate(&r->executed) == GPX_OK && r->executed.data
                                                            ? (const char *)r->executed.data : "", &err);
  gpx_buf out = {0};
  if (rc == GPX_OK) rc = gpx_frame_encode(f, &out, &err);
  if (rc == GPX_OK) rc = gpx_data_response_add_frame(r->dr, &out);
  if (rc != GPX_OK) gpx_data_response_error(r->dr, 500, "plugin", "encoding frame: %s", err.msg);
  gpx_buf_reset(&out);
  return rc;
}

/* A value field with the group's label, unit and display name. */
static gpx_field *gpx__value_field(gpx__run *r, gpx_frame *f, const gpx__group *g, const char *name,
                                   const char *unit, const char *display, gpx_error *err) {
  gpx_field *fl = gpx_frame_add_field(f, name, GPX_FIELD_FLOAT64, 1, err);
  if (fl == NULL) return NULL;
  if (g->name && gpx_field_set_label(fl, gpx_group_label(r->q->group_by), g->name, err) != GPX_OK) return NULL;
  if (unit && gpx_field_set_unit(fl, unit, err) != GPX_OK) return NULL;
  if (display) {
    char dn[300];
    if (g->name) snprintf(dn, sizeof dn, "%s %s", display, g->name);
    else snprintf(dn, sizeof dn, "%s", display);
    if (gpx_field_set_display_name_from_ds(fl, dn, err) != GPX_OK) return NULL;
  }
  return fl;
}

/* One timeseries-multi frame: time + one value field for group g. */
static int gpx__series_frame(gpx__run *r, const gpx__group *g, const char *field, const char *unit,
                             const char *display, const int64_t *ts, const double *v, size_t n) {
  gpx_frame f;
  gpx_frame_init(&f);
  gpx_error err;
  int rc = gpx_frame_set_name(&f, g->name ? g->name : field, &err);
  if (rc == GPX_OK) rc = gpx_frame_set_type(&f, GPX_FRAME_TYPE_TIMESERIES_MULTI, 0, 1, &err);
  gpx_field *tf = rc == GPX_OK ? gpx_frame_add_field(&f, "time", GPX_FIELD_TIME, 0, &err) : NULL;
  gpx_field *vf = tf ? gpx__value_field(r, &f, g, field, unit, display, &err) : NULL;
  if (vf == NULL) rc = EINVAL;
  if (rc == GPX_OK) rc = gpx_field_append_i64s(tf, ts, n, &err);
  if (rc == GPX_OK) rc = gpx_field_append_f64s(vf, v, n, &err);
  if (rc == GPX_OK) rc = gpx__emit(r, &f);
  else gpx_data_response_error(r->dr, 500, "plugin", "building frame: %s", err.msg);
  gpx_frame_reset(&f);
  return rc;
}

/* ------------------------------------------------------------ query types */

typedef enum { GPX__PT_EQUITY, GPX__PT_PNL, GPX__PT_RETURN, GPX__PT_DRAWDOWN, GPX__PT_DRAWDOWN_MONEY } gpx__pt_kind;

/* One series frame from a group's curve: a point at the range start with
   value `first`, one per curve point, and (extend) the last value repeated
   at the range end. Drawdown points sit at the time of each bucket's
   deepest trade, so troughs show; they are kept strictly increasing. */
static int gpx__curve_frame(gpx__run *r, const gpx__group *g, gpx__pt_kind kind, double first, int extend,
                            const char *field, const char *unit, const char *display) {
  size_t n = g->curve.npts;
  int64_t *ts = malloc((n + 2) * sizeof *ts);
  double *v = malloc((n + 2) * sizeof *v);
  if (!ts || !v) {
    free(ts);
    free(v);
    return ENOMEM;
  }
  size_t k = 0;
  ts[k] = r->q->from_ms * 1000000;
  v[k++] = first;
  for (size_t p = 0; p < n; p++, k++) {
    const gpx_curve_point *pt = &g->curve.pts[p];
    switch (kind) {
      case GPX__PT_EQUITY: ts[k] = pt->ts, v[k] = pt->equity; break;
      case GPX__PT_PNL: ts[k] = pt->ts, v[k] = pt->pnl; break;
      case GPX__PT_RETURN: ts[k] = pt->ts, v[k] = pt->ret; break;
      case GPX__PT_DRAWDOWN: ts[k] = pt->dd_ts, v[k] = pt->drawdown; break;
      case GPX__PT_DRAWDOWN_MONEY: ts[k] = pt->dd_amount_ts, v[k] = pt->drawdown_amount; break;
    }
    if (kind >= GPX__PT_DRAWDOWN && ts[k] <= ts[k - 1]) ts[k] = ts[k - 1] + 1;
  }
  if (extend && ts[k - 1] < r->q->to_ms * 1000000) {
    ts[k] = r->q->to_ms * 1000000;
    v[k] = v[k - 1];
    k++;
  }
  int rc = gpx__series_frame(r, g, field, unit, display, ts, v, k);
  free(ts);
  free(v);
  return rc;
}

static int64_t gpx__width_ms(const gpx_query *q) {
  int64_t w = (q->to_ms - q->from_ms) / (q->max_points > 0 ? q->max_points : 1);
  if (w < q->interval_ms) w = q->interval_ms;
  return w > 0 ? w : 1;
}

/* equity / pnl / returns: last value of each bucket, from bucket sums. */
static int gpx__run_curve(gpx__run *r) {
  int rc = gpx__load_base(r);
  if (rc != GPX_OK) return rc;
  int64_t width = gpx__width_ms(r->q), total = 0;
  gpx_sql sql = {0};
  rc = gpx__load_rows(r, gpx_sql_buckets(&sql, r->s, r->q, width), &sql, 0, &total);
  if (rc == GPX_OK && total <= r->q->max_points) {
    /* Few trades: one point per trade, no down-sampling. */
    for (size_t i = 0; i < r->ng; i++) r->g[i].nt = 0;
    rc = gpx__load_rows(r, gpx_sql_trade_stream(&sql, r->s, r->q), &sql, 1, &total);
  }
  if (rc == GPX_OK) rc = gpx__order(r);
  if (rc != GPX_OK) return rc;
  static const char *const field[] = {[GPX_Q_EQUITY] = "equity", [GPX_Q_PNL] = "pnl", [GPX_Q_RETURNS] = "returns"};
  static const char *const disp[] = {[GPX_Q_EQUITY] = "Portfolio value", [GPX_Q_PNL] = "Cumulative P&L",
                                     [GPX_Q_RETURNS] = "Cumulative return"};
  char cur[32];
  gpx__currency_unit(r->s->currency, cur, sizeof cur);
  const char *unit = r->q->type == GPX_Q_RETURNS ? "percentunit" : cur;
  for (size_t i = 0; i < r->ng && rc == GPX_OK; i++) {
    gpx__group *g = &r->g[i];
    gpx_error err;
    /* Each SQL row (bucket or trade) is one point of the curve. */
    rc = gpx_curve_init(&g->curve, gpx__base_equity(r, g), r->q->from_ms * 1000000, 0, &err);
    if (rc == GPX_OK) rc = gpx_curve_push(&g->curve, g->ts, g->pnl, g->nt, &err);
    if (rc == GPX_OK) rc = gpx_curve_finish(&g->curve, &err);
    if (rc != GPX_OK) {
      gpx_data_response_error(r->dr, 500, "plugin", "%s", err.msg);
      break;
    }
    double e0 = gpx__base_equity(r, g);
    gpx__pt_kind kind = r->q->type == GPX_Q_EQUITY ? GPX__PT_EQUITY : r->q->type == GPX_Q_PNL ? GPX__PT_PNL : GPX__PT_RETURN;
    /* The range start carries E(from) (C = R = 0) so the line starts where
       the range does; the range end repeats the last value. */
    double first = kind == GPX__PT_EQUITY ? e0 : kind == GPX__PT_RETURN && !(e0 > 0) ? NAN : 0.0;
    rc = gpx__curve_frame(r, g, kind, first, 1, field[r->q->type], unit, disp[r->q->type]);
  }
  return rc;
}

static int gpx__run_drawdown(gpx__run *r) {
  int rc = gpx__load_base(r);
  if (rc != GPX_OK) return rc;
  int64_t bucket_ns = gpx_bucket_width_ns(r->q->from_ms * 1000000, r->q->to_ms * 1000000, r->q->interval_ms,
                                          r->q->max_points, -1);
  rc = gpx__stream_curves(r, bucket_ns);
  if (rc == GPX_OK) rc = gpx__order(r);
  if (rc != GPX_OK) return rc;
  char cur[32];
  gpx__currency_unit(r->s->currency, cur, sizeof cur);
  int money = r->q->drawdown_money;
  for (size_t i = 0; i < r->ng && rc == GPX_OK; i++) {
    gpx__group *g = &r->g[i];
    double first = gpx__base_equity(r, g) > 0 || money ? 0.0 : NAN;
    rc = gpx__curve_frame(r, g, money ? GPX__PT_DRAWDOWN_MONEY : GPX__PT_DRAWDOWN, first, 0, "drawdown",
                          money ? cur : "percentunit", "Drawdown");
  }
  return rc;
}

static int gpx__build_daily(gpx__run *r, gpx__group *g, gpx_daily *d) {
  gpx_error err;
  int rc = gpx_daily_build(g->day, g->dpnl, g->dcount, g->nd, r->first_day, r->last_day,
                           (gpx_trading_days)r->q->a.trading_days, gpx__base_equity(r, g), d, &err);
  if (rc != GPX_OK) gpx_data_response_error(r->dr, 500, "plugin", "daily series: %s", err.msg);
  return rc;
}

static int gpx__run_daily(gpx__run *r) {
  /* Daily P&L needs no E(from): skip the aggregate over the whole history
     before the range (the daily returns computed alongside are not shown). */
  int rc = r->q->group_by == GPX_GROUP_NONE && gpx__group_get(r, NULL) == NULL ? ENOMEM : GPX_OK;
  if (rc == GPX_OK) rc = gpx__load_days(r);
  if (rc == GPX_OK) rc = gpx__load_daily(r);
  if (rc == GPX_OK) rc = gpx__order(r);
  if (rc != GPX_OK) return rc;
  char cur[32];
  gpx__currency_unit(r->s->currency, cur, sizeof cur);
  for (size_t i = 0; i < r->ng && rc == GPX_OK; i++) {
    gpx__group *g = &r->g[i];
    gpx_daily d;
    memset(&d, 0, sizeof d);
    rc = gpx__build_daily(r, g, &d);
    if (rc != GPX_OK) break;
    if (r->q->type == GPX_Q_DAILY_PNL) {
      int64_t *ts = malloc((d.n ? d.n : 1) * sizeof *ts);
      if (ts == NULL) rc = ENOMEM;
      for (size_t k = 0; rc == GPX_OK && k < d.n; k++) {
        int64_t idx = (int64_t)d.day[k] - r->first_day;
        ts[k] = (idx >= 0 && (size_t)idx < r->n_days ? r->day_start_ms[idx] : (int64_t)d.day[k] * 86400000) * 1000000;
      }
      if (rc == GPX_OK) rc = gpx__series_frame(r, g, "daily_pnl", cur, "Daily P&L", ts, d.pnl, d.n);
      free(ts);
    } else {
      gpx_frame f;
      gpx_frame_init(&f);
      gpx_error err;
      rc = gpx_frame_set_name(&f, g->name ? g->name : "pnl_distribution", &err);
      if (rc == GPX_OK) rc = gpx_frame_set_type(&f, GPX_FRAME_TYPE_NUMERIC_LONG, 0, 1, &err);
      gpx_field *vf = rc == GPX_OK ? gpx__value_field(r, &f, g, "daily_pnl", cur, "Daily P&L", &err) : NULL;
      if (vf == NULL) rc = EINVAL;
      if (rc == GPX_OK) rc = gpx_field_append_f64s(vf, d.pnl, d.n, &err);
      if (rc == GPX_OK) rc = gpx__emit(r, &f);
      else gpx_data_response_error(r->dr, 500, "plugin", "building frame: %s", err.msg);
      gpx_frame_reset(&f);
    }
    gpx_daily_reset(&d);
  }
  return rc;
}

static const char *const gpx__stat_display[GPX_STATS_NFIELDS] = {
    "Total P&L", "Total return", "Portfolio value", "Trade count", "Win rate", "Profit factor",
    "Payoff ratio", "Expectancy", "Max drawdown", "Max drawdown (money)", "Sharpe ratio", "Sortino ratio",
    "Calmar ratio", "Annual return (CAGR)", "Annual volatility", "Average slippage", "Daily loss (today)",
    "Worst day", "Best day"};

static const char *gpx__stat_unit(int i, const char *cur) {
  const char *name = gpx_stats_field_names[i];
  if (!strcmp(name, "total_pnl") || !strcmp(name, "equity") || !strcmp(name, "expectancy") ||
      !strcmp(name, "max_drawdown_amount") || !strcmp(name, "daily_loss") || !strcmp(name, "worst_day") ||
      !strcmp(name, "best_day"))
    return cur;
  if (!strcmp(name, "total_return") || !strcmp(name, "win_rate") || !strcmp(name, "max_drawdown") ||
      !strcmp(name, "cagr") || !strcmp(name, "annual_volatility"))
    return "percentunit";
  if (!strcmp(name, "avg_slippage_bps")) return "suffix: bps";
  return "none";
}

static int gpx__run_stats(gpx__run *r) {
  int rc = gpx__load_base(r);
  if (rc == GPX_OK) rc = gpx__load_days(r);
  if (rc == GPX_OK) rc = gpx__load_daily(r);
  /* one bucket over the whole range; slippage needs the optional columns,
     and a table without them still gets every other number */
  int no_slippage = 0;
  if (rc == GPX_OK) {
    rc = gpx__load_slippage(r, r->q->to_ms - r->q->from_ms + 1, 0);
    if (rc != GPX_OK && r->dr->status == 400) {
      no_slippage = 1;
      r->dr->error[0] = '\0';
      r->dr->status = 200;
      r->dr->error_source = NULL;
      rc = GPX_OK;
    }
  }
  if (rc == GPX_OK) rc = gpx__stream_curves(r, r->q->to_ms * 1000000 - r->q->from_ms * 1000000 + 1);
  if (rc == GPX_OK) rc = gpx__order(r);
  if (rc != GPX_OK) return rc;
  char cur[32];
  gpx__currency_unit(r->s->currency, cur, sizeof cur);
  gpx_analytics_opts o;
  gpx_analytics_opts_default(&o);
  o.trading_days = (gpx_trading_days)r->q->a.trading_days;
  o.annualization = r->q->a.annualization;
  o.risk_free_rate = r->q->a.risk_free_rate;
  gpx_frame f;
  gpx_frame_init(&f);
  gpx_error err;
  rc = gpx_frame_set_name(&f, "stats", &err);
  if (rc == GPX_OK) rc = gpx_frame_set_type(&f, GPX_FRAME_TYPE_NUMERIC_WIDE, 0, 1, &err);
  for (size_t i = 0; i < r->ng && rc == GPX_OK; i++) {
    gpx__group *g = &r->g[i];
    gpx_daily d;
    memset(&d, 0, sizeof d);
    rc = gpx__build_daily(r, g, &d);
    if (rc != GPX_OK) break;
    gpx_drawdown_summary dd = {g->curve.max_dd, g->curve.max_dd_amount};
    gpx_stats st;
    rc = gpx_stats_compute(gpx__base_equity(r, g), &g->curve.agg, &dd, &d, r->today, &g->slip, &o, &st, &err);
    gpx_daily_reset(&d);
    if (rc != GPX_OK) {
      gpx_data_response_error(r->dr, 500, "plugin", "stats: %s", err.msg);
      break;
    }
    for (int m = 0; m < r->q->n_metrics && rc == GPX_OK; m++) {
      int idx = r->q->metrics[m];
      gpx_field *fl = gpx__value_field(r, &f, g, gpx_stats_field_names[idx], gpx__stat_unit(idx, cur),
                                       gpx__stat_display[idx], &err);
      if (fl == NULL) rc = EINVAL;
      else rc = gpx_field_append_f64(fl, gpx_stats_get(&st, (size_t)idx), &err);
    }
  }
  if (rc == GPX_OK && no_slippage)
    rc = gpx_frame_add_notice(&f, GPX_NOTICE_INFO,
                              "avg_slippage_bps is null: the table lacks the side/qty/price columns it needs", &err);
  if (rc == GPX_OK) rc = gpx__emit(r, &f);
  else if (!r->dr->error[0]) gpx_data_response_error(r->dr, 500, "plugin", "building frame: %s", err.msg);
  gpx_frame_reset(&f);
  return rc;
}

static int gpx__run_slippage(gpx__run *r) {
  int rc = gpx__load_slippage(r, gpx__width_ms(r->q), 1);
  if (rc != GPX_OK) return rc;
  if (r->q->group_by == GPX_GROUP_NONE && gpx__group_get(r, NULL) == NULL) return ENOMEM;
  if ((rc = gpx__order(r)) != GPX_OK) return rc;
  for (size_t i = 0; i < r->ng && rc == GPX_OK; i++)
    rc = gpx__series_frame(r, &r->g[i], "slippage_bps", "suffix: bps", "Slippage", r->g[i].ts, r->g[i].pnl,
                           r->g[i].nt);
  return rc;
}

static int gpx__run_trades(gpx__run *r) {
  gpx_sql sql = {0};
  PGresult *res = NULL;
  int rc = gpx_sql_trades(&sql, r->s, r->q, r->q->limit);
  if (rc == GPX_OK) rc = gpx__exec(r, &sql, 1, &res);
  gpx_sql_reset(&sql);
  if (rc != GPX_OK) return rc;
  char cur[32];
  gpx__currency_unit(r->s->currency, cur, sizeof cur);
  int n = PQntuples(res);
  int cut = n > r->q->limit;
  if (cut) n = (int)r->q->limit;
  gpx_frame f;
  gpx_frame_init(&f);
  gpx_error err;
  rc = gpx_frame_set_name(&f, "trades", &err);
  if (rc == GPX_OK) rc = gpx_frame_set_type(&f, GPX_FRAME_TYPE_TABLE, 0, 0, &err);
  static const char *const names[] = {"closed_at", "opened_at", "trade_id", "account", "exchange", "strategy",
                                      "symbol", "side", "qty", "entry_price", "exit_price", "fees", "realized_pnl",
                                      "slippage_bps"};
  gpx_field *fl[14] = {0};
  for (int c = 0; c < 14 && rc == GPX_OK; c++) {
    gpx_field_type t = c < 2 ? GPX_FIELD_TIME : c < 8 ? GPX_FIELD_STRING : GPX_FIELD_FLOAT64;
    fl[c] = gpx_frame_add_field(&f, names[c], t, c == 0 ? 0 : 1, &err);
    if (fl[c] == NULL) rc = EINVAL;
    else if (c >= 11 && c <= 12) rc = gpx_field_set_unit(fl[c], cur, &err);
    else if (c == 13) rc = gpx_field_set_unit(fl[c], "suffix: bps", &err);
  }
  for (int i = 0; i < n && rc == GPX_OK; i++) {
    for (int c = 0; c < 13 && rc == GPX_OK; c++) {
      if (PQgetisnull(res, i, c)) {
        rc = gpx_field_append_null(fl[c], &err);
      } else if (c < 2) {
        rc = gpx_field_append_time(fl[c], gpx_pg_get_timestamptz_ns(res, i, c), &err);
      } else if (c < 8) {
        rc = gpx_field_append_str(fl[c], PQgetvalue(res, i, c), (size_t)PQgetlength(res, i, c), &err);
      } else {
        rc = gpx_field_append_f64(fl[c], gpx_pg_get_number(res, i, c), &err);
      }
    }
    if (rc != GPX_OK) break;
    gpx_side side = gpx_side_parse(PQgetisnull(res, i, 7) ? NULL : PQgetvalue(res, i, 7));
#define NUM(c) gpx_pg_get_number(res, i, c)
    double bps = gpx_trade_slippage_bps(side, NUM(8), NUM(9), NUM(10), NUM(13), NUM(14));
#undef NUM
    rc = gpx_field_append_f64(fl[13], bps, &err);
  }
  PQclear(res);
  if (rc == GPX_OK && cut) {
    char msg[160];
    snprintf(msg, sizeof msg, "Showing the newest %lld trades; more match the range and filters (row limit).",
             (long long)r->q->limit);
    rc = gpx_frame_add_notice(&f, GPX_NOTICE_WARNING, msg, &err);
  }
  if (rc == GPX_OK) rc = gpx__emit(r, &f);
  else if (!r->dr->error[0]) gpx_data_response_error(r->dr, 500, "plugin", "building frame: %s", err.msg);
  gpx_frame_reset(&f);
  return rc;
}

/* ------------------------------------------------------------ entry */

static int gpx__execute(gpx_app *app, gpx_rpc_ctx *ctx, const Pluginv2__PluginContext *pctx,
                        const Pluginv2__DataQuery *pq, gpx_data_response *dr);

void gpx_query_execute(gpx_app *app, gpx_rpc_ctx *ctx, const Pluginv2__PluginContext *pctx,
                       const Pluginv2__DataQuery *pq, gpx_data_response *dr) {
  struct timespec t0, t1;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  int type = gpx__execute(app, ctx, pctx, pq, dr);
  clock_gettime(CLOCK_MONOTONIC, &t1);
  double secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
  gpx_query_stats_record(&app->qstats, type, dr->status, secs);
}

/* Returns the query type's index, or GPX_QSTAT_TYPES - 1 when invalid. */
static int gpx__execute(gpx_app *app, gpx_rpc_ctx *ctx, const Pluginv2__PluginContext *pctx,
                        const Pluginv2__DataQuery *pq, gpx_data_response *dr) {
  gpx_error err;
  if (app->test_queries && pq->querytype && strncmp(pq->querytype, "__test_frame", 12) == 0) {
    gpx_query_test_frame(pq, dr);
    return GPX_QSTAT_TYPES - 1;
  }
  if (pctx == NULL || pctx->datasourceinstancesettings == NULL) {
    /* Still validate the query, so its own mistakes are named first. */
    gpx_ds_settings defaults;
    gpx_ds_settings_default(&defaults);
    gpx_query q;
    if (gpx_query_parse(pq, &defaults, &q, &err) != GPX_OK) {
      gpx_data_response_error(dr, 400, "plugin", "%s", err.msg);
    } else {
      gpx_query_reset(&q);
      gpx_data_response_error(dr, 400, "plugin", "request has no data-source instance settings");
    }
    return GPX_QSTAT_TYPES - 1;
  }
  gpx_ds_instance *inst = NULL;
  if (gpx_ds_acquire(app->ds, pctx->datasourceinstancesettings, &inst, &err) != GPX_OK) {
    gpx_data_response_error(dr, 400, "plugin", "data source settings: %s", err.msg);
    return GPX_QSTAT_TYPES - 1;
  }
  gpx_query q;
  if (gpx_query_parse(pq, &inst->settings, &q, &err) != GPX_OK) {
    gpx_data_response_error(dr, 400, "plugin", "%s", err.msg);
    gpx_ds_release(app->ds, inst);
    return GPX_QSTAT_TYPES - 1;
  }
  gpx__run r;
  memset(&r, 0, sizeof r);
  r.app = app;
  r.ctx = ctx;
  r.s = &inst->settings;
  r.q = &q;
  r.dr = dr;
  gpx_pg_error pe;
  int rc = gpx_pg_acquire(inst->pool, &r.sess, gpx_rpc_cancelled_cb, ctx, &pe);
  if (rc != GPX_OK) {
    gpx__fail_pg(&r, &pe);
  } else {
    switch (q.type) {
      case GPX_Q_EQUITY:
      case GPX_Q_PNL:
      case GPX_Q_RETURNS: rc = gpx__run_curve(&r); break;
      case GPX_Q_DRAWDOWN: rc = gpx__run_drawdown(&r); break;
      case GPX_Q_DAILY_PNL:
      case GPX_Q_PNL_DISTRIBUTION: rc = gpx__run_daily(&r); break;
      case GPX_Q_STATS: rc = gpx__run_stats(&r); break;
      case GPX_Q_SLIPPAGE: rc = gpx__run_slippage(&r); break;
      case GPX_Q_TRADES: rc = gpx__run_trades(&r); break;
      default: rc = EINVAL; break;
    }
    if (rc != GPX_OK) gpx__fail(&r, rc, gpx_query_types[q.type]);
    gpx_pg_release(&r.sess);
  }
  if (gpx_log_get_level() <= GPX_LOG_DEBUG) {
    json_t *f = json_pack("{s:s, s:s, s:i, s:f, s:i}", "refId", q.ref_id, "queryType", gpx_query_types[q.type],
                          "status", dr->status, "sqlSeconds", r.sql_seconds, "frames", (int)dr->n_frames);
    gpx_log(GPX_LOG_DEBUG, "query answered", f);
  }
  gpx__run_reset(&r);
  int type = (int)q.type;
  gpx_query_reset(&q);
  gpx_ds_release(app->ds, inst);
  return type;
}
