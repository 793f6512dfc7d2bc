/*
** query_data.c — Data/QueryData: one DataResponse per refId.
**
** A request batches every query of one data source in one dashboard
** refresh (spec §4.3). For each query this handler looks up the data-source
** instance, hands the query layer plain values (gpx_query_execute),
** converts its result into a DataResponse and records the query metrics.
** Each query is answered independently: a bad or failing query sets only
** its own refId's error, and the others still answer. Up to the data
** source's concurrentQueries run at once, each on its own connection and
** thread (gpx_par_run); the answers keep the request's order. Frames are
** Arrow IPC files (format ARROW = 0).
*/
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "gpx/log.h"
#include "gpx/svc.h"

/* Queries answered per request; a request with more gets a 400 for each
   query past the limit (bounded work per request, issue 10). Grafana sends
   one request per panel; a panel has a handful of queries. */
#define GPX_MAX_QUERIES_PER_REQUEST 100

static double gpx__now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

void gpx_svc_query_input(const Pluginv2__DataQuery *q, int allow_test, gpx_query_input *in) {
  memset(in, 0, sizeof *in);
  in->ref_id = q->refid;
  in->query_type = q->querytype;
  in->json = q->json.data;
  in->json_len = q->json.len;
  in->has_time_range = q->timerange != NULL;
  if (q->timerange) {
    in->from_ms = q->timerange->fromepochms;
    in->to_ms = q->timerange->toepochms;
  }
  in->interval_ms = q->intervalms;
  in->max_points = q->maxdatapoints;
  in->allow_test = allow_test;
}

/* One request's queries: the data-source instance is looked up once, then
   each query is answered into its own slot of res by gpx_par_run. */
typedef struct gpx__batch {
  gpx_app *app;
  gpx_rpc_ctx *ctx;
  const Pluginv2__QueryDataRequest *in;
  gpx_ds_instance *inst; /* NULL: no data source (inst_rc ENOENT) or invalid settings */
  int inst_rc;
  gpx_error inst_err;
  gpx_query_result *res;
  int skip_cache; /* X-Cache-Skip: true */
} gpx__batch;

/* Grafana's header for "do not answer from a cache" (its own query cache
   reads it too); forwarded headers may carry an "http_" prefix. */
static int gpx__skip_cache(const Pluginv2__QueryDataRequest *in) {
  for (size_t i = 0; i < in->n_headers; i++) {
    const char *k = in->headers[i]->key, *v = in->headers[i]->value;
    if (k && strncasecmp(k, "http_", 5) == 0) k += 5;
    if (k && v && strcasecmp(k, "X-Cache-Skip") == 0 && (strcasecmp(v, "true") == 0 || strcmp(v, "1") == 0))
      return 1;
  }
  return 0;
}

/* Answer query i into b->res[i] (initialised). Runs on several threads at
   once: it touches only slot i and thread-safe shared state (the instance's
   admission counter and pool, the query stats, the log). */
static void gpx__answer(void *arg, size_t i) {
  gpx__batch *b = arg;
  gpx_app *app = b->app;
  const Pluginv2__DataQuery *q = b->in->queries[i];
  gpx_query_result *res = &b->res[i];
  double t0 = gpx__now();
  gpx_query_input in;
  gpx_svc_query_input(q, app->test_queries, &in);
  in.deadline_ms = gpx_rpc_deadline_ms(b->ctx);
  in.live = app->live; /* a `live` query's frames name the channel that pushes its updates */
  in.skip_cache = b->skip_cache;
  gpx_ds_instance *inst = b->inst;
  if (i >= GPX_MAX_QUERIES_PER_REQUEST) {
    gpx_query_fail(res, E2BIG, 400, "plugin", "too many queries in one request (%zu; at most %d are answered)",
                   b->in->n_queries, GPX_MAX_QUERIES_PER_REQUEST);
  } else if (gpx_rpc_cancelled(b->ctx)) {
    gpx_query_fail(res, ECANCELED, 499, "plugin", "request cancelled");
  } else if (b->inst_rc != GPX_OK && b->inst_rc != ENOENT) {
    gpx_query_fail(res, b->inst_rc, 400, "plugin", "data source settings: %s", b->inst_err.msg);
  } else if (inst && !gpx_ds_admit(inst)) {
    gpx_query_fail(res, EAGAIN, 503, "plugin",
                   "too many concurrent queries for this data source (%d running and %d waiting: maxOpenConnections "
                   "+ maxQueuedQueries); try again shortly",
                   inst->settings.max_open_connections, inst->settings.max_queued_queries);
  } else {
    /* without an instance the query is still validated, then refused (400) */
    gpx_query_execute(inst, &in, gpx_rpc_cancelled_cb, b->ctx, res);
    if (inst) gpx_ds_leave(inst);
  }
  gpx_query_stats_record(&app->qstats, res->kind, res->error.status, gpx__now() - t0);
  if (res->error.status >= 500) {
    json_t *f = json_pack("{s:s, s:i, s:s}", "refId", q->refid ? q->refid : "", "status", res->error.status, "error",
                          res->error.message);
    gpx_log(GPX_LOG_WARN, "query failed", f);
  }
}

