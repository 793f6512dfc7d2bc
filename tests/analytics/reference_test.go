package analytics

// An independent reference: the trade table read raw through psql and every
// number recomputed here in Go from trading-metrics.md, never through the
// plugin's own functions.

import (
	"math"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"
	_ "time/tzdata"

	"github.com/algotrading/pnl-datasource/tests/pgfix"
)

type trade struct {
	id                        int64
	closed                    time.Time
	strategy, symbol, account string
	side                      string
	qty, entry, exit          float64
	expEntry, expExit         float64 // NaN when NULL
	pnl                       float64
	openedAt                  time.Time // zero when NULL
	fees                      float64   // NaN when NULL

	exchange, entryTag, exitReason string // "" when NULL
}

func loadTrades(t testing.TB, pg *pgfix.Server, table string) []trade {
	return loadTradesFrom(t, pg, table, defaultCols)
}

// tradeCols says how the reference reads each field from a table: SQL that
// takes the stored value as it is (epoch numbers, integer labels, buy/sell
// text, boolean sides), with the meaning applied here in Go (normSide), so
// a table laid out as a bot stores it is read without the plugin's logic.
type tradeCols struct {
	id, closedUS, strategy, symbol, account, side, qty, entry, exit, expEntry, expExit, pnl, openedUS, fees,
	exchange, entryTag, exitReason, order string
	sideAs string // "" text (long/short, buy/sell in any case), "is_short", "is_long"
}

var defaultCols = tradeCols{id: "trade_id", closedUS: "(extract(epoch FROM closed_at)*1000000)::int8",
	strategy: "strategy", symbol: "symbol", account: "coalesce(account,'')", side: "coalesce(side,'')",
	qty: "coalesce(qty::float8,0)", entry: "coalesce(entry_price::float8,0)", exit: "coalesce(exit_price::float8,0)",
	expEntry: "coalesce(expected_entry_price::float8::text,'NaN')", expExit: "coalesce(expected_exit_price::float8::text,'NaN')",
	pnl: "realized_pnl::float8", openedUS: "coalesce((extract(epoch FROM opened_at)*1000000)::int8::text, '')",
	fees: "coalesce(fees::float8::text, 'NaN')", exchange: "coalesce(exchange,'')", entryTag: "coalesce(entry_tag,'')",
	exitReason: "coalesce(exit_reason,'')", order: "closed_at, trade_id"}

// normSide: the side as the data-source docs define it: long/short; buy is
// long and sell short, in any case; a boolean column says is_short or is_long.
func normSide(raw, as string) string {
	switch as {
	case "is_short", "is_long":
		if raw == "" {
			return ""
		}
		if (raw == "t") == (as == "is_short") {
			return "short"
		}
		return "long"
	}
	switch s := strings.ToLower(strings.TrimSpace(raw)); s {
	case "buy":
		return "long"
	case "sell":
		return "short"
	default:
		return s
	}
}

func loadTradesFrom(t testing.TB, pg *pgfix.Server, table string, c tradeCols) []trade {
	out, err := pg.Psql("trading", "SELECT "+strings.Join([]string{c.id, c.closedUS, c.strategy, c.symbol, c.account, c.side,
		c.qty, c.entry, c.exit, c.expEntry, c.expExit, c.pnl, c.openedUS, c.fees, c.exchange, c.entryTag, c.exitReason}, ", ")+
		" FROM "+table+" ORDER BY "+c.order)
	if err != nil {
		t.Fatal(err)
	}
	var ts []trade
	for _, line := range strings.Split(out, "\n") {
		if line == "" {
			continue
		}
		f := strings.Split(line, "\t")
		num := func(i int) float64 { v, _ := strconv.ParseFloat(f[i], 64); return v }
		us, _ := strconv.ParseInt(f[1], 10, 64)
		id, _ := strconv.ParseInt(f[0], 10, 64)
		tr := trade{id: id, closed: time.UnixMicro(us).UTC(), strategy: f[2], symbol: f[3], account: f[4],
			side: normSide(f[5], c.sideAs), qty: num(6), entry: num(7), exit: num(8), expEntry: num(9), expExit: num(10), pnl: num(11),
			fees: num(13), exchange: f[14], entryTag: f[15], exitReason: f[16]}
		if f[12] != "" {
			ous, _ := strconv.ParseInt(f[12], 10, 64)
			tr.openedAt = time.UnixMicro(ous).UTC()
		}
		ts = append(ts, tr)
	}
	return ts
}

