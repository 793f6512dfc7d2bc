/*
** check_tradestats.c — Check suite for the trade-stream analytics of
** src/trading/ (issue 11): trade statistics (tradestats.c), daily sums from
** the stream (daily.c), drawdown episodes (episodes.c) and the stats fields
** they feed (stats.c). check_trading.c has grown past the size of one file,
** so these hand-computed cases live here.
**
** Every expected value is worked out by hand in a comment, never by calling
** the function under test.
*/
#include <check.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "gpx/trading.h"

#include "check_main.h"

#define S 1000000000LL /* ns per second */
#define ck_near(a, b, tol) ck_assert_msg(fabs((double)(a) - (double)(b)) <= (tol), \
    "%s = %.17g, expected %.17g", #a, (double)(a), (double)(b))
#define ck_nan(a) ck_assert_msg(isnan(a), "%s = %.17g, expected NaN (null)", #a, (double)(a))

static gpx_trade tr(int64_t closed_s, double pnl) {
  return (gpx_trade){.closed_ns = closed_s * S, .pnl = pnl, .side = GPX_SIDE_UNKNOWN};
}

static gpx_trade held(int64_t opened_s, int64_t closed_s, double pnl, gpx_side side) {
  return (gpx_trade){.closed_ns = closed_s * S, .opened_ns = opened_s * S, .has_opened = 1, .pnl = pnl, .side = side};
}

/* ------------------------------------------------------------ trade stats */

START_TEST(test_extremes_streaks_sqn) {
  /* p: +10 +5 0 +3 -2 -4 -1 +7 */
  double p[] = {10, 5, 0, 3, -2, -4, -1, 7};
  gpx_trade t[8];
  for (int i = 0; i < 8; i++) t[i] = tr(i + 1, p[i]);
  gpx_trade_acc a = {0};
  gpx_trade_acc_init(&a, 0);
  /* pushed in two chunks: chunking changes nothing */
  ck_assert_int_eq(gpx_trade_acc_push(&a, t, 3, NULL), 0);
  ck_assert_int_eq(gpx_trade_acc_push(&a, t + 3, 5, NULL), 0);
  gpx_stats s;
  memset(&s, 0, sizeof s);
  s.max_drawdown_amount = NAN;
  gpx_stats_compute_trades(&a, NULL, NULL, 100 * S, &s);
  ck_near(s.largest_win, 10, 0);
  ck_near(s.largest_loss, -4, 0);
  ck_near(s.gross_profit, 25, 0);  /* 10 + 5 + 3 + 7 */
  ck_near(s.gross_loss, -7, 0);    /* -2 - 4 - 1 */
  ck_near(s.avg_win, 6.25, 0);     /* 25 / 4 */
  ck_near(s.avg_loss, -7.0 / 3, 1e-15);
  /* wins 10,5 | zero | 3 | losses -2,-4,-1 | 7: the zero splits 10,5 from 3 */
  ck_near(s.max_win_streak, 2, 0);
  ck_near(s.max_loss_streak, 3, 0);
  ck_near(s.current_streak, 1, 0);
  /* mean 18/8 = 2.25; Σ(p − mean)² = 7.75² + 2.75² + 2.25² + 0.75² + 4.25² + 6.25² + 3.25² + 4.75² = 163.5 */
  ck_near(s.sqn, sqrt(8.0) * 2.25 / sqrt(163.5 / 7), 1e-12);
  /* no opened_at, no side */
  ck_nan(s.avg_holding_time);
  ck_near(s.long_trades, 0, 0);
  ck_nan(s.long_win_rate);
  ck_near(s.exposure, 0, 0);
  ck_nan(s.recovery_factor);
  gpx_trade_acc_reset(&a);
}
END_TEST

