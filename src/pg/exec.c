/*
** exec.c — run parameterised SQL on a checked-out connection, with
** cancellation, deadlines, timeout classification, and explicit
** transactions (gpx_pg_begin/gpx_pg_end: the fold cache's one snapshot).
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
**
** Behind a pooler (connect.c) a statement outside a transaction is sent in
** a libpq pipeline after `SELECT set_config('statement_timeout', …, true)`
** with one Sync: one implicit transaction, one round trip, the setting
** gone at its end; pgbouncer in transaction mode keeps both on one server.
**
** Straight to Postgres, gpx_pg_exec runs a statement with parameters as a
** named prepared statement of its connection (prep.c), so running it again
** skips parse and plan: the first time Parse (after the DEALLOCATE of the
** least recently used one when the cache is full) and Bind/Execute go in
** one pipeline, one round trip as before; later only Bind/Execute. Not
** behind a pooler (transaction mode hands each transaction another server
** session), nor for COPY or statements without parameters (those
** carry literals, or are BEGIN/COMMIT). A named statement that vanished
** (26000: DISCARD ALL, a server session swapped by a pooler we did not
** detect) empties the connection's cache and the statement runs once more
** unnamed; after GPX__PG_PREP_VANISH_LIMIT of those the pool names none.
** So does one whose cached plan went stale (0A000: a column changed type).
** Plans are Postgres' business (plan_cache_mode auto: custom plans for the
** first five runs of a name, then the generic plan when it is estimated no
** dearer).
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
  /* still known after the connection dropped (libpq keeps it until PQfinish) */
  const char *hs = PQparameterStatus(s->conn, "in_hot_standby");
  err->standby = hs != NULL && strcmp(hs, "on") == 0;
  if (strstr(err->msg, "statement pooling mode")) {
    /* pgbouncer with pool_mode = statement ends a client that opens a
       transaction (the fold cache checks and reads in one snapshot): a
       setting to change, not an outage. */
    char orig[sizeof err->msg];
    snprintf(orig, sizeof orig, "%s", err->msg);
    snprintf(err->msg, sizeof err->msg,
             "pgbouncer's pool_mode = statement allows no transaction, and this query reads in one: "
             "set pool_mode = transaction (or session) for this database in pgbouncer (%s)",
             orig);
    err->status = GPX_PG_QUERY_ERROR;
    s->broken = 1;
    return;
  }
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
  if (err->status != GPX_PG_QUERY_ERROR || !strstr(err->msg, "pool_mode")) err->status = GPX_PG_UNAVAILABLE;
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

static int gpx__flush(gpx_pg_session *s, int cleanup, gpx_pg_error *err);

/* Queue the statement and flush it as the socket takes it. 0 when sent;
   else err is filled (broken when the connection cannot be trusted). */
int gpx__pg_send(gpx_pg_session *s, const char *sql, int nparams, const char *const *params, int binary,
                     int cleanup, gpx_pg_error *err) {
  if (!gpx__may_go_on(s, cleanup, gpx_pg_now_ms())) {
    gpx__pg_stop_error(s, err); /* nothing sent: the connection is intact */
    return EIO;
  }
  /* Behind a pooler the startup options did not set statement_timeout,
     and a session-level SET would stay on a server connection other
     clients get next (pgbouncer does not track it): a statement outside a
     transaction goes in one pipeline after a set_config local to its
     implicit transaction, which ends at the Sync; inside a transaction the
     setting made at its start holds. (No named prepared statements: the
     unnamed one lives within the pipeline.) */
  s->pipelined = 0;
  if (!cleanup && !s->in_txn && s->pool && GPX__PG_PROXY(s->pool) && PQtransactionStatus(s->conn) == PQTRANS_IDLE) {
    const char *v[1] = {s->pool->timeout_ms};
    if (!PQenterPipelineMode(s->conn) ||
        !PQsendQueryParams(s->conn, "SELECT pg_catalog.set_config('statement_timeout', $1, true)", 1, NULL, v, NULL,
                           NULL, 0) ||
        !PQsendQueryParams(s->conn, sql, nparams, NULL, params, NULL, NULL, binary) || !PQpipelineSync(s->conn)) {
      gpx__pg_lost(s, err);
      return EIO;
    }
    s->pipelined = 1;
  } else if (!PQsendQueryParams(s->conn, sql, nparams, NULL, params, NULL, NULL, binary)) {
    gpx__pg_lost(s, err);
    return EIO;
  }
  return gpx__flush(s, cleanup, err);
}

