// Package faults puts the plugin between a real Postgres and the faults
// networks and servers have: a TCP proxy that can delay, trickle,
// black-hole or reset the connections through it (this file), plus the
// scenarios in the tests, which also freeze (SIGSTOP) and kill (SIGKILL)
// the Postgres processes through pgfix. Loopback only: the proxy listens on
// 127.0.0.1 and refuses a non-loopback upstream.
package faults

import (
	"fmt"
	"io"
	"net"
	"sync"
	"time"
)

// Mode is how the proxy treats traffic; it applies at once to every
// connection, open or new.
type Mode int

const (
	// Pass forwards everything as it comes.
	Pass Mode = iota
	// Delay forwards each chunk after the proxy's delay.
	Delay
	// Trickle forwards one byte per delay.
	Trickle
	// BlackHole accepts new connections and never forwards a byte of them
	// (no upstream is dialled); open connections stall: what arrives is
	// held, as by a frozen peer whose kernel still acknowledges.
	BlackHole
	// Reset resets (RST) every open connection and each new one.
	Reset
)

func (m Mode) String() string {
	return [...]string{"pass", "delay", "trickle", "black-hole", "reset"}[m]
}

// Proxy is a TCP proxy on 127.0.0.1 in front of one upstream address.
type Proxy struct {
	Port     int // where clients connect (127.0.0.1)
	upstream string
	ln       net.Listener

	mu       sync.Mutex
	cond     *sync.Cond // mode changed or closed
	mode     Mode
	delay    time.Duration
	closed   bool
	conns    map[net.Conn]struct{}
	accepted int
	wg       sync.WaitGroup
}

// NewProxy listens on a free port of 127.0.0.1 and forwards to upstream
// ("127.0.0.1:5432"), which must be a loopback address.
func NewProxy(upstream string) (*Proxy, error) {
	host, _, err := net.SplitHostPort(upstream)
	if err != nil {
		return nil, err
	}
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		return nil, fmt.Errorf("proxy upstream %q is not a loopback address", upstream)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	p := &Proxy{Port: ln.Addr().(*net.TCPAddr).Port, upstream: upstream, ln: ln, conns: map[net.Conn]struct{}{}}
	p.cond = sync.NewCond(&p.mu)
	p.wg.Add(1)
	go p.accept()
	return p, nil
}

// Set changes the mode (delay is the Delay/Trickle interval).
func (p *Proxy) Set(m Mode, delay time.Duration) {
	p.mu.Lock()
	p.mode, p.delay = m, delay
	var victims []net.Conn
	if m == Reset {
		for c := range p.conns {
			victims = append(victims, c)
		}
	}
	p.cond.Broadcast()
	p.mu.Unlock()
	// Linger 0 on every socket before closing any: a pipe that sees its
	// other half closed closes this one too, and must not send a FIN.
	for _, c := range victims {
		if tc, ok := c.(*net.TCPConn); ok {
			tc.SetLinger(0)
		}
	}
	for _, c := range victims {
		c.Close()
	}
}

// Accepted counts the connections accepted so far.
func (p *Proxy) Accepted() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.accepted
}

// Close stops listening, closes every connection and waits for the
// proxy's goroutines.
func (p *Proxy) Close() {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return
	}
	p.closed = true
	p.ln.Close()
	for c := range p.conns {
		c.Close()
	}
	p.cond.Broadcast()
	p.mu.Unlock()
	p.wg.Wait()
}

// reset closes c with an RST instead of a FIN.
func reset(c net.Conn) {
	if tc, ok := c.(*net.TCPConn); ok {
		tc.SetLinger(0)
	}
	c.Close()
}

// track registers c so Close and Reset reach it; false once closed.
func (p *Proxy) track(c net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return false
	}
	p.conns[c] = struct{}{}
	return true
}

func (p *Proxy) untrack(c net.Conn) {
	p.mu.Lock()
	delete(p.conns, c)
	p.mu.Unlock()
}

func (p *Proxy) accept() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		p.accepted++
		mode := p.mode
		p.mu.Unlock()
		if !p.track(c) {
			c.Close()
			return
		}
		p.wg.Add(1)
		go func() {
			defer p.wg.Done()
			defer p.untrack(c)
			switch mode {
			case Reset:
				reset(c)
			case BlackHole:
				io.Copy(io.Discard, c) // held until the client or Close ends it
				c.Close()
			default:
				p.serve(c)
			}
		}()
	}
}

func (p *Proxy) serve(c net.Conn) {
	up, err := net.DialTimeout("tcp", p.upstream, 5*time.Second)
	if err != nil || !p.track(up) {
		reset(c)
		if up != nil {
			up.Close()
		}
		return
	}
	defer p.untrack(up)
	done := make(chan struct{}, 2)
	pipe := func(dst, src net.Conn) {
		p.copy(dst, src)
		// one side ended: end both (Postgres sessions are not half-closed)
		dst.Close()
		src.Close()
		done <- struct{}{}
	}
	go pipe(up, c)
	go pipe(c, up)
	<-done
	<-done
}

// copy forwards src to dst chunk by chunk, as the current mode says.
func (p *Proxy) copy(dst, src net.Conn) {
	buf := make([]byte, 32*1024)
	for {
		n, err := src.Read(buf)
		if n > 0 && !p.forward(dst, src, buf[:n]) {
			return
		}
		if err != nil {
			return
		}
	}
}

func (p *Proxy) forward(dst, src net.Conn, b []byte) bool {
	p.mu.Lock()
	for p.mode == BlackHole && !p.closed {
		p.cond.Wait() // stalled: the bytes are held, not dropped
	}
	mode, d, closed := p.mode, p.delay, p.closed
	p.mu.Unlock()
	switch {
	case closed:
		return false
	case mode == Reset:
		reset(src)
		reset(dst)
		return false
	case mode == Delay:
		time.Sleep(d)
	case mode == Trickle:
		for i := range b {
			if _, err := dst.Write(b[i : i+1]); err != nil {
				return false
			}
			time.Sleep(d)
		}
		return true
	}
	_, err := dst.Write(b)
	return err == nil
}
