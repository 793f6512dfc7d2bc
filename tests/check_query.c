/*
** check_query.c — Check suite for src/query/ (query model and SQL
** building), the registry, the result record and the error mapping, and
** the identifier quoting of src/pg/: values only ever appear as $n
** parameters; identifiers are quoted; bad queries name the field.
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

START_TEST(parse_full_query) {
  gpx_ds_settings s;
  gpx_ds_settings_default(&s);
  gpx_query_input pq = mkq("{\"queryType\":\"stats\",\"strategies\":[\"a\\\"b\",\"c\\\\d\"],\"groupBy\":\"symbol\","
                               "\"metrics\":[\"sharpe\",\"win_rate\",\"sharpe\"],\"timezone\":\"Asia/Tokyo\","
                               "\"initialCapital\":1000,\"datasource\":{\"uid\":\"x\"},\"intervalMs\":5}");
  gpx_query q;
  gpx_error e;
  ck_assert_int_eq(gpx_query_parse(&pq, &s, &q, &e), GPX_OK);
  ck_assert_str_eq(gpx_query_kinds[q.kind].name, "stats");
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

/* Single flight's key (flight.c): what only selects output (metrics, their
   order, refId, live) is left out; what changes the read is in. */
static int flight_key(const char *js, gpx_buf *k) {
  gpx_ds_settings s;
  gpx_ds_settings_default(&s);
  gpx_query_input in = mkq(js);
  gpx_query q;
  gpx_error e;
  ck_assert_int_eq(gpx_query_parse(&in, &s, &q, &e), GPX_OK);
  gpx_qrun r;
  memset(&r, 0, sizeof r);
  r.kind = &gpx_query_kinds[q.kind];
  r.q = &q;
  r.s = &s;
  r.in = &in;
  int shared = r.kind->stream_need != NULL;
  if (shared) ck_assert_int_eq(gpx_qrun_flight_key(&r, k), GPX_OK);
  gpx_query_reset(&q);
  return shared;
}

static int same_key(const char *a, const char *b) {
  gpx_buf ka = {0}, kb = {0};
  ck_assert(flight_key(a, &ka));
  ck_assert(flight_key(b, &kb));
  int eq = ka.len == kb.len && memcmp(ka.data, kb.data, ka.len) == 0;
  gpx_buf_reset(&ka);
  gpx_buf_reset(&kb);
  return eq;
}

START_TEST(flight_key_leaves_out_only_output) {
  const char *base = "{\"queryType\":\"stats\",\"refId\":\"A\",\"metrics\":[\"win_rate\"]}";
  ck_assert(same_key(base, "{\"queryType\":\"stats\",\"refId\":\"B\",\"metrics\":[\"total_pnl\",\"trade_count\"]}"));
  ck_assert(same_key(base, "{\"queryType\":\"stats\",\"metrics\":[\"profit_factor\"],\"live\":true}"));
  ck_assert(same_key("{\"queryType\":\"stats\",\"metrics\":[\"sharpe\",\"sortino\"]}",
                     "{\"queryType\":\"stats\",\"metrics\":[\"daily_loss\"]}"));
  /* what the read folds: the daily series, the legs, opened_at */
  ck_assert(!same_key(base, "{\"queryType\":\"stats\",\"metrics\":[\"sharpe\"]}"));
  ck_assert(!same_key(base, "{\"queryType\":\"stats\",\"metrics\":[\"total_fees\"]}"));
  ck_assert(!same_key(base, "{\"queryType\":\"stats\",\"metrics\":[\"avg_holding_time\"]}"));
  ck_assert(!same_key(base, "{\"queryType\":\"stats\"}")); /* every field */
  /* what the numbers depend on */
  ck_assert(!same_key(base, "{\"queryType\":\"stats\",\"metrics\":[\"win_rate\"],\"strategies\":[\"a\"]}"));
  ck_assert(!same_key(base, "{\"queryType\":\"stats\",\"metrics\":[\"win_rate\"],\"groupBy\":\"symbol\"}"));
  ck_assert(!same_key(base, "{\"queryType\":\"stats\",\"metrics\":[\"win_rate\"],\"initialCapital\":5}"));
  ck_assert(!same_key(base, "{\"queryType\":\"stats\",\"metrics\":[\"win_rate\"],\"timezone\":\"Asia/Tokyo\"}"));
  ck_assert(!same_key(base, "{\"queryType\":\"stats\",\"metrics\":[\"win_rate\"],\"riskFreeRate\":0.01}"));
  ck_assert(!same_key(base, "{\"queryType\":\"stats\",\"metrics\":[\"win_rate\"],\"adhocFilters\":"
                            "[{\"key\":\"symbol\",\"operator\":\"=\",\"value\":\"BTC\"}]}"));
  /* a filter list and the same as an ad-hoc filter are different statements */
  ck_assert(!same_key("{\"queryType\":\"stats\",\"symbols\":[\"BTC\"]}",
                      "{\"queryType\":\"stats\",\"adhocFilters\":[{\"key\":\"symbol\",\"operator\":\"=\",\"value\":\"BTC\"}]}"));
  /* the kind: breakdown's read of the same fields is another computation's key */
  ck_assert(!same_key("{\"queryType\":\"stats\",\"groupBy\":\"symbol\",\"metrics\":[\"win_rate\"]}",
                      "{\"queryType\":\"breakdown\",\"groupBy\":\"symbol\",\"metrics\":[\"win_rate\"]}"));
  gpx_buf k = {0};
  ck_assert(!flight_key("{\"queryType\":\"equity\"}", &k)); /* not shared */
  gpx_buf_reset(&k);
}
END_TEST

START_TEST(flight_key_time_range_exact) {
  gpx_buf a = {0}, b = {0};
  gpx_ds_settings s;
  gpx_ds_settings_default(&s);
  gpx_query_input in = mkq("{\"queryType\":\"stats\",\"metrics\":[\"win_rate\"]}");
  gpx_query q;
  gpx_error e;
  gpx_qrun r;
  memset(&r, 0, sizeof r);
  ck_assert_int_eq(gpx_query_parse(&in, &s, &q, &e), GPX_OK);
  r.kind = &gpx_query_kinds[q.kind];
  r.q = &q;
  r.s = &s;
  r.in = &in;
  ck_assert_int_eq(gpx_qrun_flight_key(&r, &a), GPX_OK);
  gpx_query_reset(&q);
  in.to_ms += 1; /* one millisecond later: another range */
  ck_assert_int_eq(gpx_query_parse(&in, &s, &q, &e), GPX_OK);
  ck_assert_int_eq(gpx_qrun_flight_key(&r, &b), GPX_OK);
  ck_assert(a.len != b.len || memcmp(a.data, b.data, a.len) != 0);
  gpx_query_reset(&q);
  gpx_buf_reset(&a);
  gpx_buf_reset(&b);
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
    {"{\"queryType\":\"period_returns\",\"period\":\"day\"}", "period: must be one of week, month, quarter, year"},
    {"{\"queryType\":\"period_returns\",\"layout\":\"heatmap\"}", "layout: must be one of series, grid"},
    {"{\"queryType\":\"period_returns\",\"period\":\"week\",\"layout\":\"grid\"}", "layout: \"grid\""},
    {"{\"queryType\":\"rolling\",\"metric\":\"calmar\"}", "metric: must be one of sharpe, sortino"},
    {"{\"queryType\":\"rolling\",\"window\":1}", "window: must be a whole number of days from 2 to 3650"},
    {"{\"queryType\":\"rolling\",\"window\":3651}", "window: "},
    {"{\"queryType\":\"rolling\",\"window\":30.5}", "window: "},
    {"{\"queryType\":\"rolling\",\"window\":\"30\"}", "window: "},
    {"{\"queryType\":\"equity\",\"entryTags\":\"roi\"}", "entryTags: must be a list"},
    {"{\"queryType\":\"equity\",\"exitReasons\":[1]}", "exitReasons[0]: must be a string"},
    {"{\"queryType\":\"equity\",\"sides\":[\"long\",null]}", "sides[1]: must be a string"},
    {"{\"queryType\":\"equity\",\"exchanges\":{\"a\":1}}", "exchanges: must be a list"},
    {"{\"queryType\":\"equity\",\"groupBy\":\"venue\"}",
     "groupBy: must be one of none, strategy, symbol, account, side, exchange, entry_tag, exit_reason"},
    {"{\"queryType\":\"annotations\",\"events\":\"fills\"}",
     "events: must be one of trades, large_losses, drawdown_episodes, daily_loss"},
    {"{\"queryType\":\"annotations\",\"events\":\"large_losses\",\"threshold\":0}", "threshold: large_losses"},
    {"{\"queryType\":\"annotations\",\"events\":\"large_losses\",\"threshold\":\"100\"}", "threshold: must be a number"},
    {"{\"queryType\":\"annotations\",\"events\":\"drawdown_episodes\",\"threshold\":5}", "threshold: drawdown_episodes"},
    {"{\"queryType\":\"annotations\",\"events\":\"drawdown_episodes\",\"threshold\":-0.1}", "threshold: "},
    {"{\"queryType\":\"annotations\",\"events\":\"daily_loss\",\"threshold\":-1}", "threshold: daily_loss"},
    {"{\"queryType\":\"annotations\",\"events\":\"daily_loss\",\"threshold\":true}", "threshold: must be a number"},
};

