/*
** stream.c — the Stream service (Grafana Live): SubscribeStream,
** RunStream, PublishStream for the live queries (query/live.c).
**
** Grafana subscribes to the meta.channel of a live query's frame: the path
** arrives without the query, so only paths this process issued (and issued
** for the requesting data source) are accepted — anything else, forged,
** oversized or not UTF-8, is NOT_FOUND. Grafana runs one RunStream per
** channel for all its viewers and cancels it 10–15 s after the last one
** left; the handler then closes the channel, which releases the change
** listener (and its connection) with the instance's last channel.
** PublishStream is denied: the data source is read-only.
*/
#include <stdio.h>
#include <stdlib.h>

#include "gpx/log.h"
#include "gpx/svc.h"

/* The longest id Grafana accepts is 160 characters (SDK live/channel.go). */
#define GPX__CHANNEL_MAX 160

/* A copy of a request's path fit for messages and lookups; NULL when it cannot be one of ours. */
static const char *gpx__path(const char *path) {
  if (path == NULL) return NULL;
  size_t n = strnlen(path, GPX__CHANNEL_MAX + 1);
  if (n > GPX__CHANNEL_MAX || !gpx_utf8_valid(path, n)) return NULL;
  return path;
}

static const char *gpx__uid(const Pluginv2__PluginContext *pctx) {
  const Pluginv2__DataSourceInstanceSettings *d = pctx ? pctx->datasourceinstancesettings : NULL;
  return d && d->uid ? d->uid : "";
}

void gpx_svc_subscribe_stream(gpx_rpc_ctx *ctx, const uint8_t *req, size_t len, gpx_rpc_reply *reply) {
  gpx_app *app = gpx_rpc_app(ctx);
  Pluginv2__SubscribeStreamRequest *in = pluginv2__subscribe_stream_request__unpack(NULL, len, req);
  if (in == NULL) {
    gpx_rpc_reply_error(reply, GPX_RPC_INVALID_ARGUMENT, "malformed SubscribeStreamRequest");
    return;
  }
  Pluginv2__SubscribeStreamResponse out = PLUGINV2__SUBSCRIBE_STREAM_RESPONSE__INIT;
  out.status = PLUGINV2__SUBSCRIBE_STREAM_RESPONSE__STATUS__NOT_FOUND;
  gpx_error err;
  const char *path = gpx__path(in->path);
  if (path == NULL) {
    gpx_logf(GPX_LOG_DEBUG, "live: subscribe refused: path longer than %d characters or not UTF-8", GPX__CHANNEL_MAX);
  } else if (app->live == NULL || gpx_live_check(app->live, gpx__uid(in->plugincontext), path, &err) != GPX_OK) {
    gpx_logf(GPX_LOG_DEBUG, "live: subscribe to %.*s refused: %s", (int)gpx_utf8_clip(path, 80), path,
             app->live ? err.msg : "live queries are off");
  } else {
    out.status = PLUGINV2__SUBSCRIBE_STREAM_RESPONSE__STATUS__OK;
  }
  gpx_svc_pack(&out.base, reply);
  pluginv2__subscribe_stream_request__free_unpacked(in, NULL);
}

void gpx_svc_publish_stream(gpx_rpc_ctx *ctx, const uint8_t *req, size_t len, gpx_rpc_reply *reply) {
  (void)ctx;
  Pluginv2__PublishStreamRequest *in = pluginv2__publish_stream_request__unpack(NULL, len, req);
  if (in == NULL) {
    gpx_rpc_reply_error(reply, GPX_RPC_INVALID_ARGUMENT, "malformed PublishStreamRequest");
    return;
  }
  Pluginv2__PublishStreamResponse out = PLUGINV2__PUBLISH_STREAM_RESPONSE__INIT;
  out.status = PLUGINV2__PUBLISH_STREAM_RESPONSE__STATUS__PERMISSION_DENIED; /* read-only data source */
  gpx_svc_pack(&out.base, reply);
  pluginv2__publish_stream_request__free_unpacked(in, NULL);
}

