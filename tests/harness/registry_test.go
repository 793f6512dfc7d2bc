package harness

// The registry of query kinds (src/query/kinds.c) is the one list: the
// plugin names its kinds in the error for an unknown queryType, and the
// frontend's list (frontend/src/types.ts), the contract
// (docs/query-model.md) and the metrics' query_type label must name the
// same kinds.

import (
	"encoding/json"
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
	frontendDesc := map[string]string{}
	for _, mm := range regexp.MustCompile(`\{ value: '([a-z_]+)', label: '[^']*', description: '([^']*)'`).FindAllStringSubmatch(
		ts[strings.Index(ts, "export const QUERY_TYPES"):strings.Index(ts, "export const STAT_METRICS")], -1) {
		frontend = append(frontend, mm[1])
		frontendDesc[mm[1]] = mm[2]
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

	// the editor's fallback list words each kind as the registry does (the
	// `kinds` resource, which the editor asks first)
	stream, err := p.Resource.CallResource(ctxT(t, 5*time.Second), &pluginv2.CallResourceRequest{
		PluginContext: &pluginv2.PluginContext{}, Path: "kinds", Method: "GET", Url: "kinds"})
	if err != nil {
		t.Fatal(err)
	}
	kr, err := stream.Recv()
	if err != nil {
		t.Fatal(err)
	}
	var kinds []struct{ Name, Description string }
	if kr.Code != 200 || json.Unmarshal(kr.Body, &kinds) != nil || len(kinds) != len(registry) {
		t.Fatalf("kinds resource: %d %s", kr.Code, kr.Body)
	}
	for _, k := range kinds {
		if d, ok := frontendDesc[k.Name]; ok && d != k.Description {
			t.Errorf("frontend/src/types.ts describes %s as %q; the registry says %q", k.Name, d, k.Description)
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
