package frames

// Frames through the protocol: the plugin (started with GPX_TEST_QUERIES=1)
// answers QueryData with the golden frames, and the response goes through
// the SDK's protobuf converter exactly as Grafana converts it.

import (
	"context"
	"encoding/json"
	"path/filepath"
	"testing"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/backend"
	"github.com/grafana/grafana-plugin-sdk-go/genproto/pluginv2"

	"github.com/algotrading/pnl-datasource/tests/harness"
)

func TestGoldenFramesThroughQueryData(t *testing.T) {
	p := harness.Launch(t, harness.Options{Env: []string{"GPX_TEST_QUERIES=1"}})
	exps, _ := filepath.Glob(filepath.Join("..", "golden", "frames", "*.json"))
	if len(exps) < 8 {
		t.Fatalf("found %d golden descriptions", len(exps))
	}
	for _, e := range exps {
		name := filepath.Base(e[:len(e)-len(".json")])
		t.Run(name, func(t *testing.T) {
			exp := loadExpected(t, e)
			js, _ := json.Marshal(map[string]any{"case": name, "seed": 1})
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			res, err := p.Data.QueryData(ctx, &pluginv2.QueryDataRequest{Queries: []*pluginv2.DataQuery{
				{RefId: exp.RefID, QueryType: "__test_frame", Json: js}}})
			if err != nil {
				t.Fatal(err)
			}
			resp, err := backend.FromProto().QueryDataResponse(res)
			if err != nil {
				t.Fatalf("Grafana's converter rejects the response: %v", err)
			}
			r := resp.Responses[exp.RefID]
			if r.Error != nil || r.Status != 200 || len(r.Frames) != 1 {
				t.Fatalf("status %d error %v frames %d", r.Status, r.Error, len(r.Frames))
			}
			compare(t, exp, r.Frames[0])
		})
	}
}

func TestBigFrameThroughQueryData(t *testing.T) {
	p := harness.Launch(t, harness.Options{Env: []string{"GPX_TEST_QUERIES=1"}})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	res, err := p.Data.QueryData(ctx, &pluginv2.QueryDataRequest{Queries: []*pluginv2.DataQuery{
		{RefId: "A", QueryType: "__test_frame", Json: []byte(`{"case":"big_1m","seed":1}`)}}})
	if err != nil {
		t.Fatal(err)
	}
	resp, err := backend.FromProto().QueryDataResponse(res)
	if err != nil {
		t.Fatal(err)
	}
	f := resp.Responses["A"].Frames[0]
	if f.Rows() != 1000000 {
		t.Fatalf("%d rows, want 1,000,000", f.Rows())
	}
	t.Logf("1,000,000-row frame, %d fields, %d response bytes, decoded by the SDK", len(f.Fields), len(res.Responses["A"].Frames[0]))
}
