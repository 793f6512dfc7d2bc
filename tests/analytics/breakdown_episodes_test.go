package analytics

// Issue 11: breakdown (one table row per group, by total P&L) and
// drawdown_episodes (the deepest drawdowns), against the independent
// reference (tradestats_ref_test.go), group by group: each row is matched
// to its group through the dimension column, never by position alone.

import (
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/data"

	"github.com/algotrading/pnl-datasource/tests/harness"
)

// tableColumns reads a table frame: the string columns and the number
// columns by name (nulls as NaN), and time columns (nulls as zero times).
type tableFrame struct {
	names []string
	str   map[string][]string
	num   map[string][]float64
	tim   map[string][]time.Time
	rows  int
	field map[string]*data.Field
}

func readTable(t *testing.T, f *data.Frame) tableFrame {
	t.Helper()
	if f.Meta == nil || f.Meta.Type != data.FrameTypeTable {
		t.Fatalf("frame %q: want a table frame, meta %+v", f.Name, f.Meta)
	}
	tf := tableFrame{str: map[string][]string{}, num: map[string][]float64{}, tim: map[string][]time.Time{},
		rows: f.Rows(), field: map[string]*data.Field{}}
	for _, fl := range f.Fields {
		tf.names = append(tf.names, fl.Name)
		tf.field[fl.Name] = fl
		for i := 0; i < fl.Len(); i++ {
			v, ok := fl.ConcreteAt(i)
			if !ok { // a null reads as its type's zero value
				v = nil
			}
			switch x := v.(type) {
			case string:
				tf.str[fl.Name] = append(tf.str[fl.Name], x)
			case float64:
				tf.num[fl.Name] = append(tf.num[fl.Name], x)
			case time.Time:
				tf.tim[fl.Name] = append(tf.tim[fl.Name], x)
			default:
				if ok {
					t.Fatalf("field %s: unexpected %T", fl.Name, v)
				}
				switch fl.Type() {
				case data.FieldTypeNullableString:
					tf.str[fl.Name] = append(tf.str[fl.Name], "")
				case data.FieldTypeNullableTime:
					tf.tim[fl.Name] = append(tf.tim[fl.Name], time.Time{})
				default:
					tf.num[fl.Name] = append(tf.num[fl.Name], math.NaN())
				}
			}
		}
	}
	return tf
}

func TestBreakdownMatchesReferencePerGroup(t *testing.T) {
	const table = "trades_breakdown"
	makeTradeTable(t, table, fieldTrades(41), tableOpts{})
	all := loadTrades(t, pg, table)
	p := harness.Launch(t, harness.Options{})
	defaults := []string{"trade_count", "total_pnl", "win_rate", "profit_factor", "expectancy", "max_drawdown", "sharpe",
		"avg_holding_time"}
	for _, tc := range []struct {
		by      string
		metrics []string
		filter  []string
	}{
		{"strategy", nil, nil},
		{"symbol", nil, []string{"alpha", "gamma"}},
		{"account", []string{"sqn", "exposure", "volume", "avg_slippage_bps", "max_loss_streak", "calmar"}, nil},
	} {
		t.Run(tc.by, func(t *testing.T) {
			q := refQ(tc.filter...)
			q.group = tc.by
			before, in := split(q, all)
			groups := sortedKeys(in)
			body := map[string]any{"groupBy": tc.by}
			cols := defaults
			if tc.metrics != nil {
				body["metrics"], cols = tc.metrics, tc.metrics
			}
			if tc.filter != nil {
				body["strategies"] = tc.filter
			}
			frames := mustOK(t, p.Query(t, tableCtx(table), query("B", "breakdown", body, 100))["B"])
			if len(frames) != 1 {
				t.Fatalf("%d frames, want one table", len(frames))
			}
			tf := readTable(t, frames[0])
			if strings.Join(tf.names, ",") != tc.by+","+strings.Join(cols, ",") {
				t.Fatalf("columns %v, want %s then %v", tf.names, tc.by, cols)
			}
			if tf.rows != len(groups) {
				t.Fatalf("%d rows, want one per group %v", tf.rows, groups)
			}
			seen := map[string]bool{}
			n := 0
			for i, g := range tf.str[tc.by] {
				if seen[g] {
					t.Fatalf("group %q on two rows", g)
				}
				seen[g] = true
				want := refAllStats(q, before[g], in[g], time.Now())
				for _, c := range cols {
					if !close(tf.num[c][i], want[c]) {
						t.Errorf("row %d (%s=%s): %s = %v, the group's reference %v", i, tc.by, g, c, tf.num[c][i], want[c])
					}
					n++
				}
				if i > 0 && tc.metrics == nil {
					prev := tf.num["total_pnl"][i-1]
					if tf.num["total_pnl"][i] > prev {
						t.Errorf("row %d: total_pnl %v after %v: rows must go by total P&L, largest first", i, tf.num["total_pnl"][i], prev)
					}
				}
			}
			if fl := tf.field[cols[0]]; fl.Config == nil || fl.Config.DisplayNameFromDS == "" {
				t.Errorf("column %s has no display name", cols[0])
			}
			t.Logf("by %s: %d groups, %d values checked", tc.by, len(groups), n)
		})
	}
	// groupBy none: a 400 naming groupBy
	r := p.Query(t, tableCtx(table), query("N", "breakdown", nil, 100))["N"]
	if r.Status != 400 || r.Error == nil || !strings.HasPrefix(r.Error.Error(), "groupBy") {
		t.Errorf("breakdown without groupBy: status %d error %v; want 400 naming groupBy", r.Status, r.Error)
	}
}

