package analytics

// Issue 13: the annotations kind, decoded by the SDK and compared with an
// independent reference computed here from the definitions in
// docs/analytics.md "Annotations" (not from the C code): each event is
// rendered to one string (time, timeEnd, title, text, tags) and the
// plugin's events and the reference's are compared as multisets.

import (
	"fmt"
	"math"
	"sort"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/grafana/grafana-plugin-sdk-go/data"

	"github.com/algotrading/pnl-datasource/tests/harness"
	"github.com/algotrading/pnl-datasource/tests/pgfix"
)

type annoEvent struct {
	time, end         time.Time // end zero = a point
	title, text, tags string
}

func (e annoEvent) key() string {
	end := "-"
	if !e.end.IsZero() {
		end = e.end.UTC().Format(time.RFC3339Nano)
	}
	return fmt.Sprintf("%s|%s|%s|%s|%s", e.time.UTC().Format(time.RFC3339Nano), end, e.title, e.text, e.tags)
}

// readAnnotations checks the frame's shape (shared doc §2.3) and returns its events.
func readAnnotations(t *testing.T, frames data.Frames) ([]annoEvent, *data.Frame) {
	t.Helper()
	if len(frames) != 1 {
		t.Fatalf("%d frames, want 1", len(frames))
	}
	f := frames[0]
	if f.Meta == nil || f.Meta.DataTopic != data.DataTopicAnnotations || f.Meta.Type != data.FrameTypeTable {
		t.Fatalf("meta %+v: want dataTopic annotations, type table", f.Meta)
	}
	var names []string
	for _, fl := range f.Fields {
		names = append(names, fl.Name)
	}
	if strings.Join(names, ",") != "time,timeEnd,title,text,tags" {
		t.Fatalf("fields %v", names)
	}
	want := []data.FieldType{data.FieldTypeTime, data.FieldTypeNullableTime, data.FieldTypeString, data.FieldTypeString,
		data.FieldTypeNullableString}
	for i, fl := range f.Fields {
		if fl.Type() != want[i] || len(fl.Labels) != 0 || (fl.Config != nil && fl.Config.DisplayNameFromDS != "") {
			t.Fatalf("field %s: type %v labels %v (want %v, no labels or display names: Grafana matches by name)",
				fl.Name, fl.Type(), fl.Labels, want[i])
		}
	}
	out := make([]annoEvent, f.Rows())
	for i := range out {
		e := annoEvent{time: f.Fields[0].At(i).(time.Time), title: f.Fields[2].At(i).(string), text: f.Fields[3].At(i).(string)}
		if v := f.Fields[1].At(i).(*time.Time); v != nil {
			e.end = *v
		}
		if v := f.Fields[4].At(i).(*string); v != nil {
			e.tags = *v
		}
		for _, s := range []string{e.title, e.text, e.tags} {
			if !utf8.ValidString(s) {
				t.Fatalf("row %d: not UTF-8: %q", i, s)
			}
		}
		out[i] = e
	}
	return out, f
}

func compareEvents(got, want []annoEvent) error {
	g, w := make([]string, len(got)), make([]string, len(want))
	for i := range got {
		g[i] = got[i].key()
	}
	for i := range want {
		w[i] = want[i].key()
	}
	sort.Strings(g)
	sort.Strings(w)
	if len(g) != len(w) {
		return fmt.Errorf("%d events, the reference %d", len(g), len(w))
	}
	for i := range g {
		if g[i] != w[i] {
			return fmt.Errorf("event %q\n   reference %q", g[i], w[i])
		}
	}
	return nil
}

func hasNotice(f *data.Frame, sev data.NoticeSeverity, part string) bool {
	for _, n := range f.Meta.Notices {
		if n.Severity == sev && strings.Contains(n.Text, part) {
			return true
		}
	}
	return false
}

// tagValue: Grafana splits tags on ',', so a value's commas are ';'.
func tagValue(s string) string { return strings.ReplaceAll(s, ",", ";") }

