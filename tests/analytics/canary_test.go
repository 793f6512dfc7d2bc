package analytics

// A canary password (and canary TLS material) never appears in a reply or
// a log line, on every failure path: authentication failed, TLS refused,
// host unreachable, database missing — through CheckHealth, QueryData and
// CallResource, with the plugin logging at debug level.

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/genproto/pluginv2"

	"github.com/algotrading/pnl-datasource/tests/harness"
)

func TestCanaryPasswordNeverLeaks(t *testing.T) {
	allTrades(t)
	const canary = "canary-7f3a9c-Secr3t"
	const keyCanary = "-----BEGIN PRIVATE KEY-----canary-key-91b2-----END PRIVATE KEY-----"
	p := harness.Launch(t, harness.Options{Env: []string{"GF_PLUGIN_LOG_LEVEL=debug"}})
	paths := []struct {
		name   string
		extra  map[string]any
		secure map[string]string
	}{
		{"auth", nil, map[string]string{"password": canary}},
		{"tls-required", map[string]any{"sslmode": "require", "host": "127.0.0.1"}, map[string]string{"password": canary}},
		{"tls-material", map[string]any{"sslmode": "verify-full", "host": "127.0.0.1"},
			map[string]string{"password": canary, "tlsClientKey": keyCanary, "tlsClientCert": keyCanary, "tlsCACert": keyCanary}},
		{"unreachable", map[string]any{"host": "127.0.0.1", "port": 1}, map[string]string{"password": canary}},
		{"no-database", map[string]any{"database": "no_such_db"}, map[string]string{"password": canary}},
	}
	var replies []string
	for i, c := range paths {
		ctx := harness.PluginContext("canary-"+c.name, pg.JSONData(c.extra), c.secure, int64(i+1))
		hr, _ := health(t, p, ctx)
		if hr.Status == pluginv2.CheckHealthResponse_OK {
			t.Errorf("%s: health OK; want an error", c.name)
		}
		replies = append(replies, hr.Message, string(hr.JsonDetails))
		cc, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		res, err := p.Data.QueryData(cc, &pluginv2.QueryDataRequest{PluginContext: ctx,
			Queries: []*pluginv2.DataQuery{query("A", "equity", nil, 100), query("B", "trades", nil, 100)}})
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		for _, r := range res.Responses {
			if r.Status < 400 {
				t.Errorf("%s: query answered %d; want an error", c.name, r.Status)
			}
			replies = append(replies, r.Error)
			for _, f := range r.Frames {
				replies = append(replies, string(f))
			}
		}
		for _, path := range []string{"strategies", "schema"} {
			stream, err := p.Resource.CallResource(cc, &pluginv2.CallResourceRequest{PluginContext: ctx, Path: path,
				Method: "GET", Url: path})
			if err != nil {
				t.Fatal(err)
			}
			msg, err := stream.Recv()
			if err != nil {
				t.Fatal(err)
			}
			replies = append(replies, string(msg.Body))
		}
		cancel()
		t.Logf("%s: %s", c.name, hr.Message)
	}
	time.Sleep(100 * time.Millisecond) // let the last log lines arrive
	lines := p.Stderr.Lines()
	if len(lines) < 5 {
		t.Fatalf("only %d log lines at debug level: the check would prove nothing", len(lines))
	}
	for _, secret := range []string{canary, "canary-key-91b2"} {
		for _, s := range replies {
			if strings.Contains(s, secret) {
				t.Errorf("a reply carries the secret: %.300s", s)
			}
		}
		for _, l := range lines {
			if strings.Contains(l, secret) {
				t.Errorf("a log line carries the secret: %.300s", l)
			}
		}
	}
}
