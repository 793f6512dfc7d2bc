package flight

// Single flight (issue 14): the bundled dashboard's stat panels each send
// their own `stats` query, differing only in `metrics`; concurrent ones
// with the same computation share one read of the trades. Checked from
// outside: every answer's Arrow bytes equal the answer the same query gets
// alone, Postgres (pg_stat_statements) saw one ordered COPY read per
// distinct computation, and gpx_query_coalesced_total counts the rest; a
// waiter that leaves does not stop the leader, a leader that leaves does
// not break its waiters.
//
// The table is a view whose statements each sleep once (an InitPlan), so a
// computation takes long enough for the others to arrive while it runs.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/genproto/pluginv2"

	"github.com/algotrading/pnl-datasource/tests/harness"
	"github.com/algotrading/pnl-datasource/tests/pgfix"
)

var pg *pgfix.Server

var (
	from = time.Date(2025, 2, 1, 0, 0, 0, 0, time.UTC)
	to   = time.Date(2025, 4, 15, 12, 0, 0, 0, time.UTC)
)

func TestMain(m *testing.M) {
	pgfix.Main(m, func(s *pgfix.Server) error {
		pg = s
		if err := s.RestartWith("-c shared_preload_libraries=pg_stat_statements"); err != nil {
			return err
		}
		if err := pg.LoadDemo(harness.RepoRoot(), 20000, 120, 7, "2025-01-01"); err != nil {
			return err
		}
		for _, sql := range []string{
			"CREATE EXTENSION pg_stat_statements",
			"CREATE FUNCTION gpx_slow() RETURNS boolean LANGUAGE sql VOLATILE AS 'SELECT pg_sleep(0.6); SELECT true'",
			"CREATE VIEW trades_slow AS SELECT * FROM trades WHERE (SELECT gpx_slow())",
			"GRANT SELECT ON trades_slow TO grafana",
		} {
			if out, err := s.Psql("trading", sql); err != nil {
				return fmt.Errorf("%s: %v %s", sql, err, out)
			}
		}
		return nil
	}, nil)
}

// The dashboard's eight stat panels (dashboards/trading.json): one metric each.
var panels = []string{"win_rate", "total_pnl", "max_drawdown", "trade_count", "sharpe", "sortino", "profit_factor",
	"daily_loss"}

func ctx(uid string) *pluginv2.PluginContext {
	return harness.PluginContext(uid, pg.JSONData(map[string]any{"table": "trades_slow"}), pgfix.Secure(), 1)
}

func statsQuery(refID, metric string) *pluginv2.DataQuery {
	m := map[string]any{"refId": refID, "queryType": "stats", "metrics": []string{metric},
		"strategies": []string{}, "groupBy": "none", "intervalMs": 60000, "maxDataPoints": 300}
	js, _ := json.Marshal(m)
	return &pluginv2.DataQuery{RefId: refID, MaxDataPoints: 300, IntervalMS: 60000, Json: js,
		TimeRange: &pluginv2.TimeRange{FromEpochMS: from.UnixMilli(), ToEpochMS: to.UnixMilli()}}
}

// answer is one QueryData call's raw response for its refId.
type answer struct {
	frames [][]byte
	status int32
	err    string
	rpcErr error
}

func call(c context.Context, p *harness.Plugin, pc *pluginv2.PluginContext, q *pluginv2.DataQuery) answer {
	res, err := p.Data.QueryData(c, &pluginv2.QueryDataRequest{PluginContext: pc, Queries: []*pluginv2.DataQuery{q}})
	if err != nil {
		return answer{rpcErr: err}
	}
	r := res.Responses[q.RefId]
	if r == nil {
		return answer{err: "no response for " + q.RefId}
	}
	return answer{frames: r.Frames, status: r.Status, err: r.Error}
}

func ok(t *testing.T, what string, a answer) {
	t.Helper()
	if a.rpcErr != nil || a.err != "" || (a.status != 0 && a.status != 200) {
		t.Fatalf("%s: rpc %v, status %d, error %q", what, a.rpcErr, a.status, a.err)
	}
}

func same(a, b [][]byte) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if !bytes.Equal(a[i], b[i]) {
			return false
		}
	}
	return true
}

// copies is how many ordered reads (the one-pass COPY) Postgres ran since the last reset.
func copies(t *testing.T) int {
	t.Helper()
	out, err := pg.Psql("trading", "SELECT coalesce(sum(calls), 0) FROM pg_stat_statements WHERE query LIKE 'COPY (%' "+
		"AND query LIKE '%ORDER BY%'")
	if err != nil {
		t.Fatal(err)
	}
	n, err := strconv.Atoi(strings.TrimSpace(out))
	if err != nil {
		t.Fatalf("pg_stat_statements: %q", out)
	}
	return n
}

