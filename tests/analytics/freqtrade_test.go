package analytics

// Issue 12: the data source on freqtrade's own database with
// `"preset": "freqtrade"`. The table is sql/fixtures/freqtrade.sql (a
// separate database "freqtrade", freqtrade's column names and types, open
// trades in it, no index on close_date). The reference reads those rows
// through its own SQL mapping of the contract — closed trades only (close_date
// NOT NULL), side from is_short, fees = fee_open_cost + fee_close_cost with a
// NULL counting 0, P&L = close_profit_abs — and recomputes every number with
// the Go reference of reference_test.go and tradestats_ref_test.go; the
// plugin's C code is never consulted. Every query kind of the registry is
// checked, ungrouped and grouped by each dimension freqtrade has, with the
// NULL values of strategy, enter_tag and exit_reason as the group "(none)"
// (and as a filter value); account is absent, so grouping, filtering or
// listing by it is a 400 naming the missing mapping.

import (
	"encoding/json"
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/data"
	"github.com/grafana/grafana-plugin-sdk-go/genproto/pluginv2"

	"github.com/algotrading/pnl-datasource/tests/harness"
	"github.com/algotrading/pnl-datasource/tests/pgfix"
)

const (
	ftDB     = "freqtrade"
	ftClosed = 3000
	ftOpen   = 24
)

var (
	ftOnce   sync.Once
	ftErr    error
	ftTrades []trade
)

// ftAll loads the fixture once (into its own database) and reads it back
// through the reference's mapping.
func ftAll(t *testing.T) []trade {
	t.Helper()
	ftOnce.Do(func() {
		if ftErr = pg.LoadFreqtrade(harness.RepoRoot(), ftDB, ftClosed, ftOpen, 12); ftErr != nil {
			return
		}
		ftTrades, ftErr = ftLoadTrades()
	})
	if ftErr != nil {
		t.Fatal(ftErr)
	}
	return ftTrades
}

// ftLoadTrades is the contract's freqtrade mapping, written as SQL here.
func ftLoadTrades() ([]trade, error) {
	out, err := pg.Psql(ftDB, `SELECT id, (extract(epoch FROM close_date)*1000000)::int8, coalesce(strategy, ''), pair,
	  CASE WHEN is_short THEN 'short' ELSE 'long' END, amount, open_rate, close_rate,
	  coalesce(open_rate_requested::text, 'NaN'), coalesce(close_rate_requested::text, 'NaN'), close_profit_abs,
	  (extract(epoch FROM open_date)*1000000)::int8, coalesce(fee_open_cost, 0) + coalesce(fee_close_cost, 0),
	  exchange, coalesce(enter_tag, ''), coalesce(exit_reason, '')
	  FROM trades WHERE close_date IS NOT NULL ORDER BY close_date, id`)
	if err != nil {
		return nil, err
	}
	var ts []trade
	for _, line := range strings.Split(out, "\n") {
		if line == "" {
			continue
		}
		f := strings.Split(line, "\t")
		num := func(i int) float64 { v, _ := strconv.ParseFloat(f[i], 64); return v }
		us, _ := strconv.ParseInt(f[1], 10, 64)
		ous, _ := strconv.ParseInt(f[11], 10, 64)
		id, _ := strconv.ParseInt(f[0], 10, 64)
		ts = append(ts, trade{id: id, closed: time.UnixMicro(us).UTC(), strategy: f[2], symbol: f[3], side: f[4],
			qty: num(5), entry: num(6), exit: num(7), expEntry: num(8), expExit: num(9), pnl: num(10),
			openedAt: time.UnixMicro(ous).UTC(), fees: num(12), exchange: f[13], entryTag: f[14], exitReason: f[15]})
	}
	if len(ts) != ftClosed {
		return nil, fmt.Errorf("fixture: %d closed trades, want %d", len(ts), ftClosed)
	}
	if n, err := pg.Psql(ftDB, "SELECT count(*) FROM trades WHERE close_date IS NULL AND is_open"); err != nil || n != strconv.Itoa(ftOpen) {
		return nil, fmt.Errorf("fixture: %q open trades (%v), want %d", n, err, ftOpen)
	}
	// "" stands for NULL in the reference: the fixture has no empty strings
	if n, _ := pg.Psql(ftDB, "SELECT count(*) FROM trades WHERE '' IN (strategy, enter_tag, exit_reason, pair, exchange)"); n != "0" {
		return nil, fmt.Errorf("fixture: %s empty labels", n)
	}
	return ts, nil
}

// ftDim: a trade's value of a dimension under the freqtrade mapping; ok is
// false for NULL (strategy, enter_tag, exit_reason may be NULL; account is
// not mapped at all).
func ftDim(tr trade, dim string) (string, bool) {
	switch dim {
	case "strategy":
		return tr.strategy, tr.strategy != ""
	case "symbol":
		return tr.symbol, true
	case "side":
		return tr.side, true
	case "exchange":
		return tr.exchange, true
	case "entry_tag":
		return tr.entryTag, tr.entryTag != ""
	case "exit_reason":
		return tr.exitReason, tr.exitReason != ""
	}
	panic("no such dimension under the freqtrade mapping: " + dim)
}

// ftLabel: the value as a label and as a filter sees it — NULL is "(none)".
func ftLabel(tr trade, dim string) string {
	if v, ok := ftDim(tr, dim); ok {
		return v
	}
	return "(none)"
}

// ftSplit is split() under the freqtrade mapping and the contract's "(none)":
// q.filters lists per dimension (a list holding "(none)" keeps the NULLs),
// q.group groups (NULL → "(none)").
func ftSplit(q refQuery, all []trade) (before, in map[string][]trade) {
	before, in = map[string][]trade{}, map[string][]trade{}
	for _, tr := range all {
		keep := true
		for dim, list := range q.filters {
			if len(list) == 0 {
				continue
			}
			v := ftLabel(tr, dim)
			found := false
			for _, s := range list {
				found = found || s == v
			}
			keep = keep && found
		}
		if !keep {
			continue
		}
		g := ""
		if q.group != "" {
			g = ftLabel(tr, q.group)
		}
		if !tr.closed.After(q.from) {
			before[g] = append(before[g], tr)
		} else if !tr.closed.After(q.to) {
			in[g] = append(in[g], tr)
		}
	}
	return
}

func ftCtx(extra map[string]any) *pluginv2.PluginContext {
	js := map[string]any{"database": ftDB, "preset": "freqtrade"}
	uid := "freqtrade-ds"
	for k, v := range extra {
		js[k] = v
		uid += "-" + k
	}
	return harness.PluginContext(uid, pg.JSONData(js), pgfix.Secure(), 1)
}

// ftTradeSlippage: one trade's notional-weighted slippage over its legs
// with a requested price (analytics.md "Slippage"); NaN without one.
func ftTradeSlippage(tr trade) float64 {
	num, den := 0.0, 0.0
	buyEntry := tr.side == "long"
	for _, l := range []struct {
		buying         bool
		fill, expected float64
	}{{buyEntry, tr.entry, tr.expEntry}, {!buyEntry, tr.exit, tr.expExit}} {
		if math.IsNaN(l.expected) || l.expected <= 0 {
			continue
		}
		bps := (l.fill - l.expected) / l.expected * 1e4
		if !l.buying {
			bps = -bps
		}
		w := math.Abs(tr.qty) * l.expected
		num += bps * w
		den += w
	}
	if den == 0 {
		return math.NaN()
	}
	return num / den
}

