// Package harness plays Grafana's part: it launches the plugin binary with
// hashicorp/go-plugin exactly as Grafana does (same handshake config,
// VersionedPlugins for version 2, gRPC only) and hands out the SDK's
// pluginv2 clients. Every test package under tests/ uses it.
package harness

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/backend"
	"github.com/grafana/grafana-plugin-sdk-go/backend/grpcplugin"
	"github.com/grafana/grafana-plugin-sdk-go/genproto/pluginv2"
	"github.com/hashicorp/go-hclog"
	plugin "github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"
)

// Handshake is the config Grafana uses (SDK backend/grpcplugin/handshake.go).
var Handshake = plugin.HandshakeConfig{
	ProtocolVersion:  grpcplugin.ProtocolVersion,
	MagicCookieKey:   grpcplugin.MagicCookieKey,
	MagicCookieValue: grpcplugin.MagicCookieValue,
}

// RepoRoot finds the repository root (the folder holding plugin.json).
func RepoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Clean(filepath.Join(filepath.Dir(file), "..", ".."))
}

// BinaryPath is the plugin under test: $GPX_PLUGIN_BIN or dist/.
func BinaryPath() string {
	if p := os.Getenv("GPX_PLUGIN_BIN"); p != "" {
		return p
	}
	return filepath.Join(RepoRoot(), "dist", "gpx_algotrading_pnl_linux_amd64")
}

// StderrLines collects the plugin's raw stderr, line by line.
type StderrLines struct {
	mu    sync.Mutex
	buf   bytes.Buffer
	lines []string
}

func (s *StderrLines) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.buf.Write(p)
	for {
		i := bytes.IndexByte(s.buf.Bytes(), '\n')
		if i < 0 {
			break
		}
		s.lines = append(s.lines, string(s.buf.Next(i+1)[:i]))
	}
	return len(p), nil
}

// Lines returns a copy of the complete lines seen so far.
func (s *StderrLines) Lines() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.lines...)
}

// Plugin is a running plugin process and its clients.
type Plugin struct {
	Client      *plugin.Client
	RPC         plugin.ClientProtocol
	Data        grpcplugin.DataClient
	Diagnostics grpcplugin.DiagnosticsClient
	Resource    grpcplugin.ResourceClient
	Conn        *grpc.ClientConn
	Stderr      *StderrLines
	Pid         int
	StartupTime time.Duration
}

// Options tune a launch.
type Options struct {
	Env    []string // extra environment, e.g. "GPX_TEST_QUERIES=1"
	Binary string   // the plugin binary; default BinaryPath()
}

// connCapture is a GRPCPlugin whose client side just keeps the connection,
// so tests can also make raw calls on the very connection go-plugin dialled.
type connCapture struct {
	plugin.NetRPCUnsupportedPlugin
	conn **grpc.ClientConn
}

func (c *connCapture) GRPCServer(*plugin.GRPCBroker, *grpc.Server) error { return nil }
func (c *connCapture) GRPCClient(_ context.Context, _ *plugin.GRPCBroker, cc *grpc.ClientConn) (any, error) {
	*c.conn = cc
	return cc, nil
}

// Launch starts the plugin like Grafana's grpcplugin client does; it is
// killed when the test ends.
func Launch(t testing.TB, opts Options) *Plugin {
	t.Helper()
	p, err := LaunchE(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		p.Client.Kill()
		// A sanitizer build reports at exit (LeakSanitizer) or on the spot;
		// either fails the test that launched it.
		if os.Getenv("GPX_PLUGIN_BIN") != "" {
			time.Sleep(200 * time.Millisecond) // let go-plugin drain the last stderr lines
		}
		for _, l := range p.Stderr.Lines() {
			if strings.Contains(l, "Sanitizer") || strings.Contains(l, "runtime error:") {
				t.Errorf("sanitizer report from the plugin: %s", l)
			}
		}
	})
	return p
}

