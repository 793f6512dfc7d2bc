/*
** check_trading.c — Check suite for src/trading/ (the pure analytics layer).
**
** Every expected value is computed by hand in a comment (or by an independent
** loop in long double inside the test), never by calling the function under
** test; the empyrical cross-check numbers come from
** tests/golden/trading/xcheck_empyrical.py.
*/
#include <check.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "gpx/trading.h"

#include "check_main.h"

#define TOL 1e-12
#define ck_near(a, b, tol) ck_assert_msg(fabs((double)(a) - (double)(b)) <= (tol), \
    "%s = %.17g, expected %.17g", #a, (double)(a), (double)(b))
#define ck_nan(a) ck_assert_msg(isnan(a), "%s = %.17g, expected NaN (null)", #a, (double)(a))

static gpx_analytics_opts opts(double a, double rf, gpx_trading_days m) {
  gpx_analytics_opts o;
  gpx_analytics_opts_default(&o);
  o.annualization = a;
  o.risk_free_rate = rf;
  o.trading_days = m;
  return o;
}

/* ------------------------------------------------------------------ days */

START_TEST(test_weekday) {
  ck_assert_int_eq(gpx_day_weekday(0), 3);     /* 1970-01-01 Thursday */
  ck_assert_int_eq(gpx_day_weekday(2), 5);     /* 1970-01-03 Saturday */
  ck_assert_int_eq(gpx_day_weekday(3), 6);     /* 1970-01-04 Sunday */
  ck_assert_int_eq(gpx_day_weekday(-1), 2);    /* 1969-12-31 Wednesday */
  ck_assert_int_eq(gpx_day_weekday(-4), 6);    /* 1969-12-28 Sunday */
  /* 2025-01-01 = 55·365 + 14 leap days (1972…2024) = 20089, a Wednesday. */
  ck_assert_int_eq(gpx_day_weekday(20089), 2);
  ck_assert_int_eq(gpx_day_weekday(INT32_MIN) >= 0, 1);
  ck_assert_int_eq(gpx_day_weekday(INT32_MAX) <= 6, 1);
}
END_TEST

/* --------------------------------------------------------------- buckets */

START_TEST(test_bucket_width) {
  /* 1000 trades > 100 points over 1 s: max(1 ms, ceil(1e9/100)) = 1e7 ns. */
  ck_assert_int_eq(gpx_bucket_width_ns(0, 1000000000, 1, 100, 1000), 10000000);
  /* interval wins when larger: 50 ms = 5e7 ns. */
  ck_assert_int_eq(gpx_bucket_width_ns(0, 1000000000, 50, 100, 1000), 50000000);
  /* ceiling: range 10, 3 points → 4. */
  ck_assert_int_eq(gpx_bucket_width_ns(0, 10, 0, 3, -1), 4);
  /* few trades: no down-sampling. */
  ck_assert_int_eq(gpx_bucket_width_ns(0, 1000000000, 1, 100, 100), 0);
  /* nothing to go by: per trade. */
  ck_assert_int_eq(gpx_bucket_width_ns(0, 1000, 0, 0, -1), 0);
  /* absurd interval saturates instead of overflowing. */
  ck_assert_int_eq(gpx_bucket_width_ns(0, 10, INT64_MAX, 3, -1), INT64_MAX);
  /* inverted range: interval only. */
  ck_assert_int_eq(gpx_bucket_width_ns(10, 0, 2, 3, -1), 2000000);
}
END_TEST

/* ----------------------------------------------------------------- curve */

START_TEST(test_curve_no_trades) {
  gpx_curve c;
  memset(&c, 0, sizeof c);
  gpx_error err;
  ck_assert_int_eq(gpx_curve_init(&c, 1000, 0, 0, &err), 0);
  ck_assert_int_eq(gpx_curve_push(&c, NULL, NULL, 0, &err), 0); /* n == 0 no-op */
  ck_assert_int_eq(gpx_curve_finish(&c, &err), 0);
  ck_assert_uint_eq(c.npts, 0);
  ck_near(gpx_curve_equity(&c), 1000, 0);
  gpx_drawdown_summary d = gpx_curve_drawdown(&c);
  ck_near(d.max_drawdown, 0, 0);          /* never fell: 0, not null */
  ck_near(d.max_drawdown_amount, 0, 0);
  ck_assert_int_eq(c.agg.count, 0);
  gpx_curve_reset(&c);
  gpx_curve_reset(&c); /* reset twice is safe */
}
END_TEST

START_TEST(test_curve_one_trade) {
  gpx_curve c = {0};
  int64_t ts[] = {5};
  double win[] = {50}, loss[] = {-100};
  ck_assert_int_eq(gpx_curve_init(&c, 1000, 0, 0, NULL), 0);
  ck_assert_int_eq(gpx_curve_push(&c, ts, win, 1, NULL), 0);
  ck_assert_int_eq(gpx_curve_finish(&c, NULL), 0);
  ck_assert_uint_eq(c.npts, 1);
  ck_assert_int_eq(c.pts[0].ts, 5);
  ck_near(c.pts[0].equity, 1050, 0);
  ck_near(c.pts[0].pnl, 50, 0);
  ck_near(c.pts[0].ret, 0.05, TOL);       /* 50/1000 */
  ck_near(c.pts[0].drawdown, 0, 0);       /* new peak */
  ck_assert_int_eq(c.agg.wins, 1);

  ck_assert_int_eq(gpx_curve_init(&c, 1000, 0, 0, NULL), 0); /* re-init frees */
  ck_assert_int_eq(gpx_curve_push(&c, ts, loss, 1, NULL), 0);
  ck_assert_int_eq(gpx_curve_finish(&c, NULL), 0);
  ck_near(c.pts[0].equity, 900, 0);
  ck_near(c.pts[0].drawdown, -0.1, TOL);  /* 900/1000 - 1 */
  ck_near(c.pts[0].drawdown_amount, -100, 0);
  ck_near(gpx_curve_drawdown(&c).max_drawdown, -0.1, TOL);
  gpx_curve_reset(&c);
}
END_TEST

START_TEST(test_curve_hand_series) {
  /* base 100; p = 10, -22, 5, 20, -3
   * E    = 110, 88, 93, 113, 110
   * peak = 110, 110, 110, 113, 113
   * DD   = 0, -22/110 = -0.2, -17/110, 0, -3/113
   * R    = .10, -.12, -.07, .13, .10 ; money DD = 0, -22, -17, 0, -3 */
  gpx_curve c = {0};
  int64_t ts[] = {1, 2, 3, 4, 5};
  double p[] = {10, -22, 5, 20, -3};
  ck_assert_int_eq(gpx_curve_init(&c, 100, 0, 0, NULL), 0);
  ck_assert_int_eq(gpx_curve_push(&c, ts, p, 5, NULL), 0);
  ck_assert_int_eq(gpx_curve_finish(&c, NULL), 0);
  ck_assert_uint_eq(c.npts, 5);
  double E[] = {110, 88, 93, 113, 110}, DD[] = {0, -0.2, -17.0 / 110, 0, -3.0 / 113},
         R[] = {.10, -.12, -.07, .13, .10}, M[] = {0, -22, -17, 0, -3}, C[] = {10, -12, -7, 13, 10};
  for (int i = 0; i < 5; i++) {
    ck_assert_int_eq(c.pts[i].ts, ts[i]);
    ck_near(c.pts[i].equity, E[i], TOL);
    ck_near(c.pts[i].pnl, C[i], TOL);
    ck_near(c.pts[i].ret, R[i], TOL);
    ck_near(c.pts[i].drawdown, DD[i], TOL);
    ck_near(c.pts[i].drawdown_amount, M[i], TOL);
  }
  gpx_drawdown_summary d = gpx_curve_drawdown(&c);
  ck_near(d.max_drawdown, -0.2, TOL);
  ck_near(d.max_drawdown_amount, -22, TOL);
  ck_assert_int_eq(c.agg.count, 5);
  ck_assert_int_eq(c.agg.wins, 3);
  ck_assert_int_eq(c.agg.losses, 2);
  ck_near(c.agg.sum_win, 35, 0);
  ck_near(c.agg.sum_loss, -25, 0);
  ck_near(c.agg.sum_pnl, 10, 0);
  gpx_curve_reset(&c);
}
END_TEST