// ftCheckNoNotice: freqtrade maps every column a number needs (only account
// is absent, and no number needs it).
func ftCheckNoNotice(t *testing.T, what string, frames data.Frames) {
	t.Helper()
	for _, f := range frames {
		if f.Meta != nil && len(f.Meta.Notices) > 0 {
			t.Errorf("%s: unexpected notice %+v (the freqtrade preset maps every column a number needs)", what, f.Meta.Notices)
		}
	}
}

// ftAllKinds is one request with every query kind of the registry.
func ftAllKinds(body map[string]any) []*pluginv2.DataQuery {
	with := func(extra map[string]any) map[string]any {
		m := map[string]any{}
		for k, v := range body {
			m[k] = v
		}
		for k, v := range extra {
			m[k] = v
		}
		return m
	}
	qs := []*pluginv2.DataQuery{
		query("equity", "equity", body, 100000), query("pnl", "pnl", body, 100000),
		query("returns", "returns", body, 100000), query("drawdown", "drawdown", body, 100000),
		query("daily_pnl", "daily_pnl", body, 1000), query("pnl_distribution", "pnl_distribution", body, 1000),
		query("slippage", "slippage", body, 1), query("stats", "stats", body, 100),
		query("trade_count", "trade_count", body, 50),
		query("period_returns", "period_returns", with(map[string]any{"period": "week"}), 1000),
		query("rolling", "rolling", with(map[string]any{"metric": "sharpe", "window": 10}), 1000),
		query("rolling_wr", "rolling", with(map[string]any{"metric": "win_rate", "window": 7}), 1000),
		query("drawdown_episodes", "drawdown_episodes", with(map[string]any{"limit": 5}), 100),
	}
	if _, grouped := body["groupBy"]; !grouped {
		qs = append(qs, query("trades", "trades", with(map[string]any{"limit": 200}), 100))
	} else {
		qs = append(qs, query("breakdown", "breakdown", with(map[string]any{"metrics": allStatFields()}), 100))
	}
	return qs
}

// allStatFields: every stats field the reference computes, sorted.
func allStatFields() []string {
	q := refQ()
	return sortedKeys(refAllStats(q, nil, nil, time.Now()))
}

// TestFreqtradePresetEveryKind: every kind, ungrouped, against the reference.
func TestFreqtradePresetEveryKind(t *testing.T) {
	all := ftAll(t)
	p := harness.Launch(t, harness.Options{})
	q := refQ()
	before, in := ftSplit(q, all)
	e0 := q.capital + sumPnl(before[""])
	rows := in[""]
	if len(rows) < 500 || len(before[""]) < 500 {
		t.Fatalf("fixture: %d trades before the range, %d in it", len(before[""]), len(rows))
	}
	resp := p.Query(t, ftCtx(nil), ftAllKinds(map[string]any{})...)
	one := func(kind string) labelledField {
		t.Helper()
		frames := mustOK(t, resp[kind])
		if len(frames) != 1 {
			t.Fatalf("%s: %d frames, want 1", kind, len(frames))
		}
		ftCheckNoNotice(t, kind, frames)
		if frames[0].Meta == nil || frames[0].Meta.ExecutedQueryString == "" {
			t.Errorf("%s: no executedQueryString", kind)
		}
		return labelledFromSeries(t, frames[0])
	}
	for _, c := range []struct {
		kind  string
		check func(labelledField) error
	}{
		{"equity", refCurveCheck(e0, rows, func(e float64) float64 { return e })},
		{"pnl", refCurveCheck(e0, rows, func(e float64) float64 { return e - e0 })},
		{"returns", refCurveCheck(e0, rows, func(e float64) float64 { return e/e0 - 1 })},
		{"drawdown", refDrawdownCheck(e0, rows)},
		{"daily_pnl", refDailyCheck(q, rows, true)},
		{"slippage", refScalarCheck(refComputeStats(q, before[""], rows, time.Now())["avg_slippage_bps"])},
		{"trade_count", func(f labelledField) error {
			times, counts := refTradeCounts(q, rows, 1000, 50)
			return compareCounts(f, times, counts)
		}},
		{"rolling", func(f labelledField) error {
			days, want := refRolling(q, before[""], rows, "sharpe", 10)
			return compareRolling(f, days, want, 10)
		}},
		{"rolling_wr", func(f labelledField) error {
			days, want := refRolling(q, before[""], rows, "win_rate", 7)
			return compareRolling(f, days, want, 7)
		}},
	} {
		if err := c.check(one(c.kind)); err != nil {
			t.Errorf("%s: %v", c.kind, err)
		}
	}
	// pnl_distribution: numeric-long, one value per day
	dist := mustOK(t, resp["pnl_distribution"])[0]
	days, dp := refDaily(q, rows)
	if dist.Fields[0].Len() != len(days) {
		t.Errorf("pnl_distribution: %d values, want %d days", dist.Fields[0].Len(), len(days))
	} else {
		for i := range days {
			if v, _ := dist.Fields[0].ConcreteAt(i); !close(v.(float64), dp[i]) {
				t.Errorf("pnl_distribution value %d: %v, reference %v", i, v, dp[i])
				break
			}
		}
	}

	// stats: every field
	sf := mustOK(t, resp["stats"])
	ftCheckNoNotice(t, "stats", sf)
	got := statsFrame(t, sf[0])[""]
	want := refAllStats(q, before[""], rows, time.Now())
	if len(got) != len(want) {
		t.Errorf("stats: %d fields, reference %d", len(got), len(want))
	}
	for _, k := range sortedKeys(want) {
		if v, ok := got[k]; !ok || !close(v, want[k]) {
			t.Errorf("stats %s = %v (present %v), reference %v", k, v, ok, want[k])
		}
	}
	for _, k := range []string{"total_fees", "avg_slippage_bps", "avg_holding_time", "exposure", "long_trades", "short_trades", "volume"} {
		if math.IsNaN(want[k]) || want[k] == 0 {
			t.Errorf("fixture: reference %s = %v; the test would not see a wrong mapping", k, want[k])
		}
	}

	// period_returns (weeks)
	pf := mustOK(t, resp["period_returns"])
	if times, cols, err := periodFrame(pf[0]); err != nil {
		t.Errorf("period_returns: %v", err)
	} else if err := comparePeriods(times, cols, refPeriods(q, before[""], rows, "week")); err != nil {
		t.Errorf("period_returns: %v", err)
	}

	// drawdown_episodes
	tf := readTable(t, mustOK(t, resp["drawdown_episodes"])[0])
	eps := refEpisodes(e0, q.from, q.to, rows)
	idx := make([]int, tf.rows)
	for i := range idx {
		idx[i] = i
	}
	if len(eps) < 5 {
		t.Errorf("fixture: %d drawdown episodes", len(eps))
	}
	if err := compareEpisodes(tf, idx, eps, 5); err != nil {
		t.Errorf("drawdown_episodes: %v", err)
	}

	// trades: the 200 newest closed trades, every column, newest first
	ftCheckTradesTable(t, mustOK(t, resp["trades"])[0], rows, 200)
	t.Logf("%d trades before the range, %d in it; E(from) %.2f; every kind checked", len(before[""]), len(rows), e0)
}

