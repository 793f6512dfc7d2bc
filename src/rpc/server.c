/*
** server.c — the gRPC core server behind rpc.h.
**
** Threading (grpc-core-notes.md §4, model D): one poller thread owns the
** completion queue and every tag completion; handlers run on the poller
** (inline methods) or on a growable worker pool. grpc_call_start_batch is
** only ever issued for a call by one thread at a time: the early
** RECV_CLOSE batch by the poller before the handler is scheduled, the final
** send batch by whoever ran the handler, and (for held streams) the closing
** status by the poller after that send completed.
**
** Memory rule (notes §5): every op's out-parameters and tags live in the
** heap per-call struct, freed when its reference count reaches zero.
*/
#include <grpc/byte_buffer.h>
#include <grpc/byte_buffer_reader.h>
#include <grpc/grpc.h>
#include <grpc/grpc_security.h>
#include <grpc/slice.h>
#include <grpc/support/alloc.h>
#include <grpc/support/log.h>
#include <grpc/support/time.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "gpx/log.h"
#include "gpx/rpc.h"

const double gpx_rpc_hist_bounds[GPX_RPC_HIST_BUCKETS] = {
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};

typedef enum { TAG_NEW, TAG_CLOSE, TAG_SEND, TAG_SHUTDOWN } gpx__tag_kind;

typedef struct gpx__tag {
  gpx__tag_kind kind;
  void *owner;
} gpx__tag;

struct gpx_rpc_ctx {
  gpx_rpc_server *server;
  int method;          /* index into the table, or n_methods for unknown */
  int generic;         /* arrived through grpc_server_request_call */
  grpc_call *call;
  gpx__tag close_tag;
  gpx__tag send_tag;
  atomic_int refs;
  atomic_int cancelled;
  atomic_int recorded;
  int recv_cancelled;  /* RECV_CLOSE_ON_SERVER out-parameter */
  grpc_metadata_array req_md;
  grpc_byte_buffer *payload;
  gpr_timespec deadline;
  grpc_call_details details;
  gpx_rpc_reply reply;
  grpc_byte_buffer *send_bb;
  grpc_slice status_details;
  int has_status_slice;
  int held;            /* in the held list (open stream) */
  int send_inflight;   /* a send batch is outstanding (poller-owned for held calls) */
  int closed_held;     /* closing status already sent */
  struct timespec start;
  struct gpx_rpc_ctx *next;
};

/* One outstanding request per method; its ctx is filled by gRPC. */
typedef struct gpx__listener {
  gpx__tag tag;
  int method;
  void *handle; /* registered method handle; NULL for the generic listener */
  gpx_rpc_ctx *pending;
} gpx__listener;

typedef struct gpx__pool {
  pthread_mutex_t mu;
  pthread_cond_t cv;
  gpx_rpc_ctx *head, *tail;
  int queued, idle, nthreads, max, stop;
  pthread_t *threads;
} gpx__pool;

struct gpx_rpc_server {
  grpc_server *server;
  grpc_completion_queue *cq;
  gpx_rpc_options opts;
  gpx__listener *listeners; /* n_methods + 1 (generic) */
  gpx__tag shutdown_tag;
  atomic_int shutdown_requested;
  int shutting_down;
  int shutdown_tag_seen;
  int cancelled_all;
  struct timespec shutdown_started;
  atomic_llong live;
  gpx__pool pool;
  pthread_mutex_t held_mu;
  gpx_rpc_ctx *held;
  pthread_mutex_t stats_mu;
  gpx_rpc_method_stats *stats; /* n_methods + 1 */
};

/* ------------------------------------------------------------------ util */

static double gpx__elapsed(const struct timespec *since) {
  struct timespec now;
  clock_gettime(CLOCK_MONOTONIC, &now);
  return (double)(now.tv_sec - since->tv_sec) + (double)(now.tv_nsec - since->tv_nsec) / 1e9;
}

