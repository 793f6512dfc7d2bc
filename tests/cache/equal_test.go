package cache

// TestCacheEqualsCold: random, seeded sequences of table changes and
// dashboard refreshes; after each step every cached kind (and the kinds
// that may become cached) answers the same through the cache — twice in a
// row — as cold ("cache": false) and as a fresh instance does.
//
// A sequence fixes a range start, filters, a groupBy and a time zone, and
// a range end that moves forward when new trades arrive (a dashboard
// refresh). Each step applies one mutation:
//
//	insert-new      1–4 trades after the previous end, the end moves to cover them
//	insert-old      1–3 trades inside the range already read (also exactly at the
//	                range end, and tied with an existing trade's closed_at)
//	update-pnl      a trade in range gets another P&L (sometimes by 1e-8)
//	update-other    a trade in range gets other fees, side, opened_at or qty
//	move-within     a trade's closed_at moves within the range
//	move-out        a trade's closed_at moves before the start or after the end
//	move-in         a trade outside the range moves into it
//	delete          a trade (mostly one in range) is deleted
//	truncate        the table is emptied, then (mostly) reloaded with other trades
//	settings        the data source is saved: new lastUpdated, one jsonData field changed
//	timezone        the queries' timezone option changes
//	none            nothing changes (half the time the end moves forward anyway)
//
// CACHE_SEED replays a run (the seed is logged, and named in every
// failure); CACHE_SEQUENCES sets how many sequences run.

import (
	"fmt"
	"math"
	"math/rand"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/genproto/pluginv2"

	"github.com/algotrading/pnl-datasource/tests/harness"
)

const stepsPerSequence = 12

func envInt(t *testing.T, name string, def int64) int64 {
	s := os.Getenv(name)
	if s == "" {
		return def
	}
	v, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		t.Fatalf("%s=%q: not an integer", name, s)
	}
	return v
}

// world is the state of one TestCacheEqualsCold run.
type world struct {
	t        *testing.T
	rng      *rand.Rand
	seed     int64
	nseq     int64
	p        *harness.Plugin
	settings map[string]any // jsonData of the data source under test
	updated  int64          // its lastUpdatedMS
	fresh    int64          // lastUpdatedMS of the fresh instance: one more per step
}

// sequence is what stays fixed in one sequence, but for to and tz.
type sequence struct {
	from, to   time.Time
	tz         string // "" = not sent (the settings' zone)
	groupBy    string
	filter     map[string]any
	filterName string
	rolling    string // rolling's metric
	period     string // period_returns' period
}

const uid = "cache-eq"

func TestCacheEqualsCold(t *testing.T) { equalsCold(t) }

// TestCacheEqualsColdWithChangeLog: the same with sql/cache_changes.sql
// installed, so the cache is checked through the change log (and narrows a
// change to the hours after it) instead of the fingerprint.
func TestCacheEqualsColdWithChangeLog(t *testing.T) {
	installChangeLog(t)
	p := equalsCold(t)
	m := metrics(t, p)
	if log, fp := m[`gpx_cache_checks_total{method="log"}`], m[`gpx_cache_checks_total{method="fingerprint"}`]; log == 0 || fp != 0 {
		t.Fatalf("with the change log installed: %v checks by the log, %v by the fingerprint; want all by the log", log, fp)
	}
}

// installChangeLog installs sql/cache_changes.sql on the trades table for
// the test, and removes its triggers after it.
func installChangeLog(t *testing.T) {
	t.Helper()
	if err := pg.PsqlFiles("trading", map[string]string{"table": "trades"},
		filepath.Join(harness.RepoRoot(), "sql", "cache_changes.sql")); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		exec(t, "DROP TRIGGER gpx_trade_changes_ins ON trades; DROP TRIGGER gpx_trade_changes_upd ON trades; "+
			"DROP TRIGGER gpx_trade_changes_del ON trades; DROP TRIGGER gpx_trade_changes_trunc ON trades")
	})
}

