/*
** check_pg.c — Check suite for src/pg/: binary value decoding (numeric's
** base-10000 form must give the same double strtod gives its text), and
** the deadlines that need no Postgres: the connection keywords, the
** deadline arithmetic, a connect to a listener that never answers, a full
** pool, and a statement on a server that stops answering after the
** handshake (a few lines of the wire protocol below play that server).
** Behaviour against a real Postgres (frozen, killed, black-holed) is
** tested by the Go packages tests/analytics and tests/faults.
*/
#include <arpa/inet.h>
#include <check.h>
#include <math.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "gpx/pg.h"
#include "pg/pg_int.h"

#include "check_main.h"
#include "support/fake_setup.h"

/* Encode v (a decimal string) the way Postgres sends numeric in binary. */
static int encode_numeric(const char *text, unsigned char *out) {
  int neg = text[0] == '-';
  const char *s = neg ? text + 1 : text;
  const char *dot = strchr(s, '.');
  size_t il = dot ? (size_t)(dot - s) : strlen(s), fl = dot ? strlen(dot + 1) : 0;
  /* pad integer part on the left and fraction on the right to multiples of 4 */
  char buf[256] = {0};
  size_t ipad = (4 - il % 4) % 4, fpad = (4 - fl % 4) % 4, n = 0;
  for (size_t i = 0; i < ipad; i++) buf[n++] = '0';
  memcpy(buf + n, s, il);
  n += il;
  if (fl) memcpy(buf + n, dot + 1, fl);
  n += fl;
  for (size_t i = 0; i < fpad; i++) buf[n++] = '0';
  int ndig = (int)(n / 4), weight = (int)((il + ipad) / 4) - 1;
  unsigned char *p = out;
  p[0] = (unsigned char)(ndig >> 8), p[1] = (unsigned char)ndig;
  p[2] = (unsigned char)((weight >> 8) & 0xff), p[3] = (unsigned char)(weight & 0xff);
  p[4] = neg ? 0x40 : 0, p[5] = 0, p[6] = 0, p[7] = (unsigned char)fl;
  for (int i = 0; i < ndig; i++) {
    int d = (buf[4 * i] - '0') * 1000 + (buf[4 * i + 1] - '0') * 100 + (buf[4 * i + 2] - '0') * 10 + (buf[4 * i + 3] - '0');
    p[8 + 2 * i] = (unsigned char)(d >> 8);
    p[9 + 2 * i] = (unsigned char)d;
  }
  return 8 + 2 * ndig;
}

static const char *values[] = {"0", "1", "-1", "123.4567", "-0.0001", "99999999.99999999", "1234567890123456",
                               "0.1", "0.3", "-2.675", "10000", "1e0", "12345678901234567890.123456789",
                               "0.000000001234", "5000.5", "-1200", "3.14159265358979323846"};

START_TEST(numeric_binary_matches_strtod) {
  const char *t = values[_i];
  if (strchr(t, 'e')) return; /* not a numeric literal form */
  unsigned char wire[256];
  int len = encode_numeric(t, wire);
  double got = gpx_pg_numeric_to_double(wire, len), want = strtod(t, NULL);
  ck_assert_msg(got == want, "%s: got %.17g want %.17g", t, got, want);
}
END_TEST

START_TEST(numeric_special_and_malformed) {
  unsigned char nan[8] = {0, 0, 0, 0, 0xC0, 0, 0, 0};
  ck_assert(isnan(gpx_pg_numeric_to_double(nan, 8)));
  unsigned char zero[8] = {0};
  ck_assert(gpx_pg_numeric_to_double(zero, 8) == 0.0);
  unsigned char shortbuf[4] = {0, 1, 0, 0};
  ck_assert(isnan(gpx_pg_numeric_to_double(shortbuf, 4)));
  unsigned char truncated[8] = {0, 5, 0, 0, 0, 0, 0, 0}; /* claims 5 digits, carries none */
  ck_assert(isnan(gpx_pg_numeric_to_double(truncated, 8)));
  unsigned char baddigit[10] = {0, 1, 0, 0, 0, 0, 0, 0, 0x27, 0x10}; /* 10000 is not a base-10000 digit */
  ck_assert(isnan(gpx_pg_numeric_to_double(baddigit, 10)));
}
END_TEST

