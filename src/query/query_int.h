/*
** query_int.h — private to src/query/: the parsed query, the SQL
** statements and the column tables that both build them and read their
** rows, the per-run state the kind files share (groups, executed SQL, the
** result), and the runner of every kind. Not part of the public face
** (include/gpx/query.h); no other module includes it.
*/
#ifndef GPX_QUERY_INT_H
#define GPX_QUERY_INT_H

#include <jansson.h>

#include "gpx/core.h"
#include "gpx/ds.h"
#include "gpx/frame.h"
#include "gpx/pg.h"
#include "gpx/query.h"
#include "gpx/trading.h"

/* ------------------------------------------------------------ the model */

/*
** The dimensions of a trade: the columns a query filters on (a list each)
** and groups by. One table (dims.c) names each one's groupBy value and
** label, its filter key in the query JSON, its values resource and its
** column; parsing, SQL, labels and resources all read it.
*/
typedef enum gpx_dim {
  GPX_DIM_STRATEGY = 0,
  GPX_DIM_SYMBOL,
  GPX_DIM_ACCOUNT,
  GPX_DIM_SIDE,
  GPX_DIM_EXCHANGE,
  GPX_DIM_ENTRY_TAG,
  GPX_DIM_EXIT_REASON,
  GPX_DIM_COUNT
} gpx_dim;

typedef struct gpx_dim_def {
  const char *group;    /* groupBy value and label key: "entry_tag" */
  const char *filter;   /* list key in the query JSON: "entryTags" */
  const char *resource; /* values resource: "entry_tags" */
  gpx_col col;
} gpx_dim_def;

extern const gpx_dim_def gpx_dims[GPX_DIM_COUNT];

/* groupBy: none, or dimension g - 1 (the order of gpx_dims). */
typedef enum gpx_group {
  GPX_GROUP_NONE = 0,
  GPX_GROUP_STRATEGY,
  GPX_GROUP_SYMBOL,
  GPX_GROUP_ACCOUNT,
  GPX_GROUP_SIDE,
  GPX_GROUP_EXCHANGE,
  GPX_GROUP_ENTRY_TAG,
  GPX_GROUP_EXIT_REASON,
  GPX_GROUP_COUNT
} gpx_group;
_Static_assert(GPX_GROUP_COUNT == GPX_DIM_COUNT + 1, "a groupBy value per dimension");

#define GPX_QUERY_MAX_LIST 1000

/* Ad-hoc filters (adhoc.c): at most 32, values of at most 1000 bytes, a
   regular expression at most 256 (Postgres' regex time grows with it). */
#define GPX_QUERY_MAX_ADHOC 32
#define GPX_ADHOC_VALUE_MAX 1000
#define GPX_ADHOC_REGEX_MAX 256
typedef enum gpx_adhoc_op { GPX_ADHOC_EQ = 0, GPX_ADHOC_NE, GPX_ADHOC_RE, GPX_ADHOC_NRE, GPX_ADHOC_NOPS } gpx_adhoc_op;
/** One dimension's ad-hoc filters, ANDed: a Postgres array literal per operator (NULL: none with it). */
typedef struct gpx_adhoc_dim {
  char *values[GPX_ADHOC_NOPS]; /* = and != values side-normalised; regexes anchored ^(?:…)$ */
  int is_null, not_null;        /* `= (none)`, `!= (none)` */
} gpx_adhoc_dim;

/* What the annotations kind marks (GPX_QOPT_EVENTS `events`): names in gpx_anno_event_names. */
typedef enum gpx_anno_events {
  GPX_ANNO_TRADES = 0,       /* every trade, at closed_at (a region from opened_at) */
  GPX_ANNO_LARGE_LOSSES,     /* trades with P&L <= -threshold */
  GPX_ANNO_DRAWDOWN_EPISODES, /* drawdown episodes deeper than threshold (a fraction), as regions */
  GPX_ANNO_DAILY_LOSS,       /* local days whose P&L < -threshold, as regions */
  GPX_ANNO_COUNT
} gpx_anno_events;
extern const char *const gpx_anno_event_names[GPX_ANNO_COUNT];

typedef struct gpx_query {
  int kind;                   /* registry index */
  char ref_id[128];
  char *filter[GPX_DIM_COUNT]; /* Postgres array literal per dimension (gpx_dims order), NULL = all */
  gpx_group group_by;
  int metrics[GPX_STATS_NFIELDS]; /* stats fields to return, in order */
  int n_metrics;
  int drawdown_money;
  int64_t limit;
  gpx_analytics_settings a;
  int64_t from_ms, to_ms, interval_ms, max_points;
  int period;                 /* gpx_period (GPX_QOPT_PERIOD): `period`, default month */
  int period_grid;            /* `layout: "grid"`: the monthly-returns table */
  int rolling_metric;         /* gpx_rolling_metric (GPX_QOPT_ROLLING): `metric`, default sharpe */
  int window;                 /* `window` in days, default 30 */
  int events;                 /* gpx_anno_events (GPX_QOPT_EVENTS): `events`, default trades */
  double threshold;           /* `threshold` (GPX_QOPT_EVENTS), or the events' default (query-model.md) */
  int pnl_cap;                /* set by a run: statements keep only trades whose P&L <= pnl_max */
  double pnl_max;
  int finite_only;            /* set by a run that met NaN/±Infinity P&L: statements skip those rows */
  int metrics_given;          /* the JSON named metrics (else all, or a kind's own default) */
  int limit_given;            /* the JSON named a limit (else the row limit, or a kind's own default) */
  uint32_t missing;           /* optional columns the table lacks (1 << gpx_col): mapped to null, or found by a run */
  uint32_t widen;             /* number columns stored as real (float4): summed as float8 (gpx_qrun_learn_types) */
  uint32_t filter_none;       /* 1 << gpx_dim: the dimension's list holds "(none)" (NULL values match) */
  int live;                   /* `live: true` (GPX_QOPT_LIVE kinds): frames carry meta.channel */
  int no_cache;               /* `cache: false`, or the request's X-Cache-Skip: no fold cache (cache.c) */
  gpx_adhoc_dim adhoc[GPX_DIM_COUNT]; /* `adhocFilters`, per dimension (adhoc.c) */
} gpx_query;

