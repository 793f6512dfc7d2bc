package analytics

// groupBy: every query kind that groups must put each group's own numbers
// under that group's label (issue 9: with strategies alpha, beta, gamma the
// stats frame gave alpha's numbers the label `gamma`). The older per-group
// tests matched values to groups through the labels they were checking, so
// a swapped label went unnoticed; here every labelled field is compared
// with a reference computed from the rows of that group alone, on data
// where the groups' numbers are far apart.

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/data"

	"github.com/algotrading/pnl-datasource/tests/harness"
)

// labelledField is one group's value field in a grouped answer.
type labelledField struct {
	group  string
	frame  *data.Frame
	field  *data.Field
	times  []time.Time // nil when the frame has no time field
	values []float64   // NaN = null
}

// groupedFields collects the fields named name from a grouped answer and
// checks how they are labelled: each carries exactly one label, groupKey=g;
// its displayNameFromDS (when set) names g and no other group; a frame
// named after a group is named after g; no two fields share a label; and
// the labels are exactly the groups of the data.
func groupedFields(t *testing.T, what string, frames data.Frames, groupKey, name string, groups []string) map[string]labelledField {
	t.Helper()
	out := map[string]labelledField{}
	isGroup := map[string]bool{}
	for _, g := range groups {
		isGroup[g] = true
	}
	for _, f := range frames {
		var tf *data.Field
		for _, fl := range f.Fields {
			if fl.Type() == data.FieldTypeTime || fl.Type() == data.FieldTypeNullableTime {
				tf = fl
			}
		}
		for _, fl := range f.Fields {
			if fl.Name != name {
				continue
			}
			if len(fl.Labels) != 1 || fl.Labels[groupKey] == "" {
				t.Errorf("%s: field %q of frame %q has labels %v; want exactly one, %s=<group>", what, fl.Name, f.Name, fl.Labels, groupKey)
				continue
			}
			g := fl.Labels[groupKey]
			if prev, dup := out[g]; dup {
				t.Errorf("%s: label %s=%q on two fields (frames %q and %q): one group's numbers carry another group's label",
					what, groupKey, g, prev.frame.Name, f.Name)
				continue
			}
			if fl.Config != nil && fl.Config.DisplayNameFromDS != "" {
				dn := fl.Config.DisplayNameFromDS
				if !strings.Contains(dn, g) {
					t.Errorf("%s: field labelled %s=%q has displayNameFromDS %q, which does not name its group", what, groupKey, g, dn)
				}
				for _, other := range groups {
					if other != g && !strings.Contains(g, other) && strings.Contains(dn, other) {
						t.Errorf("%s: field labelled %s=%q has displayNameFromDS %q, which names group %q", what, groupKey, g, dn, other)
					}
				}
			}
			if isGroup[f.Name] && f.Name != g {
				t.Errorf("%s: frame %q holds the field labelled %s=%q", what, f.Name, groupKey, g)
			}
			lf := labelledField{group: g, frame: f, field: fl, values: make([]float64, fl.Len())}
			if tf != nil {
				lf.times = make([]time.Time, tf.Len())
				for i := range lf.times {
					v, _ := tf.ConcreteAt(i)
					lf.times[i] = v.(time.Time)
				}
			}
			for i := range lf.values {
				lf.values[i] = math.NaN()
				if v, ok := fl.ConcreteAt(i); ok {
					lf.values[i] = v.(float64)
				}
			}
			out[g] = lf
		}
	}
	got := sortedKeys(out)
	if strings.Join(got, ",") != strings.Join(groups, ",") {
		t.Errorf("%s: field %q labelled %s = %q; the data's groups are %q", what, name, groupKey, got, groups)
	}
	return out
}

