/*
** cache.c — the fold cache (issue 14; docs/query-model.md "Cache"): per
** data-source instance, the trades the one-pass read (stream.c) already
** brought over, so a refresh reads only what is new.
**
** An entry is keyed by what selects the rows — filters, ad-hoc filters,
** groupBy, the columns learnt of the table (gpx_qrun_rows_key) — and holds,
** in (closed_at, trade_id) order, every trade of its covered range
** (from_ms, w_ms]: closed_at, P&L, opened_at, side and the group. It serves
** any query with that key whose range starts at or after from_ms: the
** cached rows inside the query's range, then the trades after w_ms read
** from Postgres. The fold over them is the cold run's fold over the same
** rows in the same order, so the answer is the same bytes; analytics
** options and the time zone do not select rows and are not in the key.
**
** Never a stale number. Before an entry is used, Postgres recomputes its
** fingerprint — how many rows the covered range holds and the sum of a
** 64-bit hash of each row's cached columns and trade_id — in the same
** REPEATABLE READ transaction that then reads the new trades; the entry
** serves only when both match what was stored with it (computed in the
** transaction that read its rows). Any change to the covered rows — an old
** trade inserted, an update of P&L, closed_at, opened_at, side, the group
** or the filtered columns, a delete, a truncate — changes the count or the
** hash sum (a change goes unnoticed with probability ~2^-64); then the
** entry is dropped (gpx_cache_verify_failed_total) and the same transaction
** reads the whole range again. The watermark stays GPX_QCACHE_SETTLE_MS
** behind now, so trades committed late with a closed_at just before it are
** in the part read every time rather than a reason to recompute.
**
** Bounded: cacheMegabytes per instance; the least recently used entries go
** first; rows larger than the bound are not kept. What this is not: a
** cache of answers (frames are built per query) or of the legs read.
*/
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "query_int.h"

/* ------------------------------------------------------------ rows */

struct gpx_qcache_rows {
  atomic_int refs;
  size_t n, cap;
  int64_t *ts, *opened;
  double *pnl;
  uint32_t *grp;
  uint8_t *fl;       /* bit 0: has opened_at; bits 1–2: gpx_side */
  char **names;      /* group index → name as the read gave it (NULL: ungrouped) */
  size_t *name_len;
  size_t ngroups, capg;
};

#define GPX__ROW_BYTES (sizeof(int64_t) * 2 + sizeof(double) + sizeof(uint32_t) + 1)

static size_t gpx__rows_bytes(const gpx_qcache_rows *w) {
  size_t b = sizeof *w + w->cap * GPX__ROW_BYTES + w->capg * (sizeof(char *) + sizeof(size_t));
  for (size_t i = 0; i < w->ngroups; i++) b += w->names[i] ? w->name_len[i] + 1 : 0;
  return b;
}

static void gpx__rows_free(gpx_qcache_rows *w) {
  if (w == NULL) return;
  for (size_t i = 0; i < w->ngroups; i++) free(w->names[i]);
  free(w->names);
  free(w->name_len);
  free(w->ts);
  free(w->opened);
  free(w->pnl);
  free(w->grp);
  free(w->fl);
  free(w);
}

static void gpx__rows_unref(gpx_qcache_rows *w) {
  if (w && atomic_fetch_sub(&w->refs, 1) == 1) gpx__rows_free(w);
}

static int gpx__rows_reserve(gpx_qcache_rows *w, size_t n) {
  if (n <= w->cap) return GPX_OK;
  size_t cap = w->cap ? w->cap : 4096;
  while (cap < n) cap *= 2;
#define GROW(f)                                            \
  do {                                                     \
    void *p = realloc(w->f, cap * sizeof *w->f);           \
    if (p == NULL) return ENOMEM;                          \
    w->f = p;                                              \
  } while (0)
  GROW(ts);
  GROW(opened);
  GROW(pnl);
  GROW(grp);
  GROW(fl);
#undef GROW
  w->cap = cap;
  return GPX_OK;
}

