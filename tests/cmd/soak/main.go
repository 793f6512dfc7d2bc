// Command soak is `make soak` (and, shortened, the soak stage of `make
// test`): the plugin under sustained, mixed, partly cancelled load for a
// long time, watched from outside for what only time shows — memory that
// grows, descriptors, threads or Postgres sessions that are not given
// back, calls that get slow or fail.
//
// A real Postgres (tests/pgfix) gets SOAK_TRADES generated trades
// (sql/schema.sql + sql/demo_data.sql); the plugin is launched through the
// Grafana-host harness; SOAK_CLIENTS clients call it back to back for
// SOAK_MINUTES: 70 % QueryData (every query kind, random filters, groupBy
// and ranges from the data), 20 % CallResource, 10 % CheckHealth and
// CollectMetrics, 10 % of all calls cancelled at a random moment. The data
// source's settings are saved anew every SOAK_SETTINGS_SECONDS. Every
// SOAK_SAMPLE_SECONDS one row of the table: the plugin's RSS, fds and
// threads, its Postgres sessions, calls, errors and p99 latencies. Then
// the clients stop and the plugin must give back what it took.
//
// Each pass criterion prints PASS or FAIL with the measured value; the last
// line is "soak: N passed, N failed" and the exit status is non-zero when
// one failed.
package main

import (
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/algotrading/pnl-datasource/tests/harness"
	"github.com/algotrading/pnl-datasource/tests/pgfix"
)

func envInt(k string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(k)); err == nil {
		return v
	}
	return def
}

func envFloat(k string, def float64) float64 {
	if v, err := strconv.ParseFloat(os.Getenv(k), 64); err == nil {
		return v
	}
	return def
}

func die(format string, a ...any) {
	fmt.Fprintf(os.Stderr, "soak: "+format+"\n", a...)
	fmt.Println("soak: 0 passed, 1 failed")
	os.Exit(1)
}

// config: every knob is a flag whose default comes from the environment.
type config struct {
	trades, days, clients   int
	minutes                 float64
	sampleEvery, settingsEv time.Duration
	idleMax                 time.Duration
	pCancel                 float64
	rssSlopeMax             float64 // MB/min after warm-up
	maxThreads              int
	lightP99                time.Duration
	seed                    uint64
	logLevel                string
	csv                     string   // the 1-s watch, for plotting
	pluginEnv               []string // extra environment for the plugin, e.g. MALLOC_ARENA_MAX=2
}