START_TEST(test_curve_buckets_and_boundaries) {
  /* from = 100, width 10: buckets (100,110], (110,120], (120,130], (130,140].
   * A trade at exactly `from` (SQL excludes it, but if it came) is bucket -1;
   * 110 and 120 sit on bucket ends and belong to the bucket they close. */
  gpx_curve c = {0};
  int64_t ts[] = {100, 101, 105, 110, 111, 120, 135};
  double p[] = {0, 10, -30, 5, 40, -60, 1};
  /* base 100 → E: 100, 110, 80, 85, 125, 65, 66
   *         peak: 100, 110, 110, 110, 125, 125, 125
   *         DD:   0, 0, -30/110, -25/110, 0, -60/125, -59/125
   * buckets: -1:{100} 0:{101,105,110} 1:{111,120} 3:{135} (2 is empty: omitted) */
  ck_assert_int_eq(gpx_curve_init(&c, 100, 100, 10, NULL), 0);
  ck_assert_int_eq(gpx_curve_push(&c, ts, p, 7, NULL), 0);
  ck_assert_int_eq(gpx_curve_finish(&c, NULL), 0);
  ck_assert_uint_eq(c.npts, 4);
  ck_assert_int_eq(c.pts[0].ts, 100);
  ck_near(c.pts[0].equity, 100, 0);
  ck_assert_int_eq(c.pts[1].ts, 110);           /* last trade of the bucket */
  ck_near(c.pts[1].equity, 85, 0);              /* last value */
  ck_near(c.pts[1].drawdown, -30.0 / 110, TOL); /* minimum, not last (-25/110) */
  ck_assert_int_eq(c.pts[1].dd_ts, 105);
  ck_near(c.pts[1].drawdown_amount, -30, 0);
  ck_assert_int_eq(c.pts[2].ts, 120);
  ck_near(c.pts[2].equity, 65, 0);
  ck_near(c.pts[2].pnl, -35, 0);
  ck_near(c.pts[2].ret, -0.35, TOL);
  ck_near(c.pts[2].drawdown, -60.0 / 125, TOL);
  ck_assert_int_eq(c.pts[3].ts, 135);
  ck_near(c.pts[3].drawdown, -59.0 / 125, TOL);
  /* The overall max drawdown is per trade, independent of bucketing. */
  ck_near(gpx_curve_drawdown(&c).max_drawdown, -0.48, TOL);
  ck_assert_int_eq(c.agg.count, 7);
  ck_assert_int_eq(c.agg.wins + c.agg.losses, 6); /* the 0 trade is neither */
  gpx_curve_reset(&c);
}
END_TEST

START_TEST(test_curve_all_losses) {
  /* base 100; -10, -20, -30 → E 90, 70, 40; DD -.1, -.3, -.6 */
  gpx_curve c = {0};
  int64_t ts[] = {1, 2, 3};
  double p[] = {-10, -20, -30};
  ck_assert_int_eq(gpx_curve_init(&c, 100, 0, 0, NULL), 0);
  ck_assert_int_eq(gpx_curve_push(&c, ts, p, 3, NULL), 0);
  gpx_drawdown_summary d = gpx_curve_drawdown(&c);
  ck_near(d.max_drawdown, -0.6, TOL);
  ck_near(d.max_drawdown_amount, -60, 0);
  ck_assert_int_eq(c.agg.wins, 0);
  ck_assert_int_eq(c.agg.losses, 3);
  gpx_curve_reset(&c);
}
END_TEST

START_TEST(test_curve_negative_equity) {
  /* base 100; -150, +30, +200 → E -50, -20, 180; peak 100, 100, 180
   * DD = -150/100, -120/100, 0 → max DD -1.5 (the formula, below -100%)
   * R  = -1.5, -1.2, 0.8 */
  gpx_curve c = {0};
  int64_t ts[] = {1, 2, 3};
  double p[] = {-150, 30, 200};
  ck_assert_int_eq(gpx_curve_init(&c, 100, 0, 0, NULL), 0);
  ck_assert_int_eq(gpx_curve_push(&c, ts, p, 3, NULL), 0);
  ck_assert_int_eq(gpx_curve_finish(&c, NULL), 0);
  ck_near(c.pts[0].drawdown, -1.5, TOL);
  ck_near(c.pts[1].ret, -1.2, TOL);
  ck_near(c.pts[2].equity, 180, 0);
  ck_near(gpx_curve_drawdown(&c).max_drawdown, -1.5, TOL);

  /* Non-positive E(from) = -10: returns undefined (NaN) throughout; DD is
   * undefined while peak <= 0. p = 5, 20, -30 → E -5, 15, -15;
   * peak -5 (NaN DD), 15 (DD 0), 15 (DD -30/15 = -2); money DD 0, 0, -30. */
  double q[] = {5, 20, -30};
  ck_assert_int_eq(gpx_curve_init(&c, -10, 0, 0, NULL), 0);
  ck_nan(gpx_curve_drawdown(&c).max_drawdown); /* nothing defined yet */
  ck_assert_int_eq(gpx_curve_push(&c, ts, q, 3, NULL), 0);
  ck_assert_int_eq(gpx_curve_finish(&c, NULL), 0);
  ck_nan(c.pts[0].ret);
  ck_nan(c.pts[0].drawdown);
  ck_near(c.pts[1].drawdown, 0, 0);
  ck_near(c.pts[2].drawdown, -2, TOL);
  ck_near(c.pts[2].drawdown_amount, -30, 0);
  ck_near(gpx_curve_drawdown(&c).max_drawdown, -2, TOL);
  gpx_curve_reset(&c);
}
END_TEST

