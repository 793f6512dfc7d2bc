/*
** connect.c — opening one libpq connection without ever blocking past the
** caller's patience, to the right server of a host list.
**
** PQconnectdbParams blocks for up to connect_timeout per host, cannot be
** interrupted and ignores the caller going away; `host` may list several
** hosts. Here the connection is driven with PQconnectStartParams and
** PQconnectPoll and our own poll() on its socket: every 50 ms we look at
** the caller, and each host gets at most GPX_PG_CONNECT_HOST_MS and its
** share of the time left before the session's deadline. The hosts are
** tried one by one because libpq's nonblocking API has no per-host timeout
** (connect_timeout is documented as ignored by PQconnectPoll; only the
** blocking connect moves on after it), so a black-holed first host would
** otherwise eat the whole budget.
**
** targetSessionAttrs goes to libpq as target_session_attrs for each host,
** so libpq checks each server (in_hot_standby, default_transaction_read_only)
** as it would walking its own list. prefer-standby is libpq's two passes
** done here: every host asked for a standby, then the hosts that answered
** asked for any server; a host that used up its budget in the first pass
** is not waited for a second time. Such a fallback connection is pooled
** for GPX_PG_FALLBACK_MS only (pool.c), so queries return to a standby
** that comes back.
**
** Every new connection sends one setup round trip (gpx__setup): SET
** TimeZone and DateStyle, SQL_ASCII when the database is, and the
** statement_timeout in force read back. That is how a pooler in between is
** noticed: pgbouncer refuses the startup parameter `options` ("unsupported
** startup parameter") unless its ignore_startup_parameters lists it, and
** then drops it. Refused: the pool connects without it from then on; either
** way the pool is marked (p->proxy) and exec.c sets statement_timeout per
** transaction; the SETs are session state pgbouncer tracks per client and
** replays on whichever server runs its next transaction. In session mode a
** pgbouncer pool smaller than ours can leave a new connection waiting for a
** server that one of our idle connections holds: while connecting, a
** session (GPX__PG_YIELD) gives way when a pooled connection comes back.
**
** Not bounded here: host name resolution (getaddrinfo inside libpq blocks;
** give an address to avoid it). The password is passed to libpq as a
** keyword value and never formatted into a string we could log.
*/
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>

#include "gpx/log.h"
#include "pg_int.h"

#define GPX__STR_(x) #x
#define GPX__STR(x) GPX__STR_(x)

int gpx__pg_conninfo(const gpx_pg_pool *p, const char *host, const char *port, const char *target, const char **keys,
                     const char **vals, int cap) {
  const gpx_ds_settings *s = p->s;
  int n = 0;
#define KV(k, v)                 \
  do {                           \
    if (n + 1 >= cap) return -1; \
    keys[n] = (k);               \
    vals[n] = (v);               \
    n++;                         \
  } while (0)
  KV("host", host);
  KV("port", port);
  KV("dbname", s->database);
  KV("user", s->user);
  if (s->password) KV("password", s->password);
  KV("sslmode", s->sslmode);
  if (p->rootcert[0]) KV("sslrootcert", p->rootcert);
  if (p->cert[0]) KV("sslcert", p->cert);
  if (p->key[0]) KV("sslkey", p->key);
  /* A peer that vanishes (partition, dead VM) is noticed by the kernel even
     while the connection idles in the pool, and unacknowledged data is
     given up on after a minute instead of TCP's ~15 min; unix sockets
     ignore these. PQgetCancel copies them to the cancel socket too. */
  KV("keepalives", "1");
  KV("keepalives_idle", GPX__STR(GPX_PG_KEEPALIVES_IDLE_S));
  KV("keepalives_interval", GPX__STR(GPX_PG_KEEPALIVES_INTERVAL_S));
  KV("keepalives_count", GPX__STR(GPX_PG_KEEPALIVES_COUNT));
  KV("tcp_user_timeout", GPX__STR(GPX_PG_TCP_USER_TIMEOUT_MS));
  KV("application_name", GPX_PLUGIN_ID);
  KV("client_encoding", "UTF8");
  if (!__atomic_load_n(&p->no_options, __ATOMIC_RELAXED)) KV("options", p->options);
  KV("target_session_attrs", target);
#undef KV
  keys[n] = NULL;
  vals[n] = NULL;
  return n;
}