// checkPerGroup is the reusable per-group comparison: the grouped answer
// must label field `name` with exactly the data's groups (groupedFields),
// and ref(g, field) — which computes group g's reference from g's rows
// only — must accept the field labelled g. Returns how many groups matched.
// A new grouped kind plugs in its own reference, e.g. a per-bucket series:
//
//	before, in := split(q, all) // q.group = "strategy"
//	checkPerGroup(t, "trade_count by strategy", frames, "strategy", "trade_count", sortedKeys(in),
//		func(g string, f labelledField) error { return compareBuckets(f, refCountsPerBucket(in[g])) })
func checkPerGroup(t *testing.T, what string, frames data.Frames, groupKey, name string, groups []string,
	ref func(g string, f labelledField) error) int {
	t.Helper()
	byLabel := groupedFields(t, what, frames, groupKey, name, groups)
	ok := 0
	for _, g := range groups {
		f, found := byLabel[g]
		if !found {
			continue // reported by groupedFields
		}
		if err := ref(g, f); err != nil {
			t.Errorf("%s: field %q labelled %s=%q: %v", what, name, groupKey, g, err)
			continue
		}
		ok++
	}
	return ok
}

// groupCase is one query kind of a per-group check: the field its frames
// carry and the reference check for group g.
type groupCase struct {
	kind, field string
	ref         func(g string) func(labelledField) error
}

// groupCases are the per-group checks of the given kinds, from each group's
// starting equity e0, its trades in the range and its reference stats.
// slippage wants maxDataPoints 1 (one bucket over the range = the group's
// average), trade_count maxDataPoints 50 over the interval 1000.
func groupCases(q refQuery, e0 map[string]float64, in map[string][]trade, stats map[string]refStats,
	kinds ...string) []groupCase {
	all := []groupCase{
		{"equity", "equity", func(g string) func(labelledField) error {
			return refCurveCheck(e0[g], in[g], func(e float64) float64 { return e })
		}},
		{"pnl", "pnl", func(g string) func(labelledField) error {
			return refCurveCheck(e0[g], in[g], func(e float64) float64 { return e - e0[g] })
		}},
		{"returns", "returns", func(g string) func(labelledField) error {
			return refCurveCheck(e0[g], in[g], func(e float64) float64 { return e/e0[g] - 1 })
		}},
		{"drawdown", "drawdown", func(g string) func(labelledField) error { return refDrawdownCheck(e0[g], in[g]) }},
		{"daily_pnl", "daily_pnl", func(g string) func(labelledField) error { return refDailyCheck(q, in[g], true) }},
		{"pnl_distribution", "daily_pnl", func(g string) func(labelledField) error { return refDailyCheck(q, in[g], false) }},
		{"slippage", "slippage_bps", func(g string) func(labelledField) error {
			return refScalarCheck(stats[g]["avg_slippage_bps"])
		}},
		{"trade_count", "trade_count", func(g string) func(labelledField) error {
			return func(f labelledField) error {
				times, counts := refTradeCounts(q, in[g], 1000, 50)
				return compareCounts(f, times, counts)
			}
		}},
	}
	var out []groupCase
	for _, k := range kinds {
		found := false
		for _, c := range all {
			if c.kind == k {
				out, found = append(out, c), true
			}
		}
		if !found {
			panic("groupCases: no case for kind " + k)
		}
	}
	return out
}

// Per-group reference checks, each a func(g, field) error built from the
// group's rows.

func refCurveCheck(e0 float64, in []trade, val func(e float64) float64) func(labelledField) error {
	return func(f labelledField) error {
		if len(f.values) != len(in)+2 {
			return fmt.Errorf("%d points, want one per trade of the group (%d) + range start and end", len(f.values), len(in))
		}
		for i := range f.values {
			if want := val(equityAt(e0, in, f.times[i])); !close(f.values[i], want) {
				return fmt.Errorf("point %d at %v = %v, the group's reference %v", i, f.times[i], f.values[i], want)
			}
		}
		return nil
	}
}

