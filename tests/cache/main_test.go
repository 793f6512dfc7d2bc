package cache

// The fold cache of issue 14 checked from outside: a per-instance cache of
// the trades already read, verified by a fingerprint before each reuse.
// What must hold whatever the cache does inside: every answer a query gets
// through the cache is byte for byte (Arrow IPC, meta.executedQueryString
// aside) the answer the same query gets cold ("cache": false) and from a
// fresh instance — after inserts (new and old), P&L and closed_at updates,
// deletes, truncation, a settings save and a time-zone change
// (equal_test.go). metrics_test.go shows that the cache really serves
// (gpx_cache_* counters), that its bypasses bypass it, and that it stays
// within cacheMegabytes.
//
// This file: the Postgres fixture, queries, answers and their comparison.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/data"
	"github.com/grafana/grafana-plugin-sdk-go/genproto/pluginv2"

	"github.com/algotrading/pnl-datasource/tests/harness"
	"github.com/algotrading/pnl-datasource/tests/pgfix"
)

var pg *pgfix.Server

// The demo trades of database "trading": 60 days from dataStart.
var dataStart = time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)

const dataDays = 60

func TestMain(m *testing.M) {
	pgfix.Main(m, func(s *pgfix.Server) error {
		pg = s
		return reload(3000, 11)
	}, nil)
}

// reload replaces the trades of "trading" by n demo trades (seeded) over
// dataDays, then gives some trades the closed_at (and opened_at) of the
// trade before them, so ties on closed_at are common.
func reload(n, seed int) error {
	if err := pg.LoadDemo(harness.RepoRoot(), n, dataDays, seed, dataStart.Format("2006-01-02")); err != nil {
		return err
	}
	_, err := pg.Psql("trading", "UPDATE trades SET closed_at = p.closed_at, opened_at = p.opened_at FROM trades p "+
		"WHERE p.trade_id = trades.trade_id - 1 AND (trades.trade_id % 29 = 0 OR trades.trade_id % 31 = 0)")
	return err
}

// exec runs sql on "trading" as the superuser and returns psql's output.
func exec(t *testing.T, sql string) string {
	t.Helper()
	out, err := pg.Psql("trading", sql)
	if err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	return out
}

// ---- queries and answers ----

// spec is one query of a step: a name for messages and its JSON (refId,
// range and protobuf fields are added by dataQuery).
type spec struct {
	name string
	js   map[string]any
}

func dataQuery(refID string, s spec, from, to time.Time, extra map[string]any) *pluginv2.DataQuery {
	m := map[string]any{"refId": refID, "intervalMs": 60000, "maxDataPoints": 500}
	for k, v := range s.js {
		m[k] = v
	}
	for k, v := range extra {
		m[k] = v
	}
	js, _ := json.Marshal(m)
	return &pluginv2.DataQuery{RefId: refID, MaxDataPoints: 500, IntervalMS: 60000, Json: js,
		TimeRange: &pluginv2.TimeRange{FromEpochMS: from.UnixMilli(), ToEpochMS: to.UnixMilli()}}
}

func refID(i int) string { return fmt.Sprintf("Q%02d", i) }

// request sends one QueryData call holding every spec (refIds Q00, Q01, …)
// with extra merged into each query's JSON and the given headers; it returns
// each spec's frames, or an error naming the first query that failed.
func request(p *harness.Plugin, pc *pluginv2.PluginContext, specs []spec, from, to time.Time,
	extra map[string]any, headers map[string]string) ([][][]byte, error) {
	qs := make([]*pluginv2.DataQuery, len(specs))
	for i, s := range specs {
		qs[i] = dataQuery(refID(i), s, from, to, extra)
	}
	c, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	res, err := p.Data.QueryData(c, &pluginv2.QueryDataRequest{PluginContext: pc, Queries: qs, Headers: headers})
	if err != nil {
		return nil, fmt.Errorf("QueryData: %v", err)
	}
	out := make([][][]byte, len(specs))
	for i, s := range specs {
		r := res.Responses[refID(i)]
		if r == nil {
			return nil, fmt.Errorf("%s (%s): no response", s.name, qs[i].Json)
		}
		if r.Error != "" || (r.Status != 0 && r.Status != 200) {
			return nil, fmt.Errorf("%s (%s): status %d, error %q", s.name, qs[i].Json, r.Status, r.Error)
		}
		out[i] = r.Frames
	}
	return out, nil
}

