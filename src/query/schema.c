/*
** schema.c — check the configured table and column mapping against the
** database, for CheckHealth ("Save & test") and the `schema` resource.
**
** The table name is resolved with to_regclass on the quoted identifier
** (bound as a parameter), so the search_path applies exactly as it does to
** our queries; column types are read from pg_attribute.
*/
#include <stdio.h>
#include <stdlib.h>

#include "gpx/query.h"
#include "query_int.h"

typedef enum { GPX_KIND_ANY, GPX_KIND_LABEL, GPX_KIND_SIDE, GPX_KIND_NUMBER, GPX_KIND_TIME } gpx__kind;

static gpx__kind gpx__col_kind(gpx_col c) {
  switch (c) {
    case GPX_COL_TRADE_ID: return GPX_KIND_ANY;
    case GPX_COL_ACCOUNT:
    case GPX_COL_EXCHANGE:
    case GPX_COL_STRATEGY:
    case GPX_COL_SYMBOL:
    case GPX_COL_ENTRY_TAG:
    case GPX_COL_EXIT_REASON: return GPX_KIND_LABEL;
    case GPX_COL_SIDE: return GPX_KIND_SIDE;
    case GPX_COL_OPENED_AT:
    case GPX_COL_CLOSED_AT: return GPX_KIND_TIME;
    default: return GPX_KIND_NUMBER;
  }
}

/* pg_type.typcategory: N numbers, S strings, E enums, B booleans, D date/time */
static int gpx__is_int(const char *type) { return !strcmp(type, "integer") || !strcmp(type, "bigint") || !strcmp(type, "smallint"); }

/* Whether logical column c, as mapped, can use a column of this type; else
   msg says what to do (naming the mapping to write where one would fit). */
static void gpx__type_check(const gpx_ds_settings *s, gpx_col c, const char *col, const char *type, char cat, char *msg,
                            size_t cap) {
  const gpx_col_map *m = &s->columns[c];
  const char *key = gpx_col_names[c];
  switch (gpx__col_kind(c)) {
    case GPX_KIND_LABEL:
      if (cat == 'S' || cat == 'E' || (cat == 'N' && gpx__is_int(type))) return;
      snprintf(msg, cap, "column \"%s\" is %s, expected text, an enum or an integer", col, type);
      return;
    case GPX_KIND_SIDE:
      if (m->as == GPX_AS_PLAIN) {
        if (cat == 'S' || cat == 'E') return;
        if (cat == 'B')
          snprintf(msg, cap, "`side` → `%s` is boolean: map it as {\"column\": \"%s\", \"as\": \"is_short\"} (or \"is_long\")",
                   col, col);
        else snprintf(msg, cap, "column \"%s\" is %s, expected text (long/short, buy/sell) or a boolean", col, type);
      } else if (cat != 'B') {
        snprintf(msg, cap, "column \"%s\" is %s, but `side` maps it as %s (a boolean)", col, type, gpx_col_as_names[m->as]);
      }
      return;
    case GPX_KIND_TIME:
      if (m->as == GPX_AS_PLAIN) {
        if (!strncmp(type, "timestamp", 9)) return;
        if (cat == 'N')
          snprintf(msg, cap,
                   "column \"%s\" is %s, expected timestamp or timestamptz; if it counts time since 1970, map `%s` as "
                   "{\"column\": \"%s\", \"as\": \"epoch_ms\"} (or epoch_s, epoch_us, epoch_ns)", col, type, key, col);
        else snprintf(msg, cap, "column \"%s\" is %s, expected timestamp, timestamptz or an epoch number", col, type);
      } else if (cat != 'N') {
        snprintf(msg, cap, "column \"%s\" is %s, but `%s` maps it as %s (a number)", col, type, key, gpx_col_as_names[m->as]);
      }
      return;
    case GPX_KIND_NUMBER:
      if (cat != 'N') snprintf(msg, cap, "column \"%s\" is %s, expected numeric (or double precision, real, integer, bigint)", col, type);
      return;
    default: return;
  }
}

/* Whether an index (or partitioned index) leads with the closed_at column:
   time ranges need one on a table of any size. 1 yes, 0 no, -1 unknown. */
