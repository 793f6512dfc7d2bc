package analytics

// A bot's trade table often holds its still-open trades too: closed_at (and
// realized_pnl) NULL until the position is closed. Every query ignores them
// (they are in no closed_at range); CheckHealth's "N trades … from … to …"
// and the `schema` resource's trades/from/to must describe the same closed
// trades (issue 9: the count was count(*), open rows included).

import (
	"encoding/json"
	"math/rand/v2"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/genproto/pluginv2"

	"github.com/algotrading/pnl-datasource/tests/harness"
)

// parsePgTimestamptz reads timestamptz::text output ("2025-01-03
// 04:05:06+00", fractional seconds and a minutes offset optional).
func parsePgTimestamptz(s string) (time.Time, error) {
	var err error
	for _, layout := range []string{"2006-01-02 15:04:05.999999999Z07", "2006-01-02 15:04:05.999999999Z07:00"} {
		var tm time.Time
		if tm, err = time.Parse(layout, s); err == nil {
			return tm, nil
		}
	}
	return time.Time{}, err
}

func TestCheckHealthCountsOnlyClosedTrades(t *testing.T) {
	const table = "trades_with_open"
	r := rand.New(rand.NewPCG(2025, 9))
	times := distinctTimes(r, 240, time.Date(2025, 1, 2, 0, 0, 0, 0, time.UTC), time.Date(2025, 3, 31, 0, 0, 0, 0, time.UTC))
	var rows []fixtureRow
	for i, tm := range times {
		row := fixtureRow{trade: trade{id: int64(i + 1), closed: tm, strategy: []string{"alpha", "beta", "gamma"}[i%3],
			symbol: "ETHUSDT", account: "north"}}
		row.opened = tm.Add(-time.Duration(5+r.IntN(300)) * time.Minute)
		withPrices(r, &row, 3000, 3, 0.1)
		row.pnl = float64(r.IntN(20001)-9000) / 100
		rows = append(rows, row)
	}
	nClosed := len(rows)
	firstClosed, lastClosed := times[0], times[len(times)-1]
	// Open trades: no exit, no P&L, no closed_at; opened before the first
	// and after the last closed trade, so a span taken from anything but
	// closed trades would show.
	for k, opened := range []time.Time{firstClosed.Add(-48 * time.Hour), lastClosed.Add(-time.Hour), lastClosed.Add(24 * time.Hour),
		lastClosed.Add(25 * time.Hour), lastClosed.Add(72 * time.Hour), time.Now().UTC().Truncate(time.Second)} {
		row := fixtureRow{trade: trade{id: int64(10000 + k), strategy: []string{"alpha", "beta", "gamma"}[k%3], symbol: "ETHUSDT",
			account: "north", side: "long", qty: 1, entry: 3000, exit: nan(), expEntry: 2999, expExit: nan(), pnl: nan()}, opened: opened}
		rows = append(rows, row)
	}
	nOpen := len(rows) - nClosed
	makeTradeTable(t, table, rows, tableOpts{nullableClose: true})
	if out, err := pg.Psql("trading", "SELECT count(*), count(closed_at) FROM "+table); err != nil || out != strconv.Itoa(nClosed+nOpen)+"\t"+strconv.Itoa(nClosed) {
		t.Fatalf("fixture: count(*), count(closed_at) = %q (%v); want %d, %d", out, err, nClosed+nOpen, nClosed)
	}

	p := harness.Launch(t, harness.Options{})
	ctx := tableCtx(table)

	// What every query sees: stats over a range holding every closed trade.
	qs := &pluginv2.DataQuery{RefId: "S", Json: []byte(`{"queryType":"stats","metrics":["trade_count"]}`), MaxDataPoints: 100, IntervalMS: 1000,
		TimeRange: &pluginv2.TimeRange{FromEpochMS: firstClosed.Add(-time.Hour).UnixMilli(), ToEpochMS: time.Now().Add(365 * 24 * time.Hour).UnixMilli()}}
	st := statsFrame(t, mustOK(t, p.Query(t, ctx, qs)["S"])[0])[""]
	if st["trade_count"] != float64(nClosed) {
		t.Fatalf("stats trade_count %v over the whole history; want the %d closed trades", st["trade_count"], nClosed)
	}

	checkSpan := func(what string, d map[string]any) {
		t.Helper()
		for k, want := range map[string]time.Time{"from": firstClosed, "to": lastClosed} {
			s, _ := d[k].(string)
			got, err := parsePgTimestamptz(s)
			if err != nil || !got.Equal(want) {
				t.Errorf("%s: %s = %q; want the closed trades' %s %v", what, k, d[k], map[string]string{"from": "first", "to": "last"}[k], want)
			}
		}
	}

	hr, d := health(t, p, ctx)
	if hr.Status != pluginv2.CheckHealthResponse_OK {
		t.Fatalf("health: %v %q", hr.Status, hr.Message)
	}
	m := regexp.MustCompile(`(\d+) trades`).FindStringSubmatch(hr.Message)
	if m == nil || m[1] != strconv.Itoa(nClosed) {
		t.Errorf("CheckHealth message %q; want it to report %d trades (the closed ones; %d open rows have closed_at NULL and no query counts them)",
			hr.Message, nClosed, nOpen)
	}
	if n, ok := d["trades"].(float64); !ok || int(n) != nClosed {
		t.Errorf("CheckHealth jsonDetails trades = %v; want %d closed trades", d["trades"], nClosed)
	}
	checkSpan("CheckHealth jsonDetails", d)
	if from, _ := d["from"].(string); from == "" || !strings.Contains(hr.Message, "from "+from+" to ") {
		t.Errorf("CheckHealth message %q does not give the span from %v", hr.Message, d["from"])
	}

	// The schema resource gives the same numbers.
	code, body := p.Get(t, ctx, "schema")
	var sch map[string]any
	if code != 200 || json.Unmarshal([]byte(body), &sch) != nil || sch["ok"] != true {
		t.Fatalf("schema: %d %s", code, body)
	}
	// docs/query-model.md: the schema resource reports "trades", "from", "to"
	if n, ok := sch["trades"].(float64); !ok || int(n) != nClosed {
		t.Errorf("schema resource trades = %v; want %d closed trades", sch["trades"], nClosed)
	}
	checkSpan("schema resource", sch)
}