/* First line of libpq's message, without the trailing newline. */
static void gpx__first_line(const char *m, char *dst, size_t cap) {
  size_t n = 0;
  while (m && m[n] && m[n] != '\n' && n + 1 < cap) n++;
  memcpy(dst, m ? m : "", n);
  dst[n] = '\0';
}

/* libpq's connection failure → status and its first line (which names
   host and cause, never the password). */
static void gpx__connect_error(const char *m, gpx_pg_error *err) {
  err->sqlstate[0] = '\0';
  if (strstr(m, "password authentication failed") || strstr(m, "no password supplied") ||
      strstr(m, "authentication failed") || strstr(m, "no pg_hba.conf entry")) {
    err->status = GPX_PG_AUTH;
  } else if (strstr(m, "does not exist") && strstr(m, "database")) {
    err->status = GPX_PG_NO_DATABASE;
  } else {
    err->status = GPX_PG_UNAVAILABLE;
  }
  gpx__first_line(m, err->msg, sizeof err->msg);
}

/* Server notices go to our log, not to libpq's default of raw stderr
   (stderr carries hclog JSON lines only). */
static void gpx__notice(void *arg, const char *message) {
  char line[256];
  gpx__first_line(message, line, sizeof line);
  json_t *f = json_pack("{s:s}", "notice", line);
  gpx_log(GPX_LOG_DEBUG, "pg: server notice", f);
}

/* Whether a pooled connection is idle now (the pool's stack is not empty). */
static int gpx__idle_waiting(gpx_pg_pool *p) {
  pthread_mutex_lock(&p->mu);
  int n = p->n_idle;
  pthread_mutex_unlock(&p->mu);
  return n > 0;
}

/* While connecting: 1 when the session should give way (GPX__PG_YIELD and a
   pooled connection came back idle). Asked only after 50 ms without an
   answer, and before the setup only once the pool knows of a pooler: a
   direct connect is not thrown away for the sake of a few milliseconds. */
static int gpx__should_yield(gpx_pg_pool *p, gpx_pg_session *s, int in_setup) {
  return (s->connect_flags & GPX__PG_YIELD) && (in_setup || GPX__PG_PROXY(p)) && gpx__idle_waiting(p);
}

/* The session state every connection starts with, in one round trip:
   TimeZone and DateStyle again (the startup `options` set them, unless a
   pooler refused or dropped them; pgbouncer tracks both and sets them on
   whichever server runs our next transaction), SQL_ASCII when the database
   is, and the statement_timeout the server applies, which tells whether
   the startup options arrived. 0 when done; ETIMEDOUT past until; EAGAIN
   when the session gave way; EIO when the server failed. */
