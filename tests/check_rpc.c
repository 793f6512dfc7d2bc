/*
** check_rpc.c — Check suite for src/rpc/: the server starts, serves no one,
** and shuts down cleanly (no leaks under ASan); a bad address is an error,
** not a crash. Calls themselves are exercised by the Go harness.
*/
#include <check.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "gpx/rpc.h"

#include "check_main.h"

static void echo(gpx_rpc_ctx *ctx, const uint8_t *req, size_t len, gpx_rpc_reply *r) {
  gpx_buf_append(&r->body, req, len);
  r->has_body = 1;
}

static const gpx_rpc_method methods[] = {{"/t.T/Echo", "Echo", echo, 0}, {"/t.T/None", "None", NULL, 1}};

static void *runner(void *arg) {
  gpx_rpc_server *s = arg;
  return (void *)(intptr_t)gpx_rpc_run(s);
}

START_TEST(start_and_stop) {
  char path[64];
  snprintf(path, sizeof path, "unix:/tmp/gpx-check-%d.sock", (int)getpid());
  gpx_rpc_options o = {0};
  o.address = path;
  o.methods = methods;
  o.n_methods = 2;
  gpx_rpc_server *s = NULL;
  gpx_error e;
  ck_assert_int_eq(gpx_rpc_server_start(&o, &s, NULL, &e), GPX_OK);
  gpx_rpc_method_stats st[4];
  ck_assert_uint_eq(gpx_rpc_stats(s, st, 4), 3); /* two methods + "other" */
  ck_assert_str_eq(st[2].name, "other");
  ck_assert_int_eq(gpx_rpc_in_flight(s), 0);
  pthread_t th;
  pthread_create(&th, NULL, runner, s);
  usleep(100 * 1000);
  gpx_rpc_request_shutdown(s);
  void *rc;
  pthread_join(th, &rc);
  ck_assert_int_eq((int)(intptr_t)rc, GPX_OK);
  gpx_rpc_server_free(s);
}
END_TEST

START_TEST(bad_address_is_an_error) {
  gpx_rpc_options o = {0};
  o.address = "unix:/nonexistent-dir-gpx/x/y.sock";
  o.methods = methods;
  o.n_methods = 2;
  gpx_rpc_server *s = NULL;
  gpx_error e;
  ck_assert_int_ne(gpx_rpc_server_start(&o, &s, NULL, &e), GPX_OK);
  ck_assert_ptr_null(s);
  ck_assert_ptr_nonnull(strstr(e.msg, "cannot listen"));
  ck_assert_int_eq(gpx_rpc_server_start(NULL, &s, NULL, &e), EINVAL);
}
END_TEST

static Suite *rpc_suite(void) {
  Suite *s = suite_create("rpc");
  TCase *tc = tcase_create("lifecycle");
  tcase_set_timeout(tc, 30);
  tcase_add_test(tc, start_and_stop);
  tcase_add_test(tc, bad_address_is_an_error);
  suite_add_tcase(s, tc);
  return s;
}

GPX_CHECK_MAIN(rpc_suite)
