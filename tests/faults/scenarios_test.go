package faults

// Issue 10: a database that dies, freezes or stops answering must never
// wedge the plugin. Each scenario asserts its pass criteria, is bounded in
// time, and leaves the server running and continued (SIGCONT) whatever
// happens.

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/algotrading/pnl-datasource/tests/harness"
)

// 1. Postgres killed (SIGKILL, every process) while a query runs: that
// query answers 502 within 2 s, and once Postgres is back a query succeeds
// within 5 s without restarting the plugin.
func TestPostgresKilledMidQueryIs502AndRecovers(t *testing.T) {
	fresh(t)
	p := harness.Launch(t, harness.Options{})
	t.Cleanup(func() {
		if !pg.Alive() {
			pg.Up()
		}
	})
	slow := dsCtx("killed-slow", pg.Port, map[string]any{"table": "slow_trades", "queryTimeoutSeconds": 30})
	fast := dsCtx("killed-fast", pg.Port, nil)
	mustOK(t, call(p, fast, "equity"), "before the kill") // the pool now holds a connection that will die

	done := make(chan reply, 1)
	go func() { done <- call(p, slow, "equity") }()
	if _, err := waitRunning("slow_trades", 10*time.Second); err != nil {
		t.Fatal(err)
	}
	killed := time.Now()
	if err := pg.Kill(); err != nil {
		t.Fatal(err)
	}
	var r reply
	select {
	case r = <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("the query on the killed server had not answered after 10 s")
	}
	answered := time.Since(killed)
	if r.Err != nil || r.Status != 502 {
		t.Errorf("killed mid-query: %v, want 502", r)
	}
	if answered > 2*time.Second {
		t.Errorf("killed mid-query: answered %v after the kill, want within 2 s", answered)
	}
	t.Logf("measure: killed mid-query → %d %v after the kill", r.Status, answered.Round(time.Millisecond))

	if err := pg.Up(); err != nil {
		t.Fatal(err)
	}
	up := time.Now()
	var last reply
	for attempts := 1; ; attempts++ {
		last = call(p, fast, "equity")
		if last.Err == nil && last.Status == 200 {
			t.Logf("measure: after restart, first success %v after Postgres was up (%d attempts)",
				time.Since(up).Round(time.Millisecond), attempts)
			break
		}
		if time.Since(up) > 5*time.Second {
			t.Fatalf("no successful query within 5 s of the restart; last: %v", last)
		}
		time.Sleep(100 * time.Millisecond)
	}
	mustOK(t, call(p, slow, "trade_count"), "the killed data source after the restart")
}

// waitRunning polls until a backend runs a query mentioning substr.
func waitRunning(substr string, limit time.Duration) (time.Duration, error) {
	start := time.Now()
	for time.Since(start) < limit {
		out, err := pg.Psql("postgres", "SELECT count(*) FROM pg_stat_activity WHERE state = 'active' AND query LIKE '%"+
			substr+"%' AND pid <> pg_backend_pid()")
		if err == nil && strings.TrimSpace(out) != "0" {
			return time.Since(start), nil
		}
		time.Sleep(20 * time.Millisecond)
	}
	return limit, fmt.Errorf("no query on %s showed up in pg_stat_activity within %v", substr, limit)
}

