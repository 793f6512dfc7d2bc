/*
** fuzz_trading.c — the analytics of include/gpx/trading.h on random arrays.
**
** The first byte picks a family, the rest is read as typed values
** (fuzz_util.h): trades (closed_at, P&L) with any doubles — NaN, ±Inf,
** subnormals and huge values included — time stamps near the int64 ends,
** bucket widths, chunkings, day ordinals and options.
**
** Properties (the header's promises):
**  curve  init fails exactly for a non-finite base or a negative width; a
**         push with closed_at going backwards fails and leaves the curve as
**         it was; chunking never changes a result (bit for bit); per-trade
**         curves have one point per finite trade; bucketed points lie in
**         strictly increasing buckets; no output is ±Inf; drawdowns are
**         ≤ 0 (or NaN), the peak is ≥ every equity, the max drawdown is the
**         minimum of the points'; the aggregates count the finite trades;
**  auto   gpx_curve_init_auto equals the per-trade curve while the finite
**         trades fit, and the curve bucketed from the start beyond;
**  daily  gpx_daily_build fails exactly on the documented bad inputs, else
**         has every day of the range (weekends only with trades in
**         weekdays mode), ascending, P&L as given (non-finite → 0), no ±Inf;
**  stats  gpx_stats_compute has no ±Inf, ratios in range, counts as given;
**  ratio  Sharpe, Sortino, volatility and CAGR are finite or NaN, skip NaN
**         entries exactly, volatility ≥ 0;
**  slip   per-leg bps, accumulators and SQL-style sums agree, no ±Inf.
*/
#include <math.h>

#include "fuzz/fuzz_util.h"
#include "gpx/trading.h"

#define MAXN 2048

static int bits_eq(double a, double b) { return memcmp(&a, &b, sizeof a) == 0; }
static void no_inf(double v, const char *what) { FUZZ_CHECK(!isinf(v), "%s is %g (no output is ever ±Inf)", what, v); }

/* ---- inputs ------------------------------------------------------------------- */

typedef struct trades {
  int64_t ts[MAXN];
  double pnl[MAXN];
  size_t n;
} trades;

static int64_t sat_add(int64_t a, int64_t b) {
  int64_t r;
  return __builtin_add_overflow(a, b, &r) ? (b > 0 ? INT64_MAX : INT64_MIN) : r;
}

static int64_t fz_time(fz *f, int64_t from) {
  switch (fz_u8(f) % 8) {
    case 0: return (int64_t)fz_u64(f); /* anywhere, int64 ends included */
    case 1: return sat_add(from, -(int64_t)fz_u32(f));
    default: return sat_add(from, (int64_t)fz_u32(f) * 1000);
  }
}

static int64_t fz_width(fz *f) {
  switch (fz_u8(f) % 6) {
    case 0: return 0;
    case 1: return (int64_t)(fz_u64(f) >> (1 + fz_u8(f) % 63));
    case 2: return 1;
    default: return (int64_t)(fz_u16(f) + 1) * 1000000;
  }
}

/* Ascending trades; *backwards set when one goes back in time (on purpose). */
static void fz_trades(fz *f, int64_t from, trades *t, int allow_backwards, int *backwards) {
  t->n = (size_t)fz_range(f, 0, 400) * (fz_u8(f) % 8 == 0 ? 5 : 1);
  int64_t ts = fz_time(f, from);
  *backwards = 0;
  for (size_t i = 0; i < t->n; i++) {
    uint8_t k = fz_u8(f);
    int64_t step = k % 4 == 0 ? 0 : k % 4 == 1 ? (int64_t)fz_u8(f) : (int64_t)fz_u32(f) * 997;
    if (allow_backwards && k == 0xFF) step = -1 - (int64_t)fz_u8(f);
    int64_t prev = ts;
    ts = sat_add(ts, step);
    if (i > 0 && ts < prev) *backwards = 1;
    t->ts[i] = ts;
    t->pnl[i] = fz_f64(f);
  }
}