// refDrawdownCheck: point 0 is the range start (0), every other point sits
// at the time of one of the group's trades with that trade's drawdown, and
// the deepest point is the group's max drawdown (any down-sampling keeps
// troughs, so this holds whether or not the series was down-sampled).
func refDrawdownCheck(e0 float64, in []trade) func(labelledField) error {
	dds := refDrawdowns(e0, in)
	byTime := map[int64]float64{}
	minDD := 0.0
	for i, tr := range in {
		byTime[tr.closed.UnixNano()] = dds[i]
		minDD = math.Min(minDD, dds[i])
	}
	return func(f labelledField) error {
		if len(f.values) < 2 || !f.times[0].Equal(from) || f.values[0] != 0 {
			return fmt.Errorf("%d points, first %v; want the range start with 0 then the trades", len(f.values), f.values)
		}
		deepest := 0.0
		for i := 1; i < len(f.values); i++ {
			want, ok := byTime[f.times[i].UnixNano()]
			if !ok {
				return fmt.Errorf("point %d at %v is not the time of one of the group's trades", i, f.times[i])
			}
			if !close(f.values[i], want) {
				return fmt.Errorf("point %d at %v = %v, the group's reference %v", i, f.times[i], f.values[i], want)
			}
			deepest = math.Min(deepest, f.values[i])
		}
		if !close(deepest, minDD) {
			return fmt.Errorf("deepest point %v, the group's max drawdown %v", deepest, minDD)
		}
		return nil
	}
}

func refDailyCheck(q refQuery, in []trade, withTimes bool) func(labelledField) error {
	days, want := refDaily(q, in)
	return func(f labelledField) error {
		if len(f.values) != len(days) {
			return fmt.Errorf("%d days, the group's reference %d", len(f.values), len(days))
		}
		for i := range days {
			if withTimes && !f.times[i].Equal(days[i]) {
				return fmt.Errorf("day %d at %v, reference %v", i, f.times[i], days[i])
			}
			if !close(f.values[i], want[i]) {
				return fmt.Errorf("day %d (%s) = %v, the group's reference %v", i, days[i].Format("2006-01-02"), f.values[i], want[i])
			}
		}
		return nil
	}
}

func refScalarCheck(want float64) func(labelledField) error {
	return func(f labelledField) error {
		if len(f.values) != 1 || !close(f.values[0], want) {
			return fmt.Errorf("values %v, the group's reference %v", f.values, want)
		}
		return nil
	}
}

// groupTrades: three strategies, four symbols, three accounts, each group
// with its own trade count, P&L drift and slippage, so no two groups share
// a number a swapped label could hide behind. Trades start before the range
// (so each group has its own E(from)) and end after it.
func groupTrades(seed uint64) []fixtureRow {
	r := rand.New(rand.NewPCG(seed, 0x9e3779b97f4a7c15))
	type prof struct {
		name       string
		w          float64
		mu, sd     float64
		slip, base float64
	}
	strat := []prof{{"alpha", 0.5, 45, 300, 2, 0}, {"beta", 0.3, -30, 200, 9, 0}, {"gamma", 0.2, 15, 700, -4, 0}}
	sym := []prof{{"BTCUSDT", 0.4, 10, 0, 1, 60000}, {"ETHUSDT", 0.3, -5, 0, 3, 3000}, {"SOLUSDT", 0.2, 0, 0, 6, 150}, {"XRPUSDT", 0.1, -20, 0, -2, 0.6}}
	acct := []prof{{"north", 0.55, 5, 0, 0, 0}, {"south", 0.3, -8, 0, 0, 0}, {"east", 0.15, 0, 0, 0, 0}}
	names := func(p []prof) ([]string, []float64) {
		var n []string
		var w []float64
		for _, x := range p {
			n, w = append(n, x.name), append(w, x.w)
		}
		return n, w
	}
	sn, sw := names(strat)
	yn, yw := names(sym)
	an, aw := names(acct)
	times := distinctTimes(r, 1500, from.Add(-20*24*time.Hour), to.Add(10*24*time.Hour))
	rows := make([]fixtureRow, len(times))
	for i, tm := range times {
		s, y, a := strat[weighted(r, sn, sw)], sym[weighted(r, yn, yw)], acct[weighted(r, an, aw)]
		row := fixtureRow{trade: trade{id: int64(i + 1), closed: tm, strategy: s.name, symbol: y.name, account: a.name}}
		row.opened = tm.Add(-time.Duration(60+r.IntN(7200)) * time.Second)
		withPrices(r, &row, y.base, s.slip+y.slip, 0.1)
		row.pnl = math.Round((s.mu+y.mu+a.mu+s.sd*r.NormFloat64())*100) / 100
		rows[i] = row
	}
	return rows
}