void gpx_rpc_reply_error(gpx_rpc_reply *r, int code, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(r->message, sizeof r->message, fmt, ap);
  va_end(ap);
  r->code = code;
  r->has_body = 0;
  gpx_buf_reset(&r->body);
}

void *gpx_rpc_app(const gpx_rpc_ctx *ctx) { return ctx->server->opts.app; }

int64_t gpx_rpc_deadline_ms(const gpx_rpc_ctx *ctx) {
  gpr_timespec d = gpr_convert_clock_type(ctx->deadline, GPR_CLOCK_REALTIME);
  if (gpr_time_cmp(d, gpr_inf_future(GPR_CLOCK_REALTIME)) >= 0) return 0;
  if (d.tv_sec > INT64_MAX / 2000) return 0;
  return d.tv_sec * 1000 + d.tv_nsec / 1000000;
}

int gpx_rpc_cancelled(const gpx_rpc_ctx *ctx) {
  if (atomic_load(&ctx->cancelled)) return 1;
  int64_t d = gpx_rpc_deadline_ms(ctx);
  if (d != 0) {
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    if ((int64_t)now.tv_sec * 1000 + now.tv_nsec / 1000000 >= d) return 1;
  }
  return 0;
}

int gpx_rpc_cancelled_cb(void *ctx) { return gpx_rpc_cancelled((const gpx_rpc_ctx *)ctx); }

int gpx_rpc_metadata(const gpx_rpc_ctx *ctx, const char *key, char *buf, size_t cap) {
  for (size_t i = 0; i < ctx->req_md.count; i++) {
    const grpc_metadata *m = &ctx->req_md.metadata[i];
    if (grpc_slice_str_cmp(m->key, key) == 0) {
      size_t n = GRPC_SLICE_LENGTH(m->value);
      if (cap == 0) return 0;
      if (n >= cap) n = cap - 1;
      memcpy(buf, GRPC_SLICE_START_PTR(m->value), n);
      buf[n] = '\0';
      return 0;
    }
  }
  return -1;
}

/* --------------------------------------------------------------- stats */

static void gpx__record(gpx_rpc_ctx *c, int code) {
  if (atomic_exchange(&c->recorded, 1)) return;
  double secs = gpx__elapsed(&c->start);
  gpx_rpc_server *s = c->server;
  if (code < 0 || code >= GPX_RPC_NCODES) code = GPX_RPC_UNKNOWN;
  pthread_mutex_lock(&s->stats_mu);
  gpx_rpc_method_stats *st = &s->stats[c->method];
  st->calls_by_code[code]++;
  int b = 0;
  while (b < GPX_RPC_HIST_BUCKETS && secs > gpx_rpc_hist_bounds[b]) b++;
  st->hist[b]++;
  st->sum_seconds += secs;
  st->count++;
  pthread_mutex_unlock(&s->stats_mu);
  if (gpx_log_get_level() <= GPX_LOG_DEBUG) {
    json_t *f = json_pack("{s:s, s:i, s:f}", "method", st->name, "code", code, "seconds", secs);
    gpx_log(GPX_LOG_DEBUG, "call finished", f);
  }
}

size_t gpx_rpc_stats(gpx_rpc_server *s, gpx_rpc_method_stats *out, size_t cap) {
  size_t n = s->opts.n_methods + 1;
  if (n > cap) n = cap;
  pthread_mutex_lock(&s->stats_mu);
  memcpy(out, s->stats, n * sizeof *out);
  pthread_mutex_unlock(&s->stats_mu);
  return n;
}

int64_t gpx_rpc_in_flight(gpx_rpc_server *s) { return (int64_t)atomic_load(&s->live); }

/* ------------------------------------------------------------ lifecycle */