static int gpx__rows_add_group(gpx_qcache_rows *w, const char *name, size_t len, uint32_t *out) {
  if (w->ngroups == w->capg) {
    size_t cap = w->capg ? w->capg * 2 : 8;
    char **nm = realloc(w->names, cap * sizeof *nm);
    if (nm == NULL) return ENOMEM;
    w->names = nm;
    size_t *nl = realloc(w->name_len, cap * sizeof *nl);
    if (nl == NULL) return ENOMEM;
    w->name_len = nl;
    w->capg = cap;
  }
  char *copy = NULL;
  if (name) {
    if ((copy = malloc(len + 1)) == NULL) return ENOMEM;
    memcpy(copy, name, len);
    copy[len] = '\0';
  }
  w->names[w->ngroups] = copy;
  w->name_len[w->ngroups] = len;
  *out = (uint32_t)w->ngroups++;
  return GPX_OK;
}

/* A new rows object holding a copy of old's first n rows and its groups (old may be NULL). */
static gpx_qcache_rows *gpx__rows_copy(const gpx_qcache_rows *old, size_t n, size_t extra) {
  gpx_qcache_rows *w = calloc(1, sizeof *w);
  if (w == NULL) return NULL;
  atomic_init(&w->refs, 1);
  if (old == NULL) n = 0;
  if (gpx__rows_reserve(w, n + extra) != GPX_OK) goto fail;
  if (n) {
    memcpy(w->ts, old->ts, n * sizeof *w->ts);
    memcpy(w->opened, old->opened, n * sizeof *w->opened);
    memcpy(w->pnl, old->pnl, n * sizeof *w->pnl);
    memcpy(w->grp, old->grp, n * sizeof *w->grp);
    memcpy(w->fl, old->fl, n * sizeof *w->fl);
  }
  w->n = n;
  for (size_t i = 0; old && i < old->ngroups; i++) {
    uint32_t g;
    if (gpx__rows_add_group(w, old->names[i], old->name_len[i], &g) != GPX_OK) goto fail;
  }
  return w;
fail:
  gpx__rows_free(w);
  return NULL;
}

/* ------------------------------------------------------------ the cache */

typedef struct gpx__entry {
  struct gpx__entry *prev, *next; /* most recently used first */
  gpx_buf key;
  int64_t from_ms, w_ms;
  gpx_qcache_fp fp;
  int log;            /* checked by the change log: its hours and versions over the span, else fp */
  int64_t *lh, *lv;
  size_t ln;
  gpx_qcache_rows *rows;
  size_t bytes;
} gpx__entry;

typedef struct gpx__cache {
  pthread_mutex_t mu;
  gpx__entry *head, *tail;
  size_t bytes;
  atomic_int unsupported; /* the server cannot compute the fingerprint (hash_record_extended: Postgres 14) */
} gpx__cache;

static atomic_ullong gpx__stat[GPX_QCACHE_NSTATS];
static atomic_llong gpx__bytes_all;

uint64_t gpx_query_cache_stat(int which) {
  if (which == GPX_QCACHE_BYTES) {
    long long b = atomic_load(&gpx__bytes_all);
    return b > 0 ? (uint64_t)b : 0;
  }
  return which >= 0 && which < GPX_QCACHE_NSTATS ? (uint64_t)atomic_load(&gpx__stat[which]) : 0;
}

static void gpx__count(int which) { atomic_fetch_add(&gpx__stat[which], 1); }

static void gpx__unlink(gpx__cache *c, gpx__entry *e) {
  if (e->prev) e->prev->next = e->next;
  else c->head = e->next;
  if (e->next) e->next->prev = e->prev;
  else c->tail = e->prev;
  e->prev = e->next = NULL;
}

static void gpx__push_front(gpx__cache *c, gpx__entry *e) {
  e->prev = NULL;
  e->next = c->head;
  if (c->head) c->head->prev = e;
  c->head = e;
  if (c->tail == NULL) c->tail = e;
}

static void gpx__entry_drop(gpx__cache *c, gpx__entry *e) {
  gpx__unlink(c, e);
  c->bytes -= e->bytes;
  atomic_fetch_sub(&gpx__bytes_all, (long long)e->bytes);
  gpx__rows_unref(e->rows);
  gpx_buf_reset(&e->key);
  free(e->lh);
  free(e->lv);
  free(e);
}

static void gpx__cache_free(void *p) {
  gpx__cache *c = p;
  while (c->head) gpx__entry_drop(c, c->head);
  pthread_mutex_destroy(&c->mu);
  free(c);
}