void gpx_query_reset(gpx_query *q);
/** Parse and validate; EINVAL with a message naming the field. */
int gpx_query_parse(const gpx_query_input *in, const gpx_ds_settings *s, gpx_query *q, gpx_error *err);

/** A side as statements compare it: long/short for buy/sell/long/short in any case (*len updated), else s. */
const char *gpx_query_side_value(const char *s, size_t *len);

/** `adhocFilters` of the query JSON into q->adhoc; EINVAL naming adhocFilters[i].key/operator/value. */
int gpx_adhoc_parse(json_t *root, const gpx_ds_settings *s, gpx_query *q, gpx_error *err);
void gpx_adhoc_reset(gpx_query *q);

/** Column used by a group-by (GPX_COL_COUNT for none), and its label key ("" for none). */
gpx_col gpx_group_col(gpx_group g);
const char *gpx_group_label(gpx_group g);

/** Bucket width (ns) of the query's series: the one rule, gpx_bucket_width_ns. */
int64_t gpx_query_bucket_ns(const gpx_query *q);

/* ------------------------------------------------------------ SQL text */

#define GPX_SQL_MAX_PARAMS 48 /* 7 filter lists, 4 ad-hoc arrays per dimension, range, zone, width, limit, with room */
typedef struct gpx_sql {
  gpx_buf text;
  char *params[GPX_SQL_MAX_PARAMS];
  int n;
  /* when set, gpx_sql_param writes the value as a literal quoted by this
     function instead of $n: COPY takes no parameters (gpx_stmt_build_copy) */
  int (*literal)(void *arg, gpx_buf *out, const char *value);
  void *literal_arg;
  uint32_t widen;  /* number columns (1 << gpx_col) stored as real: read as float8 (q->widen) */
} gpx_sql;

void gpx_sql_reset(gpx_sql *q);
/** Add a parameter value (copied) and append "$n" + cast to the text. */
int gpx_sql_param(gpx_sql *q, const char *value, const char *cast);
int gpx_sql_append(gpx_sql *q, const char *s);
const char *gpx_sql_cstr(gpx_sql *q);

/* ------------------------------------------------------------ statements */

/* How a result column is read from its binary value. */
typedef enum gpx_dec { GPX_DEC_TIME, GPX_DEC_TEXT, GPX_DEC_NUMBER, GPX_DEC_F8, GPX_DEC_I8, GPX_DEC_I4 } gpx_dec;

/* What a statement selects for a column. Plain columns and the bucket/day
   keys of an aggregate statement become its GROUP BY. */
typedef enum gpx_expr {
  GPX_EXPR_COL,      /* the column itself */
  GPX_EXPR_SUM,      /* sum(col) */
  GPX_EXPR_MAX,      /* max(col) */
  GPX_EXPR_COUNT,    /* count(*) */
  GPX_EXPR_BUCKET,   /* right-closed bucket index of closed_at (gpx_query_bucket_ns) */
  GPX_EXPR_DAY,      /* local calendar day ordinal of closed_at in the query's time zone */
  GPX_EXPR_NOTIONAL, /* sum(col * abs(qty)) [FILTER (WHERE filter IS NOT NULL)] */
  GPX_EXPR_MIN_TEXT, /* min(col)::text */
  GPX_EXPR_COUNT_POS, /* count(*) FILTER (WHERE col > 0) */
  GPX_EXPR_COUNT_NEG, /* count(*) FILTER (WHERE col < 0) */
  GPX_EXPR_SUM_POS,   /* sum(col) FILTER (WHERE col > 0) */
  GPX_EXPR_SUM_NEG    /* sum(col) FILTER (WHERE col < 0) */
} gpx_expr;

/** One output column: built into the SELECT list and read back by index. */
typedef struct gpx_sql_col {
  gpx_expr expr;
  gpx_col col;        /* logical column (GPX_COL_COUNT when none) */
  gpx_col filter;     /* GPX_EXPR_NOTIONAL: only rows where it IS NOT NULL; GPX_COL_COUNT: all */
  const char *cast;   /* appended as ::cast, or NULL */
  const char *as;     /* output name */
  gpx_dec dec;
  int stored;         /* GPX_EXPR_COL: the column as stored (GPX_CX_STORED), its reader normalises it */
} gpx_sql_col;

