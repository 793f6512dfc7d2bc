/*
** daily.c — the full daily series from Postgres's sparse per-day sums.
**
** Postgres maps closed_at to local day ordinals in the configured IANA zone
** (so DST and zone rules live in one place) and returns (day, Σ pnl, count)
** only for days with trades. This file fills in the missing days per the
** `tradingDays` setting, chains the end-of-day equity and computes the daily
** returns r_d = D_d / E(end of day d-1) (trading-metrics.md §3). It does no
** time-zone work: a day is just an integer here.
*/
#include <math.h>
#include <stdlib.h>

#include "gpx/trading.h"
#include "trading/trading_int.h"

/* Bounds allocation from a bad range: 1e6 days is ~2,700 years. */
#define MAX_SPAN_DAYS 1000000

int gpx_day_weekday(int32_t day) {
  /* 1970-01-01 (ordinal 0) was a Thursday = 3 with Monday = 0. */
  int m = (int)(((int64_t)day + 3) % 7);
  return m < 0 ? m + 7 : m;
}

void gpx_daily_reset(gpx_daily *d) {
  free(d->day);
  free(d->pnl);
  free(d->trades);
  free(d->equity);
  free(d->ret);
  memset(d, 0, sizeof *d);
}

double gpx_daily_loss(double day_pnl) {
  if (isnan(day_pnl)) return NAN;
  return day_pnl < 0 ? -day_pnl : 0.0;
}

static int keep_empty_day(int32_t d, gpx_trading_days mode) {
  return mode != GPX_DAYS_WEEKDAYS || gpx_day_weekday(d) < 5;
}

int gpx_daily_build(const int32_t *day, const double *pnl, const int64_t *count,
                    size_t n, int32_t first_day, int32_t last_day,
                    gpx_trading_days mode, double base, gpx_daily *out,
                    gpx_error *err) {
  memset(out, 0, sizeof *out);
  if (n > 0 && (!day || !pnl)) return gpx_error_set(err, EINVAL, "daily: NULL input arrays");
  if (mode != GPX_DAYS_ALL && mode != GPX_DAYS_WEEKDAYS)
    return gpx_error_set(err, EINVAL, "tradingDays: must be one of all, weekdays");
  if (!isfinite(base)) return gpx_error_set(err, EINVAL, "daily: equity at range start is not finite");
  if (first_day > last_day)
    return gpx_error_set(err, EINVAL, "daily: first day %d after last day %d", (int)first_day, (int)last_day);
  int64_t span = (int64_t)last_day - first_day + 1;
  if (span > MAX_SPAN_DAYS)
    return gpx_error_set(err, EINVAL, "daily: range of %lld days exceeds %d", (long long)span, MAX_SPAN_DAYS);
  for (size_t i = 0; i < n; i++) {
    if (day[i] < first_day || day[i] > last_day)
      return gpx_error_set(err, EINVAL, "daily: day %d (row %zu) outside [%d, %d]", (int)day[i], i,
                           (int)first_day, (int)last_day);
    if (i > 0 && day[i] <= day[i - 1])
      return gpx_error_set(err, EINVAL, "daily: days not strictly ascending at row %zu", i);
  }

  /* Count first so one allocation per array suffices. */
  size_t cnt = 0, j = 0;
  for (int64_t d = first_day; d <= last_day; d++) {
    int has = j < n && day[j] == d;
    if (has) j++;
    if (has || keep_empty_day((int32_t)d, mode)) cnt++;
  }
  size_t alloc = cnt ? cnt : 1;
  out->day = malloc(alloc * sizeof *out->day);
  out->pnl = malloc(alloc * sizeof *out->pnl);
  out->trades = malloc(alloc * sizeof *out->trades);
  out->equity = malloc(alloc * sizeof *out->equity);
  out->ret = malloc(alloc * sizeof *out->ret);
  if (!out->day || !out->pnl || !out->trades || !out->equity || !out->ret) {
    gpx_daily_reset(out);
    return gpx_error_set(err, ENOMEM, "daily: out of memory for %zu days", cnt);
  }
  out->base = base;
  out->first_day = first_day;
  out->last_day = last_day;

  /* E(end of d) = E(from) + Σ D up to d, summed with compensation so the
   * equity chain does not drift over decades of days. */
  double cs = 0, cc = 0, prev_e = base;
  size_t k = 0;
  j = 0;
  for (int64_t d = first_day; d <= last_day; d++) {
    double D = 0;
    int64_t t = 0;
    int has = j < n && day[j] == d;
    if (has) {
      D = pnl[j];
      t = count ? count[j] : 0;
      if (!isfinite(D)) { D = 0; out->skipped++; }
      if (t < 0) t = 0;
      j++;
    } else if (!keep_empty_day((int32_t)d, mode)) {
      continue;
    }
    gpx__nsum(&cs, &cc, D);
    double e = base + (cs + cc);
    out->day[k] = (int32_t)d;
    out->pnl[k] = D;
    out->trades[k] = t;
    /* An overflowed equity or return (huge P&L, tiny equity) is null too. */
    out->equity[k] = gpx__fin(e);
    /* A return on non-positive equity has no meaning: null, not ±Inf. */
    out->ret[k] = prev_e > 0 ? gpx__fin(D / prev_e) : NAN;
    prev_e = out->equity[k]; /* a null (overflowed) equity gives a null return next day */
    k++;
  }
  out->n = k;
  return GPX_OK;
}

