package analytics

// The independent reference for issue 11's numbers — the new stats fields,
// drawdown episodes and breakdown rows — written from the definitions in
// the issue (copied into docs/analytics.md), not from the C code: plain
// float64 sums, intervals merged after sorting by start (the plugin merges
// in closed_at order), episodes from the per-trade peak.

import (
	"math"
	"sort"
	"time"
)

// refTradeStats computes the new stats fields of one group from its trades
// in (closed_at, trade_id) order; e0 = E(from).
func refTradeStats(q refQuery, e0 float64, in []trade) refStats {
	s := refStats{}
	nan := math.NaN()
	var wins, losses []float64
	for _, t := range in {
		if t.pnl > 0 {
			wins = append(wins, t.pnl)
		} else if t.pnl < 0 {
			losses = append(losses, t.pnl)
		}
	}
	sum := func(x []float64) float64 {
		v := 0.0
		for _, a := range x {
			v += a
		}
		return v
	}
	s["largest_win"], s["largest_loss"], s["avg_win"], s["avg_loss"] = nan, nan, nan, nan
	for i, w := range wins {
		if i == 0 || w > s["largest_win"] {
			s["largest_win"] = w
		}
	}
	for i, l := range losses {
		if i == 0 || l < s["largest_loss"] {
			s["largest_loss"] = l
		}
	}
	if len(wins) > 0 {
		s["avg_win"] = sum(wins) / float64(len(wins))
	}
	if len(losses) > 0 {
		s["avg_loss"] = sum(losses) / float64(len(losses))
	}
	s["gross_profit"], s["gross_loss"] = sum(wins), sum(losses)

	// streaks: runs of p > 0 / p < 0; a zero-P&L trade ends both
	run, maxW, maxL := 0, 0, 0 // run > 0 wins, < 0 losses
	for _, t := range in {
		switch {
		case t.pnl > 0:
			if run < 0 {
				run = 0
			}
			run++
		case t.pnl < 0:
			if run > 0 {
				run = 0
			}
			run--
		default:
			run = 0
		}
		if run > maxW {
			maxW = run
		}
		if -run > maxL {
			maxL = -run
		}
	}
	s["max_win_streak"], s["max_loss_streak"], s["current_streak"] = float64(maxW), float64(maxL), float64(run)

	fees := 0.0
	for _, t := range in {
		if !math.IsNaN(t.fees) {
			fees += t.fees
		}
	}
	s["total_fees"] = fees

	// holding times in seconds, over trades with an opened_at
	var hold, holdW, holdL []float64
	for _, t := range in {
		if t.openedAt.IsZero() {
			continue
		}
		h := t.closed.Sub(t.openedAt).Seconds()
		hold = append(hold, h)
		if t.pnl > 0 {
			holdW = append(holdW, h)
		} else if t.pnl < 0 {
			holdL = append(holdL, h)
		}
	}
	mean := func(x []float64) float64 {
		if len(x) == 0 {
			return nan
		}
		return sum(x) / float64(len(x))
	}
	s["avg_holding_time"], s["avg_holding_time_win"], s["avg_holding_time_loss"] = mean(hold), mean(holdW), mean(holdL)

	// SQN = √N · mean(p) / std(p, ddof=1)
	ps := make([]float64, len(in))
	for i, t := range in {
		ps[i] = t.pnl
	}
	s["sqn"] = nan
	if m, sd := meanStd(ps); len(ps) >= 2 && sd > 0 {
		s["sqn"] = math.Sqrt(float64(len(ps))) * m / sd
	}

	nl, ns, wl, ws := 0, 0, 0, 0
	for _, t := range in {
		switch t.side {
		case "long":
			nl++
			if t.pnl > 0 {
				wl++
			}
		case "short":
			ns++
			if t.pnl > 0 {
				ws++
			}
		}
	}
	s["long_trades"], s["short_trades"] = float64(nl), float64(ns)
	s["long_win_rate"], s["short_win_rate"] = nan, nan
	if nl > 0 {
		s["long_win_rate"] = float64(wl) / float64(nl)
	}
	if ns > 0 {
		s["short_win_rate"] = float64(ws) / float64(ns)
	}

	s["exposure"] = refExposure(q.from, q.to, in)

	// current drawdown E(to)/peak − 1 and recovery factor total / |max drawdown amount|
	e, peak, mdda := e0, e0, 0.0
	for _, t := range in {
		e += t.pnl
		peak = math.Max(peak, e)
		mdda = math.Min(mdda, e-peak)
	}
	s["current_drawdown"] = nan
	if peak > 0 {
		s["current_drawdown"] = e/peak - 1
	}
	s["recovery_factor"] = nan
	if mdda != 0 {
		s["recovery_factor"] = (e - e0) / math.Abs(mdda)
	}

	vol := 0.0
	for _, t := range in {
		if v := t.qty * (t.entry + t.exit); !math.IsNaN(v) {
			vol += v
		}
	}
	s["volume"] = vol
	return s
}

