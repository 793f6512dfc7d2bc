/*
** adhoc.c — Grafana's ad-hoc filters (docs/query-model.md, `adhocFilters`).
**
** The frontend copies a dashboard's ad-hoc filters into the query JSON as
** `adhocFilters: [{"key": "strategy", "operator": "=", "value": "a"}]`, and
** alert rules store the same form, so the backend sees one shape. Keys are
** the dimensions of dims.c (their groupBy names); operators `=`, `!=`, `=~`
** and `!~`. Every filter is ANDed with the others and with the query's own
** lists. Values never become SQL text: per dimension and operator they are
** gathered into one Postgres array literal, bound as a text[] parameter
** (`col = ALL($n)`, `(col = ANY($n)) IS NOT TRUE`, `col ~ ALL($n)`, …), so
** at most 4 parameters per dimension whatever the number of filters.
**
** This file parses the filters, writes their WHERE terms, and answers the
** `tag-keys` resource (the mapped dimensions). It is not the list filters
** (parse.c) and not the values resources (resources.c).
*/
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#include "query_int.h"

static const char *const gpx__op_names[GPX_ADHOC_NOPS] = {"=", "!=", "=~", "!~"};

void gpx_adhoc_reset(gpx_query *q) {
  for (int d = 0; d < GPX_DIM_COUNT; d++)
    for (int o = 0; o < GPX_ADHOC_NOPS; o++) {
      free(q->adhoc[d].values[o]);
      q->adhoc[d].values[o] = NULL;
    }
}

static char gpx__keys[GPX_DIM_COUNT * 16];
static pthread_once_t gpx__keys_once = PTHREAD_ONCE_INIT;

static void gpx__build_keys(void) {
  size_t off = 0;
  for (int i = 0; i < GPX_DIM_COUNT && off < sizeof gpx__keys; i++)
    off += (size_t)snprintf(gpx__keys + off, sizeof gpx__keys - off, "%s%s", i ? ", " : "", gpx_dims[i].group);
}

/* "strategy, symbol, …" for messages */
static const char *gpx__key_list(void) {
  pthread_once(&gpx__keys_once, gpx__build_keys);
  return gpx__keys;
}

/* Append value to the array literal *arr ({"a","b"}), quoting " and \. */
static int gpx__array_add(char **arr, const char *v, size_t len) {
  gpx_buf b = {0};
  size_t old = *arr ? strlen(*arr) : 0;
  int rc = old ? gpx_buf_append(&b, *arr, old - 1) : gpx_buf_append(&b, "{", 1); /* drop the closing } */
  if (rc == GPX_OK && old) rc = gpx_buf_append(&b, ",", 1);
  if (rc == GPX_OK) rc = gpx_buf_append(&b, "\"", 1);
  for (size_t k = 0; k < len && rc == GPX_OK; k++) {
    if (v[k] == '"' || v[k] == '\\') rc = gpx_buf_append(&b, "\\", 1);
    if (rc == GPX_OK) rc = gpx_buf_append(&b, &v[k], 1);
  }
  if (rc == GPX_OK) rc = gpx_buf_append(&b, "\"}", 2);
  if (rc == GPX_OK) rc = gpx_buf_terminate(&b);
  if (rc != GPX_OK) {
    gpx_buf_reset(&b);
    return ENOMEM;
  }
  free(*arr);
  *arr = (char *)gpx_buf_release(&b, NULL);
  return GPX_OK;
}

/* A regular expression must match the whole value, as Prometheus' and
   Loki's ad-hoc matchers do: ^(?:pattern)$. */
static int gpx__array_add_regex(char **arr, const char *v, size_t len) {
  gpx_buf b = {0};
  int rc = gpx_buf_append(&b, "^(?:", 4);
  if (rc == GPX_OK) rc = gpx_buf_append(&b, v, len);
  if (rc == GPX_OK) rc = gpx_buf_append(&b, ")$", 2);
  if (rc == GPX_OK) rc = gpx__array_add(arr, (const char *)b.data, b.len);
  gpx_buf_reset(&b);
  return rc;
}