START_TEST(bad_queries_name_the_field) {
  gpx_ds_settings s;
  gpx_ds_settings_default(&s);
  gpx_query_input pq = mkq(badq[_i].js);
  gpx_query q;
  gpx_error e;
  ck_assert_int_eq(gpx_query_parse(&pq, &s, &q, &e), EINVAL);
  ck_assert_msg(strstr(e.msg, badq[_i].msg) != NULL, "%s → %s", badq[_i].js, e.msg);
}
END_TEST

START_TEST(time_range_checked) {
  gpx_ds_settings s;
  gpx_ds_settings_default(&s);
  gpx_query_input pq = mkq("{\"queryType\":\"equity\"}");
  pq.from_ms = 2000;
  pq.to_ms = 1000;
  gpx_query q;
  gpx_error e;
  ck_assert_int_eq(gpx_query_parse(&pq, &s, &q, &e), EINVAL);
  ck_assert_ptr_nonnull(strstr(e.msg, "timeRange"));
  pq.has_time_range = 0;
  ck_assert_int_eq(gpx_query_parse(&pq, &s, &q, &e), EINVAL);
}
END_TEST

START_TEST(sql_binds_values_and_quotes_identifiers) {
  gpx_ds_settings s;
  gpx_ds_settings_default(&s);
  strcpy(s.table, "weird \"t\" name");
  strcpy(s.schema, "bot");
  strcpy(s.columns[GPX_COL_STRATEGY].name[0], "Strategy\"; DROP");
  gpx_query_input pq = mkq("{\"queryType\":\"equity\",\"strategies\":[\"x'); DROP TABLE trades; --\"],"
                               "\"groupBy\":\"strategy\",\"timezone\":\"America/New_York\"}");
  gpx_query q;
  gpx_error e;
  ck_assert_int_eq(gpx_query_parse(&pq, &s, &q, &e), GPX_OK);
  gpx_stmt st = {0};
  ck_assert_int_eq(gpx_stmt_build(&st, &gpx_stmt_buckets, &s, &q, 60000000000, 0), GPX_OK);
  const char *t = gpx_sql_cstr(&st.sql);
  ck_assert_ptr_nonnull(strstr(t, "FROM \"bot\".\"weird \"\"t\"\" name\""));
  ck_assert_ptr_nonnull(strstr(t, "\"Strategy\"\"; DROP\"::text = ANY($"));
  ck_assert_ptr_null(strstr(t, "DROP TABLE")); /* the value is only a parameter */
  int found = 0;
  for (int i = 0; i < st.sql.n; i++) found |= strstr(st.sql.params[i], "DROP TABLE trades") != NULL;
  ck_assert(found);
  ck_assert_ptr_nonnull(strstr(t, " GROUP BY g, b")); /* keys derived from the column table */
  ck_assert_int_eq(st.first, 1);                        /* the group column leads */
  ck_assert_int_eq(gpx_stmt_build(&st, &gpx_stmt_daily, &s, &q, 0, 0), GPX_OK);
  t = gpx_sql_cstr(&st.sql);
  ck_assert_ptr_null(strstr(t, "America")); /* time zone bound too */
  ck_assert_str_eq(st.sql.params[0], "America/New_York");
  ck_assert_int_eq(gpx_stmt_build(&st, &gpx_stmt_trades, &s, &q, 0, 10), GPX_OK);
  ck_assert_int_eq(st.first, 0); /* the trades table never groups */
  ck_assert_str_eq(st.sql.params[st.sql.n - 1], "11"); /* limit + 1 to detect a cut */
  gpx_stmt_reset(&st);
  gpx_sql sql = {0};
  ck_assert_int_eq(gpx_sql_distinct(&sql, &s, GPX_COL_SYMBOL, "%_", 5), GPX_OK);
  ck_assert_ptr_nonnull(strstr(gpx_sql_cstr(&sql), "strpos(")); /* literal match, no LIKE */
  /* Save & test: the quoted name is bound once (to_regclass); the estimate
     sums the partitions' (pg_inherits), a partitioned parent's own is -1 */
  ck_assert_int_eq(gpx_sql_count_span(&sql, &s), GPX_OK);
  ck_assert_int_eq(sql.n, 1);
  ck_assert_str_eq(sql.params[0], "\"bot\".\"weird \"\"t\"\" name\"");
  ck_assert_ptr_nonnull(strstr(gpx_sql_cstr(&sql), "pg_catalog.pg_inherits"));
  ck_assert_ptr_nonnull(strstr(gpx_sql_cstr(&sql), "relkind <> 'p'"));
  gpx_sql_reset(&sql);
  gpx_query_reset(&q);
}
END_TEST

START_TEST(period_and_rolling_options) {
  gpx_ds_settings s;
  gpx_ds_settings_default(&s);
  gpx_query q;
  gpx_error e;
  /* defaults: month, series; sharpe over 30 days */
  gpx_query_input pq = mkq("{\"queryType\":\"period_returns\"}");
  ck_assert_int_eq(gpx_query_parse(&pq, &s, &q, &e), GPX_OK);
  ck_assert_int_eq(q.period, GPX_PERIOD_MONTH);
  ck_assert_int_eq(q.period_grid, 0);
  gpx_query_reset(&q);
  pq = mkq("{\"queryType\":\"period_returns\",\"period\":\"month\",\"layout\":\"grid\",\"groupBy\":\"strategy\"}");
  ck_assert_int_eq(gpx_query_parse(&pq, &s, &q, &e), GPX_OK);
  ck_assert_int_eq(q.period_grid, 1);
  gpx_query_reset(&q);
  pq = mkq("{\"queryType\":\"period_returns\",\"period\":\"quarter\"}");
  ck_assert_int_eq(gpx_query_parse(&pq, &s, &q, &e), GPX_OK);
  ck_assert_int_eq(q.period, GPX_PERIOD_QUARTER);
  gpx_query_reset(&q);
  pq = mkq("{\"queryType\":\"rolling\"}");
  ck_assert_int_eq(gpx_query_parse(&pq, &s, &q, &e), GPX_OK);
  ck_assert_int_eq(q.rolling_metric, GPX_ROLL_SHARPE);
  ck_assert_int_eq(q.window, 30);
  gpx_query_reset(&q);
  pq = mkq("{\"queryType\":\"rolling\",\"metric\":\"profit_factor\",\"window\":3650.0}");
  ck_assert_int_eq(gpx_query_parse(&pq, &s, &q, &e), GPX_OK);
  ck_assert_int_eq(q.rolling_metric, GPX_ROLL_PROFIT_FACTOR);
  ck_assert_int_eq(q.window, 3650);
  gpx_query_reset(&q);
  /* another kind's options are not read (an editor may leave them behind) */
  pq = mkq("{\"queryType\":\"stats\",\"window\":0,\"period\":\"day\",\"metric\":7}");
  ck_assert_int_eq(gpx_query_parse(&pq, &s, &q, &e), GPX_OK);
  gpx_query_reset(&q);
  /* the daily-trades statement: the daily columns, then wins and losses with FILTER; the daily
     statement itself is unchanged (its readers pay nothing for them) */
  pq = mkq("{\"queryType\":\"rolling\",\"groupBy\":\"symbol\"}");
  ck_assert_int_eq(gpx_query_parse(&pq, &s, &q, &e), GPX_OK);
  gpx_stmt st = {0};
  ck_assert_int_eq(gpx_stmt_build(&st, &gpx_stmt_daily_trades, &s, &q, 0, 0), GPX_OK);
  const char *t = gpx_sql_cstr(&st.sql);
  ck_assert_ptr_nonnull(strstr(t, "count(*) FILTER (WHERE \"realized_pnl\" > 0)::int8 AS nw"));
  ck_assert_ptr_nonnull(strstr(t, "sum(\"realized_pnl\") FILTER (WHERE \"realized_pnl\" < 0)::float8 AS sl"));
  ck_assert_ptr_nonnull(strstr(t, " GROUP BY g, d"));
  ck_assert_int_eq(gpx_stmt_build(&st, &gpx_stmt_daily, &s, &q, 0, 0), GPX_OK);
  ck_assert_ptr_null(strstr(gpx_sql_cstr(&st.sql), "FILTER"));
  int32_t days[] = {19000, 20150};
  ck_assert_int_eq(gpx_sql_midnights(&st, &q, days, 2), GPX_OK);
  ck_assert_str_eq(st.sql.params[1], "{19000,20150}");
  ck_assert_ptr_null(strstr(gpx_sql_cstr(&st.sql), "19000")); /* bound, not spliced */
  gpx_stmt_reset(&st);
  gpx_query_reset(&q);
}
END_TEST