static gpx_rpc_ctx *gpx__ctx_new(gpx_rpc_server *s, int method, int generic) {
  gpx_rpc_ctx *c = calloc(1, sizeof *c);
  if (c == NULL) return NULL;
  c->server = s;
  c->method = method;
  c->generic = generic;
  c->close_tag.kind = TAG_CLOSE;
  c->close_tag.owner = c;
  c->send_tag.kind = TAG_SEND;
  c->send_tag.owner = c;
  grpc_metadata_array_init(&c->req_md);
  if (generic) grpc_call_details_init(&c->details);
  return c;
}

/* Frees what gRPC filled in; safe for a ctx whose request never completed. */
static void gpx__ctx_free(gpx_rpc_ctx *c) {
  if (c->call != NULL) grpc_call_unref(c->call);
  grpc_metadata_array_destroy(&c->req_md);
  if (c->generic) grpc_call_details_destroy(&c->details);
  if (c->payload != NULL) grpc_byte_buffer_destroy(c->payload);
  if (c->send_bb != NULL) grpc_byte_buffer_destroy(c->send_bb);
  if (c->has_status_slice) grpc_slice_unref(c->status_details);
  gpx_buf_reset(&c->reply.body);
  free(c);
}

static void gpx__unref(gpx_rpc_ctx *c) {
  if (atomic_fetch_sub(&c->refs, 1) == 1) {
    gpx_rpc_server *s = c->server;
    gpx__ctx_free(c);
    atomic_fetch_sub(&s->live, 1);
  }
}

static int gpx__arm(gpx_rpc_server *s, gpx__listener *l) {
  gpx_rpc_ctx *c = gpx__ctx_new(s, l->method, l->handle == NULL);
  if (c == NULL) return ENOMEM;
  l->pending = c;
  grpc_call_error e;
  if (l->handle != NULL) {
    e = grpc_server_request_registered_call(s->server, l->handle, &c->call, &c->deadline,
                                            &c->req_md, &c->payload, s->cq, s->cq, &l->tag);
  } else {
    e = grpc_server_request_call(s->server, &c->call, &c->details, &c->req_md, s->cq, s->cq,
                                 &l->tag);
  }
  if (e != GRPC_CALL_OK) {
    gpx__ctx_free(c);
    l->pending = NULL;
    gpx_logf(GPX_LOG_ERROR, "rpc: cannot request calls (grpc_call_error %d)", (int)e);
    return EIO;
  }
  return GPX_OK;
}

/* -------------------------------------------------------------- sending */

static void gpx__held_add(gpx_rpc_ctx *c) {
  gpx_rpc_server *s = c->server;
  pthread_mutex_lock(&s->held_mu);
  c->held = 1;
  c->next = s->held;
  s->held = c;
  pthread_mutex_unlock(&s->held_mu);
}

/* Start the final batch for c. Takes a reference for the batch. */
static void gpx__send_reply(gpx_rpc_ctx *c) {
  grpc_op ops[3];
  size_t n = 0;
  memset(ops, 0, sizeof ops);
  gpx_rpc_reply *r = &c->reply;

  ops[n].op = GRPC_OP_SEND_INITIAL_METADATA;
  ops[n].data.send_initial_metadata.count = 0;
  n++;
  if (r->has_body && r->code == GPX_RPC_OK) {
    size_t len = 0;
    uint8_t *p = gpx_buf_release(&r->body, &len);
    /* grpc_slice_new takes ownership and frees with free(): no copy of a
       possibly very large response. */
    grpc_slice sl = len ? grpc_slice_new(p, len, free) : grpc_empty_slice();
    if (!len) free(p);
    c->send_bb = grpc_raw_byte_buffer_create(&sl, 1);
    grpc_slice_unref(sl);
    ops[n].op = GRPC_OP_SEND_MESSAGE;
    ops[n].data.send_message.send_message = c->send_bb;
    n++;
  }
  if (!r->hold_open) {
    ops[n].op = GRPC_OP_SEND_STATUS_FROM_SERVER;
    ops[n].data.send_status_from_server.status = (grpc_status_code)r->code;
    ops[n].data.send_status_from_server.trailing_metadata_count = 0;
    if (r->code != GPX_RPC_OK && r->message[0]) {
      c->status_details = grpc_slice_from_copied_string(r->message);
      c->has_status_slice = 1;
      ops[n].data.send_status_from_server.status_details = &c->status_details;
    }
    n++;
  } else {
    gpx__held_add(c);
  }
  atomic_fetch_add(&c->refs, 1);
  c->send_inflight = 1;
  grpc_call_error e = grpc_call_start_batch(c->call, ops, n, &c->send_tag, NULL);
  if (e != GRPC_CALL_OK) {
    gpx_logf(GPX_LOG_ERROR, "rpc: start_batch failed (%d)", (int)e);
    c->send_inflight = 0;
    gpx__record(c, GPX_RPC_INTERNAL);
    gpx__unref(c);
  }
}

