package analytics

// Issue 11: the new stats fields (largest/average win and loss, gross
// profit/loss, streaks, fees, holding times, SQN, long/short, exposure,
// current drawdown, recovery factor, volume), computed by the one-pass read,
// against the independent reference (tradestats_ref_test.go) — per group,
// label → value — plus the old fields on the same answers, the nulls and the
// notice for columns a table lacks, and the one ordered read itself.

import (
	"fmt"
	"math"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/data"

	"github.com/algotrading/pnl-datasource/tests/harness"
)

// fieldTrades: groupTrades with what the new fields need to be tested:
// fees, zero-P&L trades (they end streaks), trades without opened_at or side,
// and a long-held trade opened before the range (exposure is clipped at from).
func fieldTrades(seed uint64) []fixtureRow {
	rows := groupTrades(seed)
	clipped := false
	for i := range rows {
		r := &rows[i]
		r.fees = math.Round(r.qty*r.entry*0.0004*1e6) / 1e6
		switch {
		case i%7 == 3:
			r.pnl = 0
		case i%11 == 5:
			r.opened = time.Time{}
		case i%13 == 6:
			r.side = ""
		}
		if !clipped && r.closed.After(from.Add(6*time.Hour)) {
			r.opened = from.Add(-72 * time.Hour)
			clipped = true
		}
	}
	return rows
}

func TestStatsNewFieldsMatchReference(t *testing.T) {
	all := allTrades(t)
	p := harness.Launch(t, harness.Options{})
	for _, tc := range []struct {
		name string
		body map[string]any
		mod  func(*refQuery)
	}{
		{"defaults", nil, nil},
		{"filtered-capital", map[string]any{"strategies": []string{"momentum", "breakout"}, "initialCapital": 20000},
			func(q *refQuery) { q.strategies = []string{"momentum", "breakout"}; q.capital = 20000 }},
		{"grouped-symbol", map[string]any{"groupBy": "symbol"}, func(q *refQuery) { q.group = "symbol" }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			q := refQ()
			if tc.mod != nil {
				tc.mod(&q)
			}
			resp := p.Query(t, pctx(nil), query("S", "stats", tc.body, 100))
			got := statsFrame(t, mustOK(t, resp["S"])[0])
			before, in := split(q, all)
			n := 0
			for _, g := range sortedKeys(in) {
				want := refAllStats(q, before[g], in[g], time.Now())
				for k, w := range want {
					v, ok := got[g][k]
					if !ok {
						t.Fatalf("group %q: stat %s missing", g, k)
					}
					if !close(v, w) {
						t.Errorf("group %q: %s = %v, reference %v", g, k, v, w)
					}
					n++
				}
			}
			if n < len(newStatFields)+19 {
				t.Fatalf("%d values checked", n)
			}
			t.Logf("%d stat values (19 old and %d new fields per group) checked", n, len(newStatFields))
		})
	}
}

func TestStatsNewFieldsPerGroup(t *testing.T) {
	const table = "trades_fields"
	makeTradeTable(t, table, fieldTrades(31), tableOpts{})
	all := loadTrades(t, pg, table)
	p := harness.Launch(t, harness.Options{})
	for _, by := range []string{"strategy", "symbol", "account"} {
		t.Run(by, func(t *testing.T) {
			q := refQ()
			q.group = by
			before, in := split(q, all)
			groups := sortedKeys(in)
			stats := map[string]refStats{}
			for _, g := range groups {
				stats[g] = refAllStats(q, before[g], in[g], time.Now())
			}
			for _, k := range []string{"gross_profit", "volume", "total_fees", "long_trades"} {
				distinctBy(t, k, groups, func(g string) float64 { return stats[g][k] })
			}
			resp := p.Query(t, tableCtx(table), query("S", "stats", map[string]any{"groupBy": by}, 100))
			sf := mustOK(t, resp["S"])
			if len(sf) != 1 || sf[0].Meta == nil || len(sf[0].Meta.Notices) != 0 {
				t.Fatalf("want one frame without notices, got %d frames", len(sf))
			}
			n := 0
			for _, k := range newStatFields {
				n += checkPerGroup(t, "stats "+k+" by "+by, sf, by, k, groups,
					func(g string, f labelledField) error { return refScalarCheck(stats[g][k])(f) })
			}
			if want := len(groups) * len(newStatFields); n != want {
				t.Errorf("%d of %d labelled fields carry their own group's numbers", n, want)
			}
			// the fixture exercises what it is for
			g0 := stats[groups[0]]
			if g0["max_win_streak"] < 2 || g0["exposure"] <= 0 || g0["exposure"] >= 1 || g0["total_fees"] <= 0 {
				t.Errorf("fixture too tame: %v", g0)
			}
		})
	}
}

