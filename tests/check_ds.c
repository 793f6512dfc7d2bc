/*
** check_ds.c — Check suite for src/ds/: settings parsing and validation
** (errors name the field), secrets, and the instance cache's versioning.
*/
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>
#include <string.h>

#include "gpx/ds.h"

#include "check_main.h"

static int parse(const char *js, gpx_ds_settings *s, gpx_error *e) {
  return gpx_ds_settings_parse((const uint8_t *)js, js ? strlen(js) : 0, NULL, 0, s, e);
}

START_TEST(defaults_from_empty_json) {
  gpx_ds_settings s;
  gpx_error e;
  ck_assert_int_eq(parse(NULL, &s, &e), GPX_OK);
  ck_assert_str_eq(s.host, "localhost");
  ck_assert_int_eq(s.port, 5432);
  ck_assert_str_eq(s.table, "trades");
  ck_assert_str_eq(s.columns[GPX_COL_REALIZED_PNL].name[0], "realized_pnl");
  /* the optional dimensions keep their logical names too */
  ck_assert_str_eq(s.columns[GPX_COL_ENTRY_TAG].name[0], "entry_tag");
  ck_assert_str_eq(s.columns[GPX_COL_EXIT_REASON].name[0], "exit_reason");
  ck_assert_int_eq(gpx_col_required[GPX_COL_ENTRY_TAG] | gpx_col_required[GPX_COL_EXIT_REASON], 0);
  ck_assert_double_eq(s.analytics.initial_capital, 100000);
  ck_assert_str_eq(s.analytics.timezone, "UTC");
  ck_assert_double_eq(s.analytics.annualization, 252);
  ck_assert_int_eq(s.query_timeout_s, 30);
  ck_assert_ptr_null(s.password);
  gpx_ds_settings_reset(&s);
}
END_TEST

START_TEST(values_and_numeric_strings) {
  gpx_ds_settings s;
  gpx_error e;
  ck_assert_int_eq(parse("{\"host\":\"db\",\"port\":\"6543\",\"table\":\"my trades\",\"schema\":\"bot\","
                         "\"columns\":{\"realized_pnl\":\"pnl\",\"closed_at\":\"ts\",\"unknown\":\"x\",\"entry_tag\":\"enter_tag\"},"
                         "\"initialCapital\":5e5,\"timezone\":\"Europe/Berlin\",\"tradingDays\":\"weekdays\","
                         "\"annualization\":365,\"riskFreeRate\":0.02,\"maxOpenConnections\":3,"
                         "\"queryTimeoutSeconds\":5,\"rowLimit\":20,\"currency\":\"EUR\",\"extra\":[1]}",
                         &s, &e), GPX_OK);
  ck_assert_str_eq(s.host, "db");
  ck_assert_int_eq(s.port, 6543);
  ck_assert_str_eq(s.table, "my trades");
  ck_assert_str_eq(s.schema, "bot");
  ck_assert_str_eq(s.columns[GPX_COL_REALIZED_PNL].name[0], "pnl");
  ck_assert_str_eq(s.columns[GPX_COL_CLOSED_AT].name[0], "ts");
  ck_assert_str_eq(s.columns[GPX_COL_STRATEGY].name[0], "strategy");
  ck_assert_str_eq(s.columns[GPX_COL_ENTRY_TAG].name[0], "enter_tag"); /* freqtrade's name */
  ck_assert_double_eq(s.analytics.initial_capital, 500000);
  ck_assert_int_eq(s.analytics.trading_days, 1);
  ck_assert_int_eq(s.row_limit, 20);
  ck_assert_str_eq(s.currency, "EUR");
  gpx_ds_settings_reset(&s);
}
END_TEST