START_TEST(daily_rows_keep_their_aggregates_when_ordered) {
  gpx_groups gs = {0};
  gpx_qgroup *g = gpx_groups_get(&gs, "a");
  ck_assert_ptr_nonnull(g);
  /* hash order from SQL: days 300 … 0, each with wins = day */
  for (int d = 300; d >= 0; d -= 3) {
    gpx_trade_agg a = {d + 1, d, 1, d * 2.0, d * 3.0, -1};
    ck_assert_int_eq(gpx_group_push_day_agg(g, d, d * 2.0, &a), GPX_OK);
  }
  ck_assert_int_eq(gpx_groups_order(&gs), GPX_OK);
  g = gpx_groups_get(&gs, "a");
  for (size_t k = 0; k < g->nd; k++) {
    ck_assert_int_eq(g->day[k], (int)k * 3);
    ck_assert_int_eq(g->dagg[k].wins, g->day[k]);
    ck_assert_int_eq(g->dcount[k], g->day[k] + 1);
    ck_assert_double_eq(g->dagg[k].sum_win, g->day[k] * 3.0);
  }
  /* rows without aggregates first, then one with: refused */
  gpx_qgroup *b = gpx_groups_get(&gs, "b");
  ck_assert_int_eq(gpx_group_push_day(b, 1, 1, 1), GPX_OK);
  gpx_trade_agg a = {0};
  ck_assert_int_eq(gpx_group_push_day_agg(b, 2, 1, &a), EINVAL);
  gpx_groups_reset(&gs);
}
END_TEST

/* The dimension filters: each a list bound as one text[] parameter, with
   the same rules as strategies (escaping, $__all = no filter, 1000 at most,
   errors naming the field). */
START_TEST(parse_dimension_filters) {
  gpx_ds_settings s;
  gpx_ds_settings_default(&s);
  gpx_query_input pq = mkq("{\"queryType\":\"pnl\",\"sides\":[\"short\"],\"exchanges\":[\"binance\",\"oanda\"],"
                           "\"entryTags\":[\"ema \\\"x\\\"\",\"rsi\"],\"exitReasons\":[\"roi\",\"$__all\"],\"groupBy\":\"exit_reason\"}");
  gpx_query q;
  gpx_error e;
  ck_assert_int_eq(gpx_query_parse(&pq, &s, &q, &e), GPX_OK);
  ck_assert_ptr_null(q.filter[GPX_DIM_STRATEGY]);
  ck_assert_str_eq(q.filter[GPX_DIM_SIDE], "{\"short\"}");
  ck_assert_str_eq(q.filter[GPX_DIM_EXCHANGE], "{\"binance\",\"oanda\"}");
  ck_assert_str_eq(q.filter[GPX_DIM_ENTRY_TAG], "{\"ema \\\"x\\\"\",\"rsi\"}");
  ck_assert_ptr_null(q.filter[GPX_DIM_EXIT_REASON]); /* an unexpanded All means no filter */
  ck_assert_int_eq(q.group_by, GPX_GROUP_EXIT_REASON);
  gpx_query_reset(&q);

  /* 1000 entries are fine, 1001 are not, and the error names the list */
  gpx_buf b = {0};
  for (int n = 1000; n <= 1001; n++) {
    b.len = 0;
    ck_assert_int_eq(gpx_buf_append_str(&b, "{\"queryType\":\"equity\",\"entryTags\":["), GPX_OK);
    for (int i = 0; i < n; i++) ck_assert_int_eq(gpx_buf_printf(&b, "%s\"t%d\"", i ? "," : "", i), GPX_OK);
    ck_assert_int_eq(gpx_buf_append_str(&b, "]}"), GPX_OK);
    pq.json = b.data;
    pq.json_len = b.len;
    int rc = gpx_query_parse(&pq, &s, &q, &e);
    if (n == 1000) {
      ck_assert_int_eq(rc, GPX_OK);
      ck_assert_ptr_nonnull(q.filter[GPX_DIM_ENTRY_TAG]);
      gpx_query_reset(&q);
    } else {
      ck_assert_int_eq(rc, EINVAL);
      ck_assert_str_eq(e.msg, "entryTags: 1001 entries, at most 1000 allowed");
    }
  }
  gpx_buf_reset(&b);
}
END_TEST

/* Every groupBy value names its dimension's column and label; the new
   dimensions filter and group through the mapping, values only bound. */
START_TEST(sql_dimension_filters_and_groups) {
  static const struct {
    const char *by;
    gpx_group g;
    gpx_col col;
  } want[] = {{"strategy", GPX_GROUP_STRATEGY, GPX_COL_STRATEGY}, {"symbol", GPX_GROUP_SYMBOL, GPX_COL_SYMBOL},
              {"account", GPX_GROUP_ACCOUNT, GPX_COL_ACCOUNT},    {"side", GPX_GROUP_SIDE, GPX_COL_SIDE},
              {"exchange", GPX_GROUP_EXCHANGE, GPX_COL_EXCHANGE}, {"entry_tag", GPX_GROUP_ENTRY_TAG, GPX_COL_ENTRY_TAG},
              {"exit_reason", GPX_GROUP_EXIT_REASON, GPX_COL_EXIT_REASON}};
  ck_assert_int_eq(sizeof want / sizeof want[0], GPX_DIM_COUNT);
  for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
    ck_assert_int_eq(gpx_group_col(want[i].g), want[i].col);
    ck_assert_str_eq(gpx_group_label(want[i].g), want[i].by);
  }
  ck_assert_int_eq(gpx_group_col(GPX_GROUP_NONE), GPX_COL_COUNT);
  ck_assert_str_eq(gpx_group_label(GPX_GROUP_NONE), "");

  gpx_ds_settings s;
  gpx_ds_settings_default(&s);
  strcpy(s.columns[GPX_COL_ENTRY_TAG].name[0], "enter_tag"); /* freqtrade's column */
  strcpy(s.columns[GPX_COL_EXIT_REASON].name[0], "Exit \"why\"");
  gpx_query_input pq = mkq("{\"queryType\":\"equity\",\"sides\":[\"long\"],\"exchanges\":[\"x'); DROP TABLE t; --\"],"
                           "\"entryTags\":[\"ema_cross\"],\"exitReasons\":[\"stop_loss\",\"roi\"],\"groupBy\":\"entry_tag\"}");
  gpx_query q;
  gpx_error e;
  ck_assert_int_eq(gpx_query_parse(&pq, &s, &q, &e), GPX_OK);
  gpx_stmt st = {0};
  ck_assert_int_eq(gpx_stmt_build(&st, &gpx_stmt_buckets, &s, &q, 60000000000, 0), GPX_OK);
  const char *t = gpx_sql_cstr(&st.sql);
  ck_assert_ptr_nonnull(strstr(t, "SELECT \"enter_tag\"::text AS g, "));
  ck_assert_ptr_nonnull(strstr(t, " GROUP BY g, b"));
  /* each filter: the mapped column against one bound text[] parameter */
  static const struct {
    const char *col, *value;
  } f[] = {{"CASE lower(\"side\"::text) WHEN 'buy' THEN 'long' WHEN 'sell' THEN 'short' ELSE lower(\"side\"::text) END",
            "{\"long\"}"},
           {"\"exchange\"", "{\"x'); DROP TABLE t; --\"}"},
           {"\"enter_tag\"", "{\"ema_cross\"}"},
           {"\"Exit \"\"why\"\"\"", "{\"stop_loss\",\"roi\"}"}};
  for (size_t i = 0; i < sizeof f / sizeof f[0]; i++) {
    char pat[128];
    snprintf(pat, sizeof pat, " AND %s::text = ANY($", f[i].col);
    const char *at = strstr(t, pat);
    ck_assert_msg(at != NULL, "%s not filtered in %s", f[i].col, t);
    int n = atoi(at + strlen(pat));
    ck_assert_int_ge(n, 1);
    ck_assert_int_le(n, st.sql.n);
    ck_assert_str_eq(st.sql.params[n - 1], f[i].value);
    char cast[32];
    snprintf(cast, sizeof cast, "$%d::text[])", n);
    ck_assert_ptr_nonnull(strstr(at, cast));
  }
  ck_assert_ptr_null(strstr(t, "DROP TABLE"));
  ck_assert_ptr_null(strstr(t, "stop_loss"));
  ck_assert_ptr_null(strstr(t, "strategy")); /* no filter on a dimension the query does not name */
  /* the per-trade stream and the trades table filter the same way */
  ck_assert_int_eq(gpx_stmt_build(&st, &gpx_stmt_trade_stream, &s, &q, 0, 0), GPX_OK);
  ck_assert_ptr_nonnull(strstr(gpx_sql_cstr(&st.sql), "\"enter_tag\"::text = ANY($"));
  ck_assert_ptr_nonnull(strstr(gpx_sql_cstr(&st.sql), " ORDER BY g, \"closed_at\""));
  ck_assert_int_eq(gpx_stmt_build(&st, &gpx_stmt_trades, &s, &q, 0, 10), GPX_OK);
  ck_assert_ptr_nonnull(strstr(gpx_sql_cstr(&st.sql), "ELSE lower(\"side\"::text) END::text = ANY($"));
  gpx_stmt_reset(&st);
  gpx_query_reset(&q);
}
END_TEST

