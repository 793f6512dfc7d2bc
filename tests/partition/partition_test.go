// Package partition checks the plugin on a trade table partitioned by month
// (sql/partitioned.sql, issue 12): the same generated trades in a plain
// table (database "trading") and in the partitioned one (database
// "tradingpart", same table name, so the SQL text is identical); every query
// kind of the registry answers the same frames from both; the plans of the
// plugin's own statements — logged by auto_explain in the test server, so
// they are exactly what ran, parameters and all — read only the partitions
// that overlap the range, with plan-time pruning (the plugin's custom plans)
// and with executor-startup pruning ("Subplans Removed", generic plans);
// CheckHealth estimates the count from the partitions.
package partition

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/data"
	"github.com/grafana/grafana-plugin-sdk-go/genproto/pluginv2"

	"github.com/algotrading/pnl-datasource/tests/harness"
	"github.com/algotrading/pnl-datasource/tests/pgfix"
)

const (
	nTrades  = 240000 // above CheckHealth's 200,000 exact-count limit
	partDB   = "tradingpart"
	firstDay = "2025-01-01"
	months   = 12
)

var (
	pg        *pgfix.Server
	dataStart = time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	dataEnd   = dataStart.AddDate(0, 0, 365)
)

func fail(err error) {
	fmt.Fprintln(os.Stderr, err)
	if pg != nil {
		pg.Close()
	}
	os.Exit(1)
}

func TestMain(m *testing.M) {
	var err error
	if pg, err = pgfix.StartMain(); err != nil {
		fail(err)
	}
	// auto_explain logs the plan of every statement of the partitioned
	// database (set there after loading, below) as JSON.
	if _, err := pg.Psql("postgres", "ALTER SYSTEM SET shared_preload_libraries = 'auto_explain'"); err != nil {
		fail(err)
	}
	if err := pg.Down(); err != nil {
		fail(err)
	}
	if err := pg.Up(); err != nil {
		fail(err)
	}
	for _, s := range []string{"ALTER SYSTEM SET auto_explain.log_format = 'json'",
		"ALTER SYSTEM SET auto_explain.log_nested_statements = on", "SELECT pg_reload_conf()"} {
		if _, err := pg.Psql("postgres", s); err != nil {
			fail(err)
		}
	}
	root := harness.RepoRoot()
	// plain: sql/schema.sql + demo data, VACUUM ANALYZE (pgfix)
	if err := pg.LoadDemo(root, nTrades, 365, 11, firstDay); err != nil {
		fail(err)
	}
	// partitioned: sql/partitioned.sql, then the same demo data (it is a
	// pure function of n, start, days and seed)
	if _, err := pg.Psql("postgres", "CREATE DATABASE "+partDB+" OWNER grafana"); err != nil {
		fail(err)
	}
	vars := map[string]string{"n": strconv.Itoa(nTrades), "start": "'" + firstDay + "'", "days": "365", "seed": "11",
		"months": strconv.Itoa(months)}
	if err := pg.PsqlFiles(partDB, vars, filepath.Join(root, "sql", "partitioned.sql"),
		filepath.Join(root, "sql", "demo_data.sql")); err != nil {
		fail(err)
	}
	// What autovacuum does: vacuum and analyze each partition, never the
	// partitioned parent (whose reltuples stays -1).
	vac := filepath.Join(pg.SockDir, "vacuum-leaves.sql")
	os.WriteFile(vac, []byte("SELECT format('VACUUM ANALYZE %s', relid) FROM pg_partition_tree('trades') WHERE isleaf \\gexec\n"), 0644)
	for _, step := range []func() error{
		func() error { return pg.PsqlFiles(partDB, nil, vac) },
		func() error { _, err := pg.Psql(partDB, "ALTER TABLE trades OWNER TO grafana"); return err },
		func() error {
			_, err := pg.Psql("postgres", "ALTER DATABASE "+partDB+" SET auto_explain.log_min_duration = 0")
			return err
		},
	} {
		if err := step(); err != nil {
			fail(err)
		}
	}
	code := m.Run()
	pg.Close()
	os.Exit(code)
}