// 2. Postgres frozen (SIGSTOP, every process) and, separately, black-holed
// by a proxy, with queryTimeoutSeconds 5: the reply arrives within the
// timeout + 1 s (the issue allows 10 s), the pool slot is freed
// (gpx_pg_connections in_use is 0), and once Postgres answers again a query
// succeeds.
func TestUnresponsivePostgresAnswersAtTheTimeoutAndFreesTheSlot(t *testing.T) {
	const timeout = 5
	limit := timeout*time.Second + time.Second
	check := func(t *testing.T, p *harness.Plugin, r reply, status int) {
		t.Helper()
		if r.Err != nil || r.Status != status {
			t.Errorf("unresponsive Postgres: %v, want %d", r, status)
		}
		if r.Took > limit {
			t.Errorf("unresponsive Postgres: answered after %v, want within %v", r.Took, limit)
		}
		if n := inUse(t, p); n != 0 {
			t.Errorf("after the reply: gpx_pg_connections in_use = %d, want 0 (a leaked slot)", n)
		}
	}

	t.Run("frozen", func(t *testing.T) {
		fresh(t)
		p := harness.Launch(t, harness.Options{})
		ds := dsCtx("frozen", pg.Port, map[string]any{"queryTimeoutSeconds": timeout, "maxOpenConnections": 2})
		mustOK(t, call(p, ds, "equity"), "before the freeze")
		if err := pg.Freeze(); err != nil {
			t.Fatal(err)
		}
		thawed := false
		thaw := func() {
			if !thawed {
				pg.Thaw()
				thawed = true
			}
		}
		t.Cleanup(thaw)
		r := call(p, ds, "equity")
		t.Logf("measure: frozen → %v", r)
		check(t, p, r, 504)
		if !strings.Contains(r.Msg, "query timed out after 5 s") {
			t.Errorf("frozen: message %q, want the timeout's", r.Msg)
		}
		thaw()
		r = call(p, ds, "equity")
		t.Logf("measure: after SIGCONT → %v", r)
		mustOK(t, r, "after SIGCONT")
		if n := inUse(t, p); n != 0 {
			t.Errorf("after SIGCONT: in_use = %d, want 0", n)
		}
	})

	t.Run("black-holed", func(t *testing.T) {
		fresh(t)
		px, err := NewProxy(fmt.Sprintf("127.0.0.1:%d", pg.Port))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(px.Close)
		p := harness.Launch(t, harness.Options{})
		ds := dsCtx("black-holed", px.Port, map[string]any{"queryTimeoutSeconds": timeout, "maxOpenConnections": 2})
		mustOK(t, call(p, ds, "equity"), "through the proxy")
		px.Set(BlackHole, 0)
		// the pooled connection stalls mid-statement
		r := call(p, ds, "equity")
		t.Logf("measure: black-holed, pooled connection → %v", r)
		check(t, p, r, 504)
		// a new data source must connect: the connect is what stalls, and
		// the query's deadline cuts it (a timeout, like running SQL)
		newDS := dsCtx("black-holed-new", px.Port, map[string]any{"queryTimeoutSeconds": timeout})
		r = call(p, newDS, "equity")
		t.Logf("measure: black-holed, connecting → %v", r)
		check(t, p, r, 504)
		px.Set(Pass, 0)
		mustOK(t, call(p, ds, "equity"), "after the black hole")
		mustOK(t, call(p, newDS, "equity"), "the new data source after the black hole")
		if n := inUse(t, p); n != 0 {
			t.Errorf("after the black hole: in_use = %d, want 0", n)
		}
	})
}

