package stack

import (
	"context"
	"errors"
	"io"
	"net/netip"
	"syscall"
	"testing"
	"time"

	"github.com/tundra-net/tundra/tcp"
)

// TestForwarder: B terminates connections to addresses that are not its
// own (as a VPN-style program does); its handler accepts, refuses or drops
// each SYN by destination port, and one it never answers expires without
// leaving anything behind.
func TestForwarder(t *testing.T) {
	far := netip.MustParseAddr("198.19.7.7") // not B's address: B answers for it
	accepted := make(chan *TCPConn, 1)
	never := make(chan *TCPForwardRequest, 1)
	cfg := tcp.DefaultConfig()
	cfg.MSL = 10 * time.Millisecond
	opts := Options{
		TCP:                  cfg,
		AcceptAnyDestination: true,
		ForwarderTimeout:     200 * time.Millisecond,
		TCPForwarder: func(r *TCPForwardRequest) {
			if r.LocalAddr().Addr() != far {
				r.Refuse()
				return
			}
			switch r.LocalAddr().Port() {
			case 80:
				c, err := r.Accept(context.Background())
				if err != nil {
					t.Error(err)
					return
				}
				accepted <- c
			case 81:
				r.Refuse()
			case 82:
				r.Drop()
			case 83:
				never <- r // the handler never answers
			}
		},
	}
	a, b := stackPairWith(t, Options{TCP: cfg}, opts)

	c, err := a.Dial("tcp", far.String()+":80")
	if err != nil {
		t.Fatal(err)
	}
	sc := <-accepted
	if got := sc.LocalAddr().String(); got != far.String()+":80" {
		t.Errorf("forwarded connection's local address %s", got)
	}
	go func() { io.Copy(sc, sc); sc.Close() }()
	c.Write([]byte("via the forwarder"))
	buf := make([]byte, 17)
	if _, err := io.ReadFull(c, buf); err != nil || string(buf) != "via the forwarder" {
		t.Fatalf("echo through forwarded connection: %q %v", buf, err)
	}
	c.Close()

	if _, err := a.Dial("tcp", far.String()+":81"); !errors.Is(err, syscall.ECONNREFUSED) {
		t.Errorf("refused: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	if _, err := a.DialContext(ctx, "tcp", far.String()+":82"); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("dropped: %v", err)
	}
	cancel()

	ctx, cancel = context.WithTimeout(context.Background(), 100*time.Millisecond)
	go a.DialContext(ctx, "tcp", far.String()+":83")
	r := <-never
	if n := b.ForwarderPending(); n != 1 {
		t.Errorf("pending %d, want 1", n)
	}
	cancel()
	waitFor(t, func() bool { return b.ForwarderPending() == 0 })
	if _, err := r.Accept(context.Background()); !errors.Is(err, ErrForwardExpired) {
		t.Errorf("late accept: %v", err)
	}
	// Nothing is left once TIME-WAIT (2*MSL, 20 ms here) has passed.
	waitFor(t, func() bool { return a.ConnectionCount() == 0 && b.ConnectionCount() == 0 })
}
