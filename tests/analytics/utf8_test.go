package analytics

// Every string the plugin emits is valid UTF-8 (issue 10, problem 2).
// Grafana's Go protobuf decoder rejects a string field that is not, and
// then the whole QueryData reply fails, not just one refId — so these
// tests go through the real gRPC client, whose decoder checks exactly that.

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/grafana/grafana-plugin-sdk-go/backend"
	"github.com/grafana/grafana-plugin-sdk-go/genproto/pluginv2"

	"github.com/algotrading/pnl-datasource/tests/harness"
	"github.com/algotrading/pnl-datasource/tests/pgfix"
)

func TestMultibyteInputIsCutOnCharacterBoundaries(t *testing.T) {
	allTrades(t)
	p := harness.Launch(t, harness.Options{})
	e40 := strings.Repeat("é", 40)
	cases := []struct {
		ref, field string
		body       map[string]any
		qtype      string
	}{
		{"qt", "queryType", map[string]any{}, "a" + e40},
		{"tz", "timezone", map[string]any{"timezone": "Europe/" + e40}, "equity"},
		{"metric", "metrics[0]", map[string]any{"metrics": []string{"s" + e40}}, "stats"},
		{"days", "tradingDays", map[string]any{"tradingDays": "w" + e40}, "equity"},
		{"capital", "initialCapital", map[string]any{"initialCapital": "1" + e40}, "equity"},
	}
	var qs []*pluginv2.DataQuery
	for _, c := range cases {
		qs = append(qs, query(c.ref, c.qtype, c.body, 100))
	}
	c, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	// the gRPC client's protobuf decoder rejects invalid UTF-8 in any string
	res, err := p.Data.QueryData(c, &pluginv2.QueryDataRequest{PluginContext: pctx(nil), Queries: qs})
	if err != nil {
		t.Fatalf("QueryData reply rejected: %v", err)
	}
	for _, cs := range cases {
		r := res.Responses[cs.ref]
		if r == nil || r.Status != 400 || !strings.Contains(r.Error, cs.field) {
			t.Errorf("%s: %+v; want 400 naming %s", cs.ref, r, cs.field)
			continue
		}
		if !utf8.ValidString(r.Error) || strings.ContainsRune(r.Error, utf8.RuneError) {
			t.Errorf("%s: error %q cut inside a character", cs.ref, r.Error)
		}
	}
}

// A SQL_ASCII database hands over whatever bytes the bot wrote: labels,
// frame names, table cells and resource values carry U+FFFD for them.
func TestBytesThatAreNotUTF8FromTheDatabaseAreReplaced(t *testing.T) {
	if _, err := pg.Psql("postgres", "CREATE DATABASE latin ENCODING 'SQL_ASCII' LC_COLLATE 'C' LC_CTYPE 'C' TEMPLATE template0"); err != nil &&
		!strings.Contains(err.Error(), "already exists") {
		t.Fatal(err)
	}
	if err := pg.PsqlFiles("latin", nil, filepath.Join(harness.RepoRoot(), "sql", "schema.sql")); err != nil {
		t.Fatal(err)
	}
	var rows []string
	for i := 0; i < 30; i++ {
		rows = append(rows, fmt.Sprintf("(%d, E'acc\\xff', 'ex', E'strat\\xe9gie%d', E'SYM\\xc3', 'long', 1, 100, 101, 100, 100,"+
			" now() - interval '%d hours', now() - interval '%d hours', 0.1, %d)", i+1, i%2, 2*i+2, 2*i+1, i-10))
	}
	if _, err := pg.Psql("latin", "TRUNCATE trades; INSERT INTO trades VALUES "+strings.Join(rows, ",")+
		"; ALTER TABLE trades OWNER TO grafana"); err != nil {
		t.Fatal(err)
	}
	p := harness.Launch(t, harness.Options{})
	ctx := harness.PluginContext("latin-ds", pg.JSONData(map[string]any{"database": "latin"}), pgfix.Secure(), 1)
	now := time.Now()
	mk := func(ref, kind string, body map[string]any) *pluginv2.DataQuery {
		js, _ := json.Marshal(body)
		return &pluginv2.DataQuery{RefId: ref, QueryType: kind, MaxDataPoints: 100, IntervalMS: 1000, Json: js,
			TimeRange: &pluginv2.TimeRange{FromEpochMS: now.Add(-7 * 24 * time.Hour).UnixMilli(), ToEpochMS: now.UnixMilli()}}
	}
	c, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	res, err := p.Data.QueryData(c, &pluginv2.QueryDataRequest{PluginContext: ctx, Queries: []*pluginv2.DataQuery{
		mk("eq", "equity", map[string]any{"groupBy": "strategy"}),
		mk("st", "stats", map[string]any{"groupBy": "account", "metrics": []string{"trade_count"}}),
		mk("tr", "trades", map[string]any{}),
		mk("tc", "trade_count", map[string]any{"groupBy": "symbol"}),
	}})
	if err != nil {
		t.Fatalf("QueryData reply rejected: %v", err)
	}
	for ref, r := range res.Responses {
		if r.Status != 200 || r.Error != "" || len(r.Frames) == 0 {
			t.Errorf("%s: status %d %q, %d frames", ref, r.Status, r.Error, len(r.Frames))
		}
		// Arrow strings are bytes to protobuf: check what the frames say
		for _, f := range r.Frames {
			if !utf8.Valid(f) && strings.Contains(string(f), "strat\xe9gie") {
				t.Errorf("%s: a frame carries the raw byte 0xe9", ref)
			}
		}
	}
	decoded, err := backend.FromProto().QueryDataResponse(res)
	if err != nil {
		t.Fatal(err)
	}
	eq := decoded.Responses["eq"].Frames
	var labels []string
	for _, f := range eq {
		for _, fl := range f.Fields {
			for _, v := range fl.Labels {
				labels = append(labels, v)
			}
		}
		if !utf8.ValidString(f.Name) {
			t.Errorf("frame name %q is not UTF-8", f.Name)
		}
	}
	if strings.Join(labels, ",") != "strat\uFFFDgie0,strat\uFFFDgie1" {
		t.Errorf("labels %q; want the two strategies with U+FFFD for the byte 0xe9", labels)
	}
	tr := decoded.Responses["tr"].Frames
	if len(tr) != 1 {
		t.Fatalf("trades: %d frames", len(tr))
	}
	for _, fl := range tr[0].Fields {
		for i := 0; i < fl.Len(); i++ {
			if s, ok := fl.ConcreteAt(i); ok {
				if str, isStr := s.(string); isStr && !utf8.ValidString(str) {
					t.Errorf("trades %s[%d] = %q is not UTF-8", fl.Name, i, str)
				}
			}
		}
	}
	code, body := p.Get(t, ctx, "accounts")
	var got []string
	if code != 200 || json.Unmarshal([]byte(body), &got) != nil || len(got) != 1 || got[0] != "acc\uFFFD" {
		t.Errorf("accounts: %d %s; want [\"acc\uFFFD\"]", code, body)
	}
}
