/*
** check_trading_periods.c — Check suite for src/trading/periods.c and
** src/trading/rolling.c: calendar periods of the daily series, the
** monthly-returns grid, rolling metrics. (Its own file: check_trading.c is
** the rest of trading/ and long enough.)
**
** Expected values are hand-computed in comments; the rolling metrics are
** also compared, window by window, with a direct computation — the stats
** functions (gpx_sharpe & co.) on the window's slice, long-double loops for
** the sums — over long random series with pathological stretches.
*/
#include <check.h>
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "gpx/trading.h"

#include "check_main.h"

#define ck_near(a, b, tol) ck_assert_msg(fabs((double)(a) - (double)(b)) <= (tol), \
    "%s = %.17g, expected %.17g", #a, (double)(a), (double)(b))
#define ck_nan(a) ck_assert_msg(isnan(a), "%s = %.17g, expected NaN (null)", #a, (double)(a))

/* Day ordinals used below (days since 1970-01-01):
   2025-01-01 = 55·365 + 14 leap days = 20089 (a Wednesday);
   2025-01-27 = 20115 (Monday), 2025-01-30 = 20118, 2025-02-01 = 20120,
   2025-03-01 = 20089 + 31 + 28 = 20148, 2025-03-02 = 20149 (Sunday),
   2025-03-03 = 20150 (Monday), 2025-03-09 = 20156 (Sunday, DST starts in New York),
   2025-04-01 = 20179, 2024-12-01 = 20058, 2024-11-01 = 20028. */

static gpx_analytics_opts opts(double a, double rf) {
  gpx_analytics_opts o;
  gpx_analytics_opts_default(&o);
  o.annualization = a;
  o.risk_free_rate = rf;
  return o;
}

/* ---------------------------------------------------------------- calendar */

START_TEST(test_civil) {
  int32_t y;
  int m, d;
  gpx_day_civil(0, &y, &m, &d);
  ck_assert(y == 1970 && m == 1 && d == 1);
  gpx_day_civil(-1, &y, &m, &d);
  ck_assert(y == 1969 && m == 12 && d == 31);
  gpx_day_civil(20089, &y, &m, &d);
  ck_assert(y == 2025 && m == 1 && d == 1);
  /* 2024-01-01 = 20089 − 366; + 31 + 28 = 2024-02-29 */
  ck_assert_int_eq(gpx_day_from_civil(2024, 2, 29), 20089 - 366 + 59);
  ck_assert_int_eq(gpx_day_from_civil(2000, 3, 1), 11017); /* 2000-01-01 = 10957, + 31 + 29 */
  ck_assert_int_eq(gpx_day_from_civil(1900, 3, 1), -25508); /* 1900 is no leap year: 1900-02-28 is the day before */
  ck_assert_int_eq(gpx_day_from_civil(1900, 2, 28), -25509);
  /* round trip, and consecutive ordinals are consecutive dates */
  for (int32_t day = -800000; day <= 800000; day += 7) {
    gpx_day_civil(day, &y, &m, &d);
    ck_assert_int_eq(gpx_day_from_civil(y, m, d), day);
  }
  gpx_day_civil(INT32_MAX, &y, &m, &d);
  ck_assert_int_eq(gpx_day_from_civil(y, m, d), INT32_MAX);
  gpx_day_civil(INT32_MIN, &y, &m, &d);
  ck_assert_int_eq(gpx_day_from_civil(y, m, d), INT32_MIN);
}
END_TEST

START_TEST(test_period_first_and_next) {
  /* 2025-01-01 (Wednesday) is in ISO week 1 of 2025, which starts on Monday 2024-12-30 */
  ck_assert_int_eq(gpx_period_first_day(20089, GPX_PERIOD_WEEK), 20087);
  ck_assert_int_eq(gpx_period_first_day(20150, GPX_PERIOD_WEEK), 20150); /* a Monday is its own week's start */
  ck_assert_int_eq(gpx_period_first_day(20156, GPX_PERIOD_WEEK), 20150); /* Sunday belongs to the week before */
  ck_assert_int_eq(gpx_period_first_day(20152, GPX_PERIOD_MONTH), 20148);
  ck_assert_int_eq(gpx_period_first_day(20179 + 49, GPX_PERIOD_QUARTER), 20179); /* 2025-05-20 → 2025-04-01 */
  ck_assert_int_eq(gpx_period_first_day(20179 - 1, GPX_PERIOD_QUARTER), 20089); /* 2025-03-31 → 2025-01-01 */
  ck_assert_int_eq(gpx_period_first_day(20179 + 200, GPX_PERIOD_YEAR), 20089);
  ck_assert_int_eq(gpx_period_first_day(-1, GPX_PERIOD_YEAR), -365); /* 1969-01-01 */
  ck_assert_int_eq(gpx_period_next(20087, GPX_PERIOD_WEEK), 20094);
  ck_assert_int_eq(gpx_period_next(20058, GPX_PERIOD_MONTH), 20089); /* December → next year's January */
  ck_assert_int_eq(gpx_period_next(20089 - 92, GPX_PERIOD_QUARTER), 20089); /* 2024-10-01 → 2025-01-01 */
  ck_assert_int_eq(gpx_period_next(20089, GPX_PERIOD_YEAR), 20089 + 365);
  ck_assert_int_eq(gpx_period_next(20120, GPX_PERIOD_MONTH), 20148);
}
END_TEST

