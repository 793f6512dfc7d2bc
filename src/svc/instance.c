/*
** instance.c — the data-source instance of a request: the protobuf
** DataSourceInstanceSettings turned into ds/'s plain description and looked
** up in the instance cache. Every handler that talks to Postgres starts
** here, before the query layer (README "Architecture").
*/
#include <stdlib.h>

#include <jansson.h>

#include "backend.pb-c.h"
#include "gpx/svc.h"

int gpx_svc_instance(gpx_app *app, const Pluginv2__PluginContext *pctx, gpx_ds_instance **out, gpx_error *err) {
  *out = NULL;
  const Pluginv2__DataSourceInstanceSettings *dsi = pctx ? pctx->datasourceinstancesettings : NULL;
  if (dsi == NULL || app->ds == NULL)
    return gpx_error_set(err, ENOENT, "request has no data-source instance settings");
  size_t n = dsi->n_decryptedsecurejsondata;
  gpx_ds_secret *sec = calloc(n ? n : 1, sizeof *sec);
  if (sec == NULL) return gpx_error_set(err, ENOMEM, "out of memory");
  for (size_t i = 0; i < n; i++) {
    sec[i].key = dsi->decryptedsecurejsondata[i]->key;
    sec[i].value = dsi->decryptedsecurejsondata[i]->value;
  }
  gpx_ds_source src = {dsi->uid, dsi->id, dsi->lastupdatedms, dsi->jsondata.data, dsi->jsondata.len, sec, n};
  int rc = gpx_ds_acquire(app->ds, &src, out, err);
  free(sec);
  return rc;
}

int gpx_svc_schema(gpx_rpc_ctx *ctx, gpx_ds_instance *inst, json_t **details, gpx_pg_error *pe, int *at_connect) {
  *details = NULL;
  *at_connect = 0;
  char *memo = NULL;
  if (gpx_ds_memo_get(inst, "schema", GPX_SVC_SCHEMA_MEMO_S, &memo)) {
    *details = json_loads(memo, 0, NULL);
    free(memo);
    if (*details) return GPX_OK;
  }
  gpx_pg_session sess;
  if (gpx_pg_acquire_light(inst->pool, &sess, gpx_rpc_cancelled_cb, ctx, gpx_rpc_deadline_ms(ctx), pe) != GPX_OK) {
    *at_connect = 1;
    return EIO;
  }
  int rc = gpx_schema_check(&sess, &inst->settings, details, pe);
  gpx_pg_release(&sess);
  if (rc != GPX_OK) return rc;
  char *js = json_dumps(*details, JSON_COMPACT);
  if (js) gpx_ds_memo_put(inst, "schema", js);
  free(js);
  return GPX_OK;
}
