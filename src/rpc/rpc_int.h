/*
** rpc_int.h — what the files of src/rpc/ share; nothing outside src/rpc/
** includes it (the module's face is include/gpx/rpc.h).
**
**   server.c  server, listeners, poller loop and tag dispatch, shutdown, stats
**   call.c    one call: its state machine, handler run, sends, final batch
**   pool.c    threads that run handlers: the unary worker pool and one
**             thread per open stream
**
** Internal names are gpx__rpc_*. Lock order, where two are held at once:
** pool.mu (stream registry) before a call's mu; stats_mu is a leaf.
*/
#ifndef GPX_RPC_INT_H
#define GPX_RPC_INT_H

#include <grpc/grpc.h>
#include <pthread.h>
#include <stdatomic.h>
#include <time.h>

#include "gpx/rpc.h"

/* Each outstanding op on a call (or listener, or the server) has its own tag,
   so one completion names exactly what finished (notes §5). */
typedef enum gpx__rpc_tag_kind {
  GPX__TAG_NEW,      /* a listener's request_call completed: a call arrived */
  GPX__TAG_CLOSE,    /* the early RECV_CLOSE_ON_SERVER: the call is over */
  GPX__TAG_SEND,     /* a stream message (gpx_rpc_send) was taken by the transport */
  GPX__TAG_FINISH,   /* the final batch (status, maybe a message) completed */
  GPX__TAG_SHUTDOWN  /* grpc_server_shutdown_and_notify completed */
} gpx__rpc_tag_kind;

typedef struct gpx__rpc_tag {
  gpx__rpc_tag_kind kind;
  void *owner;
} gpx__rpc_tag;

/*
 * Where a call is in its life (call.c has the transition table). The state
 * says which batch may be started next, so "is a send in flight", "was the
 * status sent" and "were stats recorded" are all read from it.
 */
typedef enum gpx__rpc_state {
  GPX__CALL_PENDING,   /* requested from gRPC, not arrived yet */
  GPX__CALL_ACCEPTED,  /* arrived, RECV_CLOSE armed, handler queued or running; nothing sent */
  GPX__CALL_SENDING,   /* a stream message batch is in flight */
  GPX__CALL_STREAMING, /* initial metadata and >= 1 message sent; nothing in flight */
  GPX__CALL_FINISHING, /* the final batch is in flight */
  GPX__CALL_DONE       /* final batch completed, or the answer was dropped; stats recorded */
} gpx__rpc_state;

/* Why a call counts as cancelled; the first reason wins. */
typedef enum gpx__rpc_cancel {
  GPX__CANCEL_NONE,
  GPX__CANCEL_CLIENT,   /* RECV_CLOSE said cancelled, or a send failed: the peer is gone */
  GPX__CANCEL_DEADLINE, /* the call's deadline passed */
  GPX__CANCEL_SHUTDOWN, /* the server is stopping (streams are told at once) */
  GPX__CANCEL_ERROR     /* gRPC refused a batch: nothing more can be sent */
} gpx__rpc_cancel;

struct gpx_rpc_ctx {
  gpx_rpc_server *server;
  int method;          /* index into the table, or n_methods for unknown */
  int generic;         /* arrived through grpc_server_request_call */
  gpx_rpc_kind kind;
  grpc_call *call;
  gpx__rpc_tag close_tag, send_tag, finish_tag;
  atomic_int refs;
  atomic_int cancel;   /* gpx__rpc_cancel; read without mu by gpx_rpc_cancelled */
  pthread_mutex_t mu;  /* guards state and the send_* fields; cv signals both */
  pthread_cond_t cv;   /* CLOCK_MONOTONIC */
  gpx__rpc_state state;
  int recv_cancelled;  /* RECV_CLOSE_ON_SERVER out-parameter */
  grpc_metadata_array req_md;
  grpc_byte_buffer *payload;
  gpr_timespec deadline;
  int64_t deadline_ms; /* realtime ms since the epoch, 0 = none (set on arrival) */
  grpc_call_details details;
  gpx_rpc_reply reply;
  grpc_byte_buffer *send_bb;   /* the stream message in flight */
  grpc_byte_buffer *finish_bb; /* the final batch's message */
  grpc_slice status_details;
  int has_status_slice;
  struct timespec start;
  struct gpx_rpc_ctx *next;    /* worker-pool queue link */
  size_t queued_bytes;         /* its payload's size while queued, 0 otherwise (pool.c, under its mutex) */
  int in_queue;                /* 1 while waiting for a worker (pool.c, under its mutex) */
};