/* Send OK to a held stream (poller thread only). */
static void gpx__close_held(gpx_rpc_ctx *c) {
  if (c->closed_held || c->send_inflight) return;
  grpc_op op;
  memset(&op, 0, sizeof op);
  op.op = GRPC_OP_SEND_STATUS_FROM_SERVER;
  op.data.send_status_from_server.status = GRPC_STATUS_OK;
  c->closed_held = 1;
  atomic_fetch_add(&c->refs, 1);
  c->send_inflight = 1;
  if (grpc_call_start_batch(c->call, &op, 1, &c->send_tag, NULL) != GRPC_CALL_OK) {
    c->send_inflight = 0;
    gpx__unref(c);
  }
}

/* ------------------------------------------------------------- handling */

static void gpx__run_handler(gpx_rpc_ctx *c) {
  gpx_rpc_server *s = c->server;
  const gpx_rpc_method *m = &s->opts.methods[c->method];
  memset(&c->reply, 0, sizeof c->reply);
  if (!gpx_rpc_cancelled(c)) {
    grpc_slice all = grpc_empty_slice();
    int ok = 1;
    if (c->payload != NULL) {
      grpc_byte_buffer_reader rd;
      if (grpc_byte_buffer_reader_init(&rd, c->payload)) {
        all = grpc_byte_buffer_reader_readall(&rd);
        grpc_byte_buffer_reader_destroy(&rd);
      } else {
        ok = 0;
      }
    }
    if (!ok) {
      gpx_rpc_reply_error(&c->reply, GPX_RPC_INTERNAL, "cannot read request message");
    } else {
      c->reply.code = GPX_RPC_OK;
      m->handler(c, GRPC_SLICE_START_PTR(all), GRPC_SLICE_LENGTH(all), &c->reply);
    }
    grpc_slice_unref(all);
  }
  if (gpx_rpc_cancelled(c) && !c->reply.then_shutdown) {
    /* The client is gone or the deadline passed: drop the late answer. */
    gpx__record(c, atomic_load(&c->cancelled) ? GPX_RPC_CANCELLED : GPX_RPC_DEADLINE_EXCEEDED);
    gpx_buf_reset(&c->reply.body);
  } else {
    gpx__send_reply(c);
  }
  gpx__unref(c); /* the handler's reference */
}

static void *gpx__worker(void *arg) {
  gpx_rpc_server *s = arg;
  gpx__pool *p = &s->pool;
  for (;;) {
    pthread_mutex_lock(&p->mu);
    while (!p->stop && p->head == NULL) {
      p->idle++;
      pthread_cond_wait(&p->cv, &p->mu);
      p->idle--;
    }
    if (p->head == NULL) { /* stop requested and nothing left */
      pthread_mutex_unlock(&p->mu);
      return NULL;
    }
    gpx_rpc_ctx *c = p->head;
    p->head = c->next;
    if (p->head == NULL) p->tail = NULL;
    p->queued--;
    pthread_mutex_unlock(&p->mu);
    c->next = NULL;
    gpx__run_handler(c);
  }
}

