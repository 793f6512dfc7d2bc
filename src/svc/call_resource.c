/*
** call_resource.c — Resource/CallResource: small JSON endpoints for the
** query editors and dashboard variables. The reply is one stream message
** whose `code` is a valid HTTP status (Grafana passes it to WriteHeader).
*/
#include <stdio.h>

#include "backend.pb-c.h"
#include "gpx/svc.h"

void gpx_svc_call_resource(gpx_rpc_ctx *ctx, const uint8_t *req, size_t len, gpx_rpc_reply *reply) {
  Pluginv2__CallResourceRequest *in = pluginv2__call_resource_request__unpack(NULL, len, req);
  if (in == NULL) {
    gpx_rpc_reply_error(reply, GPX_RPC_INVALID_ARGUMENT, "malformed CallResourceRequest");
    return;
  }
  char body[512];
  int n = snprintf(body, sizeof body, "{\"error\":\"unknown resource\"}");
  Pluginv2__CallResourceResponse out = PLUGINV2__CALL_RESOURCE_RESPONSE__INIT;
  out.code = 404;
  out.body.data = (uint8_t *)body;
  out.body.len = (size_t)n;
  gpx_svc_pack(&out.base, reply);
  pluginv2__call_resource_request__free_unpacked(in, NULL);
}
