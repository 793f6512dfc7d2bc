// Command cachebench is the `cache` section of `make bench` (issue 14): what
// the fold cache saves when a dashboard refreshes after a few new trades.
//
//	BENCH_TRADES (default 1000000) generated trades over one year,
//	BENCH_CACHE_LOG=1: sql/cache_changes.sql installed (the cache checks
//	through the change log), BENCH_CACHE_MB: the data source's cacheMegabytes,
//	BENCH_RUNS (default 5) timed runs per case, BENCH_KINDS (default all;
//	"none" for the dashboard part alone), BENCH_DASHBOARD=0: no dashboard
//	part, BENCH_DEADLINE_MIN (default 30
//	+ 30 per million trades): the whole run's deadline, BENCH_VERBOSE=1:
//	each kind's cold executedQueryString on stderr.
//
// Part 1, per cached kind (stats with the trading dashboard's stat-panel
// metrics, breakdown by symbol, drawdown_episodes, drawdown, and daily_pnl,
// rolling, period_returns as on the dashboard), over [the first trade's day,
// a fixed end]:
//   - cold: the query with "cache": false (median of BENCH_RUNS);
//   - warm after 0.1 % and after 1 % new trades: a new instance, one query
//     fills the cache, then each run INSERTs the new trades (closed_at after
//     the range end), moves the range end past them and times the same
//     query; whether it was served from the cache is gpx_cache_hits_total's
//     rise (CollectMetrics), and the last warm answer must equal the cold
//     answer of the same range (frames, executedQueryString aside);
//   - the raw binary COPY of the columns the cold query reads (psql to
//     /dev/null, \timing), run by run after each cold run.
//
// Part 2, the trading dashboard's full refresh: every panel query of
// dashboards/trading.json as its own QueryData call, all at once (as
// Grafana sends them), over the year: cold on a new instance (a new
// lastUpdated per refresh), cold with the X-Cache-Skip header, and after
// 0.1 % new trades with the cache warm; against the raw binary COPY of
// (closed_at, realized_pnl) for the year.
//
// Between cases the inserted trades are deleted and the table VACUUMed, so
// every case starts from the same generated table with its visibility map
// set (index-only scans). Every statement and call has a deadline; any
// error exits 1 with the reason.
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/backend"
	"github.com/grafana/grafana-plugin-sdk-go/genproto/pluginv2"

	"github.com/algotrading/pnl-datasource/tests/benchkit"
	"github.com/algotrading/pnl-datasource/tests/harness"
	"github.com/algotrading/pnl-datasource/tests/pgfix"
)

var (
	median = benchkit.Median
	ms     = benchkit.Ms
)

// launched is the plugin process once started: die stops it (Postgres has
// its own watchdog), so a failed or timed-out run leaves nothing behind.
var launched *harness.Plugin

func die(format string, a ...any) {
	if launched != nil {
		launched.Client.Kill()
	}
	benchkit.Die(format, a...)
}

const (
	days      = 365
	maxPoints = 1000
	year      = days * 24 * time.Hour
)

// kind is one cached query kind: its query body (without refId) and the
// columns its cold read takes from the trades table (for the raw COPY).
type kind struct {
	name string
	body map[string]any
	cols string
}

// bench is one run: the server, the plugin and where the table stands.
type bench struct {
	pg       *pgfix.Server
	p        *harness.Plugin
	n, runs  int
	from     time.Time     // the first trade's day (UTC midnight)
	end0     time.Time     // the fixed range end of the generated table
	end      time.Time     // the range end now (after the inserted trades)
	nextID   int           // trade_id of the next inserted trade
	updated  int64         // lastUpdated of the newest instance
	timeout  time.Duration // for each statement and each call
	jsonData map[string]any
}

// instance is the context of a new data-source instance (a new
// lastUpdated: Grafana's way of saying the settings changed), so nothing
// of an earlier one is reused — its cache included.
func (b *bench) instance() *pluginv2.PluginContext {
	b.updated++
	return harness.PluginContext("cachebench", b.jsonData, pgfix.Secure(), b.updated)
}