static void gpx__enqueue(gpx_rpc_server *s, gpx_rpc_ctx *c) {
  gpx__pool *p = &s->pool;
  pthread_mutex_lock(&p->mu);
  c->next = NULL;
  if (p->tail) p->tail->next = c; else p->head = c;
  p->tail = c;
  p->queued++;
  /* Grow when every worker is busy, so one slow call cannot hold up others. */
  if (p->queued > p->idle && p->nthreads < p->max) {
    if (pthread_create(&p->threads[p->nthreads], NULL, gpx__worker, s) == 0) p->nthreads++;
  }
  pthread_cond_signal(&p->cv);
  pthread_mutex_unlock(&p->mu);
}

static int gpx__method_for_path(gpx_rpc_server *s, gpx_rpc_ctx *c) {
  for (size_t i = 0; i < s->opts.n_methods; i++)
    if (grpc_slice_str_cmp(c->details.method, s->opts.methods[i].path) == 0) return (int)i;
  return -1;
}

/* A new call arrived on listener l (poller thread). */
static void gpx__on_new_call(gpx_rpc_server *s, gpx__listener *l, int success) {
  gpx_rpc_ctx *c = l->pending;
  l->pending = NULL;
  if (!success || s->shutting_down) {
    /* Shutdown completes pending requests with success == 0; a call that
       slipped in during shutdown is dropped (unref cancels it). */
    if (c != NULL) gpx__ctx_free(c);
    return;
  }
  gpx__arm(s, l); /* keep one request outstanding before handling this one */

  clock_gettime(CLOCK_MONOTONIC, &c->start);
  atomic_fetch_add(&s->live, 1);
  atomic_store(&c->refs, 1); /* RECV_CLOSE's reference */
  if (c->generic) c->deadline = c->details.deadline;

  grpc_op op;
  memset(&op, 0, sizeof op);
  op.op = GRPC_OP_RECV_CLOSE_ON_SERVER;
  op.data.recv_close_on_server.cancelled = &c->recv_cancelled;
  if (grpc_call_start_batch(c->call, &op, 1, &c->close_tag, NULL) != GRPC_CALL_OK) {
    atomic_store(&c->cancelled, 1);
    gpx__unref(c); /* never arrives; a cancelled call with no work left */
    return;
  }
  atomic_fetch_add(&c->refs, 1); /* the handler's (or the UNIMPLEMENTED reply's) reference */

  if (c->generic) {
    /* Every method not in the table; a registered one may also arrive here
       if the client used an unexpected path form, so check by name. */
    int idx = gpx__method_for_path(s, c);
    char *path = grpc_slice_to_c_string(c->details.method);
    c->method = (int)s->opts.n_methods;
    memset(&c->reply, 0, sizeof c->reply);
    gpx_rpc_reply_error(&c->reply, GPX_RPC_UNIMPLEMENTED, "method %s not implemented", path);
    if (idx >= 0) gpx_logf(GPX_LOG_WARN, "rpc: %s arrived unregistered", path);
    gpr_free(path);
    gpx__send_reply(c);
    gpx__unref(c);
    return;
  }
  const gpx_rpc_method *m = &s->opts.methods[c->method];
  if (m->handler == NULL) {
    memset(&c->reply, 0, sizeof c->reply);
    gpx_rpc_reply_error(&c->reply, GPX_RPC_UNIMPLEMENTED, "method %s not implemented", m->path);
    gpx__send_reply(c);
    gpx__unref(c);
  } else if (m->run_inline) {
    gpx__run_handler(c);
  } else {
    gpx__enqueue(s, c);
  }
}

static void gpx__begin_shutdown(gpx_rpc_server *s) {
  if (s->shutting_down) return;
  s->shutting_down = 1;
  clock_gettime(CLOCK_MONOTONIC, &s->shutdown_started);
  gpx_log(GPX_LOG_DEBUG, "rpc: shutting down", NULL);
  pthread_mutex_lock(&s->held_mu);
  for (gpx_rpc_ctx *c = s->held; c; c = c->next) gpx__close_held(c);
  pthread_mutex_unlock(&s->held_mu);
  grpc_server_shutdown_and_notify(s->server, s->cq, &s->shutdown_tag);
}

