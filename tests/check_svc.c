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

/* A request with a data source runs its queries concurrentQueries at once
   (here against a port nothing listens on: each query's connect fails at
   once, 502): the answers keep the request's refIds and order, a bad query
   keeps its own 400, queries past 100 get theirs; invalid settings (a
   concurrentQueries above the pool) fail every query with a 400 naming it. */
static Pluginv2__QueryDataResponse *query_n(gpx_rpc_ctx *ctx, const char *uid, const char *json_data, size_t nq) {
  Pluginv2__DataSourceInstanceSettings dsi = PLUGINV2__DATA_SOURCE_INSTANCE_SETTINGS__INIT;
  dsi.uid = (char *)uid; /* its own uid per settings: the cache keys instances by uid + lastUpdatedMS */
  dsi.jsondata.data = (uint8_t *)json_data;
  dsi.jsondata.len = strlen(json_data);
  dsi.lastupdatedms = 1;
  Pluginv2__PluginContext pc = PLUGINV2__PLUGIN_CONTEXT__INIT;
  pc.datasourceinstancesettings = &dsi;
  Pluginv2__TimeRange tr = PLUGINV2__TIME_RANGE__INIT;
  tr.toepochms = 1000;
  Pluginv2__DataQuery *q = calloc(nq, sizeof *q);
  Pluginv2__DataQuery **qs = calloc(nq, sizeof *qs);
  char(*refs)[8] = calloc(nq, sizeof *refs);
  for (size_t i = 0; i < nq; i++) {
    pluginv2__data_query__init(&q[i]);
    snprintf(refs[i], sizeof refs[i], "R%zu", i);
    q[i].refid = refs[i];
    q[i].json.data = (uint8_t *)(i == 3 ? "{\"queryType\":\"nope\"}" : "{\"queryType\":\"trade_count\"}");
    q[i].json.len = strlen((char *)q[i].json.data);
    q[i].timerange = &tr;
    qs[i] = &q[i];
  }
  Pluginv2__QueryDataRequest req = PLUGINV2__QUERY_DATA_REQUEST__INIT;
  req.plugincontext = &pc;
  req.n_queries = nq;
  req.queries = qs;
  gpx_buf buf = {0};
  ck_assert_int_eq(gpx_buf_reserve(&buf, pluginv2__query_data_request__get_packed_size(&req)), GPX_OK);
  buf.len = pluginv2__query_data_request__pack(&req, buf.data);
  gpx_rpc_reply r;
  memset(&r, 0, sizeof r);
  gpx_svc_query_data(ctx, buf.data, buf.len, &r);
  ck_assert_int_eq(r.code, GPX_RPC_OK);
  Pluginv2__QueryDataResponse *out = pluginv2__query_data_response__unpack(NULL, r.body.len, r.body.data);
  ck_assert_ptr_nonnull(out);
  ck_assert_uint_eq(out->n_responses, nq);
  gpx_buf_reset(&r.body);
  gpx_buf_reset(&buf);
  free(refs);
  free(qs);
  free(q);
  return out;
}

START_TEST(query_data_parallel_keeps_order_and_errors) {
  gpx_app app;
  memset(&app, 0, sizeof app);
  pthread_mutex_init(&app.qstats.mu, NULL);
  ck_assert_int_eq(gpx_ds_cache_new(&app.ds), GPX_OK);
  gpx_rpc_ctx *ctx = gpx_rpc_test_ctx_new(&app);
  const size_t nq = 104;
  Pluginv2__QueryDataResponse *out =
      query_n(ctx, "par-ds", "{\"host\":\"127.0.0.1\",\"port\":1,\"concurrentQueries\":4,\"maxQueuedQueries\":100}", nq);
  for (size_t i = 0; i < nq; i++) {
    char ref[8];
    snprintf(ref, sizeof ref, "R%zu", i);
    Pluginv2__DataResponse *v = out->responses[i]->value;
    ck_assert_str_eq(out->responses[i]->key, ref);
    if (i >= 100) {
      ck_assert_int_eq(v->status, 400);
      ck_assert_ptr_nonnull(strstr(v->error, "too many queries in one request"));
    } else if (i == 3) {
      ck_assert_int_eq(v->status, 400);
      ck_assert_ptr_nonnull(strstr(v->error, "queryType"));
    } else {
      ck_assert_msg(v->status == 502 && strstr(v->error, "Postgres unavailable"), "%s: %d %s", ref, (int)v->status,
                    v->error);
    }
  }
  pluginv2__query_data_response__free_unpacked(out, NULL);
  out = query_n(ctx, "par-bad", "{\"host\":\"127.0.0.1\",\"port\":1,\"maxOpenConnections\":2,\"concurrentQueries\":3}", 5);
  for (size_t i = 0; i < 5; i++) {
    ck_assert_int_eq(out->responses[i]->value->status, 400);
    ck_assert_ptr_nonnull(strstr(out->responses[i]->value->error,
                                 "data source settings: jsonData.concurrentQueries: 3 is more than maxOpenConnections (2)"));
  }
  pluginv2__query_data_response__free_unpacked(out, NULL);
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
  tcase_add_test(tc, query_data_parallel_keeps_order_and_errors);
  suite_add_tcase(s, tc);
  return s;
}

GPX_CHECK_MAIN(svc_suite)
