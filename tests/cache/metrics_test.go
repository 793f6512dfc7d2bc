package cache

// The cache seen through its counters (CollectMetrics): it serves repeated
// queries (gpx_cache_hits_total), notices a changed table
// (gpx_cache_verify_failed_total), is bypassed by "cache": false, by the
// request header X-Cache-Skip and by cacheMegabytes 0, and stays within
// cacheMegabytes (gpx_cache_bytes, gpx_cache_evictions_total) while its
// answers still equal the cold ones. And the comparison the other tests
// rest on: it ignores meta.executedQueryString, nothing else.

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/data"
	"github.com/grafana/grafana-plugin-sdk-go/genproto/pluginv2"

	"github.com/algotrading/pnl-datasource/tests/harness"
)

// ask sends one query and returns its frames; a failed query fails t.
func ask(t *testing.T, p *harness.Plugin, pc *pluginv2.PluginContext, s spec, from, to time.Time,
	extra map[string]any, headers map[string]string) [][]byte {
	t.Helper()
	a, err := request(p, pc, []spec{s}, from, to, extra, headers)
	if err != nil {
		t.Fatal(err)
	}
	return a[0]
}

// moved is after − before for each gpx_cache_* metric.
func moved(before, after map[string]float64) map[string]float64 {
	d := map[string]float64{}
	for k, v := range after {
		d[k] = v - before[k]
	}
	return d
}

func short(n string) string { return strings.TrimSuffix(strings.TrimPrefix(n, "gpx_cache_"), "_total") }

// expect checks the moves of hits, misses and verify_failed (-1 = a rise
// of at least one, anyMove = not checked).
func expect(t *testing.T, what string, d map[string]float64, hits, misses, failed float64) {
	t.Helper()
	for _, c := range []struct {
		name string
		want float64
	}{{"gpx_cache_hits_total", hits}, {"gpx_cache_misses_total", misses}, {"gpx_cache_verify_failed_total", failed}} {
		got := d[c.name]
		if c.want == anyMove {
			continue
		}
		if (c.want < 0 && got < 1) || (c.want >= 0 && got != c.want) {
			want := fmt.Sprintf("%g", c.want)
			if c.want < 0 {
				want = "a rise"
			}
			t.Errorf("%s: %s moved by %g, want %s (all moves: hits %g, misses %g, verify_failed %g)", what, c.name, got,
				want, d["gpx_cache_hits_total"], d["gpx_cache_misses_total"], d["gpx_cache_verify_failed_total"])
		}
	}
}

const anyMove = -2

func sameAsCold(t *testing.T, what string, got, cold [][]byte) {
	t.Helper()
	if d := differ(got, cold); d != "" {
		t.Errorf("%s: the answer differs from the cold answer: %s", what, d)
	}
}

