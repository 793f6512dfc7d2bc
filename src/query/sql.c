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
** Each statement over the trade table is described once, as a column
** table (gpx_stmt_def): the same table builds its SELECT list and GROUP BY
** here and reads its rows in the kind files (gpx_stmt_num & co., by the
** column's name in the statement's enum, never by a position).
*/
#include <stdio.h>
#include <stdlib.h>

#include "query_int.h"

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
  if (q->literal) {
    GPX_RETURN_NOT_OK(q->literal(q->literal_arg, &q->text, value));
    return cast ? gpx_buf_printf(&q->text, "::%s", cast) : GPX_OK;
  }
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

static int gpx__col(gpx_sql *q, const gpx_ds_settings *s, gpx_col c) { return gpx_sql_column(q, s, c, GPX_CX_VALUE); }

static int gpx__table(gpx_sql *q, const gpx_ds_settings *s) {
  if (s->schema[0]) {
    GPX_RETURN_NOT_OK(gpx__ident(q, s->schema));
    GPX_RETURN_NOT_OK(gpx_sql_append(q, "."));
  }
  return gpx__ident(q, s->table);
}

/* ---------------------------------------------------------- the mapping */

static int gpx__is_time(gpx_col c) { return c == GPX_COL_OPENED_AT || c == GPX_COL_CLOSED_AT; }

/* " / 1000" and the like: an epoch column in seconds */
static const char *gpx__epoch_to_s(gpx_col_as as) {
  switch (as) {
    case GPX_AS_EPOCH_MS: return " / 1000";
    case GPX_AS_EPOCH_US: return " / 1000000";
    case GPX_AS_EPOCH_NS: return " / 1000000000";
    default: return "";
  }
}

/* The SQL for logical column c (query-model.md, "Column mapping"). One
   place decides what a mapping means in SQL; every statement asks here
   instead of quoting a name. The costs stay where they were for the
   default layout: a plain column is its quoted name. */
int gpx_sql_column(gpx_sql *o, const gpx_ds_settings *s, gpx_col c, gpx_cx how) {
  const gpx_col_map *m = &s->columns[c];
  if (m->n == 0) /* absent: typed, so the statement keeps its shape */
    return gpx_sql_append(o, gpx__is_time(c) ? "NULL::timestamptz" : gpx_col_is_number(c) ? "NULL::float8" : "NULL::text");
  /* a real (float4) column is summed in real precision by Postgres */
  const char *widen = how == GPX_CX_VALUE && (o->widen & (UINT32_C(1) << c)) ? "::float8" : "";
  if (m->n > 1) {
    /* columns to add, a NULL counting as 0 (fee_open_cost + fee_close_cost) */
    GPX_RETURN_NOT_OK(gpx_sql_append(o, "("));
    for (int i = 0; i < m->n; i++) {
      GPX_RETURN_NOT_OK(gpx_sql_append(o, i ? " + coalesce(" : "coalesce("));
      GPX_RETURN_NOT_OK(gpx__ident(o, m->name[i]));
      GPX_RETURN_NOT_OK(gpx_buf_printf(&o->text, "%s, 0)", widen));
    }
    return gpx_sql_append(o, ")");
  }
  if (how != GPX_CX_VALUE) return gpx__ident(o, m->name[0]);
  if (*widen) {
    GPX_RETURN_NOT_OK(gpx__ident(o, m->name[0]));
    return gpx_sql_append(o, widen);
  }
  if (c == GPX_COL_SIDE) {
    /* long/short whatever the bot wrote; a boolean says is_short or is_long */
    if (m->as == GPX_AS_IS_SHORT || m->as == GPX_AS_IS_LONG) {
      const char *t = m->as == GPX_AS_IS_SHORT ? "short" : "long", *f = m->as == GPX_AS_IS_SHORT ? "long" : "short";
      GPX_RETURN_NOT_OK(gpx_sql_append(o, "CASE WHEN "));
      GPX_RETURN_NOT_OK(gpx__ident(o, m->name[0]));
      GPX_RETURN_NOT_OK(gpx_buf_printf(&o->text, " THEN '%s' WHEN NOT ", t));
      GPX_RETURN_NOT_OK(gpx__ident(o, m->name[0]));
      return gpx_buf_printf(&o->text, " THEN '%s' END", f);
    }
    GPX_RETURN_NOT_OK(gpx_sql_append(o, "CASE lower("));
    GPX_RETURN_NOT_OK(gpx__ident(o, m->name[0]));
    GPX_RETURN_NOT_OK(gpx_sql_append(o, "::text) WHEN 'buy' THEN 'long' WHEN 'sell' THEN 'short' ELSE lower("));
    GPX_RETURN_NOT_OK(gpx__ident(o, m->name[0]));
    return gpx_sql_append(o, "::text) END");
  }
  if (gpx__is_time(c) && m->as >= GPX_AS_EPOCH_S) {
    GPX_RETURN_NOT_OK(gpx_sql_append(o, "to_timestamp("));
    GPX_RETURN_NOT_OK(gpx__ident(o, m->name[0]));
    return gpx_buf_printf(&o->text, "::float8%s)", gpx__epoch_to_s(m->as));
  }
  return gpx__ident(o, m->name[0]);
}

static int64_t gpx__floor_div(int64_t a, int64_t b) { return a / b - (a % b != 0 && (a < 0) != (b < 0)); }

/* closed_at op <ms>, op ">" or "<=": the column as stored against a
   parameter converted here, so an index or a partition bound on it serves
   (never a function of the column). An epoch column in seconds against a
   bound inside a second: a bound one second wider on the column, then the
   exact one (col * 1000 vs ms) on the rows it keeps. */
static int gpx__time_bound(gpx_sql *o, const gpx_ds_settings *s, const char *op, int64_t ms) {
  const gpx_col_map *m = &s->columns[GPX_COL_CLOSED_AT];
  GPX_RETURN_NOT_OK(gpx_sql_column(o, s, GPX_COL_CLOSED_AT, GPX_CX_RAW));
  int gt = op[0] == '>';
  if (m->as < GPX_AS_EPOCH_S) {
    GPX_RETURN_NOT_OK(gpx_buf_printf(&o->text, " %s to_timestamp(", op));
    GPX_RETURN_NOT_OK(gpx__param_i64(o, ms, "float8"));
    return gpx_sql_append(o, " / 1000)");
  }
  int64_t v, mul = m->as == GPX_AS_EPOCH_US ? 1000 : m->as == GPX_AS_EPOCH_NS ? 1000000 : 1;
  if (m->as == GPX_AS_EPOCH_S) {
    v = gpx__floor_div(ms, 1000);
    if (!gt && v * 1000 != ms) v++; /* ceil */
  } else if (__builtin_mul_overflow(ms, mul, &v)) {
    v = (ms < 0) == gt ? INT64_MIN : INT64_MAX; /* beyond every value the column can hold */
  }
  GPX_RETURN_NOT_OK(gpx_buf_printf(&o->text, " %s ", op));
  GPX_RETURN_NOT_OK(gpx__param_i64(o, v, "int8"));
  if (m->as != GPX_AS_EPOCH_S || v * 1000 == ms) return GPX_OK;
  GPX_RETURN_NOT_OK(gpx_sql_append(o, " AND "));
  GPX_RETURN_NOT_OK(gpx_sql_column(o, s, GPX_COL_CLOSED_AT, GPX_CX_RAW));
  GPX_RETURN_NOT_OK(gpx_buf_printf(&o->text, " * 1000 %s ", op));
  return gpx__param_i64(o, ms, "int8");
}

