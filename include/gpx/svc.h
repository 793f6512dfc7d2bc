/*
** svc.h — the plugin's gRPC services: one file per method under src/svc/.
**
** The method table maps go-plugin and pluginv2 paths to handlers; handlers
** decode protobuf with protobuf-c, call into ds/ (settings), pg/ (SQL) and
** trading/ (numbers), and encode the reply. Errors are mapped once, here:
** a failed query becomes that refId's DataResponse.error + status +
** errorSource; only a broken request (undecodable protobuf) becomes a non-OK
** gRPC status (style.md rule 3).
*/
#ifndef GPX_SVC_H
#define GPX_SVC_H

#include <protobuf-c/protobuf-c.h>
#include <pthread.h>

#include "backend.pb-c.h"
#include "gpx/core.h"
#include "gpx/query.h"
#include "gpx/rpc.h"

struct gpx_ds_cache;

/* Per query kind (registry index; one more row for "invalid") × answer
   status, for CollectMetrics. The registry fits by its own static assert. */
#define GPX_QSTAT_TYPES (GPX_QUERY_KINDS_MAX + 1)
#define GPX_QSTAT_STATUSES 8
extern const int gpx_qstat_status_codes[GPX_QSTAT_STATUSES]; /* 200 … ; last = other */

typedef struct gpx_query_stats {
  pthread_mutex_t mu;
  uint64_t count[GPX_QSTAT_TYPES][GPX_QSTAT_STATUSES];
  uint64_t hist[GPX_QSTAT_TYPES][GPX_RPC_HIST_BUCKETS + 1];
  double sum[GPX_QSTAT_TYPES];
} gpx_query_stats;

/** Record one answered query; kind = registry index, or -1 for a query that named no valid kind. */
void gpx_query_stats_record(gpx_query_stats *qs, int kind, int status, double seconds);

/** Process-wide state shared by every handler (thread-safe members only). */
typedef struct gpx_app {
  gpx_rpc_server *server;
  double start_time;          /* epoch seconds, for process_start_time_seconds */
  int test_queries;           /* GPX_TEST_QUERIES=1 enables test-only query types */
  struct gpx_ds_cache *ds;    /* data-source instances, keyed by uid + lastUpdatedMS */
  gpx_query_stats qstats;     /* mutex initialised by the owner (main) */
  gpx_live *live;             /* live queries' channels and listeners (query/live.c); NULL: live is off */
} gpx_app;

/** The method table served by the plugin binary. */
const gpx_rpc_method *gpx_svc_methods(size_t *n);

/**
 * The request's data-source instance from the cache (gpx_ds_acquire; the
 * caller releases it with gpx_ds_release). ENOENT when the request names no
 * data source, EINVAL (message naming the field) for invalid settings.
 */
int gpx_svc_instance(gpx_app *app, const Pluginv2__PluginContext *pctx, gpx_ds_instance **out, gpx_error *err);

/**
 * The schema check of an instance (gpx_schema_check) through the light
 * connection lane, remembered for GPX_SVC_SCHEMA_MEMO_S: Save & test and
 * the `schema` resource. 0 with *details (new reference); else pe filled,
 * and *at_connect says whether connecting failed (vs the check itself).
 */
#define GPX_SVC_SCHEMA_MEMO_S 10.0
int gpx_svc_schema(gpx_rpc_ctx *ctx, gpx_ds_instance *inst, json_t **details, gpx_pg_error *pe, int *at_connect);

/** The query layer's input for a DataQuery (borrowing its strings). */
void gpx_svc_query_input(const Pluginv2__DataQuery *q, int allow_test, gpx_query_input *in);

/** Pack a protobuf-c message into the reply body. */
void gpx_svc_pack(const ProtobufCMessage *m, gpx_rpc_reply *reply);

/* Handlers (src/svc/<name>.c). */
void gpx_svc_query_data(gpx_rpc_ctx *ctx, const uint8_t *req, size_t len, gpx_rpc_reply *reply);
void gpx_svc_check_health(gpx_rpc_ctx *ctx, const uint8_t *req, size_t len, gpx_rpc_reply *reply);
void gpx_svc_collect_metrics(gpx_rpc_ctx *ctx, const uint8_t *req, size_t len, gpx_rpc_reply *reply);
void gpx_svc_call_resource(gpx_rpc_ctx *ctx, const uint8_t *req, size_t len, gpx_rpc_reply *reply);
/* The Stream service (stream.c): Grafana Live for live queries. */
void gpx_svc_subscribe_stream(gpx_rpc_ctx *ctx, const uint8_t *req, size_t len, gpx_rpc_reply *reply);
void gpx_svc_run_stream(gpx_rpc_ctx *ctx, const uint8_t *req, size_t len, gpx_rpc_reply *reply);
void gpx_svc_publish_stream(gpx_rpc_ctx *ctx, const uint8_t *req, size_t len, gpx_rpc_reply *reply);

/** Render the Prometheus text exposition (also used by tests). */
int gpx_svc_metrics_text(gpx_app *app, gpx_buf *out);

#endif /* GPX_SVC_H */
