/*
** sql.c — where SQL is built.
**
** Every value (time range, filters, time zone, bucket width, limits) is a
** bound parameter; configured table and column names are quoted as
** identifiers. The statements push to Postgres what it does exactly and
** cheaply — range filtering on the closed_at index, sums per bucket or per
** local day (time zones and DST are Postgres' job), slippage sums — and
** leave to C (trading/) only what needs the trade sequence: drawdown.
**
** Money columns are cast to float8 in SQL: numeric sums are exact in
** Postgres and the frame carries float64 anyway (trading-metrics.md §1).
*/
#include <stdio.h>
#include <stdlib.h>

#include "query_model.h"

void gpx_sql_reset(gpx_sql *q) {
  gpx_buf_reset(&q->text);
  for (int i = 0; i < q->n; i++) free(q->params[i]);
  memset(q, 0, sizeof *q);
}

int gpx_sql_append(gpx_sql *q, const char *s) { return gpx_buf_append_str(&q->text, s); }

const char *gpx_sql_cstr(gpx_sql *q) {
  if (gpx_buf_terminate(&q->text) != GPX_OK) return "";
  return (const char *)q->text.data;
}

int gpx_sql_param(gpx_sql *q, const char *value, const char *cast) {
  if (q->n >= GPX_SQL_MAX_PARAMS) return E2BIG;
  char *v = strdup(value);
  if (v == NULL) return ENOMEM;
  q->params[q->n++] = v;
  return gpx_buf_printf(&q->text, "$%d%s%s", q->n, cast ? "::" : "", cast ? cast : "");
}

static int gpx__param_i64(gpx_sql *q, int64_t v, const char *cast) {
  char b[32];
  snprintf(b, sizeof b, "%lld", (long long)v);
  return gpx_sql_param(q, b, cast);
}

static int gpx__ident(gpx_sql *q, const char *id) { return gpx_pg_quote_ident(&q->text, id); }

static int gpx__col(gpx_sql *q, const gpx_ds_settings *s, gpx_col c) {
  return gpx__ident(q, s->columns[c]);
}

static int gpx__table(gpx_sql *q, const gpx_ds_settings *s) {
  if (s->schema[0]) {
    GPX_RETURN_NOT_OK(gpx__ident(q, s->schema));
    GPX_RETURN_NOT_OK(gpx_sql_append(q, "."));
  }
  return gpx__ident(q, s->table);
}

gpx_col gpx_group_col(gpx_group g) {
  switch (g) {
    case GPX_GROUP_STRATEGY: return GPX_COL_STRATEGY;
    case GPX_GROUP_SYMBOL: return GPX_COL_SYMBOL;
    case GPX_GROUP_ACCOUNT: return GPX_COL_ACCOUNT;
    default: return GPX_COL_COUNT;
  }
}

const char *gpx_group_label(gpx_group g) {
  switch (g) {
    case GPX_GROUP_STRATEGY: return "strategy";
    case GPX_GROUP_SYMBOL: return "symbol";
    case GPX_GROUP_ACCOUNT: return "account";
    default: return "";
  }
}

/* "<group col>::text AS g, " or nothing. */
static int gpx__group_select(gpx_sql *o, const gpx_ds_settings *s, const gpx_query *q) {
  if (q->group_by == GPX_GROUP_NONE) return GPX_OK;
  GPX_RETURN_NOT_OK(gpx__col(o, s, gpx_group_col(q->group_by)));
  return gpx_sql_append(o, "::text AS g, ");
}

