/*
** check_rpc.c — Check suite for src/rpc/: a real server on a unix socket,
** driven by a gRPC C core client (rpc_client.h) in the same process.
** Lifecycle: the server starts, serves no one and stops cleanly; a bad
** address is an error, not a crash. Calls: unary echo and UNIMPLEMENTED;
** a 10,000-message server stream arrives whole and in order; a stream the
** client cancels half-way ends its handler at once and the server keeps
** serving; streams open at shutdown end promptly (an idle one with OK);
** the stream limit, deadlines and gpx_rpc_wait_cancelled. Each test is its
** own process (Check forks), so the handlers' globals start at zero.
*/
#include <check.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "gpx/rpc.h"

#include "check_main.h"
#include "rpc_client.h"

/* ------------------------------------------------------- test handlers */

static atomic_int g_started;  /* streaming handlers that began */
static atomic_int g_returned; /* streaming handlers that returned */
static atomic_int g_sent;     /* messages count_stream sent */
static atomic_int g_send_rc;  /* count_stream's failing gpx_rpc_send result */
static _Atomic int64_t g_fail_ms; /* when that send failed (monotonic ms) */
static atomic_int g_waited_ms;
static atomic_int g_not_stolen; /* gpx_rpc_send_steal left the buffer */

static int64_t now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void echo(gpx_rpc_ctx *ctx, const uint8_t *req, size_t len, gpx_rpc_reply *r) {
  if (gpx_rpc_send(ctx, req, len) != EINVAL) { /* unary handlers cannot stream */
    gpx_rpc_reply_error(r, GPX_RPC_INTERNAL, "gpx_rpc_send worked in a unary handler");
    return;
  }
  gpx_buf_append(&r->body, req, len);
  r->has_body = 1;
}

/* Message i of a count_stream: its index (4 bytes, little-endian), then
   bytes (i + j) & 0xff, `size` bytes in all (size >= 4). */
static void fill_message(uint8_t *p, size_t size, uint32_t i) {
  p[0] = (uint8_t)i;
  p[1] = (uint8_t)(i >> 8);
  p[2] = (uint8_t)(i >> 16);
  p[3] = (uint8_t)(i >> 24);
  for (size_t j = 4; j < size; j++) p[j] = (uint8_t)(i + j);
}

/* Request "count size": count messages; even ones through gpx_rpc_send (a
   copy), odd ones through gpx_rpc_send_steal (none). */
static void count_stream(gpx_rpc_ctx *ctx, const uint8_t *req, size_t len, gpx_rpc_reply *r) {
  atomic_fetch_add(&g_started, 1);
  char text[64];
  snprintf(text, sizeof text, "%.*s", (int)len, (const char *)req);
  long count = 0, size = 0;
  if (sscanf(text, "%ld %ld", &count, &size) != 2 || count < 0 || size < 4 || size > (1 << 20)) {
    gpx_rpc_reply_error(r, GPX_RPC_INVALID_ARGUMENT, "want \"count size\", got \"%s\"", text);
    atomic_fetch_add(&g_returned, 1);
    return;
  }
  uint8_t *copy = malloc((size_t)size);
  for (long i = 0; i < count; i++) {
    int rc;
    if (i % 2 == 0) {
      fill_message(copy, (size_t)size, (uint32_t)i);
      rc = gpx_rpc_send(ctx, copy, (size_t)size);
    } else {
      gpx_buf b = {0};
      gpx_buf_reserve(&b, (size_t)size);
      fill_message(b.data, (size_t)size, (uint32_t)i);
      b.len = (size_t)size;
      rc = gpx_rpc_send_steal(ctx, &b);
      if (b.data != NULL) atomic_store(&g_not_stolen, 1); /* stolen, also on failure */
    }
    if (rc != GPX_OK) {
      atomic_store(&g_fail_ms, now_ms());
      atomic_store(&g_send_rc, rc);
      gpx_rpc_reply_error(r, GPX_RPC_UNAVAILABLE, "send failed after %ld messages", i);
      break;
    }
    atomic_fetch_add(&g_sent, 1);
  }
  free(copy);
  atomic_fetch_add(&g_returned, 1);
}

