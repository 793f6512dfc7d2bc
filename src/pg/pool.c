/*
** pool.c — a bounded pool of libpq connections for one data-source instance.
**
** Connections are opened lazily up to maxOpenConnections and reused. A
** connection that died while idle (Postgres restarted) is noticed when it
** is checked out if the server's goodbye already arrived, else when used;
** exec.c then retries once on a fresh one, so the plugin recovers by itself
** without a restart. Waiting for a slot ends at the session's deadline or
** when the caller goes away; a connection abandoned by exec.c (its server
** stopped answering) is closed without blocking and its slot freed at once.
** Connecting is connect.c's; the pool counts the slot meanwhile. A
** prefer-standby connection that had to settle on a primary is not put
** back after GPX_PG_FALLBACK_MS, so the standby is asked again.
*/
#include <endian.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "gpx/log.h"
#include "pg_int.h"

int gpx_pg_pool_new(const gpx_ds_settings *s, const char *tls_dir, gpx_pg_pool **out, gpx_error *err) {
  gpx_pg_pool *p = calloc(1, sizeof *p);
  if (p == NULL) return gpx_error_set(err, ENOMEM, "out of memory");
  pthread_mutex_init(&p->mu, NULL);
  pthread_condattr_t ca;
  pthread_condattr_init(&ca);
  pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
  pthread_cond_init(&p->cv, &ca);
  pthread_condattr_destroy(&ca);
  p->s = s;
  p->max = s->max_open_connections > GPX_PG_MAX_IDLE ? GPX_PG_MAX_IDLE : s->max_open_connections;
  snprintf(p->port, sizeof p->port, "%d", s->port);
  /* statement_timeout per connection: every statement is bounded on the
     server too, so one we abandoned (its server froze) still ends there
     once the server runs again. */
  snprintf(p->options, sizeof p->options, "-c statement_timeout=%d -c TimeZone=UTC -c DateStyle=ISO",
           s->query_timeout_s * 1000);
  snprintf(p->timeout_ms, sizeof p->timeout_ms, "%d", s->query_timeout_s * 1000);
  if (s->ssl_root_cert_path[0]) snprintf(p->rootcert, sizeof p->rootcert, "%s", s->ssl_root_cert_path);
  if (tls_dir && tls_dir[0]) {
    if (s->tls_ca_cert) snprintf(p->rootcert, sizeof p->rootcert, "%s/ca.pem", tls_dir);
    if (s->tls_client_cert) snprintf(p->cert, sizeof p->cert, "%s/client.pem", tls_dir);
    if (s->tls_client_key) snprintf(p->key, sizeof p->key, "%s/client.key", tls_dir);
  }
  *out = p;
  return GPX_OK;
}

void gpx_pg_pool_free(gpx_pg_pool *p) {
  if (p == NULL) return;
  for (int i = 0; i < p->n_idle; i++) PQfinish(p->idle[i]);
  pthread_mutex_destroy(&p->mu);
  pthread_cond_destroy(&p->cv);
  free(p);
}

/* Close the connections idle for longer than idleConnectionSeconds: the
   bottom of the stack is the longest idle. Caller holds p->mu; the closed
   ones go to out (PQfinish them after unlocking). Returns how many. */
static int gpx__take_stale(gpx_pg_pool *p, int64_t now, PGconn **out) {
  int64_t max_ms = (int64_t)p->s->idle_connection_s * 1000;
  if (max_ms <= 0) return 0;
  int k = 0;
  while (k < p->n_idle && now - p->idle_since[k] > max_ms) k++;
  for (int i = 0; i < k; i++) out[i] = p->idle[i];
  for (int i = k; i < p->n_idle; i++) {
    p->idle[i - k] = p->idle[i];
    p->idle_since[i - k] = p->idle_since[i];
    p->fallback_until[i - k] = p->fallback_until[i];
  }
  p->n_idle -= k;
  p->open -= k;
  return k;
}

static void gpx__close_all(PGconn **c, int n) {
  for (int i = 0; i < n; i++) PQfinish(c[i]);
}