func ftCheckTradesTable(t *testing.T, f *data.Frame, rows []trade, limit int) {
	t.Helper()
	tf := readTable(t, f)
	if strings.Join(tf.names, ",") != "closed_at,opened_at,trade_id,account,exchange,strategy,symbol,side,qty,entry_price,exit_price,fees,realized_pnl,slippage_bps" {
		t.Fatalf("trades columns %v", tf.names)
	}
	if tf.rows != limit {
		t.Fatalf("trades: %d rows, want %d", tf.rows, limit)
	}
	if f.Meta == nil || len(f.Meta.Notices) == 0 || f.Meta.Notices[0].Severity != data.NoticeSeverityWarning {
		t.Errorf("trades cut at %d rows: want a warning notice, got %+v", limit, f.Meta)
	}
	acct := tf.field["account"]
	for i := 0; i < tf.rows; i++ {
		if v, ok := acct.ConcreteAt(i); ok && v != "" {
			t.Fatalf("row %d: account %q; freqtrade has none", i, v)
		}
	}
	for i := 0; i < limit; i++ {
		r := rows[len(rows)-1-i]
		sl := ftTradeSlippage(r)
		for _, c := range []struct {
			name      string
			got, want any
		}{
			{"closed_at", tf.tim["closed_at"][i], r.closed}, {"opened_at", tf.tim["opened_at"][i], r.openedAt},
			{"trade_id", tf.str["trade_id"][i], strconv.FormatInt(r.id, 10)},
			{"exchange", tf.str["exchange"][i], r.exchange}, {"strategy", tf.str["strategy"][i], r.strategy},
			{"symbol", tf.str["symbol"][i], r.symbol}, {"side", tf.str["side"][i], r.side},
		} {
			if gt, ok := c.got.(time.Time); ok {
				if !gt.Equal(c.want.(time.Time)) {
					t.Fatalf("row %d (id %d) %s = %v, reference %v", i, r.id, c.name, gt, c.want)
				}
			} else if c.got != c.want {
				t.Fatalf("row %d (id %d) %s = %q, reference %q", i, r.id, c.name, c.got, c.want)
			}
		}
		for _, c := range []struct {
			name string
			want float64
		}{{"qty", r.qty}, {"entry_price", r.entry}, {"exit_price", r.exit}, {"fees", r.fees},
			{"realized_pnl", r.pnl}, {"slippage_bps", sl}} {
			if !close(tf.num[c.name][i], c.want) {
				t.Fatalf("row %d (id %d) %s = %v, reference %v", i, r.id, c.name, tf.num[c.name][i], c.want)
			}
		}
	}
}

// TestFreqtradePresetGroupBy: every grouping kind by every dimension
// freqtrade has; each label carries its own group's numbers; NULL strategy,
// enter_tag and exit_reason are the group "(none)".
func TestFreqtradePresetGroupBy(t *testing.T) {
	all := ftAll(t)
	p := harness.Launch(t, harness.Options{})
	today := time.Now()
	for _, by := range []string{"strategy", "symbol", "exchange", "entry_tag", "exit_reason", "side"} {
		t.Run(by, func(t *testing.T) {
			q := refQ()
			q.group = by
			before, in := ftSplit(q, all)
			groups := sortedKeys(in)
			wantNone := by == "strategy" || by == "entry_tag" || by == "exit_reason"
			if len(groups) < 2 || (wantNone && len(in["(none)"]) == 0) {
				t.Fatalf("fixture: groups %v by %s", groups, by)
			}
			e0, stats := map[string]float64{}, map[string]refStats{}
			for _, g := range groups {
				e0[g] = q.capital + sumPnl(before[g])
				stats[g] = refAllStats(q, before[g], in[g], today)
			}
			distinctBy(t, "total_pnl", groups, func(g string) float64 { return stats[g]["total_pnl"] })
			resp := p.Query(t, ftCtx(nil), ftAllKinds(map[string]any{"groupBy": by})...)
			n, want := 0, 0
			for _, c := range append(groupCases(q, e0, in, stats, "equity", "pnl", "returns", "drawdown", "daily_pnl",
				"pnl_distribution", "slippage", "trade_count"), []groupCase{
				{"rolling", "rolling_sharpe", func(g string) func(labelledField) error {
					return func(f labelledField) error {
						days, want := refRolling(q, before[g], in[g], "sharpe", 10)
						return compareRolling(f, days, want, 10)
					}
				}},
				{"rolling_wr", "rolling_win_rate", func(g string) func(labelledField) error {
					return func(f labelledField) error {
						days, want := refRolling(q, before[g], in[g], "win_rate", 7)
						return compareRolling(f, days, want, 7)
					}
				}},
				{"period_returns", "return", func(g string) func(labelledField) error {
					return func(f labelledField) error {
						times, cols, err := periodFrame(f.frame)
						if err != nil {
							return err
						}
						return comparePeriods(times, cols, refPeriods(q, before[g], in[g], "week"))
					}
				}},
			}...) {
				frames := mustOK(t, resp[c.kind])
				ftCheckNoNotice(t, c.kind, frames)
				if len(frames) != len(groups) {
					t.Errorf("%s by %s: %d frames, want one per group (%d)", c.kind, by, len(frames), len(groups))
				}
				n += checkPerGroup(t, c.kind+" by "+by, frames, by, c.field, groups,
					func(g string, f labelledField) error { return c.ref(g)(f) })
				want += len(groups)
			}
			// stats: every field of every group
			sf := mustOK(t, resp["stats"])
			ftCheckNoNotice(t, "stats", sf)
			metrics := sortedKeys(stats[groups[0]])
			for _, m := range metrics {
				n += checkPerGroup(t, "stats "+m+" by "+by, sf, by, m, groups,
					func(g string, f labelledField) error { return refScalarCheck(stats[g][m])(f) })
				want += len(groups)
			}
			// breakdown: a row per group, every field
			bf := mustOK(t, resp["breakdown"])
			ftCheckNoNotice(t, "breakdown", bf)
			tf := readTable(t, bf[0])
			if tf.rows != len(groups) || len(tf.names) == 0 || tf.names[0] != by {
				t.Errorf("breakdown by %s: %d rows, columns %v; want %d groups", by, tf.rows, tf.names, len(groups))
			} else {
				seen := map[string]bool{}
				for i, g := range tf.str[by] {
					seen[g] = true
					s, ok := stats[g]
					if !ok {
						t.Errorf("breakdown row %d: group %q not in the data", i, g)
						continue
					}
					bad := 0
					for _, m := range metrics {
						if !close(tf.num[m][i], s[m]) {
							t.Errorf("breakdown %s=%s: %s = %v, reference %v", by, g, m, tf.num[m][i], s[m])
							bad++
						}
					}
					if bad == 0 {
						n++
					}
					want++
				}
				if len(seen) != len(groups) {
					t.Errorf("breakdown by %s: groups %v, want %v", by, sortedKeys(seen), groups)
				}
			}
			// drawdown_episodes: each group's own, groups by name
			ef := readTable(t, mustOK(t, resp["drawdown_episodes"])[0])
			rowsOf := map[string][]int{}
			var order []string
			for i, g := range ef.str[by] {
				if len(rowsOf[g]) == 0 {
					order = append(order, g)
				}
				rowsOf[g] = append(rowsOf[g], i)
			}
			var withEps []string
			for _, g := range groups {
				eps := refEpisodes(e0[g], q.from, q.to, in[g])
				if len(eps) > 0 {
					withEps = append(withEps, g)
				}
				if err := compareEpisodes(ef, rowsOf[g], eps, 5); err != nil {
					t.Errorf("drawdown_episodes %s=%s: %v", by, g, err)
				} else {
					n++
				}
				want++
			}
			if strings.Join(order, ",") != strings.Join(withEps, ",") {
				t.Errorf("drawdown_episodes by %s: groups in order %v, want %v", by, order, withEps)
			}
			if n != want {
				t.Errorf("by %s: %d of %d checks matched their group's reference", by, n, want)
			}
			t.Logf("by %s: groups %v; %d labelled checks", by, groups, n)
		})
	}
}

