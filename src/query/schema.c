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

typedef enum { GPX_KIND_ANY, GPX_KIND_TEXT, GPX_KIND_NUMBER, GPX_KIND_TIME } gpx__kind;

static gpx__kind gpx__col_kind(gpx_col c) {
  switch (c) {
    case GPX_COL_TRADE_ID: return GPX_KIND_ANY;
    case GPX_COL_ACCOUNT:
    case GPX_COL_EXCHANGE:
    case GPX_COL_STRATEGY:
    case GPX_COL_SYMBOL:
    case GPX_COL_SIDE:
    case GPX_COL_ENTRY_TAG:
    case GPX_COL_EXIT_REASON: return GPX_KIND_TEXT;
    case GPX_COL_OPENED_AT:
    case GPX_COL_CLOSED_AT: return GPX_KIND_TIME;
    default: return GPX_KIND_NUMBER;
  }
}

static int gpx__type_ok(gpx__kind k, const char *t) {
  switch (k) {
    case GPX_KIND_TEXT:
      return !strcmp(t, "text") || !strncmp(t, "character", 9) || !strcmp(t, "name") || !strcmp(t, "citext");
    case GPX_KIND_TIME: return !strncmp(t, "timestamp", 9);
    case GPX_KIND_NUMBER:
      return !strncmp(t, "numeric", 7) || !strcmp(t, "double precision") || !strcmp(t, "real") ||
             !strcmp(t, "integer") || !strcmp(t, "bigint") || !strcmp(t, "smallint");
    default: return 1;
  }
}

static const char *gpx__kind_name(gpx__kind k) {
  switch (k) {
    case GPX_KIND_TEXT: return "text";
    case GPX_KIND_TIME: return "timestamp or timestamptz";
    case GPX_KIND_NUMBER: return "numeric (or another number type)";
    default: return "any";
  }
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
                   "SELECT a.attname::text, format_type(a.atttypid, a.atttypmod) FROM pg_attribute a"
                   " WHERE a.attrelid = to_regclass($1::text) AND a.attnum > 0 AND NOT a.attisdropped",
                   1, params, 0, &res, pe);
  json_t *o = json_object();
  char display[300];
  snprintf(display, sizeof display, "%s%s%s", s->schema, s->schema[0] ? "." : "", s->table);
  json_object_set_new(o, "table", json_string(display));
  gpx_buf_reset(&name);
  if (rc != GPX_OK) {
    json_decref(o);
    return rc;
  }
  int n = PQntuples(res);
  json_t *cols = json_array();
  int ok = 1, table_ok = n > 0;
  json_object_set_new(o, "tableExists", json_boolean(table_ok));
  for (int c = 0; c < GPX_COL_COUNT && table_ok; c++) {
    const char *want = s->columns[c];
    const char *type = NULL;
    for (int i = 0; i < n; i++)
      if (strcmp(PQgetvalue(res, i, 0), want) == 0) type = PQgetvalue(res, i, 1);
    gpx__kind k = gpx__col_kind((gpx_col)c);
    json_t *e = json_pack("{s:s, s:s, s:b}", "name", gpx_col_names[c], "column", want, "required",
                          gpx_col_required[c]);
    char msg[300] = "";
    if (type == NULL) {
      snprintf(msg, sizeof msg, "column \"%s\" not found", want);
    } else {
      json_object_set_new(e, "type", json_string(type));
      if (!gpx__type_ok(k, type))
        snprintf(msg, sizeof msg, "column \"%s\" is %s, expected %s", want, type, gpx__kind_name(k));
    }
    json_object_set_new(e, "ok", json_boolean(msg[0] == '\0'));
    if (msg[0]) {
      json_object_set_new(e, "error", json_string(msg));
      if (gpx_col_required[c]) ok = 0;
    }
    json_array_append_new(cols, e);
  }
  PQclear(res);
  json_object_set_new(o, "columns", cols);
  if (table_ok && ok) {
    gpx_sql sql = {0};
    res = NULL;
    rc = gpx_sql_count_span(&sql, s);
    if (rc == GPX_OK) rc = gpx_pg_exec(sess, gpx_sql_cstr(&sql), sql.n, (const char *const *)sql.params, 0, &res, pe);
    gpx_sql_reset(&sql);
    if (rc != GPX_OK) {
      json_decref(o);
      return rc;
    }
    json_object_set_new(o, "trades", json_integer(strtoll(PQgetvalue(res, 0, 0), NULL, 10)));
    json_object_set_new(o, "tradesEstimated", json_boolean(PQgetvalue(res, 0, 3)[0] == 't'));
    json_object_set_new(o, "from", PQgetisnull(res, 0, 1) ? json_null() : json_string(PQgetvalue(res, 0, 1)));
    json_object_set_new(o, "to", PQgetisnull(res, 0, 2) ? json_null() : json_string(PQgetvalue(res, 0, 2)));
    PQclear(res);
  }
  json_object_set_new(o, "ok", json_boolean(table_ok && ok));
  *out = o;
  return GPX_OK;
}
