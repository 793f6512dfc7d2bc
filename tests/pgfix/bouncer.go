package pgfix

// A real pgbouncer (Debian's package) in front of a pgfix server: its
// config and auth file in a temp dir, listening on a free port of
// 127.0.0.1, forwarding database "trading" (and "postgres") to the server's
// unix socket. Nothing is mocked.

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Bouncer is one running pgbouncer.
type Bouncer struct {
	Dir  string
	Port int
	Mode string // "transaction" or "session"
	cmd  *exec.Cmd
	srv  *Server
}

// BouncerOpts configures a pgbouncer.
type BouncerOpts struct {
	Mode     string // pool_mode: "transaction" (default) or "session"
	PoolSize int    // default_pool_size (default 20)
	// IgnoreStartup is ignore_startup_parameters ("" = pgbouncer's default:
	// none, so a client sending `options` is refused).
	IgnoreStartup string
	Extra         string // more [pgbouncer] lines
}

// BouncerPath is Debian's pgbouncer binary ("" when not installed).
func BouncerPath() string {
	for _, p := range []string{"/usr/sbin/pgbouncer", "/usr/bin/pgbouncer"} {
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	return ""
}

// StartBouncer starts a pgbouncer in front of s; it is stopped and its
// files removed on cleanup of tb.
func (s *Server) StartBouncer(tb testing.TB, o BouncerOpts) *Bouncer {
	b, err := s.StartBouncerMain(o)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(b.Close)
	return b
}

// StartBouncerMain is StartBouncer without a testing.TB; call Close.
func (s *Server) StartBouncerMain(o BouncerOpts) (*Bouncer, error) {
	bin := BouncerPath()
	if bin == "" {
		return nil, fmt.Errorf("no pgbouncer binary: install Debian's pgbouncer (make deps)")
	}
	if o.Mode == "" {
		o.Mode = "transaction"
	}
	if o.PoolSize == 0 {
		o.PoolSize = 20
	}
	dir, err := os.MkdirTemp("", "gpx-bouncer-")
	if err != nil {
		return nil, err
	}
	b := &Bouncer{Dir: dir, Port: freePort(), Mode: o.Mode, srv: s}
	// The plugin's role authenticates to pgbouncer with SCRAM from the
	// plain password here, and pgbouncer to Postgres with the same.
	auth := fmt.Sprintf("%q %q\n%q %q\n", "grafana", Password, "postgres", Password)
	ini := fmt.Sprintf(`[databases]
trading = host=%s port=%d dbname=trading
postgres = host=%s port=%d dbname=postgres
[pgbouncer]
listen_addr = 127.0.0.1
listen_port = %d
unix_socket_dir = %s
auth_type = scram-sha-256
auth_file = %s
pool_mode = %s
default_pool_size = %d
max_client_conn = 500
logfile = %s
pidfile = %s
admin_users = postgres
ignore_startup_parameters = %s
server_check_delay = 0
%s
`, s.SockDir, s.Port, s.SockDir, s.Port, b.Port, dir, filepath.Join(dir, "users.txt"), o.Mode, o.PoolSize,
		filepath.Join(dir, "pgbouncer.log"), filepath.Join(dir, "pgbouncer.pid"), o.IgnoreStartup, o.Extra)
	if err := os.WriteFile(filepath.Join(dir, "users.txt"), []byte(auth), 0600); err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(dir, "pgbouncer.ini"), []byte(ini), 0600); err != nil {
		return nil, err
	}
	args := []string{filepath.Join(dir, "pgbouncer.ini")}
	if s.asUser != "" {
		// pgbouncer refuses to run as root
		exec.Command("chown", "-R", s.asUser, dir).Run()
		b.cmd = exec.Command("runuser", append([]string{"-u", s.asUser, "--", bin}, args...)...)
	} else {
		b.cmd = exec.Command(bin, args...)
	}
	b.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := b.cmd.Start(); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	b.watchdog()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		c, err := net.DialTimeout("tcp", "127.0.0.1:"+strconv.Itoa(b.Port), time.Second)
		if err == nil {
			c.Close()
			return b, nil
		}
	}
	log, _ := os.ReadFile(filepath.Join(dir, "pgbouncer.log"))
	b.Close()
	return nil, fmt.Errorf("pgbouncer did not listen within 10 s:\n%s", log)
}

// watchdog stops pgbouncer once this process is gone, however it ended.
func (b *Bouncer) watchdog() {
	script := fmt.Sprintf("while kill -0 %d 2>/dev/null; do sleep 0.5; done; kill -TERM -%d 2>/dev/null; sleep 0.5; rm -rf %s",
		os.Getpid(), b.cmd.Process.Pid, b.Dir)
	cmd := exec.Command("sh", "-c", script)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if cmd.Start() == nil {
		go cmd.Wait()
	}
}

// Close stops pgbouncer (SIGTERM: at once, without waiting for clients)
// and removes its files.
func (b *Bouncer) Close() {
	if b.cmd != nil && b.cmd.Process != nil {
		// pgbouncer itself (its pidfile): signalled, runuser would wait 2 s
		// before passing the signal on
		if pb, err := os.ReadFile(filepath.Join(b.Dir, "pgbouncer.pid")); err == nil {
			if pid, err := strconv.Atoi(strings.TrimSpace(string(pb))); err == nil && pid > 0 {
				syscall.Kill(pid, syscall.SIGTERM)
			}
		}
		syscall.Kill(-b.cmd.Process.Pid, syscall.SIGTERM)
		done := make(chan struct{})
		go func() { b.cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			syscall.Kill(-b.cmd.Process.Pid, syscall.SIGKILL)
			<-done
		}
		b.cmd = nil
	}
	os.RemoveAll(b.Dir)
}

// JSONData is the data-source jsonData that reaches the server through this
// pgbouncer as "grafana".
func (b *Bouncer) JSONData(extra map[string]any) map[string]any {
	m := b.srv.JSONData(extra)
	m["port"] = b.Port
	return m
}

// Log is pgbouncer's log so far.
func (b *Bouncer) Log() string {
	out, _ := os.ReadFile(filepath.Join(b.Dir, "pgbouncer.log"))
	return string(out)
}

// Admin runs a command on pgbouncer's admin console ("SHOW POOLS") and
// returns psql's unaligned output.
func (b *Bouncer) Admin(cmd string) (string, error) {
	c := exec.Command("psql", "-X", "-q", "-A", "-t", "-F", "\t", "-h", b.Dir, "-p", strconv.Itoa(b.Port), "-U",
		"postgres", "-d", "pgbouncer", "-c", cmd)
	c.Env = append(os.Environ(), "PGPASSWORD="+Password)
	out, err := c.CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("pgbouncer admin %q: %v: %s", cmd, err, out)
	}
	return strings.TrimRight(string(out), "\n"), nil
}
