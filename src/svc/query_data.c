/*
** query_data.c — Data/QueryData: one DataResponse per refId.
**
** A request batches every query of one data source in one dashboard
** refresh (spec §4.3). Each query is answered independently: a bad or
** failing query sets only its own refId's error, and the others still
** answer. Frames are Arrow IPC files (format ARROW = 0, status 200).
*/
#include <stdio.h>
#include <stdlib.h>

#include "backend.pb-c.h"
#include "gpx/log.h"
#include "gpx/query.h"
#include "gpx/svc.h"

void gpx_svc_query_data(gpx_rpc_ctx *ctx, const uint8_t *req, size_t len, gpx_rpc_reply *reply) {
  gpx_app *app = gpx_rpc_app(ctx);
  Pluginv2__QueryDataRequest *in = pluginv2__query_data_request__unpack(NULL, len, req);
  if (in == NULL) {
    gpx_rpc_reply_error(reply, GPX_RPC_INVALID_ARGUMENT, "malformed QueryDataRequest");
    return;
  }
  size_t n = in->n_queries;
  gpx_data_response *drs = calloc(n ? n : 1, sizeof *drs);
  Pluginv2__QueryDataResponse__ResponsesEntry *entries = calloc(n ? n : 1, sizeof *entries);
  Pluginv2__QueryDataResponse__ResponsesEntry **eptrs = calloc(n ? n : 1, sizeof *eptrs);
  Pluginv2__DataResponse *outs = calloc(n ? n : 1, sizeof *outs);
  ProtobufCBinaryData **frames = calloc(n ? n : 1, sizeof *frames);
  if (!drs || !entries || !eptrs || !outs || !frames) {
    gpx_rpc_reply_error(reply, GPX_RPC_RESOURCE_EXHAUSTED, "out of memory");
    goto done;
  }
  for (size_t i = 0; i < n; i++) {
    const Pluginv2__DataQuery *q = in->queries[i];
    gpx_data_response_init(&drs[i]);
    if (gpx_rpc_cancelled(ctx)) {
      gpx_data_response_error(&drs[i], 499, "plugin", "request cancelled");
    } else {
      gpx_query_execute(app, ctx, in->plugincontext, q, &drs[i]);
    }
    if (drs[i].error[0] && drs[i].status >= 500) {
      json_t *f = json_pack("{s:s, s:i, s:s}", "refId", q->refid, "status", drs[i].status,
                            "error", drs[i].error);
      gpx_log(GPX_LOG_WARN, "query failed", f);
    }
  }
  Pluginv2__QueryDataResponse out = PLUGINV2__QUERY_DATA_RESPONSE__INIT;
  for (size_t i = 0; i < n; i++) {
    Pluginv2__DataResponse *o = &outs[i];
    pluginv2__data_response__init(o);
    o->status = drs[i].status;
    o->format = PLUGINV2__DATA_FRAME_FORMAT__ARROW;
    if (drs[i].error[0]) {
      o->error = drs[i].error;
      o->errorsource = (char *)(drs[i].error_source ? drs[i].error_source : "plugin");
    }
    if (drs[i].n_frames) {
      frames[i] = calloc(drs[i].n_frames, sizeof **frames);
      if (frames[i] == NULL) {
        gpx_rpc_reply_error(reply, GPX_RPC_RESOURCE_EXHAUSTED, "out of memory");
        goto done;
      }
      for (size_t k = 0; k < drs[i].n_frames; k++) {
        frames[i][k].data = drs[i].frames[k].data;
        frames[i][k].len = drs[i].frames[k].len;
      }
      o->frames = frames[i];
      o->n_frames = drs[i].n_frames;
    }
    pluginv2__query_data_response__responses_entry__init(&entries[i]);
    entries[i].key = in->queries[i]->refid;
    entries[i].value = o;
    eptrs[i] = &entries[i];
  }
  out.n_responses = n;
  out.responses = eptrs;
  gpx_svc_pack(&out.base, reply);
done:
  for (size_t i = 0; drs && i < n; i++) {
    gpx_data_response_reset(&drs[i]);
    if (frames) free(frames[i]);
  }
  free(drs);
  free(entries);
  free(eptrs);
  free(outs);
  free(frames);
  pluginv2__query_data_request__free_unpacked(in, NULL);
}