static int gpx__setup(gpx_pg_pool *p, gpx_pg_session *s, PGconn *c, int64_t until, int *applied) {
  char sql[256];
  /* A SQL_ASCII database holds whatever bytes the bot wrote, and Postgres
     refuses to hand them to a UTF8 client ("invalid byte sequence"): read
     them as they are; the frame layer replaces what is not UTF-8. */
  const char *enc = PQparameterStatus(c, "server_encoding");
  snprintf(sql, sizeof sql,
           "SET TimeZone = 'UTC'; SET DateStyle = 'ISO'; %sSELECT setting FROM pg_catalog.pg_settings WHERE name = "
           "'statement_timeout'",
           enc && strcmp(enc, "SQL_ASCII") == 0 ? "SET client_encoding = 'SQL_ASCII'; " : "");
  if (!PQsendQuery(c, sql)) return EIO;
  int ok = 1, f;
  *applied = 0;
  while ((f = PQflush(c)) != 0) {
    if (f < 0) return EIO;
    if (until - gpx_pg_now_ms() <= 0) return ETIMEDOUT;
    struct pollfd pfd = {PQsocket(c), POLLOUT, 0};
    if (poll(&pfd, 1, 50) < 0 && errno != EINTR) return EIO;
  }
  for (;;) {
    while (PQisBusy(c)) {
      int64_t left = until - gpx_pg_now_ms();
      if (left <= 0) return ETIMEDOUT;
      if (s->cancelled && s->cancelled(s->cancel_arg)) return ECANCELED;
      struct pollfd pfd = {PQsocket(c), POLLIN, 0};
      int pr = poll(&pfd, 1, left < 50 ? (int)left : 50);
      if (pr < 0 && errno != EINTR) return EIO;
      if (pr == 0 && gpx__should_yield(p, s, 1)) return EAGAIN;
      if (!PQconsumeInput(c)) return EIO;
    }
    PGresult *r = PQgetResult(c);
    if (r == NULL) break;
    ExecStatusType st = PQresultStatus(r);
    ok &= st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK;
    if (st == PGRES_TUPLES_OK && PQntuples(r) == 1) *applied = strcmp(PQgetvalue(r, 0, 0), p->timeout_ms) == 0;
    PQclear(r);
  }
  return ok ? GPX_OK : EIO;
}

/* pgbouncer's answer to a startup parameter it does not know (unless its
   ignore_startup_parameters lists it). */
static int gpx__options_refused(const char *m) { return strstr(m, "unsupported startup parameter") != NULL; }

/* The pool learnt it reaches Postgres through a pooler: said once in the log. */
static void gpx__learn_proxy(gpx_pg_pool *p, const char *why) {
  if (__atomic_exchange_n(&p->proxy, 1, __ATOMIC_RELAXED)) return;
  json_t *f = json_pack("{s:s, s:s, s:s}", "host", p->s->host, "port", p->port, "why", why);
  gpx_log(GPX_LOG_INFO,
          "pg: the connection's startup options were not applied (a pooler such as pgbouncer in between); "
          "statement_timeout is set in each transaction, TimeZone and DateStyle after connecting",
          f);
}

/* One host, until `until` (CLOCK_MONOTONIC ms) or the caller goes away.
   *timed_out is set when the host's own budget ran out. */
