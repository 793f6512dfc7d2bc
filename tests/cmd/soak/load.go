package main

// The load: clients that call the plugin the way Grafana's dashboards,
// editors and health checks do, with random but valid requests drawn from
// the data actually loaded, and the data source's settings saved anew every
// so often.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/url"
	"strings"
	"sync/atomic"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/backend"
	"github.com/grafana/grafana-plugin-sdk-go/genproto/pluginv2"
	"google.golang.org/grpc/status"

	"github.com/algotrading/pnl-datasource/tests/harness"
	"github.com/algotrading/pnl-datasource/tests/pgfix"
)

// world is what the loaded data holds: the values filters may use and the
// span of closed_at that ranges are drawn from.
type world struct {
	strategies, symbols, accounts []string
	first, last                   time.Time
	trades                        int
}

// variant is one saved version of the data source's limits. Every variant
// admits all clients (maxOpenConnections + maxQueuedQueries >= clients), so
// a 503 is never expected; rowLimit differs between neighbours so a probe
// can tell which version answered.
type variant struct {
	maxOpen, maxQueued, timeoutS, rowLimit int
}

var variants = []variant{
	{10, 50, 30, 1000},
	{6, 50, 20, 500},
	{8, 50, 25, 800},
}

// version is the data source as Grafana currently sends it.
type version struct {
	n       int // 1, 2, …
	v       variant
	updated int64 // lastUpdatedMS
	pctx    *pluginv2.PluginContext
	since   time.Time
}

func newVersion(pg *pgfix.Server, n int, updated int64) *version {
	v := variants[(n-1)%len(variants)]
	js := pg.JSONData(map[string]any{"maxOpenConnections": v.maxOpen, "maxQueuedQueries": v.maxQueued,
		"queryTimeoutSeconds": v.timeoutS, "rowLimit": v.rowLimit})
	return &version{n: n, v: v, updated: updated, since: time.Now(),
		pctx: harness.PluginContext("soak", js, pgfix.Secure(), updated)}
}

var kinds = []string{"equity", "pnl", "daily_pnl", "drawdown", "returns", "stats", "pnl_distribution", "slippage",
	"trades", "trade_count", "drawdown_episodes", "breakdown"}

var statsMetrics = []string{"total_pnl", "total_return", "equity", "trade_count", "win_rate", "profit_factor",
	"payoff_ratio", "expectancy", "max_drawdown", "max_drawdown_amount", "sharpe", "sortino", "calmar", "cagr",
	"annual_volatility", "avg_slippage_bps", "daily_loss", "worst_day", "best_day", "largest_win", "largest_loss",
	"avg_win", "avg_loss", "gross_profit", "gross_loss", "max_win_streak", "max_loss_streak", "current_streak",
	"total_fees", "avg_holding_time", "avg_holding_time_win", "avg_holding_time_loss", "sqn", "long_trades",
	"short_trades", "long_win_rate", "short_win_rate", "exposure", "current_drawdown", "recovery_factor", "volume"}

var timezones = []string{"UTC", "America/New_York", "Europe/London", "Asia/Tokyo", "Australia/Sydney"}

// load runs the clients against one plugin.
type load struct {
	p       *harness.Plugin
	w       world
	rec     *recorder
	cur     atomic.Pointer[version]
	pCancel float64
	seed    uint64
}

func pick[T any](r *rand.Rand, s []T) T { return s[r.IntN(len(s))] }

// subset: 1..3 distinct values of s.
func subset(r *rand.Rand, s []string) []string {
	p := r.Perm(len(s))
	n := 1 + r.IntN(min(3, len(s)))
	out := make([]string, n)
	for i := range out {
		out[i] = s[p[i]]
	}
	return out
}

// randomRange: a window inside the data, from an hour to all of it; the
// edges sometimes reach past the data (a dashboard's "last 30 days").
func (l *load) randomRange(r *rand.Rand) (time.Time, time.Time) {
	span := l.w.last.Sub(l.w.first)
	lengths := []time.Duration{time.Hour, 24 * time.Hour, 7 * 24 * time.Hour, 30 * 24 * time.Hour, 90 * 24 * time.Hour, span}
	d := min(pick(r, lengths), span)
	from := l.w.first.Add(time.Duration(r.Int64N(int64(span-d) + 1)))
	if r.IntN(10) == 0 {
		from = from.Add(-d / 4)
	}
	return from.Truncate(time.Millisecond), from.Add(d).Truncate(time.Millisecond)
}