static void gpx__held_remove(gpx_rpc_server *s, gpx_rpc_ctx *c) {
  pthread_mutex_lock(&s->held_mu);
  for (gpx_rpc_ctx **pp = &s->held; *pp; pp = &(*pp)->next) {
    if (*pp == c) {
      *pp = c->next;
      break;
    }
  }
  c->held = 0;
  pthread_mutex_unlock(&s->held_mu);
}

static void gpx__dispatch(gpx_rpc_server *s, grpc_event ev) {
  gpx__tag *t = ev.tag;
  switch (t->kind) {
    case TAG_NEW:
      gpx__on_new_call(s, (gpx__listener *)t->owner, ev.success);
      break;
    case TAG_CLOSE: {
      gpx_rpc_ctx *c = t->owner;
      if (c->recv_cancelled || !ev.success) atomic_store(&c->cancelled, 1);
      if (c->held) gpx__held_remove(s, c);
      gpx__unref(c);
      break;
    }
    case TAG_SEND: {
      gpx_rpc_ctx *c = t->owner;
      c->send_inflight = 0;
      if (c->reply.hold_open && !c->closed_held) {
        /* initial metadata went out; the stream now idles until shutdown */
        if (s->shutting_down) gpx__close_held(c);
      } else {
        int code = ev.success ? c->reply.code : GPX_RPC_CANCELLED;
        gpx__record(c, code);
        if (c->reply.then_shutdown) gpx__begin_shutdown(s);
      }
      if (c->send_bb) {
        grpc_byte_buffer_destroy(c->send_bb);
        c->send_bb = NULL;
      }
      gpx__unref(c);
      break;
    }
    case TAG_SHUTDOWN:
      s->shutdown_tag_seen = 1;
      break;
  }
}

/* Route gRPC's own logging into our JSON lines: stderr must stay hclog-only. */
static void gpx__gpr_log(gpr_log_func_args *a) {
  gpx_log_level lvl = a->severity == GPR_LOG_SEVERITY_ERROR ? GPX_LOG_ERROR
                      : a->severity == GPR_LOG_SEVERITY_INFO ? GPX_LOG_INFO
                                                             : GPX_LOG_DEBUG;
  json_t *f = json_pack("{s:s, s:i}", "file", a->file ? a->file : "", "line", a->line);
  gpx_log(lvl, a->message, f);
}