/* FROM … WHERE <time filter> AND <list filters> AND <ad-hoc filters> */
static int gpx__from_where(gpx_sql *o, const gpx_ds_settings *s, const gpx_query *q, gpx_range r, int broken_pnl) {
  GPX_RETURN_NOT_OK(gpx_sql_append(o, " FROM "));
  GPX_RETURN_NOT_OK(gpx__table(o, s));
  GPX_RETURN_NOT_OK(gpx_sql_append(o, " WHERE "));
  if (r == GPX_RANGE_BEFORE || r == GPX_RANGE_UPTO) {
    /* Equity includes every trade before the range (trading-metrics.md §3). */
    GPX_RETURN_NOT_OK(gpx__time_bound(o, s, "<=", r == GPX_RANGE_UPTO ? q->to_ms : q->from_ms));
  } else {
    GPX_RETURN_NOT_OK(gpx__time_bound(o, s, ">", q->from_ms));
    GPX_RETURN_NOT_OK(gpx_sql_append(o, " AND "));
    GPX_RETURN_NOT_OK(gpx__time_bound(o, s, "<=", q->to_ms));
  }
  for (int i = 0; i < GPX_DIM_COUNT; i++) {
    if (q->filter[i] == NULL) continue;
    /* "(none)" in the list also selects the trades without a value */
    int none = (q->filter_none >> i) & 1;
    GPX_RETURN_NOT_OK(gpx_sql_append(o, none ? " AND (" : " AND "));
    GPX_RETURN_NOT_OK(gpx__col(o, s, gpx_dims[i].col));
    GPX_RETURN_NOT_OK(gpx_sql_append(o, "::text = ANY("));
    GPX_RETURN_NOT_OK(gpx_sql_param(o, q->filter[i], "text[]"));
    GPX_RETURN_NOT_OK(gpx_sql_append(o, ")"));
    if (none) {
      GPX_RETURN_NOT_OK(gpx_sql_append(o, " OR "));
      GPX_RETURN_NOT_OK(gpx__col(o, s, gpx_dims[i].col));
      GPX_RETURN_NOT_OK(gpx_sql_append(o, " IS NULL)"));
    }
  }
  GPX_RETURN_NOT_OK(gpx_adhoc_where(o, s, q));
  if (q->finite_only || broken_pnl) {
    /* x − x = 0 holds for every finite number and for no NaN or ±Infinity,
       in numeric (any version) and float columns alike; NULL is neither */
    GPX_RETURN_NOT_OK(gpx_sql_append(o, broken_pnl ? " AND (" : " AND "));
    GPX_RETURN_NOT_OK(gpx__col(o, s, GPX_COL_REALIZED_PNL));
    GPX_RETURN_NOT_OK(gpx_sql_append(o, " - "));
    GPX_RETURN_NOT_OK(gpx__col(o, s, GPX_COL_REALIZED_PNL));
    GPX_RETURN_NOT_OK(gpx_sql_append(o, broken_pnl ? " = 0) IS NOT TRUE" : " = 0"));
  }
  if (q->pnl_cap && !broken_pnl) {
    /* the large losses (annotations): P&L <= a float8 bound */
    char v[40];
    snprintf(v, sizeof v, "%.17g", q->pnl_max);
    GPX_RETURN_NOT_OK(gpx_sql_append(o, " AND "));
    GPX_RETURN_NOT_OK(gpx__col(o, s, GPX_COL_REALIZED_PNL));
    GPX_RETURN_NOT_OK(gpx_sql_append(o, " <= "));
    GPX_RETURN_NOT_OK(gpx_sql_param(o, v, "float8"));
  }
  return GPX_OK;
}

/* Bucket index of closed_at, right-closed like the C curve (analytics.md):
   (from + k·w, from + (k+1)·w] → k = ceil((t − from)/w) − 1, with w from
   the one bucket rule (gpx_bucket_width_ns), written in ms exactly.
   date_part is float8; extract() returns numeric since Postgres 14 and
   costs twice as much over a million rows. */
static int gpx__bucket_expr(gpx_sql *o, const gpx_ds_settings *s, const gpx_query *q, int64_t width_ns) {
  if (width_ns < 1) width_ns = 1;
  char w[48];
  if (width_ns % 1000000 == 0) snprintf(w, sizeof w, "%lld", (long long)(width_ns / 1000000));
  else snprintf(w, sizeof w, "%lld.%06lld", (long long)(width_ns / 1000000), (long long)(width_ns % 1000000));
  const gpx_col_map *m = &s->columns[GPX_COL_CLOSED_AT];
  if (m->as >= GPX_AS_EPOCH_S) {
    /* the stored number in ms, no timestamp made */
    GPX_RETURN_NOT_OK(gpx_sql_append(o, "(ceil(("));
    GPX_RETURN_NOT_OK(gpx_sql_column(o, s, GPX_COL_CLOSED_AT, GPX_CX_RAW));
    GPX_RETURN_NOT_OK(gpx_sql_append(o, m->as == GPX_AS_EPOCH_S ? "::float8 * 1000 - "
                                        : m->as == GPX_AS_EPOCH_MS ? "::float8 - "
                                        : m->as == GPX_AS_EPOCH_US ? "::float8 / 1000 - "
                                                                   : "::float8 / 1000000 - "));
  } else {
    GPX_RETURN_NOT_OK(gpx_sql_append(o, "(ceil((date_part('epoch', "));
    GPX_RETURN_NOT_OK(gpx__col(o, s, GPX_COL_CLOSED_AT));
    GPX_RETURN_NOT_OK(gpx_sql_append(o, ") * 1000 - "));
  }
  GPX_RETURN_NOT_OK(gpx__param_i64(o, q->from_ms, "float8"));
  GPX_RETURN_NOT_OK(gpx_sql_append(o, ") / "));
  GPX_RETURN_NOT_OK(gpx_sql_param(o, w, "float8"));
  return gpx_sql_append(o, ")::int8 - 1)");
}

static int gpx__day_expr(gpx_sql *o, const gpx_ds_settings *s, const gpx_query *q) {
  GPX_RETURN_NOT_OK(gpx_sql_append(o, "((timezone("));
  GPX_RETURN_NOT_OK(gpx_sql_param(o, q->a.timezone, "text"));
  GPX_RETURN_NOT_OK(gpx_sql_append(o, ", "));
  GPX_RETURN_NOT_OK(gpx__col(o, s, GPX_COL_CLOSED_AT));
  return gpx_sql_append(o, "::timestamptz))::date - DATE '1970-01-01')");
}