// 3. Data source A stops answering with many calls stuck on it: data
// source B, on the same Postgres but not through A's (black-holed) proxy,
// keeps answering: p99 <= 1 s, no errors.
//
// 100 calls stuck on A: admission control lets maxOpenConnections (5) run
// and maxQueuedQueries (10) wait, each answered 504 at A's timeout; the
// rest get an immediate 503 "too many concurrent queries for this data
// source". Either way A's workers are free for B. GPX_FAULTS_STUCK sets
// another count.
func TestStuckSourceDoesNotStallAnother(t *testing.T) {
	stuck := 100
	if v, err := strconv.Atoi(os.Getenv("GPX_FAULTS_STUCK")); err == nil && v > 0 {
		stuck = v
	}
	const timeoutA = 3
	fresh(t)
	px, err := NewProxy(fmt.Sprintf("127.0.0.1:%d", pg.Port))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(px.Close)
	p := harness.Launch(t, harness.Options{})
	a := dsCtx("stuck-a", px.Port, map[string]any{"queryTimeoutSeconds": timeoutA})
	b := dsCtx("live-b", pg.Port, nil)
	mustOK(t, call(p, a, "equity"), "A before the black hole")
	mustOK(t, call(p, b, "equity"), "B before the black hole")
	px.Set(BlackHole, 0)

	aStart := time.Now()
	aReplies := make(chan reply, stuck)
	for i := 0; i < stuck; i++ {
		go func() { aReplies <- call(p, a, "equity") }()
	}
	time.Sleep(300 * time.Millisecond) // A's calls are in the plugin, waiting

	var mu sync.Mutex
	var lat []time.Duration
	var bad []string
	var wg sync.WaitGroup
	for w := 0; w < 4; w++ { // 4 dashboards refreshing B, 10 queries each
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 10; i++ {
				r := call(p, b, "equity")
				mu.Lock()
				lat = append(lat, r.Took)
				if r.Err != nil || r.Status != 200 {
					bad = append(bad, r.String())
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	bDone := time.Since(aStart)

	var firstA, lastA time.Duration = time.Hour, 0
	statuses := map[int]int{}
	for i := 0; i < stuck; i++ {
		r := <-aReplies
		at := time.Since(aStart)
		if at < firstA {
			firstA = at
		}
		lastA = at
		statuses[r.Status]++
		if r.Err != nil || (r.Status != 504 && r.Status != 503) {
			t.Errorf("A: %v, want 504 (timed out) or 503 (refused at once)", r)
		}
		if r.Took > timeoutA*time.Second+time.Second {
			t.Errorf("A: %v answered after %v, more than the timeout + 1 s", r, r.Took)
		}
	}
	if statuses[504] < 1 || statuses[504] > 15 {
		t.Errorf("A: %d calls timed out; admission lets 5 run and 10 wait", statuses[504])
	}
	p99 := percentile(lat, 0.99)
	t.Logf("measure: %d calls stuck on A; B: %d calls, p50 %v, p99 %v, max %v, errors %d; A answered %v..%v after the first call, statuses %v",
		stuck, len(lat), percentile(lat, 0.5).Round(time.Millisecond), p99.Round(time.Millisecond),
		percentile(lat, 1).Round(time.Millisecond), len(bad), firstA.Round(time.Millisecond), lastA.Round(time.Millisecond), statuses)
	if len(bad) > 0 {
		t.Errorf("B failed while A was stuck: %v", bad)
	}
	if p99 > time.Second {
		t.Errorf("B's p99 = %v while A was stuck, want <= 1 s", p99)
	}
	if bDone > firstA {
		t.Errorf("B's calls ended %v after A's began, but A's first reply came at %v: B was not measured while A was stuck", bDone, firstA)
	}
	if lastA > (timeoutA+1)*time.Second+500*time.Millisecond {
		t.Errorf("A's last reply came %v after its calls, want within the timeout + ~1 s", lastA)
	}
	px.Set(Pass, 0)
	mustOK(t, call(p, a, "equity"), "A after the black hole")
}

// 4. maxOpenConnections 2, a locked table, 20 callers: every caller gets a
// 504 within the timeout + 1 s, and the plugin never has more than 2
// backends in pg_stat_activity.
func TestLockedTableWithTwoConnectionsAndTwentyCallers(t *testing.T) {
	const timeout, callers = 2, 20
	fresh(t)
	p := harness.Launch(t, harness.Options{})
	// maxQueuedQueries 20: every caller is admitted and waits for one of the
	// two connections (admission itself is TestTooManyConcurrentQueries…)
	ds := dsCtx("locked", pg.Port, map[string]any{"table": "lock_trades", "queryTimeoutSeconds": timeout,
		"maxOpenConnections": 2, "maxQueuedQueries": 20})
	mustOK(t, call(p, ds, "equity"), "before the lock")
	held := lockTable(t)

	stop := make(chan struct{})
	maxSeen := make(chan int, 1)
	go func() { // sample the plugin's backends while the callers run
		m := 0
		for {
			if b := backends(); b > m {
				m = b
			}
			select {
			case <-stop:
				maxSeen <- m
				return
			case <-time.After(20 * time.Millisecond):
			}
		}
	}()
	replies := make(chan reply, callers)
	for i := 0; i < callers; i++ {
		go func() { replies <- call(p, ds, "equity") }()
	}
	var worst time.Duration
	statuses := map[int]int{}
	for i := 0; i < callers; i++ {
		r := <-replies
		statuses[r.Status]++
		if r.Took > worst {
			worst = r.Took
		}
		if r.Err != nil || r.Status != 504 {
			t.Errorf("locked table: %v, want 504", r)
		}
		if r.Took > timeout*time.Second+time.Second {
			t.Errorf("locked table: answered after %v, want within %v", r.Took, timeout*time.Second+time.Second)
		}
	}
	close(stop)
	m := <-maxSeen
	t.Logf("measure: %d callers on a locked table → statuses %v, slowest %v, at most %d plugin backends",
		callers, statuses, worst.Round(time.Millisecond), m)
	if m > 2 {
		t.Errorf("the plugin had %d backends in pg_stat_activity, want <= 2 (maxOpenConnections)", m)
	}
	held.Release()
	mustOK(t, call(p, ds, "equity"), "after the lock is released")
}

// 5. SIGTERM to the plugin with 64 calls in flight (5 of them waiting on a
// lock in Postgres, the rest for a connection): the plugin exits within 2 s
// and none of its backends is left in pg_stat_activity shortly after.
func TestSigtermWithCallsInFlightExitsAndLeavesNoBackends(t *testing.T) {
	const calls = 64
	fresh(t)
	p := harness.Launch(t, harness.Options{})
	ds := dsCtx("sigterm", pg.Port, map[string]any{"table": "lock_trades", "queryTimeoutSeconds": 60})
	lockTable(t)
	replies := make(chan reply, calls)
	for i := 0; i < calls; i++ {
		go func() { replies <- call(p, ds, "equity") }()
	}
	// wait until the pool's 5 connections are all blocked on the lock
	for start := time.Now(); ; time.Sleep(20 * time.Millisecond) {
		out, _ := pg.Psql("postgres", "SELECT count(*) FROM pg_stat_activity WHERE application_name = '"+appName+
			"' AND wait_event_type = 'Lock'")
		if strings.TrimSpace(out) == "5" {
			break
		}
		if time.Since(start) > 10*time.Second {
			t.Fatalf("the plugin's 5 connections never all waited on the lock (%s waiting)", out)
		}
	}
	time.Sleep(200 * time.Millisecond) // the other calls reach the pool
	sent := time.Now()
	if err := syscall.Kill(p.Pid, syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	for !p.Client.Exited() {
		if time.Since(sent) > 5*time.Second {
			t.Fatal("the plugin had not exited 5 s after SIGTERM")
		}
		time.Sleep(5 * time.Millisecond)
	}
	exited := time.Since(sent)
	gone := waitBackends(t, 0, 5*time.Second)
	t.Logf("measure: SIGTERM with %d calls in flight → exited after %v, backends gone %v later",
		calls, exited.Round(time.Millisecond), gone.Round(time.Millisecond))
	if exited > 2*time.Second {
		t.Errorf("exited %v after SIGTERM, want within 2 s", exited)
	}
	if gone > 2*time.Second {
		t.Errorf("the plugin's backends were gone only %v after it exited, want within 2 s", gone)
	}
	for i := 0; i < calls; i++ {
		select {
		case <-replies:
		case <-time.After(5 * time.Second):
			t.Fatalf("a call was still unanswered 5 s after the plugin exited")
		}
	}
}
