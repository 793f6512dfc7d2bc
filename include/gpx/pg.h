/*
** pg.h — Postgres access: a bounded connection pool per data-source
** instance, parameterised queries that can be cancelled, explicit
** transactions, and binary COPY reads for per-trade data (copy.c).
**
** Every value reaches Postgres as a bound parameter; identifiers from the
** settings are quoted with gpx_pg_quote_ident. Queries run with the async
** libpq API so a cancelled gRPC call can cancel its backend query while it
** runs, and the per-instance statement_timeout is set at connect time
** (behind a pooler such as pgbouncer, which refuses or drops startup
** options, in each transaction instead: see connect.c and exec.c).
**
** Every wait has a deadline. A session's deadline is fixed when it is
** checked out: the query timeout from then, or the caller's own deadline if
** earlier. Waiting for a pool slot, connecting, sending, each result and the
** cancel all end by it, whether or not the server answers: a frozen or
** unreachable Postgres costs a caller its timeout plus a short grace for the
** cancel, then the connection is abandoned (closed, never pooled) and its
** slot freed. What this module is not: it does not retry a statement that
** may have run, nor queue callers fairly across instances.
**
** Errors are classified once here (gpx_pg_status) so callers can map them:
** downstream unavailable (502), timeout (504), cancelled, or a query error.
*/
#ifndef GPX_PG_H
#define GPX_PG_H

#include <libpq-fe.h>

#include "gpx/core.h"
#include "gpx/ds.h"

typedef enum gpx_pg_status {
  GPX_PG_OK = 0,
  GPX_PG_UNAVAILABLE,   /* cannot connect / connection lost */
  GPX_PG_AUTH,          /* authentication failed */
  GPX_PG_NO_DATABASE,   /* database does not exist */
  GPX_PG_TIMEOUT,       /* the session's deadline passed (or statement_timeout fired) */
  GPX_PG_CANCELLED,     /* our caller went away */
  GPX_PG_QUERY_ERROR    /* SQL error (undefined table/column, bad value, ...) */
} gpx_pg_status;

/** Detail of a failure: status, SQLSTATE and a message without secrets. */
typedef struct gpx_pg_error {
  gpx_pg_status status;
  char sqlstate[6];
  char msg[512];
  int standby; /* the failed statement ran on a hot standby (in_hot_standby on, Postgres 14+) */
} gpx_pg_error;

typedef struct gpx_pg_pool gpx_pg_pool;

/**
 * Create a pool for these settings (borrowed: they must outlive the pool).
 * Opens nothing yet. Every connection it opens has TCP keepalives and
 * tcp_user_timeout set (GPX_PG_KEEPALIVES_*), so a peer that vanished is
 * noticed by the kernel within about a minute even while idle.
 */
int gpx_pg_pool_new(const gpx_ds_settings *s, const char *tls_dir, gpx_pg_pool **out, gpx_error *err);
/** Close every idle connection and free; connections in use must be released first. */
void gpx_pg_pool_free(gpx_pg_pool *p);
void gpx_pg_pool_stats(gpx_pg_pool *p, int *open, int *idle);
/**
 * 1 once a connection of the pool showed a connection pooler in between
 * (pgbouncer refused or dropped the startup `options`): statement_timeout
 * is then set in each transaction, TimeZone and DateStyle after connecting.
 * Thread-safe.
 */
int gpx_pg_pool_behind_pooler(gpx_pg_pool *p);

/**
 * How many named prepared statements each connection keeps (exec.c), from
 * 0 (statements run unnamed, as behind a pooler) to 64, the default; the
 * environment's GPX_PG_PREPARED (main.c), for benchmarks and tests. Call
 * before queries run; connections holding more keep them until evicted.
 */
void gpx_pg_prepared_max(int n);

/** Cancellation probe: returns 1 when the work should stop. */
typedef int (*gpx_pg_cancel_fn)(void *arg);

