// Package benchkit is what the benchmark programs under tests/cmd
// (pgbench, partbench, bouncerbench) share: their environment knobs, a
// fatal-error exit, medians, and building and timing one QueryData through
// the plugin. It holds no benchmark of its own.
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