/* Shaped like go-plugin's StreamStdio: silent until cancelled, then OK. */
static void idle_stream(gpx_rpc_ctx *ctx, const uint8_t *req, size_t len, gpx_rpc_reply *r) {
  atomic_fetch_add(&g_started, 1);
  while (!gpx_rpc_wait_cancelled(ctx, 10 * 1000)) {
  }
  atomic_fetch_add(&g_returned, 1);
}

/* Three messages 30 ms apart (gpx_rpc_wait_cancelled as a timer), then a
   last one carried by the reply, with the status. */
static void tick_stream(gpx_rpc_ctx *ctx, const uint8_t *req, size_t len, gpx_rpc_reply *r) {
  int64_t t0 = now_ms();
  for (int i = 0; i < 3; i++) {
    if (gpx_rpc_wait_cancelled(ctx, 30)) return;
    char m[8];
    snprintf(m, sizeof m, "tick%d", i);
    if (gpx_rpc_send(ctx, (const uint8_t *)m, strlen(m)) != GPX_OK) return;
  }
  atomic_store(&g_waited_ms, (int)(now_ms() - t0));
  gpx_buf_append_str(&r->body, "last");
  r->has_body = 1;
}

/* A unary call that holds its worker until g_release (or 5 s). */
static atomic_int g_release, g_blocked;
static void block(gpx_rpc_ctx *ctx, const uint8_t *req, size_t len, gpx_rpc_reply *r) {
  atomic_fetch_add(&g_blocked, 1);
  for (int i = 0; i < 500 && !atomic_load(&g_release) && !gpx_rpc_cancelled(ctx); i++) usleep(10 * 1000);
  gpx_buf_append(&r->body, req, len);
  r->has_body = 1;
}

static const gpx_rpc_method methods[] = {
    {"/t.T/Echo", "Echo", echo, GPX_RPC_POOL},
    {"/t.T/Block", "Block", block, GPX_RPC_POOL},
    {"/t.T/None", "None", NULL, GPX_RPC_INLINE},
    {"/t.T/Count", "Count", count_stream, GPX_RPC_STREAM},
    {"/t.T/Idle", "Idle", idle_stream, GPX_RPC_STREAM},
    {"/t.T/Tick", "Tick", tick_stream, GPX_RPC_STREAM},
};
#define N_METHODS (sizeof methods / sizeof methods[0])

/* ------------------------------------------------------- server fixture */

typedef struct fixture {
  gpx_rpc_server *s;
  pthread_t th;
  char sock[80]; /* "unix:/tmp/…" for both sides */
  gpx_tc client;
} fixture;

static void *runner(void *arg) {
  gpx_rpc_server *s = arg;
  return (void *)(intptr_t)gpx_rpc_run(s);
}

static int g_workers, g_queued; /* 0: the server's defaults */

static void up(fixture *f, int max_streams) {
  snprintf(f->sock, sizeof f->sock, "unix:/tmp/gpx-check-%d.sock", (int)getpid());
  gpx_rpc_options o = {0};
  o.min_workers = o.max_workers = g_workers;
  o.max_queued = g_queued;
  o.address = f->sock;
  o.methods = methods;
  o.n_methods = N_METHODS;
  o.max_streams = max_streams;
  gpx_error e;
  ck_assert_int_eq(gpx_rpc_server_start(&o, &f->s, NULL, &e), GPX_OK);
  ck_assert_int_eq(pthread_create(&f->th, NULL, runner, f->s), 0);
  gpx_tc_open(&f->client, f->sock);
}

/* Stop the server; returns gpx_rpc_run's result and how long the stop took. */
static int down(fixture *f, int64_t *took_ms) {
  int64_t t0 = now_ms();
  gpx_rpc_request_shutdown(f->s);
  struct timespec until;
  clock_gettime(CLOCK_REALTIME, &until);
  until.tv_sec += 5;
  void *rc = (void *)(intptr_t)-1;
  ck_assert_msg(pthread_timedjoin_np(f->th, &rc, &until) == 0,
                "gpx_rpc_run still running 5 s after shutdown");
  if (took_ms) *took_ms = now_ms() - t0;
  gpx_rpc_server_free(f->s);
  f->s = NULL;
  return (int)(intptr_t)rc;
}

