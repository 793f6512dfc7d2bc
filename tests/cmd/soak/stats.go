package main

// What the soak measures: every call's outcome (recorder), the plugin
// process as /proc sees it and Postgres' view of the plugin's sessions
// (probe), and the arithmetic over them (percentiles, the RSS slope).

import (
	"fmt"
	"math"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/algotrading/pnl-datasource/tests/harness"
	"github.com/algotrading/pnl-datasource/tests/pgfix"
)

// class: heavy calls run analytics (QueryData); light ones are what a
// person or Grafana itself waits on between them (health, metrics,
// resources) and must stay fast while the heavy ones run.
type class int

const (
	heavy class = iota
	light
)

// outcome is one finished call.
type outcome struct {
	method    string // query, resource, health, metrics
	what      string // query kind or resource path
	class     class
	status    string        // "200", "499", "grpc Canceled", "OK", "decode error", …
	cancelled bool          // the client cancelled it on purpose
	expected  bool          // a status this call may end with
	took      time.Duration // until the whole answer was read
	bound     time.Duration // the slowest it may be: its query timeout + 1 s
	detail    string        // the error text of an unexpected outcome
}

type interval struct {
	calls, unexpected, cancelled int
	lat                          [2][]time.Duration
}

// recorder collects outcomes from every client; safe for concurrent use.
type recorder struct {
	mu         sync.Mutex
	iv         interval
	calls      int
	byStatus   map[string]int // "query 200", "cancelled resource grpc Canceled", …
	lat        [2][]time.Duration
	unexpected []outcome // the first few, for the report
	nUnexp     int
	n503       int
	slow       []outcome // slower than their bound
	nSlow      int
	okKinds    map[string]int // successful answers per query kind / resource / method
	byMethod   map[string][]time.Duration
	typical    [2]float64 // running mean latency per class (s), times cancellations
}

func newRecorder() *recorder {
	return &recorder{byStatus: map[string]int{}, okKinds: map[string]int{}, byMethod: map[string][]time.Duration{}, typical: [2]float64{0.3, 0.02}}
}

func (r *recorder) add(o outcome) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls++
	r.iv.calls++
	key := o.method + " " + o.status
	if o.cancelled {
		key = "cancelled " + key
		r.iv.cancelled++
	}
	r.byStatus[key]++
	if !o.expected {
		r.nUnexp++
		r.iv.unexpected++
		if strings.HasPrefix(o.status, "503") {
			r.n503++
		}
		if len(r.unexpected) < 20 {
			r.unexpected = append(r.unexpected, o)
		}
	}
	if o.took > o.bound {
		r.nSlow++
		if len(r.slow) < 20 {
			r.slow = append(r.slow, o)
		}
	}
	if o.expected && !o.cancelled {
		r.okKinds[o.method+" "+o.what]++
		r.lat[o.class] = append(r.lat[o.class], o.took)
		r.byMethod[o.method] = append(r.byMethod[o.method], o.took)
		r.iv.lat[o.class] = append(r.iv.lat[o.class], o.took)
		r.typical[o.class] = 0.95*r.typical[o.class] + 0.05*o.took.Seconds()
	}
}

// takeInterval returns what happened since the last call and starts anew.
func (r *recorder) takeInterval() interval {
	r.mu.Lock()
	defer r.mu.Unlock()
	iv := r.iv
	r.iv = interval{}
	return iv
}

// typicalLatency of a class so far: a cancelled call is cancelled at a
// random moment within twice this, so cancellations land before, during
// and after the plugin's work.
func (r *recorder) typicalLatency(c class) time.Duration {
	r.mu.Lock()
	defer r.mu.Unlock()
	return time.Duration(r.typical[c] * float64(time.Second))
}

// methodLatencies: p50/p99/max per method, one line.
func (r *recorder) methodLatencies() string {
	var b strings.Builder
	for _, m := range []string{"query", "resource", "health", "metrics"} {
		d := r.byMethod[m]
		fmt.Fprintf(&b, "%s%s p50 %v p99 %v max %v (%d)", map[bool]string{true: "", false: "; "}[b.Len() == 0], m,
			quantile(d, 0.5).Round(time.Millisecond), p99(d).Round(time.Millisecond), quantile(d, 1).Round(time.Millisecond), len(d))
	}
	return b.String()
}

// p99 of d, or -1 when d is empty.
func p99(d []time.Duration) time.Duration { return quantile(d, 0.99) }