static int gpx__expr(gpx_sql *o, const gpx_sql_col *c, const gpx_ds_settings *s, const gpx_query *q,
                     int64_t width_ns, uint32_t omit) {
  switch (c->expr) {
    case GPX_EXPR_COL:
      if (c->col < GPX_COL_COUNT && (omit & (UINT32_C(1) << c->col)))
        /* typed, so the column keeps its shape; a number reads as NULL */
        return gpx_sql_append(o, c->cast ? "NULL" : "NULL::float8");
      return gpx_sql_column(o, s, c->col, c->stored ? GPX_CX_STORED : GPX_CX_VALUE);
    case GPX_EXPR_MAX:
      if (gpx_col_epoch(s, c->col)) {
        /* the latest stored number, made a time once per group */
        GPX_RETURN_NOT_OK(gpx_sql_append(o, "to_timestamp(max("));
        GPX_RETURN_NOT_OK(gpx_sql_column(o, s, c->col, GPX_CX_RAW));
        return gpx_buf_printf(&o->text, ")::float8%s)", gpx__epoch_to_s(s->columns[c->col].as));
      }
      /* fall through */
    case GPX_EXPR_SUM:
      GPX_RETURN_NOT_OK(gpx_sql_append(o, c->expr == GPX_EXPR_SUM ? "sum(" : "max("));
      GPX_RETURN_NOT_OK(gpx__col(o, s, c->col));
      return gpx_sql_append(o, ")");
    case GPX_EXPR_COUNT: return gpx_sql_append(o, "count(*)");
    case GPX_EXPR_MIN_TEXT:
      GPX_RETURN_NOT_OK(gpx_sql_append(o, "min("));
      GPX_RETURN_NOT_OK(gpx__col(o, s, c->col));
      return gpx_sql_append(o, ")::text"); /* the column's own order: 9 before 10 */
    case GPX_EXPR_COUNT_POS:
    case GPX_EXPR_COUNT_NEG:
    case GPX_EXPR_SUM_POS:
    case GPX_EXPR_SUM_NEG: {
      int count = c->expr == GPX_EXPR_COUNT_POS || c->expr == GPX_EXPR_COUNT_NEG;
      int pos = c->expr == GPX_EXPR_COUNT_POS || c->expr == GPX_EXPR_SUM_POS;
      if (count) GPX_RETURN_NOT_OK(gpx_sql_append(o, "count(*)"));
      else {
        GPX_RETURN_NOT_OK(gpx_sql_append(o, "sum("));
        GPX_RETURN_NOT_OK(gpx__col(o, s, c->col));
        GPX_RETURN_NOT_OK(gpx_sql_append(o, ")"));
      }
      GPX_RETURN_NOT_OK(gpx_sql_append(o, " FILTER (WHERE "));
      GPX_RETURN_NOT_OK(gpx__col(o, s, c->col));
      return gpx_sql_append(o, pos ? " > 0)" : " < 0)");
    }
    case GPX_EXPR_BUCKET: return gpx__bucket_expr(o, s, q, width_ns);
    case GPX_EXPR_DAY: return gpx__day_expr(o, s, q);
    case GPX_EXPR_NOTIONAL:
      GPX_RETURN_NOT_OK(gpx_sql_append(o, "sum("));
      GPX_RETURN_NOT_OK(gpx__col(o, s, c->col));
      GPX_RETURN_NOT_OK(gpx_sql_append(o, " * abs("));
      GPX_RETURN_NOT_OK(gpx__col(o, s, GPX_COL_QTY));
      GPX_RETURN_NOT_OK(gpx_sql_append(o, "))"));
      if (c->filter == GPX_COL_COUNT) return GPX_OK;
      GPX_RETURN_NOT_OK(gpx_sql_append(o, " FILTER (WHERE "));
      GPX_RETURN_NOT_OK(gpx__col(o, s, c->filter));
      return gpx_sql_append(o, " IS NOT NULL)");
  }
  return EINVAL;
}

static int gpx__is_key(const gpx_sql_col *c) {
  return c->expr == GPX_EXPR_COL || c->expr == GPX_EXPR_BUCKET || c->expr == GPX_EXPR_DAY;
}

static int gpx__build(gpx_stmt *st, const gpx_stmt_def *def, const gpx_ds_settings *s, const gpx_query *q,
                      int64_t width_ns, int64_t limit, uint32_t omit) {
  st->def = def;
  gpx_sql *o = &st->sql;
  o->widen = q->widen;
  int grouped = def->grouped && q->group_by != GPX_GROUP_NONE;
  st->first = grouped ? 1 : 0;
  GPX_RETURN_NOT_OK(gpx_sql_append(o, "SELECT "));
  if (grouped) {
    GPX_RETURN_NOT_OK(gpx__col(o, s, gpx_group_col(q->group_by)));
    GPX_RETURN_NOT_OK(gpx_sql_append(o, "::text AS g, "));
  }
  int aggregate = 0;
  for (int i = 0; i < def->ncols; i++) {
    const gpx_sql_col *c = &def->cols[i];
    aggregate |= !gpx__is_key(c);
    if (i) GPX_RETURN_NOT_OK(gpx_sql_append(o, ", "));
    GPX_RETURN_NOT_OK(gpx__expr(o, c, s, q, width_ns, omit));
    if (c->cast) GPX_RETURN_NOT_OK(gpx_buf_printf(&o->text, "::%s", c->cast));
    /* distinct aliases: ORDER BY "trade_id" must mean the table's column,
       not a text output column of the same name */
    GPX_RETURN_NOT_OK(gpx_buf_printf(&o->text, " AS %s", c->as));
  }
  GPX_RETURN_NOT_OK(gpx__from_where(o, s, q, def->range, def->broken_pnl));
  if (aggregate) {
    /* GROUP BY without ORDER BY, on purpose: Postgres cannot estimate how
       many buckets or days an expression yields, assumes one per row, and
       with an ORDER BY picks Sort + GroupAggregate — sorting a million rows
       to produce a thousand (measured 650 ms vs 350 ms with HashAggregate).
       The few result rows are ordered in C (gpx_groups_order). */
    int keys = 0;
    if (grouped) GPX_RETURN_NOT_OK(gpx_sql_append(o, keys++ ? ", g" : " GROUP BY g"));
    for (int i = 0; i < def->ncols; i++) {
      if (!gpx__is_key(&def->cols[i])) continue;
      GPX_RETURN_NOT_OK(gpx_sql_append(o, keys++ ? ", " : " GROUP BY "));
      GPX_RETURN_NOT_OK(gpx_sql_append(o, def->cols[i].as));
    }
  }
  switch (def->order) {
    case GPX_ORDER_NONE: break;
    case GPX_ORDER_TIME:
    case GPX_ORDER_TIME_ALL:
      GPX_RETURN_NOT_OK(gpx_sql_append(o, grouped && def->order == GPX_ORDER_TIME ? " ORDER BY g, " : " ORDER BY "));
      GPX_RETURN_NOT_OK(gpx_sql_column(o, s, GPX_COL_CLOSED_AT, GPX_CX_RAW));
      if (gpx_col_present(s, GPX_COL_TRADE_ID)) { /* without trade ids: by closed_at alone */
        GPX_RETURN_NOT_OK(gpx_sql_append(o, ", "));
        GPX_RETURN_NOT_OK(gpx_sql_column(o, s, GPX_COL_TRADE_ID, GPX_CX_RAW));
      }
      break;
    case GPX_ORDER_NEWEST_LIMIT:
    case GPX_ORDER_NEWEST_FIRST:
      /* one row more than the limit tells the reader it was cut */
      GPX_RETURN_NOT_OK(gpx_sql_append(o, " ORDER BY "));
      GPX_RETURN_NOT_OK(gpx_sql_column(o, s, GPX_COL_CLOSED_AT, GPX_CX_RAW));
      GPX_RETURN_NOT_OK(gpx_sql_append(o, " DESC"));
      if (def->order == GPX_ORDER_NEWEST_LIMIT && gpx_col_present(s, GPX_COL_TRADE_ID)) {
        GPX_RETURN_NOT_OK(gpx_sql_append(o, ", "));
        GPX_RETURN_NOT_OK(gpx_sql_column(o, s, GPX_COL_TRADE_ID, GPX_CX_RAW));
        GPX_RETURN_NOT_OK(gpx_sql_append(o, " DESC"));
      }
      GPX_RETURN_NOT_OK(gpx_sql_append(o, " LIMIT "));
      GPX_RETURN_NOT_OK(gpx__param_i64(o, limit + 1, "int8"));
      break;
  }
  return GPX_OK;
}

