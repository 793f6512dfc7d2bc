/*
** periods.c — calendar periods of the daily series: ISO weeks, months,
** quarters, years (period_returns), and the monthly-returns grid.
**
** Pure calendar arithmetic on day ordinals (days since 1970-01-01 in the
** query's time zone). Postgres has already decided which local day every
** trade belongs to, so a week with a 23-hour or 25-hour day is just seven
** ordinals here; no time-zone code. The dates are proleptic Gregorian
** (Howard Hinnant's days_from_civil / civil_from_days), exact for every
** int32 ordinal.
**
** A period's return is E(end)/E(start) − 1 over the part of the period
** inside the range (docs/analytics.md), computed as its P&L over E(start)
** so a small return keeps its digits; with every equity positive it equals
** the period's daily returns compounded.
*/
#include <math.h>
#include <stdlib.h>

#include "gpx/trading.h"
#include "trading/trading_int.h"

const char *const gpx_period_names[GPX_PERIOD_COUNT] = {"week", "month", "quarter", "year"};

/* Floor division for the era arithmetic (C rounds toward zero). */
static int64_t gpx__fdiv(int64_t a, int64_t b) { return a / b - ((a % b != 0) && ((a < 0) != (b < 0))); }

int64_t gpx_day_from_civil(int64_t y, int month, int mday) {
  y -= month <= 2;
  int64_t era = gpx__fdiv(y, 400);
  int64_t yoe = y - era * 400;                                      /* [0, 399] */
  int64_t doy = (153 * (month + (month > 2 ? -3 : 9)) + 2) / 5 + mday - 1; /* [0, 365] */
  int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;              /* [0, 146096] */
  return era * 146097 + doe - 719468;
}

void gpx_day_civil(int32_t day, int32_t *year, int *month, int *mday) {
  int64_t z = (int64_t)day + 719468;
  int64_t era = gpx__fdiv(z, 146097);
  int64_t doe = z - era * 146097;
  int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  int64_t mp = (5 * doy + 2) / 153;
  int d = (int)(doy - (153 * mp + 2) / 5 + 1);
  int m = (int)(mp < 10 ? mp + 3 : mp - 9);
  if (year) *year = (int32_t)(yoe + era * 400 + (m <= 2));
  if (month) *month = m;
  if (mday) *mday = d;
}

int64_t gpx_period_first_day(int32_t day, gpx_period p) {
  int32_t y;
  int m, d;
  switch (p) {
    case GPX_PERIOD_WEEK: return (int64_t)day - gpx_day_weekday(day); /* ISO: Monday = 0 */
    case GPX_PERIOD_MONTH: gpx_day_civil(day, &y, &m, &d); return gpx_day_from_civil(y, m, 1);
    case GPX_PERIOD_QUARTER: gpx_day_civil(day, &y, &m, &d); return gpx_day_from_civil(y, m - (m - 1) % 3, 1);
    case GPX_PERIOD_YEAR: gpx_day_civil(day, &y, &m, &d); return gpx_day_from_civil(y, 1, 1);
    default: return day;
  }
}

int64_t gpx_period_next(int64_t start, gpx_period p) {
  if (p == GPX_PERIOD_WEEK) return start + 7;
  int32_t y;
  int m, d;
  gpx_day_civil((int32_t)start, &y, &m, &d);
  int add = p == GPX_PERIOD_MONTH ? 1 : p == GPX_PERIOD_QUARTER ? 3 : 12;
  int64_t months = (int64_t)y * 12 + (m - 1) + add;
  return gpx_day_from_civil(gpx__fdiv(months, 12), (int)(months - gpx__fdiv(months, 12) * 12) + 1, 1);
}

void gpx_periods_reset(gpx_periods *p) {
  free(p->rows);
  memset(p, 0, sizeof *p);
}

