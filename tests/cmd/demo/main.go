// Command demo is `make demo`: a local Postgres with generated trades, the
// plugin launched the way Grafana launches it, and the main numbers the
// plugin computes printed from its own frames.
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"os/signal"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/backend"
	"github.com/grafana/grafana-plugin-sdk-go/data"
	"github.com/grafana/grafana-plugin-sdk-go/genproto/pluginv2"

	"github.com/algotrading/pnl-datasource/tests/harness"
	"github.com/algotrading/pnl-datasource/tests/pgfix"
)

func env(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}

func die(format string, a ...any) {
	fmt.Fprintf(os.Stderr, "demo: "+format+"\n", a...)
	os.Exit(1)
}

func main() {
	n := env("DEMO_TRADES", "100000")
	days, _ := strconv.Atoi(env("DEMO_DAYS", "365"))
	end := time.Now().UTC().Truncate(24 * time.Hour).Add(24 * time.Hour)
	start := end.AddDate(0, 0, -days)

	fmt.Printf("== starting a local Postgres (Debian's postgresql, initdb in a temp dir)\n")
	pg, err := pgfix.StartMain()
	if err != nil {
		die("%v", err)
	}
	defer pg.Close()
	root := harness.RepoRoot()
	t0 := time.Now()
	fmt.Printf("== generating %s demo trades over %d days (%s .. %s)\n", n, days, start.Format("2006-01-02"), end.Format("2006-01-02"))
	if err := pg.PsqlFiles("trading", map[string]string{"n": n, "start": "'" + start.Format("2006-01-02") + "'",
		"days": strconv.Itoa(days), "seed": "42"},
		filepath.Join(root, "sql", "schema.sql"), filepath.Join(root, "sql", "demo_data.sql")); err != nil {
		die("%v", err)
	}
	for _, sql := range []string{"ALTER TABLE trades OWNER TO grafana", "VACUUM ANALYZE trades"} {
		if _, err := pg.Psql("trading", sql); err != nil {
			die("%v", err)
		}
	}
	fmt.Printf("   done in %.1f s\n", time.Since(t0).Seconds())

	fmt.Printf("== launching %s under the Grafana-host harness (go-plugin, protocol 2)\n", filepath.Base(harness.BinaryPath()))
	p, err := harness.LaunchE(harness.Options{})
	if err != nil {
		die("%v", err)
	}
	defer p.Client.Kill()
	fmt.Printf("   handshake in %v, pid %d\n", p.StartupTime.Round(time.Millisecond), p.Pid)

	pctx := harness.PluginContext("demo", pg.JSONData(nil), pgfix.Secure(), 1)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	h, err := p.Diagnostics.CheckHealth(ctx, &pluginv2.CheckHealthRequest{PluginContext: pctx})
	if err != nil {
		die("CheckHealth: %v", err)
	}
	fmt.Printf("\n== CheckHealth (Save & test): %s\n   %s\n", h.Status, h.Message)

	q := func(ref, qt string, body map[string]any) *pluginv2.DataQuery {
		m := map[string]any{"refId": ref, "queryType": qt}
		for k, v := range body {
			m[k] = v
		}
		js, _ := json.Marshal(m)
		return &pluginv2.DataQuery{RefId: ref, Json: js, MaxDataPoints: 60, IntervalMS: 60000,
			TimeRange: &pluginv2.TimeRange{FromEpochMS: start.UnixMilli(), ToEpochMS: end.UnixMilli()}}
	}
	t1 := time.Now()
	res, err := p.Data.QueryData(ctx, &pluginv2.QueryDataRequest{PluginContext: pctx, Queries: []*pluginv2.DataQuery{
		q("S", "stats", nil), q("G", "stats", map[string]any{"groupBy": "strategy",
			"metrics": []string{"total_pnl", "win_rate", "sharpe", "max_drawdown", "trade_count"}}),
		q("E", "equity", nil)}})
	if err != nil {
		die("QueryData: %v", err)
	}
	took := time.Since(t1)
	resp, err := backend.FromProto().QueryDataResponse(res)
	if err != nil {
		die("decoding frames with the SDK: %v", err)
	}
	for _, r := range resp.Responses {
		if r.Error != nil {
			die("query failed: %v", r.Error)
		}
	}

	fmt.Printf("\n== Portfolio (all strategies), computed by the plugin from %s trades (3 queries in %v)\n", n, took.Round(time.Millisecond))
	stats := resp.Responses["S"].Frames[0]
	for _, f := range stats.Fields {
		v, ok := f.ConcreteAt(0)
		name := f.Name
		if f.Config != nil && f.Config.DisplayNameFromDS != "" {
			name = f.Config.DisplayNameFromDS
		}
		fmt.Printf("   %-24s %s\n", name, format(v, ok, f.Config))
	}

	fmt.Printf("\n== By strategy\n   %-16s %14s %9s %8s %13s %8s\n", "strategy", "total P&L", "win rate", "Sharpe", "max drawdown", "trades")
	rows := map[string]map[string]string{}
	for _, f := range resp.Responses["G"].Frames[0].Fields {
		g := f.Labels["strategy"]
		if rows[g] == nil {
			rows[g] = map[string]string{}
		}
		v, ok := f.ConcreteAt(0)
		rows[g][f.Name] = format(v, ok, f.Config)
	}
	var names []string
	for g := range rows {
		names = append(names, g)
	}
	sort.Strings(names)
	for _, g := range names {
		r := rows[g]
		fmt.Printf("   %-16s %14s %9s %8s %13s %8s\n", g, r["total_pnl"], r["win_rate"], r["sharpe"], r["max_drawdown"], r["trade_count"])
	}

	eq := resp.Responses["E"].Frames[0]
	fmt.Printf("\n== Portfolio value over time (%d points after down-sampling)\n   %s\n", eq.Rows(), sparkline(eq))

	// The issue-11 views, in a request of their own: a plugin built without
	// one of these kinds answers that query with "unknown query type", which
	// is reported and the rest of the demo goes on.
	t2 := time.Now()
	res, err = p.Data.QueryData(ctx, &pluginv2.QueryDataRequest{PluginContext: pctx, Queries: []*pluginv2.DataQuery{
		q("M", "period_returns", map[string]any{"period": "month", "layout": "grid"}),
		q("D", "drawdown_episodes", map[string]any{"limit": 5})}})
	if err != nil {
		die("QueryData: %v", err)
	}
	took = time.Since(t2)
	resp, err = backend.FromProto().QueryDataResponse(res)
	if err != nil {
		die("decoding frames with the SDK: %v", err)
	}
	fmt.Printf("\n== Monthly returns (period_returns, layout grid; 2 queries in %v)\n", took.Round(time.Millisecond))
	if frames, ok := demoFrames(resp.Responses["M"], "period_returns"); ok {
		printMonthlyGrid(frames[0])
	}
	fmt.Printf("\n== Five worst drawdowns (drawdown_episodes, limit 5)\n")
	if frames, ok := demoFrames(resp.Responses["D"], "drawdown_episodes"); ok {
		printEpisodes(frames[0])
	}

	demoLive(ctx, p, pg, pctx, q)

	m, err := p.Diagnostics.CollectMetrics(ctx, &pluginv2.CollectMetricsRequest{})
	if err == nil {
		fmt.Printf("\n== Plugin metrics (CollectMetrics, excerpt)\n")
		for _, l := range strings.Split(string(m.Metrics.Prometheus), "\n") {
			if strings.HasPrefix(l, "gpx_grpc_calls_total") || strings.HasPrefix(l, "process_resident") ||
				strings.HasPrefix(l, "gpx_build_info") {
				fmt.Printf("   %s\n", l)
			}
		}
	}
	if os.Getenv("DEMO_KEEP") != "" {
		fmt.Printf("\n== Postgres keeps running: host=%s port=%d dbname=trading user=grafana password=%s\n   Ctrl-C to stop.\n",
			pg.SockDir, pg.Port, pgfix.Password)
		sig := make(chan os.Signal, 1)
		signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
		<-sig
	}
	fmt.Printf("\n== done (Postgres and the plugin are stopped; DEMO_KEEP=1 keeps Postgres running)\n")
}