func TestStatsFieldUnitsAndDisplayNames(t *testing.T) {
	p := harness.Launch(t, harness.Options{})
	resp := p.Query(t, pctx(nil), query("S", "stats", map[string]any{"metrics": []string{
		"avg_holding_time", "exposure", "largest_loss", "sqn", "max_win_streak", "long_win_rate", "volume"}}, 100))
	f := mustOK(t, resp["S"])[0]
	want := []struct{ name, unit, display string }{
		{"avg_holding_time", "s", "Average holding time"}, {"exposure", "percentunit", "Exposure"},
		{"largest_loss", "currencyUSD", "Largest loss"}, {"sqn", "none", "SQN"},
		{"max_win_streak", "none", "Max winning streak"}, {"long_win_rate", "percentunit", "Long win rate"},
		{"volume", "currencyUSD", "Volume"},
	}
	if len(f.Fields) != len(want) {
		t.Fatalf("%d fields", len(f.Fields))
	}
	for i, w := range want {
		fl := f.Fields[i]
		if fl.Name != w.name || fl.Config == nil || fl.Config.Unit != w.unit || fl.Config.DisplayNameFromDS != w.display {
			t.Errorf("field %d: %s unit %q display %q; want %+v", i, fl.Name, fl.Config.Unit, fl.Config.DisplayNameFromDS, w)
		}
	}
}

// A table without side, expected prices, opened_at and fees: the fields that
// need them are null, with one info notice naming the missing columns; every
// other number is still there and right.
func TestStatsNullsFieldsWhoseColumnsAreMissing(t *testing.T) {
	const src, bare = "trades_fields_src", "trades_bare"
	makeTradeTable(t, src, fieldTrades(37), tableOpts{})
	if _, err := pg.Psql("trading", fmt.Sprintf(`DROP TABLE IF EXISTS %[2]s;
	  CREATE TABLE %[2]s AS SELECT trade_id, account, strategy, symbol, qty, entry_price, exit_price, closed_at, realized_pnl FROM %[1]s;
	  ALTER TABLE %[2]s OWNER TO grafana; ANALYZE %[2]s;`, src, bare)); err != nil {
		t.Fatal(err)
	}
	all := loadTrades(t, pg, src)
	p := harness.Launch(t, harness.Options{})
	q := refQ()
	before, in := split(q, all)
	want := refAllStats(q, before[""], in[""], time.Now())
	missing := map[string]bool{"avg_slippage_bps": true, "total_fees": true, "avg_holding_time": true,
		"avg_holding_time_win": true, "avg_holding_time_loss": true, "long_trades": true, "short_trades": true,
		"long_win_rate": true, "short_win_rate": true, "exposure": true}
	resp := p.Query(t, tableCtx(bare), query("S", "stats", nil, 100), query("V", "stats",
		map[string]any{"metrics": []string{"sharpe", "volume", "max_drawdown"}}, 100))
	f := mustOK(t, resp["S"])[0]
	got := statsFrame(t, f)[""]
	for k, w := range want {
		if missing[k] {
			w = math.NaN()
		}
		if !close(got[k], w) {
			t.Errorf("%s = %v, want %v", k, got[k], w)
		}
	}
	if f.Meta == nil || len(f.Meta.Notices) != 1 || f.Meta.Notices[0].Severity != data.NoticeSeverityInfo {
		t.Fatalf("want one info notice, got %+v", f.Meta)
	}
	text := f.Meta.Notices[0].Text
	for _, c := range []string{"side", "expected_entry_price", "expected_exit_price", "opened_at", "fees", "exposure", "avg_slippage_bps"} {
		if !strings.Contains(text, c) {
			t.Errorf("notice %q does not name %s", text, c)
		}
	}
	for _, c := range []string{"qty", "entry_price", "exit_price", "volume", "sharpe"} {
		if regexp.MustCompile(`\b` + c + `\b`).MatchString(text) {
			t.Errorf("notice %q names %q, which is not missing or not null", text, c)
		}
	}
	// fields that need nothing missing: no notice
	v := mustOK(t, resp["V"])[0]
	if v.Meta != nil && len(v.Meta.Notices) != 0 {
		t.Errorf("sharpe, volume, max_drawdown: unexpected notice %v", v.Meta.Notices)
	}
	if gv := statsFrame(t, v)[""]; !close(gv["volume"], want["volume"]) || !close(gv["sharpe"], want["sharpe"]) {
		t.Errorf("volume %v sharpe %v, want %v %v", gv["volume"], gv["sharpe"], want["volume"], want["sharpe"])
	}
	t.Logf("notice: %s", text)
}

