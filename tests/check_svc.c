/*
** check_svc.c — Check suite for src/svc/: the Prometheus exposition
** (families, labels, cumulative histogram buckets, one query_type per
** registry kind). The handlers themselves
** are exercised through the protocol by the Go harness.
*/
#include <check.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gpx/svc.h"

#include "check_main.h"

START_TEST(metrics_text_without_server) {
  gpx_app app;
  memset(&app, 0, sizeof app);
  pthread_mutex_init(&app.qstats.mu, NULL);
  app.start_time = 1700000000.5;
  int equity = gpx_query_kind_find("equity", 0);
  gpx_query_stats_record(&app.qstats, equity, 200, 0.003); /* 3 ms */
  gpx_query_stats_record(&app.qstats, equity, 200, 0.2);   /* 200 ms */
  gpx_query_stats_record(&app.qstats, -1, 400, 0.0001); /* invalid */
  gpx_query_stats_record(&app.qstats, gpx_query_kind_find("stats", 0), 777, 1.0); /* unknown status → other */
  gpx_query_stats_record(&app.qstats, 9999, 400, 0.0001); /* out of range counts as invalid */
  gpx_buf b = {0};
  ck_assert_int_eq(gpx_svc_metrics_text(&app, &b), GPX_OK);
  gpx_buf_terminate(&b);
  const char *t = (const char *)b.data;
  ck_assert_ptr_nonnull(strstr(t, "gpx_queries_total{query_type=\"equity\",status=\"200\"} 2\n"));
  ck_assert_ptr_nonnull(strstr(t, "gpx_queries_total{query_type=\"invalid\",status=\"400\"} 2\n"));
  /* every user-visible kind of the registry is listed (zero counts too), test-only kinds are not */
  for (size_t k = 0; k < gpx_query_kind_count(); k++) {
    char line[160];
    snprintf(line, sizeof line, "gpx_queries_total{query_type=\"%s\",status=\"200\"}", gpx_query_kinds[k].name);
    if (gpx_query_kinds[k].flags & GPX_QKIND_TEST_ONLY) ck_assert_ptr_null(strstr(t, line));
    else ck_assert_ptr_nonnull(strstr(t, line));
  }
  ck_assert_ptr_nonnull(strstr(t, "gpx_queries_total{query_type=\"stats\",status=\"other\"} 1\n"));
  /* cumulative buckets: 3 ms is below 5 ms, 200 ms below 250 ms, +Inf has both */
  ck_assert_ptr_nonnull(strstr(t, "gpx_query_duration_seconds_bucket{query_type=\"equity\",le=\"0.005\"} 1\n"));
  ck_assert_ptr_nonnull(strstr(t, "gpx_query_duration_seconds_bucket{query_type=\"equity\",le=\"0.25\"} 2\n"));
  ck_assert_ptr_nonnull(strstr(t, "gpx_query_duration_seconds_bucket{query_type=\"equity\",le=\"+Inf\"} 2\n"));
  ck_assert_ptr_nonnull(strstr(t, "process_start_time_seconds 1700000000.500\n"));
  ck_assert_ptr_nonnull(strstr(t, "gpx_build_info{version=\"" GPX_VERSION "\""));
  /* every family is declared once */
  const char *p = t;
  int n = 0;
  while ((p = strstr(p, "# TYPE gpx_queries_total ")) != NULL) n++, p++;
  ck_assert_int_eq(n, 1);
  gpx_buf_reset(&b);
  pthread_mutex_destroy(&app.qstats.mu);
}
END_TEST

/* Handlers run without a server through a test context (fuzz targets do
   the same): garbage is INVALID_ARGUMENT, a valid request gets one answer
   per refId, each query's own error. */
START_TEST(handlers_without_a_server) {
  gpx_app app;
  memset(&app, 0, sizeof app);
  pthread_mutex_init(&app.qstats.mu, NULL);
  ck_assert_int_eq(gpx_ds_cache_new(&app.ds), GPX_OK);
  gpx_rpc_ctx *ctx = gpx_rpc_test_ctx_new(&app);
  ck_assert_ptr_nonnull(ctx);
  ck_assert_ptr_eq(gpx_rpc_app(ctx), &app);
  ck_assert_int_eq(gpx_rpc_cancelled(ctx), 0);
  gpx_rpc_reply r;
  memset(&r, 0, sizeof r);
  const uint8_t junk[] = {0xff, 0xff, 0xff, 0x0f, 0x12};
  gpx_svc_query_data(ctx, junk, sizeof junk, &r);
  ck_assert_int_eq(r.code, GPX_RPC_INVALID_ARGUMENT);
  gpx_buf_reset(&r.body);
  Pluginv2__DataQuery q1 = PLUGINV2__DATA_QUERY__INIT, q2 = PLUGINV2__DATA_QUERY__INIT;
  Pluginv2__TimeRange tr = PLUGINV2__TIME_RANGE__INIT;
  tr.toepochms = 1000;
  q1.refid = "A";
  q1.json.data = (uint8_t *)"{\"queryType\":\"equity\"}";
  q1.json.len = strlen((char *)q1.json.data);
  q1.timerange = &tr;
  q2.refid = "B";
  q2.json.data = (uint8_t *)"{\"queryType\":\"nope\"}";
  q2.json.len = strlen((char *)q2.json.data);
  Pluginv2__DataQuery *qs[2] = {&q1, &q2};
  Pluginv2__QueryDataRequest req = PLUGINV2__QUERY_DATA_REQUEST__INIT;
  req.n_queries = 2;
  req.queries = qs;
  uint8_t buf[512];
  size_t n = pluginv2__query_data_request__pack(&req, buf);
  memset(&r, 0, sizeof r);
  gpx_svc_query_data(ctx, buf, n, &r);
  ck_assert_int_eq(r.code, GPX_RPC_OK);
  Pluginv2__QueryDataResponse *out = pluginv2__query_data_response__unpack(NULL, r.body.len, r.body.data);
  ck_assert_ptr_nonnull(out);
  ck_assert_uint_eq(out->n_responses, 2);
  for (size_t i = 0; i < 2; i++) {
    ck_assert_int_eq(out->responses[i]->value->status, 400);
    const char *want = strcmp(out->responses[i]->key, "A") == 0 ? "no data-source instance" : "queryType";
    ck_assert_ptr_nonnull(strstr(out->responses[i]->value->error, want));
  }
  pluginv2__query_data_response__free_unpacked(out, NULL);
  gpx_buf_reset(&r.body);
  gpx_rpc_test_ctx_free(ctx);
  gpx_ds_cache_free(app.ds);
  pthread_mutex_destroy(&app.qstats.mu);
}
END_TEST

static Suite *svc_suite(void) {
  Suite *s = suite_create("svc");
  TCase *tc = tcase_create("svc");
  tcase_add_test(tc, metrics_text_without_server);
  tcase_add_test(tc, handlers_without_a_server);
  suite_add_tcase(s, tc);
  return s;
}

GPX_CHECK_MAIN(svc_suite)