/* How a statement uses a logical column (gpx_sql_column). */
typedef enum gpx_cx {
  GPX_CX_VALUE = 0, /* computed on or shown: absent → a typed NULL; a list → the sum of its columns, NULL as 0;
                       side → 'long'/'short' (CASE); an epoch time → timestamptz */
  GPX_CX_RAW,       /* compared or ordered as stored (range bounds, ORDER BY, min/max): the quoted column */
  GPX_CX_STORED     /* read as stored and normalised by the reader (side in the one-pass read) */
} gpx_cx;

/** Append the SQL for logical column c of settings s: quoted identifiers only, never user text. */
int gpx_sql_column(gpx_sql *o, const gpx_ds_settings *s, gpx_col c, gpx_cx how);
/** Append the ad-hoc filters' terms (" AND …" each) to a WHERE clause. */
int gpx_adhoc_where(gpx_sql *o, const gpx_ds_settings *s, const gpx_query *q);

typedef enum { GPX_RANGE_IN = 0, GPX_RANGE_BEFORE, GPX_RANGE_UPTO } gpx_range;
/* TIME: by group, then (closed_at, trade_id) — a group's rows contiguous;
   TIME_ALL: (closed_at, trade_id) only — every group's rows in order, the
   groups interleaved (no sort by group: the covering index's order).
   NEWEST_LIMIT: closed_at DESC, trade_id DESC, LIMIT n+1; NEWEST_FIRST:
   closed_at DESC alone, LIMIT n+1 (ties among closed_at in any order). */
typedef enum { GPX_ORDER_NONE = 0, GPX_ORDER_TIME, GPX_ORDER_NEWEST_LIMIT, GPX_ORDER_TIME_ALL,
               GPX_ORDER_NEWEST_FIRST } gpx_order;

/** A statement over the trade table, described once. */
typedef struct gpx_stmt_def {
  const char *name;         /* for messages and the debug log */
  const gpx_sql_col *cols;
  int ncols;
  gpx_range range;
  gpx_order order;          /* NEWEST_* take the limit argument of gpx_stmt_build */
  int grouped;              /* 1: a leading "g" column when the query groups */
  int broken_pnl;           /* 1: only the rows whose P&L is NULL, NaN or ±Infinity */
} gpx_stmt_def;

/** A built statement: its text and parameters, and where its columns are. */
typedef struct gpx_stmt {
  const gpx_stmt_def *def;
  gpx_sql sql;
  int first;                /* result index of def->cols[0]: 1 after a group column */
} gpx_stmt;

/** Build def for settings s and query q; width_ns for bucket columns, limit for NEWEST_LIMIT. */
int gpx_stmt_build(gpx_stmt *st, const gpx_stmt_def *def, const gpx_ds_settings *s, const gpx_query *q,
                   int64_t width_ns, int64_t limit);
/**
 * Build def for a COPY read on session sess: values as literals quoted by
 * libpq for that connection (COPY takes no parameters), and every plain
 * column in omit | q->missing (1 << gpx_col) read as NULL — a column the
 * table lacks, or one no requested number needs (not reading it lets
 * Postgres answer from the covering index).
 */
int gpx_stmt_build_copy(gpx_stmt *st, const gpx_stmt_def *def, const gpx_ds_settings *s, const gpx_query *q,
                        uint32_t omit, gpx_pg_session *sess);
void gpx_stmt_reset(gpx_stmt *st);

/* Readers: c is the column's index in def->cols; NULL → NaN / 0 / NULL. */
double gpx_stmt_num(const gpx_stmt *st, const PGresult *res, int row, int c);
int64_t gpx_stmt_i64(const gpx_stmt *st, const PGresult *res, int row, int c);
/** A timestamp column in epoch ns: 1 when present and representable (1677–2262), else 0 with *ns = 0. */
int gpx_stmt_time(const gpx_stmt *st, const PGresult *res, int row, int c, int64_t *ns);
/** Text column: NULL when SQL NULL; *len its length. */
const char *gpx_stmt_text(const gpx_stmt *st, const PGresult *res, int row, int c, size_t *len);
int gpx_stmt_isnull(const gpx_stmt *st, const PGresult *res, int row, int c);
/** The group name of a row ("(none)" for a NULL group value); NULL when ungrouped. */
const char *gpx_stmt_group(const gpx_stmt *st, const PGresult *res, int row);

/* The same readers for a row read through COPY (gpx_pg_copy), whose column
   types the read learnt when it was described. */
typedef struct gpx_crow {
  const gpx_pg_value *v;
  const unsigned int *types;
} gpx_crow;
double gpx_crow_num(const gpx_stmt *st, gpx_crow r, int c);
int gpx_crow_time(const gpx_stmt *st, gpx_crow r, int c, int64_t *ns);
const char *gpx_crow_text(const gpx_stmt *st, gpx_crow r, int c, size_t *len);
/** A side read as stored (GPX_CX_STORED, as text): long/short per the mapping (buy/sell, is_short/is_long). */
gpx_side gpx_side_stored(const gpx_ds_settings *s, const char *p, size_t len);
/** The group value (bytes, *len) of a grouped row: "(none)" for NULL; NULL when ungrouped. */
const char *gpx_crow_group(const gpx_stmt *st, gpx_crow r, size_t *len);