// TestFreqtradePresetFilters: the filters on freqtrade's columns, "(none)"
// selecting the NULLs.
func TestFreqtradePresetFilters(t *testing.T) {
	all := ftAll(t)
	p := harness.Launch(t, harness.Options{})
	keys := map[string]string{"strategy": "strategies", "symbol": "symbols", "side": "sides", "exchange": "exchanges",
		"entry_tag": "entryTags", "exit_reason": "exitReasons"}
	for _, tc := range []struct {
		name    string
		filters map[string][]string
		group   string
	}{
		{"strategy (none)", map[string][]string{"strategy": {"(none)"}}, ""},
		{"strategy (none) or MacdCross, by entry_tag", map[string][]string{"strategy": {"(none)", "MacdCross"}}, "entry_tag"},
		{"entry_tag (none)", map[string][]string{"entry_tag": {"(none)"}}, "strategy"},
		{"exit_reason (none) or roi", map[string][]string{"exit_reason": {"(none)", "roi"}}, ""},
		{"short on bybit", map[string][]string{"side": {"short"}, "exchange": {"bybit"}}, "symbol"},
		{"pairs and long", map[string][]string{"symbol": {"BTC/USDT:USDT", "SOL/USDT"}, "side": {"long"}}, "exit_reason"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			q := refQ()
			q.filters, q.group = tc.filters, tc.group
			body := map[string]any{}
			for dim, list := range tc.filters {
				body[keys[dim]] = list
			}
			if tc.group != "" {
				body["groupBy"] = tc.group
			}
			before, in := ftSplit(q, all)
			groups := sortedKeys(in)
			total := 0
			for _, g := range groups {
				total += len(in[g])
			}
			if total == 0 || total > len(all)/2 {
				t.Fatalf("fixture: the filter keeps %d of %d trades", total, len(all))
			}
			tbody := map[string]any{"limit": 50}
			for k, v := range body {
				if k != "groupBy" {
					tbody[k] = v
				}
			}
			resp := p.Query(t, ftCtx(nil), query("S", "stats", body, 100), query("E", "equity", body, 100000),
				query("T", "trades", tbody, 100))
			if tc.group == "" { // the trades table keeps the same trades, newest first
				ftCheckTradesTable(t, mustOK(t, resp["T"])[0], in[""], 50)
			}
			sf := mustOK(t, resp["S"])
			got := statsFrame(t, sf[0])
			if len(got) != len(groups) {
				t.Fatalf("%d groups %v, reference %v", len(got), sortedKeys(got), groups)
			}
			n := checkGroupStats(t, got, groups, func(g string) refStats { return refAllStats(q, before[g], in[g], time.Now()) })
			ef := mustOK(t, resp["E"])
			if tc.group == "" {
				if err := refCurveCheck(q.capital+sumPnl(before[""]), in[""], func(e float64) float64 { return e })(
					labelledFromSeries(t, ef[0])); err != nil {
					t.Errorf("equity: %v", err)
				}
			} else {
				checkPerGroup(t, "equity by "+tc.group, ef, tc.group, "equity", groups, func(g string, f labelledField) error {
					return refCurveCheck(q.capital+sumPnl(before[g]), in[g], func(e float64) float64 { return e })(f)
				})
			}
			t.Logf("%d of %d trades kept, groups %v, %d stat values checked", total, len(all), groups, n)
		})
	}
}

// TestFreqtradePresetAccountIsAbsent: freqtrade has no account column:
// grouping, filtering or listing by it is a 400 that names the mapping.
func TestFreqtradePresetAccountIsAbsent(t *testing.T) {
	ftAll(t)
	p := harness.Launch(t, harness.Options{})
	resp := p.Query(t, ftCtx(nil),
		query("G", "stats", map[string]any{"groupBy": "account"}, 100),
		query("B", "breakdown", map[string]any{"groupBy": "account"}, 100),
		query("F", "equity", map[string]any{"accounts": []string{"main"}}, 100),
		query("OK", "stats", map[string]any{"metrics": []string{"trade_count"}}, 100))
	for _, ref := range []string{"G", "B", "F"} {
		r := resp[ref]
		if r.Status != 400 || r.Error == nil || !strings.Contains(r.Error.Error(), "account") ||
			!regexp.MustCompile(`(?i)map`).MatchString(r.Error.Error()) {
			t.Errorf("%s: status %d error %v; want 400 naming the missing account mapping", ref, r.Status, r.Error)
		}
	}
	if st := statsFrame(t, mustOK(t, resp["OK"])[0])[""]; st["trade_count"] == 0 {
		t.Errorf("the other query of the request: %v", st)
	}
	code, body := p.Get(t, ftCtx(nil), "accounts")
	if code != 400 || !strings.Contains(body, "account") {
		t.Errorf("accounts resource: %d %s; want 400 naming the missing account mapping", code, body)
	}
}