func TestCacheIsUsed(t *testing.T) {
	if err := reload(3000, 5); err != nil {
		t.Fatal(err)
	}
	p := harness.Launch(t, harness.Options{})
	pc := ctxFor("cache-used", pg.JSONData(map[string]any{"cacheFingerprint": true}), 1)
	from, to := dataStart.Add(5*24*time.Hour), dataStart.Add(40*24*time.Hour)
	stats := spec{"stats", map[string]any{"queryType": "stats"}}
	cold := func(s spec, to time.Time) [][]byte {
		return ask(t, p, pc, s, from, to, map[string]any{"cache": false}, nil)
	}
	step := func(what string, f func(), hits, misses, failed float64) {
		t.Helper()
		before := cacheCounters(t, p)
		f()
		expect(t, what, moved(before, cacheCounters(t, p)), hits, misses, failed)
	}

	step("the first stats query", func() { ask(t, p, pc, stats, from, to, nil, nil) }, 0, 1, 0)
	if b := cacheCounters(t, p)["gpx_cache_bytes"]; b <= 0 {
		t.Errorf("gpx_cache_bytes is %g after a query filled an entry, want > 0", b)
	}
	step("the same stats query again", func() { sameAsCold(t, "repeat", ask(t, p, pc, stats, from, to, nil, nil), cold(stats, to)) },
		1, 0, 0)
	// (sharpe needs the daily series, as "all metrics" does: the same computation)
	sub := spec{"stats metrics=[sharpe total_pnl]", map[string]any{"queryType": "stats",
		"metrics": []string{"sharpe", "total_pnl"}}}
	step("a stats query selecting other metrics (metrics is not part of the key)", func() {
		sameAsCold(t, "metrics subset", ask(t, p, pc, sub, from, to, nil, nil), cold(sub, to))
	}, 1, 0, 0)
	later := to.Add(36 * time.Hour)
	step("a refresh whose range end moved forward", func() {
		sameAsCold(t, "refresh", ask(t, p, pc, stats, from, later, nil, nil), cold(stats, later))
	}, 1, 0, 0)
	// drawdown folds the same entry (the key is the rows, not the kind)
	dd := spec{"drawdown", map[string]any{"queryType": "drawdown"}}
	step("a drawdown query on the stats query's key", func() {
		sameAsCold(t, "drawdown", ask(t, p, pc, dd, from, later, nil, nil), cold(dd, later))
	}, 1, 0, 0)
	ddm := spec{"drawdown money groupBy=strategy", map[string]any{"queryType": "drawdown", "drawdownMode": "money",
		"groupBy": "strategy"}}
	step("a drawdown query on a new key", func() {
		sameAsCold(t, "drawdown money", ask(t, p, pc, ddm, from, later, nil, nil), cold(ddm, later))
	}, 0, 1, 0)
	step("the same drawdown query again", func() {
		sameAsCold(t, "drawdown money again", ask(t, p, pc, ddm, from, later, nil, nil), cold(ddm, later))
	}, 1, 0, 0)
	step(`"cache": false on a cached query`, func() { cold(stats, later) }, 0, 0, 0)
	skip := map[string]string{"X-Cache-Skip": "true"}
	step("header X-Cache-Skip: true on a cached query", func() { ask(t, p, pc, stats, from, later, nil, skip) }, 0, 0, 0)

	// A key never asked for: the bypasses must neither read nor fill it.
	bd := spec{"breakdown groupBy=symbol", map[string]any{"queryType": "breakdown", "groupBy": "symbol"}}
	step(`"cache": false on a new key`, func() { cold(bd, later) }, 0, 0, 0)
	step("header X-Cache-Skip: true on a new key", func() { ask(t, p, pc, bd, from, later, nil, skip) }, 0, 0, 0)
	step("the new key through the cache after both bypasses (not filled by them)", func() {
		sameAsCold(t, "breakdown", ask(t, p, pc, bd, from, later, nil, nil), cold(bd, later))
	}, 0, 1, 0)

	// A trade inserted inside the range already read: the fingerprint no
	// longer matches, the entry is dropped and the answer recomputed.
	exec(t, (&world{rng: newRand(1)}).insertSQL(from.Add(10*24*time.Hour+1234567*time.Microsecond)))
	step("stats after an insert inside the cached range", func() {
		sameAsCold(t, "insert-old", ask(t, p, pc, stats, from, later, nil, nil), cold(stats, later))
	}, 0, anyMove, -1) // the recomputation may count as a miss too
	// Whether the recomputation refilled the entry or the next query does,
	// two more queries include a hit.
	step("stats twice more after the recomputation", func() {
		ask(t, p, pc, stats, from, later, nil, nil)
		ask(t, p, pc, stats, from, later, nil, nil)
	}, -1, anyMove, 0)

	// cacheMegabytes 0: the cache is off for that data source.
	// Default settings and no change log: an entry could only be checked by
	// a scan costing about what the read does, so nothing is cached.
	plain := ctxFor("cache-plain", pg.JSONData(nil), 1)
	step("default settings without the change log (no cacheFingerprint): no cache", func() {
		for i := 0; i < 2; i++ {
			sameAsCold(t, "default settings", ask(t, p, plain, stats, from, later, nil, nil), cold(stats, later))
		}
	}, 0, 0, 0)

	off := ctxFor("cache-off", pg.JSONData(map[string]any{"cacheMegabytes": 0}), 1)
	before := cacheCounters(t, p)
	for i := 0; i < 3; i++ {
		sameAsCold(t, "cacheMegabytes 0", ask(t, p, off, stats, from, later, nil, nil), cold(stats, later))
	}
	if d := moved(before, cacheCounters(t, p)); d["gpx_cache_hits_total"] != 0 || d["gpx_cache_bytes"] != 0 {
		t.Errorf("cacheMegabytes 0: three identical queries moved hits by %g and gpx_cache_bytes by %g, want 0 and 0",
			d["gpx_cache_hits_total"], d["gpx_cache_bytes"])
	}
}