int gpx_rpc_server_start(const gpx_rpc_options *opts, gpx_rpc_server **out, int *port_out,
                         gpx_error *err) {
  *out = NULL;
  if (opts == NULL || opts->address == NULL || opts->methods == NULL)
    return gpx_error_set(err, EINVAL, "rpc: options, address and methods are required");
  gpx_rpc_server *s = calloc(1, sizeof *s);
  if (s == NULL) return gpx_error_set(err, ENOMEM, "rpc: out of memory");
  s->opts = *opts;
  if (s->opts.min_workers <= 0) s->opts.min_workers = 4;
  if (s->opts.max_workers < s->opts.min_workers) s->opts.max_workers = 64;
  if (s->opts.max_recv_bytes <= 0) s->opts.max_recv_bytes = 64 << 20;
  size_t n = s->opts.n_methods;
  s->listeners = calloc(n + 1, sizeof *s->listeners);
  s->stats = calloc(n + 1, sizeof *s->stats);
  s->pool.threads = calloc((size_t)s->opts.max_workers, sizeof(pthread_t));
  if (!s->listeners || !s->stats || !s->pool.threads) {
    free(s->listeners);
    free(s->stats);
    free(s->pool.threads);
    free(s);
    return gpx_error_set(err, ENOMEM, "rpc: out of memory");
  }
  for (size_t i = 0; i < n; i++) s->stats[i].name = s->opts.methods[i].name;
  s->stats[n].name = "other";
  pthread_mutex_init(&s->pool.mu, NULL);
  pthread_cond_init(&s->pool.cv, NULL);
  pthread_mutex_init(&s->held_mu, NULL);
  pthread_mutex_init(&s->stats_mu, NULL);
  s->pool.max = s->opts.max_workers;
  s->shutdown_tag.kind = TAG_SHUTDOWN;
  s->shutdown_tag.owner = s;

  gpr_set_log_function(gpx__gpr_log);
  grpc_init();

  grpc_arg args[2];
  memset(args, 0, sizeof args);
  args[0].type = GRPC_ARG_INTEGER;
  args[0].key = (char *)GRPC_ARG_MAX_RECEIVE_MESSAGE_LENGTH;
  args[0].value.integer = s->opts.max_recv_bytes;
  args[1].type = GRPC_ARG_INTEGER;
  args[1].key = (char *)GRPC_ARG_MAX_SEND_MESSAGE_LENGTH;
  args[1].value.integer = -1;
  grpc_channel_args cargs = {2, args};
  s->server = grpc_server_create(&cargs, NULL);
  s->cq = grpc_completion_queue_create_for_next(NULL);
  grpc_server_register_completion_queue(s->server, s->cq, NULL);

  int rc = GPX_OK;
  for (size_t i = 0; i < n && rc == GPX_OK; i++) {
    gpx__listener *l = &s->listeners[i];
    l->tag.kind = TAG_NEW;
    l->tag.owner = l;
    l->method = (int)i;
    /* Unary and server-streaming both get the request with the call. */
    l->handle = grpc_server_register_method(s->server, s->opts.methods[i].path, NULL,
                                            GRPC_SRM_PAYLOAD_READ_INITIAL_BYTE_BUFFER, 0);
    if (l->handle == NULL)
      rc = gpx_error_set(err, EINVAL, "rpc: cannot register method %s", s->opts.methods[i].path);
  }
  s->listeners[n].tag.kind = TAG_NEW;
  s->listeners[n].tag.owner = &s->listeners[n];
  s->listeners[n].method = (int)n;

  int port = 0;
  if (rc == GPX_OK) {
    grpc_server_credentials *creds = grpc_insecure_server_credentials_create();
    port = grpc_server_add_http2_port(s->server, s->opts.address, creds);
    grpc_server_credentials_release(creds);
    if (port == 0) rc = gpx_error_set(err, EADDRINUSE, "rpc: cannot listen on %s", s->opts.address);
  }
  if (rc == GPX_OK) {
    grpc_server_start(s->server);
    for (size_t i = 0; i <= n && rc == GPX_OK; i++)
      if (gpx__arm(s, &s->listeners[i]) != GPX_OK)
        rc = gpx_error_set(err, EIO, "rpc: cannot request calls");
  }
  if (rc != GPX_OK) {
    /* grpc_server_destroy aborts unless shutdown_and_notify ran and drained. */
    s->shutting_down = 1;
    grpc_server_shutdown_and_notify(s->server, s->cq, &s->shutdown_tag);
    grpc_server_cancel_all_calls(s->server);
    for (;;) {
      grpc_event ev = grpc_completion_queue_next(s->cq, gpr_inf_future(GPR_CLOCK_REALTIME), NULL);
      if (ev.type != GRPC_OP_COMPLETE) break;
      gpx__dispatch(s, ev);
      if (s->shutdown_tag_seen) break;
    }
    for (size_t i = 0; i <= n; i++)
      if (s->listeners[i].pending) gpx__ctx_free(s->listeners[i].pending);
    grpc_server_destroy(s->server);
    grpc_completion_queue_shutdown(s->cq);
    while (grpc_completion_queue_next(s->cq, gpr_inf_future(GPR_CLOCK_REALTIME), NULL).type !=
           GRPC_QUEUE_SHUTDOWN) {
    }
    grpc_completion_queue_destroy(s->cq);
    s->server = NULL;
    s->cq = NULL;
    grpc_shutdown();
    gpx_rpc_server_free(s);
    return rc;
  }
  /* A small standing pool; more threads are added on demand. */
  pthread_mutex_lock(&s->pool.mu);
  for (int i = 0; i < s->opts.min_workers; i++)
    if (pthread_create(&s->pool.threads[s->pool.nthreads], NULL, gpx__worker, s) == 0)
      s->pool.nthreads++;
  pthread_mutex_unlock(&s->pool.mu);
  if (port_out) *port_out = port;
  *out = s;
  return GPX_OK;
}