// ---- comparison ----

// canon decodes an answer's frames with the SDK, clears
// meta.executedQueryString (it shows the statements that ran, which is
// allowed to differ) and marshals them again.
func canon(frames [][]byte) ([][]byte, []*data.Frame, error) {
	var out [][]byte
	var fs []*data.Frame
	for i, b := range frames {
		f, err := data.UnmarshalArrowFrame(b)
		if err != nil {
			return nil, nil, fmt.Errorf("frame %d: the SDK cannot decode it: %v", i, err)
		}
		if f.Meta != nil {
			f.Meta.ExecutedQueryString = ""
		}
		c, err := f.MarshalArrow()
		if err != nil {
			return nil, nil, fmt.Errorf("frame %d: MarshalArrow: %v", i, err)
		}
		out = append(out, c)
		fs = append(fs, f)
	}
	return out, fs, nil
}

// differ returns "" when got and want (raw answers) are the same once
// canonical, else what differs first: a frame's name, meta, a field's
// name, type, labels or config, or a value (frame, field, row, both values).
func differ(got, want [][]byte) string {
	gb, gf, err := canon(got)
	if err != nil {
		return err.Error()
	}
	wb, wf, err := canon(want)
	if err != nil {
		return "the reference answer: " + err.Error()
	}
	if len(gb) != len(wb) {
		return fmt.Sprintf("%d frames, want %d (frames: %s; want %s)", len(gb), len(wb), frameNames(gf), frameNames(wf))
	}
	for i := range gb {
		if bytes.Equal(gb[i], wb[i]) {
			continue
		}
		if d := frameDiff(gf[i], wf[i]); d != "" {
			return fmt.Sprintf("frame %d (%q): %s", i, wf[i].Name, d)
		}
		return fmt.Sprintf("frame %d (%q): the Arrow bytes differ (%d vs %d bytes) though every field, label and value "+
			"compares equal (NaN payload or Arrow metadata?)", i, wf[i].Name, len(gb[i]), len(wb[i]))
	}
	return ""
}

func frameNames(fs []*data.Frame) string {
	var n []string
	for _, f := range fs {
		n = append(n, fmt.Sprintf("%q/%d rows", f.Name, rowsOf(f)))
	}
	return strings.Join(n, ", ")
}

func rowsOf(f *data.Frame) int {
	if len(f.Fields) == 0 {
		return 0
	}
	return f.Fields[0].Len()
}

func frameDiff(g, w *data.Frame) string {
	if g.Name != w.Name {
		return fmt.Sprintf("name %q, want %q", g.Name, w.Name)
	}
	gm, _ := json.Marshal(g.Meta)
	wm, _ := json.Marshal(w.Meta)
	if !bytes.Equal(gm, wm) {
		return fmt.Sprintf("meta %s, want %s", gm, wm)
	}
	if len(g.Fields) != len(w.Fields) {
		return fmt.Sprintf("%d fields, want %d", len(g.Fields), len(w.Fields))
	}
	for j := range w.Fields {
		gfl, wfl := g.Fields[j], w.Fields[j]
		what := fmt.Sprintf("field %d %q", j, wfl.Name)
		switch {
		case gfl.Name != wfl.Name:
			return fmt.Sprintf("%s: name %q", what, gfl.Name)
		case gfl.Type() != wfl.Type():
			return fmt.Sprintf("%s: type %s, want %s", what, gfl.Type(), wfl.Type())
		case gfl.Labels.String() != wfl.Labels.String():
			return fmt.Sprintf("%s: labels %s, want %s", what, gfl.Labels, wfl.Labels)
		}
		gc, _ := json.Marshal(gfl.Config)
		wc, _ := json.Marshal(wfl.Config)
		if !bytes.Equal(gc, wc) {
			return fmt.Sprintf("%s: config %s, want %s", what, gc, wc)
		}
		if gfl.Len() != wfl.Len() {
			return fmt.Sprintf("%s: %d rows, want %d", what, gfl.Len(), wfl.Len())
		}
		for r := 0; r < wfl.Len(); r++ {
			gv, wv := value(gfl.At(r)), value(wfl.At(r))
			if gv != wv {
				return fmt.Sprintf("%s row %d: %s, want %s", what, r, gv, wv)
			}
		}
	}
	return ""
}