// demoFrames: the frames of an answer, or false after saying why there are
// none (a plugin without the kind, or another error), without stopping the demo.
func demoFrames(r backend.DataResponse, kind string) (data.Frames, bool) {
	switch {
	case r.Error != nil && strings.Contains(r.Error.Error(), "unknown query type"):
		fmt.Printf("   (this plugin build has no %s query kind yet: %v)\n", kind, r.Error)
		return nil, false
	case r.Error != nil:
		fmt.Printf("   (%s failed: status %d, %v)\n", kind, r.Status, r.Error)
		return nil, false
	case len(r.Frames) == 0:
		fmt.Printf("   (%s answered no frame)\n", kind)
		return nil, false
	}
	return r.Frames, true
}

func fieldByName(f *data.Frame, name string) *data.Field {
	for _, fl := range f.Fields {
		if fl.Name == name {
			return fl
		}
	}
	return nil
}

// cell: a field's value at row i as float64, time or string; ok false when null or absent.
func cell(f *data.Field, i int) (any, bool) {
	if f == nil || i >= f.Len() {
		return nil, false
	}
	return f.ConcreteAt(i)
}

func pct(v any, ok bool) string {
	if x, isF := v.(float64); ok && isF && !math.IsNaN(x) {
		return fmt.Sprintf("%+.1f%%", x*100)
	}
	return "—"
}