/* Push t into c in chunks whose sizes come from f (0 = all at once). */
static int push_chunked(gpx_curve *c, const trades *t, fz *f) {
  gpx_error err;
  size_t i = 0;
  while (i < t->n) {
    size_t k = f ? (size_t)fz_range(f, 0, 64) : t->n;
    if (k > t->n - i || (f && f->n == 0)) k = t->n - i;
    int rc = gpx_curve_push(c, t->ts + i, t->pnl + i, k, &err);
    if (rc) return rc;
    i += k;
  }
  return gpx_curve_finish(c, &err);
}

static void same_curve(const gpx_curve *a, const gpx_curve *b, const char *why) {
  FUZZ_CHECK(a->npts == b->npts, "%s: %zu points vs %zu", why, a->npts, b->npts);
  FUZZ_CHECK(a->npts == 0 || memcmp(a->pts, b->pts, a->npts * sizeof *a->pts) == 0, "%s: points differ", why);
  FUZZ_CHECK(memcmp(&a->agg, &b->agg, sizeof a->agg) == 0, "%s: aggregates differ", why);
  FUZZ_CHECK(bits_eq(a->max_dd, b->max_dd) && bits_eq(a->max_dd_amount, b->max_dd_amount) && bits_eq(a->peak, b->peak),
             "%s: drawdown state differs", why);
  FUZZ_CHECK(a->skipped == b->skipped, "%s: skipped differs", why);
}

static void check_curve(const gpx_curve *c, const trades *t) {
  int64_t count = 0, wins = 0, losses = 0;
  for (size_t i = 0; i < t->n; i++) {
    if (!isfinite(t->pnl[i])) continue;
    count++;
    wins += t->pnl[i] > 0;
    losses += t->pnl[i] < 0;
  }
  FUZZ_CHECK(c->agg.count == count && c->agg.wins == wins && c->agg.losses == losses, "aggregate counts");
  FUZZ_CHECK(c->skipped == (int64_t)t->n - count, "skipped %lld", (long long)c->skipped);
  if (c->bucket_ns == 0) FUZZ_CHECK(c->npts == (size_t)count, "%zu points for %lld trades", c->npts, (long long)count);
  double min_dd = c->base > 0 ? 0.0 : NAN, min_amt = 0.0;
  for (size_t i = 0; i < c->npts; i++) {
    const gpx_curve_point *p = &c->pts[i];
    no_inf(p->equity, "equity");
    no_inf(p->pnl, "pnl");
    no_inf(p->ret, "returns");
    no_inf(p->drawdown, "drawdown");
    no_inf(p->drawdown_amount, "drawdown amount");
    FUZZ_CHECK(isnan(p->drawdown) || p->drawdown <= 0, "drawdown %g > 0", p->drawdown);
    FUZZ_CHECK(isnan(p->drawdown_amount) || p->drawdown_amount <= 0, "drawdown amount %g > 0", p->drawdown_amount);
    FUZZ_CHECK(isnan(p->equity) || isnan(c->peak) || p->equity <= c->peak, "equity %g above the peak %g", p->equity,
               c->peak);
    FUZZ_CHECK(c->base > 0 || isnan(p->ret), "returns %g with E(from) %g <= 0", p->ret, c->base);
    if (i) FUZZ_CHECK(p->ts >= c->pts[i - 1].ts, "points out of order");
    if (!isnan(p->drawdown) && (isnan(min_dd) || p->drawdown < min_dd)) min_dd = p->drawdown;
    if (p->drawdown_amount < min_amt) min_amt = p->drawdown_amount;
  }
  no_inf(c->max_dd, "max drawdown");
  no_inf(c->max_dd_amount, "max drawdown amount");
  FUZZ_CHECK(bits_eq(c->max_dd, min_dd) || (isnan(c->max_dd) && isnan(min_dd)), "max drawdown %g, points' min %g",
             c->max_dd, min_dd);
  FUZZ_CHECK(c->max_dd_amount == min_amt || (isnan(c->max_dd_amount) && isnan(min_amt)),
             "max drawdown amount %g, points' min %g", c->max_dd_amount, min_amt);
  no_inf(gpx_curve_equity(c), "current equity");
}

