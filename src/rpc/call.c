/*
** call.c — one gRPC call from arrival to its last reference: the state
** machine, the handler run, stream sends with flow control, cancellation,
** and the final batch. It does not own threads (pool.c) or the completion
** queue (server.c): the poller calls in here with each completed tag.
**
** States (rpc_int.h) and who moves them, always under the call's mutex:
**
**   PENDING   -> ACCEPTED   poller: the call arrived, RECV_CLOSE armed
**   ACCEPTED  -> SENDING    handler: gpx_rpc_send (initial metadata + message)
**   STREAMING -> SENDING    handler: gpx_rpc_send (message)
**   SENDING   -> STREAMING  poller: TAG_SEND (a failure means the peer left)
**   ACCEPTED | STREAMING
**             -> FINISHING  handler returned: final batch started
**             -> DONE       handler returned, nobody to answer: dropped
**   FINISHING -> DONE       poller: TAG_FINISH
**
** Stats are recorded on entering DONE, which happens once. Batches on a call
** are started by one thread at a time (notes §4 B): RECV_CLOSE by the poller
** before the handler is scheduled, then only the thread running the handler
** (sends, then the final batch). Cancellation is separate from the state:
** it can arrive in any state, from RECV_CLOSE, a failed send, the deadline
** or shutdown, and wakes whoever waits on the call's condition variable.
**
** Memory rule (notes §5): every op's out-parameters and tags live in this
** heap struct, freed when its reference count reaches zero.
*/
#include <grpc/byte_buffer.h>
#include <grpc/byte_buffer_reader.h>
#include <grpc/slice.h>
#include <grpc/support/alloc.h>
#include <grpc/support/time.h>
#include <stdio.h>
#include <stdlib.h>

#include "gpx/log.h"
#include "rpc/rpc_int.h"

/* A condition wait never sleeps longer than this before re-checking its
   condition, so even a missed wake-up costs a second, not a hang. */
#define GPX__MAX_WAIT_MS 1000