func parseConfig() config {
	var c config
	var sample, settings, idle, light float64
	var seed int
	flag.IntVar(&c.trades, "trades", envInt("SOAK_TRADES", 1000000), "trades to generate (SOAK_TRADES)")
	flag.Float64Var(&c.minutes, "minutes", envFloat("SOAK_MINUTES", 30), "minutes of load (SOAK_MINUTES)")
	flag.IntVar(&c.days, "days", envInt("SOAK_DAYS", 365), "days the trades cover (SOAK_DAYS)")
	flag.IntVar(&c.clients, "clients", envInt("SOAK_CLIENTS", 50), "concurrent clients (SOAK_CLIENTS)")
	flag.Float64Var(&sample, "sample", envFloat("SOAK_SAMPLE_SECONDS", 10), "seconds between samples (SOAK_SAMPLE_SECONDS)")
	flag.Float64Var(&settings, "settings", envFloat("SOAK_SETTINGS_SECONDS", 60), "seconds between settings saves (SOAK_SETTINGS_SECONDS)")
	flag.Float64Var(&idle, "idle", envFloat("SOAK_IDLE_SECONDS", 60), "seconds the plugin has to give back fds and sessions (SOAK_IDLE_SECONDS)")
	flag.Float64Var(&c.pCancel, "cancel", envFloat("SOAK_CANCEL", 0.10), "fraction of calls cancelled (SOAK_CANCEL)")
	// 0.2 MB/min is the criterion; a run shorter than 10 minutes fits its
	// slope over a minute or a few, where the memory of the queries in
	// flight moves RSS by as much as a small leak would: there the bound
	// is looser, and the verdict says how many bytes per call it means.
	flag.Float64Var(&c.rssSlopeMax, "rss-slope", envFloat("SOAK_RSS_SLOPE_MB_PER_MIN", 0), "RSS growth bound after warm-up, MB/min (SOAK_RSS_SLOPE_MB_PER_MIN; 0 = by run length)")
	flag.IntVar(&c.maxThreads, "max-threads", envInt("SOAK_MAX_THREADS", 80), "threads allowed at any sample (SOAK_MAX_THREADS)")
	flag.Float64Var(&light, "light-p99", envFloat("SOAK_LIGHT_P99_SECONDS", 1), "p99 bound of health/metrics/resource calls, s (SOAK_LIGHT_P99_SECONDS)")
	flag.IntVar(&seed, "seed", envInt("SOAK_SEED", 1), "random seed (SOAK_SEED)")
	flag.StringVar(&c.logLevel, "log-level", envOr("SOAK_LOG_LEVEL", "info"), "the plugin's GF_PLUGIN_LOG_LEVEL (SOAK_LOG_LEVEL)")
	flag.StringVar(&c.csv, "csv", envOr("SOAK_CSV", filepath.Join(harness.RepoRoot(), "tests", "artifacts", "soak-watch.csv")),
		"where the 1-s RSS/threads/fds series goes (SOAK_CSV; empty: nowhere)")
	var penv string
	flag.StringVar(&penv, "plugin-env", os.Getenv("SOAK_PLUGIN_ENV"), "extra environment for the plugin, space-separated K=V (SOAK_PLUGIN_ENV)")
	flag.Parse()
	c.pluginEnv = strings.Fields(penv)
	if c.csv != "" {
		os.MkdirAll(filepath.Dir(c.csv), 0755)
	}
	c.sampleEvery = time.Duration(sample * float64(time.Second))
	c.settingsEv = time.Duration(settings * float64(time.Second))
	c.idleMax = time.Duration(idle * float64(time.Second))
	c.lightP99 = time.Duration(light * float64(time.Second))
	c.seed = uint64(seed)
	if c.rssSlopeMax == 0 {
		c.rssSlopeMax = 0.2
		if c.minutes < 10 {
			c.rssSlopeMax = 10
		}
	}
	if c.minutes <= 0 || c.clients <= 0 || c.trades <= 0 || c.sampleEvery <= 0 || c.settingsEv <= 0 {
		die("minutes, clients, trades, sample and settings must be positive")
	}
	return c
}

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}

// loadData fills the trades table and reads back what the clients draw
// their filters and ranges from.
func loadData(pg *pgfix.Server, c config) world {
	root := harness.RepoRoot()
	start := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	if err := pg.PsqlFiles("trading", map[string]string{"n": strconv.Itoa(c.trades), "start": "'" + start.Format("2006-01-02") + "'",
		"days": strconv.Itoa(c.days), "seed": strconv.FormatUint(c.seed, 10)},
		filepath.Join(root, "sql", "schema.sql"), filepath.Join(root, "sql", "demo_data.sql")); err != nil {
		die("%v", err)
	}
	for _, sql := range []string{"ALTER TABLE trades OWNER TO grafana", "VACUUM ANALYZE trades"} {
		if _, err := pg.Psql("trading", sql); err != nil {
			die("%v", err)
		}
	}
	distinct := func(col string) []string {
		out, err := pg.Psql("trading", fmt.Sprintf("SELECT DISTINCT %s FROM trades WHERE %s IS NOT NULL ORDER BY 1", col, col))
		if err != nil || out == "" {
			die("distinct %s: %v %s", col, err, out)
		}
		return strings.Split(out, "\n")
	}
	w := world{strategies: distinct("strategy"), symbols: distinct("symbol"), accounts: distinct("account"), trades: c.trades}
	out, err := pg.Psql("trading", "SELECT extract(epoch FROM min(closed_at))::float8, extract(epoch FROM max(closed_at))::float8, count(*) FROM trades")
	f := strings.Fields(out)
	if err != nil || len(f) != 3 {
		die("span: %v %s", err, out)
	}
	a, _ := strconv.ParseFloat(f[0], 64)
	b, _ := strconv.ParseFloat(f[1], 64)
	w.first, w.last = time.Unix(0, int64(a*1e9)).UTC(), time.Unix(0, int64(b*1e9)).UTC()
	if n, _ := strconv.Atoi(f[2]); n != c.trades {
		die("%d trades loaded, want %d", n, c.trades)
	}
	return w
}

