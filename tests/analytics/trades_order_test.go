package analytics

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/algotrading/pnl-datasource/tests/harness"
)

// The trades table reads its rows ordered by closed_at alone (no sort in
// Postgres) and, when two of them share a closed_at, runs the statement
// ordered by (closed_at, trade_id) instead: either way the rows shown are
// the newest by (closed_at DESC, trade_id DESC), as Postgres orders them,
// also where the row limit cuts through a group of equal closed_at.
func TestTradesNewestFirstWithTies(t *testing.T) {
	mk := func(name string, tied bool) {
		rows := make([]fixtureRow, 300)
		for i := range rows {
			step := i
			if tied {
				step = i / 3 // groups of three trades closed at the same instant
			}
			closed := to.Add(-time.Duration(step+1) * time.Minute)
			r := fixtureRow{opened: closed.Add(-time.Hour)}
			// ids not in closed_at order: only the tie-break orders a group
			r.id, r.closed = int64(1000+(i*7919)%300), closed
			r.account, r.strategy, r.symbol, r.side = "north", "alpha", "BTCUSDT", "long"
			r.qty, r.entry, r.exit, r.expEntry, r.expExit = 1, 100, 101, 100, 101
			r.fees, r.pnl = 0.1, float64(i%7)-3
			rows[i] = r
		}
		makeTradeTable(t, name, rows, tableOpts{})
	}
	mk("trades_ties", true)
	mk("trades_noties", false)
	p := harness.Launch(t, harness.Options{})
	for _, table := range []string{"trades_ties", "trades_noties"} {
		for _, limit := range []int{1, 2, 99, 100, 101, 299, 300, 1000} {
			want, err := pg.Psql("trading", fmt.Sprintf("SELECT string_agg(trade_id::text, ',' ORDER BY closed_at DESC, trade_id DESC)"+
				" FROM (SELECT trade_id, closed_at FROM %s ORDER BY closed_at DESC, trade_id DESC LIMIT %d) s", table, limit))
			if err != nil {
				t.Fatal(err)
			}
			resp := p.Query(t, tableCtx(table), query("T", "trades", map[string]any{"limit": limit}, 100))
			tf := mustOK(t, resp["T"])[0]
			var got []string
			for i := 0; i < tf.Rows(); i++ {
				id, _ := tf.Fields[2].ConcreteAt(i)
				got = append(got, id.(string))
			}
			if g := strings.Join(got, ","); g != strings.TrimSpace(want) {
				t.Fatalf("%s limit %d: trade ids\n%s\nwant (Postgres, closed_at DESC, trade_id DESC)\n%s", table, limit, g, want)
			}
			cut := len(tf.Meta.Notices) > 0 && strings.Contains(tf.Meta.Notices[0].Text, "row limit")
			if cut != (limit < 300) {
				t.Errorf("%s limit %d: cut notice %v", table, limit, cut)
			}
			// the statement ordered by trade id too runs only where closed_at ties
			full := strings.Contains(tf.Meta.ExecutedQueryString, `"trade_id" DESC`)
			if tied := table == "trades_ties"; full != tied {
				t.Errorf("%s limit %d: statement with the trade id order ran: %v, want %v\n%s", table, limit, full, tied,
					tf.Meta.ExecutedQueryString)
			}
		}
	}
}