/* The statements (sql.c); each enum names its columns in def order. */
enum { GPX_BASE_PNL, GPX_BASE_NCOLS };
extern const gpx_stmt_def gpx_stmt_base;      /* Σ p before the range, per group */
enum { GPX_BK_B, GPX_BK_TS, GPX_BK_PNL, GPX_BK_N, GPX_BK_NCOLS };
extern const gpx_stmt_def gpx_stmt_buckets;   /* per bucket: last closed_at, Σ p, count */
enum { GPX_TS_TS, GPX_TS_PNL, GPX_TS_NCOLS };
extern const gpx_stmt_def gpx_stmt_trade_stream; /* every trade of the range, in order */
enum { GPX_DY_DAY, GPX_DY_PNL, GPX_DY_N, GPX_DY_NCOLS };
extern const gpx_stmt_def gpx_stmt_daily;     /* Σ p and count per local day */
/* the same columns, then the day's wins and losses: count and Σ p over p > 0 and p < 0 */
enum { GPX_DY_WINS = GPX_DY_NCOLS, GPX_DY_LOSSES, GPX_DY_SUM_WIN, GPX_DY_SUM_LOSS, GPX_DYT_NCOLS };
extern const gpx_stmt_def gpx_stmt_daily_trades;
enum { GPX_SL_B, GPX_SL_SIDE, GPX_SL_TS, GPX_SL_FILL_ENTRY, GPX_SL_EXP_ENTRY, GPX_SL_FILL_EXIT, GPX_SL_EXP_EXIT,
       GPX_SL_N, GPX_SL_NCOLS };
extern const gpx_stmt_def gpx_stmt_slippage;  /* slippage sums per bucket and side */
enum { GPX_TR_CLOSED_AT, GPX_TR_OPENED_AT, GPX_TR_TRADE_ID, GPX_TR_ACCOUNT, GPX_TR_EXCHANGE, GPX_TR_STRATEGY,
       GPX_TR_SYMBOL, GPX_TR_SIDE, GPX_TR_QTY, GPX_TR_ENTRY, GPX_TR_EXIT, GPX_TR_FEES, GPX_TR_PNL,
       GPX_TR_EXP_ENTRY, GPX_TR_EXP_EXIT, GPX_TR_NCOLS };
extern const gpx_stmt_def gpx_stmt_trades;    /* the trades, newest first */
extern const gpx_stmt_def gpx_stmt_trades_fast; /* the same ordered by closed_at alone (kind_trades.c) */

/* The one-pass stats read (stream.c): every trade in order with the columns
   the per-trade numbers need, and — order-free, on a second session — the
   leg columns whose products are costly to compute in Postgres. */
enum { GPX_SS_TS, GPX_SS_PNL, GPX_SS_OPENED, GPX_SS_SIDE, GPX_SS_NCOLS };
extern const gpx_stmt_def gpx_stmt_stats_stream;
enum { GPX_LG_SIDE, GPX_LG_QTY, GPX_LG_ENTRY, GPX_LG_EXIT, GPX_LG_EXP_ENTRY, GPX_LG_EXP_EXIT, GPX_LG_FEES,
       GPX_LG_NCOLS };
extern const gpx_stmt_def gpx_stmt_stats_legs;

/** The table's columns (pg_attribute), to tell which mapped optional columns it lacks. */
enum { GPX_ATT_NAME, GPX_ATT_NCOLS };
extern const gpx_sql_col gpx_att_cols[GPX_ATT_NCOLS];
int gpx_sql_table_columns(gpx_stmt *st, const gpx_ds_settings *s);

/** The calendar of the range (not over the trade table): first/last local day, today, day starts. */
enum { GPX_DAYS_DAY, GPX_DAYS_TODAY, GPX_DAYS_START_MS, GPX_DAYS_NCOLS };
extern const gpx_sql_col gpx_days_cols[GPX_DAYS_NCOLS];
int gpx_sql_days(gpx_stmt *st, const gpx_query *q);
/** Local midnights (epoch ms) of the given day ordinals in the query's time zone (not over the trade table). */
enum { GPX_MN_DAY, GPX_MN_START_MS, GPX_MN_NCOLS };
extern const gpx_sql_col gpx_midnight_cols[GPX_MN_NCOLS];
int gpx_sql_midnights(gpx_stmt *st, const gpx_query *q, const int32_t *days, size_t n);

/** Trades up to the range end whose P&L is NULL, NaN or ±Infinity: count and the first trade id. */
enum { GPX_BAD_N, GPX_BAD_FIRST_ID, GPX_BAD_NCOLS };
extern const gpx_stmt_def gpx_stmt_bad_pnl;

/** The configured table as a quoted identifier ("schema"."table"), NUL-terminated in name: a value
    to bind (to_regclass), never SQL text. */
int gpx_sql_table_name(gpx_buf *name, const gpx_ds_settings *s);

/** Distinct values of a column; trade count and span of closed trades (CheckHealth). */
int gpx_sql_distinct(gpx_sql *out, const gpx_ds_settings *s, gpx_col col, const char *substr, int limit);
int gpx_sql_count_span(gpx_sql *out, const gpx_ds_settings *s);
/** Live queries (live.c): the NOTIFY channel name of the table and whether
    sql/live_notify.sql's trigger is installed on it; the watermark poll
    (count and max closed_at at or after `since`, a timestamptz text). */
int gpx_sql_live_probe(gpx_sql *out, const gpx_ds_settings *s);
int gpx_sql_live_watermark(gpx_sql *out, const gpx_ds_settings *s, const char *since);

