package replica

// Issue 12, read replicas: a real streaming replica made here (pgfix:
// pg_basebackup -R from a primary, started on its own port), and the plugin
// launched as Grafana launches it with a two-host data source. Checked: the
// queries go where targetSessionAttrs says (proved on the servers'
// pg_stat_activity and by the in_hot_standby the server reported to the
// plugin's own session), the plugin fails over to the primary without a
// restart when the standby stops (measured), and a query the standby
// cancels for a recovery conflict is a 503 naming the standby settings.

import (
	"encoding/json"
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/genproto/pluginv2"

	"github.com/algotrading/pnl-datasource/tests/faults"
	"github.com/algotrading/pnl-datasource/tests/harness"
	"github.com/algotrading/pnl-datasource/tests/pgfix"
)

var primary, standby *pgfix.Server

// The plugin's application_name in pg_stat_activity.
const appName = "algotrading-pnl-datasource"

func TestMain(m *testing.M) { pgfix.Main(m, setup, func() { standby.Close() }) }

// setup loads the primary and makes the standby (closed again on error).
func setup(s *pgfix.Server) error {
	primary = s
	err := primary.LoadDemo(harness.RepoRoot(), 2000, 60, 3, "2025-01-01")
	if err == nil {
		// conflict_trades: a copy the conflict test deletes from; slow_conflict
		// costs 5 ms a row (a volatile function per row), so a query over it is
		// reliably still running on the standby when the primary's VACUUM
		// arrives there.
		_, err = primary.Psql("trading", `CREATE TABLE conflict_trades AS SELECT * FROM trades;
		  CREATE FUNCTION slow_pnl(p numeric) RETURNS numeric LANGUAGE plpgsql VOLATILE
		    AS $f$ BEGIN PERFORM pg_sleep(0.005); RETURN p; END $f$;
		  CREATE VIEW slow_conflict AS SELECT trade_id, account, exchange, strategy, symbol, side, qty,
		    entry_price, exit_price, expected_entry_price, expected_exit_price, opened_at, closed_at, fees,
		    slow_pnl(realized_pnl) AS realized_pnl FROM conflict_trades;
		  ALTER TABLE conflict_trades OWNER TO grafana; ALTER VIEW slow_conflict OWNER TO grafana;
		  ALTER FUNCTION slow_pnl(numeric) OWNER TO grafana;`)
	}
	if err == nil {
		_, err = primary.Psql("trading", "VACUUM ANALYZE conflict_trades")
	}
	if err == nil {
		// hot_standby_feedback off and a short streaming delay: a standby that
		// gives way to the primary quickly (the conflict test needs it).
		standby, err = pgfix.StartStandby(primary, "-c shared_buffers=64MB", "-c hot_standby_feedback=off",
			"-c max_standby_streaming_delay=100ms")
	}
	if err == nil {
		err = pgfix.WaitReplay(primary, standby, 30*time.Second)
	}
	if err != nil && standby != nil {
		standby.Close()
	}
	return err
}

// dsCtx is a data source over "127.0.0.1,127.0.0.1" with the ports of the
// given servers, in that order.
func dsCtx(uid, target string, extra map[string]any, servers ...*pgfix.Server) *pluginv2.PluginContext {
	ports := make([]int, len(servers))
	for i, s := range servers {
		ports[i] = s.Port
	}
	return dsPorts(uid, target, extra, ports...)
}

// dsPorts is dsCtx with ports (a server's or a proxy's) on 127.0.0.1.
func dsPorts(uid, target string, extra map[string]any, port ...int) *pluginv2.PluginContext {
	hosts, ports := make([]string, len(port)), make([]string, len(port))
	for i, p := range port {
		hosts[i], ports[i] = "127.0.0.1", strconv.Itoa(p)
	}
	js := primary.JSONData(extra)
	js["host"], js["port"] = strings.Join(hosts, ","), strings.Join(ports, ",")
	if target != "" {
		js["targetSessionAttrs"] = target
	}
	return harness.PluginContext(uid, js, pgfix.Secure(), 1)
}