START_TEST(test_curve_bad_input) {
  gpx_curve c = {0};
  gpx_error err = {{0}};
  ck_assert_int_eq(gpx_curve_init(&c, NAN, 0, 0, &err), EINVAL);
  ck_assert_int_eq(gpx_curve_init(&c, 1, 0, -1, &err), EINVAL);
  ck_assert_int_eq(gpx_curve_init(&c, 100, 0, 10, &err), 0);
  ck_assert_int_eq(gpx_curve_push(&c, NULL, NULL, 3, &err), EINVAL);
  /* NaN/Inf P&L: skipped and counted, the rest still adds up. */
  int64_t ts[] = {1, 2, 3, 4};
  double p[] = {10, NAN, INFINITY, -5};
  ck_assert_int_eq(gpx_curve_push(&c, ts, p, 4, &err), 0);
  ck_assert_int_eq(c.skipped, 2);
  ck_assert_int_eq(c.agg.count, 2);
  ck_near(gpx_curve_equity(&c), 105, 0);
  /* Going backwards is rejected and leaves the state untouched. */
  int64_t back[] = {5, 3};
  double bp[] = {1, 1};
  gpx_curve before = c;
  ck_assert_int_eq(gpx_curve_push(&c, back, bp, 2, &err), EINVAL);
  ck_assert_msg(strstr(err.msg, "backwards") != NULL, "msg: %s", err.msg);
  ck_assert_int_eq(c.agg.count, before.agg.count);
  ck_assert_int_eq(c.last_ts, before.last_ts);
  ck_assert_uint_eq(c.npts, before.npts);
  ck_near(gpx_curve_equity(&c), 105, 0);
  /* A timestamp whose distance to `from` overflows is rejected. */
  gpx_curve far = {0};
  int64_t huge[] = {INT64_MAX};
  ck_assert_int_eq(gpx_curve_init(&far, 1, INT64_MIN, 10, &err), 0);
  ck_assert_int_eq(gpx_curve_push(&far, huge, bp, 1, &err), EINVAL);
  gpx_curve_reset(&far);
  gpx_curve_reset(&c);
}
END_TEST

/* Deterministic pseudo-random stream (splitmix64) for the large series. */
static uint64_t splitmix(uint64_t *s) {
  uint64_t z = (*s += 0x9E3779B97F4A7C15ULL);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}

#define BIG 1000000
static int64_t *big_ts;
static double *big_p;

static void big_setup(void) {
  big_ts = malloc(BIG * sizeof *big_ts);
  big_p = malloc(BIG * sizeof *big_p);
  ck_assert_ptr_nonnull(big_ts);
  ck_assert_ptr_nonnull(big_p);
  uint64_t s = 42;
  int64_t t = 1735689600LL * 1000000000LL; /* 2025-01-01 UTC */
  for (size_t i = 0; i < BIG; i++) {
    uint64_t r = splitmix(&s);
    t += (int64_t)(r % 30000000000ULL) * (r % 5 != 0); /* some equal stamps */
    big_ts[i] = t;
    /* P&L in cents, drift slightly negative so there are deep drawdowns */
    big_p[i] = (double)((int64_t)(splitmix(&s) % 200001) - 100010) / 100.0;
    if (i % 99991 == 7) big_p[i] = NAN; /* a few NULLs */
  }
}

static void big_teardown(void) {
  free(big_ts);
  free(big_p);
}

static void run_chunked(gpx_curve *c, size_t chunk, int64_t bucket) {
  ck_assert_int_eq(gpx_curve_init(c, 1e6, big_ts[0] - 1, bucket, NULL), 0);
  for (size_t i = 0; i < BIG; i += chunk) {
    size_t n = BIG - i < chunk ? BIG - i : chunk;
    ck_assert_int_eq(gpx_curve_push(c, big_ts + i, big_p + i, n, NULL), 0);
  }
  ck_assert_int_eq(gpx_curve_finish(c, NULL), 0);
}

START_TEST(test_curve_streaming_equivalence) {
  int64_t bucket = _i == 0 ? 0 : 3600LL * 1000000000LL; /* per trade, hourly */
  gpx_curve one = {0};
  run_chunked(&one, BIG, bucket);
  /* Independent long-double reference for the final state. */
  long double e = 1e6L, peak = 1e6L, mdd = 0, mamt = 0;
  long count = 0;
  for (size_t i = 0; i < BIG; i++) {
    if (isnan(big_p[i])) continue;
    count++;
    e += big_p[i];
    if (e > peak) peak = e;
    if ((e - peak) / peak < mdd) mdd = (e - peak) / peak;
    if (e - peak < mamt) mamt = e - peak;
  }
  ck_assert_int_eq(one.agg.count, count);
  ck_assert_int_eq(one.skipped, BIG - count);
  ck_near(gpx_curve_equity(&one), (double)e, 1e-6);
  ck_near(one.max_dd, (double)mdd, 1e-12);
  ck_near(one.max_dd_amount, (double)mamt, 1e-6);
  ck_assert_msg(one.max_dd < -0.1, "series should have a real drawdown: %g", one.max_dd);
  if (bucket == 0) ck_assert_uint_eq(one.npts, (size_t)count);

  size_t chunks[] = {1, 7, 65536};
  for (size_t k = 0; k < 3; k++) {
    gpx_curve c = {0};
    run_chunked(&c, chunks[k], bucket);
    /* Bitwise identical: every point, the summary and the aggregates. */
    ck_assert_uint_eq(c.npts, one.npts);
    ck_assert_int_eq(memcmp(c.pts, one.pts, c.npts * sizeof *c.pts), 0);
    ck_assert_int_eq(memcmp(&c.agg, &one.agg, sizeof c.agg), 0);
    ck_assert_int_eq(memcmp(&c.max_dd, &one.max_dd, sizeof(double)), 0);
    ck_assert_int_eq(memcmp(&c.max_dd_amount, &one.max_dd_amount, sizeof(double)), 0);
    gpx_curve_reset(&c);
  }
  gpx_curve_reset(&one);
}
END_TEST

/* gpx_curve_init_auto: per trade while the finite trades number at most
   max_points, and then exactly the curve bucketed from the start (the
   per-trade points so far are folded into their buckets). */
START_TEST(test_curve_auto_switch) {
  int64_t bucket = 3600LL * 1000000000LL;
  gpx_curve per = {0}, bucketed = {0};
  run_chunked(&per, 65536, 0);
  run_chunked(&bucketed, 65536, bucket);
  size_t count = (size_t)per.agg.count;
  size_t maxes[] = {count + 5, count, count - 1, BIG / 2, 10, 1};
  size_t chunks[] = {7, 4096, BIG};
  for (size_t m = 0; m < sizeof maxes / sizeof maxes[0]; m++) {
    for (size_t k = 0; k < sizeof chunks / sizeof chunks[0]; k++) {
      gpx_curve c = {0};
      ck_assert_int_eq(gpx_curve_init_auto(&c, 1e6, big_ts[0] - 1, bucket, maxes[m], NULL), 0);
      for (size_t i = 0; i < BIG; i += chunks[k]) {
        size_t n = BIG - i < chunks[k] ? BIG - i : chunks[k];
        ck_assert_int_eq(gpx_curve_push(&c, big_ts + i, big_p + i, n, NULL), 0);
      }
      ck_assert_int_eq(gpx_curve_finish(&c, NULL), 0);
      const gpx_curve *want = count <= maxes[m] ? &per : &bucketed;
      ck_assert_msg(c.npts == want->npts, "max %zu chunk %zu: %zu points, want %zu", maxes[m], chunks[k], c.npts,
                    want->npts);
      ck_assert_int_eq(memcmp(c.pts, want->pts, c.npts * sizeof *c.pts), 0);
      ck_assert_int_eq(memcmp(&c.agg, &want->agg, sizeof c.agg), 0);
      ck_assert_int_eq(memcmp(&c.max_dd, &want->max_dd, sizeof(double)), 0);
      gpx_curve_reset(&c);
    }
  }
  /* few trades: one point per trade even when they share a bucket */
  gpx_curve c = {0};
  int64_t ts[5] = {10, 11, 12, 13, 14};
  double p[5] = {1, -2, 3, -4, 5};
  ck_assert_int_eq(gpx_curve_init_auto(&c, 100, 0, 1000, 5, NULL), 0);
  ck_assert_int_eq(gpx_curve_push(&c, ts, p, 5, NULL), 0);
  ck_assert_int_eq(gpx_curve_finish(&c, NULL), 0);
  ck_assert_uint_eq(c.npts, 5);
  ck_near(c.pts[3].drawdown, (98.0 - 102.0) / 102.0, TOL); /* E 101, 99, 102, 98, 103: peak 102 */
  gpx_curve_reset(&c);
  /* one more trade than max_points: all in one bucket, its deepest point kept */
  ck_assert_int_eq(gpx_curve_init_auto(&c, 100, 0, 1000, 4, NULL), 0);
  ck_assert_int_eq(gpx_curve_push(&c, ts, p, 5, NULL), 0);
  ck_assert_int_eq(gpx_curve_finish(&c, NULL), 0);
  ck_assert_uint_eq(c.npts, 1);
  ck_near(c.pts[0].drawdown, (98.0 - 102.0) / 102.0, TOL);
  ck_assert_int_eq(c.pts[0].dd_ts, 13);
  ck_near(c.pts[0].equity, 103.0, TOL);
  gpx_curve_reset(&c);
  gpx_curve_reset(&per);
  gpx_curve_reset(&bucketed);
}
END_TEST

