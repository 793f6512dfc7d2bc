// Package prepared checks the named prepared statements the plugin keeps per
// connection (issue 14 item 4), on a real Postgres that logs every protocol
// step (log_min_duration_statement = 0: a "parse <name>" line per Parse
// message, an "execute <name>" line per Execute):
//   - a query run again is executed by the name it was parsed under once,
//     and answers the same bytes;
//   - a backend killed between queries (pg_terminate_backend) costs
//     nothing: the fresh connection prepares again;
//   - statements that vanish from the server session (DISCARD ALL, injected
//     by a small TCP relay the way a pooler's server_reset_query would) do
//     not fail a query: it runs again unnamed; after the third time the
//     data source stops naming statements.
//
// Through pgbouncer the plugin names no statement: tests/bouncer checks
// that every kind still answers there.
package prepared

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"io"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/genproto/pluginv2"

	"github.com/algotrading/pnl-datasource/tests/harness"
	"github.com/algotrading/pnl-datasource/tests/pgfix"
)

var pg *pgfix.Server

var (
	from = time.Date(2025, 2, 1, 0, 0, 0, 0, time.UTC)
	to   = time.Date(2025, 4, 15, 12, 0, 0, 0, time.UTC)
)

func TestMain(m *testing.M) {
	pgfix.Main(m, func(s *pgfix.Server) error {
		pg = s
		if err := s.RestartWith("-c log_min_duration_statement=0"); err != nil {
			return err
		}
		return pg.LoadDemo(harness.RepoRoot(), 5000, 120, 7, "2025-01-01")
	}, nil)
}

func tradesQuery(strategy string) *pluginv2.DataQuery {
	m := map[string]any{"refId": "A", "queryType": "trades", "limit": 200, "intervalMs": 60000, "maxDataPoints": 300}
	if strategy != "" {
		m["strategies"] = []string{strategy}
	}
	js, _ := json.Marshal(m)
	return &pluginv2.DataQuery{RefId: "A", MaxDataPoints: 300, IntervalMS: 60000, Json: js,
		TimeRange: &pluginv2.TimeRange{FromEpochMS: from.UnixMilli(), ToEpochMS: to.UnixMilli()}}
}

// frames runs q alone and returns its raw frames (Arrow bytes), failing on any error.
func frames(t *testing.T, p *harness.Plugin, pc *pluginv2.PluginContext, q *pluginv2.DataQuery) [][]byte {
	t.Helper()
	c, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	res, err := p.Data.QueryData(c, &pluginv2.QueryDataRequest{PluginContext: pc, Queries: []*pluginv2.DataQuery{q}})
	if err != nil {
		t.Fatal(err)
	}
	r := res.Responses[q.RefId]
	if r == nil || r.Error != "" || (r.Status != 0 && r.Status != 200) || len(r.Frames) == 0 {
		t.Fatalf("answer %+v", r)
	}
	return r.Frames
}

func sameFrames(a, b [][]byte) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if !bytes.Equal(a[i], b[i]) {
			return false
		}
	}
	return true
}

// serverLog reads the server's log from byte offset off.
type serverLog struct{ off int64 }

func logPath() string { return filepath.Join(pg.SockDir, "server.log") }

func mark(t *testing.T) *serverLog {
	t.Helper()
	fi, err := os.Stat(logPath())
	if err != nil {
		t.Fatal(err)
	}
	return &serverLog{off: fi.Size()}
}

