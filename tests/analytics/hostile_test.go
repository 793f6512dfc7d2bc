package analytics

// Hostile input, misconfiguration and faults: clear errors naming the field,
// nothing injected, Postgres restarts survived, timeouts and cancellation
// reaching the backend query, and the password never echoed.

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/backend"
	"github.com/grafana/grafana-plugin-sdk-go/genproto/pluginv2"

	"github.com/algotrading/pnl-datasource/tests/harness"
	"github.com/algotrading/pnl-datasource/tests/pgfix"
)

func rawQuery(refID string, js string) *pluginv2.DataQuery {
	return &pluginv2.DataQuery{RefId: refID, Json: []byte(js), MaxDataPoints: 100, IntervalMS: 1000,
		TimeRange: &pluginv2.TimeRange{FromEpochMS: from.UnixMilli(), ToEpochMS: to.UnixMilli()}}
}

func count(t *testing.T, table string) string {
	out, err := pg.Psql("trading", "SELECT count(*) FROM "+table)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestHostileQueriesGetClearErrorsAndInjectNothing(t *testing.T) {
	allTrades(t)
	p := harness.Launch(t, harness.Options{})
	before := count(t, "trades")
	huge := make([]string, 1001)
	for i := range huge {
		huge[i] = fmt.Sprintf("s%d", i)
	}
	hugeJS, _ := json.Marshal(map[string]any{"queryType": "equity", "strategies": huge})
	okList := huge[:1000]
	okJS, _ := json.Marshal(map[string]any{"queryType": "stats", "strategies": okList, "metrics": []string{"trade_count"}})
	cases := []struct {
		ref, js, want string
		status      int
	}{
		{"inj", `{"queryType":"stats","strategies":["x'); DROP TABLE trades; --"],"metrics":["trade_count"]}`, "", 200},
		{"inj2", `{"queryType":"trades","symbols":["\" OR 1=1 --","\\'"],"accounts":["$$;DROP TABLE trades;$$"]}`, "", 200},
		{"json", `{"queryType":"equity",`, "query JSON", 400},
		{"notobj", `[1,2]`, "must be an object", 400},
		{"type", `{"queryType":42}`, "queryType: must be a string", 400},
		{"unknown", `{"queryType":"sharpe"}`, `unknown query type "sharpe"`, 400},
		{"list", `{"queryType":"equity","strategies":"momentum"}`, "strategies: must be a list", 400},
		{"elem", `{"queryType":"equity","symbols":["BTCUSDT",7]}`, "symbols[1]: must be a string", 400},
		{"group", `{"queryType":"equity","groupBy":"venue"}`, "groupBy: must be one of", 400},
		{"metric", `{"queryType":"stats","metrics":["sharp"]}`, `metrics[0]: unknown stat "sharp"`, 400},
		{"tz", `{"queryType":"daily_pnl","timezone":"Mars/Olympus"}`, "time zone", 400},
		{"tzchars", `{"queryType":"daily_pnl","timezone":"UTC'; --"}`, "timezone:", 400},
		{"annual", `{"queryType":"stats","annualization":-1}`, "annualization", 400},
		{"capital", `{"queryType":"equity","initialCapital":"lots"}`, "initialCapital", 400},
		{"days", `{"queryType":"stats","tradingDays":"sometimes"}`, "tradingDays", 400},
		{"limit", `{"queryType":"trades","limit":-3}`, "limit", 400},
		{"huge", string(hugeJS), "strategies: 1001 entries", 400},
		{"ok1000", string(okJS), "", 200},
		{"mode", `{"queryType":"drawdown","drawdownMode":"pct"}`, "drawdownMode", 400},
	}
	var qs []*pluginv2.DataQuery
	for _, c := range cases {
		qs = append(qs, rawQuery(c.ref, c.js))
	}
	resp := p.Query(t, pctx(nil), qs...)
	for _, c := range cases {
		r, ok := resp[c.ref]
		if !ok {
			t.Errorf("%s: no response (every refId must answer)", c.ref)
			continue
		}
		if r.Status != backend.Status(c.status) {
			t.Errorf("%s: status %d (%v), want %d", c.ref, r.Status, r.Error, c.status)
			continue
		}
		if c.want != "" && (r.Error == nil || !strings.Contains(r.Error.Error(), c.want)) {
			t.Errorf("%s: error %v, want it to mention %q", c.ref, r.Error, c.want)
		}
	}
	if v, _ := resp["inj"].Frames[0].Fields[0].ConcreteAt(0); v.(float64) != 0 {
		t.Errorf("injection filter matched %v trades; it must be a literal value matching none", v)
	}
	if after := count(t, "trades"); after != before {
		t.Fatalf("trades changed: %s → %s", before, after)
	}
	t.Logf("%d hostile queries answered; trades table intact (%s rows)", len(cases), before)
}

func TestQuotedTableNameAndTodayLoss(t *testing.T) {
	allTrades(t)
	// A table and columns whose names need quoting, holding a few trades today.
	_, err := pg.Psql("trading", `DROP TABLE IF EXISTS "My ""odd"" trades";
	  CREATE TABLE "My ""odd"" trades" (id bigint PRIMARY KEY, "Strategy Name" text, sym text, acct text,
	    pnl numeric, "closed at" timestamptz);
	  INSERT INTO "My ""odd"" trades" VALUES
	    (1, 'alpha', 'X', 'a', -1200, now() - interval '1 minute'),
	    (2, 'alpha', 'X', 'a',   200, now() - interval '30 seconds'),
	    (3, 'beta',  'Y', 'a',  -50,  now() - interval '10 seconds');
	  ALTER TABLE "My ""odd"" trades" OWNER TO grafana;`)
	if err != nil {
		t.Fatal(err)
	}
	p := harness.Launch(t, harness.Options{})
	ctx := harness.PluginContext("odd-ds", pg.JSONData(map[string]any{"table": `My "odd" trades`,
		"columns": map[string]string{"trade_id": "id", "strategy": "Strategy Name", "symbol": "sym", "account": "acct",
			"realized_pnl": "pnl", "closed_at": "closed at"}}), pgfix.Secure(), 1)
	now := time.Now()
	q := &pluginv2.DataQuery{RefId: "A", Json: []byte(`{"queryType":"stats","metrics":["daily_loss","trade_count","total_pnl"]}`),
		MaxDataPoints: 100, IntervalMS: 1000,
		TimeRange: &pluginv2.TimeRange{FromEpochMS: now.Add(-time.Hour).UnixMilli(), ToEpochMS: now.Add(time.Minute).UnixMilli()}}
	resp := p.Query(t, ctx, q)
	st := statsFrame(t, mustOK(t, resp["A"])[0])[""]
	if st["trade_count"] != 3 || !close(st["total_pnl"], -1050) || !close(st["daily_loss"], 1050) {
		t.Errorf("stats on the quoted table: %v; want 3 trades, total -1050, daily loss 1050", st)
	}
	if after := count(t, `"My ""odd"" trades"`); after != "3" {
		t.Errorf("table changed: %s rows", after)
	}
}

func health(t *testing.T, p *harness.Plugin, ctx *pluginv2.PluginContext) (*pluginv2.CheckHealthResponse, map[string]any) {
	t.Helper()
	c, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	r, err := p.Diagnostics.CheckHealth(c, &pluginv2.CheckHealthRequest{PluginContext: ctx})
	if err != nil {
		t.Fatal(err)
	}
	var details map[string]any
	if len(r.JsonDetails) > 0 {
		if err := json.Unmarshal(r.JsonDetails, &details); err != nil {
			t.Fatalf("jsonDetails is not a JSON object: %v", err)
		}
	}
	return r, details
}

func TestCheckHealthSaysExactlyWhatIsWrong(t *testing.T) {
	allTrades(t)
	p := harness.Launch(t, harness.Options{})
	mk := func(i int, extra map[string]any, secure map[string]string) *pluginv2.PluginContext {
		return harness.PluginContext(fmt.Sprintf("h%d", i), pg.JSONData(extra), secure, 1)
	}
	r, d := health(t, p, mk(0, nil, pgfix.Secure()))
	want, _ := pg.Psql("trading", "SELECT count(*) FROM trades")
	if r.Status != pluginv2.CheckHealthResponse_OK || !strings.Contains(r.Message, want+" trades") || d["trades"] == nil {
		t.Errorf("healthy: %v %q %v", r.Status, r.Message, d)
	}
	cases := []struct {
		extra  map[string]any
		secure map[string]string
		want   string
	}{
		{map[string]any{"port": 1}, pgfix.Secure(), "Cannot reach Postgres"},
		{nil, map[string]string{"password": "wrong-password-123"}, "Authentication failed"},
		{map[string]any{"database": "nosuchdb"}, pgfix.Secure(), "Database not found"},
		{map[string]any{"table": "nosuchtable"}, pgfix.Secure(), "nosuchtable does not exist"},
		{map[string]any{"columns": map[string]string{"realized_pnl": "profit"}}, pgfix.Secure(), `column "profit" not found (mapping realized_pnl)`},
		{map[string]any{"columns": map[string]string{"realized_pnl": "strategy"}}, pgfix.Secure(), `column "strategy" is text, expected numeric`},
		{map[string]any{"columns": map[string]string{"closed_at": "qty"}}, pgfix.Secure(), `expected timestamp`},
		{map[string]any{"port": "fivefourthreetwo"}, pgfix.Secure(), "jsonData.port"},
		{map[string]any{"sslmode": "maybe"}, pgfix.Secure(), "jsonData.sslmode"},
		{map[string]any{"columns": []string{"x"}}, pgfix.Secure(), "jsonData.columns"},
	}
	for i, c := range cases {
		r, _ := health(t, p, mk(i+1, c.extra, c.secure))
		if r.Status != pluginv2.CheckHealthResponse_ERROR || !strings.Contains(r.Message, c.want) {
			t.Errorf("case %d: %v %q; want ERROR mentioning %q", i, r.Status, r.Message, c.want)
		}
		for _, secret := range []string{pgfix.Password, "wrong-password-123"} {
			if strings.Contains(r.Message, secret) {
				t.Errorf("case %d: the password appears in the health message", i)
			}
		}
	}
	for _, l := range p.Stderr.Lines() {
		if strings.Contains(l, pgfix.Password) || strings.Contains(l, "wrong-password-123") {
			t.Errorf("the password appears in the plugin log: %s", l)
		}
	}
}

func TestTimeoutIsA504AndCancelStopsTheBackendQuery(t *testing.T) {
	allTrades(t)
	// A view that sleeps: the plugin's SQL is unchanged, Postgres is slow.
	// (A volatile function per row: an uncorrelated pg_sleep would run once.)
	_, err := pg.Psql("trading", `CREATE OR REPLACE FUNCTION slow_pnl(p numeric) RETURNS numeric
	    LANGUAGE plpgsql VOLATILE AS $f$ BEGIN PERFORM pg_sleep(0.0005); RETURN p; END $f$;
	  CREATE OR REPLACE VIEW slow_trades AS
	    SELECT trade_id, account, exchange, strategy, symbol, side, qty, entry_price, exit_price,
	      expected_entry_price, expected_exit_price, opened_at, closed_at, fees, slow_pnl(realized_pnl) AS realized_pnl
	    FROM trades;
	  ALTER VIEW slow_trades OWNER TO grafana; ALTER FUNCTION slow_pnl(numeric) OWNER TO grafana;`)
	if err != nil {
		t.Fatal(err)
	}
	p := harness.Launch(t, harness.Options{})
	slow := harness.PluginContext("slow-ds", pg.JSONData(map[string]any{"table": "slow_trades", "queryTimeoutSeconds": 1}), pgfix.Secure(), 1)
	start := time.Now()
	resp := p.Query(t, slow, query("T", "stats", nil, 100), query("OK", "stats", map[string]any{"queryType": "nope"}, 100))
	r := resp["T"]
	if r.Status != 504 || r.Error == nil || !strings.Contains(r.Error.Error(), "query timed out after 1 s") ||
		r.ErrorSource != backend.ErrorSourceDownstream {
		t.Errorf("slow query: %d %v %v; want 504 'query timed out after 1 s' from downstream", r.Status, r.Error, r.ErrorSource)
	}
	if resp["OK"].Status != 400 {
		t.Errorf("the other refId in the same request must still answer: %d", resp["OK"].Status)
	}
	t.Logf("timeout answered after %v", time.Since(start))

	// Cancellation: a long query, cancelled by the caller like a closed panel.
	long := harness.PluginContext("long-ds", pg.JSONData(map[string]any{"table": "slow_trades", "queryTimeoutSeconds": 120}), pgfix.Secure(), 1)
	c, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, err := p.Data.QueryData(c, &pluginv2.QueryDataRequest{PluginContext: long, Queries: []*pluginv2.DataQuery{query("C", "drawdown", nil, 100)}})
		done <- err
	}()
	deadline := time.Now().Add(10 * time.Second)
	for {
		out, _ := pg.Psql("postgres", "SELECT count(*) FROM pg_stat_activity WHERE state='active' AND query LIKE '%slow_trades%' AND pid <> pg_backend_pid()")
		if out == "1" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the slow query never showed up in pg_stat_activity")
		}
		time.Sleep(20 * time.Millisecond)
	}
	cancel()
	<-done
	took, err := pg.WaitGone("slow_trades", 3*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if took > time.Second {
		t.Errorf("backend query gone only after %v (want within 1 s)", took)
	}
	t.Logf("measure: cancelled call's backend query gone after %v", took)
	// The plugin still answers normally afterwards.
	mustOK(t, p.Query(t, pctx(nil), query("A", "equity", nil, 100))["A"])
}

