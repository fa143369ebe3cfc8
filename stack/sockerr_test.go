package stack

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"syscall"
	"testing"
	"time"

	"github.com/tundra-net/tundra/clock"
	"github.com/tundra-net/tundra/ipv4"
	"github.com/tundra-net/tundra/link"
	"github.com/tundra-net/tundra/link/pipe"
	"github.com/tundra-net/tundra/tcp"
)

// errWorld is a stack in manual mode on a virtual clock, whose packets a
// test reads from the other end of a pipe and answers by hand.
type errWorld struct {
	t    *testing.T
	s    *Stack
	peer *pipe.Endpoint
	clk  *clock.Virtual
}

func newErrWorld(t *testing.T, cfg tcp.Config) *errWorld {
	t.Helper()
	a, b := pipe.New(pipe.Options{QueueLen: 64})
	clk := clock.NewVirtual(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	s, err := New(a, Options{Addresses: []netip.Addr{stackAddr}, Clock: clk, Manual: true, TCP: cfg})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return &errWorld{t: t, s: s, peer: b, clk: clk}
}

// sent returns the next packet the stack wrote.
func (w *errWorld) sent() []byte {
	w.t.Helper()
	pkts := []link.Packet{{Data: make([]byte, 65536)}}
	n, err := w.peer.PollPackets(pkts)
	if err != nil || n != 1 {
		w.t.Fatalf("expected a packet from the stack, got %d (%v)", n, err)
	}
	return pkts[0].Data
}

// noneSent fails if the stack wrote anything.
func (w *errWorld) noneSent() {
	w.t.Helper()
	pkts := []link.Packet{{Data: make([]byte, 65536)}}
	if n, _ := w.peer.PollPackets(pkts); n != 0 {
		w.t.Fatalf("unexpected packet % x", pkts[0].Data[:min(40, len(pkts[0].Data))])
	}
}

// icmpAbout delivers an ICMP error from a router on the path that quotes
// offending, one of the stack's packets.
func (w *errWorld) icmpAbout(typ ipv4.ICMPType, code uint8, offending []byte) {
	quote := offending[:min(len(offending), 28)]
	msg := make([]byte, ipv4.ICMPErrorSize(quote))
	ipv4.BuildError(msg, typ, code, [4]byte{}, quote)
	f := ipv4.HeaderFields{TTL: 64, Protocol: ipv4.ProtocolICMP, Src: routerAddr, Dst: stackAddr, PayloadLength: len(msg)}
	b := make([]byte, f.Size()+len(msg))
	copy(b[f.Encode(b):], msg)
	w.s.DeliverPackets([]link.Packet{{Data: b}})
}

// A connect whose SYN draws ICMP port unreachable fails at once with
// ECONNREFUSED, as on Linux and the BSDs (RFC 9293 3.9.2.2 hard error),
// and the error is pending once, as SO_ERROR reports it.
func TestDialRefusedByICMP(t *testing.T) {
	w := newErrWorld(t, tcp.Config{})
	c, err := w.s.StartDialTCP(40000, netip.AddrPortFrom(peerAddr, 80))
	if err != nil {
		t.Fatal(err)
	}
	syn := w.sent()
	if err := c.PendingError(); err != nil {
		t.Fatalf("PendingError = %v while connecting", err)
	}
	w.icmpAbout(ipv4.ICMPDestinationUnreachable, ipv4.UnreachablePort, syn)
	w.noneSent()
	if st := c.State(); st != tcp.Closed {
		t.Fatalf("state %v after port unreachable, want CLOSED", st)
	}
	if !errors.Is(c.Err(), syscall.ECONNREFUSED) {
		t.Fatalf("Err = %v, want ECONNREFUSED", c.Err())
	}
	if err := c.PendingError(); !errors.Is(err, syscall.ECONNREFUSED) {
		t.Fatalf("PendingError = %v, want ECONNREFUSED", err)
	}
	if err := c.PendingError(); err != nil {
		t.Fatalf("PendingError = %v the second time, want nil", err)
	}
	if _, err := c.Write([]byte("x")); !errors.Is(err, syscall.ECONNREFUSED) {
		t.Fatalf("Write = %v, want ECONNREFUSED", err)
	}
	if n := w.s.Stats().TCP.ICMPErrors; n != 1 {
		t.Fatalf("ICMPErrors = %d, want 1", n)
	}
}

// DialTCP, the blocking dial, returns the refusal as a *net.OpError.
func TestDialTCPReturnsICMPRefusal(t *testing.T) {
	w := newErrWorld(t, tcp.Config{})
	done := make(chan error, 1)
	go func() {
		_, err := w.s.DialTCP(context.Background(), netip.AddrPortFrom(peerAddr, 80))
		done <- err
	}()
	var syn []byte
	for deadline := time.Now().Add(5 * time.Second); syn == nil; {
		pkts := []link.Packet{{Data: make([]byte, 65536)}}
		if n, _ := w.peer.PollPackets(pkts); n == 1 {
			syn = pkts[0].Data
		} else if time.Now().After(deadline) {
			t.Fatal("no SYN")
		} else {
			time.Sleep(time.Millisecond)
		}
	}
	w.icmpAbout(ipv4.ICMPDestinationUnreachable, ipv4.UnreachableAdministrativelyProhibited, syn)
	select {
	case err := <-done:
		var op *net.OpError
		if !errors.As(err, &op) || !errors.Is(err, syscall.ECONNREFUSED) {
			t.Fatalf("DialTCP = %v, want a *net.OpError with ECONNREFUSED", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("DialTCP still waiting after the ICMP error")
	}
}

// A soft error (host unreachable) leaves the attempt running and is
// reported by SoftError; when the SYN retries run out, the connection
// fails with it rather than with ETIMEDOUT (RFC 9293 3.9.2.2 SHLD-25).
func TestDialSoftICMPErrorExplainsTimeout(t *testing.T) {
	cfg := tcp.DefaultConfig()
	cfg.SynRetries = 1
	w := newErrWorld(t, cfg)
	c, err := w.s.StartDialTCP(40000, netip.AddrPortFrom(peerAddr, 80))
	if err != nil {
		t.Fatal(err)
	}
	w.icmpAbout(ipv4.ICMPDestinationUnreachable, ipv4.UnreachableHost, w.sent())
	if st := c.State(); st != tcp.SynSent {
		t.Fatalf("state %v after host unreachable, want SYN-SENT", st)
	}
	if !errors.Is(c.SoftError(), syscall.EHOSTUNREACH) {
		t.Fatalf("SoftError = %v, want EHOSTUNREACH", c.SoftError())
	}
	if err := c.PendingError(); err != nil {
		t.Fatalf("PendingError = %v for a soft error, want nil", err)
	}
	w.clk.Advance(time.Minute)
	if st := c.State(); st != tcp.Closed {
		t.Fatalf("state %v after the retries, want CLOSED", st)
	}
	if err := c.PendingError(); !errors.Is(err, syscall.EHOSTUNREACH) {
		t.Fatalf("PendingError = %v, want EHOSTUNREACH", err)
	}
}

// An ICMP error that quotes no connection, or a sequence number that is not
// in flight, changes nothing (RFC 5927 4.1).
func TestForgedICMPErrorIgnored(t *testing.T) {
	w := newErrWorld(t, tcp.Config{})
	c, err := w.s.StartDialTCP(40000, netip.AddrPortFrom(peerAddr, 80))
	if err != nil {
		t.Fatal(err)
	}
	syn := w.sent()
	forged := append([]byte(nil), syn...)
	ip, _ := ipv4.ParseHeader(forged)
	seq := forged[ip.HeaderLength()+4 : ip.HeaderLength()+8]
	seq[0] ^= 0x40 // far from the ISS
	w.icmpAbout(ipv4.ICMPDestinationUnreachable, ipv4.UnreachablePort, forged)
	other := append([]byte(nil), syn...)
	other[ip.HeaderLength()] ^= 1 // another local port: no such connection
	w.icmpAbout(ipv4.ICMPDestinationUnreachable, ipv4.UnreachablePort, other)
	if st := c.State(); st != tcp.SynSent {
		t.Fatalf("state %v after forged messages, want SYN-SENT", st)
	}
	if n := w.s.Stats().TCP.ICMPErrors; n != 0 {
		t.Fatalf("ICMPErrors = %d, want 0", n)
	}
}

// A reset is pending as ECONNRESET; a connection closed gracefully or by
// the application itself has no pending error.
func TestPendingErrorAfterReset(t *testing.T) {
	a, b := stackPair(t, nil, Options{})
	ca, cb := connPair(t, a, b)
	if err := ca.PendingError(); err != nil {
		t.Fatalf("PendingError = %v on an open connection", err)
	}
	cb.SetLinger(0)
	cb.Close() // RST
	deadline := time.Now().Add(5 * time.Second)
	for ca.State() != tcp.Closed && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	if err := ca.PendingError(); !errors.Is(err, syscall.ECONNRESET) {
		t.Fatalf("PendingError = %v after a RST, want ECONNRESET", err)
	}
	if err := cb.PendingError(); err != nil {
		t.Fatalf("PendingError = %v on the side that aborted, want nil", err)
	}
}
