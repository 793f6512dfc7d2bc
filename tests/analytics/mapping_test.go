package analytics

// Issue 12: the column mapping on a table laid out as a bot stores it —
// closed_at as epoch milliseconds in a bigint, the side as buy/sell text in
// mixed case, integer strategy labels, real and integer money columns,
// fees as two columns to add, no account column at all — compared with the
// Go reference reading the same table raw (loadTradesFrom), and the
// CheckHealth advice for tables the mapping does not fit yet.

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/data"
	"github.com/grafana/grafana-plugin-sdk-go/genproto/pluginv2"

	"github.com/algotrading/pnl-datasource/tests/harness"
	"github.com/algotrading/pnl-datasource/tests/pgfix"
)

const mappedTable = "mapped_epoch"

var mappedColumns = map[string]any{
	"trade_id":  "tid",
	"closed_at": map[string]any{"column": "close_ms", "as": "epoch_ms"},
	"opened_at": "open_ts", // timestamp without time zone: UTC
	"strategy":  "strat", "symbol": "sym", "side": "dir", "account": nil,
	"qty": "amount", "entry_price": "px_in", "exit_price": "px_out",
	"expected_entry_price": "px_in_req", "expected_exit_price": "px_out_req",
	"fees": []string{"fee_a", "fee_b"}, "realized_pnl": "pnl",
	"exchange": "venue", "entry_tag": "tag", "exit_reason": "why",
}

var mappedCols = tradeCols{id: "tid", closedUS: "close_ms * 1000", strategy: "strat::text", symbol: "sym",
	account: "''", side: "coalesce(dir,'')", qty: "coalesce(amount::float8,0)", entry: "coalesce(px_in::float8,0)",
	exit: "coalesce(px_out::float8,0)", expEntry: "coalesce(px_in_req::float8::text,'NaN')",
	expExit: "coalesce(px_out_req::float8::text,'NaN')", pnl: "pnl::float8",
	openedUS: "coalesce((extract(epoch FROM open_ts)*1000000)::int8::text, '')",
	// the mapping's sum: NULL counts as 0
	fees:     "(coalesce(fee_a::float8,0) + coalesce(fee_b::float8,0))::text",
	exchange: "coalesce(venue,'')", entryTag: "coalesce(tag,'')", exitReason: "coalesce(why,'')", order: "close_ms, tid"}

func mappedCtx(uid, table string, cols map[string]any) *pluginv2.PluginContext {
	return harness.PluginContext(uid, pg.JSONData(map[string]any{"table": table, "columns": cols}), pgfix.Secure(), 1)
}

// makeMappedTable writes groupTrades' rows into a bot-shaped table.
func makeMappedTable(t *testing.T) {
	t.Helper()
	allTrades(t)
	rows := groupTrades(12)
	strat := map[string]int{"alpha": 1, "beta": 2, "gamma": 3}
	var b strings.Builder
	fmt.Fprintf(&b, "\\set ON_ERROR_STOP on\nBEGIN;\nDROP TABLE IF EXISTS %[1]s;\n"+
		"CREATE TABLE %[1]s (tid bigint PRIMARY KEY, close_ms bigint NOT NULL, open_ts timestamp, strat integer,"+
		" sym varchar(16), dir text, amount real, px_in real, px_out real, px_in_req numeric, px_out_req numeric,"+
		" fee_a integer, fee_b real, pnl real NOT NULL, venue text, tag text, why text);\n"+
		"CREATE INDEX ON %[1]s (close_ms);\nALTER TABLE %[1]s OWNER TO grafana;\n", mappedTable)
	for i, r := range rows {
		if i%500 == 0 {
			if i > 0 {
				b.WriteString(";\n")
			}
			fmt.Fprintf(&b, "INSERT INTO %s VALUES\n", mappedTable)
		} else {
			b.WriteString(",\n")
		}
		id := r.id
		side := map[bool]map[bool]string{true: {true: "BUY", false: "long"}, false: {true: "sell", false: "Short"}}[r.side == "long"][id%2 == 0]
		venue, feeA, feeB := "'binance'", fmt.Sprint(id%7), "0.25"
		if id%5 == 0 {
			venue = "NULL"
		} else if id%2 == 0 {
			venue = "'kraken'"
		}
		if id%11 == 0 {
			feeA = "NULL"
		}
		if id%3 == 0 {
			feeB = "NULL"
		}
		fmt.Fprintf(&b, "(%d, %d, %s, %d, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)", id, r.closed.UnixMilli(),
			strings.TrimSuffix(sqlTime(r.opened), "+00'")+"'", strat[r.strategy], sqlText(r.symbol), sqlText(side),
			sqlNum(r.qty), sqlNum(r.entry), sqlNum(r.exit), sqlNum(r.expEntry), sqlNum(r.expExit), feeA, feeB,
			sqlNum(r.pnl), venue, sqlText([]string{"rsi", "ema"}[id%2]), sqlText([]string{"roi", "stop_loss", "exit_signal"}[id%3]))
	}
	b.WriteString(";\nCOMMIT;\nANALYZE " + mappedTable + ";\n")
	file := filepath.Join(t.TempDir(), mappedTable+".sql")
	if err := os.WriteFile(file, []byte(b.String()), 0644); err != nil {
		t.Fatal(err)
	}
	if err := pg.PsqlFiles("trading", nil, file); err != nil {
		t.Fatal(err)
	}
}