/* FROM … WHERE <time filter> AND <list filters> */
static int gpx__from_where(gpx_sql *o, const gpx_ds_settings *s, const gpx_query *q, gpx_range r) {
  GPX_RETURN_NOT_OK(gpx_sql_append(o, " FROM "));
  GPX_RETURN_NOT_OK(gpx__table(o, s));
  GPX_RETURN_NOT_OK(gpx_sql_append(o, " WHERE "));
  GPX_RETURN_NOT_OK(gpx__col(o, s, GPX_COL_CLOSED_AT));
  if (r == GPX_RANGE_BEFORE) {
    /* Equity includes every trade before the range (trading-metrics.md §3). */
    GPX_RETURN_NOT_OK(gpx_sql_append(o, " <= to_timestamp("));
    GPX_RETURN_NOT_OK(gpx__param_i64(o, q->from_ms, "float8"));
    GPX_RETURN_NOT_OK(gpx_sql_append(o, " / 1000)"));
  } else {
    GPX_RETURN_NOT_OK(gpx_sql_append(o, " > to_timestamp("));
    GPX_RETURN_NOT_OK(gpx__param_i64(o, q->from_ms, "float8"));
    GPX_RETURN_NOT_OK(gpx_sql_append(o, " / 1000) AND "));
    GPX_RETURN_NOT_OK(gpx__col(o, s, GPX_COL_CLOSED_AT));
    GPX_RETURN_NOT_OK(gpx_sql_append(o, " <= to_timestamp("));
    GPX_RETURN_NOT_OK(gpx__param_i64(o, q->to_ms, "float8"));
    GPX_RETURN_NOT_OK(gpx_sql_append(o, " / 1000)"));
  }
  static const gpx_col fcols[3] = {GPX_COL_STRATEGY, GPX_COL_SYMBOL, GPX_COL_ACCOUNT};
  for (int i = 0; i < 3; i++) {
    if (q->filter[i] == NULL) continue;
    GPX_RETURN_NOT_OK(gpx_sql_append(o, " AND "));
    GPX_RETURN_NOT_OK(gpx__col(o, s, fcols[i]));
    GPX_RETURN_NOT_OK(gpx_sql_append(o, "::text = ANY("));
    GPX_RETURN_NOT_OK(gpx_sql_param(o, q->filter[i], "text[]"));
    GPX_RETURN_NOT_OK(gpx_sql_append(o, ")"));
  }
  return GPX_OK;
}

/* GROUP BY without ORDER BY, on purpose: Postgres cannot estimate how many
   buckets or days an expression yields, assumes one per row, and with an
   ORDER BY picks Sort + GroupAggregate — sorting a million rows to produce
   a thousand (measured 650 ms vs 350 ms with HashAggregate). The few result
   rows are ordered in C (run.c). */
static int gpx__group_by(gpx_sql *o, const gpx_query *q, const char *more) {
  if (q->group_by == GPX_GROUP_NONE && more == NULL) return GPX_OK;
  GPX_RETURN_NOT_OK(gpx_sql_append(o, " GROUP BY "));
  if (q->group_by != GPX_GROUP_NONE) GPX_RETURN_NOT_OK(gpx_sql_append(o, more ? "g, " : "g"));
  if (more) GPX_RETURN_NOT_OK(gpx_sql_append(o, more));
  return GPX_OK;
}

/* Σ p of matching trades up to the range start, per group. */
int gpx_sql_base(gpx_sql *o, const gpx_ds_settings *s, const gpx_query *q) {
  gpx_sql_reset(o);
  GPX_RETURN_NOT_OK(gpx_sql_append(o, "SELECT "));
  GPX_RETURN_NOT_OK(gpx__group_select(o, s, q));
  GPX_RETURN_NOT_OK(gpx_sql_append(o, "COALESCE(sum("));
  GPX_RETURN_NOT_OK(gpx__col(o, s, GPX_COL_REALIZED_PNL));
  GPX_RETURN_NOT_OK(gpx_sql_append(o, "), 0)::float8 AS pnl"));
  GPX_RETURN_NOT_OK(gpx__from_where(o, s, q, GPX_RANGE_BEFORE));
  return gpx__group_by(o, q, NULL);
}

/* Bucket index of closed_at, right-closed like the C curve (analytics.md):
   (from + k·w, from + (k+1)·w] → k = ceil((t − from)/w) − 1. date_part is
   float8; extract() returns numeric since Postgres 14 and costs twice as
   much over a million rows. */
static int gpx__bucket_expr(gpx_sql *o, const gpx_ds_settings *s, const gpx_query *q, int64_t width_ms) {
  GPX_RETURN_NOT_OK(gpx_sql_append(o, "(ceil((date_part('epoch', "));
  GPX_RETURN_NOT_OK(gpx__col(o, s, GPX_COL_CLOSED_AT));
  GPX_RETURN_NOT_OK(gpx_sql_append(o, ") * 1000 - "));
  GPX_RETURN_NOT_OK(gpx__param_i64(o, q->from_ms, "float8"));
  GPX_RETURN_NOT_OK(gpx_sql_append(o, ") / "));
  GPX_RETURN_NOT_OK(gpx__param_i64(o, width_ms > 0 ? width_ms : 1, "float8"));
  return gpx_sql_append(o, ")::int8 - 1)");
}

/* Per bucket: last closed_at, Σ p, count. Equity/P&L/returns take the last
   value of each bucket, which is exactly base + the running sum of bucket
   sums — so only one row per bucket crosses the wire. */
