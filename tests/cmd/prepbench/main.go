// prepbench (bench/run.sh prepared): the `trades` kind with the named
// prepared statements of issue 14 item 4 on and off (GPX_PG_PREPARED=0, the
// same binary), and the build at BENCH_COMPARE_BIN if set, interleaved run
// by run on one Postgres with BENCH_TRADES trades (default 1,000,000), next
// to psql running `SELECT * … ORDER BY closed_at DESC LIMIT 1000` (\timing),
// also interleaved: one statement per round in one psql session.
// Per variant: the median QueryData wall time, the median time the plugin
// spent in its statement (sqlSeconds of its debug log: send, server,
// receive), and the CPU time per query of its Postgres backend and of the
// plugin process (schedstat, nanoseconds: unlike wall times these hold on a
// machine busy with other work), so what the prepared statement saves is
// told apart from the rest of the call (gRPC, frame, Arrow).
package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/genproto/pluginv2"

	"github.com/algotrading/pnl-datasource/tests/benchkit"
	"github.com/algotrading/pnl-datasource/tests/harness"
	"github.com/algotrading/pnl-datasource/tests/pgfix"
)

type variant struct {
	name    string
	user    string // its own database role, to find its backend
	p       *harness.Plugin
	wall    []time.Duration
	lines   int // debug lines already read
	sql     []time.Duration
	backend int
	cpuPG   time.Duration // backend CPU over the timed runs
	cpuPl   time.Duration // plugin CPU over the timed runs
}

// cpu is the CPU time a task has used so far (/proc/<pid>/schedstat); with
// all = true, every thread of process pid.
func cpu(pid int, all bool) time.Duration {
	files := []string{fmt.Sprintf("/proc/%d/schedstat", pid)}
	if all {
		files, _ = filepath.Glob(fmt.Sprintf("/proc/%d/task/*/schedstat", pid))
	}
	var ns int64
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		if v, err := strconv.ParseInt(strings.Fields(string(b))[0], 10, 64); err == nil {
			ns += v
		}
	}
	return time.Duration(ns)
}

var sqlRe = regexp.MustCompile(`"queryType":"trades".*"sqlSeconds":([0-9.e-]+)|"sqlSeconds":([0-9.e-]+).*"queryType":"trades"`)

// newSQL appends the sqlSeconds of the debug lines logged since the last call.
func (v *variant) newSQL(keep bool) {
	lines := v.p.Stderr.Lines()
	for _, l := range lines[v.lines:] {
		if m := sqlRe.FindStringSubmatch(l); m != nil && keep {
			s := m[1] + m[2]
			f, _ := strconv.ParseFloat(s, 64)
			v.sql = append(v.sql, time.Duration(f*1e9))
		}
	}
	v.lines = len(lines)
}