func (l *load) randomQuery(r *rand.Rand, ref string) (q *pluginv2.DataQuery, kind string, grouped bool) {
	kind = pick(r, kinds)
	m := map[string]any{"refId": ref, "queryType": kind}
	if r.IntN(4) == 0 {
		m["strategies"] = subset(r, l.w.strategies)
	}
	if r.IntN(4) == 0 {
		m["symbols"] = subset(r, l.w.symbols)
	}
	if r.IntN(4) == 0 {
		m["accounts"] = subset(r, l.w.accounts)
	}
	if kind != "trades" {
		g := pick(r, []string{"none", "none", "strategy", "symbol", "account"})
		if kind == "breakdown" && g == "none" { // it needs a dimension
			g = "strategy"
		}
		m["groupBy"], grouped = g, g != "none"
	}
	switch kind {
	case "stats", "breakdown":
		if r.IntN(2) == 0 {
			m["metrics"] = subset(r, statsMetrics)
		}
	case "drawdown_episodes":
		if r.IntN(2) == 0 {
			m["limit"] = 1 + r.IntN(20)
		}
	case "drawdown":
		m["drawdownMode"] = pick(r, []string{"fraction", "money"})
	case "trades":
		if r.IntN(2) == 0 {
			m["limit"] = 1 + r.IntN(2000)
		}
	}
	if r.IntN(3) == 0 {
		m["timezone"] = pick(r, timezones)
		m["tradingDays"] = pick(r, []string{"all", "weekdays"})
	}
	if r.IntN(5) == 0 {
		m["initialCapital"] = float64(10000 + r.IntN(1000000))
		m["riskFreeRate"] = r.Float64() * 0.05
		m["annualization"] = pick(r, []int{252, 365})
	}
	from, to := l.randomRange(r)
	maxPoints := pick(r, []int64{100, 300, 1000, 1500})
	m["maxDataPoints"] = maxPoints // Grafana puts these in the JSON too
	interval := max(to.Sub(from).Milliseconds()/maxPoints, 1000)
	m["intervalMs"] = interval
	js, _ := json.Marshal(m)
	q = &pluginv2.DataQuery{RefId: ref, QueryType: kind, Json: js, MaxDataPoints: maxPoints, IntervalMS: interval,
		TimeRange: &pluginv2.TimeRange{FromEpochMS: from.UnixMilli(), ToEpochMS: to.UnixMilli()}}
	return q, kind, grouped
}

// randomQ: what a person types into a filter box, mostly part of a real
// value in any case, sometimes LIKE's wildcards, quotes or non-ASCII.
func (l *load) randomQ(r *rand.Rand, vals []string) string {
	switch r.IntN(6) {
	case 0:
		return pick(r, []string{"%", "_", "'", "\\", "ü", "x'; DROP TABLE trades; --", "zzz"})
	case 1:
		return ""
	}
	v := pick(r, vals)
	i := r.IntN(len(v))
	j := i + 1 + r.IntN(len(v)-i)
	q := v[i:j]
	if r.IntN(2) == 0 {
		q = strings.ToUpper(q)
	}
	return q
}

func grpcStatus(err error) string {
	if errors.Is(err, context.Canceled) {
		return "grpc Canceled"
	}
	return "grpc " + status.Code(err).String()
}

// expect: what a call may end with. A cancelled call may have finished
// first, or end as gRPC Canceled, or as 499 when the plugin noticed the
// cancellation before the client stopped listening.
func expect(o *outcome, ok bool) {
	o.expected = ok || (o.cancelled && (o.status == "grpc Canceled" || strings.HasPrefix(o.status, "499")))
}

func (l *load) query(ctx context.Context, r *rand.Rand, ver *version, o *outcome) {
	q, kind, grouped := l.randomQuery(r, "A")
	o.what = kind
	start := time.Now()
	res, err := l.p.Data.QueryData(ctx, &pluginv2.QueryDataRequest{PluginContext: ver.pctx, Queries: []*pluginv2.DataQuery{q}})
	o.took = time.Since(start)
	if err != nil {
		o.status, o.detail = grpcStatus(err), err.Error()
		expect(o, false)
		return
	}
	dr := res.Responses["A"]
	if dr == nil {
		o.status, o.detail = "no response", fmt.Sprintf("no response for refId A (%d responses)", len(res.Responses))
		expect(o, false)
		return
	}
	o.status = fmt.Sprint(dr.Status)
	if dr.Status != 200 {
		o.detail = dr.Error
		expect(o, false)
		return
	}
	// what Grafana does with the answer: the SDK decodes every frame
	if _, err := backend.FromProto().QueryDataResponse(res); err != nil {
		o.status, o.detail = "decode error", err.Error()
	} else if len(dr.Frames) == 0 && !grouped {
		// (grouped, filters that match no trade leave no group and no frame)
		o.status, o.detail = "no frames", string(q.Json)
	}
	expect(o, o.status == "200")
}