static int gpx__has_time_index(gpx_pg_session *sess, const char *table, const char *col, gpx_pg_error *pe) {
  const char *params[2] = {table, col};
  PGresult *res = NULL;
  if (gpx_pg_exec(sess,
                  "SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_index i JOIN pg_catalog.pg_attribute a"
                  " ON a.attrelid = i.indrelid AND a.attnum = i.indkey[0]"
                  " WHERE i.indrelid = to_regclass($1::text) AND a.attname = $2::text)",
                  2, params, 0, &res, pe) != GPX_OK)
    return -1;
  int has = PQntuples(res) == 1 && PQgetvalue(res, 0, 0)[0] == 't';
  PQclear(res);
  return has;
}

static const char *gpx__find(PGresult *res, const char *col, char *cat) {
  for (int i = 0; i < PQntuples(res); i++)
    if (strcmp(PQgetvalue(res, i, 0), col) == 0) {
      *cat = PQgetvalue(res, i, 2)[0];
      return PQgetvalue(res, i, 1);
    }
  return NULL;
}

int gpx_qrun_learn_types(gpx_qrun *r, gpx_ds_instance *inst) {
  uint32_t numbers = 0;
  for (int c = 0; c < GPX_COL_COUNT; c++)
    if (gpx_col_is_number((gpx_col)c) && r->s->columns[c].n > 0) numbers |= UINT32_C(1) << c;
  char *memo = NULL;
  if (gpx_ds_memo_get(inst, "types:real", 300, &memo)) {
    r->q->widen = (uint32_t)strtoul(memo, NULL, 10);
    free(memo);
    return GPX_OK;
  }
  if (numbers == 0) return GPX_OK;
  gpx_buf name = {0};
  PGresult *res = NULL;
  gpx_pg_error pe;
  int rc = gpx_sql_table_name(&name, r->s);
  if (rc != GPX_OK) rc = gpx_qrun_fail(r, rc, "table name", NULL);
  if (rc == GPX_OK) {
    const char *params[1] = {(const char *)name.data};
    if ((rc = gpx_pg_exec(&r->sess,
                    "SELECT attname::text FROM pg_catalog.pg_attribute WHERE attrelid = to_regclass($1::text)"
                    " AND atttypid = 'float4'::regtype AND attnum > 0 AND NOT attisdropped",
                    1, params, 0, &res, &pe)) != GPX_OK) {
      rc = gpx_qrun_fail_pg(r, &pe); /* a timeout stays a timeout: the run ends here */
    } else {
      uint32_t widen = 0;
      for (int i = 0; i < PQntuples(res); i++)
        for (int c = 0; c < GPX_COL_COUNT; c++)
          for (int k = 0; (numbers >> c & 1) && k < r->s->columns[c].n; k++)
            if (strcmp(r->s->columns[c].name[k], PQgetvalue(res, i, 0)) == 0) widen |= UINT32_C(1) << c;
      char v[16];
      snprintf(v, sizeof v, "%u", (unsigned)widen);
      gpx_ds_memo_put(inst, "types:real", v);
      r->q->widen = widen;
    }
    PQclear(res);
  }
  gpx_buf_reset(&name);
  return rc;
}