// since is the log written after the mark (the logger is asynchronous: wait
// for the line of a statement run after the ones looked for).
func (l *serverLog) since(t *testing.T) string {
	t.Helper()
	stamp := "gpx_log_barrier_" + strconv.FormatInt(time.Now().UnixNano(), 10)
	if _, err := pg.Psql("postgres", "SELECT '"+stamp+"'"); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 100; i++ {
		b, err := os.ReadFile(logPath())
		if err != nil {
			t.Fatal(err)
		}
		s := string(b[l.off:])
		if strings.Contains(s, stamp) {
			return s
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatal("the server log never showed the barrier statement")
	return ""
}

var stepRe = regexp.MustCompile(`duration: [0-9.]+ ms  (parse|bind|execute) (\S+?): `)

// steps counts, per statement name, the Parse and Execute messages the log shows.
type counts struct{ parse, execute int }

func steps(log string) map[string]*counts {
	m := map[string]*counts{}
	for _, s := range stepRe.FindAllStringSubmatch(log, -1) {
		c := m[s[2]]
		if c == nil {
			c = &counts{}
			m[s[2]] = c
		}
		switch s[1] {
		case "parse":
			c.parse++
		case "execute":
			c.execute++
		}
	}
	return m
}

func namedNames(m map[string]*counts) (names []string) {
	for n := range m {
		if strings.HasPrefix(n, "gpx_") {
			names = append(names, n)
		}
	}
	return names
}

func ctxFor(uid string, port int) *pluginv2.PluginContext {
	return harness.PluginContext(uid, pg.JSONData(map[string]any{"port": port, "maxOpenConnections": 1}),
		pgfix.Secure(), 1)
}

func TestRepeatedQueryReusesItsPreparedStatement(t *testing.T) {
	p := harness.Launch(t, harness.Options{})
	pc := ctxFor("prep-reuse", pg.Port)
	frames(t, p, pc, tradesQuery("")) // the data source's first query: its one-off setup statements too
	l := mark(t)
	first := frames(t, p, pc, tradesQuery("momentum"))
	const again = 5
	for i := 0; i < again; i++ {
		if got := frames(t, p, pc, tradesQuery("momentum")); !sameFrames(got, first) {
			t.Fatalf("run %d: the answer by name differs from the first", i+2)
		}
	}
	m := steps(l.since(t))
	// the trades statement: parsed once under a name, executed every time by it
	found := false
	for _, n := range namedNames(m) {
		c := m[n]
		if c.parse > 1 {
			t.Errorf("%s parsed %d times", n, c.parse)
		}
		if c.execute == again+1 {
			found = c.parse == 1
		}
	}
	if !found {
		t.Fatalf("no named statement parsed once and executed %d times; log steps: %v", again+1, dump(m))
	}
	if c := m["<unnamed>"]; c != nil && c.execute > 0 {
		// what runs unnamed (COPY, statements without parameters) must not be the repeated one
		if c.execute >= again+1 {
			t.Errorf("%d unnamed executions for %d queries", c.execute, again+1)
		}
	}
	// a different statement text gets its own name; the first one's name still serves
	other := frames(t, p, pc, tradesQuery("mean_reversion"))
	if sameFrames(other, first) {
		t.Fatal("another strategy answered the same frames")
	}
	if got := frames(t, p, pc, tradesQuery("momentum")); !sameFrames(got, first) {
		t.Fatal("answer changed after another statement was prepared")
	}
}

func dump(m map[string]*counts) string {
	var b strings.Builder
	for n, c := range m {
		b.WriteString(n + "=" + strconv.Itoa(c.parse) + "/" + strconv.Itoa(c.execute) + " ")
	}
	return b.String()
}

func TestKilledBackendPreparesAgainOnItsFreshConnection(t *testing.T) {
	p := harness.Launch(t, harness.Options{})
	const user = "prep_killed"
	if _, err := pg.Psql("postgres", "DO $$BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '"+user+
		"') THEN CREATE ROLE "+user+" LOGIN PASSWORD '"+pgfix.Password+"'; END IF; END$$; GRANT grafana TO "+user); err != nil {
		t.Fatal(err)
	}
	pc := harness.PluginContext("prep-killed", pg.JSONData(map[string]any{"user": user, "maxOpenConnections": 1}),
		pgfix.Secure(), 1)
	first := frames(t, p, pc, tradesQuery("momentum"))
	frames(t, p, pc, tradesQuery("momentum"))
	out, err := pg.Psql("postgres", "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE usename = '"+user+"'")
	if err != nil || strings.TrimSpace(out) != "1" {
		t.Fatalf("terminate: %q %v", out, err)
	}
	l := mark(t)
	for i := 0; i < 3; i++ {
		if got := frames(t, p, pc, tradesQuery("momentum")); !sameFrames(got, first) {
			t.Fatalf("after the kill, run %d answered differently", i+1)
		}
	}
	m := steps(l.since(t))
	reprepared := false
	for _, n := range namedNames(m) {
		if m[n].parse == 1 && m[n].execute == 3 {
			reprepared = true
		}
	}
	if !reprepared {
		t.Fatalf("the fresh connection did not prepare the statement once for its 3 runs: %v", dump(m))
	}
}

// relay forwards TCP connections to Postgres unchanged (so the plugin
// sees no pooler: its startup options arrive) and, when asked, sends
// DISCARD ALL to the server session before the next request of an idle
// connection, swallowing the answer — what a pooler's server_reset_query
// does to a server session it hands over.
type relay struct {
	ln       net.Listener
	target   string
	discard  atomic.Bool
	injected atomic.Int32
	wg       sync.WaitGroup
}

func startRelay(t *testing.T, target string) *relay {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	r := &relay{ln: ln, target: target}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			r.wg.Add(1)
			go func() { defer r.wg.Done(); r.serve(c) }()
		}
	}()
	t.Cleanup(func() { ln.Close() })
	return r
}

