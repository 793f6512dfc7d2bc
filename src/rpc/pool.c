/*
** pool.c — the threads that run handlers (grpc-core-notes.md §4, model D).
**
** Unary handlers that may block (a Postgres query) go to a worker pool: a
** few standing threads, grown on demand up to max_workers so that one slow
** call cannot hold up the others. Streaming handlers instead get a thread
** each, at most max_streams at once: a stream may stay open for the life of
** the process (go-plugin's StreamStdio) or send for minutes (Grafana Live),
** and letting those occupy pool workers would starve the unary calls, or
** need a pool as large as the number of streams anyway. A stream thread
** mostly sleeps on its call's condition variable, so the cost is a stack
** (virtual memory) and a thread create per stream, small next to a stream's
** lifetime: with StreamStdio on a thread of its own, the harness's idle
** plugin has one thread more than before (14-15, was 13-14) and no more
** RSS (16.7 MB, was 18.0). Finished stream threads are joined by the
** poller (reap).
**
** This file knows nothing about the calls it runs beyond call.c's entry
** points; it owns no gRPC objects.
*/
#include <stdlib.h>

#include "rpc/rpc_int.h"

static void *gpx__worker(void *arg) {
  gpx_rpc_server *s = arg;
  gpx__rpc_pool *p = &s->pool;
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
    p->queued_bytes -= (int64_t)c->queued_bytes;
    c->queued_bytes = 0;
    c->in_queue = 0;
    pthread_mutex_unlock(&p->mu);
    c->next = NULL;
    gpx__rpc_run_handler(c);
    gpx__rpc_unref(c); /* the handler's reference */
  }
}

int gpx__rpc_pool_init(gpx_rpc_server *s) {
  gpx__rpc_pool *p = &s->pool;
  p->threads = calloc((size_t)s->opts.max_workers, sizeof(pthread_t));
  if (p->threads == NULL) return ENOMEM;
  p->max = s->opts.max_workers;
  pthread_mutex_init(&p->mu, NULL);
  pthread_cond_init(&p->cv, NULL);
  return GPX_OK;
}

void gpx__rpc_pool_start(gpx_rpc_server *s) {
  gpx__rpc_pool *p = &s->pool;
  /* A small standing pool; more threads are added on demand. */
  pthread_mutex_lock(&p->mu);
  for (int i = 0; i < s->opts.min_workers; i++)
    if (pthread_create(&p->threads[p->nthreads], NULL, gpx__worker, s) == 0) p->nthreads++;
  pthread_mutex_unlock(&p->mu);
}

/* Bounded: one data source pointing at a black hole must not make every
   other call wait without limit, nor hold every queued payload (up to
   max_recv_bytes each) in memory. A full queue answers at once. */
int gpx__rpc_pool_enqueue(gpx_rpc_server *s, gpx_rpc_ctx *c) {
  gpx__rpc_pool *p = &s->pool;
  size_t bytes = c->payload ? grpc_byte_buffer_length(c->payload) : 0;
  pthread_mutex_lock(&p->mu);
  if (p->queued - p->idle >= s->opts.max_queued ||
      (p->queued > 0 && p->queued_bytes + (int64_t)bytes > s->opts.max_queued_bytes)) {
    pthread_mutex_unlock(&p->mu);
    return EAGAIN;
  }
  c->queued_bytes = bytes;
  c->in_queue = 1;
  p->queued_bytes += (int64_t)bytes;
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
  return GPX_OK;
}

int gpx__rpc_pool_withdraw(gpx_rpc_server *s, gpx_rpc_ctx *c) {
  gpx__rpc_pool *p = &s->pool;
  int found = 0;
  pthread_mutex_lock(&p->mu);
  if (c->in_queue) {
    gpx_rpc_ctx *prev = NULL;
    for (gpx_rpc_ctx *q = p->head; q; prev = q, q = q->next) {
      if (q != c) continue;
      if (prev) prev->next = c->next; else p->head = c->next;
      if (p->tail == c) p->tail = prev;
      p->queued--;
      p->queued_bytes -= (int64_t)c->queued_bytes;
      c->queued_bytes = 0;
      c->in_queue = 0;
      c->next = NULL;
      found = 1;
      break;
    }
  }
  pthread_mutex_unlock(&p->mu);
  return found;
}