/* ------------------------------------------------------------ deadlines */

START_TEST(conninfo_has_keepalives_and_user_timeout) {
  gpx_ds_settings st;
  gpx_ds_settings_default(&st);
  gpx_pg_pool *p = NULL;
  ck_assert_int_eq(gpx_pg_pool_new(&st, NULL, &p, NULL), 0);
  const char *keys[GPX__PG_CONNINFO_MAX], *vals[GPX__PG_CONNINFO_MAX];
  int n = gpx__pg_conninfo(p, "db.example", "5432", "prefer-standby", keys, vals, GPX__PG_CONNINFO_MAX);
  ck_assert_int_gt(n, 0);
  ck_assert_ptr_null(keys[n]);
  static const char *const want[][2] = {{"host", "db.example"},   {"keepalives", "1"},
                                        {"keepalives_idle", "30"}, {"keepalives_interval", "10"},
                                        {"keepalives_count", "3"}, {"tcp_user_timeout", "60000"},
                                        {"port", "5432"}, {"target_session_attrs", "prefer-standby"}};
  for (size_t w = 0; w < sizeof want / sizeof want[0]; w++) {
    int found = 0;
    for (int i = 0; i < n; i++)
      if (!strcmp(keys[i], want[w][0])) {
        ck_assert_str_eq(vals[i], want[w][1]);
        found = 1;
      }
    ck_assert_msg(found, "conninfo lacks %s", want[w][0]);
  }
  /* libpq's connect_timeout is not enforced by PQconnectPoll: our own
     deadline is, so the keyword would only mislead. */
  for (int i = 0; i < n; i++) ck_assert_str_ne(keys[i], "connect_timeout");
  ck_assert_int_eq(gpx__pg_conninfo(p, "h", "1", "any", keys, vals, 3), -1);
  gpx_pg_pool_free(p);
}
END_TEST

START_TEST(deadline_is_the_earlier_of_timeout_and_caller) {
  const int64_t mono = 5000000, real = 1700000000000;
  ck_assert_int_eq(gpx_pg_deadline(30, 0, mono, real), mono + 30000);
  ck_assert_int_eq(gpx_pg_deadline(30, real + 2500, mono, real), mono + 2500);  /* caller's is earlier */
  ck_assert_int_eq(gpx_pg_deadline(5, real + 60000, mono, real), mono + 5000);  /* the timeout is */
  ck_assert_int_eq(gpx_pg_deadline(5, real - 100, mono, real), mono - 100);     /* already passed */
  ck_assert_int_eq(gpx_pg_deadline(0, 0, mono, real), GPX_PG_NO_DEADLINE);
  ck_assert_int_eq(gpx_pg_deadline(0, real + 700, mono, real), mono + 700);
  ck_assert_int_eq(gpx_pg_deadline(3600, 0, mono, real), mono + 3600000);
}
END_TEST

static void settings_for(gpx_ds_settings *st, int port, int timeout_s, int max) {
  gpx_ds_settings_default(st);
  snprintf(st->host, sizeof st->host, "127.0.0.1");
  st->port = port;
  st->query_timeout_s = timeout_s;
  st->max_open_connections = max;
}

/* cancel probe: fires once CLOCK_MONOTONIC passes *(int64_t *)arg */
static int cancel_after(void *arg) { return gpx_pg_now_ms() >= *(int64_t *)arg; }