var (
	from = time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	to   = time.Date(2025, 3, 1, 0, 0, 0, 0, time.UTC)
)

type reply = harness.Reply

// call runs one query of kind qtype over [from, to] with a 60 s host deadline.
func call(p *harness.Plugin, pc *pluginv2.PluginContext, qtype string) reply {
	js, _ := json.Marshal(map[string]any{"refId": "A", "queryType": qtype})
	q := &pluginv2.DataQuery{RefId: "A", MaxDataPoints: 100, IntervalMS: 1000, Json: js,
		TimeRange: &pluginv2.TimeRange{FromEpochMS: from.UnixMilli(), ToEpochMS: to.UnixMilli()}}
	return p.Call(pc, q, 60*time.Second)
}

var mustOK = harness.MustOK

// sessions counts the plugin's backends on s (-1 when s does not answer).
func sessions(s *pgfix.Server) int { return s.Sessions(appName) }

// runningSlow counts the plugin's queries running over slow_conflict.
const runningSlow = "SELECT count(*) FROM pg_stat_activity WHERE application_name = '" + appName +
	"' AND state = 'active' AND query LIKE '%slow_conflict%'"

// runningOn polls s (10 s at most) until the plugin runs a query over
// slow_conflict there; false if it never does.
func runningOn(s *pgfix.Server) bool {
	for start := time.Now(); time.Since(start) < 10*time.Second; time.Sleep(20 * time.Millisecond) {
		if out, err := s.Psql("postgres", runningSlow); err == nil && strings.TrimSpace(out) == "1" {
			return true
		}
	}
	return false
}

// connected returns the in_hot_standby values the plugin logged for its
// connections to port ("pg: connected", debug level): what the server
// itself reported to the plugin's session.
func connected(p *harness.Plugin, port int) []string {
	var out []string
	for _, l := range p.Stderr.Lines() {
		var m map[string]any
		if json.Unmarshal([]byte(l), &m) != nil || m["@message"] != "pg: connected" || m["port"] != strconv.Itoa(port) {
			continue
		}
		out = append(out, fmt.Sprint(m["inHotStandby"]))
	}
	return out
}

// upAgain restarts a stopped standby and waits until it caught up.
func upAgain(t *testing.T) {
	t.Helper()
	if !standby.Alive() {
		if err := standby.Up(); err != nil {
			t.Fatal(err)
		}
	}
	if err := pgfix.WaitReplay(primary, standby, 30*time.Second); err != nil {
		t.Fatal(err)
	}
}

// The host list is primary first, so "any" settles on the primary and
// prefer-standby must pass it over; "standby" with only a primary listed
// is a 502 saying why; read-write with the standby listed first skips it.
func TestTargetSessionAttrsChooseTheServer(t *testing.T) {
	upAgain(t)
	p := harness.Launch(t, harness.Options{})
	if sessions(primary) != 0 || sessions(standby) != 0 {
		t.Fatalf("plugin sessions before any query: primary %d, standby %d", sessions(primary), sessions(standby))
	}

	prefer := dsCtx("prefer", "prefer-standby", nil, primary, standby)
	for _, q := range []string{"equity", "stats", "trades"} {
		mustOK(t, call(p, prefer, q), "prefer-standby "+q)
	}
	// the pooled connections are still open: where are they?
	if n, m := sessions(standby), sessions(primary); n < 1 || m != 0 {
		t.Fatalf("prefer-standby: plugin sessions on the standby %d, on the primary %d; want >= 1 and 0", n, m)
	}
	if hs := connected(p, standby.Port); len(hs) == 0 || hs[0] != "on" {
		t.Fatalf("prefer-standby: in_hot_standby the standby reported to the plugin's sessions: %v, want on", hs)
	}
	if hs := connected(p, primary.Port); len(hs) != 0 {
		t.Fatalf("prefer-standby: the plugin connected to the primary too: %v", hs)
	}

	anyDS := dsCtx("any", "", nil, primary, standby) // default: any, the first that answers
	mustOK(t, call(p, anyDS, "equity"), "any")
	if m := sessions(primary); m != 1 {
		t.Fatalf("any: plugin sessions on the primary %d, want 1", m)
	}
	if hs := connected(p, primary.Port); len(hs) != 1 || hs[0] != "off" {
		t.Fatalf("any: in_hot_standby the primary reported: %v, want [off]", hs)
	}

	rw := dsCtx("rw", "read-write", nil, standby, primary)
	mustOK(t, call(p, rw, "equity"), "read-write with the standby listed first")
	if m := sessions(primary); m != 2 {
		t.Fatalf("read-write: plugin sessions on the primary %d, want 2", m)
	}

	onlyPrimary := dsCtx("standby-only", "standby", nil, primary)
	r := call(p, onlyPrimary, "equity")
	if r.Err != nil || r.Status != 502 || !strings.Contains(r.Msg, "standby") {
		t.Fatalf("targetSessionAttrs standby with only a primary: %v, want 502 naming the standby mode", r)
	}
	t.Logf("standby-only on a primary: %v", r)
}

