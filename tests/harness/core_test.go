package harness

// Conformance of the plugin core with what Grafana (through go-plugin and
// the SDK) requires: handshake, diagnostics, metrics, per-refId errors,
// concurrency, malformed input, stdout/stderr hygiene and shutdown.

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/backend"
	"github.com/grafana/grafana-plugin-sdk-go/genproto/pluginv2"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
)

func ctxT(t testing.TB, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

func TestHandshakeAndCheckHealth(t *testing.T) {
	p := Launch(t, Options{})
	t.Logf("measure: start-to-handshake %v", p.StartupTime)
	res, err := p.Diagnostics.CheckHealth(ctxT(t, 5*time.Second), &pluginv2.CheckHealthRequest{
		PluginContext: &pluginv2.PluginContext{PluginId: "algotrading-pnl-datasource"}})
	if err != nil {
		t.Fatalf("CheckHealth: %v", err)
	}
	r := backend.FromProto().CheckHealthResponse(res)
	if r.Status != backend.HealthStatusOk {
		t.Fatalf("status %v, message %q", r.Status, r.Message)
	}
	if !strings.Contains(r.Message, "0.1.0") {
		t.Errorf("health message %q should name the plugin version", r.Message)
	}
	// go-plugin's Ping is grpc.health.v1 Check on service "plugin".
	if err := p.RPC.Ping(); err != nil {
		t.Errorf("go-plugin Ping: %v", err)
	}
}

func parseMetrics(t *testing.T, p *Plugin) map[string]float64 {
	t.Helper()
	res, err := p.Diagnostics.CollectMetrics(ctxT(t, 5*time.Second), &pluginv2.CollectMetricsRequest{
		PluginContext: &pluginv2.PluginContext{PluginId: "algotrading-pnl-datasource"}})
	if err != nil {
		t.Fatalf("CollectMetrics: %v", err)
	}
	text := backend.FromProto().CollectMetricsResponse(res).PrometheusMetrics
	parser := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := parser.TextToMetricFamilies(strings.NewReader(string(text)))
	if err != nil {
		t.Fatalf("Prometheus text parser rejects the exposition: %v\n%s", err, text)
	}
	out := map[string]float64{}
	for name, f := range fams {
		for _, m := range f.Metric {
			var labels []string
			for _, l := range m.Label {
				labels = append(labels, l.GetName()+"="+l.GetValue())
			}
			sort.Strings(labels)
			key := name + "{" + strings.Join(labels, ",") + "}"
			switch {
			case m.Counter != nil:
				out[key] = m.Counter.GetValue()
			case m.Gauge != nil:
				out[key] = m.Gauge.GetValue()
			case m.Histogram != nil:
				out[key+"_count"] = float64(m.Histogram.GetSampleCount())
			}
		}
	}
	return out
}

func TestCollectMetricsParsesAndCountersMove(t *testing.T) {
	p := Launch(t, Options{})
	before := parseMetrics(t, p)
	for _, want := range []string{"process_resident_memory_bytes{}", "process_cpu_seconds_total{}",
		"process_open_fds{}", "process_start_time_seconds{}", "gpx_grpc_calls_in_flight{}"} {
		if _, ok := before[want]; !ok {
			t.Errorf("metric %s missing", want)
		}
	}
	if before["process_resident_memory_bytes{}"] <= 0 || before["process_open_fds{}"] <= 0 {
		t.Errorf("process metrics not real: rss=%v fds=%v", before["process_resident_memory_bytes{}"], before["process_open_fds{}"])
	}
	found := false
	for k := range before {
		if strings.HasPrefix(k, "gpx_build_info{") && strings.Contains(k, "version=0.1.0") {
			found = true
		}
	}
	if !found {
		t.Errorf("gpx_build_info with version missing")
	}
	for i := 0; i < 3; i++ {
		if _, err := p.Diagnostics.CheckHealth(ctxT(t, 5*time.Second), &pluginv2.CheckHealthRequest{}); err != nil {
			t.Fatal(err)
		}
	}
	after := parseMetrics(t, p)
	k := "gpx_grpc_calls_total{code=OK,method=CheckHealth}"
	if after[k]-before[k] != 3 {
		t.Errorf("%s moved by %v, want 3", k, after[k]-before[k])
	}
	h := "gpx_grpc_call_duration_seconds{method=CheckHealth}_count"
	if after[h]-before[h] != 3 {
		t.Errorf("%s moved by %v, want 3", h, after[h]-before[h])
	}
	// The first CollectMetrics call itself is counted by the second.
	if after["gpx_grpc_calls_total{code=OK,method=CollectMetrics}"] < 1 {
		t.Errorf("CollectMetrics calls not counted")
	}
}

func TestQueryDataUnknownTypeEachRefIdGets400(t *testing.T) {
	p := Launch(t, Options{})
	req := &pluginv2.QueryDataRequest{
		PluginContext: &pluginv2.PluginContext{PluginId: "algotrading-pnl-datasource"},
		Queries: []*pluginv2.DataQuery{
			{RefId: "A", QueryType: "nonsense", Json: []byte(`{"refId":"A","queryType":"nonsense"}`)},
			{RefId: "B", Json: []byte(`{"refId":"B","queryType":"bogus"}`)},
			{RefId: "C", Json: []byte(`{"refId":"C"}`)},
		},
	}
	res, err := p.Data.QueryData(ctxT(t, 5*time.Second), req)
	if err != nil {
		t.Fatalf("QueryData: %v", err)
	}
	resp, err := backend.FromProto().QueryDataResponse(res)
	if err != nil {
		t.Fatalf("SDK converter: %v", err)
	}
	if len(resp.Responses) != 3 {
		t.Fatalf("%d responses, want 3", len(resp.Responses))
	}
	for _, ref := range []string{"A", "B", "C"} {
		r, ok := resp.Responses[ref]
		if !ok {
			t.Fatalf("no response for refId %s", ref)
		}
		if r.Status != 400 || r.Error == nil || !strings.Contains(r.Error.Error(), "queryType") {
			t.Errorf("refId %s: status %d error %v; want 400 naming queryType", ref, r.Status, r.Error)
		}
		if len(r.Frames) != 0 {
			t.Errorf("refId %s: error response carries %d frames", ref, len(r.Frames))
		}
	}
	if !strings.Contains(resp.Responses["A"].Error.Error(), `"nonsense"`) {
		t.Errorf("error should name the unknown type: %v", resp.Responses["A"].Error)
	}
}

func TestFiveHundredConcurrentCalls(t *testing.T) {
	p := Launch(t, Options{})
	const n = 500
	var wg sync.WaitGroup
	errs := make(chan error, n)
	start := time.Now()
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			var err error
			switch i % 3 {
			case 0:
				var r *pluginv2.CheckHealthResponse
				r, err = p.Diagnostics.CheckHealth(ctx, &pluginv2.CheckHealthRequest{})
				if err == nil && r.Status != pluginv2.CheckHealthResponse_OK {
					err = fmt.Errorf("health %v", r.Status)
				}
			case 1:
				var r *pluginv2.QueryDataResponse
				r, err = p.Data.QueryData(ctx, &pluginv2.QueryDataRequest{Queries: []*pluginv2.DataQuery{
					{RefId: fmt.Sprintf("Q%d", i), Json: []byte(`{"queryType":"x"}`)}}})
				if err == nil && len(r.Responses) != 1 {
					err = fmt.Errorf("%d responses", len(r.Responses))
				}
			case 2:
				_, err = p.Diagnostics.CollectMetrics(ctx, &pluginv2.CollectMetricsRequest{})
			}
			if err != nil {
				errs <- fmt.Errorf("call %d: %w", i, err)
			}
		}(i)
	}
	wg.Wait()
	close(errs)
	failed := 0
	for err := range errs {
		failed++
		if failed <= 5 {
			t.Error(err)
		}
	}
	if failed > 0 {
		t.Fatalf("%d of %d concurrent calls failed", failed, n)
	}
	t.Logf("measure: %d concurrent calls in %v", n, time.Since(start))
}