func equalsCold(t *testing.T) *harness.Plugin {
	w := &world{t: t, seed: envInt(t, "CACHE_SEED", time.Now().UnixNano()%1000000), nseq: envInt(t, "CACHE_SEQUENCES", 6)}
	t.Logf("seed %d, %d sequences of %d steps (replay: CACHE_SEED=%d CACHE_SEQUENCES=%d)", w.seed, w.nseq,
		stepsPerSequence, w.seed, w.nseq)
	w.rng = rand.New(rand.NewSource(w.seed))
	if err := reload(3000, int(w.seed%1000)+1); err != nil {
		t.Fatal(err)
	}
	w.p = harness.Launch(t, harness.Options{})
	w.settings = pg.JSONData(map[string]any{"cacheFingerprint": true}) // checked by the fingerprint where no change log
	w.updated = 1
	counts := map[string]int{}
	for q := int64(0); q < w.nseq; q++ {
		s := w.newSequence()
		t.Logf("sequence %d: %s … %s, groupBy %s, filter %s", q, s.from.Format(time.RFC3339), s.to.Format(time.RFC3339),
			s.groupBy, s.filterName)
		// the first refresh of the range: the cache fills
		w.check(q, -1, "first query", "", s)
		for step := 0; step < stepsPerSequence; step++ {
			kind := w.pickMutation()
			what := w.mutate(kind, s)
			counts[kind]++
			w.check(q, step, kind, what, s)
		}
	}
	t.Logf("mutations applied: %v", counts)
	return w.p
}

func (w *world) newSequence() *sequence {
	r := w.rng
	from := dataStart.Add(time.Duration(r.Int63n(int64(25 * 24 * time.Hour)))).Truncate(time.Millisecond)
	s := &sequence{from: from, to: from.Add(time.Duration(5*24*int64(time.Hour) + r.Int63n(int64(25*24*time.Hour)))).
		Truncate(time.Millisecond)}
	s.tz = []string{"", "", "UTC", "America/New_York", "Asia/Kolkata"}[r.Intn(5)]
	s.groupBy = []string{"none", "none", "strategy", "symbol"}[r.Intn(4)]
	filters := []struct {
		name string
		f    map[string]any
	}{
		{"none", nil},
		{"strategies momentum,breakout,stat_arb", map[string]any{"strategies": []string{"momentum", "breakout", "stat_arb"}}},
		{"adhoc symbol != ETHUSDT", map[string]any{"adhocFilters": []map[string]string{
			{"key": "symbol", "operator": "!=", "value": "ETHUSDT"}}}},
		{"strategies mean_reversion + adhoc side = long", map[string]any{"strategies": []string{"mean_reversion"},
			"adhocFilters": []map[string]string{{"key": "side", "operator": "=", "value": "long"}}}},
		{"adhoc strategy =~ m.*", map[string]any{"adhocFilters": []map[string]string{
			{"key": "strategy", "operator": "=~", "value": "m.*"}}}},
	}
	f := filters[r.Intn(len(filters))]
	s.filter, s.filterName = f.f, f.name
	s.rolling = []string{"sharpe", "pnl", "win_rate"}[r.Intn(3)]
	s.period = []string{"week", "month"}[r.Intn(2)]
	return s
}

// specs are the queries of one step.
func (w *world) specs(s *sequence) []spec {
	base := func(kind string, more map[string]any) spec {
		js := map[string]any{"queryType": kind}
		for k, v := range s.filter {
			js[k] = v
		}
		if s.tz != "" {
			js["timezone"] = s.tz
		}
		for k, v := range more {
			js[k] = v
		}
		var parts []string
		for _, k := range []string{"groupBy", "metrics", "drawdownMode", "metric", "period"} {
			if v, ok := more[k]; ok {
				parts = append(parts, fmt.Sprintf("%s=%v", k, v))
			}
		}
		return spec{name: kind + "(" + strings.Join(parts, " ") + ")", js: js}
	}
	all := []string{"total_pnl", "trade_count", "win_rate", "max_drawdown", "sharpe", "sortino", "daily_loss",
		"profit_factor", "current_streak", "exposure", "avg_holding_time", "long_win_rate"}
	sub := []string{}
	for _, i := range w.rng.Perm(len(all))[:1+w.rng.Intn(4)] {
		sub = append(sub, all[i])
	}
	g := s.groupBy
	return []spec{
		base("stats", map[string]any{"groupBy": g}),
		base("stats", map[string]any{"groupBy": g, "metrics": sub}),
		base("breakdown", map[string]any{"groupBy": "strategy"}),
		base("breakdown", map[string]any{"groupBy": "symbol"}),
		base("drawdown_episodes", map[string]any{"groupBy": g, "limit": 20}),
		base("drawdown", map[string]any{"groupBy": g}),
		base("drawdown", map[string]any{"groupBy": g, "drawdownMode": "money"}),
		base("daily_pnl", map[string]any{"groupBy": g}),
		base("rolling", map[string]any{"groupBy": g, "window": 7, "metric": s.rolling}),
		base("period_returns", map[string]any{"groupBy": g, "period": s.period}),
	}
}