static int64_t gpx__now_ms(clockid_t clk) {
  struct timespec ts;
  clock_gettime(clk, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ms left until the call's deadline, INT64_MAX when it has none. */
static int64_t gpx__ms_to_deadline(const gpx_rpc_ctx *c) {
  if (c->deadline_ms == 0) return INT64_MAX;
  return c->deadline_ms - gpx__now_ms(CLOCK_REALTIME);
}

/* Wait on c->cv (c->mu held) for at most ms; callers loop on their condition. */
static void gpx__wait_ms(gpx_rpc_ctx *c, int64_t ms) {
  if (ms > GPX__MAX_WAIT_MS) ms = GPX__MAX_WAIT_MS;
  if (ms < 1) ms = 1;
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  ts.tv_sec += (time_t)(ms / 1000);
  ts.tv_nsec += (long)(ms % 1000) * 1000000L;
  if (ts.tv_nsec >= 1000000000L) {
    ts.tv_sec++;
    ts.tv_nsec -= 1000000000L;
  }
  pthread_cond_timedwait(&c->cv, &c->mu, &ts);
}

/* Record why the call is cancelled (the first reason wins) and wake waiters. */
static void gpx__cancel_locked(gpx_rpc_ctx *c, gpx__rpc_cancel why) {
  int none = GPX__CANCEL_NONE;
  atomic_compare_exchange_strong(&c->cancel, &none, (int)why);
  pthread_cond_broadcast(&c->cv);
}

static void gpx__cancel(gpx_rpc_ctx *c, gpx__rpc_cancel why) {
  pthread_mutex_lock(&c->mu);
  gpx__cancel_locked(c, why);
  pthread_mutex_unlock(&c->mu);
}

/* Nobody will receive an answer: the client left, the deadline passed, or
   gRPC refused a batch. Shutdown alone is not such a reason: a stream told
   of it still ends with its handler's status (go-plugin wants StreamStdio
   to end with OK). */
static int gpx__nobody_listens(const gpx_rpc_ctx *c) {
  int why = atomic_load(&c->cancel);
  return (why != GPX__CANCEL_NONE && why != GPX__CANCEL_SHUTDOWN) || gpx__ms_to_deadline(c) <= 0;
}

/* Zero a batch's ops; the first batch of a call opens with its (empty)
   initial metadata. Returns the number of ops used. */
static size_t gpx__ops_begin(grpc_op *ops, size_t cap, int first) {
  memset(ops, 0, cap * sizeof *ops);
  if (!first) return 0;
  ops[0].op = GRPC_OP_SEND_INITIAL_METADATA;
  ops[0].data.send_initial_metadata.count = 0;
  return 1;
}

/* ------------------------------------------------------------ for handlers */

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

int64_t gpx_rpc_deadline_ms(const gpx_rpc_ctx *ctx) { return ctx->deadline_ms; }

int gpx_rpc_cancelled(const gpx_rpc_ctx *ctx) {
  return atomic_load(&ctx->cancel) != GPX__CANCEL_NONE || gpx__ms_to_deadline(ctx) <= 0;
}

int gpx_rpc_cancelled_cb(void *ctx) { return gpx_rpc_cancelled((const gpx_rpc_ctx *)ctx); }

int gpx_rpc_wait_cancelled(gpx_rpc_ctx *ctx, int64_t timeout_ms) {
  if (timeout_ms < 0) timeout_ms = 0;
  int64_t end = gpx__now_ms(CLOCK_MONOTONIC) + timeout_ms;
  pthread_mutex_lock(&ctx->mu);
  while (!gpx_rpc_cancelled(ctx)) {
    int64_t left = end - gpx__now_ms(CLOCK_MONOTONIC);
    int64_t to_deadline = gpx__ms_to_deadline(ctx);
    if (to_deadline < left) left = to_deadline;
    if (left <= 0) break;
    gpx__wait_ms(ctx, left);
  }
  pthread_mutex_unlock(&ctx->mu);
  return gpx_rpc_cancelled(ctx);
}

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

/* ---------------------------------------------------------------- sending */

/* Start one stream message; takes the slice's reference. */
static int gpx__send_slice(gpx_rpc_ctx *c, grpc_slice sl) {
  if (c->kind != GPX_RPC_STREAM) {
    grpc_slice_unref(sl);
    return EINVAL;
  }
  pthread_mutex_lock(&c->mu);
  /* Flow control: one message in flight. Its completion, a cancel, the
     deadline or shutdown ends the wait; a send that never completes is
     failed by gRPC at the deadline or by cancel_all_calls at shutdown. */
  while (c->state == GPX__CALL_SENDING && !gpx_rpc_cancelled(c)) gpx__wait_ms(c, gpx__ms_to_deadline(c));
  if (gpx_rpc_cancelled(c) || (c->state != GPX__CALL_ACCEPTED && c->state != GPX__CALL_STREAMING)) {
    int rc = gpx_rpc_cancelled(c) ? ECANCELED : EINVAL;
    pthread_mutex_unlock(&c->mu);
    grpc_slice_unref(sl);
    return rc;
  }
  int first = c->state == GPX__CALL_ACCEPTED;
  c->state = GPX__CALL_SENDING;
  c->send_bb = grpc_raw_byte_buffer_create(&sl, 1);
  grpc_slice_unref(sl); /* the byte buffer holds its own reference */
  atomic_fetch_add(&c->refs, 1);
  pthread_mutex_unlock(&c->mu);

  grpc_op ops[2];
  size_t n = gpx__ops_begin(ops, sizeof ops / sizeof ops[0], first);
  ops[n].op = GRPC_OP_SEND_MESSAGE;
  ops[n].data.send_message.send_message = c->send_bb;
  n++;
  grpc_call_error e = grpc_call_start_batch(c->call, ops, n, &c->send_tag, NULL);
  if (e == GRPC_CALL_OK) return GPX_OK;

  /* No tag will arrive (notes §5): undo, and fail this and every later send. */
  gpx_logf(GPX_LOG_ERROR, "rpc: stream send refused (grpc_call_error %d)", (int)e);
  pthread_mutex_lock(&c->mu);
  grpc_byte_buffer_destroy(c->send_bb);
  c->send_bb = NULL;
  c->state = first ? GPX__CALL_ACCEPTED : GPX__CALL_STREAMING;
  gpx__cancel_locked(c, GPX__CANCEL_ERROR);
  pthread_mutex_unlock(&c->mu);
  gpx__rpc_unref(c); /* the batch's; the handler still holds one */
  return EIO;
}

int gpx_rpc_send(gpx_rpc_ctx *ctx, const uint8_t *msg, size_t len) {
  return gpx__send_slice(ctx, grpc_slice_from_copied_buffer((const char *)msg, len));
}

int gpx_rpc_send_steal(gpx_rpc_ctx *ctx, gpx_buf *msg) {
  size_t len = 0;
  uint8_t *p = gpx_buf_release(msg, &len);
  if (len == 0) {
    free(p);
    return gpx__send_slice(ctx, grpc_empty_slice());
  }
  /* grpc_slice_new takes ownership and calls free() once the transport has
     let go of the bytes: no copy, however large the message. */
  return gpx__send_slice(ctx, grpc_slice_new(p, len, free));
}

void gpx__rpc_on_send(gpx_rpc_ctx *c, int success) {
  pthread_mutex_lock(&c->mu);
  grpc_byte_buffer_destroy(c->send_bb); /* the op took the slices, not the buffer */
  c->send_bb = NULL;
  c->state = GPX__CALL_STREAMING;
  if (!success) gpx__cancel_locked(c, GPX__CANCEL_CLIENT); /* notes §3: the peer is gone */
  pthread_cond_broadcast(&c->cv);
  pthread_mutex_unlock(&c->mu);
  gpx__rpc_unref(c);
}

/* ------------------------------------------------------------ final batch */

/* Send c->reply as the call's last batch, or drop it when nobody listens.
   Runs on the thread that ran the handler (or on the poller for replies the
   server makes itself); the caller holds a reference. */
static void gpx__finish(gpx_rpc_ctx *c) {
  gpx_rpc_reply *r = &c->reply;
  pthread_mutex_lock(&c->mu);
  /* The last message must be taken before the status goes out. Its
     completion ends this wait; a gone client fails it at once, shutdown's
     cancel_all_calls after the grace period. */
  while (c->state == GPX__CALL_SENDING) gpx__wait_ms(c, GPX__MAX_WAIT_MS);
  /* A Shutdown reply goes out even so: sending it is what starts shutdown. */
  if (gpx__nobody_listens(c) && !r->then_shutdown) {
    int why = atomic_load(&c->cancel);
    int code = why == GPX__CANCEL_CLIENT  ? GPX_RPC_CANCELLED
               : why == GPX__CANCEL_ERROR ? GPX_RPC_INTERNAL
                                          : GPX_RPC_DEADLINE_EXCEEDED;
    c->state = GPX__CALL_DONE;
    pthread_mutex_unlock(&c->mu);
    gpx__rpc_record(c, code);
    gpx_buf_reset(&r->body);
    return;
  }
  int first = c->state == GPX__CALL_ACCEPTED;
  c->state = GPX__CALL_FINISHING;
  atomic_fetch_add(&c->refs, 1);
  pthread_mutex_unlock(&c->mu);

  grpc_op ops[3];
  size_t n = gpx__ops_begin(ops, sizeof ops / sizeof ops[0], first);
  if (r->has_body && r->code == GPX_RPC_OK) {
    size_t len = 0;
    uint8_t *p = gpx_buf_release(&r->body, &len);
    /* grpc_slice_new takes ownership and frees with free(): no copy of a
       possibly very large response. */
    grpc_slice sl = len ? grpc_slice_new(p, len, free) : grpc_empty_slice();
    if (!len) free(p);
    c->finish_bb = grpc_raw_byte_buffer_create(&sl, 1);
    grpc_slice_unref(sl);
    ops[n].op = GRPC_OP_SEND_MESSAGE;
    ops[n].data.send_message.send_message = c->finish_bb;
    n++;
  }
  gpx_buf_reset(&r->body);
  ops[n].op = GRPC_OP_SEND_STATUS_FROM_SERVER;
  ops[n].data.send_status_from_server.status = (grpc_status_code)r->code;
  ops[n].data.send_status_from_server.trailing_metadata_count = 0;
  if (r->code != GPX_RPC_OK && r->message[0]) {
    c->status_details = grpc_slice_from_copied_string(r->message);
    c->has_status_slice = 1;
    ops[n].data.send_status_from_server.status_details = &c->status_details;
  }
  n++;
  grpc_call_error e = grpc_call_start_batch(c->call, ops, n, &c->finish_tag, NULL);
  if (e != GRPC_CALL_OK) {
    gpx_logf(GPX_LOG_ERROR, "rpc: start_batch failed (%d)", (int)e);
    pthread_mutex_lock(&c->mu);
    c->state = GPX__CALL_DONE;
    pthread_mutex_unlock(&c->mu);
    gpx__rpc_record(c, GPX_RPC_INTERNAL);
    /* Still stop if asked to; any thread may ask, only the poller begins it. */
    if (r->then_shutdown) gpx_rpc_request_shutdown(c->server);
    gpx__rpc_unref(c);
  }
}

void gpx__rpc_on_finish(gpx_rpc_ctx *c, int success) {
  pthread_mutex_lock(&c->mu);
  c->state = GPX__CALL_DONE;
  pthread_mutex_unlock(&c->mu);
  gpx__rpc_record(c, success ? c->reply.code : GPX_RPC_CANCELLED);
  if (c->reply.then_shutdown) gpx__rpc_begin_shutdown(c->server);
  if (c->finish_bb) {
    grpc_byte_buffer_destroy(c->finish_bb);
    c->finish_bb = NULL;
  }
  gpx__rpc_unref(c);
}

/* --------------------------------------------------------------- handling */

void gpx__rpc_run_handler(gpx_rpc_ctx *c) {
  const gpx_rpc_method *m = &c->server->opts.methods[c->method];
  memset(&c->reply, 0, sizeof c->reply); /* code = GPX_RPC_OK */
  if (!gpx__nobody_listens(c)) {
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
      m->handler(c, GRPC_SLICE_START_PTR(all), GRPC_SLICE_LENGTH(all), &c->reply);
    }
    grpc_slice_unref(all);
  }
  gpx__finish(c);
}

void gpx__rpc_on_close(gpx_rpc_ctx *c, int success) {
  /* gRPC also ends a call at its deadline and reports that as cancelled. */
  if (c->recv_cancelled || !success) {
    gpx__cancel(c, gpx__ms_to_deadline(c) <= 0 ? GPX__CANCEL_DEADLINE : GPX__CANCEL_CLIENT);
    /* A call still waiting for a worker is done now: its payload and slot
       are not held for a client that left. */
    if (c->kind == GPX_RPC_POOL && gpx__rpc_pool_withdraw(c->server, c)) {
      gpx__finish(c);
      gpx__rpc_unref(c); /* the handler's reference */
    }
  }
  gpx__rpc_unref(c);
}

void gpx__rpc_cancel_for_shutdown(gpx_rpc_ctx *c) { gpx__cancel(c, GPX__CANCEL_SHUTDOWN); }

/* A reply the server makes itself (unknown method, no room for a stream). */
static void gpx__answer_now(gpx_rpc_ctx *c, int code, const char *what, const char *path) {
  memset(&c->reply, 0, sizeof c->reply);
  gpx_rpc_reply_error(&c->reply, code, "method %s %s", path, what);
  gpx__finish(c);
  gpx__rpc_unref(c);
}

static int gpx__method_for_path(gpx_rpc_server *s, gpx_rpc_ctx *c) {
  for (size_t i = 0; i < s->opts.n_methods; i++)
    if (grpc_slice_str_cmp(c->details.method, s->opts.methods[i].path) == 0) return (int)i;
  return -1;
}

void gpx__rpc_accept(gpx_rpc_ctx *c) {
  gpx_rpc_server *s = c->server;
  clock_gettime(CLOCK_MONOTONIC, &c->start);
  atomic_fetch_add(&s->live, 1);
  atomic_store(&c->refs, 1); /* RECV_CLOSE's reference */
  if (c->generic) c->deadline = c->details.deadline;
  gpr_timespec d = gpr_convert_clock_type(c->deadline, GPR_CLOCK_REALTIME);
  if (gpr_time_cmp(d, gpr_inf_future(GPR_CLOCK_REALTIME)) < 0 && d.tv_sec < INT64_MAX / 2000)
    c->deadline_ms = d.tv_sec * 1000 + d.tv_nsec / 1000000;
  c->state = GPX__CALL_ACCEPTED; /* no other thread sees c yet */

  grpc_op op;
  memset(&op, 0, sizeof op);
  op.op = GRPC_OP_RECV_CLOSE_ON_SERVER;
  op.data.recv_close_on_server.cancelled = &c->recv_cancelled;
  if (grpc_call_start_batch(c->call, &op, 1, &c->close_tag, NULL) != GRPC_CALL_OK) {
    atomic_store(&c->cancel, GPX__CANCEL_ERROR);
    gpx__rpc_unref(c); /* never arrives; a cancelled call with no work left */
    return;
  }
  atomic_fetch_add(&c->refs, 1); /* the handler's (or the server's own reply's) reference */

  if (c->generic) {
    /* Every method not in the table; a registered one may also arrive here
       if the client used an unexpected path form, so check by name. */
    int idx = gpx__method_for_path(s, c);
    char *path = grpc_slice_to_c_string(c->details.method);
    c->method = (int)s->opts.n_methods;
    if (idx >= 0) gpx_logf(GPX_LOG_WARN, "rpc: %s arrived unregistered", path);
    gpx__answer_now(c, GPX_RPC_UNIMPLEMENTED, "not implemented", path);
    gpr_free(path);
    return;
  }
  const gpx_rpc_method *m = &s->opts.methods[c->method];
  c->kind = m->kind;
  if (m->handler == NULL) {
    gpx__answer_now(c, GPX_RPC_UNIMPLEMENTED, "not implemented", m->path);
  } else if (m->kind == GPX_RPC_STREAM) {
    if (gpx__rpc_stream_spawn(s, c) != GPX_OK) {
      gpx_logf(GPX_LOG_WARN, "rpc: %s refused: %d streams open", m->path, s->opts.max_streams);
      gpx__answer_now(c, GPX_RPC_RESOURCE_EXHAUSTED, "refused: too many open streams", m->path);
    }
  } else if (m->kind == GPX_RPC_INLINE) {
    gpx__rpc_run_handler(c);
    gpx__rpc_unref(c);
  } else if (gpx__rpc_pool_enqueue(s, c) != GPX_OK) {
    gpx_logf(GPX_LOG_WARN, "rpc: %s refused: %d calls queued for a worker", m->path, s->pool.queued);
    gpx__answer_now(c, GPX_RPC_RESOURCE_EXHAUSTED, "refused: the plugin is busy (too many calls waiting)", m->path);
  }
}

/* ------------------------------------------------------------- lifetime */

gpx_rpc_ctx *gpx__rpc_ctx_new(gpx_rpc_server *s, int method, int generic) {
  gpx_rpc_ctx *c = calloc(1, sizeof *c);
  if (c == NULL) return NULL;
  c->server = s;
  c->method = method;
  c->generic = generic;
  c->state = GPX__CALL_PENDING;
  c->close_tag = (gpx__rpc_tag){GPX__TAG_CLOSE, c};
  c->send_tag = (gpx__rpc_tag){GPX__TAG_SEND, c};
  c->finish_tag = (gpx__rpc_tag){GPX__TAG_FINISH, c};
  pthread_mutex_init(&c->mu, NULL);
  pthread_condattr_t ca;
  pthread_condattr_init(&ca);
  pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
  pthread_cond_init(&c->cv, &ca);
  pthread_condattr_destroy(&ca);
  grpc_metadata_array_init(&c->req_md);
  if (generic) grpc_call_details_init(&c->details);
  return c;
}

void gpx__rpc_ctx_free(gpx_rpc_ctx *c) {
  if (c->call != NULL) grpc_call_unref(c->call); /* cancels a call left without status */
  grpc_metadata_array_destroy(&c->req_md);
  if (c->generic) grpc_call_details_destroy(&c->details);
  if (c->payload != NULL) grpc_byte_buffer_destroy(c->payload);
  if (c->send_bb != NULL) grpc_byte_buffer_destroy(c->send_bb);
  if (c->finish_bb != NULL) grpc_byte_buffer_destroy(c->finish_bb);
  if (c->has_status_slice) grpc_slice_unref(c->status_details);
  gpx_buf_reset(&c->reply.body);
  pthread_mutex_destroy(&c->mu);
  pthread_cond_destroy(&c->cv);
  free(c);
}

/* A handler context without a call: a server shell that only carries the
   app pointer, so fuzz targets and unit tests can run handlers directly. */
gpx_rpc_ctx *gpx_rpc_test_ctx_new(void *app) {
  gpx_rpc_server *s = calloc(1, sizeof *s);
  if (s == NULL) return NULL;
  s->opts.app = app;
  gpx_rpc_ctx *c = gpx__rpc_ctx_new(s, 0, 0);
  if (c == NULL) {
    free(s);
    return NULL;
  }
  c->kind = GPX_RPC_POOL;
  c->state = GPX__CALL_ACCEPTED;
  return c;
}

void gpx_rpc_test_ctx_free(gpx_rpc_ctx *c) {
  if (c == NULL) return;
  gpx_rpc_server *s = c->server;
  gpx__rpc_ctx_free(c);
  free(s);
}

void gpx__rpc_unref(gpx_rpc_ctx *c) {
  if (atomic_fetch_sub(&c->refs, 1) == 1) {
    gpx_rpc_server *s = c->server;
    gpx__rpc_ctx_free(c);
    atomic_fetch_sub(&s->live, 1);
  }
}