static const struct {
  const char *js, *field;
} bad[] = {
    {"{\"port\":70000}", "jsonData.port"},
    {"{\"port\":\"54a\"}", "jsonData.port"},
    {"{\"port\":54.5}", "jsonData.port"},
    {"{\"host\":\"a,b\",\"port\":\"5432,5433,5434\"}", "jsonData.port"},
    {"{\"host\":\"a,b,c\",\"port\":\"5432,5433\"}", "jsonData.port"},
    {"{\"host\":\"a,b\",\"port\":\"5432,\"}", "jsonData.port"},
    {"{\"host\":\"a,b\",\"port\":\"5432,70000\"}", "jsonData.port"},
    {"{\"host\":\"a,b\",\"port\":\"5432;5433\"}", "jsonData.port"},
    {"{\"host\":\"a,b\",\"port\":\"5432,-1\"}", "jsonData.port"},
    {"{\"targetSessionAttrs\":\"replica\"}", "jsonData.targetSessionAttrs"},
    {"{\"targetSessionAttrs\":\"Standby\"}", "jsonData.targetSessionAttrs"},
    {"{\"targetSessionAttrs\":1}", "jsonData.targetSessionAttrs"},
    {"{\"host\":5}", "jsonData.host"},
    {"{\"sslmode\":\"prefer-ish\"}", "jsonData.sslmode"},
    {"{\"columns\":[1]}", "jsonData.columns"},
    {"{\"columns\":{\"symbol\":7}}", "jsonData.columns.symbol"},
    {"{\"initialCapital\":-1}", "jsonData.initialCapital"},
    {"{\"annualization\":0}", "jsonData.annualization"},
    {"{\"riskFreeRate\":\"x\"}", "jsonData.riskFreeRate"},
    {"{\"timezone\":\"UTC; DROP\"}", "jsonData.timezone"},
    {"{\"tradingDays\":\"most\"}", "jsonData.tradingDays"},
    {"{\"maxOpenConnections\":0}", "jsonData.maxOpenConnections"},
    {"{\"queryTimeoutSeconds\":1e9}", "jsonData.queryTimeoutSeconds"},
    {"{\"rowLimit\":true}", "jsonData.rowLimit"},
    {"{\"currency\":\"U$D\"}", "jsonData.currency"},
    {"[1,2]", "jsonData"},
    {"{nope", "jsonData"},
    /* the column mapping (issue 12): every form, every way to get it wrong */
    {"{\"columns\":{\"closed_at\":null}}", "jsonData.columns.closed_at: cannot be null"},
    {"{\"columns\":{\"realized_pnl\":null}}", "jsonData.columns.realized_pnl: cannot be null"},
    {"{\"columns\":{\"symbol\":[\"a\",\"b\"]}}", "jsonData.columns.symbol: a list of columns to add is only"},
    {"{\"columns\":{\"fees\":[]}}", "jsonData.columns.fees: a list of 1 to 8"},
    {"{\"columns\":{\"fees\":[\"a\",\"b\",\"c\",\"d\",\"e\",\"f\",\"g\",\"h\",\"i\"]}}", "jsonData.columns.fees: a list of 1 to 8"},
    {"{\"columns\":{\"fees\":[\"a\",7]}}", "jsonData.columns.fees[1]: must be a column name"},
    {"{\"columns\":{\"fees\":[\"a\",\"\"]}}", "jsonData.columns.fees[1]: must be a column name"},
    {"{\"columns\":{\"side\":{\"column\":\"is_short\",\"as\":\"short\"}}}", "jsonData.columns.side.as: must be text, is_short or is_long"},
    {"{\"columns\":{\"side\":{\"column\":\"is_short\",\"as\":true}}}", "jsonData.columns.side.as: must be text, is_short or is_long"},
    {"{\"columns\":{\"closed_at\":{\"column\":\"t\",\"as\":\"epoch_min\"}}}", "jsonData.columns.closed_at.as: must be timestamp, epoch_s"},
    {"{\"columns\":{\"opened_at\":{\"column\":\"t\",\"as\":\"is_short\"}}}", "jsonData.columns.opened_at.as: must be timestamp"},
    {"{\"columns\":{\"side\":{\"column\":\"s\",\"as\":\"epoch_ms\"}}}", "jsonData.columns.side.as: must be text"},
    {"{\"columns\":{\"qty\":{\"column\":\"q\",\"as\":\"text\"}}}", "jsonData.columns.qty.as: only side, opened_at and closed_at"},
    {"{\"columns\":{\"side\":{\"as\":\"is_short\"}}}", "jsonData.columns.side.column: missing"},
    {"{\"columns\":{\"side\":{\"column\":\"\"}}}", "jsonData.columns.side.column: must be a column name"},
    {"{\"columns\":{\"side\":{\"column\":\"s\",\"kind\":\"x\"}}}", "jsonData.columns.side: unknown key \"kind\""},
    {"{\"columns\":{\"symbol\":true}}", "jsonData.columns.symbol: must be a column name, null"},
    {"{\"preset\":\"hummingbot\"}", "jsonData.preset: must be default or freqtrade"},
    {"{\"preset\":3}", "jsonData.preset: must be default or freqtrade"},
};