// TestFreqtradePresetResourcesAndHealth: the values resources list
// freqtrade's values; CheckHealth and the schema resource count the closed
// trades only.
func TestFreqtradePresetResourcesAndHealth(t *testing.T) {
	all := ftAll(t)
	p := harness.Launch(t, harness.Options{})
	ctx := ftCtx(nil)
	for res, col := range map[string]string{"strategies": "strategy", "symbols": "pair", "exchanges": "exchange",
		"entry_tags": "enter_tag", "exit_reasons": "exit_reason",
		"sides": "CASE WHEN is_short THEN 'short' ELSE 'long' END"} {
		distinct := func(where string) []string {
			out, err := pg.Psql(ftDB, "SELECT DISTINCT "+col+" AS v FROM trades WHERE "+col+" IS NOT NULL "+where+" ORDER BY v")
			if err != nil {
				t.Fatal(err)
			}
			return strings.Split(out, "\n")
		}
		closed := distinct("AND close_date IS NOT NULL")
		code, body := p.Get(t, ctx, res+"?limit=1000")
		var got []string
		if code != 200 || json.Unmarshal([]byte(body), &got) != nil {
			t.Errorf("%s: %d %s", res, code, body)
			continue
		}
		// open trades count nowhere: their values (enter_tag "open_tag", which
		// no closed trade has) are not offered either
		if strings.Join(got, "\n") != strings.Join(closed, "\n") {
			t.Errorf("%s: %v; want the distinct non-NULL values of closed trades %v", res, got, closed)
		}
	}

	first, last := all[0].closed, all[len(all)-1].closed
	hr, d := health(t, p, ctx)
	if hr.Status != pluginv2.CheckHealthResponse_OK {
		t.Fatalf("health: %v %q", hr.Status, hr.Message)
	}
	if m := regexp.MustCompile(`([\d,]+) trades`).FindStringSubmatch(hr.Message); m == nil ||
		strings.ReplaceAll(m[1], ",", "") != strconv.Itoa(ftClosed) {
		t.Errorf("CheckHealth message %q; want %d trades (the %d open ones never count)", hr.Message, ftClosed, ftOpen)
	}
	if n, ok := d["trades"].(float64); !ok || int(n) != ftClosed {
		t.Errorf("CheckHealth jsonDetails trades = %v; want %d", d["trades"], ftClosed)
	}
	for k, want := range map[string]time.Time{"from": first, "to": last} {
		s, _ := d[k].(string)
		if got, err := parsePgTimestamptz(s); err != nil || !got.Equal(want) {
			// a timestamp without time zone may come back without an offset
			if got, err2 := time.Parse("2006-01-02 15:04:05.999999999", s); err2 != nil || !got.Equal(want) {
				t.Errorf("CheckHealth jsonDetails %s = %q; want the closed trades' %v", k, s, want)
			}
		}
	}
	code, body := p.Get(t, ctx, "schema")
	var sch map[string]any
	if code != 200 || json.Unmarshal([]byte(body), &sch) != nil || sch["ok"] != true {
		t.Fatalf("schema: %d %s", code, body)
	}
	if n, ok := sch["trades"].(float64); !ok || int(n) != ftClosed {
		t.Errorf("schema trades = %v; want %d", sch["trades"], ftClosed)
	}
	// the preset's mapping, as the schema resource reports it
	var sc struct {
		Columns []struct {
			Name   string
			Column *string
			As     string
			OK     bool
		}
		IndexAdvice string
	}
	if err := json.Unmarshal([]byte(body), &sc); err != nil {
		t.Fatal(err)
	}
	mapping := map[string]string{}
	for _, c := range sc.Columns {
		col := "<null>"
		if c.Column != nil {
			col = *c.Column
		}
		if c.As != "" {
			col += " as " + c.As
		}
		if !c.OK {
			col += " (not ok)"
		}
		mapping[c.Name] = col
	}
	for name, col := range map[string]string{"trade_id": "id", "exchange": "exchange", "symbol": "pair", "strategy": "strategy",
		"entry_tag": "enter_tag", "exit_reason": "exit_reason", "account": "<null>", "side": "is_short as is_short",
		"qty": "amount", "entry_price": "open_rate", "exit_price": "close_rate", "expected_entry_price": "open_rate_requested",
		"expected_exit_price": "close_rate_requested", "opened_at": "open_date", "closed_at": "close_date",
		"fees": "fee_open_cost + fee_close_cost", "realized_pnl": "close_profit_abs"} {
		if mapping[name] != col {
			t.Errorf("schema resource: %s → %q, want %q", name, mapping[name], col)
		}
	}
	if len(mapping) != 17 {
		t.Errorf("schema resource lists %d logical columns, want 17: %v", len(mapping), mapping)
	}
	if !strings.Contains(sc.IndexAdvice, `CREATE INDEX ON "trades" ("close_date")`) || !strings.Contains(hr.Message, "close_date") {
		t.Errorf("freqtrade has no index on close_date: want the advice in the schema resource (%q) and CheckHealth (%q)", sc.IndexAdvice, hr.Message)
	}
	// with the recommended index, no advice
	if _, err := pg.Psql(ftDB, `DROP TABLE IF EXISTS trades_indexed; CREATE TABLE trades_indexed AS SELECT * FROM trades;
	  CREATE INDEX ON trades_indexed (close_date); GRANT SELECT ON trades_indexed TO grafana; ANALYZE trades_indexed`); err != nil {
		t.Fatal(err)
	}
	if hi, _ := health(t, p, ftCtx(map[string]any{"table": "trades_indexed"})); hi.Status != pluginv2.CheckHealthResponse_OK ||
		strings.Contains(hi.Message, "CREATE INDEX") {
		t.Errorf("health with an index on close_date: %v %q; want OK without index advice", hi.Status, hi.Message)
	}
	t.Logf("health: %s", hr.Message)
}

// TestFreqtradeTableWithoutPresetRecommendsIt: the default mapping on
// freqtrade's table finds none of its columns; CheckHealth says to use the
// freqtrade preset.
func TestFreqtradeTableWithoutPresetRecommendsIt(t *testing.T) {
	ftAll(t)
	p := harness.Launch(t, harness.Options{})
	ctx := harness.PluginContext("freqtrade-default-ds", pg.JSONData(map[string]any{"database": ftDB}), pgfix.Secure(), 1)
	hr, _ := health(t, p, ctx)
	msg := hr.Message
	if hr.Status != pluginv2.CheckHealthResponse_ERROR || !strings.Contains(msg, "freqtrade") ||
		!strings.Contains(strings.ToLower(msg), "preset") {
		t.Errorf("health with the default mapping on freqtrade's table: %v %q; want an error recommending the freqtrade preset", hr.Status, msg)
	}
	t.Logf("health: %v %s", hr.Status, msg)
}