/* ----------------------------------------------------------------- daily */

START_TEST(test_daily_all_days) {
  /* Range days 10..14, trades on 10, 12 and 14. base 100.
   * D = 10, 0, -11, 0, 5.5
   * E = 110, 110, 99, 99, 104.5 ; r = 10/100, 0, -11/110, 0, 5.5/99 */
  int32_t day[] = {10, 12, 14};
  double pnl[] = {10, -11, 5.5};
  int64_t cnt[] = {2, 1, 3};
  gpx_daily d;
  ck_assert_int_eq(gpx_daily_build(day, pnl, cnt, 3, 10, 14, GPX_DAYS_ALL, 100, &d, NULL), 0);
  ck_assert_uint_eq(d.n, 5);
  int32_t xd[] = {10, 11, 12, 13, 14};
  double xp[] = {10, 0, -11, 0, 5.5}, xe[] = {110, 110, 99, 99, 104.5},
         xr[] = {0.1, 0, -0.1, 0, 5.5 / 99};
  int64_t xc[] = {2, 0, 1, 0, 3};
  for (int i = 0; i < 5; i++) {
    ck_assert_int_eq(d.day[i], xd[i]);
    ck_near(d.pnl[i], xp[i], 0);
    ck_assert_int_eq(d.trades[i], xc[i]);
    ck_near(d.equity[i], xe[i], TOL);
    ck_near(d.ret[i], xr[i], TOL);
  }
  gpx_daily_reset(&d);
  gpx_daily_reset(&d);
}
END_TEST

START_TEST(test_daily_weekdays) {
  /* 2025-01-01 (20089, Wed) … 2025-01-12 (20100, Sun): 12 days.
   * Weekends: Sat 4th (20092), Sun 5th (20093), Sat 11th (20099), Sun 12th
   * (20100). Trades on Sun 5th and Wed 8th (20096). weekdays mode keeps
   * 8 weekdays + Sun 5th (has trades) = 9 days; `all` keeps 12. */
  int32_t day[] = {20093, 20096};
  double pnl[] = {-4, 7};
  gpx_daily d;
  ck_assert_int_eq(gpx_daily_build(day, pnl, NULL, 2, 20089, 20100, GPX_DAYS_WEEKDAYS, 1000, &d, NULL), 0);
  ck_assert_uint_eq(d.n, 9);
  int32_t want[] = {20089, 20090, 20091, 20093, 20094, 20095, 20096, 20097, 20098};
  for (int i = 0; i < 9; i++) ck_assert_int_eq(d.day[i], want[i]);
  ck_near(d.pnl[3], -4, 0);
  ck_near(d.ret[3], -0.004, TOL); /* -4/1000 */
  ck_near(d.ret[6], 7.0 / 996, TOL);
  ck_assert_int_eq(d.trades[3], 0); /* NULL counts → 0 */
  ck_near(d.equity[8], 1003, 0);
  gpx_daily_reset(&d);
  ck_assert_int_eq(gpx_daily_build(day, pnl, NULL, 2, 20089, 20100, GPX_DAYS_ALL, 1000, &d, NULL), 0);
  ck_assert_uint_eq(d.n, 12);
  gpx_daily_reset(&d);
  /* A weekend-only range without trades in weekdays mode: empty series. */
  ck_assert_int_eq(gpx_daily_build(NULL, NULL, NULL, 0, 20092, 20093, GPX_DAYS_WEEKDAYS, 1000, &d, NULL), 0);
  ck_assert_uint_eq(d.n, 0);
  gpx_daily_reset(&d);
}
END_TEST

START_TEST(test_daily_dst_week) {
  /* America/New_York switched to DST on Sunday 2025-03-09 (a 23-hour local
   * day). Postgres maps closed_at to local ordinals, so the week
   * Thu 2025-03-06 … Wed 2025-03-12 is ordinals 20153 … 20159
   * (20089 + 31 + 28 + 5 = 20153, a Thursday). A trade at 2025-03-09 23:30
   * EDT (= 03:30 UTC on the 10th) is on local day 20156 (Sunday). The series
   * must have exactly 7 days in `all` and 5 + 1 (Sunday with a trade) in
   * `weekdays`: day counting is by ordinal, never by 24-hour steps. */
  ck_assert_int_eq(gpx_day_weekday(20153), 3);
  ck_assert_int_eq(gpx_day_weekday(20156), 6);
  int32_t day[] = {20154, 20156, 20157};
  double pnl[] = {1, 2, 3};
  gpx_daily d;
  ck_assert_int_eq(gpx_daily_build(day, pnl, NULL, 3, 20153, 20159, GPX_DAYS_ALL, 100, &d, NULL), 0);
  ck_assert_uint_eq(d.n, 7);
  gpx_daily_reset(&d);
  ck_assert_int_eq(gpx_daily_build(day, pnl, NULL, 3, 20153, 20159, GPX_DAYS_WEEKDAYS, 100, &d, NULL), 0);
  ck_assert_uint_eq(d.n, 6); /* Thu Fri [Sat dropped] Sun Mon Tue Wed */
  ck_assert_int_eq(d.day[1], 20154);
  ck_assert_int_eq(d.day[2], 20156);
  ck_assert_int_eq(d.day[3], 20157);
  gpx_daily_reset(&d);
}
END_TEST