func ctxFor(uid, db string) *pluginv2.PluginContext { return ctxVersion(uid, db, 1) }

// ctxVersion: the data source saved for the version'th time (a new instance, new connections).
func ctxVersion(uid, db string, version int64) *pluginv2.PluginContext {
	return harness.PluginContext(uid, pg.JSONData(map[string]any{"database": db, "queryTimeoutSeconds": 120}), pgfix.Secure(), version)
}

// kinds: the registry's query kinds and their options (the kinds resource).
type kind struct {
	Name    string   `json:"name"`
	Options []string `json:"options"`
}

func registry(t *testing.T, p *harness.Plugin, ctx *pluginv2.PluginContext) []kind {
	t.Helper()
	code, body := p.Get(t, ctx, "kinds")
	var ks []kind
	if code != 200 || json.Unmarshal([]byte(body), &ks) != nil || len(ks) < 14 {
		t.Fatalf("kinds resource: %d %s", code, body)
	}
	return ks
}

func has(opts []string, o string) bool {
	for _, x := range opts {
		if x == o {
			return true
		}
	}
	return false
}

// variants: each kind with its defaults (breakdown needs a groupBy), and
// grouped and filtered where the kind takes those.
func variants(k kind) []map[string]any {
	base := map[string]any{}
	if k.Name == "breakdown" {
		base["groupBy"] = "strategy"
	}
	out := []map[string]any{base}
	v := map[string]any{}
	if has(k.Options, "filters") {
		v["strategies"] = []string{"momentum", "mean_reversion", "breakout"}
	}
	if has(k.Options, "groupBy") {
		v["groupBy"] = "symbol"
	}
	if len(v) > 0 {
		out = append(out, v)
	}
	return out
}

type span struct {
	name     string
	from, to time.Time
}

var (
	oneMonth = span{"one month", time.Date(2025, 5, 15, 0, 0, 0, 0, time.UTC), time.Date(2025, 6, 14, 12, 0, 0, 0, time.UTC)}
	spans    = []span{
		// wider than the partitions: the default partition is read too
		{"everything", dataStart.AddDate(0, -1, 0), dataEnd.AddDate(0, 2, 0)},
		oneMonth,
		{"calendar month", time.Date(2025, 3, 1, 0, 0, 0, 0, time.UTC), time.Date(2025, 4, 1, 0, 0, 0, 0, time.UTC)},
	}
)

func query(qtype string, body map[string]any, s span) *pluginv2.DataQuery {
	m := map[string]any{"refId": "A", "queryType": qtype, "intervalMs": 1000, "maxDataPoints": 500}
	for k, v := range body {
		m[k] = v
	}
	js, _ := json.Marshal(m)
	return &pluginv2.DataQuery{RefId: "A", MaxDataPoints: 500, IntervalMS: 1000, Json: js,
		TimeRange: &pluginv2.TimeRange{FromEpochMS: s.from.UnixMilli(), ToEpochMS: s.to.UnixMilli()}}
}

func run(t *testing.T, p *harness.Plugin, ctx *pluginv2.PluginContext, q *pluginv2.DataQuery) data.Frames {
	t.Helper()
	c, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	a := p.QueryCtx(c, t, ctx, q)["A"]
	if a.Error != nil || a.Status != 200 {
		t.Fatalf("%s: status %d error %v", q.Json, a.Status, a.Error)
	}
	return a.Frames
}