/** TCP keepalive and user-timeout settings on every connection (libpq conninfo values). */
#define GPX_PG_KEEPALIVES_IDLE_S 30
#define GPX_PG_KEEPALIVES_INTERVAL_S 10
#define GPX_PG_KEEPALIVES_COUNT 3
#define GPX_PG_TCP_USER_TIMEOUT_MS 60000
/** How long one host of `host` may take to connect, at most (libpq's connect_timeout before). */
#define GPX_PG_CONNECT_HOST_MS 10000
/**
 * prefer-standby settled on a server that is not a standby (none answered as
 * one): that connection is pooled for this long, then closed at release, so
 * the next connect asks the standbys first again and a standby that came
 * back gets its queries back without waiting for idleConnectionSeconds.
 */
#define GPX_PG_FALLBACK_MS 30000
/** After a stop (deadline or caller gone): how long the server's answer to the cancel is awaited. */
#define GPX_PG_CANCEL_GRACE_MS 500

/** A "no deadline" value for gpx_pg_session.deadline. */
#define GPX_PG_NO_DEADLINE INT64_MAX

struct gpx_pg_cancel_job;

/**
 * One checked-out connection and how to stop its work. Filled by
 * gpx_pg_acquire; callers read nothing but pass it to exec/stream/release.
 */
typedef struct gpx_pg_session {
  gpx_pg_pool *pool;
  PGconn *conn;
  int broken;            /* do not return to the pool */
  gpx_pg_cancel_fn cancelled;
  void *cancel_arg;
  int timeout_s;         /* for messages */
  int64_t deadline;      /* CLOCK_MONOTONIC ms by which every wait ends (gpx_pg_deadline) */
  gpx_pg_status stop;    /* GPX_PG_OK while running; TIMEOUT or CANCELLED once stopped (sticky) */
  int64_t give_up;       /* after a stop: CLOCK_MONOTONIC ms when the server's answer stops being awaited */
  struct gpx_pg_cancel_job *cancel_job; /* the cancel request sent on a helper thread, if any */
  int64_t fallback_until; /* a prefer-standby fallback: not pooled after this (CLOCK_MONOTONIC ms); 0 = no limit */
  /* private (src/pg) */
  int connect_flags;     /* GPX__PG_YIELD, GPX__PG_QUICK while connecting */
  int pipelined;         /* the statement in flight was sent in one pipeline after this many others (a
                            set_config; or a DEALLOCATE and a Parse: exec.c) */
  int copy_prefix;       /* the COPY in flight follows a set_config result to skip */
  int in_txn;            /* inside gpx_pg_begin … gpx_pg_end: a lost connection is not retried */
} gpx_pg_session;

/** CLOCK_MONOTONIC in milliseconds (the clock of gpx_pg_session deadlines). */
int64_t gpx_pg_now_ms(void);

/**
 * The deadline of a session checked out at mono_now_ms (CLOCK_MONOTONIC
 * ms): mono_now_ms + timeout_s, or the caller's deadline if earlier.
 * caller_deadline_ms is absolute wall-clock time (ms since the epoch, as
 * gpx_rpc_deadline_ms gives it; real_now_ms is the wall clock now), 0 when
 * the caller has none. timeout_s <= 0 means no timeout. Returns
 * GPX_PG_NO_DEADLINE when neither bounds the work. Pure; thread-safe.
 */
int64_t gpx_pg_deadline(int timeout_s, int64_t caller_deadline_ms, int64_t mono_now_ms, int64_t real_now_ms);

/**
 * Check out a connection: an idle one, else a new one if below max, else
 * wait for one. The wait and the connect end at the session's deadline
 * (gpx_pg_deadline of the pool's query timeout and deadline_ms, the
 * caller's absolute wall-clock deadline in ms or 0) and as soon as
 * cancelled(arg) returns 1 (polled every 50 ms). An idle connection found
 * dead is replaced transparently, so queries succeed again once Postgres
 * is back. A connect tries each host of `host` in turn, each for at most
 * GPX_PG_CONNECT_HOST_MS and its share of the time left.
 *
 * Errors (err filled, s holds no connection): ETIMEDOUT/GPX_PG_TIMEOUT when
 * the deadline passed waiting for a slot or connecting; ECANCELED/
 * GPX_PG_CANCELLED; EIO with GPX_PG_UNAVAILABLE (also when every host used
 * up its own GPX_PG_CONNECT_HOST_MS), GPX_PG_AUTH or GPX_PG_NO_DATABASE.
 * Thread-safe (one session per caller).
 */
