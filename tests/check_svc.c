/*
** check_svc.c — Check suite for src/svc/: the Prometheus exposition
** (families, labels, cumulative histogram buckets) and the DataResponse
** builder (frames moved in, an error drops them). The handlers themselves
** are exercised through the protocol by the Go harness.
*/
#include <check.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "gpx/svc.h"

#include "check_main.h"

START_TEST(metrics_text_without_server) {
  gpx_app app;
  memset(&app, 0, sizeof app);
  pthread_mutex_init(&app.qstats.mu, NULL);
  app.start_time = 1700000000.5;
  gpx_query_stats_record(&app.qstats, 0, 200, 0.003);  /* equity, 3 ms */
  gpx_query_stats_record(&app.qstats, 0, 200, 0.2);    /* equity, 200 ms */
  gpx_query_stats_record(&app.qstats, 9, 400, 0.0001); /* invalid */
  gpx_query_stats_record(&app.qstats, 5, 777, 1.0);    /* stats, unknown status → other */
  gpx_buf b = {0};
  ck_assert_int_eq(gpx_svc_metrics_text(&app, &b), GPX_OK);
  gpx_buf_terminate(&b);
  const char *t = (const char *)b.data;
  ck_assert_ptr_nonnull(strstr(t, "gpx_queries_total{query_type=\"equity\",status=\"200\"} 2\n"));
  ck_assert_ptr_nonnull(strstr(t, "gpx_queries_total{query_type=\"invalid\",status=\"400\"} 1\n"));
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

START_TEST(data_response_frames_and_errors) {
  gpx_data_response r;
  gpx_data_response_init(&r);
  ck_assert_int_eq(r.status, 200);
  for (int i = 0; i < 10; i++) {
    gpx_buf f = {0};
    gpx_buf_append(&f, "ARROW1", 6);
    ck_assert_int_eq(gpx_data_response_add_frame(&r, &f), GPX_OK);
    ck_assert_ptr_null(f.data); /* moved */
  }
  ck_assert_uint_eq(r.n_frames, 10);
  gpx_data_response_error(&r, 504, "downstream", "query timed out after %d s", 30);
  ck_assert_uint_eq(r.n_frames, 0); /* frames dropped with the error */
  ck_assert_int_eq(r.status, 504);
  ck_assert_str_eq(r.error, "query timed out after 30 s");
  ck_assert_str_eq(r.error_source, "downstream");
  gpx_data_response_reset(&r);
  gpx_data_response_reset(&r); /* safe twice */
}
END_TEST

static Suite *svc_suite(void) {
  Suite *s = suite_create("svc");
  TCase *tc = tcase_create("svc");
  tcase_add_test(tc, metrics_text_without_server);
  tcase_add_test(tc, data_response_frames_and_errors);
  suite_add_tcase(s, tc);
  return s;
}

GPX_CHECK_MAIN(svc_suite)
