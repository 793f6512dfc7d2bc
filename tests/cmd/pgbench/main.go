// Command pgbench is the Postgres section of `make bench`: on N generated
// trades it times each query type through the plugin (QueryData over the
// go-plugin connection, frames decoded by the SDK) and, in the same run,
// Postgres executing the SQL a Grafana PostgreSQL-data-source user would
// write for the same answer (psql \timing: execute + transfer all rows).
// Ratios plugin/SQL < 1 mean the plugin is faster.
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/backend"
	"github.com/grafana/grafana-plugin-sdk-go/genproto/pluginv2"

	"github.com/algotrading/pnl-datasource/tests/harness"
	"github.com/algotrading/pnl-datasource/tests/pgfix"
)

func die(format string, a ...any) {
	fmt.Fprintf(os.Stderr, "pgbench: "+format+"\n", a...)
	os.Exit(1)
}

func median(d []time.Duration) time.Duration {
	s := append([]time.Duration(nil), d...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[len(s)/2]
}

// What a Grafana PostgreSQL user writes for each panel ($__timeFilter expanded).
func baselines(from, to time.Time, width int64) map[string]string {
	tf := fmt.Sprintf("closed_at > '%s' AND closed_at <= '%s'", from.Format(time.RFC3339Nano), to.Format(time.RFC3339Nano))
	before := fmt.Sprintf("(SELECT 100000 + coalesce(sum(realized_pnl),0) FROM trades WHERE closed_at <= '%s')", from.Format(time.RFC3339Nano))
	eq := fmt.Sprintf("SELECT closed_at AS time, %s + sum(realized_pnl) OVER (ORDER BY closed_at, trade_id) AS equity FROM trades WHERE %s ORDER BY closed_at, trade_id", before, tf)
	daily := fmt.Sprintf("SELECT date_trunc('day', closed_at AT TIME ZONE 'UTC') AS time, sum(realized_pnl) AS daily_pnl FROM trades WHERE %s GROUP BY 1 ORDER BY 1", tf)
	return map[string]string{
		"equity":  eq,
		"pnl":     fmt.Sprintf("SELECT closed_at AS time, sum(realized_pnl) OVER (ORDER BY closed_at, trade_id) AS pnl FROM trades WHERE %s ORDER BY closed_at, trade_id", tf),
		"returns": fmt.Sprintf("SELECT closed_at AS time, sum(realized_pnl) OVER (ORDER BY closed_at, trade_id) / %s AS ret FROM trades WHERE %s ORDER BY closed_at, trade_id", before, tf),
		"drawdown": fmt.Sprintf("WITH e AS (%s) SELECT time, equity / max(equity) OVER (ORDER BY time ROWS UNBOUNDED PRECEDING) - 1 AS drawdown FROM e ORDER BY time", eq),
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
	}
}

func main() {
	n := os.Getenv("BENCH_TRADES")
	if n == "" {
		n = "1000000"
	}
	runs := 5
	if v, err := strconv.Atoi(os.Getenv("BENCH_RUNS")); err == nil && v > 0 {
		runs = v
	}
	pg, err := pgfix.StartMain()
	if err != nil {
		die("%v", err)
	}
	defer pg.Close()
	root := harness.RepoRoot()
	start := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	days := 730
	t0 := time.Now()
	if err := pg.PsqlFiles("trading", map[string]string{"n": n, "start": "'2024-01-01'", "days": strconv.Itoa(days), "seed": "1"},
		filepath.Join(root, "sql", "schema.sql"), filepath.Join(root, "sql", "demo_data.sql")); err != nil {
		die("%v", err)
	}
	for _, s := range []string{"ALTER TABLE trades OWNER TO grafana", "VACUUM ANALYZE trades"} {
		if _, err := pg.Psql("trading", s); err != nil {
			die("%v", err)
		}
	}
	fmt.Printf("%s trades over %d days generated in %.1f s\n", n, days, time.Since(t0).Seconds())

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
		"trade_count"}
	if v := os.Getenv("BENCH_TYPES"); v != "" { // e.g. BENCH_TYPES=trades,stats
		types = strings.Split(v, ",")
	}
	base := baselines(from, to, width)

	if old != nil {
		fmt.Printf("\n| query type | plugin median (ms) | SQL median (ms) | plugin / SQL | compared build (ms) | compared / SQL | plugin / compared | target |\n|---|---:|---:|---:|---:|---:|---:|---:|\n")
	} else {
		fmt.Printf("\n| query type | plugin median (ms) | SQL median (ms) | plugin / SQL | target |\n|---|---:|---:|---:|---:|\n")
	}
	var out strings.Builder
	for _, qt := range types {
		js, _ := json.Marshal(map[string]any{"refId": "A", "queryType": qt})
		q := &pluginv2.DataQuery{RefId: "A", Json: js, MaxDataPoints: maxPoints, IntervalMS: width,
			TimeRange: &pluginv2.TimeRange{FromEpochMS: from.UnixMilli(), ToEpochMS: to.UnixMilli()}}
		// time one QueryData; ok false when the build does not know the kind
		timeOne := func(pp *harness.Plugin) (time.Duration, bool) {
			c, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
			defer cancel()
			s := time.Now()
			res, err := pp.Data.QueryData(c, &pluginv2.QueryDataRequest{PluginContext: pctx, Queries: []*pluginv2.DataQuery{q}})
			if err != nil {
				die("%s: %v", qt, err)
			}
			d := time.Since(s)
			r, err := backend.FromProto().QueryDataResponse(res)
			if err != nil {
				die("%s: %v", qt, err)
			}
			if e := r.Responses["A"].Error; e != nil {
				if pp == old && strings.Contains(e.Error(), "unknown query type") {
					return 0, false
				}
				die("%s: %v", qt, e)
			}
			return d, true
		}
		var pl, ol []time.Duration
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
		}
		sql := base[qt]
		script := "\\timing on\n" + strings.Repeat(sql+";\n", runs+1)
		cmd := exec.Command("psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-h", pg.SockDir, "-p", strconv.Itoa(pg.Port), "-U", "postgres", "-d", "trading", "-o", "/dev/null")
		cmd.Stdin = strings.NewReader(script)
		outb, err := cmd.CombinedOutput()
		if err != nil {
			die("baseline %s: %v\n%s", qt, err, outb)
		}
		var sq []time.Duration
		for i, l := range strings.Split(string(outb), "\n") {
			_ = i
			if strings.HasPrefix(l, "Time: ") {
				ms, _ := strconv.ParseFloat(strings.Fields(l)[1], 64)
				sq = append(sq, time.Duration(ms*float64(time.Millisecond)))
			}
		}
		if len(sq) != runs+1 {
			die("baseline %s: %d timings", qt, len(sq))
		}
		sq = sq[1:]
		target := "1.0"
		if qt == "equity" || qt == "drawdown" {
			target = "0.5"
		}
		ratio := float64(median(pl)) / float64(median(sq))
		line := fmt.Sprintf("| %s | %.1f | %.1f | %.2f | ≤ %s |\n", qt, float64(median(pl))/1e6, float64(median(sq))/1e6, ratio, target)
		if old != nil && len(ol) > 0 {
			oratio := float64(median(ol)) / float64(median(sq))
			line = fmt.Sprintf("| %s | %.1f | %.1f | %.2f | %.1f | %.2f | %.2f | ≤ %s |\n", qt, float64(median(pl))/1e6,
				float64(median(sq))/1e6, ratio, float64(median(ol))/1e6, oratio, float64(median(pl))/float64(median(ol)), target)
		} else if old != nil {
			line = fmt.Sprintf("| %s | %.1f | %.1f | %.2f | n/a | n/a | n/a | ≤ %s |\n", qt, float64(median(pl))/1e6,
				float64(median(sq))/1e6, ratio, target)
		}
		fmt.Print(line)
		out.WriteString(line)
	}
	fmt.Printf("\nplugin peak RSS (VmHWM): %s; current RSS: %s\n", harness.ReadStatus(p.Pid, "VmHWM"), harness.ReadStatus(p.Pid, "VmRSS"))
	if old != nil {
		fmt.Printf("compared build peak RSS (VmHWM): %s\n", harness.ReadStatus(old.Pid, "VmHWM"))
	}
}