type refQuery struct {
	from, to   time.Time
	strategies []string
	capital    float64
	tz         *time.Location
	weekdays   bool
	annual     float64
	rf         float64
	group      string // "", or a dimension: "strategy", "symbol", "account", "side", "exchange", "entry_tag", "exit_reason"
	// filters per dimension (as group names it), like the query's lists:
	// absent or empty = all; a trade whose value is NULL matches only "(none)"
	filters map[string][]string
	// ad-hoc filters (adhoc_test.go), ANDed with everything else
	adhoc []adhocFilter
}

// dimOf is a trade's value of a dimension; ok is false when it is NULL.
func dimOf(tr trade, dim string) (v string, ok bool) {
	switch dim {
	case "strategy":
		return tr.strategy, true
	case "symbol":
		return tr.symbol, true
	case "account":
		return tr.account, true
	case "side":
		return tr.side, tr.side != ""
	case "exchange":
		return tr.exchange, tr.exchange != ""
	case "entry_tag":
		return tr.entryTag, tr.entryTag != ""
	case "exit_reason":
		return tr.exitReason, tr.exitReason != ""
	}
	panic("unknown dimension " + dim)
}

func (q refQuery) match(tr trade) bool {
	in := func(list []string, v string) bool {
		for _, s := range list {
			if s == v {
				return true
			}
		}
		return false
	}
	if len(q.strategies) > 0 && !in(q.strategies, tr.strategy) {
		return false
	}
	for dim, list := range q.filters {
		if len(list) == 0 {
			continue
		}
		// "(none)" in a list selects the trades without a value (issue 12)
		if v, ok := dimOf(tr, dim); !(ok && in(list, v)) && !(!ok && in(list, "(none)")) {
			return false
		}
	}
	return q.matchAdhoc(tr)
}

// groupOf: the group a trade falls in; a NULL value is the plugin's "(none)" group.
func groupOf(q refQuery, tr trade) string {
	if q.group == "" {
		return ""
	}
	if v, ok := dimOf(tr, q.group); ok {
		return v
	}
	return "(none)"
}

// split returns, per group, trades before (≤ from) and in (from, to].
func split(q refQuery, all []trade) (before, in map[string][]trade) {
	before, in = map[string][]trade{}, map[string][]trade{}
	for _, tr := range all {
		if !q.match(tr) {
			continue
		}
		g := groupOf(q, tr)
		if !tr.closed.After(q.from) {
			before[g] = append(before[g], tr)
		} else if !tr.closed.After(q.to) {
			in[g] = append(in[g], tr)
		}
	}
	return
}

func sumPnl(ts []trade) float64 {
	s := 0.0
	for _, t := range ts {
		s += t.pnl
	}
	return s
}

type refStats map[string]float64 // NaN = null

func localDay(t time.Time, loc *time.Location) time.Time {
	l := t.In(loc)
	return time.Date(l.Year(), l.Month(), l.Day(), 0, 0, 0, 0, loc)
}

// refDaily: every day of the range with its P&L, per trading-metrics §3.
func refDaily(q refQuery, in []trade) (days []time.Time, pnl []float64) {
	first, last := localDay(q.from, q.tz), localDay(q.to, q.tz)
	sums := map[time.Time]float64{}
	has := map[time.Time]bool{}
	for _, t := range in {
		d := localDay(t.closed, q.tz)
		sums[d] += t.pnl
		has[d] = true
	}
	for d := first; !d.After(last); d = d.AddDate(0, 0, 1) {
		if q.weekdays && (d.Weekday() == time.Saturday || d.Weekday() == time.Sunday) && !has[d] {
			continue
		}
		days = append(days, d)
		pnl = append(pnl, sums[d])
	}
	return
}

func meanStd(x []float64) (float64, float64) {
	n := float64(len(x))
	m := 0.0
	for _, v := range x {
		m += v
	}
	m /= n
	ss := 0.0
	for _, v := range x {
		ss += (v - m) * (v - m)
	}
	if len(x) < 2 {
		return m, math.NaN()
	}
	return m, math.Sqrt(ss / (n - 1))
}

