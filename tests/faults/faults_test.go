package faults

// The fixture of the fault scenarios: one real Postgres with a small trade
// table, the plugin launched as Grafana launches it, and helpers that time
// each call, count the plugin's backends and read its pool gauge.

import (
	"context"
	"encoding/json"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/genproto/pluginv2"

	"github.com/algotrading/pnl-datasource/tests/harness"
	"github.com/algotrading/pnl-datasource/tests/pgfix"
)

var pg *pgfix.Server

// The plugin's application_name in pg_stat_activity.
const appName = "algotrading-pnl-datasource"

func TestMain(m *testing.M) {
	pgfix.Main(m, setup, func() { pg.Thaw() }) // thaw: whatever a failed test left behind
}

func setup(s *pgfix.Server) error {
	pg = s
	err := pg.LoadDemo(harness.RepoRoot(), 2000, 60, 3, "2025-01-01")
	if err == nil {
		// slow_trades: each row costs 2 ms (a volatile function per row), so
		// a query over it is reliably running when a test strikes.
		// lock_trades: a copy a test can lock without touching the others.
		_, err = pg.Psql("trading", `CREATE FUNCTION slow_pnl(p numeric) RETURNS numeric LANGUAGE plpgsql VOLATILE
		    AS $f$ BEGIN PERFORM pg_sleep(0.002); RETURN p; END $f$;
		  CREATE VIEW slow_trades AS SELECT trade_id, account, exchange, strategy, symbol, side, qty,
		    entry_price, exit_price, expected_entry_price, expected_exit_price, opened_at, closed_at, fees,
		    slow_pnl(realized_pnl) AS realized_pnl FROM trades;
		  CREATE TABLE lock_trades AS SELECT * FROM trades;
		  ALTER VIEW slow_trades OWNER TO grafana; ALTER FUNCTION slow_pnl(numeric) OWNER TO grafana;
		  ALTER TABLE lock_trades OWNER TO grafana;`)
	}
	return err
}

// dsCtx is a data source on this server reached at port (Postgres' own or
// a proxy's); uid keeps instances (and their pools) apart.
func dsCtx(uid string, port int, extra map[string]any) *pluginv2.PluginContext {
	js := pg.JSONData(extra)
	js["port"] = port
	return harness.PluginContext(uid, js, pgfix.Secure(), 1)
}

var (
	from = time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	to   = time.Date(2025, 3, 1, 0, 0, 0, 0, time.UTC)
)

func query(refID, qtype string) *pluginv2.DataQuery {
	js, _ := json.Marshal(map[string]any{"refId": refID, "queryType": qtype})
	return &pluginv2.DataQuery{RefId: refID, MaxDataPoints: 100, IntervalMS: 1000, Json: js,
		TimeRange: &pluginv2.TimeRange{FromEpochMS: from.UnixMilli(), ToEpochMS: to.UnixMilli()}}
}

// reply is one QueryData call's outcome for refId "A".
type reply = harness.Reply

// call runs one query; the host's own deadline is generous (60 s), so what
// is measured is the plugin's deadline, not the client's.
func call(p *harness.Plugin, pc *pluginv2.PluginContext, qtype string) reply {
	return p.Call(pc, query("A", qtype), 60*time.Second)
}

var mustOK = harness.MustOK

// inUse reads gpx_pg_connections{state="in_use"} from CollectMetrics.
func inUse(t *testing.T, p *harness.Plugin) int {
	t.Helper()
	c, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	res, err := p.Diagnostics.CollectMetrics(c, &pluginv2.CollectMetricsRequest{
		PluginContext: &pluginv2.PluginContext{PluginId: appName}})
	if err != nil {
		t.Fatalf("CollectMetrics: %v", err)
	}
	for _, l := range strings.Split(string(res.Metrics.Prometheus), "\n") {
		if v, ok := strings.CutPrefix(l, `gpx_pg_connections{state="in_use"} `); ok {
			n, err := strconv.Atoi(strings.TrimSpace(v))
			if err != nil {
				t.Fatalf("gpx_pg_connections in_use: %q", l)
			}
			return n
		}
	}
	t.Fatalf("no gpx_pg_connections{state=\"in_use\"} in the metrics")
	return -1
}

// backends counts the plugin's sessions in pg_stat_activity (-1 on error).
func backends() int { return pg.Sessions(appName) }

// waitBackends polls until the plugin has at most n backends; it returns
// how long that took, or fails the test after limit.
func waitBackends(t *testing.T, n int, limit time.Duration) time.Duration {
	t.Helper()
	start := time.Now()
	for {
		b := backends()
		if b >= 0 && b <= n {
			return time.Since(start)
		}
		if time.Since(start) > limit {
			t.Fatalf("the plugin still has %d backends in pg_stat_activity after %v (want <= %d)", b, limit, n)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// fresh is the start of each scenario: no backend left by an earlier one
// (each test launches its own plugin and kills it at the end).
func fresh(t *testing.T) {
	t.Helper()
	if !pg.Alive() {
		if err := pg.Up(); err != nil {
			t.Fatal(err)
		}
	}
	waitBackends(t, 0, 10*time.Second)
}

// lockTable holds ACCESS EXCLUSIVE on lock_trades until the test ends.
func lockTable(t *testing.T) *pgfix.Held {
	t.Helper()
	h, err := pg.Hold("trading", "BEGIN; LOCK TABLE lock_trades IN ACCESS EXCLUSIVE MODE;",
		`SELECT EXISTS (SELECT 1 FROM pg_locks l JOIN pg_class c ON c.oid = l.relation
		  WHERE c.relname = 'lock_trades' AND l.mode = 'AccessExclusiveLock' AND l.granted)`)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(h.Release)
	return h
}

// percentile of durations (q in (0, 1]), nearest rank.
func percentile(d []time.Duration, q float64) time.Duration {
	s := append([]time.Duration(nil), d...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	i := int(float64(len(s))*q+0.999999) - 1
	if i < 0 {
		i = 0
	}
	return s[i]
}