// LaunchE is Launch for programs (make demo, make bench); call p.Client.Kill().
func LaunchE(opts Options) (*Plugin, error) {
	bin := BinaryPath()
	if opts.Binary != "" {
		bin = opts.Binary
	}
	if _, err := os.Stat(bin); err != nil {
		return nil, fmt.Errorf("plugin binary missing (%v): run `make build` first", err)
	}
	p := &Plugin{Stderr: &StderrLines{}}
	cmd := exec.Command(bin)
	cmd.Env = append(os.Environ(), "GF_PLUGIN_LOG_LEVEL=debug")
	cmd.Env = append(cmd.Env, opts.Env...)
	var conn *grpc.ClientConn
	// The plugin set mirrors Grafana's (GF client.go: diagnostics, resource,
	// data, stream, ...); "conn" is ours, to reach the raw connection.
	set := map[int]plugin.PluginSet{
		grpcplugin.ProtocolVersion: {
			"diagnostics": &grpcplugin.DiagnosticsGRPCPlugin{},
			"resource":    &grpcplugin.ResourceGRPCPlugin{},
			"data":        &grpcplugin.DataGRPCPlugin{},
			"stream":      &grpcplugin.StreamGRPCPlugin{},
			"conn":        &connCapture{conn: &conn},
		},
	}
	logger := hclog.New(&hclog.LoggerOptions{Name: "host", Output: io.Discard, Level: hclog.Trace})
	p.Client = plugin.NewClient(&plugin.ClientConfig{
		HandshakeConfig:  Handshake,
		VersionedPlugins: set,
		Cmd:              cmd,
		AllowedProtocols: []plugin.Protocol{plugin.ProtocolGRPC},
		Logger:           logger,
		Stderr:           p.Stderr,
	})
	start := time.Now()
	rpc, err := p.Client.Client()
	if err != nil {
		p.Client.Kill()
		return nil, fmt.Errorf("handshake failed: %v\nstderr:\n%s", err, strings.Join(p.Stderr.Lines(), "\n"))
	}
	p.StartupTime = time.Since(start)
	p.RPC = rpc
	if rc := p.Client.ReattachConfig(); rc != nil {
		p.Pid = rc.Pid
	}
	for _, name := range []string{"data", "diagnostics", "resource", "conn"} {
		raw, err := rpc.Dispense(name)
		if err != nil {
			p.Client.Kill()
			return nil, fmt.Errorf("dispense %s: %v", name, err)
		}
		switch name {
		case "data":
			p.Data = raw.(grpcplugin.DataClient)
		case "diagnostics":
			p.Diagnostics = raw.(grpcplugin.DiagnosticsClient)
		case "resource":
			p.Resource = raw.(grpcplugin.ResourceClient)
		}
	}
	p.Conn = conn
	return p, nil
}

// PluginContext builds the context Grafana sends for a data-source instance.
func PluginContext(uid string, jsonData any, secure map[string]string, updated int64) *pluginv2.PluginContext {
	js, _ := json.Marshal(jsonData)
	return &pluginv2.PluginContext{
		OrgId:    1,
		PluginId: "algotrading-pnl-datasource",
		DataSourceInstanceSettings: &pluginv2.DataSourceInstanceSettings{
			Id: 1, Uid: uid, Name: "Trading", JsonData: js,
			DecryptedSecureJsonData: secure, LastUpdatedMS: updated,
		},
		PluginVersion: "0.1.0",
		UserAgent:     "Grafana/12.3.0 (linux; amd64)",
	}
}

// Query sends qs as the data source pctx (60 s limit) and returns the
// responses as the SDK decodes them. A failed call or a response the SDK
// rejects fails t; a query's own error is left to the caller.
func (p *Plugin) Query(t testing.TB, pctx *pluginv2.PluginContext, qs ...*pluginv2.DataQuery) map[string]backend.DataResponse {
	t.Helper()
	c, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	return p.QueryCtx(c, t, pctx, qs...)
}

// QueryCtx is Query under the caller's context c.
func (p *Plugin) QueryCtx(c context.Context, t testing.TB, pctx *pluginv2.PluginContext,
	qs ...*pluginv2.DataQuery) map[string]backend.DataResponse {
	t.Helper()
	res, err := p.Data.QueryData(c, &pluginv2.QueryDataRequest{PluginContext: pctx, Queries: qs})
	if err != nil {
		t.Fatalf("QueryData: %v", err)
	}
	resp, err := backend.FromProto().QueryDataResponse(res)
	if err != nil {
		t.Fatalf("SDK converter rejects the response: %v", err)
	}
	return resp.Responses
}

