package stack

import (
	"net/netip"
	"testing"

	"github.com/tundra-net/tundra/tcp"
)

// TestAcceptReady: a listener reports a connection ready once the
// handshake has completed (not while it is in SYN-RECEIVED), without
// taking it; TryAcceptTCP then takes it.
func TestAcceptReady(t *testing.T) {
	h := newHarness(t, Options{})
	l, err := h.s.ListenTCP(netip.AddrPortFrom(netip.Addr{}, 80), 4)
	if err != nil {
		t.Fatal(err)
	}
	if l.AcceptReady() {
		t.Fatal("AcceptReady before any SYN")
	}
	h.send(tcpPacket(t, 4000, 80, 1000, 0, tcp.FlagSYN, nil, 1460))
	out := h.recv()
	if len(out) != 1 {
		t.Fatalf("%d answers to the SYN", len(out))
	}
	if l.AcceptReady() {
		t.Fatal("AcceptReady in SYN-RECEIVED")
	}
	iss := parseTCP(t, out[0]).Seq
	h.send(tcpPacket(t, 4000, 80, 1001, iss+1, tcp.FlagACK, nil, 0))
	for range 2 { // asking twice takes nothing
		if !l.AcceptReady() {
			t.Fatal("no connection ready after the handshake")
		}
	}
	c := l.TryAcceptTCP()
	if c == nil {
		t.Fatal("AcceptReady, but TryAcceptTCP returned nil")
	}
	defer c.Close()
	if l.AcceptReady() {
		t.Fatal("AcceptReady after the only connection was taken")
	}
}