START_TEST(test_streaks_broken_by_zero) {
  /* +1 +1 0 +1 +1 +1 0 -1 -1 0: the zeros end both streaks */
  double p[] = {1, 1, 0, 1, 1, 1, 0, -1, -1, 0};
  gpx_trade t[10];
  for (int i = 0; i < 10; i++) t[i] = tr(i, p[i]);
  gpx_trade_acc a = {0};
  gpx_trade_acc_init(&a, 0);
  ck_assert_int_eq(gpx_trade_acc_push(&a, t, 10, NULL), 0);
  ck_assert_int_eq(a.max_win_run, 3);
  ck_assert_int_eq(a.max_loss_run, 2);
  ck_assert_int_eq(gpx_trade_acc_streak(&a), 0); /* the last trade is a zero */
  /* losses at the end: -2 more after the zero, and a NaN that is skipped */
  gpx_trade more[3] = {tr(20, -1), tr(21, NAN), tr(22, -3)};
  ck_assert_int_eq(gpx_trade_acc_push(&a, more, 3, NULL), 0);
  ck_assert_int_eq(gpx_trade_acc_streak(&a), -2);
  ck_assert_int_eq(a.skipped, 1);
  ck_assert_int_eq(a.count, 12);
  /* one value only, or equal values: SQN is null */
  gpx_trade_acc one = {0};
  gpx_trade_acc_init(&one, 0);
  gpx_trade same[3] = {tr(1, 2.5), tr(2, 2.5), tr(3, 2.5)};
  ck_assert_int_eq(gpx_trade_acc_push(&one, same, 1, NULL), 0);
  gpx_stats s;
  memset(&s, 0, sizeof s);
  gpx_stats_compute_trades(&one, NULL, NULL, 0, &s);
  ck_nan(s.sqn);
  ck_nan(s.exposure); /* an empty range */
  ck_assert_int_eq(gpx_trade_acc_push(&one, same + 1, 2, NULL), 0);
  gpx_stats_compute_trades(&one, NULL, NULL, 0, &s);
  ck_nan(s.sqn);
  gpx_trade_acc_reset(&one);
  /* out of order: EINVAL, nothing changed */
  gpx_error err;
  gpx_trade back = tr(5, 1);
  ck_assert_int_eq(gpx_trade_acc_push(&a, &back, 1, &err), EINVAL);
  ck_assert_ptr_nonnull(strstr(err.msg, "backwards"));
  ck_assert_int_eq(a.count, 12);
  gpx_trade_acc_reset(&a);
}
END_TEST

START_TEST(test_exposure_overlapping_and_holding) {
  /* from = 0, range 100 s; intervals [opened, closed] in seconds, by closed:
       t1 [10,20] +1 long    t2 [15,25] -1 short   → [10,25]
       t3 [30,40] +2 long                           → [10,25] ∪ [30,40] = 25 s
       t4 [5,45]  -2 long    (opened before all)    → [5,45]
       t5 [-10,50] +3 short  (clamped to from = 0)  → [0,50]
       t6 [60,60] 0          (a point: no measure)
       t7 [70,80] +1 long                           → [0,50] ∪ [70,80] = 60 s
       t8 no opened_at, closed 90, -5 short */
  gpx_trade t[8] = {held(10, 20, 1, GPX_SIDE_LONG),   held(15, 25, -1, GPX_SIDE_SHORT),
                    held(30, 40, 2, GPX_SIDE_LONG),   held(5, 45, -2, GPX_SIDE_LONG),
                    held(-10, 50, 3, GPX_SIDE_SHORT), held(60, 60, 0, GPX_SIDE_UNKNOWN),
                    held(70, 80, 1, GPX_SIDE_LONG),   tr(90, -5)};
  t[7].side = GPX_SIDE_SHORT;
  gpx_trade_acc a = {0};
  gpx_trade_acc_init(&a, 0);
  ck_assert_int_eq(gpx_trade_acc_push(&a, t, 3, NULL), 0);
  ck_assert_int_eq(a.covered_ns, 25 * S);
  ck_assert_int_eq(a.nspans, 2);
  ck_assert_int_eq(gpx_trade_acc_push(&a, t + 3, 5, NULL), 0);
  ck_assert_int_eq(a.covered_ns, 60 * S);
  ck_assert_int_eq(a.nspans, 2);
  gpx_stats s;
  memset(&s, 0, sizeof s);
  gpx_stats_compute_trades(&a, NULL, NULL, 100 * S, &s);
  ck_near(s.exposure, 0.6, 1e-15);
  /* holding (closed − opened, not clamped): 10 10 10 40 60 0 10 → 140/7 = 20;
     wins t1 t3 t5 t7: (10+10+60+10)/4 = 22.5; losses with opened_at t2 t4: (10+40)/2 = 25 */
  ck_near(s.avg_holding_time, 20, 1e-12);
  ck_near(s.avg_holding_time_win, 22.5, 1e-12);
  ck_near(s.avg_holding_time_loss, 25, 1e-12);
  /* long t1+ t3+ t4- t7+ → 4, 3/4; short t2- t5+ t8- → 3, 1/3 */
  ck_near(s.long_trades, 4, 0);
  ck_near(s.short_trades, 3, 0);
  ck_near(s.long_win_rate, 0.75, 0);
  ck_near(s.short_win_rate, 1.0 / 3, 1e-15);
  gpx_trade_acc_reset(&a);
}
END_TEST

