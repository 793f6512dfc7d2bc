package analytics

// rolling: a metric over the `window` days of the daily series ending at
// each day, null until a full window exists; one point per day at the
// daily_pnl timestamps, one series per group. The reference recomputes every
// window from scratch in Go from the definitions (trading-metrics.md and the
// issue): Sharpe mean/std(ddof=1)·√A of r − rf_d, Sortino with the downside
// over all days, volatility std·√A, return Π(1+r) − 1, P&L ΣD, win rate and
// profit factor over the trades closed on the window's days.

import (
	"fmt"
	"math"
	"testing"
	"time"

	"github.com/algotrading/pnl-datasource/tests/harness"
)

// refRolling: the daily series' days and the metric per day (NaN before the
// first full window).
func refRolling(q refQuery, before, in []trade, metric string, w int) ([]time.Time, []float64) {
	days, pnl := refDaily(q, in)
	perDay := map[time.Time][]float64{}
	for _, t := range in {
		d := localDay(t.closed, q.tz)
		perDay[d] = append(perDay[d], t.pnl)
	}
	r := make([]float64, len(pnl))
	e := q.capital + sumPnl(before)
	for i, d := range pnl {
		r[i] = d / e
		e += d
	}
	rfd := math.Pow(1+q.rf, 1/q.annual) - 1
	out := make([]float64, len(days))
	for i := range days {
		out[i] = math.NaN()
		if i+1 < w {
			continue
		}
		win := r[i+1-w : i+1]
		switch metric {
		case "sharpe", "sortino":
			ex := make([]float64, w)
			dsq := 0.0
			for j, v := range win {
				ex[j] = v - rfd
				if ex[j] < 0 {
					dsq += ex[j] * ex[j]
				}
			}
			m, sd := meanStd(ex)
			if metric == "sharpe" && sd > 0 {
				out[i] = m / sd * math.Sqrt(q.annual)
			}
			if metric == "sortino" && dsq > 0 {
				out[i] = m * q.annual / (math.Sqrt(dsq/float64(w)) * math.Sqrt(q.annual))
			}
		case "volatility":
			_, sd := meanStd(win)
			out[i] = sd * math.Sqrt(q.annual)
		case "return":
			prod := 1.0
			for _, v := range win {
				prod *= 1 + v
			}
			out[i] = prod - 1
		case "pnl":
			s := 0.0
			for _, v := range pnl[i+1-w : i+1] {
				s += v
			}
			out[i] = s
		case "win_rate", "profit_factor":
			n, wins, losses, sw, sl := 0, 0, 0, 0.0, 0.0
			for _, d := range days[i+1-w : i+1] {
				for _, p := range perDay[d] {
					n++
					if p > 0 {
						wins++
						sw += p
					} else if p < 0 {
						losses++
						sl += p
					}
				}
			}
			if metric == "win_rate" && n > 0 {
				out[i] = float64(wins) / float64(n)
			}
			if metric == "profit_factor" && losses > 0 {
				out[i] = sw / math.Abs(sl)
			}
		}
	}
	return days, out
}

func compareRolling(f labelledField, days []time.Time, want []float64, w int) error {
	if len(f.values) != len(days) {
		return fmt.Errorf("%d points, want one per day of the series (%d)", len(f.values), len(days))
	}
	defined := 0
	for i := range days {
		if !f.times[i].Equal(days[i]) {
			return fmt.Errorf("point %d at %v, want the local day start %v", i, f.times[i], days[i])
		}
		if !close(f.values[i], want[i]) {
			return fmt.Errorf("day %d (%s) = %v, reference %v", i, days[i].Format("2006-01-02"), f.values[i], want[i])
		}
		if !math.IsNaN(want[i]) {
			defined++
		}
	}
	if len(days) >= w && defined == 0 && w < 1000 {
		return fmt.Errorf("no defined value in %d days with window %d: the reference checks nothing", len(days), w)
	}
	return nil
}

var rollingMetrics = []string{"sharpe", "sortino", "volatility", "return", "pnl", "win_rate", "profit_factor"}