func (l *load) resource(ctx context.Context, r *rand.Rand, ver *version, o *outcome) {
	path := pick(r, []string{"strategies", "symbols", "accounts", "schema"})
	var vals []string
	switch path {
	case "strategies":
		vals = l.w.strategies
	case "symbols":
		vals = l.w.symbols
	case "accounts":
		vals = l.w.accounts
	}
	o.what = path
	u, q := path, ""
	if vals != nil {
		p := url.Values{}
		if r.IntN(10) < 7 {
			q = l.randomQ(r, vals)
			p.Set("q", q)
		}
		if r.IntN(10) < 3 {
			p.Set("limit", fmt.Sprint(1+r.IntN(50)))
		}
		if len(p) > 0 {
			u += "?" + p.Encode()
		}
	}
	start := time.Now()
	stream, err := l.p.Resource.CallResource(ctx, &pluginv2.CallResourceRequest{PluginContext: ver.pctx, Path: path,
		Method: "GET", Url: u})
	var msgs []*pluginv2.CallResourceResponse
	for err == nil {
		var m *pluginv2.CallResourceResponse
		if m, err = stream.Recv(); err == nil {
			msgs = append(msgs, m)
		}
	}
	o.took = time.Since(start)
	if !errors.Is(err, io.EOF) {
		o.status, o.detail = grpcStatus(err), err.Error()
		expect(o, false)
		return
	}
	if len(msgs) != 1 {
		o.status, o.detail = "stream", fmt.Sprintf("%d messages", len(msgs))
		expect(o, false)
		return
	}
	m := msgs[0]
	o.status = fmt.Sprint(m.Code)
	if m.Code != 200 {
		o.detail = string(m.Body)
		expect(o, false)
		return
	}
	// the answer is right, not only 200: every value is a known one that
	// contains q (case-insensitively); the schema check says ok
	if vals != nil {
		var got []string
		if err := json.Unmarshal(m.Body, &got); err != nil {
			o.status, o.detail = "bad body", string(m.Body)
		}
		for _, g := range got {
			known := false
			for _, v := range vals {
				known = known || v == g
			}
			if !known || !strings.Contains(strings.ToLower(g), strings.ToLower(q)) {
				o.status, o.detail = "bad body", fmt.Sprintf("%s: %s", u, m.Body)
			}
		}
	} else {
		var s struct{ OK bool }
		if err := json.Unmarshal(m.Body, &s); err != nil || !s.OK {
			o.status, o.detail = "bad body", string(m.Body)
		}
	}
	expect(o, o.status == "200")
}

func (l *load) health(ctx context.Context, ver *version, o *outcome) {
	start := time.Now()
	res, err := l.p.Diagnostics.CheckHealth(ctx, &pluginv2.CheckHealthRequest{PluginContext: ver.pctx})
	o.took = time.Since(start)
	if err != nil {
		o.status, o.detail = grpcStatus(err), err.Error()
		expect(o, false)
		return
	}
	o.status = res.Status.String()
	if res.Status != pluginv2.CheckHealthResponse_OK {
		o.detail = res.Message
	} else if !strings.Contains(res.Message, fmt.Sprintf("%d trades", l.w.trades)) {
		o.status, o.detail = "bad message", res.Message
	}
	expect(o, o.status == "OK")
}

func (l *load) metrics(ctx context.Context, o *outcome) {
	start := time.Now()
	res, err := l.p.Diagnostics.CollectMetrics(ctx, &pluginv2.CollectMetricsRequest{})
	o.took = time.Since(start)
	if err != nil {
		o.status, o.detail = grpcStatus(err), err.Error()
		expect(o, false)
		return
	}
	o.status = "OK"
	if res.Metrics == nil || !strings.Contains(string(res.Metrics.Prometheus), "gpx_grpc_calls_total") {
		o.status, o.detail = "bad body", "no gpx_grpc_calls_total"
	}
	expect(o, o.status == "OK")
}