// check runs the step's queries through the cache twice, cold, and on a
// fresh instance, and requires every answer to equal the cold one.
func (w *world) check(q int64, step int, kind, what string, s *sequence) {
	t := w.t
	t.Helper()
	specs := w.specs(s)
	pc := ctxFor(uid, w.settings, w.updated)
	w.fresh++
	fresh := ctxFor("cache-eq-fresh", w.settings, w.fresh)
	where := fmt.Sprintf("seed %d (replay: CACHE_SEED=%d CACHE_SEQUENCES=%d), sequence %d step %d, mutation %s",
		w.seed, w.seed, w.nseq, q, step, kind)
	if what != "" {
		where += " [" + what + "]"
	}
	where += fmt.Sprintf(", range %s … %s, groupBy %s, filter %s, timezone %q", s.from.Format(time.RFC3339Nano),
		s.to.Format(time.RFC3339Nano), s.groupBy, s.filterName, s.tz)
	run := func(name string, pc *pluginv2.PluginContext, extra map[string]any) [][][]byte {
		a, err := request(w.p, pc, specs, s.from, s.to, extra, nil)
		if err != nil {
			t.Fatalf("%s: %s request: %v", where, name, err)
		}
		return a
	}
	cached1 := run("cached (1st)", pc, nil)
	cached2 := run("cached (2nd)", pc, nil)
	cold := run("cold", pc, map[string]any{"cache": false})
	freshA := run("fresh instance", fresh, nil)
	bad := 0
	for i, sp := range specs {
		for _, got := range []struct {
			name string
			a    [][]byte
		}{{"cached (1st)", cached1[i]}, {"cached (2nd)", cached2[i]}, {"fresh-instance", freshA[i]}} {
			if d := differ(got.a, cold[i]); d != "" {
				bad++
				js := dataQuery(refID(i), sp, s.from, s.to, nil).Json
				t.Errorf("%s:\n  query %s %s\n  the %s answer differs from the cold answer: %s", where, sp.name, js, got.name, d)
			}
		}
	}
	if bad > 0 {
		t.FailNow() // later steps would only repeat the failure
	}
}

// ---- mutations ----

var mutationWeights = []struct {
	kind string
	w    int
}{
	{"insert-new", 6}, {"insert-old", 4}, {"update-pnl", 4}, {"update-other", 2}, {"move-within", 2},
	{"move-out", 2}, {"move-in", 2}, {"delete", 3}, {"truncate", 1}, {"settings", 2}, {"timezone", 2}, {"none", 3},
}

func (w *world) pickMutation() string {
	total := 0
	for _, m := range mutationWeights {
		total += m.w
	}
	n := w.rng.Intn(total)
	for _, m := range mutationWeights {
		if n < m.w {
			return m.kind
		}
		n -= m.w
	}
	return "none"
}

// ts is a timestamptz literal for t, to the microsecond.
func ts(t time.Time) string {
	return fmt.Sprintf("(timestamptz 'epoch' + %d * interval '1 microsecond')", t.UnixMicro())
}

// between is a random instant in (a, b], to the microsecond.
func (w *world) between(a, b time.Time) time.Time {
	d := b.Sub(a).Microseconds()
	if d <= 0 {
		return b
	}
	return a.Add(time.Duration(1+w.rng.Int63n(d)) * time.Microsecond)
}

var (
	strategies = []string{"momentum", "mean_reversion", "breakout", "stat_arb", "market_making"}
	symbols    = []string{"BTCUSDT", "ETHUSDT", "SOLUSDT", "AAPL", "MSFT", "EURUSD"}
)