/* One outstanding request per method; its ctx is filled by gRPC. */
typedef struct gpx__rpc_listener {
  gpx__rpc_tag tag;
  int method;
  void *handle; /* registered method handle; NULL for the generic listener */
  gpx_rpc_ctx *pending;
} gpx__rpc_listener;

/* A thread running one streaming handler; joined once done (pool.c). */
typedef struct gpx__rpc_stream_thread {
  pthread_t th;
  gpx_rpc_ctx *ctx; /* valid while !done: the thread holds the handler's reference */
  int done;
  struct gpx__rpc_stream_thread *next;
} gpx__rpc_stream_thread;

typedef struct gpx__rpc_pool {
  pthread_mutex_t mu;
  pthread_cond_t cv;
  gpx_rpc_ctx *head, *tail;
  int queued, idle, nthreads, max, stop;
  int64_t queued_bytes;            /* payloads of the queued calls */
  pthread_t *threads;
  gpx__rpc_stream_thread *streams; /* running and finished-but-unjoined */
  int nstreams;                    /* running */
  int nfinished;                   /* finished, not joined yet */
} gpx__rpc_pool;

struct gpx_rpc_server {
  grpc_server *server;
  grpc_completion_queue *cq;
  gpx_rpc_options opts;
  gpx__rpc_listener *listeners; /* n_methods + 1 (generic) */
  gpx__rpc_tag shutdown_tag;
  atomic_int shutdown_requested;
  int shutting_down;            /* poller thread only, like the two below */
  int shutdown_tag_seen;
  int cancelled_all;
  struct timespec shutdown_started;
  atomic_llong live;
  gpx__rpc_pool pool;
  pthread_mutex_t stats_mu;
  gpx_rpc_method_stats *stats; /* n_methods + 1 */
};

/* ---- call.c ---- */
gpx_rpc_ctx *gpx__rpc_ctx_new(gpx_rpc_server *s, int method, int generic);
/* Frees what gRPC filled in; safe for a ctx whose request never completed. */
void gpx__rpc_ctx_free(gpx_rpc_ctx *c);
void gpx__rpc_unref(gpx_rpc_ctx *c);
/* PENDING -> ACCEPTED: arm RECV_CLOSE, then run, queue or spawn the handler
   (poller thread, right after the listener was re-armed). */
void gpx__rpc_accept(gpx_rpc_ctx *c);
/* Completions of a call's tags (poller thread). */
void gpx__rpc_on_close(gpx_rpc_ctx *c, int success);
void gpx__rpc_on_send(gpx_rpc_ctx *c, int success);
void gpx__rpc_on_finish(gpx_rpc_ctx *c, int success);
/* Run the handler, then send or drop the answer. The caller holds the
   handler's reference and drops it afterwards (pool.c needs the order). */
void gpx__rpc_run_handler(gpx_rpc_ctx *c);
/* Tell a streaming call the server is stopping (poller, under pool.mu). */
void gpx__rpc_cancel_for_shutdown(gpx_rpc_ctx *c);

/* ---- pool.c ---- */
int gpx__rpc_pool_init(gpx_rpc_server *s);  /* before the server starts; ENOMEM */
void gpx__rpc_pool_start(gpx_rpc_server *s); /* the standing workers */
/** Queue a unary call for a worker; EAGAIN when the queue is full (calls or bytes). */
int gpx__rpc_pool_enqueue(gpx_rpc_server *s, gpx_rpc_ctx *c);
/** Take a call that is still waiting out of the queue (its client left); 1 if it was there. */
int gpx__rpc_pool_withdraw(gpx_rpc_server *s, gpx_rpc_ctx *c);
/* Start c's handler on a thread of its own; EAGAIN at max_streams. */
int gpx__rpc_stream_spawn(gpx_rpc_server *s, gpx_rpc_ctx *c);
void gpx__rpc_streams_cancel(gpx_rpc_server *s);
void gpx__rpc_streams_reap(gpx_rpc_server *s);
/* Stop the workers; join = 0 only asks them to stop (unclean exit). */
void gpx__rpc_pool_stop(gpx_rpc_server *s, int join);
void gpx__rpc_pool_destroy(gpx_rpc_server *s);

/* ---- server.c ---- */
void gpx__rpc_record(gpx_rpc_ctx *c, int code);
void gpx__rpc_begin_shutdown(gpx_rpc_server *s);
double gpx__rpc_elapsed(const struct timespec *since);

#endif /* GPX_RPC_INT_H */