int gpx_sql_buckets(gpx_sql *o, const gpx_ds_settings *s, const gpx_query *q, int64_t width_ms) {
  gpx_sql_reset(o);
  GPX_RETURN_NOT_OK(gpx_sql_append(o, "SELECT "));
  GPX_RETURN_NOT_OK(gpx__group_select(o, s, q));
  GPX_RETURN_NOT_OK(gpx__bucket_expr(o, s, q, width_ms));
  GPX_RETURN_NOT_OK(gpx_sql_append(o, " AS b, max("));
  GPX_RETURN_NOT_OK(gpx__col(o, s, GPX_COL_CLOSED_AT));
  GPX_RETURN_NOT_OK(gpx_sql_append(o, ")::timestamptz AS ts, sum("));
  GPX_RETURN_NOT_OK(gpx__col(o, s, GPX_COL_REALIZED_PNL));
  GPX_RETURN_NOT_OK(gpx_sql_append(o, ")::float8 AS pnl, count(*)::int8 AS n"));
  GPX_RETURN_NOT_OK(gpx__from_where(o, s, q, GPX_RANGE_IN));
  return gpx__group_by(o, q, "b");
}

/* Every trade in the range, ordered, for per-trade drawdown. */
int gpx_sql_trade_stream(gpx_sql *o, const gpx_ds_settings *s, const gpx_query *q) {
  gpx_sql_reset(o);
  GPX_RETURN_NOT_OK(gpx_sql_append(o, "SELECT "));
  GPX_RETURN_NOT_OK(gpx__group_select(o, s, q));
  GPX_RETURN_NOT_OK(gpx__col(o, s, GPX_COL_CLOSED_AT));
  GPX_RETURN_NOT_OK(gpx_sql_append(o, "::timestamptz AS ts, "));
  /* realized_pnl as it is: numeric's binary form is decoded in C
     (gpx_pg_get_number), a million server-side casts cost more. */
  GPX_RETURN_NOT_OK(gpx__col(o, s, GPX_COL_REALIZED_PNL));
  GPX_RETURN_NOT_OK(gpx_sql_append(o, " AS pnl"));
  GPX_RETURN_NOT_OK(gpx__from_where(o, s, q, GPX_RANGE_IN));
  GPX_RETURN_NOT_OK(gpx_sql_append(o, " ORDER BY "));
  if (q->group_by != GPX_GROUP_NONE) GPX_RETURN_NOT_OK(gpx_sql_append(o, "g, "));
  GPX_RETURN_NOT_OK(gpx__col(o, s, GPX_COL_CLOSED_AT));
  GPX_RETURN_NOT_OK(gpx_sql_append(o, ", "));
  return gpx__col(o, s, GPX_COL_TRADE_ID);
}

/* Σ p and count per local calendar day (ordinal since 1970-01-01) in tz. */
int gpx_sql_daily(gpx_sql *o, const gpx_ds_settings *s, const gpx_query *q) {
  gpx_sql_reset(o);
  GPX_RETURN_NOT_OK(gpx_sql_append(o, "SELECT "));
  GPX_RETURN_NOT_OK(gpx__group_select(o, s, q));
  GPX_RETURN_NOT_OK(gpx_sql_append(o, "((timezone("));
  GPX_RETURN_NOT_OK(gpx_sql_param(o, q->a.timezone, "text"));
  GPX_RETURN_NOT_OK(gpx_sql_append(o, ", "));
  GPX_RETURN_NOT_OK(gpx__col(o, s, GPX_COL_CLOSED_AT));
  GPX_RETURN_NOT_OK(gpx_sql_append(o, "::timestamptz))::date - DATE '1970-01-01')::int4 AS d, sum("));
  GPX_RETURN_NOT_OK(gpx__col(o, s, GPX_COL_REALIZED_PNL));
  GPX_RETURN_NOT_OK(gpx_sql_append(o, ")::float8 AS pnl, count(*)::int8 AS n"));
  GPX_RETURN_NOT_OK(gpx__from_where(o, s, q, GPX_RANGE_IN));
  return gpx__group_by(o, q, "d");
}

