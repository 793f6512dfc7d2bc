package analytics

// trade_count: trades closed per time bucket, one series per group, every
// bucket of the range present (0 when empty), each point at its bucket's
// start. The reference buckets the group's own trades in Go with the one
// bucket rule (width = max(interval, ceil(range/maxDataPoints)), right-closed).

import (
	"fmt"
	"testing"
	"time"

	"github.com/algotrading/pnl-datasource/tests/harness"
)

// refTradeCounts: bucket starts and counts of trades in (from, to].
func refTradeCounts(q refQuery, in []trade, intervalMs, maxPoints int64) ([]time.Time, []float64) {
	rangeNs := q.to.Sub(q.from).Nanoseconds()
	w := intervalMs * 1e6
	if wp := (rangeNs + maxPoints - 1) / maxPoints; wp > w {
		w = wp
	}
	nb := (rangeNs + w - 1) / w
	if nb < 1 {
		nb = 1
	}
	times := make([]time.Time, nb)
	counts := make([]float64, nb)
	for b := int64(0); b < nb; b++ {
		times[b] = q.from.Add(time.Duration(b * w))
	}
	for _, tr := range in {
		d := tr.closed.Sub(q.from).Nanoseconds()
		b := (d+w-1)/w - 1 // right-closed: (from + b·w, from + (b+1)·w]
		if b >= 0 && b < nb {
			counts[b]++
		}
	}
	return times, counts
}

func compareCounts(f labelledField, times []time.Time, counts []float64) error {
	if len(f.values) != len(counts) || len(f.times) != len(times) {
		return fmt.Errorf("%d points, want %d (one per bucket)", len(f.values), len(counts))
	}
	for i := range counts {
		if !f.times[i].Equal(times[i]) {
			return fmt.Errorf("point %d at %v, want the bucket start %v", i, f.times[i], times[i])
		}
		if f.values[i] != counts[i] {
			return fmt.Errorf("bucket %d (%v): %v trades, want %v", i, times[i], f.values[i], counts[i])
		}
	}
	return nil
}

func TestTradeCountPerBucketAndGroup(t *testing.T) {
	const table = "trades_count"
	makeTradeTable(t, table, groupTrades(11), tableOpts{})
	all := loadTrades(t, pg, table)
	p := harness.Launch(t, harness.Options{})
	ctx := tableCtx(table)
	for _, maxPoints := range []int64{7, 100, 5000} {
		for _, by := range []string{"", "strategy", "symbol"} {
			t.Run(fmt.Sprintf("max%d/%s", maxPoints, by), func(t *testing.T) {
				q := refQ()
				q.group = by
				_, in := split(q, all)
				body := map[string]any{}
				if by != "" {
					body["groupBy"] = by
				}
				resp := p.Query(t, ctx, query("A", "trade_count", body, maxPoints))
				frames := mustOK(t, resp["A"])
				if by == "" {
					if len(frames) != 1 {
						t.Fatalf("%d frames, want 1", len(frames))
					}
					var rows []trade
					for _, g := range sortedKeys(in) {
						rows = append(rows, in[g]...)
					}
					times, counts := refTradeCounts(q, rows, 1000, maxPoints)
					tt, vv := series(t, frames[0])
					f := labelledField{times: tt, values: vv}
					if err := compareCounts(f, times, counts); err != nil {
						t.Error(err)
					}
					total := 0.0
					for _, v := range vv {
						total += v
					}
					if int(total) != len(rows) || len(rows) == 0 {
						t.Errorf("counts add up to %v, want the %d trades in the range", total, len(rows))
					}
					if int64(len(vv)) > maxPoints {
						t.Errorf("%d buckets, more than maxDataPoints %d", len(vv), maxPoints)
					}
					return
				}
				groups := sortedKeys(in)
				n := checkPerGroup(t, "trade_count by "+by, frames, by, "trade_count", groups,
					func(g string, f labelledField) error {
						times, counts := refTradeCounts(q, in[g], 1000, maxPoints)
						return compareCounts(f, times, counts)
					})
				if n != len(groups) {
					t.Errorf("%d of %d groups matched their reference", n, len(groups))
				}
			})
		}
	}
}
