/*
** check_health.c — Diagnostics/CheckHealth ("Save & test").
*/
#include <stdio.h>

#include "backend.pb-c.h"
#include "gpx/svc.h"

void gpx_svc_check_health(gpx_rpc_ctx *ctx, const uint8_t *req, size_t len, gpx_rpc_reply *reply) {
  Pluginv2__CheckHealthRequest *in = pluginv2__check_health_request__unpack(NULL, len, req);
  if (in == NULL) {
    gpx_rpc_reply_error(reply, GPX_RPC_INVALID_ARGUMENT, "malformed CheckHealthRequest");
    return;
  }
  char msg[256];
  snprintf(msg, sizeof msg, "%s %s is running", GPX_PLUGIN_ID, GPX_VERSION);
  Pluginv2__CheckHealthResponse out = PLUGINV2__CHECK_HEALTH_RESPONSE__INIT;
  out.status = PLUGINV2__CHECK_HEALTH_RESPONSE__HEALTH_STATUS__OK;
  out.message = msg;
  gpx_svc_pack(&out.base, reply);
  pluginv2__check_health_request__free_unpacked(in, NULL);
}