void gpx_svc_query_data(gpx_rpc_ctx *ctx, const uint8_t *req, size_t len, gpx_rpc_reply *reply) {
  gpx_app *app = gpx_rpc_app(ctx);
  Pluginv2__QueryDataRequest *in = pluginv2__query_data_request__unpack(NULL, len, req);
  if (in == NULL) {
    gpx_rpc_reply_error(reply, GPX_RPC_INVALID_ARGUMENT, "malformed QueryDataRequest");
    return;
  }
  size_t n = in->n_queries;
  gpx_query_result *res = calloc(n ? n : 1, sizeof *res);
  Pluginv2__QueryDataResponse__ResponsesEntry *entries = calloc(n ? n : 1, sizeof *entries);
  Pluginv2__QueryDataResponse__ResponsesEntry **eptrs = calloc(n ? n : 1, sizeof *eptrs);
  Pluginv2__DataResponse *outs = calloc(n ? n : 1, sizeof *outs);
  ProtobufCBinaryData **frames = calloc(n ? n : 1, sizeof *frames);
  gpx__batch b = {.app = app, .ctx = ctx, .in = in, .res = res, .skip_cache = gpx__skip_cache(in)};
  if (!res || !entries || !eptrs || !outs || !frames) {
    gpx_rpc_reply_error(reply, GPX_RPC_RESOURCE_EXHAUSTED, "out of memory");
    goto done;
  }
  for (size_t i = 0; i < n; i++) gpx_query_result_init(&res[i]);
  b.inst_rc = n ? gpx_svc_instance(app, in->plugincontext, &b.inst, &b.inst_err) : ENOENT;
  /* Up to concurrentQueries at once, each on its own connection (the
     setting is at most the pool's size). More would only wait for a
     connection; a query never holds one while it waits for another, so
     requests sharing a small pool wait their turn (each wait ends at the
     query's deadline) and never deadlock. Results stay in request order:
     query i answers into res[i]. */
  gpx_par_run(n, b.inst ? b.inst->settings.concurrent_queries : 1, gpx__answer, &b);
  Pluginv2__QueryDataResponse out = PLUGINV2__QUERY_DATA_RESPONSE__INIT;
  for (size_t i = 0; i < n; i++) {
    Pluginv2__DataResponse *o = &outs[i];
    pluginv2__data_response__init(o);
    o->status = res[i].error.status;
    o->format = PLUGINV2__DATA_FRAME_FORMAT__ARROW;
    if (res[i].error.status != 200) {
      o->error = res[i].error.message;
      o->errorsource = (char *)(res[i].error.source ? res[i].error.source : "plugin");
    }
    if (res[i].n_frames) {
      frames[i] = calloc(res[i].n_frames, sizeof **frames);
      if (frames[i] == NULL) {
        gpx_rpc_reply_error(reply, GPX_RPC_RESOURCE_EXHAUSTED, "out of memory");
        goto done;
      }
      /* zero-copy: the reply points at the encoded frames until packed */
      for (size_t k = 0; k < res[i].n_frames; k++) {
        frames[i][k].data = res[i].frames[k].data;
        frames[i][k].len = res[i].frames[k].len;
      }
      o->frames = frames[i];
      o->n_frames = res[i].n_frames;
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
  for (size_t i = 0; res && i < n; i++) {
    gpx_query_result_reset(&res[i]);
    if (frames) free(frames[i]);
  }
  free(res);
  free(entries);
  free(eptrs);
  free(outs);
  free(frames);
  gpx_ds_release(app->ds, b.inst);
  pluginv2__query_data_request__free_unpacked(in, NULL);
}
