/*
** rpc.h — a small gRPC server on the gRPC C core API (completion queues).
**
** Where a request enters the plugin. One poller thread drives a single
** completion queue; handlers run either inline on the poller (cheap calls:
** health, shutdown, metrics) or on a worker pool that grows on demand, so a
** slow call (a long Postgres query) never blocks the others. Each call is a
** small state machine with a reference count: the early RECV_CLOSE_ON_SERVER
** op (cancellation detection), the handler, and the final send batch each
** hold one reference; the last one frees the call.
**
** Handlers see the request bytes and fill a gpx_rpc_reply; they never touch
** gRPC objects. A cancelled call's handler can poll gpx_rpc_cancelled() and
** its late answer is dropped. Methods not in the table get UNIMPLEMENTED.
**
** This module knows nothing about Grafana; svc/ supplies the method table.
*/
#ifndef GPX_RPC_H
#define GPX_RPC_H

#include <stddef.h>
#include <stdint.h>

#include "gpx/core.h"

#ifdef __cplusplus
extern "C" {
#endif

/* gRPC status codes used by handlers (same numbers as grpc_status_code). */
enum {
  GPX_RPC_OK = 0,
  GPX_RPC_CANCELLED = 1,
  GPX_RPC_UNKNOWN = 2,
  GPX_RPC_INVALID_ARGUMENT = 3,
  GPX_RPC_DEADLINE_EXCEEDED = 4,
  GPX_RPC_NOT_FOUND = 5,
  GPX_RPC_RESOURCE_EXHAUSTED = 8,
  GPX_RPC_UNIMPLEMENTED = 12,
  GPX_RPC_INTERNAL = 13,
  GPX_RPC_UNAVAILABLE = 14,
  GPX_RPC_NCODES = 17
};

typedef struct gpx_rpc_server gpx_rpc_server;
typedef struct gpx_rpc_ctx gpx_rpc_ctx;

/** What a handler answers. body is the serialized response message. */
typedef struct gpx_rpc_reply {
  gpx_buf body;       /* message to send (unary, or the single stream message) */
  int has_body;       /* 0: no message (status only) */
  int code;           /* gRPC status code */
  char message[256];  /* status details when code != OK */
  int hold_open;      /* server-stream kept open, silent, until shutdown */
  int then_shutdown;  /* begin server shutdown once this reply is sent */
} gpx_rpc_reply;

typedef void (*gpx_rpc_handler)(gpx_rpc_ctx *ctx, const uint8_t *req, size_t len,
                                gpx_rpc_reply *reply);

typedef struct gpx_rpc_method {
  const char *path;        /* "/pluginv2.Data/QueryData" */
  const char *name;        /* metrics label, e.g. "QueryData" */
  gpx_rpc_handler handler; /* NULL: UNIMPLEMENTED */
  int run_inline;          /* run on the poller thread (must be fast, non-blocking) */
} gpx_rpc_method;

typedef struct gpx_rpc_options {
  const char *address;        /* "unix:/path" or "127.0.0.1:0" */
  const gpx_rpc_method *methods;
  size_t n_methods;
  void *app;                  /* handed to handlers via gpx_rpc_app() */
  int min_workers;            /* default 4 */
  int max_workers;            /* default 64 */
  int max_recv_bytes;         /* default 64 MiB */
} gpx_rpc_options;

/** Per-method counters and latency histogram, readable while serving. */
#define GPX_RPC_HIST_BUCKETS 14
extern const double gpx_rpc_hist_bounds[GPX_RPC_HIST_BUCKETS]; /* seconds, upper bounds */

typedef struct gpx_rpc_method_stats {
  const char *name;
  uint64_t calls_by_code[GPX_RPC_NCODES];
  uint64_t hist[GPX_RPC_HIST_BUCKETS + 1]; /* non-cumulative; last = +Inf */
  double sum_seconds;
  uint64_t count;
} gpx_rpc_method_stats;

/**
 * Create, bind and start the server. On success *out owns the server and the
 * returned port (for TCP) is in *port_out (may be NULL). Call gpx_rpc_run next.
 */
int gpx_rpc_server_start(const gpx_rpc_options *opts, gpx_rpc_server **out, int *port_out,
                         gpx_error *err);

/**
 * Serve until shutdown completes (Shutdown RPC, gpx_rpc_request_shutdown, or
 * a fatal error). Drains calls, stops workers, destroys gRPC objects.
 * Returns 0 after a clean shutdown.
 */
int gpx_rpc_run(gpx_rpc_server *s);

/** Free the server after gpx_rpc_run returned. */
void gpx_rpc_server_free(gpx_rpc_server *s);

/** Ask the server to stop; thread-safe (not async-signal-safe). */
void gpx_rpc_request_shutdown(gpx_rpc_server *s);

/** Snapshot the stats: fills up to cap entries (one per method + "other"); returns count. */
size_t gpx_rpc_stats(gpx_rpc_server *s, gpx_rpc_method_stats *out, size_t cap);
/** Calls currently being served. */
int64_t gpx_rpc_in_flight(gpx_rpc_server *s);

/* ---- for handlers ---- */
void *gpx_rpc_app(const gpx_rpc_ctx *ctx);
/** 1 once the client cancelled, the deadline passed, or the server is stopping. */
int gpx_rpc_cancelled(const gpx_rpc_ctx *ctx);
/** gpx_rpc_cancelled for callbacks taking a void * (e.g. gpx_pg_cancel_fn). */
int gpx_rpc_cancelled_cb(void *ctx);
/** Absolute deadline in ms since the epoch (realtime), or 0 when none. */
int64_t gpx_rpc_deadline_ms(const gpx_rpc_ctx *ctx);
/** Value of request metadata `key` (lower-case), copied into buf; 0 if found. */
int gpx_rpc_metadata(const gpx_rpc_ctx *ctx, const char *key, char *buf, size_t cap);

/** Convenience for handlers: set an error status with a formatted message. */
void gpx_rpc_reply_error(gpx_rpc_reply *r, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#ifdef __cplusplus
}
#endif
#endif /* GPX_RPC_H */