START_TEST(bad_values_name_the_field) {
  gpx_ds_settings s;
  gpx_error e;
  ck_assert_int_eq(parse(bad[_i].js, &s, &e), EINVAL);
  ck_assert_msg(strncmp(e.msg, bad[_i].field, strlen(bad[_i].field)) == 0, "%s → %s", bad[_i].js, e.msg);
  /* the struct is left empty and reset is still safe */
  ck_assert_ptr_null(s.password);
  gpx_ds_settings_reset(&s);
}
END_TEST

/* concurrentQueries: default 4, never more than the pool; an explicit value
   above maxOpenConnections is refused, naming the field. */
START_TEST(concurrent_queries_bounded_by_the_pool) {
  gpx_ds_settings s;
  gpx_error e;
  ck_assert_int_eq(parse(NULL, &s, &e), GPX_OK);
  ck_assert_int_eq(s.concurrent_queries, 4);
  gpx_ds_settings_reset(&s);
  ck_assert_int_eq(parse("{\"maxOpenConnections\":2}", &s, &e), GPX_OK);
  ck_assert_int_eq(s.concurrent_queries, 2); /* the default, clamped */
  gpx_ds_settings_reset(&s);
  ck_assert_int_eq(parse("{\"maxOpenConnections\":10,\"concurrentQueries\":\"8\"}", &s, &e), GPX_OK);
  ck_assert_int_eq(s.concurrent_queries, 8);
  gpx_ds_settings_reset(&s);
  ck_assert_int_eq(parse("{\"concurrentQueries\":1}", &s, &e), GPX_OK);
  ck_assert_int_eq(s.concurrent_queries, 1);
  gpx_ds_settings_reset(&s);
  ck_assert_int_eq(parse("{\"maxOpenConnections\":3,\"concurrentQueries\":4}", &s, &e), EINVAL);
  ck_assert_str_eq(e.msg, "jsonData.concurrentQueries: 4 is more than maxOpenConnections (3)");
  gpx_ds_settings_reset(&s);
  const char *wrong[] = {"{\"concurrentQueries\":0}", "{\"concurrentQueries\":1.5}", "{\"concurrentQueries\":\"x\"}",
                       "{\"concurrentQueries\":true}"};
  for (size_t i = 0; i < sizeof wrong / sizeof wrong[0]; i++) {
    ck_assert_int_eq(parse(wrong[i], &s, &e), EINVAL);
    ck_assert_msg(strncmp(e.msg, "jsonData.concurrentQueries: ", 28) == 0, "%s → %s", wrong[i], e.msg);
    gpx_ds_settings_reset(&s);
  }
}
END_TEST

/* The fold cache's settings: cacheMegabytes 64 by default, 0 (off) to
   65536, whole; cacheFingerprint false by default, a boolean (or its text). */
START_TEST(cache_settings) {
  gpx_ds_settings s;
  gpx_error e;
  ck_assert_int_eq(parse(NULL, &s, &e), GPX_OK);
  ck_assert_int_eq(s.cache_mb, 64);
  ck_assert_int_eq(s.cache_fingerprint, 0);
  gpx_ds_settings_reset(&s);
  ck_assert_int_eq(parse("{\"cacheMegabytes\":0,\"cacheFingerprint\":true}", &s, &e), GPX_OK);
  ck_assert_int_eq(s.cache_mb, 0);
  ck_assert_int_eq(s.cache_fingerprint, 1);
  gpx_ds_settings_reset(&s);
  ck_assert_int_eq(parse("{\"cacheMegabytes\":\"512\",\"cacheFingerprint\":\"false\"}", &s, &e), GPX_OK);
  ck_assert_int_eq(s.cache_mb, 512);
  ck_assert_int_eq(s.cache_fingerprint, 0);
  gpx_ds_settings_reset(&s);
  const char *wrong[][2] = {{"{\"cacheMegabytes\":-1}", "jsonData.cacheMegabytes: "},
                            {"{\"cacheMegabytes\":65537}", "jsonData.cacheMegabytes: "},
                            {"{\"cacheMegabytes\":1.5}", "jsonData.cacheMegabytes: "},
                            {"{\"cacheFingerprint\":1}", "jsonData.cacheFingerprint: must be true or false"},
                            {"{\"cacheFingerprint\":\"yes\"}", "jsonData.cacheFingerprint: must be true or false"}};
  for (size_t i = 0; i < sizeof wrong / sizeof wrong[0]; i++) {
    ck_assert_int_eq(parse(wrong[i][0], &s, &e), EINVAL);
    ck_assert_msg(strncmp(e.msg, wrong[i][1], strlen(wrong[i][1])) == 0, "%s → %s", wrong[i][0], e.msg);
    gpx_ds_settings_reset(&s);
  }
}
END_TEST

