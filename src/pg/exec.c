/*
** exec.c — run parameterised SQL on a checked-out connection, with
** cancellation, deadlines, timeout classification and a binary cursor
** stream.
**
** Nothing here waits on libpq: the connection is nonblocking, a statement
** is queued with PQsendQueryParams and flushed with PQflush as the socket
** takes it, and results are read with PQconsumeInput when poll() says the
** socket is readable. Every poll lasts at most 50 ms, so the caller going
** away is noticed that fast, and never past the session's deadline. On a
** stop (caller gone or deadline passed) a cancel request goes out on a
** helper thread (cancel.c) and the server's answer is awaited for
** GPX_PG_CANCEL_GRACE_MS: a live server answers in milliseconds and the
** connection goes back to the pool; a frozen or unreachable one does not,
** and the connection is abandoned (closed at release, its slot freed). A
** statement_timeout error is told apart from our own cancel by the stop
** the session recorded.
*/
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>

#include "gpx/log.h"
#include "pg_int.h"

void gpx__pg_classify(gpx_pg_session *s, const PGresult *r, gpx_pg_error *err) {
  const char *state = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
  const char *primary = r ? PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY) : NULL;
  snprintf(err->sqlstate, sizeof err->sqlstate, "%s", state ? state : "");
  if (primary == NULL) primary = PQerrorMessage(s->conn);
  size_t n = 0;
  while (primary[n] && primary[n] != '\n' && n + 1 < sizeof err->msg) n++;
  memcpy(err->msg, primary, n);
  err->msg[n] = '\0';
  if (PQstatus(s->conn) != CONNECTION_OK || (state && strncmp(state, "08", 2) == 0) ||
      (state && strncmp(state, "57P", 3) == 0)) {
    err->status = GPX_PG_UNAVAILABLE; /* 57P01 admin_shutdown: Postgres stopping */
    s->broken = 1;
  } else if (state && strcmp(state, "57014") == 0) {
    /* our cancel (the stop says why), else the server's statement_timeout */
    err->status = s->stop != GPX_PG_OK ? s->stop : GPX_PG_TIMEOUT;
  } else if (state && strncmp(state, "28", 2) == 0) {
    err->status = GPX_PG_AUTH;
  } else {
    err->status = GPX_PG_QUERY_ERROR;
  }
}

/* The connection failed under us (EOF, reset, libpq error). */
void gpx__pg_lost(gpx_pg_session *s, gpx_pg_error *err) {
  gpx__pg_classify(s, NULL, err);
  err->status = GPX_PG_UNAVAILABLE;
  s->broken = 1;
}

/* May a statement go on at now? A stopped session lets nothing new start,
   except cleanup (ROLLBACK) while the grace lasts. */
static int gpx__may_go_on(gpx_pg_session *s, int cleanup, int64_t now) {
  if (gpx__pg_check_stop(s, now) == GPX_PG_OK) return 1;
  return cleanup && now < s->give_up;
}

/* Wait until the socket is ready for events: at most 50 ms (the caller is
   polled that often) and never past the deadline, or past the grace once
   stopped. Returns the ready events, 0 when none. */
static short gpx__poll(gpx_pg_session *s, short events) {
  int64_t limit = s->stop != GPX_PG_OK ? s->give_up : s->deadline;
  int64_t ms = limit - gpx_pg_now_ms();
  if (ms > 50) ms = 50;
  if (ms < 0) ms = 0;
  struct pollfd pfd = {PQsocket(s->conn), events, 0};
  if (pfd.fd < 0) return POLLERR;
  return poll(&pfd, 1, (int)ms) > 0 ? pfd.revents : 0;
}

/* Queue the statement and flush it as the socket takes it. 0 when sent;
   else err is filled (broken when the connection cannot be trusted). */