/* ---- families --------------------------------------------------------------------- */

static void fam_curve(fz *f) {
  static trades t;
  gpx_error err;
  double base = fz_f64(f);
  int64_t from = fz_time(f, INT64_C(1700000000000000000)), w = fz_width(f);
  if (fz_u8(f) % 16 == 0) w = -1 - (int64_t)fz_u8(f);
  int back;
  fz_trades(f, from, &t, 1, &back);
  gpx_curve a = {0}, b = {0};
  int rc = gpx_curve_init(&a, base, from, w, &err);
  FUZZ_CHECK((rc == EINVAL) == (!isfinite(base) || w < 0) && (rc == 0 || rc == EINVAL), "init rc %d", rc);
  if (rc) return;
  FUZZ_CHECK(gpx_curve_init(&b, base, from, w, &err) == 0, "second init");
  int ra = push_chunked(&a, &t, NULL), rb = push_chunked(&b, &t, f);
  if (back) {
    FUZZ_CHECK(ra == EINVAL, "closed_at going backwards accepted");
  } else if (ra == 0) {
    FUZZ_CHECK(rb == 0, "chunked push failed (%d) where one push succeeded", rb);
    same_curve(&a, &b, "chunking");
    check_curve(&a, &t);
  } else {
    FUZZ_CHECK(ra == EINVAL && rb == EINVAL, "push rc %d / %d", ra, rb); /* closed_at out of bucket range */
  }
  gpx_curve_reset(&a);
  gpx_curve_reset(&b);
}

/* A failed push leaves the curve exactly as it was (also an auto curve). */
static void fam_atomic(fz *f) {
  static trades t;
  gpx_error err;
  double base = fz_f64(f);
  if (!isfinite(base)) base = 1000;
  int64_t from = fz_time(f, INT64_C(1700000000000000000)), w = fz_width(f);
  int back;
  fz_trades(f, from, &t, 0, &back);
  gpx_curve c = {0};
  size_t max_pts = (size_t)fz_range(f, 1, 64);
  int rc = fz_u8(f) & 1 ? gpx_curve_init_auto(&c, base, from, w ? w : 1, max_pts, &err)
                        : gpx_curve_init(&c, base, from, w, &err);
  FUZZ_CHECK(rc == 0, "init %s", err.msg);
  size_t split = t.n ? (size_t)fz_range(f, 0, (int64_t)t.n) : 0;
  if (gpx_curve_push(&c, t.ts, t.pnl, split, &err) != 0 || split == 0) {
    gpx_curve_reset(&c);
    return;
  }
  /* the next chunk: valid trades, then one going back before the last */
  size_t k = t.n - split;
  int64_t ts2[MAXN + 1];
  double p2[MAXN + 1];
  memcpy(ts2, t.ts + split, k * sizeof *ts2);
  memcpy(p2, t.pnl + split, k * sizeof *p2);
  int64_t last = k ? ts2[k - 1] : t.ts[split - 1];
  if (last == INT64_MIN) {
    gpx_curve_reset(&c);
    return;
  }
  ts2[k] = last - 1;
  p2[k] = fz_f64(f);
  gpx_curve before;
  memcpy(&before, &c, sizeof c);
  gpx_curve_point *copy = malloc((c.npts + 1) * sizeof *copy);
  FUZZ_CHECK(copy != NULL, "out of memory");
  memcpy(copy, c.pts, c.npts * sizeof *copy);
  rc = gpx_curve_push(&c, ts2, p2, k + 1, &err);
  FUZZ_CHECK(rc == EINVAL, "a chunk going backwards was accepted (%d)", rc);
  gpx_curve after;
  memcpy(&after, &c, sizeof c);
  before.pts = after.pts = NULL; /* the array may have been reserved (moved): compare contents */
  before.cap = after.cap = 0;
  FUZZ_CHECK(memcmp(&before, &after, sizeof c) == 0 && memcmp(copy, c.pts, c.npts * sizeof *copy) == 0,
             "a failed push changed the curve (%zu points before, %zu after): %s", before.npts, c.npts, err.msg);
  free(copy);
  gpx_curve_reset(&c);
}