int gpx_stmt_build(gpx_stmt *st, const gpx_stmt_def *def, const gpx_ds_settings *s, const gpx_query *q,
                   int64_t width_ns, int64_t limit) {
  gpx_stmt_reset(st);
  return gpx__build(st, def, s, q, width_ns, limit, 0);
}

static int gpx__literal(void *arg, gpx_buf *out, const char *value) {
  return gpx_pg_literal((gpx_pg_session *)arg, out, value);
}

int gpx_stmt_build_copy(gpx_stmt *st, const gpx_stmt_def *def, const gpx_ds_settings *s, const gpx_query *q,
                        uint32_t omit, gpx_pg_session *sess) {
  gpx_stmt_reset(st);
  st->sql.literal = gpx__literal;
  st->sql.literal_arg = sess;
  return gpx__build(st, def, s, q, 0, 0, omit | q->missing);
}

void gpx_stmt_reset(gpx_stmt *st) {
  gpx_sql_reset(&st->sql);
  st->def = NULL;
  st->first = 0;
}

/* ------------------------------------------------------------ the statements */

#define NOCOL GPX_COL_COUNT

/* Σ p of matching trades up to the range start, per group. */
static const gpx_sql_col gpx__base_cols[GPX_BASE_NCOLS] = {
    [GPX_BASE_PNL] = {GPX_EXPR_SUM, GPX_COL_REALIZED_PNL, NOCOL, "float8", "pnl", GPX_DEC_F8},
};
const gpx_stmt_def gpx_stmt_base = {"base", gpx__base_cols, GPX_BASE_NCOLS, GPX_RANGE_BEFORE, GPX_ORDER_NONE, 1, 0};

/* Per bucket: last closed_at, Σ p, count. Equity/P&L/returns take the last
   value of each bucket, which is exactly base + the running sum of bucket
   sums — so only one row per bucket crosses the wire. */
static const gpx_sql_col gpx__bucket_cols[GPX_BK_NCOLS] = {
    [GPX_BK_B] = {GPX_EXPR_BUCKET, GPX_COL_CLOSED_AT, NOCOL, NULL, "b", GPX_DEC_I8},
    [GPX_BK_TS] = {GPX_EXPR_MAX, GPX_COL_CLOSED_AT, NOCOL, "timestamptz", "ts", GPX_DEC_TIME},
    [GPX_BK_PNL] = {GPX_EXPR_SUM, GPX_COL_REALIZED_PNL, NOCOL, "float8", "pnl", GPX_DEC_F8},
    [GPX_BK_N] = {GPX_EXPR_COUNT, NOCOL, NOCOL, "int8", "n", GPX_DEC_I8},
};
const gpx_stmt_def gpx_stmt_buckets = {"buckets", gpx__bucket_cols, GPX_BK_NCOLS, GPX_RANGE_IN, GPX_ORDER_NONE, 1, 0};

/* Every trade in the range, ordered, for the per-trade curve. realized_pnl
   as it is: numeric's binary form is decoded in C (gpx_pg_get_number), a
   million server-side casts cost more. */
static const gpx_sql_col gpx__stream_cols[GPX_TS_NCOLS] = {
    [GPX_TS_TS] = {GPX_EXPR_COL, GPX_COL_CLOSED_AT, NOCOL, "timestamptz", "ts", GPX_DEC_TIME},
    [GPX_TS_PNL] = {GPX_EXPR_COL, GPX_COL_REALIZED_PNL, NOCOL, NULL, "pnl", GPX_DEC_NUMBER},
};
const gpx_stmt_def gpx_stmt_trade_stream = {"trade stream", gpx__stream_cols, GPX_TS_NCOLS, GPX_RANGE_IN,
                                            GPX_ORDER_TIME, 1, 0};

/* Σ p and count per local calendar day (ordinal since 1970-01-01) in tz.
   The daily-trades statement reads the same table through its last column:
   the day's wins and losses too, for win rate and profit factor over days
   (rolling). Zero-P&L trades are in n and in neither. */
static const gpx_sql_col gpx__daily_cols[GPX_DYT_NCOLS] = {
    [GPX_DY_DAY] = {GPX_EXPR_DAY, GPX_COL_CLOSED_AT, NOCOL, "int4", "d", GPX_DEC_I4},
    [GPX_DY_PNL] = {GPX_EXPR_SUM, GPX_COL_REALIZED_PNL, NOCOL, "float8", "pnl", GPX_DEC_F8},
    [GPX_DY_N] = {GPX_EXPR_COUNT, NOCOL, NOCOL, "int8", "n", GPX_DEC_I8},
    [GPX_DY_WINS] = {GPX_EXPR_COUNT_POS, GPX_COL_REALIZED_PNL, NOCOL, "int8", "nw", GPX_DEC_I8},
    [GPX_DY_LOSSES] = {GPX_EXPR_COUNT_NEG, GPX_COL_REALIZED_PNL, NOCOL, "int8", "nl", GPX_DEC_I8},
    [GPX_DY_SUM_WIN] = {GPX_EXPR_SUM_POS, GPX_COL_REALIZED_PNL, NOCOL, "float8", "sw", GPX_DEC_F8},
    [GPX_DY_SUM_LOSS] = {GPX_EXPR_SUM_NEG, GPX_COL_REALIZED_PNL, NOCOL, "float8", "sl", GPX_DEC_F8},
};
const gpx_stmt_def gpx_stmt_daily = {"daily", gpx__daily_cols, GPX_DY_NCOLS, GPX_RANGE_IN, GPX_ORDER_NONE, 1, 0};
const gpx_stmt_def gpx_stmt_daily_trades = {"daily trades", gpx__daily_cols, GPX_DYT_NCOLS, GPX_RANGE_IN,
                                            GPX_ORDER_NONE, 1, 0};

/* Slippage per bucket and side as exact numeric sums (trading-metrics.md
   §3): Σ fill·qty and Σ expected·qty over the entry legs that have an
   expected price, the same for exits. gpx_slippage_add_sums turns them into
   notional-weighted bps in C. No per-row casts: numeric→float8 goes through
   text in Postgres and costs more than the multiplications. */