/* ------------------------------------------------------------ groups */

/** Rows one group collects: per bucket (or per trade) and per day. */
typedef struct gpx_qgroup {
  char *name;        /* NULL when ungrouped */
  double base_pnl;   /* Σ p before the range */
  gpx_curve curve;
  int curve_ready;
  /* points from SQL rows: time, value, count (per bucket or per trade) */
  int64_t *ts;
  double *v;
  int64_t *n;
  size_t nt, capt;
  /* daily rows from SQL */
  int32_t *day;
  double *dpnl;
  int64_t *dcount;
  size_t nd, capd;
  gpx_trade_agg *dagg; /* per daily row: wins and losses (gpx_qrun_load_daily_trades), else NULL */
  /* slippage of the whole range */
  gpx_slippage_acc slip;
  /* the one-pass stats read (stream.c) */
  int stream_ready;
  gpx_trade_acc trades;
  gpx_legs_acc legs;
  gpx_day_fold days;
  gpx_episodes episodes;
} gpx_qgroup;

/** Groups of one run, found by name through a hash index. */
typedef struct gpx_groups {
  gpx_qgroup *g;
  size_t n, cap;
  uint32_t *slots;   /* open addressing: group index + 1, 0 = empty */
  size_t nslots;
  size_t max;        /* most groups a run may hold (0 = no limit) */
  int full;          /* set when a new group was refused because of max */
} gpx_groups;

/** The group called name (NULL = the ungrouped one), created if new; NULL
    on ENOMEM or when max groups exist already (then full is set). */
gpx_qgroup *gpx_groups_get(gpx_groups *gs, const char *name);
/** Sort groups by name and each group's rows by time and day. */
int gpx_groups_order(gpx_groups *gs);
void gpx_groups_reset(gpx_groups *gs);
int gpx_group_push_row(gpx_qgroup *g, int64_t ts, double v, int64_t n);
int gpx_group_push_day(gpx_qgroup *g, int32_t day, double pnl, int64_t n);
/** A daily row with its trade aggregates (a->count trades); a group takes either kind of row, not both. */
int gpx_group_push_day_agg(gpx_qgroup *g, int32_t day, double pnl, const gpx_trade_agg *a);

/* ------------------------------------------------------------ a run */

/** The state a kind's runner works with. */
typedef struct gpx_qrun {
  const gpx_query_kind *kind;
  gpx_ds_instance *inst;    /* the data source (gpx_qrun_pooled): its fold cache */
  const gpx_query_input *in;
  const gpx_ds_settings *s;
  gpx_query *q;             /* the run may set q->finite_only */
  gpx_query_result *out;
  gpx_pg_session sess;
  gpx_buf executed;      /* meta.executedQueryString */
  gpx_groups groups;
  /* the calendar (gpx_qrun_load_days) */
  int32_t first_day, last_day, today;
  int64_t *day_start_ms; /* index: day - first_day */
  size_t n_days;
  /* trades left out for a P&L that is not a finite number (a notice on every frame) */
  int64_t bad_rows;
  char bad_first_id[64];
  /* numbers left null for columns the table lacks: one info notice on the
     first frame (gpx_qrun_emit) when q->missing holds some of these */
  uint32_t null_cols;
  const char *null_what;  /* "slippage_bps is" */
  int null_noticed;
  /* a live query: "ds/<uid>/live/<hash>", each frame's meta.channel is it + "/<frame id>"
     (Grafana's whole channel id is at most 160 characters; gpx__live_issue checks the uid fits) */
  char live_channel[161];
  /* the one-pass read is done (gpx_qrun_load_stream): by this run, or by
     another whose state this run borrows (flight.c); legs_read as its need said */
  int loaded, legs_read;
} gpx_qrun;

/** Points a run may hold in memory at once: groups × maxDataPoints (issue 10: bounded work per request). */
#define GPX_QUERY_MAX_POINTS 2000000
/** The run's group called name (NULL = ungrouped), created if new; fails the
    run (400 when there are too many groups, 500 on ENOMEM) and returns its code. */
int gpx_qrun_group(gpx_qrun *r, const char *name, gpx_qgroup **out);
/** Ungrouped queries have their one group even when no row arrives. */
int gpx_qrun_ensure_ungrouped(gpx_qrun *r);
/**
 * A P&L that is NaN or ±Infinity (a broken row of the bot's table) poisons
 * Postgres' sums. Called when a sum came back so, or the curve skipped such
 * trades: counts them (once per run) for the notice, and from then on the
 * statements leave them out (q->finite_only).
 */
int gpx_qrun_note_bad_pnl(gpx_qrun *r);
/** 1 once the caller went away; a long loop checks it every few thousand rows. */
int gpx_qrun_cancelled(gpx_qrun *r);

/** Append a statement (prefix + text, and its parameters) to executedQueryString. */
void gpx_qrun_record(gpx_qrun *r, const char *prefix, gpx_sql *sql);
/** Record the statement for executedQueryString and run it (binary results); fails the run on error. */
int gpx_qrun_exec(gpx_qrun *r, gpx_stmt *st, PGresult **res);
/** The same without failing the run: the caller decides what a Postgres error means. */
int gpx_qrun_exec_raw(gpx_qrun *r, gpx_stmt *st, PGresult **res, gpx_pg_error *pe);
/**
 * Which mapped number columns the table stores as real (float4), into
 * q->widen: Postgres sums a real in real precision, so statements read
 * them as float8. Learnt once per instance and kept in its memo for a
 * while. Fails the run on a Postgres error (through the one mapping).
 */
