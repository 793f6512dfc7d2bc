package bouncer

// The statement timeout and cancellation through pgbouncer, and a pgbouncer
// pool smaller than the plugin's (the two-session stats read included).

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/genproto/pluginv2"

	"github.com/algotrading/pnl-datasource/tests/harness"
	"github.com/algotrading/pnl-datasource/tests/pgfix"
)

// probeView makes view `probe`: the trades with symbol replaced by the
// statement_timeout in force where the plugin's statement runs, so what
// the plugin reads shows whether its timeout reached the server.
func probeView(t *testing.T) {
	t.Helper()
	cols, err := pg.Psql("trading", "SELECT string_agg(CASE WHEN column_name = 'symbol' THEN "+
		"'current_setting(''statement_timeout'') AS symbol' ELSE quote_ident(column_name) END, ', ' ORDER BY ordinal_position)"+
		" FROM information_schema.columns WHERE table_schema = 'public' AND table_name = 'trades'")
	if err != nil {
		t.Fatal(err)
	}
	for _, sql := range []string{"CREATE OR REPLACE VIEW probe AS SELECT " + cols + " FROM trades",
		"ALTER VIEW probe OWNER TO grafana"} {
		if _, err := pg.Psql("trading", sql); err != nil {
			t.Fatal(err)
		}
	}
}

func TestStatementTimeoutReachesTheServerThroughPgbouncer(t *testing.T) {
	probeView(t)
	p := harness.Launch(t, harness.Options{})
	for _, su := range append([]struct {
		name string
		o    pgfix.BouncerOpts
	}{{"direct", pgfix.BouncerOpts{}}}, setups...) {
		t.Run(su.name, func(t *testing.T) {
			jd := pg.JSONData(map[string]any{"table": "probe", "queryTimeoutSeconds": 7})
			if su.name != "direct" {
				jd = pg.StartBouncer(t, su.o).JSONData(map[string]any{"table": "probe", "queryTimeoutSeconds": 7})
			}
			ctx := dsCtx(su.name+"-probe", jd)
			// a plain statement (the editor's values)
			if code, body := p.Get(t, ctx, "symbols"); code != 200 || body != `["7s"]` {
				t.Errorf("symbols: %d %s; want [\"7s\"] (statement_timeout where the statement ran)", code, body)
			}
			// COPY reads (breakdown reads the trades in one pass) and a cursor in a transaction (trades)
			for _, k := range []kindCase{{"breakdown", map[string]any{"groupBy": "symbol"}}, {"trades", nil}} {
				js := framesJSON(t, p.Query(t, ctx, query("A", k.kind, k.body, 50))["A"])
				if strings.Count(js, `"7s"`) == 0 || strings.Contains(js, `"0"`) {
					t.Errorf("%s: the frames should name statement_timeout 7s as the symbol: %.400s", k.kind, js)
				}
			}
		})
	}
}

// holdTrades locks table trades against every read until the returned
// function is called.
func holdTrades(t *testing.T) func() {
	t.Helper()
	h, err := pg.Hold("trading", "BEGIN; LOCK TABLE trades IN ACCESS EXCLUSIVE MODE;",
		"SELECT count(*) > 0 FROM pg_locks WHERE relation = 'trades'::regclass AND mode = 'AccessExclusiveLock' AND granted")
	if err != nil {
		t.Fatal(err)
	}
	var once sync.Once
	release := func() { once.Do(h.Release) }
	t.Cleanup(release)
	return release
}

// A query stuck behind a lock ends at queryTimeoutSeconds through
// pgbouncer; a query whose caller goes away (Grafana's cancel) ends too;
// neither leaves the pgbouncer server connection busy: with a pool of one
// server, the next query works.
func TestTimeoutAndCancelDoNotStickThroughPgbouncer(t *testing.T) {
	p := harness.Launch(t, harness.Options{})
	for _, su := range setups {
		t.Run(su.name, func(t *testing.T) {
			o := su.o
			o.PoolSize = 1
			b := pg.StartBouncer(t, o)
			ctx := dsCtx(su.name+"-stuck", b.JSONData(map[string]any{"queryTimeoutSeconds": 1, "maxOpenConnections": 2}))
			want := framesJSON(t, p.Query(t, ctx, query("A", "equity", nil, 100))["A"])
			release := holdTrades(t)
			start := time.Now()
			r := p.Query(t, ctx, query("A", "equity", nil, 100))["A"]
			took := time.Since(start)
			if r.Status != 504 || took > 4*time.Second {
				t.Errorf("a query behind a lock: status %d error %v after %v; want 504 within ~1 s", r.Status, r.Error, took)
			}
			if _, err := pg.WaitGone("realized_pnl", 3*time.Second); err != nil {
				t.Errorf("after the timeout: %v", err)
			}
			// Grafana cancels a query (the dashboard was closed)
			c, cancel := context.WithCancel(context.Background())
			done := make(chan struct{})
			go func() {
				defer close(done)
				p.Data.QueryData(c, &pluginv2.QueryDataRequest{PluginContext: ctx,
					Queries: []*pluginv2.DataQuery{query("A", "stats", nil, 10)}})
			}()
			time.Sleep(300 * time.Millisecond)
			cancel()
			<-done
			if _, err := pg.WaitGone("realized_pnl", 3*time.Second); err != nil {
				t.Errorf("after the cancel: %v", err)
			}
			release()
			// the one pgbouncer server is free again
			if got := framesJSON(t, p.Query(t, ctx, query("A", "equity", nil, 100))["A"]); got != want {
				t.Errorf("after the timeout and the cancel the frames differ %s", firstDiff(want, got))
			}
		})
	}
}

