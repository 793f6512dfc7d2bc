package analytics

// Ad-hoc filters (issue 13 item 3): the query JSON's adhocFilters, as the
// frontend copies them from a dashboard's ad-hoc variable and alert rules
// store them, keep exactly the trades the reference keeps — ANDed with each
// other and with the query's own lists; "!=" keeps NULL values, "(none)"
// selects or excludes them, sides are normalised, regexes match the whole
// value — and hostile values are bound, never SQL: they match nothing or
// get a clear 400, never a crash. The tag-keys resource lists the mapped
// dimensions.

import (
	"encoding/json"
	"regexp"
	"strings"
	"testing"

	"github.com/algotrading/pnl-datasource/tests/harness"
	"github.com/algotrading/pnl-datasource/tests/pgfix"
)

type adhocFilter struct{ key, op, value string }

// matchAdhoc: every ad-hoc filter holds (docs/query-model.md, `adhocFilters`).
func (q refQuery) matchAdhoc(tr trade) bool {
	for _, f := range q.adhoc {
		v, ok := dimOf(tr, f.key)
		val := f.value
		if f.key == "side" && (f.op == "=" || f.op == "!=") {
			val = normSide(val, "")
		}
		var hit bool
		switch {
		case f.op == "=~" || f.op == "!~":
			hit = ok && regexp.MustCompile("^(?:"+f.value+")$").MatchString(v)
		case f.value == "(none)":
			hit = !ok
		default:
			hit = ok && v == val
		}
		if hit != (f.op == "=" || f.op == "=~") {
			return false
		}
	}
	return true
}

func adhocJSON(fs []adhocFilter) []map[string]string {
	out := []map[string]string{}
	for _, f := range fs {
		out = append(out, map[string]string{"key": f.key, "operator": f.op, "value": f.value})
	}
	return out
}

func TestAdhocFiltersMatchReference(t *testing.T) {
	all := allTrades(t)
	p := harness.Launch(t, harness.Options{})
	for _, tc := range []struct {
		name    string
		adhoc   []adhocFilter
		filters map[string][]string // the query's own lists
		group   string
		empty   bool // nothing may match
	}{
		{"strategy =", []adhocFilter{{"strategy", "=", "momentum"}}, nil, "", false},
		{"strategy != and symbol =", []adhocFilter{{"strategy", "!=", "momentum"}, {"symbol", "=", "ETHUSDT"}}, nil, "", false},
		{"!= keeps the NULL entry tags", []adhocFilter{{"entry_tag", "!=", "ema_cross"}}, nil, "entry_tag", false},
		{"= (none) selects NULLs, != (none) excludes them",
			[]adhocFilter{{"entry_tag", "=", "(none)"}, {"exit_reason", "!=", "(none)"}}, nil, "exit_reason", false},
		{"side = buy is long, with the query's exchanges list", []adhocFilter{{"side", "=", "BUY"}},
			map[string][]string{"exchange": {"binance", "oanda"}}, "strategy", false},
		{"side != sell", []adhocFilter{{"side", "!=", "sell"}}, nil, "", false},
		{"with the query's strategies list (AND)", []adhocFilter{{"strategy", "!=", "breakout"}, {"exchange", "!=", "nasdaq"}},
			map[string][]string{"strategy": {"breakout", "momentum", "stat_arb"}}, "symbol", false},
		{"two = on one key: AND, nothing", []adhocFilter{{"strategy", "=", "momentum"}, {"strategy", "=", "breakout"}}, nil, "", true},
		{"the same = twice", []adhocFilter{{"strategy", "=", "momentum"}, {"strategy", "=", "momentum"}}, nil, "", false},
		{"regex", []adhocFilter{{"symbol", "=~", "ETH.*|SOL.*"}, {"strategy", "!~", "mom.*|break"}}, nil, "symbol", false},
		{"regex is anchored", []adhocFilter{{"symbol", "=~", "USDT"}}, nil, "", true},
		{"!~ keeps NULLs", []adhocFilter{{"entry_tag", "!~", "ema_.*"}}, nil, "entry_tag", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			q := refQ()
			q.capital = 1e7
			q.adhoc = tc.adhoc
			q.filters = tc.filters
			q.group = tc.group
			body := map[string]any{"adhocFilters": adhocJSON(tc.adhoc), "initialCapital": q.capital}
			for dim, list := range tc.filters {
				key := map[string]string{"strategy": "strategies", "symbol": "symbols"}[dim]
				if k, ok := dimKeys[dim]; ok {
					key = k.filter
				}
				body[key] = list
			}
			if tc.group != "" {
				body["groupBy"] = tc.group
			}
			before, in := split(q, all)
			total := 0
			for _, g := range sortedKeys(in) {
				total += len(in[g])
			}
			if tc.empty != (total == 0) || total == len(all) {
				t.Fatalf("fixture: the filters keep %d of %d trades", total, len(all))
			}
			if tc.name == "!= keeps the NULL entry tags" || tc.name == "!~ keeps NULLs" {
				if len(in["(none)"]) == 0 {
					t.Fatalf("fixture: no NULL entry tag kept")
				}
			}
			resp := p.Query(t, pctx(nil), query("S", "stats", body, 100), query("E", "equity", body, 100000))
			sf := mustOK(t, resp["S"])
			n, groups := checkStatsAndEquity(t, q, before, in, sf[0], resp["E"])
			bound := false
			for _, f := range tc.adhoc {
				bound = bound || f.value != "(none)"
			}
			if bound && !strings.Contains(sf[0].Meta.ExecutedQueryString, "::text[])") {
				t.Errorf("executed SQL binds no ad-hoc array: %s", sf[0].Meta.ExecutedQueryString)
			}
			t.Logf("%d of %d trades kept; %d stat values checked in %d group(s)", total, len(all), n, len(groups))
		})
	}
}