// psql runs script as the superuser on database trading within b.timeout
// and returns its unaligned, tuples-only output.
func (b *bench) psql(script string, args ...string) string {
	c, cancel := context.WithTimeout(context.Background(), b.timeout)
	defer cancel()
	cmd := exec.CommandContext(c, "psql", append([]string{"-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-h", b.pg.SockDir,
		"-p", strconv.Itoa(b.pg.Port), "-U", "postgres", "-d", "trading"}, args...)...)
	cmd.Stdin = strings.NewReader(script)
	out, err := cmd.CombinedOutput()
	if c.Err() != nil {
		die("psql gave no answer within %v to: %.200s", b.timeout, script)
	}
	if err != nil {
		die("psql: %v\n%s\nscript: %.500s", err, out, script)
	}
	return strings.TrimSpace(string(out))
}

func ts(t time.Time) string { return "'" + t.UTC().Format(time.RFC3339Nano) + "'" }

// copyTime is psql's \timing of one binary COPY of cols over (from, to] to
// /dev/null: from sending it until the last row arrived, on the client.
func (b *bench) copyTime(cols string, to time.Time, ordered bool) time.Duration {
	order := ""
	if ordered {
		order = " ORDER BY closed_at, trade_id"
	}
	sql := fmt.Sprintf("COPY (SELECT %s FROM trades WHERE closed_at > %s AND closed_at <= %s%s) TO STDOUT (FORMAT binary);\n",
		cols, ts(b.from), ts(to), order)
	out := b.psql("\\timing on\n"+sql, "-o", "/dev/null")
	for _, l := range strings.Split(out, "\n") {
		if f := strings.Fields(l); len(f) >= 2 && f[0] == "Time:" {
			v, err := strconv.ParseFloat(f[1], 64)
			if err != nil {
				die("raw COPY: timing %q: %v", l, err)
			}
			return time.Duration(v * float64(time.Millisecond))
		}
	}
	die("raw COPY: no timing in psql's output %q", out)
	return 0
}

// reset deletes the inserted trades and VACUUMs, so the table is the
// generated one again with its visibility map set; the range end goes back.
func (b *bench) reset() {
	if b.end.Equal(b.end0) {
		return
	}
	b.psql(fmt.Sprintf("DELETE FROM trades WHERE trade_id > %d;\nVACUUM trades;\n", b.n))
	b.end = b.end0
}

// insert adds fraction×n new trades closed after the range end, at the
// generated table's rate (one year per n trades), copies of generated ones
// with new ids and times, and moves the range end past them.
func (b *bench) insert(fraction float64) int {
	k := int(math.Round(float64(b.n) * fraction))
	if k < 1 {
		k = 1
	}
	span := time.Duration(float64(year) * float64(k) / float64(b.n))
	after := float64(b.end.UnixMicro()) / 1e6
	// trade j closes at after + span·(j − ½)/k: strictly inside (end, end + span]
	c := fmt.Sprintf("to_timestamp(%.6f + %.6f * (j - 0.5) / %d)", after, span.Seconds(), k)
	b.psql(fmt.Sprintf(`INSERT INTO trades (trade_id, account, exchange, strategy, symbol, side, qty, entry_price,
  exit_price, expected_entry_price, expected_exit_price, opened_at, closed_at, fees, realized_pnl, entry_tag, exit_reason)
SELECT %[1]d + j, t.account, t.exchange, t.strategy, t.symbol, t.side, t.qty, t.entry_price, t.exit_price,
  t.expected_entry_price, t.expected_exit_price, %[2]s - (t.closed_at - t.opened_at), %[2]s, t.fees, t.realized_pnl,
  t.entry_tag, t.exit_reason
FROM generate_series(1, %[3]d) AS j JOIN trades t ON t.trade_id = (%[1]d + j) %% %[4]d + 1;
`, b.nextID, c, k, b.n))
	b.nextID += k
	b.end = b.end.Add(span)
	return k
}

