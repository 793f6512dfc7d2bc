// Package pgfix starts a real, throw-away Postgres server for tests:
// Debian's postgresql binaries, initdb in a temp dir, a unix socket there
// and a free TCP port on 127.0.0.1. Nothing is mocked.
package pgfix

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Server is one running cluster.
type Server struct {
	Dir     string // data directory
	SockDir string // unix socket directory (also the libpq "host")
	Port    int
	Opts    []string // extra server settings for Up, e.g. "-c hot_standby_feedback=off"
	bin     string
	asUser  string // run server binaries as this user when we are root
}

// Password of the "grafana" role the plugin connects as.
const Password = "s3cret-Pa55"

func binDir() (string, error) {
	m, _ := filepath.Glob("/usr/lib/postgresql/*/bin/initdb")
	if len(m) == 0 {
		return "", fmt.Errorf("no /usr/lib/postgresql/*/bin/initdb: install Debian's postgresql (make deps)")
	}
	sort.Strings(m)
	return filepath.Dir(m[len(m)-1]), nil
}

func freePort() int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func (s *Server) cmd(name string, args ...string) *exec.Cmd {
	path := filepath.Join(s.bin, name)
	if s.asUser != "" {
		return exec.Command("runuser", append([]string{"-u", s.asUser, "--", path}, args...)...)
	}
	return exec.Command(path, args...)
}

// Start creates and starts a cluster; it is stopped and removed on cleanup
// of tb (use StartMain from TestMain for a package-wide server).
func Start(tb testing.TB) *Server {
	s, err := StartMain()
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(s.Close)
	return s
}

// Main is the whole TestMain of a package that runs against one server:
// it starts the server and hands it to setup (which keeps it in the
// package's variable and loads what the tests need), runs the tests, calls
// after (nil for nothing; e.g. to stop a standby setup started) and stops
// the server, then exits with the tests' code. A server that does not start or a setup error is printed to stderr
// and exits 1.
func Main(m *testing.M, setup func(*Server) error, after func()) {
	s, err := StartMain()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	if err := setup(s); err != nil {
		fmt.Fprintln(os.Stderr, err)
		s.Close()
		os.Exit(1)
	}
	code := m.Run()
	if after != nil {
		after()
	}
	s.Close()
	os.Exit(code)
}

// StartMain is Start without a testing.TB (for TestMain); call Close.
func StartMain() (*Server, error) {
	bin, err := binDir()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "gpx-pg-")
	if err != nil {
		return nil, err
	}
	s := &Server{Dir: filepath.Join(dir, "data"), SockDir: dir, Port: freePort(), bin: bin}
	if os.Geteuid() == 0 {
		// initdb refuses to run as root: hand the directory to postgres.
		u, err := user.Lookup("postgres")
		if err != nil {
			return nil, fmt.Errorf("running as root needs the postgres user: %v", err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		os.Chown(dir, uid, gid)
		s.asUser = "postgres"
	}
	out, err := s.cmd("initdb", "-D", s.Dir, "-U", "postgres", "--auth-local=trust", "--auth-host=scram-sha-256",
		"-E", "UTF8", "--locale=C").CombinedOutput()
	if err != nil {
		return nil, fmt.Errorf("initdb: %v\n%s", err, out)
	}
	// postgres itself connects through the socket with trust; everyone else
	// (the plugin's "grafana" role) must authenticate with a password.
	// "replication" is not matched by "all": a standby (StartStandby) streams
	// as postgres through the socket.
	hba := "local all postgres trust\nlocal replication postgres trust\nlocal all all scram-sha-256\n" +
		"host all all 127.0.0.1/32 scram-sha-256\n"
	if err := os.WriteFile(filepath.Join(s.Dir, "pg_hba.conf"), []byte(hba), 0600); err != nil {
		return nil, err
	}
	if s.asUser != "" {
		exec.Command("chown", "-R", s.asUser, s.Dir).Run()
	}
	if err := s.Up(); err != nil {
		return nil, err
	}
	s.watchdog()
	for _, sql := range []string{fmt.Sprintf("CREATE ROLE grafana LOGIN PASSWORD '%s'", Password),
		"CREATE DATABASE trading OWNER grafana"} {
		if _, err := s.Psql("postgres", sql); err != nil {
			s.Close()
			return nil, err
		}
	}
	return s, nil
}

// StartStandby makes a streaming replica of primary (a running cluster
// from StartMain, whose wal_level, max_wal_senders and hot_standby are
// already Postgres' defaults: replica, 10, on): pg_basebackup -R into a new
// temp dir, then starts it on its own port and socket with opts (e.g.
// "-c max_standby_streaming_delay=100ms"). It streams from the primary's
// unix socket as postgres. WaitReplay tells when it caught up; call Close.
func StartStandby(primary *Server, opts ...string) (*Server, error) {
	dir, err := os.MkdirTemp("", "gpx-pg-standby-")
	if err != nil {
		return nil, err
	}
	s := &Server{Dir: filepath.Join(dir, "data"), SockDir: dir, Port: freePort(), bin: primary.bin,
		asUser: primary.asUser, Opts: opts}
	if s.asUser != "" {
		exec.Command("chown", s.asUser, dir).Run()
	}
	out, err := s.cmd("pg_basebackup", "-h", primary.SockDir, "-p", strconv.Itoa(primary.Port), "-U", "postgres",
		"-D", s.Dir, "-R", "-X", "stream", "-c", "fast").CombinedOutput()
	if err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("pg_basebackup: %v\n%s", err, out)
	}
	if err := s.Up(); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	s.watchdog()
	return s, nil
}