// A query over the standby is seen running there, by the plugin's own
// application_name, and not on the primary. It is slow (10 s) and
// queryTimeoutSeconds is 2: the 504's cancel must reach the standby too
// (libpq's cancel goes to the host the session is on).
func TestPreferStandbyQueryRunsOnTheStandby(t *testing.T) {
	upAgain(t)
	p := harness.Launch(t, harness.Options{})
	ds := dsCtx("running", "prefer-standby", map[string]any{"table": "slow_conflict", "queryTimeoutSeconds": 2},
		primary, standby)
	done := make(chan reply, 1)
	go func() { done <- call(p, ds, "trade_count") }()
	seen := runningOn(standby)
	onPrimary, _ := primary.Psql("postgres", runningSlow)
	r := <-done
	if !seen {
		t.Fatalf("the plugin's query never showed up running on the standby (reply %v)", r)
	}
	if strings.TrimSpace(onPrimary) != "0" {
		t.Fatalf("the plugin's query was running on the primary too: %s", onPrimary)
	}
	if r.Err != nil || r.Status != 504 {
		t.Fatalf("the 10 s query with queryTimeoutSeconds 2: %v, want 504", r)
	}
	if _, err := standby.WaitGone("slow_conflict", 5*time.Second); err != nil {
		t.Fatalf("after the 504: %v", err)
	}
}