/* ---- daily sums from the ordered stream ---- */

void gpx_day_fold_init(gpx_day_fold *f, const int64_t *start_ms, size_t n, int32_t first_day) {
  memset(f, 0, sizeof *f);
  f->start_ms = start_ms;
  f->n = n;
  f->first_day = first_day;
}

void gpx_day_fold_keep_agg(gpx_day_fold *f) { f->keep_agg = 1; }

void gpx_day_fold_reset(gpx_day_fold *f) {
  free(f->agg);
  free(f->day);
  free(f->pnl);
  free(f->count);
  memset(f, 0, sizeof *f);
}

static int64_t day_start_ns(const gpx_day_fold *f, size_t i) { return f->start_ms[i] * 1000000; }

/* The day of ts: the last boundary <= ts. Trades come in order, so the
   current day or the next few are the usual answer; else a binary search. */
static size_t locate(const gpx_day_fold *f, int64_t ts) {
  size_t i = f->cur;
  for (int step = 0; step < 4 && i + 1 < f->n && ts >= day_start_ns(f, i + 1); step++) i++;
  if (i + 1 >= f->n || ts < day_start_ns(f, i + 1)) return i;
  size_t lo = i + 1, hi = f->n; /* answer in [lo, hi) */
  while (hi - lo > 1) {
    size_t mid = lo + (hi - lo) / 2;
    if (ts >= day_start_ns(f, mid)) lo = mid; else hi = mid;
  }
  return lo;
}

static int reserve_days(gpx_day_fold *f, size_t extra, gpx_error *err) {
  if (extra <= f->cap - f->nd) return GPX_OK;
  size_t cap = f->cap ? f->cap : 64;
  while (cap < f->nd + extra) cap *= 2;
  int32_t *d = realloc(f->day, cap * sizeof *d);
  if (d) f->day = d;
  double *p = d ? realloc(f->pnl, cap * sizeof *p) : NULL;
  if (p) f->pnl = p;
  int64_t *c = p ? realloc(f->count, cap * sizeof *c) : NULL;
  if (c) f->count = c;
  gpx_trade_agg *a = c && f->keep_agg ? realloc(f->agg, cap * sizeof *a) : NULL;
  if (a) f->agg = a;
  if (c == NULL || (f->keep_agg && a == NULL)) return gpx_error_set(err, ENOMEM, "daily: out of memory for %zu days", cap);
  f->cap = cap;
  return GPX_OK;
}

static void emit_day(gpx_day_fold *f) {
  f->day[f->nd] = f->first_day + (int32_t)f->cur;
  f->pnl[f->nd] = f->sum + f->comp;
  f->count[f->nd] = f->cnt;
  if (f->keep_agg) {
    gpx_trade_agg *a = &f->agg[f->nd];
    *a = f->cur_agg;
    a->count = f->cnt;
    a->sum_pnl = f->pnl[f->nd];
    a->sum_win += f->wcomp;
    a->sum_loss += f->lcomp;
  }
  f->nd++;
  f->open = 0;
}

int gpx_day_fold_push(gpx_day_fold *f, const int64_t *ts, const double *pnl, size_t n, gpx_error *err) {
  if (n == 0) return GPX_OK;
  if (!ts || !pnl) return gpx_error_set(err, EINVAL, "daily: NULL input arrays");
  if (f->n == 0) return gpx_error_set(err, EINVAL, "daily: no day boundaries");
  for (size_t i = 0; i < n; i++) {
    if (ts[i] < day_start_ns(f, 0))
      return gpx_error_set(err, EINVAL, "daily: trade at row %zu lies before the first day", i);
    if ((i > 0 && ts[i] < ts[i - 1]) || (i == 0 && f->have_last && ts[0] < f->last_ns))
      return gpx_error_set(err, EINVAL, "daily: closed_at goes backwards at row %zu (not ordered)", i);
  }
  GPX_RETURN_NOT_OK(reserve_days(f, n + 1, err));
  for (size_t i = 0; i < n; i++) {
    f->last_ns = ts[i];
    f->have_last = 1;
    if (!isfinite(pnl[i])) continue;
    size_t d = locate(f, ts[i]);
    if (f->open && d != f->cur) emit_day(f);
    if (!f->open) {
      f->open = 1;
      f->cur = d;
      f->sum = f->comp = 0;
      f->cnt = 0;
      memset(&f->cur_agg, 0, sizeof f->cur_agg);
      f->wcomp = f->lcomp = 0;
    }
    gpx__nsum(&f->sum, &f->comp, pnl[i]);
    f->cnt++;
    if (f->keep_agg && pnl[i] > 0) {
      f->cur_agg.wins++;
      gpx__nsum(&f->cur_agg.sum_win, &f->wcomp, pnl[i]);
    } else if (f->keep_agg && pnl[i] < 0) {
      f->cur_agg.losses++;
      gpx__nsum(&f->cur_agg.sum_loss, &f->lcomp, pnl[i]);
    }
  }
  return GPX_OK;
}

int gpx_day_fold_finish(gpx_day_fold *f, gpx_error *err) {
  if (!f->open) return GPX_OK;
  GPX_RETURN_NOT_OK(reserve_days(f, 1, err));
  emit_day(f);
  return GPX_OK;
}
