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

#include "gpx/core.h"
#include "gpx/rpc.h"

struct gpx_ds_cache;

/* Per query type (the 9 types + "invalid") × answer status, for CollectMetrics. */
#define GPX_QSTAT_TYPES 10
#define GPX_QSTAT_STATUSES 7
extern const int gpx_qstat_status_codes[GPX_QSTAT_STATUSES]; /* 200 … ; last = other */

typedef struct gpx_query_stats {
  pthread_mutex_t mu;
  uint64_t count[GPX_QSTAT_TYPES][GPX_QSTAT_STATUSES];
  uint64_t hist[GPX_QSTAT_TYPES][GPX_RPC_HIST_BUCKETS + 1];
  double sum[GPX_QSTAT_TYPES];
} gpx_query_stats;

/** Record one answered query; type_index = GPX_QSTAT_TYPES - 1 for invalid queries. */
void gpx_query_stats_record(gpx_query_stats *qs, int type_index, int status, double seconds);

/** Process-wide state shared by every handler (thread-safe members only). */
typedef struct gpx_app {
  gpx_rpc_server *server;
  double start_time;          /* epoch seconds, for process_start_time_seconds */
  int test_queries;           /* GPX_TEST_QUERIES=1 enables test-only query types */
  struct gpx_ds_cache *ds;    /* data-source instances, keyed by uid + lastUpdatedMS */
  gpx_query_stats qstats;     /* mutex initialised by the owner (main) */
} gpx_app;

/** The method table served by the plugin binary. */
const gpx_rpc_method *gpx_svc_methods(size_t *n);

/** One refId's answer while it is being built. */
typedef struct gpx_data_response {
  gpx_buf *frames;          /* encoded Arrow IPC files, owned */
  size_t n_frames, cap_frames;
  int status;               /* HTTP-like; 200 on success */
  char error[1024];         /* empty on success */
  const char *error_source; /* "plugin" or "downstream" when error is set */
} gpx_data_response;

void gpx_data_response_init(gpx_data_response *r);
void gpx_data_response_reset(gpx_data_response *r);
/** Append an encoded frame; *frame is moved (left empty). */
int gpx_data_response_add_frame(gpx_data_response *r, gpx_buf *frame);
/** Set the error; drops frames already added. */
void gpx_data_response_error(gpx_data_response *r, int status, const char *source,
                             const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/** Pack a protobuf-c message into the reply body. */
void gpx_svc_pack(const ProtobufCMessage *m, gpx_rpc_reply *reply);

/* Handlers (src/svc/<name>.c). */
void gpx_svc_query_data(gpx_rpc_ctx *ctx, const uint8_t *req, size_t len, gpx_rpc_reply *reply);
void gpx_svc_check_health(gpx_rpc_ctx *ctx, const uint8_t *req, size_t len, gpx_rpc_reply *reply);
void gpx_svc_collect_metrics(gpx_rpc_ctx *ctx, const uint8_t *req, size_t len, gpx_rpc_reply *reply);
void gpx_svc_call_resource(gpx_rpc_ctx *ctx, const uint8_t *req, size_t len, gpx_rpc_reply *reply);

/** Render the Prometheus text exposition (also used by tests). */
int gpx_svc_metrics_text(gpx_app *app, gpx_buf *out);

#endif /* GPX_SVC_H */
