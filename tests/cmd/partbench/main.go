// Command partbench is the `part` section of `make bench` (opt-in:
// BENCH_PART=1, or `bench/run.sh part`): the same N generated trades
// (default 10,000,000, 730 days from 2024-01-01) in the plain table of
// sql/schema.sql and in the monthly-partitioned table of
// sql/partitioned.sql (schema "part"), both with their recommended indexes
// and VACUUM ANALYZEd; a few query kinds through the plugin over a one-month
// range and over the whole history, the two tables timed interleaved run by
// run, and the ratio partitioned / plain. Also CheckHealth (Save & test) on
// both.
package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/genproto/pluginv2"

	"github.com/algotrading/pnl-datasource/tests/benchkit"
	"github.com/algotrading/pnl-datasource/tests/harness"
	"github.com/algotrading/pnl-datasource/tests/pgfix"
)

// Short names for the shared helpers, used on most lines below.
var (
	die    = benchkit.Die
	median = benchkit.Median
	ms     = benchkit.Ms
)

func main() {
	n, runs := benchkit.Trades(10000000), benchkit.Runs(3)
	pg, err := pgfix.StartMain()
	if err != nil {
		die("%v", err)
	}
	defer pg.Close()
	psql := func(sql string) string {
		out, err := pg.Psql("trading", sql)
		if err != nil {
			die("%v", err)
		}
		return out
	}
	// Loading only: fewer checkpoints. (pgfix runs every test server with
	// fsync and synchronous_commit off; the tables are ordinary logged tables.)
	if _, err := pg.Psql("postgres", "ALTER SYSTEM SET max_wal_size = '16GB'"); err != nil {
		die("%v", err)
	}
	pg.Psql("postgres", "SELECT pg_reload_conf()")
	root := harness.RepoRoot()
	const days = 730
	start := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)

	t0 := time.Now()
	if err := pg.LoadDemo(root, n, days, 1, "2024-01-01"); err != nil {
		die("%v", err)
	}
	plainLoad := time.Since(t0)
	fmt.Printf("plain: %d trades over %d days generated, indexed and analyzed in %.0f s\n", n, days, plainLoad.Seconds())

	// The partitioned table in its own schema (same table and index names).
	t1 := time.Now()
	psql("CREATE SCHEMA part AUTHORIZATION grafana")
	vars := map[string]string{"start": "'2024-01-01'", "months": "24"}
	f := filepath.Join(os.TempDir(), fmt.Sprintf("partbench-%d.sql", os.Getpid()))
	body, _ := os.ReadFile(filepath.Join(root, "sql", "partitioned.sql"))
	if err := os.WriteFile(f, append([]byte("SET search_path = part;\n"), body...), 0644); err != nil {
		die("%v", err)
	}
	defer os.Remove(f)
	if err := pg.PsqlFiles("trading", vars, f); err != nil {
		die("%v", err)
	}
	cols := "trade_id, account, exchange, strategy, symbol, side, qty, entry_price, exit_price, expected_entry_price, " +
		"expected_exit_price, opened_at, closed_at, fees, realized_pnl, entry_tag, exit_reason"
	psql(fmt.Sprintf("INSERT INTO part.trades (%[1]s) SELECT %[1]s FROM public.trades", cols))
	psql("VACUUM ANALYZE part.trades")
	fmt.Printf("partitioned: the same trades copied into 24 monthly partitions (+ default), indexed and analyzed in %.0f s\n",
		time.Since(t1).Seconds())
	psql("ALTER TABLE part.trades OWNER TO grafana")
	fmt.Printf("sizes (table + indexes): plain %s, partitioned %s; rows %s / %s\n",
		psql("SELECT pg_size_pretty(pg_total_relation_size('public.trades'))"),
		psql("SELECT pg_size_pretty(sum(pg_total_relation_size(relid))) FROM pg_partition_tree('part.trades')"),
		psql("SELECT count(*) FROM public.trades"), psql("SELECT count(*) FROM part.trades"))
	psql("CHECKPOINT")

	// BENCH_JIT=1: also as a role with jit = off (ALTER ROLE … SET jit),
	// the same queries on the same data in the same run.
	jit := os.Getenv("BENCH_JIT") == "1"
	if jit {
		for _, s := range []string{"CREATE ROLE grafana_nojit LOGIN PASSWORD '" + pgfix.Password + "'",
			"ALTER ROLE grafana_nojit SET jit = off", "GRANT USAGE ON SCHEMA part TO grafana_nojit",
			"GRANT SELECT ON public.trades, part.trades TO grafana_nojit"} {
			psql(s)
		}
	}

	p, err := harness.LaunchE(harness.Options{})
	if err != nil {
		die("%v", err)
	}
	defer p.Client.Kill()
	ctxPlain := harness.PluginContext("plain", pg.JSONData(map[string]any{"queryTimeoutSeconds": 600}), pgfix.Secure(), 1)
	ctxPart := harness.PluginContext("part", pg.JSONData(map[string]any{"queryTimeoutSeconds": 600, "schema": "part"}),
		pgfix.Secure(), 1)
	ctxPlainNoJit := harness.PluginContext("plain-nojit", pg.JSONData(map[string]any{"queryTimeoutSeconds": 600,
		"user": "grafana_nojit"}), pgfix.Secure(), 1)
	ctxPartNoJit := harness.PluginContext("part-nojit", pg.JSONData(map[string]any{"queryTimeoutSeconds": 600,
		"schema": "part", "user": "grafana_nojit"}), pgfix.Secure(), 1)

	// Save & test on both: the estimate must come from the partitions.
	for _, c := range []struct {
		name string
		ctx  *pluginv2.PluginContext
	}{{"plain", ctxPlain}, {"partitioned", ctxPart}} {
		var d []time.Duration
		var msg string
		for i := 0; i < 4; i++ {
			cc, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
			s := time.Now()
			r, err := p.Diagnostics.CheckHealth(cc, &pluginv2.CheckHealthRequest{PluginContext: c.ctx})
			cancel()
			if err != nil {
				die("health %s: %v", c.name, err)
			}
			if i > 0 {
				d = append(d, time.Since(s))
			}
			msg = r.Message
		}
		fmt.Printf("CheckHealth %s: median %.1f ms: %s\n", c.name, ms(median(d)), msg)
	}

	type rng struct {
		name     string
		from, to time.Time
	}
	ranges := []rng{
		{"1 month", time.Date(2025, 6, 15, 0, 0, 0, 0, time.UTC), time.Date(2025, 7, 15, 0, 0, 0, 0, time.UTC)},
		{"full (24 months)", start, start.AddDate(0, 0, days)},
	}
	kinds := []struct {
		label, qtype string
		body         map[string]any
	}{
		{"stats", "stats", nil},
		{"equity", "equity", nil},
		{"drawdown", "drawdown", nil},
		{"daily_pnl", "daily_pnl", nil},
		{"trades", "trades", nil},
		{"breakdown by strategy", "breakdown", map[string]any{"groupBy": "strategy"}},
	}
	if v := os.Getenv("BENCH_TYPES"); v != "" {
		keep := map[string]bool{}
		for _, k := range strings.Split(v, ",") {
			keep[k] = true
		}
		var ks = kinds[:0]
		for _, k := range kinds {
			if keep[k.qtype] {
				ks = append(ks, k)
			}
		}
		kinds = ks
	}
	const maxPoints = 1000
	fmt.Printf("\nmedian of %d runs after one warm-up, plain and partitioned interleaved run by run\n", runs)
	if jit {
		fmt.Printf("\n| query | range | plain (ms) | partitioned (ms) | partitioned / plain | plain, jit off (ms) | partitioned, jit off (ms) | partitioned / plain, jit off | plain: jit off / on | partitioned: jit off / on |\n|---|---|---:|---:|---:|---:|---:|---:|---:|---:|\n")
	} else {
		fmt.Printf("\n| query | range | plain (ms) | partitioned (ms) | partitioned / plain |\n|---|---|---:|---:|---:|\n")
	}
	for _, r := range ranges {
		for _, k := range kinds {
			q := benchkit.Query(k.qtype, k.body, r.from, r.to, maxPoints)
			timeOne := func(ctx *pluginv2.PluginContext) time.Duration {
				d, err := benchkit.TimeQuery(p, ctx, q, 10*time.Minute)
				if err != nil {
					die("%s %s: %v", k.label, r.name, err)
				}
				return d
			}
			var dp, dq, dpn, dqn []time.Duration
			for i := 0; i < runs+1; i++ {
				a, b := timeOne(ctxPlain), timeOne(ctxPart)
				if i > 0 {
					dp, dq = append(dp, a), append(dq, b)
				}
				if jit {
					a, b := timeOne(ctxPlainNoJit), timeOne(ctxPartNoJit)
					if i > 0 {
						dpn, dqn = append(dpn, a), append(dqn, b)
					}
				}
			}
			mp, mq := median(dp), median(dq)
			if !jit {
				fmt.Printf("| %s | %s | %.1f | %.1f | %.2f |\n", k.label, r.name, ms(mp), ms(mq), float64(mq)/float64(mp))
				continue
			}
			mpn, mqn := median(dpn), median(dqn)
			fmt.Printf("| %s | %s | %.1f | %.1f | %.2f | %.1f | %.1f | %.2f | %.2f | %.2f |\n", k.label, r.name, ms(mp), ms(mq),
				float64(mq)/float64(mp), ms(mpn), ms(mqn), float64(mqn)/float64(mpn), float64(mpn)/float64(mp), float64(mqn)/float64(mq))
		}
	}
	fmt.Printf("\nplugin peak RSS (VmHWM): %s\n", harness.ReadStatus(p.Pid, "VmHWM"))
}