/* Poll `cond` every 5 ms until it holds or ms passed; assert it afterwards. */
#define WAIT_FOR(cond, ms)                                        \
  do {                                                            \
    int64_t wf_end = now_ms() + (ms);                             \
    while (!(cond) && now_ms() < wf_end) usleep(5 * 1000);       \
  } while (0)

static void expect_echo(fixture *f) {
  gpx_buf out = {0};
  gpx_tc_status st = {0};
  ck_assert_int_eq(gpx_tc_unary(&f->client, "/t.T/Echo", "hello", 5, 5000, &out, &st), 0);
  ck_assert_int_eq(st.code, GPX_RPC_OK);
  ck_assert_uint_eq(out.len, 5);
  ck_assert_int_eq(memcmp(out.data, "hello", 5), 0);
  gpx_buf_reset(&out);
}

static uint64_t calls_with(gpx_rpc_server *s, const char *name, int code) {
  gpx_rpc_method_stats st[N_METHODS + 1];
  size_t n = gpx_rpc_stats(s, st, N_METHODS + 1);
  for (size_t i = 0; i < n; i++)
    if (strcmp(st[i].name, name) == 0) return st[i].calls_by_code[code];
  return 0;
}

/* ---------------------------------------------------------------- tests */

START_TEST(start_and_stop) {
  fixture f;
  up(&f, 0);
  gpx_rpc_method_stats st[8];
  ck_assert_uint_eq(gpx_rpc_stats(f.s, st, 8), N_METHODS + 1); /* methods + "other" */
  ck_assert_str_eq(st[N_METHODS].name, "other");
  ck_assert_int_eq(gpx_rpc_in_flight(f.s), 0);
  gpx_tc_close(&f.client);
  usleep(100 * 1000);
  ck_assert_int_eq(down(&f, NULL), GPX_OK);
}
END_TEST

START_TEST(bad_address_is_an_error) {
  gpx_rpc_options o = {0};
  o.address = "unix:/nonexistent-dir-gpx/x/y.sock";
  o.methods = methods;
  o.n_methods = N_METHODS;
  gpx_rpc_server *s = NULL;
  gpx_error e;
  ck_assert_int_ne(gpx_rpc_server_start(&o, &s, NULL, &e), GPX_OK);
  ck_assert_ptr_null(s);
  ck_assert_ptr_nonnull(strstr(e.msg, "cannot listen"));
  ck_assert_int_eq(gpx_rpc_server_start(NULL, &s, NULL, &e), EINVAL);
}
END_TEST

START_TEST(unary_echo_and_unimplemented) {
  fixture f;
  up(&f, 0);
  expect_echo(&f);
  gpx_buf out = {0};
  gpx_tc_status st = {0};
  ck_assert_int_eq(gpx_tc_unary(&f.client, "/t.T/None", "x", 1, 5000, &out, &st), 0);
  ck_assert_int_eq(st.code, GPX_RPC_UNIMPLEMENTED);
  ck_assert_int_eq(gpx_tc_unary(&f.client, "/t.T/Nope", "x", 1, 5000, &out, &st), 0);
  ck_assert_int_eq(st.code, GPX_RPC_UNIMPLEMENTED);
  ck_assert_ptr_nonnull(strstr(st.message, "/t.T/Nope"));
  ck_assert_uint_eq(out.len, 0);
  /* Stats are recorded when the server sees its last batch complete, which
     may be a moment after the client has the answer; a call is freed after. */
  WAIT_FOR(gpx_rpc_in_flight(f.s) == 0, 2000);
  ck_assert_uint_eq(calls_with(f.s, "other", GPX_RPC_UNIMPLEMENTED), 1);
  ck_assert_uint_eq(calls_with(f.s, "None", GPX_RPC_UNIMPLEMENTED), 1);
  ck_assert_uint_eq(calls_with(f.s, "Echo", GPX_RPC_OK), 1);
  gpx_tc_close(&f.client);
  ck_assert_int_eq(down(&f, NULL), GPX_OK);
}
END_TEST