/* ----------------------------------------------------------------- periods */

/* Range 2025-01-30 .. 2025-03-02 (Thursday .. Sunday), E(from) = 1000:
   Jan 30 +100 (2 trades), Jan 31 −50 (1), Feb 11 +200 (3), Mar 2 −100 (1). */
static void partial_series(gpx_daily *d) {
  const int32_t day[] = {20118, 20119, 20130, 20149};
  const double pnl[] = {100, -50, 200, -100};
  const int64_t n[] = {2, 1, 3, 1};
  gpx_error err;
  ck_assert_int_eq(gpx_daily_build(day, pnl, n, 4, 20118, 20149, GPX_DAYS_ALL, 1000, d, &err), 0);
}

START_TEST(test_periods_partly_outside_range) {
  gpx_daily d = {0};
  partial_series(&d);
  gpx_periods p;
  gpx_error err;
  ck_assert_int_eq(gpx_periods_build(&d, GPX_PERIOD_MONTH, &p, &err), 0);
  ck_assert_uint_eq(p.n, 3);
  /* January: the calendar month starts before the range and is clipped to Jan 30–31:
     P&L 50, E 1000 → 1050, return 0.05 (= 1.1 · (1 − 50/1100) − 1) */
  ck_assert_int_eq(p.rows[0].start_day, 20089);
  ck_assert_int_eq(p.rows[0].first_day, 20118);
  ck_assert_int_eq(p.rows[0].last_day, 20119);
  ck_near(p.rows[0].pnl, 50, 0);
  ck_assert_int_eq(p.rows[0].trades, 3);
  ck_near(p.rows[0].equity_start, 1000, 0);
  ck_near(p.rows[0].equity_end, 1050, 0);
  ck_near(p.rows[0].ret, 0.05, 1e-15);
  /* February whole: 200/1050 */
  ck_assert(p.rows[1].start_day == 20120 && p.rows[1].first_day == 20120 && p.rows[1].last_day == 20147);
  ck_near(p.rows[1].ret, 200.0 / 1050.0, 1e-15);
  ck_assert_int_eq(p.rows[1].trades, 3);
  /* March clipped at the range end (Mar 1–2): −100/1250 = −0.08 */
  ck_assert(p.rows[2].start_day == 20148 && p.rows[2].first_day == 20148 && p.rows[2].last_day == 20149);
  ck_near(p.rows[2].ret, -0.08, 1e-15);
  ck_near(p.rows[2].equity_end, 1150, 0);
  /* each period's return = its daily returns compounded */
  for (size_t i = 0; i < p.n; i++) {
    long double prod = 1;
    for (size_t k = 0; k < d.n; k++)
      if (d.day[k] >= p.rows[i].first_day && d.day[k] <= p.rows[i].last_day) prod *= 1 + (long double)d.ret[k];
    ck_near(p.rows[i].ret, (double)(prod - 1), 1e-15);
  }
  gpx_periods_reset(&p);

  /* one quarter and one year, both clipped on both sides: 150/1000 */
  for (gpx_period per = GPX_PERIOD_QUARTER; per <= GPX_PERIOD_YEAR; per++) {
    ck_assert_int_eq(gpx_periods_build(&d, per, &p, &err), 0);
    ck_assert_uint_eq(p.n, 1);
    ck_assert_int_eq(p.rows[0].start_day, 20089);
    ck_near(p.rows[0].ret, 0.15, 1e-15);
    ck_assert_int_eq(p.rows[0].trades, 7);
    gpx_periods_reset(&p);
  }

  /* ISO weeks: Jan 27–Feb 2 (from Thursday Jan 30: 50), Feb 3–9 (0), Feb 10–16 (200),
     Feb 17–23 (0), Feb 24–Mar 2 (−100, ends on the range's last day, a Sunday) */
  ck_assert_int_eq(gpx_periods_build(&d, GPX_PERIOD_WEEK, &p, &err), 0);
  ck_assert_uint_eq(p.n, 5);
  const double wpnl[] = {50, 0, 200, 0, -100}, wret[] = {0.05, 0, 200.0 / 1050, 0, -0.08};
  for (size_t i = 0; i < 5; i++) {
    ck_assert_int_eq(p.rows[i].start_day, 20115 + 7 * (int32_t)i);
    ck_assert_int_eq(gpx_day_weekday(p.rows[i].start_day), 0);
    ck_near(p.rows[i].pnl, wpnl[i], 0);
    ck_near(p.rows[i].ret, wret[i], 1e-15);
  }
  ck_assert_int_eq(p.rows[0].first_day, 20118);
  ck_assert_int_eq(p.rows[4].last_day, 20149);
  gpx_periods_reset(&p);
  gpx_daily_reset(&d);
}
END_TEST