/* A column name of 128 bytes is one too long (the name's buffer). */
START_TEST(column_names_are_bounded) {
  char js[400], name[129];
  memset(name, 'x', 128);
  name[128] = 0;
  gpx_ds_settings s;
  gpx_error e;
  snprintf(js, sizeof js, "{\"columns\":{\"symbol\":\"%s\"}}", name);
  ck_assert_int_eq(parse(js, &s, &e), EINVAL);
  ck_assert_str_eq(e.msg, "jsonData.columns.symbol: must be a column name (string, < 128 characters)");
  name[127] = 0;
  snprintf(js, sizeof js, "{\"columns\":{\"symbol\":\"%s\"}}", name);
  ck_assert_int_eq(parse(js, &s, &e), GPX_OK);
  ck_assert_str_eq(s.columns[GPX_COL_SYMBOL].name[0], name);
  gpx_ds_settings_reset(&s);
}
END_TEST

/* Every value form of jsonData.columns (docs/query-model.md, "Column mapping"). */
START_TEST(column_mapping_forms) {
  gpx_ds_settings s;
  gpx_error e;
  ck_assert_int_eq(parse("{\"columns\":{\"account\":null,\"trade_id\":null,\"strategy\":\"\",\"symbol\":\"pair\","
                         "\"fees\":[\"fee_open_cost\",\"fee_close_cost\"],\"realized_pnl\":[\"p\"],"
                         "\"side\":{\"column\":\"is_short\",\"as\":\"is_short\"},"
                         "\"closed_at\":{\"column\":\"close_ms\",\"as\":\"epoch_ms\"},"
                         "\"opened_at\":{\"column\":\"open_date\",\"as\":\"timestamp\"},"
                         "\"exchange\":{\"column\":\"venue\"}}}",
                         &s, &e), GPX_OK);
  ck_assert_int_eq(s.columns[GPX_COL_ACCOUNT].n, 0); /* null: the table has none */
  ck_assert_int_eq(s.columns[GPX_COL_TRADE_ID].n, 0);
  ck_assert(!gpx_col_present(&s, GPX_COL_ACCOUNT));
  ck_assert_uint_eq(gpx_ds_absent(&s), (1u << GPX_COL_ACCOUNT) | (1u << GPX_COL_TRADE_ID));
  ck_assert_int_eq(s.columns[GPX_COL_STRATEGY].n, 1); /* empty string: the default name */
  ck_assert_str_eq(s.columns[GPX_COL_STRATEGY].name[0], "strategy");
  ck_assert_str_eq(s.columns[GPX_COL_SYMBOL].name[0], "pair");
  ck_assert_int_eq(s.columns[GPX_COL_FEES].n, 2);
  ck_assert_str_eq(s.columns[GPX_COL_FEES].name[0], "fee_open_cost");
  ck_assert_str_eq(s.columns[GPX_COL_FEES].name[1], "fee_close_cost");
  ck_assert_int_eq(s.columns[GPX_COL_REALIZED_PNL].n, 1);
  ck_assert_str_eq(s.columns[GPX_COL_REALIZED_PNL].name[0], "p");
  ck_assert_int_eq(s.columns[GPX_COL_SIDE].as, GPX_AS_IS_SHORT);
  ck_assert_str_eq(s.columns[GPX_COL_SIDE].name[0], "is_short");
  ck_assert_int_eq(s.columns[GPX_COL_CLOSED_AT].as, GPX_AS_EPOCH_MS);
  ck_assert(gpx_col_epoch(&s, GPX_COL_CLOSED_AT));
  ck_assert(!gpx_col_epoch(&s, GPX_COL_OPENED_AT));
  ck_assert_int_eq(s.columns[GPX_COL_OPENED_AT].as, GPX_AS_PLAIN);
  ck_assert_str_eq(s.columns[GPX_COL_EXCHANGE].name[0], "venue");
  gpx_ds_settings_reset(&s);
  /* each `as` spelling */
  static const char *const side_as[] = {"text", "is_short", "is_long"};
  for (int i = 0; i < 3; i++) {
    char js[200];
    snprintf(js, sizeof js, "{\"columns\":{\"side\":{\"column\":\"x\",\"as\":\"%s\"}}}", side_as[i]);
    ck_assert_int_eq(parse(js, &s, &e), GPX_OK);
    ck_assert_int_eq(s.columns[GPX_COL_SIDE].as, i);
    gpx_ds_settings_reset(&s);
  }
  static const char *const time_as[] = {"timestamp", "epoch_s", "epoch_ms", "epoch_us", "epoch_ns"};
  static const gpx_col_as time_want[] = {GPX_AS_PLAIN, GPX_AS_EPOCH_S, GPX_AS_EPOCH_MS, GPX_AS_EPOCH_US, GPX_AS_EPOCH_NS};
  for (int i = 0; i < 5; i++) {
    char js[200];
    snprintf(js, sizeof js, "{\"columns\":{\"opened_at\":{\"column\":\"x\",\"as\":\"%s\"}}}", time_as[i]);
    ck_assert_int_eq(parse(js, &s, &e), GPX_OK);
    ck_assert_int_eq(s.columns[GPX_COL_OPENED_AT].as, time_want[i]);
    gpx_ds_settings_reset(&s);
  }
  /* every number column takes a list; 8 columns at most */
  static const gpx_col nums[] = {GPX_COL_QTY, GPX_COL_ENTRY_PRICE, GPX_COL_EXIT_PRICE, GPX_COL_EXPECTED_ENTRY_PRICE,
                                 GPX_COL_EXPECTED_EXIT_PRICE, GPX_COL_FEES, GPX_COL_REALIZED_PNL};
  for (size_t i = 0; i < sizeof nums / sizeof nums[0]; i++) {
    char js[300];
    snprintf(js, sizeof js, "{\"columns\":{\"%s\":[\"a\",\"b\",\"c\",\"d\",\"e\",\"f\",\"g\",\"h\"]}}",
             gpx_col_names[nums[i]]);
    ck_assert_int_eq(parse(js, &s, &e), GPX_OK);
    ck_assert_int_eq(s.columns[nums[i]].n, 8);
    ck_assert_str_eq(s.columns[nums[i]].name[7], "h");
    gpx_ds_settings_reset(&s);
  }
  /* every optional column may be null */
  for (int c = 0; c < GPX_COL_COUNT; c++) {
    char js[200];
    snprintf(js, sizeof js, "{\"columns\":{\"%s\":null}}", gpx_col_names[c]);
    ck_assert_int_eq(parse(js, &s, &e), gpx_col_required[c] ? EINVAL : GPX_OK);
    if (!gpx_col_required[c]) ck_assert_int_eq(s.columns[c].n, 0);
    gpx_ds_settings_reset(&s);
  }
}
END_TEST

