// Package analytics checks every query type end to end: a real Postgres with
// generated trades, the plugin launched as Grafana launches it, frames
// decoded with the SDK, values compared with reference_test.go.
package analytics

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/backend"
	"github.com/grafana/grafana-plugin-sdk-go/data"
	"github.com/grafana/grafana-plugin-sdk-go/genproto/pluginv2"

	"github.com/algotrading/pnl-datasource/tests/harness"
	"github.com/algotrading/pnl-datasource/tests/pgfix"
)

var (
	pg     *pgfix.Server
	trades []trade
	// the range the tests query: trades exist before, inside and after it
	from = time.Date(2025, 2, 1, 0, 0, 0, 0, time.UTC)
	to   = time.Date(2025, 4, 15, 12, 0, 0, 0, time.UTC)
)

func TestMain(m *testing.M) {
	pgfix.Main(m, func(s *pgfix.Server) error {
		pg = s
		return pg.LoadDemo(harness.RepoRoot(), 20000, 120, 7, "2025-01-01")
	}, nil)
}

var tradesOnce sync.Once

func allTrades(t *testing.T) []trade {
	tradesOnce.Do(func() { trades = loadTrades(t, pg, "trades") })
	if len(trades) == 0 {
		t.Fatal("no demo trades loaded")
	}
	return trades
}

var dsVersion int64 = 1

func pctx(extra map[string]any) *pluginv2.PluginContext {
	return harness.PluginContext("trading-ds", pg.JSONData(extra), pgfix.Secure(), dsVersion)
}

func query(refID, qtype string, body map[string]any, maxPoints int64) *pluginv2.DataQuery {
	m := map[string]any{"refId": refID, "queryType": qtype, "datasource": map[string]any{"uid": "trading-ds"},
		"intervalMs": 1000, "maxDataPoints": maxPoints}
	for k, v := range body {
		m[k] = v
	}
	js, _ := json.Marshal(m)
	return &pluginv2.DataQuery{RefId: refID, MaxDataPoints: maxPoints, IntervalMS: 1000, Json: js,
		TimeRange: &pluginv2.TimeRange{FromEpochMS: from.UnixMilli(), ToEpochMS: to.UnixMilli()}}
}

func mustOK(t *testing.T, r backend.DataResponse) data.Frames {
	t.Helper()
	if r.Error != nil || r.Status != 200 {
		t.Fatalf("status %d error %v", r.Status, r.Error)
	}
	return r.Frames
}

func refQ(strategies ...string) refQuery {
	loc, _ := time.LoadLocation("UTC")
	return refQuery{from: from, to: to, strategies: strategies, capital: 100000, tz: loc, annual: 252}
}

// fieldValues returns (times, values) of a timeseries frame.
func series(t *testing.T, f *data.Frame) ([]time.Time, []float64) {
	t.Helper()
	if len(f.Fields) != 2 || f.Fields[0].Type() != data.FieldTypeTime {
		t.Fatalf("frame %q: want [time, value], got %d fields", f.Name, len(f.Fields))
	}
	n := f.Fields[0].Len()
	ts := make([]time.Time, n)
	vs := make([]float64, n)
	for i := 0; i < n; i++ {
		ts[i] = f.Fields[0].At(i).(time.Time)
		v, ok := f.Fields[1].ConcreteAt(i)
		if !ok {
			vs[i] = math.NaN()
		} else {
			vs[i] = v.(float64)
		}
	}
	return ts, vs
}

func equityAt(e0 float64, in []trade, at time.Time) float64 {
	e := e0
	for _, t := range in {
		if !t.closed.After(at) {
			e += t.pnl
		}
	}
	return e
}