static const gpx_sql_col gpx__slippage_cols[GPX_SL_NCOLS] = {
    [GPX_SL_B] = {GPX_EXPR_BUCKET, GPX_COL_CLOSED_AT, NOCOL, NULL, "b", GPX_DEC_I8},
    /* grouped as stored, normalised in C (load.c): a CASE per row costs on a million trades */
    [GPX_SL_SIDE] = {GPX_EXPR_COL, GPX_COL_SIDE, NOCOL, "text", "sd", GPX_DEC_TEXT, 1},
    [GPX_SL_TS] = {GPX_EXPR_MAX, GPX_COL_CLOSED_AT, NOCOL, "timestamptz", "ts", GPX_DEC_TIME},
    [GPX_SL_FILL_ENTRY] = {GPX_EXPR_NOTIONAL, GPX_COL_ENTRY_PRICE, GPX_COL_EXPECTED_ENTRY_PRICE, "float8", "fe",
                           GPX_DEC_F8},
    [GPX_SL_EXP_ENTRY] = {GPX_EXPR_NOTIONAL, GPX_COL_EXPECTED_ENTRY_PRICE, NOCOL, "float8", "ee", GPX_DEC_F8},
    [GPX_SL_FILL_EXIT] = {GPX_EXPR_NOTIONAL, GPX_COL_EXIT_PRICE, GPX_COL_EXPECTED_EXIT_PRICE, "float8", "fx",
                          GPX_DEC_F8},
    [GPX_SL_EXP_EXIT] = {GPX_EXPR_NOTIONAL, GPX_COL_EXPECTED_EXIT_PRICE, NOCOL, "float8", "ex", GPX_DEC_F8},
    [GPX_SL_N] = {GPX_EXPR_COUNT, NOCOL, NOCOL, "int8", "n", GPX_DEC_I8},
};
const gpx_stmt_def gpx_stmt_slippage = {"slippage", gpx__slippage_cols, GPX_SL_NCOLS, GPX_RANGE_IN, GPX_ORDER_NONE,
                                        1, 0};

/* The one-pass stats read (stream.c): every trade of the range in
   (closed_at, trade_id) order with what the per-trade numbers need —
   drawdown, streaks, daily sums, holding times, exposure, long/short. Only
   opened_at and side beyond the drawdown stream's columns: measured on 1 M
   trades, adding the five numeric leg columns to this read cost more than
   reading them a second time, unordered, on another session at once.
   Grouped, the groups come interleaved (TIME_ALL): each group's own trades
   are still in order, and no sort by group is needed (on 50 groups the
   sort cost more than the read). */
static const gpx_sql_col gpx__stats_stream_cols[GPX_SS_NCOLS] = {
    [GPX_SS_TS] = {GPX_EXPR_COL, GPX_COL_CLOSED_AT, NOCOL, "timestamptz", "ts", GPX_DEC_TIME},
    [GPX_SS_PNL] = {GPX_EXPR_COL, GPX_COL_REALIZED_PNL, NOCOL, NULL, "pnl", GPX_DEC_NUMBER},
    [GPX_SS_OPENED] = {GPX_EXPR_COL, GPX_COL_OPENED_AT, NOCOL, "timestamptz", "opened", GPX_DEC_TIME},
    /* side as stored (text or boolean as text), made long/short in C (stream.c) */
    [GPX_SS_SIDE] = {GPX_EXPR_COL, GPX_COL_SIDE, NOCOL, "text", "sd", GPX_DEC_TEXT, 1},
};
const gpx_stmt_def gpx_stmt_stats_stream = {"stats stream", gpx__stats_stream_cols, GPX_SS_NCOLS, GPX_RANGE_IN,
                                            GPX_ORDER_TIME_ALL, 1, 0};

/* The leg columns, in any order: slippage, volume and fees are sums, and
   their products are cheaper in C than in numeric (1 M trades: 0.72 s of
   backend CPU as numeric products and sums, 0.51 s to send the columns). */
static const gpx_sql_col gpx__legs_cols[GPX_LG_NCOLS] = {
    [GPX_LG_SIDE] = {GPX_EXPR_COL, GPX_COL_SIDE, NOCOL, "text", "sd", GPX_DEC_TEXT, 1},
    [GPX_LG_QTY] = {GPX_EXPR_COL, GPX_COL_QTY, NOCOL, NULL, "q", GPX_DEC_NUMBER},
    [GPX_LG_ENTRY] = {GPX_EXPR_COL, GPX_COL_ENTRY_PRICE, NOCOL, NULL, "fe", GPX_DEC_NUMBER},
    [GPX_LG_EXIT] = {GPX_EXPR_COL, GPX_COL_EXIT_PRICE, NOCOL, NULL, "fx", GPX_DEC_NUMBER},
    [GPX_LG_EXP_ENTRY] = {GPX_EXPR_COL, GPX_COL_EXPECTED_ENTRY_PRICE, NOCOL, NULL, "ee", GPX_DEC_NUMBER},
    [GPX_LG_EXP_EXIT] = {GPX_EXPR_COL, GPX_COL_EXPECTED_EXIT_PRICE, NOCOL, NULL, "ex", GPX_DEC_NUMBER},
    [GPX_LG_FEES] = {GPX_EXPR_COL, GPX_COL_FEES, NOCOL, NULL, "fee", GPX_DEC_NUMBER},
};
const gpx_stmt_def gpx_stmt_stats_legs = {"stats legs", gpx__legs_cols, GPX_LG_NCOLS, GPX_RANGE_IN, GPX_ORDER_NONE, 1,
                                          0};

/* Newest first, LIMIT n+1. Read in binary and number columns uncast
   (gpx_pg_get_number decodes numeric): no float/text formatting on either
   side. */
static const gpx_sql_col gpx__trade_cols[GPX_TR_NCOLS] = {
    [GPX_TR_CLOSED_AT] = {GPX_EXPR_COL, GPX_COL_CLOSED_AT, NOCOL, "timestamptz", "c_closed_at", GPX_DEC_TIME},
    [GPX_TR_OPENED_AT] = {GPX_EXPR_COL, GPX_COL_OPENED_AT, NOCOL, "timestamptz", "c_opened_at", GPX_DEC_TIME},
    [GPX_TR_TRADE_ID] = {GPX_EXPR_COL, GPX_COL_TRADE_ID, NOCOL, "text", "c_trade_id", GPX_DEC_TEXT},
    [GPX_TR_ACCOUNT] = {GPX_EXPR_COL, GPX_COL_ACCOUNT, NOCOL, "text", "c_account", GPX_DEC_TEXT},
    [GPX_TR_EXCHANGE] = {GPX_EXPR_COL, GPX_COL_EXCHANGE, NOCOL, "text", "c_exchange", GPX_DEC_TEXT},
    [GPX_TR_STRATEGY] = {GPX_EXPR_COL, GPX_COL_STRATEGY, NOCOL, "text", "c_strategy", GPX_DEC_TEXT},
    [GPX_TR_SYMBOL] = {GPX_EXPR_COL, GPX_COL_SYMBOL, NOCOL, "text", "c_symbol", GPX_DEC_TEXT},
    [GPX_TR_SIDE] = {GPX_EXPR_COL, GPX_COL_SIDE, NOCOL, "text", "c_side", GPX_DEC_TEXT},
    [GPX_TR_QTY] = {GPX_EXPR_COL, GPX_COL_QTY, NOCOL, NULL, "c_qty", GPX_DEC_NUMBER},
    [GPX_TR_ENTRY] = {GPX_EXPR_COL, GPX_COL_ENTRY_PRICE, NOCOL, NULL, "c_entry_price", GPX_DEC_NUMBER},
    [GPX_TR_EXIT] = {GPX_EXPR_COL, GPX_COL_EXIT_PRICE, NOCOL, NULL, "c_exit_price", GPX_DEC_NUMBER},
    [GPX_TR_FEES] = {GPX_EXPR_COL, GPX_COL_FEES, NOCOL, NULL, "c_fees", GPX_DEC_NUMBER},
    [GPX_TR_PNL] = {GPX_EXPR_COL, GPX_COL_REALIZED_PNL, NOCOL, NULL, "c_realized_pnl", GPX_DEC_NUMBER},
    [GPX_TR_EXP_ENTRY] = {GPX_EXPR_COL, GPX_COL_EXPECTED_ENTRY_PRICE, NOCOL, NULL, "c_expected_entry_price",
                          GPX_DEC_NUMBER},
    [GPX_TR_EXP_EXIT] = {GPX_EXPR_COL, GPX_COL_EXPECTED_EXIT_PRICE, NOCOL, NULL, "c_expected_exit_price",
                         GPX_DEC_NUMBER},
};
const gpx_stmt_def gpx_stmt_trades = {"trades", gpx__trade_cols, GPX_TR_NCOLS, GPX_RANGE_IN, GPX_ORDER_NEWEST_LIMIT,
                                      0, 0};