// printMonthlyGrid: the grid frame of the contract, year, Jan … Dec, Year.
func printMonthlyGrid(f *data.Frame) {
	months := []string{"Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec", "Year"}
	year := fieldByName(f, "year")
	if year == nil {
		fmt.Printf("   (no year column in the grid: fields %v)\n", fieldNames(f))
		return
	}
	fmt.Printf("   %-6s", "year")
	for _, m := range months {
		fmt.Printf(" %7s", m)
	}
	fmt.Println()
	for i := 0; i < f.Rows(); i++ {
		y, _ := cell(year, i)
		fmt.Printf("   %-6v", y)
		for _, m := range months {
			fmt.Printf(" %7s", pct(cell(fieldByName(f, m), i)))
		}
		fmt.Println()
	}
}

func fieldNames(f *data.Frame) []string {
	var n []string
	for _, fl := range f.Fields {
		n = append(n, fl.Name)
	}
	return n
}

func when(v any, ok bool) string {
	if t, isT := v.(time.Time); ok && isT {
		return t.UTC().Format("2006-01-02 15:04")
	}
	return "—"
}

func span(v any, ok bool) string {
	x, isF := v.(float64)
	if !ok || !isF || math.IsNaN(x) {
		return "—"
	}
	d := time.Duration(x * float64(time.Second))
	if d >= 24*time.Hour {
		return fmt.Sprintf("%dd %dh", int(d.Hours())/24, int(d.Hours())%24)
	}
	return d.Round(time.Minute).String()
}

// printEpisodes: the episodes frame of the contract, deepest first.
func printEpisodes(f *data.Frame) {
	if fieldByName(f, "depth") == nil {
		fmt.Printf("   (no depth column: fields %v)\n", fieldNames(f))
		return
	}
	if f.Rows() == 0 {
		fmt.Printf("   (equity never fell below a peak in the range)\n")
		return
	}
	fmt.Printf("   %-2s %-16s  %-16s  %-16s  %8s  %14s  %9s  %9s\n", "#", "start", "valley", "end (recovered)", "depth",
		"amount", "duration", "recovery")
	for i := 0; i < f.Rows(); i++ {
		amount := "—"
		if v, ok := cell(fieldByName(f, "depth_amount"), i); ok {
			amount = format(v, true, fieldByName(f, "depth_amount").Config)
		}
		end := when(cell(fieldByName(f, "end"), i))
		if end == "—" {
			end = "not recovered"
		}
		depth, ok := cell(fieldByName(f, "depth"), i)
		fmt.Printf("   %-2d %-16s  %-16s  %-16s  %8s  %14s  %9s  %9s\n", i+1, when(cell(fieldByName(f, "start"), i)),
			when(cell(fieldByName(f, "valley"), i)), end, pct2(depth, ok), amount,
			span(cell(fieldByName(f, "duration"), i)), span(cell(fieldByName(f, "recovery"), i)))
	}
}

func pct2(v any, ok bool) string {
	if x, isF := v.(float64); ok && isF && !math.IsNaN(x) {
		return fmt.Sprintf("%.2f%%", x*100)
	}
	return "—"
}

func format(v any, ok bool, cfg *data.FieldConfig) string {
	if !ok {
		return "—"
	}
	x := v.(float64)
	unit := ""
	if cfg != nil {
		unit = cfg.Unit
	}
	switch {
	case unit == "percentunit":
		return fmt.Sprintf("%.2f%%", x*100)
	case strings.HasPrefix(unit, "currency"):
		return fmt.Sprintf("%s %.2f", strings.TrimPrefix(unit, "currency"), x)
	case strings.HasPrefix(unit, "suffix:"):
		return fmt.Sprintf("%.2f%s", x, strings.TrimPrefix(unit, "suffix:"))
	case x == math.Trunc(x) && math.Abs(x) < 1e15:
		return fmt.Sprintf("%.0f", x)
	}
	return fmt.Sprintf("%.3f", x)
}