func refComputeStats(q refQuery, before, in []trade, today time.Time) refStats {
	s := refStats{}
	e0 := q.capital + sumPnl(before)
	total := sumPnl(in)
	s["total_pnl"] = total
	s["equity"] = e0 + total
	s["total_return"] = total / e0
	s["trade_count"] = float64(len(in))
	wins, losses := 0, 0
	sw, sl := 0.0, 0.0
	for _, t := range in {
		if t.pnl > 0 {
			wins++
			sw += t.pnl
		} else if t.pnl < 0 {
			losses++
			sl += t.pnl
		}
	}
	nan := math.NaN()
	s["win_rate"], s["profit_factor"], s["payoff_ratio"], s["expectancy"] = nan, nan, nan, nan
	if len(in) > 0 {
		s["win_rate"] = float64(wins) / float64(len(in))
		s["expectancy"] = total / float64(len(in))
	}
	if losses > 0 {
		s["profit_factor"] = sw / math.Abs(sl)
		if wins > 0 {
			s["payoff_ratio"] = (sw / float64(wins)) / math.Abs(sl/float64(losses))
		}
	}
	// per-trade drawdown, peak including E(from)
	e, peak, mdd, mdda := e0, e0, 0.0, 0.0
	for _, t := range in {
		e += t.pnl
		if e > peak {
			peak = e
		}
		if dd := e/peak - 1; dd < mdd {
			mdd = dd
		}
		if e-peak < mdda {
			mdda = e - peak
		}
	}
	s["max_drawdown"], s["max_drawdown_amount"] = mdd, mdda
	days, dp := refDaily(q, in)
	r := make([]float64, len(dp))
	eq := e0
	worst, best := math.Inf(1), math.Inf(-1)
	for i, d := range dp {
		r[i] = d / eq
		eq += d
		worst = math.Min(worst, d)
		best = math.Max(best, d)
	}
	s["worst_day"], s["best_day"] = worst, best
	if len(dp) == 0 {
		s["worst_day"], s["best_day"] = nan, nan
	}
	rfd := math.Pow(1+q.rf, 1/q.annual) - 1
	ex := make([]float64, len(r))
	for i := range r {
		ex[i] = r[i] - rfd
	}
	m, sd := meanStd(ex)
	s["sharpe"] = nan
	if len(ex) >= 2 && sd > 0 {
		s["sharpe"] = m / sd * math.Sqrt(q.annual)
	}
	dsq := 0.0
	for _, v := range ex {
		if v < 0 {
			dsq += v * v
		}
	}
	s["sortino"] = nan
	if len(ex) >= 2 && dsq > 0 {
		s["sortino"] = m * q.annual / (math.Sqrt(dsq/float64(len(ex))) * math.Sqrt(q.annual))
	}
	_, sdr := meanStd(r)
	s["annual_volatility"] = sdr * math.Sqrt(q.annual)
	s["cagr"] = math.Pow((e0+total)/e0, q.annual/float64(len(days))) - 1
	s["calmar"] = nan
	if mdd < 0 {
		s["calmar"] = s["cagr"] / math.Abs(mdd)
	}
	// slippage: notional-weighted over legs with an expected price
	num, den := 0.0, 0.0
	for _, t := range in {
		buyEntry := t.side == "long"
		if t.side != "long" && t.side != "short" {
			continue
		}
		legs := []struct {
			buying         bool
			fill, expected float64
		}{{buyEntry, t.entry, t.expEntry}, {!buyEntry, t.exit, t.expExit}}
		for _, l := range legs {
			if math.IsNaN(l.expected) {
				continue
			}
			bps := (l.fill - l.expected) / l.expected * 1e4
			if !l.buying {
				bps = -bps
			}
			w := t.qty * l.expected
			num += bps * w
			den += w
		}
	}
	s["avg_slippage_bps"] = nan
	if den > 0 {
		s["avg_slippage_bps"] = num / den
	}
	// today's loss (analytics.md): 0 when today is in the range without
	// trades, null when today lies outside the dashboard range.
	td := localDay(today, q.tz)
	s["daily_loss"] = nan
	if !td.Before(localDay(q.from, q.tz)) && !td.After(localDay(q.to, q.tz)) {
		s["daily_loss"] = 0
	}
	for i, d := range days {
		if d.Equal(td) {
			s["daily_loss"] = math.Max(0, -dp[i])
		}
	}
	return s
}

// refDrawdowns: per-trade DD after each trade.
func refDrawdowns(e0 float64, in []trade) []float64 {
	out := make([]float64, len(in))
	e, peak := e0, e0
	for i, t := range in {
		e += t.pnl
		if e > peak {
			peak = e
		}
		out[i] = e/peak - 1
	}
	return out
}

func close(a, b float64) bool {
	if math.IsNaN(a) || math.IsNaN(b) {
		return math.IsNaN(a) && math.IsNaN(b)
	}
	d := math.Abs(a - b)
	return d <= 1e-9*math.Max(1, math.Max(math.Abs(a), math.Abs(b)))
}

func sortedKeys[M ~map[string]V, V any](m M) []string {
	var k []string
	for s := range m {
		k = append(k, s)
	}
	sort.Strings(k)
	return k
}