/* The parameter a "$n" at p refers to (n read after the '$'). */
static const char *param_at(const gpx_stmt *st, const char *p) {
  ck_assert_ptr_nonnull(p);
  const char *d = strchr(p, '$');
  ck_assert_ptr_nonnull(d);
  int n = atoi(d + 1);
  ck_assert_int_ge(n, 1);
  ck_assert_int_le(n, st->sql.n);
  return st->sql.params[n - 1];
}

static void mapped(const char *js, gpx_ds_settings *s) {
  gpx_error e;
  ck_assert_msg(gpx_ds_settings_parse((const uint8_t *)js, strlen(js), NULL, 0, s, &e) == GPX_OK, "%s", e.msg);
}

/* Issue 12: the SQL of each mapping form — quoted identifiers, sums of
   columns with NULL as 0, the epoch range on the stored column with
   parameters converted in C, side as long/short by CASE, absent columns as
   typed NULLs, no trade id to order by. */
START_TEST(sql_of_each_mapping_form) {
  gpx_ds_settings s;
  mapped("{\"columns\":{\"closed_at\":{\"column\":\"close ms\",\"as\":\"epoch_ms\"},"
         "\"fees\":[\"fee_open_cost\",\"fee \\\"x\\\"\"],\"side\":{\"column\":\"is_short\",\"as\":\"is_short\"},"
         "\"account\":null,\"trade_id\":null,\"strategy\":\"strat_id\"}}", &s);
  gpx_query_input pq = mkq("{\"queryType\":\"equity\",\"strategies\":[\"(none)\",\"7\"],\"sides\":[\"short\"],"
                           "\"groupBy\":\"side\"}");
  gpx_query q;
  gpx_error e;
  ck_assert_int_eq(gpx_query_parse(&pq, &s, &q, &e), GPX_OK);
  ck_assert_uint_eq(q.missing, (1u << GPX_COL_ACCOUNT) | (1u << GPX_COL_TRADE_ID));
  gpx_stmt st = {0};
  ck_assert_int_eq(gpx_stmt_build(&st, &gpx_stmt_buckets, &s, &q, 60000000000, 0), GPX_OK);
  const char *t = gpx_sql_cstr(&st.sql);
  /* the range: the stored number against ms converted in C, never a function of the column */
  ck_assert_str_eq(param_at(&st, strstr(t, " WHERE \"close ms\" > $")), "1700000000000");
  ck_assert_str_eq(param_at(&st, strstr(t, " AND \"close ms\" <= $")), "1700086400000");
  ck_assert_ptr_nonnull(strstr(t, " WHERE \"close ms\" > $3::int8 AND \"close ms\" <= $4::int8"));
  ck_assert_ptr_null(strstr(t, "to_timestamp(\"close ms\""));
  /* buckets from the stored ms; the bucket's time made once per group */
  ck_assert_ptr_nonnull(strstr(t, "(ceil((\"close ms\"::float8 - $"));
  ck_assert_ptr_nonnull(strstr(t, "to_timestamp(max(\"close ms\")::float8 / 1000)::timestamptz AS ts"));
  /* side grouped and filtered as long/short */
  ck_assert_ptr_nonnull(strstr(t, "SELECT CASE WHEN \"is_short\" THEN 'short' WHEN NOT \"is_short\" THEN 'long' END::text AS g"));
  ck_assert_str_eq(param_at(&st, strstr(t, " AND CASE WHEN \"is_short\" THEN 'short' WHEN NOT \"is_short\" THEN 'long' END::text = ANY($")),
                   "{\"short\"}");
  /* "(none)" selects the NULLs too */
  const char *none = strstr(t, " AND (\"strat_id\"::text = ANY($");
  ck_assert_str_eq(param_at(&st, none), "{\"(none)\",\"7\"}");
  ck_assert_ptr_nonnull(strstr(none, "::text[]) OR \"strat_id\" IS NULL)"));

  /* the trades table: sums, NULLs for absent columns, order by closed_at alone */
  ck_assert_int_eq(gpx_stmt_build(&st, &gpx_stmt_trades, &s, &q, 0, 10), GPX_OK);
  t = gpx_sql_cstr(&st.sql);
  ck_assert_ptr_nonnull(strstr(t, "(coalesce(\"fee_open_cost\", 0) + coalesce(\"fee \"\"x\"\"\", 0)) AS c_fees"));
  ck_assert_ptr_nonnull(strstr(t, "NULL::text::text AS c_trade_id"));
  ck_assert_ptr_nonnull(strstr(t, "NULL::text::text AS c_account"));
  ck_assert_ptr_nonnull(strstr(t, "to_timestamp(\"close ms\"::float8 / 1000)::timestamptz AS c_closed_at"));
  ck_assert_ptr_nonnull(strstr(t, " ORDER BY \"close ms\" DESC LIMIT $"));
  ck_assert_ptr_null(strstr(t, "trade_id\""));

  /* the one-pass read: side as stored (normalised in C), ordered by closed_at alone */
  ck_assert_int_eq(gpx_stmt_build(&st, &gpx_stmt_stats_stream, &s, &q, 0, 0), GPX_OK);
  t = gpx_sql_cstr(&st.sql);
  ck_assert_ptr_nonnull(strstr(t, "\"is_short\"::text AS sd"));
  ck_assert_ptr_nonnull(strstr(t, " ORDER BY \"close ms\""));
  ck_assert_ptr_null(strstr(t, "\"close ms\", "));

  /* the daily statement makes a time of the stored number */
  ck_assert_int_eq(gpx_stmt_build(&st, &gpx_stmt_daily, &s, &q, 0, 0), GPX_OK);
  ck_assert_ptr_nonnull(strstr(gpx_sql_cstr(&st.sql), ", to_timestamp(\"close ms\"::float8 / 1000)::timestamptz))::date"));

  /* values of side; the count and span for CheckHealth take min/max of the stored column */
  gpx_sql sql = {0};
  ck_assert_int_eq(gpx_sql_distinct(&sql, &s, GPX_COL_SIDE, "", 10), GPX_OK);
  ck_assert_ptr_nonnull(strstr(gpx_sql_cstr(&sql), "SELECT DISTINCT CASE WHEN \"is_short\" THEN 'short'"));
  ck_assert_int_eq(gpx_sql_count_span(&sql, &s), GPX_OK);
  ck_assert_ptr_nonnull(strstr(gpx_sql_cstr(&sql), "(SELECT to_timestamp(min(\"close ms\")::float8 / 1000) FROM \"trades\" WHERE \"close ms\" IS NOT NULL)"));
  gpx_sql_reset(&sql);
  gpx_stmt_reset(&st);
  gpx_query_reset(&q);
  gpx_ds_settings_reset(&s);

  /* a text side: buy/sell are long/short, any case */
  mapped("{}", &s);
  pq = mkq("{\"queryType\":\"slippage\",\"groupBy\":\"side\",\"sides\":[\"Buy\",\"SELL\",\"Long\",\"flat\"]}");
  ck_assert_int_eq(gpx_query_parse(&pq, &s, &q, &e), GPX_OK);
  ck_assert_str_eq(q.filter[GPX_DIM_SIDE], "{\"long\",\"short\",\"long\",\"flat\"}"); /* filter values normalised too */
  ck_assert_int_eq(gpx_stmt_build(&st, &gpx_stmt_slippage, &s, &q, 60000000000, 0), GPX_OK);
  t = gpx_sql_cstr(&st.sql);
  ck_assert_ptr_nonnull(strstr(t, "CASE lower(\"side\"::text) WHEN 'buy' THEN 'long' WHEN 'sell' THEN 'short' ELSE lower(\"side\"::text) END"));
  ck_assert_ptr_nonnull(strstr(t, ", \"side\"::text AS sd")); /* the side column itself: normalised in C */
  /* the default layout's range is unchanged */
  ck_assert_ptr_nonnull(strstr(t, " WHERE \"closed_at\" > to_timestamp($"));
  gpx_stmt_reset(&st);
  gpx_query_reset(&q);
  gpx_ds_settings_reset(&s);

  /* is_long: true is long */
  mapped("{\"columns\":{\"side\":{\"column\":\"long?\",\"as\":\"is_long\"}}}", &s);
  ck_assert_int_eq(gpx_sql_distinct(&sql, &s, GPX_COL_SIDE, "", 10), GPX_OK);
  ck_assert_ptr_nonnull(strstr(gpx_sql_cstr(&sql), "CASE WHEN \"long?\" THEN 'long' WHEN NOT \"long?\" THEN 'short' END"));
  gpx_sql_reset(&sql);
  gpx_ds_settings_reset(&s);
}
END_TEST

