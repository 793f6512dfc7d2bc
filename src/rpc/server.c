/*
** server.c — the gRPC core server behind rpc.h: create, bind, listen,
** poll, shut down; plus the per-method stats.
**
** Threading (grpc-core-notes.md §4, model D): one poller thread owns the
** completion queue and hands every completed tag to its owner: a listener
** (a new call, passed to call.c after the listener is re-armed), a call
** (call.c's state machine), or the server (shutdown). Handlers run on the
** poller (inline methods), on the worker pool or on a stream thread
** (pool.c). This file starts no batch on a call; call.c does.
**
** Shutdown is graceful but bounded: open streams are told at once (their
** handlers see cancellation, their sends fail) so they can end with a
** status; unary calls get a short grace period; then every call is
** cancelled, and past a hard limit gpx_rpc_run gives up with EBUSY.
*/
#include <grpc/grpc.h>
#include <grpc/grpc_security.h>
#include <grpc/support/log.h>
#include <grpc/support/time.h>
#include <stdlib.h>

#include "gpx/log.h"
#include "rpc/rpc_int.h"

const double gpx_rpc_hist_bounds[GPX_RPC_HIST_BUCKETS] = {
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};

double gpx__rpc_elapsed(const struct timespec *since) {
  struct timespec now;
  clock_gettime(CLOCK_MONOTONIC, &now);
  return (double)(now.tv_sec - since->tv_sec) + (double)(now.tv_nsec - since->tv_nsec) / 1e9;
}

/* --------------------------------------------------------------- stats */

/* Once per call, when it enters DONE (call.c). */
void gpx__rpc_record(gpx_rpc_ctx *c, int code) {
  double secs = gpx__rpc_elapsed(&c->start);
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

/* ------------------------------------------------------------ listeners */

static int gpx__arm(gpx_rpc_server *s, gpx__rpc_listener *l) {
  gpx_rpc_ctx *c = gpx__rpc_ctx_new(s, l->method, l->handle == NULL);
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
    gpx__rpc_ctx_free(c);
    l->pending = NULL;
    gpx_logf(GPX_LOG_ERROR, "rpc: cannot request calls (grpc_call_error %d)", (int)e);
    return EIO;
  }
  return GPX_OK;
}

/* A new call arrived on listener l (poller thread). */
static void gpx__on_new_call(gpx_rpc_server *s, gpx__rpc_listener *l, int success) {
  gpx_rpc_ctx *c = l->pending;
  l->pending = NULL;
  if (!success || s->shutting_down) {
    /* Shutdown completes pending requests with success == 0; a call that
       slipped in during shutdown is dropped (unref cancels it). */
    if (c != NULL) gpx__rpc_ctx_free(c);
    return;
  }
  gpx__arm(s, l); /* keep one request outstanding before handling this one */
  gpx__rpc_accept(c);
}

static void gpx__free_pending(gpx_rpc_server *s) {
  for (size_t i = 0; i <= s->opts.n_methods; i++) {
    if (s->listeners[i].pending) {
      gpx__rpc_ctx_free(s->listeners[i].pending);
      s->listeners[i].pending = NULL;
    }
  }
}

/* ---------------------------------------------------------------- poller */

void gpx__rpc_begin_shutdown(gpx_rpc_server *s) {
  if (s->shutting_down) return;
  s->shutting_down = 1;
  clock_gettime(CLOCK_MONOTONIC, &s->shutdown_started);
  gpx_log(GPX_LOG_DEBUG, "rpc: shutting down", NULL);
  /* Streams may be open for the life of the process: tell them now, so they
     end with their own status (OK for StreamStdio) before any cancel. */
  gpx__rpc_streams_cancel(s);
  grpc_server_shutdown_and_notify(s->server, s->cq, &s->shutdown_tag);
}