type tradeCols3 struct{ strategy, symbol, side bool } // which dimensions are mapped

// refTradeEvent: one trade by the definition — at opened_at → closed_at when
// opened_at is known and earlier, else a point at closed_at; text
// "<strategy> <symbol> <side> <±P&L> USD" (an unmapped dimension left out, a
// NULL one "(none)"); tags the same words and win (P&L > 0) or loss (< 0).
func refTradeEvent(tr trade, title string, m tradeCols3) annoEvent {
	e := annoEvent{time: tr.closed, title: title}
	if !tr.openedAt.IsZero() && tr.openedAt.Before(tr.closed) {
		e.time, e.end = tr.openedAt, tr.closed
	}
	var words []string
	add := func(ok bool, v string) {
		if ok {
			if v == "" {
				v = "(none)"
			}
			words = append(words, v)
		}
	}
	add(m.strategy, tr.strategy)
	add(m.symbol, tr.symbol)
	add(m.side, tr.side)
	var tags []string
	for _, w := range words {
		tags = append(tags, tagValue(w))
	}
	if tr.pnl > 0 {
		tags = append(tags, "win")
	} else if tr.pnl < 0 {
		tags = append(tags, "loss")
	}
	e.text = strings.TrimSpace(strings.Join(words, " ") + " " + fmt.Sprintf("%+.2f USD", tr.pnl))
	e.tags = strings.Join(tags, ",")
	return e
}

// newestFirst: by closed_at, then trade id, both descending.
func newestFirst(in []trade) []trade {
	out := append([]trade(nil), in...)
	sort.Slice(out, func(i, j int) bool {
		if !out[i].closed.Equal(out[j].closed) {
			return out[i].closed.After(out[j].closed)
		}
		return out[i].id > out[j].id
	})
	return out
}

func TestAnnotationsTradesAndLargeLosses(t *testing.T) {
	all := allTrades(t)
	p := harness.Launch(t, harness.Options{})
	q := refQ("momentum")
	_, in := split(q, all)
	trs := in[""]
	if len(trs) < 1001 {
		t.Fatalf("fixture: %d momentum trades in the range (the cut needs more than 1000)", len(trs))
	}
	losses := func(thr float64) []trade {
		var out []trade
		for _, tr := range trs {
			if tr.pnl <= -thr {
				out = append(out, tr)
			}
		}
		return out
	}
	// a threshold that picks a few dozen trades, and the default: 1 % of the initial capital
	var neg []float64
	for _, tr := range trs {
		if tr.pnl < 0 {
			neg = append(neg, -tr.pnl)
		}
	}
	sort.Float64s(neg)
	thr := math.Floor(neg[len(neg)-40]*100) / 100
	mapped := tradeCols3{true, true, true}
	f := map[string]any{"strategies": []string{"momentum"}}
	with := func(kv ...any) map[string]any {
		m := map[string]any{}
		for k, v := range f {
			m[k] = v
		}
		for i := 0; i < len(kv); i += 2 {
			m[kv[i].(string)] = kv[i+1]
		}
		return m
	}
	resp := p.Query(t, pctx(nil),
		query("T", "annotations", with("events", "trades"), 100),
		query("L", "annotations", with("events", "large_losses", "threshold", thr), 100),
		query("D", "annotations", with("events", "large_losses"), 100),
		query("X", "annotations", with("events", "large_losses", "initialCapital", 2000), 100))
	for _, c := range []struct {
		ref   string
		want  []trade
		title string
	}{{"L", losses(thr), "Large loss"}, {"D", losses(1000), "Large loss"}, {"X", losses(20), "Large loss"},
		{"T", trs, "Trade"}} {
		got, fr := readAnnotations(t, mustOK(t, resp[c.ref]))
		want := newestFirst(c.want)
		cut := len(want) > 1000
		if cut {
			want = want[:1000]
		}
		var wev []annoEvent
		for _, tr := range want {
			wev = append(wev, refTradeEvent(tr, c.title, mapped))
		}
		if err := compareEvents(got, wev); err != nil {
			t.Errorf("%s: %v", c.ref, err)
		}
		if cut != hasNotice(fr, data.NoticeSeverityWarning, "row limit") {
			t.Errorf("%s: cut %v, notices %+v", c.ref, cut, fr.Meta.Notices)
		}
		t.Logf("%s: %d events (of %d matching)", c.ref, len(got), len(c.want))
	}
}