/* The range's first/last local day, today, and each day's start instant. */
int gpx_sql_days(gpx_sql *o, const gpx_query *q) {
  gpx_sql_reset(o);
  /* $1 tz, $2 from, $3 to */
  GPX_RETURN_NOT_OK(gpx_sql_append(o, "WITH r AS (SELECT (timezone("));
  GPX_RETURN_NOT_OK(gpx_sql_param(o, q->a.timezone, "text"));
  GPX_RETURN_NOT_OK(gpx_sql_append(o, ", to_timestamp("));
  GPX_RETURN_NOT_OK(gpx__param_i64(o, q->from_ms, "float8"));
  GPX_RETURN_NOT_OK(gpx_sql_append(o, " / 1000))::date - DATE '1970-01-01')::int4 AS f, (timezone($1::text, to_timestamp("));
  GPX_RETURN_NOT_OK(gpx__param_i64(o, q->to_ms, "float8"));
  GPX_RETURN_NOT_OK(gpx_sql_append(o,
      " / 1000))::date - DATE '1970-01-01')::int4 AS l, (timezone($1::text, now())::date - DATE '1970-01-01')::int4 AS t)"
      " SELECT d::int4, r.t, (extract(epoch FROM timezone($1::text, (DATE '1970-01-01' + d)::timestamp)) * 1000)::int8"
      " FROM r, generate_series(r.f, GREATEST(r.f, LEAST(r.l, r.f + 36600))) AS d ORDER BY d"));
  return GPX_OK;
}

/* Slippage per bucket and side as exact numeric sums (trading-metrics.md
   §3): Σ fill·qty and Σ expected·qty over the entry legs that have an
   expected price, the same for exits. gpx_slippage_add_sums turns them into
   notional-weighted bps in C. No per-row casts: numeric→float8 goes through
   text in Postgres and costs more than the multiplications. */
int gpx_sql_slippage(gpx_sql *o, const gpx_ds_settings *s, const gpx_query *q, int64_t width_ms) {
  gpx_sql_reset(o);
  GPX_RETURN_NOT_OK(gpx_sql_append(o, "SELECT "));
  GPX_RETURN_NOT_OK(gpx__group_select(o, s, q));
  GPX_RETURN_NOT_OK(gpx__bucket_expr(o, s, q, width_ms));
  GPX_RETURN_NOT_OK(gpx_sql_append(o, " AS b, "));
  GPX_RETURN_NOT_OK(gpx__col(o, s, GPX_COL_SIDE));
  GPX_RETURN_NOT_OK(gpx_sql_append(o, "::text AS sd, max("));
  GPX_RETURN_NOT_OK(gpx__col(o, s, GPX_COL_CLOSED_AT));
  GPX_RETURN_NOT_OK(gpx_sql_append(o, ")::timestamptz AS ts"));
  static const struct {
    gpx_col fill, expected;
  } legs[2] = {{GPX_COL_ENTRY_PRICE, GPX_COL_EXPECTED_ENTRY_PRICE}, {GPX_COL_EXIT_PRICE, GPX_COL_EXPECTED_EXIT_PRICE}};
  for (int l = 0; l < 2; l++) {
    GPX_RETURN_NOT_OK(gpx_sql_append(o, ", sum("));
    GPX_RETURN_NOT_OK(gpx__col(o, s, legs[l].fill));
    GPX_RETURN_NOT_OK(gpx_sql_append(o, " * abs("));
    GPX_RETURN_NOT_OK(gpx__col(o, s, GPX_COL_QTY));
    GPX_RETURN_NOT_OK(gpx_sql_append(o, ")) FILTER (WHERE "));
    GPX_RETURN_NOT_OK(gpx__col(o, s, legs[l].expected));
    GPX_RETURN_NOT_OK(gpx_sql_append(o, " IS NOT NULL)::float8, sum("));
    GPX_RETURN_NOT_OK(gpx__col(o, s, legs[l].expected));
    GPX_RETURN_NOT_OK(gpx_sql_append(o, " * abs("));
    GPX_RETURN_NOT_OK(gpx__col(o, s, GPX_COL_QTY));
    GPX_RETURN_NOT_OK(gpx_sql_append(o, "))::float8"));
  }
  GPX_RETURN_NOT_OK(gpx_sql_append(o, ", count(*)::int8"));
  GPX_RETURN_NOT_OK(gpx__from_where(o, s, q, GPX_RANGE_IN));
  return gpx__group_by(o, q, "b, sd");
}

/* Newest first; one row more than the limit tells us it was cut. Read in
   binary and number columns uncast (gpx_pg_get_number decodes numeric):
   no float/text formatting on either side. */
