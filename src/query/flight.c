/*
** flight.c — single flight (issue 14): concurrent identical computations
** coalesced. A dashboard's stat panels each send their own `stats` query,
** differing only in `metrics`; each would read the whole range. Here the
** first such query of a data-source instance runs (the leader); one that
** arrives while it runs with the same computation waits for it and builds
** its own frames — its metrics, its refId — from the leader's finished
** state (groups, folds, calendar, executed statements), read-only.
**
** The key is everything that changes the answer: the instance (a new
** settings version is a new instance), the kind's read — what the
** one-pass read folds (its stream_need: which columns, the daily series,
** episodes), so the statements run are the same and so is
** executedQueryString — and the parsed query apart from refId, metrics and
** live. What it is not: a cache. An entry leaves the table when its
** computation ends, and its state is freed when the last waiter took it;
** memory is bounded by the queries running at once.
**
** Freshness: a waiter's answer is as of when the leader started, at most
** the leader's run before its own arrival, as if it had come a little
** earlier. A live push (json_frames) recomputes because the table changed,
** so it never waits for a computation that may have started before the
** change; it may lead one.
**
** Failure: a waiter stops waiting at its own deadline (504) or when its
** caller leaves (499), and the leader does not notice. A leader that fails
** shares nothing: when its own caller left (499) or its caller's deadline,
** earlier than the query timeout, passed (504), its waiters start over (one
** of them leads); any other failure, they each run the query alone, so the
** answer is always what a run of their own would give.
*/
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "query_int.h"

enum { GPX__RUNNING = 0, GPX__DONE, GPX__RETRY, GPX__FAILED };

/* A finished read, lent read-only to the waiters. */
typedef struct gpx__state {
  gpx_groups groups;
  int32_t first_day, last_day, today;
  int64_t *day_start_ms;
  size_t n_days;
  int64_t bad_rows;
  char bad_first_id[64];
  uint32_t missing, widen;
  int finite_only, pnl_cap;
  double pnl_max;
  gpx_buf executed;
  double sql_seconds;
  int legs_read;
} gpx__state;

typedef struct gpx__flight {
  struct gpx__flight *next;
  const gpx_ds_instance *inst;
  gpx_buf key;
  int state;  /* GPX__* */
  int refs;   /* the leader while it runs, and each waiter until it is done with the state */
  pthread_cond_t done;
  gpx__state st;
} gpx__flight;

static pthread_mutex_t gpx__mu = PTHREAD_MUTEX_INITIALIZER;
static gpx__flight *gpx__table; /* in flight: few at once (bounded by the queries admitted) */
static atomic_int gpx__off;
static atomic_ullong gpx__coalesced;

void gpx_query_single_flight(int on) { atomic_store(&gpx__off, !on); }
uint64_t gpx_query_coalesced_total(void) { return (uint64_t)atomic_load(&gpx__coalesced); }

/* ------------------------------------------------------------ the key */

static void gpx__put(gpx_buf *k, const void *p, size_t n, int *rc) {
  if (*rc == GPX_OK) *rc = gpx_buf_append(k, p, n);
}
#define PUT(v) gpx__put(k, &(v), sizeof(v), &rc)

static void gpx__put_str(gpx_buf *k, const char *s, int *rc) {
  uint64_t n = s ? strlen(s) + 1 : 0; /* NULL and "" differ */
  gpx__put(k, &n, sizeof n, rc);
  if (s) gpx__put(k, s, (size_t)n, rc);
}

/* The computation of r's query as bytes: the fields one by one (no struct
   padding), strings with their lengths. Fields a kind does not read hold
   their defaults, so taking them all only errs on the side of not sharing. */
/* A field added to gpx_query changes this size: decide whether it changes
   the computation (then add it below) or only selects output (then say so
   in the comment above gpx_qrun_flight_key's declaration). */
#if defined(__x86_64__) && defined(__linux__)
_Static_assert(sizeof(gpx_query) == 864, "gpx_query changed: update gpx_qrun_flight_key, then this size");
#endif

int gpx_qrun_flight_key(const gpx_qrun *r, gpx_buf *k) {
  const gpx_query *q = r->q;
  int rc = GPX_OK;
  gpx_stream_need need;
  memset(&need, 0, sizeof need);
  r->kind->stream_need(q, &need);
  need.legs_read = 0; /* an output of the read */
  PUT(q->kind);
  PUT(need.days);
  PUT(need.day_aggs);
  PUT(need.trades);
  PUT(need.ordered_cols);
  PUT(need.leg_cols);
  PUT(need.episodes);
  PUT(need.curve); /* the curve kinds' curve, not stats' one bucket (q->kind says so too) */
  PUT(need.curve_bucket_ns);
  PUT(need.curve_max);
  if (rc == GPX_OK) rc = gpx_qrun_rows_key(q, k);
  PUT(q->drawdown_money);
  PUT(q->limit);
  PUT(q->limit_given);
  PUT(q->a.initial_capital);
  gpx__put_str(k, q->a.timezone, &rc);
  PUT(q->a.trading_days);
  PUT(q->a.annualization);
  PUT(q->a.risk_free_rate);
  PUT(q->from_ms);
  PUT(q->to_ms);
  PUT(q->interval_ms);
  PUT(q->max_points);
  PUT(q->period);
  PUT(q->period_grid);
  PUT(q->rolling_metric);
  PUT(q->window);
  PUT(q->events);
  PUT(q->threshold);
  return rc;
}