static PGconn *gpx__connect_host(gpx_pg_pool *p, gpx_pg_session *s, const char *host, const char *port,
                                 const char *target, int64_t until, int *timed_out, gpx_pg_error *err) {
  const char *keys[GPX__PG_CONNINFO_MAX], *vals[GPX__PG_CONNINFO_MAX];
  *timed_out = 0;
  /* read before the conninfo: once 1 it stays 1, so an attempt that finds 0
     here may have sent the options (and may retry without them once) */
  int sent_options = !__atomic_load_n(&p->no_options, __ATOMIC_RELAXED);
  if (gpx__pg_conninfo(p, host, port, target, keys, vals, GPX__PG_CONNINFO_MAX) < 0) {
    err->status = GPX_PG_UNAVAILABLE;
    snprintf(err->msg, sizeof err->msg, "internal error: too many connection keywords");
    return NULL;
  }
  int64_t start = gpx_pg_now_ms();
  PGconn *c = PQconnectStartParams(keys, vals, 0);
  if (c == NULL) {
    err->status = GPX_PG_UNAVAILABLE;
    snprintf(err->msg, sizeof err->msg, "out of memory");
    return NULL;
  }
  /* As if PQconnectPoll had asked to write: libpq's documented start. */
  PostgresPollingStatusType ps = PQstatus(c) == CONNECTION_BAD ? PGRES_POLLING_FAILED : PGRES_POLLING_WRITING;
  for (;;) {
    if (ps == PGRES_POLLING_OK) break;
    if (ps == PGRES_POLLING_FAILED) {
      if (sent_options && gpx__options_refused(PQerrorMessage(c))) {
        /* pgbouncer without ignore_startup_parameters = options: connect
           without them and set what they set per transaction instead. Every
           connect that sent them retries, not only the one that learnt it
           first: a request's parallel queries open several at once. */
        PQfinish(c);
        if (!__atomic_exchange_n(&p->no_options, 1, __ATOMIC_RELAXED)) gpx__learn_proxy(p, "options refused");
        return gpx__connect_host(p, s, host, port, target, until, timed_out, err);
      }
      gpx__connect_error(PQerrorMessage(c), err);
      PQfinish(c);
      return NULL;
    }
    int64_t now = gpx_pg_now_ms();
    if (s->cancelled && s->cancelled(s->cancel_arg)) {
      PQfinish(c); /* nonblocking until CONNECTION_OK: closes at once */
      err->status = GPX_PG_CANCELLED;
      err->sqlstate[0] = '\0';
      snprintf(err->msg, sizeof err->msg, "request cancelled");
      return NULL;
    }
    if (now >= until) {
      PQfinish(c);
      /* Cut by the query's deadline: the query ran out of time (504), as
         it would have running SQL. Cut by the host's own budget: that host
         does not answer (502), as libpq's connect_timeout said before. */
      err->status = until >= s->deadline ? GPX_PG_TIMEOUT : GPX_PG_UNAVAILABLE;
      err->sqlstate[0] = '\0';
      *timed_out = 1;
      snprintf(err->msg, sizeof err->msg, "connection to server at \"%s\", port %s: timeout expired (no answer within %.1f s)",
               host, port, (double)(now - start) / 1000.0);
      return NULL;
    }
    int64_t wait = until - now < 50 ? until - now : 50;
    struct pollfd pfd = {PQsocket(c), ps == PGRES_POLLING_READING ? POLLIN : POLLOUT, 0};
    int r = pfd.fd < 0 ? 1 : poll(&pfd, 1, (int)wait);
    if (r > 0) ps = PQconnectPoll(c); /* it reads or writes only what is ready */
    else if (r == 0 && gpx__should_yield(p, s, 0)) {
      PQfinish(c);
      err->status = GPX__PG_YIELDED;
      return NULL;
    }
  }
  /* Queries are sent with PQsendQueryParams + PQflush and PQfinish must
     never wait on a full socket buffer: nonblocking from now on. */
  if (PQsetnonblocking(c, 1) != 0) {
    gpx__connect_error(PQerrorMessage(c), err);
    err->status = GPX_PG_UNAVAILABLE;
    PQfinish(c);
    return NULL;
  }
  PQsetNoticeProcessor(c, gpx__notice, NULL);
  int applied = 0;
  /* The server is there: the setup may wait as long as the work may (a
     pooler queues it until a server is free), unless it is optional. */
  int64_t setup_until = s->deadline;
  if ((s->connect_flags & GPX__PG_QUICK) && until < setup_until) setup_until = until;
  int rc = gpx__setup(p, s, c, setup_until, &applied);
  if (rc != GPX_OK) {
    PQfinish(c);
    err->sqlstate[0] = '\0';
    if (rc == EAGAIN) {
      err->status = GPX__PG_YIELDED;
    } else if (rc == ECANCELED) {
      err->status = GPX_PG_CANCELLED;
      snprintf(err->msg, sizeof err->msg, "request cancelled");
    } else {
      err->status = rc == ETIMEDOUT && setup_until >= s->deadline ? GPX_PG_TIMEOUT : GPX_PG_UNAVAILABLE;
      snprintf(err->msg, sizeof err->msg, "connection to server at \"%s\", port %s: %s", host, port,
               rc == ETIMEDOUT ? "no answer to the session setup in time (a pooler with no server free?)"
                               : "the session setup failed");
    }
    return NULL;
  }
  if (!applied) gpx__learn_proxy(p, "startup options dropped");
  if (gpx_log_get_level() <= GPX_LOG_DEBUG) {
    const char *hs = PQparameterStatus(c, "in_hot_standby"); /* Postgres 14+ */
    json_t *f = json_pack("{s:s, s:s, s:s, s:s}", "host", host, "port", port, "targetSessionAttrs", target,
                          "inHotStandby", hs ? hs : "unknown");
    gpx_log(GPX_LOG_DEBUG, "pg: connected", f);
  }
  return c;
}

