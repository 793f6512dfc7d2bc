/*
** methods.c — the method table and go-plugin's side services.
**
** go-plugin calls Health/Check (Ping), GRPCController/Shutdown (on Kill)
** and GRPCStdio/StreamStdio and GRPCBroker/StartStream right after it
** connects (protocol spec §1.7). Everything not listed here, including the
** broker, is answered UNIMPLEMENTED by rpc/, which go-plugin and Grafana
** tolerate. The Stream service serves live queries (stream.c).
*/
#include "goplugin.pb-c.h"
#include "gpx/svc.h"
#include "health.pb-c.h"

void gpx_svc_pack(const ProtobufCMessage *m, gpx_rpc_reply *reply) {
  size_t n = protobuf_c_message_get_packed_size(m);
  if (gpx_buf_reserve(&reply->body, n) != GPX_OK) {
    gpx_rpc_reply_error(reply, GPX_RPC_RESOURCE_EXHAUSTED, "out of memory packing %zu bytes", n);
    return;
  }
  reply->body.len = protobuf_c_message_pack(m, reply->body.data);
  reply->has_body = 1;
}

static void gpx__health_check(gpx_rpc_ctx *ctx, const uint8_t *req, size_t len,
                              gpx_rpc_reply *reply) {
  Grpc__Health__V1__HealthCheckRequest *in =
      grpc__health__v1__health_check_request__unpack(NULL, len, req);
  if (in == NULL) {
    gpx_rpc_reply_error(reply, GPX_RPC_INVALID_ARGUMENT, "malformed HealthCheckRequest");
    return;
  }
  /* "" is the server as a whole; go-plugin asks about "plugin". */
  int known = in->service[0] == '\0' || strcmp(in->service, "plugin") == 0;
  if (!known) {
    gpx_rpc_reply_error(reply, GPX_RPC_NOT_FOUND, "unknown service %s", in->service);
  } else {
    Grpc__Health__V1__HealthCheckResponse out = GRPC__HEALTH__V1__HEALTH_CHECK_RESPONSE__INIT;
    /* honest: a plugin that would refuse the next call (every worker busy,
       the queue full) or that is stopping is not serving */
    gpx_app *app = gpx_rpc_app(ctx);
    int busy = app && app->server && gpx_rpc_saturated(app->server);
    out.status = busy ? GRPC__HEALTH__V1__HEALTH_CHECK_RESPONSE__SERVING_STATUS__NOT_SERVING
                      : GRPC__HEALTH__V1__HEALTH_CHECK_RESPONSE__SERVING_STATUS__SERVING;
    gpx_svc_pack(&out.base, reply);
  }
  grpc__health__v1__health_check_request__free_unpacked(in, NULL);
}

static void gpx__shutdown(gpx_rpc_ctx *ctx, const uint8_t *req, size_t len, gpx_rpc_reply *reply) {
  /* Reply first, then stop: rpc/ begins shutdown once this reply is sent. */
  Plugin__Empty out = PLUGIN__EMPTY__INIT;
  gpx_svc_pack(&out.base, reply);
  reply->then_shutdown = 1;
}

static void gpx__stdio(gpx_rpc_ctx *ctx, const uint8_t *req, size_t len, gpx_rpc_reply *reply) {
  /* Our logs go to stderr as hclog lines already: send nothing, stay open
     until the host leaves or we shut down, then end with OK, as go-plugin
     expects. The wait sleeps; a minute is only how often it looks up. */
  while (!gpx_rpc_wait_cancelled(ctx, 60 * 1000)) {
  }
}

static const gpx_rpc_method gpx__methods[] = {
    {"/grpc.health.v1.Health/Check", "Health.Check", gpx__health_check, 1},
    {"/plugin.GRPCController/Shutdown", "Shutdown", gpx__shutdown, 1},
    {"/plugin.GRPCStdio/StreamStdio", "StreamStdio", gpx__stdio, GPX_RPC_STREAM},
    {"/pluginv2.Diagnostics/CheckHealth", "CheckHealth", gpx_svc_check_health, 0},
    {"/pluginv2.Diagnostics/CollectMetrics", "CollectMetrics", gpx_svc_collect_metrics, 1},
    {"/pluginv2.Data/QueryData", "QueryData", gpx_svc_query_data, 0},
    {"/pluginv2.Resource/CallResource", "CallResource", gpx_svc_call_resource, 0},
    /* SubscribeStream looks up a table: cheap, but takes a mutex shared with
       RunStream's opening, so on the pool rather than the poller */
    {"/pluginv2.Stream/SubscribeStream", "SubscribeStream", gpx_svc_subscribe_stream, GPX_RPC_POOL},
    {"/pluginv2.Stream/RunStream", "RunStream", gpx_svc_run_stream, GPX_RPC_STREAM},
    {"/pluginv2.Stream/PublishStream", "PublishStream", gpx_svc_publish_stream, GPX_RPC_INLINE},
};

const gpx_rpc_method *gpx_svc_methods(size_t *n) {
  *n = sizeof gpx__methods / sizeof gpx__methods[0];
  return gpx__methods;
}
