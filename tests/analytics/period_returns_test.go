package analytics

// period_returns: return, P&L and trade count per calendar week (ISO,
// Monday start), month, quarter or year in the query's time zone, each
// period clipped to the range and stamped with its calendar start; and the
// monthly-returns grid. The reference groups the trades' local days into
// periods with Go's own calendar (time.Date in the zone) and compounds the
// daily returns r_d = D_d / E(end of d−1) of each period — the definition's
// "= the daily returns compounded" — rather than the E(end)/E(start) ratio
// the plugin computes.

import (
	"encoding/json"
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/data"
	"github.com/grafana/grafana-plugin-sdk-go/genproto/pluginv2"

	"github.com/algotrading/pnl-datasource/tests/harness"
)

type refPeriod struct {
	start            time.Time // the calendar period's first local midnight
	ret, pnl, trades float64
}

// periodStart: the first day of the calendar period that holds local day d.
func periodStart(d time.Time, period string) time.Time {
	y, m, _ := d.Date()
	switch period {
	case "week":
		return d.AddDate(0, 0, -((int(d.Weekday()) + 6) % 7)) // ISO: Monday
	case "quarter":
		return time.Date(y, ((m-1)/3)*3+1, 1, 0, 0, 0, 0, d.Location())
	case "year":
		return time.Date(y, 1, 1, 0, 0, 0, 0, d.Location())
	}
	return time.Date(y, m, 1, 0, 0, 0, 0, d.Location())
}

// refPeriods: every calendar period overlapping the range's local days, in
// order, with its daily returns compounded, its P&L and its trades.
func refPeriods(q refQuery, before, in []trade, period string) []refPeriod {
	var out []refPeriod
	idx := map[time.Time]int{}
	first, last := localDay(q.from, q.tz), localDay(q.to, q.tz)
	for d := first; !d.After(last); d = d.AddDate(0, 0, 1) {
		s := periodStart(d, period)
		if _, ok := idx[s]; !ok {
			idx[s] = len(out)
			out = append(out, refPeriod{start: s, ret: 1})
		}
	}
	for _, t := range in {
		out[idx[periodStart(localDay(t.closed, q.tz), period)]].trades++
	}
	days, pnl := refDaily(q, in)
	e := q.capital + sumPnl(before)
	for i, d := range days {
		p := &out[idx[periodStart(d, period)]]
		p.ret *= 1 + pnl[i]/e
		p.pnl += pnl[i]
		e += pnl[i]
	}
	for i := range out {
		out[i].ret--
	}
	return out
}

// refGrid: per year of the range, the 12 monthly returns (NaN outside the
// range) and the year's monthly returns compounded.
func refGrid(months []refPeriod) map[int][13]float64 {
	out := map[int][13]float64{}
	for _, p := range months {
		y := p.start.Year()
		row, ok := out[y]
		if !ok {
			for i := range row {
				row[i] = math.NaN()
			}
			row[12] = 1
		}
		row[p.start.Month()-1] = p.ret
		row[12] *= 1 + p.ret
		out[y] = row
	}
	for y, row := range out {
		row[12]--
		out[y] = row
	}
	return out
}

// periodFrame reads one period_returns series frame: times and the three value fields.
func periodFrame(f *data.Frame) (times []time.Time, cols map[string][]float64, err error) {
	if f.Meta == nil || f.Meta.Type != data.FrameTypeTimeSeriesMulti {
		return nil, nil, fmt.Errorf("frame %q meta %+v, want timeseries-multi", f.Name, f.Meta)
	}
	names := []string{}
	cols = map[string][]float64{}
	for _, fl := range f.Fields {
		names = append(names, fl.Name)
		for i := 0; i < fl.Len(); i++ {
			if fl.Type() == data.FieldTypeTime {
				times = append(times, fl.At(i).(time.Time))
				continue
			}
			v, ok := fl.ConcreteAt(i)
			if !ok {
				cols[fl.Name] = append(cols[fl.Name], math.NaN())
			} else {
				cols[fl.Name] = append(cols[fl.Name], v.(float64))
			}
		}
	}
	if strings.Join(names, ",") != "time,return,pnl,trades" {
		return nil, nil, fmt.Errorf("fields %v, want time, return, pnl, trades", names)
	}
	return times, cols, nil
}

func comparePeriods(times []time.Time, cols map[string][]float64, want []refPeriod) error {
	if len(times) != len(want) {
		return fmt.Errorf("%d periods, reference %d", len(times), len(want))
	}
	for i, w := range want {
		if !times[i].Equal(w.start) {
			return fmt.Errorf("period %d at %v, want its calendar start %v", i, times[i].UTC(), w.start.UTC())
		}
		for _, c := range []struct {
			name string
			want float64
		}{{"return", w.ret}, {"pnl", w.pnl}, {"trades", w.trades}} {
			if !close(cols[c.name][i], c.want) {
				return fmt.Errorf("period %d (%s) %s = %v, reference %v", i, w.start.Format("2006-01-02"), c.name, cols[c.name][i], c.want)
			}
		}
	}
	return nil
}