int gpx_rpc_saturated(gpx_rpc_server *s) {
  gpx__rpc_pool *p = &s->pool;
  if (atomic_load(&s->shutdown_requested)) return 1;
  pthread_mutex_lock(&p->mu);
  int full = p->idle == 0 && p->nthreads >= p->max &&
             (p->queued >= s->opts.max_queued || p->queued_bytes >= s->opts.max_queued_bytes);
  pthread_mutex_unlock(&p->mu);
  return full;
}

/* ---------------------------------------------------------------- streams */

static void *gpx__stream_main(void *arg) {
  gpx__rpc_stream_thread *t = arg;
  gpx_rpc_ctx *c = t->ctx;
  gpx__rpc_pool *p = &c->server->pool;
  gpx__rpc_run_handler(c);
  /* done before the reference goes: gpx__rpc_streams_cancel touches t->ctx
     only while !done, so it never sees a freed call. */
  pthread_mutex_lock(&p->mu);
  t->done = 1;
  t->ctx = NULL;
  p->nstreams--;
  p->nfinished++;
  pthread_mutex_unlock(&p->mu);
  gpx__rpc_unref(c); /* the handler's reference */
  return NULL;
}

int gpx__rpc_stream_spawn(gpx_rpc_server *s, gpx_rpc_ctx *c) {
  gpx__rpc_pool *p = &s->pool;
  gpx__rpc_streams_reap(s);
  pthread_mutex_lock(&p->mu);
  if (p->nstreams >= s->opts.max_streams) {
    pthread_mutex_unlock(&p->mu);
    return EAGAIN;
  }
  gpx__rpc_stream_thread *t = calloc(1, sizeof *t);
  if (t == NULL) {
    pthread_mutex_unlock(&p->mu);
    return ENOMEM;
  }
  t->ctx = c;
  if (pthread_create(&t->th, NULL, gpx__stream_main, t) != 0) {
    pthread_mutex_unlock(&p->mu);
    free(t);
    return EAGAIN;
  }
  t->next = p->streams;
  p->streams = t;
  p->nstreams++;
  pthread_mutex_unlock(&p->mu);
  return GPX_OK;
}

void gpx__rpc_streams_cancel(gpx_rpc_server *s) {
  gpx__rpc_pool *p = &s->pool;
  pthread_mutex_lock(&p->mu);
  for (gpx__rpc_stream_thread *t = p->streams; t; t = t->next)
    if (!t->done) gpx__rpc_cancel_for_shutdown(t->ctx);
  pthread_mutex_unlock(&p->mu);
}

void gpx__rpc_streams_reap(gpx_rpc_server *s) {
  gpx__rpc_pool *p = &s->pool;
  gpx__rpc_stream_thread *done = NULL;
  pthread_mutex_lock(&p->mu);
  if (p->nfinished == 0) {
    pthread_mutex_unlock(&p->mu);
    return;
  }
  for (gpx__rpc_stream_thread **pp = &p->streams; *pp;) {
    gpx__rpc_stream_thread *t = *pp;
    if (t->done) {
      *pp = t->next;
      t->next = done;
      done = t;
    } else {
      pp = &t->next;
    }
  }
  p->nfinished = 0;
  pthread_mutex_unlock(&p->mu);
  /* A done thread only has its return left, so these joins are immediate. */
  while (done) {
    gpx__rpc_stream_thread *t = done;
    done = t->next;
    pthread_join(t->th, NULL);
    free(t);
  }
}

void gpx__rpc_pool_stop(gpx_rpc_server *s, int join) {
  gpx__rpc_pool *p = &s->pool;
  pthread_mutex_lock(&p->mu);
  p->stop = 1;
  pthread_cond_broadcast(&p->cv);
  pthread_mutex_unlock(&p->mu);
  if (!join) return; /* handlers still running: the caller exits without us */
  for (int i = 0; i < p->nthreads; i++) pthread_join(p->threads[i], NULL);
  p->nthreads = 0;
  /* The caller saw no live call, so every stream thread has dropped its
     reference and is returning: reaping them all cannot block for long. */
  gpx__rpc_streams_reap(s);
}

void gpx__rpc_pool_destroy(gpx_rpc_server *s) {
  gpx__rpc_pool *p = &s->pool;
  if (p->threads == NULL) return; /* never initialised */
  pthread_mutex_destroy(&p->mu);
  pthread_cond_destroy(&p->cv);
  free(p->threads);
  p->threads = NULL;
  p->streams = NULL; /* empty after a clean stop; after an unclean one nobody frees the server */
}