// TestCacheBound: cacheMegabytes 1 over 100k trades, many different
// queries (ranges, kinds, groupBy, filters): gpx_cache_bytes never exceeds
// 1 MiB, entries are evicted, and every answer still equals the cold one
// (also for queries asked again after their entry was evicted).
func TestCacheBound(t *testing.T) {
	const bound = 1 << 20
	for _, sql := range []string{"DROP DATABASE IF EXISTS trading_big", "CREATE DATABASE trading_big OWNER grafana"} {
		if out, err := pg.Psql("postgres", sql); err != nil {
			t.Fatal(sql, err, out)
		}
	}
	root := harness.RepoRoot()
	if err := pg.PsqlFiles("trading_big", map[string]string{"n": "100000", "start": "'2025-01-01'", "days": "365",
		"seed": "3"}, root+"/sql/schema.sql", root+"/sql/demo_data.sql"); err != nil {
		t.Fatal(err)
	}
	for _, sql := range []string{"ALTER TABLE trades OWNER TO grafana", "VACUUM ANALYZE trades"} {
		if out, err := pg.Psql("trading_big", sql); err != nil {
			t.Fatal(sql, err, out)
		}
	}
	p := harness.Launch(t, harness.Options{})
	pc := ctxFor("cache-bound", pg.JSONData(map[string]any{"database": "trading_big", "cacheMegabytes": 1, "cacheFingerprint": true}), 1)
	start := cacheCounters(t, p)
	kinds := []map[string]any{{"queryType": "stats"}, {"queryType": "drawdown"}, {"queryType": "drawdown_episodes"},
		{"queryType": "breakdown", "groupBy": "strategy"}, {"queryType": "daily_pnl"}}
	groups := []string{"none", "strategy", "symbol", "side"}
	filters := []map[string]any{nil, {"strategies": []string{"momentum", "breakout"}},
		{"adhocFilters": []map[string]string{{"key": "exchange", "operator": "!=", "value": "oanda"}}}}
	type asked struct {
		s        spec
		from, to time.Time
	}
	var all []asked
	maxBytes := 0.0
	one := func(a asked, what string) {
		t.Helper()
		c1 := ask(t, p, pc, a.s, a.from, a.to, nil, nil)
		c2 := ask(t, p, pc, a.s, a.from, a.to, nil, nil)
		cold := ask(t, p, pc, a.s, a.from, a.to, map[string]any{"cache": false}, nil)
		where := fmt.Sprintf("%s %s %s … %s", what, a.s.name, a.from.Format(time.RFC3339), a.to.Format(time.RFC3339))
		sameAsCold(t, where+" (1st)", c1, cold)
		sameAsCold(t, where+" (2nd)", c2, cold)
		b := cacheCounters(t, p)["gpx_cache_bytes"]
		if b > maxBytes {
			maxBytes = b
		}
		if b > bound {
			t.Fatalf("after %s: gpx_cache_bytes = %g, more than cacheMegabytes 1 (%d)", where, b, bound)
		}
	}
	for i := 0; i < 60; i++ {
		js := map[string]any{}
		for k, v := range kinds[i%len(kinds)] {
			js[k] = v
		}
		if _, ok := js["groupBy"]; !ok {
			js["groupBy"] = groups[(i/len(kinds))%len(groups)]
		}
		for k, v := range filters[i%len(filters)] {
			js[k] = v
		}
		from := dataStart.Add(time.Duration(i*6) * 24 * time.Hour)
		a := asked{spec{fmt.Sprintf("%s(groupBy=%v filter=%d)", js["queryType"], js["groupBy"], i%len(filters)), js},
			from, from.Add(5 * 24 * time.Hour)}
		all = append(all, a)
		one(a, fmt.Sprintf("query %d", i))
	}
	// Whole-year queries: entries larger than the bound, if kept at all.
	year := dataStart.Add(365 * 24 * time.Hour)
	for _, k := range []string{"stats", "drawdown"} {
		one(asked{spec{k + " (whole year)", map[string]any{"queryType": k}}, dataStart, year}, "large")
	}
	// The first queries again: their entries were evicted long ago.
	for i, a := range all[:10] {
		one(a, fmt.Sprintf("query %d asked again", i))
	}
	d := moved(start, cacheCounters(t, p))
	t.Logf("cacheMegabytes 1: %g hits, %g misses, %g evictions, at most %g bytes held", d["gpx_cache_hits_total"],
		d["gpx_cache_misses_total"], d["gpx_cache_evictions_total"], maxBytes)
	if d["gpx_cache_evictions_total"] < 1 {
		t.Errorf("gpx_cache_evictions_total did not rise over %d different queries of ~1400 trades each within "+
			"cacheMegabytes 1 (at most %g bytes were held): entries of that size should be admitted and the least "+
			"recently used evicted", len(all), maxBytes)
	}
	if d["gpx_cache_hits_total"] < 1 {
		t.Errorf("no cache hit: each query was asked twice in a row, so the second should be served from its entry")
	}
}