func TestMalformedProtobufGetsErrorAndPluginKeepsServing(t *testing.T) {
	p := Launch(t, Options{})
	garbage := []byte{0xff, 0xff, 0xff, 0xff, 0x0f, 0x12, 0x80}
	for _, method := range []string{"/pluginv2.Data/QueryData", "/pluginv2.Diagnostics/CheckHealth",
		"/pluginv2.Diagnostics/CollectMetrics"} {
		var out []byte
		err := p.Conn.Invoke(ctxT(t, 5*time.Second), method, &garbage, &out, grpc.ForceCodec(RawCodec{}))
		if status.Code(err) != codes.InvalidArgument {
			t.Errorf("%s with garbage: got %v, want InvalidArgument", method, err)
		}
	}
	var out []byte
	empty := []byte{}
	err := p.Conn.Invoke(ctxT(t, 5*time.Second), "/pluginv2.Stream/RunStream", &empty, &out, grpc.ForceCodec(RawCodec{}))
	// RunStream serves live queries (issue 13): a request naming no channel it issued is NotFound
	if status.Code(err) != codes.NotFound {
		t.Errorf("RunStream: got %v, want NotFound", err)
	}
	if _, err := p.Diagnostics.CheckHealth(ctxT(t, 5*time.Second), &pluginv2.CheckHealthRequest{}); err != nil {
		t.Fatalf("plugin stopped serving after malformed input: %v", err)
	}
}