func resetStatements(t *testing.T) {
	t.Helper()
	if out, err := pg.Psql("trading", "SELECT pg_stat_statements_reset()"); err != nil {
		t.Fatal(err, out)
	}
}

var coalescedRE = regexp.MustCompile(`(?m)^gpx_query_coalesced_total (\d+)$`)

func coalesced(t *testing.T, p *harness.Plugin) int {
	t.Helper()
	c, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	res, err := p.Diagnostics.CollectMetrics(c, &pluginv2.CollectMetricsRequest{})
	if err != nil {
		t.Fatal(err)
	}
	m := coalescedRE.FindStringSubmatch(string(res.Metrics.Prometheus))
	if m == nil {
		t.Fatal("CollectMetrics lacks gpx_query_coalesced_total")
	}
	n, _ := strconv.Atoi(m[1])
	return n
}

// solo answers each panel's query alone, one after the other.
func solo(t *testing.T, p *harness.Plugin, pc *pluginv2.PluginContext) map[string][][]byte {
	want := map[string][][]byte{}
	for i, m := range panels {
		a := call(context.Background(), p, pc, statsQuery(string(rune('A'+i)), m))
		ok(t, "solo "+m, a)
		want[m] = a.frames
	}
	return want
}

// atOnce sends one stats query per metric at the same time (refId by the
// metric's panel, a 30-s deadline each); the function returned waits for
// the answers.
func atOnce(p *harness.Plugin, pc *pluginv2.PluginContext, metrics []string) func() []answer {
	var wg sync.WaitGroup
	got := make([]answer, len(metrics))
	for i, m := range metrics {
		wg.Add(1)
		go func(i int, m string) {
			defer wg.Done()
			c, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			got[i] = call(c, p, pc, statsQuery(string(rune('A'+indexOf(m))), m))
		}(i, m)
	}
	return func() []answer { wg.Wait(); return got }
}

// sameAsAlone: every answer is OK and byte for byte the metric's answer alone.
func sameAsAlone(t *testing.T, metrics []string, got []answer, want map[string][][]byte) {
	t.Helper()
	for i, m := range metrics {
		ok(t, m, got[i])
		if !same(got[i].frames, want[m]) {
			t.Errorf("%s: the coalesced answer differs from the answer alone", m)
		}
	}
}

func TestStatPanelsShareOneRead(t *testing.T) {
	p := harness.Launch(t, harness.Options{})
	pc := ctx("flight-ds")
	want := solo(t, p, pc)
	resetStatements(t)
	base := coalesced(t, p)
	sameAsAlone(t, panels, atOnce(p, pc, panels)(), want)
	// two computations: the panels that need the daily series (sharpe,
	// sortino, daily_loss) and those that do not read different statements
	if n := copies(t); n != 2 {
		t.Errorf("Postgres ran %d ordered reads for the 8 panels, want 2", n)
	}
	if n := coalesced(t, p) - base; n != 6 {
		t.Errorf("gpx_query_coalesced_total rose by %d, want 6", n)
	}
}

// Five panels of the same computation: one read.
func TestSameComputationOneRead(t *testing.T) {
	p := harness.Launch(t, harness.Options{})
	pc := ctx("flight-one")
	want := solo(t, p, pc)
	resetStatements(t)
	five := []string{"win_rate", "total_pnl", "max_drawdown", "trade_count", "profit_factor"}
	sameAsAlone(t, five, atOnce(p, pc, five)(), want)
	if n := copies(t); n != 1 {
		t.Errorf("Postgres ran %d ordered reads, want 1", n)
	}
}

func indexOf(m string) int {
	for i, x := range panels {
		if x == m {
			return i
		}
	}
	return -1
}

// A waiter whose caller leaves stops waiting; the leader is not cancelled.
func TestCancelledWaiterLeavesTheLeaderAlone(t *testing.T) {
	p := harness.Launch(t, harness.Options{})
	pc := ctx("flight-waiter")
	want := solo(t, p, pc)
	resetStatements(t)
	lead := make(chan answer, 1)
	go func() { lead <- call(context.Background(), p, pc, statsQuery("B", "total_pnl")) }()
	time.Sleep(200 * time.Millisecond)
	c, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	start := time.Now()
	w := call(c, p, pc, statsQuery("A", "win_rate"))
	cancel()
	if w.rpcErr == nil && w.status == 200 {
		t.Fatalf("the cancelled waiter got an answer")
	}
	if took := time.Since(start); took > 2*time.Second {
		t.Errorf("the cancelled waiter took %v", took)
	}
	l := <-lead
	ok(t, "leader", l)
	if !same(l.frames, want["total_pnl"]) {
		t.Error("the leader's answer differs from the answer alone")
	}
	if n := copies(t); n != 1 {
		t.Errorf("Postgres ran %d ordered reads, want 1", n)
	}
}