void gpx_pg_pool_stats(gpx_pg_pool *p, int *open, int *idle) {
  PGconn *stale[GPX_PG_MAX_IDLE];
  pthread_mutex_lock(&p->mu);
  int n = gpx__take_stale(p, gpx_pg_now_ms(), stale); /* metrics scrapes sweep idle pools too */
  *open = p->open;
  *idle = p->n_idle;
  pthread_mutex_unlock(&p->mu);
  gpx__close_all(stale, n);
}

int gpx_pg_pool_behind_pooler(gpx_pg_pool *p) { return p != NULL && GPX__PG_PROXY(p); }

/* An idle connection is worth handing out: libpq thinks it is up, and
   nothing (the server's FATAL goodbye, EOF) arrived while it idled. */
static int gpx__idle_alive(PGconn *c) {
  if (PQstatus(c) != CONNECTION_OK) return 0;
  struct pollfd pfd = {PQsocket(c), POLLIN, 0};
  if (pfd.fd < 0) return 0;
  if (poll(&pfd, 1, 0) > 0) {
    if (pfd.revents & (POLLERR | POLLHUP | POLLNVAL)) return 0;
    if (!PQconsumeInput(c) || PQstatus(c) != CONNECTION_OK) return 0;
  }
  return 1;
}

/* Wait on the pool's condition until a slot may be free, at most 50 ms
   (the caller is polled that often) and never past the deadline. */
static void gpx__wait_slot(gpx_pg_pool *p, int64_t deadline) {
  struct timespec now;
  clock_gettime(CLOCK_MONOTONIC, &now);
  int64_t now_ms = (int64_t)now.tv_sec * 1000 + now.tv_nsec / 1000000;
  int64_t ms = deadline - now_ms < 50 ? deadline - now_ms : 50;
  if (ms <= 0) return;
  struct timespec dl = now;
  dl.tv_nsec += (long)ms * 1000000L;
  while (dl.tv_nsec >= 1000000000L) {
    dl.tv_sec++;
    dl.tv_nsec -= 1000000000L;
  }
  pthread_cond_timedwait(&p->cv, &p->mu, &dl);
}

static int gpx__acquire(gpx_pg_pool *p, gpx_pg_session *s, gpx_pg_cancel_fn cancelled, void *arg,
                        int64_t deadline_ms, int lane, gpx_pg_error *err);

int gpx_pg_acquire(gpx_pg_pool *p, gpx_pg_session *s, gpx_pg_cancel_fn cancelled, void *arg,
                   int64_t deadline_ms, gpx_pg_error *err) {
  return gpx__acquire(p, s, cancelled, arg, deadline_ms, 0, err);
}

int gpx_pg_acquire_light(gpx_pg_pool *p, gpx_pg_session *s, gpx_pg_cancel_fn cancelled, void *arg,
                         int64_t deadline_ms, gpx_pg_error *err) {
  return gpx__acquire(p, s, cancelled, arg, deadline_ms, 1, err);
}