int gpx_periods_build(const gpx_daily *d, gpx_period p, gpx_periods *out, gpx_error *err) {
  memset(out, 0, sizeof *out);
  if ((unsigned)p >= GPX_PERIOD_COUNT) return gpx_error_set(err, EINVAL, "period: must be one of week, month, quarter, year");
  if (d == NULL) return gpx_error_set(err, EINVAL, "periods: missing daily series");
  if (d->first_day > d->last_day)
    return gpx_error_set(err, EINVAL, "periods: first day %d after last day %d", (int)d->first_day, (int)d->last_day);
  if (d->n > 0 && (d->day == NULL || d->pnl == NULL || d->trades == NULL))
    return gpx_error_set(err, EINVAL, "periods: NULL daily arrays");
  if (!isfinite(d->base)) return gpx_error_set(err, EINVAL, "periods: equity at range start is not finite");
  size_t cnt = 0;
  for (int64_t s = gpx_period_first_day(d->first_day, p); s <= d->last_day; s = gpx_period_next(s, p)) cnt++;
  out->rows = malloc((cnt ? cnt : 1) * sizeof *out->rows);
  if (out->rows == NULL) return gpx_error_set(err, ENOMEM, "periods: out of memory for %zu periods", cnt);
  out->period = p;
  /* cs + cc: Σ D of the series before the current period (compensated, as
     the daily equity chain is), so E(start) is exact to the cent */
  double cs = 0, cc = 0;
  size_t j = 0;
  for (int64_t s = gpx_period_first_day(d->first_day, p); s <= d->last_day;) {
    int64_t next = gpx_period_next(s, p);
    gpx_period_row *row = &out->rows[out->n++];
    row->start_day = (int32_t)s;
    row->first_day = s > d->first_day ? (int32_t)s : d->first_day;
    row->last_day = next - 1 < d->last_day ? (int32_t)(next - 1) : d->last_day;
    row->equity_start = d->base + (cs + cc);
    double ps = 0, pc = 0;
    row->trades = 0;
    for (; j < d->n && d->day[j] <= row->last_day; j++) {
      if (d->day[j] >= row->first_day) {
        gpx__nsum(&ps, &pc, d->pnl[j]);
        row->trades += d->trades[j];
      }
      gpx__nsum(&cs, &cc, d->pnl[j]);
    }
    row->pnl = ps + pc;
    row->equity_end = d->base + (cs + cc);
    double r = row->equity_start > 0 ? row->pnl / row->equity_start : NAN;
    row->ret = isfinite(r) ? r : NAN;
    s = next;
  }
  return GPX_OK;
}

int gpx_month_grid(const gpx_periods *months, gpx_month_grid_row **rows, size_t *n, gpx_error *err) {
  *rows = NULL;
  *n = 0;
  if (months == NULL || months->period != GPX_PERIOD_MONTH)
    return gpx_error_set(err, EINVAL, "layout: grid needs monthly periods");
  if (months->n == 0) return GPX_OK;
  int32_t y0, y1;
  int m, d;
  gpx_day_civil(months->rows[0].start_day, &y0, &m, &d);
  gpx_day_civil(months->rows[months->n - 1].start_day, &y1, &m, &d);
  size_t years = (size_t)((int64_t)y1 - y0 + 1);
  gpx_month_grid_row *g = malloc(years * sizeof *g);
  if (g == NULL) return gpx_error_set(err, ENOMEM, "grid: out of memory for %zu years", years);
  for (size_t k = 0; k < years; k++) {
    g[k].year = (int32_t)(y0 + (int64_t)k);
    for (int i = 0; i < 12; i++) g[k].month[i] = NAN;
    g[k].year_ret = NAN;
  }
  /* a year's return: Σ P&L of its months in the range over E at the start
     of its first month in the range (= its monthly returns compounded) */
  double ys = 0, yc = 0, ye = NAN;
  int32_t cur = y0;
  for (size_t i = 0; i <= months->n; i++) {
    int32_t y = cur;
    if (i < months->n) {
      gpx_day_civil(months->rows[i].start_day, &y, &m, &d);
      if (d != 1 || (i > 0 && months->rows[i].start_day <= months->rows[i - 1].start_day)) {
        free(g);
        return gpx_error_set(err, EINVAL, "grid: period %zu is not a calendar month", i);
      }
    }
    if (i == months->n || y != cur) {
      double r = ye > 0 ? (ys + yc) / ye : NAN;
      g[cur - y0].year_ret = isfinite(r) ? r : NAN;
      ys = yc = 0;
      ye = NAN;
      cur = y;
    }
    if (i == months->n) break;
    if (isnan(ye)) ye = months->rows[i].equity_start;
    gpx__nsum(&ys, &yc, months->rows[i].pnl);
    g[y - y0].month[m - 1] = months->rows[i].ret;
  }
  *rows = g;
  *n = years;
  return GPX_OK;
}