// WaitReplay waits until standby has replayed everything primary has
// written so far (pg_current_wal_lsn on the primary, now).
func WaitReplay(primary, standby *Server, timeout time.Duration) error {
	lsn, err := primary.Psql("postgres", "SELECT pg_current_wal_lsn()")
	if err != nil {
		return err
	}
	var out string
	for start := time.Now(); time.Since(start) < timeout; time.Sleep(20 * time.Millisecond) {
		out, err = standby.Psql("postgres", "SELECT pg_last_wal_replay_lsn() >= '"+strings.TrimSpace(lsn)+"'::pg_lsn")
		if err == nil && strings.TrimSpace(out) == "t" {
			return nil
		}
	}
	return fmt.Errorf("standby has not replayed %s after %v (%s %v)", lsn, timeout, out, err)
}

// watchdog stops the server and removes its files once this process is
// gone, however it ended (a panic or os.Exit skips deferred Close calls, and
// a leaked postmaster would outlive the test run).
func (s *Server) watchdog() {
	stop := fmt.Sprintf("%s -D %s -m immediate -w stop", filepath.Join(s.bin, "pg_ctl"), s.Dir)
	if s.asUser != "" {
		stop = "runuser -u " + s.asUser + " -- " + stop
	}
	// A fault test may have left the cluster stopped (SIGSTOP): a stopped
	// postmaster would never act on pg_ctl's signal, so continue it first.
	cont := fmt.Sprintf("pm=$(head -n 1 %s/postmaster.pid 2>/dev/null); [ -n \"$pm\" ] && kill -CONT $pm $(pgrep -P $pm) 2>/dev/null", s.Dir)
	script := fmt.Sprintf("while kill -0 %d 2>/dev/null; do sleep 0.5; done; %s; %s >/dev/null 2>&1; rm -rf %s",
		os.Getpid(), cont, stop, s.SockDir)
	cmd := exec.Command("sh", "-c", script)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if cmd.Start() == nil {
		go cmd.Wait()
	}
}