START_TEST(test_exposure_memory_is_bounded) {
  /* one position at a time: 100,000 disjoint holdings [2i, 2i+1] s, each its
     own span; memory stays at most GPX_TRADE_SPANS_MAX spans and the union
     is still exact (100,000 s) */
  gpx_trade_acc a = {0};
  gpx_trade_acc_init(&a, 0);
  gpx_trade t[1000];
  for (int k = 0; k < 100; k++) {
    for (int i = 0; i < 1000; i++) {
      int64_t n = (int64_t)k * 1000 + i;
      t[i] = held(2 * n, 2 * n + 1, 1, GPX_SIDE_LONG);
    }
    ck_assert_int_eq(gpx_trade_acc_push(&a, t, 1000, NULL), 0);
    ck_assert_uint_le(a.nspans, GPX_TRADE_SPANS_MAX);
  }
  ck_assert_int_eq(a.covered_ns, 100000 * S);
  /* a trade held over the last 10 holdings, [199980, 200001] s, merges them:
     + the 9 gaps of 1 s between them and the 2 s after the last */
  gpx_trade back = held(2 * 99990, 2 * 100000 + 1, 1, GPX_SIDE_LONG);
  ck_assert_int_eq(gpx_trade_acc_push(&a, &back, 1, NULL), 0);
  ck_assert_int_eq(a.covered_ns, (100000 + 9 + 2) * S);
  gpx_trade_acc_reset(&a);
}
END_TEST

START_TEST(test_legs_and_drawdown_fields) {
  gpx_legs_acc l = {0};
  /* long qty 2, entry 100 (expected 99), exit 110 (no expected), fees 0.5:
     volume 2·(100 + 110) = 420; one buy leg (100 − 99)/99·1e4 bps on notional 198 */
  gpx_legs_add(&l, GPX_SIDE_LONG, 2, 100, 110, 99, NAN, 0.5);
  /* qty unknown: no volume, no slippage; fees NULL: none */
  gpx_legs_add(&l, GPX_SIDE_SHORT, NAN, 50, 40, 50, 40, NAN);
  gpx_curve c = {0};
  ck_assert_int_eq(gpx_curve_init(&c, 100, 0, 0, NULL), 0);
  int64_t ts[2] = {1 * S, 2 * S};
  double p[2] = {10, -20}; /* E 110 then 90: peak 110 */
  ck_assert_int_eq(gpx_curve_push(&c, ts, p, 2, NULL), 0);
  gpx_trade_acc a = {0};
  gpx_trade_acc_init(&a, 0);
  gpx_stats s;
  memset(&s, 0, sizeof s);
  s.total_pnl = -10;
  s.max_drawdown_amount = -20;
  gpx_stats_compute_trades(&a, &l, &c, 10 * S, &s);
  ck_near(s.volume, 420, 0);
  ck_near(s.total_fees, 0.5, 0);
  ck_near(s.avg_slippage_bps, 2.0 * 1 * 1e4 / 198, 1e-9);
  ck_near(s.current_drawdown, -20.0 / 110, 1e-15); /* E(to)/peak − 1 = 90/110 − 1 */
  ck_near(s.recovery_factor, -0.5, 0);               /* −10 / |−20| */
  /* no trades at all: zero counts, null averages, at the peak */
  gpx_stats_compute_trades(&a, NULL, NULL, 10 * S, &s);
  ck_near(s.gross_profit, 0, 0);
  ck_near(s.max_win_streak, 0, 0);
  ck_near(s.current_streak, 0, 0);
  ck_nan(s.largest_win);
  ck_nan(s.avg_loss);
  ck_near(s.exposure, 0, 0);
  gpx_curve_reset(&c);
  ck_assert_int_eq(gpx_curve_init(&c, 100, 0, 0, NULL), 0);
  gpx_stats_compute_trades(&a, NULL, &c, 10 * S, &s);
  ck_near(s.current_drawdown, 0, 0);
  gpx_curve_reset(&c);
}
END_TEST

