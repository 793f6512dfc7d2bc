package analytics

// A trade whose realized_pnl is NaN or ±Infinity (a broken row in the
// bot's table) is left out of every number, with a warning notice naming
// the column, how many rows and the first trade id (issue 10, problem 6):
// the answers equal those of the same table without the broken rows.
// Before, Postgres' sums turned NaN, so whole buckets and days vanished
// silently.

import (
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/grafana/grafana-plugin-sdk-go/data"

	"github.com/algotrading/pnl-datasource/tests/harness"
)

// values of every field of every frame, nulls as nil
func frameValues(frames data.Frames) [][]any {
	var out [][]any
	for _, f := range frames {
		for _, fl := range f.Fields {
			v := make([]any, fl.Len())
			for i := range v {
				v[i], _ = fl.ConcreteAt(i)
			}
			out = append(out, v)
		}
	}
	return out
}

func TestNonFinitePnlRowsAreLeftOutWithANotice(t *testing.T) {
	rows := groupTrades(21)
	makeTradeTable(t, "trades_clean", rows, tableOpts{})
	makeTradeTable(t, "trades_broken", rows, tableOpts{})
	// three broken rows: one before the range, two inside it
	var before, inside []int64
	for _, r := range rows {
		if r.closed.Before(from) && len(before) < 1 {
			before = append(before, r.id)
		}
		if r.closed.After(from.Add(48*3600e9)) && r.closed.Before(to) && len(inside) < 2 {
			inside = append(inside, r.id)
		}
	}
	ids := append(append([]int64{}, before...), inside...)
	if len(ids) != 3 {
		t.Fatalf("fixture: %v", ids)
	}
	// the clean twin lacks them; the broken table has them with P&L NaN / ±Infinity
	if _, err := pg.Psql("trading", fmt.Sprintf("DELETE FROM trades_clean WHERE trade_id IN (%d, %d, %d);"+
		"UPDATE trades_broken SET realized_pnl = 'NaN' WHERE trade_id = %d;"+
		"UPDATE trades_broken SET realized_pnl = 'Infinity' WHERE trade_id = %d;"+
		"UPDATE trades_broken SET realized_pnl = '-Infinity' WHERE trade_id = %d;",
		ids[0], ids[1], ids[2], ids[0], ids[1], ids[2])); err != nil {
		t.Fatal(err)
	}
	p := harness.Launch(t, harness.Options{})
	for _, kind := range []string{"equity", "pnl", "returns", "drawdown", "daily_pnl", "stats", "trade_count"} {
		for _, by := range []string{"", "strategy"} {
			body := map[string]any{}
			if by != "" {
				body["groupBy"] = by
			}
			for _, maxPoints := range []int64{50, 100000} {
				name := fmt.Sprintf("%s/%s/%d", kind, by, maxPoints)
				clean := mustOK(t, p.Query(t, tableCtx("trades_clean"), query("A", kind, body, maxPoints))["A"])
				broken := mustOK(t, p.Query(t, tableCtx("trades_broken"), query("A", kind, body, maxPoints))["A"])
				if !reflect.DeepEqual(frameValues(clean), frameValues(broken)) {
					t.Errorf("%s: numbers differ from the table without the broken rows", name)
				}
				for _, f := range broken {
					found := false
					if f.Meta != nil {
						for _, n := range f.Meta.Notices {
							found = found || (strings.Contains(n.Text, "3 trades") && strings.Contains(n.Text, "realized_pnl") &&
								strings.Contains(n.Text, fmt.Sprintf("trade_id %d", minID(ids))))
						}
					}
					if !found {
						t.Errorf("%s: frame %q has no notice naming realized_pnl, 3 trades and the first trade id", name, f.Name)
					}
				}
				for _, f := range clean {
					if f.Meta != nil && len(f.Meta.Notices) > 0 {
						t.Errorf("%s: the clean table gets a notice: %v", name, f.Meta.Notices)
					}
				}
			}
		}
	}
}

func minID(ids []int64) int64 {
	m := ids[0]
	for _, v := range ids {
		if v < m {
			m = v
		}
	}
	return m
}
