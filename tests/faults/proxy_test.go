package faults

// The proxy itself, against a TCP echo server: each mode does what the
// scenarios rely on.

import (
	"errors"
	"io"
	"net"
	"os"
	"strconv"
	"syscall"
	"testing"
	"time"
)

func echoServer(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() { io.Copy(c, c); c.Close() }()
		}
	}()
	return ln.Addr().String()
}

// roundTrip writes msg and reads it back, within limit.
func roundTrip(c net.Conn, msg string, limit time.Duration) (time.Duration, error) {
	start := time.Now()
	c.SetDeadline(start.Add(limit))
	if _, err := c.Write([]byte(msg)); err != nil {
		return 0, err
	}
	buf := make([]byte, len(msg))
	_, err := io.ReadFull(c, buf)
	if err == nil && string(buf) != msg {
		err = errors.New("echo garbled: " + string(buf))
	}
	return time.Since(start), err
}

func TestProxyModes(t *testing.T) {
	px, err := NewProxy(echoServer(t))
	if err != nil {
		t.Fatal(err)
	}
	defer px.Close()
	dial := func() net.Conn {
		c, err := net.Dial("tcp", "127.0.0.1:"+strconv.Itoa(px.Port))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c
	}
	c := dial()
	if _, err := roundTrip(c, "pass", time.Second); err != nil {
		t.Fatalf("pass: %v", err)
	}
	px.Set(Delay, 100*time.Millisecond)
	if d, err := roundTrip(c, "delay", 2*time.Second); err != nil || d < 200*time.Millisecond {
		t.Errorf("delay: %v after %v, want >= 200 ms (both directions)", err, d)
	}
	px.Set(Trickle, 20*time.Millisecond)
	if d, err := roundTrip(c, "12345", 2*time.Second); err != nil || d < 80*time.Millisecond {
		t.Errorf("trickle: %v after %v, want >= 80 ms for 5 bytes (a byte per 20 ms)", err, d)
	}
	px.Set(BlackHole, 0)
	if _, err := roundTrip(c, "held", 200*time.Millisecond); !os.IsTimeout(err) {
		t.Errorf("black hole, open connection: %v, want a timeout", err)
	}
	c2 := dial() // accepted, never forwarded
	if _, err := roundTrip(c2, "never", 200*time.Millisecond); !os.IsTimeout(err) {
		t.Errorf("black hole, new connection: %v, want a timeout", err)
	}
	px.Set(Pass, 0)
	// the held bytes of the open connection go through once the hole closes
	c.SetDeadline(time.Now().Add(time.Second))
	buf := make([]byte, 4)
	if _, err := io.ReadFull(c, buf); err != nil || string(buf) != "held" {
		t.Errorf("after the black hole: %q %v, want the held bytes", buf, err)
	}
	px.Set(Reset, 0)
	c.SetDeadline(time.Now().Add(time.Second))
	if _, err := c.Read(buf); !errors.Is(err, syscall.ECONNRESET) {
		t.Errorf("reset, open connection: %v, want ECONNRESET", err)
	}
	// the reset may already reach the dial itself
	c3, err := net.Dial("tcp", "127.0.0.1:"+strconv.Itoa(px.Port))
	if err == nil {
		defer c3.Close()
		c3.SetDeadline(time.Now().Add(time.Second))
		_, err = c3.Read(buf)
	}
	if !errors.Is(err, syscall.ECONNRESET) {
		t.Errorf("reset, new connection: %v, want ECONNRESET", err)
	}
	if _, err := NewProxy("192.0.2.1:5432"); err == nil {
		t.Errorf("a non-loopback upstream must be refused")
	}
}