int gpx__pg_send(gpx_pg_session *s, const char *sql, int nparams, const char *const *params, int binary,
                     int cleanup, gpx_pg_error *err) {
  if (!gpx__may_go_on(s, cleanup, gpx_pg_now_ms())) {
    gpx__pg_stop_error(s, err); /* nothing sent: the connection is intact */
    return EIO;
  }
  if (!PQsendQueryParams(s->conn, sql, nparams, NULL, params, NULL, NULL, binary)) {
    gpx__pg_lost(s, err);
    return EIO;
  }
  for (;;) {
    int f = PQflush(s->conn);
    if (f == 0) return GPX_OK;
    if (f < 0) {
      gpx__pg_lost(s, err);
      return EIO;
    }
    /* Half a statement on the wire cannot be cancelled: a stop now gives
       the connection up. */
    if (!gpx__may_go_on(s, cleanup, gpx_pg_now_ms())) {
      s->broken = 1;
      gpx__pg_stop_error(s, err);
      return EIO;
    }
    short ev = gpx__poll(s, POLLOUT | POLLIN);
    /* libpq: when the socket is readable, consume input before flushing again */
    if ((ev & (POLLIN | POLLERR | POLLHUP)) && !PQconsumeInput(s->conn)) {
      gpx__pg_lost(s, err);
      return EIO;
    }
  }
}

/* Wait for the current statement's results; keep the first non-OK or the
   last result. Returns the result (caller clears) or NULL with err filled. */
static PGresult *gpx__await(gpx_pg_session *s, int cleanup, gpx_pg_error *err) {
  PGresult *keep = NULL;
  for (;;) {
    while (PQisBusy(s->conn)) {
      int64_t now = gpx_pg_now_ms();
      if (gpx__pg_check_stop(s, now) != GPX_PG_OK) {
        if (now >= s->give_up) {
          /* The server did not answer the cancel in time: frozen,
             partitioned or stalled. Give the connection up. */
          PQclear(keep);
          s->broken = 1;
          gpx__pg_stop_error(s, err);
          json_t *f = json_pack("{s:s, s:s, s:s}", "host", s->pool ? s->pool->s->host : "", "port",
                                s->pool ? s->pool->port : "", "stop",
                                s->stop == GPX_PG_CANCELLED ? "cancelled" : "timeout");
          gpx_log(GPX_LOG_WARN, "pg: no answer from Postgres after the cancel; connection abandoned", f);
          return NULL;
        }
        gpx__pg_cancel_start(s); /* once per session */
      }
      short ev = gpx__poll(s, POLLIN);
      if (ev && !PQconsumeInput(s->conn)) {
        PQclear(keep);
        gpx__pg_lost(s, err);
        return NULL;
      }
    }
    /* Not busy: PQgetResult returns at once. */
    PGresult *r = PQgetResult(s->conn);
    if (r == NULL) break;
    ExecStatusType st = PQresultStatus(r);
    int r_ok = st == PGRES_TUPLES_OK || st == PGRES_COMMAND_OK;
    if (keep == NULL || (!r_ok && PQresultStatus(keep) != PGRES_FATAL_ERROR)) {
      PQclear(keep);
      keep = r; /* keep the first error, else the last result */
    } else {
      PQclear(r);
    }
  }
  if (keep == NULL) {
    gpx__pg_lost(s, err);
    return NULL;
  }
  ExecStatusType st = PQresultStatus(keep);
  if (st == PGRES_TUPLES_OK || st == PGRES_COMMAND_OK) {
    if (s->stop == GPX_PG_OK || cleanup) return keep;
    /* It finished, but after the caller left or the deadline passed. */
    PQclear(keep);
    gpx__pg_stop_error(s, err);
    return NULL;
  }
  gpx__pg_classify(s, keep, err);
  PQclear(keep);
  return NULL;
}

static int gpx__run(gpx_pg_session *s, const char *sql, int nparams, const char *const *params, int binary,
                    int cleanup, PGresult **out, gpx_pg_error *err) {
  *out = NULL;
  GPX_RETURN_NOT_OK(gpx__pg_send(s, sql, nparams, params, binary, cleanup, err));
  *out = gpx__await(s, cleanup, err);
  return *out ? GPX_OK : EIO;
}