START_TEST(connect_to_blackhole_is_abandoned_at_the_deadline) {
  int port, lfd = fake_listener(&port);
  gpx_ds_settings st;
  settings_for(&st, port, 30, 5);
  gpx_pg_pool *p = NULL;
  ck_assert_int_eq(gpx_pg_pool_new(&st, NULL, &p, NULL), 0);
  gpx_pg_session s;
  gpx_pg_error pe;
  int64_t t0 = gpx_pg_now_ms();
  int rc = gpx_pg_acquire(p, &s, NULL, NULL, fake_real_now_ms() + 300, &pe);
  int64_t took = gpx_pg_now_ms() - t0;
  ck_assert_int_eq(rc, ETIMEDOUT); /* the query's deadline cut it: a timeout, not "unreachable" */
  ck_assert_int_eq(pe.status, GPX_PG_TIMEOUT);
  ck_assert_msg(strstr(pe.msg, "timeout expired") != NULL, "message: %s", pe.msg);
  ck_assert_msg(took >= 280 && took < 700, "abandoned after %lld ms, want ~300", (long long)took);
  int open, idle;
  gpx_pg_pool_stats(p, &open, &idle);
  ck_assert_int_eq(open, 0); /* the slot is free again */
  gpx_pg_release(&s);        /* safe after a failed acquire */
  gpx_pg_pool_free(p);
  close(lfd);
}
END_TEST

START_TEST(connect_is_abandoned_when_the_caller_goes_away) {
  int port, lfd = fake_listener(&port);
  gpx_ds_settings st;
  settings_for(&st, port, 30, 5);
  gpx_pg_pool *p = NULL;
  ck_assert_int_eq(gpx_pg_pool_new(&st, NULL, &p, NULL), 0);
  gpx_pg_session s;
  gpx_pg_error pe;
  int64_t t0 = gpx_pg_now_ms(), at = t0 + 100;
  ck_assert_int_eq(gpx_pg_acquire(p, &s, cancel_after, &at, 0, &pe), ECANCELED);
  int64_t took = gpx_pg_now_ms() - t0;
  ck_assert_int_eq(pe.status, GPX_PG_CANCELLED);
  ck_assert_msg(took >= 100 && took < 300, "abandoned %lld ms after start, want ~100", (long long)took);
  gpx_pg_pool_free(p);
  close(lfd);
}
END_TEST

START_TEST(each_host_of_a_list_gets_its_share) {
  /* Two black holes: libpq alone would spend all of it on the first. */
  int p1, p2, l1 = fake_listener(&p1), l2 = fake_listener(&p2);
  (void)p2;
  gpx_ds_settings st;
  settings_for(&st, p1, 30, 5);
  snprintf(st.host, sizeof st.host, "127.0.0.1,127.0.0.2");
  gpx_pg_pool *p = NULL;
  ck_assert_int_eq(gpx_pg_pool_new(&st, NULL, &p, NULL), 0);
  gpx_pg_session s;
  gpx_pg_error pe;
  int64_t t0 = gpx_pg_now_ms();
  ck_assert_int_eq(gpx_pg_acquire(p, &s, NULL, NULL, fake_real_now_ms() + 400, &pe), EIO);
  int64_t took = gpx_pg_now_ms() - t0;
  ck_assert_int_eq(pe.status, GPX_PG_UNAVAILABLE); /* the first host used its share, the second refused */
  /* the second host was tried: its message names it (refused or timed out) */
  ck_assert_msg(strstr(pe.msg, "127.0.0.2") != NULL, "message: %s", pe.msg);
  ck_assert_msg(took < 800, "took %lld ms for a 400 ms deadline", (long long)took);
  gpx_pg_pool_free(p);
  close(l1);
  close(l2);
}
END_TEST

typedef struct {
  gpx_pg_pool *p;
  int64_t deadline_ms;
  int rc;
} hold_arg;

static void *hold_slot(void *arg) {
  hold_arg *h = arg;
  gpx_pg_session s;
  gpx_pg_error pe;
  h->rc = gpx_pg_acquire(h->p, &s, NULL, NULL, h->deadline_ms, &pe);
  return NULL;
}