// insertSQL inserts one random trade closing at closed (id: the largest + 1).
func (w *world) insertSQL(closed time.Time) string {
	r := w.rng
	side := []string{"long", "short"}[r.Intn(2)]
	qty := 0.01 + float64(r.Intn(10000))/1000
	entry := 100 + float64(r.Intn(1000000))/100
	exit := entry * (1 + (r.Float64()-0.5)/20)
	fees := math.Round(qty*(entry+exit)*0.0002*1e8) / 1e8
	pnl := math.Round((r.NormFloat64()*80)*1e8) / 1e8
	if r.Intn(10) == 0 {
		pnl = 0
	}
	hold := 1 + r.Intn(86400)
	return fmt.Sprintf("INSERT INTO trades (trade_id, account, exchange, strategy, symbol, side, qty, entry_price, exit_price, "+
		"expected_entry_price, expected_exit_price, opened_at, closed_at, fees, realized_pnl, entry_tag, exit_reason) "+
		"SELECT (SELECT coalesce(max(trade_id), 0) + 1 FROM trades), 'alpha-1', 'binance', '%s', '%s', '%s', %g, %.2f, %.2f, "+
		"%.2f, NULL, %s - interval '%d seconds', %s, %g, %.8f, 'ema_cross', 'roi';",
		strategies[r.Intn(len(strategies))], symbols[r.Intn(len(symbols))], side, qty, entry, exit, entry, ts(closed), hold,
		ts(closed), fees, pnl)
}

// pickTrade returns the trade_id and closed_at of a random trade matching
// cond (in (closed_at, trade_id) order, so the seed decides), ok false if none.
func (w *world) pickTrade(cond string) (int64, time.Time, bool) {
	n, _ := strconv.Atoi(exec(w.t, "SELECT count(*) FROM trades WHERE "+cond))
	if n == 0 {
		return 0, time.Time{}, false
	}
	out := exec(w.t, fmt.Sprintf("SELECT trade_id, (extract(epoch FROM closed_at) * 1000000)::int8 FROM trades WHERE %s "+
		"ORDER BY closed_at, trade_id OFFSET %d LIMIT 1", cond, w.rng.Intn(n)))
	f := strings.Split(out, "\t")
	id, _ := strconv.ParseInt(f[0], 10, 64)
	us, _ := strconv.ParseInt(f[1], 10, 64)
	return id, time.UnixMicro(us).UTC(), true
}

func inRange(s *sequence) string {
	return fmt.Sprintf("closed_at >= %s AND closed_at <= %s", ts(s.from), ts(s.to))
}