// Up starts the (stopped) server and waits until it accepts connections.
func (s *Server) Up() error {
	opts := fmt.Sprintf("-p %d -k %s -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200 -c shared_buffers=256MB -c work_mem=64MB", s.Port, s.SockDir)
	if len(s.Opts) > 0 {
		opts += " " + strings.Join(s.Opts, " ") // later -c settings win
	}
	out, err := s.cmd("pg_ctl", "-D", s.Dir, "-o", opts, "-l", filepath.Join(s.SockDir, "server.log"), "-w", "-t", "60", "start").CombinedOutput()
	if err != nil {
		log, _ := os.ReadFile(filepath.Join(s.SockDir, "server.log"))
		return fmt.Errorf("pg_ctl start: %v\n%s\n%s", err, out, log)
	}
	return nil
}

// Down stops the server (fast mode: open sessions are terminated).
func (s *Server) Down() error {
	out, err := s.cmd("pg_ctl", "-D", s.Dir, "-m", "fast", "-w", "stop").CombinedOutput()
	if err != nil {
		return fmt.Errorf("pg_ctl stop: %v\n%s", err, out)
	}
	return nil
}

// RestartWith restarts the server with more server options (e.g. "-c
// shared_preload_libraries=pg_stat_statements"), kept for later restarts.
func (s *Server) RestartWith(opts ...string) error {
	s.Opts = append(s.Opts, opts...)
	if err := s.Down(); err != nil {
		return err
	}
	return s.Up()
}

// Close stops the server and removes its files.
func (s *Server) Close() {
	s.cmd("pg_ctl", "-D", s.Dir, "-m", "immediate", "-w", "stop").Run()
	os.RemoveAll(s.SockDir)
}

func (s *Server) psqlArgs(db string) []string {
	return []string{"-X", "-q", "-v", "ON_ERROR_STOP=1", "-h", s.SockDir, "-p", strconv.Itoa(s.Port), "-U", "postgres", "-d", db}
}

// Psql runs SQL as the superuser and returns unaligned, tuples-only output.
func (s *Server) Psql(db, sql string) (string, error) {
	c := exec.Command("psql", append(s.psqlArgs(db), "-A", "-t", "-F", "\t", "-c", sql)...)
	out, err := c.CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("psql: %v: %s", err, out)
	}
	return strings.TrimRight(string(out), "\n"), nil
}

// PsqlFiles runs SQL files with psql variables (-v k=v).
func (s *Server) PsqlFiles(db string, vars map[string]string, files ...string) error {
	args := s.psqlArgs(db)
	for k, v := range vars {
		args = append(args, "-v", k+"="+v)
	}
	for _, f := range files {
		args = append(args, "-f", f)
	}
	out, err := exec.Command("psql", args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("psql %v: %v\n%s", files, err, out)
	}
	return nil
}

// LoadDemo fills database "trading" with the default trade table and n
// generated trades (sql/schema.sql + sql/demo_data.sql under repoRoot,
// `days` days from `start` (YYYY-MM-DD), seeded), owned by the plugin's
// user "grafana" and analyzed, as every test package and tool wants it.
func (s *Server) LoadDemo(repoRoot string, n, days, seed int, start string) error {
	vars := map[string]string{"n": strconv.Itoa(n), "start": "'" + start + "'", "days": strconv.Itoa(days),
		"seed": strconv.Itoa(seed)}
	if err := s.PsqlFiles("trading", vars, filepath.Join(repoRoot, "sql", "schema.sql"),
		filepath.Join(repoRoot, "sql", "demo_data.sql")); err != nil {
		return err
	}
	for _, sql := range []string{"ALTER TABLE trades OWNER TO grafana", "VACUUM ANALYZE trades"} {
		if _, err := s.Psql("trading", sql); err != nil {
			return err
		}
	}
	return nil
}

// JSONData is the data-source jsonData that reaches this server as "grafana".
func (s *Server) JSONData(extra map[string]any) map[string]any {
	m := map[string]any{"host": "127.0.0.1", "port": s.Port, "database": "trading", "user": "grafana", "sslmode": "disable"}
	for k, v := range extra {
		m[k] = v
	}
	return m
}

// Secure is the matching decryptedSecureJsonData.
func Secure() map[string]string { return map[string]string{"password": Password} }

