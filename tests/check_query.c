/*
** check_query.c — Check suite for src/query/ (query model and SQL
** building) and the identifier quoting of src/pg/: values only ever appear
** as $n parameters; identifiers are quoted; bad queries name the field.
*/
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "query/query_model.h"

#include "check_main.h"

static Pluginv2__DataQuery mkq(const char *js) {
  static Pluginv2__TimeRange tr = PLUGINV2__TIME_RANGE__INIT;
  tr.fromepochms = 1700000000000;
  tr.toepochms = 1700086400000;
  Pluginv2__DataQuery q = PLUGINV2__DATA_QUERY__INIT;
  q.refid = "A";
  q.json.data = (uint8_t *)js;
  q.json.len = strlen(js);
  q.timerange = &tr;
  q.maxdatapoints = 500;
  q.intervalms = 1000;
  return q;
}

START_TEST(parse_full_query) {
  gpx_ds_settings s;
  gpx_ds_settings_default(&s);
  Pluginv2__DataQuery pq = mkq("{\"queryType\":\"stats\",\"strategies\":[\"a\\\"b\",\"c\\\\d\"],\"groupBy\":\"symbol\","
                               "\"metrics\":[\"sharpe\",\"win_rate\",\"sharpe\"],\"timezone\":\"Asia/Tokyo\","
                               "\"initialCapital\":1000,\"datasource\":{\"uid\":\"x\"},\"intervalMs\":5}");
  gpx_query q;
  gpx_error e;
  ck_assert_int_eq(gpx_query_parse(&pq, &s, &q, &e), GPX_OK);
  ck_assert_int_eq(q.type, GPX_Q_STATS);
  ck_assert_str_eq(q.filter[0], "{\"a\\\"b\",\"c\\\\d\"}"); /* Postgres array literal, escaped */
  ck_assert_ptr_null(q.filter[1]);
  ck_assert_int_eq(q.group_by, GPX_GROUP_SYMBOL);
  ck_assert_int_eq(q.n_metrics, 2);
  ck_assert_str_eq(q.a.timezone, "Asia/Tokyo");
  ck_assert_double_eq(q.a.initial_capital, 1000);
  ck_assert_int_eq(q.limit, 1000);
  gpx_query_reset(&q);
}
END_TEST

static const struct {
  const char *js, *msg;
} badq[] = {
    {"{\"queryType\":\"nope\"}", "queryType: unknown query type \"nope\""},
    {"{}", "queryType: missing"},
    {"{\"queryType\":[]}", "queryType: must be a string"},
    {"{\"queryType\":\"equity\",\"accounts\":{}}", "accounts: must be a list"},
    {"{\"queryType\":\"equity\",\"accounts\":[null]}", "accounts[0]: must be a string"},
    {"{\"queryType\":\"equity\",\"groupBy\":7}", "groupBy: must be one of"},
    {"{\"queryType\":\"stats\",\"metrics\":[\"x\"]}", "metrics[0]: unknown stat"},
    {"{\"queryType\":\"stats\",\"metrics\":\"sharpe\"}", "metrics: must be a list"},
    {"{\"queryType\":\"trades\",\"limit\":0}", "limit: must be a positive"},
    {"{\"queryType\":\"equity\",\"tradingDays\":1}", "tradingDays"},
    {"{\"queryType\":\"equity\",\"riskFreeRate\":5000}", "riskFreeRate"},
    {"not json", "query JSON"},
};

START_TEST(bad_queries_name_the_field) {
  gpx_ds_settings s;
  gpx_ds_settings_default(&s);
  Pluginv2__DataQuery pq = mkq(badq[_i].js);
  gpx_query q;
  gpx_error e;
  ck_assert_int_eq(gpx_query_parse(&pq, &s, &q, &e), EINVAL);
  ck_assert_msg(strstr(e.msg, badq[_i].msg) != NULL, "%s → %s", badq[_i].js, e.msg);
}
END_TEST

START_TEST(time_range_checked) {
  gpx_ds_settings s;
  gpx_ds_settings_default(&s);
  Pluginv2__DataQuery pq = mkq("{\"queryType\":\"equity\"}");
  Pluginv2__TimeRange tr = PLUGINV2__TIME_RANGE__INIT;
  tr.fromepochms = 2000;
  tr.toepochms = 1000;
  pq.timerange = &tr;
  gpx_query q;
  gpx_error e;
  ck_assert_int_eq(gpx_query_parse(&pq, &s, &q, &e), EINVAL);
  ck_assert_ptr_nonnull(strstr(e.msg, "timeRange"));
  pq.timerange = NULL;
  ck_assert_int_eq(gpx_query_parse(&pq, &s, &q, &e), EINVAL);
}
END_TEST