/* How long one wait for a change lasts before the loop looks up again. */
#define GPX__RUN_WAIT_MS 1000

void gpx_svc_run_stream(gpx_rpc_ctx *ctx, const uint8_t *req, size_t len, gpx_rpc_reply *reply) {
  gpx_app *app = gpx_rpc_app(ctx);
  Pluginv2__RunStreamRequest *in = pluginv2__run_stream_request__unpack(NULL, len, req);
  if (in == NULL) {
    gpx_rpc_reply_error(reply, GPX_RPC_INVALID_ARGUMENT, "malformed RunStreamRequest");
    return;
  }
  gpx_error err;
  gpx_ds_instance *inst = NULL;
  gpx_live_channel *ch = NULL;
  const char *path = gpx__path(in->path);
  if (path == NULL) {
    gpx_rpc_reply_error(reply, GPX_RPC_NOT_FOUND, "channel path longer than %d characters or not UTF-8",
                        GPX__CHANNEL_MAX);
    goto done;
  }
  if (app->live == NULL) {
    gpx_rpc_reply_error(reply, GPX_RPC_NOT_FOUND, "live queries are off in this process");
    goto done;
  }
  int rc = gpx_svc_instance(app, in->plugincontext, &inst, &err);
  if (rc != GPX_OK) {
    gpx_rpc_reply_error(reply, rc == ENOENT ? GPX_RPC_NOT_FOUND : GPX_RPC_INVALID_ARGUMENT, "data source: %s",
                        err.msg);
    goto done;
  }
  rc = gpx_live_open(app->live, inst, path, &ch, &err);
  if (rc != GPX_OK) {
    int code = rc == EBUSY ? GPX_RPC_RESOURCE_EXHAUSTED : rc == ENOMEM || rc == EAGAIN ? GPX_RPC_UNAVAILABLE
                                                                                       : GPX_RPC_NOT_FOUND;
    gpx_rpc_reply_error(reply, code, "live channel %.*s: %s", (int)gpx_utf8_clip(path, 80), path, err.msg);
    goto done;
  }
  gpx_logf(GPX_LOG_DEBUG, "live: channel %s open", path);
  int failing = 0;
  /* The first round computes at once: it covers whatever changed between
     QueryData and now. Then one round per change until Grafana cancels. */
  while (!gpx_rpc_cancelled(ctx)) {
    gpx_buf packet = {0};
    gpx_query_error qe;
    rc = gpx_live_next(ch, GPX__RUN_WAIT_MS, gpx_rpc_cancelled_cb, ctx, &packet, &qe);
    if (rc != GPX_OK) {
      gpx_buf_reset(&packet);
      if (gpx_rpc_cancelled(ctx)) break;
      if (!failing++) gpx_logf(GPX_LOG_WARN, "live: channel %s: recompute failed (%d): %s; retrying", path, qe.status, qe.message);
      continue;
    }
    if (failing) gpx_logf(GPX_LOG_INFO, "live: channel %s: recompute works again", path);
    failing = 0;
    if (packet.len) {
      /* a StreamPacket whose data is the JSON frame */
      Pluginv2__StreamPacket pk = PLUGINV2__STREAM_PACKET__INIT;
      pk.data.data = packet.data;
      pk.data.len = packet.len;
      gpx_buf msg = {0};
      size_t n = protobuf_c_message_get_packed_size(&pk.base);
      rc = gpx_buf_reserve(&msg, n);
      if (rc == GPX_OK) {
        msg.len = protobuf_c_message_pack(&pk.base, msg.data);
        rc = gpx_rpc_send_steal(ctx, &msg);
      }
      gpx_buf_reset(&msg);
      if (rc != GPX_OK) {
        gpx_buf_reset(&packet);
        break; /* the client left (or out of memory: Grafana restarts the stream) */
      }
    }
    gpx_buf_reset(&packet);
  }
  gpx_logf(GPX_LOG_DEBUG, "live: channel %s closed", path);
done:
  gpx_live_close(ch);
  if (inst) gpx_ds_release(app->ds, inst);
  pluginv2__run_stream_request__free_unpacked(in, NULL);
}