int gpx_qrun_learn_types(gpx_qrun *r, gpx_ds_instance *inst);
/** Fail the run with a Postgres error through the one mapping. */
int gpx_qrun_fail_pg(gpx_qrun *r, const gpx_pg_error *pe);
/** Fail the run with an internal error (500 plugin): "<what>: <detail>". */
int gpx_qrun_fail(gpx_qrun *r, int code, const char *what, const char *detail);

/** Run r's kind with a pooled connection (execute.c): acquire, learn the types, run, release. */
void gpx_qrun_pooled(gpx_qrun *r, gpx_ds_instance *inst, gpx_pg_cancel_fn cancelled, void *cancel_arg);
/**
 * Run r's kind, coalesced with an identical run in flight when the kind has
 * a stream_need (flight.c): the first runs it (gpx_qrun_pooled), the others
 * wait — each until its own deadline or cancellation — and build their
 * frames from its state. A leader that fails leaves its waiters to run
 * again themselves (one of them leading when the leader's caller went away).
 */
void gpx_qrun_flight(gpx_qrun *r, gpx_ds_instance *inst, gpx_pg_cancel_fn cancelled, void *cancel_arg);
/** The computation of r's query (kind with a stream_need) as bytes appended to k: runs with equal keys
    on one instance share a read. Everything but refId, metrics and live. ENOMEM. */
int gpx_qrun_flight_key(const gpx_qrun *r, gpx_buf *k);

/** Issue a live channel for this query (live.c): "ds/<uid>/live/<hash>" into buf. ENOMEM. */
int gpx__live_issue(struct gpx_live *l, const char *uid, const gpx_query_input *in, char *buf, size_t cap);

/* Loaders (load.c): SQL rows into the run's groups. */
typedef int (*gpx_qrun_row_fn)(gpx_qrun *r, gpx_qgroup *g, const gpx_stmt *st, const PGresult *res, int row,
                               void *arg);
/** Build and run def (aggregate statements: one call per row, with the row's group); fn fails the run itself. */
int gpx_qrun_each_row(gpx_qrun *r, const gpx_stmt_def *def, int64_t width_ns, gpx_qrun_row_fn fn, void *arg);
int gpx_qrun_load_base(gpx_qrun *r);
/** Bucket rows (ts = bucket's last trade, v = Σ p, n = count); *total = trades seen. */
int gpx_qrun_load_buckets(gpx_qrun *r, int64_t width_ns, int64_t *total);
/** One row per trade (ts, v = p, n = 1). */
int gpx_qrun_load_trades(gpx_qrun *r);
/**
 * Start g's curve (once: g->curve_ready) at E(from) for the curve kinds: one
 * point per trade while the group has at most per_trade_max trades, buckets
 * of bucket_ns beyond (per_trade_max 0: always buckets of bucket_ns).
 */
int gpx_qrun_curve_start(gpx_qrun *r, gpx_qgroup *g, int64_t bucket_ns, size_t per_trade_max, gpx_error *err);
int gpx_qrun_load_days(gpx_qrun *r);
int gpx_qrun_load_daily(gpx_qrun *r);
/** Daily rows with the day's wins and losses (g->dagg), for per-trade ratios over days. */
int gpx_qrun_load_daily_trades(gpx_qrun *r);
/** The instant (epoch ns) a local day starts, as Postgres computed it for the range's days. */
int64_t gpx_qrun_day_start_ns(const gpx_qrun *r, int32_t day);
/**
 * Slippage sums per bucket: into each group's total and, with per_bucket,
 * one row per bucket (ts, v = bps, n = legs). A Postgres error does not
 * fail the run: it is left in *pe (status != GPX_PG_OK) for the caller.
 */
int gpx_qrun_load_slippage(gpx_qrun *r, int64_t width_ns, int per_bucket, gpx_pg_error *pe);
/** What the one-pass read of the trades folds (gpx_qrun_load_stream). */
typedef struct gpx_stream_need {
  int days;              /* daily sums (loads the calendar first) */
  int day_aggs;          /* with days: each day's wins, losses and their sums (g->dagg) */
  int trades;            /* trade statistics */
  uint32_t ordered_cols; /* optional columns the trade statistics want (1 << gpx_col): opened_at, side */
  uint32_t leg_cols;     /* leg columns wanted: side, qty, prices, fees (0: no legs read) */
  size_t episodes;       /* keep this many drawdown episodes per group (0: none) */
  int curve;             /* the curve per trade the curve kinds draw (gpx_qrun_curve_start: one point per trade up
                            to curve_max, buckets of curve_bucket_ns beyond) instead of one bucket over the range */
  int64_t curve_bucket_ns;
  size_t curve_max;
  int legs_read;         /* out: the legs were read (some wanted leg column exists) */
} gpx_stream_need;
/**
 * One ordered read of the trades (COPY), folded into each group's curve
 * (max drawdown, aggregates), daily sums, trade statistics and episodes as
 * need says; when need.cols wants leg columns, a second read of them runs
 * at the same time on a second session (one after the other without one).
 * Optional columns the table lacks read as NULL and are added to
 * q->missing. Curves, folds and episodes are finished; groups are ordered.
 */