func TestRollingMatchesReference(t *testing.T) {
	all := allTrades(t)
	p := harness.Launch(t, harness.Options{})
	ny, _ := time.LoadLocation("America/New_York")
	cases := []struct {
		name   string
		window int
		body   map[string]any
		mod    func(*refQuery)
	}{
		{"w30", 30, nil, nil},
		{"w7-ny-weekdays-rf", 7, map[string]any{"timezone": "America/New_York", "tradingDays": "weekdays",
			"riskFreeRate": 0.03, "annualization": 365},
			func(q *refQuery) { q.tz, q.weekdays, q.rf, q.annual = ny, true, 0.03, 365 }},
		{"w2", 2, nil, nil},
		{"longer-than-range", 3650, nil, nil},
	}
	for _, c := range cases {
		for _, metric := range rollingMetrics {
			t.Run(c.name+"/"+metric, func(t *testing.T) {
				q := refQ()
				if c.mod != nil {
					c.mod(&q)
				}
				body := map[string]any{"metric": metric, "window": c.window}
				for k, v := range c.body {
					body[k] = v
				}
				dbody := map[string]any{}
				for k, v := range c.body {
					dbody[k] = v
				}
				resp := p.Query(t, pctx(nil), query("R", "rolling", body, 1000), query("D", "daily_pnl", dbody, 1000))
				frames := mustOK(t, resp["R"])
				if len(frames) != 1 {
					t.Fatalf("%d frames, want 1", len(frames))
				}
				ts, vs := series(t, frames[0])
				if name := frames[0].Fields[1].Name; name != "rolling_"+metric {
					t.Errorf("value field %q, want rolling_%s", name, metric)
				}
				// the same timestamps as daily_pnl
				dts, _ := series(t, mustOK(t, resp["D"])[0])
				if len(dts) != len(ts) {
					t.Fatalf("%d points, daily_pnl has %d", len(ts), len(dts))
				}
				for i := range ts {
					if !ts[i].Equal(dts[i]) {
						t.Fatalf("point %d at %v, daily_pnl at %v", i, ts[i], dts[i])
					}
				}
				before, in := split(q, all)
				days, want := refRolling(q, before[""], in[""], metric, c.window)
				if err := compareRolling(labelledField{times: ts, values: vs}, days, want, c.window); err != nil {
					t.Fatal(err)
				}
				if c.window > len(days) {
					for i, v := range vs {
						if !math.IsNaN(v) {
							t.Fatalf("window %d longer than the %d days: point %d = %v, want null", c.window, len(days), i, v)
						}
					}
				}
			})
		}
	}
}

func TestRollingPerGroup(t *testing.T) {
	const table = "trades_rolling"
	rows := groupTrades(13)
	for i := range rows {
		if i%9 == 4 {
			rows[i].pnl = 0 // zero-P&L trades: in win rate's denominator, neither win nor loss
		}
	}
	makeTradeTable(t, table, rows, tableOpts{})
	all := loadTrades(t, pg, table)
	p := harness.Launch(t, harness.Options{})
	ctx := tableCtx(table)
	for _, by := range []string{"strategy", "symbol"} {
		q := refQ()
		q.group = by
		before, in := split(q, all)
		groups := sortedKeys(in)
		n := 0
		for _, metric := range rollingMetrics {
			resp := p.Query(t, ctx, query("R", "rolling", map[string]any{"metric": metric, "window": 10, "groupBy": by}, 1000))
			frames := mustOK(t, resp["R"])
			if len(frames) != len(groups) {
				t.Errorf("%s by %s: %d frames, want one per group (%d)", metric, by, len(frames), len(groups))
			}
			n += checkPerGroup(t, "rolling "+metric+" by "+by, frames, by, "rolling_"+metric, groups,
				func(g string, f labelledField) error {
					days, want := refRolling(q, before[g], in[g], metric, 10)
					return compareRolling(f, days, want, 10)
				})
		}
		if n != len(groups)*len(rollingMetrics) {
			t.Errorf("by %s: %d of %d labelled series matched their group's reference", by, n, len(groups)*len(rollingMetrics))
		}
	}
}
