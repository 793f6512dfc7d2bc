// Package bouncer checks the plugin through a real pgbouncer (issue 12
// item 6): every query kind returns the same frames through pgbouncer in
// transaction and in session pooling mode as straight from Postgres;
// CheckHealth and the resources work; the statement timeout and a
// cancelled query do not leave a pgbouncer server connection stuck; a
// pgbouncer pool smaller than the plugin's maxOpenConnections queues
// without deadlock (the stats kinds read on two sessions at once).
//
// The plugin's role has TimeZone 'Asia/Tokyo' and DateStyle 'SQL, DMY' as
// its defaults (ALTER ROLE), so a server connection pgbouncer opens starts
// with neither of the values the plugin relies on: only the plugin's own
// settings make the frames match.
package bouncer

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/backend"
	"github.com/grafana/grafana-plugin-sdk-go/genproto/pluginv2"

	"github.com/algotrading/pnl-datasource/tests/harness"
	"github.com/algotrading/pnl-datasource/tests/pgfix"
)

var (
	pg   *pgfix.Server
	from = time.Date(2025, 2, 1, 0, 0, 0, 0, time.UTC)
	to   = time.Date(2025, 4, 15, 12, 0, 0, 0, time.UTC)
)

func TestMain(m *testing.M) {
	if pgfix.BouncerPath() == "" {
		fmt.Fprintln(os.Stderr, "no pgbouncer: install Debian's pgbouncer (tools/apt-packages.txt, make deps)")
		os.Exit(1)
	}
	pgfix.Main(m, setup, nil)
}

func setup(s *pgfix.Server) error {
	pg = s
	err := pg.LoadDemo(harness.RepoRoot(), 20000, 120, 7, "2025-01-01")
	for _, sql := range []string{
		// the same trades with timestamp-without-time-zone columns, read "as UTC"
		"CREATE TABLE trades_naive AS SELECT * FROM trades",
		"ALTER TABLE trades_naive ALTER COLUMN opened_at TYPE timestamp USING opened_at AT TIME ZONE 'UTC'," +
			" ALTER COLUMN closed_at TYPE timestamp USING closed_at AT TIME ZONE 'UTC'",
		"ALTER TABLE trades_naive OWNER TO grafana", "ANALYZE trades_naive",
		// a big table for the timeout tests
		"CREATE TABLE big AS SELECT * FROM trades, generate_series(1, 16) AS k",
		"ALTER TABLE big DROP COLUMN k", "ALTER TABLE big OWNER TO grafana", "ANALYZE big",
		"ALTER ROLE grafana SET TimeZone = 'Asia/Tokyo'", "ALTER ROLE grafana SET DateStyle = 'SQL, DMY'",
	} {
		if err != nil {
			break
		}
		_, err = pg.Psql("trading", sql)
	}
	return err
}

// The pgbouncers the tests read through: each mode with pgbouncer's default
// (`options` refused) and with ignore_startup_parameters = options (then
// silently dropped), and pools smaller than the plugin's.
var setups = []struct {
	name string
	o    pgfix.BouncerOpts
}{
	{"transaction", pgfix.BouncerOpts{Mode: "transaction", PoolSize: 1}},
	{"transaction-ignore-options", pgfix.BouncerOpts{Mode: "transaction", PoolSize: 3, IgnoreStartup: "options"}},
	{"session", pgfix.BouncerOpts{Mode: "session", PoolSize: 2}},
	{"session-ignore-options", pgfix.BouncerOpts{Mode: "session", PoolSize: 20, IgnoreStartup: "options"}},
}

type kindCase struct {
	kind string
	body map[string]any
}

// Every query kind, some grouped (several groups → more statements).
var kinds = []kindCase{
	{"equity", nil},
	{"equity", map[string]any{"groupBy": "strategy"}},
	{"pnl", nil},
	{"daily_pnl", map[string]any{"timezone": "America/New_York"}},
	{"drawdown", nil},
	{"returns", nil},
	{"stats", nil},
	{"stats", map[string]any{"groupBy": "strategy"}},
	{"pnl_distribution", nil},
	{"slippage", nil},
	{"trades", nil},
	{"trade_count", nil},
	{"period_returns", map[string]any{"period": "week"}},
	{"rolling", map[string]any{"metric": "sharpe", "window": 10}},
	{"drawdown_episodes", nil},
	{"breakdown", map[string]any{"groupBy": "symbol"}},
	{"annotations", map[string]any{"events": "large_losses", "threshold": 100}},
	{"annotations", map[string]any{"events": "drawdown_episodes", "groupBy": "strategy", "threshold": 0}},
	{"annotations", map[string]any{"events": "daily_loss", "timezone": "America/New_York"}},
}

func query(refID, qtype string, body map[string]any, maxPoints int64) *pluginv2.DataQuery {
	m := map[string]any{"refId": refID, "queryType": qtype, "intervalMs": 1000, "maxDataPoints": maxPoints}
	for k, v := range body {
		m[k] = v
	}
	js, _ := json.Marshal(m)
	return &pluginv2.DataQuery{RefId: refID, MaxDataPoints: maxPoints, IntervalMS: 1000, Json: js,
		TimeRange: &pluginv2.TimeRange{FromEpochMS: from.UnixMilli(), ToEpochMS: to.UnixMilli()}}
}