/* One client thread making one Block call. */
typedef struct caller {
  const char *sock;
  int64_t deadline_ms, took_ms;
  int code;
  pthread_t th;
} caller;

static void *call_block(void *arg) {
  caller *c = arg;
  gpx_tc t;
  gpx_tc_open(&t, c->sock);
  gpx_buf out = {0};
  gpx_tc_status st = {0};
  int64_t t0 = now_ms();
  c->code = gpx_tc_unary(&t, "/t.T/Block", "b", 1, c->deadline_ms, &out, &st) == 0 ? st.code : -1;
  c->took_ms = now_ms() - t0;
  gpx_buf_reset(&out);
  gpx_tc_close(&t);
  return NULL;
}

static void start_call(caller *c, fixture *f, int64_t deadline_ms) {
  c->sock = f->sock;
  c->deadline_ms = deadline_ms;
  ck_assert_int_eq(pthread_create(&c->th, NULL, call_block, c), 0);
}

/* Backpressure (issue 10, problem 4): calls waiting for a worker are
   bounded — beyond the queue a call is refused at once, never left to wait
   without limit; a queued call whose client left is taken out of the queue
   (its payload freed, its place given to the next); Health's "saturated"
   says when the next call would be refused. */
START_TEST(queue_is_bounded_and_left_calls_leave_it) {
  g_workers = 1, g_queued = 2;
  fixture f;
  up(&f, 0);
  caller a, b, c, d, e, g;
  start_call(&a, &f, 10000);
  WAIT_FOR(atomic_load(&g_blocked) == 1, 3000);
  ck_assert_int_eq(atomic_load(&g_blocked), 1);
  start_call(&b, &f, 600); /* gives up while queued */
  start_call(&c, &f, 10000);
  WAIT_FOR(gpx_rpc_saturated(f.s), 3000);
  ck_assert_int_eq(gpx_rpc_saturated(f.s), 1);
  start_call(&d, &f, 10000);
  start_call(&e, &f, 10000);
  pthread_join(d.th, NULL);
  pthread_join(e.th, NULL);
  ck_assert_int_eq(d.code, GPX_RPC_RESOURCE_EXHAUSTED);
  ck_assert_int_eq(e.code, GPX_RPC_RESOURCE_EXHAUSTED);
  ck_assert_msg(d.took_ms < 1000 && e.took_ms < 1000, "refusals took %lld and %lld ms", (long long)d.took_ms,
                (long long)e.took_ms);
  pthread_join(b.th, NULL);
  ck_assert_int_eq(b.code, GPX_RPC_DEADLINE_EXCEEDED);
  /* b left the queue: there is room again */
  WAIT_FOR(!gpx_rpc_saturated(f.s), 3000);
  ck_assert_int_eq(gpx_rpc_saturated(f.s), 0);
  start_call(&g, &f, 10000);
  usleep(100 * 1000);
  atomic_store(&g_release, 1);
  pthread_join(a.th, NULL);
  pthread_join(c.th, NULL);
  pthread_join(g.th, NULL);
  ck_assert_int_eq(a.code, GPX_RPC_OK);
  ck_assert_int_eq(c.code, GPX_RPC_OK);
  ck_assert_int_eq(g.code, GPX_RPC_OK);
  ck_assert_int_eq(atomic_load(&g_blocked), 3); /* b never ran: its client had left */
  WAIT_FOR(gpx_rpc_in_flight(f.s) == 0, 2000);
  ck_assert_int_eq(gpx_rpc_in_flight(f.s), 0);
  gpx_tc_close(&f.client);
  ck_assert_int_eq(down(&f, NULL), GPX_OK);
}
END_TEST