// compareEpisodes: the rows of one group against its reference, deepest first.
func compareEpisodes(tf tableFrame, rows []int, want []refEpisode, limit int) error {
	if len(want) > limit {
		want = want[:limit]
	}
	if len(rows) != len(want) {
		return fmt.Errorf("%d episodes, the reference %d", len(rows), len(want))
	}
	for k, i := range rows {
		w := want[k]
		if !tf.tim["start"][i].Equal(w.start) || !tf.tim["valley"][i].Equal(w.valley) {
			return fmt.Errorf("episode %d: start %v valley %v, reference %v %v", k, tf.tim["start"][i], tf.tim["valley"][i], w.start, w.valley)
		}
		if w.recovered != !tf.tim["end"][i].IsZero() || (w.recovered && !tf.tim["end"][i].Equal(w.end)) {
			return fmt.Errorf("episode %d: end %v, reference %v (recovered %v)", k, tf.tim["end"][i], w.end, w.recovered)
		}
		for _, c := range []struct {
			name      string
			got, want float64
		}{{"depth", tf.num["depth"][i], w.depth}, {"depth_amount", tf.num["depth_amount"][i], w.amount},
			{"duration", tf.num["duration"][i], w.duration}, {"recovery", tf.num["recovery"][i], w.recovery}} {
			if !close(c.got, c.want) {
				return fmt.Errorf("episode %d: %s = %v, reference %v", k, c.name, c.got, c.want)
			}
		}
	}
	return nil
}

func TestDrawdownEpisodesMatchReference(t *testing.T) {
	all := allTrades(t)
	p := harness.Launch(t, harness.Options{})
	q := refQ()
	before, in := split(q, all)
	want := refEpisodes(q.capital+sumPnl(before[""]), q.from, q.to, in[""])
	if len(want) < 12 {
		t.Fatalf("fixture: %d episodes", len(want))
	}
	resp := p.Query(t, pctx(nil), query("D", "drawdown_episodes", nil, 100),
		query("L", "drawdown_episodes", map[string]any{"limit": 3}, 100))
	for ref, limit := range map[string]int{"D": 10, "L": 3} {
		frames := mustOK(t, resp[ref])
		tf := readTable(t, frames[0])
		if strings.Join(tf.names, ",") != "start,valley,end,depth,depth_amount,duration,recovery" {
			t.Fatalf("columns %v", tf.names)
		}
		rows := make([]int, tf.rows)
		for i := range rows {
			rows[i] = i
		}
		if err := compareEpisodes(tf, rows, want, limit); err != nil {
			t.Errorf("limit %d: %v", limit, err)
		}
	}
	units := map[string]string{"depth": "percentunit", "depth_amount": "currencyUSD", "duration": "s", "recovery": "s"}
	tf := readTable(t, mustOK(t, resp["D"])[0])
	for name, u := range units {
		if fl := tf.field[name]; fl.Config == nil || fl.Config.Unit != u {
			t.Errorf("%s: unit %v, want %s", name, fl.Config, u)
		}
	}
	t.Logf("%d episodes in the range; the deepest %.4f from %v", len(want), want[0].depth, want[0].start)
}

// Grouped: a leading column named after the dimension; each group's own
// episodes, deepest first; and an episode still open at the range end.
func TestDrawdownEpisodesPerGroup(t *testing.T) {
	const table = "trades_episodes"
	makeTradeTable(t, table, groupTrades(43), tableOpts{})
	all := loadTrades(t, pg, table)
	p := harness.Launch(t, harness.Options{})
	q := refQ()
	q.group = "strategy"
	before, in := split(q, all)
	groups := sortedKeys(in)
	frames := mustOK(t, p.Query(t, tableCtx(table), query("E", "drawdown_episodes",
		map[string]any{"groupBy": "strategy", "limit": 5}, 100))["E"])
	tf := readTable(t, frames[0])
	if tf.names[0] != "strategy" {
		t.Fatalf("columns %v: want strategy first", tf.names)
	}
	byGroup := map[string][]int{}
	var order []string
	for i, g := range tf.str["strategy"] {
		if len(byGroup[g]) == 0 {
			order = append(order, g)
		}
		byGroup[g] = append(byGroup[g], i)
	}
	if strings.Join(order, ",") != strings.Join(groups, ",") {
		t.Fatalf("groups in the table %v, want %v (by name)", order, groups)
	}
	open := 0
	for _, g := range groups {
		want := refEpisodes(q.capital+sumPnl(before[g]), q.from, q.to, in[g])
		if err := compareEpisodes(tf, byGroup[g], want, 5); err != nil {
			t.Errorf("strategy=%s: %v", g, err)
		}
		for _, w := range want[:min(5, len(want))] {
			if !w.recovered {
				open++
			}
		}
	}
	t.Logf("%d groups, %d rows, %d open at the range end", len(groups), tf.rows, open)
}