START_TEST(test_daily_one_day_and_bad_input) {
  gpx_daily d;
  gpx_error err = {{0}};
  double pnl[] = {-20};
  int32_t day[] = {5};
  ck_assert_int_eq(gpx_daily_build(day, pnl, NULL, 1, 5, 5, GPX_DAYS_ALL, 100, &d, &err), 0);
  ck_assert_uint_eq(d.n, 1);
  ck_near(d.ret[0], -0.2, TOL);
  gpx_daily_reset(&d);
  /* Non-positive previous equity: that day's return is null. base 10,
   * D = -30, 5, 40 → E -20, -15, 25; r = -3, NaN, NaN. */
  int32_t dd[] = {1, 2, 3};
  double dp[] = {-30, 5, 40};
  ck_assert_int_eq(gpx_daily_build(dd, dp, NULL, 3, 1, 3, GPX_DAYS_ALL, 10, &d, &err), 0);
  ck_near(d.ret[0], -3, TOL);
  ck_nan(d.ret[1]);
  ck_nan(d.ret[2]);
  ck_near(d.equity[2], 25, 0);
  gpx_daily_reset(&d);
  /* NaN day P&L counts as 0 and is reported. */
  double np[] = {NAN};
  ck_assert_int_eq(gpx_daily_build(day, np, NULL, 1, 5, 6, GPX_DAYS_ALL, 100, &d, &err), 0);
  ck_assert_int_eq(d.skipped, 1);
  ck_near(d.pnl[0], 0, 0);
  gpx_daily_reset(&d);
  /* Errors leave *out empty. */
  int32_t unordered[] = {3, 2};
  double two[] = {1, 1};
  ck_assert_int_eq(gpx_daily_build(unordered, two, NULL, 2, 1, 5, GPX_DAYS_ALL, 100, &d, &err), EINVAL);
  ck_assert_ptr_null(d.day);
  ck_assert_int_eq(gpx_daily_build(day, pnl, NULL, 1, 6, 9, GPX_DAYS_ALL, 100, &d, &err), EINVAL);
  ck_assert_int_eq(gpx_daily_build(day, pnl, NULL, 1, 9, 5, GPX_DAYS_ALL, 100, &d, &err), EINVAL);
  ck_assert_int_eq(gpx_daily_build(NULL, NULL, NULL, 0, INT32_MIN, INT32_MAX, GPX_DAYS_ALL, 100, &d, &err), EINVAL);
  ck_assert_int_eq(gpx_daily_build(NULL, NULL, NULL, 0, 0, 1, GPX_DAYS_ALL, INFINITY, &d, &err), EINVAL);
  ck_assert_int_eq(gpx_daily_build(NULL, NULL, NULL, 0, 0, 1, (gpx_trading_days)7, 100, &d, &err), EINVAL);
  ck_assert_int_eq(gpx_daily_build(NULL, NULL, NULL, 2, 0, 1, GPX_DAYS_ALL, 100, &d, &err), EINVAL);
}
END_TEST

/* ----------------------------------------------------------- statistics */

START_TEST(test_ratios_hand) {
  /* r = .01, -.01, .02; mean = 1/150; deviations 1/300, -5/300, 4/300
   * → Σdev² = 42/90000, var(ddof=1) = 21/90000, std = √21/300.
   * Sharpe = (1/150)/(√21/300)·√252 = 2√252/√21 = 2√12 = 4√3.
   * Downside: mean(min(r,0)²) = 1e-4/3 → dd = 0.01/√3 · √252;
   * Sortino = (1/150)·252 / (0.01/√3·√252) = (2/3)·√3·√252 = 4√21.
   * Vol = √21/300·√252 = 42√3/300 = 0.14√3. */
  double r[] = {0.01, -0.01, 0.02};
  gpx_analytics_opts o = opts(252, 0, GPX_DAYS_ALL);
  ck_near(gpx_sharpe(r, 3, &o), 4 * sqrt(3.0), 1e-12);
  ck_near(gpx_sortino(r, 3, &o), 4 * sqrt(21.0), 1e-12);
  ck_near(gpx_annual_volatility(r, 3, &o), 0.14 * sqrt(3.0), 1e-14);
  /* NaN entries are skipped (empyrical's nan-aware convention). */
  double rn[] = {0.01, NAN, -0.01, 0.02};
  ck_near(gpx_sharpe(rn, 4, &o), 4 * sqrt(3.0), 1e-12);
  /* fewer than 2 days → null */
  ck_nan(gpx_sharpe(r, 1, &o));
  ck_nan(gpx_sortino(r, 1, &o));
  ck_nan(gpx_annual_volatility(r, 1, &o));
  ck_nan(gpx_sharpe(r, 0, &o));
  /* bad options → null rather than garbage */
  gpx_analytics_opts bad = opts(0, 0, GPX_DAYS_ALL);
  ck_nan(gpx_sharpe(r, 3, &bad));
}
END_TEST

START_TEST(test_zero_variance) {
  gpx_analytics_opts o = opts(252, 0, GPX_DAYS_ALL);
  double zero[] = {0, 0, 0, 0};
  ck_nan(gpx_sharpe(zero, 4, &o));      /* std = 0 */
  ck_nan(gpx_sortino(zero, 4, &o));     /* no downside */
  ck_near(gpx_annual_volatility(zero, 4, &o), 0, 0);
  /* base 100, D = 10, 11, 12.1: r = 10/100, 11/110, 12.1/121 — the same 10%
   * but the last differs in the last bit (12.1 is not representable). The
   * variance is rounding noise → treated as 0 → Sharpe null, not 1e17. */
  double up[] = {10.0 / 100, 11.0 / 110, 12.1 / 121};
  ck_nan(gpx_sharpe(up, 3, &o));
  ck_nan(gpx_sortino(up, 3, &o));
  /* Constant -0.1: Sharpe null; Sortino = -0.1·A / (0.1·√A) = -√252. */
  double down[] = {-0.1, -0.1};
  ck_nan(gpx_sharpe(down, 2, &o));
  ck_near(gpx_sortino(down, 2, &o), -sqrt(252.0), 1e-12);
  /* With rf: r - rf_d constant too → still null. */
  gpx_analytics_opts orf = opts(252, 0.05, GPX_DAYS_ALL);
  ck_nan(gpx_sharpe(up, 3, &orf));
}
END_TEST

START_TEST(test_cagr) {
  /* +1% over one day with A = 252: 1.01^252 - 1. */
  ck_near(gpx_cagr(100, 101, 1, 252), pow(1.01, 252) - 1, 1e-12);
  /* doubling over 365 days with A = 365: exactly 100%. */
  ck_near(gpx_cagr(100, 200, 365, 365), 1.0, 1e-14);
  /* tiny growth keeps its digits: g = 2^-40 exactly, A/N = 1 → CAGR = g;
   * pow(1+g, 1) - 1 style code is off by ~1e-16 here, expm1/log1p by ~1e-28. */
  ck_near(gpx_cagr(1, 1 + 0x1p-40, 252, 252), 0x1p-40, 1e-26);
  /* and with A/N = 2: (1+g)^2 - 1 = 2g + g² */
  ck_near(gpx_cagr(1, 1 + 0x1p-40, 126, 252), 0x1p-39 + 0x1p-80, 1e-26);
  ck_near(gpx_cagr(100, 0, 10, 252), -1, 0);   /* everything lost */
  ck_nan(gpx_cagr(100, -5, 10, 252));          /* negative end equity */
  ck_nan(gpx_cagr(0, 10, 10, 252));            /* non-positive start */
  ck_nan(gpx_cagr(100, 110, 0, 252));          /* no days */
  ck_nan(gpx_cagr(1, 1e300, 1, 252));          /* would overflow: null, not Inf */
}
END_TEST