static void fam_auto(fz *f) {
  static trades t;
  gpx_error err;
  double base = fz_f64(f);
  if (!isfinite(base)) base = 100000;
  int64_t from = fz_time(f, INT64_C(1700000000000000000)), w = fz_width(f);
  if (w <= 0) w = 1;
  size_t max_pts = (size_t)fz_range(f, 1, 300);
  int back;
  fz_trades(f, from, &t, 0, &back);
  gpx_curve au = {0}, ref = {0};
  FUZZ_CHECK(gpx_curve_init_auto(&au, base, from, w, max_pts, &err) == 0, "init_auto: %s", err.msg);
  int ra = push_chunked(&au, &t, f);
  size_t finite = 0;
  for (size_t i = 0; i < t.n; i++) finite += isfinite(t.pnl[i]) != 0;
  FUZZ_CHECK(gpx_curve_init(&ref, base, from, finite <= max_pts ? 0 : w, &err) == 0, "init");
  int rr = push_chunked(&ref, &t, NULL);
  if (ra == 0 && rr == 0) {
    gpx_curve cmp = au; /* configuration fields differ by design; compare the results */
    same_curve(&cmp, &ref, finite <= max_pts ? "auto vs per-trade" : "auto vs bucketed from the start");
    check_curve(&au, &t);
  } else {
    FUZZ_CHECK(ra == EINVAL && rr == EINVAL, "auto %d, reference %d", ra, rr);
  }
  gpx_curve_reset(&au);
  gpx_curve_reset(&ref);
}

static void check_ratio(double v, const char *what) {
  no_inf(v, what);
}

