/*
** instance.c — the data-source instance of a request: the protobuf
** DataSourceInstanceSettings turned into ds/'s plain description and looked
** up in the instance cache. Every handler that talks to Postgres starts
** here, before the query layer (README "Architecture").
*/
#include <stdlib.h>

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