int gpx__pg_send_copy(gpx_pg_session *s, const char *sql, gpx_pg_error *err) {
  s->copy_prefix = 0;
  if (s->in_txn || !(s->pool && GPX__PG_PROXY(s->pool) && PQtransactionStatus(s->conn) == PQTRANS_IDLE))
    return gpx__pg_send(s, sql, 0, NULL, 0, 0, err);
  /* COPY cannot run in a pipeline: one simple query of two statements,
     one implicit transaction (the timeout applies to each statement). */
  if (!gpx__may_go_on(s, 0, gpx_pg_now_ms())) {
    gpx__pg_stop_error(s, err);
    return EIO;
  }
  gpx_buf b = {0};
  if (gpx_buf_printf(&b, "SELECT pg_catalog.set_config('statement_timeout', '%s', true); %s", s->pool->timeout_ms,
                     sql) != GPX_OK ||
      gpx_buf_terminate(&b) != GPX_OK) {
    gpx_buf_reset(&b);
    err->status = GPX_PG_QUERY_ERROR;
    snprintf(err->msg, sizeof err->msg, "out of memory");
    return ENOMEM;
  }
  int ok = PQsendQuery(s->conn, (const char *)b.data);
  gpx_buf_reset(&b);
  if (!ok) {
    gpx__pg_lost(s, err);
    return EIO;
  }
  s->copy_prefix = 1;
  return gpx__flush(s, 0, err);
}