func (r *relay) port() int { return r.ln.Addr().(*net.TCPAddr).Port }

func readMsg(rd io.Reader, typed bool) ([]byte, error) {
	n := 4
	if typed {
		n = 5
	}
	hdr := make([]byte, n)
	if _, err := io.ReadFull(rd, hdr); err != nil {
		return nil, err
	}
	l := int(binary.BigEndian.Uint32(hdr[n-4:]))
	if l < 4 || l > 1<<30 {
		return nil, io.ErrUnexpectedEOF
	}
	msg := make([]byte, n+l-4)
	copy(msg, hdr)
	_, err := io.ReadFull(rd, msg[n:])
	return msg, err
}

func (r *relay) serve(c net.Conn) {
	defer c.Close()
	var startup []byte
	for { // SSLRequest / GSSENCRequest: refused, then the startup packet
		m, err := readMsg(c, false)
		if err != nil || len(m) < 8 {
			return
		}
		code := binary.BigEndian.Uint32(m[4:8])
		if code == 80877103 || code == 80877104 {
			if _, err := c.Write([]byte("N")); err != nil {
				return
			}
			continue
		}
		startup = m
		break
	}
	b, err := net.Dial("tcp", r.target)
	if err != nil {
		return
	}
	defer b.Close()
	if _, err := b.Write(startup); err != nil {
		return
	}
	var mu sync.Mutex // guards idle, swallow
	idle, swallow := false, false
	swallowed := make(chan struct{}, 1)
	go func() { // server → client
		defer c.Close()
		for {
			m, err := readMsg(b, true)
			if err != nil {
				return
			}
			mu.Lock()
			if swallow {
				if m[0] == 'Z' {
					swallow = false
					swallowed <- struct{}{}
				}
				mu.Unlock()
				continue
			}
			idle = m[0] == 'Z' && m[5] == 'I'
			mu.Unlock()
			if _, err := c.Write(m); err != nil {
				return
			}
		}
	}()
	for { // client → server
		m, err := readMsg(c, true)
		if err != nil {
			return
		}
		mu.Lock()
		inject := idle && r.discard.Load()
		idle = false
		if inject {
			swallow = true
		}
		mu.Unlock()
		if inject {
			q := append([]byte{'Q', 0, 0, 0, 0}, "DISCARD ALL\x00"...)
			binary.BigEndian.PutUint32(q[1:], uint32(len(q)-1))
			if _, err := b.Write(q); err != nil {
				return
			}
			select {
			case <-swallowed:
			case <-time.After(10 * time.Second):
				return
			}
			r.discard.Store(false)
			r.injected.Add(1)
		}
		if _, err := b.Write(m); err != nil {
			return
		}
	}
}