// The standby stops (an admin's fast stop, or a crash: SIGKILL) while the
// plugin holds pooled connections to it: the next queries go to the primary
// without restarting the plugin. Measured: the time from the stop command
// to the first successful query, queries sent back to back. Each run is a
// fresh data source (a fresh pool), first served by the standby.
func TestStandbyStoppedFailsOverToThePrimary(t *testing.T) {
	p := harness.Launch(t, harness.Options{})
	runs := 5
	if testing.Short() {
		runs = 1
	}
	for _, mode := range []string{"fast stop", "SIGKILL"} {
		var took, base []time.Duration
		failed := 0
		for i := 0; i < runs; i++ {
			upAgain(t)
			ds := dsCtx(fmt.Sprintf("failover-%s-%d", strings.ReplaceAll(mode, " ", "-"), i), "prefer-standby",
				map[string]any{"maxOpenConnections": 2}, primary, standby)
			mustOK(t, call(p, ds, "equity"), "before the stop")
			warm := call(p, ds, "equity") // on the pooled connection: the baseline
			mustOK(t, warm, "before the stop, pooled")
			base = append(base, warm.Took)
			if n := sessions(standby); n < 1 {
				t.Fatalf("before the stop: %d plugin sessions on the standby", n)
			}
			before := sessions(primary)
			start := time.Now()
			var err error
			if mode == "SIGKILL" {
				err = standby.Kill()
			} else {
				err = standby.Down()
			}
			if err != nil {
				t.Fatal(err)
			}
			stopped := time.Since(start)
			var r reply
			for attempt := 1; ; attempt++ {
				r = call(p, ds, "equity")
				if r.Err == nil && r.Status == 200 {
					break
				}
				failed++
				t.Logf("%s run %d: attempt %d failed: %v", mode, i, attempt, r)
				if time.Since(start) > 20*time.Second {
					t.Fatalf("%s: no successful query within 20 s of the stop; last %v", mode, r)
				}
			}
			took = append(took, time.Since(start))
			if after := sessions(primary); after <= before {
				t.Fatalf("%s: the query after the stop succeeded but the plugin has %d sessions on the primary (%d before)",
					mode, after, before)
			}
			t.Logf("%s run %d: stop took %v, first success %v after the stop command (that query %v)", mode, i,
				stopped.Round(time.Millisecond), took[len(took)-1].Round(time.Millisecond), r.Took.Round(time.Millisecond))
		}
		sort.Slice(took, func(a, b int) bool { return took[a] < took[b] })
		sort.Slice(base, func(a, b int) bool { return base[a] < base[b] })
		load, _ := os.ReadFile("/proc/loadavg")
		t.Logf("measure: failover after %s of the standby: median %v (min %v, max %v) over %d runs, %d failed queries; "+
			"the same query on a pooled standby connection before: median %v; loadavg %s",
			mode, took[len(took)/2].Round(time.Millisecond), took[0].Round(time.Millisecond),
			took[len(took)-1].Round(time.Millisecond), len(took), failed, base[len(base)/2].Round(time.Millisecond),
			strings.TrimSpace(string(load)))
		if failed > 0 {
			t.Errorf("%s: %d queries failed during the failover, want none (prefer-standby retries on the primary)", mode, failed)
		}
	}
	upAgain(t)
}

// A query running on the standby while the primary deletes rows and
// VACUUMs them away: with hot_standby_feedback off the standby must cancel
// it after max_standby_streaming_delay (100 ms) to go on replaying —
// SQLSTATE 40001 "canceling statement due to conflict with recovery". The
// plugin answers 503 naming the two standby settings.
func TestRecoveryConflictIs503NamingTheStandbySettings(t *testing.T) {
	upAgain(t)
	p := harness.Launch(t, harness.Options{})
	ds := dsCtx("conflict", "standby", map[string]any{"table": "slow_conflict", "queryTimeoutSeconds": 60}, standby)
	done := make(chan reply, 1)
	go func() { done <- call(p, ds, "equity") }()
	seen := runningOn(standby)
	if !seen {
		t.Fatalf("the plugin's query never showed up running on the standby (reply %v)", <-done)
	}
	start := time.Now()
	if _, err := primary.Psql("trading", "DELETE FROM conflict_trades WHERE trade_id IN (SELECT trade_id FROM conflict_trades LIMIT 500)"); err != nil {
		t.Fatal(err)
	}
	if _, err := primary.Psql("trading", "VACUUM conflict_trades"); err != nil {
		t.Fatal(err)
	}
	var r reply
	select {
	case r = <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("no answer 30 s after the VACUUM")
	}
	t.Logf("measure: recovery conflict answered %v after the DELETE: %v", time.Since(start).Round(time.Millisecond), r)
	if r.Err != nil || r.Status != 503 || !strings.Contains(r.Msg, "conflict with recovery") ||
		!strings.Contains(r.Msg, "max_standby_streaming_delay") || !strings.Contains(r.Msg, "hot_standby_feedback") {
		t.Fatalf("recovery conflict: %v, want 503 naming max_standby_streaming_delay and hot_standby_feedback", r)
	}
	if n, err := standby.Psql("trading", "SELECT confl_snapshot FROM pg_stat_database_conflicts WHERE datname = 'trading'"); err == nil {
		t.Logf("standby pg_stat_database_conflicts.confl_snapshot = %s", n)
	}
	// the connection the standby cancelled on is fine again
	mustOK(t, call(p, dsCtx("conflict-after", "standby", nil, standby), "trade_count"), "after the conflict")
}