/* New York, spring 2025: DST starts on Sunday 2025-03-09 (a 23-hour day).
   Postgres maps each trade to its local day: 2025-03-10 03:30 UTC is
   2025-03-09 23:30 EDT, so Sunday 20156 — in UTC it would be Monday, in the
   next ISO week. The weekly periods take the ordinals as they come: the
   week of 03-03 holds it. Autumn: 2025-11-02 (25 hours) is the Sunday of
   the week of 2025-10-27; the next week starts Monday 2025-11-03. */
START_TEST(test_periods_dst_weeks) {
  gpx_daily d = {0};
  gpx_error err;
  /* 2025-03-05 (Wed, 20152) .. 2025-03-12 (Wed, 20159): trades on local Sunday 20156 (+30, the
     23:30 EDT trade) and Monday 20157 (−10); E(from) = 100 */
  const int32_t day[] = {20156, 20157};
  const double pnl[] = {30, -10};
  const int64_t n[] = {1, 1};
  ck_assert_int_eq(gpx_daily_build(day, pnl, n, 2, 20152, 20159, GPX_DAYS_ALL, 100, &d, &err), 0);
  gpx_periods p;
  ck_assert_int_eq(gpx_periods_build(&d, GPX_PERIOD_WEEK, &p, &err), 0);
  ck_assert_uint_eq(p.n, 2);
  ck_assert(p.rows[0].start_day == 20150 && p.rows[0].first_day == 20152 && p.rows[0].last_day == 20156);
  ck_near(p.rows[0].pnl, 30, 0);
  ck_near(p.rows[0].ret, 0.3, 1e-15);
  ck_assert(p.rows[1].start_day == 20157 && p.rows[1].first_day == 20157 && p.rows[1].last_day == 20159);
  ck_near(p.rows[1].ret, -10.0 / 130, 1e-15);
  gpx_periods_reset(&p);
  gpx_daily_reset(&d);

  /* autumn: 2025-10-27 = 20388 (Monday) … 2025-11-02 = 20394 (Sunday, 25 h), 2025-11-03 = 20395 */
  ck_assert_int_eq(gpx_day_from_civil(2025, 10, 27), 20388);
  ck_assert_int_eq(gpx_day_weekday(20388), 0);
  const int32_t day2[] = {20394, 20395};
  const double pnl2[] = {-20, 5};
  ck_assert_int_eq(gpx_daily_build(day2, pnl2, n, 2, 20390, 20396, GPX_DAYS_WEEKDAYS, 200, &d, &err), 0);
  ck_assert_int_eq(gpx_periods_build(&d, GPX_PERIOD_WEEK, &p, &err), 0);
  ck_assert_uint_eq(p.n, 2);
  ck_assert(p.rows[0].start_day == 20388 && p.rows[0].last_day == 20394);
  ck_near(p.rows[0].ret, -0.1, 1e-15); /* the Sunday has a trade, so weekdays mode keeps it */
  ck_assert(p.rows[1].start_day == 20395 && p.rows[1].last_day == 20396);
  ck_near(p.rows[1].ret, 5.0 / 180, 1e-15);
  gpx_periods_reset(&p);
  gpx_daily_reset(&d);
}
END_TEST