static void gpx__dispatch(gpx_rpc_server *s, grpc_event ev) {
  gpx__rpc_tag *t = ev.tag;
  switch (t->kind) {
    case GPX__TAG_NEW:
      gpx__on_new_call(s, (gpx__rpc_listener *)t->owner, ev.success);
      break;
    case GPX__TAG_CLOSE:
      gpx__rpc_on_close(t->owner, ev.success);
      break;
    case GPX__TAG_SEND:
      gpx__rpc_on_send(t->owner, ev.success);
      break;
    case GPX__TAG_FINISH:
      gpx__rpc_on_finish(t->owner, ev.success);
      break;
    case GPX__TAG_SHUTDOWN:
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

/* Tear down gRPC objects once no call is live and no handler can run. */
static void gpx__destroy_grpc(gpx_rpc_server *s) {
  gpx__free_pending(s);
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
}

/* ------------------------------------------------------------ lifecycle */

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
  if (s->opts.max_streams <= 0) s->opts.max_streams = 256;
  if (s->opts.max_queued <= 0) s->opts.max_queued = 256;
  if (s->opts.max_queued_bytes <= 0) s->opts.max_queued_bytes = INT64_C(256) << 20;
  size_t n = s->opts.n_methods;
  s->listeners = calloc(n + 1, sizeof *s->listeners);
  s->stats = calloc(n + 1, sizeof *s->stats);
  if (!s->listeners || !s->stats || gpx__rpc_pool_init(s) != GPX_OK) {
    free(s->listeners);
    free(s->stats);
    free(s);
    return gpx_error_set(err, ENOMEM, "rpc: out of memory");
  }
  for (size_t i = 0; i < n; i++) s->stats[i].name = s->opts.methods[i].name;
  s->stats[n].name = "other";
  pthread_mutex_init(&s->stats_mu, NULL);
  s->shutdown_tag = (gpx__rpc_tag){GPX__TAG_SHUTDOWN, s};

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
    gpx__rpc_listener *l = &s->listeners[i];
    l->tag = (gpx__rpc_tag){GPX__TAG_NEW, l};
    l->method = (int)i;
    /* Unary and server-streaming both get the request with the call. */
    l->handle = grpc_server_register_method(s->server, s->opts.methods[i].path, NULL,
                                            GRPC_SRM_PAYLOAD_READ_INITIAL_BYTE_BUFFER, 0);
    if (l->handle == NULL)
      rc = gpx_error_set(err, EINVAL, "rpc: cannot register method %s", s->opts.methods[i].path);
  }
  s->listeners[n].tag = (gpx__rpc_tag){GPX__TAG_NEW, &s->listeners[n]};
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
    gpx__destroy_grpc(s);
    gpx_rpc_server_free(s);
    return rc;
  }
  gpx__rpc_pool_start(s);
  if (port_out) *port_out = port;
  *out = s;
  return GPX_OK;
}

void gpx_rpc_request_shutdown(gpx_rpc_server *s) { atomic_store(&s->shutdown_requested, 1); }

int gpx_rpc_run(gpx_rpc_server *s) {
  int clean = 1;
  for (;;) {
    /* The C API cannot post our own event to the CQ (notes, trial server),
       so a shutdown request is noticed at the next 50 ms tick at worst.
       While stopping, tick every 5 ms: the last reference to a call may be
       dropped by a handler thread, not by a completion that wakes us. */
    int64_t tick_ms = s->shutting_down ? 5 : 50;
    gpr_timespec dl = gpr_time_add(gpr_now(GPR_CLOCK_MONOTONIC), gpr_time_from_millis(tick_ms, GPR_TIMESPAN));
    grpc_event ev = grpc_completion_queue_next(s->cq, dl, NULL);
    if (ev.type == GRPC_OP_COMPLETE) gpx__dispatch(s, ev);
    else if (ev.type == GRPC_QUEUE_SHUTDOWN) break;
    else gpx__rpc_streams_reap(s); /* an idle tick: join finished stream threads */
    if (atomic_load(&s->shutdown_requested)) gpx__rpc_begin_shutdown(s);
    if (!s->shutting_down) continue;
    double t = gpx__rpc_elapsed(&s->shutdown_started);
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
  /* Stop the threads: handlers still running keep the process alive otherwise. */
  gpx__rpc_pool_stop(s, clean);
  if (!clean) return EBUSY; /* handlers may still hold calls: caller should _exit */
  gpx__destroy_grpc(s);
  return GPX_OK;
}

void gpx_rpc_server_free(gpx_rpc_server *s) {
  if (s == NULL) return;
  gpx__rpc_pool_destroy(s);
  pthread_mutex_destroy(&s->stats_mu);
  free(s->listeners);
  free(s->stats);
  free(s);
}