/* ------------------------------------------------------------ daily fold */

START_TEST(test_day_fold) {
  /* 60 days from ordinal 20000; day 0 starts at 0, day i ≥ 1 an hour before
     i·24 h (so day 0 lasts 23 h, a DST day; the others 24 h) */
  int64_t start[60];
  for (int i = 0; i < 60; i++) start[i] = (int64_t)i * 86400000 - (i ? 3600000 : 0);
  const int64_t H = 3600 * S;
  int64_t ts[] = {1 * H, 23 * H - 1, 23 * H, 30 * H, 40 * H, 3 * 86400 * S - H + 1000000, 50 * 86400 * S + 5 * H};
  double p[] = {1, 2, 4, NAN, 8, 16, 32};
  gpx_day_fold f = {0};
  gpx_day_fold_init(&f, start, 60, 20000);
  ck_assert_int_eq(gpx_day_fold_push(&f, ts, p, 2, NULL), 0);
  ck_assert_int_eq(gpx_day_fold_push(&f, ts + 2, p + 2, 5, NULL), 0);
  ck_assert_int_eq(gpx_day_fold_finish(&f, NULL), 0);
  /* day 0: 1 + 2 (two trades); a trade exactly at day 1's start is day 1's:
     4 + 8 (the NaN left out); day 3 from its first millisecond: 16; day 50: 32 */
  ck_assert_uint_eq(f.nd, 4);
  int32_t wd[] = {20000, 20001, 20003, 20050};
  double wp[] = {3, 12, 16, 32};
  int64_t wc[] = {2, 2, 1, 1};
  for (int i = 0; i < 4; i++) {
    ck_assert_int_eq(f.day[i], wd[i]);
    ck_near(f.pnl[i], wp[i], 0);
    ck_assert_int_eq(f.count[i], wc[i]);
  }
  /* backwards, or before the first day: EINVAL */
  gpx_error err;
  int64_t back = 2 * H;
  double one = 1;
  ck_assert_int_eq(gpx_day_fold_push(&f, &back, &one, 1, &err), EINVAL);
  gpx_day_fold_reset(&f);
  gpx_day_fold_init(&f, start + 1, 59, 20001);
  ck_assert_int_eq(gpx_day_fold_push(&f, &back, &one, 1, &err), EINVAL);
  ck_assert_ptr_nonnull(strstr(err.msg, "before the first day"));
  gpx_day_fold_reset(&f);
}
END_TEST

/* With gpx_day_fold_keep_agg: each day's wins, losses and their sums, as
   gpx_curve counts them (zero P&L neither, non-finite left out), the day's
   sum and count beside them; a compensated sum keeps small wins a large
   one would swallow. */
START_TEST(test_day_fold_agg) {
  int64_t start[4];
  for (int i = 0; i < 4; i++) start[i] = (int64_t)i * 86400000;
  const int64_t D = 86400 * S;
  int64_t ts[] = {1, 2, 3, 4, 5, D + 1, D + 2, 3 * D, 3 * D + 1, 3 * D + 2, 3 * D + 3};
  double p[] = {5, -2, 0, NAN, 3, -1, -4, 1e16, 1, 1, -7};
  gpx_day_fold f = {0};
  gpx_day_fold_init(&f, start, 4, 100);
  gpx_day_fold_keep_agg(&f);
  ck_assert_int_eq(gpx_day_fold_push(&f, ts, p, 4, NULL), 0);
  ck_assert_int_eq(gpx_day_fold_push(&f, ts + 4, p + 4, 7, NULL), 0);
  ck_assert_int_eq(gpx_day_fold_finish(&f, NULL), 0);
  ck_assert_uint_eq(f.nd, 3);
  ck_assert_ptr_nonnull(f.agg);
  const gpx_trade_agg want[] = {{.count = 4, .wins = 2, .losses = 1, .sum_pnl = 6, .sum_win = 8, .sum_loss = -2},
                                {.count = 2, .wins = 0, .losses = 2, .sum_pnl = -5, .sum_win = 0, .sum_loss = -5},
                                {.count = 4, .wins = 3, .losses = 1, .sum_pnl = 1e16 - 5, .sum_win = 1e16 + 2,
                                 .sum_loss = -7}};
  for (int i = 0; i < 3; i++) {
    const gpx_trade_agg *a = &f.agg[i];
    ck_assert_int_eq(a->count, want[i].count);
    ck_assert_int_eq(a->count, f.count[i]);
    ck_assert_int_eq(a->wins, want[i].wins);
    ck_assert_int_eq(a->losses, want[i].losses);
    ck_near(a->sum_pnl, want[i].sum_pnl, 0);
    ck_near(a->sum_pnl, f.pnl[i], 0);
    ck_near(a->sum_win, want[i].sum_win, 0);
    ck_near(a->sum_loss, want[i].sum_loss, 0);
  }
  gpx_day_fold_reset(&f);
  /* without keep_agg: no aggregates */
  gpx_day_fold_init(&f, start, 4, 100);
  ck_assert_int_eq(gpx_day_fold_push(&f, ts, p, 11, NULL), 0);
  ck_assert_int_eq(gpx_day_fold_finish(&f, NULL), 0);
  ck_assert_ptr_null(f.agg);
  gpx_day_fold_reset(&f);
}
END_TEST