// sameValue: exact, except float64 sums that C folds from an unordered read
// (the legs: slippage, volume, fees), whose order — and last bits — depend
// on the table's physical layout.
func sameValue(a, b any) bool {
	fa, oka := a.(float64)
	if pa, ok := a.(*float64); ok && pa != nil {
		fa, oka = *pa, true
	}
	fb, okb := b.(float64)
	if pb, ok := b.(*float64); ok && pb != nil {
		fb, okb = *pb, true
	}
	if oka && okb {
		return fa == fb || math.Abs(fa-fb) <= 1e-9*math.Max(math.Abs(fa), math.Abs(fb))
	}
	return reflect.DeepEqual(a, b)
}

// sameFrames compares name, meta (notices, executedQueryString, type), field
// names, types, labels, config and every value.
func sameFrames(plain, part data.Frames) string {
	if len(plain) != len(part) {
		return fmt.Sprintf("%d frames vs %d", len(plain), len(part))
	}
	for i := range plain {
		a, b := plain[i], part[i]
		if a.Name != b.Name {
			return fmt.Sprintf("frame %d name %q vs %q", i, a.Name, b.Name)
		}
		ma, _ := json.Marshal(a.Meta)
		mb, _ := json.Marshal(b.Meta)
		if string(ma) != string(mb) {
			return fmt.Sprintf("frame %d meta\n%s\nvs\n%s", i, ma, mb)
		}
		if len(a.Fields) != len(b.Fields) {
			return fmt.Sprintf("frame %d: %d fields vs %d", i, len(a.Fields), len(b.Fields))
		}
		for j := range a.Fields {
			fa, fb := a.Fields[j], b.Fields[j]
			ca, _ := json.Marshal(fa.Config)
			cb, _ := json.Marshal(fb.Config)
			if fa.Name != fb.Name || fa.Type() != fb.Type() || !reflect.DeepEqual(fa.Labels, fb.Labels) || string(ca) != string(cb) {
				return fmt.Sprintf("frame %d field %d: %s %v %v %s vs %s %v %v %s", i, j, fa.Name, fa.Type(), fa.Labels, ca,
					fb.Name, fb.Type(), fb.Labels, cb)
			}
			if fa.Len() != fb.Len() {
				return fmt.Sprintf("frame %d field %s: %d rows vs %d", i, fa.Name, fa.Len(), fb.Len())
			}
			for r := 0; r < fa.Len(); r++ {
				if !sameValue(fa.At(r), fb.At(r)) {
					return fmt.Sprintf("frame %d field %s row %d: %v vs %v", i, fa.Name, r, deref(fa.At(r)), deref(fb.At(r)))
				}
			}
		}
	}
	return ""
}

func deref(v any) any {
	if rv := reflect.ValueOf(v); rv.Kind() == reflect.Pointer && !rv.IsNil() {
		return rv.Elem().Interface()
	}
	return v
}

func rows(fs data.Frames) int {
	n := 0
	for _, f := range fs {
		if l, err := f.RowLen(); err == nil {
			n += l
		}
	}
	return n
}

// TestEveryKindSameFramesPartitioned: every kind of the registry, with its
// defaults and grouped + filtered, over three ranges, answers the same
// frames from the partitioned table as from the plain one.
func TestEveryKindSameFramesPartitioned(t *testing.T) {
	p := harness.Launch(t, harness.Options{})
	plain, part := ctxFor("plain", "trading"), ctxFor("part", partDB)
	n := 0
	for _, k := range registry(t, p, plain) {
		for _, body := range variants(k) {
			for _, s := range spans {
				q := query(k.Name, body, s)
				a, b := run(t, p, plain, q), run(t, p, part, q)
				if rows(a) == 0 {
					t.Errorf("%s %v over %s: no rows from the plain table; the comparison would prove nothing", k.Name, body, s.name)
				}
				if d := sameFrames(a, b); d != "" {
					t.Errorf("%s %v over %s: plain and partitioned differ: %s", k.Name, body, s.name, d)
				}
				n++
			}
		}
	}
	t.Logf("%d queries answered alike by both tables", n)
}

// ------------------------------------------------------------- the plans