// TestComparisonSeesChanges: the comparison the other tests rest on sees a
// change of one trade's P&L by 1e-8, and ignores executedQueryString (which
// the plugin does fill).
func TestComparisonSeesChanges(t *testing.T) {
	if err := reload(3000, 5); err != nil {
		t.Fatal(err)
	}
	p := harness.Launch(t, harness.Options{})
	pc := ctxFor("cache-compare", pg.JSONData(map[string]any{"cacheFingerprint": true}), 1)
	from, to := dataStart.Add(3*24*time.Hour), dataStart.Add(20*24*time.Hour)
	stats := spec{"stats", map[string]any{"queryType": "stats", "cache": false}}
	a := ask(t, p, pc, stats, from, to, nil, nil)
	b := ask(t, p, pc, stats, from, to, nil, nil)
	f, err := data.UnmarshalArrowFrame(a[0])
	if err != nil {
		t.Fatal(err)
	}
	if f.Meta == nil || f.Meta.ExecutedQueryString == "" {
		t.Errorf("the stats frame has no meta.executedQueryString: the comparison's exception is not exercised")
	}
	if d := differ(a, b); d != "" {
		t.Errorf("two cold answers of an unchanged table differ: %s", d)
	}
	w := &world{t: t, rng: newRand(2)}
	id, _, ok := w.pickTrade(inRange(&sequence{from: from, to: to}))
	if !ok {
		t.Fatal("no trade in range")
	}
	exec(t, fmt.Sprintf("UPDATE trades SET realized_pnl = realized_pnl + 0.00000001 WHERE trade_id = %d", id))
	c := ask(t, p, pc, stats, from, to, nil, nil)
	d := differ(c, a)
	if !strings.Contains(d, `"total_pnl"`) {
		t.Errorf("after a P&L change of 1e-8 the comparison reports %q, want the field total_pnl named", d)
	}
	t.Logf("a P&L change of 1e-8 is reported as: %s", d)
}

// TestCacheChangeLog: with sql/cache_changes.sql installed the cache is
// checked through the log (gpx_cache_checks_total{method="log"}); an old
// trade inserted is narrowed to its hours (a hit, not a failed check); a
// trigger disabled makes the log untrusted and the fingerprint checks
// again — an update the log never saw is still noticed.
func TestCacheChangeLog(t *testing.T) {
	if err := reload(3000, 9); err != nil {
		t.Fatal(err)
	}
	installChangeLog(t)
	p := harness.Launch(t, harness.Options{})
	pc := ctxFor("cache-log", pg.JSONData(map[string]any{"cacheFingerprint": true}), 1)
	from, to := dataStart.Add(5*24*time.Hour), dataStart.Add(40*24*time.Hour)
	stats := spec{"stats", map[string]any{"queryType": "stats"}}
	cold := func() [][]byte { return ask(t, p, pc, stats, from, to, map[string]any{"cache": false}, nil) }
	checks := func() (float64, float64) {
		m := metrics(t, p)
		return m[`gpx_cache_checks_total{method="log"}`], m[`gpx_cache_checks_total{method="fingerprint"}`]
	}
	ask(t, p, pc, stats, from, to, nil, nil) // fills
	l0, f0 := checks()
	before := cacheCounters(t, p)
	exec(t, (&world{rng: newRand(2)}).insertSQL(from.Add(20*24*time.Hour+777*time.Microsecond)))
	sameAsCold(t, "insert-old through the log", ask(t, p, pc, stats, from, to, nil, nil), cold())
	expect(t, "insert-old through the log", moved(before, cacheCounters(t, p)), 1, 0, 0)
	if l1, f1 := checks(); l1 != l0+1 || f1 != f0 {
		t.Errorf("checks by the log %v → %v, by the fingerprint %v → %v; want one more by the log", l0, l1, f0, f1)
	}

	exec(t, "ALTER TABLE trades DISABLE TRIGGER gpx_trade_changes_upd")
	exec(t, fmt.Sprintf("UPDATE trades SET realized_pnl = -realized_pnl WHERE trade_id = (SELECT min(trade_id) FROM trades "+
		"WHERE closed_at > '%s' AND realized_pnl <> 0)", from.Add(24*time.Hour).Format(time.RFC3339Nano)))
	l1, f1 := checks()
	sameAsCold(t, "an update with the log's trigger disabled", ask(t, p, pc, stats, from, to, nil, nil), cold())
	if l2, f2 := checks(); l2 != l1 || f2 != f1+1 {
		t.Errorf("with a trigger disabled: checks by the log %v → %v, by the fingerprint %v → %v; want the fingerprint", l1,
			l2, f1, f2)
	}
}