int gpx_qrun_rows_key(const gpx_query *q, gpx_buf *k) {
  int rc = GPX_OK;
  for (int d = 0; d < GPX_DIM_COUNT; d++) {
    gpx__put_str(k, q->filter[d], &rc);
    for (int o = 0; o < GPX_ADHOC_NOPS; o++) gpx__put_str(k, q->adhoc[d].values[o], &rc);
    PUT(q->adhoc[d].is_null);
    PUT(q->adhoc[d].not_null);
  }
  PUT(q->filter_none);
  PUT(q->group_by);
  PUT(q->pnl_cap);
  PUT(q->pnl_max);
  PUT(q->finite_only);
  PUT(q->missing);
  PUT(q->widen);
  return rc;
}
#undef PUT

/* ------------------------------------------------------------ the state */

static void gpx__state_reset(gpx__state *st) {
  gpx_groups_reset(&st->groups);
  free(st->day_start_ms);
  gpx_buf_reset(&st->executed);
  memset(st, 0, sizeof *st);
}

/* The leader's read moves into the flight (the leader's frames are built already). */
static void gpx__take(gpx__state *st, gpx_qrun *r) {
  st->groups = r->groups;
  memset(&r->groups, 0, sizeof r->groups);
  st->first_day = r->first_day;
  st->last_day = r->last_day;
  st->today = r->today;
  st->day_start_ms = r->day_start_ms;
  r->day_start_ms = NULL;
  st->n_days = r->n_days;
  st->bad_rows = r->bad_rows;
  memcpy(st->bad_first_id, r->bad_first_id, sizeof st->bad_first_id);
  st->missing = r->q->missing;
  st->widen = r->q->widen;
  st->finite_only = r->q->finite_only;
  st->pnl_cap = r->q->pnl_cap;
  st->pnl_max = r->q->pnl_max;
  st->executed = r->executed;
  memset(&r->executed, 0, sizeof r->executed);
  st->sql_seconds = r->out->sql_seconds;
  st->legs_read = r->legs_read;
}

/* A waiter borrows the state (groups and calendar shared, read-only; its
   own copy of the executed statements, which emitting terminates). */
static int gpx__lend(const gpx__state *st, gpx_qrun *r) {
  if (st->executed.len && gpx_buf_append(&r->executed, st->executed.data, st->executed.len) != GPX_OK) return ENOMEM;
  r->groups = st->groups;
  r->first_day = st->first_day;
  r->last_day = st->last_day;
  r->today = st->today;
  r->day_start_ms = st->day_start_ms;
  r->n_days = st->n_days;
  r->bad_rows = st->bad_rows;
  memcpy(r->bad_first_id, st->bad_first_id, sizeof r->bad_first_id);
  r->q->missing = st->missing;
  r->q->widen = st->widen;
  r->q->finite_only = st->finite_only;
  r->q->pnl_cap = st->pnl_cap;
  r->q->pnl_max = st->pnl_max;
  r->out->sql_seconds = st->sql_seconds;
  r->loaded = 1;
  r->legs_read = st->legs_read;
  return GPX_OK;
}

static void gpx__unlend(gpx_qrun *r) {
  memset(&r->groups, 0, sizeof r->groups);
  r->day_start_ms = NULL;
  r->n_days = 0;
}

/* Drop a reference; the last frees the flight. Called with the mutex held. */
static void gpx__unref(gpx__flight *f) {
  if (--f->refs > 0) return;
  gpx__state_reset(&f->st);
  gpx_buf_reset(&f->key);
  pthread_cond_destroy(&f->done);
  free(f);
}

/* ------------------------------------------------------------ the flight */

