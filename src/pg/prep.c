/*
** prep.c — the named prepared statements of one connection, so a
** statement run again skips Postgres' parse and plan (exec.c sends them).
**
** The cache hangs on the PGconn itself as libpq event instance data
** (libpq-events.h): it lives exactly as long as the connection, whichever
** of the pool's many PQfinish calls ends it, and a fresh connection (a
** reconnect) starts empty. Entries are keyed by the statement text (a hash,
** then the full text), at most GPX__PG_PREP_MAX per connection; the least
** recently used one is evicted (exec.c deallocates it in the same
** pipeline). Names are never reused, and carry a per-process nonce and a
** per-connection serial: a name can only ever mean the text it was
** prepared with, even on a server session some pooler swapped under us.
**
** What it is not: thread-safe (a connection is used by one session at a
** time), nor a cache of plans (Postgres keeps those, per statement).
*/
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include <libpq-events.h>

#include "pg_int.h"

static int gpx__prep_cap = GPX__PG_PREP_MAX; /* gpx_pg_prepared_max; __atomic */
static unsigned gpx__prep_nonce;      /* per process: set once (first cache) */
static unsigned gpx__prep_serial;     /* per connection: __atomic */

static int gpx__prep_event(PGEventId id, void *info, void *pass);

static void gpx__prep_clear(gpx__pg_prep *c) {
  for (int i = 0; i < c->n; i++) free(c->e[i].sql);
  c->n = 0;
}

static int gpx__prep_event(PGEventId id, void *info, void *pass) {
  (void)pass;
  if (id == PGEVT_CONNDESTROY || id == PGEVT_CONNRESET) {
    PGconn *conn = id == PGEVT_CONNDESTROY ? ((PGEventConnDestroy *)info)->conn : ((PGEventConnReset *)info)->conn;
    gpx__pg_prep *c = PQinstanceData(conn, gpx__prep_event);
    if (c == NULL) return 1;
    gpx__prep_clear(c); /* a reset connection is a new server session */
    if (id == PGEVT_CONNDESTROY) {
      free(c);
      PQsetInstanceData(conn, gpx__prep_event, NULL);
    }
  }
  return 1;
}

void gpx_pg_prepared_max(int n) {
  __atomic_store_n(&gpx__prep_cap, n < 0 ? 0 : n > GPX__PG_PREP_MAX ? GPX__PG_PREP_MAX : n, __ATOMIC_RELAXED);
}

int gpx__pg_prep_cap(void) { return __atomic_load_n(&gpx__prep_cap, __ATOMIC_RELAXED); }

gpx__pg_prep *gpx__pg_prep_of(PGconn *conn) {
  gpx__pg_prep *c = PQinstanceData(conn, gpx__prep_event);
  if (c != NULL) return c;
  c = calloc(1, sizeof *c);
  if (c == NULL) return NULL;
  if (!PQregisterEventProc(conn, gpx__prep_event, "gpx-prep", NULL) ||
      !PQsetInstanceData(conn, gpx__prep_event, c)) {
    free(c);
    return NULL;
  }
  unsigned nonce = __atomic_load_n(&gpx__prep_nonce, __ATOMIC_RELAXED);
  if (nonce == 0) {
    struct timespec t;
    clock_gettime(CLOCK_REALTIME, &t);
    unsigned v = ((unsigned)getpid() * 2654435761u) ^ (unsigned)t.tv_nsec ^ (unsigned)t.tv_sec;
    if (v == 0) v = 1;
    unsigned zero = 0;
    __atomic_compare_exchange_n(&gpx__prep_nonce, &zero, v, 0, __ATOMIC_RELAXED, __ATOMIC_RELAXED);
    nonce = __atomic_load_n(&gpx__prep_nonce, __ATOMIC_RELAXED);
  }
  c->nonce = nonce;
  c->serial = __atomic_add_fetch(&gpx__prep_serial, 1, __ATOMIC_RELAXED);
  return c;
}

/* FNV-1a: the text is compared in full on a hit, the hash only skips. */
static uint64_t gpx__hash(const char *s) {
  uint64_t h = UINT64_C(14695981039346656037);
  for (; *s; s++) h = (h ^ (unsigned char)*s) * UINT64_C(1099511628211);
  return h;
}

void gpx__pg_prep_name(const gpx__pg_prep *c, unsigned id, char *out, size_t cap) {
  snprintf(out, cap, "gpx_%08x_%u_%u", c->nonce, c->serial, id);
}

int gpx__pg_prep_find(gpx__pg_prep *c, const char *sql) {
  uint64_t h = gpx__hash(sql);
  for (int i = 0; i < c->n; i++) {
    if (c->e[i].hash == h && strcmp(c->e[i].sql, sql) == 0) {
      c->e[i].used = ++c->clock;
      return i;
    }
  }
  return -1;
}

int gpx__pg_prep_add(gpx__pg_prep *c, const char *sql, char *evicted, size_t cap) {
  evicted[0] = '\0';
  char *copy = strdup(sql);
  if (copy == NULL) return -1;
  int slot, max = gpx__pg_prep_cap();
  if (c->n < max || c->n == 0) {
    slot = c->n++;
  } else {
    slot = 0;
    for (int i = 1; i < c->n; i++)
      if (c->e[i].used < c->e[slot].used) slot = i;
    gpx__pg_prep_name(c, c->e[slot].id, evicted, cap);
    free(c->e[slot].sql);
  }
  c->e[slot].hash = gpx__hash(sql);
  c->e[slot].sql = copy;
  c->e[slot].used = ++c->clock;
  c->e[slot].id = ++c->next_id;
  return slot;
}

void gpx__pg_prep_drop(gpx__pg_prep *c, int slot) {
  if (slot < 0 || slot >= c->n) return;
  free(c->e[slot].sql);
  c->e[slot] = c->e[--c->n];
}

void gpx__pg_prep_forget(gpx__pg_prep *c) { gpx__prep_clear(c); }