func main() {
	n, runs := benchkit.Trades(1000000), benchkit.Runs(101)
	pg, err := pgfix.StartMain()
	if err != nil {
		benchkit.Die("%v", err)
	}
	defer pg.Close()
	start := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	days := 730
	t0 := time.Now()
	if err := pg.LoadDemo(harness.RepoRoot(), n, days, 1, "2024-01-01"); err != nil {
		benchkit.Die("%v", err)
	}
	fmt.Printf("%d trades over %d days generated in %.1f s; %d runs per variant after one warm-up\n", n, days,
		time.Since(t0).Seconds(), runs)
	from, to := start, start.AddDate(0, 0, days)
	nv := 0
	launch := func(name string, o harness.Options) *variant {
		o.Env = append(o.Env, "GF_PLUGIN_LOG_LEVEL=debug")
		p, err := harness.LaunchE(o)
		if err != nil {
			benchkit.Die("%s: %v", name, err)
		}
		nv++
		user := fmt.Sprintf("prepbench_%d", nv)
		if out, err := pg.Psql("postgres", "CREATE ROLE "+user+" LOGIN PASSWORD '"+pgfix.Password+"'; GRANT grafana TO "+user); err != nil {
			benchkit.Die("%s: %v %s", user, err, out)
		}
		return &variant{name: name, user: user, p: p}
	}
	vs := []*variant{launch("prepared (this build)", harness.Options{}),
		launch("unnamed (this build, GPX_PG_PREPARED=0)", harness.Options{Env: []string{"GPX_PG_PREPARED=0"}})}
	if bin := os.Getenv("BENCH_COMPARE_BIN"); bin != "" {
		vs = append(vs, launch("compared build ("+bin+")", harness.Options{Binary: bin}))
	}
	defer func() {
		for _, v := range vs {
			v.p.Client.Kill()
		}
	}()
	q := benchkit.Query("trades", nil, from, to, 1000)
	pctx := func(v *variant) *pluginv2.PluginContext {
		return harness.PluginContext("bench", pg.JSONData(map[string]any{"queryTimeoutSeconds": 600, "user": v.user,
			"maxOpenConnections": 1}), pgfix.Secure(), 1)
	}
	tf := fmt.Sprintf("closed_at > '%s' AND closed_at <= '%s'", from.Format(time.RFC3339), to.Format(time.RFC3339))
	ps := startPsql(pg, fmt.Sprintf("SELECT * FROM trades WHERE %s ORDER BY closed_at DESC LIMIT 1000", tf))
	defer ps.close()
	var psqlRuns []time.Duration
	var psqlCPU time.Duration
	for i := 0; i < runs+1; i++ {
		if i == 1 {
			psqlCPU = -cpu(ps.pid, false) // after the warm-up: each variant's one backend, and the CPU so far
			for _, v := range vs {
				out, err := pg.Psql("postgres", "SELECT pid FROM pg_stat_activity WHERE usename = '"+v.user+"'")
				if v.backend, err = strconv.Atoi(strings.TrimSpace(out)); err != nil {
					benchkit.Die("%s: backend %q %v", v.name, out, err)
				}
				v.cpuPG, v.cpuPl = -cpu(v.backend, false), -cpu(v.p.Pid, true)
			}
		}
		for _, v := range vs {
			d, err := benchkit.TimeQuery(v.p, pctx(v), q, time.Minute)
			if err != nil {
				benchkit.Die("%s: %v", v.name, err)
			}
			if i > 0 {
				v.wall = append(v.wall, d)
			}
		}
		if d := ps.run(); i > 0 {
			psqlRuns = append(psqlRuns, d)
		}
		time.Sleep(5 * time.Millisecond) // the debug lines reach Stderr asynchronously
		for _, v := range vs {
			v.newSQL(i > 0)
		}
	}
	psqlCPU += cpu(ps.pid, false)
	for _, v := range vs {
		v.cpuPG += cpu(v.backend, false)
		v.cpuPl += cpu(v.p.Pid, true)
	}
	psql := benchkit.Median(psqlRuns)
	fmt.Printf("\n| variant | QueryData median (ms) | / psql | its statement, median (ms) | backend CPU / query (ms) | plugin CPU / query (ms) |\n|---|---:|---:|---:|---:|---:|\n")
	for _, v := range vs {
		sq := "—"
		if len(v.sql) > 0 {
			sq = fmt.Sprintf("%.2f", benchkit.Ms(benchkit.Median(v.sql)))
		}
		w := benchkit.Median(v.wall)
		fmt.Printf("| %s | %.2f | %.2f | %s | %.3f | %.3f |\n", v.name, benchkit.Ms(w), float64(w)/float64(psql), sq,
			benchkit.Ms(v.cpuPG)/float64(runs), benchkit.Ms(v.cpuPl)/float64(runs))
	}
	fmt.Printf("| psql `SELECT * … LIMIT 1000` (\\timing) | %.2f | 1.00 | %.2f | %.3f | — |\n", benchkit.Ms(psql),
		benchkit.Ms(psql), benchkit.Ms(psqlCPU)/float64(runs))
}

// psqlSession is one psql process (\timing on, rows to /dev/null) that
// runs the baseline statement one at a time, so its runs interleave with
// the plugins'.
type psqlSession struct {
	cmd  *exec.Cmd
	in   io.WriteCloser
	rd   *bufio.Scanner
	sql  string
	pid  int
	cpu0 time.Duration
}

func (p *psqlSession) line() string {
	if !p.rd.Scan() {
		benchkit.Die("psql ended early")
	}
	return p.rd.Text()
}

func startPsql(pg *pgfix.Server, sql string) *psqlSession {
	cmd := exec.Command("psql", "-X", "-q", "-A", "-t", "-h", pg.SockDir, "-p", strconv.Itoa(pg.Port), "-U", "postgres",
		"-d", "trading")
	in, _ := cmd.StdinPipe()
	outp, _ := cmd.StdoutPipe()
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		benchkit.Die("psql: %v", err)
	}
	p := &psqlSession{cmd: cmd, in: in, rd: bufio.NewScanner(outp), sql: sql}
	p.rd.Buffer(make([]byte, 1<<20), 1<<20)
	fmt.Fprintf(in, "SELECT pg_backend_pid();\n\\o /dev/null\n\\timing on\n")
	var err error
	if p.pid, err = strconv.Atoi(strings.TrimSpace(p.line())); err != nil {
		benchkit.Die("psql: backend pid: %v", err)
	}
	return p
}

var timeRe = regexp.MustCompile(`^Time: ([0-9.]+) ms`)

// run runs the statement once and returns psql's \timing of it.
func (p *psqlSession) run() time.Duration {
	fmt.Fprintf(p.in, "%s;\n", p.sql)
	m := timeRe.FindStringSubmatch(p.line())
	if m == nil {
		benchkit.Die("psql: no timing")
	}
	f, _ := strconv.ParseFloat(m[1], 64)
	return time.Duration(f * 1e6)
}

func (p *psqlSession) close() {
	p.in.Close()
	p.cmd.Wait()
}