START_TEST(waiting_for_a_slot_ends_at_the_deadline_or_on_cancel) {
  int port, lfd = fake_listener(&port);
  gpx_ds_settings st;
  settings_for(&st, port, 30, 1);
  gpx_pg_pool *p = NULL;
  ck_assert_int_eq(gpx_pg_pool_new(&st, NULL, &p, NULL), 0);
  /* the one slot is held by a connect that hangs for 1.5 s */
  hold_arg h = {p, fake_real_now_ms() + 1500, -1};
  pthread_t t;
  pthread_create(&t, NULL, hold_slot, &h);
  struct timespec ms50 = {0, 50000000L};
  nanosleep(&ms50, NULL);
  gpx_pg_session s;
  gpx_pg_error pe;
  int64_t t0 = gpx_pg_now_ms();
  ck_assert_int_eq(gpx_pg_acquire(p, &s, NULL, NULL, fake_real_now_ms() + 300, &pe), ETIMEDOUT);
  int64_t took = gpx_pg_now_ms() - t0;
  ck_assert_int_eq(pe.status, GPX_PG_TIMEOUT);
  ck_assert_msg(strstr(pe.msg, "maxOpenConnections") != NULL, "message: %s", pe.msg);
  ck_assert_msg(took >= 280 && took < 500, "gave up after %lld ms, want ~300", (long long)took);
  int64_t at = gpx_pg_now_ms() + 100;
  t0 = gpx_pg_now_ms();
  ck_assert_int_eq(gpx_pg_acquire(p, &s, cancel_after, &at, 0, &pe), ECANCELED);
  took = gpx_pg_now_ms() - t0;
  ck_assert_msg(took >= 100 && took < 250, "cancelled wait ended after %lld ms, want ~100", (long long)took);
  pthread_join(t, NULL);
  ck_assert_int_eq(h.rc, ETIMEDOUT);
  gpx_pg_pool_free(p);
  close(lfd);
}
END_TEST

/* ------------------------------------------------------------ a server that stops answering */

/* Just enough of the v3 protocol to get libpq to CONNECTION_OK, then read
   the first query message and either never answer (frozen) or wait for the
   cancel request and answer as Postgres does (57014, then ReadyForQuery). */
typedef struct fake_pg {
  int lfd, port;
  int answer_cancel;
  atomic_int cancel_ok; /* a CancelRequest with our pid and key arrived */
  pthread_t th;
} fake_pg;

static void put32(unsigned char *p, uint32_t v) {
  p[0] = (unsigned char)(v >> 24), p[1] = (unsigned char)(v >> 16), p[2] = (unsigned char)(v >> 8), p[3] = (unsigned char)v;
}

static void *fake_pg_main(void *arg) {
  fake_pg *f = arg;
  int c = accept(f->lfd, NULL, NULL);
  unsigned char buf[1024];
  char timeout_ms[16] = "0";
  for (;;) { /* SSL/GSS encryption requests get 'N', then the startup packet */
    if (fake_read_full(c, buf, 4) != 0) return NULL;
    uint32_t len = fake_get32(buf);
    if (len < 8 || len > sizeof buf || fake_read_full(c, buf + 4, len - 4) != 0) return NULL;
    uint32_t code = fake_get32(buf + 4);
    if (code != 80877103 && code != 80877104) {
      fake_setup_timeout(buf, len, timeout_ms, sizeof timeout_ms);
      break;
    }
    if (write(c, "N", 1) != 1) return NULL;
  }
  unsigned char hello[] = {'R', 0, 0, 0, 8, 0, 0, 0, 0,                   /* AuthenticationOk */
                           'K', 0, 0, 0, 12, 0, 0, 0x10, 0x92, 0, 0, 0x04, 0xd2, /* pid 4242, key 1234 */
                           'Z', 0, 0, 0, 5, 'I'};                         /* ReadyForQuery */
  if (write(c, hello, sizeof hello) != (ssize_t)sizeof hello) return NULL;
  if (fake_setup_answer(c, timeout_ms) != 0) return NULL;
  if (fake_read_full(c, buf, 5) != 0) return NULL; /* the first message of the query (Parse) */
  if (!f->answer_cancel) {
    for (;;) pause(); /* frozen: the process ends the thread */
  }
  int cc = accept(f->lfd, NULL, NULL);
  if (fake_read_full(cc, buf, 16) == 0 && fake_get32(buf) == 16 && fake_get32(buf + 4) == 80877102 && fake_get32(buf + 8) == 4242 &&
      fake_get32(buf + 12) == 1234)
    atomic_store(&f->cancel_ok, 1);
  static const char body[] = "SERROR\0C57014\0Mcanceling statement due to user request\0";
  unsigned char e[128];
  size_t n = 0;
  e[n++] = 'E';
  put32(e + n, (uint32_t)(4 + sizeof body)); /* sizeof counts the final terminator */
  n += 4;
  memcpy(e + n, body, sizeof body);
  n += sizeof body;
  memcpy(e + n, "Z\0\0\0\5I", 6);
  n += 6;
  if (write(c, e, n) != (ssize_t)n) return NULL;
  close(cc); /* the cancel is processed: PQcancel sees EOF */
  for (;;) pause();
}