int gpx_pg_acquire(gpx_pg_pool *p, gpx_pg_session *s, gpx_pg_cancel_fn cancelled, void *arg,
                   int64_t deadline_ms, gpx_pg_error *err);
/**
 * gpx_pg_acquire for light work (the editors' values, Save & test): it may
 * open one connection beyond maxOpenConnections, a lane that heavy queries
 * never take, so a data source busy with long queries still answers them.
 */
int gpx_pg_acquire_light(gpx_pg_pool *p, gpx_pg_session *s, gpx_pg_cancel_fn cancelled, void *arg,
                         int64_t deadline_ms, gpx_pg_error *err);

/**
 * A second session for the same work, without waiting: an idle pooled
 * connection, or (allow_new) a new one while the pool has room and nobody
 * waits for a slot — so a query's second session never delays another
 * query's first. It shares parent's deadline and cancellation probe. EAGAIN
 * (nothing to release) when there is none to be had at once; connect
 * errors as gpx_pg_acquire. Release it with gpx_pg_release like any session.
 */
int gpx_pg_acquire_more(gpx_pg_session *parent, gpx_pg_session *s, int allow_new, gpx_pg_error *err);

/**
 * Give the connection back: pooled when it is healthy and idle, else closed
 * (without blocking) and its slot freed. Safe after a failed acquire.
 */
void gpx_pg_release(gpx_pg_session *s);

/**
 * Run one parameterised statement (text params; result in binary when
 * binary_result). *out is the PGresult on success (caller PQclear's it).
 * Retries once on a fresh connection when the connection was found dead
 * before any work ran.
 *
 * Bounded by the session: when the caller goes away or the deadline passes
 * the statement is cancelled (the cancel request runs on a helper thread,
 * never blocking this one) and its answer awaited for
 * GPX_PG_CANCEL_GRACE_MS; a server that does not answer by then has its
 * connection abandoned (s->broken). Errors: ETIMEDOUT (GPX_PG_TIMEOUT),
 * ECANCELED (GPX_PG_CANCELLED), EINVAL (GPX_PG_QUERY_ERROR), EIO (others).
 * Once a session has stopped, every further statement fails at once.
 */
int gpx_pg_exec(gpx_pg_session *s, const char *sql, int nparams, const char *const *params,
                int binary_result, PGresult **out, gpx_pg_error *err);

/**
 * An explicit transaction on s: BEGIN with the given modes ("ISOLATION LEVEL
 * REPEATABLE READ READ ONLY"; constant text, never user input), then
 * statements that see one snapshot (gpx_pg_exec and COPY reads — neither
 * retries on a fresh connection inside it), then gpx_pg_end: COMMIT when
 * commit, else ROLLBACK (allowed within a stop's grace). A session whose
 * transaction could not be ended is marked broken (not pooled). Behind a
 * pooler the statement timeout is set local to the transaction after BEGIN.
 */
int gpx_pg_begin(gpx_pg_session *s, const char *modes, gpx_pg_error *err);
int gpx_pg_end(gpx_pg_session *s, int commit, gpx_pg_error *err);

/* ---- a connection of its own, for LISTEN (listen.c) ---- */

/**
 * Open a connection to the pool's server that the pool does not count nor
 * hand out (Grafana Live's change listener: it stays open while channels
 * run and must not take a query's slot). s is filled like a checked-out
 * session (s->pool is NULL: gpx_pg_exec on it never retries on a fresh
 * connection); the connect ends by timeout_ms and when cancelled(arg)
 * returns 1. Errors as gpx_pg_acquire. Close with gpx_pg_close_dedicated.
 */
int gpx_pg_open_dedicated(gpx_pg_pool *p, gpx_pg_session *s, gpx_pg_cancel_fn cancelled, void *arg,
                          int timeout_ms, gpx_pg_error *err);
/** Re-arm a dedicated session for its next statement: a new deadline timeout_ms from now, no stop. */
void gpx_pg_dedicated_rearm(gpx_pg_session *s, int timeout_ms);
/** Close a dedicated connection (nonblocking); safe on a zeroed or failed session. */
void gpx_pg_close_dedicated(gpx_pg_session *s);
/**
 * Wait up to timeout_ms for notifications (LISTEN) on a dedicated session;
 * *n = how many arrived (0 when the wait ended without one). EIO with err
 * filled (GPX_PG_UNAVAILABLE) when the connection is lost.
 */