func TestMappedBotTableMatchesReference(t *testing.T) {
	makeMappedTable(t)
	all := loadTradesFrom(t, pg, mappedTable, mappedCols)
	p := harness.Launch(t, harness.Options{})
	ctx := mappedCtx("mapped-epoch-ds", mappedTable, mappedColumns)
	today := time.Now()

	h, _ := health(t, p, ctx)
	if h.Status != pluginv2.CheckHealthResponse_OK || !strings.Contains(h.Message, fmt.Sprintf("%d trades in %s", len(all), mappedTable)) ||
		strings.Contains(h.Message, "not found") || strings.Contains(h.Message, "Advice") {
		t.Errorf("health: %v %q", h.Status, h.Message)
	}

	// every stats field, ungrouped, by side and by integer strategy labels
	for _, tc := range []struct {
		name string
		body map[string]any
		mod  func(*refQuery)
	}{
		{"all", nil, nil},
		{"by side", map[string]any{"groupBy": "side"}, func(q *refQuery) { q.group = "side" }},
		{"by strategy", map[string]any{"groupBy": "strategy"}, func(q *refQuery) { q.group = "strategy" }},
		{"longs of strategy 2", map[string]any{"sides": []string{"long"}, "strategies": []string{"2"}},
			func(q *refQuery) { q.filters = map[string][]string{"side": {"long"}, "strategy": {"2"}} }},
		{"no exchange", map[string]any{"exchanges": []string{"(none)"}, "groupBy": "exchange"},
			func(q *refQuery) { q.group = "exchange"; q.filters = map[string][]string{"exchange": {"(none)"}} }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			q := refQ()
			if tc.mod != nil {
				tc.mod(&q)
			}
			resp := p.Query(t, ctx, query("S", "stats", tc.body, 100), query("E", "equity", tc.body, 100000),
				query("D", "daily_pnl", tc.body, 100000), query("B", "pnl", tc.body, 20), query("L", "slippage", tc.body, 1))
			sf := mustOK(t, resp["S"])
			got := statsFrame(t, sf[0])
			before, in := split(q, all)
			groups := sortedKeys(in)
			if len(got) != len(groups) || len(groups) == 0 {
				t.Fatalf("groups in the frame %v, reference %v", sortedKeys(got), groups)
			}
			ref := map[string]refStats{}
			for _, g := range groups {
				ref[g] = refAllStats(q, before[g], in[g], today)
			}
			n := checkGroupStats(t, got, groups, func(g string) refStats { return ref[g] })
			if tc.mod != nil && q.group != "" {
				e0 := map[string]float64{}
				for _, g := range groups {
					e0[g] = q.capital + sumPnl(before[g])
				}
				checkPerGroup(t, "equity "+tc.name, mustOK(t, resp["E"]), q.group, "equity", groups,
					func(g string, f labelledField) error {
						return refCurveCheck(e0[g], in[g], func(e float64) float64 { return e })(f)
					})
				// Postgres' sums per day and per bucket: a real column summed as float8
				checkPerGroup(t, "daily_pnl "+tc.name, mustOK(t, resp["D"]), q.group, "daily_pnl", groups,
					func(g string, f labelledField) error { return refDailyCheck(q, in[g], true)(f) })
				// slippage sums per side in SQL, the side normalised in C; one bucket = the group's average
				checkPerGroup(t, "slippage "+tc.name, mustOK(t, resp["L"]), q.group, "slippage_bps", groups,
					func(g string, f labelledField) error { return refScalarCheck(ref[g]["avg_slippage_bps"])(f) })
				checkPerGroup(t, "bucketed pnl "+tc.name, mustOK(t, resp["B"]), q.group, "pnl", groups,
					func(g string, f labelledField) error {
						if last := f.values[len(f.values)-1]; !close(last, sumPnl(in[g])) {
							return fmt.Errorf("last bucketed pnl %v, reference %v", last, sumPnl(in[g]))
						}
						return nil
					})
			}
			t.Logf("%d stat values checked in %d group(s)", n, len(groups))
		})
	}

	// the trades table: long/short sides, no account (null, with one notice), trade ids
	resp := p.Query(t, ctx, query("T", "trades", map[string]any{"limit": 50}, 100),
		query("A", "stats", map[string]any{"groupBy": "account"}, 100),
		query("F", "equity", map[string]any{"accounts": []string{"x"}}, 100))
	tf := mustOK(t, resp["T"])[0]
	notices := 0
	for _, n := range tf.Meta.Notices {
		if n.Severity == data.NoticeSeverityInfo && strings.Contains(n.Text, "account (jsonData.columns.account is null)") {
			notices++
		}
	}
	if notices != 1 {
		t.Errorf("trades: notices %+v, want one info notice naming the unmapped account", tf.Meta.Notices)
	}
	fields := map[string]*data.Field{}
	for _, f := range tf.Fields {
		fields[f.Name] = f
	}
	for i := 0; i < tf.Rows(); i++ {
		if _, ok := fields["account"].ConcreteAt(i); ok {
			t.Fatalf("row %d: account not null", i)
		}
		if sd, _ := fields["side"].ConcreteAt(i); sd != "long" && sd != "short" {
			t.Fatalf("row %d: side %v", i, sd)
		}
	}
	// the newest trade of the range, its time from epoch ms
	var newest trade
	for _, tr := range all {
		if tr.closed.After(from) && !tr.closed.After(to) {
			newest = tr
		}
	}
	if ct, _ := fields["closed_at"].ConcreteAt(0); !ct.(time.Time).Equal(newest.closed) {
		t.Errorf("newest closed_at %v, reference %v", ct, newest.closed)
	}
	if id, _ := fields["trade_id"].ConcreteAt(0); id != fmt.Sprint(newest.id) {
		t.Errorf("newest trade_id %v, reference %d", id, newest.id)
	}
	for _, k := range []string{"A", "F"} {
		r := resp[k]
		if r.Status != 400 || r.Error == nil || !strings.Contains(r.Error.Error(), "account is not mapped (jsonData.columns.account is null)") {
			t.Errorf("%s on the unmapped account: %d %v", k, r.Status, r.Error)
		}
	}
	if code, body := p.Get(t, ctx, "accounts"); code != 400 || !strings.Contains(body, "jsonData.columns.account is null") {
		t.Errorf("accounts resource: %d %s", code, body)
	}
	if code, body := p.Get(t, ctx, "sides"); code != 200 || body != `["long","short"]` {
		t.Errorf("sides resource: %d %s", code, body)
	}
	if code, body := p.Get(t, ctx, "strategies"); code != 200 || body != `["1","2","3"]` {
		t.Errorf("strategies resource: %d %s", code, body)
	}
	if newest.id == 0 || math.IsNaN(newest.pnl) {
		t.Fatal("fixture: no trade in range")
	}
}