// queryRange is query() with its own time range.
func queryRange(refID, qtype string, body map[string]any, maxPoints int64, f, t time.Time) *pluginv2.DataQuery {
	dq := query(refID, qtype, body, maxPoints)
	dq.TimeRange = &pluginv2.TimeRange{FromEpochMS: f.UnixMilli(), ToEpochMS: t.UnixMilli()}
	return dq
}

func TestPeriodReturnsMatchReference(t *testing.T) {
	all := allTrades(t)
	p := harness.Launch(t, harness.Options{})
	ny, _ := time.LoadLocation("America/New_York")
	checked := 0
	for _, tz := range []*time.Location{time.UTC, ny} {
		for _, period := range []string{"week", "month", "quarter", "year", ""} {
			for _, weekdays := range []bool{false, true} {
				name := fmt.Sprintf("%s/%s/weekdays=%v", tz, period, weekdays)
				t.Run(name, func(t *testing.T) {
					q := refQ()
					q.tz, q.weekdays = tz, weekdays
					body := map[string]any{"timezone": tz.String()}
					if period != "" {
						body["period"] = period
					}
					if weekdays {
						body["tradingDays"] = "weekdays"
					}
					resp := p.Query(t, pctx(nil), query("P", "period_returns", body, 1000))
					frames := mustOK(t, resp["P"])
					if len(frames) != 1 {
						t.Fatalf("%d frames, want 1", len(frames))
					}
					times, cols, err := periodFrame(frames[0])
					if err != nil {
						t.Fatal(err)
					}
					before, in := split(q, all)
					per := period
					if per == "" {
						per = "month" // the default
					}
					want := refPeriods(q, before[""], in[""], per)
					if err := comparePeriods(times, cols, want); err != nil {
						t.Fatal(err)
					}
					// New York's range starts on Jan 31 local, so the first month began before the range:
					// its point sits at its calendar start, before `from`
					if tz == ny && per == "month" && !times[0].Before(from) {
						t.Errorf("first period at %v, want the start of January in New York (before the range)", times[0])
					}
					checked += len(want)
				})
			}
		}
	}
	t.Logf("%d periods checked against the reference (UTC and New York across its DST change)", checked)
}

// gridTrades: trades from mid-October 2024 to late March 2025 for a grid that spans two years.
var gridFrom, gridTo = time.Date(2024, 11, 10, 12, 0, 0, 0, time.UTC), time.Date(2025, 2, 20, 0, 0, 0, 0, time.UTC)