START_TEST(stream_10000_in_order) {
  enum { COUNT = 10000, SIZE = 64 };
  fixture f;
  up(&f, 0);
  gpx_tc_stream s;
  char req[32];
  snprintf(req, sizeof req, "%d %d", COUNT, SIZE);
  int64_t t0 = now_ms();
  ck_assert_int_eq(gpx_tc_stream_start(&f.client, &s, "/t.T/Count", req, strlen(req), 60000), 0);
  gpx_buf m = {0};
  uint8_t want[SIZE];
  int got = 0;
  for (;;) {
    m.len = 0;
    int rc = gpx_tc_stream_next(&s, &m, 10000);
    ck_assert_int_ge(rc, 0);
    if (rc == 0) break;
    ck_assert_uint_eq(m.len, SIZE);
    fill_message(want, SIZE, (uint32_t)got);
    ck_assert_msg(memcmp(m.data, want, SIZE) == 0, "message %d out of order or corrupt", got);
    got++;
  }
  gpx_tc_status st = {0};
  ck_assert_int_eq(gpx_tc_stream_status(&s, 5000, &st), 0);
  int64_t took = now_ms() - t0;
  ck_assert_int_eq(st.code, GPX_RPC_OK);
  ck_assert_int_eq(got, COUNT);
  ck_assert_int_eq(atomic_load(&g_sent), COUNT);
  ck_assert_int_eq(atomic_load(&g_not_stolen), 0);
  fprintf(stderr, "measure: %d x %d-byte stream messages in %lld ms (%.0f messages/s)\n", COUNT, SIZE,
          (long long)took, took > 0 ? COUNT * 1000.0 / (double)took : 0.0);
  gpx_buf_reset(&m);
  gpx_tc_stream_free(&s);
  WAIT_FOR(gpx_rpc_in_flight(f.s) == 0, 2000);
  ck_assert(gpx_rpc_in_flight(f.s) == 0);
  ck_assert_uint_eq(calls_with(f.s, "Count", GPX_RPC_OK), 1);
  gpx_tc_close(&f.client);
  ck_assert_int_eq(down(&f, NULL), GPX_OK);
}
END_TEST

/* 10,000 messages of 4 KiB, so that the 20 MB still unsent when the client
   leaves after 5,000 is far beyond the flow-control windows (a sender ran
   ~4.7 MB ahead of a client that stopped reading, see the shutdown test):
   the handler is certainly still sending. */
START_TEST(stream_cancelled_halfway) {
  fixture f;
  up(&f, 0);
  gpx_tc_stream s;
  const char *req = "10000 4096";
  ck_assert_int_eq(gpx_tc_stream_start(&f.client, &s, "/t.T/Count", req, strlen(req), 60000), 0);
  gpx_buf m = {0};
  for (int i = 0; i < 5000; i++) {
    m.len = 0;
    ck_assert_int_eq(gpx_tc_stream_next(&s, &m, 10000), 1);
  }
  int sent_before = atomic_load(&g_sent);
  int64_t t_cancel = now_ms();
  gpx_tc_stream_cancel(&s);
  gpx_tc_status st = {0};
  ck_assert_int_eq(gpx_tc_stream_status(&s, 5000, &st), 0);
  ck_assert_int_eq(st.code, GPX_RPC_CANCELLED);
  WAIT_FOR(atomic_load(&g_returned) == 1, 2000);
  ck_assert_msg(atomic_load(&g_returned) == 1, "handler still running 2 s after cancel");
  int64_t fail_after = atomic_load(&g_fail_ms) - t_cancel;
  ck_assert_int_eq(atomic_load(&g_send_rc), ECANCELED);
  ck_assert_int_lt(atomic_load(&g_sent), 10000);
  ck_assert_int_lt(fail_after, 500);
  fprintf(stderr,
          "measure: cancel after 5000 read (%d sent by then); "
          "the handler's send failed %lld ms later, %d sent\n",
          sent_before, (long long)fail_after, atomic_load(&g_sent));
  gpx_buf_reset(&m);
  gpx_tc_stream_free(&s);
  /* The server keeps serving, and the cancelled call is gone. */
  expect_echo(&f);
  WAIT_FOR(gpx_rpc_in_flight(f.s) == 0, 2000);
  ck_assert(gpx_rpc_in_flight(f.s) == 0);
  ck_assert_uint_eq(calls_with(f.s, "Count", GPX_RPC_CANCELLED), 1);
  gpx_tc_close(&f.client);
  ck_assert_int_eq(down(&f, NULL), GPX_OK);
}
END_TEST