// The fold cache checked by its fingerprint (cacheFingerprint): every
// cached kind then reads in a REPEATABLE READ transaction, which is what has
// to work through the pooler.
func dsCtx(uid string, jsonData map[string]any) *pluginv2.PluginContext {
	if _, set := jsonData["cacheFingerprint"]; !set {
		jsonData["cacheFingerprint"] = true
	}
	return harness.PluginContext(uid, jsonData, pgfix.Secure(), 1)
}

// framesJSON is the response's frames as JSON (data and meta), comparable.
func framesJSON(t *testing.T, r backend.DataResponse) string {
	t.Helper()
	if r.Error != nil || r.Status != 200 {
		t.Fatalf("status %d error %v", r.Status, r.Error)
	}
	for _, f := range r.Frames {
		f.RefID = "" // the batch's refIds differ
	}
	b, err := json.Marshal(r.Frames)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func firstDiff(a, b string) string {
	i := 0
	for i < len(a) && i < len(b) && a[i] == b[i] {
		i++
	}
	lo := i - 80
	if lo < 0 {
		lo = 0
	}
	clip := func(s string) string {
		if i+80 < len(s) {
			return s[lo : i+80]
		}
		return s[lo:]
	}
	return fmt.Sprintf("at byte %d:\n direct:  …%s…\n bouncer: …%s…", i, clip(a), clip(b))
}

func TestEveryKindSameFramesThroughPgbouncer(t *testing.T) {
	p := harness.Launch(t, harness.Options{})
	for _, table := range []string{"trades", "trades_naive"} {
		direct := map[string]string{}
		dctx := dsCtx("direct-"+table, pg.JSONData(map[string]any{"table": table}))
		for i, k := range kinds {
			direct[fmt.Sprint(i)] = framesJSON(t, p.Query(t, dctx, query("A", k.kind, k.body, 500))["A"])
		}
		for _, su := range setups {
			t.Run(table+"/"+su.name, func(t *testing.T) {
				b := pg.StartBouncer(t, su.o)
				// maxOpenConnections above every pgbouncer pool here
				ctx := dsCtx(su.name+"-"+table, b.JSONData(map[string]any{"table": table, "maxOpenConnections": 4}))
				// one request of every kind (they run concurrently, more than the pool), then each alone
				qs := make([]*pluginv2.DataQuery, len(kinds))
				for i, k := range kinds {
					qs[i] = query(fmt.Sprint(i), k.kind, k.body, 500)
				}
				all := p.Query(t, ctx, qs...)
				for i, k := range kinds {
					id := fmt.Sprint(i)
					if got := framesJSON(t, all[id]); got != direct[id] {
						t.Errorf("%s %v (all at once): frames differ from the direct ones %s", k.kind, k.body, firstDiff(direct[id], got))
					}
					if got := framesJSON(t, p.Query(t, ctx, query("A", k.kind, k.body, 500))["A"]); got != direct[id] {
						t.Errorf("%s %v: frames differ from the direct ones %s", k.kind, k.body, firstDiff(direct[id], got))
					}
				}
			})
		}
	}
}

func health(t *testing.T, p *harness.Plugin, ctx *pluginv2.PluginContext) *backend.CheckHealthResult {
	t.Helper()
	c, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	res, err := p.Diagnostics.CheckHealth(c, &pluginv2.CheckHealthRequest{PluginContext: ctx})
	if err != nil {
		t.Fatalf("CheckHealth: %v", err)
	}
	return backend.FromProto().CheckHealthResponse(res)
}

func TestHealthAndResourcesThroughPgbouncer(t *testing.T) {
	p := harness.Launch(t, harness.Options{})
	dctx := dsCtx("direct-res", pg.JSONData(nil))
	paths := []string{"strategies", "symbols?q=US&limit=2", "accounts", "schema", "kinds"}
	want := map[string]string{}
	for _, path := range paths {
		code, body := p.Get(t, dctx, path)
		if code != 200 {
			t.Fatalf("direct %s: %d %s", path, code, body)
		}
		want[path] = body
	}
	dh := health(t, p, dctx)
	if dh.Status != backend.HealthStatusOk || strings.Contains(dh.Message, "pooler") {
		t.Fatalf("direct health: %v %s", dh.Status, dh.Message)
	}
	for _, su := range setups {
		t.Run(su.name, func(t *testing.T) {
			b := pg.StartBouncer(t, su.o)
			ctx := dsCtx(su.name+"-res", b.JSONData(nil))
			h := health(t, p, ctx)
			if h.Status != backend.HealthStatusOk || !strings.Contains(h.Message, "connection pooler") {
				t.Errorf("health through pgbouncer: %v %q; want OK, naming the pooler", h.Status, h.Message)
			}
			for _, path := range paths {
				code, body := p.Get(t, ctx, path)
				if code != 200 || body != want[path] {
					t.Errorf("%s: %d %s; want 200 %s", path, code, body, want[path])
				}
			}
		})
	}
}