// A leader whose caller leaves takes its read with it; its waiters run
// again (one read for all of them) and answer as if alone.
func TestCancelledLeaderDoesNotBreakWaiters(t *testing.T) {
	p := harness.Launch(t, harness.Options{})
	pc := ctx("flight-leader")
	want := solo(t, p, pc)
	resetStatements(t)
	c, cancel := context.WithCancel(context.Background())
	lead := make(chan answer, 1)
	go func() { lead <- call(c, p, pc, statsQuery("B", "total_pnl")) }()
	time.Sleep(200 * time.Millisecond)
	three := []string{"win_rate", "max_drawdown", "profit_factor"}
	wait := atOnce(p, pc, three)
	time.Sleep(200 * time.Millisecond)
	cancel()
	l := <-lead
	if l.rpcErr == nil && l.status == 200 {
		t.Log("the leader finished before its cancellation arrived")
	}
	sameAsAlone(t, three, wait(), want)
}

// A leader whose caller's deadline (shorter than the query timeout) passes
// shares nothing; its waiters, with later deadlines, start over together:
// one read for all of them.
func TestLeaderPastItsDeadlineWaitersStartOverTogether(t *testing.T) {
	p := harness.Launch(t, harness.Options{})
	pc := ctx("flight-deadline")
	want := solo(t, p, pc)
	resetStatements(t)
	lead := make(chan answer, 1)
	go func() {
		c, cancel := context.WithTimeout(context.Background(), 400*time.Millisecond)
		defer cancel()
		lead <- call(c, p, pc, statsQuery("B", "total_pnl"))
	}()
	time.Sleep(150 * time.Millisecond)
	three := []string{"win_rate", "max_drawdown", "profit_factor"}
	wait := atOnce(p, pc, three)
	if l := <-lead; l.rpcErr == nil && l.status == 200 {
		t.Fatal("the leader answered within 400 ms: the view is not slow enough for this test")
	}
	sameAsAlone(t, three, wait(), want)
	if n := copies(t); n != 1 {
		t.Errorf("Postgres ran %d ordered reads for the three waiters, want 1", n)
	}
}

func kindQuery(refID string, body map[string]any) *pluginv2.DataQuery {
	m := map[string]any{"refId": refID, "strategies": []string{}, "groupBy": "none", "intervalMs": 60000,
		"maxDataPoints": 300}
	for k, v := range body {
		m[k] = v
	}
	js, _ := json.Marshal(m)
	return &pluginv2.DataQuery{RefId: refID, MaxDataPoints: 300, IntervalMS: 60000, Json: js,
		TimeRange: &pluginv2.TimeRange{FromEpochMS: from.UnixMilli(), ToEpochMS: to.UnixMilli()}}
}

// drawdown is the one-pass read in curve mode: identical drawdown queries
// share it; a stats query on the same rows (one bucket's curve, not the
// per-trade one) and a drawdown in money mode are computations of their own.
func TestDrawdownSharesOnlyWithDrawdown(t *testing.T) {
	p := harness.Launch(t, harness.Options{})
	pc := ctx("flight-dd")
	bodies := []map[string]any{
		{"queryType": "drawdown"}, {"queryType": "drawdown"}, {"queryType": "drawdown"},
		{"queryType": "drawdown", "drawdownMode": "money"},
		{"queryType": "stats", "metrics": []string{"max_drawdown"}},
	}
	want := make([][][]byte, len(bodies))
	for i, b := range bodies {
		a := call(context.Background(), p, pc, kindQuery("A", b))
		ok(t, fmt.Sprintf("alone %v", b), a)
		want[i] = a.frames
	}
	base := coalesced(t, p)
	got := make([]answer, len(bodies))
	var wg sync.WaitGroup
	for i, b := range bodies {
		wg.Add(1)
		go func(i int, b map[string]any) {
			defer wg.Done()
			c, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			got[i] = call(c, p, pc, kindQuery("A", b))
		}(i, b)
	}
	wg.Wait()
	for i, b := range bodies {
		ok(t, fmt.Sprintf("at once %v", b), got[i])
		if !same(got[i].frames, want[i]) {
			t.Errorf("%v at once: the answer differs from the answer alone", b)
		}
	}
	if n := coalesced(t, p) - base; n != 2 {
		t.Errorf("gpx_query_coalesced_total rose by %d, want 2 (the three identical drawdown queries: one read)", n)
	}
}