/* Entry i of a comma-separated list, spaces around it dropped ("" past the end). */
static void gpx__list_item(const char *list, int i, char *dst, size_t cap) {
  for (; i > 0 && *list; list++)
    if (*list == ',') i--;
  while (*list == ' ') list++;
  size_t n = strcspn(list, ",");
  while (n > 0 && list[n - 1] == ' ') n--;
  if (n >= cap) n = cap - 1;
  memcpy(dst, list, n);
  dst[n] = '\0';
}

PGconn *gpx__pg_connect(gpx_pg_pool *p, gpx_pg_session *s, gpx_pg_error *err) {
  const gpx_ds_settings *st = p->s;
  enum { MAX_HOSTS = sizeof st->host }; /* commas + 1: ",,," lists empty (default) hosts */
  int n = 1;
  for (const char *c = st->host; *c; c++) n += *c == ',';
  const char *attrs = st->target_session_attrs[0] ? st->target_session_attrs : "any";
  int prefer = strcmp(attrs, "prefer-standby") == 0;
  unsigned char again[MAX_HOSTS] = {0}; /* prefer-standby: answered, but was not a standby */
  int n_again = 0;
  s->fallback_until = 0;
  gpx_pg_error first = {0}; /* the first specific failure (auth, database) wins over "unreachable" */
  int64_t end = s->deadline;
  if ((s->connect_flags & GPX__PG_QUICK) && gpx_pg_now_ms() + GPX__PG_QUICK_MS < end) end = gpx_pg_now_ms() + GPX__PG_QUICK_MS;
  for (int pass = 0; pass < (prefer ? 2 : 1); pass++) {
    const char *target = prefer ? (pass == 0 ? "standby" : "any") : attrs;
    int left = pass == 0 ? n + prefer : n_again; /* attempts sharing the time left (one kept for pass 2) */
    for (int i = 0; i < n; i++) {
      if (pass == 1 && !again[i]) continue;
      char host[sizeof st->host], port[16];
      gpx__list_item(st->host, i, host, sizeof host);
      if (st->port_list[0]) gpx__list_item(st->port_list, i, port, sizeof port);
      else snprintf(port, sizeof port, "%s", p->port);
      int64_t now = gpx_pg_now_ms();
      int64_t share = GPX_PG_CONNECT_HOST_MS;
      if (end != GPX_PG_NO_DEADLINE && (end - now) / left < share) share = (end - now) / left;
      if (share < 0) share = 0;
      if (left > 1) left--;
      int timed_out = 0;
      PGconn *c = gpx__connect_host(p, s, host, port, target, now + share, &timed_out, err);
      if (c != NULL) {
        if (pass == 1) s->fallback_until = gpx_pg_now_ms() + GPX_PG_FALLBACK_MS; /* ask the standbys again soon */
        return c;
      }
      if (err->status == GPX_PG_CANCELLED || err->status == GPX_PG_TIMEOUT || err->status == GPX__PG_YIELDED)
        return NULL; /* no time left, or an idle connection to take */
      if (first.status == GPX_PG_OK && err->status != GPX_PG_UNAVAILABLE) first = *err;
      if (pass == 0 && prefer && err->status == GPX_PG_UNAVAILABLE && !timed_out) {
        again[i] = 1;
        n_again++;
      }
    }
  }
  if (first.status != GPX_PG_OK) *err = first;
  return NULL;
}