START_TEST(streams_open_at_shutdown_end_promptly) {
  fixture f;
  up(&f, 0);
  gpx_tc_stream idle, busy;
  ck_assert_int_eq(gpx_tc_stream_start(&f.client, &idle, "/t.T/Idle", "", 0, 60000), 0);
  const char *req = "1000000 64";
  ck_assert_int_eq(gpx_tc_stream_start(&f.client, &busy, "/t.T/Count", req, strlen(req), 60000), 0);
  gpx_buf m = {0};
  for (int i = 0; i < 100; i++) ck_assert_int_eq(gpx_tc_stream_next(&busy, &m, 10000), 1);
  WAIT_FOR(atomic_load(&g_started) == 2, 2000);
  ck_assert(atomic_load(&g_started) == 2);
  /* The busy stream's client stops reading. Flow control: once the
     transport's windows are full (gRPC grows them to a few MB) the handler
     waits in gpx_rpc_send instead of queueing messages. */
  int sent = -1;
  for (int64_t end = now_ms() + 10000; now_ms() < end && sent != atomic_load(&g_sent);) {
    sent = atomic_load(&g_sent);
    usleep(200 * 1000);
  }
  ck_assert_int_eq(atomic_load(&g_sent), sent);
  ck_assert_int_lt(sent, 1000000);
  fprintf(stderr, "measure: a client that stopped reading after 100 messages stopped the handler at %d\n",
          sent);
  int64_t took = 0;
  ck_assert_int_eq(down(&f, &took), GPX_OK);
  fprintf(stderr, "measure: shutdown with an idle and a flow-blocked stream open took %lld ms\n",
          (long long)took);
  ck_assert_int_lt(took, 1000);
  ck_assert_int_eq(atomic_load(&g_returned), 2);
  ck_assert_int_eq(atomic_load(&g_send_rc), ECANCELED);
  /* The idle stream, StreamStdio-shaped, ended with OK and no message. */
  m.len = 0;
  ck_assert_int_eq(gpx_tc_stream_next(&idle, &m, 5000), 0);
  gpx_tc_status st = {0};
  ck_assert_int_eq(gpx_tc_stream_status(&idle, 5000, &st), 0);
  ck_assert_int_eq(st.code, GPX_RPC_OK);
  /* The busy one ended too, one way or another; reading it out must not hang. */
  ck_assert_int_eq(gpx_tc_stream_status(&busy, 5000, &st), 0);
  ck_assert_int_ne(st.code, GPX_RPC_OK);
  gpx_buf_reset(&m);
  gpx_tc_stream_free(&idle);
  gpx_tc_stream_free(&busy);
  gpx_tc_close(&f.client);
}
END_TEST

START_TEST(stream_limit_and_errors) {
  fixture f;
  up(&f, 1);
  gpx_tc_stream a, b, c;
  gpx_tc_status st = {0};
  gpx_buf m = {0};
  ck_assert_int_eq(gpx_tc_stream_start(&f.client, &a, "/t.T/Idle", "", 0, 60000), 0);
  WAIT_FOR(atomic_load(&g_started) == 1, 2000);
  ck_assert(atomic_load(&g_started) == 1);
  /* A second stream is beyond max_streams = 1. */
  ck_assert_int_eq(gpx_tc_stream_start(&f.client, &b, "/t.T/Idle", "", 0, 60000), 0);
  ck_assert_int_eq(gpx_tc_stream_status(&b, 5000, &st), 0);
  ck_assert_int_eq(st.code, GPX_RPC_RESOURCE_EXHAUSTED);
  gpx_tc_stream_free(&b);
  /* Unary calls do not count against it. */
  expect_echo(&f);
  /* The client leaving wakes the idle handler at once. */
  int64_t t0 = now_ms();
  gpx_tc_stream_cancel(&a);
  WAIT_FOR(atomic_load(&g_returned) == 1, 2000);
  ck_assert(atomic_load(&g_returned) == 1);
  ck_assert_int_lt(now_ms() - t0, 500);
  gpx_tc_stream_free(&a);
  /* A handler's error status reaches the client, with no message. */
  WAIT_FOR(gpx_rpc_in_flight(f.s) == 0, 2000);
  ck_assert(gpx_rpc_in_flight(f.s) == 0);
  ck_assert_int_eq(gpx_tc_stream_start(&f.client, &c, "/t.T/Count", "x", 1, 60000), 0);
  ck_assert_int_eq(gpx_tc_stream_next(&c, &m, 5000), 0);
  ck_assert_int_eq(gpx_tc_stream_status(&c, 5000, &st), 0);
  ck_assert_int_eq(st.code, GPX_RPC_INVALID_ARGUMENT);
  ck_assert_ptr_nonnull(strstr(st.message, "count size"));
  gpx_tc_stream_free(&c);
  gpx_tc_close(&f.client);
  ck_assert_int_eq(down(&f, NULL), GPX_OK);
}
END_TEST

