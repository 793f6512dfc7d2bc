package analytics

// Connections are not kept for ever (issue 10, problem 7): pooled
// connections idle longer than idleConnectionSeconds are closed, and a
// data source whose settings were saved again closes the old version's
// pool once its queries are done.

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/genproto/pluginv2"

	"github.com/algotrading/pnl-datasource/tests/harness"
	"github.com/algotrading/pnl-datasource/tests/pgfix"
)

// backendsOf counts the plugin's connections to the trading database made
// for data sources reading `table` (application_name is the plugin id; the
// query text tells the data sources apart only while running, so count by
// a dedicated database user instead).
func pluginBackends(t *testing.T, user string) int {
	t.Helper()
	out, err := pg.Psql("postgres", "SELECT count(*) FROM pg_stat_activity WHERE usename = '"+user+"'")
	if err != nil {
		t.Fatal(err)
	}
	n, _ := strconv.Atoi(strings.TrimSpace(out))
	return n
}

func TestIdleConnectionsAndReplacedPoolsAreClosed(t *testing.T) {
	allTrades(t)
	const user = "idle_checker"
	if _, err := pg.Psql("postgres", "DO $$BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '"+user+
		"') THEN CREATE ROLE "+user+" LOGIN PASSWORD '"+pgfix.Password+"'; END IF; END$$;"+
		"GRANT grafana TO "+user); err != nil {
		t.Fatal(err)
	}
	p := harness.Launch(t, harness.Options{})
	ctx := harness.PluginContext("idle-ds", pg.JSONData(map[string]any{"user": user, "idleConnectionSeconds": 1,
		"maxOpenConnections": 3}), pgfix.Secure(), 1)
	// three queries at once open three connections
	resp := p.Query(t, ctx, query("A", "stats", nil, 10), query("B", "equity", nil, 100), query("C", "daily_pnl", nil, 100))
	for _, r := range resp {
		if r.Error != nil {
			t.Fatal(r.Error)
		}
	}
	if n := pluginBackends(t, user); n < 1 {
		t.Fatalf("%d backends after the queries; want the pooled ones", n)
	}
	time.Sleep(1500 * time.Millisecond)
	// a scrape sweeps idle pools, as the next query would
	c, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := p.Diagnostics.CollectMetrics(c, &pluginv2.CollectMetricsRequest{}); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(3 * time.Second)
	for pluginBackends(t, user) > 0 && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	if n := pluginBackends(t, user); n != 0 {
		t.Errorf("%d backends still open 1.5 s after going idle with idleConnectionSeconds 1", n)
	}
	// a saved data source: the old version's pool closes when its last query ends
	ctx = harness.PluginContext("idle-ds", pg.JSONData(map[string]any{"user": user, "idleConnectionSeconds": 0}),
		pgfix.Secure(), 2)
	mustOK(t, p.Query(t, ctx, query("A", "stats", nil, 10))["A"])
	ctx = harness.PluginContext("idle-ds", pg.JSONData(map[string]any{"user": user, "idleConnectionSeconds": 0,
		"queryTimeoutSeconds": 20}), pgfix.Secure(), 3)
	mustOK(t, p.Query(t, ctx, query("A", "stats", nil, 10))["A"])
	time.Sleep(200 * time.Millisecond)
	if n := pluginBackends(t, user); n != 1 {
		t.Errorf("%d backends after two versions of the settings; want 1 (the old pool closed)", n)
	}
}