// The stats read takes a second session at once for the legs of a large
// range; with a pgbouncer pool of one server it must not wait for itself:
// in transaction mode the second COPY queues behind the first, in session
// mode the second session cannot get a server and the legs are read after
// the ordered read on the first. Several stats queries at once, with
// maxOpenConnections above the pool, all answer the direct frames.
func TestStatsTwoSessionsWithATinyPgbouncerPool(t *testing.T) {
	p := harness.Launch(t, harness.Options{})
	dctx := dsCtx("direct-big", pg.JSONData(map[string]any{"table": "big"}))
	body := map[string]any{"groupBy": "strategy"}
	want := framesJSON(t, p.Query(t, dctx, query("A", "stats", body, 10))["A"])
	for _, mode := range []string{"transaction", "session"} {
		t.Run(mode, func(t *testing.T) {
			b := pg.StartBouncer(t, pgfix.BouncerOpts{Mode: mode, PoolSize: 1})
			ctx := dsCtx(mode+"-big", b.JSONData(map[string]any{"table": "big", "maxOpenConnections": 4,
				"queryTimeoutSeconds": 60}))
			start := time.Now()
			if got := framesJSON(t, p.Query(t, ctx, query("A", "stats", body, 10))["A"]); got != want {
				t.Errorf("stats alone: frames differ %s", firstDiff(want, got))
			}
			t.Logf("measure: %s mode, pool 1: stats over %s alone in %v", mode, "big", time.Since(start))
			start = time.Now()
			resp := p.Query(t, ctx, query("A", "stats", body, 10), query("B", "stats", body, 10), query("C", "stats", nil, 10))
			for _, id := range []string{"A", "B"} {
				if got := framesJSON(t, resp[id]); got != want {
					t.Errorf("stats %s of three at once: frames differ %s", id, firstDiff(want, got))
				}
			}
			framesJSON(t, resp["C"])
			t.Logf("measure: %s mode, pool 1: three stats at once in %v", mode, time.Since(start))
		})
	}
}

// pool_mode = statement allows no transaction: what reads in one (the fold
// cache's check and read, in one snapshot: stats, drawdown, …) fails with an
// error naming the pgbouncer setting to change, and from then on the data
// source runs without the cache, so every kind answers.
func TestStatementPoolingModeIsNamed(t *testing.T) {
	p := harness.Launch(t, harness.Options{})
	b := pg.StartBouncer(t, pgfix.BouncerOpts{Mode: "statement", PoolSize: 2})
	ctx := dsCtx("statement-mode", b.JSONData(nil))
	named := 0
	for _, k := range kinds {
		r := p.Query(t, ctx, query("A", k.kind, k.body, 500))["A"]
		if r.Error == nil {
			continue
		}
		if !strings.Contains(r.Error.Error(), "set pool_mode = transaction (or session)") {
			t.Errorf("%s %v: %d %v; want 200 or an error naming pool_mode", k.kind, k.body, r.Status, r.Error)
		}
		named++
	}
	if named == 0 {
		t.Errorf("no kind read in a transaction: the test proves nothing")
	}
	// the connection pgbouncer closed is not reused: the next query works
	framesJSON(t, p.Query(t, ctx, query("A", "equity", nil, 100))["A"])
	// the first refusal turns the fold cache off for the data source: the
	// same queries now answer without a transaction
	for _, k := range kinds {
		if r := p.Query(t, ctx, query("A", k.kind, k.body, 500))["A"]; r.Error != nil {
			t.Errorf("%s %v again: %d %v; want 200 once the cache is off for the data source", k.kind, k.body, r.Status, r.Error)
		}
	}
}
