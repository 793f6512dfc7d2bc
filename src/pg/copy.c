/*
** copy.c — reading many rows through COPY … TO STDOUT (FORMAT binary), on
** one or several sessions at once.
**
** Why COPY: a cursor answers each FETCH with a result object built row by
** row and the server waits while the client folds it; single-row mode
** builds a result object per row. With COPY the server streams one
** CopyData message per row, libpq hands each over as a buffer, and the
** server keeps producing while the client folds (measured on 1 M trades:
** the cursor took 1.5× the time of COPY for the same rows, single-row mode
** 4× the client CPU). Binary COPY carries no column types, so a read is
** described first (a LIMIT 0 of the same SELECT) and numbers are decoded by
** the type it reported (gpx_pg_number).
**
** Several reads run at once in this one thread: every session's socket is
** polled and whichever has rows is drained, so two backends work in
** parallel while the client folds. Every wait is bounded as in exec.c: at
** most 50 ms per poll, never past a session's deadline; a stop (deadline,
** caller gone, another read failed, the consumer gave up) cancels the reads
** still running and awaits their end within the cancel's grace, else their
** connection is abandoned.
**
** The binary COPY format: an 11-byte signature, int32 flags, int32 header
** extension length and the extension, then per row an int16 field count and
** per field an int32 length (-1 = NULL) and the bytes; an int16 -1 ends it.
** Postgres sends the header with the first row and one row per message.
*/
#include <endian.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>

#include "pg_int.h"

enum { GPX__C_STARTING = 1, GPX__C_ROWS, GPX__C_ENDING, GPX__C_DONE };

/* c->flags */
#define GPX__C_HEADER 1   /* the COPY header has been read */
#define GPX__C_DISCARD 2  /* stopped: rows are drained, not folded */
#define GPX__C_FAILED 4   /* c->err holds this read's failure */
#define GPX__C_CONSUMER 8 /* ... and it was the row callback that stopped it */

static const char gpx__sig[11] = {'P', 'G', 'C', 'O', 'P', 'Y', '\n', '\377', '\r', '\n', '\0'};

int gpx_pg_literal(gpx_pg_session *s, gpx_buf *b, const char *value) {
  if (s == NULL || s->conn == NULL || value == NULL) return EINVAL;
  char *q = PQescapeLiteral(s->conn, value, strlen(value));
  if (q == NULL) return EINVAL;
  int rc = gpx_buf_append_str(b, q);
  PQfreemem(q);
  return rc;
}

int gpx_pg_copy_describe(gpx_pg_copy *c, gpx_pg_error *err) {
  memset(err, 0, sizeof *err);
  gpx_buf b = {0};
  if (gpx_buf_printf(&b, "SELECT * FROM (%s) AS gpx_q LIMIT 0", c->select) != GPX_OK ||
      gpx_buf_terminate(&b) != GPX_OK) {
    gpx_buf_reset(&b);
    snprintf(err->msg, sizeof err->msg, "out of memory");
    err->status = GPX_PG_QUERY_ERROR;
    return ENOMEM;
  }
  PGresult *r = NULL;
  int rc = gpx_pg_exec(c->s, (const char *)b.data, 0, NULL, 1, &r, err);
  gpx_buf_reset(&b);
  if (rc != GPX_OK) return rc;
  c->ncols = PQnfields(r);
  if (c->ncols > GPX_PG_COPY_MAX_COLS) {
    PQclear(r);
    snprintf(err->msg, sizeof err->msg, "COPY read of %d columns (at most %d)", c->ncols, GPX_PG_COPY_MAX_COLS);
    err->status = GPX_PG_QUERY_ERROR;
    return EINVAL;
  }
  for (int i = 0; i < c->ncols; i++) c->types[i] = (unsigned int)PQftype(r, i);
  PQclear(r);
  return GPX_OK;
}

static void gpx__fail(gpx_pg_copy *c, gpx_pg_status st, const char *msg) {
  if (c->flags & GPX__C_FAILED) return;
  c->flags |= GPX__C_FAILED;
  c->err.status = st;
  c->err.sqlstate[0] = '\0';
  snprintf(c->err.msg, sizeof c->err.msg, "%s", msg);
}

static int32_t gpx__i32(const char *p) {
  uint32_t v;
  memcpy(&v, p, 4);
  return (int32_t)be32toh(v);
}

static int16_t gpx__i16(const char *p) {
  uint16_t v;
  memcpy(&v, p, 2);
  return (int16_t)be16toh(v);
}