START_TEST(test_month_grid) {
  gpx_daily d = {0};
  gpx_error err;
  /* 2024-11-15 (20042) .. 2025-02-10 (20129), E(from) = 10000:
     Nov 15 +100, Dec 3 −200, Jan 7 +300, Feb 10 +50 */
  const int32_t day[] = {20042, 20060, 20095, 20129};
  const double pnl[] = {100, -200, 300, 50};
  ck_assert_int_eq(gpx_daily_build(day, pnl, NULL, 4, 20042, 20129, GPX_DAYS_ALL, 10000, &d, &err), 0);
  gpx_periods p;
  ck_assert_int_eq(gpx_periods_build(&d, GPX_PERIOD_MONTH, &p, &err), 0);
  ck_assert_uint_eq(p.n, 4);
  gpx_month_grid_row *g = NULL;
  size_t n = 0;
  ck_assert_int_eq(gpx_month_grid(&p, &g, &n, &err), 0);
  ck_assert_uint_eq(n, 2);
  ck_assert_int_eq(g[0].year, 2024);
  for (int m = 0; m < 10; m++) ck_nan(g[0].month[m]); /* Jan–Oct 2024: outside the range */
  ck_near(g[0].month[10], 0.01, 1e-15);               /* Nov: 100/10000 (from the 15th) */
  ck_near(g[0].month[11], -200.0 / 10100, 1e-15);
  ck_near(g[0].year_ret, -0.01, 1e-15);               /* 2024 within the range: −100/10000 */
  ck_assert_int_eq(g[1].year, 2025);
  ck_near(g[1].month[0], 300.0 / 9900, 1e-15);
  ck_near(g[1].month[1], 50.0 / 10200, 1e-15);        /* Feb, up to the 10th */
  for (int m = 2; m < 12; m++) ck_nan(g[1].month[m]);
  ck_near(g[1].year_ret, 350.0 / 9900, 1e-15);
  /* the year = its months compounded */
  ck_near(g[1].year_ret, (1 + g[1].month[0]) * (1 + g[1].month[1]) - 1, 1e-15);
  free(g);
  gpx_periods_reset(&p);
  /* weeks are no grid */
  ck_assert_int_eq(gpx_periods_build(&d, GPX_PERIOD_WEEK, &p, &err), 0);
  ck_assert_int_eq(gpx_month_grid(&p, &g, &n, &err), EINVAL);
  ck_assert_ptr_null(g);
  gpx_periods_reset(&p);
  /* E(start) <= 0: the return is null, P&L still there */
  gpx_daily_reset(&d);
  ck_assert_int_eq(gpx_daily_build(day, pnl, NULL, 4, 20042, 20129, GPX_DAYS_ALL, 0, &d, &err), 0);
  ck_assert_int_eq(gpx_periods_build(&d, GPX_PERIOD_MONTH, &p, &err), 0);
  ck_nan(p.rows[0].ret);
  ck_near(p.rows[0].pnl, 100, 0);
  ck_near(p.rows[1].ret, -2, 1e-15); /* December: −200 on E = 100 */
  ck_nan(p.rows[2].ret);             /* January: E = 0 + 100 − 200 = −100 */
  ck_near(p.rows[3].ret, 0.25, 1e-15); /* February: 50 on E = 200 */
  gpx_periods_reset(&p);
  gpx_daily_reset(&d);
}
END_TEST

START_TEST(test_periods_bad_input) {
  gpx_daily d = {0};
  gpx_periods p;
  gpx_error err;
  partial_series(&d);
  ck_assert_int_eq(gpx_periods_build(&d, GPX_PERIOD_COUNT, &p, &err), EINVAL);
  ck_assert_ptr_null(p.rows);
  ck_assert_int_eq(gpx_periods_build(NULL, GPX_PERIOD_MONTH, &p, &err), EINVAL);
  d.last_day = d.first_day - 1;
  ck_assert_int_eq(gpx_periods_build(&d, GPX_PERIOD_MONTH, &p, &err), EINVAL);
  gpx_daily_reset(&d);
  gpx_periods_reset(&p); /* safe on an empty one */
}
END_TEST

/* ----------------------------------------------------------------- rolling */

/* E(from) = 100, returns 0.1, 0.2, −0.1, 0, 0.1: E = 110, 132, 118.8, 118.8, 130.68. */
static void five_days(gpx_daily *d) {
  const int32_t day[] = {0, 1, 2, 3, 4};
  const double pnl[] = {10, 22, -13.2, 0, 11.88};
  gpx_error err;
  ck_assert_int_eq(gpx_daily_build(day, pnl, NULL, 5, 0, 4, GPX_DAYS_ALL, 100, d, &err), 0);
}