static void fam_daily_stats(fz *f) {
  static int32_t day[MAXN];
  static double pnl[MAXN];
  static int64_t cnt[MAXN];
  gpx_error err;
  int32_t first = (int32_t)(fz_u8(f) % 8 == 0 ? (int32_t)fz_u32(f) : 19000 + (int32_t)fz_range(f, -3000, 3000));
  int64_t span = fz_u8(f) % 16 == 0 ? (int64_t)fz_u32(f) : fz_range(f, -1, 3000);
  int64_t last64 = (int64_t)first + span;
  int32_t last = last64 > INT32_MAX ? INT32_MAX : last64 < INT32_MIN ? INT32_MIN : (int32_t)last64;
  int mode = fz_u8(f) % 5 == 0 ? 2 : fz_u8(f) & 1;
  double base = fz_f64(f);
  size_t n = (size_t)fz_range(f, 0, 200);
  int64_t d = first;
  int bad_order = 0, out_of_range = 0;
  for (size_t i = 0; i < n; i++) {
    uint8_t k = fz_u8(f);
    d += k == 0xFF ? -(int64_t)fz_u8(f) : 1 + k % 16;
    if (d > INT32_MAX) d = INT32_MAX;
    if (d < INT32_MIN) d = INT32_MIN;
    day[i] = (int32_t)d;
    pnl[i] = fz_f64(f);
    cnt[i] = (int64_t)(int16_t)fz_u16(f);
    if (day[i] < first || day[i] > last) out_of_range = 1;
    if (i && day[i] <= day[i - 1]) bad_order = 1;
    if (d > INT32_MAX - 300) {
      n = i + 1;
      break;
    }
  }
  gpx_daily dl;
  int with_counts = fz_u8(f) & 1;
  int rc = gpx_daily_build(day, pnl, with_counts ? cnt : NULL, n, first, last, (gpx_trading_days)mode, base, &dl, &err);
  int want_bad = mode > 1 || !isfinite(base) || first > last || (int64_t)last - first + 1 > 1000000 || out_of_range ||
                 bad_order;
  FUZZ_CHECK((rc != 0) == want_bad, "daily rc %d, expected %s (%s)", rc, want_bad ? "EINVAL" : "success", err.msg);
  if (rc) {
    FUZZ_CHECK(rc == EINVAL && dl.n == 0 && dl.day == NULL, "failed daily not empty");
    return;
  }
  size_t j = 0, k = 0;
  for (int64_t x = first; x <= last; x++) {
    int has = j < n && day[j] == x;
    if (!has && mode == GPX_DAYS_WEEKDAYS && gpx_day_weekday((int32_t)x) >= 5) continue;
    FUZZ_CHECK(k < dl.n && dl.day[k] == x, "day %lld missing", (long long)x);
    double want = has && isfinite(pnl[j]) ? pnl[j] : 0.0;
    FUZZ_CHECK(bits_eq(dl.pnl[k], want), "day %lld P&L %g, want %g", (long long)x, dl.pnl[k], want);
    int64_t trades_want = has && with_counts && cnt[j] > 0 ? cnt[j] : 0;
    FUZZ_CHECK(dl.trades[k] == trades_want, "day %lld trades %lld", (long long)x, (long long)dl.trades[k]);
    no_inf(dl.equity[k], "end-of-day equity");
    no_inf(dl.ret[k], "daily return");
    double prev = k ? dl.equity[k - 1] : base;
    FUZZ_CHECK(prev > 0 || isnan(dl.ret[k]), "a return on non-positive equity");
    if (has) j++;
    k++;
  }
  FUZZ_CHECK(k == dl.n, "%zu days, want %zu", dl.n, k);

  /* stats over a curve of random trades and this daily series */
  static trades t;
  int back;
  fz_trades(f, INT64_C(1700000000000000000), &t, 0, &back);
  gpx_curve c = {0};
  if (gpx_curve_init(&c, isfinite(base) ? base : 1, 0, 0, &err) == 0 && push_chunked(&c, &t, NULL) == 0) {
    gpx_analytics_opts o;
    gpx_analytics_opts_default(&o);
    o.trading_days = (gpx_trading_days)(fz_u8(f) & 1);
    if (fz_u8(f) & 1) o.annualization = fz_f64(f);
    if (fz_u8(f) & 1) o.risk_free_rate = fz_f64(f);
    gpx_slippage_acc slip = {0};
    gpx_slippage_add_trade(&slip, GPX_SIDE_LONG, fz_f64(f), fz_f64(f), fz_f64(f), fz_f64(f), fz_f64(f));
    gpx_trade_agg agg = c.agg;
    if (fz_u8(f) % 8 == 0) agg.wins = (int64_t)fz_u32(f) - 5; /* inconsistent on purpose */
    gpx_drawdown_summary dd = gpx_curve_drawdown(&c);
    gpx_stats st;
    int32_t today = fz_u8(f) & 1 ? (int32_t)fz_u32(f) : first + (int32_t)fz_range(f, 0, 10);
    int src = gpx_stats_compute(isfinite(base) ? base : 1, &agg, &dd, &dl, today, fz_u8(f) & 1 ? &slip : NULL, &o, &st,
                                &err);
    int opts_bad = gpx_analytics_opts_validate(&o, NULL) != 0;
    int agg_bad = agg.count < 0 || agg.wins < 0 || agg.losses < 0 || agg.wins > agg.count ||
                  agg.losses > agg.count - agg.wins;
    FUZZ_CHECK((src != 0) == (opts_bad || agg_bad), "stats rc %d (%s)", src, err.msg);
    for (size_t i = 0; i < GPX_STATS_NFIELDS; i++) {
      double v = gpx_stats_get(&st, i);
      FUZZ_CHECK(!isinf(v), "stats %s is %g (no output is ever ±Inf)", gpx_stats_field_names[i], v);
      if (src) FUZZ_CHECK(isnan(v), "stats %s set on failure", gpx_stats_field_names[i]);
    }
    if (src == 0) {
      FUZZ_CHECK(st.trade_count == (double)agg.count, "trade_count");
      FUZZ_CHECK(isnan(st.win_rate) || (st.win_rate >= 0 && st.win_rate <= 1), "win_rate %g", st.win_rate);
      FUZZ_CHECK(isnan(st.max_drawdown) || st.max_drawdown <= 0, "max_drawdown %g", st.max_drawdown);
      FUZZ_CHECK(isnan(st.max_drawdown_amount) || st.max_drawdown_amount <= 0, "max_drawdown_amount");
      FUZZ_CHECK(isnan(st.daily_loss) || st.daily_loss >= 0, "daily_loss %g", st.daily_loss);
      FUZZ_CHECK(isnan(st.annual_volatility) || st.annual_volatility >= 0, "volatility %g", st.annual_volatility);
      FUZZ_CHECK(dl.n == 0 || st.worst_day <= st.best_day, "worst day %g > best day %g", st.worst_day, st.best_day);
      FUZZ_CHECK(isnan(st.profit_factor) || st.profit_factor >= 0, "profit_factor %g", st.profit_factor);
    }
  }
  gpx_curve_reset(&c);
  gpx_daily_reset(&dl);
}