// Absent columns: no opened_at → points; no side → left out of text and
// tags; a NULL side "(none)"; a strategy's commas are ';' in its tag.
func TestAnnotationsFollowTheMapping(t *testing.T) {
	const table = "trades_annotations"
	rows := groupTrades(47)
	for i := range rows {
		if i%3 == 0 {
			rows[i].side = ""
		} else if i%3 == 1 {
			rows[i].side = "long"
		} else {
			rows[i].side = "short"
		}
		if i%5 == 0 {
			rows[i].strategy = "mö,mentum"
		}
		if i%7 == 0 {
			rows[i].opened = time.Time{}
		}
	}
	makeTradeTable(t, table, rows, tableOpts{})
	all := loadTrades(t, pg, table)
	p := harness.Launch(t, harness.Options{})
	_, in := split(refQ(), all)
	trs := newestFirst(in[""])
	if len(trs) > 1000 {
		trs = trs[:1000]
	}
	ctx := tableCtx(table)
	noCols := harness.PluginContext(table+"-nocols-ds", pg.JSONData(map[string]any{"table": table,
		"columns": map[string]any{"opened_at": nil, "side": nil}}), pgfix.Secure(), 1)
	for _, c := range []struct {
		name  string
		m     tradeCols3
		clear bool // opened_at mapped to null
	}{{"mapped", tradeCols3{true, true, true}, false}, {"no opened_at, no side", tradeCols3{true, true, false}, true}} {
		cx := ctx
		if c.clear {
			cx = noCols
		}
		got, _ := readAnnotations(t, mustOK(t, p.Query(t, cx, query("A", "annotations", map[string]any{"events": "trades"}, 100))["A"]))
		var want []annoEvent
		points := 0
		for _, tr := range trs {
			if c.clear {
				tr.openedAt = time.Time{}
			}
			e := refTradeEvent(tr, "Trade", c.m)
			if e.end.IsZero() {
				points++
			}
			want = append(want, e)
		}
		if err := compareEvents(got, want); err != nil {
			t.Errorf("%s: %v", c.name, err)
		}
		t.Logf("%s: %d events, %d points", c.name, len(got), points)
	}
}