// TestFreqtradePresetColumnOverrides: explicit columns override the
// preset's: strategy null makes it absent (groupBy strategy 400, the rest
// unchanged); account mapped to exchange makes account a dimension again.
func TestFreqtradePresetColumnOverrides(t *testing.T) {
	all := ftAll(t)
	p := harness.Launch(t, harness.Options{})
	ctx := ftCtx(map[string]any{"columns": map[string]any{"strategy": nil, "account": "exchange"}})
	q := refQ()
	q.group = "exchange"
	before, in := ftSplit(q, all)
	groups := sortedKeys(in)
	resp := p.Query(t, ctx,
		query("G", "stats", map[string]any{"groupBy": "strategy"}, 100),
		query("F", "stats", map[string]any{"strategies": []string{"MacdCross"}}, 100),
		query("A", "stats", map[string]any{"groupBy": "account", "metrics": []string{"total_pnl", "trade_count", "sharpe"}}, 100),
		query("S", "stats", nil, 100))
	for _, ref := range []string{"G", "F"} {
		if r := resp[ref]; r.Status != 400 || r.Error == nil || !strings.Contains(r.Error.Error(), "strategy") {
			t.Errorf("%s with strategy mapped to null: status %d error %v; want 400 naming the strategy mapping", ref, r.Status, r.Error)
		}
	}
	af := mustOK(t, resp["A"])
	for _, m := range []string{"total_pnl", "trade_count", "sharpe"} {
		checkPerGroup(t, "stats "+m+" by account (= exchange)", af, "account", m, groups, func(g string, f labelledField) error {
			return refScalarCheck(refComputeStats(q, before[g], in[g], time.Now())[m])(f)
		})
	}
	q.group = ""
	before, in = ftSplit(q, all)
	got := statsFrame(t, mustOK(t, resp["S"])[0])[""]
	for k, w := range refAllStats(q, before[""], in[""], time.Now()) {
		if !close(got[k], w) {
			t.Errorf("ungrouped stats with strategy unmapped: %s = %v, reference %v", k, got[k], w)
		}
	}
	if code, body := p.Get(t, ctx, "strategies"); code != 400 || !strings.Contains(body, "strategy") {
		t.Errorf("strategies resource with strategy null: %d %s", code, body)
	}
	code, body := p.Get(t, ctx, "accounts")
	var accts []string
	if code != 200 || json.Unmarshal([]byte(body), &accts) != nil || strings.Join(accts, ",") != strings.Join(groups, ",") {
		t.Errorf("accounts resource with account = exchange: %d %s; want %v", code, body, groups)
	}
}

// TestFreqtradeExplicitColumnForms: the preset's mapping written out by hand,
// on a view that also uses the other column forms — close time as epoch
// microseconds, side as text ("Buy"/"SELL": case-insensitive, buy = long),
// fees as a list — gives the reference's numbers.
func TestFreqtradeExplicitColumnForms(t *testing.T) {
	all := ftAll(t)
	if _, err := pg.Psql(ftDB, `CREATE OR REPLACE VIEW ft_forms AS SELECT *,
	    (extract(epoch FROM close_date) * 1000000)::int8 AS close_us,
	    CASE WHEN is_short THEN 'SELL' ELSE 'Buy' END AS side_txt FROM trades;
	  GRANT SELECT ON ft_forms TO grafana`); err != nil {
		t.Fatal(err)
	}
	p := harness.Launch(t, harness.Options{})
	ctx := harness.PluginContext("freqtrade-forms-ds", pg.JSONData(map[string]any{"database": ftDB, "table": "ft_forms",
		"columns": map[string]any{"trade_id": "id", "exchange": "exchange", "symbol": "pair", "strategy": "strategy",
			"entry_tag": "enter_tag", "exit_reason": "exit_reason", "account": nil,
			"side": map[string]any{"column": "side_txt", "as": "text"}, "qty": "amount", "entry_price": "open_rate",
			"exit_price": "close_rate", "expected_entry_price": "open_rate_requested",
			"expected_exit_price": "close_rate_requested", "opened_at": "open_date",
			"closed_at":    map[string]any{"column": "close_us", "as": "epoch_us"},
			"fees":         []string{"fee_open_cost", "fee_close_cost"},
			"realized_pnl": "close_profit_abs"}}), pgfix.Secure(), 1)
	q := refQ()
	before, in := ftSplit(q, all)
	e0 := q.capital + sumPnl(before[""])
	resp := p.Query(t, ctx, query("S", "stats", nil, 100), query("E", "equity", nil, 100000),
		query("D", "daily_pnl", nil, 1000), query("L", "slippage", nil, 1),
		query("T", "trades", map[string]any{"limit": 200}, 100),
		query("G", "stats", map[string]any{"groupBy": "side", "metrics": []string{"trade_count", "total_pnl", "avg_slippage_bps"}}, 100))
	got := statsFrame(t, mustOK(t, resp["S"])[0])[""]
	for k, w := range refAllStats(q, before[""], in[""], time.Now()) {
		if !close(got[k], w) {
			t.Errorf("stats %s = %v, reference %v", k, got[k], w)
		}
	}
	if err := refCurveCheck(e0, in[""], func(e float64) float64 { return e })(labelledFromSeries(t, mustOK(t, resp["E"])[0])); err != nil {
		t.Errorf("equity: %v", err)
	}
	if err := refDailyCheck(q, in[""], true)(labelledFromSeries(t, mustOK(t, resp["D"])[0])); err != nil {
		t.Errorf("daily_pnl: %v", err)
	}
	if err := refScalarCheck(refComputeStats(q, before[""], in[""], time.Now())["avg_slippage_bps"])(
		labelledFromSeries(t, mustOK(t, resp["L"])[0])); err != nil {
		t.Errorf("slippage series: %v", err)
	}
	ftCheckTradesTable(t, mustOK(t, resp["T"])[0], in[""], 200)
	// side labels: Buy is long, SELL short, whatever the case
	qs := refQ()
	qs.group = "side"
	sb, si := ftSplit(qs, all)
	for _, m := range []string{"trade_count", "total_pnl", "avg_slippage_bps"} {
		checkPerGroup(t, "stats "+m+" by side (text Buy/SELL)", mustOK(t, resp["G"]), "side", m, []string{"long", "short"},
			func(g string, f labelledField) error {
				return refScalarCheck(refComputeStats(qs, sb[g], si[g], time.Now())[m])(f)
			})
	}
	hr, _ := health(t, p, ctx)
	if m := regexp.MustCompile(`([\d,]+) trades`).FindStringSubmatch(hr.Message); hr.Status != pluginv2.CheckHealthResponse_OK ||
		m == nil || strings.ReplaceAll(m[1], ",", "") != strconv.Itoa(ftClosed) {
		t.Errorf("health: %v %q; want OK with %d trades", hr.Status, hr.Message, ftClosed)
	}
}

// TestFreqtradePresetOverrideToAbsentNumbers: a number whose column the
// overrides take away is null, with one info notice naming the column; the
// others keep the reference's values.
func TestFreqtradePresetOverrideToAbsentNumbers(t *testing.T) {
	all := ftAll(t)
	p := harness.Launch(t, harness.Options{})
	ctx := ftCtx(map[string]any{"columns": map[string]any{"opened_at": nil, "fees": nil}})
	q := refQ()
	before, in := ftSplit(q, all)
	want := refAllStats(q, before[""], in[""], time.Now())
	nulled := map[string]bool{"avg_holding_time": true, "avg_holding_time_win": true, "avg_holding_time_loss": true,
		"exposure": true, "total_fees": true}
	resp := p.Query(t, ctx, query("S", "stats", nil, 100))
	f := mustOK(t, resp["S"])[0]
	got := statsFrame(t, f)[""]
	for k, w := range want {
		if nulled[k] {
			w = math.NaN()
		}
		if !close(got[k], w) {
			t.Errorf("%s = %v, want %v", k, got[k], w)
		}
	}
	if f.Meta == nil || len(f.Meta.Notices) != 1 || f.Meta.Notices[0].Severity != data.NoticeSeverityInfo {
		t.Fatalf("want one info notice, got %+v", f.Meta)
	}
	for _, c := range []string{"opened_at", "fees", "exposure", "total_fees", "avg_holding_time"} {
		if !strings.Contains(f.Meta.Notices[0].Text, c) {
			t.Errorf("notice %q does not name %s", f.Meta.Notices[0].Text, c)
		}
	}
	t.Logf("notice: %s", f.Meta.Notices[0].Text)
}

