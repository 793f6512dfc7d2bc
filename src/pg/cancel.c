/*
** cancel.c — when a session's work must stop, and the cancel request.
**
** A session stops when its caller went away or its deadline passed; the
** stop is sticky, and a grace period starts in which the server may still
** answer the cancel. libpq 15 (Debian's) has only the blocking PQcancel:
** it connects to the server, sends the 16-byte CancelRequest and waits for
** the server to close the socket, with no timeout — a frozen postmaster
** (SIGSTOP, a hung VM, a stalled proxy) keeps it waiting forever. So the
** cancel runs on a detached helper thread that owns a copy of the cancel
** key (PGcancel is independent of the PGconn), and the worker never waits
** for it longer than the grace: when the grace ends without an answer the
** connection is abandoned. The non-blocking cancel API (PQcancelStart) only
** exists in libpq >= 17.
**
** What this is not: a way to reach a server that does not answer. The
** server-side statement_timeout ends an abandoned statement once the server
** runs again, and closing the socket ends its backend.
*/
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "gpx/log.h"
#include "pg_int.h"

/* Helper threads still blocked in PQcancel, process-wide. A server that
   never answers keeps one per abandoned statement; past this many, further
   cancels are skipped rather than piling up threads. */
#define GPX__PG_MAX_CANCEL_THREADS 64

struct gpx_pg_cancel_job {
  PGcancel *cancel;
  atomic_int refs; /* the session's and the helper thread's */
  atomic_int done; /* PQcancel returned: the server has processed the request */
};

static atomic_int gpx__cancel_threads_live;

int64_t gpx_pg_now_ms(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

static int64_t gpx__real_now_ms(void) {
  struct timespec t;
  clock_gettime(CLOCK_REALTIME, &t);
  return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

int64_t gpx_pg_deadline(int timeout_s, int64_t caller_deadline_ms, int64_t mono_now_ms, int64_t real_now_ms) {
  int64_t d = GPX_PG_NO_DEADLINE;
  if (timeout_s > 0) d = mono_now_ms + (int64_t)timeout_s * 1000;
  /* The caller's deadline is wall-clock time: carry its distance from now
     over to the monotonic clock, so a clock step cannot stretch a wait. */
  if (caller_deadline_ms > 0) {
    int64_t left = caller_deadline_ms - real_now_ms;
    if (left < d - mono_now_ms) d = mono_now_ms + left;
  }
  return d;
}

int64_t gpx__pg_session_deadline(int timeout_s, int64_t caller_deadline_ms) {
  return gpx_pg_deadline(timeout_s, caller_deadline_ms, gpx_pg_now_ms(), gpx__real_now_ms());
}

gpx_pg_status gpx__pg_check_stop(gpx_pg_session *s, int64_t now) {
  if (s->stop != GPX_PG_OK) return s->stop;
  if (s->cancelled && s->cancelled(s->cancel_arg)) s->stop = GPX_PG_CANCELLED;
  else if (now >= s->deadline) s->stop = GPX_PG_TIMEOUT;
  else return GPX_PG_OK;
  s->give_up = now + GPX_PG_CANCEL_GRACE_MS;
  return s->stop;
}

void gpx__pg_stop_error(const gpx_pg_session *s, gpx_pg_error *err) {
  err->status = s->stop == GPX_PG_OK ? GPX_PG_TIMEOUT : s->stop;
  err->sqlstate[0] = '\0';
  if (err->status == GPX_PG_CANCELLED) snprintf(err->msg, sizeof err->msg, "request cancelled");
  else snprintf(err->msg, sizeof err->msg, "query timed out after %d s", s->timeout_s);
}

static void gpx__job_unref(struct gpx_pg_cancel_job *j) {
  if (atomic_fetch_sub(&j->refs, 1) == 1) {
    PQfreeCancel(j->cancel);
    free(j);
  }
}

static void *gpx__cancel_main(void *arg) {
  struct gpx_pg_cancel_job *j = arg;
  char eb[256];
  /* May block until the server runs again (or the kernel gives up on it:
     the cancel socket carries the connection's keepalives and
     tcp_user_timeout). Nobody waits for this thread. */
  PQcancel(j->cancel, eb, sizeof eb);
  atomic_store(&j->done, 1);
  atomic_fetch_sub(&gpx__cancel_threads_live, 1);
  gpx__job_unref(j);
  return NULL;
}

void gpx__pg_cancel_start(gpx_pg_session *s) {
  if (s->cancel_job != NULL || s->conn == NULL) return;
  if (atomic_fetch_add(&gpx__cancel_threads_live, 1) >= GPX__PG_MAX_CANCEL_THREADS) {
    atomic_fetch_sub(&gpx__cancel_threads_live, 1);
    gpx_log(GPX_LOG_WARN, "pg: too many cancel requests waiting for unresponsive servers; not sending another", NULL);
    return;
  }
  struct gpx_pg_cancel_job *j = calloc(1, sizeof *j);
  PGcancel *c = j ? PQgetCancel(s->conn) : NULL;
  pthread_attr_t a;
  pthread_t t;
  int started = 0;
  if (c != NULL && pthread_attr_init(&a) == 0) {
    j->cancel = c;
    atomic_init(&j->refs, 2);
    atomic_init(&j->done, 0);
    pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
    pthread_attr_setstacksize(&a, 256 * 1024); /* PQcancel needs little */
    started = pthread_create(&t, &a, gpx__cancel_main, j) == 0;
    pthread_attr_destroy(&a);
  }
  if (!started) {
    atomic_fetch_sub(&gpx__cancel_threads_live, 1);
    if (c) PQfreeCancel(c);
    free(j);
    gpx_log(GPX_LOG_WARN, "pg: could not start a cancel request (out of memory or threads)", NULL);
    return;
  }
  s->cancel_job = j;
}

int gpx__pg_cancel_settled(gpx_pg_session *s, int wait_ms) {
  struct gpx_pg_cancel_job *j = s->cancel_job;
  if (j == NULL) return 1;
  /* The server closes the cancel socket right after signalling the
     backend, so when the statement's error has arrived this is a matter of
     a millisecond or two. */
  for (int waited = 0; !atomic_load(&j->done) && waited < wait_ms; waited++) {
    struct timespec ms = {0, 1000000L};
    nanosleep(&ms, NULL);
  }
  int done = atomic_load(&j->done);
  s->cancel_job = NULL;
  gpx__job_unref(j);
  return done;
}

int gpx__pg_cancel_threads(void) { return atomic_load(&gpx__cancel_threads_live); }