/* The freqtrade preset fills table and mapping; explicit entries override it. */
START_TEST(freqtrade_preset_and_overrides) {
  gpx_ds_settings s;
  gpx_error e;
  ck_assert_int_eq(parse("{\"preset\":\"freqtrade\"}", &s, &e), GPX_OK);
  ck_assert_int_eq(s.preset, GPX_PRESET_FREQTRADE);
  ck_assert_str_eq(s.table, "trades");
  static const struct {
    gpx_col c;
    const char *name;
  } want[] = {{GPX_COL_TRADE_ID, "id"},           {GPX_COL_EXCHANGE, "exchange"},
              {GPX_COL_SYMBOL, "pair"},           {GPX_COL_STRATEGY, "strategy"},
              {GPX_COL_ENTRY_TAG, "enter_tag"},   {GPX_COL_EXIT_REASON, "exit_reason"},
              {GPX_COL_SIDE, "is_short"},         {GPX_COL_QTY, "amount"},
              {GPX_COL_ENTRY_PRICE, "open_rate"}, {GPX_COL_EXIT_PRICE, "close_rate"},
              {GPX_COL_EXPECTED_ENTRY_PRICE, "open_rate_requested"},
              {GPX_COL_EXPECTED_EXIT_PRICE, "close_rate_requested"},
              {GPX_COL_OPENED_AT, "open_date"},   {GPX_COL_CLOSED_AT, "close_date"},
              {GPX_COL_FEES, "fee_open_cost"},    {GPX_COL_REALIZED_PNL, "close_profit_abs"}};
  for (size_t i = 0; i < sizeof want / sizeof want[0]; i++)
    ck_assert_str_eq(s.columns[want[i].c].name[0], want[i].name);
  ck_assert_int_eq(s.columns[GPX_COL_ACCOUNT].n, 0);
  ck_assert_int_eq(s.columns[GPX_COL_SIDE].as, GPX_AS_IS_SHORT);
  ck_assert_int_eq(s.columns[GPX_COL_CLOSED_AT].as, GPX_AS_PLAIN); /* timestamp without time zone, read as UTC */
  ck_assert_int_eq(s.columns[GPX_COL_FEES].n, 2);
  ck_assert_str_eq(s.columns[GPX_COL_FEES].name[1], "fee_close_cost");
  gpx_ds_settings_reset(&s);
  /* explicit table and columns win; the rest stays the preset's */
  ck_assert_int_eq(parse("{\"preset\":\"freqtrade\",\"table\":\"ft_trades\",\"schema\":\"bot\","
                         "\"columns\":{\"account\":\"acct\",\"side\":\"direction\",\"symbol\":\"\",\"fees\":null}}",
                         &s, &e), GPX_OK);
  ck_assert_str_eq(s.table, "ft_trades");
  ck_assert_str_eq(s.columns[GPX_COL_ACCOUNT].name[0], "acct");
  ck_assert_int_eq(s.columns[GPX_COL_ACCOUNT].n, 1);
  ck_assert_str_eq(s.columns[GPX_COL_SIDE].name[0], "direction");
  ck_assert_int_eq(s.columns[GPX_COL_SIDE].as, GPX_AS_PLAIN); /* a plain name is a text side again */
  ck_assert_str_eq(s.columns[GPX_COL_SYMBOL].name[0], "pair"); /* empty: the preset's */
  ck_assert_int_eq(s.columns[GPX_COL_FEES].n, 0);
  ck_assert_str_eq(s.columns[GPX_COL_CLOSED_AT].name[0], "close_date");
  gpx_ds_settings_reset(&s);
  /* "default" and "" are today's layout */
  ck_assert_int_eq(parse("{\"preset\":\"default\"}", &s, &e), GPX_OK);
  ck_assert_int_eq(s.preset, GPX_PRESET_DEFAULT);
  ck_assert_str_eq(s.columns[GPX_COL_CLOSED_AT].name[0], "closed_at");
  gpx_ds_settings_reset(&s);
  ck_assert_int_eq(parse("{\"preset\":\"\"}", &s, &e), GPX_OK);
  ck_assert_str_eq(s.columns[GPX_COL_SIDE].name[0], "side");
  gpx_ds_settings_reset(&s);
}
END_TEST