int gpx_qrun_load_stream(gpx_qrun *r, gpx_stream_need *need);
/**
 * The daily sums of the day-based kinds (need.days, need.day_aggs): from the
 * one-pass read (gpx_qrun_load_stream: the fold cache serves it) when
 * on_stream, else from the GROUP BY day statement (with E(from) when base;
 * with need.day_aggs, the one with each day's wins and losses). Either way the run is marked loaded, so
 * single flight shares it. Groups are ordered. Fails the run.
 *
 * Which kinds fold on the read (measured, 1 M trades, cold, vs the GROUP BY
 * statement; docs/query-model.md "Cache"), ungrouped only (grouped, the
 * read of the group column took 1.2–2.0x): rolling's win_rate and
 * profit_factor (0.63x: the FILTER sums are slow), daily_pnl and
 * pnl_distribution (1.15x); not period_returns (1.27x), rolling's other
 * metrics (1.2–1.26x) nor daily_loss annotations (1.26x): over the ~20 %
 * a cold query may lose. And only where the fold cache checks through the
 * change log (gpx_qcache_log_installed): checked by the fingerprint, a
 * warm daily_pnl cost more than the GROUP BY (~400 vs ~300 ms) — the read
 * is taken for the cache, so without a cheap check it does not pay.
 */
int gpx_qrun_load_day_sums(gpx_qrun *r, gpx_stream_need *need, int base, int on_stream);

/* ------------------------------------------------------------ the fold cache (cache.c) */

/* How far behind now an entry's watermark stays: trades whose closed_at is
   this recent are read every time, so one committed a little late is read
   rather than a reason to recompute everything. */
#define GPX_QCACHE_SETTLE_MS 300000
/** An entry's fingerprint: rows of the covered range and the sum of their hashes. */
typedef struct gpx_qcache_fp {
  int64_t count;
  __int128 hsum;
} gpx_qcache_fp;
typedef struct gpx_qcache_rows gpx_qcache_rows;
/** One cached trade. */
typedef struct gpx_qcache_row_t {
  int64_t ts, opened;
  double pnl;
  int has_opened;
  gpx_side side;
  uint32_t grp; /* the entry's group index */
} gpx_qcache_row_t;
/** One run's use of the cache (gpx_qcache_start … gpx_qcache_finish). */
typedef struct gpx_qcache_run {
  int on;                /* the run goes through the cache; 0: the cold path, untouched */
  void *cache;
  gpx_buf key;           /* gpx_qrun_rows_key */
  gpx_qcache_rows *rows; /* the entry's rows (a reference); NULL on a miss or after a failed check */
  int64_t from_ms, w_ms; /* the entry's covered range (from_ms, w_ms]; a miss: both the query's from */
  gpx_qcache_fp fp, fp_new;
  int64_t wt;            /* the query's settled end: min(to, now - GPX_QCACHE_SETTLE_MS) */
  int64_t w_new;         /* the watermark after this run: max(where the good cached rows end, wt);
                            before the check, max(w_ms, wt), the furthest it can be */
  int64_t read_from;     /* the ordered read reads (read_from, to] */
  int verified, in_txn;
  int log;               /* checked through sql/cache_changes.sql's change log (else the fingerprint) */
  int64_t *lh, *lv;      /* the log's hours and versions for the new entry's span */
  size_t ln;
  size_t kept;           /* verified rows still good (the log narrowed a change to the hours after them) */
  gpx_qcache_rows *fresh; /* the rows the entry will hold: the verified ones + the new ones */
  int64_t *r2e;          /* run group index → fresh group index (-1: not yet) */
  size_t n_r2e;
} gpx_qcache_run;
/** The bytes of what selects a query's rows (filters, ad-hoc filters, groupBy, learnt columns): the cache key. */
int gpx_qrun_rows_key(const gpx_query *q, gpx_buf *k);
/** 1 when r may use the cache: on for its instance and query, a server that can fingerprint, and a
    way to check entries — the change log, or cacheFingerprint. */
int gpx_qcache_possible(gpx_qrun *r);
/**
 * 1 when this data source's cache is on (cacheMegabytes > 0, a server that
 * can fingerprint) and sql/cache_changes.sql's log is installed and readable
 * (remembered a while): where a kind may take the one-pass read only for the
 * cache's sake. Whatever the query's own `cache` option says, so a bypassed
 * query answers the same bytes as a cached one.
 */
int gpx_qcache_log_installed(gpx_qrun *r);
/** For a run gpx_qcache_possible allowed: 1 when it goes through the cache (an entry is looked up and
    referenced); 0: cold path (the range is still settling). */
int gpx_qcache_start(gpx_qrun *r, gpx_qcache_run *cu);
/**
 * Begin the REPEATABLE READ transaction and check the entry's fingerprint:
 * cu->verified and read_from say what the ordered read must still read.
 * ENOTSUP: the server cannot fingerprint this table (the run goes on cold,
 * the transaction stays open and is ended by gpx_qcache_finish); other
 * errors fail the run.
 */
