/*
** check_adhoc.c — Check suite for src/query/adhoc.c: Grafana's ad-hoc
** filters in the query JSON. Values are gathered per dimension and operator
** into bound text[] parameters (never SQL text), side values normalised,
** "(none)" as NULL, limits and unknown keys or operators named by index,
** and the tag-keys resource lists the mapped dimensions only.
*/
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "query/query_int.h"

#include "check_main.h"

static gpx_query_input mkq(const char *js) {
  gpx_query_input q = {0};
  q.ref_id = "A";
  q.json = (const uint8_t *)js;
  q.json_len = strlen(js);
  q.has_time_range = 1;
  q.from_ms = 1700000000000;
  q.to_ms = 1700086400000;
  q.max_points = 500;
  q.interval_ms = 1000;
  return q;
}

static void mapped(const char *js, gpx_ds_settings *s) {
  gpx_error e;
  ck_assert_msg(gpx_ds_settings_parse((const uint8_t *)js, strlen(js), NULL, 0, s, &e) == GPX_OK, "%s", e.msg);
}

/* The parameter "$n" that follows pat in t. */
static const char *param_after(const gpx_stmt *st, const char *t, const char *pat) {
  const char *at = strstr(t, pat);
  ck_assert_msg(at != NULL, "no \"%s\" in %s", pat, t);
  int n = atoi(at + strlen(pat));
  ck_assert_int_ge(n, 1);
  ck_assert_int_le(n, st->sql.n);
  return st->sql.params[n - 1];
}

START_TEST(filters_bind_per_dimension_and_operator) {
  gpx_ds_settings s;
  gpx_ds_settings_default(&s);
  gpx_query_input pq = mkq(
      "{\"queryType\":\"equity\",\"strategies\":[\"a\"],\"adhocFilters\":["
      "{\"key\":\"strategy\",\"operator\":\"=\",\"value\":\"x'); DROP TABLE t; --\"},"
      "{\"key\":\"strategy\",\"operator\":\"=\",\"value\":\"b\\\\\\\"c\"},"
      "{\"key\":\"symbol\",\"operator\":\"!=\",\"value\":\"AAPL\"},"
      "{\"key\":\"symbol\",\"operator\":\"!=\",\"value\":\"(none)\"},"
      "{\"key\":\"side\",\"operator\":\"=\",\"value\":\"BUY\"},"
      "{\"key\":\"exchange\",\"operator\":\"=\",\"value\":\"(none)\"},"
      "{\"key\":\"entry_tag\",\"operator\":\"=~\",\"value\":\"ema.*\"},"
      "{\"key\":\"exit_reason\",\"operator\":\"!~\",\"value\":\"stop|roi\"}],"
      "\"datasource\":{\"uid\":\"x\"}}");
  gpx_query q;
  gpx_error e;
  ck_assert_msg(gpx_query_parse(&pq, &s, &q, &e) == GPX_OK, "%s", e.msg);
  ck_assert_str_eq(q.adhoc[GPX_DIM_STRATEGY].values[GPX_ADHOC_EQ], "{\"x'); DROP TABLE t; --\",\"b\\\\\\\"c\"}");
  ck_assert_str_eq(q.adhoc[GPX_DIM_SYMBOL].values[GPX_ADHOC_NE], "{\"AAPL\"}");
  ck_assert_int_eq(q.adhoc[GPX_DIM_SYMBOL].not_null, 1);
  ck_assert_str_eq(q.adhoc[GPX_DIM_SIDE].values[GPX_ADHOC_EQ], "{\"long\"}");
  ck_assert_int_eq(q.adhoc[GPX_DIM_EXCHANGE].is_null, 1);
  ck_assert_ptr_null(q.adhoc[GPX_DIM_EXCHANGE].values[GPX_ADHOC_EQ]);
  ck_assert_str_eq(q.adhoc[GPX_DIM_ENTRY_TAG].values[GPX_ADHOC_RE], "{\"^(?:ema.*)$\"}");
  ck_assert_str_eq(q.adhoc[GPX_DIM_EXIT_REASON].values[GPX_ADHOC_NRE], "{\"^(?:stop|roi)$\"}");
  ck_assert_ptr_null(q.adhoc[GPX_DIM_ACCOUNT].values[GPX_ADHOC_EQ]);

  gpx_stmt st = {0};
  ck_assert_int_eq(gpx_stmt_build(&st, &gpx_stmt_buckets, &s, &q, 60000000000, 0), GPX_OK);
  const char *t = gpx_sql_cstr(&st.sql);
  /* the query's own list and the ad-hoc filters, ANDed */
  ck_assert_str_eq(param_after(&st, t, " AND \"strategy\"::text = ANY($"), "{\"a\"}");
  ck_assert_str_eq(param_after(&st, t, " AND \"strategy\"::text = ALL($"), q.adhoc[GPX_DIM_STRATEGY].values[GPX_ADHOC_EQ]);
  ck_assert_str_eq(param_after(&st, t, " AND (\"symbol\"::text = ANY($"), "{\"AAPL\"}");
  ck_assert_ptr_nonnull(strstr(t, "::text[])) IS NOT TRUE AND \"symbol\" IS NOT NULL"));
  ck_assert_str_eq(param_after(&st, t, "ELSE lower(\"side\"::text) END::text = ALL($"), "{\"long\"}");
  ck_assert_ptr_nonnull(strstr(t, " AND \"exchange\" IS NULL"));
  ck_assert_str_eq(param_after(&st, t, " AND \"entry_tag\"::text ~ ALL($"), "{\"^(?:ema.*)$\"}");
  ck_assert_str_eq(param_after(&st, t, " AND (\"exit_reason\"::text ~ ANY($"), "{\"^(?:stop|roi)$\"}");
  ck_assert_ptr_null(strstr(t, "DROP TABLE"));
  ck_assert_ptr_null(strstr(t, "AAPL"));
  ck_assert_ptr_null(strstr(t, "account"));
  /* every statement over the trades filters the same way */
  ck_assert_int_eq(gpx_stmt_build(&st, &gpx_stmt_trades, &s, &q, 0, 10), GPX_OK);
  ck_assert_ptr_nonnull(strstr(gpx_sql_cstr(&st.sql), "\"entry_tag\"::text ~ ALL($"));
  gpx_stmt_reset(&st);
  gpx_query_reset(&q);
  gpx_ds_settings_reset(&s);
}
END_TEST