// Hostile values are bound parameters: they match nothing (200, no trades)
// or get a 400 naming the entry; the table is untouched.
func TestAdhocHostileValues(t *testing.T) {
	allTrades(t)
	p := harness.Launch(t, harness.Options{})
	before := count(t, "trades")
	long := strings.Repeat("'\\\"", 333) + "x" // 1000 bytes
	for _, v := range []string{"x'); DROP TABLE trades; --", `\`, `\\'`, `"`, `{"a","b"}`, `NULL`, "", "ünïcødé ✓",
		"$1", "%", "_", long} {
		for _, op := range []string{"=", "!="} {
			js, _ := json.Marshal(map[string]any{"queryType": "stats", "metrics": []string{"trade_count"},
				"adhocFilters": []map[string]string{{"key": "strategy", "operator": op, "value": v}}})
			r := p.Query(t, pctx(nil), rawQuery("A", string(js)))["A"]
			if r.Error != nil || r.Status != 200 {
				t.Fatalf("%q %s: status %d %v", v, op, r.Status, r.Error)
			}
			st := statsFrame(t, r.Frames[0])[""]
			if want := map[string]float64{"=": 0}; op == "=" && st["trade_count"] != want["="] {
				t.Errorf("strategy = %q matched %v trades", v, st["trade_count"])
			}
			if op == "!=" && st["trade_count"] == 0 {
				t.Errorf("strategy != %q matched nothing", v)
			}
		}
	}
	for _, c := range []struct{ js, status, msg string }{
		{`{"queryType":"stats","adhocFilters":[{"key":"strategy","operator":"=","value":"` + strings.Repeat("a", 1001) + `"}]}`,
			"400", "adhocFilters[0].value: 1001 bytes, at most 1000 allowed"},
		{`{"queryType":"stats","adhocFilters":[{"key":"strategy","operator":"=","value":"a\u0000b"}]}`, "400", "query JSON"},
		{"{\"queryType\":\"stats\",\"adhocFilters\":[{\"key\":\"strategy\",\"operator\":\"=\",\"value\":\"\xff\xfe\"}]}", "400", "query JSON"},
		{`{"queryType":"stats","adhocFilters":[{"key":"strategy'; --","operator":"=","value":"a"}]}`, "400",
			`adhocFilters[0].key: unknown key "strategy'; --" (expected one of strategy, symbol, account, side, exchange, entry_tag, exit_reason)`},
		{`{"queryType":"stats","adhocFilters":[{"key":"strategy","operator":"=|","value":"a","values":["a","b"]}]}`, "400",
			`adhocFilters[0].operator: unsupported operator "=|" (supported: =, !=, =~, !~)`},
		{`{"queryType":"stats","adhocFilters":[{"key":"strategy","operator":"=~","value":"` + strings.Repeat("a", 257) + `"}]}`,
			"400", "adhocFilters[0].value: a regular expression of 257 bytes, at most 256 allowed"},
		// an invalid pattern is Postgres' 400 (SQLSTATE 2201B), not a 500
		{`{"queryType":"stats","adhocFilters":[{"key":"strategy","operator":"=~","value":"(a"}]}`, "400", "invalid regular expression"},
		{`{"queryType":"stats","adhocFilters":[{"key":"strategy","operator":"!~","value":"[z-a]"}]}`, "400", "invalid regular expression"},
	} {
		r := p.Query(t, pctx(nil), rawQuery("A", c.js))["A"]
		if r.Error == nil || r.Status != 400 || !strings.Contains(r.Error.Error(), c.msg) {
			t.Errorf("%.80s: status %d %v, want 400 %q", c.js, r.Status, r.Error, c.msg)
		}
	}
	// a hostile regex is slow at worst, bounded by the length limit and the statement timeout
	js := `{"queryType":"stats","metrics":["trade_count"],"adhocFilters":[{"key":"symbol","operator":"=~","value":"(((a*)*)*)*b"}]}`
	r := p.Query(t, pctx(nil), rawQuery("A", js))["A"]
	if r.Error != nil && r.Status != 400 && r.Status != 504 {
		t.Errorf("nested regex: status %d %v", r.Status, r.Error)
	}
	if after := count(t, "trades"); after != before {
		t.Fatalf("trades table changed: %s → %s", before, after)
	}
}

