/*
** rows.c — reading a statement's rows, and the groups they are folded into.
**
** Readers take the column's index in its statement's column table (sql.c)
** and decode the binary value the table says it has; SQL NULL reads as NaN
** (numbers), 0 (integers) or NULL (text). Groups are kept in insertion
** order with an open-addressing hash index by name, so a result of 10,000
** symbols × 100 buckets costs one hash probe per row, not a scan.
*/
#include <endian.h>
#include <math.h>
#include <stdlib.h>

#include "query_int.h"

/* ------------------------------------------------------------ readers */

static int gpx__at(const gpx_stmt *st, int c) { return st->first + c; }

int gpx_stmt_isnull(const gpx_stmt *st, const PGresult *res, int row, int c) {
  return PQgetisnull(res, row, gpx__at(st, c));
}

static int64_t gpx__i4(const PGresult *res, int row, int col) {
  if (PQgetlength(res, row, col) != 4) return 0;
  uint32_t v;
  memcpy(&v, PQgetvalue(res, row, col), 4);
  return (int32_t)be32toh(v);
}

double gpx_stmt_num(const gpx_stmt *st, const PGresult *res, int row, int c) {
  int col = gpx__at(st, c);
  if (PQgetisnull(res, row, col)) return NAN;
  switch (st->def->cols[c].dec) {
    case GPX_DEC_F8: return PQgetlength(res, row, col) == 8 ? gpx_pg_get_float8(res, row, col) : NAN;
    case GPX_DEC_I8: return PQgetlength(res, row, col) == 8 ? (double)gpx_pg_get_int8(res, row, col) : NAN;
    case GPX_DEC_I4: return (double)gpx__i4(res, row, col);
    case GPX_DEC_NUMBER: return gpx_pg_get_number(res, row, col);
    default: return NAN;
  }
}

int gpx_stmt_time(const gpx_stmt *st, const PGresult *res, int row, int c, int64_t *ns) {
  int col = gpx__at(st, c);
  *ns = 0;
  if (PQgetisnull(res, row, col) || PQgetlength(res, row, col) != 8) return 0;
  /* µs since 2000-01-01 → ns since 1970; ±infinity and years past 2262
     do not fit and read as absent */
  int64_t us = gpx_pg_get_int8(res, row, col), t;
  if (__builtin_add_overflow(us, INT64_C(946684800000000), &t) || __builtin_mul_overflow(t, 1000, ns)) {
    *ns = 0;
    return 0;
  }
  return 1;
}

int64_t gpx_stmt_i64(const gpx_stmt *st, const PGresult *res, int row, int c) {
  int col = gpx__at(st, c);
  if (PQgetisnull(res, row, col)) return 0;
  int64_t ns;
  switch (st->def->cols[c].dec) {
    case GPX_DEC_I8: return PQgetlength(res, row, col) == 8 ? gpx_pg_get_int8(res, row, col) : 0;
    case GPX_DEC_I4: return gpx__i4(res, row, col);
    case GPX_DEC_TIME: return gpx_stmt_time(st, res, row, c, &ns) ? ns : 0;
    default: return 0;
  }
}

const char *gpx_stmt_text(const gpx_stmt *st, const PGresult *res, int row, int c, size_t *len) {
  int col = gpx__at(st, c);
  if (PQgetisnull(res, row, col)) {
    if (len) *len = 0;
    return NULL;
  }
  if (len) *len = (size_t)PQgetlength(res, row, col);
  return PQgetvalue(res, row, col);
}

const char *gpx_stmt_group(const gpx_stmt *st, const PGresult *res, int row) {
  if (st->first == 0) return NULL;
  return PQgetisnull(res, row, 0) ? "(none)" : PQgetvalue(res, row, 0);
}

/* ---- rows read through COPY ---- */

/* µs since 2000-01-01 (binary timestamptz) → ns since 1970, 0 when it does
   not fit (±infinity, years past 2262) */
static int gpx__time_ns(const char *p, int len, int64_t *ns) {
  *ns = 0;
  if (p == NULL || len != 8) return 0;
  uint64_t u;
  memcpy(&u, p, 8);
  int64_t us = (int64_t)be64toh(u), t;
  if (__builtin_add_overflow(us, INT64_C(946684800000000), &t) || __builtin_mul_overflow(t, 1000, ns)) {
    *ns = 0;
    return 0;
  }
  return 1;
}

double gpx_crow_num(const gpx_stmt *st, gpx_crow r, int c) {
  int col = gpx__at(st, c);
  return gpx_pg_number(r.types[col], r.v[col].p, r.v[col].len);
}

int gpx_crow_time(const gpx_stmt *st, gpx_crow r, int c, int64_t *ns) {
  int col = gpx__at(st, c);
  return gpx__time_ns(r.v[col].p, r.v[col].len, ns);
}