/* 32 filters on every dimension and operator still fit the parameters. */
START_TEST(most_filters_fit_the_parameters) {
  gpx_ds_settings s;
  gpx_ds_settings_default(&s);
  static const char *const ops[] = {"=", "!=", "=~", "!~"};
  static const char *const keys[] = {"strategy", "symbol", "account", "side", "exchange", "entry_tag", "exit_reason"};
  gpx_buf b = {0};
  ck_assert_int_eq(gpx_buf_append_str(&b, "{\"queryType\":\"stats\",\"strategies\":[\"a\"],\"symbols\":[\"b\"],"
                                          "\"accounts\":[\"c\"],\"sides\":[\"long\"],\"exchanges\":[\"d\"],"
                                          "\"entryTags\":[\"e\"],\"exitReasons\":[\"f\"],\"adhocFilters\":["),
                   GPX_OK);
  for (int i = 0; i < GPX_QUERY_MAX_ADHOC; i++)
    ck_assert_int_eq(gpx_buf_printf(&b, "%s{\"key\":\"%s\",\"operator\":\"%s\",\"value\":\"v%d\"}", i ? "," : "",
                                    keys[i % 7], ops[(i / 7) % 4], i),
                     GPX_OK);
  ck_assert_int_eq(gpx_buf_append_str(&b, "]}"), GPX_OK);
  gpx_query_input pq = mkq("");
  pq.json = b.data;
  pq.json_len = b.len;
  gpx_query q;
  gpx_error e;
  ck_assert_msg(gpx_query_parse(&pq, &s, &q, &e) == GPX_OK, "%s", e.msg);
  gpx_stmt st = {0};
  ck_assert_int_eq(gpx_stmt_build(&st, &gpx_stmt_buckets, &s, &q, 60000000000, 0), GPX_OK);
  ck_assert_int_le(st.sql.n, GPX_SQL_MAX_PARAMS);
  gpx_stmt_reset(&st);
  gpx_query_reset(&q);
  gpx_buf_reset(&b);
  gpx_ds_settings_reset(&s);
}
END_TEST