static int gpx__one(json_t *f, size_t i, const gpx_ds_settings *s, gpx_query *q, gpx_error *err) {
  if (!json_is_object(f)) return gpx_error_set(err, EINVAL, "adhocFilters[%zu]: must be an object {key, operator, value}", i);
  json_t *k = json_object_get(f, "key"), *op = json_object_get(f, "operator"), *v = json_object_get(f, "value");
  if (!json_is_string(k)) return gpx_error_set(err, EINVAL, "adhocFilters[%zu].key: must be a string", i);
  const char *key = json_string_value(k);
  int d = -1;
  for (int j = 0; j < GPX_DIM_COUNT && d < 0; j++)
    if (strcmp(key, gpx_dims[j].group) == 0) d = j;
  if (d < 0)
    return gpx_error_set(err, EINVAL, "adhocFilters[%zu].key: unknown key \"%.*s\" (expected one of %s)", i,
                         (int)gpx_utf8_clip(key, 64), key, gpx__key_list());
  if (!gpx_col_present(s, gpx_dims[d].col))
    return gpx_error_set(err, EINVAL, "adhocFilters[%zu].key: %s is not mapped (jsonData.columns.%s is null)", i,
                         gpx_dims[d].group, gpx_col_names[gpx_dims[d].col]);
  const char *ops = json_is_string(op) ? json_string_value(op) : NULL;
  int o = -1;
  for (int j = 0; ops && j < GPX_ADHOC_NOPS && o < 0; j++)
    if (strcmp(ops, gpx__op_names[j]) == 0) o = j;
  if (o < 0) {
    if (ops == NULL) return gpx_error_set(err, EINVAL, "adhocFilters[%zu].operator: must be a string", i);
    return gpx_error_set(err, EINVAL,
                         "adhocFilters[%zu].operator: unsupported operator \"%.*s\" (supported: =, !=, =~, !~)", i,
                         (int)gpx_utf8_clip(ops, 16), ops);
  }
  if (!json_is_string(v)) return gpx_error_set(err, EINVAL, "adhocFilters[%zu].value: must be a string", i);
  const char *val = json_string_value(v);
  size_t len = json_string_length(v);
  if (len > GPX_ADHOC_VALUE_MAX)
    return gpx_error_set(err, EINVAL, "adhocFilters[%zu].value: %zu bytes, at most %d allowed", i, len,
                         GPX_ADHOC_VALUE_MAX);
  if (memchr(val, 0, len)) return gpx_error_set(err, EINVAL, "adhocFilters[%zu].value: contains a NUL character", i);
  gpx_adhoc_dim *a = &q->adhoc[d];
  int rc;
  if (o == GPX_ADHOC_RE || o == GPX_ADHOC_NRE) {
    /* Postgres' regex engine runs on a bound pattern (no injection), but
       its time grows with the pattern: a short one, and the statement
       timeout, bound the cost */
    if (len > GPX_ADHOC_REGEX_MAX)
      return gpx_error_set(err, EINVAL, "adhocFilters[%zu].value: a regular expression of %zu bytes, at most %d allowed",
                           i, len, GPX_ADHOC_REGEX_MAX);
    rc = gpx__array_add_regex(&a->values[o], val, len);
  } else if (strcmp(val, "(none)") == 0) {
    /* the group label of NULL values: = selects them, != leaves them out */
    if (o == GPX_ADHOC_EQ) a->is_null = 1;
    else a->not_null = 1;
    rc = GPX_OK;
  } else {
    if (d == GPX_DIM_SIDE) val = gpx_query_side_value(val, &len);
    rc = gpx__array_add(&a->values[o], val, len);
  }
  if (rc != GPX_OK) return gpx_error_set(err, ENOMEM, "out of memory");
  return GPX_OK;
}

