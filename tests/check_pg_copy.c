/*
** check_pg_copy.c — Check suite for src/pg/copy.c: COPY reads on one or
** two sessions at once, against a few lines of the wire protocol playing
** the server (check_pg.c does the same for single statements): rows parsed
** from the binary COPY format, a read whose server freezes mid-stream ends
** at the deadline plus the cancel's grace (and the other read with it), and
** a consumer that stops a read gets ECANCELED. Reads against a real Postgres
** are tested by tests/analytics (stats, breakdown, drawdown_episodes).
*/
#include <arpa/inet.h>
#include <check.h>
#include <endian.h>
#include <math.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "gpx/pg.h"
#include "pg/pg_int.h"

#include "check_main.h"
#include "support/fake_setup.h"

/* one COPY tuple of (int8 i, int4 10·i), the binary header before the first */
static size_t tuple(unsigned char *out, int i, int first) {
  size_t n = 0;
  if (first) {
    static const char sig[11] = {'P', 'G', 'C', 'O', 'P', 'Y', '\n', '\377', '\r', '\n', '\0'};
    memcpy(out, sig, 11);
    memset(out + 11, 0, 8); /* flags, header extension length */
    n = 19;
  }
  uint16_t nf = htobe16(2);
  uint32_t l8 = htobe32(8), l4 = htobe32(4), v4 = htobe32((uint32_t)(10 * i));
  uint64_t v8 = htobe64((uint64_t)i);
  memcpy(out + n, &nf, 2), n += 2;
  memcpy(out + n, &l8, 4), n += 4;
  memcpy(out + n, &v8, 8), n += 8;
  memcpy(out + n, &l4, 4), n += 4;
  memcpy(out + n, &v4, 4), n += 4;
  return n;
}

typedef struct fake_copy {
  int lfd, port;
  int rows;   /* rows to send */
  int freeze; /* then stop answering instead of ending the COPY */
  pthread_t th;
} fake_copy;