int gpx_pg_wait_notify(gpx_pg_session *s, int timeout_ms, int *n, gpx_pg_error *err);

/* ---- COPY reads (copy.c) ---- */

/** Columns a COPY read may have. */
#define GPX_PG_COPY_MAX_COLS 32

/** One value of a row read through COPY: bytes (not NUL-terminated) and length, -1 = NULL. */
typedef struct gpx_pg_value {
  const char *p;
  int len;
} gpx_pg_value;

/** Called for each row (values in binary, one per column); non-zero stops every read of the run. */
typedef int (*gpx_pg_row_fn)(const gpx_pg_value *row, int ncols, void *arg);

/**
 * One SELECT read through `COPY (SELECT …) TO STDOUT (FORMAT binary)` on one
 * session: the server streams rows without a round trip per chunk while the
 * caller folds them — the cheapest way to hand over many rows (no per-row
 * result objects, no cursor). COPY takes no parameters: values in the SELECT
 * are literals (gpx_pg_literal). Fill s, select, fn, arg; the rest is state.
 */
typedef struct gpx_pg_copy {
  gpx_pg_session *s;
  const char *select;
  gpx_pg_row_fn fn;
  void *arg;
  int ncols;                               /* gpx_pg_copy_describe */
  unsigned int types[GPX_PG_COPY_MAX_COLS]; /* type OIDs of the columns (numbers need them) */
  /* private */
  int state, flags;
  gpx_pg_error err;
} gpx_pg_copy;

/**
 * Learn the SELECT's columns and their types (one statement that returns no
 * rows; it also finds a dead pooled connection and retries on a fresh one).
 * Errors as gpx_pg_exec: a missing column is a GPX_PG_QUERY_ERROR with
 * SQLSTATE 42703, and nothing has been started.
 */
int gpx_pg_copy_describe(gpx_pg_copy *c, gpx_pg_error *err);

/**
 * Run n described reads at once, each on its own session (the sessions are
 * different), folding rows as they arrive from any of them, in one thread.
 * Bounded like gpx_pg_exec per session. The first failure — a Postgres
 * error, a session's deadline or caller gone, or a row callback returning
 * non-zero — stops the other reads (cancelled, their answer awaited within
 * GPX_PG_CANCEL_GRACE_MS, else their connection abandoned) and is returned:
 * a callback's stop as ECANCELED with "read stopped by its consumer".
 */
int gpx_pg_copy_run(gpx_pg_copy *const *c, int n, gpx_pg_error *err);

/**
 * Append value as an SQL string literal quoted by libpq for the session's
 * connection (PQescapeLiteral: its encoding and standard_conforming_strings).
 * EINVAL when libpq refuses (invalid encoding), ENOMEM.
 */
int gpx_pg_literal(gpx_pg_session *s, gpx_buf *b, const char *value);

/** A number of type OID `type` in binary form → double, as gpx_pg_get_number. */
double gpx_pg_number(unsigned int type, const char *p, int len);

/** Append ident as a quoted SQL identifier ("a""b"). EINVAL on NUL/empty. */
int gpx_pg_quote_ident(gpx_buf *b, const char *ident);

/* Binary value readers (network byte order). */
int64_t gpx_pg_get_int8(const PGresult *r, int row, int col);
double gpx_pg_get_float8(const PGresult *r, int row, int col);
/**
 * A number column in binary format, whatever its type (numeric, float8,
 * float4, int8/4/2) → double; NaN for NULL or an unsupported type. numeric
 * is converted exactly as strtod would round its decimal text.
 */
double gpx_pg_get_number(const PGresult *r, int row, int col);
/** numeric's binary wire form → double (exposed for tests); NaN when malformed
 *  (short, a sign or a digit Postgres' numeric_recv would refuse). */
double gpx_pg_numeric_to_double(const unsigned char *p, int len);
/** Microseconds since 2000-01-01 (binary timestamptz) → ns since 1970;
 *  saturated at INT64_MIN/INT64_MAX outside that range (±infinity too). */
int64_t gpx_pg_get_timestamptz_ns(const PGresult *r, int row, int col);

#endif /* GPX_PG_H */