START_TEST(test_rolling_hand) {
  gpx_daily d = {0};
  five_days(&d);
  gpx_analytics_opts o = opts(1, 0);
  double v[5];
  gpx_error err;
  /* window 3, A = 1, rf = 0.
     [0.1, 0.2, −0.1]: mean 1/15, Σdev² = 0.06 − 3/225 = 7/150, std = √(7/300):
       Sharpe (1/15)/√(7/300) = √(4/21); Sortino (1/15)/√(0.01/3) = √(4/3); volatility √(7/300)
     [0.2, −0.1, 0]: mean 1/30, same std: Sharpe √(1/21), Sortino √(1/3)
     [−0.1, 0, 0.1]: mean 0, std 0.1: Sharpe 0, Sortino 0, volatility 0.1 */
  ck_assert_int_eq(gpx_rolling(&d, NULL, GPX_ROLL_SHARPE, 3, &o, v, &err), 0);
  ck_nan(v[0]);
  ck_nan(v[1]);
  ck_near(v[2], sqrt(4.0 / 21), 1e-12);
  ck_near(v[3], sqrt(1.0 / 21), 1e-12);
  ck_near(v[4], 0, 1e-12);
  ck_assert_int_eq(gpx_rolling(&d, NULL, GPX_ROLL_SORTINO, 3, &o, v, &err), 0);
  ck_nan(v[1]);
  ck_near(v[2], sqrt(4.0 / 3), 1e-12);
  ck_near(v[3], sqrt(1.0 / 3), 1e-12);
  ck_near(v[4], 0, 1e-12);
  ck_assert_int_eq(gpx_rolling(&d, NULL, GPX_ROLL_VOLATILITY, 3, &o, v, &err), 0);
  ck_near(v[2], sqrt(7.0 / 300), 1e-12);
  ck_near(v[3], sqrt(7.0 / 300), 1e-12);
  ck_near(v[4], 0.1, 1e-12);
  /* return = E(end)/E(start) − 1: 118.8/100, 118.8/110, 130.68/132 */
  ck_assert_int_eq(gpx_rolling(&d, NULL, GPX_ROLL_RETURN, 3, &o, v, &err), 0);
  ck_nan(v[1]);
  ck_near(v[2], 0.188, 1e-14);
  ck_near(v[3], 0.08, 1e-14);
  ck_near(v[4], -0.01, 1e-14);
  ck_near(v[2], 1.1 * 1.2 * 0.9 - 1, 1e-14);
  ck_assert_int_eq(gpx_rolling(&d, NULL, GPX_ROLL_PNL, 3, &o, v, &err), 0);
  ck_near(v[2], 18.8, 1e-12);
  ck_near(v[3], 8.8, 1e-12);
  ck_near(v[4], -1.32, 1e-12);
  /* window 2, A = 252, rf = 3 %: the excess over rf_d = 1.03^(1/252) − 1 */
  o = opts(252, 0.03);
  double rfd = pow(1.03, 1.0 / 252) - 1;
  ck_assert_int_eq(gpx_rolling(&d, NULL, GPX_ROLL_SHARPE, 2, &o, v, &err), 0);
  /* [0.1, 0.2]: mean 0.15 − rf_d, std √0.005 */
  ck_near(v[1], (0.15 - rfd) / sqrt(0.005) * sqrt(252), 1e-9);
  gpx_daily_reset(&d);
}
END_TEST

START_TEST(test_rolling_trade_ratios) {
  gpx_daily d = {0};
  five_days(&d);
  /* per day (sparse, as SQL gives them): day 0 +15 −5, day 1 +22, day 2 −10 −3.2,
     day 3 one zero-P&L trade, day 4 +11.88 */
  const int32_t day[] = {0, 1, 2, 3, 4};
  const gpx_trade_agg agg[] = {{2, 1, 1, 10, 15, -5}, {1, 1, 0, 22, 22, 0}, {2, 0, 2, -13.2, 0, -13.2},
                               {1, 0, 0, 0, 0, 0},    {1, 1, 0, 11.88, 11.88, 0}};
  gpx_trade_agg al[5];
  gpx_error err;
  ck_assert_int_eq(gpx_daily_spread_agg(&d, day, agg, 5, al, &err), 0);
  gpx_analytics_opts o = opts(252, 0);
  double v[5];
  ck_assert_int_eq(gpx_rolling(&d, al, GPX_ROLL_WIN_RATE, 3, &o, v, &err), 0);
  ck_nan(v[1]);
  ck_near(v[2], 2.0 / 5, 1e-15);   /* 5 trades, 2 wins */
  ck_near(v[3], 1.0 / 4, 1e-15);   /* the zero trade counts in the denominator */
  ck_near(v[4], 1.0 / 4, 1e-15);
  ck_assert_int_eq(gpx_rolling(&d, al, GPX_ROLL_PROFIT_FACTOR, 3, &o, v, &err), 0);
  ck_near(v[2], 37 / 18.2, 1e-12);
  ck_near(v[3], 22 / 13.2, 1e-12);
  ck_near(v[4], 11.88 / 13.2, 1e-12);
  ck_assert_int_eq(gpx_rolling(&d, al, GPX_ROLL_PROFIT_FACTOR, 2, &o, v, &err), 0);
  ck_nan(v[0]);
  ck_near(v[1], 37 / 5.0, 1e-12);
  ck_near(v[2], 22 / 13.2, 1e-12);
  ck_near(v[3], 0, 0);              /* losers only: 0 */
  ck_nan(v[4]);                     /* no losing trade: null */
  /* sparse input: days without trades are zero */
  const int32_t d2[] = {1, 4};
  const gpx_trade_agg a2[] = {agg[1], agg[4]};
  ck_assert_int_eq(gpx_daily_spread_agg(&d, d2, a2, 2, al, &err), 0);
  ck_assert(al[0].count == 0 && al[1].count == 1 && al[2].count == 0 && al[4].wins == 1);
  ck_assert_int_eq(gpx_rolling(&d, al, GPX_ROLL_WIN_RATE, 2, &o, v, &err), 0);
  ck_near(v[1], 1, 0);
  ck_near(v[2], 1, 0);
  ck_nan(v[3]);                     /* no trade in the window */
  /* bad input */
  const int32_t bad[] = {2, 1};
  ck_assert_int_eq(gpx_daily_spread_agg(&d, bad, a2, 2, al, &err), EINVAL);
  const int32_t outside[] = {9};
  ck_assert_int_eq(gpx_daily_spread_agg(&d, outside, a2, 1, al, &err), EINVAL);
  ck_assert_int_eq(gpx_rolling(&d, NULL, GPX_ROLL_WIN_RATE, 2, &o, v, &err), EINVAL);
  gpx_daily_reset(&d);
}
END_TEST