START_TEST(sql_binds_values_and_quotes_identifiers) {
  gpx_ds_settings s;
  gpx_ds_settings_default(&s);
  strcpy(s.table, "weird \"t\" name");
  strcpy(s.schema, "bot");
  strcpy(s.columns[GPX_COL_STRATEGY], "Strategy\"; DROP");
  Pluginv2__DataQuery pq = mkq("{\"queryType\":\"equity\",\"strategies\":[\"x'); DROP TABLE trades; --\"],"
                               "\"groupBy\":\"strategy\",\"timezone\":\"America/New_York\"}");
  gpx_query q;
  gpx_error e;
  ck_assert_int_eq(gpx_query_parse(&pq, &s, &q, &e), GPX_OK);
  gpx_sql sql = {0};
  ck_assert_int_eq(gpx_sql_buckets(&sql, &s, &q, 60000), GPX_OK);
  const char *t = gpx_sql_cstr(&sql);
  ck_assert_ptr_nonnull(strstr(t, "FROM \"bot\".\"weird \"\"t\"\" name\""));
  ck_assert_ptr_nonnull(strstr(t, "\"Strategy\"\"; DROP\"::text = ANY($"));
  ck_assert_ptr_null(strstr(t, "DROP TABLE")); /* the value is only a parameter */
  int found = 0;
  for (int i = 0; i < sql.n; i++) found |= strstr(sql.params[i], "DROP TABLE trades") != NULL;
  ck_assert(found);
  ck_assert_int_eq(gpx_sql_daily(&sql, &s, &q), GPX_OK);
  t = gpx_sql_cstr(&sql);
  ck_assert_ptr_null(strstr(t, "America")); /* time zone bound too */
  ck_assert_str_eq(sql.params[0], "America/New_York");
  ck_assert_int_eq(gpx_sql_trades(&sql, &s, &q, 10), GPX_OK);
  ck_assert_str_eq(sql.params[sql.n - 1], "11"); /* limit + 1 to detect a cut */
  ck_assert_int_eq(gpx_sql_distinct(&sql, &s, GPX_COL_SYMBOL, "%_", 5), GPX_OK);
  ck_assert_ptr_nonnull(strstr(gpx_sql_cstr(&sql), "strpos(")); /* literal match, no LIKE */
  gpx_sql_reset(&sql);
  gpx_query_reset(&q);
}
END_TEST

START_TEST(quote_ident) {
  gpx_buf b = {0};
  ck_assert_int_eq(gpx_pg_quote_ident(&b, "a\"b"), GPX_OK);
  gpx_buf_terminate(&b);
  ck_assert_str_eq((char *)b.data, "\"a\"\"b\"");
  ck_assert_int_eq(gpx_pg_quote_ident(&b, ""), EINVAL);
  ck_assert_int_eq(gpx_pg_quote_ident(&b, NULL), EINVAL);
  gpx_buf_reset(&b);
}
END_TEST

START_TEST(param_limit_enforced) {
  gpx_sql sql = {0};
  for (int i = 0; i < GPX_SQL_MAX_PARAMS; i++) ck_assert_int_eq(gpx_sql_param(&sql, "v", NULL), GPX_OK);
  ck_assert_int_eq(gpx_sql_param(&sql, "v", NULL), E2BIG);
  gpx_sql_reset(&sql);
}
END_TEST

static Suite *query_suite(void) {
  Suite *s = suite_create("query");
  TCase *tc = tcase_create("query");
  tcase_add_test(tc, parse_full_query);
  tcase_add_loop_test(tc, bad_queries_name_the_field, 0, (int)(sizeof badq / sizeof badq[0]));
  tcase_add_test(tc, time_range_checked);
  tcase_add_test(tc, sql_binds_values_and_quotes_identifiers);
  tcase_add_test(tc, quote_ident);
  tcase_add_test(tc, param_limit_enforced);
  suite_add_tcase(s, tc);
  return s;
}

GPX_CHECK_MAIN(query_suite)