static gpx__cache *gpx__cache_of(gpx_ds_instance *inst) {
  gpx__cache *c = atomic_load(&inst->fold_cache);
  if (c) return c;
  gpx__cache *n = calloc(1, sizeof *n);
  if (n == NULL) return NULL;
  pthread_mutex_init(&n->mu, NULL);
  void *expected = NULL;
  inst->fold_cache_free = gpx__cache_free; /* the same function whoever wins */
  if (atomic_compare_exchange_strong(&inst->fold_cache, &expected, n)) return n;
  pthread_mutex_destroy(&n->mu);
  free(n);
  return expected;
}

static gpx__entry *gpx__find(gpx__cache *c, const gpx_buf *key) {
  for (gpx__entry *e = c->head; e; e = e->next)
    if (e->key.len == key->len && memcmp(e->key.data, key->data, key->len) == 0) return e;
  return NULL;
}

static int64_t gpx__now_ms(void) {
  struct timespec t;
  clock_gettime(CLOCK_REALTIME, &t);
  return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

/* ------------------------------------------------------------ a run */

static int gpx__log_present(gpx_qrun *r);

/* The data source may cache at all: on, a server that can fingerprint
   (hash_record_extended came with Postgres 14), not found unable. */
static int gpx__cache_on(const gpx_qrun *r) {
  const gpx_ds_instance *inst = r->inst;
  if (inst == NULL || inst->settings.cache_mb <= 0 || r->sess.conn == NULL || PQserverVersion(r->sess.conn) < 140000)
    return 0;
  const gpx__cache *c = atomic_load(&((gpx_ds_instance *)inst)->fold_cache);
  return !(c && atomic_load(&c->unsupported));
}

int gpx_qcache_possible(gpx_qrun *r) {
  /* without the change log an entry is checked by a scan of its range,
     which costs about what reading it does (bench/README.md): only when
     the data source asks for it (cacheFingerprint, e.g. over a slow link) */
  return !r->q->no_cache && gpx__cache_on(r) && (r->inst->settings.cache_fingerprint || gpx__log_present(r));
}

int gpx_qcache_start(gpx_qrun *r, gpx_qcache_run *cu) {
  memset(cu, 0, sizeof *cu);
  gpx_ds_instance *inst = r->inst;
  const gpx_query *q = r->q;
  int64_t w = q->to_ms, settled = gpx__now_ms() - GPX_QCACHE_SETTLE_MS;
  if (w > settled) w = settled;
  if (w <= q->from_ms) return 0; /* the whole range is still settling: nothing worth keeping */
  gpx__cache *c = gpx__cache_of(inst);
  if (c == NULL || atomic_load(&c->unsupported)) return 0;
  if (gpx_qrun_rows_key(q, &cu->key) != GPX_OK) {
    gpx_buf_reset(&cu->key);
    return 0;
  }
  cu->cache = c;
  cu->on = 1;
  cu->from_ms = cu->w_ms = q->from_ms;
  pthread_mutex_lock(&c->mu);
  gpx__entry *e = gpx__find(c, &cu->key);
  if (e && e->from_ms <= q->from_ms) {
    cu->rows = e->rows;
    atomic_fetch_add(&e->rows->refs, 1);
    cu->from_ms = e->from_ms;
    cu->w_ms = e->w_ms;
    cu->fp = e->fp;
    cu->log = e->log;
    if (e->log && e->ln) {
      cu->lh = malloc(e->ln * sizeof *cu->lh);
      cu->lv = malloc(e->ln * sizeof *cu->lv);
      if (cu->lh && cu->lv) {
        memcpy(cu->lh, e->lh, e->ln * sizeof *cu->lh);
        memcpy(cu->lv, e->lv, e->ln * sizeof *cu->lv);
        cu->ln = e->ln;
      } else { /* cannot check it: a miss */
        gpx__rows_unref(cu->rows);
        cu->rows = NULL;
        cu->from_ms = cu->w_ms = q->from_ms;
      }
    }
    gpx__unlink(c, e);
    gpx__push_front(c, e);
  }
  pthread_mutex_unlock(&c->mu);
  cu->wt = w;
  cu->w_new = w > cu->w_ms ? w : cu->w_ms;
  cu->read_from = cu->from_ms;
  return 1;
}

/* 128-bit sum of a decimal text (Postgres' numeric sum of int8 hashes). */
static __int128 gpx__i128(const char *s) {
  __int128 v = 0;
  int neg = s && *s == '-';
  for (const char *p = s + (s && (*s == '-' || *s == '+')); p && *p >= '0' && *p <= '9'; p++) v = v * 10 + (*p - '0');
  return neg ? -v : v;
}

/* ------------------------------------------------------------ the change log */

#define GPX__LOG_MEMO_S 30
#define GPX__HOUR_MS INT64_C(3600000)
#define GPX__TRUNCATE_HOUR INT64_MIN

static int64_t gpx__hour(int64_t ms) { return ms >= 0 ? ms / GPX__HOUR_MS : -((-ms + GPX__HOUR_MS - 1) / GPX__HOUR_MS); }

/* sql/cache_changes.sql's unit argument for the mapping's closed_at. */
static const char *gpx__log_unit(const gpx_ds_settings *s) {
  switch (s->columns[GPX_COL_CLOSED_AT].as) {
    case GPX_AS_EPOCH_S: return "1";
    case GPX_AS_EPOCH_MS: return "0.001";
    case GPX_AS_EPOCH_US: return "0.000001";
    case GPX_AS_EPOCH_NS: return "0.000000001";
    default: return "timestamp";
  }
}

/* Is the change log there and readable? Asked outside the transaction (a
   missing table would abort it), remembered a while per instance; whether
   its triggers are on this table is asked inside, every time. */
static int gpx__log_present(gpx_qrun *r) {
  char *memo = NULL;
  if (gpx_ds_memo_get(r->inst, "cache:log", GPX__LOG_MEMO_S, &memo)) {
    int on = memo[0] == '1';
    free(memo);
    return on;
  }
  PGresult *res = NULL;
  gpx_pg_error pe;
  int on = 0;
  if (gpx_pg_exec(&r->sess,
                  "SELECT CASE WHEN to_regclass('public.gpx_trade_changes') IS NULL THEN false "
                  "ELSE has_table_privilege('public.gpx_trade_changes', 'SELECT') END",
                  0, NULL, 0, &res, &pe) == GPX_OK &&
      PQntuples(res) == 1)
    on = PQgetvalue(res, 0, 0)[0] == 't';
  PQclear(res);
  gpx_ds_memo_put(r->inst, "cache:log", on ? "1" : "0");
  return on;
}

int gpx_qcache_log_installed(gpx_qrun *r) { return gpx__cache_on(r) && gpx__log_present(r); }

/* In the transaction, first: whether the four triggers are on this table,
   enabled ALWAYS with this mapping's closed_at (a plain table), and the
   versions of the hours in [lo, hi] and of TRUNCATE. 1: the log speaks for
   the table (hours and versions into *h and *v, sorted); 0: it does not;
   -1: an error. */
static int gpx__log_read(gpx_qrun *r, int64_t lo, int64_t hi, int64_t **h, int64_t **v, size_t *n, gpx_pg_error *pe) {
  gpx_buf name = {0};
  PGresult *res = NULL;
  *h = *v = NULL;
  *n = 0;
  if (gpx_sql_table_name(&name, r->s) != GPX_OK) {
    gpx_buf_reset(&name);
    return -1;
  }
  char los[24], his[24];
  snprintf(los, sizeof los, "%lld", (long long)lo);
  snprintf(his, sizeof his, "%lld", (long long)hi);
  const char *params[5] = {(const char *)name.data, r->s->columns[GPX_COL_CLOSED_AT].name[0], gpx__log_unit(r->s), los,
                           his};
  int rc = gpx_pg_exec(
      &r->sess,
      "SELECT NULL::int8, (SELECT count(*) FROM pg_catalog.pg_trigger t JOIN pg_catalog.pg_class c ON c.oid = t.tgrelid"
      " WHERE t.tgrelid = to_regclass($1::text) AND c.relkind = 'r' AND t.tgenabled = 'A'"
      " AND t.tgname IN ('gpx_trade_changes_ins', 'gpx_trade_changes_upd', 'gpx_trade_changes_del',"
      " 'gpx_trade_changes_trunc') AND strpos(pg_catalog.pg_get_triggerdef(t.oid), 'gpx_trade_changes_log('"
      " || pg_catalog.quote_literal($2::text) || ', ' || pg_catalog.quote_literal($3::text) || ')') > 0)"
      " UNION ALL (SELECT hour, version FROM public.gpx_trade_changes WHERE tbl = to_regclass($1::text)"
      " AND (hour BETWEEN $4::int8 AND $5::int8 OR hour = -9223372036854775808) ORDER BY hour)",
      5, params, 0, &res, pe);
  gpx_buf_reset(&name);
  if (rc != GPX_OK) return -1;
  int rows = PQntuples(res), ok = rows >= 1 && PQgetisnull(res, 0, 0) && strcmp(PQgetvalue(res, 0, 1), "4") == 0;
  if (ok && rows > 1) {
    *h = malloc((size_t)(rows - 1) * sizeof **h);
    *v = malloc((size_t)(rows - 1) * sizeof **v);
    if (*h == NULL || *v == NULL) ok = -1;
    for (int i = 1; ok == 1 && i < rows; i++) {
      (*h)[i - 1] = strtoll(PQgetvalue(res, i, 0), NULL, 10);
      (*v)[i - 1] = strtoll(PQgetvalue(res, i, 1), NULL, 10);
    }
    *n = ok == 1 ? (size_t)(rows - 1) : 0;
  }
  PQclear(res);
  if (ok != 1) {
    free(*h);
    free(*v);
    *h = *v = NULL;
    *n = 0;
  }
  return ok;
}

/* The first hour in [lo, hi] (or TRUNCATE's) where the entry's versions and
   now's differ; INT64_MAX when none. Both lists sorted, TRUNCATE's first. */
static int64_t gpx__log_first_change(const int64_t *eh, const int64_t *ev, size_t en, const int64_t *nh,
                                     const int64_t *nv, size_t nn, int64_t lo, int64_t hi) {
  size_t i = 0, j = 0;
  for (;;) {
    while (i < en && eh[i] != GPX__TRUNCATE_HOUR && (eh[i] < lo || eh[i] > hi)) i++;
    while (j < nn && nh[j] != GPX__TRUNCATE_HOUR && (nh[j] < lo || nh[j] > hi)) j++;
    if (i == en && j == nn) return INT64_MAX;
    if (i == en) return nh[j];
    if (j == nn) return eh[i];
    if (eh[i] != nh[j]) return eh[i] < nh[j] ? eh[i] : nh[j];
    if (ev[i] != nv[j]) return eh[i];
    i++, j++;
  }
}

/* ------------------------------------------------------------ the check */

/* The fingerprint of the covered range and of the stretch after it: one
   scan in Postgres. 1 done; ENOTSUP the server cannot; else the run failed. */
static int gpx__fingerprint(gpx_qrun *r, gpx_qcache_run *cu, gpx_qcache_fp *old, gpx_qcache_fp *wt, gpx_qcache_fp *all) {
  PGresult *res = NULL;
  gpx_pg_error pe;
  gpx_stmt st = {0};
  int rc = gpx_sql_fingerprint(&st, r->s, r->q, cu->from_ms, cu->w_ms, cu->wt, cu->w_new);
  if (rc != GPX_OK) {
    gpx_stmt_reset(&st);
    return gpx_qrun_fail(r, rc, "cache fingerprint", "building the statement failed");
  }
  rc = gpx_pg_exec(&r->sess, gpx_sql_cstr(&st.sql), st.sql.n, (const char *const *)st.sql.params, 1, &res, &pe);
  if (rc == GPX_OK && PQntuples(res) != 1) {
    PQclear(res);
    gpx_stmt_reset(&st);
    return gpx_qrun_fail(r, EPROTO, "cache fingerprint", "expected one row");
  }
  if (rc != GPX_OK) {
    gpx_stmt_reset(&st);
    if (pe.status == GPX_PG_QUERY_ERROR && (strncmp(pe.sqlstate, "42", 2) == 0 || strncmp(pe.sqlstate, "0A", 2) == 0)) {
      /* a column type without a hash function (or no hash_record_extended):
         this data source's table is not cached; the run goes on cold */
      atomic_store(&((gpx__cache *)cu->cache)->unsupported, 1);
      return ENOTSUP;
    }
    return gpx_qrun_fail_pg(r, &pe);
  }
  *old = (gpx_qcache_fp){gpx_stmt_i64(&st, res, 0, GPX_FP_N_OLD), gpx__i128(gpx_stmt_text(&st, res, 0, GPX_FP_H_OLD, NULL))};
  *wt = (gpx_qcache_fp){gpx_stmt_i64(&st, res, 0, GPX_FP_N_WT), gpx__i128(gpx_stmt_text(&st, res, 0, GPX_FP_H_WT, NULL))};
  *all = (gpx_qcache_fp){gpx_stmt_i64(&st, res, 0, GPX_FP_N_ALL), gpx__i128(gpx_stmt_text(&st, res, 0, GPX_FP_H_ALL, NULL))};
  PQclear(res);
  gpx_stmt_reset(&st);
  return GPX_OK;
}

/* The entry cannot serve: the run reads its whole range and fills a new one. */
static void gpx__as_miss(gpx_qrun *r, gpx_qcache_run *cu) {
  gpx__rows_unref(cu->rows);
  cu->rows = NULL;
  cu->from_ms = cu->w_ms = cu->read_from = r->q->from_ms;
}

int gpx_qcache_verify(gpx_qrun *r, gpx_qcache_run *cu) {
  gpx_pg_error pe;
  int entry_log = cu->log;
  int64_t *eh = cu->lh, *ev = cu->lv;
  size_t en = cu->ln;
  cu->lh = cu->lv = NULL;
  cu->ln = 0;
  int log_there = gpx__log_present(r);
  /* not in executedQueryString (gpx__record in stream.c): the answer is the cold one */
  struct timespec t0, t1;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  int rc = GPX_OK;
  if (gpx_pg_begin(&r->sess, "ISOLATION LEVEL REPEATABLE READ READ ONLY", &pe) != GPX_OK) {
    /* pgbouncer's pool_mode = statement refuses transactions (and drops the
       client): this query fails naming the setting, the next ones of this
       data source run without the cache */
    if (pe.status == GPX_PG_QUERY_ERROR && strstr(pe.msg, "pool_mode")) atomic_store(&((gpx__cache *)cu->cache)->unsupported, 1);
    rc = gpx_qrun_fail_pg(r, &pe);
  } else {
    cu->in_txn = 1;
  }
  cu->log = 0;
  if (rc == GPX_OK && log_there) {
    /* the span the new entry will keep versions for, with an hour to spare each side */
    int64_t lo = gpx__hour(cu->rows ? cu->from_ms : r->q->from_ms) - 1, hi = gpx__hour(cu->w_new) + 1;
    int got = gpx__log_read(r, lo, hi, &cu->lh, &cu->lv, &cu->ln, &pe);
    if (got < 0) {
      gpx_ds_memo_put(r->inst, "cache:log", "0"); /* asked again in a while */
      rc = pe.status == GPX_PG_QUERY_ERROR ? ENOTSUP : gpx_qrun_fail_pg(r, &pe);
    }
    cu->log = got == 1;
  }
  if (rc == GPX_OK && !cu->log && !r->inst->settings.cache_fingerprint) rc = ENOTSUP; /* the log does not speak: cold */
  if (rc == GPX_OK && cu->rows && entry_log != cu->log) gpx__as_miss(r, cu); /* checked the other way: cannot say */
  if (rc == GPX_OK) gpx__count(cu->log ? GPX_QCACHE_CHECKS_LOG : GPX_QCACHE_CHECKS_FINGERPRINT);
  if (rc == GPX_OK && cu->log) {
    cu->fp_new = (gpx_qcache_fp){0};
    if (cu->rows == NULL) {
      gpx__count(GPX_QCACHE_MISSES);
    } else {
      int64_t lo = gpx__hour(cu->from_ms) - 1, hi = gpx__hour(cu->w_ms) + 1;
      int64_t first = gpx__log_first_change(eh, ev, en, cu->lh, cu->lv, cu->ln, lo, hi);
      /* the rows up to the hour before the first changed one are still good */
      int64_t keep_to = first == INT64_MAX ? cu->w_ms : first == GPX__TRUNCATE_HOUR ? INT64_MIN : (first - 1) * GPX__HOUR_MS;
      if (keep_to <= cu->from_ms) {
        gpx__count(GPX_QCACHE_VERIFY_FAILED);
        gpx__count(GPX_QCACHE_MISSES);
        gpx__rows_unref(cu->rows);
        cu->rows = NULL;
      } else {
        cu->verified = 1;
        cu->read_from = keep_to;
        cu->kept = gpx_qcache_lower(cu->rows, keep_to * 1000000);
        gpx__count(GPX_QCACHE_HITS);
      }
    }
  } else if (rc == GPX_OK) {
    gpx_qcache_fp old = {0}, wt = {0}, all = {0};
    rc = gpx__fingerprint(r, cu, &old, &wt, &all);
    if (rc == GPX_OK) {
      /* the new entry covers (from, w_new]: all of the statement's range when
         the cached rows hold, else what this run reads, up to wt */
      cu->fp_new = wt;
      if (cu->rows == NULL) {
        gpx__count(GPX_QCACHE_MISSES);
      } else if (old.count == cu->fp.count && old.hsum == cu->fp.hsum) {
        cu->fp_new = all;
        cu->verified = 1;
        cu->read_from = cu->w_ms;
        cu->kept = cu->rows->n;
        gpx__count(GPX_QCACHE_HITS);
      } else {
        /* the covered rows changed: read them all again, in this transaction
           (the fingerprint just taken covers the same range) */
        gpx__count(GPX_QCACHE_VERIFY_FAILED);
        gpx__count(GPX_QCACHE_MISSES); /* the run reads the whole range, like a miss */
        gpx__rows_unref(cu->rows);
        cu->rows = NULL;
      }
    }
  }
  free(eh);
  free(ev);
  /* the entry ends where its good rows end or where this run's read ends,
     whichever is later: never past what was read (a re-read stops at to) */
  if (rc == GPX_OK) cu->w_new = cu->read_from > cu->wt ? cu->read_from : cu->wt;
  clock_gettime(CLOCK_MONOTONIC, &t1);
  r->out->sql_seconds += (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
  if (rc != GPX_OK) return rc;
  if (cu->verified && cu->w_new == cu->w_ms && cu->kept == cu->rows->n)
    return GPX_OK; /* nothing new to keep: the entry stays as it is */
  cu->fresh = gpx__rows_copy(cu->verified ? cu->rows : NULL, cu->kept, cu->kept / 64 + 1024);
  return cu->fresh ? GPX_OK : gpx_qrun_fail(r, ENOMEM, "cache", NULL);
}

int gpx_qcache_rows_view(const gpx_qcache_run *cu, const gpx_qcache_rows **rows, size_t *kept) {
  *rows = cu->verified ? cu->rows : NULL;
  *kept = *rows ? cu->kept : 0;
  return *rows != NULL;
}

size_t gpx_qcache_lower(const gpx_qcache_rows *w, int64_t ns) {
  size_t lo = 0, hi = w->n; /* first row with ts > ns */
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    if (w->ts[mid] <= ns) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

void gpx_qcache_row(const gpx_qcache_rows *w, size_t i, gpx_qcache_row_t *out) {
  out->ts = w->ts[i];
  out->pnl = w->pnl[i];
  out->opened = w->opened[i];
  out->has_opened = w->fl[i] & 1;
  out->side = (gpx_side)((w->fl[i] >> 1) & 3);
  out->grp = w->grp[i];
}

size_t gpx_qcache_groups(const gpx_qcache_rows *w) { return w->ngroups; }
const char *gpx_qcache_group_name(const gpx_qcache_rows *w, size_t g, size_t *len) {
  *len = w->name_len[g];
  return w->names[g];
}

/* Room in the run group → entry group map for run_group (new slots -1). ENOMEM. */
static int gpx__r2e_reserve(gpx_qcache_run *cu, size_t run_group) {
  if (run_group < cu->n_r2e) return GPX_OK;
  size_t n = cu->n_r2e ? cu->n_r2e : 16;
  while (n <= run_group) n *= 2;
  int64_t *m = realloc(cu->r2e, n * sizeof *m);
  if (m == NULL) return ENOMEM;
  for (size_t i = cu->n_r2e; i < n; i++) m[i] = -1;
  cu->r2e = m;
  cu->n_r2e = n;
  return GPX_OK;
}

int gpx_qcache_keep(gpx_qcache_run *cu, size_t run_group, const char *name, size_t len, const gpx_qcache_row_t *row) {
  gpx_qcache_rows *w = cu->fresh;
  if (w == NULL || row->ts > cu->w_new * 1000000) return GPX_OK;
  GPX_RETURN_NOT_OK(gpx__r2e_reserve(cu, run_group));
  if (cu->r2e[run_group] < 0) {
    /* a group met for the first time in this run: one of the entry's, or new */
    uint32_t g = UINT32_MAX;
    for (size_t i = 0; i < w->ngroups && g == UINT32_MAX; i++)
      if (name == NULL ? w->names[i] == NULL : (w->names[i] && w->name_len[i] == len && memcmp(w->names[i], name, len) == 0))
        g = (uint32_t)i;
    if (g == UINT32_MAX && gpx__rows_add_group(w, name, len, &g) != GPX_OK) return ENOMEM;
    cu->r2e[run_group] = g;
  }
  GPX_RETURN_NOT_OK(gpx__rows_reserve(w, w->n + 1));
  size_t i = w->n++;
  w->ts[i] = row->ts;
  w->pnl[i] = row->pnl;
  w->opened[i] = row->has_opened ? row->opened : 0;
  w->fl[i] = (uint8_t)((row->has_opened ? 1 : 0) | ((unsigned)row->side << 1));
  w->grp[i] = (uint32_t)cu->r2e[run_group];
  return GPX_OK;
}

void gpx_qcache_map_group(gpx_qcache_run *cu, size_t run_group, uint32_t entry_group) {
  if (cu->fresh == NULL) return;
  if (gpx__r2e_reserve(cu, run_group) != GPX_OK) return; /* found again by name in gpx_qcache_keep */
  cu->r2e[run_group] = entry_group; /* the fresh rows copied the entry's groups in order */
}

void gpx_qcache_finish(gpx_qrun *r, gpx_qcache_run *cu, int ok) {
  if (!cu->on) return;
  gpx__cache *c = cu->cache;
  if (cu->in_txn) {
    gpx_pg_error pe;
    if (gpx_pg_end(&r->sess, ok, &pe) != GPX_OK) ok = 0;
    cu->in_txn = 0;
  }
  if (ok && cu->fresh) {
    gpx_qcache_rows *w = cu->fresh;
    cu->fresh = NULL;
    size_t bytes = gpx__rows_bytes(w) + sizeof(gpx__entry) + cu->key.len + cu->ln * 2 * sizeof(int64_t);
    size_t cap = (size_t)r->inst->settings.cache_mb << 20;
    pthread_mutex_lock(&c->mu);
    gpx__entry *e = gpx__find(c, &cu->key);
    if (e) gpx__entry_drop(c, e);
    if (bytes <= cap && (e = calloc(1, sizeof *e)) != NULL) {
      e->key = cu->key;
      memset(&cu->key, 0, sizeof cu->key);
      e->from_ms = cu->from_ms;
      e->w_ms = cu->w_new;
      e->fp = cu->fp_new;
      e->log = cu->log;
      e->lh = cu->lh;
      e->lv = cu->lv;
      e->ln = cu->ln;
      cu->lh = cu->lv = NULL;
      e->rows = w;
      w = NULL;
      e->bytes = bytes;
      gpx__push_front(c, e);
      c->bytes += bytes;
      atomic_fetch_add(&gpx__bytes_all, (long long)bytes);
      while (c->bytes > cap && c->tail && c->tail != e) {
        gpx__entry_drop(c, c->tail);
        gpx__count(GPX_QCACHE_EVICTIONS);
      }
    }
    pthread_mutex_unlock(&c->mu);
    gpx__rows_unref(w);
  }
  /* a failed run leaves the entry as it was: nothing said it is wrong */
  gpx__rows_unref(cu->fresh);
  gpx__rows_unref(cu->rows);
  free(cu->r2e);
  free(cu->lh);
  free(cu->lv);
  gpx_buf_reset(&cu->key);
  memset(cu, 0, sizeof *cu);
}