// request is the query body (refId "A" unless it has one) over (from, to];
// uncached adds "cache": false.
func (b *bench) request(body map[string]any, to time.Time, uncached bool) *pluginv2.DataQuery {
	q := map[string]any{}
	for k, v := range body {
		q[k] = v
	}
	if q["refId"] == nil {
		q["refId"] = "A"
	}
	if uncached {
		q["cache"] = false
	}
	js, _ := json.Marshal(q)
	return &pluginv2.DataQuery{RefId: q["refId"].(string), Json: js, MaxDataPoints: maxPoints, IntervalMS: to.Sub(b.from).Milliseconds() / maxPoints,
		TimeRange: &pluginv2.TimeRange{FromEpochMS: b.from.UnixMilli(), ToEpochMS: to.UnixMilli()}}
}

// call sends one QueryData of one query and returns its wall time and the
// answer; a failed call, an error or a status other than 200 is fatal.
func (b *bench) call(what string, pc *pluginv2.PluginContext, q *pluginv2.DataQuery, headers map[string]string) (time.Duration, backend.DataResponse) {
	c, cancel := context.WithTimeout(context.Background(), b.timeout)
	defer cancel()
	s := time.Now()
	res, err := b.p.Data.QueryData(c, &pluginv2.QueryDataRequest{PluginContext: pc, Headers: headers, Queries: []*pluginv2.DataQuery{q}})
	if err != nil {
		die("%s: QueryData: %v", what, err)
	}
	d := time.Since(s)
	r, err := backend.FromProto().QueryDataResponse(res)
	if err != nil {
		die("%s: decoding the answer: %v", what, err)
	}
	a, ok := r.Responses[q.RefId]
	if !ok || a.Error != nil || a.Status != 200 {
		die("%s: refId %s: status %d, %v", what, q.RefId, a.Status, a.Error)
	}
	return d, a
}

// canon is an answer's frames as JSON without executedQueryString (the one
// thing a cached answer may show differently).
func canon(r backend.DataResponse) string {
	for _, f := range r.Frames {
		if f.Meta != nil {
			f.Meta.ExecutedQueryString = ""
		}
	}
	js, err := json.Marshal(r.Frames)
	if err != nil {
		die("encoding frames: %v", err)
	}
	return string(js)
}

var cacheRE = regexp.MustCompile(`(?m)^gpx_cache_(hits|misses)_total(?:\{[^}]*\})? (\S+)$`)

// counts is the sum of gpx_cache_hits_total and of gpx_cache_misses_total
// over their label sets; ok is false when the plugin has no such metric
// (a build without the cache).
func (b *bench) counts() (hits, misses float64, ok bool) {
	c, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	res, err := b.p.Diagnostics.CollectMetrics(c, &pluginv2.CollectMetricsRequest{})
	if err != nil {
		die("CollectMetrics: %v", err)
	}
	for _, m := range cacheRE.FindAllStringSubmatch(string(res.Metrics.GetPrometheus()), -1) {
		v, err := strconv.ParseFloat(m[2], 64)
		if err != nil {
			die("CollectMetrics: gpx_cache_%s_total %q: %v", m[1], m[2], err)
		}
		if m[1] == "hits" {
			hits, ok = hits+v, true
		} else {
			misses += v
		}
	}
	return hits, misses, ok
}

// kindResult is one row of the first table.
type kindResult struct {
	cold, copy  time.Duration
	warm        [2]time.Duration // after 0.1 %, after 1 %
	hits, warms int              // cache hits among the warm runs, warm runs
	metric      bool             // the build has gpx_cache_hits_total
	mismatch    []string         // cases whose warm answer differed from cold
}

var fractions = [2]float64{0.001, 0.01}

