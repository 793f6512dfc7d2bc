package analytics

// The dimensions side, exchange, entry_tag and exit_reason (issue 11, "More
// dimensions"): groupBy on each puts every group's own numbers under its
// label (checkPerGroup, the NULL entry tags of the demo data as the
// "(none)" group), the filters sides/exchanges/entryTags/exitReasons keep
// exactly the trades the reference keeps, the values resources list the
// distinct values, the `kinds` resource is the registry, and a table
// without the optional columns (or with freqtrade's enter_tag) behaves as
// the mapping says.

import (
	"encoding/json"
	"fmt"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/backend"
	"github.com/grafana/grafana-plugin-sdk-go/data"
	"github.com/grafana/grafana-plugin-sdk-go/genproto/pluginv2"

	"github.com/algotrading/pnl-datasource/tests/harness"
	"github.com/algotrading/pnl-datasource/tests/pgfix"
)

var newDims = []string{"side", "exchange", "entry_tag", "exit_reason"}

// The filter key of the query JSON and the values resource of each dimension.
var dimKeys = map[string]struct{ filter, resource string }{
	"side": {"sides", "sides"}, "exchange": {"exchanges", "exchanges"},
	"entry_tag": {"entryTags", "entry_tags"}, "exit_reason": {"exitReasons", "exit_reasons"},
}

func TestNewDimensionsGroupEachGroupsOwnNumbers(t *testing.T) {
	all := allTrades(t)
	p := harness.Launch(t, harness.Options{})
	today := time.Now()
	for _, by := range newDims {
		t.Run(by, func(t *testing.T) {
			q := refQ()
			q.group = by
			// Each group is its own portfolio: the stop_loss trades alone would
			// take 100,000 below zero, where daily returns have no meaning
			// (analytics.md); these tests are about labels, not that convention.
			q.capital = 1e7
			before, in := split(q, all)
			groups := sortedKeys(in)
			if len(groups) < 2 {
				t.Fatalf("demo data: %s has groups %v in the range", by, groups)
			}
			if by == "entry_tag" && len(in["(none)"]) == 0 {
				t.Fatalf("demo data: no trade without an entry tag, the NULL group goes untested")
			}
			e0 := map[string]float64{}
			stats := map[string]refStats{}
			for _, g := range groups {
				e0[g] = q.capital + sumPnl(before[g])
				stats[g] = refComputeStats(q, before[g], in[g], today)
			}
			for _, k := range []string{"total_pnl", "equity", "max_drawdown"} {
				distinctBy(t, k, groups, func(g string) float64 { return stats[g][k] })
			}
			body := map[string]any{"groupBy": by, "initialCapital": q.capital}
			resp := p.Query(t, pctx(nil),
				query("equity", "equity", body, 100000), query("drawdown", "drawdown", body, 100000),
				query("daily_pnl", "daily_pnl", body, 1000), query("trade_count", "trade_count", body, 50),
				query("stats", "stats", body, 100))
			n := 0
			for _, c := range groupCases(q, e0, in, stats, "equity", "drawdown", "daily_pnl", "trade_count") {
				frames := mustOK(t, resp[c.kind])
				if len(frames) != len(groups) {
					t.Errorf("%s by %s: %d frames, want one per group (%d)", c.kind, by, len(frames), len(groups))
				}
				n += checkPerGroup(t, c.kind+" by "+by, frames, by, c.field, groups,
					func(g string, f labelledField) error { return c.ref(g)(f) })
			}
			sf := mustOK(t, resp["stats"])
			if len(sf) != 1 || sf[0].Meta == nil || sf[0].Meta.Type != data.FrameTypeNumericWide {
				t.Fatalf("stats by %s: want one numeric-wide frame, got %d", by, len(sf))
			}
			metrics := sortedKeys(stats[groups[0]])
			for _, m := range metrics {
				n += checkPerGroup(t, "stats "+m+" by "+by, sf, by, m, groups,
					func(g string, f labelledField) error { return refScalarCheck(stats[g][m])(f) })
			}
			if want := len(groups) * (4 + len(metrics)); n != want {
				t.Errorf("by %s: %d of %d labelled fields carry their own group's numbers", by, n, want)
			}
			t.Logf("by %s: groups %v, %d labelled fields checked against per-group references", by, groups, n)
		})
	}
}