// TestFreqtradePresetWholeHistory: a range over the whole history and past
// now, where the open trades (opened in the range, close_date NULL) would
// show if any statement let a NULL close_date through: a DESC order puts
// NULLs first in Postgres, and a missing lower bound would sum their
// close_profit_abs (1e6) into E(from).
func TestFreqtradePresetWholeHistory(t *testing.T) {
	all := ftAll(t)
	p := harness.Launch(t, harness.Options{})
	q := refQ()
	q.from = time.Date(2024, 11, 1, 0, 0, 0, 0, time.UTC)
	q.to = time.Now().Add(30 * 24 * time.Hour).Truncate(time.Millisecond)
	before, in := ftSplit(q, all)
	if len(before[""]) != 0 || len(in[""]) != ftClosed {
		t.Fatalf("range holds %d trades, %d before it", len(in[""]), len(before[""]))
	}
	qr := func(ref, kind string, body map[string]any, maxPts int64) *pluginv2.DataQuery {
		return queryRange(ref, kind, body, maxPts, q.from, q.to)
	}
	sb, si := ftSplit(refQuery{from: q.from, to: q.to, group: "strategy"}, all)
	resp := p.Query(t, ftCtx(nil), qr("S", "stats", nil, 100), qr("T", "trades", map[string]any{"limit": 200}, 100),
		qr("C", "trade_count", nil, 10), qr("E", "equity", nil, 100000),
		qr("P", "period_returns", map[string]any{"period": "month"}, 1000),
		qr("B", "breakdown", map[string]any{"groupBy": "strategy", "metrics": []string{"trade_count", "total_pnl", "exposure", "avg_holding_time"}}, 100))
	got := statsFrame(t, mustOK(t, resp["S"])[0])[""]
	for k, w := range refAllStats(q, nil, in[""], time.Now()) {
		if !close(got[k], w) {
			t.Errorf("stats %s = %v, reference %v", k, got[k], w)
		}
	}
	ftCheckTradesTable(t, mustOK(t, resp["T"])[0], in[""], 200)
	_, counts := series(t, mustOK(t, resp["C"])[0])
	total := 0.0
	for _, c := range counts {
		total += c
	}
	if total != ftClosed {
		t.Errorf("trade_count buckets add up to %v, want the %d closed trades", total, ftClosed)
	}
	_, vs := series(t, mustOK(t, resp["E"])[0])
	if len(vs) != ftClosed+2 || !close(vs[0], q.capital) || !close(vs[len(vs)-1], q.capital+sumPnl(in[""])) {
		t.Errorf("equity: %d points from %v to %v; want %d, from %v to %v", len(vs), vs[0], vs[len(vs)-1],
			ftClosed+2, q.capital, q.capital+sumPnl(in[""]))
	}
	pf := mustOK(t, resp["P"])
	if times, cols, err := periodFrame(pf[0]); err != nil {
		t.Error(err)
	} else if err := comparePeriods(times, cols, refPeriods(q, nil, in[""], "month")); err != nil {
		t.Errorf("period_returns: %v", err)
	}
	tf := readTable(t, mustOK(t, resp["B"])[0])
	for i, g := range tf.str["strategy"] {
		want := refAllStats(refQuery{from: q.from, to: q.to, capital: q.capital, tz: q.tz, annual: q.annual},
			sb[g], si[g], time.Now())
		for _, m := range []string{"trade_count", "total_pnl", "exposure", "avg_holding_time"} {
			if !close(tf.num[m][i], want[m]) {
				t.Errorf("breakdown strategy=%s: %s = %v, reference %v", g, m, tf.num[m][i], want[m])
			}
		}
	}
	if tf.rows != len(si) {
		t.Errorf("breakdown: %d rows, want %d strategies", tf.rows, len(si))
	}
}

// TestFreqtradeEpochClosedAtRangeEdges: closed_at stored as epoch seconds
// (double, with microseconds), milliseconds, microseconds or nanoseconds
// selects exactly the trades with from < closed_at ≤ to, with the range
// ends (whole milliseconds) falling inside a second and next to a trade: a
// bound converted to the column's unit must neither drop nor add the trade
// beside it. The table override also replaces the preset's table.
func TestFreqtradeEpochClosedAtRangeEdges(t *testing.T) {
	all := ftAll(t)
	if _, err := pg.Psql(ftDB, `CREATE OR REPLACE VIEW ft_epochs AS SELECT *,
	    extract(epoch FROM close_date)::float8 AS close_s,
	    floor(extract(epoch FROM close_date) * 1000)::int8 AS close_ms,
	    (extract(epoch FROM close_date) * 1000000)::int8 AS close_us,
	    (extract(epoch FROM close_date) * 1000000)::int8 * 1000 AS close_ns FROM trades;
	  GRANT SELECT ON ft_epochs TO grafana`); err != nil {
		t.Fatal(err)
	}
	// two trades well inside the data whose times are not whole milliseconds
	var a, b trade
	for i := len(all) / 4; i < len(all); i++ {
		if all[i].closed.Nanosecond()%1e6 != 0 {
			if a.id == 0 {
				a = all[i]
			} else if i > len(all)*3/4 {
				b = all[i]
				break
			}
		}
	}
	floorMs := func(tm time.Time) time.Time { return tm.Truncate(time.Millisecond) }
	p := harness.Launch(t, harness.Options{})
	for _, form := range []struct{ col, as string }{{"close_s", "epoch_s"}, {"close_ms", "epoch_ms"},
		{"close_us", "epoch_us"}, {"close_ns", "epoch_ns"}} {
		ctx := harness.PluginContext("ft-epochs-"+form.as, pg.JSONData(map[string]any{"database": ftDB, "preset": "freqtrade",
			"table": "ft_epochs", "columns": map[string]any{"closed_at": map[string]any{"column": form.col, "as": form.as}}}),
			pgfix.Secure(), 1)
		// the trade's time as the column stores it
		stored := func(tr trade) time.Time {
			if form.as == "epoch_ms" {
				return floorMs(tr.closed)
			}
			return tr.closed
		}
		for _, rg := range []struct {
			name     string
			from, to time.Time
		}{
			{"ends just before the trades", floorMs(a.closed), floorMs(b.closed)},
			{"ends just after the trades", floorMs(a.closed).Add(time.Millisecond), floorMs(b.closed).Add(time.Millisecond)},
		} {
			n, sum, base := 0, 0.0, 100000.0
			for _, tr := range all {
				switch s := stored(tr); {
				case !s.After(rg.from):
					base += tr.pnl
				case !s.After(rg.to):
					n++
					sum += tr.pnl
				}
			}
			resp := p.Query(t, ctx, queryRange("S", "stats", map[string]any{"metrics": []string{"trade_count", "total_pnl", "equity"}},
				100, rg.from, rg.to))
			r := resp["S"]
			if r.Error != nil {
				t.Errorf("%s, %s: %d %v", form.as, rg.name, r.Status, r.Error)
				continue
			}
			got := statsFrame(t, r.Frames[0])[""]
			if got["trade_count"] != float64(n) || !close(got["total_pnl"], sum) || !close(got["equity"], base+sum) {
				t.Errorf("%s, %s (%v, %v]: trade_count %v total_pnl %v equity %v; reference %d %v %v", form.as, rg.name,
					rg.from.Format(time.RFC3339Nano), rg.to.Format(time.RFC3339Nano), got["trade_count"], got["total_pnl"],
					got["equity"], n, sum, base+sum)
			}
		}
	}
}