/* Read replicas (issue 12): a host list with one port for all or one port
   per host, and libpq's target_session_attrs modes. */
START_TEST(host_list_ports_and_target_session_attrs) {
  gpx_ds_settings s;
  gpx_error e;
  ck_assert_int_eq(parse("{}", &s, &e), GPX_OK);
  ck_assert_str_eq(s.target_session_attrs, "any");
  ck_assert_str_eq(s.port_list, "");
  gpx_ds_settings_reset(&s);
  ck_assert_int_eq(parse("{\"host\":\"pg1,pg2\",\"port\":6000}", &s, &e), GPX_OK);
  ck_assert_int_eq(s.port, 6000); /* one port for both hosts */
  ck_assert_str_eq(s.port_list, "");
  gpx_ds_settings_reset(&s);
  ck_assert_int_eq(parse("{\"host\":\"10.0.0.1, 10.0.0.2\",\"port\":\" 5432 , 5433\","
                         "\"targetSessionAttrs\":\"prefer-standby\"}", &s, &e), GPX_OK);
  ck_assert_int_eq(s.port, 5432);
  ck_assert_str_eq(s.port_list, "5432,5433");
  ck_assert_str_eq(s.target_session_attrs, "prefer-standby");
  gpx_ds_settings_reset(&s);
  static const char *const modes[] = {"any", "read-write", "read-only", "primary", "standby", "prefer-standby"};
  for (size_t i = 0; i < sizeof modes / sizeof modes[0]; i++) {
    char js[128];
    snprintf(js, sizeof js, "{\"targetSessionAttrs\":\"%s\"}", modes[i]);
    ck_assert_int_eq(parse(js, &s, &e), GPX_OK);
    ck_assert_str_eq(s.target_session_attrs, modes[i]);
    gpx_ds_settings_reset(&s);
  }
  ck_assert_int_eq(parse("{\"targetSessionAttrs\":\"\"}", &s, &e), GPX_OK); /* empty = default */
  ck_assert_str_eq(s.target_session_attrs, "any");
  gpx_ds_settings_reset(&s);
  ck_assert_int_eq(parse("{\"targetSessionAttrs\":\"replica\"}", &s, &e), EINVAL);
  ck_assert_ptr_nonnull(strstr(e.msg, "prefer-standby"));
  ck_assert_ptr_nonnull(strstr(e.msg, "\"replica\""));
}
END_TEST