func TestNewDimensionFiltersMatchReference(t *testing.T) {
	all := allTrades(t)
	p := harness.Launch(t, harness.Options{})
	for _, tc := range []struct {
		name    string
		filters map[string][]string
		extra   map[string]any // JSON-only entries (e.g. an unexpanded All)
		group   string
	}{
		{"sides", map[string][]string{"side": {"short"}}, nil, ""},
		{"exchanges", map[string][]string{"exchange": {"binance", "oanda"}}, nil, ""},
		{"entryTags", map[string][]string{"entry_tag": {"ema_cross", "spread_z3", "quote_bid"}}, nil, ""},
		{"exitReasons", map[string][]string{"exit_reason": {"roi", "trailing_stop_loss"}}, nil, ""},
		{"combined, grouped by exit reason", map[string][]string{"side": {"long"}, "exchange": {"nasdaq", "binance"},
			"entry_tag": {"macd_up", "bb_lower", "range_break", "volume_spike"}, "symbol": {"AAPL", "ETHUSDT", "SOLUSDT"}},
			nil, "exit_reason"},
		{"an unexpanded All is no filter", nil, map[string]any{"exitReasons": []string{"roi", "$__all"}}, "side"},
		{"no match", map[string][]string{"entry_tag": {"no such tag"}}, nil, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			q := refQ()
			q.filters = tc.filters
			q.group = tc.group
			body := map[string]any{}
			for dim, list := range tc.filters {
				key := map[string]string{"symbol": "symbols"}[dim]
				if k, ok := dimKeys[dim]; ok {
					key = k.filter
				}
				body[key] = list
			}
			for k, v := range tc.extra {
				body[k] = v
			}
			if tc.group != "" {
				body["groupBy"] = tc.group
			}
			before, in := split(q, all)
			total := 0
			for _, g := range sortedKeys(in) {
				total += len(in[g])
			}
			if tc.name != "no match" && (total == 0 || total == len(all)) {
				t.Fatalf("fixture: the filter keeps %d of %d trades", total, len(all))
			}
			resp := p.Query(t, pctx(nil), query("S", "stats", body, 100), query("E", "equity", body, 100000))
			sf := mustOK(t, resp["S"])
			if !strings.Contains(sf[0].Meta.ExecutedQueryString, "ANY(") && len(tc.filters) > 0 {
				t.Errorf("executed SQL has no list filter: %s", sf[0].Meta.ExecutedQueryString)
			}
			n, groups := checkStatsAndEquity(t, q, before, in, sf[0], resp["E"])
			t.Logf("%d of %d trades kept; %d stat values checked in %d group(s)", total, len(all), n, len(groups))
		})
	}
}

// checkStatsAndEquity compares a stats frame with refComputeStats for
// every group of in and, when q is not grouped, the equity response with
// the reference curve. It returns how many stat values it compared and the
// groups (just "" for an ungrouped query).
func checkStatsAndEquity(t *testing.T, q refQuery, before, in map[string][]trade, stats *data.Frame,
	equity backend.DataResponse) (int, []string) {
	t.Helper()
	got := statsFrame(t, stats)
	groups := sortedKeys(in)
	if len(groups) == 0 {
		groups = []string{""} // an ungrouped query answers with its one group
	}
	if len(got) != len(groups) {
		t.Fatalf("%d groups in the stats frame (%v), reference %v", len(got), sortedKeys(got), groups)
	}
	n := checkGroupStats(t, got, groups, func(g string) refStats { return refComputeStats(q, before[g], in[g], time.Now()) })
	if q.group == "" {
		e0 := q.capital + sumPnl(before[""])
		if err := refCurveCheck(e0, in[""], func(e float64) float64 { return e })(
			labelledFromSeries(t, mustOK(t, equity)[0])); err != nil {
			t.Errorf("equity: %v", err)
		}
	}
	return n, groups
}

// checkGroupStats compares got (statsFrame's values by group) with want(g)
// for every group and returns how many values it compared.
func checkGroupStats(t *testing.T, got map[string]map[string]float64, groups []string, want func(g string) refStats) int {
	t.Helper()
	n := 0
	for _, g := range groups {
		for k, w := range want(g) {
			if v, ok := got[g][k]; !ok || !close(v, w) {
				t.Errorf("group %q: %s = %v, reference %v", g, k, v, w)
			}
			n++
		}
	}
	return n
}

func labelledFromSeries(t *testing.T, f *data.Frame) labelledField {
	ts, vs := series(t, f)
	return labelledField{frame: f, field: f.Fields[1], times: ts, values: vs}
}