// one call: 70 % QueryData, 20 % CallResource, 5 % CheckHealth, 5 %
// CollectMetrics; pCancel of them cancelled at a random moment.
func (l *load) one(r *rand.Rand) {
	ver := l.cur.Load()
	o := outcome{class: light}
	switch u := r.Float64(); {
	case u < 0.70:
		o.method, o.class = "query", heavy
	case u < 0.90:
		o.method = "resource"
	case u < 0.95:
		o.method = "health"
	default:
		o.method = "metrics"
	}
	o.cancelled = r.Float64() < l.pCancel
	var ctx context.Context
	var cancel context.CancelFunc
	if o.cancelled {
		ctx, cancel = context.WithCancel(context.Background())
		at := time.Duration(r.Float64() * 2 * float64(max(l.rec.typicalLatency(o.class), time.Millisecond)))
		t := time.AfterFunc(at, cancel)
		defer t.Stop()
	} else {
		// a guard against a hung call only: far beyond any bound checked
		ctx, cancel = context.WithTimeout(context.Background(), time.Duration(ver.v.timeoutS)*time.Second+time.Minute)
	}
	defer cancel()
	switch o.method {
	case "query":
		l.query(ctx, r, ver, &o)
	case "resource":
		l.resource(ctx, r, ver, &o)
	case "health":
		o.what = "check"
		l.health(ctx, ver, &o)
	default:
		o.what = "metrics"
		l.metrics(ctx, &o)
	}
	// The call may have been answered by either version's instance (a save
	// during the call): the longer of the two timeouts bounds it.
	t := max(ver.v.timeoutS, l.cur.Load().v.timeoutS)
	o.bound = time.Duration(t)*time.Second + time.Second
	l.rec.add(o)
}

func (l *load) client(id int, stop *atomic.Bool, done func()) {
	defer done()
	r := rand.New(rand.NewPCG(l.seed, uint64(id)))
	for !stop.Load() {
		l.one(r)
	}
}

// probeRowLimit asks for the trades of the whole history without a limit:
// the rows that come back are the rowLimit of the version that answered.
func (l *load) probeRowLimit(ver *version) (int, error) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Duration(ver.v.timeoutS+30)*time.Second)
	defer cancel()
	js, _ := json.Marshal(map[string]any{"refId": "P", "queryType": "trades"})
	q := &pluginv2.DataQuery{RefId: "P", Json: js, MaxDataPoints: 1000, IntervalMS: 1000,
		TimeRange: &pluginv2.TimeRange{FromEpochMS: l.w.first.Add(-time.Hour).UnixMilli(), ToEpochMS: l.w.last.Add(time.Hour).UnixMilli()}}
	res, err := l.p.Data.QueryData(ctx, &pluginv2.QueryDataRequest{PluginContext: ver.pctx, Queries: []*pluginv2.DataQuery{q}})
	if err != nil {
		return 0, err
	}
	resp, err := backend.FromProto().QueryDataResponse(res)
	if err != nil {
		return 0, err
	}
	dr := resp.Responses["P"]
	if dr.Error != nil {
		return 0, dr.Error
	}
	if len(dr.Frames) != 1 {
		return 0, fmt.Errorf("%d frames", len(dr.Frames))
	}
	return dr.Frames[0].Rows(), nil
}

// poolOpen reads the plugin's own count of Postgres connections
// (gpx_pg_connections, idle + in_use) and of instances.
func (l *load) poolOpen() (open, instances int, err error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	res, err := l.p.Diagnostics.CollectMetrics(ctx, &pluginv2.CollectMetricsRequest{})
	if err != nil {
		return 0, 0, err
	}
	for _, line := range strings.Split(string(res.Metrics.Prometheus), "\n") {
		var n int
		if strings.HasPrefix(line, "gpx_pg_connections{") {
			fmt.Sscan(line[strings.LastIndexByte(line, ' ')+1:], &n)
			open += n
		} else if strings.HasPrefix(line, "gpx_datasource_instances ") {
			fmt.Sscan(strings.TrimPrefix(line, "gpx_datasource_instances "), &instances)
		}
	}
	return open, instances, nil
}

// unloaded times light calls one at a time before the load starts: what
// they cost when nothing waits ahead of them (compare the p99 under load).
func (l *load) unloaded(r *rand.Rand) string {
	by := map[string][]time.Duration{}
	ver := l.cur.Load()
	for i := 0; i < 40; i++ {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		o := outcome{}
		switch i % 4 {
		case 0, 1:
			o.method = "resource"
			l.resource(ctx, r, ver, &o)
		case 2:
			o.method = "health"
			l.health(ctx, ver, &o)
		default:
			o.method = "metrics"
			l.metrics(ctx, &o)
		}
		cancel()
		if !o.expected {
			return fmt.Sprintf("%s failed: %s %s", o.method, o.status, o.detail)
		}
		by[o.method] = append(by[o.method], o.took)
	}
	var b strings.Builder
	for _, m := range []string{"resource", "health", "metrics"} {
		fmt.Fprintf(&b, "%s%s p50 %v max %v", map[bool]string{true: "", false: "; "}[b.Len() == 0], m,
			quantile(by[m], 0.5).Round(100*time.Microsecond), quantile(by[m], 1).Round(100*time.Microsecond))
	}
	return b.String()
}