int gpx_sql_trades(gpx_sql *o, const gpx_ds_settings *s, const gpx_query *q, int64_t limit) {
  gpx_sql_reset(o);
  static const struct {
    gpx_col c;
    const char *cast;
  } cols[] = {{GPX_COL_CLOSED_AT, "%s::timestamptz"},
              {GPX_COL_OPENED_AT, "%s::timestamptz"},
              {GPX_COL_TRADE_ID, "%s::text"},
              {GPX_COL_ACCOUNT, "%s::text"},
              {GPX_COL_EXCHANGE, "%s::text"},
              {GPX_COL_STRATEGY, "%s::text"},
              {GPX_COL_SYMBOL, "%s::text"},
              {GPX_COL_SIDE, "%s::text"},
              {GPX_COL_QTY, "%s"},
              {GPX_COL_ENTRY_PRICE, "%s"},
              {GPX_COL_EXIT_PRICE, "%s"},
              {GPX_COL_FEES, "%s"},
              {GPX_COL_REALIZED_PNL, "%s"},
              {GPX_COL_EXPECTED_ENTRY_PRICE, "%s"},
              {GPX_COL_EXPECTED_EXIT_PRICE, "%s"}};
  GPX_RETURN_NOT_OK(gpx_sql_append(o, "SELECT "));
  for (size_t i = 0; i < sizeof cols / sizeof cols[0]; i++) {
    gpx_buf id = {0};
    int rc = gpx_pg_quote_ident(&id, s->columns[cols[i].c]);
    if (rc == GPX_OK) rc = gpx_buf_terminate(&id);
    if (rc == GPX_OK) rc = gpx_buf_printf(&o->text, cols[i].cast, (const char *)id.data);
    /* distinct aliases: ORDER BY "trade_id" must mean the table's column,
       not the text output column of the same name */
    if (rc == GPX_OK) rc = gpx_buf_printf(&o->text, " AS c%zu", i);
    gpx_buf_reset(&id);
    GPX_RETURN_NOT_OK(rc);
    if (i + 1 < sizeof cols / sizeof cols[0]) GPX_RETURN_NOT_OK(gpx_sql_append(o, ", "));
  }
  GPX_RETURN_NOT_OK(gpx__from_where(o, s, q, GPX_RANGE_IN));
  GPX_RETURN_NOT_OK(gpx_sql_append(o, " ORDER BY "));
  GPX_RETURN_NOT_OK(gpx__col(o, s, GPX_COL_CLOSED_AT));
  GPX_RETURN_NOT_OK(gpx_sql_append(o, " DESC, "));
  GPX_RETURN_NOT_OK(gpx__col(o, s, GPX_COL_TRADE_ID));
  GPX_RETURN_NOT_OK(gpx_sql_append(o, " DESC LIMIT "));
  return gpx__param_i64(o, limit + 1, "int8");
}

/* Distinct values of a column for editors and variables. */
int gpx_sql_distinct(gpx_sql *o, const gpx_ds_settings *s, gpx_col col, const char *substr, int limit) {
  gpx_sql_reset(o);
  GPX_RETURN_NOT_OK(gpx_sql_append(o, "SELECT DISTINCT "));
  GPX_RETURN_NOT_OK(gpx__col(o, s, col));
  GPX_RETURN_NOT_OK(gpx_sql_append(o, "::text AS v FROM "));
  GPX_RETURN_NOT_OK(gpx__table(o, s));
  GPX_RETURN_NOT_OK(gpx_sql_append(o, " WHERE "));
  GPX_RETURN_NOT_OK(gpx__col(o, s, col));
  GPX_RETURN_NOT_OK(gpx_sql_append(o, " IS NOT NULL"));
  if (substr && *substr) {
    /* strpos, not LIKE: the user's text is matched literally (no % or _). */
    GPX_RETURN_NOT_OK(gpx_sql_append(o, " AND strpos(lower("));
    GPX_RETURN_NOT_OK(gpx__col(o, s, col));
    GPX_RETURN_NOT_OK(gpx_sql_append(o, "::text), lower("));
    GPX_RETURN_NOT_OK(gpx_sql_param(o, substr, "text"));
    GPX_RETURN_NOT_OK(gpx_sql_append(o, ")) > 0"));
  }
  GPX_RETURN_NOT_OK(gpx_sql_append(o, " ORDER BY 1 LIMIT "));
  char b[16];
  snprintf(b, sizeof b, "%d", limit);
  return gpx_sql_param(o, b, "int8");
}

/* Trade count and time span, for CheckHealth. */
int gpx_sql_count_span(gpx_sql *o, const gpx_ds_settings *s) {
  gpx_sql_reset(o);
  GPX_RETURN_NOT_OK(gpx_sql_append(o, "SELECT count(*)::int8, min("));
  GPX_RETURN_NOT_OK(gpx__col(o, s, GPX_COL_CLOSED_AT));
  GPX_RETURN_NOT_OK(gpx_sql_append(o, ")::timestamptz::text, max("));
  GPX_RETURN_NOT_OK(gpx__col(o, s, GPX_COL_CLOSED_AT));
  GPX_RETURN_NOT_OK(gpx_sql_append(o, ")::timestamptz::text FROM "));
  return gpx__table(o, s);
}