func TestVanishedStatementsRunUnnamedAndThenNoneIsNamed(t *testing.T) {
	r := startRelay(t, "127.0.0.1:"+strconv.Itoa(pg.Port))
	p := harness.Launch(t, harness.Options{})
	pc := ctxFor("prep-vanish", r.port())
	want := frames(t, p, pc, tradesQuery("momentum"))
	if got := frames(t, p, pc, tradesQuery("momentum")); !sameFrames(got, want) {
		t.Fatal("second run differs")
	}
	for round := 1; round <= 3; round++ {
		l := mark(t)
		r.discard.Store(true)
		if got := frames(t, p, pc, tradesQuery("momentum")); !sameFrames(got, want) {
			t.Fatalf("round %d: the answer after DISCARD ALL differs", round)
		}
		if n := r.injected.Load(); n != int32(round) {
			t.Fatalf("round %d: relay injected %d DISCARD ALL", round, n)
		}
		log := l.since(t)
		if !regexp.MustCompile(`ERROR:  prepared statement "gpx_\S+" does not exist`).MatchString(log) {
			t.Fatalf("round %d: no vanished statement in the log:\n%s", round, log)
		}
		m := steps(log)
		if c := m["<unnamed>"]; c == nil || c.execute < 1 {
			t.Fatalf("round %d: the query did not run again unnamed: %v", round, dump(m))
		}
		// named again until the third vanish: prepare it once more for the next round
		l = mark(t)
		if got := frames(t, p, pc, tradesQuery("momentum")); !sameFrames(got, want) {
			t.Fatalf("round %d: the answer after the retry differs", round)
		}
		m = steps(l.since(t))
		if round < 3 && len(namedNames(m)) == 0 {
			t.Fatalf("round %d: no statement named again after the first vanish: %v", round, dump(m))
		}
		if round == 3 && len(namedNames(m)) != 0 {
			t.Fatalf("after 3 vanishes a statement was still named: %v", dump(m))
		}
	}
}

func kindQuery(kind string, body map[string]any) *pluginv2.DataQuery {
	m := map[string]any{"refId": "A", "queryType": kind, "intervalMs": 60000, "maxDataPoints": 300}
	for k, v := range body {
		m[k] = v
	}
	js, _ := json.Marshal(m)
	return &pluginv2.DataQuery{RefId: "A", MaxDataPoints: 300, IntervalMS: 60000, Json: js,
		TimeRange: &pluginv2.TimeRange{FromEpochMS: from.UnixMilli(), ToEpochMS: to.UnixMilli()}}
}