// value prints a field value exactly (floats in full, -0 and NaN visible,
// pointers dereferenced, nil as null).
func value(v any) string {
	rv := reflect.ValueOf(v)
	if rv.Kind() == reflect.Pointer {
		if rv.IsNil() {
			return "null"
		}
		v = rv.Elem().Interface()
	}
	switch x := v.(type) {
	case float64:
		return strconv.FormatFloat(x, 'g', -1, 64) + fmt.Sprintf(" (bits %016x)", math.Float64bits(x))
	case float32:
		return strconv.FormatFloat(float64(x), 'g', -1, 32)
	case time.Time:
		return x.UTC().Format(time.RFC3339Nano)
	}
	return fmt.Sprintf("%v", v)
}

// ---- metrics ----

var metricLine = regexp.MustCompile(`^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})?\s+(\S+)`)

// metrics reads CollectMetrics: each metric's samples summed over its
// labels, and each labelled sample under its name with the labels too.
func metrics(t *testing.T, p *harness.Plugin) map[string]float64 {
	t.Helper()
	c, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	res, err := p.Diagnostics.CollectMetrics(c, &pluginv2.CollectMetricsRequest{
		PluginContext: &pluginv2.PluginContext{PluginId: "algotrading-pnl-datasource"}})
	if err != nil {
		t.Fatalf("CollectMetrics: %v", err)
	}
	out := map[string]float64{}
	for _, l := range strings.Split(string(res.Metrics.Prometheus), "\n") {
		m := metricLine.FindStringSubmatch(l)
		if m == nil || strings.HasPrefix(l, "#") {
			continue
		}
		v, err := strconv.ParseFloat(m[3], 64)
		if err != nil {
			t.Fatalf("CollectMetrics: bad sample %q", l)
		}
		out[m[1]] += v
		if m[2] != "" {
			out[m[1]+m[2]] = v
		}
	}
	return out
}

// cacheMetrics are what TestCacheIsUsed and TestCacheBound read.
var cacheMetrics = []string{"gpx_cache_hits_total", "gpx_cache_misses_total", "gpx_cache_verify_failed_total",
	"gpx_cache_evictions_total", "gpx_cache_bytes"}

// cacheCounters reads the gpx_cache_* metrics; one missing fails t (a
// binary without the fold cache of branch cache-core has none).
func cacheCounters(t *testing.T, p *harness.Plugin) map[string]float64 {
	t.Helper()
	all := metrics(t, p)
	out := map[string]float64{}
	for _, n := range cacheMetrics {
		v, ok := all[n]
		if !ok {
			t.Fatalf("CollectMetrics has no %s: this plugin binary has no fold cache (issue 14, branch cache-core)", n)
		}
		out[n] = v
	}
	return out
}

// ctxFor is the plugin context of data source uid with jsonData js.
func ctxFor(uid string, js map[string]any, updated int64) *pluginv2.PluginContext {
	return harness.PluginContext(uid, js, pgfix.Secure(), updated)
}