/* Epoch units: the bounds converted in C; seconds inside a second get the
   wider bound on the column and the exact one on the rows it keeps. */
START_TEST(epoch_bounds_converted_in_c) {
  static const struct {
    const char *as;
    int64_t from_ms, to_ms;
    const char *where;
    const char *params[4];
  } c[] = {
      {"epoch_s", 1700000000000, 1700086400000, " WHERE \"t\" > $1::int8 AND \"t\" <= $2::int8", {"1700000000", "1700086400"}},
      {"epoch_s", 1700000000500, 1700086400250,
       " WHERE \"t\" > $1::int8 AND \"t\" * 1000 > $2::int8 AND \"t\" <= $3::int8 AND \"t\" * 1000 <= $4::int8",
       {"1700000000", "1700000000500", "1700086401", "1700086400250"}},
      {"epoch_s", -1500, -500, " WHERE \"t\" > $1::int8 AND \"t\" * 1000 > $2::int8 AND \"t\" <= $3::int8 AND \"t\" * 1000 <= $4::int8",
       {"-2", "-1500", "0", "-500"}},
      {"epoch_ms", 1700000000001, 1700000000002, " WHERE \"t\" > $1::int8 AND \"t\" <= $2::int8", {"1700000000001", "1700000000002"}},
      {"epoch_us", 1700000000001, 1700000000002, " WHERE \"t\" > $1::int8 AND \"t\" <= $2::int8",
       {"1700000000001000", "1700000000002000"}},
      {"epoch_ns", 1700000000001, 1700000000002, " WHERE \"t\" > $1::int8 AND \"t\" <= $2::int8",
       {"1700000000001000000", "1700000000002000000"}},
  };
  for (size_t i = 0; i < sizeof c / sizeof c[0]; i++) {
    char js[200];
    snprintf(js, sizeof js, "{\"columns\":{\"closed_at\":{\"column\":\"t\",\"as\":\"%s\"}}}", c[i].as);
    gpx_ds_settings s;
    mapped(js, &s);
    gpx_query_input pq = mkq("{\"queryType\":\"pnl\"}");
    pq.from_ms = c[i].from_ms;
    pq.to_ms = c[i].to_ms;
    gpx_query q;
    gpx_error e;
    ck_assert_int_eq(gpx_query_parse(&pq, &s, &q, &e), GPX_OK);
    gpx_stmt st = {0};
    ck_assert_int_eq(gpx_stmt_build(&st, &gpx_stmt_trade_stream, &s, &q, 0, 0), GPX_OK);
    const char *t = gpx_sql_cstr(&st.sql);
    ck_assert_msg(strstr(t, c[i].where) != NULL, "%s: %s", c[i].as, t);
    for (int k = 0; k < 4 && c[i].params[k]; k++) ck_assert_str_eq(st.sql.params[k], c[i].params[k]);
    gpx_stmt_reset(&st);
    gpx_query_reset(&q);
    gpx_ds_settings_reset(&s);
  }
}
END_TEST

/* A real (float4) number column is read as float8: Postgres sums a real in real precision. */
START_TEST(real_columns_are_summed_as_float8) {
  gpx_ds_settings s;
  mapped("{\"columns\":{\"realized_pnl\":\"p\",\"fees\":[\"a\",\"b\"]}}", &s);
  gpx_query_input pq = mkq("{\"queryType\":\"daily_pnl\"}");
  gpx_query q;
  gpx_error e;
  ck_assert_int_eq(gpx_query_parse(&pq, &s, &q, &e), GPX_OK);
  q.widen = (1u << GPX_COL_REALIZED_PNL) | (1u << GPX_COL_FEES);
  gpx_stmt st = {0};
  ck_assert_int_eq(gpx_stmt_build(&st, &gpx_stmt_daily, &s, &q, 0, 0), GPX_OK);
  ck_assert_ptr_nonnull(strstr(gpx_sql_cstr(&st.sql), "sum(\"p\"::float8)::float8 AS pnl"));
  ck_assert_int_eq(gpx_stmt_build(&st, &gpx_stmt_stats_legs, &s, &q, 0, 0), GPX_OK);
  ck_assert_ptr_nonnull(strstr(gpx_sql_cstr(&st.sql), "(coalesce(\"a\"::float8, 0) + coalesce(\"b\"::float8, 0)) AS fee"));
  q.widen = 0; /* numeric and the rest: as stored (a per-row cast of numeric costs) */
  ck_assert_int_eq(gpx_stmt_build(&st, &gpx_stmt_daily, &s, &q, 0, 0), GPX_OK);
  ck_assert_ptr_nonnull(strstr(gpx_sql_cstr(&st.sql), "sum(\"p\")::float8 AS pnl"));
  gpx_stmt_reset(&st);
  gpx_query_reset(&q);
  gpx_ds_settings_reset(&s);
}
END_TEST

/* A filter or groupBy on a column mapped to null is a 400 naming the mapping. */
START_TEST(absent_dimension_is_a_named_error) {
  gpx_ds_settings s;
  mapped("{\"preset\":\"freqtrade\"}", &s);
  static const struct {
    const char *js, *msg;
  } c[] = {
      {"{\"queryType\":\"stats\",\"groupBy\":\"account\"}", "groupBy: account is not mapped (jsonData.columns.account is null)"},
      {"{\"queryType\":\"equity\",\"accounts\":[\"a\"]}", "accounts: account is not mapped (jsonData.columns.account is null)"},
  };
  for (size_t i = 0; i < sizeof c / sizeof c[0]; i++) {
    gpx_query_input pq = mkq(c[i].js);
    gpx_query q;
    gpx_error e;
    ck_assert_int_eq(gpx_query_parse(&pq, &s, &q, &e), EINVAL);
    ck_assert_str_eq(e.msg, c[i].msg);
  }
  /* an empty list is no filter; a kind without groupBy ignores it */
  gpx_query_input pq = mkq("{\"queryType\":\"trades\",\"accounts\":[],\"groupBy\":\"account\"}");
  gpx_query q;
  gpx_error e;
  ck_assert_int_eq(gpx_query_parse(&pq, &s, &q, &e), GPX_OK);
  gpx_query_reset(&q);
  gpx_ds_settings_reset(&s);
}
END_TEST