// Sessions counts the backends on s whose application_name is app (-1
// when s does not answer).
func (s *Server) Sessions(app string) int {
	out, err := s.Psql("postgres", "SELECT count(*) FROM pg_stat_activity WHERE application_name = '"+app+"'")
	if err != nil {
		return -1
	}
	n, err := strconv.Atoi(strings.TrimSpace(out))
	if err != nil {
		return -1
	}
	return n
}

// WaitGone polls until no backend runs a query matching substr, or times out.
func (s *Server) WaitGone(substr string, timeout time.Duration) (time.Duration, error) {
	start := time.Now()
	for time.Since(start) < timeout {
		out, err := s.Psql("postgres", fmt.Sprintf(
			"SELECT count(*) FROM pg_stat_activity WHERE state = 'active' AND query LIKE '%%%s%%' AND pid <> pg_backend_pid()", substr))
		if err == nil && strings.TrimSpace(out) == "0" {
			return time.Since(start), nil
		}
		time.Sleep(20 * time.Millisecond)
	}
	return time.Since(start), fmt.Errorf("query %q still running after %v", substr, timeout)
}

// Alive reports whether the postmaster process is up.
func (s *Server) Alive() bool {
	b, err := os.ReadFile(filepath.Join(s.Dir, "postmaster.pid"))
	if err != nil {
		return false
	}
	pid, _ := strconv.Atoi(strings.SplitN(string(b), "\n", 2)[0])
	return pid > 0 && syscall.Kill(pid, 0) == nil
}

// Postmaster returns the postmaster's pid (0 when the server is not running).
func (s *Server) Postmaster() int {
	b, err := os.ReadFile(filepath.Join(s.Dir, "postmaster.pid"))
	if err != nil {
		return 0
	}
	pid, _ := strconv.Atoi(strings.SplitN(string(b), "\n", 2)[0])
	return pid
}