// A host that accepts TCP and never answers (a black-holed standby, as a
// partition leaves it): it costs its share of queryTimeoutSeconds, not the
// whole of it — libpq's connect_timeout is ignored by PQconnectPoll, so the
// plugin bounds each host itself. queryTimeoutSeconds 6: with "any" and the
// dead host first, 6 s / 2 hosts = 3 s; with prefer-standby and the dead
// standby second, 6 s / 3 attempts (two passes) ≈ 3 s left to it.
func TestBlackHoledHostCostsItsShareNotTheDeadline(t *testing.T) {
	upAgain(t)
	px, err := faults.NewProxy(fmt.Sprintf("127.0.0.1:%d", standby.Port))
	if err != nil {
		t.Fatal(err)
	}
	defer px.Close()
	px.Set(faults.BlackHole, 0)
	p := harness.Launch(t, harness.Options{})
	for _, c := range []struct {
		name, target string
		ports        []int
	}{
		{"any, dead host first", "any", []int{px.Port, primary.Port}},
		{"prefer-standby, dead standby second", "prefer-standby", []int{primary.Port, px.Port}},
	} {
		ds := dsPorts("blackhole-"+c.target, c.target, map[string]any{"queryTimeoutSeconds": 6}, c.ports...)
		r := call(p, ds, "equity")
		t.Logf("measure: %s, queryTimeoutSeconds 6: %v", c.name, r)
		if r.Err != nil || r.Status != 200 {
			t.Errorf("%s: %v, want 200 from the primary", c.name, r)
		} else if r.Took < 2500*time.Millisecond {
			// a 200 at all says the dead host did not eat the 6 s; this says it was waited for
			t.Errorf("%s: answered after %v, want about 3 s (the dead host's share)", c.name, r.Took)
		}
	}
}

// prefer-standby fell back to the primary while the standby was down: once
// the standby is back, the queries return to it without a plugin restart
// and although the pool is in use all the time (idleConnectionSeconds would
// never close its connections): a fallback connection is pooled for 30 s
// (GPX_PG_FALLBACK_MS) only. Measured: from the fallback connect to the
// first query seen on the standby again, a query every 500 ms.
func TestPreferStandbyReturnsToTheStandbyWhenItIsBack(t *testing.T) {
	upAgain(t)
	if err := standby.Down(); err != nil {
		t.Fatal(err)
	}
	p := harness.Launch(t, harness.Options{})
	ds := dsCtx("return", "prefer-standby", map[string]any{"maxOpenConnections": 1}, primary, standby)
	fellBack := time.Now()
	mustOK(t, call(p, ds, "equity"), "with the standby down")
	if n := sessions(primary); n != 1 {
		t.Fatalf("with the standby down: %d plugin sessions on the primary, want 1", n)
	}
	upAgain(t)
	for {
		mustOK(t, call(p, ds, "equity"), "after the standby is back")
		if sessions(standby) >= 1 {
			break
		}
		if time.Since(fellBack) > 45*time.Second {
			t.Fatalf("the queries did not return to the standby within 45 s of the fallback")
		}
		time.Sleep(500 * time.Millisecond)
	}
	back := time.Since(fellBack)
	t.Logf("measure: back on the standby %v after the fallback connect", back.Round(time.Millisecond))
	if back < 29*time.Second {
		t.Errorf("back on the standby after %v: sooner than the 30 s a fallback connection is kept", back)
	}
	waitSessions(t, primary, 0, 5*time.Second) // the fallback connection was closed, not kept idle
}

// waitSessions polls until the plugin has n sessions on s.
func waitSessions(t *testing.T, s *pgfix.Server, n int, limit time.Duration) {
	t.Helper()
	for start := time.Now(); sessions(s) != n; time.Sleep(20 * time.Millisecond) {
		if time.Since(start) > limit {
			t.Fatalf("the plugin has %d sessions on port %d after %v, want %d", sessions(s), s.Port, limit, n)
		}
	}
}