func quantile(d []time.Duration, q float64) time.Duration {
	if len(d) == 0 {
		return -1
	}
	s := append([]time.Duration(nil), d...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	i := int(math.Ceil(q*float64(len(s)))) - 1
	return s[max(i, 0)]
}

// slope fits y = a + b·x by least squares and returns b.
func slope(x, y []float64) float64 {
	n := float64(len(x))
	if n < 2 {
		return 0
	}
	var sx, sy, sxx, sxy float64
	for i := range x {
		sx += x[i]
		sy += y[i]
		sxx += x[i] * x[i]
		sxy += x[i] * y[i]
	}
	den := n*sxx - sx*sx
	if den == 0 {
		return 0
	}
	return (n*sxy - sx*sy) / den
}

// theilSen is the median of the slopes between every two points (every
// k-th point when there are more than 2,000): a line fit that a few
// outliers cannot tilt. RSS under load jumps by several MB with the
// queries in flight at the moment it is read; least squares over a
// window of minutes follows such a jump at either end, the median of the
// pairwise slopes does not.
func theilSen(x, y []float64) float64 {
	k := len(x)/2000 + 1
	var s []float64
	for i := 0; i < len(x); i += k {
		for j := i + k; j < len(x); j += k {
			if dx := x[j] - x[i]; dx > 0 {
				s = append(s, (y[j]-y[i])/dx)
			}
		}
	}
	if len(s) == 0 {
		return 0
	}
	sort.Float64s(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// proc reads the plugin process: RSS (kB), open fds, threads.
type proc struct{ pid int }

func (p proc) rssKB() int64 {
	v, _ := strconv.ParseInt(strings.TrimSuffix(harness.ReadStatus(p.pid, "VmRSS"), " kB"), 10, 64)
	return v
}

func (p proc) fds() int {
	e, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", p.pid))
	if err != nil {
		return -1
	}
	return len(e)
}

func (p proc) threads() int {
	v, err := strconv.Atoi(harness.ReadStatus(p.pid, "Threads"))
	if err != nil {
		return -1
	}
	return v
}

func (p proc) alive() bool { return harness.ReadStatus(p.pid, "State") != "" }

// backends counts the plugin's Postgres sessions (role grafana) and how
// many of them are running a statement. Only client backends: the
// parallel workers of a query show up in pg_stat_activity under the same
// role while it runs (Postgres plans them on a 1M-trade table), and they
// are Postgres' processes, not the plugin's connections.
func backends(pg *pgfix.Server) (all, active int, err error) {
	out, err := pg.Psql("postgres", "SELECT count(*), count(*) FILTER (WHERE state <> 'idle') FROM pg_stat_activity "+
		"WHERE usename = 'grafana' AND backend_type = 'client backend'")
	if err != nil {
		return -1, -1, err
	}
	f := strings.Fields(out)
	if len(f) != 2 {
		return -1, -1, fmt.Errorf("pg_stat_activity: %q", out)
	}
	all, _ = strconv.Atoi(f[0])
	active, _ = strconv.Atoi(f[1])
	return all, active, nil
}

// sample is one row of the table.
type sample struct {
	at                         time.Duration // since the load started (negative: before)
	phase                      string
	rssKB                      int64
	fds, threads               int
	backends, active           int
	calls, unexpected, cancels int
	p99Heavy, p99Light         time.Duration
	version                    int
}

func ms(d time.Duration) string {
	if d < 0 {
		return "-"
	}
	return strconv.FormatInt(d.Milliseconds(), 10)
}

func mmss(d time.Duration) string {
	sign := ""
	if d < 0 {
		sign, d = "-", -d
	}
	s := int(d.Round(time.Second).Seconds())
	return fmt.Sprintf("%s%d:%02d", sign, s/60, s%60)
}

const tableHeader = "  time  phase   RSS MB  fds  threads  backends(active)  calls  errors  cancelled  p99 heavy ms  p99 light ms  settings"

func (s sample) row() string {
	return fmt.Sprintf("%6s  %-5s  %7.1f  %3d  %7d  %16s  %5d  %6d  %9d  %12s  %12s  v%d",
		mmss(s.at), s.phase, float64(s.rssKB)/1024, s.fds, s.threads, fmt.Sprintf("%d (%d)", s.backends, s.active),
		s.calls, s.unexpected, s.cancels, ms(s.p99Heavy), ms(s.p99Light), s.version)
}
