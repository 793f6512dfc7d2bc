/*
** resources.c — the values resources the editors and dashboard variables
** use (GET strategies|symbols|accounts): which logical column each one
** lists, and the distinct values themselves, behind a public function so
** svc/call_resource.c needs no private header. The `schema` resource is
** schema.c.
*/
#include <stdio.h>

#include "query_int.h"

gpx_col gpx_query_resource_column(const char *resource) {
  static const struct {
    const char *name;
    gpx_col col;
  } map[] = {{"strategies", GPX_COL_STRATEGY}, {"symbols", GPX_COL_SYMBOL}, {"accounts", GPX_COL_ACCOUNT}};
  for (size_t i = 0; resource && i < sizeof map / sizeof map[0]; i++)
    if (strcmp(resource, map[i].name) == 0) return map[i].col;
  return GPX_COL_COUNT;
}

int gpx_query_distinct(gpx_pg_session *sess, const gpx_ds_settings *s, gpx_col col, const char *substr,
                       int limit, json_t **out, gpx_query_error *e) {
  *out = NULL;
  gpx_sql sql = {0};
  PGresult *res = NULL;
  gpx_pg_error pe;
  int rc = gpx_sql_distinct(&sql, s, col, substr, limit);
  if (rc != GPX_OK) {
    gpx_sql_reset(&sql);
    e->status = 500;
    e->source = "plugin";
    snprintf(e->message, sizeof e->message, "building the statement failed (%s)", strerror(rc));
    return rc;
  }
  rc = gpx_pg_exec(sess, gpx_sql_cstr(&sql), sql.n, (const char *const *)sql.params, 0, &res, &pe);
  gpx_sql_reset(&sql);
  if (rc != GPX_OK) {
    gpx_query_error_from_pg(&pe, s->query_timeout_s, e);
    return rc;
  }
  json_t *arr = json_array();
  gpx_buf b = {0};
  for (int i = 0; arr && i < PQntuples(res); i++) {
    /* values as the bot wrote them; bytes that are not UTF-8 become U+FFFD */
    b.len = 0;
    if (gpx_utf8_append(&b, PQgetvalue(res, i, 0), (size_t)PQgetlength(res, i, 0)) != GPX_OK) break;
    json_t *v = json_stringn(b.data ? (const char *)b.data : "", b.len);
    if (v) json_array_append_new(arr, v);
  }
  gpx_buf_reset(&b);
  PQclear(res);
  if (arr == NULL) {
    e->status = 500;
    e->source = "plugin";
    snprintf(e->message, sizeof e->message, "out of memory");
    return ENOMEM;
  }
  *out = arr;
  return GPX_OK;
}