func TestNewDimensionFilterErrorsNameTheField(t *testing.T) {
	allTrades(t)
	p := harness.Launch(t, harness.Options{})
	long := make([]string, 1001)
	for i := range long {
		long[i] = fmt.Sprintf("tag%d", i)
	}
	js := func(v any) string { b, _ := json.Marshal(v); return string(b) }
	for _, c := range []struct{ body, want string }{
		{`{"queryType":"stats","entryTags":` + js(long) + `}`, "entryTags: 1001 entries, at most 1000 allowed"},
		{`{"queryType":"stats","exitReasons":"roi"}`, "exitReasons: must be a list of strings"},
		{`{"queryType":"stats","sides":[1]}`, "sides[0]: must be a string"},
		{`{"queryType":"stats","exchanges":[{"a":1}]}`, "exchanges[0]: must be a string"},
		{`{"queryType":"equity","groupBy":"venue"}`, "groupBy: must be one of none, strategy, symbol, account, side, exchange, entry_tag, exit_reason"},
	} {
		r := p.Query(t, pctx(nil), rawQuery("A", c.body))["A"]
		if r.Status != 400 || r.Error == nil || !strings.HasPrefix(r.Error.Error(), c.want) {
			t.Errorf("%.60s…: status %d error %v; want 400 %q", c.body, r.Status, r.Error, c.want)
		}
	}
	// 1000 entries are within the limit and bound as one parameter
	r := p.Query(t, pctx(nil), query("A", "stats", map[string]any{"entryTags": long[:1000], "metrics": []string{"trade_count"}}, 100))["A"]
	if st := statsFrame(t, mustOK(t, r)[0])[""]; st["trade_count"] != 0 {
		t.Errorf("1000 unknown tags: %v trades", st["trade_count"])
	}
}

func TestNewDimensionResources(t *testing.T) {
	allTrades(t)
	p := harness.Launch(t, harness.Options{})
	for _, dim := range newDims {
		col := dim
		want, _ := pg.Psql("trading", "SELECT coalesce(string_agg(DISTINCT "+col+"::text, ',' ORDER BY "+col+"::text), '') FROM trades WHERE "+col+" IS NOT NULL")
		want = strings.TrimSpace(want)
		code, body := p.Get(t, pctx(nil), dimKeys[dim].resource)
		var got []string
		if code != 200 || json.Unmarshal([]byte(body), &got) != nil || strings.Join(got, ",") != want || len(got) < 2 {
			t.Errorf("%s: %d %s; want [%s]", dimKeys[dim].resource, code, body, want)
		}
	}
	code, body := p.Get(t, pctx(nil), "exit_reasons?q=STOP&limit=5")
	if code != 200 || body != `["stop_loss","trailing_stop_loss"]` {
		t.Errorf("exit_reasons?q=STOP: %d %s", code, body)
	}
	code, body = p.Get(t, pctx(nil), "entry_tags?q=_&limit=1")
	if var1 := []string{}; code != 200 || json.Unmarshal([]byte(body), &var1) != nil || len(var1) != 1 {
		t.Errorf("entry_tags?limit=1: %d %s", code, body)
	}
	code, body = p.Get(t, pctx(nil), "venues")
	if code != 404 || !strings.Contains(body, "entry_tags, exit_reasons, schema, kinds") {
		t.Errorf("unknown resource: %d %s", code, body)
	}
}

// TestKindsResourceIsTheRegistry: GET kinds lists every kind the plugin
// names in its unknown-queryType error, each with a description and its
// options, and needs neither a data source nor Postgres.
func TestKindsResourceIsTheRegistry(t *testing.T) {
	p := harness.Launch(t, harness.Options{})
	res := p.Query(t, &pluginv2.PluginContext{}, rawQuery("A", `{"queryType":"nope"}`))["A"]
	m := regexp.MustCompile(`expected one of ([a-z_, ]+)\)`).FindStringSubmatch(res.Error.Error())
	if m == nil {
		t.Fatalf("unknown queryType error %q does not list the kinds", res.Error)
	}
	registry := strings.Split(m[1], ", ")
	for _, ctx := range []*pluginv2.PluginContext{{}, pctx(nil)} {
		code, body := p.Get(t, ctx, "kinds")
		var kinds []struct {
			Name, Description, FrameType string
			Options                      []string
		}
		if code != 200 || json.Unmarshal([]byte(body), &kinds) != nil {
			t.Fatalf("kinds: %d %s", code, body)
		}
		var names []string
		for _, k := range kinds {
			names = append(names, k.Name)
			if k.Description == "" || k.FrameType == "" {
				t.Errorf("kind %s: description %q frameType %q", k.Name, k.Description, k.FrameType)
			}
			opts := strings.Join(k.Options, ",")
			switch k.Name {
			case "trades":
				if !strings.Contains(opts, "filters") || !strings.Contains(opts, "limit") || strings.Contains(opts, "groupBy") {
					t.Errorf("trades options %v", k.Options)
				}
			case "stats":
				if !strings.Contains(opts, "metrics") || !strings.Contains(opts, "groupBy") {
					t.Errorf("stats options %v", k.Options)
				}
			}
		}
		if strings.Join(names, ",") != strings.Join(registry, ",") {
			t.Errorf("kinds resource lists %v; the registry has %v", names, registry)
		}
	}
}