/* lane: how many connections beyond max this caller may open (0 or 1). */
static int gpx__acquire(gpx_pg_pool *p, gpx_pg_session *s, gpx_pg_cancel_fn cancelled, void *arg,
                        int64_t deadline_ms, int lane, gpx_pg_error *err) {
  memset(s, 0, sizeof *s);
  memset(err, 0, sizeof *err);
  s->pool = p;
  s->cancelled = cancelled;
  s->cancel_arg = arg;
  s->timeout_s = p->s->query_timeout_s;
  s->deadline = gpx__pg_session_deadline(p->s->query_timeout_s, deadline_ms);
  PGconn *stale[GPX_PG_MAX_IDLE];
  pthread_mutex_lock(&p->mu);
  int n_stale = gpx__take_stale(p, gpx_pg_now_ms(), stale);
  if (n_stale > 0) {
    pthread_mutex_unlock(&p->mu);
    gpx__close_all(stale, n_stale);
    pthread_mutex_lock(&p->mu);
  }
  for (;;) {
    gpx_pg_status st = gpx__pg_check_stop(s, gpx_pg_now_ms());
    if (st != GPX_PG_OK) {
      pthread_mutex_unlock(&p->mu);
      gpx__pg_stop_error(s, err);
      if (st == GPX_PG_TIMEOUT)
        snprintf(err->msg, sizeof err->msg, "all %d connections busy for %d s (maxOpenConnections)", p->max,
                 s->timeout_s);
      s->pool = NULL; /* nothing to release */
      return st == GPX_PG_CANCELLED ? ECANCELED : ETIMEDOUT;
    }
    if (p->n_idle > 0) {
      s->conn = p->idle[--p->n_idle];
      s->fallback_until = p->fallback_until[p->n_idle];
      pthread_mutex_unlock(&p->mu);
      if (gpx__idle_alive(s->conn)) return GPX_OK;
      PQfinish(s->conn);
      s->conn = NULL;
      pthread_mutex_lock(&p->mu);
      p->open--;
      continue;
    }
    if (p->open < p->max + lane) {
      p->open++;
      pthread_mutex_unlock(&p->mu);
      /* Behind a session-mode pooler whose pool is smaller than ours a new
         connection may wait for a server that only a connection idle in
         our pool holds: give way to that one when it comes back. */
      s->connect_flags = GPX__PG_YIELD;
      s->conn = gpx__pg_connect(p, s, err);
      s->connect_flags = 0;
      if (s->conn != NULL) return GPX_OK;
      pthread_mutex_lock(&p->mu);
      p->open--;
      if (err->status == GPX__PG_YIELDED) {
        memset(err, 0, sizeof *err);
        continue; /* the idle one is on the stack now */
      }
      pthread_cond_signal(&p->cv);
      pthread_mutex_unlock(&p->mu);
      s->pool = NULL;
      return err->status == GPX_PG_CANCELLED ? ECANCELED : err->status == GPX_PG_TIMEOUT ? ETIMEDOUT : EIO;
    }
    p->waiting++;
    gpx__wait_slot(p, s->deadline);
    p->waiting--;
  }
}

int gpx_pg_acquire_more(gpx_pg_session *parent, gpx_pg_session *s, int allow_new, gpx_pg_error *err) {
  gpx_pg_pool *p = parent->pool;
  memset(s, 0, sizeof *s);
  memset(err, 0, sizeof *err);
  if (p == NULL || parent->stop != GPX_PG_OK) return EAGAIN;
  s->pool = p;
  s->cancelled = parent->cancelled;
  s->cancel_arg = parent->cancel_arg;
  s->timeout_s = parent->timeout_s;
  s->deadline = parent->deadline; /* the same work: the same end */
  pthread_mutex_lock(&p->mu);
  for (;;) {
    if (p->n_idle > 0) {
      s->conn = p->idle[--p->n_idle];
      s->fallback_until = p->fallback_until[p->n_idle];
      pthread_mutex_unlock(&p->mu);
      if (gpx__idle_alive(s->conn)) return GPX_OK;
      PQfinish(s->conn);
      s->conn = NULL;
      pthread_mutex_lock(&p->mu);
      p->open--;
      continue;
    }
    /* a new connection only while nobody waits for one: a second session
       must never keep another query from its first */
    if (allow_new && p->open < p->max && p->waiting == 0 && gpx_pg_now_ms() >= p->no_new_second_until) {
      p->open++;
      pthread_mutex_unlock(&p->mu);
      /* optional: a pooler that has no server for it at once (its pool
         full, e.g. session mode with our first session holding the last
         one) must not hold the work up; the caller reads sequentially */
      s->connect_flags = GPX__PG_QUICK;
      s->conn = gpx__pg_connect(p, s, err);
      s->connect_flags = 0;
      if (s->conn != NULL) return GPX_OK;
      pthread_mutex_lock(&p->mu);
      p->open--;
      if (err->status == GPX_PG_UNAVAILABLE) p->no_new_second_until = gpx_pg_now_ms() + GPX__PG_QUICK_BACKOFF_MS;
      pthread_cond_signal(&p->cv);
      pthread_mutex_unlock(&p->mu);
      s->pool = NULL;
      return err->status == GPX_PG_CANCELLED ? ECANCELED : err->status == GPX_PG_TIMEOUT ? ETIMEDOUT : EIO;
    }
    pthread_mutex_unlock(&p->mu);
    s->pool = NULL;
    snprintf(err->msg, sizeof err->msg, "no free connection");
    return EAGAIN;
  }
}