START_TEST(test_empyrical_crosscheck) {
  /* Values printed by tests/golden/trading/xcheck_empyrical.py (numpy 2.4.6
   * and empyrical-reloaded 0.7.1 agree to ≤ 1e-14) for base 100000 and
   * D = 1200, -800, 0, 2500, -3100, 400, 0, 1500, -200, 900. */
  int32_t day[10];
  double D[] = {1200, -800, 0, 2500, -3100, 400, 0, 1500, -200, 900};
  for (int i = 0; i < 10; i++) day[i] = 100 + i;
  gpx_daily d;
  ck_assert_int_eq(gpx_daily_build(day, D, NULL, 10, 100, 109, GPX_DAYS_ALL, 100000, &d, NULL), 0);
  struct { double a, rf, sharpe, sortino, cagr, vol; } cases[] = {
      {252, 0.00, 2.6382883987960675, 3.980713533532007, 0.8178536114460073, 0.23637868673419216},
      {252, 0.02, 2.554510095203067, 3.8418671783563343, 0.8178536114460073, 0.23637868673419216},
      {365, 0.05, 3.00366371490105, 4.507118751090478, 1.3765579979071507, 0.2844817935208265},
  };
  gpx_trade_agg agg = {10, 5, 3, 2400, 6500, -4100}; /* Σ D = 2400 */
  gpx_drawdown_summary dd = {-0.030126336248785315, -3100}; /* daily path here */
  for (int k = 0; k < 3; k++) {
    gpx_analytics_opts o = opts(cases[k].a, cases[k].rf, GPX_DAYS_ALL);
    gpx_stats s;
    ck_assert_int_eq(gpx_stats_compute(100000, &agg, &dd, &d, 0, NULL, &o, &s, NULL), 0);
    ck_near(s.sharpe, cases[k].sharpe, 1e-12);
    ck_near(s.sortino, cases[k].sortino, 1e-12);
    ck_near(s.cagr, cases[k].cagr, 1e-12);
    ck_near(s.annual_volatility, cases[k].vol, 1e-14);
    ck_near(s.calmar, cases[k].cagr / 0.030126336248785315, 1e-10);
  }
  gpx_daily_reset(&d);
}
END_TEST

START_TEST(test_stats_trades) {
  /* p = 10, -5, 0, 20, -15 over 3 days (day 1: 10,-5; day 2: 0; day 3: 20,-15)
   * count 5, wins 2, losses 2; Σwin 30, Σloss -20
   * win rate 2/5 (the zero trade counts), PF 30/20, payoff (30/2)/(20/2),
   * expectancy 10/5. base 1000: E 1010, total return 0.01.
   * daily D = 5, 0, 5: worst 0, best 5. Curve: E 1010, 1005, 1005, 1025, 1010
   * peak 1010, 1010, 1010, 1025, 1025 → DD 0, -5/1010, -5/1010, 0, -15/1025
   * → max DD -15/1025, money -15. */
  gpx_curve c = {0};
  int64_t ts[] = {1, 2, 3, 4, 5};
  double p[] = {10, -5, 0, 20, -15};
  ck_assert_int_eq(gpx_curve_init(&c, 1000, 0, 0, NULL), 0);
  ck_assert_int_eq(gpx_curve_push(&c, ts, p, 5, NULL), 0);
  int32_t day[] = {1, 2, 3};
  double D[] = {5, 0, 5};
  gpx_daily d;
  ck_assert_int_eq(gpx_daily_build(day, D, NULL, 3, 1, 3, GPX_DAYS_ALL, 1000, &d, NULL), 0);
  gpx_analytics_opts o = opts(252, 0, GPX_DAYS_ALL);
  gpx_drawdown_summary dd = gpx_curve_drawdown(&c);
  gpx_slippage_acc sl = {0};
  /* long, 1 unit, entry 101 vs 100 expected: +100 bps on notional 100 */
  gpx_slippage_add_trade(&sl, GPX_SIDE_LONG, 1, 101, 50, 100, NAN);
  gpx_stats s;
  ck_assert_int_eq(gpx_stats_compute(1000, &c.agg, &dd, &d, 3, &sl, &o, &s, NULL), 0);
  ck_near(s.trade_count, 5, 0);
  ck_near(s.total_pnl, 10, 0);
  ck_near(s.equity, 1010, 0);
  ck_near(s.total_return, 0.01, TOL);
  ck_near(s.win_rate, 0.4, TOL);
  ck_near(s.profit_factor, 1.5, TOL);
  ck_near(s.payoff_ratio, 1.5, TOL);
  ck_near(s.expectancy, 2, TOL);
  ck_near(s.max_drawdown, -15.0 / 1025, TOL);
  ck_near(s.max_drawdown_amount, -15, 0);
  ck_near(s.worst_day, 0, 0);
  ck_near(s.best_day, 5, 0);
  ck_near(s.daily_loss, 0, 0);            /* today = day 3, D = +5 */
  ck_near(s.avg_slippage_bps, 100, TOL);
  /* CAGR = (1010/1000)^(252/3) - 1; Calmar = CAGR / (15/1025). */
  ck_near(s.cagr, pow(1.01, 84) - 1, 1e-12);
  ck_near(s.calmar, (pow(1.01, 84) - 1) / (15.0 / 1025), 1e-9);
  gpx_daily_reset(&d);
  gpx_curve_reset(&c);
}
END_TEST