// TestOptionalDimensionColumns: a table without entry_tag/exit_reason
// answers every query that does not use them, warns in CheckHealth, and a
// groupBy on a missing one is a 400 that points at the mapping; freqtrade's
// enter_tag column is read through the mapping.
func TestOptionalDimensionColumns(t *testing.T) {
	all := allTrades(t)
	for _, sql := range []string{
		"DROP TABLE IF EXISTS trades_nodims, trades_ft",
		"CREATE TABLE trades_nodims AS SELECT * FROM trades",
		"ALTER TABLE trades_nodims DROP COLUMN entry_tag, DROP COLUMN exit_reason",
		"CREATE TABLE trades_ft AS SELECT * FROM trades",
		"ALTER TABLE trades_ft RENAME COLUMN entry_tag TO enter_tag",
		"ALTER TABLE trades_nodims OWNER TO grafana", "ALTER TABLE trades_ft OWNER TO grafana",
	} {
		if _, err := pg.Psql("trading", sql); err != nil {
			t.Fatal(err)
		}
	}
	p := harness.Launch(t, harness.Options{})
	nodims := tableCtx("trades_nodims")
	h, _ := health(t, p, nodims)
	if h.Status != pluginv2.CheckHealthResponse_OK || !strings.Contains(h.Message, "Optional columns not found") ||
		!strings.Contains(h.Message, "entry_tag, exit_reason") {
		t.Errorf("health without the optional columns: %v %q", h.Status, h.Message)
	}
	resp := p.Query(t, nodims, query("S", "stats", map[string]any{"groupBy": "side", "sides": []string{"long"}}, 100),
		query("T", "stats", map[string]any{"groupBy": "entry_tag"}, 100))
	mustOK(t, resp["S"])
	if r := resp["T"]; r.Status != 400 || r.Error == nil || !strings.Contains(r.Error.Error(), "column mapping") {
		t.Errorf("groupBy entry_tag without the column: %d %v", r.Status, r.Error)
	}

	// freqtrade's name, mapped
	ft := harness.PluginContext("trades_ft-ds", pg.JSONData(map[string]any{"table": "trades_ft",
		"columns": map[string]any{"entry_tag": "enter_tag"}}), pgfix.Secure(), 1)
	h, _ = health(t, p, ft)
	if h.Status != pluginv2.CheckHealthResponse_OK || strings.Contains(h.Message, "Optional columns not found") {
		t.Errorf("health with enter_tag mapped: %v %q", h.Status, h.Message)
	}
	q := refQ()
	q.group = "entry_tag"
	q.filters = map[string][]string{"entry_tag": {"rsi_oversold", "spread_z2"}}
	before, in := split(q, all)
	resp = p.Query(t, ft, query("S", "stats", map[string]any{"groupBy": "entry_tag", "entryTags": q.filters["entry_tag"],
		"metrics": []string{"total_pnl", "trade_count"}}, 100))
	sf := mustOK(t, resp["S"])
	if !strings.Contains(sf[0].Meta.ExecutedQueryString, `"enter_tag"::text AS g`) {
		t.Errorf("executed SQL does not group by the mapped column: %s", sf[0].Meta.ExecutedQueryString)
	}
	groups := sortedKeys(in)
	sort.Strings(groups)
	if len(groups) != 2 {
		t.Fatalf("reference groups %v", groups)
	}
	for _, m := range []string{"total_pnl", "trade_count"} {
		checkPerGroup(t, "stats "+m+" by enter_tag", sf, "entry_tag", m, groups, func(g string, f labelledField) error {
			return refScalarCheck(refComputeStats(q, before[g], in[g], time.Now())[m])(f)
		})
	}
}