// refExposure: the union of [max(opened_at, from), closed_at] over the
// trades closed in the range, as a fraction of the range — merged the
// textbook way, by start.
func refExposure(from, to time.Time, in []trade) float64 {
	type iv struct{ s, e time.Time }
	var ivs []iv
	for _, t := range in {
		if t.openedAt.IsZero() {
			continue
		}
		s := t.openedAt
		if s.Before(from) {
			s = from
		}
		if s.Before(t.closed) {
			ivs = append(ivs, iv{s, t.closed})
		}
	}
	sort.Slice(ivs, func(i, j int) bool { return ivs[i].s.Before(ivs[j].s) })
	covered := time.Duration(0)
	var cs, ce time.Time
	for i, v := range ivs {
		if i == 0 || v.s.After(ce) {
			covered += ce.Sub(cs)
			cs, ce = v.s, v.e
		} else if v.e.After(ce) {
			ce = v.e
		}
	}
	covered += ce.Sub(cs)
	return covered.Seconds() / to.Sub(from).Seconds()
}

// refEpisode is one drawdown episode by the definition.
type refEpisode struct {
	start, valley, end        time.Time
	recovered                 bool
	peakE, valleyE            float64
	depth, amount             float64
	duration, recovery        float64 // seconds; recovery NaN while open
}

// refEpisodes: maximal stretches with equity (per trade) below its running
// peak (which includes E(from)), deepest first.
func refEpisodes(e0 float64, from, to time.Time, in []trade) []refEpisode {
	var out []refEpisode
	e, peak, peakAt := e0, e0, from
	var cur *refEpisode
	for _, t := range in {
		e += t.pnl
		if e >= peak {
			if cur != nil {
				cur.end, cur.recovered = t.closed, true
				out = append(out, *cur)
				cur = nil
			}
			peak, peakAt = e, t.closed
		} else if cur == nil {
			cur = &refEpisode{start: peakAt, valley: t.closed, peakE: peak, valleyE: e}
		} else if e < cur.valleyE {
			cur.valley, cur.valleyE = t.closed, e
		}
	}
	if cur != nil {
		out = append(out, *cur)
	}
	for i := range out {
		x := &out[i]
		x.amount = x.valleyE - x.peakE
		x.depth = math.NaN()
		if x.peakE > 0 {
			x.depth = x.valleyE/x.peakE - 1
		}
		endOrTo := to
		x.recovery = math.NaN()
		if x.recovered {
			endOrTo = x.end
			x.recovery = x.end.Sub(x.valley).Seconds()
		}
		x.duration = endOrTo.Sub(x.start).Seconds()
	}
	sort.SliceStable(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if math.IsNaN(a.depth) != math.IsNaN(b.depth) {
			return !math.IsNaN(a.depth)
		}
		if a.depth != b.depth && !math.IsNaN(a.depth) {
			return a.depth < b.depth
		}
		if a.amount != b.amount {
			return a.amount < b.amount
		}
		return a.start.Before(b.start)
	})
	return out
}

// newStatFields are the issue 11 fields, in the frame's order.
var newStatFields = []string{"largest_win", "largest_loss", "avg_win", "avg_loss", "gross_profit", "gross_loss",
	"max_win_streak", "max_loss_streak", "current_streak", "total_fees", "avg_holding_time", "avg_holding_time_win",
	"avg_holding_time_loss", "sqn", "long_trades", "short_trades", "long_win_rate", "short_win_rate", "exposure",
	"current_drawdown", "recovery_factor", "volume"}

// refAllStats: the old fields (refComputeStats) and the new ones of one group.
func refAllStats(q refQuery, before, in []trade, today time.Time) refStats {
	s := refComputeStats(q, before, in, today)
	for k, v := range refTradeStats(q, q.capital+sumPnl(before), in) {
		s[k] = v
	}
	return s
}