/* Fold one CopyData message: 0 ok, 1 the consumer stopped, -1 malformed. */
static int gpx__parse(gpx_pg_copy *c, const char *m, int len) {
  int off = 0;
  if (!(c->flags & GPX__C_HEADER)) {
    if (len < 19 || memcmp(m, gpx__sig, 11) != 0) return -1;
    int32_t ext = gpx__i32(m + 15);
    if (ext < 0 || ext > len - 19) return -1;
    off = 19 + ext;
    c->flags |= GPX__C_HEADER;
  }
  gpx_pg_value row[GPX_PG_COPY_MAX_COLS];
  while (off < len) {
    if (len - off < 2) return -1;
    int16_t nf = gpx__i16(m + off);
    off += 2;
    if (nf == -1) return 0; /* the trailer */
    if (nf != c->ncols) return -1;
    for (int f = 0; f < nf; f++) {
      if (len - off < 4) return -1;
      int32_t fl = gpx__i32(m + off);
      off += 4;
      if (fl < -1 || (fl > 0 && fl > len - off)) return -1;
      row[f].p = fl >= 0 ? m + off : NULL;
      row[f].len = fl;
      if (fl > 0) off += fl;
    }
    if (!(c->flags & GPX__C_DISCARD) && c->fn(row, nf, c->arg) != 0) return 1;
  }
  return 0;
}

/* Stop a read that is still running: rows are drained, not folded, and the
   server is asked to cancel (its error ends the read). */
static void gpx__stop(gpx_pg_copy *c, int64_t now) {
  if (c->state == GPX__C_DONE) return;
  c->flags |= GPX__C_DISCARD;
  gpx_pg_session *s = c->s;
  if (s->stop == GPX_PG_OK) {
    s->stop = GPX_PG_CANCELLED;
    s->give_up = now + GPX_PG_CANCEL_GRACE_MS;
  }
  gpx__pg_cancel_start(s);
}

/* Make what progress is possible without waiting; 1 when something happened. */
static int gpx__step(gpx_pg_copy *c) {
  PGconn *conn = c->s->conn;
  int progress = 0;
  if (c->state == GPX__C_STARTING) {
    if (PQisBusy(conn)) return 0;
    PGresult *r = PQgetResult(conn);
    if (r != NULL && c->s->copy_prefix && PQresultStatus(r) == PGRES_TUPLES_OK) {
      /* the set_config before the COPY, behind a pooler (gpx__pg_send_copy) */
      c->s->copy_prefix = 0;
      PQclear(r);
      return 1;
    }
    if (r != NULL && PQresultStatus(r) == PGRES_COPY_OUT) {
      PQclear(r);
      c->state = GPX__C_ROWS;
    } else {
      if (!(c->flags & GPX__C_FAILED)) {
        if (r) gpx__pg_classify(c->s, r, &c->err);
        else gpx__pg_lost(c->s, &c->err);
        c->flags |= GPX__C_FAILED;
      }
      PQclear(r);
      c->state = r ? GPX__C_ENDING : GPX__C_DONE;
    }
    return 1;
  }
  if (c->state == GPX__C_ROWS) {
    for (int k = 0; k < 8192; k++) {
      char *buf = NULL;
      int len = PQgetCopyData(conn, &buf, 1);
      if (len == 0) return progress;
      progress = 1;
      if (len == -1) {
        c->state = GPX__C_ENDING;
        break;
      }
      if (len < 0) {
        if (!(c->flags & GPX__C_FAILED)) {
          gpx__pg_lost(c->s, &c->err);
          c->flags |= GPX__C_FAILED;
        } else {
          c->s->broken = 1;
        }
        c->state = GPX__C_DONE;
        return 1;
      }
      int pr = gpx__parse(c, buf, len);
      PQfreemem(buf);
      if (pr == 1) {
        gpx__fail(c, GPX_PG_QUERY_ERROR, "read stopped by its consumer");
        c->flags |= GPX__C_CONSUMER;
        return 1;
      }
      if (pr < 0) {
        gpx__fail(c, GPX_PG_QUERY_ERROR, "malformed COPY data from the server");
        c->s->broken = 1; /* its stream cannot be trusted any further */
        return 1;
      }
    }
    if (c->state == GPX__C_ROWS) return 1;
  }
  if (c->state == GPX__C_ENDING) {
    while (!PQisBusy(conn)) {
      PGresult *r = PQgetResult(conn);
      if (r == NULL) {
        c->state = GPX__C_DONE;
        return 1;
      }
      if (PQresultStatus(r) != PGRES_COMMAND_OK && !(c->flags & GPX__C_FAILED)) {
        gpx__pg_classify(c->s, r, &c->err);
        c->flags |= GPX__C_FAILED;
      }
      PQclear(r);
      progress = 1;
    }
  }
  return progress;
}