// distinctBy fails the test when two groups share the value key(g): the
// fixture must separate the groups, or a swapped label could pass.
func distinctBy(t *testing.T, what string, groups []string, key func(g string) float64) {
	t.Helper()
	vals := map[string]float64{}
	for _, g := range groups {
		vals[g] = key(g)
	}
	for i, a := range groups {
		for _, b := range groups[i+1:] {
			if close(vals[a], vals[b]) {
				t.Fatalf("fixture: groups %q and %q have the same %s (%v): a label swap could pass", a, b, what, vals[a])
			}
		}
	}
}

// TestGroupedQueriesLabelEachGroupsOwnNumbers: for every query kind that
// groups and every groupBy, each label maps to exactly its group's
// reference numbers.
func TestGroupedQueriesLabelEachGroupsOwnNumbers(t *testing.T) {
	const table = "trades_groups"
	makeTradeTable(t, table, groupTrades(9), tableOpts{})
	all := loadTrades(t, pg, table)
	p := harness.Launch(t, harness.Options{})
	ctx := tableCtx(table)
	today := time.Now()
	for _, by := range []string{"strategy", "symbol", "account"} {
		t.Run(by, func(t *testing.T) {
			q := refQ()
			q.group = by
			before, in := split(q, all)
			groups := sortedKeys(in)
			if len(groups) < 3 || len(sortedKeys(before)) != len(groups) {
				t.Fatalf("fixture: groups in range %v, before the range %v", groups, sortedKeys(before))
			}
			e0 := map[string]float64{}
			stats := map[string]refStats{}
			for _, g := range groups {
				e0[g] = q.capital + sumPnl(before[g])
				stats[g] = refComputeStats(q, before[g], in[g], today)
			}
			for _, k := range []string{"trade_count", "total_pnl", "equity", "max_drawdown", "avg_slippage_bps", "worst_day"} {
				distinctBy(t, k, groups, func(g string) float64 { return stats[g][k] })
			}
			body := map[string]any{"groupBy": by}
			resp := p.Query(t, ctx,
				query("equity", "equity", body, 100000), query("pnl", "pnl", body, 100000),
				query("returns", "returns", body, 100000), query("drawdown", "drawdown", body, 100000),
				query("daily_pnl", "daily_pnl", body, 100000), query("pnl_distribution", "pnl_distribution", body, 100000),
				query("slippage", "slippage", body, 1), query("stats", "stats", body, 100))
			n := 0
			for _, c := range groupCases(q, e0, in, stats,
				"equity", "pnl", "returns", "drawdown", "daily_pnl", "pnl_distribution", "slippage") {
				frames := mustOK(t, resp[c.kind])
				if len(frames) != len(groups) {
					t.Errorf("%s by %s: %d frames, want one per group (%d)", c.kind, by, len(frames), len(groups))
				}
				n += checkPerGroup(t, c.kind+" by "+by, frames, by, c.field, groups,
					func(g string, f labelledField) error { return c.ref(g)(f) })
			}
			// stats: one numeric-wide frame; every metric field of every group
			sf := mustOK(t, resp["stats"])
			if len(sf) != 1 || sf[0].Meta == nil || sf[0].Meta.Type != data.FrameTypeNumericWide {
				t.Fatalf("stats by %s: want one numeric-wide frame, got %d", by, len(sf))
			}
			metrics := sortedKeys(stats[groups[0]])
			for _, m := range metrics {
				n += checkPerGroup(t, "stats "+m+" by "+by, sf, by, m, groups,
					func(g string, f labelledField) error { return refScalarCheck(stats[g][m])(f) })
			}
			if want := len(groups) * (7 + len(metrics)); n != want {
				t.Errorf("by %s: %d of %d labelled fields carry their own group's numbers", by, n, want)
			}
			t.Logf("by %s: groups %v, %d labelled fields checked against per-group references", by, groups, n)
		})
	}
}