/* ------------------------------------------------------------ episodes */

/* base 100, from 0, to 20 s; trades at t = 1..10 s:
     +10 → 110 peak(1)      -20 → 90  A opens (start 1)    -10 → 80 valley A(3)
     +40 → 120 A ends(4)    -12 → 108 B (start 4)          +12 → 120 B ends(6), E = peak
     -12 → 108 C (start 6)  +22 → 130 C ends(8)            -26 → 104 D (start 8)
     +6  → 110 D still open at the range end
   A: (80−110)/110, −30, 3 s, recovery 1 s; B and C: −12/120 = −0.1 each (equal
   depth and amount, B starts earlier), 2 s, 1 s; D: −26/130 = −0.2, open, 20 − 8 = 12 s. */
static void episode_series(gpx_episodes *e, size_t k) {
  int64_t ts[10];
  double p[10] = {10, -20, -10, 40, -12, 12, -12, 22, -26, 6};
  for (int i = 0; i < 10; i++) ts[i] = (i + 1) * S;
  ck_assert_int_eq(gpx_episodes_init(e, 100, 0, k, NULL), 0);
  ck_assert_int_eq(gpx_episodes_push(e, ts, p, 4, NULL), 0);
  ck_assert_int_eq(gpx_episodes_push(e, ts + 4, p + 4, 6, NULL), 0);
  ck_assert_int_eq(gpx_episodes_finish(e, 20 * S, NULL), 0);
}

START_TEST(test_episodes_hand_series) {
  gpx_episodes e = {0};
  episode_series(&e, 10);
  ck_assert_uint_eq(e.ntop, 4);
  gpx_episode *a = &e.top[0], *d = &e.top[1], *b = &e.top[2], *c = &e.top[3];
  ck_assert_int_eq(a->start_ns, 1 * S);
  ck_assert_int_eq(a->valley_ns, 3 * S);
  ck_assert_int_eq(a->end_ns, 4 * S);
  ck_assert(a->recovered);
  ck_near(a->depth, -30.0 / 110, 1e-15);
  ck_near(a->depth_amount, -30, 0);
  ck_near(a->duration_s, 3, 0);
  ck_near(a->recovery_s, 1, 0);
  /* D: still open at the range end */
  ck_assert_int_eq(d->start_ns, 8 * S);
  ck_assert_int_eq(d->valley_ns, 9 * S);
  ck_assert(!d->recovered);
  ck_near(d->depth, -0.2, 1e-15);
  ck_near(d->depth_amount, -26, 0);
  ck_near(d->duration_s, 12, 0);
  ck_nan(d->recovery_s);
  /* B and C: the same depth; the earlier first. C starts where B recovered
     (equity back exactly at the peak). */
  ck_assert(b->depth == c->depth);
  ck_near(b->depth, -0.1, 1e-15);
  ck_assert_int_eq(b->start_ns, 4 * S);
  ck_assert_int_eq(b->end_ns, 6 * S);
  ck_assert_int_eq(c->start_ns, 6 * S);
  ck_assert_int_eq(c->valley_ns, 7 * S);
  ck_assert_int_eq(c->end_ns, 8 * S);
  ck_near(b->duration_s, 2, 0);
  ck_near(c->recovery_s, 1, 0);
  gpx_episodes_reset(&e);
  /* keep 3: C (equal to B but later) is the one left out */
  episode_series(&e, 3);
  ck_assert_uint_eq(e.ntop, 3);
  ck_assert_int_eq(e.top[0].start_ns, 1 * S);
  ck_assert_int_eq(e.top[1].start_ns, 8 * S);
  ck_assert_int_eq(e.top[2].start_ns, 4 * S);
  gpx_episodes_reset(&e);
}
END_TEST

