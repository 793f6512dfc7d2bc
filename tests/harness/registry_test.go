package harness

// The registry of query kinds (src/query/kinds.c) is the one list: the
// plugin names its kinds in the error for an unknown queryType, and the
// frontend's list (frontend/src/types.ts), the contract
// (docs/query-model.md) and the metrics' query_type label must name the
// same kinds.

import (
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/genproto/pluginv2"
)

func TestQueryKindsAreTheRegistrysEverywhere(t *testing.T) {
	p := Launch(t, Options{})
	res, err := p.Data.QueryData(ctxT(t, 5*time.Second), &pluginv2.QueryDataRequest{
		PluginContext: &pluginv2.PluginContext{},
		Queries: []*pluginv2.DataQuery{{RefId: "A", Json: []byte(`{"queryType":"nope"}`),
			TimeRange: &pluginv2.TimeRange{FromEpochMS: 0, ToEpochMS: 1000}}}})
	if err != nil {
		t.Fatal(err)
	}
	msg := res.Responses["A"].Error
	m := regexp.MustCompile(`expected one of ([a-z_, ]+)\)`).FindStringSubmatch(msg)
	if m == nil {
		t.Fatalf("unknown queryType error %q does not list the kinds", msg)
	}
	registry := strings.Split(m[1], ", ")
	sort.Strings(registry)
	if len(registry) < 10 {
		t.Fatalf("registry lists %d kinds: %v", len(registry), registry)
	}

	read := func(rel string) string {
		b, err := os.ReadFile(filepath.Join(RepoRoot(), rel))
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	ts := read("frontend/src/types.ts")
	var frontend []string
	for _, mm := range regexp.MustCompile(`\{ value: '([a-z_]+)', label: '[^']*', description:`).FindAllStringSubmatch(
		ts[strings.Index(ts, "export const QUERY_TYPES"):strings.Index(ts, "export const STAT_METRICS")], -1) {
		frontend = append(frontend, mm[1])
	}
	sort.Strings(frontend)
	md := read("docs/query-model.md")
	row := regexp.MustCompile("(?m)^\\| `queryType` \\|.*$").FindString(md)
	var docs []string
	for _, mm := range regexp.MustCompile("`([a-z_]+)`").FindAllStringSubmatch(row, -1) {
		if mm[1] != "queryType" {
			docs = append(docs, mm[1])
		}
	}
	sort.Strings(docs)
	for name, got := range map[string][]string{"frontend/src/types.ts QUERY_TYPES": frontend,
		"docs/query-model.md queryType row": docs} {
		if strings.Join(got, ",") != strings.Join(registry, ",") {
			t.Errorf("%s lists %v; the registry has %v", name, got, registry)
		}
	}

	// every kind is a query_type of the metrics, with zero counts too
	mres, err := p.Diagnostics.CollectMetrics(ctxT(t, 5*time.Second), &pluginv2.CollectMetricsRequest{})
	if err != nil {
		t.Fatal(err)
	}
	text := string(mres.Metrics.Prometheus)
	for _, k := range registry {
		if !strings.Contains(text, `gpx_queries_total{query_type="`+k+`",status="200"}`) {
			t.Errorf("metrics have no gpx_queries_total for query_type %q", k)
		}
	}
}
