/*
** par.c — run the n items of one piece of work on a few threads at once.
**
** The caller's thread is one of them: it takes items like the others and,
** when it runs out, joins the helpers it started. An item is taken by one
** thread only (an atomic counter), so fn(arg, i) writes its own slot i and
** the results stay in the caller's order. What it is not: a thread pool —
** the helpers live for one call, which costs tens of microseconds, nothing
** beside a query. A helper that cannot be started is simply not there: the
** others, the caller at least, take its items.
**
** The joins have no deadline of their own: they end when the items do, so
** the items' work must be bounded (every query is, by its deadline).
*/
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>

#include "gpx/core.h"

typedef struct gpx__par {
  size_t n;
  atomic_size_t next;
  void (*fn)(void *arg, size_t i);
  void *arg;
} gpx__par;

static void *gpx__par_main(void *p) {
  gpx__par *w = p;
  for (size_t i; (i = atomic_fetch_add(&w->next, 1)) < w->n;) w->fn(w->arg, i);
  return NULL;
}

int gpx_par_run(size_t n, int threads, void (*fn)(void *arg, size_t i), void *arg) {
  gpx__par w = {.n = n, .fn = fn, .arg = arg};
  atomic_init(&w.next, 0);
  if (threads < 1) threads = 1;
  if ((size_t)threads > n) threads = n ? (int)n : 1;
  pthread_t *th = threads > 1 ? calloc((size_t)threads - 1, sizeof *th) : NULL;
  int started = 0;
  /* default attributes, as the rpc workers': an item may be a whole query */
  for (int k = 0; th && k < threads - 1; k++)
    if (pthread_create(&th[started], NULL, gpx__par_main, &w) == 0) started++;
  gpx__par_main(&w);
  for (int k = 0; k < started; k++) pthread_join(th[k], NULL);
  free(th);
  return started + 1;
}
