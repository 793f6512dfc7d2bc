/*
** rpc.h — a small gRPC server on the gRPC C core API (completion queues).
**
** Where a request enters the plugin. One poller thread drives a single
** completion queue; unary handlers run either inline on the poller (cheap
** calls: health, shutdown, metrics) or on a worker pool that grows on
** demand, so a slow call (a long Postgres query) never blocks the others.
** Server-streaming handlers run on a thread of their own (at most
** max_streams at once), so a stream that stays open for minutes never holds
** a pool worker. Each call is a small state machine with a reference count:
** the early RECV_CLOSE_ON_SERVER op (cancellation detection), the handler,
** and each batch in flight hold one reference; the last one frees the call.
**
** Handlers see the request bytes and never touch gRPC objects. A unary
** handler fills a gpx_rpc_reply. A streaming handler sends messages with
** gpx_rpc_send (one in flight at a time: that is the flow control), learns
** that the client left, the deadline passed or the server is stopping from
** a failed send, gpx_rpc_cancelled() or gpx_rpc_wait_cancelled(), and
** returns its final status in the same gpx_rpc_reply. A cancelled call's
** late answer is dropped. Methods not in the table get UNIMPLEMENTED.
**
** This module is not a general gRPC library: no client side, no client- or
** bidi-streaming, no metadata in replies. It knows nothing about Grafana or
** protobuf; svc/ supplies the method table and the message bytes.
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

/**
 * What a handler answers: the serialized response message (if any) and the
 * status. A streaming handler's reply is its final status; a body it leaves
 * there goes out as the last message, together with the status. Zeroed by
 * the server before the handler runs (code 0 is OK).
 */
typedef struct gpx_rpc_reply {
  gpx_buf body;       /* message to send; the server takes it (no copy) */
  int has_body;       /* 0: no message (status only) */
  int code;           /* gRPC status code */
  char message[256];  /* status details when code != OK */
  int then_shutdown;  /* begin server shutdown once this reply is sent */
} gpx_rpc_reply;

typedef void (*gpx_rpc_handler)(gpx_rpc_ctx *ctx, const uint8_t *req, size_t len,
                                gpx_rpc_reply *reply);

/**
 * Where and how a method's handler runs. 0 and 1 mean what the former
 * run_inline field's 0 and 1 meant, so tables written for it read the same.
 */
typedef enum gpx_rpc_kind {
  GPX_RPC_POOL = 0,   /* unary, on the worker pool: may block (Postgres) */
  GPX_RPC_INLINE = 1, /* unary, on the poller thread: must be fast and never block */
  GPX_RPC_STREAM = 2  /* server-streaming, on its own thread: gpx_rpc_send, then return */
} gpx_rpc_kind;

typedef struct gpx_rpc_method {
  const char *path;        /* "/pluginv2.Data/QueryData" */
  const char *name;        /* metrics label, e.g. "QueryData" */
  gpx_rpc_handler handler; /* NULL: UNIMPLEMENTED */
  gpx_rpc_kind kind;
} gpx_rpc_method;

typedef struct gpx_rpc_options {
  const char *address;        /* "unix:/path" or "127.0.0.1:0" */
  const gpx_rpc_method *methods;
  size_t n_methods;
  void *app;                  /* handed to handlers via gpx_rpc_app() */
  int min_workers;            /* default 4 */
  int max_workers;            /* default 64 */
  int max_recv_bytes;         /* default 64 MiB */
  int max_streams;            /* streaming calls at once, default 256; beyond: RESOURCE_EXHAUSTED */
  int max_queued;             /* unary calls waiting for a worker, default 256; beyond: RESOURCE_EXHAUSTED */
  int64_t max_queued_bytes;   /* their request payloads together, default 256 MiB; beyond: RESOURCE_EXHAUSTED */
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
 * a fatal error). At shutdown, open streams are told at once and end with
 * their handler's status; unary calls get 0.3 s to finish, then every call
 * is cancelled. Drains calls, joins the handler threads, destroys gRPC
 * objects and returns 0. Returns EBUSY if handlers still ran 1.5 s after
 * shutdown began: the caller should then exit without freeing the server.
 */