// TestFreqtradeOldColumnNames: freqtrade before 2022 called enter_tag
// buy_tag and exit_reason sell_reason. Under the preset those two optional
// columns are missing: CheckHealth still passes and names them, every number
// is there, grouping by them is a 400 pointing at the mapping; mapping the
// old names fixes it.
func TestFreqtradeOldColumnNames(t *testing.T) {
	all := ftAll(t)
	if _, err := pg.Psql(ftDB, `DROP TABLE IF EXISTS trades_old;
	  CREATE TABLE trades_old AS SELECT * FROM trades;
	  ALTER TABLE trades_old RENAME COLUMN enter_tag TO buy_tag;
	  ALTER TABLE trades_old RENAME COLUMN exit_reason TO sell_reason;
	  ALTER TABLE trades_old DROP COLUMN is_short; -- spot-only freqtrade had no shorts
	  DELETE FROM trades_old WHERE id IN (SELECT id FROM trades WHERE is_short);
	  GRANT SELECT ON trades_old TO grafana; ANALYZE trades_old`); err != nil {
		t.Fatal(err)
	}
	p := harness.Launch(t, harness.Options{})
	ctx := ftCtx(map[string]any{"table": "trades_old"})
	hr, _ := health(t, p, ctx)
	if hr.Status != pluginv2.CheckHealthResponse_OK || !strings.Contains(hr.Message, "exit_reason") ||
		!strings.Contains(hr.Message, "enter_tag") || !strings.Contains(hr.Message, "is_short") {
		t.Errorf("health on freqtrade's old column names: %v %q; want OK naming the missing enter_tag, exit_reason and is_short", hr.Status, hr.Message)
	}
	t.Logf("health: %s", hr.Message)
	var longs []trade
	for _, tr := range all {
		if tr.side == "long" {
			longs = append(longs, tr)
		}
	}
	all = longs
	q := refQ()
	before, in := ftSplit(q, all)
	resp := p.Query(t, ctx, query("S", "stats", nil, 100), query("G", "stats", map[string]any{"groupBy": "exit_reason"}, 100))
	sf := mustOK(t, resp["S"])[0]
	got := statsFrame(t, sf)[""]
	noSide := map[string]bool{"long_trades": true, "short_trades": true, "long_win_rate": true, "short_win_rate": true,
		"avg_slippage_bps": true}
	for k, w := range refAllStats(q, before[""], in[""], time.Now()) {
		if noSide[k] {
			w = math.NaN()
		}
		if !close(got[k], w) {
			t.Errorf("stats %s = %v, reference %v", k, got[k], w)
		}
	}
	if sf.Meta == nil || len(sf.Meta.Notices) != 1 || sf.Meta.Notices[0].Severity != data.NoticeSeverityInfo ||
		!strings.Contains(sf.Meta.Notices[0].Text, "is_short") && !strings.Contains(sf.Meta.Notices[0].Text, "side") {
		t.Errorf("stats without the side column: want one info notice naming it, got %+v", sf.Meta)
	} else {
		t.Logf("notice: %s", sf.Meta.Notices[0].Text)
	}
	if r := resp["G"]; r.Status != 400 || r.Error == nil || !strings.Contains(r.Error.Error(), "exit_reason") {
		t.Errorf("groupBy exit_reason without the column: %d %v", r.Status, r.Error)
	}

	mapped := ftCtx(map[string]any{"table": "trades_old", "columns": map[string]any{"entry_tag": "buy_tag", "exit_reason": "sell_reason"}})
	hr, _ = health(t, p, mapped)
	if hr.Status != pluginv2.CheckHealthResponse_OK || strings.Contains(hr.Message, "sell_reason") && strings.Contains(hr.Message, "not found") {
		t.Errorf("health with the old names mapped: %v %q", hr.Status, hr.Message)
	}
	q.group = "exit_reason"
	before, in = ftSplit(q, all)
	groups := sortedKeys(in)
	g := mustOK(t, p.Query(t, mapped, query("G", "stats", map[string]any{"groupBy": "exit_reason"}, 100))["G"])
	for _, m := range []string{"trade_count", "total_pnl", "sharpe"} {
		checkPerGroup(t, "stats "+m+" by exit_reason (sell_reason)", g, "exit_reason", m, groups, func(g string, f labelledField) error {
			return refScalarCheck(refComputeStats(q, before[g], in[g], time.Now())[m])(f)
		})
	}
	t.Logf("health: %s", hr.Message)
}

// TestFreqtradePresetLocalDays: freqtrade's close_date is a timestamp
// without time zone in UTC. In a time zone other than UTC (where reading it
// the wrong way round — as local time — would shift every trade by the
// offset) the local days of daily_pnl, period_returns, rolling and stats
// are the reference's, across New York's DST change.
func TestFreqtradePresetLocalDays(t *testing.T) {
	all := ftAll(t)
	p := harness.Launch(t, harness.Options{})
	for _, tzName := range []string{"America/New_York", "Asia/Tokyo"} {
		t.Run(tzName, func(t *testing.T) {
			q := refQ()
			q.tz, _ = time.LoadLocation(tzName)
			before, in := ftSplit(q, all)
			body := map[string]any{"timezone": tzName}
			with := func(k string, v any) map[string]any { return map[string]any{"timezone": tzName, k: v} }
			resp := p.Query(t, ftCtx(nil), query("D", "daily_pnl", body, 1000), query("S", "stats", body, 100),
				query("P", "period_returns", with("period", "week"), 1000),
				query("R", "rolling", map[string]any{"timezone": tzName, "metric": "pnl", "window": 5}, 1000))
			if err := refDailyCheck(q, in[""], true)(labelledFromSeries(t, mustOK(t, resp["D"])[0])); err != nil {
				t.Errorf("daily_pnl: %v", err)
			}
			got := statsFrame(t, mustOK(t, resp["S"])[0])[""]
			for k, w := range refAllStats(q, before[""], in[""], time.Now()) {
				if !close(got[k], w) {
					t.Errorf("stats %s = %v, reference %v", k, got[k], w)
				}
			}
			if times, cols, err := periodFrame(mustOK(t, resp["P"])[0]); err != nil {
				t.Error(err)
			} else if err := comparePeriods(times, cols, refPeriods(q, before[""], in[""], "week")); err != nil {
				t.Errorf("period_returns: %v", err)
			}
			days, want := refRolling(q, before[""], in[""], "pnl", 5)
			if err := compareRolling(labelledFromSeries(t, mustOK(t, resp["R"])[0]), days, want, 5); err != nil {
				t.Errorf("rolling pnl: %v", err)
			}
		})
	}
}