func TestPostgresDownIs502AndRecoversWithoutRestart(t *testing.T) {
	allTrades(t)
	p := harness.Launch(t, harness.Options{})
	ctx := pctx(nil)
	mustOK(t, p.Query(t, ctx, query("A", "equity", nil, 100))["A"]) // pool now holds a live connection
	if err := pg.Down(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		if !pg.Alive() {
			pg.Up()
		}
	}()
	r := p.Query(t, ctx, query("A", "equity", nil, 100))["A"]
	if r.Status != 502 || r.ErrorSource != backend.ErrorSourceDownstream || r.Error == nil {
		t.Errorf("Postgres down: %d %v %v; want 502 downstream", r.Status, r.ErrorSource, r.Error)
	}
	if err := pg.Up(); err != nil {
		t.Fatal(err)
	}
	for _, qt := range []string{"equity", "drawdown", "stats", "trades"} {
		r = p.Query(t, ctx, query("A", qt, nil, 100))["A"]
		if r.Status != 200 {
			t.Errorf("%s after Postgres restart: %d %v (must recover without a plugin restart)", qt, r.Status, r.Error)
		}
	}
	if hr, _ := health(t, p, ctx); hr.Status != pluginv2.CheckHealthResponse_OK {
		t.Errorf("health after restart: %q", hr.Message)
	}
}

func TestSettingsChangeIsPickedUp(t *testing.T) {
	allTrades(t)
	p := harness.Launch(t, harness.Options{})
	q := query("S", "stats", map[string]any{"metrics": []string{"equity"}}, 100)
	a := p.Query(t, harness.PluginContext("chg", pg.JSONData(map[string]any{"initialCapital": 100000}), pgfix.Secure(), 10), q)
	b := p.Query(t, harness.PluginContext("chg", pg.JSONData(map[string]any{"initialCapital": 200000}), pgfix.Secure(), 11), q)
	ea, _ := mustOK(t, a["S"])[0].Fields[0].ConcreteAt(0)
	eb, _ := mustOK(t, b["S"])[0].Fields[0].ConcreteAt(0)
	if math.Abs(eb.(float64)-ea.(float64)-100000) > 1e-6 {
		t.Errorf("equity %v then %v after raising initialCapital by 100000", ea, eb)
	}
}