func TestStderrIsHclogAndStdoutIsSilent(t *testing.T) {
	p := Launch(t, Options{})
	for i := 0; i < 5; i++ {
		p.Diagnostics.CheckHealth(ctxT(t, 5*time.Second), &pluginv2.CheckHealthRequest{})
		p.Data.QueryData(ctxT(t, 5*time.Second), &pluginv2.QueryDataRequest{Queries: []*pluginv2.DataQuery{{RefId: "A"}}})
	}
	// After the handshake the plugin's stdout is /dev/null: nothing can reach it.
	link, err := os.Readlink(fmt.Sprintf("/proc/%d/fd/1", p.Pid))
	if err != nil || link != "/dev/null" {
		t.Errorf("stdout of the plugin after the handshake is %q (%v), want /dev/null", link, err)
	}
	p.Client.Kill()
	lines := p.Stderr.Lines()
	if len(lines) < 2 {
		t.Fatalf("only %d stderr lines; expected debug call logs", len(lines))
	}
	for i, l := range lines {
		if err := HclogLine(l); err != nil {
			t.Errorf("stderr line %d is not hclog JSON (%v): %s", i, err, l)
		}
	}
	t.Logf("checked %d stderr lines", len(lines))
}

// TestRawStdoutIsOnlyTheHandshake runs the binary directly (no go-plugin) so
// the whole of stdout can be captured until exit.
func TestRawStdoutIsOnlyTheHandshake(t *testing.T) {
	cmd := exec.Command(BinaryPath())
	cmd.Env = append(os.Environ(), "grafana_plugin_type=datasource", "PLUGIN_PROTOCOL_VERSIONS=2", "GF_PLUGIN_LOG_LEVEL=debug")
	stdout, _ := cmd.StdoutPipe()
	cmd.Stderr = &StderrLines{}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	rd := bufio.NewReader(stdout)
	line, err := rd.ReadString('\n')
	if err != nil {
		t.Fatalf("no handshake line: %v", err)
	}
	parts := strings.Split(strings.TrimSpace(line), "|")
	if len(parts) != 5 || parts[0] != "1" || parts[1] != "2" || parts[2] != "unix" || parts[4] != "grpc" {
		t.Fatalf("handshake line %q", line)
	}
	sock := parts[3]
	conn, err := grpc.NewClient("unix://"+sock, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	client := pluginv2.NewDiagnosticsClient(conn)
	if _, err := client.CheckHealth(ctxT(t, 5*time.Second), &pluginv2.CheckHealthRequest{}); err != nil {
		t.Fatal(err)
	}
	// Shutdown as go-plugin's Kill sends it.
	empty, out := []byte{}, []byte{}
	if err := conn.Invoke(ctxT(t, 5*time.Second), "/plugin.GRPCController/Shutdown", &empty, &out, grpc.ForceCodec(RawCodec{})); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	rest, _ := readAllWithTimeout(rd, 3*time.Second)
	if err := cmd.Wait(); err != nil {
		t.Errorf("exit: %v, want status 0", err)
	}
	if rest != "" {
		t.Errorf("stdout after the handshake: %q", rest)
	}
	if _, err := os.Stat(sock); !os.IsNotExist(err) {
		t.Errorf("socket %s left behind", sock)
	}
}

func readAllWithTimeout(rd *bufio.Reader, d time.Duration) (string, error) {
	ch := make(chan string, 1)
	go func() {
		var sb strings.Builder
		buf := make([]byte, 4096)
		for {
			n, err := rd.Read(buf)
			sb.Write(buf[:n])
			if err != nil {
				break
			}
		}
		ch <- sb.String()
	}()
	select {
	case s := <-ch:
		return s, nil
	case <-time.After(d):
		return "", fmt.Errorf("timeout")
	}
}

func TestKillShutsDownGracefullyWithin2s(t *testing.T) {
	p := Launch(t, Options{})
	proc, _ := os.FindProcess(p.Pid)
	start := time.Now()
	p.Client.Kill()
	took := time.Since(start)
	// Kill() sends Shutdown, waits up to 2 s, then SIGKILLs. Well under that
	// means the plugin exited on its own.
	if took >= 2*time.Second {
		t.Errorf("Kill took %v: the SIGKILL fallback was probably used", took)
	}
	if err := proc.Signal(syscall.Signal(0)); err == nil {
		t.Errorf("process %d still alive after Kill", p.Pid)
	}
	stopped := false
	for _, l := range p.Stderr.Lines() {
		if strings.Contains(l, `"plugin stopped"`) {
			stopped = true
		}
	}
	if !stopped {
		t.Errorf("no 'plugin stopped' log line: the process did not exit through its clean path")
	}
	t.Logf("measure: Kill() returned after %v", took)
}

func TestSigintIgnoredSigtermGraceful(t *testing.T) {
	p := Launch(t, Options{})
	proc, _ := os.FindProcess(p.Pid)
	proc.Signal(syscall.SIGINT)
	time.Sleep(200 * time.Millisecond)
	if _, err := p.Diagnostics.CheckHealth(ctxT(t, 5*time.Second), &pluginv2.CheckHealthRequest{}); err != nil {
		t.Fatalf("plugin died on SIGINT: %v", err)
	}
	proc.Signal(syscall.SIGTERM)
	deadline := time.Now().Add(2 * time.Second)
	for time.Now().Before(deadline) && !p.Client.Exited() {
		time.Sleep(20 * time.Millisecond)
	}
	if !p.Client.Exited() {
		t.Fatalf("plugin still running 2 s after SIGTERM")
	}
}

func TestSocketDirFromEnvironment(t *testing.T) {
	dir := t.TempDir()
	p := Launch(t, Options{Env: []string{"PLUGIN_UNIX_SOCKET_DIR=" + dir}})
	rc := p.Client.ReattachConfig()
	if rc == nil || filepath.Dir(rc.Addr.String()) != dir {
		t.Fatalf("socket %v not in PLUGIN_UNIX_SOCKET_DIR %s", rc.Addr, dir)
	}
}

func TestLatencyAndIdleRSS(t *testing.T) {
	p := Launch(t, Options{})
	time.Sleep(300 * time.Millisecond)
	idle := ReadStatus(p.Pid, "VmRSS")
	const n = 2000
	lat := make([]time.Duration, n)
	for i := 0; i < n; i++ {
		s := time.Now()
		if _, err := p.Diagnostics.CheckHealth(context.Background(), &pluginv2.CheckHealthRequest{}); err != nil {
			t.Fatal(err)
		}
		lat[i] = time.Since(s)
	}
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	t.Logf("measure: CheckHealth over the unix socket p50=%v p99=%v (n=%d); idle RSS %s; threads %s",
		lat[n/2], lat[n*99/100], n, idle, ReadStatus(p.Pid, "Threads"))
}

// TestRandomBytesNeverWedgeThePlugin sends seeded random bodies to every
// method; each call must end with a status (any), and the plugin must still
// answer a normal call afterwards.
func TestRandomBytesNeverWedgeThePlugin(t *testing.T) {
	p := Launch(t, Options{})
	methods := []string{"/pluginv2.Data/QueryData", "/pluginv2.Diagnostics/CheckHealth",
		"/pluginv2.Diagnostics/CollectMetrics", "/pluginv2.Resource/CallResource",
		"/grpc.health.v1.Health/Check", "/pluginv2.Stream/SubscribeStream"}
	seed := uint64(0x9e3779b97f4a7c15)
	next := func() byte { seed ^= seed << 13; seed ^= seed >> 7; seed ^= seed << 17; return byte(seed) }
	calls := 0
	for round := 0; round < 100; round++ {
		for _, m := range methods {
			body := make([]byte, int(next())%200)
			for i := range body {
				body[i] = next()
			}
			var out []byte
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			err := p.Conn.Invoke(ctx, m, &body, &out, grpc.ForceCodec(RawCodec{}))
			cancel()
			if status.Code(err) == codes.DeadlineExceeded || status.Code(err) == codes.Unavailable {
				t.Fatalf("%s with %d random bytes: %v (the plugin hung or died)", m, len(body), err)
			}
			calls++
		}
	}
	if _, err := p.Diagnostics.CheckHealth(ctxT(t, 5*time.Second), &pluginv2.CheckHealthRequest{}); err != nil {
		t.Fatalf("plugin no longer serving after %d random calls: %v", calls, err)
	}
	t.Logf("%d random-body calls answered", calls)
}