// Get calls the resource at path (a query string may follow "?") with GET
// as the data source pctx (20 s limit) and returns the first message's
// status code and body; a failed call fails t.
func (p *Plugin) Get(t testing.TB, pctx *pluginv2.PluginContext, path string) (int, string) {
	t.Helper()
	c, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	stream, err := p.Resource.CallResource(c, &pluginv2.CallResourceRequest{PluginContext: pctx,
		Path: strings.SplitN(path, "?", 2)[0], Method: "GET", Url: path})
	if err != nil {
		t.Fatal(err)
	}
	msg, err := stream.Recv()
	if err != nil {
		t.Fatal(err)
	}
	return int(msg.Code), string(msg.Body)
}

// Reply is the outcome of one timed QueryData call for refId "A", for
// tests that expect some calls to fail (faults, fail-over).
type Reply struct {
	Status int
	Msg    string
	Took   time.Duration
	Err    error // the gRPC call itself failed, or the SDK rejected the response
}

func (r Reply) String() string {
	if r.Err != nil {
		return fmt.Sprintf("rpc error %v after %v", r.Err, r.Took.Round(time.Millisecond))
	}
	return fmt.Sprintf("%d %q after %v", r.Status, r.Msg, r.Took.Round(time.Millisecond))
}

// Call sends q (refId "A") as the data source pctx with a host deadline of
// timeout and reports what came back and when; it never fails the test.
func (p *Plugin) Call(pctx *pluginv2.PluginContext, q *pluginv2.DataQuery, timeout time.Duration) Reply {
	c, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	start := time.Now()
	res, err := p.Data.QueryData(c, &pluginv2.QueryDataRequest{PluginContext: pctx, Queries: []*pluginv2.DataQuery{q}})
	r := Reply{Took: time.Since(start), Err: err}
	if err != nil {
		return r
	}
	resp, err := backend.FromProto().QueryDataResponse(res)
	if err != nil {
		r.Err = err
		return r
	}
	a := resp.Responses["A"]
	r.Status = int(a.Status)
	if a.Error != nil {
		r.Msg = a.Error.Error()
	}
	return r
}

// MustOK fails t unless r is a 200; what names the call in the message.
func MustOK(t testing.TB, r Reply, what string) {
	t.Helper()
	if r.Err != nil || r.Status != 200 {
		t.Fatalf("%s: %v, want 200", what, r)
	}
}

// RawCodec sends and receives bytes as they are: for malformed-body tests.
type RawCodec struct{}

func (RawCodec) Marshal(v any) ([]byte, error) {
	b, ok := v.(*[]byte)
	if !ok {
		return nil, fmt.Errorf("RawCodec wants *[]byte, got %T", v)
	}
	return *b, nil
}
func (RawCodec) Unmarshal(data []byte, v any) error {
	b, ok := v.(*[]byte)
	if !ok {
		return fmt.Errorf("RawCodec wants *[]byte, got %T", v)
	}
	*b = append((*b)[:0], data...)
	return nil
}
func (RawCodec) Name() string { return "proto" }

// HclogLine checks one stderr line the way go-plugin's parseJSON reads it:
// a JSON object whose @message/@level/@timestamp are strings, a timestamp in
// hclog's layout, and a level hclog recognises.
func HclogLine(line string) error {
	var raw map[string]any
	if err := json.Unmarshal([]byte(line), &raw); err != nil {
		return fmt.Errorf("not JSON: %v", err)
	}
	for _, k := range []string{"@message", "@level", "@timestamp"} {
		v, ok := raw[k]
		if !ok {
			return fmt.Errorf("missing %s", k)
		}
		if _, ok := v.(string); !ok {
			return fmt.Errorf("%s is %T, not a string (would panic go-plugin)", k, v)
		}
	}
	if _, err := time.Parse("2006-01-02T15:04:05.000000Z07:00", raw["@timestamp"].(string)); err != nil {
		return fmt.Errorf("@timestamp: %v", err)
	}
	if hclog.LevelFromString(raw["@level"].(string)) == hclog.NoLevel {
		return fmt.Errorf("@level %q unknown to hclog", raw["@level"])
	}
	return nil
}

// ReadStatus returns a field of /proc/<pid>/status, e.g. "VmRSS".
func ReadStatus(pid int, key string) string {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return ""
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if strings.HasPrefix(sc.Text(), key+":") {
			return strings.TrimSpace(strings.TrimPrefix(sc.Text(), key+":"))
		}
	}
	return ""
}