func TestPeriodReturnsGridAndGroups(t *testing.T) {
	const table = "trades_periods"
	rows := groupTrades(21)
	// move the fixture's times onto the grid's span, keeping their order and spacing
	shift := gridFrom.Sub(from) + 5*24*time.Hour // trades from 15 days before the range to mid-February
	for i := range rows {
		rows[i].closed = rows[i].closed.Add(shift)
		rows[i].opened = rows[i].opened.Add(shift)
	}
	makeTradeTable(t, table, rows, tableOpts{})
	all := loadTrades(t, pg, table)
	p := harness.Launch(t, harness.Options{})
	ctx := tableCtx(table)
	ny, _ := time.LoadLocation("America/New_York")
	for _, by := range []string{"", "strategy", "symbol"} {
		t.Run("grid/"+by, func(t *testing.T) {
			q := refQ()
			q.from, q.to, q.tz, q.group = gridFrom, gridTo, ny, by
			body := map[string]any{"layout": "grid", "timezone": "America/New_York"}
			if by != "" {
				body["groupBy"] = by
			}
			resp := p.Query(t, ctx, queryRange("G", "period_returns", body, 1000, gridFrom, gridTo))
			frames := mustOK(t, resp["G"])
			if len(frames) != 1 || frames[0].Meta == nil || frames[0].Meta.Type != data.FrameTypeTable {
				t.Fatalf("want one table frame, got %d", len(frames))
			}
			f := frames[0]
			wantCols := []string{"year", "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec", "Year"}
			if by != "" {
				wantCols = append([]string{by}, wantCols...)
			}
			var names []string
			for _, fl := range f.Fields {
				names = append(names, fl.Name)
			}
			if strings.Join(names, ",") != strings.Join(wantCols, ",") {
				t.Fatalf("columns %v, want %v", names, wantCols)
			}
			off := len(wantCols) - 14
			before, in := split(q, all)
			groups := sortedKeys(in)
			if by != "" {
				distinctBy(t, "total P&L", groups, func(g string) float64 { return sumPnl(in[g]) })
			}
			// rows: per group (by name), per year (ascending): 2024, 2025
			if f.Rows() != 2*len(groups) {
				t.Fatalf("%d rows, want 2 years × %d groups", f.Rows(), len(groups))
			}
			for gi, g := range groups {
				grid := refGrid(refPeriods(q, before[g], in[g], "month"))
				for yi, year := range []int{2024, 2025} {
					row := 2*gi + yi
					if by != "" && f.Fields[0].At(row).(string) != g {
						t.Errorf("row %d: %s %q, want %q", row, by, f.Fields[0].At(row), g)
					}
					if y := f.Fields[off].At(row).(int64); y != int64(year) {
						t.Fatalf("row %d: year %d, want %d", row, y, year)
					}
					for c := 0; c < 13; c++ {
						fl := f.Fields[off+1+c]
						got := math.NaN()
						if v, ok := fl.ConcreteAt(row); ok {
							got = v.(float64)
						}
						if !close(got, grid[year][c]) {
							t.Errorf("group %q %d %s = %v, reference %v", g, year, fl.Name, got, grid[year][c])
						}
						if fl.Config == nil || fl.Config.Unit != "percentunit" {
							t.Errorf("%s: config %+v, want unit percentunit", fl.Name, fl.Config)
						}
					}
				}
				// Nov 2024 is clipped at the range start, Feb 2025 at its end; Jan–Oct 2024 and Mar–Dec 2025 are null
				if math.IsNaN(grid[2024][10]) || !math.IsNaN(grid[2024][9]) || !math.IsNaN(grid[2025][2]) {
					t.Fatalf("fixture: grid %v", grid)
				}
			}
		})
	}
	// weekly series by strategy: label → the group's own periods; the first week began before the range
	q := refQ()
	q.from, q.to, q.tz, q.group = gridFrom, gridTo, ny, "strategy"
	resp := p.Query(t, ctx, queryRange("W", "period_returns", map[string]any{"period": "week", "groupBy": "strategy",
		"timezone": "America/New_York"}, 1000, gridFrom, gridTo))
	frames := mustOK(t, resp["W"])
	before, in := split(q, all)
	groups := sortedKeys(in)
	n := 0
	for _, field := range []string{"return", "pnl", "trades"} {
		n += checkPerGroup(t, "weekly "+field+" by strategy", frames, "strategy", field, groups,
			func(g string, f labelledField) error {
				want := refPeriods(q, before[g], in[g], "week")
				if l := f.times[0].In(ny); !f.times[0].Before(gridFrom) || l.Weekday() != time.Monday || l.Hour() != 0 {
					return fmt.Errorf("first week at %v, want the Monday before the range start", f.times[0])
				}
				times, cols, err := periodFrame(f.frame)
				if err != nil {
					return err
				}
				return comparePeriods(times, cols, want)
			})
	}
	if n != 3*len(groups) {
		t.Errorf("%d of %d labelled fields matched their group's reference", n, 3*len(groups))
	}
}

func TestPeriodAndRollingOptionErrors(t *testing.T) {
	p := harness.Launch(t, harness.Options{})
	for _, c := range []struct {
		kind string
		body string
		msg  string
	}{
		{"period_returns", `"period":"day"`, "period: must be one of week, month, quarter, year"},
		{"period_returns", `"period":"week","layout":"grid"`, `layout: "grid"`},
		{"period_returns", `"layout":"heatmap"`, "layout: must be one of series, grid"},
		{"rolling", `"metric":"calmar"`, "metric: must be one of sharpe, sortino, volatility, return, pnl, win_rate, profit_factor"},
		{"rolling", `"window":1`, "window: must be a whole number of days from 2 to 3650"},
		{"rolling", `"window":3651`, "window: "},
		{"rolling", `"window":"$w"`, "window: "},
	} {
		var body map[string]any
		if err := json.Unmarshal([]byte("{"+c.body+"}"), &body); err != nil {
			t.Fatal(err)
		}
		resp := p.Query(t, pctx(nil), query("E", c.kind, body, 100), query("OK", c.kind, nil, 100))
		if r := resp["E"]; r.Status != 400 || r.Error == nil || !strings.Contains(r.Error.Error(), c.msg) {
			t.Errorf("%s {%s}: status %d error %v, want 400 naming %q", c.kind, c.body, r.Status, r.Error, c.msg)
		}
		mustOK(t, resp["OK"]) // the other query of the request still answers
	}
}