// settingsChange is one save of the data source and what showed that the
// plugin uses it.
type settingsChange struct {
	ver        *version
	rows       int           // the rowLimit probe's answer
	err        error         // probe failure
	backendsOK time.Duration // until the plugin's sessions were within the new maxOpenConnections; -1 never
	maxSeen    int           // most sessions seen meanwhile
}

func (ch settingsChange) ok() bool {
	return ch.err == nil && ch.rows == ch.ver.v.rowLimit && ch.backendsOK >= 0
}

func (ch settingsChange) String() string {
	s := fmt.Sprintf("v%d (maxOpenConnections %d, queryTimeoutSeconds %d, rowLimit %d): ", ch.ver.n, ch.ver.v.maxOpen,
		ch.ver.v.timeoutS, ch.ver.v.rowLimit)
	if ch.err != nil {
		return s + "probe failed: " + ch.err.Error()
	}
	s += fmt.Sprintf("probe got %d rows", ch.rows)
	if ch.backendsOK >= 0 {
		s += fmt.Sprintf(", sessions <= %d after %.1f s", ch.ver.v.maxOpen, ch.backendsOK.Seconds())
	} else {
		s += fmt.Sprintf(", sessions still above %d (up to %d)", ch.ver.v.maxOpen, ch.maxSeen)
	}
	return s
}

// verify shows the plugin picked up ver: a probe answered with its
// rowLimit, and the plugin's Postgres sessions fall to its
// maxOpenConnections once the previous instance's queries are done.
func verify(l *load, pg *pgfix.Server, ver *version, prevTimeout int, every time.Duration) settingsChange {
	ch := settingsChange{ver: ver, backendsOK: -1}
	ch.rows, ch.err = l.probeRowLimit(ver)
	// The old instance's pool closes when its last call ends: give those
	// calls a few timeouts (a call can outlast its timeout, which is
	// no-call-over-timeout's business), but look only until the next save.
	deadline := max(15*time.Second, min(time.Duration(3*prevTimeout+10)*time.Second, every-5*time.Second))
	for start := time.Now(); time.Since(start) < deadline; time.Sleep(500 * time.Millisecond) {
		n, _, err := backends(pg)
		if err == nil && n <= ver.v.maxOpen+1 { /* +1: the light calls' reserved connection */
			ch.backendsOK = time.Since(ver.since)
			break
		}
		ch.maxSeen = max(ch.maxSeen, n)
	}
	return ch
}

type check struct {
	name string
	ok   bool
	msg  string
}