static const struct {
  const char *js, *msg;
} bad[] = {
    {"\"adhocFilters\":{}", "adhocFilters: must be a list of {\"key\", \"operator\", \"value\"} objects"},
    {"\"adhocFilters\":[\"strategy=a\"]", "adhocFilters[0]: must be an object {key, operator, value}"},
    {"\"adhocFilters\":[{\"key\":\"strategy\",\"operator\":\"=\",\"value\":\"a\"},{\"key\":\"pair\",\"operator\":\"=\",\"value\":\"a\"}]",
     "adhocFilters[1].key: unknown key \"pair\" (expected one of strategy, symbol, account, side, exchange, entry_tag, exit_reason)"},
    {"\"adhocFilters\":[{\"operator\":\"=\",\"value\":\"a\"}]", "adhocFilters[0].key: must be a string"},
    {"\"adhocFilters\":[{\"key\":\"strategy\",\"operator\":\"=|\",\"value\":\"a\"}]",
     "adhocFilters[0].operator: unsupported operator \"=|\" (supported: =, !=, =~, !~)"},
    {"\"adhocFilters\":[{\"key\":\"strategy\",\"operator\":\"<\",\"value\":\"a\"}]",
     "adhocFilters[0].operator: unsupported operator \"<\" (supported: =, !=, =~, !~)"},
    {"\"adhocFilters\":[{\"key\":\"strategy\",\"value\":\"a\"}]", "adhocFilters[0].operator: must be a string"},
    {"\"adhocFilters\":[{\"key\":\"strategy\",\"operator\":\"=\",\"value\":7}]", "adhocFilters[0].value: must be a string"},
    {"\"adhocFilters\":[{\"key\":\"strategy\",\"operator\":\"=\"}]", "adhocFilters[0].value: must be a string"},
};

START_TEST(bad_filters_name_the_entry) {
  gpx_ds_settings s;
  gpx_ds_settings_default(&s);
  char js[1024];
  snprintf(js, sizeof js, "{\"queryType\":\"stats\",%s}", bad[_i].js);
  gpx_query_input pq = mkq(js);
  gpx_query q;
  gpx_error e;
  ck_assert_int_eq(gpx_query_parse(&pq, &s, &q, &e), EINVAL);
  ck_assert_str_eq(e.msg, bad[_i].msg);
  gpx_ds_settings_reset(&s);
}
END_TEST