int gpx_schema_check(gpx_pg_session *sess, const gpx_ds_settings *s, json_t **out, gpx_pg_error *pe) {
  *out = NULL;
  gpx_buf name = {0};
  int rc = gpx_sql_table_name(&name, s);
  if (rc != GPX_OK) {
    gpx_buf_reset(&name);
    snprintf(pe->msg, sizeof pe->msg, "invalid table name");
    pe->status = GPX_PG_QUERY_ERROR;
    return EINVAL;
  }
  const char *params[1] = {(const char *)name.data};
  PGresult *res = NULL;
  rc = gpx_pg_exec(sess,
                   "SELECT a.attname::text, format_type(a.atttypid, a.atttypmod), t.typcategory::text"
                   " FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid"
                   " WHERE a.attrelid = to_regclass($1::text) AND a.attnum > 0 AND NOT a.attisdropped",
                   1, params, 0, &res, pe);
  json_t *o = json_object();
  char display[300];
  snprintf(display, sizeof display, "%s%s%s", s->schema, s->schema[0] ? "." : "", s->table);
  json_object_set_new(o, "table", json_string(display));
  if (rc != GPX_OK) {
    gpx_buf_reset(&name);
    json_decref(o);
    return rc;
  }
  int n = PQntuples(res);
  json_t *cols = json_array();
  int ok = 1, table_ok = n > 0;
  json_object_set_new(o, "tableExists", json_boolean(table_ok));
  for (int c = 0; c < GPX_COL_COUNT && table_ok; c++) {
    const gpx_col_map *m = &s->columns[c];
    json_t *e = json_pack("{s:s, s:b}", "name", gpx_col_names[c], "required", gpx_col_required[c]);
    if (m->n == 0) { /* mapped to null: the table has none, by the user's word */
      json_object_set_new(e, "column", json_null());
      json_object_set_new(e, "ok", json_true());
      json_array_append_new(cols, e);
      continue;
    }
    char shown[GPX_COL_MAX_PARTS * (GPX_COL_NAME_MAX + 3)] = "";
    size_t off = 0;
    for (int i = 0; i < m->n; i++)
      off += (size_t)snprintf(shown + off, sizeof shown - off, "%s%s", i ? " + " : "", m->name[i]);
    json_object_set_new(e, "column", json_string(shown));
    if (m->as != GPX_AS_PLAIN) json_object_set_new(e, "as", json_string(gpx_col_as_names[m->as]));
    char msg[400] = "";
    for (int i = 0; i < m->n && !msg[0]; i++) {
      char cat = 0;
      const char *type = gpx__find(res, m->name[i], &cat);
      if (type == NULL) {
        snprintf(msg, sizeof msg, "column \"%s\" not found", m->name[i]);
        continue;
      }
      if (m->n == 1) json_object_set_new(e, "type", json_string(type));
      gpx__type_check(s, (gpx_col)c, m->name[i], type, cat, msg, sizeof msg);
    }
    json_object_set_new(e, "ok", json_boolean(msg[0] == '\0'));
    if (msg[0]) {
      json_object_set_new(e, "error", json_string(msg));
      if (gpx_col_required[c]) ok = 0;
    }
    json_array_append_new(cols, e);
  }
  /* the default mapping on freqtrade's table: say which preset fits */
  char cat;
  if (table_ok && !ok && s->preset == GPX_PRESET_DEFAULT && gpx__find(res, s->columns[GPX_COL_CLOSED_AT].name[0], &cat) == NULL &&
      gpx__find(res, "close_date", &cat) && gpx__find(res, "close_profit_abs", &cat) && gpx__find(res, "is_short", &cat))
    json_object_set_new(o, "hint", json_string("this looks like freqtrade's schema: choose the freqtrade preset"));
  PQclear(res);
  json_object_set_new(o, "columns", cols);
  if (table_ok && ok) {
    const char *tcol = s->columns[GPX_COL_CLOSED_AT].name[0];
    if (gpx__has_time_index(sess, (const char *)name.data, tcol, pe) == 0) {
      gpx_buf adv = {0};
      gpx_buf_append_str(&adv, "no index leads with ");
      gpx_pg_quote_ident(&adv, tcol);
      gpx_buf_append_str(&adv, ", so every time range reads the whole table: CREATE INDEX ON ");
      gpx_buf_append(&adv, name.data, strlen((const char *)name.data));
      gpx_buf_append_str(&adv, " (");
      gpx_pg_quote_ident(&adv, tcol);
      gpx_buf_append_str(&adv, ") would make it fast");
      if (gpx_buf_terminate(&adv) == GPX_OK) json_object_set_new(o, "indexAdvice", json_string((const char *)adv.data));
      gpx_buf_reset(&adv);
    }
    gpx_sql sql = {0};
    res = NULL;
    rc = gpx_sql_count_span(&sql, s);
    if (rc == GPX_OK) rc = gpx_pg_exec(sess, gpx_sql_cstr(&sql), sql.n, (const char *const *)sql.params, 0, &res, pe);
    gpx_sql_reset(&sql);
    if (rc != GPX_OK) {
      gpx_buf_reset(&name);
      json_decref(o);
      return rc;
    }
    json_object_set_new(o, "trades", json_integer(strtoll(PQgetvalue(res, 0, 0), NULL, 10)));
    json_object_set_new(o, "tradesEstimated", json_boolean(PQgetvalue(res, 0, 3)[0] == 't'));
    json_object_set_new(o, "from", PQgetisnull(res, 0, 1) ? json_null() : json_string(PQgetvalue(res, 0, 1)));
    json_object_set_new(o, "to", PQgetisnull(res, 0, 2) ? json_null() : json_string(PQgetvalue(res, 0, 2)));
    PQclear(res);
  }
  gpx_buf_reset(&name);
  json_object_set_new(o, "ok", json_boolean(table_ok && ok));
  *out = o;
  return GPX_OK;
}
