// Package benchkit is what the benchmark programs under tests/cmd
// (pgbench, partbench, bouncerbench, parbench, cachebench) share: their
// environment knobs, a fatal-error exit, medians, building and timing one
// QueryData through the plugin, and the bundled dashboard's panel queries.
// It holds no benchmark of its own.
package benchkit

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/backend"
	"github.com/grafana/grafana-plugin-sdk-go/genproto/pluginv2"

	"github.com/algotrading/pnl-datasource/tests/harness"
)

// Die prints "<program>: <message>" to stderr and exits 1 (deferred
// cleanups do not run: the fixtures' watchdogs stop Postgres and pgbouncer).
func Die(format string, a ...any) {
	fmt.Fprintf(os.Stderr, filepath.Base(os.Args[0])+": "+format+"\n", a...)
	os.Exit(1)
}

// Trades is BENCH_TRADES, the number of generated trades, or def when unset;
// a value that is not an integer is fatal.
func Trades(def int) int {
	s := os.Getenv("BENCH_TRADES")
	if s == "" {
		return def
	}
	v, err := strconv.Atoi(s)
	if err != nil {
		Die("BENCH_TRADES %q: %v", s, err)
	}
	return v
}

// Runs is BENCH_RUNS, the timed runs per case after one warm-up, or def
// when unset or not a positive integer.
func Runs(def int) int {
	if v, err := strconv.Atoi(os.Getenv("BENCH_RUNS")); err == nil && v > 0 {
		return v
	}
	return def
}

// Median of d (d is not modified): the middle value, or the mean of the
// two middle values when len(d) is even.
func Median(d []time.Duration) time.Duration {
	s := append([]time.Duration(nil), d...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	if len(s)%2 == 0 {
		return (s[len(s)/2-1] + s[len(s)/2]) / 2
	}
	return s[len(s)/2]
}

// Ms is d in milliseconds.
func Ms(d time.Duration) float64 { return float64(d) / 1e6 }

// Query is refId "A" of kind qtype (plus the extra JSON fields) over
// [from, to], with maxPoints points and the interval that gives.
func Query(qtype string, extra map[string]any, from, to time.Time, maxPoints int64) *pluginv2.DataQuery {
	body := map[string]any{"refId": "A", "queryType": qtype}
	for k, v := range extra {
		body[k] = v
	}
	js, _ := json.Marshal(body)
	return &pluginv2.DataQuery{RefId: "A", Json: js, MaxDataPoints: maxPoints, IntervalMS: to.Sub(from).Milliseconds() / maxPoints,
		TimeRange: &pluginv2.TimeRange{FromEpochMS: from.UnixMilli(), ToEpochMS: to.UnixMilli()}}
}

// TimeQuery sends q (refId "A") once to p as the data source pctx, within
// timeout, and returns the call's wall time. The error is the call's, the
// SDK decoder's, or the one refId "A" answered with.
func TimeQuery(p *harness.Plugin, pctx *pluginv2.PluginContext, q *pluginv2.DataQuery, timeout time.Duration) (time.Duration, error) {
	c, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	s := time.Now()
	res, err := p.Data.QueryData(c, &pluginv2.QueryDataRequest{PluginContext: pctx, Queries: []*pluginv2.DataQuery{q}})
	if err != nil {
		return 0, err
	}
	d := time.Since(s)
	r, err := backend.FromProto().QueryDataResponse(res)
	if err != nil {
		return 0, err
	}
	if e := r.Responses["A"].Error; e != nil {
		return 0, e
	}
	return d, nil
}

// panel is what DashboardQueries reads of a dashboard panel (rows nest panels).
type panel struct {
	Type    string            `json:"type"`
	Title   string            `json:"title"`
	Panels  []panel           `json:"panels"`
	Targets []json.RawMessage `json:"targets"`
}

// DashboardQueries reads every panel target of the dashboard that Grafana
// sends to the data source, its template variables replaced by their
// defaults (All → an empty list, group_by none), each with its own refId
// (P1, P2, … in panel order). A target on Grafana's Dashboard data source
// ("-- Dashboard --": the stat panels reusing one stats query) sends
// nothing: Grafana hands it the other panel's answer.
func DashboardQueries(file string) ([]string, []map[string]any) {
	b, err := os.ReadFile(file)
	if err != nil {
		Die("%v", err)
	}
	var d struct {
		Panels []panel `json:"panels"`
	}
	if err := json.Unmarshal(b, &d); err != nil {
		Die("%s: %v", file, err)
	}
	// the variables at the dashboard's defaults, as Grafana sends them: a
	// multi-value variable at All becomes an empty list (= all)
	vars := map[string]any{"$strategy": nil, "$symbol": nil, "$account": nil, "$group_by": "none",
		"$large_loss": "200", "${datasource}": "bench"}
	var subst func(v any) any
	subst = func(v any) any {
		switch x := v.(type) {
		case string:
			if r, ok := vars[x]; ok {
				return r
			}
		case []any:
			out := []any{}
			for _, e := range x {
				if r := subst(e); r != nil {
					out = append(out, r)
				}
			}
			return out
		case map[string]any:
			for k, e := range x {
				x[k] = subst(e)
			}
		}
		return v
	}
	var titles []string
	var qs []map[string]any
	var walk func([]panel)
	walk = func(ps []panel) {
		for _, p := range ps {
			walk(p.Panels)
			for _, t := range p.Targets {
				var q map[string]any
				if err := json.Unmarshal(t, &q); err != nil {
					Die("%s: panel %q: %v", file, p.Title, err)
				}
				if ds, _ := q["datasource"].(map[string]any); ds != nil && ds["uid"] == "-- Dashboard --" {
					continue
				}
				subst(q)
				q["refId"] = fmt.Sprintf("P%d", len(qs)+1)
				titles = append(titles, p.Title)
				qs = append(qs, q)
			}
		}
	}
	walk(d.Panels)
	return titles, qs
}