func TestEquityPnlReturnsMatchReference(t *testing.T) {
	all := allTrades(t)
	p := harness.Launch(t, harness.Options{})
	q := refQ("momentum", "mean_reversion")
	before, in := split(q, all)
	e0 := q.capital + sumPnl(before[""])
	body := map[string]any{"strategies": q.strategies}
	for _, maxPts := range []int64{200, 100000} {
		resp := p.Query(t, pctx(nil), query("E", "equity", body, maxPts), query("P", "pnl", body, maxPts), query("R", "returns", body, maxPts))
		checked := 0
		for ref, f := range map[string]func(e float64) float64{
			"E": func(e float64) float64 { return e },
			"P": func(e float64) float64 { return e - e0 },
			"R": func(e float64) float64 { return e/e0 - 1 },
		} {
			frames := mustOK(t, resp[ref])
			if len(frames) != 1 {
				t.Fatalf("%s: %d frames", ref, len(frames))
			}
			if frames[0].Meta == nil || frames[0].Meta.Type != data.FrameTypeTimeSeriesMulti || frames[0].Meta.ExecutedQueryString == "" {
				t.Errorf("%s: meta %+v", ref, frames[0].Meta)
			}
			ts, vs := series(t, frames[0])
			if maxPts == 200 && len(ts) > 202 {
				t.Errorf("%s: %d points for maxDataPoints 200", ref, len(ts))
			}
			if maxPts == 100000 && len(ts) != len(in[""])+2 {
				t.Errorf("%s: %d points, want one per trade (%d) + range start and end", ref, len(ts), len(in[""]))
			}
			for i := range ts {
				want := f(equityAt(e0, in[""], ts[i]))
				if !close(vs[i], want) {
					t.Fatalf("%s point %d at %v: %v, reference %v", ref, i, ts[i], vs[i], want)
				}
				checked++
			}
		}
		t.Logf("maxDataPoints %d: %d points checked against the reference", maxPts, checked)
	}
}

func TestDrawdownMatchesReferenceAndKeepsTroughs(t *testing.T) {
	all := allTrades(t)
	p := harness.Launch(t, harness.Options{})
	q := refQ()
	before, in := split(q, all)
	e0 := q.capital + sumPnl(before[""])
	dds := refDrawdowns(e0, in[""])
	byTime := map[int64]float64{}
	minDD := 0.0
	for i, tr := range in[""] {
		byTime[tr.closed.UnixNano()] = dds[i]
		minDD = math.Min(minDD, dds[i])
	}
	resp := p.Query(t, pctx(nil), query("D", "drawdown", nil, 300))
	ts, vs := series(t, mustOK(t, resp["D"])[0])
	if len(ts) > 302 {
		t.Errorf("%d points for maxDataPoints 300", len(ts))
	}
	got := 0.0
	for i := 1; i < len(ts); i++ {
		want, ok := byTime[ts[i].UnixNano()]
		if !ok {
			t.Fatalf("point %d at %v is not the time of a trade", i, ts[i])
		}
		if !close(vs[i], want) {
			t.Fatalf("point %d: drawdown %v, reference %v", i, vs[i], want)
		}
		got = math.Min(got, vs[i])
	}
	if !close(got, minDD) {
		t.Errorf("deepest point %v, reference max drawdown %v: a trough was hidden by down-sampling", got, minDD)
	}
	t.Logf("%d drawdown points checked; max drawdown %.4f", len(ts), minDD)
}

func TestDailyPnlInNewYorkAndDistribution(t *testing.T) {
	all := allTrades(t)
	p := harness.Launch(t, harness.Options{})
	q := refQ()
	q.tz, _ = time.LoadLocation("America/New_York")
	// The range spans the 2025-03-09 DST change in New York.
	_, in := split(q, all)
	days, want := refDaily(q, in[""])
	body := map[string]any{"timezone": "America/New_York"}
	resp := p.Query(t, pctx(nil), query("A", "daily_pnl", body, 1000), query("B", "pnl_distribution", body, 1000))
	ts, vs := series(t, mustOK(t, resp["A"])[0])
	if len(ts) != len(days) {
		t.Fatalf("%d days, reference %d", len(ts), len(days))
	}
	for i := range days {
		if !ts[i].Equal(days[i]) || !close(vs[i], want[i]) {
			t.Fatalf("day %d: %v %v, reference %v %v", i, ts[i], vs[i], days[i], want[i])
		}
	}
	dist := mustOK(t, resp["B"])[0]
	if dist.Fields[0].Len() != len(days) {
		t.Fatalf("distribution has %d values, want %d", dist.Fields[0].Len(), len(days))
	}
	for i := range days {
		if v, _ := dist.Fields[0].ConcreteAt(i); !close(v.(float64), want[i]) {
			t.Fatalf("distribution value %d: %v, reference %v", i, v, want[i])
		}
	}
	t.Logf("%d local days checked (America/New_York, across a DST change)", len(days))
}

