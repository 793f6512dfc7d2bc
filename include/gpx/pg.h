/*
** pg.h — Postgres access: a bounded connection pool per data-source
** instance, parameterised queries that can be cancelled, and a binary
** cursor stream for per-trade data.
**
** Every value reaches Postgres as a bound parameter; identifiers from the
** settings are quoted with gpx_pg_quote_ident. Queries run with the async
** libpq API so a cancelled gRPC call can PQcancel its backend query while
** it runs, and the per-instance statement_timeout is set at connect time.
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
  GPX_PG_TIMEOUT,       /* statement_timeout fired */
  GPX_PG_CANCELLED,     /* our caller went away */
  GPX_PG_QUERY_ERROR    /* SQL error (undefined table/column, bad value, ...) */
} gpx_pg_status;

/** Detail of a failure: status, SQLSTATE and a message without secrets. */
typedef struct gpx_pg_error {
  gpx_pg_status status;
  char sqlstate[6];
  char msg[512];
} gpx_pg_error;

typedef struct gpx_pg_pool gpx_pg_pool;

/** Create a pool for these settings (borrowed: they must outlive the pool). Opens nothing yet. */
int gpx_pg_pool_new(const gpx_ds_settings *s, const char *tls_dir, gpx_pg_pool **out, gpx_error *err);
/** Close every idle connection and free; connections in use must be released first. */
void gpx_pg_pool_free(gpx_pg_pool *p);
void gpx_pg_pool_stats(gpx_pg_pool *p, int *open, int *idle);

/** Cancellation probe: returns 1 when the work should stop. */
typedef int (*gpx_pg_cancel_fn)(void *arg);

/** One checked-out connection and how to stop its work. */
typedef struct gpx_pg_session {
  gpx_pg_pool *pool;
  PGconn *conn;
  int broken;            /* do not return to the pool */
  gpx_pg_cancel_fn cancelled;
  void *cancel_arg;
  int timeout_s;         /* for messages */
} gpx_pg_session;

/**
 * Check out a connection (opening one if below max, else waiting up to the
 * query timeout). An idle connection found dead is replaced transparently,
 * so queries succeed again once Postgres is back.
 */
int gpx_pg_acquire(gpx_pg_pool *p, gpx_pg_session *s, gpx_pg_cancel_fn cancelled, void *arg,
                   gpx_pg_error *err);
void gpx_pg_release(gpx_pg_session *s);

/**
 * Run one parameterised statement (text params; result in binary when
 * binary_result). *out is the PGresult on success (caller PQclear's it).
 * Retries once on a fresh connection when the connection was found dead
 * before any work ran.
 */
int gpx_pg_exec(gpx_pg_session *s, const char *sql, int nparams, const char *const *params,
                int binary_result, PGresult **out, gpx_pg_error *err);

/** Called for each fetched chunk (binary rows); non-zero aborts the stream. */
typedef int (*gpx_pg_chunk_fn)(const PGresult *chunk, void *arg);

/**
 * Stream a SELECT through a binary cursor in chunks of chunk_rows rows,
 * inside its own read-only transaction.
 */
int gpx_pg_stream(gpx_pg_session *s, const char *sql, int nparams, const char *const *params,
                  int chunk_rows, gpx_pg_chunk_fn fn, void *arg, gpx_pg_error *err);

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