// A key mapped to null is a 400 naming the mapping; tag-keys lists only the mapped dimensions.
func TestAdhocKeysFollowTheMapping(t *testing.T) {
	allTrades(t)
	p := harness.Launch(t, harness.Options{})
	// its own uid: the plugin keeps one instance per uid and version
	noAccount := harness.PluginContext("trading-ds-no-account", pg.JSONData(map[string]any{"columns": map[string]any{"account": nil}}),
		pgfix.Secure(), dsVersion)
	js := `{"queryType":"equity","adhocFilters":[{"key":"symbol","operator":"=","value":"AAPL"},{"key":"account","operator":"!=","value":"a"}]}`
	r := p.Query(t, noAccount, rawQuery("A", js))["A"]
	if r.Status != 400 || r.Error == nil ||
		r.Error.Error() != "adhocFilters[1].key: account is not mapped (jsonData.columns.account is null)" {
		t.Errorf("unmapped key: status %d %v", r.Status, r.Error)
	}
	for _, c := range []struct {
		ctx  string
		keys []string
	}{
		{"default", []string{"strategy", "symbol", "account", "side", "exchange", "entry_tag", "exit_reason"}},
		{"no account", []string{"strategy", "symbol", "side", "exchange", "entry_tag", "exit_reason"}},
	} {
		ctx := pctx(nil)
		if c.ctx == "no account" {
			ctx = noAccount
		}
		code, body := p.Get(t, ctx, "tag-keys")
		var got []struct{ Text, Resource string }
		if code != 200 || json.Unmarshal([]byte(body), &got) != nil {
			t.Fatalf("%s: tag-keys %d %s", c.ctx, code, body)
		}
		var names []string
		for _, k := range got {
			names = append(names, k.Text)
			if code, vals := p.Get(t, ctx, k.Resource); code != 200 || !strings.HasPrefix(vals, "[") {
				t.Errorf("%s: values of %s (%s): %d %s", c.ctx, k.Text, k.Resource, code, vals)
			}
		}
		if strings.Join(names, ",") != strings.Join(c.keys, ",") {
			t.Errorf("%s: tag keys %v, want %v", c.ctx, names, c.keys)
		}
	}
}