// CheckHealth names a column whose type the mapping cannot use and says
// what to write; it recognises freqtrade's table under the default mapping
// and advises an index on closed_at when none leads with it.
func TestHealthAdvisesTheMapping(t *testing.T) {
	allTrades(t)
	for _, sql := range []string{
		"DROP TABLE IF EXISTS ft_like, bool_side, noidx",
		"CREATE TABLE ft_like (id int, pair text, close_date timestamp, close_profit_abs float8, is_short bool)",
		"CREATE TABLE bool_side (trade_id int, strategy text, symbol text, is_short bool, closed_at bigint, realized_pnl real)",
		"CREATE TABLE noidx AS SELECT * FROM trades LIMIT 10",
		"ALTER TABLE ft_like OWNER TO grafana", "ALTER TABLE bool_side OWNER TO grafana", "ALTER TABLE noidx OWNER TO grafana",
	} {
		if _, err := pg.Psql("trading", sql); err != nil {
			t.Fatal(err)
		}
	}
	p := harness.Launch(t, harness.Options{})
	h, _ := health(t, p, tableCtx("ft_like"))
	if h.Status == pluginv2.CheckHealthResponse_OK || !strings.Contains(h.Message, "this looks like freqtrade's schema: choose the freqtrade preset") {
		t.Errorf("freqtrade's table, default mapping: %v %q", h.Status, h.Message)
	}
	h, _ = health(t, p, mappedCtx("bool-side-ds", "bool_side", map[string]any{"side": "is_short"}))
	if h.Status == pluginv2.CheckHealthResponse_OK || !strings.Contains(h.Message, `"as": "epoch_ms"`) ||
		!strings.Contains(h.Message, "closed_at") {
		t.Errorf("bigint closed_at without as: %v %q", h.Status, h.Message)
	}
	h, _ = health(t, p, mappedCtx("bool-side2-ds", "bool_side", map[string]any{"side": "is_short",
		"closed_at": map[string]any{"column": "closed_at", "as": "epoch_s"}}))
	if h.Status != pluginv2.CheckHealthResponse_OK ||
		!strings.Contains(h.Message, "`side` → `is_short` is boolean: map it as {\"column\": \"is_short\", \"as\": \"is_short\"}") {
		t.Errorf("boolean side without as: %v %q", h.Status, h.Message)
	}
	h, _ = health(t, p, tableCtx("noidx"))
	if h.Status != pluginv2.CheckHealthResponse_OK || !strings.Contains(h.Message, `CREATE INDEX ON "noidx" ("closed_at")`) {
		t.Errorf("no index on closed_at: %v %q", h.Status, h.Message)
	}
}