const char *gpx_crow_text(const gpx_stmt *st, gpx_crow r, int c, size_t *len) {
  int col = gpx__at(st, c);
  *len = r.v[col].len > 0 ? (size_t)r.v[col].len : 0;
  return r.v[col].p;
}

const char *gpx_crow_group(const gpx_stmt *st, gpx_crow r, size_t *len) {
  if (st->first == 0) return NULL;
  if (r.v[0].p == NULL) {
    *len = 6;
    return "(none)";
  }
  *len = (size_t)r.v[0].len;
  return r.v[0].p;
}

/* The side as stored (read as text): long/short or buy/sell in any case,
   or a boolean ("true"/"false") meaning is_short or is_long. Normalised
   here, per row, rather than by a CASE in Postgres on a million-row read. */
gpx_side gpx_side_stored(const gpx_ds_settings *s, const char *p, size_t len) {
  char b[16];
  if (p == NULL || len >= sizeof b) return GPX_SIDE_UNKNOWN;
  gpx_col_as as = s->columns[GPX_COL_SIDE].as;
  if (as == GPX_AS_IS_SHORT || as == GPX_AS_IS_LONG) {
    int t = len > 0 && p[0] == 't';
    return t == (as == GPX_AS_IS_SHORT) ? GPX_SIDE_SHORT : GPX_SIDE_LONG;
  }
  /* the usual spelling without a copy */
  if (len == 4 && memcmp(p, "long", 4) == 0) return GPX_SIDE_LONG;
  if (len == 5 && memcmp(p, "short", 5) == 0) return GPX_SIDE_SHORT;
  memcpy(b, p, len);
  b[len] = '\0';
  return gpx_side_parse(b);
}

/* ------------------------------------------------------------ groups */

static uint32_t gpx__hash(const char *s) {
  uint32_t h = 2166136261u; /* FNV-1a */
  for (; s && *s; s++) h = (h ^ (uint8_t)*s) * 16777619u;
  return h;
}

static int gpx__same(const char *a, const char *b) {
  return (a == NULL && b == NULL) || (a && b && strcmp(a, b) == 0);
}

static int gpx__reindex(gpx_groups *gs, size_t nslots) {
  uint32_t *slots = calloc(nslots, sizeof *slots);
  if (slots == NULL) return ENOMEM;
  for (size_t i = 0; i < gs->n; i++) {
    size_t k = gpx__hash(gs->g[i].name) & (nslots - 1);
    while (slots[k]) k = (k + 1) & (nslots - 1);
    slots[k] = (uint32_t)(i + 1);
  }
  free(gs->slots);
  gs->slots = slots;
  gs->nslots = nslots;
  return GPX_OK;
}

gpx_qgroup *gpx_groups_get(gpx_groups *gs, const char *name) {
  if (gs->nslots) {
    size_t k = gpx__hash(name) & (gs->nslots - 1);
    for (; gs->slots[k]; k = (k + 1) & (gs->nslots - 1))
      if (gpx__same(gs->g[gs->slots[k] - 1].name, name)) return &gs->g[gs->slots[k] - 1];
  }
  if (gs->max && gs->n >= gs->max) {
    gs->full = 1;
    return NULL;
  }
  if (gs->n == gs->cap) {
    size_t cap = gs->cap ? gs->cap * 2 : 8;
    if (cap > UINT32_MAX / 4) return NULL;
    gpx_qgroup *p = realloc(gs->g, cap * sizeof *p);
    if (p == NULL) return NULL;
    gs->g = p;
    gs->cap = cap;
  }
  gpx_qgroup *g = &gs->g[gs->n];
  memset(g, 0, sizeof *g);
  if (name && (g->name = strdup(name)) == NULL) return NULL;
  gs->n++;
  if (gs->n * 2 > gs->nslots) {
    /* keep the index at most half full: rebuilt, it covers the new group */
    if (gpx__reindex(gs, gs->nslots ? gs->nslots * 2 : 16) != GPX_OK) {
      free(g->name);
      gs->n--;
      return NULL;
    }
  } else {
    size_t k = gpx__hash(name) & (gs->nslots - 1);
    while (gs->slots[k]) k = (k + 1) & (gs->nslots - 1);
    gs->slots[k] = (uint32_t)gs->n;
  }
  return g;
}

void gpx_groups_reset(gpx_groups *gs) {
  for (size_t i = 0; i < gs->n; i++) {
    gpx_qgroup *g = &gs->g[i];
    free(g->name);
    gpx_curve_reset(&g->curve);
    free(g->ts);
    free(g->v);
    free(g->n);
    free(g->day);
    free(g->dpnl);
    free(g->dcount);
    free(g->dagg);
    gpx_trade_acc_reset(&g->trades);
    gpx_day_fold_reset(&g->days);
    gpx_episodes_reset(&g->episodes);
  }
  free(gs->g);
  free(gs->slots);
  memset(gs, 0, sizeof *gs);
}