int gpx_qcache_verify(gpx_qrun *r, gpx_qcache_run *cu);
/** The verified rows to fold before the new ones (0 when none); *kept of them are still good. */
int gpx_qcache_rows_view(const gpx_qcache_run *cu, const gpx_qcache_rows **rows, size_t *kept);
/** Index of the first row whose closed_at (ns) is after ns. */
size_t gpx_qcache_lower(const gpx_qcache_rows *w, int64_t ns);
void gpx_qcache_row(const gpx_qcache_rows *w, size_t i, gpx_qcache_row_t *out);
size_t gpx_qcache_groups(const gpx_qcache_rows *w);
const char *gpx_qcache_group_name(const gpx_qcache_rows *w, size_t g, size_t *len);
/** The run's group run_group is the entry's group entry_group. */
void gpx_qcache_map_group(gpx_qcache_run *cu, size_t run_group, uint32_t entry_group);
/** Keep a newly read row (of run group run_group, named name) for the entry when it is settled. ENOMEM. */
int gpx_qcache_keep(gpx_qcache_run *cu, size_t run_group, const char *name, size_t len, const gpx_qcache_row_t *row);
/** End the transaction (COMMIT when ok, else ROLLBACK) and, when ok, store the entry; releases everything. */
void gpx_qcache_finish(gpx_qrun *r, gpx_qcache_run *cu, int ok);

/** The fingerprint statement (sql.c): over (from, hi], count and Σ hash (text) of the rows up to w,
    of those up to wt, and of all. */
enum { GPX_FP_N_OLD, GPX_FP_H_OLD, GPX_FP_N_WT, GPX_FP_H_WT, GPX_FP_N_ALL, GPX_FP_H_ALL, GPX_FP_NCOLS };
extern const gpx_stmt_def gpx_stmt_fingerprint;
int gpx_sql_fingerprint(gpx_stmt *st, const gpx_ds_settings *s, const gpx_query *q, int64_t from_ms, int64_t w_ms,
                        int64_t wt_ms, int64_t hi_ms);

/* The stats fields described once (stat_fields.c), indexed like gpx_stats_field_names. */
typedef enum gpx_stat_unit_kind {
  GPX_STAT_UNIT_NONE = 0, GPX_STAT_UNIT_MONEY, GPX_STAT_UNIT_FRACTION, GPX_STAT_UNIT_BPS, GPX_STAT_UNIT_SECONDS
} gpx_stat_unit_kind;
typedef struct gpx_stat_field {
  const char *display;     /* displayNameFromDS */
  gpx_stat_unit_kind unit;
  int daily;               /* needs the daily series */
  int legs;                /* comes from the legs read */
  uint32_t cols;           /* optional columns it needs (1 << gpx_col): null when the table lacks one */
} gpx_stat_field;
extern const gpx_stat_field gpx_stat_fields[GPX_STATS_NFIELDS];
/** Grafana unit of field i ("currencyUSD", "percentunit", "s", …), written to buf when it is built. */
const char *gpx_stat_unit(const gpx_qrun *r, int i, char *buf, size_t cap);
/** What the one-pass read must fold for these fields. */
void gpx_stats_need(const int *metrics, int n, gpx_stream_need *need);
/** Every stats field of a group after gpx_qrun_load_stream; fields lacking columns null. Fails the run. */
int gpx_qrun_group_stats(gpx_qrun *r, const gpx_qgroup *g, const gpx_stream_need *need, gpx_stats *st);
/** One info notice when a requested field is null because the table lacks its columns (naming them). */
int gpx_stats_missing_notice(const gpx_qrun *r, const int *metrics, int n, gpx_frame *f, gpx_error *err);

/** Append ", account (jsonData.columns.account is null)" or the column's name (sep first); bytes written. */
size_t gpx_col_describe(const gpx_ds_settings *s, gpx_col c, const char *sep, char *buf, size_t cap);
/** One info notice "<what> null: the table has no column(s) …" when q->missing holds some of cols. */
int gpx_columns_missing_notice(const gpx_qrun *r, uint32_t cols, const char *what, gpx_frame *f, gpx_error *err);

/** E(from) of a group. */
double gpx_qrun_base_equity(const gpx_qrun *r, const gpx_qgroup *g);
/** The group's full daily series (gpx_daily_build); fails the run on error. */
int gpx_qrun_build_daily(gpx_qrun *r, const gpx_qgroup *g, gpx_daily *d);

/* Frames (emit.c). */
/** Set refId and executedQueryString, encode, append to the result. */
int gpx_qrun_emit(gpx_qrun *r, gpx_frame *f);
/** A float64 value field with the group's label, unit and display name. */
gpx_field *gpx_qrun_value_field(gpx_qrun *r, gpx_frame *f, const gpx_qgroup *g, const char *name,
                                const char *unit, const char *display, gpx_error *err);
/** One timeseries-multi frame: time + one value field for group g. */
int gpx_qrun_series_frame(gpx_qrun *r, const gpx_qgroup *g, const char *field, const char *unit,
                          const char *display, const int64_t *ts, const double *v, size_t n);
/** Finish a frame a runner built: emit it, or fail the run with err's message. */
int gpx_qrun_finish_frame(gpx_qrun *r, gpx_frame *f, int rc, const gpx_error *err);
/** Grafana unit of the data source's currency ("currencyUSD", or "suffix: XYZ"). */
void gpx_qrun_currency_unit(const gpx_qrun *r, char *buf, size_t cap);

/* The runners, int gpx_kind_<name>_run(gpx_qrun *r), are declared next to
   their rows in kinds.c: a kind is its file and its row. */

#endif /* GPX_QUERY_INT_H */