/* The same rows by closed_at alone: a backward scan of any closed_at index
   and no sort at all. With (closed_at, trade_id) Postgres reaches for the
   closed_at index plus an Incremental Sort (~0.35 ms for 1,001 rows) even
   where a (closed_at, trade_id) index gives that order directly — the two
   estimates are a hair apart. kind_trades.c runs this first and keeps its
   answer when no two closed_at tie (else it runs gpx_stmt_trades). */
const gpx_stmt_def gpx_stmt_trades_fast = {"trades", gpx__trade_cols, GPX_TR_NCOLS, GPX_RANGE_IN,
                                           GPX_ORDER_NEWEST_FIRST, 0, 0};

/* Trades up to the range end whose P&L is not a finite number: how many,
   and the first trade id (for the notice). Only run when a sum or the
   curve met one, so it costs nothing on a clean table. */
static const gpx_sql_col gpx__bad_cols[GPX_BAD_NCOLS] = {
    [GPX_BAD_N] = {GPX_EXPR_COUNT, NOCOL, NOCOL, "int8", "n", GPX_DEC_I8},
    [GPX_BAD_FIRST_ID] = {GPX_EXPR_MIN_TEXT, GPX_COL_TRADE_ID, NOCOL, NULL, "first_id", GPX_DEC_TEXT},
};
const gpx_stmt_def gpx_stmt_bad_pnl = {"non-finite P&L", gpx__bad_cols, GPX_BAD_NCOLS, GPX_RANGE_UPTO, GPX_ORDER_NONE,
                                       0, 1};

/* The table's columns, by name. */
const gpx_sql_col gpx_att_cols[GPX_ATT_NCOLS] = {
    [GPX_ATT_NAME] = {GPX_EXPR_COL, NOCOL, NOCOL, "text", "name", GPX_DEC_TEXT},
};
static const gpx_stmt_def gpx__att_def = {"table columns", gpx_att_cols, GPX_ATT_NCOLS, GPX_RANGE_IN, GPX_ORDER_NONE,
                                          0, 0};

int gpx_sql_table_columns(gpx_stmt *st, const gpx_ds_settings *s) {
  gpx_stmt_reset(st);
  st->def = &gpx__att_def;
  gpx_sql *o = &st->sql;
  gpx_buf name = {0};
  int rc = gpx_sql_table_name(&name, s); /* "schema"."table", as regclass reads it */
  if (rc == GPX_OK) rc = gpx_sql_append(o, "SELECT attname::text AS name FROM pg_catalog.pg_attribute WHERE attrelid = ");
  if (rc == GPX_OK) rc = gpx_sql_param(o, (const char *)name.data, "regclass");
  if (rc == GPX_OK) rc = gpx_sql_append(o, " AND attnum > 0 AND NOT attisdropped");
  gpx_buf_reset(&name);
  return rc;
}

/* The range's first/last local day, today, and each day's start instant:
   the first instant whose local date is that day. Local midnight is usually
   it; where clocks fall back across midnight (America/Havana: 01:00 → 00:00)
   midnight happens twice and Postgres reads it as the later one, so the
   earlier reading (midnight in the offset of a day before) is taken when it
   still lies in that day. A midnight skipped by clocks going forward reads
   as the first instant after the gap, which is right. The one-pass stats
   read assigns trades to days by these instants. */
const gpx_sql_col gpx_days_cols[GPX_DAYS_NCOLS] = {
    [GPX_DAYS_DAY] = {GPX_EXPR_COL, NOCOL, NOCOL, "int4", "d", GPX_DEC_I4},
    [GPX_DAYS_TODAY] = {GPX_EXPR_COL, NOCOL, NOCOL, "int4", "t", GPX_DEC_I4},
    [GPX_DAYS_START_MS] = {GPX_EXPR_COL, NOCOL, NOCOL, "int8", "start_ms", GPX_DEC_I8},
};
static const gpx_stmt_def gpx__days_def = {"days", gpx_days_cols, GPX_DAYS_NCOLS, GPX_RANGE_IN, GPX_ORDER_NONE, 0, 0};

int gpx_sql_days(gpx_stmt *st, const gpx_query *q) {
  gpx_stmt_reset(st);
  st->def = &gpx__days_def;
  gpx_sql *o = &st->sql;
  /* $1 tz, $2 from, $3 to */
  GPX_RETURN_NOT_OK(gpx_sql_append(o, "WITH r AS (SELECT (timezone("));
  GPX_RETURN_NOT_OK(gpx_sql_param(o, q->a.timezone, "text"));
  GPX_RETURN_NOT_OK(gpx_sql_append(o, ", to_timestamp("));
  GPX_RETURN_NOT_OK(gpx__param_i64(o, q->from_ms, "float8"));
  GPX_RETURN_NOT_OK(gpx_sql_append(o, " / 1000))::date - DATE '1970-01-01')::int4 AS f, (timezone($1::text, to_timestamp("));
  GPX_RETURN_NOT_OK(gpx__param_i64(o, q->to_ms, "float8"));
  GPX_RETURN_NOT_OK(gpx_sql_append(o,
      " / 1000))::date - DATE '1970-01-01')::int4 AS l, (timezone($1::text, now())::date - DATE '1970-01-01')::int4 AS t)"
      " SELECT d::int4 AS d, r.t AS t,"
      " (extract(epoch FROM CASE WHEN x.e < x.c AND timezone($1::text, x.e)::date = DATE '1970-01-01' + d"
      " THEN x.e ELSE x.c END) * 1000)::int8 AS start_ms"
      " FROM r, generate_series(r.f, GREATEST(r.f, LEAST(r.l, r.f + 200000))) AS d,"
      " LATERAL (SELECT y.c, y.c - ((timezone($1::text, y.c - interval '1 day') - timezone('UTC', y.c - interval '1 day'))"
      " - (timezone($1::text, y.c) - timezone('UTC', y.c))) AS e"
      " FROM (SELECT timezone($1::text, (DATE '1970-01-01' + d)::timestamp) AS c) AS y) AS x ORDER BY d"));
  return GPX_OK;
}

/* Local midnights of given days (the start of a calendar period that lies
   before the range, which the days statement does not cover), computed
   exactly as the days statement computes each day's start. */