static int64_t gpx__now_ms(void) {
  struct timespec t;
  clock_gettime(CLOCK_REALTIME, &t);
  return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

/* by_caller: the leader's deadline is its caller's, earlier than the query timeout */
static void gpx__lead(gpx__flight *f, gpx_qrun *r, gpx_ds_instance *inst, gpx_pg_cancel_fn cancelled, void *arg,
                      int by_caller) {
  gpx_qrun_pooled(r, inst, cancelled, arg);
  pthread_mutex_lock(&gpx__mu);
  for (gpx__flight **p = &gpx__table; *p; p = &(*p)->next) {
    if (*p == f) {
      *p = f->next;
      break;
    }
  }
  if (r->out->error.status == 200 && r->loaded) {
    f->state = GPX__DONE;
    if (f->refs > 1) gpx__take(&f->st, r); /* nobody waits: nothing to keep */
  } else {
    /* the leader's caller left, or its own shorter deadline passed: the
       waiters start over; any other failure each decides for itself */
    int own = r->out->error.status == 499 || (r->out->error.status == 504 && by_caller);
    f->state = own ? GPX__RETRY : GPX__FAILED;
  }
  pthread_cond_broadcast(&f->done);
  gpx__unref(f);
  pthread_mutex_unlock(&gpx__mu);
}

void gpx_qrun_flight(gpx_qrun *r, gpx_ds_instance *inst, gpx_pg_cancel_fn cancelled, void *cancel_arg) {
  if (r->kind->stream_need == NULL || atomic_load(&gpx__off)) {
    gpx_qrun_pooled(r, inst, cancelled, cancel_arg);
    return;
  }
  gpx_buf key = {0};
  if (gpx_qrun_flight_key(r, &key) != GPX_OK) {
    gpx_buf_reset(&key);
    gpx_qrun_fail(r, ENOMEM, "single flight", NULL);
    return;
  }
  /* a waiter's own bound: the query timeout from now, or its caller's deadline if earlier */
  int64_t deadline = gpx__now_ms() + (int64_t)r->s->query_timeout_s * 1000;
  int by_caller = r->in->deadline_ms > 0 && r->in->deadline_ms < deadline;
  if (by_caller) deadline = r->in->deadline_ms;
  for (;;) {
    pthread_mutex_lock(&gpx__mu);
    gpx__flight *f = gpx__table;
    while (f && !(f->inst == inst && f->key.len == key.len && memcmp(f->key.data, key.data, key.len) == 0))
      f = f->next;
    if (f == NULL) {
      f = calloc(1, sizeof *f);
      if (f == NULL) {
        pthread_mutex_unlock(&gpx__mu);
        gpx_buf_reset(&key);
        gpx_qrun_pooled(r, inst, cancelled, cancel_arg); /* alone, then */
        return;
      }
      f->inst = inst;
      f->key = key;
      memset(&key, 0, sizeof key);
      f->refs = 1;
      pthread_cond_init(&f->done, NULL);
      f->next = gpx__table;
      gpx__table = f;
      pthread_mutex_unlock(&gpx__mu);
      gpx__lead(f, r, inst, cancelled, cancel_arg, by_caller);
      return;
    }
    if (r->in->json_frames) {
      /* a live push recomputes because the table changed: a computation
         that started before the change may not have seen it */
      pthread_mutex_unlock(&gpx__mu);
      gpx_qrun_pooled(r, inst, cancelled, cancel_arg);
      break;
    }
    f->refs++;
    int why = 0; /* 499 or 504 when this waiter gives up */
    while (f->state == GPX__RUNNING) {
      /* wake every 50 ms to notice the caller leaving (cancellation has no signal to wait on) */
      int64_t now = gpx__now_ms(), until = now + 50;
      if (now >= deadline) {
        why = 504;
        break;
      }
      if (until > deadline) until = deadline;
      struct timespec ts = {.tv_sec = until / 1000, .tv_nsec = (long)(until % 1000) * 1000000};
      pthread_cond_timedwait(&f->done, &gpx__mu, &ts);
      if (f->state == GPX__RUNNING && cancelled && cancelled(cancel_arg)) {
        why = 499;
        break;
      }
    }
    int state = f->state;
    pthread_mutex_unlock(&gpx__mu);
    if (why == 0 && state == GPX__DONE) {
      /* no lock needed: a finished state is only read until the last reference goes */
      int rc = gpx__lend(&f->st, r);
      if (rc == GPX_OK) rc = r->kind->run(r);
      if (rc != GPX_OK && r->out->error.status == 200) gpx_qrun_fail(r, rc, r->kind->name, NULL);
      gpx__unlend(r);
      atomic_fetch_add(&gpx__coalesced, 1);
    }
    pthread_mutex_lock(&gpx__mu);
    gpx__unref(f);
    pthread_mutex_unlock(&gpx__mu);
    if (why == 499) gpx_query_fail(r->out, ECANCELED, 499, "plugin", "request cancelled");
    else if (why == 504)
      gpx_query_fail(r->out, ETIMEDOUT, 504, "downstream", "query timed out after %d s", r->s->query_timeout_s);
    if (why || state == GPX__DONE) break;
    if (state == GPX__RETRY && !(cancelled && cancelled(cancel_arg))) continue; /* the leader's caller left: start over */
    gpx_qrun_pooled(r, inst, cancelled, cancel_arg); /* the leader failed: this query's own run decides */
    break;
  }
  gpx_buf_reset(&key);
}