START_TEST(secrets_only_from_secure_map) {
  const gpx_ds_secret sec[2] = {{"password", "hunter2"}, {"tlsCACert", "-----BEGIN CERTIFICATE-----"}};
  gpx_ds_settings s;
  gpx_error e;
  const char *js = "{\"password\":\"from-json-ignored\"}";
  ck_assert_int_eq(gpx_ds_settings_parse((const uint8_t *)js, strlen(js), sec, 2, &s, &e), GPX_OK);
  ck_assert_str_eq(s.password, "hunter2");
  ck_assert_str_eq(s.tls_ca_cert, "-----BEGIN CERTIFICATE-----");
  ck_assert_ptr_null(s.tls_client_key);
  gpx_ds_settings_reset(&s);
  ck_assert_ptr_null(s.password);
}
END_TEST

START_TEST(cache_versions_by_last_updated) {
  gpx_ds_cache *c = NULL;
  ck_assert_int_eq(gpx_ds_cache_new(&c), GPX_OK);
  gpx_ds_source dsi = {0};
  dsi.uid = "u1";
  dsi.updated_ms = 1;
  dsi.json = (const uint8_t *)"{\"port\":1111}";
  dsi.json_len = strlen((const char *)dsi.json);
  gpx_error e;
  gpx_ds_instance *a = NULL, *b = NULL, *d = NULL;
  ck_assert_int_eq(gpx_ds_acquire(c, &dsi, &a, &e), GPX_OK);
  ck_assert_int_eq(gpx_ds_acquire(c, &dsi, &b, &e), GPX_OK);
  ck_assert_ptr_eq(a, b); /* same version: same instance */
  ck_assert_int_eq(a->settings.port, 1111);
  dsi.updated_ms = 2;
  dsi.json = (const uint8_t *)"{\"port\":2222}";
  dsi.json_len = strlen((const char *)dsi.json);
  ck_assert_int_eq(gpx_ds_acquire(c, &dsi, &d, &e), GPX_OK);
  ck_assert_ptr_ne(d, a);
  ck_assert_int_eq(d->settings.port, 2222);
  ck_assert_int_eq(a->settings.port, 1111); /* the retired one lives while in use */
  gpx_ds_release(c, a);
  gpx_ds_release(c, b); /* last user: freed (ASan checks) */
  gpx_ds_release(c, d);
  dsi.json = (const uint8_t *)"{\"port\":-5}";
  dsi.json_len = strlen((const char *)dsi.json);
  dsi.updated_ms = 3;
  ck_assert_int_eq(gpx_ds_acquire(c, &dsi, &a, &e), EINVAL);
  ck_assert_ptr_nonnull(strstr(e.msg, "jsonData.port"));
  int open, idle, n;
  gpx_ds_cache_pool_stats(c, &open, &idle, &n);
  ck_assert_int_eq(open, 0);
  gpx_ds_cache_free(c);
}
END_TEST

/* The newest lastUpdatedMS wins (issue 10, problem 7): an older version
   (another Grafana replica mid-rollout) is answered with the newer
   instance, never replaces it, and one version per uid is kept. */