func (b *bench) measureKind(k kind) kindResult {
	var r kindResult
	b.reset()
	pc := b.instance()
	_, a := b.call(k.name+" cold warm-up", pc, b.request(k.body, b.end, true), nil) // connections, Postgres' buffers
	if os.Getenv("BENCH_VERBOSE") != "" && len(a.Frames) > 0 && a.Frames[0].Meta != nil {
		fmt.Fprintf(os.Stderr, "%s: %s\n", k.name, a.Frames[0].Meta.ExecutedQueryString)
	}
	var cold, cp []time.Duration
	for i := 0; i < b.runs; i++ {
		d, _ := b.call(k.name+" cold", pc, b.request(k.body, b.end, true), nil)
		cold = append(cold, d)
		cp = append(cp, b.copyTime(k.cols, b.end, true))
	}
	r.cold, r.copy = median(cold), median(cp)
	for i, f := range fractions {
		b.reset()
		pc := b.instance()
		b.call(k.name+" fill", pc, b.request(k.body, b.end, false), nil)
		h0, _, ok := b.counts()
		r.metric = ok
		var warm []time.Duration
		var last backend.DataResponse
		for j := 0; j < b.runs; j++ {
			b.insert(f)
			var d time.Duration
			d, last = b.call(k.name+" warm", pc, b.request(k.body, b.end, false), nil)
			warm = append(warm, d)
		}
		h1, _, _ := b.counts()
		r.hits += int(h1 - h0)
		r.warms += b.runs
		r.warm[i] = median(warm)
		dc, cold := b.call(k.name+" cold check", pc, b.request(k.body, b.end, true), nil)
		if os.Getenv("BENCH_VERBOSE") != "" {
			fmt.Fprintf(os.Stderr, "%s after %g %%: warm runs %v, then cold %v\n", k.name, f*100, warm, dc)
		}
		if canon(last) != canon(cold) {
			r.mismatch = append(r.mismatch, fmt.Sprintf("%g %%", f*100))
		}
	}
	return r
}

// refresh sends every query of qs as its own QueryData call, all at once,
// over (from, to], and returns when the last answered, with the answers by
// refId.
func (b *bench) refresh(pc *pluginv2.PluginContext, qs []map[string]any, to time.Time, headers map[string]string) (time.Duration, map[string]backend.DataResponse) {
	var wg sync.WaitGroup
	answers := make([]backend.DataResponse, len(qs))
	s := time.Now()
	for i, q := range qs {
		wg.Add(1)
		go func(i int, q map[string]any) {
			defer wg.Done()
			dq := b.request(q, to, false)
			_, answers[i] = b.call("dashboard panel "+dq.RefId, pc, dq, headers)
		}(i, q)
	}
	wg.Wait()
	d := time.Since(s)
	out := map[string]backend.DataResponse{}
	for i, q := range qs {
		out[q["refId"].(string)] = answers[i]
	}
	return d, out
}

// dashRow is one row of the second table.
type dashRow struct {
	name, target string
	d            time.Duration
	hits, misses float64 // per refresh
}

