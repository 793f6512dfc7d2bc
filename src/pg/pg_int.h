/*
** pg_int.h — what the files of src/pg/ share with each other and with
** tests/check_pg.c, and nothing else includes: the pool's layout, the
** connection keywords, the nonblocking connect, and the session's stop
** (deadline or caller gone) with its cancel request on a helper thread.
*/
#ifndef GPX_PG_INT_H
#define GPX_PG_INT_H

#include <pthread.h>

#include "gpx/pg.h"

#define GPX_PG_MAX_IDLE 100
/** Room for the conninfo keywords (gpx__pg_conninfo), NULL terminator included. */
#define GPX__PG_CONNINFO_MAX 24

struct gpx_pg_pool {
  pthread_mutex_t mu;
  pthread_cond_t cv; /* CLOCK_MONOTONIC: a slot was freed */
  PGconn *idle[GPX_PG_MAX_IDLE];     /* a stack: the top was used last */
  int64_t idle_since[GPX_PG_MAX_IDLE]; /* when each was put back (gpx_pg_now_ms) */
  int64_t fallback_until[GPX_PG_MAX_IDLE]; /* each one's gpx_pg_session.fallback_until */
  int n_idle;
  int open;          /* connections counted against max: idle, in use, or being opened */
  int max;
  int waiting;       /* callers waiting in gpx_pg_acquire for a slot */
  const gpx_ds_settings *s;
  char port[16];     /* the port of every host when the settings have no port list */
  char options[128];
  char timeout_ms[16]; /* statement_timeout in ms, as set_config takes it */
  /* Learnt from the connections, never unlearnt (read and written with
     __atomic builtins): a connection pooler in front of Postgres (see
     connect.c). no_options: it refused the startup parameter `options`, so
     connections are opened without it. proxy: the startup options were not
     applied (refused, or dropped by pgbouncer's ignore_startup_parameters),
     so statement_timeout is set per transaction (exec.c) and TimeZone and
     DateStyle with SET after connecting, which pgbouncer tracks. */
  int no_options;
  int proxy;
  /* until when (gpx_pg_now_ms) gpx_pg_acquire_more opens no new connection:
     one failed to connect and set up within GPX__PG_QUICK_MS (a pooler with
     no server to spare), so the next would most likely wait as long */
  int64_t no_new_second_until;
  /* Named prepared statements that vanished from under a connection (SQLSTATE
     26000: something between us and Postgres — a pooler we did not detect —
     swaps or resets server sessions); at GPX__PG_PREP_VANISH_LIMIT the pool
     stops naming statements. __atomic. */
  int prep_vanished;
  char rootcert[600], cert[600], key[600];
};

/* ---- connect.c ---- */

/** The pool learnt that Postgres is behind a pooler (pool.c: no_options, proxy). */
#define GPX__PG_PROXY(p) __atomic_load_n(&(p)->proxy, __ATOMIC_RELAXED)

/**
 * err->status of a connect that gave way (s->connect_flags &
 * GPX__PG_YIELD): a pooled connection became idle while the new one waited
 * for the pooler to give it a server; the caller takes the idle one.
 */
#define GPX__PG_YIELDED ((gpx_pg_status)100)
/** s->connect_flags: give way to a pooled connection that becomes idle (above). */
#define GPX__PG_YIELD 1
/** s->connect_flags: connect and set up within GPX__PG_QUICK_MS at most (a second session is optional). */
#define GPX__PG_QUICK 2
#define GPX__PG_QUICK_MS 1000
/** After a GPX__PG_QUICK connect failed: how long no second session is opened. */
#define GPX__PG_QUICK_BACKOFF_MS 60000

/**
 * The libpq keywords of a connection to `host`:`port` (one entry of the
 * settings' lists) with target_session_attrs `target` into keys/vals (cap
 * entries, NULL-terminated; values borrowed from the arguments, the pool and
 * its settings, the password included). Returns the count, or -1 when cap
 * is too small.
 */
int gpx__pg_conninfo(const gpx_pg_pool *p, const char *host, const char *port, const char *target, const char **keys,
                     const char **vals, int cap);

/**
 * Open a connection for session s with PQconnectStartParams/PQconnectPoll:
 * each host of the list in turn (with its port and targetSessionAttrs;
 * prefer-standby in two passes), each bounded by GPX_PG_CONNECT_HOST_MS,
 * its share of the time left and the session's deadline; abandoned within
 * 50 ms of s->cancelled returning 1. The connection is left nonblocking.
 * NULL with err filled: GPX_PG_CANCELLED; GPX_PG_TIMEOUT when the
 * session's deadline cut the connect; UNAVAILABLE/AUTH/NO_DATABASE (a host
 * that used up its own budget is UNAVAILABLE, "timeout expired").
 * Sets s->fallback_until (GPX_PG_FALLBACK_MS) when prefer-standby had to
 * settle on a server that is not a standby, else 0.
 */
PGconn *gpx__pg_connect(gpx_pg_pool *p, gpx_pg_session *s, gpx_pg_error *err);