/* The values resources follow the dimension table; `kinds` is the registry. */
START_TEST(resources_follow_the_tables) {
  static const struct {
    const char *res;
    gpx_col col;
  } want[] = {{"strategies", GPX_COL_STRATEGY}, {"symbols", GPX_COL_SYMBOL},     {"accounts", GPX_COL_ACCOUNT},
              {"sides", GPX_COL_SIDE},          {"exchanges", GPX_COL_EXCHANGE}, {"entry_tags", GPX_COL_ENTRY_TAG},
              {"exit_reasons", GPX_COL_EXIT_REASON}};
  for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
    ck_assert_int_eq(gpx_query_resource_column(want[i].res), want[i].col);
    ck_assert_ptr_nonnull(strstr(gpx_query_resource_names(), want[i].res));
  }
  ck_assert_int_eq(gpx_query_resource_column("schema"), GPX_COL_COUNT);
  ck_assert_int_eq(gpx_query_resource_column("entryTags"), GPX_COL_COUNT);
  ck_assert_int_eq(gpx_query_resource_column(NULL), GPX_COL_COUNT);
  ck_assert_str_eq(gpx_query_resource_names(), "strategies, symbols, accounts, sides, exchanges, entry_tags, exit_reasons");

  gpx_ds_settings s;
  gpx_ds_settings_default(&s);
  gpx_sql sql = {0};
  strcpy(s.columns[GPX_COL_EXIT_REASON].name[0], "exit_reason");
  ck_assert_int_eq(gpx_sql_distinct(&sql, &s, GPX_COL_EXIT_REASON, "loss", 50), GPX_OK);
  ck_assert_ptr_nonnull(strstr(gpx_sql_cstr(&sql), "SELECT DISTINCT \"exit_reason\"::text AS v FROM \"trades\""));
  ck_assert_ptr_null(strstr(gpx_sql_cstr(&sql), "loss"));
  gpx_sql_reset(&sql);

  json_t *k = gpx_query_kinds_json();
  ck_assert_ptr_nonnull(k);
  size_t visible = 0;
  for (size_t i = 0; i < gpx_query_kind_count(); i++) {
    const gpx_query_kind *kind = &gpx_query_kinds[i];
    if (kind->flags & GPX_QKIND_TEST_ONLY) continue;
    json_t *row = json_array_get(k, visible++);
    ck_assert_ptr_nonnull(row);
    ck_assert_str_eq(json_string_value(json_object_get(row, "name")), kind->name);
    ck_assert_str_eq(json_string_value(json_object_get(row, "description")), kind->description);
    ck_assert_str_eq(json_string_value(json_object_get(row, "frameType")), kind->frame_type);
    json_t *opts = json_object_get(row, "options");
    ck_assert(json_is_array(opts));
    int has_group = 0, has_filters = 0;
    for (size_t j = 0; j < json_array_size(opts); j++) {
      has_group |= !strcmp(json_string_value(json_array_get(opts, j)), "groupBy");
      has_filters |= !strcmp(json_string_value(json_array_get(opts, j)), "filters");
    }
    ck_assert_int_eq(has_group, (kind->options & GPX_QOPT_GROUP_BY) != 0);
    ck_assert_int_eq(has_filters, (kind->options & GPX_QOPT_FILTERS) != 0);
  }
  ck_assert_uint_eq(json_array_size(k), visible);
  json_decref(k);
}
END_TEST

START_TEST(registry_is_the_one_list) {
  size_t n = gpx_query_kind_count();
  ck_assert_uint_le(n, GPX_QUERY_KINDS_MAX);
  for (size_t i = 0; i < n; i++) {
    const gpx_query_kind *k = &gpx_query_kinds[i];
    ck_assert_ptr_nonnull(k->run);
    ck_assert_msg(k->description && *k->description, "%s has no description", k->name);
    int test_only = (k->flags & GPX_QKIND_TEST_ONLY) != 0;
    ck_assert_int_eq(gpx_query_kind_find(k->name, 1), (int)i);
    ck_assert_int_eq(gpx_query_kind_find(k->name, 0), test_only ? -1 : (int)i);
    /* the list in messages names exactly the user-visible kinds */
    ck_assert_int_eq(strstr(gpx_query_kind_list(), k->name) != NULL, !test_only);
  }
  ck_assert_int_eq(gpx_query_kind_find("nope", 1), -1);
  ck_assert_int_eq(gpx_query_kind_find(NULL, 1), -1);
  /* a query names a kind by the registry's name */
  gpx_ds_settings s;
  gpx_ds_settings_default(&s);
  gpx_query_input pq = mkq("{\"queryType\":\"returns\"}");
  gpx_query q;
  gpx_error e;
  ck_assert_int_eq(gpx_query_parse(&pq, &s, &q, &e), GPX_OK);
  ck_assert_int_eq(q.kind, gpx_query_kind_find("returns", 0));
  gpx_query_reset(&q);
}
END_TEST

START_TEST(bucket_rule_never_exceeds_max_points) {
  gpx_ds_settings s;
  gpx_ds_settings_default(&s);
  gpx_query_input pq = mkq("{\"queryType\":\"equity\"}");
  static const int64_t ranges[] = {1, 999, 1000, 86400000, 86400001, 7 * 86400000 + 13};
  for (size_t i = 0; i < sizeof ranges / sizeof ranges[0]; i++) {
    pq.to_ms = pq.from_ms + ranges[i];
    pq.interval_ms = 1;
    pq.max_points = 1000;
    gpx_query q;
    gpx_error e;
    ck_assert_int_eq(gpx_query_parse(&pq, &s, &q, &e), GPX_OK);
    int64_t w = gpx_query_bucket_ns(&q), range = ranges[i] * 1000000;
    int64_t nb = range / w + (range % w != 0);
    ck_assert_msg(nb <= 1000, "range %lld ms: %lld buckets of %lld ns", (long long)ranges[i], (long long)nb,
                  (long long)w);
    ck_assert_int_ge(w, 1000000); /* never below the interval */
    gpx_query_reset(&q);
  }
}
END_TEST

START_TEST(result_frames_and_first_error) {
  gpx_query_result r;
  gpx_query_result_init(&r);
  ck_assert_int_eq(r.error.status, 200);
  ck_assert_int_eq(r.kind, -1);
  for (int i = 0; i < 10; i++) {
    gpx_buf f = {0};
    gpx_buf_append(&f, "ARROW1", 6);
    ck_assert_int_eq(gpx_query_result_add_frame(&r, &f), GPX_OK);
    ck_assert_ptr_null(f.data); /* moved */
  }
  ck_assert_uint_eq(r.n_frames, 10);
  ck_assert_int_eq(gpx_query_fail(&r, EIO, 504, "downstream", "query timed out after %d s", 30), EIO);
  ck_assert_uint_eq(r.n_frames, 0); /* frames dropped with the error */
  /* written once: a later failure does not overwrite the first */
  gpx_query_fail(&r, EINVAL, 500, "plugin", "later");
  ck_assert_int_eq(r.error.status, 504);
  ck_assert_str_eq(r.error.message, "query timed out after 30 s");
  ck_assert_str_eq(r.error.source, "downstream");
  gpx_query_result_reset(&r);
  gpx_query_result_reset(&r); /* safe twice */
}
END_TEST

static const struct {
  gpx_pg_status st;
  const char *sqlstate;
  int status;
  const char *source, *msg;
} pgmap[] = {
    {GPX_PG_UNAVAILABLE, "", 502, "downstream", "Postgres unavailable"},
    {GPX_PG_AUTH, "28P01", 502, "downstream", "authentication failed"},
    {GPX_PG_NO_DATABASE, "3D000", 502, "downstream", "database not found"},
    {GPX_PG_TIMEOUT, "57014", 504, "downstream", "query timed out after 7 s"},
    {GPX_PG_CANCELLED, "57014", 499, "plugin", "request cancelled"},
    {GPX_PG_QUERY_ERROR, "42703", 400, "downstream", "column mapping"},
    {GPX_PG_QUERY_ERROR, "22023", 400, "downstream", "boom"},
    {GPX_PG_QUERY_ERROR, "42501", 400, "downstream", "grant the data source's user SELECT"},
    {GPX_PG_QUERY_ERROR, "XX000", 500, "downstream", "query failed"},
};