// logPlan is one auto_explain entry: the statement and the partitions of
// trades its plan reads.
type logPlan struct {
	text      string
	parts     map[string]bool // trades_YYYY_MM / trades_default scanned
	removed   int             // Σ "Subplans Removed" (executor-startup pruning)
	appendish bool            // an Append or Merge Append over partitions
}

var entryStart = regexp.MustCompile(`^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(\.\d+)? \S+ \[\d+\] `)

// readPlans parses the server log from byte offset off: entries start with
// the default log_line_prefix; auto_explain's are "duration: … plan:" and
// a JSON document over the following lines.
func readPlans(t *testing.T, off int64) ([]logPlan, int64) {
	t.Helper()
	f, err := os.Open(filepath.Join(pg.SockDir, "server.log"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.Seek(off, 0); err != nil {
		t.Fatal(err)
	}
	var entries []string
	var cur strings.Builder
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 64<<20)
	read := off
	for sc.Scan() {
		l := sc.Text()
		read += int64(len(sc.Bytes())) + 1
		if entryStart.MatchString(l) && cur.Len() > 0 {
			entries = append(entries, cur.String())
			cur.Reset()
		}
		cur.WriteString(l)
		cur.WriteByte('\n')
	}
	if cur.Len() > 0 {
		entries = append(entries, cur.String())
	}
	var out []logPlan
	for _, e := range entries {
		i := strings.Index(e, "plan:\n")
		if i < 0 {
			continue
		}
		var doc struct {
			Text string         `json:"Query Text"`
			Plan map[string]any `json:"Plan"`
		}
		if err := json.Unmarshal([]byte(e[i+len("plan:\n"):]), &doc); err != nil {
			t.Fatalf("auto_explain entry is not JSON (%v):\n%s", err, e)
		}
		lp := logPlan{text: doc.Text, parts: map[string]bool{}}
		walk(doc.Plan, &lp)
		out = append(out, lp)
	}
	return out, read
}

func walk(n map[string]any, lp *logPlan) {
	if r, ok := n["Relation Name"].(string); ok && strings.HasPrefix(r, "trades_") {
		lp.parts[r] = true
	}
	if v, ok := n["Subplans Removed"].(float64); ok {
		lp.removed += int(v)
	}
	if nt, _ := n["Node Type"].(string); nt == "Append" || nt == "Merge Append" {
		lp.appendish = true
	}
	if kids, ok := n["Plans"].([]any); ok {
		for _, k := range kids {
			if m, ok := k.(map[string]any); ok {
				walk(m, lp)
			}
		}
	}
}

func logSize(t *testing.T) int64 {
	st, err := os.Stat(filepath.Join(pg.SockDir, "server.log"))
	if err != nil {
		t.Fatal(err)
	}
	return st.Size()
}

// partitionsOverlapping: the monthly partitions holding some instant of
// (from, to]; before: those holding some instant ≤ from (and the default
// partition, which holds everything before the first month).
func partitionsOverlapping(from, to time.Time) map[string]bool {
	m := map[string]bool{}
	for i := 0; i < months; i++ {
		s := dataStart.AddDate(0, i, 0)
		e := s.AddDate(0, 1, 0)
		if !s.After(to) && e.After(from) {
			m["trades_"+s.Format("2006_01")] = true
		}
	}
	return m
}

func partitionsUpTo(t0 time.Time) map[string]bool {
	m := map[string]bool{"trades_default": true}
	for i := 0; i < months; i++ {
		if s := dataStart.AddDate(0, i, 0); !s.After(t0) {
			m["trades_"+s.Format("2006_01")] = true
		}
	}
	return m
}

func names(m map[string]bool) string {
	var s []string
	for k := range m {
		s = append(s, k)
	}
	sort.Strings(s)
	return strings.Join(s, ",")
}

// checkPruning runs every kind (defaults and grouped + filtered) over the
// one-month range on data source uid and checks the plan of each statement
// over the trade table that auto_explain logged meanwhile. generic: the
// plans are generic (plan_cache_mode force_generic_plan), so a statement
// with parameters must show executor-startup pruning. Each kind runs on its
// own instance (a new settings version: new connections), so a named
// prepared statement many kinds share — the fold cache's check — is not in
// its sixth run, where Postgres may take the generic plan (src/pg/exec.c),
// when a later kind is checked for plan-time pruning.
func checkPruning(t *testing.T, p *harness.Plugin, uid string, generic bool) {
	ctx := ctxVersion(uid, partDB, 1)
	s := oneMonth
	inRange, before := partitionsOverlapping(s.from, s.to), partitionsUpTo(s.from)
	if len(inRange) != 2 || len(before) != 6 {
		t.Fatalf("test setup: %s / %s", names(inRange), names(before))
	}
	seen, startup := 0, 0
	for ki, k := range registry(t, p, ctx) {
		ctx := ctxVersion(uid, partDB, int64(ki+2))
		for _, body := range variants(k) {
			off := logSize(t)
			run(t, p, ctx, query(k.Name, body, s))
			var plans []logPlan
			// the log is written before each statement's result completes;
			// a cursor's at its close — allow the file a moment
			for try := 0; try < 20; try++ {
				if plans, _ = readPlans(t, off); len(plans) > 0 {
					break
				}
				time.Sleep(50 * time.Millisecond)
			}
			time.Sleep(100 * time.Millisecond)
			plans, _ = readPlans(t, off)
			overTrades := 0
			for _, lp := range plans {
				if len(lp.parts) == 0 {
					continue // days, midnights: no table
				}
				overTrades++
				want := inRange
				if !strings.Contains(lp.text, "> to_timestamp(") {
					want = before // the equity base: every trade up to `from`
				}
				if names(lp.parts) != names(want) {
					t.Errorf("%s %v: the plan reads partitions %s; want only %s\nstatement: %s", k.Name, body, names(lp.parts),
						names(want), lp.text)
				}
				// A cursor is planned when DECLAREd, with its parameters'
				// values (a custom plan whatever plan_cache_mode says).
				if generic && strings.Contains(lp.text, "$1") && !strings.HasPrefix(lp.text, "DECLARE") {
					if lp.removed == 0 {
						t.Errorf("%s %v: generic plan without executor-startup pruning (no \"Subplans Removed\")\nstatement: %s",
							k.Name, body, lp.text)
					} else {
						startup++
					}
				}
				if !generic && lp.removed != 0 {
					t.Errorf("%s %v: custom plan pruned at executor startup (%d); expected plan-time pruning\nstatement: %s",
						k.Name, body, lp.removed, lp.text)
				}
			}
			if overTrades == 0 {
				t.Errorf("%s %v: no plan over the trade table logged (%d plans)", k.Name, body, len(plans))
			}
			seen += overTrades
		}
	}
	t.Logf("%d plans over the trade table checked (generic %v; %d with executor-startup pruning)", seen, generic, startup)
	if generic && startup == 0 {
		t.Error("no generic plan with parameters seen")
	}
}

// TestPlansPruneToTheRange: the plugin's statements, as planned for it
// (custom plans: the parameters are known, to_timestamp(float8) is
// immutable, so Postgres prunes while planning), read only the partitions
// overlapping a one-month range — the equity base only those up to its
// start.
func TestPlansPruneToTheRange(t *testing.T) {
	p := harness.Launch(t, harness.Options{})
	checkPruning(t, p, "part-plans", false)
}

// TestGenericPlansPruneAtStartup: with generic plans (what a
// prepared-statement cache or plan_cache_mode = force_generic_plan gives),
// the range is unknown at plan time; Postgres prunes at executor startup
// and reports "Subplans Removed".
func TestGenericPlansPruneAtStartup(t *testing.T) {
	if _, err := pg.Psql("postgres", "ALTER ROLE grafana IN DATABASE "+partDB+" SET plan_cache_mode = force_generic_plan"); err != nil {
		t.Fatal(err)
	}
	defer pg.Psql("postgres", "ALTER ROLE grafana IN DATABASE "+partDB+" RESET plan_cache_mode")
	p := harness.Launch(t, harness.Options{})
	checkPruning(t, p, "part-generic", true)
}

// TestCheckHealthPartitioned: a partitioned table whose parent was never
// ANALYZEd — autovacuum analyzes only the partitions, so its reltuples is
// -1; Save & test still gives the estimate, from the partitions, instead
// of counting every row.
func TestCheckHealthPartitioned(t *testing.T) {
	root := harness.RepoRoot()
	body, err := os.ReadFile(filepath.Join(root, "sql", "partitioned.sql"))
	if err != nil {
		t.Fatal(err)
	}
	f := filepath.Join(t.TempDir(), "fresh.sql")
	script := "CREATE SCHEMA fresh AUTHORIZATION grafana;\nSET search_path = fresh;\n" + string(body) +
		"INSERT INTO fresh.trades SELECT * FROM public.trades;\n" +
		"SELECT format('VACUUM ANALYZE %s', relid) FROM pg_partition_tree('fresh.trades') WHERE isleaf \\gexec\n" +
		"ALTER TABLE fresh.trades OWNER TO grafana;\n"
	if err := os.WriteFile(f, []byte(script), 0644); err != nil {
		t.Fatal(err)
	}
	if err := pg.PsqlFiles(partDB, map[string]string{"start": "'" + firstDay + "'", "months": strconv.Itoa(months)}, f); err != nil {
		t.Fatal(err)
	}
	if out, err := pg.Psql(partDB, "SELECT reltuples FROM pg_class WHERE oid = 'fresh.trades'::regclass"); err != nil || out != "-1" {
		t.Fatalf("setup: the parent's reltuples = %q (%v); want -1", out, err)
	}
	p := harness.Launch(t, harness.Options{})
	ctx := harness.PluginContext("part-health", pg.JSONData(map[string]any{"database": partDB, "schema": "fresh"}), pgfix.Secure(), 1)
	c, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	r, err := p.Diagnostics.CheckHealth(c, &pluginv2.CheckHealthRequest{PluginContext: ctx})
	if err != nil {
		t.Fatal(err)
	}
	if r.Status != pluginv2.CheckHealthResponse_OK {
		t.Fatalf("health: %v %q", r.Status, r.Message)
	}
	var d map[string]any
	if err := json.Unmarshal(r.JsonDetails, &d); err != nil {
		t.Fatal(err)
	}
	n, _ := d["trades"].(float64)
	if d["tradesEstimated"] != true || math.Abs(n-nTrades) > 0.02*nTrades {
		t.Errorf("jsonDetails trades %v estimated %v; want an estimate within 2 %% of %d", d["trades"], d["tradesEstimated"], nTrades)
	}
	if !strings.Contains(r.Message, "about ") {
		t.Errorf("message %q; want \"about N trades\"", r.Message)
	}
	// The estimate branch was taken (tradesEstimated), so the count
	// subquery — a scan of every partition — never ran; min/max closed_at
	// come from the partitions' closed_at indexes.
	// The plain table (analyzed as a whole) gives the same estimate.
	rp, err := p.Diagnostics.CheckHealth(c, &pluginv2.CheckHealthRequest{PluginContext: ctxFor("plain-health", "trading")})
	if err != nil {
		t.Fatal(err)
	}
	var dp map[string]any
	json.Unmarshal(rp.JsonDetails, &dp)
	for _, k := range []string{"from", "to"} {
		if dp[k] != d[k] {
			t.Errorf("%s: plain %v, partitioned %v", k, dp[k], d[k])
		}
	}
	t.Logf("partitioned: %s; plain: %s", r.Message, rp.Message)
}
