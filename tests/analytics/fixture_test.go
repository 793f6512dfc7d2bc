package analytics

// Small, seeded trade tables for the regression tests of issue 9: each test
// builds its own table in the default layout (sql/schema.sql's `trades`,
// copied with LIKE … INCLUDING ALL), fills it with rows generated here and
// reads them back raw with loadTrades for the reference, so the reference
// sees exactly what Postgres holds.

import (
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/genproto/pluginv2"

	"github.com/algotrading/pnl-datasource/tests/harness"
	"github.com/algotrading/pnl-datasource/tests/pgfix"
)

// fixtureRow is one row to insert. A zero closed time writes closed_at NULL
// (a still-open trade), a NaN pnl writes realized_pnl NULL, NaN expected
// prices write NULL.
type fixtureRow struct {
	trade
	opened time.Time
}

// tableOpts: nullableClose drops NOT NULL from closed_at and realized_pnl,
// as a bot's table that also holds its open trades has it.
type tableOpts struct {
	nullableClose bool
}

func nan() float64 { return math.NaN() }

func sqlText(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

func sqlNum(v float64) string {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return "NULL"
	}
	return strconv.FormatFloat(v, 'g', -1, 64)
}

func sqlTime(t time.Time) string {
	if t.IsZero() {
		return "NULL"
	}
	return "'" + t.UTC().Format("2006-01-02 15:04:05.000000") + "+00'"
}

// makeTradeTable (re)creates table name with the default trades layout and
// inserts rows. The table belongs to the plugin's role.
func makeTradeTable(t *testing.T, name string, rows []fixtureRow, o tableOpts) {
	t.Helper()
	allTrades(t) // TestMain's `trades` table is the template
	var b strings.Builder
	fmt.Fprintf(&b, "\\set ON_ERROR_STOP on\nBEGIN;\nDROP TABLE IF EXISTS %s;\nCREATE TABLE %s (LIKE trades INCLUDING ALL);\n", name, name)
	if o.nullableClose {
		fmt.Fprintf(&b, "ALTER TABLE %s ALTER COLUMN closed_at DROP NOT NULL, ALTER COLUMN realized_pnl DROP NOT NULL;\n", name)
	}
	const per = 500
	for i := 0; i < len(rows); i += per {
		fmt.Fprintf(&b, "INSERT INTO %s (trade_id, account, exchange, strategy, symbol, side, qty, entry_price, exit_price,"+
			" expected_entry_price, expected_exit_price, opened_at, closed_at, fees, realized_pnl) VALUES\n", name)
		for k := i; k < len(rows) && k < i+per; k++ {
			r := rows[k]
			if k > i {
				b.WriteString(",\n")
			}
			side := "NULL"
			if r.side != "" {
				side = sqlText(r.side)
			}
			fmt.Fprintf(&b, "(%d, %s, 'fixture', %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
				r.id, sqlText(r.account), sqlText(r.strategy), sqlText(r.symbol), side,
				sqlNum(r.qty), sqlNum(r.entry), sqlNum(r.exit), sqlNum(r.expEntry), sqlNum(r.expExit),
				sqlTime(r.opened), sqlTime(r.closed), sqlNum(r.fees), sqlNum(r.pnl))
		}
		b.WriteString(";\n")
	}
	fmt.Fprintf(&b, "ALTER TABLE %s OWNER TO grafana;\nCOMMIT;\nANALYZE %s;\n", name, name)
	file := filepath.Join(t.TempDir(), name+".sql")
	if err := os.WriteFile(file, []byte(b.String()), 0644); err != nil {
		t.Fatal(err)
	}
	if err := pg.PsqlFiles("trading", nil, file); err != nil {
		t.Fatal(err)
	}
}

// tableCtx is a data-source instance reading table name (its own uid, so
// each fixture gets its own cached settings and pool).
func tableCtx(name string) *pluginv2.PluginContext {
	return harness.PluginContext(name+"-ds", pg.JSONData(map[string]any{"table": name}), pgfix.Secure(), 1)
}

// weighted picks names[i] with probability w[i]/Σw.
func weighted(r *rand.Rand, names []string, w []float64) int {
	s := 0.0
	for _, x := range w {
		s += x
	}
	u := r.Float64() * s
	for i, x := range w {
		if u < x {
			return i
		}
		u -= x
	}
	return len(names) - 1
}

// distinctTimes returns n sorted, distinct whole-second times in [start, end)
// that avoid the range edges from and to (a trade exactly there would make
// the expected point counts depend on the edge rules, which are not what
// these tests are about).
func distinctTimes(r *rand.Rand, n int, start, end time.Time) []time.Time {
	span := int64(end.Sub(start) / time.Second)
	seen := map[int64]bool{}
	out := make([]time.Time, 0, n)
	for len(out) < n {
		s := r.Int64N(span)
		tm := start.Add(time.Duration(s) * time.Second)
		if seen[s] || tm.Equal(from) || tm.Equal(to) {
			continue
		}
		seen[s] = true
		out = append(out, tm)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Before(out[j]) })
	return out
}

// withPrices fills side, qty and the four prices of a row so that each leg's
// slippage is about slipBps (positive = adverse), an expected price being
// NULL with probability pNull.
func withPrices(r *rand.Rand, row *fixtureRow, base, slipBps, pNull float64) {
	row.side = "long"
	if r.IntN(2) == 0 {
		row.side = "short"
	}
	row.qty = math.Round((0.5+4.5*r.Float64())*1e4) / 1e4
	row.entry = math.Round(base*(1+0.05*r.NormFloat64())*1e4) / 1e4
	row.exit = math.Round(row.entry*(1+0.02*r.NormFloat64())*1e4) / 1e4
	// a buy leg fills above its expected price when slippage is adverse
	buyEntry := row.side == "long"
	leg := func(fill float64, buying bool) float64 {
		if r.Float64() < pNull {
			return math.NaN()
		}
		s := (slipBps + 2*r.NormFloat64()) / 1e4
		if !buying {
			s = -s
		}
		return math.Round(fill/(1+s)*1e4) / 1e4
	}
	row.expEntry = leg(row.entry, buyEntry)
	row.expExit = leg(row.exit, !buyEntry)
}