func main() {
	c := parseConfig()
	fmt.Printf("soak: %d trades over %d days, %d clients for %.4g min, a sample every %v, settings saved every %v\n",
		c.trades, c.days, c.clients, c.minutes, c.sampleEvery, c.settingsEv)
	pg, err := pgfix.StartMain()
	if err != nil {
		die("%v", err)
	}
	defer pg.Close()
	t0 := time.Now()
	w := loadData(pg, c)
	fmt.Printf("soak: data loaded in %.1f s: %s .. %s; strategies %v, symbols %v, accounts %v\n", time.Since(t0).Seconds(),
		w.first.Format(time.RFC3339), w.last.Format(time.RFC3339), w.strategies, w.symbols, w.accounts)

	// Grafana's default plugin log level (the harness's default is debug,
	// which logs every call, and it keeps every stderr line in memory).
	p, err := harness.LaunchE(harness.Options{Env: append([]string{"GF_PLUGIN_LOG_LEVEL=" + c.logLevel}, c.pluginEnv...)})
	if err != nil {
		die("%v", err)
	}
	defer p.Client.Kill()
	pr := proc{p.Pid}
	fmt.Printf("soak: plugin %s pid %d, handshake in %v, extra environment %q\n", harness.BinaryPath(), p.Pid,
		p.StartupTime.Round(time.Millisecond), c.pluginEnv)

	l := &load{p: p, w: w, rec: newRecorder(), pCancel: c.pCancel, seed: c.seed}
	l.cur.Store(newVersion(pg, 1, time.Now().UnixMilli()))
	// Baseline: the instance exists and holds one connection.
	if rows, err := l.probeRowLimit(l.cur.Load()); err != nil || rows != l.cur.Load().v.rowLimit {
		p.Client.Kill()
		die("first query: %d rows, %v", rows, err)
	}
	unloaded := l.unloaded(rand.New(rand.NewPCG(c.seed, 1<<32)))
	fmt.Printf("soak: light calls one at a time before the load: %s\n", unloaded)
	time.Sleep(time.Second)
	var samples []sample
	var smu sync.Mutex
	loadStart := time.Now()
	take := func(phase string) sample {
		iv := l.rec.takeInterval()
		s := sample{at: time.Since(loadStart), phase: phase, rssKB: pr.rssKB(), fds: pr.fds(), threads: pr.threads(),
			calls: iv.calls, unexpected: iv.unexpected, cancels: iv.cancelled,
			p99Heavy: p99(iv.lat[heavy]), p99Light: p99(iv.lat[light]), version: l.cur.Load().n}
		s.backends, s.active, _ = backends(pg)
		smu.Lock()
		samples = append(samples, s)
		smu.Unlock()
		fmt.Println(s.row())
		return s
	}
	fmt.Println()
	fmt.Println(tableHeader)
	base := take("base")
	loadStart = time.Now()

	// A fast watch between samples: RSS for the slope, threads for the
	// bound (a burst between two samples counts too).
	type point struct {
		t            float64 // minutes since the load started
		rss          float64 // MB
		threads, fds int
	}
	var fast []point
	maxThreads, maxFds, maxRSS := base.threads, base.fds, base.rssKB
	var fmu sync.Mutex
	watchStop := make(chan struct{})
	watchDone := make(chan struct{})
	go func() {
		defer close(watchDone)
		tk := time.NewTicker(time.Second)
		defer tk.Stop()
		for {
			select {
			case <-watchStop:
				return
			case <-tk.C:
				rss, th, fd := pr.rssKB(), pr.threads(), pr.fds()
				fmu.Lock()
				fast = append(fast, point{time.Since(loadStart).Minutes(), float64(rss) / 1024, th, fd})
				maxThreads, maxFds, maxRSS = max(maxThreads, th), max(maxFds, fd), max(maxRSS, rss)
				fmu.Unlock()
			}
		}
	}()

	var stop atomic.Bool
	var wg sync.WaitGroup
	for i := 0; i < c.clients; i++ {
		wg.Add(1)
		go l.client(i, &stop, wg.Done)
	}
	var changes []settingsChange
	var cmu sync.Mutex
	var vwg sync.WaitGroup
	duration := time.Duration(c.minutes * float64(time.Minute))
	end := loadStart.Add(duration)
	sampleT := time.NewTicker(c.sampleEvery)
	settingsT := time.NewTicker(c.settingsEv)
	endT := time.NewTimer(duration)
loop:
	for {
		select {
		case <-sampleT.C:
			if time.Until(end) > c.sampleEvery/2 {
				take("load")
			}
		case <-settingsT.C:
			if time.Until(end) < 15*time.Second {
				continue // too late to see it take effect
			}
			prev := l.cur.Load()
			ver := newVersion(pg, prev.n+1, time.Now().UnixMilli())
			l.cur.Store(ver)
			vwg.Add(1)
			go func() {
				defer vwg.Done()
				ch := verify(l, pg, ver, prev.v.timeoutS, c.settingsEv)
				cmu.Lock()
				changes = append(changes, ch)
				cmu.Unlock()
			}()
		case <-endT.C:
			break loop
		}
	}
	sampleT.Stop()
	settingsT.Stop()
	take("load")
	stop.Store(true)
	wg.Wait() // every client finishes the call it is in
	vwg.Wait()
	idleFrom := time.Now()
	close(watchStop)
	<-watchDone

	// Idle: the plugin gives back what the load took. It keeps up to
	// maxOpenConnections idle connections in its pool (as Grafana's SQL data
	// sources do), plus the light calls' reserved one, so "baseline" is: no
	// session running anything, no more sessions than the current
	// maxOpenConnections + 1 and exactly those the
	// plugin's pool counts (nothing left from retired instances), and fds
	// other than those sessions' sockets back to what they were before.
	final := l.cur.Load()
	nonPGBase := base.fds - base.backends
	var idleOK time.Duration = -1
	var lastIdle string
	nextSample := idleFrom.Add(c.sampleEvery)
	for time.Since(idleFrom) < c.idleMax {
		fds := pr.fds()
		nb, act, err := backends(pg)
		open, inst, merr := l.poolOpen()
		lastIdle = fmt.Sprintf("fds %d (%d besides Postgres sockets, baseline %d), sessions %d (%d active), pool counts %d, instances %d",
			fds, fds-nb, nonPGBase, nb, act, open, inst)
		if err == nil && merr == nil && act == 0 && nb <= final.v.maxOpen+1 && nb == open && inst == 1 && fds-nb <= nonPGBase {
			idleOK = time.Since(idleFrom)
			break
		}
		if time.Now().After(nextSample) {
			take("idle")
			nextSample = nextSample.Add(c.sampleEvery)
		}
		time.Sleep(time.Second)
	}
	take("idle")
	alive := pr.alive()
	// Grafana stops a plugin the same way; a clean exit is also when an
	// ASan build (GPX_PLUGIN_BIN) reports leaks, on stderr.
	p.Client.Kill()
	stopped := false
	for t := time.Now(); !stopped && time.Since(t) < 3*time.Second; time.Sleep(100 * time.Millisecond) {
		for _, line := range p.Stderr.Lines() {
			stopped = stopped || strings.Contains(line, `"plugin stopped"`)
		}
	}
	time.Sleep(200 * time.Millisecond)

	// ---------------------------------------------------------- the verdict
	rec := l.rec
	var checks []check
	add := func(name string, ok bool, format string, a ...any) {
		checks = append(checks, check{name, ok, fmt.Sprintf(format, a...)})
	}

	// Warm-up: the first 20 % of the run, at least 30 s (the worker pool
	// grows to its size and glibc gives the new threads their arenas, up to
	// 8 per core, which fill during the first half minute or so).
	warm := max(c.minutes*0.2, min(0.5, c.minutes/2))
	var xs, ys []float64
	for _, pt := range fast {
		if pt.t >= warm && pt.t <= c.minutes {
			xs, ys = append(xs, pt.t), append(ys, pt.rss)
		}
	}
	sl, ls := theilSen(xs, ys), slope(xs, ys)
	perMin := float64(rec.calls) / c.minutes
	looser := ""
	if c.rssSlopeMax > 0.2 {
		looser = fmt.Sprintf(" (looser than the long run's 0.2: over the %.1f min a short run can fit, the memory of the calls in "+
			"flight moves the slope of a steady plugin by up to ±7 MB/min with glibc's default arenas, by ~2 with MALLOC_ARENA_MAX=2; "+
			"smaller leaks are for `make soak` and the go stage's LeakSanitizer)", c.minutes-warm)
	}
	if len(c.pluginEnv) > 0 {
		looser += fmt.Sprintf(" [plugin environment %s]", strings.Join(c.pluginEnv, " "))
	}
	add("rss-slope", len(xs) >= 10 && sl < c.rssSlopeMax,
		"RSS grows %.3f MB/min after warm-up (Theil-Sen over %d 1-s points from %s to %s; least squares %.3f); %.1f MB then, %.1f MB at the end of load, max %.1f; "+
			"bound %.2g MB/min%s = %.0f bytes per call at this run's %.0f calls/min",
		sl, len(xs), mmss(time.Duration(warm*float64(time.Minute))), mmss(duration), ls, first(ys), lastOf(ys), float64(maxRSS)/1024,
		c.rssSlopeMax, looser, c.rssSlopeMax*1024*1024/max(perMin, 1), perMin)
	if c.csv != "" {
		var b strings.Builder
		b.WriteString("minutes,rss_mb,threads,fds\n")
		for _, pt := range fast {
			fmt.Fprintf(&b, "%.4f,%.2f,%d,%d\n", pt.t, pt.rss, pt.threads, pt.fds)
		}
		if err := os.WriteFile(c.csv, []byte(b.String()), 0644); err != nil {
			fmt.Fprintf(os.Stderr, "soak: %v\n", err)
		}
	}

	add("fds-sessions-idle", idleOK >= 0,
		"within %v of idle: %s (took %s)", c.idleMax, lastIdle, durOrNever(idleOK))

	add("threads", maxThreads <= c.maxThreads, "at most %d threads (1-s watch and every sample); bound %d", maxThreads, c.maxThreads)

	var unexp []string
	for _, o := range rec.unexpected {
		unexp = append(unexp, fmt.Sprintf("%s %s: %s after %v: %s", o.method, o.what, o.status, o.took.Round(time.Millisecond), clip(o.detail, 200)))
	}
	add("no-unexpected-errors", rec.nUnexp == 0,
		"%d unexpected outcomes of %d calls (of them 503: %d; maxOpenConnections + maxQueuedQueries >= %d clients in every version, so none is expected)%s",
		rec.nUnexp, rec.calls, rec.n503, c.clients, listed(unexp))

	var slow []string
	for _, o := range rec.slow {
		slow = append(slow, fmt.Sprintf("%s %s: %v > %v (%s)", o.method, o.what, o.took.Round(time.Millisecond), o.bound, o.status))
	}
	add("no-call-over-timeout", rec.nSlow == 0, "%d calls slower than their queryTimeoutSeconds + 1 s; slowest heavy %v, slowest light %v%s",
		rec.nSlow, quantile(rec.lat[heavy], 1).Round(time.Millisecond), quantile(rec.lat[light], 1).Round(time.Millisecond), listed(slow))

	lp := p99(rec.lat[light])
	add("light-p99", lp >= 0 && lp <= c.lightP99, "p99 of health/metrics/resource calls %v over %d calls (bound %v); heavy p99 %v over %d calls\n    under load: %s\n    unloaded:   %s",
		lp.Round(time.Millisecond), len(rec.lat[light]), c.lightP99, p99(rec.lat[heavy]).Round(time.Millisecond), len(rec.lat[heavy]),
		rec.methodLatencies(), unloaded)

	allOK := len(changes) > 0 || duration < c.settingsEv+15*time.Second
	var chs []string
	sort.Slice(changes, func(i, j int) bool { return changes[i].ver.n < changes[j].ver.n })
	for _, ch := range changes {
		allOK = allOK && ch.ok()
		chs = append(chs, ch.String())
	}
	add("settings-picked-up", allOK, "%d settings saves, each seen in the answers and the pool%s", len(changes), listed(chs))

	var missing []string
	for _, k := range kinds {
		if rec.okKinds["query "+k] == 0 {
			missing = append(missing, "query "+k)
		}
	}
	for _, k := range []string{"resource strategies", "resource symbols", "resource accounts", "resource schema", "health check", "metrics metrics"} {
		if rec.okKinds[k] == 0 {
			missing = append(missing, k)
		}
	}
	nCancelled := 0
	for k, n := range rec.byStatus {
		if strings.HasPrefix(k, "cancelled ") {
			nCancelled += n
		}
	}
	add("coverage", len(missing) == 0 && nCancelled > 0 && rec.calls > 0,
		"%d calls, %d cancelled (%.1f %%); every query kind, resource and method answered%s",
		rec.calls, nCancelled, 100*float64(nCancelled)/float64(max(rec.calls, 1)), listed(missing))

	var bad []string
	for _, line := range p.Stderr.Lines() {
		if strings.Contains(line, `"@level":"error"`) || strings.Contains(line, "Sanitizer") || strings.Contains(line, "runtime error:") {
			bad = append(bad, clip(line, 200))
		}
	}
	add("plugin-alive-clean-log", alive && stopped && len(bad) == 0,
		"plugin alive at the end: %v; stopped cleanly when killed (\"plugin stopped\" logged): %v; %d error-level or sanitizer lines on stderr%s",
		alive, stopped, len(bad), listed(bad[:min(len(bad), 10)]))

	// ---------------------------------------------------------- the report
	fmt.Printf("\n== summary (%d samples; start = before the load, end = after %s idle)\n", len(samples), durOrNever(time.Since(idleFrom)))
	fmt.Printf("%-22s %10s %10s %10s\n", "series", "start", "end", "max")
	series := func(name string, f func(s sample) float64, extraMax float64) {
		mx := extraMax
		for _, s := range samples {
			mx = maxf(mx, f(s))
		}
		fmt.Printf("%-22s %10.1f %10.1f %10.1f\n", name, f(samples[0]), f(samples[len(samples)-1]), mx)
	}
	series("RSS MB", func(s sample) float64 { return float64(s.rssKB) / 1024 }, float64(maxRSS)/1024)
	series("fds", func(s sample) float64 { return float64(s.fds) }, float64(maxFds))
	series("threads", func(s sample) float64 { return float64(s.threads) }, float64(maxThreads))
	series("Postgres sessions", func(s sample) float64 { return float64(s.backends) }, 0)
	series("calls / sample", func(s sample) float64 { return float64(s.calls) }, 0)
	series("errors / sample", func(s sample) float64 { return float64(s.unexpected) }, 0)
	series("cancelled / sample", func(s sample) float64 { return float64(s.cancels) }, 0)
	series("p99 heavy ms", func(s sample) float64 { return float64(max(s.p99Heavy, 0).Milliseconds()) }, 0)
	series("p99 light ms", func(s sample) float64 { return float64(max(s.p99Light, 0).Milliseconds()) }, 0)
	fmt.Printf("(max of RSS, fds and threads includes the 1-s watch)\n")
	fmt.Printf("\n== outcomes (%d calls)\n", rec.calls)
	keys := make([]string, 0, len(rec.byStatus))
	for k := range rec.byStatus {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		fmt.Printf("  %-40s %8d\n", k, rec.byStatus[k])
	}
	fmt.Printf("latency (answered, not cancelled): %s\n", rec.methodLatencies())

	fmt.Printf("\n== criteria\n")
	passed, failed := 0, 0
	for _, ch := range checks {
		word := "PASS"
		if ch.ok {
			passed++
		} else {
			word = "FAIL"
			failed++
		}
		fmt.Printf("%s %s: %s\n", word, ch.name, ch.msg)
	}
	fmt.Printf("soak: %d passed, %d failed\n", passed, failed)
	pg.Close()
	if failed > 0 {
		os.Exit(1)
	}
}

func first(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	return v[0]
}

func lastOf(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	return v[len(v)-1]
}

func maxf(a, b float64) float64 {
	if a > b {
		return a
	}
	return b
}

func durOrNever(d time.Duration) string {
	if d < 0 {
		return "never"
	}
	return fmt.Sprintf("%.1f s", d.Seconds())
}

func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

func listed(items []string) string {
	if len(items) == 0 {
		return ""
	}
	return "\n    " + strings.Join(items, "\n    ")
}