void gpx_pg_release(gpx_pg_session *s) {
  gpx_pg_pool *p = s->pool;
  /* A cancel still on its way could hit the next user's statement. */
  int settled = gpx__pg_cancel_settled(s, 50);
  if (p == NULL || s->conn == NULL) return;
  int keep = settled && !s->broken && PQstatus(s->conn) == CONNECTION_OK &&
             PQtransactionStatus(s->conn) == PQTRANS_IDLE && !PQisBusy(s->conn) &&
             PQpipelineStatus(s->conn) == PQ_PIPELINE_OFF &&
             (s->fallback_until == 0 || gpx_pg_now_ms() < s->fallback_until);
  PGconn *close_it = NULL;
  pthread_mutex_lock(&p->mu);
  if (keep && p->n_idle < GPX_PG_MAX_IDLE) {
    p->idle_since[p->n_idle] = gpx_pg_now_ms();
    p->fallback_until[p->n_idle] = s->fallback_until;
    p->idle[p->n_idle++] = s->conn;
  } else {
    close_it = s->conn;
    p->open--;
  }
  pthread_cond_signal(&p->cv);
  pthread_mutex_unlock(&p->mu);
  /* Nonblocking connection: PQfinish queues its Terminate message and
     closes, never waiting for a server that stopped reading. */
  if (close_it) PQfinish(close_it);
  s->conn = NULL;
}

int gpx__pg_reconnect(gpx_pg_session *s, gpx_pg_error *err) {
  if (s->conn) PQfinish(s->conn);
  s->conn = gpx__pg_connect(s->pool, s, err);
  if (s->conn == NULL) {
    pthread_mutex_lock(&s->pool->mu);
    s->pool->open--;
    pthread_cond_signal(&s->pool->cv);
    pthread_mutex_unlock(&s->pool->mu);
    s->pool = NULL; /* nothing left to release */
    return err->status == GPX_PG_CANCELLED ? ECANCELED : err->status == GPX_PG_TIMEOUT ? ETIMEDOUT : EIO;
  }
  return GPX_OK;
}

int gpx_pg_quote_ident(gpx_buf *b, const char *ident) {
  if (ident == NULL || *ident == '\0') return EINVAL;
  GPX_RETURN_NOT_OK(gpx_buf_append(b, "\"", 1));
  for (const char *c = ident; *c; c++) {
    if (*c == '"') GPX_RETURN_NOT_OK(gpx_buf_append(b, "\"\"", 2));
    else GPX_RETURN_NOT_OK(gpx_buf_append(b, c, 1));
  }
  return gpx_buf_append(b, "\"", 1);
}

int64_t gpx_pg_get_int8(const PGresult *r, int row, int col) {
  uint64_t v;
  memcpy(&v, PQgetvalue(r, row, col), 8);
  return (int64_t)be64toh(v);
}

double gpx_pg_get_float8(const PGresult *r, int row, int col) {
  uint64_t v;
  double d;
  memcpy(&v, PQgetvalue(r, row, col), 8);
  v = be64toh(v);
  memcpy(&d, &v, 8);
  return d;
}

int64_t gpx_pg_get_timestamptz_ns(const PGresult *r, int row, int col) {
  /* Postgres epoch is 2000-01-01: 946684800 s after the Unix epoch. A value
     int64 ns cannot hold (before 1677, after 2262, ±infinity) saturates
     instead of overflowing. */
  int64_t us = gpx_pg_get_int8(r, row, col), ns;
  if (__builtin_add_overflow(us, INT64_C(946684800000000), &ns) || __builtin_mul_overflow(ns, 1000, &ns))
    return us < 0 ? INT64_MIN : INT64_MAX;
  return ns;
}