START_TEST(test_stats_edge_cases) {
  gpx_analytics_opts o = opts(252, 0, GPX_DAYS_WEEKDAYS);
  gpx_stats s;
  gpx_error err = {{0}};
  /* No trades: counts 0, ratios null, max DD 0 (never fell), Calmar null. */
  gpx_trade_agg none = {0};
  gpx_drawdown_summary flat = {0, 0};
  gpx_daily d;
  ck_assert_int_eq(gpx_daily_build(NULL, NULL, NULL, 0, 20089, 20095, GPX_DAYS_WEEKDAYS, 500, &d, NULL), 0);
  ck_assert_int_eq(gpx_stats_compute(500, &none, &flat, &d, 20092, NULL, &o, &s, &err), 0);
  ck_near(s.trade_count, 0, 0);
  ck_near(s.total_pnl, 0, 0);
  ck_near(s.equity, 500, 0);
  ck_near(s.total_return, 0, 0);
  ck_nan(s.win_rate);
  ck_nan(s.profit_factor);
  ck_nan(s.payoff_ratio);
  ck_nan(s.expectancy);
  ck_near(s.max_drawdown, 0, 0);
  ck_nan(s.calmar);
  ck_nan(s.sharpe);                 /* all days 0: std 0 */
  ck_nan(s.sortino);
  ck_near(s.cagr, 0, 0);
  ck_nan(s.avg_slippage_bps);       /* no slippage accumulator */
  ck_near(s.daily_loss, 0, 0);      /* today = Saturday, dropped, no trades */
  ck_near(s.worst_day, 0, 0);
  gpx_daily_reset(&d);

  /* All losses: PF = 0/60 = 0, payoff null (no winner), today's loss. */
  gpx_trade_agg losses = {3, 0, 3, -60, 0, -60};
  gpx_drawdown_summary dd = {-0.6, -60};
  int32_t day[] = {20089};
  double D[] = {-60};
  ck_assert_int_eq(gpx_daily_build(day, D, NULL, 1, 20089, 20089, GPX_DAYS_ALL, 100, &d, NULL), 0);
  ck_assert_int_eq(gpx_stats_compute(100, &losses, &dd, &d, 20089, NULL, &o, &s, &err), 0);
  ck_near(s.win_rate, 0, 0);
  ck_near(s.profit_factor, 0, 0);
  ck_nan(s.payoff_ratio);
  ck_near(s.expectancy, -20, 0);
  ck_near(s.daily_loss, 60, 0);
  ck_near(s.worst_day, -60, 0);
  ck_nan(s.sharpe);                  /* one day */
  ck_near(s.cagr, pow(0.4, 252) - 1, 1e-15);
  ck_near(s.calmar, (pow(0.4, 252) - 1) / 0.6, 1e-12);
  /* today outside the series → null */
  ck_assert_int_eq(gpx_stats_compute(100, &losses, &dd, &d, 20090, NULL, &o, &s, &err), 0);
  ck_nan(s.daily_loss);
  /* Only winners: PF null. */
  gpx_trade_agg wins = {2, 2, 0, 30, 30, 0};
  ck_assert_int_eq(gpx_stats_compute(100, &wins, &dd, &d, 20089, NULL, &o, &s, &err), 0);
  ck_nan(s.profit_factor);
  ck_nan(s.payoff_ratio);
  ck_near(s.win_rate, 1, 0);
  /* Non-positive base: returns undefined → null, money numbers still there. */
  ck_assert_int_eq(gpx_stats_compute(-100, &losses, NULL, &d, 20089, NULL, &o, &s, &err), 0);
  ck_nan(s.total_return);
  ck_nan(s.cagr);
  ck_nan(s.max_drawdown);
  ck_near(s.equity, -160, 0);
  /* Bad aggregates and options are errors naming the problem. */
  gpx_trade_agg bad = {2, 2, 1, 0, 0, 0};
  ck_assert_int_eq(gpx_stats_compute(100, &bad, &dd, &d, 0, NULL, &o, &s, &err), EINVAL);
  ck_assert_msg(strstr(err.msg, "inconsistent") != NULL, "msg: %s", err.msg);
  gpx_analytics_opts badopt = opts(252, -1, GPX_DAYS_ALL);
  ck_assert_int_eq(gpx_stats_compute(100, &wins, &dd, &d, 0, NULL, &badopt, &s, &err), EINVAL);
  ck_assert_msg(strstr(err.msg, "riskFreeRate") != NULL, "msg: %s", err.msg);
  ck_nan(s.total_pnl); /* outputs are null on failure */
  badopt = opts(NAN, 0, GPX_DAYS_ALL);
  ck_assert_int_eq(gpx_stats_compute(100, &wins, &dd, &d, 0, NULL, &badopt, &s, &err), EINVAL);
  ck_assert_msg(strstr(err.msg, "annualization") != NULL, "msg: %s", err.msg);
  gpx_daily_reset(&d);
}
END_TEST

START_TEST(test_stats_names) {
  /* The frame's field list from docs/query-model.md, in order. */
  const char *want[] = {"total_pnl", "total_return", "equity", "trade_count", "win_rate",
                        "profit_factor", "payoff_ratio", "expectancy", "max_drawdown",
                        "max_drawdown_amount", "sharpe", "sortino", "calmar", "cagr",
                        "annual_volatility", "avg_slippage_bps", "daily_loss", "worst_day",
                        "best_day",
                        /* issue 11: the trade stream's fields, after the old ones */
                        "largest_win", "largest_loss", "avg_win", "avg_loss", "gross_profit",
                        "gross_loss", "max_win_streak", "max_loss_streak", "current_streak",
                        "total_fees", "avg_holding_time", "avg_holding_time_win",
                        "avg_holding_time_loss", "sqn", "long_trades", "short_trades",
                        "long_win_rate", "short_win_rate", "exposure", "current_drawdown",
                        "recovery_factor", "volume"};
  ck_assert_int_eq(GPX_STATS_NFIELDS, sizeof want / sizeof *want);
  for (int i = 0; i < GPX_STATS_NFIELDS; i++) {
    ck_assert_str_eq(gpx_stats_field_names[i], want[i]);
    ck_assert_int_eq(gpx_stats_index(want[i]), i);
  }
  ck_assert_int_eq(gpx_stats_index("nope"), -1);
  ck_assert_int_eq(gpx_stats_index(NULL), -1);
  gpx_stats s;
  memset(&s, 0, sizeof s);
  s.sharpe = 1.25;
  s.best_day = -7;
  ck_near(gpx_stats_get(&s, 10), 1.25, 0);
  ck_near(gpx_stats_get(&s, 18), -7, 0);
  s.volume = 3;
  ck_near(gpx_stats_get(&s, 40), 3, 0);
  ck_nan(gpx_stats_get(&s, GPX_STATS_NFIELDS));
}
END_TEST

/* -------------------------------------------------------------- slippage */

START_TEST(test_slippage) {
  /* Long, qty 2: buy entry 101 vs 100 → +100 bps, notional 200; sell exit
   * 109 vs 110 → (110-109)/110·1e4 bps, notional 220 → weighted
   * (200·100 + 220·1e4/110)/420 = 40000/420. */
  ck_near(gpx_trade_slippage_bps(GPX_SIDE_LONG, 2, 101, 109, 100, 110), 40000.0 / 420, 1e-10);
  /* qty sign does not matter (absolute quantity) */
  ck_near(gpx_trade_slippage_bps(GPX_SIDE_LONG, -2, 101, 109, 100, 110), 40000.0 / 420, 1e-10);
  /* Short, qty 1: sell entry 99 vs 100 → +100 bps (adverse), notional 100;
   * buy exit 90 vs 91 → -1e4/91 bps (favourable), notional 91 → 0/191. */
  ck_near(gpx_trade_slippage_bps(GPX_SIDE_SHORT, 1, 99, 90, 100, 91), 0, 1e-10);
  /* Legs without expected price are skipped, not counted as 0. */
  ck_near(gpx_trade_slippage_bps(GPX_SIDE_SHORT, 1, 99, 90, 100, NAN), 100, 1e-10);
  ck_nan(gpx_trade_slippage_bps(GPX_SIDE_LONG, 1, 99, 90, NAN, NAN));
  ck_nan(gpx_trade_slippage_bps(GPX_SIDE_UNKNOWN, 1, 99, 90, 100, 91));
  ck_nan(gpx_trade_slippage_bps(GPX_SIDE_LONG, 0, 99, 90, 100, 91));
  ck_nan(gpx_trade_slippage_bps(GPX_SIDE_LONG, 1, 99, 90, 0, -3));
  ck_nan(gpx_trade_slippage_bps(GPX_SIDE_LONG, 1, NAN, INFINITY, 100, 91));
  ck_near(gpx_leg_slippage_bps(1, 100.5, 100), 50, 1e-10);
  ck_near(gpx_leg_slippage_bps(0, 100.5, 100), -50, 1e-10);
  /* Accumulator over trades: both trades above → (40000 + 0)/(420 + 191). */
  gpx_slippage_acc a = {0};
  ck_nan(gpx_slippage_mean(&a));
  ck_assert_int_eq(gpx_slippage_add_trade(&a, GPX_SIDE_LONG, 2, 101, 109, 100, 110), 2);
  ck_assert_int_eq(gpx_slippage_add_trade(&a, GPX_SIDE_SHORT, 1, 99, 90, 100, 91), 2);
  ck_assert_int_eq(gpx_slippage_add_trade(&a, GPX_SIDE_SHORT, 1, 99, 90, NAN, NAN), 0);
  ck_assert_int_eq(a.legs, 4);
  ck_near(gpx_slippage_mean(&a), 40000.0 / 611, 1e-10);
  ck_nan(gpx_slippage_mean(NULL));
  /* side parsing */
  ck_assert_int_eq(gpx_side_parse("long"), GPX_SIDE_LONG);
  ck_assert_int_eq(gpx_side_parse(" SHORT "), GPX_SIDE_SHORT);
  /* buy/sell are long/short, in any case (issue 12) */
  ck_assert_int_eq(gpx_side_parse("buy"), GPX_SIDE_LONG);
  ck_assert_int_eq(gpx_side_parse("BUY"), GPX_SIDE_LONG);
  ck_assert_int_eq(gpx_side_parse("Sell"), GPX_SIDE_SHORT);
  ck_assert_int_eq(gpx_side_parse("buyer"), GPX_SIDE_UNKNOWN);
  ck_assert_int_eq(gpx_side_parse(""), GPX_SIDE_UNKNOWN);
  ck_assert_int_eq(gpx_side_parse(NULL), GPX_SIDE_UNKNOWN);
  ck_assert_int_eq(gpx_side_parse("longer"), GPX_SIDE_UNKNOWN);
}
END_TEST

