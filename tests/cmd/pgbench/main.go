// Command pgbench is the Postgres section of `make bench`: on N generated
// trades it times each query type through the plugin (QueryData over the
// go-plugin connection, frames decoded by the SDK) and, in the same run,
// Postgres executing the SQL a Grafana PostgreSQL-data-source user would
// write for the same answer (psql \timing: execute + transfer all rows).
// Ratios plugin/SQL < 1 mean the plugin is faster.
package main

import (
	"fmt"
	"os"
	"os/exec"
	"strconv"
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

// What a Grafana PostgreSQL user writes for each panel ($__timeFilter expanded).
func baselines(from, to time.Time, width int64) map[string]string {
	tf := fmt.Sprintf("closed_at > '%s' AND closed_at <= '%s'", from.Format(time.RFC3339Nano), to.Format(time.RFC3339Nano))
	before := fmt.Sprintf("(SELECT 100000 + coalesce(sum(realized_pnl),0) FROM trades WHERE closed_at <= '%s')", from.Format(time.RFC3339Nano))
	eq := fmt.Sprintf("SELECT closed_at AS time, %s + sum(realized_pnl) OVER (ORDER BY closed_at, trade_id) AS equity FROM trades WHERE %s ORDER BY closed_at, trade_id", before, tf)
	daily := fmt.Sprintf("SELECT date_trunc('day', closed_at AT TIME ZONE 'UTC') AS time, sum(realized_pnl) AS daily_pnl FROM trades WHERE %s GROUP BY 1 ORDER BY 1", tf)
	return map[string]string{
		"equity":           eq,
		"pnl":              fmt.Sprintf("SELECT closed_at AS time, sum(realized_pnl) OVER (ORDER BY closed_at, trade_id) AS pnl FROM trades WHERE %s ORDER BY closed_at, trade_id", tf),
		"returns":          fmt.Sprintf("SELECT closed_at AS time, sum(realized_pnl) OVER (ORDER BY closed_at, trade_id) / %s AS ret FROM trades WHERE %s ORDER BY closed_at, trade_id", before, tf),
		"drawdown":         fmt.Sprintf("WITH e AS (%s) SELECT time, equity / max(equity) OVER (ORDER BY time ROWS UNBOUNDED PRECEDING) - 1 AS drawdown FROM e ORDER BY time", eq),
		"daily_pnl":        daily,
		"pnl_distribution": daily,
		"slippage": fmt.Sprintf(`SELECT to_timestamp(floor(extract(epoch FROM closed_at) / %[1]d) * %[1]d) AS time,
		  avg(CASE WHEN side = 'long' THEN (entry_price - expected_entry_price) / expected_entry_price
		           ELSE (expected_entry_price - entry_price) / expected_entry_price END * 1e4) AS slippage_bps
		  FROM trades WHERE %[2]s AND expected_entry_price IS NOT NULL GROUP BY 1 ORDER BY 1`, width/1000, tf),
		"stats": fmt.Sprintf(`WITH t AS (SELECT closed_at, trade_id, realized_pnl AS p FROM trades WHERE %[1]s),
		  e AS (SELECT row_number() OVER w AS n, %[2]s + sum(p) OVER w AS eq FROM t WINDOW w AS (ORDER BY closed_at, trade_id)),
		  dd AS (SELECT min(x) AS mdd FROM (SELECT eq / max(eq) OVER (ORDER BY n ROWS UNBOUNDED PRECEDING) - 1 AS x FROM e) z),
		  d AS (SELECT date_trunc('day', closed_at) AS day, sum(p) AS dp FROM t GROUP BY 1),
		  r AS (SELECT dp / (%[2]s + coalesce(sum(dp) OVER (ORDER BY day ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 0)) AS ret FROM d)
		  SELECT (SELECT count(*) FROM t), (SELECT sum(p) FROM t), (SELECT avg((p > 0)::int) FROM t),
		    (SELECT sum(p) FILTER (WHERE p > 0) / abs(sum(p) FILTER (WHERE p < 0)) FROM t),
		    (SELECT avg(ret) / stddev_samp(ret) * sqrt(252) FROM r), (SELECT mdd FROM dd)`, tf, before),
		"trades": fmt.Sprintf("SELECT * FROM trades WHERE %s ORDER BY closed_at DESC LIMIT 1000", tf),
		"trade_count": fmt.Sprintf(`SELECT to_timestamp(floor(extract(epoch FROM closed_at) / %[1]d) * %[1]d) AS time,
		  count(*) AS trade_count FROM trades WHERE %[2]s GROUP BY 1 ORDER BY 1`, width/1000, tf),
		// episodes: islands of equity below its running peak, the ten deepest
		"drawdown_episodes": fmt.Sprintf(`WITH e AS (SELECT closed_at, trade_id, %[2]s + sum(realized_pnl) OVER (ORDER BY closed_at, trade_id) AS eq
		  FROM trades WHERE %[1]s),
		  p AS (SELECT *, max(eq) OVER (ORDER BY closed_at, trade_id ROWS UNBOUNDED PRECEDING) AS pk FROM e),
		  g AS (SELECT *, sum((eq >= pk)::int) OVER (ORDER BY closed_at, trade_id) AS grp FROM p)
		  SELECT grp, min(closed_at) AS first_below, min(eq / pk - 1) AS depth, min(eq - pk) AS amount
		  FROM g WHERE eq < pk GROUP BY grp ORDER BY depth LIMIT 10`, tf, before),
		// breakdown by symbol on the 50-symbol table: aggregates, max drawdown and Sharpe per group
		"breakdown": fmt.Sprintf(`WITH t AS (SELECT symbol, closed_at, trade_id, opened_at, realized_pnl AS p FROM trades50 WHERE %[1]s),
		  e AS (SELECT symbol, closed_at, trade_id, 100000 + sum(p) OVER (PARTITION BY symbol ORDER BY closed_at, trade_id) AS eq FROM t),
		  dd AS (SELECT symbol, min(x) AS mdd FROM (SELECT symbol, eq / max(eq) OVER (PARTITION BY symbol ORDER BY closed_at, trade_id
		    ROWS UNBOUNDED PRECEDING) - 1 AS x FROM e) z GROUP BY symbol),
		  d AS (SELECT symbol, date_trunc('day', closed_at) AS day, sum(p) AS dp FROM t GROUP BY 1, 2),
		  r AS (SELECT symbol, dp / (100000 + coalesce(sum(dp) OVER (PARTITION BY symbol ORDER BY day ROWS BETWEEN UNBOUNDED PRECEDING
		    AND 1 PRECEDING), 0)) AS ret FROM d),
		  s AS (SELECT symbol, avg(ret) / stddev_samp(ret) * sqrt(252) AS sharpe FROM r GROUP BY symbol),
		  a AS (SELECT symbol, count(*) AS n, sum(p) AS tp, avg((p > 0)::int) AS wr,
		    sum(p) FILTER (WHERE p > 0) / abs(sum(p) FILTER (WHERE p < 0)) AS pf, avg(p) AS ex,
		    avg(extract(epoch FROM closed_at - opened_at)) AS ht FROM t GROUP BY symbol)
		  SELECT a.*, dd.mdd, s.sharpe FROM a JOIN dd USING (symbol) JOIN s USING (symbol) ORDER BY tp DESC`, tf),
	}
}

// rawCopy: the least any per-trade statistic must read — a binary COPY of
// (closed_at, realized_pnl) for the range (issue 11's yardstick for stats).
func rawCopy(from, to time.Time) string {
	return fmt.Sprintf("COPY (SELECT closed_at, realized_pnl FROM trades WHERE closed_at > '%s' AND closed_at <= '%s') TO STDOUT (FORMAT binary)",
		from.Format(time.RFC3339Nano), to.Format(time.RFC3339Nano))
}

func main() {
	n, runs := benchkit.Trades(1000000), benchkit.Runs(5)
	pg, err := pgfix.StartMain()
	if err != nil {
		die("%v", err)
	}
	defer pg.Close()
	root := harness.RepoRoot()
	start := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	days := 730
	t0 := time.Now()
	if err := pg.LoadDemo(root, n, days, 1, "2024-01-01"); err != nil {
		die("%v", err)
	}
	fmt.Printf("%d trades over %d days generated in %.1f s\n", n, days, time.Since(t0).Seconds())

	p, err := harness.LaunchE(harness.Options{})
	if err != nil {
		die("%v", err)
	}
	defer p.Client.Kill()
	// BENCH_COMPARE_BIN: an older build of the plugin, timed in the same run,
	// interleaved run by run with this one (same Postgres, same caches), so
	// a redesign's cost shows as a ratio free of the machine's drift.
	var old *harness.Plugin
	if bin := os.Getenv("BENCH_COMPARE_BIN"); bin != "" {
		if old, err = harness.LaunchE(harness.Options{Binary: bin}); err != nil {
			die("compare binary: %v", err)
		}
		defer old.Client.Kill()
	}
	from, to := start, start.AddDate(0, 0, days)
	const maxPoints = 1000
	width := to.Sub(from).Milliseconds() / maxPoints
	pctx := harness.PluginContext("bench", pg.JSONData(map[string]any{"queryTimeoutSeconds": 600}), pgfix.Secure(), 1)
	types := []string{"equity", "pnl", "returns", "drawdown", "daily_pnl", "pnl_distribution", "slippage", "stats", "trades",
		"trade_count", "drawdown_episodes", "breakdown"}
	if v := os.Getenv("BENCH_TYPES"); v != "" { // e.g. BENCH_TYPES=trades,stats
		types = strings.Split(v, ",")
	}
	base := baselines(from, to, width)

	// psqlTimes runs script (statements with \timing on) and returns the
	// server round trip of each: execution plus receiving every row.
	psqlTimes := func(what, script string, n int) []time.Duration {
		cmd := exec.Command("psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-h", pg.SockDir, "-p", strconv.Itoa(pg.Port), "-U", "postgres", "-d", "trading", "-o", "/dev/null")
		cmd.Stdin = strings.NewReader("\\timing on\n" + script)
		outb, err := cmd.CombinedOutput()
		if err != nil {
			die("baseline %s: %v\n%s", what, err, outb)
		}
		var d []time.Duration
		for _, l := range strings.Split(string(outb), "\n") {
			if strings.HasPrefix(l, "Time: ") {
				ms, _ := strconv.ParseFloat(strings.Fields(l)[1], 64)
				d = append(d, time.Duration(ms*float64(time.Millisecond)))
			}
		}
		if len(d) != n {
			die("baseline %s: %d timings", what, len(d))
		}
		return d
	}

	// One case per row of the table. breakdown runs on trades50: the same
	// trades spread over 50 symbols, so it has 50 groups; stats on that table
	// (grouped and not) shows what 50 groups cost against one.
	type benchCase struct {
		label, qtype string
		body         map[string]any
		ctx          *pluginv2.PluginContext
		sql, target  string
	}
	var cases []benchCase
	for _, qt := range types {
		target := "1.0"
		if qt == "equity" || qt == "drawdown" {
			target = "0.5"
		}
		if qt != "breakdown" {
			cases = append(cases, benchCase{qt, qt, nil, pctx, base[qt], target})
			continue
		}
		t1 := time.Now()
		for _, s := range []string{"DROP TABLE IF EXISTS trades50", "CREATE TABLE trades50 (LIKE trades INCLUDING ALL)",
			`INSERT INTO trades50 SELECT trade_id, account, exchange, strategy, 'S' || lpad((trade_id % 50)::text, 2, '0'), side,
			   qty, entry_price, exit_price, expected_entry_price, expected_exit_price, opened_at, closed_at, fees, realized_pnl FROM trades`,
			"ALTER TABLE trades50 OWNER TO grafana", "VACUUM ANALYZE trades50"} {
			if _, err := pg.Psql("trading", s); err != nil {
				die("%v", err)
			}
		}
		fmt.Printf("trades50 (the same trades on 50 symbols) made in %.1f s\n", time.Since(t1).Seconds())
		ctx50 := harness.PluginContext("bench50", pg.JSONData(map[string]any{"queryTimeoutSeconds": 600, "table": "trades50"}),
			pgfix.Secure(), 1)
		cases = append(cases, benchCase{"breakdown (50 symbols)", "breakdown", map[string]any{"groupBy": "symbol"}, ctx50, base[qt], "1.0"},
			benchCase{"stats by symbol (50 symbols)", "stats", map[string]any{"groupBy": "symbol"}, ctx50, "", ""},
			benchCase{"stats, same table, one group", "stats", nil, ctx50, "", ""})
	}

	if old != nil {
		fmt.Printf("\n| query type | plugin median (ms) | SQL median (ms) | plugin / SQL | compared build (ms) | compared / SQL | plugin / compared | target |\n|---|---:|---:|---:|---:|---:|---:|---:|\n")
	} else {
		fmt.Printf("\n| query type | plugin median (ms) | SQL median (ms) | plugin / SQL | target |\n|---|---:|---:|---:|---:|\n")
	}
	medians := map[string]time.Duration{}
	var notes []string
	for _, bc := range cases {
		q := benchkit.Query(bc.qtype, bc.body, from, to, maxPoints)
		// time one QueryData; ok false when the build does not know the kind
		timeOne := func(pp *harness.Plugin) (time.Duration, bool) {
			d, err := benchkit.TimeQuery(pp, bc.ctx, q, 10*time.Minute)
			if err != nil {
				if pp == old && strings.Contains(err.Error(), "unknown query type") {
					return 0, false
				}
				die("%s: %v", bc.label, err)
			}
			return d, true
		}
		// stats is also timed against the raw COPY of its columns, run by run
		withCopy := bc.label == "stats"
		var pl, ol, cp []time.Duration
		oldKnows := old != nil
		for i := 0; i < runs+1; i++ { // first run warms caches and the pool
			d, _ := timeOne(p)
			if i > 0 {
				pl = append(pl, d)
			}
			if oldKnows {
				d, ok := timeOne(old)
				oldKnows = ok
				if i > 0 && ok {
					ol = append(ol, d)
				}
			}
			if withCopy {
				if c := psqlTimes("raw COPY", rawCopy(from, to)+";\n", 1); i > 0 {
					cp = append(cp, c[0])
				}
			}
		}
		medians[bc.label] = median(pl)
		if len(ol) > 0 {
			medians[bc.label+"/old"] = median(ol)
		}
		if withCopy {
			medians["raw COPY"] = median(cp)
		}
		sqlMs, ratio := "—", "—"
		var sq []time.Duration
		if bc.sql != "" {
			sq = psqlTimes(bc.label, strings.Repeat(bc.sql+";\n", runs+1), runs+1)[1:]
			sqlMs = fmt.Sprintf("%.1f", ms(median(sq)))
			ratio = fmt.Sprintf("%.2f", float64(median(pl))/float64(median(sq)))
		}
		target := "—"
		if bc.target != "" {
			target = "≤ " + bc.target
		}
		line := fmt.Sprintf("| %s | %.1f | %s | %s | %s |\n", bc.label, ms(median(pl)), sqlMs, ratio, target)
		if old != nil {
			oms, osql, opl := "n/a", "n/a", "n/a"
			if len(ol) > 0 {
				oms = fmt.Sprintf("%.1f", ms(median(ol)))
				opl = fmt.Sprintf("%.2f", float64(median(pl))/float64(median(ol)))
				if len(sq) > 0 {
					osql = fmt.Sprintf("%.2f", float64(median(ol))/float64(median(sq)))
				}
			}
			line = fmt.Sprintf("| %s | %.1f | %s | %s | %s | %s | %s | %s |\n", bc.label, ms(median(pl)), sqlMs, ratio, oms, osql, opl, target)
		}
		fmt.Print(line)
		if withCopy {
			notes = append(notes, fmt.Sprintf("stats / raw binary COPY of (closed_at, realized_pnl) for the range: %.1f / %.1f ms = **%.2f** (target ≤ 2)",
				ms(median(pl)), ms(median(cp)), float64(median(pl))/float64(median(cp))))
			if len(ol) > 0 {
				notes = append(notes, fmt.Sprintf("stats / compared build's stats: %.1f / %.1f ms = **%.2f** (target ≤ 0.5)",
					ms(median(pl)), ms(median(ol)), float64(median(pl))/float64(median(ol))))
			}
		}
	}
	if b, one := medians["breakdown (50 symbols)"], medians["stats, same table, one group"]; b > 0 && one > 0 {
		notes = append(notes, fmt.Sprintf("breakdown with 50 groups / stats of the same trades as one group: %.1f / %.1f ms = **%.2f** (about one pass)",
			ms(b), ms(one), float64(b)/float64(one)))
	}
	for _, n := range notes {
		fmt.Printf("\n%s", n)
	}
	fmt.Println()
	fmt.Printf("\nplugin peak RSS (VmHWM): %s; current RSS: %s\n", harness.ReadStatus(p.Pid, "VmHWM"), harness.ReadStatus(p.Pid, "VmRSS"))
	if old != nil {
		fmt.Printf("compared build peak RSS (VmHWM): %s\n", harness.ReadStatus(old.Pid, "VmHWM"))
	}
}