// mutate applies one mutation and says what it did.
func (w *world) mutate(kind string, s *sequence) string {
	r := w.rng
	switch kind {
	case "insert-new":
		end := s.to.Add(time.Millisecond + time.Duration(r.Int63n(int64(36*time.Hour)))).Truncate(time.Millisecond)
		n := 1 + r.Intn(4)
		var sql []string
		var at []string
		var last time.Time
		for i := 0; i < n; i++ {
			c := w.between(s.to, end)
			if i > 0 && r.Intn(3) == 0 {
				c = last // two new trades closing at the same instant
			}
			last = c
			sql = append(sql, w.insertSQL(c))
			at = append(at, c.Format(time.RFC3339Nano))
		}
		exec(w.t, strings.Join(sql, "\n"))
		what := fmt.Sprintf("%d trades at %s; end %s → %s", n, strings.Join(at, ", "), s.to.Format(time.RFC3339Nano),
			end.Format(time.RFC3339Nano))
		s.to = end
		return what
	case "insert-old":
		n := 1 + r.Intn(3)
		var sql, at []string
		for i := 0; i < n; i++ {
			c := w.between(s.from, s.to)
			switch r.Intn(4) {
			case 0:
				c = s.to // exactly at the range end already read
			case 1:
				if _, tc, ok := w.pickTrade(inRange(s)); ok {
					c = tc // tied with an existing trade, with a larger trade_id
				}
			}
			sql = append(sql, w.insertSQL(c))
			at = append(at, c.Format(time.RFC3339Nano))
		}
		exec(w.t, strings.Join(sql, "\n"))
		return fmt.Sprintf("%d trades at %s", n, strings.Join(at, ", "))
	case "update-pnl":
		id, _, ok := w.pickTrade(inRange(s))
		if !ok {
			return "no trade in range: nothing updated"
		}
		set := []string{"realized_pnl + 0.00000001", "-realized_pnl", fmt.Sprintf("realized_pnl + %.8f", r.NormFloat64()*200),
			"0"}[r.Intn(4)]
		exec(w.t, fmt.Sprintf("UPDATE trades SET realized_pnl = %s WHERE trade_id = %d", set, id))
		return fmt.Sprintf("trade %d: realized_pnl = %s", id, set)
	case "update-other":
		id, _, ok := w.pickTrade(inRange(s))
		if !ok {
			return "no trade in range: nothing updated"
		}
		set := []string{"fees = fees + 1.5", "side = CASE side WHEN 'long' THEN 'short' ELSE 'long' END",
			"opened_at = opened_at - interval '3 hours'", "qty = qty * 2"}[r.Intn(4)]
		exec(w.t, fmt.Sprintf("UPDATE trades SET %s WHERE trade_id = %d", set, id))
		return fmt.Sprintf("trade %d: %s", id, set)
	case "move-within", "move-out", "move-in":
		cond := inRange(s)
		if kind == "move-in" {
			cond = "NOT (" + cond + ")"
		}
		id, old, ok := w.pickTrade(cond)
		if !ok {
			return "no trade to move"
		}
		var to time.Time
		switch {
		case kind == "move-out" && r.Intn(2) == 0:
			to = s.from.Add(-time.Duration(1 + r.Int63n(int64(5*24*time.Hour))))
		case kind == "move-out":
			to = s.to.Add(time.Duration(1 + r.Int63n(int64(24*time.Hour))))
		default:
			to = w.between(s.from, s.to)
		}
		to = to.Truncate(time.Microsecond)
		exec(w.t, fmt.Sprintf("UPDATE trades SET opened_at = opened_at + (%s - closed_at), closed_at = %s WHERE trade_id = %d",
			ts(to), ts(to), id))
		return fmt.Sprintf("trade %d: closed_at %s → %s", id, old.Format(time.RFC3339Nano), to.Format(time.RFC3339Nano))
	case "delete":
		cond := inRange(s)
		if r.Intn(5) == 0 {
			cond = "true"
		}
		id, at, ok := w.pickTrade(cond)
		if !ok {
			return "no trade to delete"
		}
		exec(w.t, fmt.Sprintf("DELETE FROM trades WHERE trade_id = %d", id))
		return fmt.Sprintf("trade %d (closed %s)", id, at.Format(time.RFC3339Nano))
	case "truncate":
		exec(w.t, "TRUNCATE trades")
		if r.Intn(4) == 0 {
			return "table left empty"
		}
		n, seed := 300+r.Intn(2700), 1+r.Intn(1000)
		if err := reload(n, seed); err != nil {
			w.t.Fatal(err)
		}
		return fmt.Sprintf("reloaded with %d demo trades, seed %d", n, seed)
	case "settings":
		js := map[string]any{}
		for k, v := range w.settings {
			js[k] = v
		}
		field := []string{"initialCapital", "currency", "annualization", "riskFreeRate", "rowLimit"}[r.Intn(5)]
		val := map[string][]any{
			"initialCapital": {50000, 100000, 250000, 1000000},
			"currency":       {"USD", "EUR", "GBP"},
			"annualization":  {252, 365},
			"riskFreeRate":   {0, 0.02, 0.05},
			"rowLimit":       {1000, 500, 2000},
		}[field]
		js[field] = val[r.Intn(len(val))]
		w.settings = js
		w.updated++
		return fmt.Sprintf("lastUpdated %d, jsonData.%s = %v", w.updated, field, js[field])
	case "timezone":
		old := s.tz
		for s.tz == old {
			s.tz = []string{"", "UTC", "America/New_York", "Asia/Kolkata", "Europe/Berlin", "Pacific/Chatham"}[r.Intn(6)]
		}
		return fmt.Sprintf("timezone %q → %q", old, s.tz)
	}
	if r.Intn(2) == 0 {
		end := s.to.Add(time.Millisecond + time.Duration(r.Int63n(int64(6*time.Hour)))).Truncate(time.Millisecond)
		what := fmt.Sprintf("end %s → %s", s.to.Format(time.RFC3339Nano), end.Format(time.RFC3339Nano))
		s.to = end
		return what
	}
	return "same range"
}

func newRand(seed int64) *rand.Rand { return rand.New(rand.NewSource(seed)) }