/* Wait until a running read's socket is readable: at most 50 ms, never past
   a deadline (or a stop's grace). Reads input; a dead socket fails its read. */
static void gpx__wait(gpx_pg_copy *const *cs, int n, int64_t now) {
  struct pollfd pfd[8];
  int idx[8], k = 0;
  int64_t limit = now + 50;
  for (int i = 0; i < n && k < 8; i++) {
    gpx_pg_copy *c = cs[i];
    if (c->state == GPX__C_DONE) continue;
    int64_t l = c->s->stop != GPX_PG_OK ? c->s->give_up : c->s->deadline;
    if (l < limit) limit = l;
    pfd[k] = (struct pollfd){PQsocket(c->s->conn), POLLIN, 0};
    idx[k++] = i;
  }
  int64_t ms = limit - now;
  if (ms < 0) ms = 0;
  if (k == 0 || poll(pfd, (nfds_t)k, (int)ms) <= 0) return;
  for (int j = 0; j < k; j++) {
    if (!pfd[j].revents) continue;
    gpx_pg_copy *c = cs[idx[j]];
    if (pfd[j].fd < 0 || !PQconsumeInput(c->s->conn)) {
      if (!(c->flags & GPX__C_FAILED)) {
        gpx__pg_lost(c->s, &c->err);
        c->flags |= GPX__C_FAILED;
      }
      c->s->broken = 1;
      c->state = GPX__C_DONE;
    }
  }
}

int gpx_pg_copy_run(gpx_pg_copy *const *cs, int n, gpx_pg_error *err) {
  memset(err, 0, sizeof *err);
  if (n < 1 || n > 8) {
    snprintf(err->msg, sizeof err->msg, "%d COPY reads at once (1 to 8)", n);
    err->status = GPX_PG_QUERY_ERROR;
    return EINVAL;
  }
  int first = -1; /* the read whose failure is reported */
  for (int i = 0; i < n; i++) {
    gpx_pg_copy *c = cs[i];
    memset(&c->err, 0, sizeof c->err);
    c->flags = 0;
    c->state = GPX__C_DONE;
    if (first >= 0) continue;
    gpx_buf b = {0};
    if (gpx_buf_printf(&b, "COPY (%s) TO STDOUT (FORMAT binary)", c->select) != GPX_OK ||
        gpx_buf_terminate(&b) != GPX_OK) {
      gpx__fail(c, GPX_PG_QUERY_ERROR, "out of memory");
      first = i;
    } else if (gpx__pg_send_copy(c->s, (const char *)b.data, &c->err) != GPX_OK) {
      c->flags |= GPX__C_FAILED;
      first = i;
    } else {
      c->state = GPX__C_STARTING;
    }
    gpx_buf_reset(&b);
  }
  int stopping = first >= 0;
  for (;;) {
    int64_t now = gpx_pg_now_ms();
    int active = 0, progress = 0;
    for (int i = 0; i < n; i++) {
      gpx_pg_copy *c = cs[i];
      if (c->state == GPX__C_DONE) continue;
      if (gpx__pg_check_stop(c->s, now) != GPX_PG_OK) {
        if (!(c->flags & GPX__C_FAILED)) {
          gpx__pg_stop_error(c->s, &c->err);
          c->flags |= GPX__C_FAILED;
        }
        c->flags |= GPX__C_DISCARD;
        gpx__pg_cancel_start(c->s); /* once per session */
        if (now >= c->s->give_up) {
          /* no answer to the cancel in time: give the connection up */
          c->s->broken = 1;
          c->state = GPX__C_DONE;
          continue;
        }
      }
      active++;
      progress |= gpx__step(c);
      if ((c->flags & GPX__C_FAILED) && first < 0) first = i;
    }
    if (first >= 0 && !stopping) {
      stopping = 1;
      for (int i = 0; i < n; i++) gpx__stop(cs[i], now);
    }
    if (active == 0) break;
    if (!progress) gpx__wait(cs, n, gpx_pg_now_ms());
  }
  if (first < 0) return GPX_OK;
  *err = cs[first]->err;
  return (cs[first]->flags & GPX__C_CONSUMER) ? ECANCELED : gpx__pg_status_rc(err);
}
