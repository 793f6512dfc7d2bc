/*
** exec.c — run parameterised SQL on a checked-out connection, with
** cancellation, timeout classification and a binary cursor stream.
**
** The async libpq API lets us watch the gRPC call while Postgres works:
** every 50 ms we ask whether the caller went away, and if so send a cancel
** request (PQcancel), so pg_stat_activity shows the backend query gone
** within a fraction of a second. A statement_timeout error is told apart
** from our own cancel by whether we sent one.
*/
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>

#include "gpx/log.h"
#include "gpx/pg.h"

int gpx__pg_reconnect(gpx_pg_session *s, gpx_pg_error *err);

static void gpx__classify(gpx_pg_session *s, const PGresult *r, int cancel_sent, gpx_pg_error *err) {
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
    err->status = cancel_sent ? GPX_PG_CANCELLED : GPX_PG_TIMEOUT;
  } else if (state && strncmp(state, "28", 2) == 0) {
    err->status = GPX_PG_AUTH;
  } else {
    err->status = GPX_PG_QUERY_ERROR;
  }
}

/* Wait for the current query's results; keep the first non-OK or the last
   result. Returns the result (caller clears) or NULL with err filled. */
static PGresult *gpx__await(gpx_pg_session *s, int *cancel_sent, gpx_pg_error *err) {
  int fd = PQsocket(s->conn);
  PGresult *keep = NULL;
  for (;;) {
    while (PQisBusy(s->conn)) {
      if (!*cancel_sent && s->cancelled && s->cancelled(s->cancel_arg)) {
        PGcancel *c = PQgetCancel(s->conn);
        char eb[256];
        if (c) {
          PQcancel(c, eb, sizeof eb);
          PQfreeCancel(c);
        }
        *cancel_sent = 1;
      }
      struct pollfd pfd = {fd, POLLIN, 0};
      if (poll(&pfd, 1, 50) < 0 && errno != EINTR) break;
      if (!PQconsumeInput(s->conn)) {
        gpx__classify(s, NULL, *cancel_sent, err);
        err->status = GPX_PG_UNAVAILABLE;
        s->broken = 1;
        PQclear(keep);
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
    gpx__classify(s, NULL, *cancel_sent, err);
    err->status = GPX_PG_UNAVAILABLE;
    s->broken = 1;
    return NULL;
  }
  ExecStatusType st = PQresultStatus(keep);
  if (st == PGRES_TUPLES_OK || st == PGRES_COMMAND_OK) return keep;
  gpx__classify(s, keep, *cancel_sent, err);
  PQclear(keep);
  return NULL;
}

static int gpx__run(gpx_pg_session *s, const char *sql, int nparams, const char *const *params,
                    int binary, PGresult **out, int *cancel_sent, gpx_pg_error *err) {
  *out = NULL;
  if (!PQsendQueryParams(s->conn, sql, nparams, NULL, params, NULL, NULL, binary)) {
    gpx__classify(s, NULL, *cancel_sent, err);
    err->status = GPX_PG_UNAVAILABLE;
    s->broken = 1;
    return EIO;
  }
  *out = gpx__await(s, cancel_sent, err);
  return *out ? GPX_OK : EIO;
}

static int gpx__status_rc(const gpx_pg_error *err) {
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
  int cancel_sent = 0;
  if (gpx__run(s, sql, nparams, params, binary_result, out, &cancel_sent, err) == GPX_OK) return GPX_OK;
  if (err->status == GPX_PG_UNAVAILABLE && !cancel_sent) {
    /* A pooled connection may have died while idle (Postgres restarted):
       a read-only statement is safe to try once more on a fresh one. */
    gpx_pg_error e2;
    memset(&e2, 0, sizeof e2);
    if (gpx__pg_reconnect(s, &e2) != GPX_OK) {
      *err = e2;
      return EIO;
    }
    s->broken = 0;
    memset(err, 0, sizeof *err);
    if (gpx__run(s, sql, nparams, params, binary_result, out, &cancel_sent, err) == GPX_OK) return GPX_OK;
  }
  return gpx__status_rc(err);
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
  int cancel_sent = 0;
  rc = gpx__run(s, (const char *)decl.data, nparams, params, 0, &r, &cancel_sent, err);
  gpx_buf_reset(&decl);
  PQclear(r);
  int aborted = 0; /* the consumer stopped the stream */
  char fetch[64];
  snprintf(fetch, sizeof fetch, "FETCH FORWARD %d FROM gpx_stream", chunk_rows > 0 ? chunk_rows : 65536);
  while (rc == GPX_OK) {
    rc = gpx__run(s, fetch, 0, NULL, 1, &r, &cancel_sent, err);
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
    rc = gpx__run(s, "COMMIT", 0, NULL, 0, &r, &cancel_sent, err);
    PQclear(r);
  } else if (!s->broken && PQstatus(s->conn) == CONNECTION_OK) {
    gpx_pg_error ignore;
    int cs = 0;
    if (gpx__run(s, "ROLLBACK", 0, NULL, 0, &r, &cs, &ignore) == GPX_OK) PQclear(r);
    else s->broken = 1;
  }
  if (rc == GPX_OK) return GPX_OK;
  return aborted ? ECANCELED : gpx__status_rc(err);
}