func TestAnnotationsDrawdownEpisodes(t *testing.T) {
	all := allTrades(t)
	p := harness.Launch(t, harness.Options{})
	pct := func(e refEpisode) string { return fmt.Sprintf("%.2f%%", e.depth*100) }
	refEvents := func(q refQuery, thr float64) []annoEvent {
		before, in := split(q, all)
		var out []annoEvent
		for g, trs := range in {
			for _, e := range refEpisodes(q.capital+sumPnl(before[g]), q.from, q.to, trs) {
				if !(-e.depth > thr) {
					continue
				}
				ev := annoEvent{time: e.start, end: q.to, title: "Drawdown"}
				state, tag := "not recovered by the range end", "open"
				if e.recovered {
					ev.end, state, tag = e.end, "recovered", "recovered"
				}
				tags := []string{"drawdown"}
				if g != "" {
					ev.title = fmt.Sprintf("Drawdown (%s=%s)", q.group, g)
					tags = append(tags, tagValue(g))
				}
				ev.tags = strings.Join(append(tags, tag), ",")
				ev.text = fmt.Sprintf("Drawdown %s (%+.2f USD), deepest at %s; %s", pct(e), e.amount,
					e.valley.UTC().Format("2006-01-02 15:04:05 UTC"), state)
				out = append(out, ev)
			}
		}
		return out
	}
	grouped := refQ()
	grouped.group = "strategy"
	resp := p.Query(t, pctx(nil),
		query("D", "annotations", map[string]any{"events": "drawdown_episodes"}, 100),
		query("S", "annotations", map[string]any{"events": "drawdown_episodes", "threshold": 0.005}, 100),
		query("G", "annotations", map[string]any{"events": "drawdown_episodes", "threshold": 0, "groupBy": "strategy"}, 100))
	n := map[string]int{}
	for _, c := range []struct {
		ref string
		q   refQuery
		thr float64
	}{{"D", refQ(), 0.05}, {"S", refQ(), 0.005}, {"G", grouped, 0}} {
		got, fr := readAnnotations(t, mustOK(t, resp[c.ref]))
		n[c.ref] = len(got)
		want := refEvents(c.q, c.thr)
		if len(want) > 1000 {
			t.Fatalf("%s: fixture has %d episodes: the cut is tested elsewhere", c.ref, len(want))
		}
		if err := compareEvents(got, want); err != nil {
			t.Errorf("%s: %v", c.ref, err)
		}
		if len(fr.Meta.Notices) != 0 {
			t.Errorf("%s: notices %+v", c.ref, fr.Meta.Notices)
		}
		t.Logf("%s: %d episodes deeper than %g", c.ref, len(got), c.thr)
	}
	if n["S"] <= n["D"] || n["D"] == 0 {
		t.Errorf("fixture: %d episodes deeper than 0.5 %%, %d deeper than 5 %%: want some, and more at 0.5 %%", n["S"], n["D"])
	}
}

// refDailyLoss: the local days (in q.tz) with trades whose P&L < -thr, from
// the day's midnight to the next (the range's last day: to the range end).
func refDailyLoss(q refQuery, in map[string][]trade, thr float64) []annoEvent {
	var out []annoEvent
	last := localDay(q.to, q.tz)
	for g, trs := range in {
		sums, counts := map[time.Time]float64{}, map[time.Time]int{}
		for _, tr := range trs {
			d := localDay(tr.closed, q.tz)
			sums[d] += tr.pnl
			counts[d]++
		}
		for d, s := range sums {
			if !(s < -thr) {
				continue
			}
			end := d.AddDate(0, 0, 1)
			if d.Equal(last) {
				end = q.to
			}
			ev := annoEvent{time: d, end: end, title: "Daily loss", tags: "daily_loss"}
			if g != "" {
				ev.title = fmt.Sprintf("Daily loss (%s=%s)", q.group, g)
				ev.tags += "," + tagValue(g)
			}
			plural := "s"
			if counts[d] == 1 {
				plural = ""
			}
			ev.text = fmt.Sprintf("Daily P&L %+.2f USD (%d trade%s)", s, counts[d], plural)
			out = append(out, ev)
		}
	}
	return out
}

func TestAnnotationsDailyLoss(t *testing.T) {
	all := allTrades(t)
	p := harness.Launch(t, harness.Options{})
	ny := refQ()
	ny.tz, _ = time.LoadLocation("America/New_York")
	grouped := refQ()
	grouped.group = "symbol"
	resp := p.Query(t, pctx(nil),
		query("Z", "annotations", map[string]any{"events": "daily_loss"}, 100),
		query("T", "annotations", map[string]any{"events": "daily_loss", "threshold": 2000}, 100),
		query("N", "annotations", map[string]any{"events": "daily_loss", "timezone": "America/New_York"}, 100),
		query("G", "annotations", map[string]any{"events": "daily_loss", "groupBy": "symbol", "threshold": 100}, 100))
	for _, c := range []struct {
		ref string
		q   refQuery
		thr float64
	}{{"Z", refQ(), 0}, {"T", refQ(), 2000}, {"N", ny, 0}, {"G", grouped, 100}} {
		_, in := split(c.q, all)
		got, _ := readAnnotations(t, mustOK(t, resp[c.ref]))
		want := refDailyLoss(c.q, in, c.thr)
		if len(want) == 0 {
			t.Fatalf("%s: the fixture has no losing day", c.ref)
		}
		if err := compareEvents(got, want); err != nil {
			t.Errorf("%s: %v", c.ref, err)
		}
		t.Logf("%s: %d losing days", c.ref, len(got))
	}
}