START_TEST(test_opts) {
  gpx_analytics_opts o;
  gpx_analytics_opts_default(&o);
  ck_assert_int_eq(o.trading_days, GPX_DAYS_ALL);
  ck_near(o.annualization, 252, 0);
  ck_near(o.risk_free_rate, 0, 0);
  ck_assert_int_eq(gpx_analytics_opts_validate(&o, NULL), 0);
  o.annualization = -1;
  ck_assert_int_eq(gpx_analytics_opts_validate(&o, NULL), EINVAL);
  ck_assert_int_eq(gpx_analytics_opts_validate(NULL, NULL), EINVAL);
  /* rf_d = (1+rf)^(1/A) - 1 enters Sharpe: with r constant-ish shifted by rf_d
   * the mean moves by exactly rf_d. r = .01, -.01, .02 and rf = 1.01^252 - 1
   * → rf_d = 0.01 → adj = 0, -0.02, 0.01: mean -1/300, std = √(7)/300·… */
  double r[] = {0.01, -0.01, 0.02};
  gpx_analytics_opts orf = opts(252, pow(1.01, 252) - 1, GPX_DAYS_ALL);
  /* adj mean = -1/300; devs 1/300, -5/300, 4/300 (same as before) → std √21/300
   * Sharpe = (-1/300)/(√21/300)·√252 = -√12 = -2√3. */
  ck_near(gpx_sharpe(r, 3, &orf), -2 * sqrt(3.0), 1e-9);
}
END_TEST

/* The SQL fast path (sums per side) must equal adding trade by trade. */
START_TEST(test_slippage_sums_equal_per_trade) {
  /* long: buy 2 @ 101 vs 100 expected (+100 bps), sell @ 109 vs 110 (+90.9 bps)
     short: sell 3 @ 49 vs 50 (+200 bps), buy back @ 41 vs 40 (+250 bps);
     one long without an expected exit. */
  gpx_slippage_acc per = {0}, sums = {0};
  gpx_slippage_add_trade(&per, GPX_SIDE_LONG, 2, 101, 109, 100, 110);
  gpx_slippage_add_trade(&per, GPX_SIDE_LONG, 1, 10, 12, 10.1, NAN);
  gpx_slippage_add_trade(&per, GPX_SIDE_SHORT, 3, 49, 41, 50, 40);
  /* what SQL returns per side: Σ fill·qty and Σ expected·qty over legs with an expected price */
  ck_assert(gpx_slippage_add_sums(&sums, GPX_SIDE_LONG, 2 * 101 + 1 * 10, 2 * 100 + 1 * 10.1, 2 * 109, 2 * 110, 3));
  ck_assert(gpx_slippage_add_sums(&sums, GPX_SIDE_SHORT, 3 * 49, 3 * 50, 3 * 41, 3 * 40, 2));
  ck_assert(!gpx_slippage_add_sums(&sums, GPX_SIDE_UNKNOWN, 1, 1, 1, 1, 2));
  /* by hand: Σ w·bps = 2·100·100 + 2·110·(1/110·1e4) + 10.1·(-0.1/10.1·1e4) + 150·200 + 120·250
            = 20000 + 20000 - 1000 + 30000 + 30000 = 99000; Σ w = 200 + 220 + 10.1 + 150 + 120 = 700.1 */
  double want = 99000.0 / 700.1;
  ck_assert_double_eq_tol(gpx_slippage_mean(&per), want, 1e-9);
  ck_assert_double_eq_tol(gpx_slippage_mean(&sums), want, 1e-9);
}
END_TEST

static Suite *trading_suite(void) {
  Suite *s = suite_create("trading");
  TCase *tc = tcase_create("days_buckets");
  tcase_add_test(tc, test_weekday);
  tcase_add_test(tc, test_bucket_width);
  tcase_add_test(tc, test_opts);
  suite_add_tcase(s, tc);

  tc = tcase_create("curve");
  tcase_add_test(tc, test_curve_no_trades);
  tcase_add_test(tc, test_curve_one_trade);
  tcase_add_test(tc, test_curve_hand_series);
  tcase_add_test(tc, test_curve_buckets_and_boundaries);
  tcase_add_test(tc, test_curve_all_losses);
  tcase_add_test(tc, test_curve_negative_equity);
  tcase_add_test(tc, test_curve_bad_input);
  suite_add_tcase(s, tc);

  tc = tcase_create("streaming");
  tcase_add_unchecked_fixture(tc, big_setup, big_teardown);
  tcase_set_timeout(tc, 300);
  tcase_add_loop_test(tc, test_curve_streaming_equivalence, 0, 2);
  tcase_add_test(tc, test_curve_auto_switch);
  suite_add_tcase(s, tc);

  tc = tcase_create("daily");
  tcase_add_test(tc, test_daily_all_days);
  tcase_add_test(tc, test_daily_weekdays);
  tcase_add_test(tc, test_daily_dst_week);
  tcase_add_test(tc, test_daily_one_day_and_bad_input);
  suite_add_tcase(s, tc);

  tc = tcase_create("stats");
  tcase_add_test(tc, test_ratios_hand);
  tcase_add_test(tc, test_zero_variance);
  tcase_add_test(tc, test_cagr);
  tcase_add_test(tc, test_empyrical_crosscheck);
  tcase_add_test(tc, test_stats_trades);
  tcase_add_test(tc, test_stats_edge_cases);
  tcase_add_test(tc, test_stats_names);
  tcase_add_test(tc, test_slippage);
  tcase_add_test(tc, test_slippage_sums_equal_per_trade);
  suite_add_tcase(s, tc);
  return s;
}

GPX_CHECK_MAIN(trading_suite)
