// Command flightbench measures single flight (issue 14): the bundled
// trading dashboard's eight stat panels refreshed at once — eight QueryData
// calls, one `stats` query each with its own `metrics`, as Grafana sends
// them — against a plugin with single flight off (GPX_SINGLE_FLIGHT=0,
// before) and one with it on (after), run by run interleaved, same trades.
//
//	BENCH_TRADES (default 1000000), BENCH_RUNS (default 7)
//
// Reported per range: the refresh's wall time (until the last panel
// answered; median), the plugin's CPU per refresh, and the ordered reads
// Postgres ran per refresh (pg_stat_statements), with
// gpx_query_coalesced_total's rise.
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/genproto/pluginv2"

	"github.com/algotrading/pnl-datasource/tests/benchkit"
	"github.com/algotrading/pnl-datasource/tests/harness"
	"github.com/algotrading/pnl-datasource/tests/pgfix"
)

var die = benchkit.Die

// the dashboard's eight stat panels (dashboards/trading.json), variables at All
var panels = []string{"win_rate", "total_pnl", "max_drawdown", "trade_count", "sharpe", "sortino", "profit_factor",
	"daily_loss"}

func query(metric string, from, to time.Time) *pluginv2.DataQuery {
	body := map[string]any{"refId": "A", "queryType": "stats", "metrics": []string{metric}, "strategies": []string{},
		"symbols": []string{}, "accounts": []string{}, "datasource": map[string]any{"uid": "bench"}}
	js, _ := json.Marshal(body)
	return &pluginv2.DataQuery{RefId: "A", Json: js, MaxDataPoints: 300, IntervalMS: to.Sub(from).Milliseconds() / 300,
		TimeRange: &pluginv2.TimeRange{FromEpochMS: from.UnixMilli(), ToEpochMS: to.UnixMilli()}}
}

// refresh sends the eight panels' queries at once and returns when the last answered.
func refresh(p *harness.Plugin, pc *pluginv2.PluginContext, from, to time.Time) time.Duration {
	var wg sync.WaitGroup
	errs := make([]error, len(panels))
	s := time.Now()
	for i, m := range panels {
		wg.Add(1)
		go func(i int, m string) {
			defer wg.Done()
			_, errs[i] = benchkit.TimeQuery(p, pc, query(m, from, to), 600*time.Second)
		}(i, m)
	}
	wg.Wait()
	d := time.Since(s)
	for i, err := range errs {
		if err != nil {
			die("%s: %v", panels[i], err)
		}
	}
	return d
}

// cpu is the process's user + system time from /proc/<pid>/stat.
func cpu(pid int) time.Duration {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		die("%v", err)
	}
	f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+2:]))
	u, _ := strconv.ParseInt(f[11], 10, 64)
	k, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(u+k) * time.Second / 100 // USER_HZ
}

func reads(pg *pgfix.Server) int {
	out, err := pg.Psql("trading", "SELECT coalesce(sum(calls), 0) FROM pg_stat_statements WHERE query LIKE 'COPY (%' "+
		"AND query LIKE '%ORDER BY%'")
	if err != nil {
		die("%v", err)
	}
	n, _ := strconv.Atoi(strings.TrimSpace(out))
	return n
}

var coalescedRE = regexp.MustCompile(`(?m)^gpx_query_coalesced_total (\d+)$`)

func coalesced(p *harness.Plugin) int {
	c, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	res, err := p.Diagnostics.CollectMetrics(c, &pluginv2.CollectMetricsRequest{})
	if err != nil {
		die("%v", err)
	}
	m := coalescedRE.FindStringSubmatch(string(res.Metrics.Prometheus))
	if m == nil {
		die("no gpx_query_coalesced_total")
	}
	n, _ := strconv.Atoi(m[1])
	return n
}

func main() {
	n, runs := benchkit.Trades(1000000), benchkit.Runs(7)
	pg, err := pgfix.StartMain()
	if err != nil {
		die("%v", err)
	}
	defer pg.Close()
	pg.Opts = append(pg.Opts, "-c shared_preload_libraries=pg_stat_statements")
	if err := pg.Down(); err != nil {
		die("%v", err)
	}
	if err := pg.Up(); err != nil {
		die("%v", err)
	}
	const days = 730
	start := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	t0 := time.Now()
	if err := pg.LoadDemo(harness.RepoRoot(), n, days, 1, "2024-01-01"); err != nil {
		die("%v", err)
	}
	if out, err := pg.Psql("trading", "CREATE EXTENSION pg_stat_statements"); err != nil {
		die("%v %s", err, out)
	}
	fmt.Printf("%d trades over %d days generated in %.1f s; median of %d refreshes per case, interleaved\n\n", n, days,
		time.Since(t0).Seconds(), runs)
	plugins := make([]*harness.Plugin, 2)
	for i, env := range [][]string{{"GPX_SINGLE_FLIGHT=0"}, nil} {
		p, err := harness.LaunchE(harness.Options{Env: env})
		if err != nil {
			die("%v", err)
		}
		defer p.Client.Kill()
		plugins[i] = p
	}
	pc := harness.PluginContext("bench", pg.JSONData(map[string]any{"queryTimeoutSeconds": 600}), pgfix.Secure(), 1)
	ranges := []struct {
		name     string
		from, to time.Time
	}{
		{fmt.Sprintf("all %d days", days), start, start.AddDate(0, 0, days)},
		{"last 30 days", start.AddDate(0, 0, days-30), start.AddDate(0, 0, days)},
	}
	fmt.Println("| range | single flight | refresh of 8 panels (ms) | plugin CPU per refresh (ms) | ordered reads per refresh | coalesced per refresh |")
	fmt.Println("|---|---|---:|---:|---:|---:|")
	for _, rg := range ranges {
		var wall [2][]time.Duration
		var cpus [2]time.Duration
		var nreads, ncoal [2]int
		for _, p := range plugins { // warm: connections, caches
			refresh(p, pc, rg.from, rg.to)
		}
		for r := 0; r < runs; r++ {
			for i, p := range plugins {
				c0, k0 := cpu(p.Pid), coalesced(p)
				if _, err := pg.Psql("trading", "SELECT pg_stat_statements_reset()"); err != nil {
					die("%v", err)
				}
				wall[i] = append(wall[i], refresh(p, pc, rg.from, rg.to))
				cpus[i] += cpu(p.Pid) - c0
				nreads[i] += reads(pg)
				ncoal[i] += coalesced(p) - k0
			}
		}
		for i, name := range []string{"off (before)", "on (after)"} {
			fmt.Printf("| %s | %s | %.0f | %.0f | %.1f | %.1f |\n", rg.name, name, benchkit.Ms(benchkit.Median(wall[i])),
				benchkit.Ms(cpus[i])/float64(runs), float64(nreads[i])/float64(runs), float64(ncoal[i])/float64(runs))
		}
	}
}