void gpx_rpc_request_shutdown(gpx_rpc_server *s) { atomic_store(&s->shutdown_requested, 1); }

int gpx_rpc_run(gpx_rpc_server *s) {
  int clean = 1;
  for (;;) {
    gpr_timespec dl = gpr_time_add(gpr_now(GPR_CLOCK_MONOTONIC), gpr_time_from_millis(50, GPR_TIMESPAN));
    grpc_event ev = grpc_completion_queue_next(s->cq, dl, NULL);
    if (ev.type == GRPC_OP_COMPLETE) gpx__dispatch(s, ev);
    else if (ev.type == GRPC_QUEUE_SHUTDOWN) break;
    if (atomic_load(&s->shutdown_requested)) gpx__begin_shutdown(s);
    if (!s->shutting_down) continue;
    double t = gpx__elapsed(&s->shutdown_started);
    /* Give in-flight calls a short grace period, then cancel them; Grafana
       kills the process 2 s after Shutdown, so finish well within that. */
    if (!s->cancelled_all && (t > 0.3 || (s->shutdown_tag_seen && atomic_load(&s->live) == 0))) {
      grpc_server_cancel_all_calls(s->server);
      s->cancelled_all = 1;
    }
    if (s->shutdown_tag_seen && atomic_load(&s->live) == 0) break;
    if (t > 1.5) {
      gpx_logf(GPX_LOG_WARN, "rpc: %lld calls still busy at shutdown", (long long)atomic_load(&s->live));
      clean = 0;
      break;
    }
  }
  /* Stop the pool: handlers still running keep the process alive otherwise. */
  pthread_mutex_lock(&s->pool.mu);
  s->pool.stop = 1;
  pthread_cond_broadcast(&s->pool.cv);
  pthread_mutex_unlock(&s->pool.mu);
  if (!clean) return EBUSY; /* workers may still hold calls: caller should _exit */
  for (int i = 0; i < s->pool.nthreads; i++) pthread_join(s->pool.threads[i], NULL);
  for (size_t i = 0; i <= s->opts.n_methods; i++) {
    if (s->listeners[i].pending) {
      gpx__ctx_free(s->listeners[i].pending);
      s->listeners[i].pending = NULL;
    }
  }
  grpc_server_destroy(s->server);
  grpc_completion_queue_shutdown(s->cq);
  for (;;) {
    grpc_event ev = grpc_completion_queue_next(s->cq, gpr_inf_future(GPR_CLOCK_REALTIME), NULL);
    if (ev.type == GRPC_QUEUE_SHUTDOWN) break;
  }
  grpc_completion_queue_destroy(s->cq);
  s->server = NULL;
  s->cq = NULL;
  grpc_shutdown();
  return GPX_OK;
}

void gpx_rpc_server_free(gpx_rpc_server *s) {
  if (s == NULL) return;
  pthread_mutex_destroy(&s->pool.mu);
  pthread_cond_destroy(&s->pool.cv);
  pthread_mutex_destroy(&s->held_mu);
  pthread_mutex_destroy(&s->stats_mu);
  free(s->pool.threads);
  free(s->listeners);
  free(s->stats);
  free(s);
}