const gpx_sql_col gpx_midnight_cols[GPX_MN_NCOLS] = {
    [GPX_MN_DAY] = {GPX_EXPR_COL, NOCOL, NOCOL, "int4", "d", GPX_DEC_I4},
    [GPX_MN_START_MS] = {GPX_EXPR_COL, NOCOL, NOCOL, "int8", "start_ms", GPX_DEC_I8},
};
static const gpx_stmt_def gpx__midnight_def = {"local midnights", gpx_midnight_cols, GPX_MN_NCOLS, GPX_RANGE_IN,
                                               GPX_ORDER_NONE, 0, 0};

int gpx_sql_midnights(gpx_stmt *st, const gpx_query *q, const int32_t *days, size_t n) {
  gpx_stmt_reset(st);
  st->def = &gpx__midnight_def;
  gpx_buf list = {0};
  int rc = gpx_buf_append(&list, "{", 1);
  for (size_t i = 0; i < n && rc == GPX_OK; i++) rc = gpx_buf_printf(&list, "%s%d", i ? "," : "", (int)days[i]);
  if (rc == GPX_OK) rc = gpx_buf_append(&list, "}", 1);
  if (rc == GPX_OK) rc = gpx_buf_terminate(&list);
  gpx_sql *o = &st->sql;
  /* $1 tz, $2 the days */
  if (rc == GPX_OK)
    rc = gpx_sql_append(o, "SELECT d::int4 AS d, (extract(epoch FROM timezone(");
  if (rc == GPX_OK) rc = gpx_sql_param(o, q->a.timezone, "text");
  if (rc == GPX_OK) rc = gpx_sql_append(o, ", (DATE '1970-01-01' + d)::timestamp)) * 1000)::int8 AS start_ms FROM unnest(");
  if (rc == GPX_OK) rc = gpx_sql_param(o, (const char *)list.data, "int4[]");
  if (rc == GPX_OK) rc = gpx_sql_append(o, ") AS d ORDER BY d");
  gpx_buf_reset(&list);
  return rc;
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
  /* values of closed trades only: a bot's open trades count nowhere */
  GPX_RETURN_NOT_OK(gpx_sql_append(o, " IS NOT NULL AND "));
  GPX_RETURN_NOT_OK(gpx_sql_column(o, s, GPX_COL_CLOSED_AT, GPX_CX_RAW));
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
  return gpx__param_i64(o, limit, "int8");
}

/* Count and time span of the closed trades, for CheckHealth: a bot's
   still-open trades (closed_at NULL) are no trades to any query. The span
   comes from the closed_at index; the count is exact up to 200,000 rows
   and Postgres' estimate (pg_class.reltuples, kept by ANALYZE) beyond, so
   Save & test stays light on a table of tens of millions. The estimate is
   the sum over the table and everything below it in pg_inherits (the
   partitions of a partitioned table, at any depth, or inheritance
   children) of the relations that hold rows: a partitioned parent's own
   reltuples is -1 until someone ANALYZEs the parent by hand (autovacuum
   analyzes only the partitions), and would be counted twice. A partition
   never analyzed (-1) adds nothing. $1 = the quoted table name. The last
   column says whether the count is estimated. */
/* " (SELECT <agg> FROM <table> WHERE closed_at IS NOT NULL)" */
static int gpx__closed_subquery(gpx_sql *o, const gpx_ds_settings *s, const char *agg_open, const char *agg_close) {
  GPX_RETURN_NOT_OK(gpx_sql_append(o, "(SELECT "));
  /* min/max of the stored column (its index answers), made a time after */
  int epoch = agg_close && gpx_col_epoch(s, GPX_COL_CLOSED_AT);
  if (epoch) GPX_RETURN_NOT_OK(gpx_sql_append(o, "to_timestamp("));
  GPX_RETURN_NOT_OK(gpx_sql_append(o, agg_open));
  if (agg_close) {
    GPX_RETURN_NOT_OK(gpx_sql_column(o, s, GPX_COL_CLOSED_AT, GPX_CX_RAW));
    GPX_RETURN_NOT_OK(gpx_sql_append(o, agg_close));
    if (epoch) GPX_RETURN_NOT_OK(gpx_buf_printf(&o->text, "::float8%s)", gpx__epoch_to_s(s->columns[GPX_COL_CLOSED_AT].as)));
  }
  GPX_RETURN_NOT_OK(gpx_sql_append(o, " FROM "));
  GPX_RETURN_NOT_OK(gpx__table(o, s));
  GPX_RETURN_NOT_OK(gpx_sql_append(o, " WHERE "));
  GPX_RETURN_NOT_OK(gpx_sql_column(o, s, GPX_COL_CLOSED_AT, GPX_CX_RAW));
  return gpx_sql_append(o, " IS NOT NULL)");
}

int gpx_sql_table_name(gpx_buf *name, const gpx_ds_settings *s) {
  if (s->schema[0]) {
    GPX_RETURN_NOT_OK(gpx_pg_quote_ident(name, s->schema));
    GPX_RETURN_NOT_OK(gpx_buf_append(name, ".", 1));
  }
  GPX_RETURN_NOT_OK(gpx_pg_quote_ident(name, s->table));
  return gpx_buf_terminate(name);
}

int gpx_sql_count_span(gpx_sql *o, const gpx_ds_settings *s) {
  gpx_sql_reset(o);
  gpx_buf name = {0};
  int rc = gpx_sql_table_name(&name, s);
  if (rc == GPX_OK)
    rc = gpx_sql_append(o, "WITH RECURSIVE tree(oid) AS (SELECT to_regclass(");
  if (rc == GPX_OK) rc = gpx_sql_param(o, (const char *)name.data, "text");
  gpx_buf_reset(&name);
  GPX_RETURN_NOT_OK(rc);
  GPX_RETURN_NOT_OK(gpx_sql_append(o,
      ")::oid UNION ALL SELECT i.inhrelid FROM pg_catalog.pg_inherits i JOIN tree ON i.inhparent = tree.oid),"
      " est AS (SELECT coalesce((SELECT sum(c.reltuples)::int8 FROM tree JOIN pg_catalog.pg_class c ON c.oid = tree.oid"
      " WHERE c.relkind <> 'p' AND c.reltuples >= 0), -1) AS n)"));
  /* separate scalar subqueries: min/max each take the closed_at index */
  GPX_RETURN_NOT_OK(gpx_sql_append(o, " SELECT CASE WHEN est.n > 200000 THEN est.n ELSE "));
  GPX_RETURN_NOT_OK(gpx__closed_subquery(o, s, "count(*)", NULL));
  GPX_RETURN_NOT_OK(gpx_sql_append(o, " END::int8, "));
  GPX_RETURN_NOT_OK(gpx__closed_subquery(o, s, "min(", ")"));
  GPX_RETURN_NOT_OK(gpx_sql_append(o, "::timestamptz::text, "));
  GPX_RETURN_NOT_OK(gpx__closed_subquery(o, s, "max(", ")"));
  return gpx_sql_append(o, "::timestamptz::text, est.n > 200000 FROM est");
}

/* ---- live queries (live.c): the change listener's two statements ---- */