START_TEST(test_rolling_window_longer_than_range) {
  gpx_daily d = {0};
  five_days(&d);
  gpx_analytics_opts o = opts(252, 0);
  double v[5];
  gpx_error err;
  for (int m = 0; m < GPX_ROLL_COUNT; m++) {
    gpx_trade_agg al[5] = {{0}};
    for (int i = 0; i < 5; i++) v[i] = 42;
    ck_assert_int_eq(gpx_rolling(&d, al, (gpx_rolling_metric)m, 6, &o, v, &err), 0);
    for (int i = 0; i < 5; i++) ck_nan(v[i]);
    ck_assert_int_eq(gpx_rolling(&d, al, (gpx_rolling_metric)m, 3650, &o, v, &err), 0);
    ck_nan(v[4]);
  }
  /* exactly the range: one value, on the last day */
  ck_assert_int_eq(gpx_rolling(&d, NULL, GPX_ROLL_PNL, 5, &o, v, &err), 0);
  ck_nan(v[3]);
  ck_near(v[4], 30.68, 1e-12);
  /* options */
  ck_assert_int_eq(gpx_rolling(&d, NULL, GPX_ROLL_PNL, 1, &o, v, &err), EINVAL);
  ck_assert_msg(strstr(err.msg, "window") != NULL, "%s", err.msg);
  ck_assert_int_eq(gpx_rolling(&d, NULL, GPX_ROLL_PNL, 3651, &o, v, &err), EINVAL);
  ck_assert_int_eq(gpx_rolling(&d, NULL, GPX_ROLL_COUNT, 3, &o, v, &err), EINVAL);
  ck_assert_msg(strstr(err.msg, "metric") != NULL, "%s", err.msg);
  ck_assert_int_eq(gpx_rolling_metric_index("profit_factor"), GPX_ROLL_PROFIT_FACTOR);
  ck_assert_int_eq(gpx_rolling_metric_index("sharpe_ratio"), -1);
  /* an empty series */
  gpx_daily e = {0};
  e.first_day = 0, e.last_day = 1;
  ck_assert_int_eq(gpx_rolling(&e, NULL, GPX_ROLL_SHARPE, 2, &o, v, &err), 0);
  gpx_daily_reset(&d);
}
END_TEST

/* ---- long series against the direct computation ---- */

static uint64_t rng_state;
static double urand(void) { /* xorshift64*, in [0, 1) */
  rng_state ^= rng_state >> 12, rng_state ^= rng_state << 25, rng_state ^= rng_state >> 27;
  return (double)((rng_state * 2685821657736338717ULL) >> 11) / 9007199254740992.0;
}

/* Returns with stretches that break naive running sums: long runs of exact
   zeros (flat windows: std 0), a regime of large returns with a spread of
   1e-9 (Σx² − (Σx)²/n cancels), NaN returns (equity ≤ 0), ordinary noise. */
static void pathological_returns(double *r, size_t n) {
  for (size_t i = 0; i < n; i++) {
    size_t seg = (i / 400) % 5;
    double u = urand();
    if (seg == 0) r[i] = 0.01 * (u - 0.5);
    else if (seg == 1) r[i] = (i % 97 < 60) ? 0.0 : 0.02 * (u - 0.45);
    else if (seg == 2) r[i] = 0.5 + 1e-9 * (u - 0.5);
    else if (seg == 3) r[i] = u < 0.1 ? NAN : 0.03 * (u - 0.5);
    else r[i] = 0.25; /* constant: std exactly 0 */
  }
}