START_TEST(one_mapping_from_postgres_failures) {
  gpx_pg_error pe = {0};
  pe.status = pgmap[_i].st;
  snprintf(pe.sqlstate, sizeof pe.sqlstate, "%s", pgmap[_i].sqlstate);
  snprintf(pe.msg, sizeof pe.msg, "boom");
  gpx_query_error e;
  gpx_query_error_from_pg(&pe, 7, &e);
  ck_assert_int_eq(e.status, pgmap[_i].status);
  ck_assert_str_eq(e.source, pgmap[_i].source);
  ck_assert_ptr_nonnull(e.what);
  ck_assert_msg(strstr(e.message, pgmap[_i].msg) != NULL, "%s", e.message);
}
END_TEST

/* A hot standby's recovery conflict (issue 12): 503 with what to change on
   the standby, whether it cancelled the statement (ERROR) or ended the
   session between two FETCHes (FATAL, the connection lost); known by
   in_hot_standby or, before Postgres 14, by the message. A serialization
   failure on a primary stays an ordinary query error. */
START_TEST(recovery_conflict_is_503_with_the_standby_settings) {
  static const struct {
    gpx_pg_status st;
    const char *sqlstate, *msg;
    int standby, status;
  } c[] = {
      {GPX_PG_QUERY_ERROR, "40001", "canceling statement due to conflict with recovery", 1, 503},
      {GPX_PG_UNAVAILABLE, "40001", "terminating connection due to conflict with recovery", 1, 503},
      {GPX_PG_QUERY_ERROR, "40001", "canceling statement due to conflict with recovery", 0, 503},
      {GPX_PG_QUERY_ERROR, "40P01", "annulation de la requête à cause d'un conflit", 1, 503},
      {GPX_PG_QUERY_ERROR, "40001", "could not serialize access due to concurrent update", 0, 500},
  };
  for (size_t i = 0; i < sizeof c / sizeof c[0]; i++) {
    gpx_pg_error pe = {0};
    pe.status = c[i].st;
    pe.standby = c[i].standby;
    snprintf(pe.sqlstate, sizeof pe.sqlstate, "%s", c[i].sqlstate);
    snprintf(pe.msg, sizeof pe.msg, "%s", c[i].msg);
    gpx_query_error e;
    gpx_query_error_from_pg(&pe, 7, &e);
    ck_assert_msg(e.status == c[i].status, "case %zu: %d %s", i, e.status, e.message);
    ck_assert_str_eq(e.source, "downstream");
    if (c[i].status == 503) {
      ck_assert_msg(strstr(e.message, "max_standby_streaming_delay") && strstr(e.message, "hot_standby_feedback") &&
                        strstr(e.message, c[i].msg),
                    "%s", e.message);
      ck_assert_str_eq(e.what, "Cancelled by the standby");
    }
  }
}
END_TEST

START_TEST(groups_by_name_and_ordered) {
  gpx_groups gs = {0};
  char name[32];
  /* many groups: the hash index grows and every name finds its own group */
  for (int i = 0; i < 5000; i++) {
    snprintf(name, sizeof name, "sym%04d", 4999 - i);
    gpx_qgroup *g = gpx_groups_get(&gs, name);
    ck_assert_ptr_nonnull(g);
    ck_assert_str_eq(g->name, name);
    g->base_pnl = 4999 - i;
  }
  ck_assert_uint_eq(gs.n, 5000);
  ck_assert_int_eq(gpx_groups_order(&gs), GPX_OK);
  for (int i = 0; i < 5000; i++) {
    snprintf(name, sizeof name, "sym%04d", i);
    ck_assert_str_eq(gs.g[i].name, name); /* sorted by name */
    gpx_qgroup *g = gpx_groups_get(&gs, name); /* and still found after sorting */
    ck_assert_ptr_eq(g, &gs.g[i]);
    ck_assert_double_eq(g->base_pnl, i); /* the group's data moved with its name */
  }
  ck_assert_uint_eq(gs.n, 5000);
  ck_assert_ptr_nonnull(gpx_groups_get(&gs, NULL)); /* the ungrouped one is a group too */
  ck_assert_ptr_null(gs.g[gs.n - 1].name);
  gpx_groups_reset(&gs);
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

START_TEST(annotation_options) {
  gpx_ds_settings s;
  gpx_ds_settings_default(&s);
  gpx_query q;
  gpx_error e;
  static const struct {
    const char *js;
    int events;
    double threshold;
  } ok[] = {
      {"{\"queryType\":\"annotations\"}", GPX_ANNO_TRADES, 0},
      {"{\"queryType\":\"annotations\",\"events\":\"trades\",\"threshold\":-5}", GPX_ANNO_TRADES, 0},
      /* 1 % of the initial capital (query override included) */
      {"{\"queryType\":\"annotations\",\"events\":\"large_losses\",\"initialCapital\":50000}", GPX_ANNO_LARGE_LOSSES, 500},
      {"{\"queryType\":\"annotations\",\"events\":\"large_losses\",\"threshold\":250.5}", GPX_ANNO_LARGE_LOSSES, 250.5},
      {"{\"queryType\":\"annotations\",\"events\":\"drawdown_episodes\"}", GPX_ANNO_DRAWDOWN_EPISODES, 0.05},
      {"{\"queryType\":\"annotations\",\"events\":\"drawdown_episodes\",\"threshold\":\"\"}", GPX_ANNO_DRAWDOWN_EPISODES, 0.05},
      {"{\"queryType\":\"annotations\",\"events\":\"drawdown_episodes\",\"threshold\":0}", GPX_ANNO_DRAWDOWN_EPISODES, 0},
      {"{\"queryType\":\"annotations\",\"events\":\"daily_loss\"}", GPX_ANNO_DAILY_LOSS, 0},
      {"{\"queryType\":\"annotations\",\"events\":\"daily_loss\",\"threshold\":1000}", GPX_ANNO_DAILY_LOSS, 1000},
      /* another kind ignores them */
      {"{\"queryType\":\"equity\",\"events\":\"nope\",\"threshold\":\"x\"}", GPX_ANNO_TRADES, 0},
  };
  for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
    gpx_query_input pq = mkq(ok[i].js);
    ck_assert_msg(gpx_query_parse(&pq, &s, &q, &e) == GPX_OK, "%s: %s", ok[i].js, e.msg);
    ck_assert_int_eq(q.events, ok[i].events);
    ck_assert_double_eq_tol(q.threshold, ok[i].threshold, 1e-9);
    gpx_query_reset(&q);
  }
  /* large losses: the trades statement with a bound P&L cap, nothing spliced */
  gpx_query_input pq = mkq("{\"queryType\":\"annotations\",\"events\":\"large_losses\",\"threshold\":100}");
  ck_assert_int_eq(gpx_query_parse(&pq, &s, &q, &e), GPX_OK);
  q.pnl_cap = 1;
  q.pnl_max = -q.threshold;
  gpx_stmt st = {0};
  ck_assert_int_eq(gpx_stmt_build(&st, &gpx_stmt_trades, &s, &q, 0, 10), GPX_OK);
  const char *t = gpx_sql_cstr(&st.sql);
  ck_assert_ptr_nonnull(strstr(t, "AND \"realized_pnl\" <= $"));
  ck_assert_ptr_null(strstr(t, "-100"));
  int found = 0;
  for (int i = 0; i < st.sql.n; i++) found |= strcmp(st.sql.params[i], "-100") == 0;
  ck_assert(found);
  gpx_stmt_reset(&st);
  gpx_query_reset(&q);
}
END_TEST

START_TEST(param_limit_enforced) {
  gpx_sql sql = {0};
  for (int i = 0; i < GPX_SQL_MAX_PARAMS; i++) ck_assert_int_eq(gpx_sql_param(&sql, "v", NULL), GPX_OK);
  ck_assert_int_eq(gpx_sql_param(&sql, "v", NULL), E2BIG);
  gpx_sql_reset(&sql);
}
END_TEST