START_TEST(limits_and_absent_columns) {
  gpx_ds_settings s;
  gpx_ds_settings_default(&s);
  gpx_buf b = {0};
  gpx_query q;
  gpx_error e;
  /* 32 filters pass, 33 do not */
  for (int n = 32; n <= 33; n++) {
    b.len = 0;
    ck_assert_int_eq(gpx_buf_append_str(&b, "{\"queryType\":\"equity\",\"adhocFilters\":["), GPX_OK);
    for (int i = 0; i < n; i++)
      ck_assert_int_eq(gpx_buf_printf(&b, "%s{\"key\":\"symbol\",\"operator\":\"!=\",\"value\":\"s%d\"}", i ? "," : "", i),
                       GPX_OK);
    ck_assert_int_eq(gpx_buf_append_str(&b, "]}"), GPX_OK);
    gpx_query_input pq = mkq("");
    pq.json = b.data;
    pq.json_len = b.len;
    int rc = gpx_query_parse(&pq, &s, &q, &e);
    if (n == 32) {
      ck_assert_msg(rc == GPX_OK, "%s", e.msg);
      gpx_query_reset(&q);
    } else {
      ck_assert_int_eq(rc, EINVAL);
      ck_assert_str_eq(e.msg, "adhocFilters: 33 filters, at most 32 allowed");
    }
  }
  /* a value of 1000 bytes passes, 1001 do not; a regex at most 256 */
  static const struct {
    const char *op;
    int len;
    const char *msg;
  } v[] = {{"=", 1000, NULL},
           {"!=", 1001, "adhocFilters[0].value: 1001 bytes, at most 1000 allowed"},
           {"=~", 256, NULL},
           {"!~", 257, "adhocFilters[0].value: a regular expression of 257 bytes, at most 256 allowed"}};
  for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
    b.len = 0;
    ck_assert_int_eq(gpx_buf_printf(&b, "{\"queryType\":\"equity\",\"adhocFilters\":[{\"key\":\"strategy\",\"operator\":\"%s\","
                                        "\"value\":\"", v[i].op),
                     GPX_OK);
    for (int k = 0; k < v[i].len; k++) ck_assert_int_eq(gpx_buf_append(&b, k % 2 ? "'" : "\\\\", k % 2 ? 1 : 2), GPX_OK);
    ck_assert_int_eq(gpx_buf_append_str(&b, "\"}]}"), GPX_OK);
    gpx_query_input pq = mkq("");
    pq.json = b.data;
    pq.json_len = b.len;
    int rc = gpx_query_parse(&pq, &s, &q, &e);
    if (v[i].msg == NULL) {
      ck_assert_msg(rc == GPX_OK, "%s", e.msg);
      gpx_query_reset(&q);
    } else {
      ck_assert_int_eq(rc, EINVAL);
      ck_assert_str_eq(e.msg, v[i].msg);
    }
  }
  gpx_buf_reset(&b);
  /* a NUL never reaches a value: the JSON parser refuses \u0000 */
  gpx_query_input pq = mkq("{\"queryType\":\"equity\",\"adhocFilters\":[{\"key\":\"strategy\",\"operator\":\"=\",\"value\":\"a\\u0000b\"}]}");
  ck_assert_int_eq(gpx_query_parse(&pq, &s, &q, &e), EINVAL);
  gpx_ds_settings_reset(&s);

  /* a key mapped to null is named with its mapping, as groupBy is */
  mapped("{\"preset\":\"freqtrade\"}", &s);
  pq = mkq("{\"queryType\":\"equity\",\"adhocFilters\":[{\"key\":\"account\",\"operator\":\"!=\",\"value\":\"a\"}]}");
  ck_assert_int_eq(gpx_query_parse(&pq, &s, &q, &e), EINVAL);
  ck_assert_str_eq(e.msg, "adhocFilters[0].key: account is not mapped (jsonData.columns.account is null)");
  json_t *keys = gpx_query_tag_keys_json(&s);
  ck_assert_ptr_nonnull(keys);
  char *js = json_dumps(keys, JSON_COMPACT);
  ck_assert_str_eq(js, "[{\"text\":\"strategy\",\"resource\":\"strategies\"},{\"text\":\"symbol\",\"resource\":\"symbols\"},"
                       "{\"text\":\"side\",\"resource\":\"sides\"},{\"text\":\"exchange\",\"resource\":\"exchanges\"},"
                       "{\"text\":\"entry_tag\",\"resource\":\"entry_tags\"},{\"text\":\"exit_reason\",\"resource\":\"exit_reasons\"}]");
  free(js);
  json_decref(keys);
  gpx_ds_settings_reset(&s);
  gpx_ds_settings_default(&s);
  keys = gpx_query_tag_keys_json(&s);
  ck_assert_int_eq(json_array_size(keys), GPX_DIM_COUNT);
  json_decref(keys);
  gpx_ds_settings_reset(&s);
}
END_TEST

static Suite *adhoc_suite(void) {
  Suite *s = suite_create("adhoc");
  TCase *tc = tcase_create("adhoc");
  tcase_add_test(tc, filters_bind_per_dimension_and_operator);
  tcase_add_test(tc, most_filters_fit_the_parameters);
  tcase_add_loop_test(tc, bad_filters_name_the_entry, 0, (int)(sizeof bad / sizeof bad[0]));
  tcase_add_test(tc, limits_and_absent_columns);
  suite_add_tcase(s, tc);
  return s;
}

GPX_CHECK_MAIN(adhoc_suite)