func statsFrame(t *testing.T, f *data.Frame) map[string]map[string]float64 {
	t.Helper()
	if f.Meta == nil || f.Meta.Type != data.FrameTypeNumericWide {
		t.Fatalf("stats frame meta %+v", f.Meta)
	}
	out := map[string]map[string]float64{}
	for _, fl := range f.Fields {
		if fl.Len() != 1 {
			t.Fatalf("stats field %s has %d rows", fl.Name, fl.Len())
		}
		g := ""
		for _, v := range fl.Labels {
			g = v
		}
		if out[g] == nil {
			out[g] = map[string]float64{}
		}
		v, ok := fl.ConcreteAt(0)
		if ok {
			out[g][fl.Name] = v.(float64)
		} else {
			out[g][fl.Name] = math.NaN()
		}
	}
	return out
}

func TestStatsMatchReference(t *testing.T) {
	all := allTrades(t)
	p := harness.Launch(t, harness.Options{})
	for _, tc := range []struct {
		name string
		body map[string]any
		mod  func(*refQuery)
	}{
		{"defaults", nil, nil},
		{"weekdays-365-rf", map[string]any{"tradingDays": "weekdays", "annualization": 365, "riskFreeRate": 0.03, "initialCapital": 50000},
			func(q *refQuery) { q.weekdays = true; q.annual = 365; q.rf = 0.03; q.capital = 50000 }},
		{"tokyo-filtered", map[string]any{"timezone": "Asia/Tokyo", "strategies": []string{"breakout"}},
			func(q *refQuery) { q.tz, _ = time.LoadLocation("Asia/Tokyo"); q.strategies = []string{"breakout"} }},
		{"grouped", map[string]any{"groupBy": "strategy"}, func(q *refQuery) { q.group = "strategy" }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			q := refQ()
			if tc.mod != nil {
				tc.mod(&q)
			}
			resp := p.Query(t, pctx(nil), query("S", "stats", tc.body, 100))
			got := statsFrame(t, mustOK(t, resp["S"])[0])
			before, in := split(q, all)
			groups := sortedKeys(in)
			if len(got) != len(groups) {
				t.Fatalf("%d groups in the frame, reference %d", len(got), len(groups))
			}
			n := 0
			for _, g := range groups {
				want := refComputeStats(q, before[g], in[g], time.Now())
				for k, w := range want {
					v, ok := got[g][k]
					if !ok {
						t.Fatalf("group %q: stat %s missing", g, k)
					}
					if !close(v, w) {
						t.Errorf("group %q: %s = %v, reference %v", g, k, v, w)
					}
					n++
				}
			}
			t.Logf("%d stat values checked in %d group(s)", n, len(groups))
		})
	}
}

func TestStatsMetricsFilterAndDisplayNames(t *testing.T) {
	p := harness.Launch(t, harness.Options{})
	resp := p.Query(t, pctx(nil), query("S", "stats", map[string]any{"metrics": []string{"sharpe", "win_rate", "total_pnl"}}, 100))
	f := mustOK(t, resp["S"])[0]
	if len(f.Fields) != 3 || f.Fields[0].Name != "sharpe" || f.Fields[1].Name != "win_rate" || f.Fields[2].Name != "total_pnl" {
		t.Fatalf("fields %v", f.Fields)
	}
	if f.Fields[0].Config == nil || f.Fields[0].Config.DisplayNameFromDS != "Sharpe ratio" {
		t.Errorf("sharpe config %+v", f.Fields[0].Config)
	}
	if f.Fields[1].Config.Unit != "percentunit" || f.Fields[2].Config.Unit != "currencyUSD" {
		t.Errorf("units %q %q", f.Fields[1].Config.Unit, f.Fields[2].Config.Unit)
	}
}