START_TEST(stream_timer_deadline_and_last_message) {
  fixture f;
  up(&f, 0);
  gpx_tc_stream s;
  gpx_tc_status st = {0};
  gpx_buf m = {0};
  /* wait_cancelled as a timer: three ticks, then "last" with the status. */
  ck_assert_int_eq(gpx_tc_stream_start(&f.client, &s, "/t.T/Tick", "", 0, 60000), 0);
  const char *want[] = {"tick0", "tick1", "tick2", "last"};
  for (int i = 0; i < 4; i++) {
    m.len = 0;
    ck_assert_int_eq(gpx_tc_stream_next(&s, &m, 5000), 1);
    ck_assert_uint_eq(m.len, strlen(want[i]));
    ck_assert_int_eq(memcmp(m.data, want[i], m.len), 0);
  }
  ck_assert_int_eq(gpx_tc_stream_next(&s, &m, 5000), 0);
  ck_assert_int_eq(gpx_tc_stream_status(&s, 5000, &st), 0);
  ck_assert_int_eq(st.code, GPX_RPC_OK);
  ck_assert_int_ge(atomic_load(&g_waited_ms), 90);
  gpx_tc_stream_free(&s);
  /* An idle stream with a 200 ms deadline: its handler wakes at the deadline. */
  int64_t t0 = now_ms();
  ck_assert_int_eq(gpx_tc_stream_start(&f.client, &s, "/t.T/Idle", "", 0, 200), 0);
  ck_assert_int_eq(gpx_tc_stream_status(&s, 5000, &st), 0);
  ck_assert_int_eq(st.code, GPX_RPC_DEADLINE_EXCEEDED);
  WAIT_FOR(atomic_load(&g_returned) == 1, 2000);
  ck_assert(atomic_load(&g_returned) == 1);
  ck_assert_int_lt(now_ms() - t0, 1000);
  gpx_tc_stream_free(&s);
  gpx_buf_reset(&m);
  gpx_tc_close(&f.client);
  ck_assert_int_eq(down(&f, NULL), GPX_OK);
}
END_TEST

static Suite *rpc_suite(void) {
  Suite *s = suite_create("rpc");
  TCase *tc = tcase_create("lifecycle");
  tcase_set_timeout(tc, 30);
  tcase_add_test(tc, start_and_stop);
  tcase_add_test(tc, bad_address_is_an_error);
  suite_add_tcase(s, tc);
  TCase *calls = tcase_create("calls");
  tcase_set_timeout(calls, 60);
  tcase_add_test(calls, unary_echo_and_unimplemented);
  tcase_add_test(calls, stream_10000_in_order);
  tcase_add_test(calls, queue_is_bounded_and_left_calls_leave_it);
  tcase_add_test(calls, stream_cancelled_halfway);
  tcase_add_test(calls, streams_open_at_shutdown_end_promptly);
  tcase_add_test(calls, stream_limit_and_errors);
  tcase_add_test(calls, stream_timer_deadline_and_last_message);
  suite_add_tcase(s, calls);
  return s;
}

GPX_CHECK_MAIN(rpc_suite)