func sparkline(f *data.Frame) string {
	bars := []rune("▁▂▃▄▅▆▇█")
	var vs []float64
	lo, hi := math.Inf(1), math.Inf(-1)
	for i := 0; i < f.Rows(); i++ {
		v, ok := f.Fields[1].ConcreteAt(i)
		if !ok {
			continue
		}
		x := v.(float64)
		vs = append(vs, x)
		lo, hi = math.Min(lo, x), math.Max(hi, x)
	}
	var sb strings.Builder
	for _, x := range vs {
		k := 0
		if hi > lo {
			k = int((x - lo) / (hi - lo) * float64(len(bars)-1))
		}
		sb.WriteRune(bars[k])
	}
	return fmt.Sprintf("%s  (%.0f .. %.0f)", sb.String(), lo, hi)
}

// demoLive shows the live path (issue 13): the trigger installed, a live
// stats query subscribed through the Stream service as Grafana does, a trade
// inserted from another connection, and the update the plugin pushed.
func demoLive(ctx context.Context, p *harness.Plugin, pg *pgfix.Server, pctx *pluginv2.PluginContext,
	q func(ref, qt string, body map[string]any) *pluginv2.DataQuery) {
	fmt.Printf("\n== Live queries (Grafana Live): sql/live_notify.sql installed, a live stats query subscribed\n")
	if err := pg.PsqlFiles("trading", map[string]string{"table": "trades"}, filepath.Join(harness.RepoRoot(), "sql", "live_notify.sql")); err != nil {
		fmt.Printf("   cannot install the trigger: %v\n", err)
		return
	}
	res, err := p.Data.QueryData(ctx, &pluginv2.QueryDataRequest{PluginContext: pctx, Queries: []*pluginv2.DataQuery{
		q("L", "stats", map[string]any{"live": true, "metrics": []string{"total_pnl", "trade_count", "win_rate"}})}})
	if err != nil {
		fmt.Printf("   QueryData: %v\n", err)
		return
	}
	resp, err := backend.FromProto().QueryDataResponse(res)
	if err != nil || resp.Responses["L"].Error != nil || len(resp.Responses["L"].Frames) == 0 {
		fmt.Printf("   live query failed: %v %v\n", err, resp.Responses["L"].Error)
		return
	}
	f := resp.Responses["L"].Frames[0]
	if f.Meta == nil || f.Meta.Channel == "" {
		fmt.Printf("   this plugin build issues no live channel (meta.channel missing)\n")
		return
	}
	show := func(f *data.Frame) string {
		var parts []string
		for _, fl := range f.Fields {
			v, ok := fl.ConcreteAt(0)
			parts = append(parts, fmt.Sprintf("%s %s", fl.Name, format(v, ok, fl.Config)))
		}
		return strings.Join(parts, ", ")
	}
	fmt.Printf("   QueryData: %s\n   meta.channel: %s\n", show(f), f.Meta.Channel)
	path := strings.SplitN(f.Meta.Channel, "/", 3)[2]
	sc := pluginv2.NewStreamClient(p.Conn)
	sub, err := sc.SubscribeStream(ctx, &pluginv2.SubscribeStreamRequest{PluginContext: pctx, Path: path})
	if err != nil || sub.Status != pluginv2.SubscribeStreamResponse_OK {
		fmt.Printf("   SubscribeStream: %v %v\n", sub, err)
		return
	}
	sctx, stop := context.WithCancel(ctx)
	defer stop()
	rs, err := sc.RunStream(sctx, &pluginv2.RunStreamRequest{PluginContext: pctx, Path: path})
	if err != nil {
		fmt.Printf("   RunStream: %v\n", err)
		return
	}
	recv := func() (*data.Frame, error) {
		m, err := rs.Recv()
		if err != nil {
			return nil, err
		}
		var f data.Frame
		return &f, json.Unmarshal(m.Data, &f)
	}
	if _, err := recv(); err != nil { // the first packet: the state when the stream started
		fmt.Printf("   RunStream: %v\n", err)
		return
	}
	time.Sleep(500 * time.Millisecond)
	t0 := time.Now()
	if _, err := pg.Psql("trading", "INSERT INTO trades (trade_id, account, exchange, strategy, symbol, side, qty, entry_price, "+
		"exit_price, opened_at, closed_at, fees, realized_pnl) VALUES ((SELECT max(trade_id) + 1 FROM trades), 'alpha-1', "+
		"'binance', 'momentum', 'BTCUSDT', 'long', 0.5, 97000, 99000, now() - interval '2 hours', now(), 2, 998)"); err != nil {
		fmt.Printf("   insert: %v\n", err)
		return
	}
	fmt.Printf("   inserted one trade (realized P&L 998.00) from another connection\n")
	pushed, err := recv()
	if err != nil {
		fmt.Printf("   no pushed update: %v\n", err)
		return
	}
	fmt.Printf("   pushed %v after the insert began: %s\n", time.Since(t0).Round(time.Millisecond), show(pushed))
	stop()
}