static void fake_pg_start(fake_pg *f, int answer_cancel) {
  memset(f, 0, sizeof *f);
  f->lfd = fake_listener(&f->port);
  f->answer_cancel = answer_cancel;
  pthread_create(&f->th, NULL, fake_pg_main, f);
  pthread_detach(f->th);
}

/* ------------------------------------------------------------ a pooler in between */

/* pgbouncer's default: the first connection's startup packet carries
   `options`, refused ("unsupported startup parameter"); the second must come
   without, gets the setup answered with the server's statement_timeout "0"
   (the options never arrived), and its statement must come in one pipeline
   after a set_config of the pool's statement_timeout. */
typedef struct fake_pooler {
  int lfd, port;
  atomic_int refused, second_had_options, pipelined_timeout; /* what the fake saw */
  pthread_t th;
} fake_pooler;

static int fake_startup(int c, unsigned char *buf, size_t cap, uint32_t *len) {
  for (;;) {
    if (fake_read_full(c, buf, 4) != 0) return -1;
    *len = fake_get32(buf);
    if (*len < 8 || *len > cap || fake_read_full(c, buf + 4, *len - 4) != 0) return -1;
    uint32_t code = fake_get32(buf + 4);
    if (code != 80877103 && code != 80877104) return 0;
    if (write(c, "N", 1) != 1) return -1;
  }
}

static int has(const unsigned char *b, size_t n, const char *s) {
  for (size_t i = 0; i + strlen(s) <= n; i++)
    if (memcmp(b + i, s, strlen(s)) == 0) return 1;
  return 0;
}

static void *fake_pooler_main(void *arg) {
  fake_pooler *f = arg;
  unsigned char buf[4096];
  uint32_t len;
  int c = accept(f->lfd, NULL, NULL);
  if (fake_startup(c, buf, sizeof buf, &len) != 0) return NULL;
  if (has(buf, len, "options")) {
    static const char body[] = "SFATAL\0C08P01\0Munsupported startup parameter: options\0";
    unsigned char e[128];
    size_t n = fake_setup_msg(e, 'E', body, sizeof body);
    if (write(c, e, n) != (ssize_t)n) return NULL;
    atomic_store(&f->refused, 1);
  }
  close(c);
  c = accept(f->lfd, NULL, NULL);
  if (fake_startup(c, buf, sizeof buf, &len) != 0) return NULL;
  atomic_store(&f->second_had_options, has(buf, len, "options"));
  unsigned char hello[] = {'R', 0, 0, 0, 8, 0, 0, 0, 0, 'K', 0, 0, 0, 12, 0, 0, 0x10, 0x92, 0, 0, 0x04, 0xd2,
                           'Z', 0, 0, 0, 5, 'I'};
  if (write(c, hello, sizeof hello) != (ssize_t)sizeof hello) return NULL;
  if (fake_setup_answer(c, "0") != 0) return NULL;
  size_t got = 0; /* Parse, Bind, Describe, Execute twice, then Sync */
  for (;;) {
    if (got + 5 > sizeof buf || fake_read_full(c, buf + got, 5) != 0) return NULL;
    char type = (char)buf[got];
    uint32_t l = fake_get32(buf + got + 1);
    got += 5;
    if (l < 4 || got + l - 4 > sizeof buf || fake_read_full(c, buf + got, l - 4) != 0) return NULL;
    got += l - 4;
    if (type == 'S') break;
  }
  atomic_store(&f->pipelined_timeout, has(buf, got, "set_config('statement_timeout'") && has(buf, got, "30000"));
  unsigned char out[1024];
  size_t n = 0;
  const char *vals[2] = {"30000", "1"};
  for (int q = 0; q < 2; q++) {
    n += fake_setup_msg(out + n, '1', NULL, 0);
    n += fake_setup_msg(out + n, '2', NULL, 0);
    n += fake_setup_row(out + n, vals[q]);
    n += fake_setup_msg(out + n, 'C', "SELECT 1", 9);
  }
  n += fake_setup_msg(out + n, 'Z', "I", 1);
  if (write(c, out, n) != (ssize_t)n) return NULL;
  for (;;) pause();
}

