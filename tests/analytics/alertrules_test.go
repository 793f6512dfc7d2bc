package analytics

// The Grafana-managed alert rules shipped in deploy/grafana/provisioning
// must be valid queries for this plugin: each rule's plugin query (refId A)
// is sent as Grafana's alerting sends it (FromAlert header, the model as
// JSON, the rule's relative time range) against the demo data, and the
// rule's reduce(last) + threshold are applied to the numeric answer.

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/backend"
	"github.com/grafana/grafana-plugin-sdk-go/data"
	"github.com/grafana/grafana-plugin-sdk-go/genproto/pluginv2"
	"go.yaml.in/yaml/v3"

	"github.com/algotrading/pnl-datasource/tests/harness"
)

type ruleFile struct {
	Groups []struct {
		Name  string `yaml:"name"`
		Rules []struct {
			Title string `yaml:"title"`
			Data  []struct {
				RefID             string         `yaml:"refId"`
				DatasourceUID     string         `yaml:"datasourceUid"`
				RelativeTimeRange map[string]int `yaml:"relativeTimeRange"`
				Model             map[string]any `yaml:"model"`
			} `yaml:"data"`
		} `yaml:"rules"`
	} `yaml:"groups"`
}

func TestProvisionedAlertRulesAreValidQueries(t *testing.T) {
	allTrades(t)
	path := filepath.Join(harness.RepoRoot(), "deploy", "grafana", "provisioning", "alerting", "trading-alerts.yaml")
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var rf ruleFile
	if err := yaml.Unmarshal(raw, &rf); err != nil {
		t.Fatal(err)
	}
	p := harness.Launch(t, harness.Options{})
	// Evaluate "now" at the end of the demo data so the ranges hold trades.
	now := time.Date(2025, 4, 30, 0, 0, 0, 0, time.UTC)
	n := 0
	for _, g := range rf.Groups {
		for _, rule := range g.Rules {
			var model map[string]any
			var rel map[string]int
			var threshold map[string]any
			for _, d := range rule.Data {
				switch {
				case d.DatasourceUID == "algotrading-pnl":
					model, rel = d.Model, d.RelativeTimeRange
				case d.Model["type"] == "threshold":
					conds := d.Model["conditions"].([]any)
					threshold = conds[0].(map[string]any)["evaluator"].(map[string]any)
				}
			}
			if model == nil || threshold == nil {
				t.Errorf("rule %s: no plugin query or no threshold", rule.Title)
				continue
			}
			js, _ := json.Marshal(model)
			q := &pluginv2.DataQuery{RefId: "A", Json: js, MaxDataPoints: 43200, IntervalMS: 60000,
				TimeRange: &pluginv2.TimeRange{FromEpochMS: now.Add(-time.Duration(rel["from"]) * time.Second).UnixMilli(),
					ToEpochMS: now.Add(-time.Duration(rel["to"]) * time.Second).UnixMilli()}}
			if qt, ok := model["queryType"].(string); ok {
				q.QueryType = qt
			}
			c, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			res, err := p.Data.QueryData(c, &pluginv2.QueryDataRequest{PluginContext: pctx(nil),
				Headers: map[string]string{"FromAlert": "true"}, Queries: []*pluginv2.DataQuery{q}})
			cancel()
			if err != nil {
				t.Fatalf("rule %s: %v", rule.Title, err)
			}
			resp, err := backend.FromProto().QueryDataResponse(res)
			if err != nil {
				t.Fatalf("rule %s: %v", rule.Title, err)
			}
			frames := mustOK(t, resp.Responses["A"])
			params := threshold["params"].([]any)
			var limit float64
			switch v := params[0].(type) {
			case int:
				limit = float64(v)
			case float64:
				limit = v
			default:
				t.Fatalf("rule %s: threshold %v is not a number", rule.Title, v)
			}
			for _, f := range frames {
				if f.TimeSeriesSchema().Type != data.TimeSeriesTypeNot {
					t.Errorf("rule %s: frame is not numeric", rule.Title)
				}
				for _, fl := range f.Fields {
					v, ok := fl.ConcreteAt(fl.Len() - 1) // reduce: last
					if !ok {
						continue // dropNN drops nulls
					}
					x := v.(float64)
					fires := (threshold["type"] == "gt" && x > limit) || (threshold["type"] == "lt" && x < limit)
					t.Logf("rule %s: %s %v = %.4g → fires=%v", rule.Title, fl.Name, fl.Labels, x, fires)
					n++
				}
			}
		}
	}
	if n < 4 {
		t.Errorf("only %d alert series evaluated; want every rule to produce numbers", n)
	}
}
