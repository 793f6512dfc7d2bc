/*
** pool.c — a bounded pool of libpq connections for one data-source instance.
**
** Connections are opened lazily up to maxOpenConnections and reused. A
** connection that died while idle (Postgres restarted) is only discovered
** when used; exec.c then retries once on a fresh one, so the plugin recovers
** by itself without a restart. The password is passed to libpq as a keyword
** value and never formatted into a string we could log.
*/
#include <endian.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "gpx/log.h"
#include "gpx/pg.h"

#define GPX_PG_MAX_IDLE 100

struct gpx_pg_pool {
  pthread_mutex_t mu;
  pthread_cond_t cv;
  PGconn *idle[GPX_PG_MAX_IDLE];
  int n_idle;
  int open;
  int max;
  const gpx_ds_settings *s;
  char port[16];
  char options[128];
  char rootcert[600], cert[600], key[600];
};

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
  /* statement_timeout per connection: every query of this instance is bounded. */
  snprintf(p->options, sizeof p->options, "-c statement_timeout=%d -c TimeZone=UTC -c DateStyle=ISO",
           s->query_timeout_s * 1000);
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

void gpx_pg_pool_stats(gpx_pg_pool *p, int *open, int *idle) {
  pthread_mutex_lock(&p->mu);
  *open = p->open;
  *idle = p->n_idle;
  pthread_mutex_unlock(&p->mu);
}

/* First line of libpq's message, without the trailing newline. */
static void gpx__first_line(const char *m, char *dst, size_t cap) {
  size_t n = 0;
  while (m && m[n] && m[n] != '\n' && n + 1 < cap) n++;
  memcpy(dst, m ? m : "", n);
  dst[n] = '\0';
}

static PGconn *gpx__connect(gpx_pg_pool *p, gpx_pg_error *err) {
  const gpx_ds_settings *s = p->s;
  const char *keys[20], *vals[20];
  int n = 0;
#define KV(k, v)   \
  do {             \
    keys[n] = (k); \
    vals[n] = (v); \
    n++;           \
  } while (0)
  KV("host", s->host);
  KV("port", p->port);
  KV("dbname", s->database);
  KV("user", s->user);
  if (s->password) KV("password", s->password);
  KV("sslmode", s->sslmode);
  if (p->rootcert[0]) KV("sslrootcert", p->rootcert);
  if (p->cert[0]) KV("sslcert", p->cert);
  if (p->key[0]) KV("sslkey", p->key);
  KV("connect_timeout", "10");
  KV("application_name", GPX_PLUGIN_ID);
  KV("client_encoding", "UTF8");
  KV("options", p->options);
  keys[n] = NULL;
  vals[n] = NULL;
#undef KV
  PGconn *c = PQconnectdbParams(keys, vals, 0);
  if (c != NULL && PQstatus(c) == CONNECTION_OK) return c;
  const char *m = c ? PQerrorMessage(c) : "out of memory";
  err->sqlstate[0] = '\0';
  if (strstr(m, "password authentication failed") || strstr(m, "no password supplied") ||
      strstr(m, "authentication failed") || strstr(m, "no pg_hba.conf entry")) {
    err->status = GPX_PG_AUTH;
  } else if (strstr(m, "does not exist") && strstr(m, "database")) {
    err->status = GPX_PG_NO_DATABASE;
  } else {
    err->status = GPX_PG_UNAVAILABLE;
  }
  /* libpq's message may span lines ("Is the server running..."); keep the
     first, which names host and cause. It never contains the password. */
  char line[400];
  const char *start = m;
  /* Skip the 'connection to server at "h" (ip), port p failed: ' prefix on
     a second line if the first is only that prefix. */
  gpx__first_line(start, line, sizeof line);
  snprintf(err->msg, sizeof err->msg, "%s", line);
  if (c) PQfinish(c);
  return NULL;
}

int gpx_pg_acquire(gpx_pg_pool *p, gpx_pg_session *s, gpx_pg_cancel_fn cancelled, void *arg,
                   gpx_pg_error *err) {
  memset(s, 0, sizeof *s);
  s->pool = p;
  s->cancelled = cancelled;
  s->cancel_arg = arg;
  s->timeout_s = p->s->query_timeout_s;
  struct timespec start, now;
  clock_gettime(CLOCK_MONOTONIC, &start);
  pthread_mutex_lock(&p->mu);
  for (;;) {
    if (cancelled && cancelled(arg)) {
      pthread_mutex_unlock(&p->mu);
      err->status = GPX_PG_CANCELLED;
      snprintf(err->msg, sizeof err->msg, "request cancelled");
      return ECANCELED;
    }
    if (p->n_idle > 0) {
      s->conn = p->idle[--p->n_idle];
      pthread_mutex_unlock(&p->mu);
      if (PQstatus(s->conn) == CONNECTION_OK) return GPX_OK;
      PQfinish(s->conn);
      s->conn = NULL;
      pthread_mutex_lock(&p->mu);
      p->open--;
      continue;
    }
    if (p->open < p->max) {
      p->open++;
      pthread_mutex_unlock(&p->mu);
      s->conn = gpx__connect(p, err);
      if (s->conn != NULL) return GPX_OK;
      pthread_mutex_lock(&p->mu);
      p->open--;
      pthread_cond_signal(&p->cv);
      pthread_mutex_unlock(&p->mu);
      return EIO;
    }
    clock_gettime(CLOCK_MONOTONIC, &now);
    double waited = (double)(now.tv_sec - start.tv_sec) + (now.tv_nsec - start.tv_nsec) / 1e9;
    if (waited > p->s->query_timeout_s) {
      pthread_mutex_unlock(&p->mu);
      err->status = GPX_PG_TIMEOUT;
      snprintf(err->msg, sizeof err->msg, "all %d connections busy for %d s (maxOpenConnections)", p->max,
               p->s->query_timeout_s);
      return ETIMEDOUT;
    }
    struct timespec dl = now;
    dl.tv_nsec += 100 * 1000000L;
    if (dl.tv_nsec >= 1000000000L) {
      dl.tv_sec++;
      dl.tv_nsec -= 1000000000L;
    }
    pthread_cond_timedwait(&p->cv, &p->mu, &dl);
  }
}

void gpx_pg_release(gpx_pg_session *s) {
  gpx_pg_pool *p = s->pool;
  if (p == NULL || s->conn == NULL) return;
  int keep = !s->broken && PQstatus(s->conn) == CONNECTION_OK &&
             PQtransactionStatus(s->conn) == PQTRANS_IDLE;
  pthread_mutex_lock(&p->mu);
  if (keep && p->n_idle < GPX_PG_MAX_IDLE) {
    p->idle[p->n_idle++] = s->conn;
  } else {
    PQfinish(s->conn);
    p->open--;
  }
  pthread_cond_signal(&p->cv);
  pthread_mutex_unlock(&p->mu);
  s->conn = NULL;
}

/* A fresh connection in place of a dead one (same session, same slot). */
int gpx__pg_reconnect(gpx_pg_session *s, gpx_pg_error *err);
int gpx__pg_reconnect(gpx_pg_session *s, gpx_pg_error *err) {
  if (s->conn) PQfinish(s->conn);
  s->conn = gpx__connect(s->pool, err);
  if (s->conn == NULL) {
    pthread_mutex_lock(&s->pool->mu);
    s->pool->open--;
    pthread_cond_signal(&s->pool->cv);
    pthread_mutex_unlock(&s->pool->mu);
    s->pool = NULL; /* nothing left to release */
    return EIO;
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
