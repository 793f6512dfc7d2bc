package analytics

// Admission control per data source (issue 10, problem 4): at most
// maxOpenConnections queries run and maxQueuedQueries wait; more at once
// are answered at once with 503, never left to wait without limit, and
// another data source keeps answering meanwhile.

import (
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/backend"

	"github.com/algotrading/pnl-datasource/tests/harness"
	"github.com/algotrading/pnl-datasource/tests/pgfix"
)

func TestTooManyConcurrentQueriesAreRefusedAtOnce(t *testing.T) {
	makeTradeTable(t, "trades_locked", groupTrades(3)[:50], tableOpts{})
	p := harness.Launch(t, harness.Options{})
	ctx := harness.PluginContext("locked-ds", pg.JSONData(map[string]any{"table": "trades_locked",
		"maxOpenConnections": 1, "maxQueuedQueries": 1, "queryTimeoutSeconds": 3}), pgfix.Secure(), 1)
	// warm the instance and its one connection
	mustOK(t, p.Query(t, ctx, query("A", "stats", nil, 10))["A"])
	locked := make(chan struct{}, 1)
	done := make(chan error, 1)
	go func() {
		locked <- struct{}{}
		_, err := pg.Psql("trading", "BEGIN; LOCK TABLE trades_locked IN ACCESS EXCLUSIVE MODE; SELECT pg_sleep(2.5); COMMIT;")
		done <- err
	}()
	<-locked
	time.Sleep(300 * time.Millisecond)
	type answer struct {
		status int
		err    string
		took   time.Duration
	}
	const n = 6
	answers := make([]answer, n)
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			s := time.Now()
			r := p.Query(t, ctx, query("A", "equity", nil, 100))["A"]
			answers[i] = answer{int(r.Status), fmt.Sprint(r.Error), time.Since(s)}
		}(i)
		time.Sleep(20 * time.Millisecond)
	}
	// meanwhile another data source answers at once
	s := time.Now()
	mustOK(t, p.Query(t, pctx(nil), query("B", "stats", map[string]any{"metrics": []string{"trade_count"}}, 10))["B"])
	if d := time.Since(s); d > time.Second {
		t.Errorf("another data source took %v while this one was saturated", d)
	}
	wg.Wait()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	refused, served := 0, 0
	for i, a := range answers {
		switch {
		case a.status == 503 && strings.Contains(a.err, "too many concurrent queries for this data source"):
			refused++
			if a.took > time.Second {
				t.Errorf("call %d: refused only after %v", i, a.took)
			}
		case a.status == int(backend.StatusOK) || a.status == 504:
			served++
		default:
			t.Errorf("call %d: %d %s", i, a.status, a.err)
		}
	}
	if refused != n-2 || served != 2 {
		t.Errorf("%d refused, %d served; want %d refused (1 running + 1 waiting admitted)", refused, served, n-2)
	}
	// once the lock is gone the data source answers again
	mustOK(t, p.Query(t, ctx, query("A", "equity", nil, 100))["A"])
}