func (b *bench) measureDashboard(qs []map[string]any) ([]dashRow, time.Duration, []string) {
	b.reset()
	skip := map[string]string{"X-Cache-Skip": "true"}
	var rows []dashRow
	var cp []time.Duration
	var mismatch []string
	per := func(h0, m0 float64) (float64, float64) {
		h, m, _ := b.counts()
		return (h - h0) / float64(b.runs), (m - m0) / float64(b.runs)
	}

	// cold: a new instance per refresh; each followed by the raw COPY
	b.refresh(b.instance(), qs, b.end, nil) // Postgres' buffers
	var ds []time.Duration
	h0, m0, _ := b.counts()
	for i := 0; i < b.runs; i++ {
		d, _ := b.refresh(b.instance(), qs, b.end, nil)
		ds = append(ds, d)
		cp = append(cp, b.copyTime("closed_at, realized_pnl", b.end, false))
	}
	h, m := per(h0, m0)
	rows = append(rows, dashRow{"cold: a new instance per refresh (new lastUpdated)", "≤ 3", median(ds), h, m})

	// cold: one instance, every call with X-Cache-Skip: true
	pc := b.instance()
	b.refresh(pc, qs, b.end, skip)
	ds = nil
	h0, m0, _ = b.counts()
	for i := 0; i < b.runs; i++ {
		d, _ := b.refresh(pc, qs, b.end, skip)
		ds = append(ds, d)
	}
	h, m = per(h0, m0)
	rows = append(rows, dashRow{"cold: one instance, X-Cache-Skip: true on every call", "≤ 3", median(ds), h, m})

	// warm: a new instance, one refresh fills the cache, then each run
	// inserts 0.1 % new trades and refreshes over the longer range
	pc = b.instance()
	b.refresh(pc, qs, b.end, nil)
	ds = nil
	var last map[string]backend.DataResponse
	h0, m0, _ = b.counts()
	for i := 0; i < b.runs; i++ {
		b.insert(fractions[0])
		var d time.Duration
		d, last = b.refresh(pc, qs, b.end, nil)
		ds = append(ds, d)
	}
	h, m = per(h0, m0)
	rows = append(rows, dashRow{"after 0.1 % new trades, cache warm", "≤ 1", median(ds), h, m})
	_, cold := b.refresh(pc, qs, b.end, skip)
	for _, q := range qs {
		id := q["refId"].(string)
		if canon(last[id]) != canon(cold[id]) {
			mismatch = append(mismatch, fmt.Sprintf("%s (%v)", id, q["queryType"]))
		}
	}
	return rows, median(cp), mismatch
}

// dashboardKinds are the kinds measured one by one: the dashboard's own
// query of each (variables at their defaults), stats with every stat
// panel's metrics, breakdown grouped by symbol; cols is what each cold read
// takes from the table.
func dashboardKinds(qs []map[string]any) []kind {
	first := map[string]map[string]any{}
	var metrics []any
	seen := map[any]bool{}
	for _, q := range qs {
		qt := fmt.Sprint(q["queryType"])
		if qt == "stats" {
			for _, m := range q["metrics"].([]any) {
				if !seen[m] {
					seen[m] = true
					metrics = append(metrics, m)
				}
			}
		}
		if first[qt] == nil {
			body := map[string]any{}
			for k, v := range q {
				if k != "refId" && k != "datasource" {
					body[k] = v
				}
			}
			first[qt] = body
		}
	}
	get := func(qt string) map[string]any {
		if first[qt] == nil {
			die("dashboards/trading.json has no %s panel", qt)
		}
		return first[qt]
	}
	stats := get("stats")
	stats["metrics"] = metrics
	breakdown := get("breakdown")
	breakdown["groupBy"] = "symbol"
	const base = "closed_at, realized_pnl"
	return []kind{
		{"stats", stats, base + ", opened_at, side"},
		{"breakdown", breakdown, "symbol, " + base + ", opened_at"},
		{"drawdown_episodes", get("drawdown_episodes"), base},
		{"drawdown", get("drawdown"), base},
		{"daily_pnl", get("daily_pnl"), base},
		{"rolling", get("rolling"), "strategy, " + base},
		{"period_returns", get("period_returns"), base},
	}
}

func ratio(a, b time.Duration) string {
	if b <= 0 {
		return "—"
	}
	return fmt.Sprintf("%.2f", float64(a)/float64(b))
}