// Stats reads the trades of the range once, in order (issue 11): one COPY
// of the ordered read, and the leg columns in a second, unordered read —
// no per-day or slippage aggregate, no cursor. A panel asking only for
// numbers of the ordered read gets no legs read and no optional column.
func TestStatsReadsTheTradesOnceInOrder(t *testing.T) {
	p := harness.Launch(t, harness.Options{})
	resp := p.Query(t, pctx(nil), query("S", "stats", nil, 100),
		query("D", "stats", map[string]any{"metrics": []string{"max_drawdown", "sharpe", "win_rate"}}, 100))
	sqlOf := func(ref string) string {
		f := mustOK(t, resp[ref])[0]
		return f.Meta.ExecutedQueryString
	}
	full := sqlOf("S")
	if c := strings.Count(full, "COPY ("); c != 2 {
		t.Errorf("full stats: %d COPY reads, want the ordered one and the legs:\n%s", c, full)
	}
	if strings.Count(full, "ORDER BY") != 2 { // the days list and the ordered read
		t.Errorf("full stats: want one ordered read of the trades:\n%s", full)
	}
	if strings.Contains(full, "GROUP BY") || strings.Contains(full, "CURSOR") {
		t.Errorf("full stats still aggregates or uses a cursor:\n%s", full)
	}
	lean := sqlOf("D")
	if strings.Count(lean, "COPY (") != 1 || strings.Contains(lean, `"opened_at"`) || strings.Contains(lean, `"qty"`) {
		t.Errorf("max_drawdown/sharpe/win_rate: want one COPY of closed_at and P&L only:\n%s", lean)
	}
}

// Day boundaries come from Postgres as instants. In America/Havana clocks
// fall back from 01:00 to 00:00 on 2024-11-03: local midnight happens twice,
// and a trade at the first 00:30 belongs to 3 November.
func TestStatsDaysAcrossAnAmbiguousMidnight(t *testing.T) {
	const table = "trades_havana"
	loc, err := time.LoadLocation("America/Havana")
	if err != nil {
		t.Skip(err)
	}
	f0 := time.Date(2024, 10, 30, 12, 0, 0, 0, time.UTC)
	t0 := time.Date(2024, 11, 6, 12, 0, 0, 0, time.UTC)
	var rows []fixtureRow
	add := func(at time.Time, pnl float64) {
		rows = append(rows, fixtureRow{trade: trade{id: int64(len(rows) + 1), closed: at, strategy: "s", symbol: "X",
			account: "a", side: "long", qty: 1, entry: 10, exit: 11, expEntry: nan(), expExit: nan(), pnl: pnl},
			opened: at.Add(-time.Hour)})
	}
	for d := 0; d < 7; d++ {
		add(f0.Add(time.Duration(d)*24*time.Hour+3*time.Hour), float64(10*d-30))
	}
	add(time.Date(2024, 11, 3, 4, 30, 0, 0, time.UTC), 5000) // 00:30 local, the first of the two
	add(time.Date(2024, 11, 3, 5, 30, 0, 0, time.UTC), 1)    // 00:30 local, the second
	add(time.Date(2024, 11, 3, 3, 30, 0, 0, time.UTC), -7)   // 23:30 on 2 November
	makeTradeTable(t, table, rows, tableOpts{})
	all := loadTrades(t, pg, table)
	p := harness.Launch(t, harness.Options{})
	q := refQuery{from: f0, to: t0, capital: 100000, tz: loc, annual: 252}
	before, in := split(q, all)
	want := refAllStats(q, before[""], in[""], time.Now())
	qq := query("S", "stats", map[string]any{"timezone": "America/Havana"}, 100)
	qq.TimeRange.FromEpochMS, qq.TimeRange.ToEpochMS = f0.UnixMilli(), t0.UnixMilli()
	got := statsFrame(t, mustOK(t, p.Query(t, tableCtx(table), qq)["S"])[0])[""]
	for _, k := range []string{"best_day", "worst_day", "sharpe", "sortino", "annual_volatility"} {
		if !close(got[k], want[k]) {
			t.Errorf("%s = %v, reference %v", k, got[k], want[k])
		}
	}
	if want["best_day"] != 5000+1+10 {
		t.Errorf("fixture: best day %v, want 3 November's three trades (5011)", want["best_day"])
	}
}