/* Typed realloc of array p to cap elements; returns ENOMEM from the
   enclosing function on failure (p keeps its old block). */
#define GPX__REALLOC(p, cap)                          \
  do {                                                \
    void *gpx__q = realloc((p), (cap) * sizeof *(p)); \
    if (gpx__q == NULL) return ENOMEM;                \
    (p) = gpx__q;                                     \
  } while (0)

static size_t gpx__next_cap(size_t cap) { return cap ? cap * 2 : 64; }

int gpx_group_push_row(gpx_qgroup *g, int64_t ts, double v, int64_t n) {
  if (g->nt == g->capt) {
    size_t c = gpx__next_cap(g->capt);
    GPX__REALLOC(g->ts, c);
    GPX__REALLOC(g->v, c);
    GPX__REALLOC(g->n, c);
    g->capt = c;
  }
  g->ts[g->nt] = ts;
  g->v[g->nt] = v;
  g->n[g->nt] = n;
  g->nt++;
  return GPX_OK;
}

int gpx_group_push_day(gpx_qgroup *g, int32_t d, double pnl, int64_t n) {
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

int gpx_group_push_day_agg(gpx_qgroup *g, int32_t d, double pnl, const gpx_trade_agg *a) {
  if (g->dagg == NULL && g->nd > 0) return EINVAL; /* rows without aggregates came first */
  size_t cap = g->capd;
  GPX_RETURN_NOT_OK(gpx_group_push_day(g, d, pnl, a->count));
  if (g->dagg == NULL || g->capd != cap) GPX__REALLOC(g->dagg, g->capd);
  g->dagg[g->nd - 1] = *a;
  return GPX_OK;
}

/* ---- ordering: aggregate SQL returns rows in hash order (sql.c) ---- */

typedef struct {
  int64_t key; /* time or day */
  double v;
  int64_t n;
  size_t at;   /* the row's place before sorting */
} gpx__kv;

static int gpx__cmp_kv(const void *a, const void *b) {
  int64_t x = ((const gpx__kv *)a)->key, y = ((const gpx__kv *)b)->key;
  return (x > y) - (x < y);
}

static int gpx__cmp_group(const void *a, const void *b) {
  const char *x = ((const gpx_qgroup *)a)->name, *y = ((const gpx_qgroup *)b)->name;
  if (x == NULL || y == NULL) return (x != NULL) - (y != NULL);
  return strcmp(x, y);
}

static int gpx__sort_rows(int64_t *ts, double *v, int64_t *n, size_t count) {
  if (count < 2) return GPX_OK;
  gpx__kv *t = malloc(count * sizeof *t);
  if (t == NULL) return ENOMEM;
  for (size_t k = 0; k < count; k++) t[k] = (gpx__kv){ts[k], v[k], n[k], k};
  qsort(t, count, sizeof *t, gpx__cmp_kv);
  for (size_t k = 0; k < count; k++) ts[k] = t[k].key, v[k] = t[k].v, n[k] = t[k].n;
  free(t);
  return GPX_OK;
}

static int gpx__sort_days(gpx_qgroup *g) {
  size_t count = g->nd;
  if (count < 2) return GPX_OK;
  gpx__kv *t = malloc(count * sizeof *t);
  gpx_trade_agg *a = g->dagg ? malloc(count * sizeof *a) : NULL;
  if (t == NULL || (g->dagg && a == NULL)) {
    free(t);
    return ENOMEM;
  }
  for (size_t k = 0; k < count; k++) t[k] = (gpx__kv){g->day[k], g->dpnl[k], g->dcount[k], k};
  qsort(t, count, sizeof *t, gpx__cmp_kv);
  for (size_t k = 0; k < count; k++) {
    g->day[k] = (int32_t)t[k].key, g->dpnl[k] = t[k].v, g->dcount[k] = t[k].n;
    if (a) a[k] = g->dagg[t[k].at];
  }
  if (a) memcpy(g->dagg, a, count * sizeof *a);
  free(a);
  free(t);
  return GPX_OK;
}

int gpx_groups_order(gpx_groups *gs) {
  if (gs->n > 1) {
    qsort(gs->g, gs->n, sizeof *gs->g, gpx__cmp_group);
    GPX_RETURN_NOT_OK(gpx__reindex(gs, gs->nslots ? gs->nslots : 16));
  }
  for (size_t i = 0; i < gs->n; i++) {
    gpx_qgroup *g = &gs->g[i];
    GPX_RETURN_NOT_OK(gpx__sort_rows(g->ts, g->v, g->n, g->nt));
    GPX_RETURN_NOT_OK(gpx__sort_days(g));
  }
  return GPX_OK;
}