func main() {
	n, runs := benchkit.Trades(1000000), benchkit.Runs(5)
	if n < 1000 {
		die("BENCH_TRADES %d: at least 1000 (0.1 %% of them are inserted per run)", n)
	}
	deadline := time.Duration(30+30*n/1000000) * time.Minute
	if v := os.Getenv("BENCH_DEADLINE_MIN"); v != "" {
		m, err := strconv.Atoi(v)
		if err != nil || m <= 0 {
			die("BENCH_DEADLINE_MIN %q: a positive number of minutes", v)
		}
		deadline = time.Duration(m) * time.Minute
	}
	time.AfterFunc(deadline, func() { die("not done within %v (BENCH_DEADLINE_MIN)", deadline) })
	root := harness.RepoRoot()
	titles, qs := benchkit.DashboardQueries(filepath.Join(root, "dashboards", "trading.json"))
	kinds := dashboardKinds(qs)
	if v := os.Getenv("BENCH_KINDS"); v != "" {
		want := map[string]bool{}
		for _, s := range strings.Split(v, ",") {
			want[s] = true
		}
		var sel []kind
		for _, k := range kinds {
			if want[k.name] {
				sel = append(sel, k)
				delete(want, k.name)
			}
		}
		delete(want, "none")
		if len(want) > 0 {
			die("BENCH_KINDS %q: unknown kinds %v", v, want)
		}
		kinds = sel
	}

	pg, err := pgfix.StartMain()
	if err != nil {
		die("%v", err)
	}
	defer pg.Close()
	b := &bench{pg: pg, n: n, runs: runs, nextID: n + 1, timeout: time.Duration(10*(1+n/1000000)) * time.Minute,
		jsonData: pg.JSONData(map[string]any{"queryTimeoutSeconds": 3600, "maxQueuedQueries": 100})}
	if v := os.Getenv("BENCH_CACHE_MB"); v != "" { // cacheMegabytes (default: the plugin's, 64)
		mb, err := strconv.Atoi(v)
		if err != nil || mb < 0 {
			die("BENCH_CACHE_MB %q: a number of MiB", v)
		}
		b.jsonData["cacheMegabytes"] = mb
	}
	t0 := time.Now()
	if err := pg.LoadDemo(root, n, days, 1, "2024-01-01"); err != nil { // schema.sql (its indexes), VACUUM ANALYZE
		die("%v", err)
	}
	load := time.Since(t0)
	check := "the fingerprint (no change log)"
	if os.Getenv("BENCH_CACHE_LOG") == "1" {
		// the cache checks through sql/cache_changes.sql's per-hour versions
		if err := pg.PsqlFiles("trading", map[string]string{"table": "trades"},
			filepath.Join(root, "sql", "cache_changes.sql")); err != nil {
			die("installing sql/cache_changes.sql: %v", err)
		}
		check = "the change log (sql/cache_changes.sql installed)"
	} else {
		b.jsonData["cacheFingerprint"] = true // without the log, the cache only with the fingerprint check
	}
	// the range: the first trade's day to the midnight after the last trade
	f := strings.Split(b.psql("SELECT floor(extract(epoch FROM min(closed_at)) / 86400) * 86400, "+
		"ceil(extract(epoch FROM max(closed_at)) / 86400) * 86400, max(trade_id), count(*) FROM trades"), "|")
	if len(f) != 4 {
		die("the generated table: %q", f)
	}
	from, _ := strconv.ParseFloat(f[0], 64)
	to, _ := strconv.ParseFloat(f[1], 64)
	if f[2] != strconv.Itoa(n) || f[3] != strconv.Itoa(n) {
		die("the generated table: max(trade_id) %s, count %s, want %d", f[2], f[3], n)
	}
	b.from, b.end0 = time.Unix(int64(from), 0).UTC(), time.Unix(int64(to), 0).UTC()
	b.end = b.end0
	// the cold read must be the covering index's index-only scan
	plan := b.psql(fmt.Sprintf("EXPLAIN SELECT closed_at, realized_pnl, opened_at, side FROM trades WHERE closed_at > %s "+
		"AND closed_at <= %s ORDER BY closed_at, trade_id", ts(b.from), ts(b.end0)))
	if !strings.Contains(plan, "Index Only Scan using trades_closed_at_id_pnl_idx") {
		die("the ordered read is not an index-only scan of sql/schema.sql's covering index:\n%s", plan)
	}

	b.p, err = harness.LaunchE(harness.Options{})
	if err != nil {
		die("%v", err)
	}
	launched = b.p
	defer b.p.Client.Kill()
	fmt.Printf("%d trades from %s to %s generated, VACUUM ANALYZEd in %.1f s (covering index, index-only scan checked); "+
		"median of %d runs; plugin %s; cache checked by %s\n", n, b.from.Format("2006-01-02"), b.end0.Format("2006-01-02"),
		load.Seconds(), runs, pluginName(), check)

	failed := false
	if len(kinds) > 0 {
		fmt.Println("\nEach kind over the whole range. cold = \"cache\": false; warm = a new instance, one query fills the cache, " +
			"then each run inserts the new trades after the range end, moves the end past them and times the query; " +
			"raw COPY = psql's binary COPY of the columns the cold read takes, ordered by (closed_at, trade_id). " +
			"cached? = gpx_cache_hits_total's rise over the warm runs. Targets: warm ≤ 0.2 × cold and < raw COPY.")
		fmt.Println()
		fmt.Println("| kind | cold ms | warm 0.1 % ms | warm/cold | warm 1 % ms | warm/cold | raw COPY ms | warm 1 %/COPY | cached? |")
		fmt.Println("|---|---:|---:|---:|---:|---:|---:|---:|---|")
		var cols []string
		for _, k := range kinds {
			t := time.Now()
			r := b.measureKind(k)
			cached := "n/a (no gpx_cache_hits_total)"
			if r.metric {
				cached = "no"
				if r.hits > 0 {
					cached = "yes"
				}
				cached += fmt.Sprintf(" (%d/%d hits)", r.hits, r.warms)
			}
			if len(r.mismatch) > 0 {
				cached += " **warm ≠ cold after " + strings.Join(r.mismatch, ", ") + "**"
				failed = true
			}
			fmt.Printf("| %s | %.1f | %.1f | %s | %.1f | %s | %.1f | %s | %s |\n", k.name, ms(r.cold), ms(r.warm[0]),
				ratio(r.warm[0], r.cold), ms(r.warm[1]), ratio(r.warm[1], r.cold), ms(r.copy), ratio(r.warm[1], r.copy), cached)
			cols = append(cols, fmt.Sprintf("%s (%s, %.0f s)", k.name, k.cols, time.Since(t).Seconds()))
		}
		fmt.Printf("\nraw COPY columns (and the time each row took): %s\n", strings.Join(cols, "; "))
	}

	if os.Getenv("BENCH_DASHBOARD") == "0" {
		if failed {
			die("a cached answer differs from the cold one (see above)")
		}
		return
	}
	fmt.Printf("\nThe trading dashboard's full refresh: its %d panel queries (%s … %s), each its own QueryData call, all at once, "+
		"over the year; raw COPY = binary COPY of (closed_at, realized_pnl) for the year. Hits and misses: the cache "+
		"counters' rise per refresh.\n\n", len(qs), titles[0], titles[len(titles)-1])
	t := time.Now()
	rows, cp, mismatch := b.measureDashboard(qs)
	_, _, metric := b.counts()
	fmt.Println("| refresh | ms | / raw COPY | target | cache hits / misses per refresh |")
	fmt.Println("|---|---:|---:|---|---|")
	for _, r := range rows {
		hm := "n/a"
		if metric {
			hm = fmt.Sprintf("%.1f / %.1f", r.hits, r.misses)
		}
		fmt.Printf("| %s | %.1f | %s | %s | %s |\n", r.name, ms(r.d), ratio(r.d, cp), r.target, hm)
	}
	fmt.Printf("| raw binary COPY of (closed_at, realized_pnl) | %.1f | 1.00 | | |\n", ms(cp))
	fmt.Printf("\n(dashboard part: %.0f s) plugin peak RSS (VmHWM): %s\n", time.Since(t).Seconds(), harness.ReadStatus(b.p.Pid, "VmHWM"))
	if len(mismatch) > 0 {
		fmt.Printf("\n**after the warm refreshes, these panels' answers differ from a cold refresh: %s**\n", strings.Join(mismatch, ", "))
		failed = true
	}
	if failed {
		die("a cached answer differs from the cold one (see above)")
	}
}

// pluginName is the plugin binary the harness launches.
func pluginName() string {
	bin := harness.BinaryPath()
	if st, err := os.Stat(bin); err == nil {
		return fmt.Sprintf("%s (%s)", bin, st.ModTime().UTC().Format("2006-01-02 15:04"))
	}
	return bin
}