/** A fresh connection in place of a dead one (same session, same slot). */
int gpx__pg_reconnect(gpx_pg_session *s, gpx_pg_error *err);

/* ---- prep.c ---- */

/** Named prepared statements kept per connection, at most. */
#define GPX__PG_PREP_MAX 64
/** After this many vanished statements (26000) a pool stops preparing. */
#define GPX__PG_PREP_VANISH_LIMIT 3

typedef struct gpx__pg_prep_entry {
  uint64_t hash;
  char *sql;      /* owned */
  uint64_t used;  /* the cache's clock at the last use (LRU) */
  unsigned id;    /* the name's number (gpx__pg_prep_name) */
} gpx__pg_prep_entry;

/** The named statements one connection prepared (prep.c). */
typedef struct gpx__pg_prep {
  gpx__pg_prep_entry e[GPX__PG_PREP_MAX];
  int n;
  uint64_t clock;
  unsigned next_id, nonce, serial;
  uint64_t parses, reuses; /* statements prepared, and run again by name (tests, diagnostics) */
} gpx__pg_prep;

/**
 * The cache of conn, created empty (and freed with the connection) on first
 * use; NULL when out of memory (the caller then runs the statement unnamed).
 */
gpx__pg_prep *gpx__pg_prep_of(PGconn *conn);
/** Entries per connection now (gpx_pg_prepared_max; 0: statements run unnamed). */
int gpx__pg_prep_cap(void);
/** The entry holding exactly sql (marked used), or -1. */
int gpx__pg_prep_find(gpx__pg_prep *c, const char *sql);
/**
 * A new entry for sql (copied): a free slot, else the least recently used
 * one, whose name goes to evicted (else evicted = ""): the caller
 * deallocates it. -1 when out of memory.
 */
int gpx__pg_prep_add(gpx__pg_prep *c, const char *sql, char *evicted, size_t cap);
/** Remove an entry (its Parse failed: no such statement on the server). */
void gpx__pg_prep_drop(gpx__pg_prep *c, int slot);
/** Forget every entry (they vanished from the server); names stay unused. */
void gpx__pg_prep_forget(gpx__pg_prep *c);
/** The statement name of entry id: gpx_<nonce>_<serial>_<id>. */
void gpx__pg_prep_name(const gpx__pg_prep *c, unsigned id, char *out, size_t cap);

/* ---- exec.c (shared with copy.c) ---- */

/** Classify a failed result (or the connection's error when r is NULL) into err; marks s broken when lost. */
void gpx__pg_classify(gpx_pg_session *s, const PGresult *r, gpx_pg_error *err);
/** The connection failed under us: UNAVAILABLE, s broken. */
void gpx__pg_lost(gpx_pg_session *s, gpx_pg_error *err);
/**
 * Queue `COPY (…) TO STDOUT` (sql, no parameters) like gpx__pg_send; behind
 * a pooler it goes in one simple query after a set_config of
 * statement_timeout, whose result (s->copy_prefix) the reader skips.
 */
int gpx__pg_send_copy(gpx_pg_session *s, const char *sql, gpx_pg_error *err);
/**
 * Queue a statement and flush it as the socket takes it, within the session's
 * deadline (cleanup: also within a stop's grace). 0 when sent; else err filled.
 */
int gpx__pg_send(gpx_pg_session *s, const char *sql, int nparams, const char *const *params, int binary,
                 int cleanup, gpx_pg_error *err);
/** The errno-style code of a failure: ECANCELED, ETIMEDOUT, EINVAL (query error), EIO. */
int gpx__pg_status_rc(const gpx_pg_error *err);

/* ---- cancel.c ---- */

/** gpx_pg_deadline for a session checked out now. */
int64_t gpx__pg_session_deadline(int timeout_s, int64_t caller_deadline_ms);

/**
 * The session's stop status at now: GPX_PG_OK while the work may go on.
 * The first time the caller is found gone (CANCELLED) or the deadline
 * passed (TIMEOUT), the stop is recorded (sticky) and s->give_up set to
 * now + GPX_PG_CANCEL_GRACE_MS.
 */
gpx_pg_status gpx__pg_check_stop(gpx_pg_session *s, int64_t now);

/** Fill err for the session's stop (status, message). */
void gpx__pg_stop_error(const gpx_pg_session *s, gpx_pg_error *err);

/**
 * Ask the server to cancel the running statement, on a detached helper
 * thread (libpq's PQcancel blocks until the server answers, and a frozen
 * one never does). At most once per session; skipped when too many earlier
 * cancels are still waiting for their servers (the server-side
 * statement_timeout then ends the statement).
 */
void gpx__pg_cancel_start(gpx_pg_session *s);

/**
 * Whether the session's cancel request (if any) has finished, waiting up to
 * wait_ms for it: a connection may be reused only once its cancel can no
 * longer arrive and hit the next statement. Drops the session's reference
 * to the request either way.
 */
int gpx__pg_cancel_settled(gpx_pg_session *s, int wait_ms);

/** Cancel helper threads still waiting for a server (tests, diagnostics). */
int gpx__pg_cancel_threads(void);

#endif /* GPX_PG_INT_H */
