// Command bouncerbench measures what pgbouncer costs the plugin per query
// (issue 12): the same query kinds over the same trades, straight to
// Postgres and through a real pgbouncer in transaction and in session
// pooling mode (Debian's pgbouncer, pgbouncer's default config: `options`
// refused, so the plugin sets statement_timeout per transaction), run by
// run interleaved, medians and ratios to direct from the same run.
//
//	BENCH_TRADES (default 200000), BENCH_RUNS (default 9)
//
// Two ranges: the whole 180 days (the server's work dominates) and one day
// (a small panel: the per-statement round trips dominate, so a proxy's
// extra hop shows most).
package main

import (
	"fmt"
	"os/exec"
	"path/filepath"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/genproto/pluginv2"

	"github.com/algotrading/pnl-datasource/tests/benchkit"
	"github.com/algotrading/pnl-datasource/tests/harness"
	"github.com/algotrading/pnl-datasource/tests/pgfix"
)

var die = benchkit.Die // short name, as in the other benchmarks

func main() {
	n, runs := benchkit.Trades(200000), benchkit.Runs(9)
	pg, err := pgfix.StartMain()
	if err != nil {
		die("%v", err)
	}
	defer pg.Close()
	const days = 180
	start := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	if err := pg.LoadDemo(harness.RepoRoot(), n, days, 1, "2024-01-01"); err != nil {
		die("%v", err)
	}
	var bouncers []*pgfix.Bouncer
	for _, mode := range []string{"transaction", "session"} {
		b, err := pg.StartBouncerMain(pgfix.BouncerOpts{Mode: mode, PoolSize: 10})
		if err != nil {
			die("%v", err)
		}
		defer b.Close()
		bouncers = append(bouncers, b)
	}
	p, err := harness.LaunchE(harness.Options{})
	if err != nil {
		die("%v", err)
	}
	defer p.Client.Kill()
	extra := map[string]any{"queryTimeoutSeconds": 600}
	paths := []struct {
		name string
		ctx  *pluginv2.PluginContext
	}{
		{"direct", harness.PluginContext("direct", pg.JSONData(extra), pgfix.Secure(), 1)},
		{"transaction", harness.PluginContext("tx", bouncers[0].JSONData(extra), pgfix.Secure(), 1)},
		{"session", harness.PluginContext("session", bouncers[1].JSONData(extra), pgfix.Secure(), 1)},
	}
	kinds := []string{"equity", "daily_pnl", "stats", "trades", "trade_count", "breakdown"}
	ranges := []struct {
		name     string
		from, to time.Time
	}{
		{fmt.Sprintf("%d days", days), start, start.AddDate(0, 0, days)},
		{"1 day", start.AddDate(0, 0, 90), start.AddDate(0, 0, 91)},
	}
	fmt.Printf("%d trades over %d days; pgbouncer %s, default_pool_size 10; median of %d runs, interleaved\n\n", n, days,
		pgbouncerVersion(), runs)
	fmt.Println("| range | kind | direct (ms) | transaction (ms) | session (ms) | transaction / direct | session / direct | transaction − direct (ms) | session − direct (ms) |")
	fmt.Println("|---|---|---:|---:|---:|---:|---:|---:|---:|")
	for _, rg := range ranges {
		for _, kind := range kinds {
			q := func(id string) *pluginv2.DataQuery {
				js := fmt.Sprintf(`{"refId":%q,"queryType":%q,"maxDataPoints":1000,"intervalMs":1000}`, id, kind)
				if kind == "breakdown" {
					js = fmt.Sprintf(`{"refId":%q,"queryType":%q,"groupBy":"symbol","maxDataPoints":1000,"intervalMs":1000}`, id, kind)
				}
				return &pluginv2.DataQuery{RefId: id, MaxDataPoints: 1000, IntervalMS: 1000, Json: []byte(js),
					TimeRange: &pluginv2.TimeRange{FromEpochMS: rg.from.UnixMilli(), ToEpochMS: rg.to.UnixMilli()}}
			}
			times := make([][]time.Duration, len(paths))
			nr := runs
			if rg.name == "1 day" {
				nr = 3 * runs // small and noisy: more runs
			}
			for r := -1; r < nr; r++ { // one warm-up
				for k := range paths {
					i := (k + r + 1) % len(paths) // each path first in turn: no position bias
					pa := paths[i]
					d, err := benchkit.TimeQuery(p, pa.ctx, q("A"), 120*time.Second)
					if err != nil {
						die("%s %s: %v", pa.name, kind, err)
					}
					if r >= 0 {
						times[i] = append(times[i], d)
					}
				}
			}
			m := make([]float64, len(paths))
			for i := range paths {
				m[i] = float64(benchkit.Median(times[i]).Microseconds()) / 1000
			}
			fmt.Printf("| %s | %s | %.1f | %.1f | %.1f | %.2f | %.2f | %+.1f | %+.1f |\n", rg.name, kind, m[0], m[1], m[2],
				m[1]/m[0], m[2]/m[0], m[1]-m[0], m[2]-m[0])
		}
	}
}

func pgbouncerVersion() string {
	out, err := execOut(pgfix.BouncerPath(), "--version")
	if err != nil {
		return "?"
	}
	for i := 0; i < len(out); i++ {
		if out[i] == '\n' {
			return filepath.Base(out[:i])
		}
	}
	return out
}

func execOut(name string, args ...string) (string, error) {
	out, err := exec.Command(name, args...).Output()
	return string(out), err
}