START_TEST(live_option_and_channels) {
  gpx_ds_settings s;
  gpx_ds_settings_default(&s);
  gpx_query q;
  gpx_error e;
  gpx_query_input pq = mkq("{\"queryType\":\"stats\",\"live\":true}");
  ck_assert_int_eq(gpx_query_parse(&pq, &s, &q, &e), GPX_OK);
  ck_assert_int_eq(q.live, 1);
  gpx_query_reset(&q);
  pq = mkq("{\"queryType\":\"stats\",\"live\":\"yes\"}");
  ck_assert_int_eq(gpx_query_parse(&pq, &s, &q, &e), EINVAL);
  ck_assert_ptr_nonnull(strstr(e.msg, "live"));
  pq = mkq("{\"queryType\":\"rolling\",\"live\":true}"); /* not a live kind: the key is ignored */
  ck_assert_int_eq(gpx_query_parse(&pq, &s, &q, &e), GPX_OK);
  ck_assert_int_eq(q.live, 0);
  gpx_query_reset(&q);
  const char *live_kinds[] = {"equity", "pnl", "returns", "drawdown", "daily_pnl", "stats", "breakdown", "trades"};
  int n_live = 0;
  for (size_t i = 0; i < gpx_query_kind_count(); i++) n_live += (gpx_query_kinds[i].options & GPX_QOPT_LIVE) != 0;
  ck_assert_int_eq(n_live, 8);
  for (int i = 0; i < 8; i++) ck_assert(gpx_query_kinds[gpx_query_kind_find(live_kinds[i], 0)].options & GPX_QOPT_LIVE);

  gpx_live *l;
  ck_assert_int_eq(gpx_live_new(&l), GPX_OK);
  char ch[200], ch2[200];
  pq = mkq("{\"queryType\":\"stats\",\"live\":true}");
  ck_assert_int_eq(gpx__live_issue(l, "uid-1", &pq, ch, sizeof ch), GPX_OK);
  ck_assert_int_eq(strncmp(ch, "ds/uid-1/live/", 14), 0);
  ck_assert_uint_eq(strlen(ch), 14 + 16);
  ck_assert_int_eq(gpx__live_issue(l, "uid-1", &pq, ch2, sizeof ch2), GPX_OK);
  ck_assert_str_eq(ch, ch2); /* the same query: the same channel */
  pq.to_ms++;
  ck_assert_int_eq(gpx__live_issue(l, "uid-1", &pq, ch2, sizeof ch2), GPX_OK);
  ck_assert_str_ne(ch, ch2);
  char path[64];
  snprintf(path, sizeof path, "%s/%08x", ch + 9, gpx_live_frame_id("stats"));
  ck_assert_int_eq(gpx_live_check(l, "uid-1", path, &e), GPX_OK);
  ck_assert_int_eq(gpx_live_check(l, "uid-2", path, &e), ENOENT); /* issued for another data source */
  ck_assert_ptr_nonnull(strstr(e.msg, "refresh the panel"));
  const char *bad[] = {"", "live", "live/0123456789abcdef/0000000", "live/0123456789ABCDEF/00000000",
                       "live/0123456789abcdef/00000000/", "xive/0123456789abcdef/00000000",
                       "live/0123456789abcdef-00000000", "live/../../../../../../../../../..",
                       "live/0123456789abcdeg/00000000"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
    ck_assert_int_eq(gpx_live_check(l, "uid-1", bad[i], &e), EINVAL);
  ck_assert_int_eq(gpx_live_check(l, "uid-1", NULL, &e), EINVAL);
  ck_assert_int_eq(gpx_live_check(l, "uid-1", "live/0123456789abcdef/00000000", &e), ENOENT);
  /* a uid too long for Grafana's 160-character channel id */
  char longuid[140];
  memset(longuid, 'u', sizeof longuid - 1);
  longuid[sizeof longuid - 1] = 0;
  ck_assert_int_eq(gpx__live_issue(l, longuid, &pq, ch2, sizeof ch2), EINVAL);
  longuid[120] = 0; /* the longest that fits: 3 + 120 + 6 + 16, and "/<frame id>" makes 154 */
  ck_assert_int_eq(gpx__live_issue(l, longuid, &pq, ch2, sizeof ch2), GPX_OK);
  ck_assert_uint_eq(strlen(ch2), 3 + 120 + 6 + 16);
  /* the table is bounded: the least recently used are forgotten */
  for (int i = 0; i < GPX_LIVE_ISSUED_MAX + 10; i++) {
    pq.from_ms = i;
    ck_assert_int_eq(gpx__live_issue(l, "uid-1", &pq, ch2, sizeof ch2), GPX_OK);
  }
  ck_assert_int_eq(gpx_live_check(l, "uid-1", path, &e), ENOENT);
  gpx_live_free(l);
}
END_TEST

START_TEST(live_sql_binds_and_quotes) {
  gpx_ds_settings s;
  gpx_ds_settings_default(&s);
  strcpy(s.table, "t\"x");
  strcpy(s.columns[GPX_COL_CLOSED_AT].name[0], "closed \"at\"");
  gpx_sql sql = {0};
  ck_assert_int_eq(gpx_sql_live_watermark(&sql, &s, "2025-01-01 00:00:00+00'; DROP"), GPX_OK);
  const char *t = gpx_sql_cstr(&sql);
  ck_assert_ptr_nonnull(strstr(t, "FROM \"t\"\"x\""));
  ck_assert_ptr_nonnull(strstr(t, "max(\"closed \"\"at\"\"\")"));
  ck_assert_ptr_null(strstr(t, "DROP"));
  ck_assert_int_eq(sql.n, 1);
  ck_assert_int_eq(gpx_sql_live_probe(&sql, &s), GPX_OK);
  t = gpx_sql_cstr(&sql);
  ck_assert_ptr_null(strstr(t, "t\"\"x")); /* the table name is a value (to_regclass) */
  ck_assert_str_eq(sql.params[0], "\"t\"\"x\"");
  /* an epoch closed_at: the stored column is compared and aggregated (its
     index serves), the bound made a number of the column's unit */
  s.columns[GPX_COL_CLOSED_AT].as = GPX_AS_EPOCH_MS;
  ck_assert_int_eq(gpx_sql_live_watermark(&sql, &s, "2025-01-01 00:00:00+00"), GPX_OK);
  t = gpx_sql_cstr(&sql);
  ck_assert_ptr_nonnull(strstr(t, "to_timestamp(max(\"closed \"\"at\"\"\")::float8 / 1000)::timestamptz::text"));
  ck_assert_ptr_nonnull(strstr(t, "WHERE \"closed \"\"at\"\"\" >= floor(extract(epoch FROM $1::timestamptz) * 1000)::int8"));
  ck_assert_int_eq(sql.n, 1);
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
  tcase_add_test(tc, period_and_rolling_options);
  tcase_add_test(tc, annotation_options);
  tcase_add_test(tc, daily_rows_keep_their_aggregates_when_ordered);
  tcase_add_test(tc, parse_dimension_filters);
  tcase_add_test(tc, sql_dimension_filters_and_groups);
  tcase_add_test(tc, resources_follow_the_tables);
  tcase_add_test(tc, registry_is_the_one_list);
  tcase_add_test(tc, live_option_and_channels);
  tcase_add_test(tc, live_sql_binds_and_quotes);
  tcase_add_test(tc, bucket_rule_never_exceeds_max_points);
  tcase_add_test(tc, result_frames_and_first_error);
  tcase_add_loop_test(tc, one_mapping_from_postgres_failures, 0, (int)(sizeof pgmap / sizeof pgmap[0]));
  tcase_add_test(tc, recovery_conflict_is_503_with_the_standby_settings);
  tcase_add_test(tc, groups_by_name_and_ordered);
  tcase_add_test(tc, quote_ident);
  tcase_add_test(tc, sql_of_each_mapping_form);
  tcase_add_test(tc, epoch_bounds_converted_in_c);
  tcase_add_test(tc, absent_dimension_is_a_named_error);
  tcase_add_test(tc, real_columns_are_summed_as_float8);
  tcase_add_test(tc, param_limit_enforced);
  tcase_add_test(tc, flight_key_leaves_out_only_output);
  tcase_add_test(tc, flight_key_time_range_exact);
  suite_add_tcase(s, tc);
  return s;
}

GPX_CHECK_MAIN(query_suite)