int gpx__pg_status_rc(const gpx_pg_error *err) {
  switch (err->status) {
    case GPX_PG_CANCELLED: return ECANCELED;
    case GPX_PG_TIMEOUT: return ETIMEDOUT;
    case GPX_PG_QUERY_ERROR: return EINVAL;
    default: return EIO;
  }
}

int gpx_pg_exec(gpx_pg_session *s, const char *sql, int nparams, const char *const *params,
                int binary_result, PGresult **out, gpx_pg_error *err) {
  memset(err, 0, sizeof *err);
  if (gpx__run(s, sql, nparams, params, binary_result, 0, out, err) == GPX_OK) return GPX_OK;
  if (err->status == GPX_PG_UNAVAILABLE && s->stop == GPX_PG_OK && s->cancel_job == NULL && s->pool != NULL) {
    /* A pooled connection may have died while idle (Postgres restarted):
       a read-only statement is safe to try once more on a fresh one. */
    gpx_pg_error e2;
    memset(&e2, 0, sizeof e2);
    if (gpx__pg_reconnect(s, &e2) != GPX_OK) {
      *err = e2;
      return gpx__pg_status_rc(err);
    }
    s->broken = 0;
    memset(err, 0, sizeof *err);
    if (gpx__run(s, sql, nparams, params, binary_result, 0, out, err) == GPX_OK) return GPX_OK;
  }
  return gpx__pg_status_rc(err);
}

int gpx_pg_stream(gpx_pg_session *s, const char *sql, int nparams, const char *const *params,
                  int chunk_rows, gpx_pg_chunk_fn fn, void *arg, gpx_pg_error *err) {
  PGresult *r = NULL;
  int rc = gpx_pg_exec(s, "BEGIN READ ONLY", 0, NULL, 0, &r, err);
  PQclear(r);
  if (rc != GPX_OK) return rc;
  gpx_buf decl = {0};
  if (gpx_buf_printf(&decl, "DECLARE gpx_stream NO SCROLL CURSOR FOR %s", sql) != GPX_OK ||
      gpx_buf_terminate(&decl) != GPX_OK) {
    gpx_buf_reset(&decl);
    s->broken = 1;
    snprintf(err->msg, sizeof err->msg, "out of memory");
    return ENOMEM;
  }
  rc = gpx__run(s, (const char *)decl.data, nparams, params, 0, 0, &r, err);
  gpx_buf_reset(&decl);
  PQclear(r);
  int aborted = 0; /* the consumer stopped the stream */
  char fetch[64];
  snprintf(fetch, sizeof fetch, "FETCH FORWARD %d FROM gpx_stream", chunk_rows > 0 ? chunk_rows : 65536);
  while (rc == GPX_OK) {
    rc = gpx__run(s, fetch, 0, NULL, 1, 0, &r, err);
    if (rc != GPX_OK) break;
    int n = PQntuples(r);
    if (n > 0 && fn(r, arg) != 0) {
      PQclear(r);
      snprintf(err->msg, sizeof err->msg, "stream aborted by consumer");
      err->status = GPX_PG_QUERY_ERROR;
      aborted = 1;
      rc = ECANCELED;
      break;
    }
    PQclear(r);
    if (n == 0) break;
  }
  if (rc == GPX_OK) {
    rc = gpx__run(s, "COMMIT", 0, NULL, 0, 0, &r, err);
    PQclear(r);
  } else if (!s->broken && s->conn != NULL && PQstatus(s->conn) == CONNECTION_OK) {
    /* cleanup: allowed within a stop's grace, so a cancelled stream's
       connection can still go back to the pool */
    gpx_pg_error ignore;
    if (gpx__run(s, "ROLLBACK", 0, NULL, 0, 1, &r, &ignore) == GPX_OK) PQclear(r);
    else s->broken = 1;
  }
  if (rc == GPX_OK) return GPX_OK;
  return aborted ? ECANCELED : gpx__pg_status_rc(err);
}