int gpx_rpc_run(gpx_rpc_server *s);

/** Free the server after gpx_rpc_run returned 0. */
void gpx_rpc_server_free(gpx_rpc_server *s);

/** Ask the server to stop; thread-safe (not async-signal-safe). */
void gpx_rpc_request_shutdown(gpx_rpc_server *s);

/** Snapshot the stats: fills up to cap entries (one per method + "other"); returns count. */
size_t gpx_rpc_stats(gpx_rpc_server *s, gpx_rpc_method_stats *out, size_t cap);
/** Calls currently being served. */
int64_t gpx_rpc_in_flight(gpx_rpc_server *s);
/** 1 while the next unary call would be refused (every worker busy and the
 *  queue full, in calls or bytes) or the server is stopping: Health.Check
 *  says NOT_SERVING then. Thread-safe. */
int gpx_rpc_saturated(gpx_rpc_server *s);

/* ---- for handlers ---- */
void *gpx_rpc_app(const gpx_rpc_ctx *ctx);
/**
 * 1 once the client cancelled, the deadline passed, or the server is
 * stopping (a streaming call learns of shutdown at once; a unary one after
 * the shutdown grace period). Thread-safe, cheap: fine to poll.
 */
int gpx_rpc_cancelled(const gpx_rpc_ctx *ctx);
/**
 * Sleep until gpx_rpc_cancelled(ctx) or timeout_ms passed, whichever comes
 * first (a negative timeout counts as 0); returns gpx_rpc_cancelled(ctx).
 * Woken at once by a cancel, a failed send or server shutdown, so a handler
 * that idles between messages never busy-waits. Blocks: not for
 * GPX_RPC_INLINE handlers.
 */
int gpx_rpc_wait_cancelled(gpx_rpc_ctx *ctx, int64_t timeout_ms);
/** gpx_rpc_cancelled for callbacks taking a void * (e.g. gpx_pg_cancel_fn). */
int gpx_rpc_cancelled_cb(void *ctx);
/** Absolute deadline in ms since the epoch (realtime), or 0 when none. */
int64_t gpx_rpc_deadline_ms(const gpx_rpc_ctx *ctx);
/** Value of request metadata `key` (lower-case), copied into buf; 0 if found. */
int gpx_rpc_metadata(const gpx_rpc_ctx *ctx, const char *key, char *buf, size_t cap);

/**
 * Send one message on a server stream (GPX_RPC_STREAM handlers only). Copies
 * msg once, so the caller may reuse it on return. Waits until the previous
 * message has been taken by the transport (one in flight: a client that
 * reads slowly slows the handler down instead of growing a queue), then
 * starts this one and returns 0 without waiting for it. Returns ECANCELED,
 * without blocking, once the client has gone, the deadline passed or the
 * server is stopping; EINVAL from a unary handler; EIO if gRPC refused the
 * batch. After a failure every later send fails too: return from the
 * handler. Meant for the handler's own thread; sends from two threads would
 * be serialised, in no defined order.
 */
int gpx_rpc_send(gpx_rpc_ctx *ctx, const uint8_t *msg, size_t len);
/**
 * gpx_rpc_send without the copy: steals msg's allocation (gRPC frees it when
 * the transport is done with it) and leaves *msg empty, also on failure.
 */
int gpx_rpc_send_steal(gpx_rpc_ctx *ctx, gpx_buf *msg);

/**
 * For tests and fuzz targets: a context for calling a handler directly,
 * without a server or a call (gpx_rpc_app returns app; never cancelled, no
 * deadline, no metadata; gpx_rpc_send fails as in a unary call). Free with
 * gpx_rpc_test_ctx_free.
 */
gpx_rpc_ctx *gpx_rpc_test_ctx_new(void *app);
void gpx_rpc_test_ctx_free(gpx_rpc_ctx *ctx);

/** Convenience for handlers: set an error status with a formatted message. */
void gpx_rpc_reply_error(gpx_rpc_reply *r, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#ifdef __cplusplus
}
#endif
#endif /* GPX_RPC_H */