int gpx_sql_live_probe(gpx_sql *o, const gpx_ds_settings *s) {
  gpx_sql_reset(o);
  gpx_buf name = {0};
  int rc = gpx_sql_table_name(&name, s);
  /* The NOTIFY channel is "gpx_live_<table oid>", as sql/live_notify.sql's
     trigger names it (TG_RELID): a plain identifier by construction, the
     same however the settings spell the table. */
  if (rc == GPX_OK) rc = gpx_sql_append(o, "SELECT 'gpx_live_' || to_regclass(");
  if (rc == GPX_OK) rc = gpx_sql_param(o, (const char *)name.data, "text");
  if (rc == GPX_OK)
    rc = gpx_sql_append(o, ")::oid::text, EXISTS (SELECT 1 FROM pg_catalog.pg_trigger WHERE tgrelid = to_regclass($1) "
                           "AND tgname = 'gpx_live_notify' AND tgenabled <> 'D')");
  gpx_buf_reset(&name);
  return rc;
}

int gpx_sql_live_watermark(gpx_sql *o, const gpx_ds_settings *s, const char *since) {
  gpx_sql_reset(o);
  /* count and max of the rows at or after the last watermark: the
     closed_at index answers it without reading the rest of the table —
     so the stored column is compared and aggregated, never a function of
     it (an epoch column: the bound is made a number, floored, so the row
     that set the watermark is still in) */
  const gpx_col_map *m = &s->columns[GPX_COL_CLOSED_AT];
  int epoch = gpx_col_epoch(s, GPX_COL_CLOSED_AT);
  const char *per_s = m->as == GPX_AS_EPOCH_MS ? "1000" : m->as == GPX_AS_EPOCH_US ? "1000000"
                      : m->as == GPX_AS_EPOCH_NS ? "1000000000" : "1";
  GPX_RETURN_NOT_OK(gpx_sql_append(o, epoch ? "SELECT count(*)::int8, to_timestamp(max(" : "SELECT count(*)::int8, max("));
  GPX_RETURN_NOT_OK(gpx_sql_column(o, s, GPX_COL_CLOSED_AT, GPX_CX_RAW));
  if (epoch) GPX_RETURN_NOT_OK(gpx_buf_printf(&o->text, ")::float8%s", gpx__epoch_to_s(m->as)));
  GPX_RETURN_NOT_OK(gpx_sql_append(o, ")::timestamptz::text FROM "));
  GPX_RETURN_NOT_OK(gpx__table(o, s));
  GPX_RETURN_NOT_OK(gpx_sql_append(o, " WHERE "));
  GPX_RETURN_NOT_OK(gpx_sql_column(o, s, GPX_COL_CLOSED_AT, GPX_CX_RAW));
  GPX_RETURN_NOT_OK(gpx_sql_append(o, epoch ? " >= floor(extract(epoch FROM " : " >= "));
  GPX_RETURN_NOT_OK(gpx_sql_param(o, since, "timestamptz"));
  return epoch ? gpx_buf_printf(&o->text, ") * %s)::int8", per_s) : GPX_OK;
}

/* The fold cache's fingerprint (cache.c) of the rows the one-pass read
   selects in (from, hi]: for those up to w (the entry's), up to wt (the
   query's settled end) and all, how many and the sum of a 64-bit hash of
   each one's columns as that read reads them, the group and trade_id. Sums
   of int8 are exact (numeric), sent as text. */
static const gpx_sql_col gpx__fp_cols[GPX_FP_NCOLS] = {
    [GPX_FP_N_OLD] = {GPX_EXPR_COUNT, NOCOL, NOCOL, NULL, "n_old", GPX_DEC_I8},
    [GPX_FP_H_OLD] = {GPX_EXPR_COUNT, NOCOL, NOCOL, NULL, "h_old", GPX_DEC_TEXT},
    [GPX_FP_N_WT] = {GPX_EXPR_COUNT, NOCOL, NOCOL, NULL, "n_wt", GPX_DEC_I8},
    [GPX_FP_H_WT] = {GPX_EXPR_COUNT, NOCOL, NOCOL, NULL, "h_wt", GPX_DEC_TEXT},
    [GPX_FP_N_ALL] = {GPX_EXPR_COUNT, NOCOL, NOCOL, NULL, "n_all", GPX_DEC_I8},
    [GPX_FP_H_ALL] = {GPX_EXPR_COUNT, NOCOL, NOCOL, NULL, "h_all", GPX_DEC_TEXT},
};
const gpx_stmt_def gpx_stmt_fingerprint = {"cache fingerprint", gpx__fp_cols, GPX_FP_NCOLS, GPX_RANGE_IN,
                                           GPX_ORDER_NONE, 0, 0};

int gpx_sql_fingerprint(gpx_stmt *st, const gpx_ds_settings *s, const gpx_query *q, int64_t from_ms, int64_t w_ms,
                        int64_t wt_ms, int64_t hi_ms) {
  gpx_stmt_reset(st);
  st->def = &gpx_stmt_fingerprint;
  gpx_sql *o = &st->sql;
  o->widen = q->widen;
  gpx_query range = *q; /* shallow: only the bounds differ, nothing is freed */
  range.from_ms = from_ms;
  range.to_ms = hi_ms;
  GPX_RETURN_NOT_OK(gpx_sql_append(o, "SELECT count(*) FILTER (WHERE o), coalesce(sum(h) FILTER (WHERE o), 0)::text, "
                                      "count(*) FILTER (WHERE t), coalesce(sum(h) FILTER (WHERE t), 0)::text, "
                                      "count(*), coalesce(sum(h), 0)::text FROM (SELECT ("));
  GPX_RETURN_NOT_OK(gpx__time_bound(o, s, "<=", w_ms));
  GPX_RETURN_NOT_OK(gpx_sql_append(o, ") AS o, ("));
  GPX_RETURN_NOT_OK(gpx__time_bound(o, s, "<=", wt_ms));
  GPX_RETURN_NOT_OK(gpx_sql_append(o, ") AS t, hash_record_extended(ROW("));
  if (q->group_by != GPX_GROUP_NONE) {
    GPX_RETURN_NOT_OK(gpx__col(o, s, gpx_group_col(q->group_by)));
    GPX_RETURN_NOT_OK(gpx_sql_append(o, "::text, "));
  }
  for (int i = 0; i < gpx_stmt_stats_stream.ncols; i++) {
    const gpx_sql_col *c = &gpx_stmt_stats_stream.cols[i];
    if (i) GPX_RETURN_NOT_OK(gpx_sql_append(o, ", "));
    GPX_RETURN_NOT_OK(gpx__expr(o, c, s, q, 0, q->missing));
    if (c->cast) GPX_RETURN_NOT_OK(gpx_buf_printf(&o->text, "::%s", c->cast));
    if (i == GPX_SS_PNL) {
      /* Postgres' numeric hash leaves the sign out (hash(-x) = hash(x)) */
      GPX_RETURN_NOT_OK(gpx_sql_append(o, ", "));
      GPX_RETURN_NOT_OK(gpx__expr(o, c, s, q, 0, q->missing));
      GPX_RETURN_NOT_OK(gpx_sql_append(o, " < 0"));
    }
  }
  if (gpx_col_present(s, GPX_COL_TRADE_ID) && !(q->missing & (UINT32_C(1) << GPX_COL_TRADE_ID))) {
    GPX_RETURN_NOT_OK(gpx_sql_append(o, ", "));
    GPX_RETURN_NOT_OK(gpx_sql_column(o, s, GPX_COL_TRADE_ID, GPX_CX_RAW));
  }
  GPX_RETURN_NOT_OK(gpx_sql_append(o, "), 0) AS h"));
  GPX_RETURN_NOT_OK(gpx__from_where(o, s, &range, GPX_RANGE_IN, 0));
  return gpx_sql_append(o, ") f");
}