// Children lists the processes whose parent is pid (a postmaster's
// backends and background workers), read from /proc.
func Children(pid int) []int {
	var out []int
	dirs, _ := os.ReadDir("/proc")
	for _, d := range dirs {
		child, err := strconv.Atoi(d.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", d.Name(), "stat"))
		if err != nil {
			continue
		}
		// "pid (comm) state ppid …": comm may hold spaces and parentheses.
		st := string(b)
		i := strings.LastIndexByte(st, ')')
		if i < 0 {
			continue
		}
		f := strings.Fields(st[i+1:])
		if len(f) > 1 {
			if ppid, _ := strconv.Atoi(f[1]); ppid == pid {
				out = append(out, child)
			}
		}
	}
	return out
}

// signalAll sends sig to the postmaster first (so it forks no new child
// meanwhile, and cannot restart the ones we signal), then to each child.
func (s *Server) signalAll(sig syscall.Signal) error {
	pm := s.Postmaster()
	if pm <= 0 {
		return fmt.Errorf("no postmaster.pid in %s", s.Dir)
	}
	if err := syscall.Kill(pm, sig); err != nil {
		return fmt.Errorf("signal %v to postmaster %d: %v", sig, pm, err)
	}
	for _, c := range Children(pm) {
		syscall.Kill(c, sig)
	}
	return nil
}

// Freeze stops every process of the cluster (SIGSTOP): what a network
// partition, a stalled proxy or a hung VM looks like to a client — TCP is
// up (the kernel still acknowledges), nothing answers. Always Thaw after.
func (s *Server) Freeze() error {
	if err := s.signalAll(syscall.SIGSTOP); err != nil {
		return err
	}
	// A child forked between reading the list and stopping the postmaster
	// (the postmaster was stopped first, so the second list is complete).
	for _, c := range Children(s.Postmaster()) {
		syscall.Kill(c, syscall.SIGSTOP)
	}
	return nil
}

// Thaw continues every process of the cluster (SIGCONT); safe when not frozen.
func (s *Server) Thaw() error {
	pm := s.Postmaster()
	if pm <= 0 {
		return nil
	}
	for _, c := range Children(pm) {
		syscall.Kill(c, syscall.SIGCONT)
	}
	syscall.Kill(pm, syscall.SIGCONT)
	return nil
}

// Kill SIGKILLs every process of the cluster, as a crash (or the OOM
// killer) would; Up starts it again (with crash recovery).
func (s *Server) Kill() error {
	pm := s.Postmaster()
	if pm <= 0 {
		return fmt.Errorf("no postmaster.pid in %s", s.Dir)
	}
	syscall.Kill(pm, syscall.SIGSTOP) // no restarts or new children while we kill them
	for _, c := range Children(pm) {
		syscall.Kill(c, syscall.SIGKILL)
	}
	syscall.Kill(pm, syscall.SIGKILL)
	deadline := time.Now().Add(5 * time.Second)
	for running(pm) && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if running(pm) {
		return fmt.Errorf("postmaster %d still running after SIGKILL", pm)
	}
	// A crashed postmaster leaves its lock files, and if nobody reaps the
	// zombie (PID 1 of a container may not) the next postmaster takes the
	// pid in them for a live one and refuses to start. Nothing runs any
	// more: remove them, as an admin would.
	os.Remove(filepath.Join(s.Dir, "postmaster.pid"))
	os.Remove(filepath.Join(s.SockDir, fmt.Sprintf(".s.PGSQL.%d.lock", s.Port)))
	return nil
}

// running reports whether pid exists and is not a zombie.
func running(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	st := string(b)
	i := strings.LastIndexByte(st, ')')
	return i >= 0 && len(st) > i+2 && st[i+2] != 'Z' && st[i+2] != 'X'
}

// Held is a psql session kept open by Hold.
type Held struct {
	cmd *exec.Cmd
	in  io.WriteCloser
	out bytes.Buffer
}

// Hold runs sql as the superuser in a psql session that stays open, e.g.
// "BEGIN; LOCK TABLE t IN ACCESS EXCLUSIVE MODE;", and returns once
// ready (a query returning "t") says it took effect, or after 10 s with an
// error. Release ends the session.
func (s *Server) Hold(db, sql, ready string) (*Held, error) {
	h := &Held{cmd: exec.Command("psql", s.psqlArgs(db)...)}
	h.cmd.Stdout, h.cmd.Stderr = &h.out, &h.out
	in, err := h.cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	h.in = in
	if err := h.cmd.Start(); err != nil {
		return nil, err
	}
	fmt.Fprintln(in, sql)
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if out, err := s.Psql(db, ready); err == nil && strings.TrimSpace(out) == "t" {
			return h, nil
		}
	}
	h.Release()
	return nil, fmt.Errorf("held session not ready after 10 s (%q): %s", ready, h.out.String())
}

// Release rolls the held session back and ends it.
func (h *Held) Release() {
	if h == nil || h.in == nil {
		return
	}
	fmt.Fprintln(h.in, "ROLLBACK;")
	h.in.Close()
	h.in = nil
	h.cmd.Wait()
}

// LoadFreqtrade creates database db (owned by postgres, as a bot's own
// database would be) holding a table shaped like freqtrade's `trades`:
// sql/fixtures/freqtrade.sql with n closed and open still-open trades,
// seeded. The plugin's role "grafana" may only read it.
func (s *Server) LoadFreqtrade(repoRoot, db string, n, open, seed int) error {
	if _, err := s.Psql("postgres", "CREATE DATABASE "+db); err != nil {
		return err
	}
	vars := map[string]string{"n": strconv.Itoa(n), "open": strconv.Itoa(open), "seed": strconv.Itoa(seed),
		"start": "'2024-12-01'", "days": "180"}
	if err := s.PsqlFiles(db, vars, filepath.Join(repoRoot, "sql", "fixtures", "freqtrade.sql")); err != nil {
		return err
	}
	_, err := s.Psql(db, "GRANT SELECT ON trades TO grafana")
	return err
}