static void fam_ratios(fz *f) {
  static double r[MAXN], kept[MAXN];
  size_t n = (size_t)fz_range(f, 0, 500), m = 0;
  for (size_t i = 0; i < n; i++) {
    r[i] = fz_u8(f) % 10 == 0 ? NAN : fz_f64(f);
    if (!isnan(r[i])) kept[m++] = r[i];
  }
  gpx_analytics_opts o;
  gpx_analytics_opts_default(&o);
  if (fz_u8(f) & 1) o.annualization = fz_f64(f);
  if (fz_u8(f) & 1) o.risk_free_rate = fz_f64(f);
  if (fz_u8(f) % 8 == 0) o.trading_days = (gpx_trading_days)fz_u8(f);
  double sh = gpx_sharpe(r, n, &o), so = gpx_sortino(r, n, &o), vo = gpx_annual_volatility(r, n, &o);
  check_ratio(sh, "sharpe");
  check_ratio(so, "sortino");
  check_ratio(vo, "volatility");
  FUZZ_CHECK(isnan(vo) || vo >= 0, "volatility %g", vo);
  /* NaN entries are skipped */
  FUZZ_CHECK(bits_eq(sh, gpx_sharpe(kept, m, &o)) || (isnan(sh) && isnan(gpx_sharpe(kept, m, &o))), "sharpe skips NaN");
  FUZZ_CHECK(bits_eq(so, gpx_sortino(kept, m, &o)) || (isnan(so) && isnan(gpx_sortino(kept, m, &o))),
             "sortino skips NaN");
  FUZZ_CHECK(bits_eq(vo, gpx_annual_volatility(kept, m, &o)) || (isnan(vo) && isnan(gpx_annual_volatility(kept, m, &o))),
             "volatility skips NaN");
  if (gpx_analytics_opts_validate(&o, NULL) != 0)
    FUZZ_CHECK(isnan(sh) && isnan(so) && isnan(vo), "ratios with invalid options");
  double es = fz_f64(f), ee = fz_f64(f);
  size_t nd = (size_t)fz_range(f, 0, 100000);
  double cg = gpx_cagr(es, ee, nd, o.annualization);
  check_ratio(cg, "cagr");
  if (nd == 0 || !(es > 0) || ee < 0) FUZZ_CHECK(isnan(cg), "cagr %g where undefined", cg);
  FUZZ_CHECK(isnan(cg) || cg >= -1, "cagr %g below -100%%", cg);
}