START_TEST(cache_keeps_the_newest_version) {
  gpx_ds_cache *c = NULL;
  ck_assert_int_eq(gpx_ds_cache_new(&c), GPX_OK);
  gpx_ds_source v5 = {0}, v4 = {0}, v6 = {0};
  v5.uid = v4.uid = v6.uid = "u";
  v5.updated_ms = 5, v4.updated_ms = 4, v6.updated_ms = 6;
  v5.json = (const uint8_t *)"{\"port\":5555}";
  v4.json = (const uint8_t *)"{\"port\":4444}";
  v6.json = (const uint8_t *)"{\"port\":6666}";
  v5.json_len = v4.json_len = v6.json_len = 13;
  gpx_error e;
  gpx_ds_instance *a = NULL, *b = NULL, *d = NULL, *f = NULL;
  ck_assert_int_eq(gpx_ds_acquire(c, &v5, &a, &e), GPX_OK);
  for (int i = 0; i < 50; i++) { /* flip-flopping replicas: no new instance, no new pool */
    ck_assert_int_eq(gpx_ds_acquire(c, &v4, &b, &e), GPX_OK);
    ck_assert_ptr_eq(b, a);
    ck_assert_int_eq(b->settings.port, 5555);
    gpx_ds_release(c, b);
    ck_assert_int_eq(gpx_ds_acquire(c, &v5, &b, &e), GPX_OK);
    ck_assert_ptr_eq(b, a);
    gpx_ds_release(c, b);
  }
  int open, idle, n;
  gpx_ds_cache_pool_stats(c, &open, &idle, &n);
  ck_assert_int_eq(n, 1);
  ck_assert_int_eq(gpx_ds_acquire(c, &v6, &d, &e), GPX_OK); /* newer replaces */
  ck_assert_int_eq(d->settings.port, 6666);
  ck_assert_int_eq(gpx_ds_acquire(c, &v5, &f, &e), GPX_OK); /* and is not replaced back */
  ck_assert_ptr_eq(f, d);
  gpx_ds_cache_pool_stats(c, &open, &idle, &n);
  ck_assert_int_eq(n, 1);
  ck_assert_int_eq(a->settings.port, 5555); /* retired, alive while in use */
  gpx_ds_release(c, a);                      /* freed here (ASan checks) */
  gpx_ds_release(c, d);
  gpx_ds_release(c, f);
  gpx_ds_cache_free(c);
}
END_TEST

/* TLS material left in $TMPDIR by a plugin process that no longer runs is
   swept; a live process's is kept (issue 10, problem 8). */
START_TEST(stale_tls_dirs_are_swept) {
  char tmp[] = "/tmp/gpx-check-tls-XXXXXX";
  ck_assert_ptr_nonnull(mkdtemp(tmp));
  char dead[300], live[300], other[300], file[400];
  /* pid 2^22+7 is above the default pid_max: no such process */
  snprintf(dead, sizeof dead, "%s/gpx-tls-4194311-AbC123", tmp);
  snprintf(live, sizeof live, "%s/gpx-tls-1-XyZ789", tmp); /* init lives */
  snprintf(other, sizeof other, "%s/gpx-tls-4194311-AbC123-not-ours", tmp);
  ck_assert_int_eq(mkdir(dead, 0700), 0);
  ck_assert_int_eq(mkdir(live, 0700), 0);
  ck_assert_int_eq(mkdir(other, 0700), 0);
  snprintf(file, sizeof file, "%s/client.key", dead);
  FILE *fp = fopen(file, "w");
  ck_assert_ptr_nonnull(fp);
  fputs("secret", fp);
  fclose(fp);
  ck_assert_int_eq(gpx_ds_sweep_tls_dirs(tmp), 1);
  struct stat st;
  ck_assert_int_ne(stat(dead, &st), 0);
  ck_assert_int_eq(stat(live, &st), 0);
  ck_assert_int_eq(stat(other, &st), 0);
  rmdir(live);
  rmdir(other);
  rmdir(tmp);
}
END_TEST

static Suite *ds_suite(void) {
  Suite *s = suite_create("ds");
  TCase *tc = tcase_create("settings");
  tcase_add_test(tc, defaults_from_empty_json);
  tcase_add_test(tc, values_and_numeric_strings);
  tcase_add_loop_test(tc, bad_values_name_the_field, 0, (int)(sizeof bad / sizeof bad[0]));
  tcase_add_test(tc, column_names_are_bounded);
  tcase_add_test(tc, concurrent_queries_bounded_by_the_pool);
  tcase_add_test(tc, cache_settings);
  tcase_add_test(tc, column_mapping_forms);
  tcase_add_test(tc, freqtrade_preset_and_overrides);
  tcase_add_test(tc, secrets_only_from_secure_map);
  tcase_add_test(tc, host_list_ports_and_target_session_attrs);
  tcase_add_test(tc, cache_versions_by_last_updated);
  tcase_add_test(tc, cache_keeps_the_newest_version);
  tcase_add_test(tc, stale_tls_dirs_are_swept);
  suite_add_tcase(s, tc);
  return s;
}

GPX_CHECK_MAIN(ds_suite)
