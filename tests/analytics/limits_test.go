package analytics

// Bounded work and representable time (issue 10, problems 3 and 5): a time
// range outside what nanosecond timestamps hold is a 400 naming timeRange;
// one request answers at most 100 queries; groups × maxDataPoints held in
// memory at once is bounded, with a 400 that says how to narrow the query.

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/genproto/pluginv2"

	"github.com/algotrading/pnl-datasource/tests/harness"
)

func TestTimeRangesBeyondNanosecondTimestampsAre400(t *testing.T) {
	allTrades(t)
	p := harness.Launch(t, harness.Options{})
	now := time.Now()
	y350 := now.AddDate(-350, 0, 0).UnixMilli() // before 1677: int64 ns cannot hold it
	cases := []struct {
		ref      string
		from, to int64
		want     string
	}{
		{"old", y350, now.UnixMilli(), "timeRange"},
		{"future", now.UnixMilli(), 9_300_000_000_000, "timeRange"},
		{"span", -9_000_000_000_000, 9_000_000_000_000, "timeRange: spans more than 292 years"},
	}
	var qs []*pluginv2.DataQuery
	for _, c := range cases {
		for _, kind := range []string{"equity", "daily_pnl", "trade_count", "stats"} {
			js, _ := json.Marshal(map[string]any{"queryType": kind})
			qs = append(qs, &pluginv2.DataQuery{RefId: c.ref + "/" + kind, Json: js, MaxDataPoints: 100, IntervalMS: 1000,
				TimeRange: &pluginv2.TimeRange{FromEpochMS: c.from, ToEpochMS: c.to}})
		}
	}
	c, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	res, err := p.Data.QueryData(c, &pluginv2.QueryDataRequest{PluginContext: pctx(nil), Queries: qs})
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range qs {
		r := res.Responses[q.RefId]
		want := cases[0].want
		for _, cs := range cases {
			if strings.HasPrefix(q.RefId, cs.ref+"/") {
				want = cs.want
			}
		}
		if r.Status != 400 || !strings.Contains(r.Error, want) {
			t.Errorf("%s: %d %q; want 400 naming %q", q.RefId, r.Status, r.Error, want)
		}
	}
	// a wide representable range (1843–2128) still answers, daily series included
	wide := &pluginv2.TimeRange{FromEpochMS: -4_000_000_000_000, ToEpochMS: 5_000_000_000_000}
	for _, kind := range []string{"equity", "daily_pnl", "stats", "trade_count"} {
		r := p.Query(t, pctx(nil), &pluginv2.DataQuery{RefId: "A", Json: []byte(`{"queryType":"` + kind + `"}`),
			MaxDataPoints: 100, IntervalMS: 1000, TimeRange: wide})
		if fr := mustOK(t, r["A"]); len(fr) != 1 {
			t.Errorf("wide range %s: %d frames", kind, len(fr))
		}
	}
}

func TestOneRequestAnswersAtMost100Queries(t *testing.T) {
	allTrades(t)
	p := harness.Launch(t, harness.Options{})
	var qs []*pluginv2.DataQuery
	for i := 0; i < 103; i++ {
		qs = append(qs, query(fmt.Sprintf("q%03d", i), "stats", map[string]any{"metrics": []string{"trade_count"}}, 10))
	}
	resp := p.Query(t, pctx(nil), qs...)
	for i := 0; i < 103; i++ {
		r := resp[fmt.Sprintf("q%03d", i)]
		if i < 100 && (r.Error != nil || r.Status != 200) {
			t.Errorf("query %d: %d %v; want an answer", i, r.Status, r.Error)
		}
		if i >= 100 && (r.Status != 400 || r.Error == nil || !strings.Contains(r.Error.Error(), "too many queries")) {
			t.Errorf("query %d: %d %v; want 400 too many queries", i, r.Status, r.Error)
		}
	}
}

func TestGroupsTimesPointsAreBounded(t *testing.T) {
	var rows []fixtureRow
	for i := 0; i < 300; i++ {
		tm := from.Add(time.Duration(i+1) * time.Hour)
		rows = append(rows, fixtureRow{trade: trade{id: int64(i + 1), closed: tm, strategy: "s",
			symbol: fmt.Sprintf("SYM%02d", i%25), account: "a", side: "long", qty: 1, entry: 100, exit: 101,
			pnl: float64(i%7) - 3, expEntry: nan(), expExit: nan()},
			opened: tm.Add(-time.Minute)})
	}
	makeTradeTable(t, "trades_many_symbols", rows, tableOpts{})
	p := harness.Launch(t, harness.Options{})
	ctx := tableCtx("trades_many_symbols")
	// 25 groups × 100,000 points is past the 2,000,000-point bound: a clear 400
	resp := p.Query(t, ctx, query("big", "equity", map[string]any{"groupBy": "symbol"}, 100000),
		query("ok", "equity", map[string]any{"groupBy": "symbol"}, 1000),
		query("dd", "drawdown", map[string]any{"groupBy": "symbol"}, 100000))
	for _, ref := range []string{"big", "dd"} {
		r := resp[ref]
		if r.Status != 400 || r.Error == nil || !strings.Contains(r.Error.Error(), "groupBy symbol: more than 20 groups") {
			t.Errorf("%s: %d %v; want 400 naming groupBy and the bound", ref, r.Status, r.Error)
		}
	}
	if fr := mustOK(t, resp["ok"]); len(fr) != 25 {
		t.Errorf("25 symbols at maxDataPoints 1000: %d frames", len(fr))
	}
}