/* The window's metric by the formulas of stats.c, in long double (two-pass,
   the same zero-spread rule): the reference the running sums must meet. */
static double ref_moment(const double *r, size_t w, gpx_rolling_metric m, const gpx_analytics_opts *o, double *cond) {
  double shift = m == GPX_ROLL_VOLATILITY ? 0 : expm1(log1p(o->risk_free_rate) / o->annualization);
  long double sum = 0, ssd = 0, down = 0;
  double lo = INFINITY, hi = -INFINITY, amax = 0;
  size_t k = 0;
  for (size_t j = 0; j < w; j++) {
    if (!isfinite(r[j])) continue;
    double x = r[j] - shift;
    lo = fmin(lo, x), hi = fmax(hi, x), amax = fmax(amax, fabs(x));
    sum += x, k++;
    if (x < 0) down += (long double)x * x;
  }
  *cond = INFINITY;
  if (k < 2) return NAN;
  long double mean = sum / k;
  for (size_t j = 0; j < w; j++)
    if (isfinite(r[j])) ssd += ((r[j] - shift) - mean) * ((r[j] - shift) - mean);
  if (hi - lo <= 8 * DBL_EPSILON * amax) ssd = 0;
  long double sd = sqrtl(ssd / (k - 1)), a = o->annualization;
  *cond = sd > 0 ? amax / (double)sd : INFINITY; /* how many digits a double two-pass loses */
  if (m == GPX_ROLL_SHARPE) return ssd > 0 ? (double)(mean / sd * sqrtl(a)) : NAN;
  if (m == GPX_ROLL_SORTINO) return down > 0 ? (double)(mean * a / (sqrtl(down / k) * sqrtl(a))) : NAN;
  return (double)(sd * sqrtl(a));
}

static int close_to(double a, double b, double rel) {
  if (isnan(a) || isnan(b)) return isnan(a) && isnan(b);
  return fabs(a - b) <= rel * fmax(fabs(a), fabs(b)) + 1e-13;
}

START_TEST(test_rolling_matches_direct) {
  const size_t n = 4000;
  double *r = malloc(n * sizeof *r), *v = malloc(n * sizeof *v);
  ck_assert(r && v);
  rng_state = 0x9E3779B97F4A7C15ULL;
  pathological_returns(r, n);
  gpx_daily d = {0};
  d.n = n, d.ret = r, d.pnl = r, d.equity = r, d.base = 1; /* the moment metrics read ret only */
  const size_t windows[] = {2, 3, 30, 97, 252, 1000};
  const gpx_rolling_metric ms[] = {GPX_ROLL_SHARPE, GPX_ROLL_SORTINO, GPX_ROLL_VOLATILITY};
  size_t compared = 0;
  for (size_t wi = 0; wi < sizeof windows / sizeof *windows; wi++) {
    for (size_t mi = 0; mi < 3; mi++) {
      for (int rf = 0; rf < 2; rf++) {
        gpx_analytics_opts o = opts(252, rf ? 0.04 : 0);
        gpx_error err;
        size_t w = windows[wi];
        ck_assert_int_eq(gpx_rolling(&d, NULL, ms[mi], w, &o, v, &err), 0);
        for (size_t i = 0; i < n; i++) {
          if (i + 1 < w) {
            ck_nan(v[i]);
            continue;
          }
          const double *s = r + i + 1 - w;
          double cond, want = ref_moment(s, w, ms[mi], &o, &cond);
          ck_assert_msg(close_to(v[i], want, 1e-9), "%s window %zu rf %d day %zu: %.17g, long-double direct %.17g",
                        gpx_rolling_metric_names[ms[mi]], w, rf, i, v[i], want);
          /* the stats functions themselves, where a double two-pass keeps its digits (in the
             0.5 ± 1e-9 stretch it cannot: the mean's rounding is a part in 1e4 of the spread) */
          if (cond > 1e4) continue;
          double st = ms[mi] == GPX_ROLL_SHARPE ? gpx_sharpe(s, w, &o)
                    : ms[mi] == GPX_ROLL_SORTINO ? gpx_sortino(s, w, &o) : gpx_annual_volatility(s, w, &o);
          ck_assert_msg(close_to(v[i], st, 1e-9), "%s window %zu rf %d day %zu: %.17g, stats %.17g",
                        gpx_rolling_metric_names[ms[mi]], w, rf, i, v[i], st);
          compared++;
        }
      }
    }
  }
  ck_assert_uint_gt(compared, 40000);
  free(r);
  free(v);
}
END_TEST

