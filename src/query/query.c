/*
** query.c — query dispatch: find the query type, validate, run.
*/
#include <jansson.h>
#include <stdio.h>

#include "gpx/query.h"

const char *const gpx_query_types[] = {"equity", "pnl",   "daily_pnl",        "drawdown", "returns",
                                       "stats",  "pnl_distribution", "slippage", "trades", NULL};

static void gpx__type_list(char *buf, size_t cap) {
  size_t off = 0;
  buf[0] = '\0';
  for (int i = 0; gpx_query_types[i] && off < cap; i++)
    off += (size_t)snprintf(buf + off, cap - off, "%s%s", i ? ", " : "", gpx_query_types[i]);
}

void gpx_query_execute(gpx_app *app, gpx_rpc_ctx *ctx, const Pluginv2__PluginContext *pctx,
                       const Pluginv2__DataQuery *q, gpx_data_response *dr) {
  json_error_t jerr;
  json_t *root = NULL;
  const char *qtype = (q->querytype && q->querytype[0]) ? q->querytype : NULL;
  if (q->json.len > 0) {
    root = json_loadb((const char *)q->json.data, q->json.len, JSON_REJECT_DUPLICATES, &jerr);
    if (root == NULL || !json_is_object(root)) {
      gpx_data_response_error(dr, 400, "plugin", "query JSON: %s",
                              root ? "must be an object" : jerr.text);
      json_decref(root);
      return;
    }
    json_t *t = json_object_get(root, "queryType");
    if (t != NULL && !json_is_string(t) && !json_is_null(t)) {
      gpx_data_response_error(dr, 400, "plugin", "queryType: must be a string");
      json_decref(root);
      return;
    }
    if (json_is_string(t) && json_string_length(t) > 0) qtype = json_string_value(t);
  }
  char types[256];
  gpx__type_list(types, sizeof types);
  if (qtype == NULL) {
    gpx_data_response_error(dr, 400, "plugin", "queryType: missing (expected one of %s)", types);
  } else {
    gpx_data_response_error(dr, 400, "plugin", "queryType: unknown query type \"%.64s\" (expected one of %s)",
                            qtype, types);
  }
  json_decref(root);
}