static void fam_slippage(fz *f) {
  gpx_slippage_acc per[3] = {{0}}, sums = {0}, merged = {0};
  static const char *const sides[] = {"long", " SHORT ", "Long", "short\n", "flat", "", "longer", "\tshort"};
  size_t n = (size_t)fz_range(f, 0, 100);
  int nice = fz_u8(f) & 1; /* bounded magnitudes: the sums must match the per-trade path */
  gpx_side side = fz_u8(f) & 1 ? GPX_SIDE_LONG : GPX_SIDE_SHORT;
  double fe = 0, ee = 0, fx = 0, ex = 0;
  int64_t legs = 0;
  for (size_t i = 0; i < n; i++) {
    const char *sn = sides[fz_u8(f) % 8];
    gpx_side s = gpx_side_parse(sn);
    FUZZ_CHECK(s == GPX_SIDE_UNKNOWN || strcasestr(sn, s == GPX_SIDE_LONG ? "long" : "short"), "side %s", sn);
    double q, en, x, een, eex;
    if (nice) {
      q = (double)((int)fz_range(f, -1000, 1000)) / 4;
      en = (double)fz_range(f, 1, 100000) / 8;
      x = (double)fz_range(f, 1, 100000) / 8;
      een = fz_u8(f) % 4 ? (double)fz_range(f, 1, 100000) / 8 : NAN;
      eex = fz_u8(f) % 4 ? (double)fz_range(f, 1, 100000) / 8 : NAN;
    } else {
      q = fz_f64(f), en = fz_f64(f), x = fz_f64(f), een = fz_f64(f), eex = fz_f64(f);
    }
    double bps = gpx_leg_slippage_bps(fz_u8(f) & 1, en, een);
    no_inf(bps, "leg bps");
    double tb = gpx_trade_slippage_bps(side, q, en, x, een, eex);
    no_inf(tb, "trade bps");
    int added = gpx_slippage_add_trade(&per[0], side, q, en, x, een, eex);
    FUZZ_CHECK(added >= 0 && added <= 2, "legs %d", added);
    gpx_slippage_add_trade(&per[1 + (i & 1)], side, q, en, x, een, eex);
    if (nice && q != 0) {
      double aq = fabs(q);
      if (!isnan(een)) fe += en * aq, ee += een * aq, legs++;
      if (!isnan(eex)) fx += x * aq, ex += eex * aq, legs++;
    }
  }
  gpx_slippage_merge(&merged, &per[1]);
  gpx_slippage_merge(&merged, &per[2]);
  double m0 = gpx_slippage_mean(&per[0]), mm = gpx_slippage_mean(&merged);
  no_inf(m0, "mean bps");
  no_inf(mm, "merged mean bps");
  FUZZ_CHECK(per[0].legs == merged.legs, "merge lost legs");
  FUZZ_CHECK(isnan(m0) == isnan(mm), "merge changed definedness");
  if (nice) {
    FUZZ_CHECK(!isnan(m0) || per[0].legs == 0, "nice trades without a mean");
    gpx_slippage_add_sums(&sums, side, fe, ee, fx, ex, legs);
    double ms = gpx_slippage_mean(&sums);
    FUZZ_CHECK(sums.legs == per[0].legs, "sums cover %lld legs, trades %lld", (long long)sums.legs,
               (long long)per[0].legs);
    FUZZ_CHECK((isnan(ms) && isnan(m0)) || fabs(ms - m0) <= 1e-6 * (1 + fabs(m0)), "sums %.17g vs trades %.17g", ms, m0);
    FUZZ_CHECK(isnan(mm) || fabs(mm - m0) <= 1e-6 * (1 + fabs(m0)), "merged %.17g vs %.17g", mm, m0);
  }
  /* any values through the SQL-sums path */
  gpx_slippage_acc any = {0};
  gpx_slippage_add_sums(&any, (gpx_side)(fz_u8(f) % 4), fz_f64(f), fz_f64(f), fz_f64(f), fz_f64(f),
                        (int64_t)fz_u32(f) - 3);
  no_inf(gpx_slippage_mean(&any), "mean of sums");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size == 0 || size > 65536) return 0;
  fz f = {data + 1, size - 1};
  switch (data[0] % 6) {
    case 0: fam_curve(&f); break;
    case 1: fam_atomic(&f); break;
    case 2: fam_auto(&f); break;
    case 3: fam_daily_stats(&f); break;
    case 4: fam_ratios(&f); break;
    default: fam_slippage(&f); break;
  }
  return 0;
}