int gpx_adhoc_parse(json_t *root, const gpx_ds_settings *s, gpx_query *q, gpx_error *err) {
  json_t *v = json_object_get(root, "adhocFilters");
  if (v == NULL || json_is_null(v)) return GPX_OK;
  if (!json_is_array(v))
    return gpx_error_set(err, EINVAL, "adhocFilters: must be a list of {\"key\", \"operator\", \"value\"} objects");
  size_t n = json_array_size(v);
  if (n > GPX_QUERY_MAX_ADHOC)
    return gpx_error_set(err, EINVAL, "adhocFilters: %zu filters, at most %d allowed", n, GPX_QUERY_MAX_ADHOC);
  for (size_t i = 0; i < n; i++) {
    int rc = gpx__one(json_array_get(v, i), i, s, q, err);
    if (rc != GPX_OK) {
      gpx_adhoc_reset(q);
      return rc;
    }
  }
  return GPX_OK;
}

/* col::text <op> ALL|ANY($n::text[]) */
static int gpx__term(gpx_sql *o, const gpx_ds_settings *s, gpx_col col, const char *cmp, const char *arr) {
  GPX_RETURN_NOT_OK(gpx_sql_column(o, s, col, GPX_CX_VALUE));
  GPX_RETURN_NOT_OK(gpx_sql_append(o, cmp));
  GPX_RETURN_NOT_OK(gpx_sql_param(o, arr, "text[]"));
  return gpx_sql_append(o, ")");
}

int gpx_adhoc_where(gpx_sql *o, const gpx_ds_settings *s, const gpx_query *q) {
  for (int d = 0; d < GPX_DIM_COUNT; d++) {
    const gpx_adhoc_dim *a = &q->adhoc[d];
    gpx_col col = gpx_dims[d].col;
    /* = a AND = b: every value at once (nothing unless a = b); NULL matches no = */
    if (a->values[GPX_ADHOC_EQ]) {
      GPX_RETURN_NOT_OK(gpx_sql_append(o, " AND "));
      GPX_RETURN_NOT_OK(gpx__term(o, s, col, "::text = ALL(", a->values[GPX_ADHOC_EQ]));
    }
    if (a->values[GPX_ADHOC_RE]) {
      GPX_RETURN_NOT_OK(gpx_sql_append(o, " AND "));
      GPX_RETURN_NOT_OK(gpx__term(o, s, col, "::text ~ ALL(", a->values[GPX_ADHOC_RE]));
    }
    /* != a AND != b: none of them; a NULL value (the "(none)" group) is none of them */
    if (a->values[GPX_ADHOC_NE]) {
      GPX_RETURN_NOT_OK(gpx_sql_append(o, " AND ("));
      GPX_RETURN_NOT_OK(gpx__term(o, s, col, "::text = ANY(", a->values[GPX_ADHOC_NE]));
      GPX_RETURN_NOT_OK(gpx_sql_append(o, ") IS NOT TRUE"));
    }
    if (a->values[GPX_ADHOC_NRE]) {
      GPX_RETURN_NOT_OK(gpx_sql_append(o, " AND ("));
      GPX_RETURN_NOT_OK(gpx__term(o, s, col, "::text ~ ANY(", a->values[GPX_ADHOC_NRE]));
      GPX_RETURN_NOT_OK(gpx_sql_append(o, ") IS NOT TRUE"));
    }
    for (int k = 0; k < 2; k++) {
      if (!(k ? a->not_null : a->is_null)) continue;
      GPX_RETURN_NOT_OK(gpx_sql_append(o, " AND "));
      GPX_RETURN_NOT_OK(gpx_sql_column(o, s, col, GPX_CX_VALUE));
      GPX_RETURN_NOT_OK(gpx_sql_append(o, k ? " IS NOT NULL" : " IS NULL"));
    }
  }
  return GPX_OK;
}

json_t *gpx_query_tag_keys_json(const gpx_ds_settings *s) {
  json_t *arr = json_array();
  for (int i = 0; arr && i < GPX_DIM_COUNT; i++) {
    if (!gpx_col_present(s, gpx_dims[i].col)) continue;
    json_t *row = json_pack("{s:s, s:s}", "text", gpx_dims[i].group, "resource", gpx_dims[i].resource);
    if (row == NULL || json_array_append_new(arr, row) != 0) {
      json_decref(arr);
      return NULL;
    }
  }
  return arr;
}
