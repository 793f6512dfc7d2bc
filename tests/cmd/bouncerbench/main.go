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
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/genproto/pluginv2"

	"github.com/algotrading/pnl-datasource/tests/harness"
	"github.com/algotrading/pnl-datasource/tests/pgfix"
)

func die(format string, a ...any) {
	fmt.Fprintf(os.Stderr, "bouncerbench: "+format+"\n", a...)
	os.Exit(1)
}

func median(d []time.Duration) time.Duration {
	s := append([]time.Duration(nil), d...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[len(s)/2]
}

func main() {
	n := os.Getenv("BENCH_TRADES")
	if n == "" {
		n = "200000"
	}
	runs := 9
	if v, err := strconv.Atoi(os.Getenv("BENCH_RUNS")); err == nil && v > 0 {
		runs = v
	}
	pg, err := pgfix.StartMain()
	if err != nil {
		die("%v", err)
	}
	defer pg.Close()
	const days = 180
	start := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	if err := pg.LoadDemo(harness.RepoRoot(), atoi(n), days, 1, "2024-01-01"); err != nil {
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
	fmt.Printf("%s trades over %d days; pgbouncer %s, default_pool_size 10; median of %d runs, interleaved\n\n", n, days,
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
					c, cancel := context.WithTimeout(context.Background(), 120*time.Second)
					t0 := time.Now()
					res, err := p.Data.QueryData(c, &pluginv2.QueryDataRequest{PluginContext: pa.ctx, Queries: []*pluginv2.DataQuery{q("A")}})
					d := time.Since(t0)
					cancel()
					if err != nil {
						die("%s %s: %v", pa.name, kind, err)
					}
					if e := res.Responses["A"].Error; e != "" {
						die("%s %s: %s", pa.name, kind, e)
					}
					if r >= 0 {
						times[i] = append(times[i], d)
					}
				}
			}
			m := make([]float64, len(paths))
			for i := range paths {
				m[i] = float64(median(times[i]).Microseconds()) / 1000
			}
			fmt.Printf("| %s | %s | %.1f | %.1f | %.1f | %.2f | %.2f | %+.1f | %+.1f |\n", rg.name, kind, m[0], m[1], m[2],
				m[1]/m[0], m[2]/m[0], m[1]-m[0], m[2]-m[0])
		}
	}
}

func atoi(s string) int {
	v, err := strconv.Atoi(s)
	if err != nil {
		die("BENCH_TRADES %q: %v", s, err)
	}
	return v
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