func TestSlippageSeriesAndTradesTable(t *testing.T) {
	all := allTrades(t)
	p := harness.Launch(t, harness.Options{})
	q := refQ()
	_, in := split(q, all)
	resp := p.Query(t, pctx(map[string]any{"rowLimit": 50}), query("S", "slippage", nil, 1),
		query("T", "trades", nil, 100), query("U", "trades", map[string]any{"limit": 5}, 100))
	// maxDataPoints 1 → one bucket covering the whole range = the average.
	_, vs := series(t, mustOK(t, resp["S"])[0])
	want := refComputeStats(q, nil, in[""], time.Now())["avg_slippage_bps"]
	if len(vs) != 1 || !close(vs[0], want) {
		t.Errorf("slippage %v, reference %v", vs, want)
	}
	tf := mustOK(t, resp["T"])[0]
	if tf.Meta == nil || tf.Meta.Type != data.FrameTypeTable {
		t.Fatalf("trades meta %+v", tf.Meta)
	}
	if tf.Rows() != 50 {
		t.Fatalf("trades rows %d, want the rowLimit 50", tf.Rows())
	}
	if len(tf.Meta.Notices) == 0 || tf.Meta.Notices[0].Severity != data.NoticeSeverityWarning {
		t.Errorf("a cut table needs a warning notice, got %+v", tf.Meta.Notices)
	}
	// newest first, and the same rows as the reference
	for i := 0; i < 50; i++ {
		ref := in[""][len(in[""])-1-i]
		if got := tf.Fields[0].At(i).(time.Time); !got.Equal(ref.closed) {
			t.Fatalf("row %d closed_at %v, reference %v", i, got, ref.closed)
		}
		if id, _ := tf.Fields[2].ConcreteAt(i); id.(string) != fmt.Sprint(ref.id) {
			t.Fatalf("row %d trade_id %v, reference %d", i, id, ref.id)
		}
		if v, _ := tf.Fields[12].ConcreteAt(i); !close(v.(float64), ref.pnl) {
			t.Fatalf("row %d pnl %v, reference %v", i, v, ref.pnl)
		}
	}
	if mustOK(t, resp["U"])[0].Rows() != 5 {
		t.Errorf("limit 5 ignored")
	}
}

func TestGroupByGivesLabelledSeries(t *testing.T) {
	all := allTrades(t)
	p := harness.Launch(t, harness.Options{})
	q := refQ()
	q.group = "symbol"
	before, in := split(q, all)
	resp := p.Query(t, pctx(nil), query("G", "equity", map[string]any{"groupBy": "symbol"}, 100000))
	frames := mustOK(t, resp["G"])
	if len(frames) != len(in) {
		t.Fatalf("%d frames, want one per symbol (%d)", len(frames), len(in))
	}
	for _, f := range frames {
		sym := f.Fields[1].Labels["symbol"]
		if sym == "" {
			t.Fatalf("frame %q has no symbol label", f.Name)
		}
		ts, vs := series(t, f)
		e0 := 100000 + sumPnl(before[sym])
		last := vs[len(vs)-1]
		if want := equityAt(e0, in[sym], ts[len(ts)-1]); !close(last, want) {
			t.Errorf("symbol %s: final equity %v, reference %v (each group is its own portfolio)", sym, last, want)
		}
	}
}

