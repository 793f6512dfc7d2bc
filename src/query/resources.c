/*
** resources.c — the resources the editors and dashboard variables use:
** the values resources (GET strategies|symbols|accounts|sides|exchanges|
** entry_tags|exit_reasons, one per dimension of dims.c) with the distinct
** values of their column, and `kinds` (the registry's rows), behind public
** functions so svc/call_resource.c needs no private header. The `schema`
** resource is schema.c.
*/
#include <pthread.h>
#include <stdio.h>

#include "query_int.h"

gpx_col gpx_query_resource_column(const char *resource) {
  for (int i = 0; resource && i < GPX_DIM_COUNT; i++)
    if (strcmp(resource, gpx_dims[i].resource) == 0) return gpx_dims[i].col;
  return GPX_COL_COUNT;
}

static char gpx__names[GPX_DIM_COUNT * 24];
static pthread_once_t gpx__names_once = PTHREAD_ONCE_INIT;

static void gpx__build_names(void) {
  size_t off = 0;
  for (int i = 0; i < GPX_DIM_COUNT && off < sizeof gpx__names; i++)
    off += (size_t)snprintf(gpx__names + off, sizeof gpx__names - off, "%s%s", i ? ", " : "", gpx_dims[i].resource);
}

const char *gpx_query_resource_names(void) {
  pthread_once(&gpx__names_once, gpx__build_names);
  return gpx__names;
}

/* The options of a kind as the editor knows them: the query JSON keys (or
   families of keys: "filters" = every dimension's list, "analytics" = the
   overrides) a GPX_QOPT_* bit stands for; one bit may name several keys. */
static const struct {
  unsigned bit;
  const char *name;
} gpx__opt_names[] = {
    {GPX_QOPT_FILTERS, "filters"},     {GPX_QOPT_GROUP_BY, "groupBy"},         {GPX_QOPT_METRICS, "metrics"},
    {GPX_QOPT_DRAWDOWN_MODE, "drawdownMode"}, {GPX_QOPT_LIMIT, "limit"},       {GPX_QOPT_ANALYTICS, "analytics"},
    {GPX_QOPT_PERIOD, "period"},       {GPX_QOPT_PERIOD, "layout"},            {GPX_QOPT_ROLLING, "metric"},
    {GPX_QOPT_ROLLING, "window"},      {GPX_QOPT_LIVE, "live"},
    {GPX_QOPT_EVENTS, "events"},           {GPX_QOPT_EVENTS, "threshold"},  {GPX_QOPT_CACHE, "cache"},
};

json_t *gpx_query_kinds_json(void) {
  json_t *arr = json_array();
  for (size_t i = 0; arr && i < gpx_query_kind_count(); i++) {
    const gpx_query_kind *k = &gpx_query_kinds[i];
    if (k->flags & GPX_QKIND_TEST_ONLY) continue;
    json_t *opts = json_array();
    for (size_t b = 0; opts && b < sizeof gpx__opt_names / sizeof gpx__opt_names[0]; b++)
      if (k->options & gpx__opt_names[b].bit) json_array_append_new(opts, json_string(gpx__opt_names[b].name));
    json_t *row = json_pack("{s:s, s:s, s:o*, s:s}", "name", k->name, "description", k->description, "options", opts,
                            "frameType", k->frame_type);
    if (row == NULL || json_array_append_new(arr, row) != 0) {
      json_decref(arr);
      return NULL;
    }
  }
  return arr;
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
