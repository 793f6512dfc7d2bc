/*
** query_model.h — internal: the parsed query and the SQL builder shared by
** the files of src/query/. Not part of the public face (include/gpx/query.h).
*/
#ifndef GPX_QUERY_MODEL_H
#define GPX_QUERY_MODEL_H

#include <jansson.h>

#include "gpx/core.h"
#include "gpx/ds.h"
#include "gpx/pg.h"
#include "gpx/rpc.h"
#include "gpx/svc.h"
#include "gpx/trading.h"

typedef enum gpx_qtype {
  GPX_Q_EQUITY = 0,
  GPX_Q_PNL,
  GPX_Q_DAILY_PNL,
  GPX_Q_DRAWDOWN,
  GPX_Q_RETURNS,
  GPX_Q_STATS,
  GPX_Q_PNL_DISTRIBUTION,
  GPX_Q_SLIPPAGE,
  GPX_Q_TRADES,
  GPX_Q_COUNT
} gpx_qtype;

typedef enum gpx_group { GPX_GROUP_NONE = 0, GPX_GROUP_STRATEGY, GPX_GROUP_SYMBOL, GPX_GROUP_ACCOUNT } gpx_group;

#define GPX_QUERY_MAX_LIST 1000

typedef struct gpx_query {
  gpx_qtype type;
  char ref_id[128];
  char *filter[3];            /* Postgres array literals for strategy/symbol/account, NULL = all */
  gpx_group group_by;
  int metrics[GPX_STATS_NFIELDS]; /* stats fields to return, in order */
  int n_metrics;
  int drawdown_money;
  int64_t limit;
  gpx_analytics_settings a;
  int64_t from_ms, to_ms, interval_ms, max_points;
} gpx_query;

void gpx_query_reset(gpx_query *q);
/** Parse and validate; EINVAL with a message naming the field. */
int gpx_query_parse(const Pluginv2__DataQuery *pq, const gpx_ds_settings *s, gpx_query *q,
                    gpx_error *err);

/* ---- SQL text with bound parameters (sql.c) ---- */
#define GPX_SQL_MAX_PARAMS 16
typedef struct gpx_sql {
  gpx_buf text;
  char *params[GPX_SQL_MAX_PARAMS];
  int n;
} gpx_sql;

void gpx_sql_reset(gpx_sql *q);
/** Add a parameter value (copied) and append "$n" + cast to the text. */
int gpx_sql_param(gpx_sql *q, const char *value, const char *cast);
int gpx_sql_append(gpx_sql *q, const char *s);
const char *gpx_sql_cstr(gpx_sql *q);

/** Kinds of time filter. */
typedef enum { GPX_RANGE_IN = 0, GPX_RANGE_BEFORE } gpx_range;

/* Statements (sql.c): each fills `out` from scratch. */
int gpx_sql_base(gpx_sql *out, const gpx_ds_settings *s, const gpx_query *q);
int gpx_sql_buckets(gpx_sql *out, const gpx_ds_settings *s, const gpx_query *q, int64_t width_ms);
int gpx_sql_trade_stream(gpx_sql *out, const gpx_ds_settings *s, const gpx_query *q);
int gpx_sql_daily(gpx_sql *out, const gpx_ds_settings *s, const gpx_query *q);
int gpx_sql_days(gpx_sql *out, const gpx_query *q);
int gpx_sql_slippage(gpx_sql *out, const gpx_ds_settings *s, const gpx_query *q, int64_t width_ms);
int gpx_sql_trades(gpx_sql *out, const gpx_ds_settings *s, const gpx_query *q, int64_t limit);
int gpx_sql_distinct(gpx_sql *out, const gpx_ds_settings *s, gpx_col col, const char *substr, int limit);
int gpx_sql_count_span(gpx_sql *out, const gpx_ds_settings *s);

/** Test-only frames (GPX_TEST_QUERIES=1): queryType "__test_frame",
    JSON {"case": "<gpx_testframe_build case>", "seed": n}. */
void gpx_query_test_frame(const Pluginv2__DataQuery *pq, gpx_data_response *dr);

/** Column used by a group-by. */
gpx_col gpx_group_col(gpx_group g);
const char *gpx_group_label(gpx_group g);

#endif /* GPX_QUERY_MODEL_H */
