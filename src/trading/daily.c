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