// With room for 2 statements per connection, a third evicts the least
// recently used one (DEALLOCATE in the same pipeline), and every answer,
// twice over, is byte for byte the one of a plugin that names nothing
// (GPX_PG_PREPARED=0), for every kind.
func TestEvictionAndAnswersEqualUnnamed(t *testing.T) {
	named := harness.Launch(t, harness.Options{Env: []string{"GPX_PG_PREPARED=2"}})
	plain := harness.Launch(t, harness.Options{Env: []string{"GPX_PG_PREPARED=0"}})
	pc := ctxFor("prep-evict", pg.Port)
	shapes := []*pluginv2.DataQuery{
		kindQuery("trades", map[string]any{"limit": 100, "strategies": []string{"momentum"}}),
		kindQuery("trades", map[string]any{"limit": 100, "exchanges": []string{"binance"}}),
		kindQuery("trades", map[string]any{"limit": 100, "sides": []string{"long"}}),
	}
	want := make([][][]byte, len(shapes))
	for i, q := range shapes {
		want[i] = frames(t, plain, pc, q)
	}
	l := mark(t)
	// A B A C B A: C evicts B (A was used since), B evicts A, A evicts C
	for _, i := range []int{0, 1, 0, 2, 1, 0} {
		if got := frames(t, named, pc, shapes[i]); !sameFrames(got, want[i]) {
			t.Fatalf("shape %d answered differently named", i)
		}
	}
	log := l.since(t)
	if strings.Contains(log, "ERROR:") {
		t.Fatalf("errors in the server log:\n%s", log)
	}
	// the trades statements parsed under a name: A, B, C, B again, A again
	tradesParse := regexp.MustCompile(`parse gpx_\S+: SELECT .* ORDER BY "closed_at" DESC LIMIT`)
	if n := len(tradesParse.FindAllString(log, -1)); n != 5 {
		t.Fatalf("%d named Parse messages of the trades statements, want 5:\n%s", n, log)
	}
	// every Parse beyond the first two (the data source's first query may
	// also have prepared its setup statement) deallocated one
	m := steps(log)
	parses := 0
	for _, n := range namedNames(m) {
		parses += m[n].parse
	}
	if n := strings.Count(log, "execute <unnamed>: DEALLOCATE gpx_"); n != parses-2 {
		t.Fatalf("%d DEALLOCATE for %d named Parse messages, want %d:\n%s", n, parses, parses-2, log)
	}
	for _, kind := range []string{"equity", "pnl", "returns", "drawdown", "daily_pnl", "pnl_distribution", "slippage",
		"stats", "trade_count", "drawdown_episodes", "breakdown", "rolling", "period_returns", "annotations"} {
		var body map[string]any
		if kind == "breakdown" {
			body = map[string]any{"groupBy": "symbol"}
		}
		q := kindQuery(kind, body)
		w := frames(t, plain, pc, q)
		for run := 0; run < 2; run++ {
			if got := frames(t, named, pc, q); !sameFrames(got, w) {
				t.Fatalf("%s run %d: the answer differs from the unnamed plugin's", kind, run+1)
			}
		}
	}
}

// A column that changes type under a named statement makes Postgres refuse
// to run it ever again ("cached plan must not change result type"): the
// query runs unnamed instead, and the next one is named afresh.
func TestColumnTypeChangeRunsTheQueryUnnamed(t *testing.T) {
	for _, sql := range []string{"DROP TABLE IF EXISTS trades_alt", "CREATE TABLE trades_alt AS SELECT * FROM trades",
		"ALTER TABLE trades_alt OWNER TO grafana"} {
		if out, err := pg.Psql("trading", sql); err != nil {
			t.Fatal(sql, err, out)
		}
	}
	p := harness.Launch(t, harness.Options{})
	pc := harness.PluginContext("prep-alt", pg.JSONData(map[string]any{"table": "trades_alt", "maxOpenConnections": 1}),
		pgfix.Secure(), 1)
	frames(t, p, pc, tradesQuery("momentum"))
	frames(t, p, pc, tradesQuery("momentum"))
	if out, err := pg.Psql("trading", "ALTER TABLE trades_alt ALTER COLUMN fees TYPE float8"); err != nil {
		t.Fatal(err, out)
	}
	l := mark(t)
	frames(t, p, pc, tradesQuery("momentum"))
	log := l.since(t)
	if !strings.Contains(log, "cached plan must not change result type") {
		t.Fatalf("the named statement did not go stale:\n%s", log)
	}
	if c := steps(log)["<unnamed>"]; c == nil || c.execute < 1 {
		t.Fatalf("the query did not run again unnamed:\n%s", log)
	}
	l = mark(t)
	frames(t, p, pc, tradesQuery("momentum"))
	if m := steps(l.since(t)); len(namedNames(m)) == 0 {
		t.Fatalf("not named afresh: %v", dump(m))
	}
}
