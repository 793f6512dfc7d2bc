package analytics

// Parallel queries in a request (issue 14, item 3): the queries of one
// QueryData request run up to jsonData.concurrentQueries at once, each on
// its own connection; the answers keep refId → response; cancelling the
// request cancels every running statement; a pool smaller than the queries
// that want it makes them wait (and time out cleanly), never deadlock.
//
// Overlap is shown by Postgres itself, not by timing: with the table locked
// by another session, every statement the plugin has sent waits on the lock
// in pg_stat_activity, so the number waiting at once is the number running.

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/backend"
	"github.com/grafana/grafana-plugin-sdk-go/genproto/pluginv2"

	"github.com/algotrading/pnl-datasource/tests/harness"
	"github.com/algotrading/pnl-datasource/tests/pgfix"
)

const pluginApp = "algotrading-pnl-datasource" // application_name of the plugin's connections

// waitingOn counts the plugin's statements on table that wait for a lock.
func waitingOn(t *testing.T, table string) int {
	t.Helper()
	out, err := pg.Psql("postgres", "SELECT count(*) FROM pg_stat_activity WHERE application_name = '"+pluginApp+
		"' AND state = 'active' AND wait_event_type = 'Lock' AND query LIKE '%"+table+"%'")
	if err != nil {
		t.Fatal(err)
	}
	n, _ := strconv.Atoi(strings.TrimSpace(out))
	return n
}

// activeOn counts the plugin's statements on table still running (any wait).
func activeOn(t *testing.T, table string) int {
	t.Helper()
	out, err := pg.Psql("postgres", "SELECT count(*) FROM pg_stat_activity WHERE application_name = '"+pluginApp+
		"' AND state = 'active' AND query LIKE '%"+table+"%'")
	if err != nil {
		t.Fatal(err)
	}
	n, _ := strconv.Atoi(strings.TrimSpace(out))
	return n
}

// lockTable holds an ACCESS EXCLUSIVE lock on table until the returned release.
func lockTable(t *testing.T, table string) func() {
	t.Helper()
	h, err := pg.Hold("trading", "BEGIN; LOCK TABLE "+table+" IN ACCESS EXCLUSIVE MODE;",
		"SELECT count(*) > 0 FROM pg_locks l JOIN pg_class c ON c.oid = l.relation WHERE c.relname = '"+table+
			"' AND l.mode = 'AccessExclusiveLock' AND l.granted")
	if err != nil {
		t.Fatal(err)
	}
	var once sync.Once
	rel := func() { once.Do(h.Release) }
	t.Cleanup(rel)
	return rel
}

// eightQueries: kinds that read the table on one connection each (no second
// COPY session), so each running query is one backend.
func eightQueries() []*pluginv2.DataQuery {
	kinds := []string{"equity", "pnl", "returns", "drawdown", "daily_pnl", "trades", "trade_count", "slippage"}
	qs := make([]*pluginv2.DataQuery, len(kinds))
	for i, k := range kinds {
		qs[i] = query(fmt.Sprintf("Q%d", i), k, nil, 100)
	}
	return qs
}