static void *fake_copy_main(void *arg) {
  fake_copy *f = arg;
  int c = accept(f->lfd, NULL, NULL);
  unsigned char buf[4096];
  char timeout_ms[16] = "0";
  for (;;) { /* encryption requests get 'N', then the startup packet */
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
  unsigned char hello[] = {'R', 0, 0, 0, 8, 0, 0, 0, 0, 'K', 0, 0, 0, 12, 0, 0, 0x10, 0x92, 0, 0, 0x04, 0xd2,
                           'Z', 0, 0, 0, 5, 'I'};
  if (write(c, hello, sizeof hello) != (ssize_t)sizeof hello) return NULL;
  if (fake_setup_answer(c, timeout_ms) != 0) return NULL;
  for (;;) { /* Parse, Bind, Describe, Execute, then Sync */
    if (fake_read_full(c, buf, 5) != 0) return NULL;
    char type = (char)buf[0];
    uint32_t len = fake_get32(buf + 1);
    if (len < 4 || len - 4 > sizeof buf || fake_read_full(c, buf, len - 4) != 0) return NULL;
    if (type == 'S') break;
  }
  unsigned char out[8192];
  size_t n = 0;
  n += fake_setup_msg(out + n, '1', NULL, 0);
  n += fake_setup_msg(out + n, '2', NULL, 0);
  n += fake_setup_msg(out + n, 'n', NULL, 0);
  unsigned char h[7] = {1, 0, 2, 0, 1, 0, 1}; /* binary, 2 columns, both binary */
  n += fake_setup_msg(out + n, 'H', h, sizeof h);
  for (int i = 0; i < f->rows; i++) {
    unsigned char t[64];
    n += fake_setup_msg(out + n, 'd', t, (uint32_t)tuple(t, i + 1, i == 0));
  }
  if (!f->freeze) {
    unsigned char trailer[2] = {0xff, 0xff};
    n += fake_setup_msg(out + n, 'd', trailer, 2);
    n += fake_setup_msg(out + n, 'c', NULL, 0);
    n += fake_setup_msg(out + n, 'C', "COPY 3", 7);
    n += fake_setup_msg(out + n, 'Z', "I", 1);
  }
  if (write(c, out, n) != (ssize_t)n) return NULL;
  for (;;) pause(); /* frozen, or idle until the test ends */
}

static void fake_start(fake_copy *f, int rows, int freeze) {
  memset(f, 0, sizeof *f);
  f->lfd = fake_listener(&f->port);
  f->rows = rows;
  f->freeze = freeze;
  pthread_create(&f->th, NULL, fake_copy_main, f);
  pthread_detach(f->th);
}

/* a session on its own pool to fake f */
static gpx_pg_pool *session_to(fake_copy *f, gpx_ds_settings *st, gpx_pg_session *s, int64_t deadline_ms) {
  gpx_ds_settings_default(st);
  snprintf(st->host, sizeof st->host, "127.0.0.1");
  st->port = f->port;
  st->query_timeout_s = 30;
  st->max_open_connections = 2;
  gpx_pg_pool *p = NULL;
  ck_assert_int_eq(gpx_pg_pool_new(st, NULL, &p, NULL), 0);
  gpx_pg_error pe;
  ck_assert_msg(gpx_pg_acquire(p, s, NULL, NULL, deadline_ms, &pe) == 0, "acquire: %s", pe.msg);
  return p;
}

typedef struct rows_seen {
  int n, stop_at;
  int64_t sum8;
  double sum4;
} rows_seen;

static int on_row(const gpx_pg_value *row, int ncols, void *arg) {
  rows_seen *r = arg;
  ck_assert_int_eq(ncols, 2);
  r->n++;
  r->sum8 += (int64_t)gpx_pg_number(20, row[0].p, row[0].len);
  r->sum4 += gpx_pg_number(23, row[1].p, row[1].len);
  return r->stop_at && r->n >= r->stop_at;
}

static void copy_init(gpx_pg_copy *c, gpx_pg_session *s, rows_seen *r) {
  memset(c, 0, sizeof *c);
  c->s = s;
  c->select = "SELECT i, j FROM t"; /* the fake does not read it */
  c->fn = on_row;
  c->arg = r;
  c->ncols = 2; /* what gpx_pg_copy_describe would have learnt */
  c->types[0] = 20;
  c->types[1] = 23;
}

START_TEST(rows_of_two_reads_at_once) {
  fake_copy f1, f2;
  fake_start(&f1, 3, 0);
  fake_start(&f2, 2, 0);
  gpx_ds_settings st1, st2;
  gpx_pg_session s1, s2;
  gpx_pg_pool *p1 = session_to(&f1, &st1, &s1, 0), *p2 = session_to(&f2, &st2, &s2, 0);
  rows_seen r1 = {0}, r2 = {0};
  gpx_pg_copy c1, c2;
  copy_init(&c1, &s1, &r1);
  copy_init(&c2, &s2, &r2);
  gpx_pg_copy *both[2] = {&c1, &c2};
  gpx_pg_error pe;
  ck_assert_msg(gpx_pg_copy_run(both, 2, &pe) == 0, "run: %s", pe.msg);
  /* rows 1..3: Σ i = 6, Σ 10·i = 60; rows 1..2: 3 and 30 */
  ck_assert_int_eq(r1.n, 3);
  ck_assert_int_eq(r1.sum8, 6);
  ck_assert(r1.sum4 == 60);
  ck_assert_int_eq(r2.n, 2);
  ck_assert_int_eq(r2.sum8, 3);
  ck_assert_int_eq(s1.broken, 0);
  gpx_pg_release(&s1);
  gpx_pg_release(&s2);
  int open, idle;
  gpx_pg_pool_stats(p1, &open, &idle);
  ck_assert_int_eq(idle, 1); /* the read ended cleanly: pooled again */
  gpx_pg_pool_free(p1);
  gpx_pg_pool_free(p2);
}
END_TEST

START_TEST(a_frozen_read_ends_at_the_deadline_and_stops_the_other) {
  fake_copy f1, f2;
  fake_start(&f1, 2, 1); /* two rows, then nothing */
  fake_start(&f2, 1, 1);
  gpx_ds_settings st1, st2;
  gpx_pg_session s1, s2;
  int64_t dl = fake_real_now_ms() + 400;
  gpx_pg_pool *p1 = session_to(&f1, &st1, &s1, dl), *p2 = session_to(&f2, &st2, &s2, dl);
  rows_seen r1 = {0}, r2 = {0};
  gpx_pg_copy c1, c2;
  copy_init(&c1, &s1, &r1);
  copy_init(&c2, &s2, &r2);
  gpx_pg_copy *both[2] = {&c1, &c2};
  gpx_pg_error pe;
  int64_t t0 = gpx_pg_now_ms();
  ck_assert_int_eq(gpx_pg_copy_run(both, 2, &pe), ETIMEDOUT);
  int64_t took = gpx_pg_now_ms() - t0;
  ck_assert_int_eq(pe.status, GPX_PG_TIMEOUT);
  ck_assert_int_eq(r1.n, 2); /* the rows that came were folded */
  /* deadline ~400 ms, then the grace for the cancel nobody answers */
  ck_assert_msg(took >= 300 && took < 400 + GPX_PG_CANCEL_GRACE_MS + 300, "ended after %lld ms", (long long)took);
  ck_assert_int_eq(s1.broken, 1);
  ck_assert_int_eq(s2.broken, 1);
  gpx_pg_release(&s1);
  gpx_pg_release(&s2);
  gpx_pg_pool_free(p1);
  gpx_pg_pool_free(p2);
}
END_TEST

START_TEST(a_consumer_stop_is_ecanceled) {
  fake_copy f;
  fake_start(&f, 3, 0);
  gpx_ds_settings st;
  gpx_pg_session s;
  gpx_pg_pool *p = session_to(&f, &st, &s, 0);
  rows_seen r = {.stop_at = 1};
  gpx_pg_copy c;
  copy_init(&c, &s, &r);
  gpx_pg_copy *one[1] = {&c};
  gpx_pg_error pe;
  ck_assert_int_eq(gpx_pg_copy_run(one, 1, &pe), ECANCELED);
  ck_assert_msg(strstr(pe.msg, "consumer") != NULL, "message: %s", pe.msg);
  ck_assert_int_eq(r.n, 1); /* not called again once it said stop */
  gpx_pg_release(&s);
  gpx_pg_pool_free(p);
}
END_TEST

START_TEST(one_read_failing_stops_the_other) {
  fake_copy f1, f2;
  fake_start(&f1, 3, 0);
  fake_start(&f2, 1, 1); /* frozen, and no deadline: only the stop can end it */
  gpx_ds_settings st1, st2;
  gpx_pg_session s1, s2;
  gpx_pg_pool *p1 = session_to(&f1, &st1, &s1, 0), *p2 = session_to(&f2, &st2, &s2, 0);
  rows_seen r1 = {.stop_at = 2}, r2 = {0};
  gpx_pg_copy c1, c2;
  copy_init(&c1, &s1, &r1);
  copy_init(&c2, &s2, &r2);
  gpx_pg_copy *both[2] = {&c1, &c2};
  gpx_pg_error pe;
  int64_t t0 = gpx_pg_now_ms();
  ck_assert_int_eq(gpx_pg_copy_run(both, 2, &pe), ECANCELED); /* the first failure is the one reported */
  int64_t took = gpx_pg_now_ms() - t0;
  ck_assert_msg(took < GPX_PG_CANCEL_GRACE_MS + 300, "ended after %lld ms", (long long)took);
  ck_assert_int_eq(s2.broken, 1); /* its server never answered the cancel: abandoned */
  gpx_pg_release(&s1);
  gpx_pg_release(&s2);
  gpx_pg_pool_free(p1);
  gpx_pg_pool_free(p2);
}
END_TEST

START_TEST(literal_and_number_decoding) {
  /* int2/int4/int8/float4/float8 in binary; other types are NaN */
  unsigned char b8[8] = {0, 0, 0, 0, 0, 0, 0x01, 0x00}, b2[2] = {0xff, 0xfe};
  ck_assert(gpx_pg_number(20, (const char *)b8, 8) == 256);
  ck_assert(gpx_pg_number(21, (const char *)b2, 2) == -2);
  ck_assert(isnan(gpx_pg_number(25, (const char *)b8, 8)));
  ck_assert(isnan(gpx_pg_number(20, NULL, -1)));
  gpx_buf b = {0};
  gpx_pg_session none = {0};
  ck_assert_int_eq(gpx_pg_literal(&none, &b, "x"), EINVAL); /* no connection to quote for */
  gpx_buf_reset(&b);
}
END_TEST

static Suite *pg_copy_suite(void) {
  Suite *s = suite_create("pg_copy");
  TCase *tc = tcase_create("copy");
  tcase_add_test(tc, rows_of_two_reads_at_once);
  tcase_add_test(tc, a_frozen_read_ends_at_the_deadline_and_stops_the_other);
  tcase_add_test(tc, a_consumer_stop_is_ecanceled);
  tcase_add_test(tc, one_read_failing_stops_the_other);
  tcase_add_test(tc, literal_and_number_decoding);
  tcase_set_timeout(tc, 10);
  suite_add_tcase(s, tc);
  return s;
}

GPX_CHECK_MAIN(pg_copy_suite)
