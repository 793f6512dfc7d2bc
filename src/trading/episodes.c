/*
** episodes.c — drawdown episodes as a streaming accumulator.
**
** An episode is a maximal stretch during which equity, per trade, is below
** its running peak (the peak includes E(from)): it starts at the last trade
** at which equity stood at its peak (or at `from`), has its valley at the
** deepest trade, and ends at the first trade whose equity is back at the
** peak or above — or stays open at the range end. Equity is E(from) plus a
** compensated running sum, exactly as the curve computes it (curve.c), so an
** episode's depth is the drawdown series' minimum over that stretch.
**
** Only the k deepest episodes are kept (a heap whose root is the shallowest
** kept), so memory is O(k) however long the history. Order and ties:
** gpx_episode_cmp. What this is not: the drawdown series (curve.c).
*/
#include <math.h>
#include <stdlib.h>

#include "gpx/trading.h"
#include "trading/trading_int.h"

int gpx_episode_cmp(const gpx_episode *a, const gpx_episode *b) {
  int da = !isnan(a->depth), db = !isnan(b->depth);
  if (da != db) return da ? -1 : 1;
  if (da && a->depth != b->depth) return a->depth < b->depth ? -1 : 1;
  if (a->depth_amount != b->depth_amount) return a->depth_amount < b->depth_amount ? -1 : 1;
  if (a->start_ns != b->start_ns) return a->start_ns < b->start_ns ? -1 : 1;
  return (a->valley_ns > b->valley_ns) - (a->valley_ns < b->valley_ns);
}

int gpx_episodes_init(gpx_episodes *e, double base, int64_t from_ns, size_t k, gpx_error *err) {
  gpx_episodes_reset(e);
  if (!isfinite(base)) return gpx_error_set(err, EINVAL, "episodes: equity at range start is not finite");
  if (k == 0) return gpx_error_set(err, EINVAL, "episodes: keep at least one episode");
  e->k = k;
  e->base = base;
  e->peak = base;
  e->peak_ns = from_ns;
  return GPX_OK;
}

void gpx_episodes_reset(gpx_episodes *e) {
  free(e->top);
  memset(e, 0, sizeof *e);
}

/* The heap keeps the k deepest: its root is the one that goes last. */
static int later(const gpx_episode *a, const gpx_episode *b) { return gpx_episode_cmp(a, b) > 0; }

static void sift_down(gpx_episode *h, size_t n, size_t i) {
  for (;;) {
    size_t l = 2 * i + 1, r = l + 1, m = i;
    if (l < n && later(&h[l], &h[m])) m = l;
    if (r < n && later(&h[r], &h[m])) m = r;
    if (m == i) return;
    gpx_episode t = h[i];
    h[i] = h[m];
    h[m] = t;
    i = m;
  }
}

static void sift_up(gpx_episode *h, size_t i) {
  while (i > 0) {
    size_t p = (i - 1) / 2;
    if (!later(&h[i], &h[p])) return;
    gpx_episode t = h[i];
    h[i] = h[p];
    h[p] = t;
    i = p;
  }
}

/* Offer the closed episode cur; room for one more was reserved. */
static void offer(gpx_episodes *e) {
  gpx_episode *c = &e->cur;
  c->depth_amount = c->valley - c->peak;
  c->depth = c->peak > 0 ? c->depth_amount / c->peak : NAN;
  if (e->ntop < e->k) {
    e->top[e->ntop] = *c;
    sift_up(e->top, e->ntop++);
  } else if (gpx_episode_cmp(c, &e->top[0]) < 0) {
    e->top[0] = *c;
    sift_down(e->top, e->ntop, 0);
  }
  e->open = 0;
}

/* Room for the heap to reach min(k, ntop + extra) entries: it grows by
   doubling up to k, so a large limit costs nothing until episodes come. */
static int reserve_top(gpx_episodes *e, size_t extra, gpx_error *err) {
  size_t want = e->ntop + extra < e->k ? e->ntop + extra : e->k;
  if (want <= e->cap) return GPX_OK;
  size_t n = e->cap ? e->cap : 16;
  while (n < want) n = n > e->k / 2 ? e->k : n * 2;
  if (n > e->k) n = e->k;
  gpx_episode *p = realloc(e->top, n * sizeof *p);
  if (p == NULL) return gpx_error_set(err, ENOMEM, "episodes: out of memory for %zu episodes", n);
  e->top = p;
  e->cap = n;
  return GPX_OK;
}

int gpx_episodes_push(gpx_episodes *e, const int64_t *ts, const double *pnl, size_t n, gpx_error *err) {
  if (n == 0) return GPX_OK;
  if (!ts || !pnl) return gpx_error_set(err, EINVAL, "episodes: NULL input arrays");
  for (size_t i = 0; i < n; i++)
    if ((i > 0 && ts[i] < ts[i - 1]) || (i == 0 && e->have_last && ts[0] < e->last_ns))
      return gpx_error_set(err, EINVAL, "episodes: closed_at goes backwards at row %zu (not ordered)", i);
  /* each trade closes at most one episode */
  GPX_RETURN_NOT_OK(reserve_top(e, n, err));
  for (size_t i = 0; i < n; i++) {
    e->last_ns = ts[i];
    e->have_last = 1;
    if (!isfinite(pnl[i])) {
      e->skipped++;
      continue;
    }
    gpx__nsum(&e->csum, &e->ccomp, pnl[i]);
    double E = e->base + (e->csum + e->ccomp);
    if (E >= e->peak) {
      if (e->open) {
        e->cur.end_ns = ts[i];
        e->cur.recovered = 1;
        offer(e);
      }
      e->peak = E; /* reached again or passed: the next episode starts here */
      e->peak_ns = ts[i];
    } else if (!e->open) {
      e->open = 1;
      e->cur = (gpx_episode){.start_ns = e->peak_ns, .valley_ns = ts[i], .peak = e->peak, .valley = E};
    } else if (E < e->cur.valley) {
      e->cur.valley = E;
      e->cur.valley_ns = ts[i];
    }
  }
  return GPX_OK;
}

static int cmp_episodes(const void *a, const void *b) { return gpx_episode_cmp(a, b); }

int gpx_episodes_finish(gpx_episodes *e, int64_t to_ns, gpx_error *err) {
  if (e->open) {
    e->cur.recovered = 0;
    GPX_RETURN_NOT_OK(reserve_top(e, 1, err));
    offer(e);
  }
  for (size_t i = 0; i < e->ntop; i++) {
    gpx_episode *x = &e->top[i];
    x->duration_s = (double)((x->recovered ? x->end_ns : to_ns) - x->start_ns) / 1e9;
    x->recovery_s = x->recovered ? (double)(x->end_ns - x->valley_ns) / 1e9 : NAN;
  }
  if (e->ntop > 1) qsort(e->top, e->ntop, sizeof *e->top, cmp_episodes);
  return GPX_OK;
}
