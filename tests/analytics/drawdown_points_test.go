package analytics

// Down-sampling contract (README "Queries", analytics.md "Down-sampling"):
// only a series with more points than maxDataPoints is down-sampled. With
// fewer trades the drawdown series has one point per trade, after the point
// at the range start — as the equity curve already does. Issue 9: the
// drawdown's streaming path did not know the trade count and bucketed by
// time anyway (305 trades, maxDataPoints 10000 → 300 points).

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/algotrading/pnl-datasource/tests/harness"
)

// burstTrades: nBefore trades before the range (E(from) ≠ initialCapital),
// then bursts of burst trades 20 s apart spread over the range, so whole
// bursts fall into one time bucket of width range/maxDataPoints (≈ 635 s
// for maxDataPoints 10000) and time bucketing visibly merges trades. P&L
// swings inside each burst, so a bucket minimum differs from its trades.
func burstTrades(seed uint64, nBefore, bursts, burst int) []fixtureRow {
	r := rand.New(rand.NewPCG(seed, 0x2545f4914f6cdd1d))
	strategies := []string{"alpha", "beta", "gamma"}
	var rows []fixtureRow
	add := func(tm time.Time, strategy string) {
		row := fixtureRow{trade: trade{id: int64(len(rows) + 1), closed: tm, strategy: strategy, symbol: "BTCUSDT", account: "north"}}
		row.opened = tm.Add(-10 * time.Minute)
		withPrices(r, &row, 60000, 2, 0.1)
		row.pnl = math.Round((20+400*r.NormFloat64())*100) / 100
		rows = append(rows, row)
	}
	for i := 0; i < nBefore; i++ {
		add(from.Add(-time.Duration(nBefore-i)*time.Hour), strategies[i%3])
	}
	span := to.Sub(from) - time.Hour
	for b := 0; b < bursts; b++ {
		// burst start on a whole minute, well inside the range
		start := from.Add(30*time.Minute + (span * time.Duration(b) / time.Duration(bursts)).Truncate(time.Minute))
		for k := 0; k < burst; k++ {
			// each burst mostly one strategy, so the per-group series have bursts too
			s := strategies[b%3]
			if k == burst-1 {
				s = strategies[(b+1)%3]
			}
			add(start.Add(time.Duration(k)*20*time.Second), s)
		}
	}
	return rows
}

// checkPerTradeDrawdown: exactly one point per trade after the range-start
// point, each at its trade's closed_at with that trade's drawdown (fraction,
// or money E − peak).
func checkPerTradeDrawdown(e0 float64, in []trade, money bool) func(labelledField) error {
	want := refDrawdowns(e0, in)
	if money {
		e, peak := e0, e0
		for i, t := range in {
			e += t.pnl
			peak = math.Max(peak, e)
			want[i] = e - peak
		}
	}
	return func(f labelledField) error {
		if len(f.values) != len(in)+1 {
			return fmt.Errorf("%d points for %d trades (maxDataPoints above the trade count); want %d: the range start + one per trade",
				len(f.values), len(in), len(in)+1)
		}
		if !f.times[0].Equal(from) || f.values[0] != 0 {
			return fmt.Errorf("first point %v at %v; want 0 at the range start %v", f.values[0], f.times[0], from)
		}
		for i, t := range in {
			if got := f.times[i+1]; !got.Equal(t.closed) || !close(f.values[i+1], want[i]) {
				return fmt.Errorf("point %d: %v at %v; trade %d closed at %v with drawdown %v",
					i+1, f.values[i+1], got, t.id, t.closed, want[i])
			}
		}
		return nil
	}
}

func TestDrawdownHasOnePointPerTradeBelowMaxDataPoints(t *testing.T) {
	const table = "trades_bursts"
	const maxPts = 10000
	makeTradeTable(t, table, burstTrades(305, 30, 61, 5), tableOpts{})
	all := loadTrades(t, pg, table)
	p := harness.Launch(t, harness.Options{})
	ctx := tableCtx(table)

	q := refQ()
	before, in := split(q, all)
	n := len(in[""])
	if n != 305 || len(before[""]) != 30 {
		t.Fatalf("fixture: %d trades in the range, %d before", n, len(before[""]))
	}
	// The fixture must be one where time bucketing would merge trades:
	// count the buckets of width max(interval, ⌈range/maxDataPoints⌉)
	// (right-closed, aligned at from) that hold a trade.
	w := to.Sub(from).Milliseconds() / maxPts
	if to.Sub(from).Milliseconds()%maxPts != 0 {
		w++
	}
	w = max(w, 1000)
	buckets := map[int64]bool{}
	for _, tr := range in[""] {
		buckets[(tr.closed.Sub(from).Milliseconds()-1)/w] = true
	}
	if len(buckets) > n/2 {
		t.Fatalf("fixture: %d trades in %d buckets of %d ms; want several trades per bucket", n, len(buckets), w)
	}
	t.Logf("%d trades in the range fall into %d time buckets of %.0f s", n, len(buckets), float64(w)/1000)

	for _, money := range []bool{false, true} {
		body := map[string]any{}
		mode := "fraction"
		if money {
			body["drawdownMode"] = "money"
			mode = "money"
		}
		t.Run(mode, func(t *testing.T) {
			e0 := q.capital + sumPnl(before[""])
			frames := mustOK(t, p.Query(t, ctx, query("D", "drawdown", body, maxPts))["D"])
			if len(frames) != 1 {
				t.Fatalf("%d frames", len(frames))
			}
			ts, vs := series(t, frames[0])
			f := labelledField{frame: frames[0], field: frames[0].Fields[1], times: ts, values: vs}
			if err := checkPerTradeDrawdown(e0, in[""], money)(f); err != nil {
				t.Errorf("drawdown (%s), %d trades, maxDataPoints %d: %v", mode, n, maxPts, err)
			}
		})
	}

	t.Run("groupBy", func(t *testing.T) {
		q := refQ()
		q.group = "strategy"
		before, in := split(q, all)
		groups := sortedKeys(in)
		frames := mustOK(t, p.Query(t, ctx, query("D", "drawdown", map[string]any{"groupBy": "strategy"}, maxPts))["D"])
		checkPerGroup(t, "drawdown by strategy, maxDataPoints 10000", frames, "strategy", "drawdown", groups,
			func(g string, f labelledField) error {
				return checkPerTradeDrawdown(q.capital+sumPnl(before[g]), in[g], false)(f)
			})
	})

	// The other side of the contract: more trades than maxDataPoints are
	// still down-sampled, keeping the trough.
	t.Run("above-maxDataPoints", func(t *testing.T) {
		frames := mustOK(t, p.Query(t, ctx, query("D", "drawdown", nil, 50))["D"])
		ts, vs := series(t, frames[0])
		if len(ts) > 51 {
			t.Errorf("%d points for maxDataPoints 50", len(ts))
		}
		dds := refDrawdowns(q.capital+sumPnl(before[""]), in[""])
		deepest, minDD := 0.0, 0.0
		for _, v := range vs {
			deepest = math.Min(deepest, v)
		}
		for _, d := range dds {
			minDD = math.Min(minDD, d)
		}
		if !close(deepest, minDD) {
			t.Errorf("deepest point %v, reference max drawdown %v", deepest, minDD)
		}
	})
}