// peakWhile polls waitingOn until done closes and returns the highest count seen.
func peakWhile(t *testing.T, table string, done <-chan struct{}) int {
	peak := 0
	for {
		select {
		case <-done:
			return peak
		default:
		}
		if n := waitingOn(t, table); n > peak {
			peak = n
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestParallelQueriesOverlapUpToConcurrentQueries(t *testing.T) {
	makeTradeTable(t, "trades_par", groupTrades(5)[:300], tableOpts{})
	p := harness.Launch(t, harness.Options{})
	for _, c := range []struct{ concurrent, want int }{{4, 4}, {1, 1}} {
		t.Run(fmt.Sprintf("concurrentQueries=%d", c.concurrent), func(t *testing.T) {
			ctx := harness.PluginContext(fmt.Sprintf("par-%d", c.concurrent), pg.JSONData(map[string]any{
				"table": "trades_par", "maxOpenConnections": 6, "concurrentQueries": c.concurrent,
				"queryTimeoutSeconds": 20}), pgfix.Secure(), 1)
			mustOK(t, p.Query(t, ctx, query("W", "trade_count", nil, 10))["W"]) // warm the instance
			release := lockTable(t, "trades_par")
			done := make(chan struct{}, 1) // (this package's close is a float comparison)
			var res map[string]backend.DataResponse
			go func() {
				defer func() { done <- struct{}{} }()
				res = p.Query(t, ctx, eightQueries()...)
			}()
			// wait until the plugin's statements pile up on the lock, then let them go
			deadline := time.Now().Add(10 * time.Second)
			for waitingOn(t, "trades_par") < c.want && time.Now().Before(deadline) {
				time.Sleep(20 * time.Millisecond)
			}
			time.Sleep(300 * time.Millisecond) // room for more than want to show up, if they would
			peak := waitingOn(t, "trades_par")
			release()
			if more := peakWhile(t, "trades_par", done); more > peak {
				peak = more
			}
			if peak != c.want {
				t.Errorf("%d statements of the request waited at once, want %d (concurrentQueries)", peak, c.want)
			}
			if len(res) != 8 {
				t.Fatalf("%d responses, want 8", len(res))
			}
			for i := 0; i < 8; i++ {
				ref := fmt.Sprintf("Q%d", i)
				r, ok := res[ref]
				if !ok {
					t.Errorf("no response for %s", ref)
					continue
				}
				if r.Error != nil || r.Status != 200 {
					t.Errorf("%s: %d %v", ref, r.Status, r.Error)
				}
				for _, f := range r.Frames {
					if f.RefID != ref {
						t.Errorf("%s answered with a frame of %q", ref, f.RefID)
					}
				}
			}
		})
	}
}

// A failing query (bad option, unknown kind) answers its own error; the
// others answer as when sent alone, each under its own refId.
func TestParallelQueriesFailIndependently(t *testing.T) {
	allTrades(t)
	p := harness.Launch(t, harness.Options{})
	ctx := pctx(map[string]any{"concurrentQueries": 4, "maxOpenConnections": 5})
	qs := []*pluginv2.DataQuery{
		query("A", "stats", map[string]any{"metrics": []string{"trade_count", "sharpe"}}, 10),
		query("B", "equity", map[string]any{"groupBy": "nonsense"}, 100),
		query("C", "daily_pnl", nil, 100),
		query("D", "no_such_kind", nil, 100),
		query("E", "trade_count", nil, 100),
	}
	res := p.Query(t, ctx, qs...)
	if res["B"].Status != 400 || !strings.Contains(fmt.Sprint(res["B"].Error), "groupBy") {
		t.Errorf("B: %d %v, want 400 naming groupBy", res["B"].Status, res["B"].Error)
	}
	if res["D"].Status != 400 || !strings.Contains(fmt.Sprint(res["D"].Error), "queryType") {
		t.Errorf("D: %d %v, want 400 naming queryType", res["D"].Status, res["D"].Error)
	}
	for _, ref := range []string{"A", "C", "E"} {
		alone := p.Query(t, ctx, qs[ref[0]-'A'])[ref]
		got := res[ref]
		if got.Status != 200 || got.Error != nil {
			t.Errorf("%s: %d %v", ref, got.Status, got.Error)
			continue
		}
		if len(got.Frames) != len(alone.Frames) {
			t.Errorf("%s: %d frames, alone %d", ref, len(got.Frames), len(alone.Frames))
			continue
		}
		for k := range got.Frames {
			a, _ := got.Frames[k].MarshalJSON()
			b, _ := alone.Frames[k].MarshalJSON()
			if string(a) != string(b) {
				t.Errorf("%s frame %d differs from the query sent alone", ref, k)
			}
		}
	}
}

// Cancelling the request cancels every statement it runs: the plugin's
// statements are gone from pg_stat_activity although the lock they wait on
// is still held.
func TestParallelQueriesCancelEveryStatement(t *testing.T) {
	makeTradeTable(t, "trades_parc", groupTrades(6)[:300], tableOpts{})
	p := harness.Launch(t, harness.Options{})
	ctx := harness.PluginContext("parc", pg.JSONData(map[string]any{"table": "trades_parc", "maxOpenConnections": 5,
		"concurrentQueries": 4, "queryTimeoutSeconds": 30}), pgfix.Secure(), 1)
	mustOK(t, p.Query(t, ctx, query("W", "trade_count", nil, 10))["W"])
	lockTable(t, "trades_parc")
	c, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, err := p.Data.QueryData(c, &pluginv2.QueryDataRequest{PluginContext: ctx, Queries: eightQueries()})
		done <- err
	}()
	deadline := time.Now().Add(10 * time.Second)
	for waitingOn(t, "trades_parc") < 4 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if n := waitingOn(t, "trades_parc"); n != 4 {
		t.Fatalf("%d statements waiting before the cancel, want 4", n)
	}
	cancel()
	start := time.Now()
	for activeOn(t, "trades_parc") > 0 && time.Since(start) < 5*time.Second {
		time.Sleep(20 * time.Millisecond)
	}
	if n := activeOn(t, "trades_parc"); n != 0 {
		t.Fatalf("%d statements still running %v after the request was cancelled", n, time.Since(start))
	}
	t.Logf("every statement gone %v after the cancel", time.Since(start))
	if err := <-done; err == nil {
		t.Errorf("the cancelled call returned no error")
	}
	// the lock is still held: nothing was let through, the statements were cancelled
	if waitingOn(t, "trades_parc") != 0 {
		t.Errorf("statements waiting again after the cancel")
	}
}

// A pool smaller than concurrentQueries × concurrent requests: queries wait
// for a connection and those that find none by their deadline answer the
// existing timeout error; nothing hangs, and the pool serves again after.
// Admission still holds: beyond maxOpenConnections + maxQueuedQueries a
// query is refused at once with 503.
func TestParallelQueriesSharePoolWithoutDeadlock(t *testing.T) {
	makeTradeTable(t, "trades_parp", groupTrades(7)[:300], tableOpts{})
	p := harness.Launch(t, harness.Options{})
	ctx := harness.PluginContext("parp", pg.JSONData(map[string]any{"table": "trades_parp", "maxOpenConnections": 2,
		"concurrentQueries": 2, "maxQueuedQueries": 4, "queryTimeoutSeconds": 2}), pgfix.Secure(), 1)
	mustOK(t, p.Query(t, ctx, query("W", "trade_count", nil, 10))["W"])
	release := lockTable(t, "trades_parp")
	const requests = 4 // 4 × 2 queries at once: 2 run, 4 wait, 2 refused
	var wg sync.WaitGroup
	answers := make([]map[string]backend.DataResponse, requests)
	start := time.Now()
	for i := 0; i < requests; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			answers[i] = p.Query(t, ctx, query("A", "equity", nil, 100), query("B", "trades", nil, 100))
		}(i)
		time.Sleep(50 * time.Millisecond)
	}
	wg.Wait()
	took := time.Since(start)
	release()
	timedOut, refused := 0, 0
	for i, a := range answers {
		for _, ref := range []string{"A", "B"} {
			r := a[ref]
			switch {
			case r.Status == 504 && strings.Contains(fmt.Sprint(r.Error), "query timed out after 2 s"):
				timedOut++
			case r.Status == 503 && strings.Contains(fmt.Sprint(r.Error), "too many concurrent queries"):
				refused++
			default:
				t.Errorf("request %d %s: %d %v", i, ref, r.Status, r.Error)
			}
		}
	}
	if refused != 2 || timedOut != 6 {
		t.Errorf("%d timed out, %d refused; want 6 and 2 (maxOpenConnections 2 + maxQueuedQueries 4 admitted)",
			timedOut, refused)
	}
	// 2 s each for whoever holds a connection, 2 s for whoever waits for one: all within one timeout round plus grace
	if took > 6*time.Second {
		t.Errorf("requests took %v with a 2 s query timeout", took)
	}
	res := p.Query(t, ctx, eightQueries()...)
	for ref, r := range res {
		if r.Status != 200 {
			t.Errorf("after the lock: %s %d %v", ref, r.Status, r.Error)
		}
	}
}