/* Flush what was queued as the socket takes it (gpx__pg_send). */
static int gpx__flush(gpx_pg_session *s, int cleanup, gpx_pg_error *err) {
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
          json_t *f = json_pack("{s:s, s:s, s:s}", "host", PQhost(s->conn) ? PQhost(s->conn) : "", "port",
                                PQport(s->conn) ? PQport(s->conn) : "", "stop",
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
    int r_ok = st == PGRES_TUPLES_OK || st == PGRES_COMMAND_OK || st == PGRES_PIPELINE_SYNC;
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
  if (st == PGRES_TUPLES_OK || st == PGRES_COMMAND_OK || st == PGRES_PIPELINE_SYNC) {
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

/* gpx__await for a statement sent in a pipeline after s->pipelined others
   (gpx__pg_send's set_config; gpx__send_named's DEALLOCATE and Parse): their
   results, the statement's, the Sync's; then the connection leaves pipeline
   mode. The first failure is reported. *last_failed: the result just before
   the statement's was not a success (a Parse that created nothing, or whose
   answer never came). */
static PGresult *gpx__await_pipelined(gpx_pg_session *s, int cleanup, gpx_pg_error *err, int *last_failed) {
  int n = s->pipelined;
  s->pipelined = 0;
  *last_failed = 0;
  gpx_pg_error pre_err;
  memset(&pre_err, 0, sizeof pre_err);
  int failed = 0;
  for (int i = 0; i < n; i++) {
    gpx_pg_error e;
    memset(&e, 0, sizeof e);
    PGresult *pre = gpx__await(s, cleanup, &e); /* PGRES_PIPELINE_ABORTED after an earlier failure */
    if (pre == NULL && s->broken) {
      *err = failed ? pre_err : e;
      *last_failed = 1;
      return NULL;
    }
    if (pre == NULL && !failed) {
      pre_err = e;
      failed = 1;
    }
    if (i == n - 1) *last_failed = pre == NULL;
    PQclear(pre);
  }
  PGresult *r = gpx__await(s, cleanup, err);
  if (failed) {
    PQclear(r);
    r = NULL;
    if (!s->broken || err->status == GPX_PG_OK) *err = pre_err;
  }
  if (!s->broken) {
    gpx_pg_error sync_err;
    memset(&sync_err, 0, sizeof sync_err);
    PGresult *sync = gpx__await(s, 1, &sync_err);
    if (sync == NULL || PQresultStatus(sync) != PGRES_PIPELINE_SYNC) s->broken = 1;
    PQclear(sync);
  }
  if (!s->broken && !PQexitPipelineMode(s->conn)) s->broken = 1;
  if (r == NULL && err->status == GPX_PG_OK) gpx__pg_lost(s, err);
  return r;
}

static int gpx__run(gpx_pg_session *s, const char *sql, int nparams, const char *const *params, int binary,
                    int cleanup, PGresult **out, gpx_pg_error *err) {
  *out = NULL;
  GPX_RETURN_NOT_OK(gpx__pg_send(s, sql, nparams, params, binary, cleanup, err));
  int last_failed;
  *out = s->pipelined ? gpx__await_pipelined(s, cleanup, err, &last_failed) : gpx__await(s, cleanup, err);
  return *out ? GPX_OK : EIO;
}

/* Does gpx_pg_exec name this statement (module comment)? Its cache, else NULL. */
static gpx__pg_prep *gpx__named_cache(gpx_pg_session *s, int nparams) {
  if (nparams <= 0 || s->pool == NULL || GPX__PG_PROXY(s->pool) || gpx__pg_prep_cap() == 0 ||
      __atomic_load_n(&s->pool->prep_vanished, __ATOMIC_RELAXED) >= GPX__PG_PREP_VANISH_LIMIT)
    return NULL;
  return gpx__pg_prep_of(s->conn);
}

/* Queue sql as the named statement of c: by its name when c has it, else
   Parse + Bind/Execute in one pipeline (*slot = the new entry, else -1). */
static int gpx__send_named(gpx_pg_session *s, gpx__pg_prep *c, const char *sql, int nparams,
                           const char *const *params, int binary, int *slot, gpx_pg_error *err) {
  *slot = -1;
  if (!gpx__may_go_on(s, 0, gpx_pg_now_ms())) {
    gpx__pg_stop_error(s, err); /* nothing sent: the connection is intact */
    return EIO;
  }
  s->pipelined = 0;
  char name[64], evicted[64], dealloc[96];
  int i = gpx__pg_prep_find(c, sql);
  if (i >= 0) {
    gpx__pg_prep_name(c, c->e[i].id, name, sizeof name);
    if (!PQsendQueryPrepared(s->conn, name, nparams, params, NULL, NULL, binary)) {
      gpx__pg_lost(s, err);
      return EIO;
    }
    c->reuses++;
    return gpx__flush(s, 0, err);
  }
  i = gpx__pg_prep_add(c, sql, evicted, sizeof evicted);
  if (i < 0) return gpx__pg_send(s, sql, nparams, params, binary, 0, err); /* out of memory: unnamed */
  gpx__pg_prep_name(c, c->e[i].id, name, sizeof name);
  int ok = PQenterPipelineMode(s->conn);
  if (ok && evicted[0]) {
    snprintf(dealloc, sizeof dealloc, "DEALLOCATE %s", evicted);
    ok = PQsendQueryParams(s->conn, dealloc, 0, NULL, NULL, NULL, NULL, 0);
    s->pipelined++;
  }
  ok = ok && PQsendPrepare(s->conn, name, sql, 0, NULL);
  s->pipelined++;
  if (!ok || !PQsendQueryPrepared(s->conn, name, nparams, params, NULL, NULL, binary) ||
      !PQpipelineSync(s->conn)) {
    gpx__pg_lost(s, err); /* broken: closed at release, its cache with it */
    return EIO;
  }
  c->parses++;
  *slot = i;
  return gpx__flush(s, 0, err);
}

/* gpx__run for gpx_pg_exec: named (gpx__named_cache) or not. *named = the
   statement ran (or was to run) under a name of c. */
static int gpx__run_exec(gpx_pg_session *s, const char *sql, int nparams, const char *const *params, int binary,
                         PGresult **out, gpx__pg_prep **named, gpx_pg_error *err) {
  *out = NULL;
  gpx__pg_prep *c = *named = gpx__named_cache(s, nparams);
  if (c == NULL) return gpx__run(s, sql, nparams, params, binary, 0, out, err);
  int slot, last_failed = 0;
  GPX_RETURN_NOT_OK(gpx__send_named(s, c, sql, nparams, params, binary, &slot, err));
  *out = s->pipelined ? gpx__await_pipelined(s, 0, err, &last_failed) : gpx__await(s, 0, err);
  /* The Parse did not answer OK: no such statement (or, had its answer
     been lost to a stop, one that stays unused until the connection ends). */
  if (slot >= 0 && last_failed) gpx__pg_prep_drop(c, slot);
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
  gpx__pg_prep *named;
  if (gpx__run_exec(s, sql, nparams, params, binary_result, out, &named, err) == GPX_OK) return GPX_OK;
  int vanished = named != NULL && strcmp(err->sqlstate, "26000") == 0;
  /* 0A000 "cached plan must not change result type": a column's type
     changed under the statement, which can then never run again */
  int stale = named != NULL && strcmp(err->sqlstate, "0A000") == 0 && strstr(err->msg, "cached plan") != NULL;
  if (vanished || stale) {
    /* Forget the connection's named statements and run this one unnamed,
       once (not in a transaction: it failed). Names are never reused, so
       the stale ones left on the server are merely unused. */
    gpx__pg_prep_forget(named);
    if (vanished &&
        __atomic_add_fetch(&s->pool->prep_vanished, 1, __ATOMIC_RELAXED) == GPX__PG_PREP_VANISH_LIMIT)
      gpx_log(GPX_LOG_WARN,
              "pg: prepared statements keep vanishing (a connection pooler in between?); statements run unnamed "
              "from now on", NULL);
    if (s->stop == GPX_PG_OK && !s->broken && PQtransactionStatus(s->conn) == PQTRANS_IDLE) {
      memset(err, 0, sizeof *err);
      if (gpx__run(s, sql, nparams, params, binary_result, 0, out, err) == GPX_OK) return GPX_OK;
    }
  }
  if (err->status == GPX_PG_UNAVAILABLE && s->stop == GPX_PG_OK && s->cancel_job == NULL && s->pool != NULL &&
      !s->in_txn) {
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
    if (gpx__run_exec(s, sql, nparams, params, binary_result, out, &named, err) == GPX_OK) return GPX_OK;
  }
  return gpx__pg_status_rc(err);
}

int gpx_pg_begin(gpx_pg_session *s, const char *modes, gpx_pg_error *err) {
  char sql[128];
  snprintf(sql, sizeof sql, "BEGIN %s", modes);
  PGresult *r = NULL;
  /* BEGIN alone (an isolation level must come before any query, so not
     after the pooler's set_config); inside, behind a pooler, the timeout
     is set local to the transaction */
  s->in_txn = 1;
  int rc = gpx_pg_exec(s, sql, 0, NULL, 0, &r, err);
  PQclear(r);
  r = NULL;
  if (rc == GPX_OK && s->pool && GPX__PG_PROXY(s->pool)) {
    const char *v[1] = {s->pool->timeout_ms};
    rc = gpx_pg_exec(s, "SELECT pg_catalog.set_config('statement_timeout', $1, true)", 1, v, 0, &r, err);
    PQclear(r);
  }
  if (rc != GPX_OK) {
    gpx_pg_error ignore;
    gpx_pg_end(s, 0, &ignore);
  }
  return rc;
}

int gpx_pg_end(gpx_pg_session *s, int commit, gpx_pg_error *err) {
  PGresult *r = NULL;
  memset(err, 0, sizeof *err);
  int rc = EIO;
  if (!s->broken && s->conn != NULL && PQstatus(s->conn) == CONNECTION_OK)
    rc = gpx__run(s, commit ? "COMMIT" : "ROLLBACK", 0, NULL, 0, !commit, &r, err);
  PQclear(r);
  s->in_txn = 0;
  if (rc != GPX_OK) s->broken = 1; /* never pool a connection left inside a transaction */
  return rc == GPX_OK ? GPX_OK : gpx__pg_status_rc(err);
}