START_TEST(test_rolling_sums_match_direct) {
  /* 5000 days of P&L in cents (trades up to 1000) on a 1e6 base, every 7th day without trades */
  const size_t n = 5000;
  int32_t *day = malloc(n * sizeof *day);
  double *pnl = malloc(n * sizeof *pnl), *v = malloc(n * sizeof *v);
  gpx_trade_agg *agg = calloc(n, sizeof *agg), *al = calloc(n, sizeof *al);
  ck_assert(day && pnl && v && agg && al);
  rng_state = 12345;
  size_t k = 0;
  for (size_t i = 0; i < n; i++) {
    if (i % 7 == 3) continue;
    int64_t wins = (int64_t)(urand() * 4), losses = (int64_t)(urand() * 4);
    double sw = 0, sl = 0;
    for (int64_t t = 0; t < wins; t++) sw += round(urand() * 1e5) / 100;
    for (int64_t t = 0; t < losses; t++) sl -= round(urand() * 1e5) / 100;
    day[k] = (int32_t)i;
    agg[k] = (gpx_trade_agg){wins + losses + 1, wins, losses, sw + sl, sw, sl}; /* + one zero-P&L trade */
    pnl[k++] = sw + sl;
  }
  gpx_daily d = {0};
  gpx_error err;
  ck_assert_int_eq(gpx_daily_build(day, pnl, NULL, k, 0, (int32_t)n - 1, GPX_DAYS_ALL, 1e6, &d, &err), 0);
  ck_assert_int_eq(gpx_daily_spread_agg(&d, day, agg, k, al, &err), 0);
  gpx_analytics_opts o = opts(365, 0);
  const size_t windows[] = {2, 30, 365, 3650};
  for (size_t wi = 0; wi < 4; wi++) {
    size_t w = windows[wi];
    for (int m = GPX_ROLL_RETURN; m < GPX_ROLL_COUNT; m++) {
      ck_assert_int_eq(gpx_rolling(&d, al, (gpx_rolling_metric)m, w, &o, v, &err), 0);
      for (size_t i = 0; i < d.n; i++) {
        double want = NAN;
        if (i + 1 >= w) {
          long double prod = 1, sum = 0, sw = 0, sl = 0;
          int64_t cnt = 0, wins = 0, losses = 0;
          for (size_t j = i + 1 - w; j <= i; j++) {
            prod *= 1 + (long double)d.ret[j];
            sum += d.pnl[j];
            sw += al[j].sum_win, sl += al[j].sum_loss;
            cnt += al[j].count, wins += al[j].wins, losses += al[j].losses;
          }
          if (m == GPX_ROLL_RETURN) want = (double)(prod - 1);
          else if (m == GPX_ROLL_PNL) want = (double)sum;
          else if (m == GPX_ROLL_WIN_RATE) want = cnt ? (double)wins / (double)cnt : NAN;
          else want = losses == 0 ? NAN : wins == 0 ? 0 : (double)(sw / -sl);
        }
        /* running sums against long-double sums of the same window: no drift over 5,000 days */
        ck_assert_msg(close_to(v[i], want, m == GPX_ROLL_RETURN ? 1e-11 : 1e-12),
                      "%s window %zu day %zu: %.17g, direct %.17g", gpx_rolling_metric_names[m], w, i, v[i], want);
      }
    }
  }
  gpx_daily_reset(&d);
  free(day);
  free(pnl);
  free(v);
  free(agg);
  free(al);
}
END_TEST

static Suite *suite(void) {
  Suite *s = suite_create("trading_periods");
  TCase *tc = tcase_create("calendar");
  tcase_add_test(tc, test_civil);
  tcase_add_test(tc, test_period_first_and_next);
  suite_add_tcase(s, tc);
  tc = tcase_create("periods");
  tcase_add_test(tc, test_periods_partly_outside_range);
  tcase_add_test(tc, test_periods_dst_weeks);
  tcase_add_test(tc, test_month_grid);
  tcase_add_test(tc, test_periods_bad_input);
  suite_add_tcase(s, tc);
  tc = tcase_create("rolling");
  tcase_set_timeout(tc, 60);
  tcase_add_test(tc, test_rolling_hand);
  tcase_add_test(tc, test_rolling_trade_ratios);
  tcase_add_test(tc, test_rolling_window_longer_than_range);
  tcase_add_test(tc, test_rolling_matches_direct);
  tcase_add_test(tc, test_rolling_sums_match_direct);
  suite_add_tcase(s, tc);
  return s;
}

GPX_CHECK_MAIN(suite)