func TestAlertQueryReturnsNumericFrames(t *testing.T) {
	p := harness.Launch(t, harness.Options{})
	js, _ := json.Marshal(map[string]any{"refId": "A", "queryType": "stats", "metrics": []string{"max_drawdown"}, "groupBy": "account"})
	c, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	res, err := p.Data.QueryData(c, &pluginv2.QueryDataRequest{
		PluginContext: pctx(nil),
		Headers:       map[string]string{"FromAlert": "true"},
		Queries: []*pluginv2.DataQuery{{RefId: "A", Json: js, MaxDataPoints: 43200, IntervalMS: 1000,
			TimeRange: &pluginv2.TimeRange{FromEpochMS: from.UnixMilli(), ToEpochMS: to.UnixMilli()}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	resp, err := backend.FromProto().QueryDataResponse(res)
	if err != nil {
		t.Fatal(err)
	}
	f := mustOK(t, resp.Responses["A"])[0]
	// What an alert rule's reduce step needs: numeric fields, one per series,
	// each with its labels, no time field.
	kind := f.TimeSeriesSchema().Type
	if kind != data.TimeSeriesTypeNot {
		t.Errorf("alert frame looks like a time series (%v); want numeric", kind)
	}
	for _, fl := range f.Fields {
		if fl.Type() != data.FieldTypeNullableFloat64 || fl.Labels["account"] == "" {
			t.Errorf("field %s type %v labels %v", fl.Name, fl.Type(), fl.Labels)
		}
	}
	if len(f.Fields) < 2 {
		t.Errorf("want one series per account, got %d", len(f.Fields))
	}
}

func TestResources(t *testing.T) {
	p := harness.Launch(t, harness.Options{})
	get := func(path string) (int, string) { return p.Get(t, pctx(nil), path) }
	want, _ := pg.Psql("trading", "SELECT string_agg(DISTINCT strategy, ',' ORDER BY strategy) FROM trades")
	code, body := get("strategies")
	var got []string
	if code != 200 || json.Unmarshal([]byte(body), &got) != nil || strings.Join(got, ",") != want {
		t.Errorf("strategies: %d %s; want %s", code, body, want)
	}
	code, body = get("symbols?q=US&limit=2")
	if code != 200 || json.Unmarshal([]byte(body), &got) != nil || len(got) == 0 || len(got) > 2 {
		t.Errorf("symbols?q=US&limit=2: %d %s", code, body)
	}
	for _, s := range got {
		if !strings.Contains(strings.ToUpper(s), "US") {
			t.Errorf("%q does not contain US", s)
		}
	}
	code, body = get("accounts?q=%25")
	if code != 200 || body != "[]" {
		t.Errorf("q=%% must match literally (no LIKE wildcards): %d %s", code, body)
	}
	code, body = get("schema")
	var sch map[string]any
	if code != 200 || json.Unmarshal([]byte(body), &sch) != nil || sch["ok"] != true {
		t.Errorf("schema: %d %s", code, body)
	}
	if code, _ = get("nope"); code != 404 {
		t.Errorf("unknown resource: %d", code)
	}
	if code, _ = get("symbols?limit=abc"); code != 400 {
		t.Errorf("bad limit: %d", code)
	}
}

func TestQueryMetricsMove(t *testing.T) {
	p := harness.Launch(t, harness.Options{})
	p.Query(t, pctx(nil), query("A", "equity", nil, 100), query("B", "stats", nil, 100), rawQuery("C", `{"queryType":"bogus"}`))
	c, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	res, err := p.Diagnostics.CollectMetrics(c, &pluginv2.CollectMetricsRequest{})
	if err != nil {
		t.Fatal(err)
	}
	text := string(res.Metrics.Prometheus)
	for _, want := range []string{
		`gpx_queries_total{query_type="equity",status="200"} 1`,
		`gpx_queries_total{query_type="stats",status="200"} 1`,
		`gpx_queries_total{query_type="invalid",status="400"} 1`,
		`gpx_query_duration_seconds_count{query_type="equity"} 1`,
		`gpx_datasource_instances 1`,
	} {
		if !strings.Contains(text, want) {
			t.Errorf("metrics lack %q", want)
		}
	}
	// the request's queries ran at once (concurrentQueries), each on its own connection
	if !regexp.MustCompile(`gpx_pg_connections\{state="idle"\} [1-9]`).MatchString(text) {
		t.Errorf("metrics lack idle connections: %s", text)
	}
}
