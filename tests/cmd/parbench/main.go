// Command parbench is the `par` section of `make bench` (issue 14): the
// bundled trading dashboard's panel queries (dashboards/trading.json, its
// variables at their defaults) sent as ONE QueryData request, once to a data
// source with concurrentQueries=1 (one query after another) and once to the
// same table with concurrentQueries=4, interleaved run by run in the same
// process and Postgres, over the dashboard's default range (the last 30 days
// of the data) and over the whole history. Prints medians and the ratio
// parallel / sequential (< 1: parallel is faster).
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"runtime"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/backend"
	"github.com/grafana/grafana-plugin-sdk-go/genproto/pluginv2"

	"github.com/algotrading/pnl-datasource/tests/benchkit"
	"github.com/algotrading/pnl-datasource/tests/harness"
	"github.com/algotrading/pnl-datasource/tests/pgfix"
)

var (
	die    = benchkit.Die
	median = benchkit.Median
	ms     = benchkit.Ms
)

func request(qs []map[string]any, from, to time.Time) []*pluginv2.DataQuery {
	const maxPoints = 1000
	out := make([]*pluginv2.DataQuery, len(qs))
	for i, q := range qs {
		js, _ := json.Marshal(q)
		out[i] = &pluginv2.DataQuery{RefId: q["refId"].(string), Json: js, MaxDataPoints: maxPoints,
			IntervalMS: to.Sub(from).Milliseconds() / maxPoints,
			TimeRange:  &pluginv2.TimeRange{FromEpochMS: from.UnixMilli(), ToEpochMS: to.UnixMilli()}}
	}
	return out
}

// timeRequest sends the whole request once and returns its wall time and
// the answers; any query's error fails it.
func timeRequest(p *harness.Plugin, pctx *pluginv2.PluginContext, qs []*pluginv2.DataQuery) (time.Duration, backend.Responses) {
	c, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	s := time.Now()
	res, err := p.Data.QueryData(c, &pluginv2.QueryDataRequest{PluginContext: pctx, Queries: qs})
	if err != nil {
		die("QueryData: %v", err)
	}
	d := time.Since(s)
	r, err := backend.FromProto().QueryDataResponse(res)
	if err != nil {
		die("decoding: %v", err)
	}
	for _, q := range qs {
		if e := r.Responses[q.RefId]; e.Error != nil || e.Status != 200 {
			die("%s: %d %v", q.RefId, e.Status, e.Error)
		}
	}
	return d, r.Responses
}

// tradeCount is the value the "Trade Count" stat panel shows (the workload's
// size, checked): the trade_count field of the dashboard's stats query.
func tradeCount(qs []map[string]any, res backend.Responses) string {
	for i, q := range qs {
		if q["queryType"] != "stats" {
			continue
		}
		for _, f := range res[fmt.Sprintf("P%d", i+1)].Frames {
			for _, fl := range f.Fields {
				if fl.Name == "trade_count" && fl.Len() > 0 {
					if v, ok := fl.ConcreteAt(0); ok {
						return fmt.Sprintf("%.0f", v)
					}
				}
			}
		}
	}
	return "?"
}

func main() {
	n, runs := benchkit.Trades(1000000), benchkit.Runs(5)
	root := harness.RepoRoot()
	titles, qs := benchkit.DashboardQueries(filepath.Join(root, "dashboards", "trading.json"))
	pg, err := pgfix.StartMain()
	if err != nil {
		die("%v", err)
	}
	defer pg.Close()
	const days = 365
	start := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	t0 := time.Now()
	if err := pg.LoadDemo(root, n, days, 1, "2024-01-01"); err != nil {
		die("%v", err)
	}
	fmt.Printf("%d trades over %d days generated in %.1f s; %d panel queries from dashboards/trading.json in one request\n",
		n, days, time.Since(t0).Seconds(), len(qs))
	kinds := map[string]int{}
	for _, q := range qs {
		kinds[fmt.Sprint(q["queryType"])]++
	}
	fmt.Printf("queries by type: %v (first: %q)\n", kinds, titles[0])
	p, err := harness.LaunchE(harness.Options{})
	if err != nil {
		die("%v", err)
	}
	defer p.Client.Kill()
	ctx := func(uid string, concurrent int) *pluginv2.PluginContext {
		return harness.PluginContext(uid, pg.JSONData(map[string]any{"queryTimeoutSeconds": 600, "maxOpenConnections": 5,
			"concurrentQueries": concurrent}), pgfix.Secure(), 1)
	}
	seq, par := ctx("bench-seq", 1), ctx("bench-par", 4)
	end := start.AddDate(0, 0, days)
	fmt.Printf("\nmedian of %d runs, interleaved (sequential, parallel, sequential, …) after one warm-up each; %d CPUs\n\n",
		runs, runtimeCPUs())
	fmt.Println("| range | trades in range (the Trade Count panel) | concurrentQueries=1 (ms) | concurrentQueries=4 (ms) | parallel / sequential |")
	fmt.Println("|---|---|---:|---:|---:|")
	for _, rg := range []struct {
		name     string
		from, to time.Time
	}{{"last 30 days (the dashboard's default)", end.AddDate(0, 0, -30), end},
		{"whole history (365 days)", start, end}} {
		req := request(qs, rg.from, rg.to)
		_, warm := timeRequest(p, seq, req)
		timeRequest(p, par, req)
		var ds, dp []time.Duration
		for i := 0; i < runs; i++ {
			d, _ := timeRequest(p, seq, req)
			ds = append(ds, d)
			d, _ = timeRequest(p, par, req)
			dp = append(dp, d)
		}
		s, q := median(ds), median(dp)
		fmt.Printf("| %s | %s | %.1f | %.1f | %.2f |\n", rg.name, tradeCount(qs, warm), ms(s), ms(q), float64(q)/float64(s))
	}
}

func runtimeCPUs() int { return runtime.NumCPU() }