START_TEST(a_pooler_refusing_options_gets_the_timeout_per_transaction) {
  fake_pooler f;
  memset(&f, 0, sizeof f);
  f.lfd = fake_listener(&f.port);
  pthread_create(&f.th, NULL, fake_pooler_main, &f);
  pthread_detach(f.th);
  static gpx_ds_settings st;
  settings_for(&st, f.port, 30, 2);
  gpx_pg_pool *p;
  ck_assert_int_eq(gpx_pg_pool_new(&st, NULL, &p, NULL), 0);
  gpx_pg_session s;
  gpx_pg_error pe;
  ck_assert_msg(gpx_pg_acquire(p, &s, NULL, NULL, fake_real_now_ms() + 5000, &pe) == 0, "acquire: %s", pe.msg);
  ck_assert_int_eq(atomic_load(&f.refused), 1);
  ck_assert_int_eq(atomic_load(&f.second_had_options), 0);
  ck_assert_int_eq(gpx_pg_pool_behind_pooler(p), 1);
  PGresult *r = NULL;
  ck_assert_msg(gpx_pg_exec(&s, "SELECT 1", 0, NULL, 0, &r, &pe) == 0, "exec: %s", pe.msg);
  ck_assert_int_eq(atomic_load(&f.pipelined_timeout), 1);
  ck_assert_str_eq(PQgetvalue(r, 0, 0), "1"); /* the statement's result, not the set_config's */
  PQclear(r);
  ck_assert_int_eq(PQpipelineStatus(s.conn), PQ_PIPELINE_OFF);
  gpx_pg_release(&s);
  int open, idle;
  gpx_pg_pool_stats(p, &open, &idle);
  ck_assert_int_eq(idle, 1); /* healthy: pooled */
  gpx_pg_pool_free(p);
}
END_TEST

/* Check out a connection to the fake server and run one statement on it. */
static int run_on_fake(fake_pg *f, int timeout_s, gpx_pg_cancel_fn cancelled, void *arg, int64_t caller_deadline_ms,
                       gpx_pg_pool **pool, gpx_pg_session *s, gpx_pg_error *pe, int64_t *took_ms) {
  static gpx_ds_settings st; /* borrowed by the pool: outlives this call */
  settings_for(&st, f->port, timeout_s, 2);
  ck_assert_int_eq(gpx_pg_pool_new(&st, NULL, pool, NULL), 0);
  int64_t t0 = gpx_pg_now_ms();
  int rc = gpx_pg_acquire(*pool, s, cancelled, arg, caller_deadline_ms, pe);
  ck_assert_msg(rc == 0, "acquire: %s", pe->msg);
  PGresult *r = NULL;
  rc = gpx_pg_exec(s, "SELECT 1", 0, NULL, 0, &r, pe);
  *took_ms = gpx_pg_now_ms() - t0;
  PQclear(r);
  return rc;
}

START_TEST(statement_on_a_frozen_server_is_abandoned_after_the_grace) {
  fake_pg f;
  fake_pg_start(&f, 0);
  gpx_pg_pool *p;
  gpx_pg_session s;
  gpx_pg_error pe;
  int64_t took;
  int rc = run_on_fake(&f, 30, NULL, NULL, fake_real_now_ms() + 400, &p, &s, &pe, &took);
  ck_assert_int_eq(rc, ETIMEDOUT);
  ck_assert_int_eq(pe.status, GPX_PG_TIMEOUT);
  ck_assert_int_eq(s.broken, 1);
  /* deadline 400 ms + grace 500 ms */
  ck_assert_msg(took >= 400 + GPX_PG_CANCEL_GRACE_MS - 20 && took < 400 + GPX_PG_CANCEL_GRACE_MS + 300,
                "answered after %lld ms", (long long)took);
  ck_assert_int_eq(gpx__pg_cancel_threads(), 1); /* still blocked in PQcancel, detached */
  int open, idle;
  gpx_pg_release(&s);
  gpx_pg_pool_stats(p, &open, &idle);
  ck_assert_int_eq(open, 0); /* abandoned: closed, slot freed */
  ck_assert_int_eq(idle, 0);
  gpx_pg_pool_free(p);
}
END_TEST