// The row limit bounds every kind of event: the worst days, the deepest
// episodes are kept, with a warning notice.
func TestAnnotationsAreBoundedByTheRowLimit(t *testing.T) {
	all := allTrades(t)
	p := harness.Launch(t, harness.Options{})
	ctx := harness.PluginContext("trading-ds-rowlimit", pg.JSONData(map[string]any{"rowLimit": 5}), pgfix.Secure(), 1)
	resp := p.Query(t, ctx,
		query("D", "annotations", map[string]any{"events": "daily_loss"}, 100),
		query("E", "annotations", map[string]any{"events": "drawdown_episodes", "threshold": 0}, 100))
	_, in := split(refQ(), all)
	days := refDailyLoss(refQ(), in, 0)
	sort.Slice(days, func(i, j int) bool { return days[i].text < days[j].text }) // not the order: only used for the count
	got, fr := readAnnotations(t, mustOK(t, resp["D"]))
	if len(got) != 5 || !hasNotice(fr, data.NoticeSeverityWarning, "the worst days") {
		t.Errorf("daily_loss: %d events, notices %+v; want 5 and a warning", len(got), fr.Meta.Notices)
	}
	// the worst five days of the reference
	type day struct {
		ev  annoEvent
		pnl float64
	}
	var ds []day
	for _, e := range days {
		var v float64
		fmt.Sscanf(e.text, "Daily P&L %f", &v)
		ds = append(ds, day{e, v})
	}
	sort.Slice(ds, func(i, j int) bool { return ds[i].pnl < ds[j].pnl })
	var want []annoEvent
	for _, d := range ds[:5] {
		want = append(want, d.ev)
	}
	if err := compareEvents(got, want); err != nil {
		t.Errorf("daily_loss, the worst five: %v", err)
	}
	before, inE := split(refQ(), all)
	eps := refEpisodes(refQ().capital+sumPnl(before[""]), from, to, inE[""])
	got, fr = readAnnotations(t, mustOK(t, resp["E"]))
	if len(eps) <= 5 || len(got) != 5 || !hasNotice(fr, data.NoticeSeverityWarning, "the deepest drawdowns") {
		t.Fatalf("episodes: %d events of %d, notices %+v", len(got), len(eps), fr.Meta.Notices)
	}
	for i := 0; i < 5; i++ {
		if !got[i].time.Equal(eps[i].start) {
			t.Errorf("episode %d starts %v, the reference's %d-th deepest %v", i, got[i].time, i, eps[i].start)
		}
	}
}

func TestAnnotationOptionErrorsNameTheField(t *testing.T) {
	p := harness.Launch(t, harness.Options{})
	resp := p.Query(t, pctx(nil),
		query("E", "annotations", map[string]any{"events": "fills"}, 100),
		query("L", "annotations", map[string]any{"events": "large_losses", "threshold": -5}, 100),
		query("D", "annotations", map[string]any{"events": "drawdown_episodes", "threshold": 5}, 100),
		query("Y", "annotations", map[string]any{"events": "daily_loss", "threshold": "a lot"}, 100))
	for ref, field := range map[string]string{"E": "events", "L": "threshold", "D": "threshold", "Y": "threshold"} {
		r := resp[ref]
		if r.Status != 400 || r.Error == nil || !strings.HasPrefix(r.Error.Error(), field+":") {
			t.Errorf("%s: status %d error %v; want 400 naming %s", ref, r.Status, r.Error, field)
		}
	}
}