START_TEST(test_episodes_from_start_and_edges) {
  gpx_episodes e = {0};
  /* the first trade loses: the peak is E(from), so the episode starts at from (5 s) */
  ck_assert_int_eq(gpx_episodes_init(&e, 50, 5 * S, 10, NULL), 0);
  int64_t ts[3] = {6 * S, 7 * S, 9 * S};
  double p[3] = {-5, NAN, 5};
  ck_assert_int_eq(gpx_episodes_push(&e, ts, p, 3, NULL), 0);
  ck_assert_int_eq(gpx_episodes_finish(&e, 10 * S, NULL), 0);
  ck_assert_uint_eq(e.ntop, 1);
  ck_assert_int_eq(e.skipped, 1);
  ck_assert_int_eq(e.top[0].start_ns, 5 * S);
  ck_assert_int_eq(e.top[0].end_ns, 9 * S); /* back at 50 = the peak */
  ck_near(e.top[0].depth, -0.1, 1e-15);
  ck_near(e.top[0].duration_s, 4, 0);
  ck_near(e.top[0].recovery_s, 3, 0);
  gpx_episodes_reset(&e);
  /* a non-positive peak: depth undefined, ranked after defined ones by money */
  ck_assert_int_eq(gpx_episodes_init(&e, -10, 0, 10, NULL), 0);
  int64_t t2[4] = {1 * S, 2 * S, 3 * S, 4 * S};
  double p2[4] = {-5, 25, -1, -1}; /* −15 (peak −10, undefined), 10 peak, then 9, 8 open */
  ck_assert_int_eq(gpx_episodes_push(&e, t2, p2, 4, NULL), 0);
  ck_assert_int_eq(gpx_episodes_finish(&e, 5 * S, NULL), 0);
  ck_assert_uint_eq(e.ntop, 2);
  ck_near(e.top[0].depth, -0.2, 1e-15); /* (8 − 10)/10 */
  ck_nan(e.top[1].depth);
  ck_near(e.top[1].depth_amount, -5, 0);
  gpx_episodes_reset(&e);
  /* bad input */
  gpx_error err;
  ck_assert_int_eq(gpx_episodes_init(&e, NAN, 0, 10, &err), EINVAL);
  ck_assert_int_eq(gpx_episodes_init(&e, 1, 0, 0, &err), EINVAL);
  ck_assert_int_eq(gpx_episodes_init(&e, 1, 0, 1, &err), 0);
  int64_t t3[2] = {2 * S, 1 * S};
  double p3[2] = {1, 1};
  ck_assert_int_eq(gpx_episodes_push(&e, t3, p3, 2, &err), EINVAL);
  ck_assert_int_eq(gpx_episodes_finish(&e, 3 * S, NULL), 0);
  ck_assert_uint_eq(e.ntop, 0); /* equity never fell: no episode */
  gpx_episodes_reset(&e);
}
END_TEST

static Suite *tradestats_suite(void) {
  Suite *s = suite_create("tradestats");
  TCase *tc = tcase_create("trade_stats");
  tcase_add_test(tc, test_extremes_streaks_sqn);
  tcase_add_test(tc, test_streaks_broken_by_zero);
  tcase_add_test(tc, test_exposure_overlapping_and_holding);
  tcase_add_test(tc, test_exposure_memory_is_bounded);
  tcase_add_test(tc, test_legs_and_drawdown_fields);
  suite_add_tcase(s, tc);
  tc = tcase_create("daily_fold");
  tcase_add_test(tc, test_day_fold);
  tcase_add_test(tc, test_day_fold_agg);
  suite_add_tcase(s, tc);
  tc = tcase_create("episodes");
  tcase_add_test(tc, test_episodes_hand_series);
  tcase_add_test(tc, test_episodes_from_start_and_edges);
  suite_add_tcase(s, tc);
  return s;
}

GPX_CHECK_MAIN(tradestats_suite)