START_TEST(caller_gone_on_a_frozen_server_answers_within_the_grace) {
  fake_pg f;
  fake_pg_start(&f, 0);
  gpx_pg_pool *p;
  gpx_pg_session s;
  gpx_pg_error pe;
  int64_t took, at = gpx_pg_now_ms() + 200;
  int rc = run_on_fake(&f, 30, cancel_after, &at, 0, &p, &s, &pe, &took);
  ck_assert_int_eq(rc, ECANCELED);
  ck_assert_int_eq(pe.status, GPX_PG_CANCELLED);
  ck_assert_msg(took < 200 + GPX_PG_CANCEL_GRACE_MS + 300, "answered after %lld ms", (long long)took);
  gpx_pg_release(&s);
  gpx_pg_pool_free(p);
}
END_TEST

START_TEST(a_server_that_answers_the_cancel_keeps_its_connection) {
  fake_pg f;
  fake_pg_start(&f, 1);
  gpx_pg_pool *p;
  gpx_pg_session s;
  gpx_pg_error pe;
  int64_t took;
  int rc = run_on_fake(&f, 30, NULL, NULL, fake_real_now_ms() + 300, &p, &s, &pe, &took);
  ck_assert_int_eq(rc, ETIMEDOUT);
  ck_assert_int_eq(pe.status, GPX_PG_TIMEOUT); /* our deadline, not the caller's cancel */
  ck_assert_str_eq(pe.sqlstate, "57014");
  ck_assert_int_eq(s.broken, 0);
  ck_assert_msg(took < 300 + 200, "answered after %lld ms (the server answered the cancel)", (long long)took);
  ck_assert_int_eq(atomic_load(&f.cancel_ok), 1);
  /* a further statement on a stopped session fails at once, nothing sent */
  PGresult *r = NULL;
  ck_assert_int_eq(gpx_pg_exec(&s, "SELECT 2", 0, NULL, 0, &r, &pe), ETIMEDOUT);
  int open, idle;
  gpx_pg_release(&s);
  gpx_pg_pool_stats(p, &open, &idle);
  ck_assert_int_eq(open, 1); /* back in the pool */
  ck_assert_int_eq(idle, 1);
  gpx_pg_pool_free(p);
}
END_TEST

static Suite *pg_suite(void) {
  Suite *s = suite_create("pg");
  TCase *tc = tcase_create("binary");
  tcase_add_loop_test(tc, numeric_binary_matches_strtod, 0, (int)(sizeof values / sizeof values[0]));
  tcase_add_test(tc, numeric_special_and_malformed);
  suite_add_tcase(s, tc);
  TCase *dl = tcase_create("deadlines");
  tcase_add_test(dl, conninfo_has_keepalives_and_user_timeout);
  tcase_add_test(dl, deadline_is_the_earlier_of_timeout_and_caller);
  tcase_add_test(dl, connect_to_blackhole_is_abandoned_at_the_deadline);
  tcase_add_test(dl, connect_is_abandoned_when_the_caller_goes_away);
  tcase_add_test(dl, each_host_of_a_list_gets_its_share);
  tcase_add_test(dl, waiting_for_a_slot_ends_at_the_deadline_or_on_cancel);
  tcase_add_test(dl, statement_on_a_frozen_server_is_abandoned_after_the_grace);
  tcase_add_test(dl, caller_gone_on_a_frozen_server_answers_within_the_grace);
  tcase_add_test(dl, a_server_that_answers_the_cancel_keeps_its_connection);
  tcase_add_test(dl, a_pooler_refusing_options_gets_the_timeout_per_transaction);
  tcase_set_timeout(dl, 10);
  suite_add_tcase(s, dl);
  return s;
}

GPX_CHECK_MAIN(pg_suite)
