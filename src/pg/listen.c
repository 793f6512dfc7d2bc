/*
** listen.c — a connection outside the pool, and waiting on it for
** notifications: what Grafana Live's change listener (query/live.c) holds
** for a data-source instance while live channels run.
**
** The connection is opened like a pooled one (same keywords, keepalives,
** statement_timeout, the nonblocking connect bounded by a deadline) but is
** never counted against maxOpenConnections nor returned to the pool, so a
** listener cannot starve queries and queries cannot starve it. Statements
** on it go through gpx_pg_exec (bounded by the session's deadline, which
** gpx_pg_dedicated_rearm renews); a lost connection is not replaced here —
** the owner closes it and opens another.
*/
#include <poll.h>
#include <stdio.h>

#include "pg/pg_int.h"

int gpx_pg_open_dedicated(gpx_pg_pool *p, gpx_pg_session *s, gpx_pg_cancel_fn cancelled, void *arg,
                          int timeout_ms, gpx_pg_error *err) {
  memset(s, 0, sizeof *s);
  memset(err, 0, sizeof *err);
  s->cancelled = cancelled;
  s->cancel_arg = arg;
  s->timeout_s = (timeout_ms + 999) / 1000;
  s->deadline = gpx_pg_now_ms() + timeout_ms;
  s->conn = gpx__pg_connect(p, s, err);
  if (s->conn == NULL) return gpx__pg_status_rc(err);
  return GPX_OK;
}

void gpx_pg_dedicated_rearm(gpx_pg_session *s, int timeout_ms) {
  s->deadline = gpx_pg_now_ms() + timeout_ms;
  s->timeout_s = (timeout_ms + 999) / 1000;
  s->stop = GPX_PG_OK;
  s->give_up = 0;
}

void gpx_pg_close_dedicated(gpx_pg_session *s) {
  gpx__pg_cancel_settled(s, 0);
  if (s->conn) PQfinish(s->conn); /* nonblocking: never waits for the server */
  s->conn = NULL;
}

int gpx_pg_wait_notify(gpx_pg_session *s, int timeout_ms, int *n, gpx_pg_error *err) {
  *n = 0;
  memset(err, 0, sizeof *err);
  if (s->conn == NULL || PQstatus(s->conn) != CONNECTION_OK) goto lost;
  /* Notifications that arrived with an earlier statement's answer. */
  for (PGnotify *nf; (nf = PQnotifies(s->conn)) != NULL; PQfreemem(nf)) (*n)++;
  if (*n) return GPX_OK;
  struct pollfd pfd = {.fd = PQsocket(s->conn), .events = POLLIN};
  if (pfd.fd < 0) goto lost;
  int r = poll(&pfd, 1, timeout_ms < 0 ? 0 : timeout_ms);
  if (r < 0) return GPX_OK; /* EINTR: the caller loops */
  if (r == 0) return GPX_OK;
  if (!PQconsumeInput(s->conn)) goto lost;
  for (PGnotify *nf; (nf = PQnotifies(s->conn)) != NULL; PQfreemem(nf)) (*n)++;
  if (PQstatus(s->conn) != CONNECTION_OK) goto lost;
  return GPX_OK;
lost:
  err->status = GPX_PG_UNAVAILABLE;
  snprintf(err->msg, sizeof err->msg, "listener connection lost: %s",
           s->conn ? PQerrorMessage(s->conn) : "not connected");
  s->broken = 1;
  return EIO;
}
