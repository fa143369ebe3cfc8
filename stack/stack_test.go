package stack

import (
	"bytes"
	"encoding/binary"
	"errors"
	"net/netip"
	"testing"
	"time"

	"github.com/tundra-net/tundra/clock"
	"github.com/tundra-net/tundra/ipv4"
	"github.com/tundra-net/tundra/link"
	"github.com/tundra-net/tundra/link/pipe"
)

var (
	stackAddr = netip.MustParseAddr("198.18.0.2")
	peerAddr  = netip.MustParseAddr("198.18.0.1")
)

// harness is a Stack in Manual mode on one end of a pipe, with the test
// playing the peer on the other end and a virtual clock.
type harness struct {
	t        testing.TB
	s        *Stack
	stackEnd *pipe.Endpoint
	peer     *pipe.Endpoint
	clk      *clock.Virtual
	batch    []link.Packet
}

func newHarness(t testing.TB, opts Options) *harness {
	t.Helper()
	a, b := pipe.New(pipe.Options{})
	clk := clock.NewVirtual(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	if opts.Addresses == nil {
		opts.Addresses = []netip.Addr{stackAddr}
	}
	opts.Clock = clk
	opts.Manual = true
	s, err := New(a, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close(); b.Close() })
	h := &harness{t: t, s: s, stackEnd: a, peer: b, clk: clk, batch: make([]link.Packet, 16)}
	for i := range h.batch {
		h.batch[i].Data = make([]byte, a.MaxPacketSize())
	}
	return h
}

// send writes raw packets from the peer and lets the stack process them.
func (h *harness) send(pkts ...[]byte) {
	h.t.Helper()
	for _, p := range pkts {
		if _, err := h.peer.WritePackets([]link.Packet{{Data: p}}); err != nil {
			h.t.Fatal(err)
		}
	}
	for {
		for i := range h.batch {
			h.batch[i].Data = h.batch[i].Data[:cap(h.batch[i].Data)]
		}
		n, err := h.stackEnd.PollPackets(h.batch)
		if err != nil {
			h.t.Fatal(err)
		}
		if n == 0 {
			return
		}
		h.s.DeliverPackets(h.batch[:n])
	}
}

// recv returns every packet the stack has sent since the last call.
func (h *harness) recv() [][]byte {
	h.t.Helper()
	var out [][]byte
	buf := make([]link.Packet, 16)
	for {
		for i := range buf {
			buf[i].Data = make([]byte, h.peer.MaxPacketSize())
		}
		n, err := h.peer.PollPackets(buf)
		if err != nil {
			h.t.Fatal(err)
		}
		for _, p := range buf[:n] {
			out = append(out, p.Data)
		}
		if n == 0 {
			return out
		}
	}
}

// ipPacket builds an IPv4 packet from the peer to the stack.
func ipPacket(proto ipv4.Protocol, payload []byte) []byte {
	f := ipv4.HeaderFields{TTL: 64, Protocol: proto, Src: peerAddr, Dst: stackAddr, PayloadLength: len(payload), ID: 7}
	b := make([]byte, f.Size()+len(payload))
	n := f.Encode(b)
	copy(b[n:], payload)
	return b
}

func echoRequest(ident, seq uint16, data []byte) []byte {
	msg := make([]byte, ipv4.ICMPHeaderSize+len(data))
	ipv4.BuildEchoRequest(msg, ident, seq, data)
	return ipPacket(ipv4.ProtocolICMP, msg)
}

// expectEchoReply checks that pkt is a valid echo reply from the stack to
// the peer carrying ident, seq and data.
func expectEchoReply(t *testing.T, pkt []byte, ident, seq uint16, data []byte) {
	t.Helper()
	ip, err := ipv4.ParseHeader(pkt)
	if err != nil {
		t.Fatalf("reply: %v", err)
	}
	if !ip.ChecksumValid() || ip.Source() != stackAddr || ip.Destination() != peerAddr || ip.Protocol() != ipv4.ProtocolICMP {
		t.Fatalf("reply header wrong: %v", ip)
	}
	if ip.TTL() != DefaultTTL {
		t.Errorf("reply TTL %d, want %d", ip.TTL(), DefaultTTL)
	}
	msg, err := ipv4.ParseICMP(ip.Payload())
	if err != nil || !msg.ChecksumValid() {
		t.Fatalf("reply ICMP bad: %v", err)
	}
	if msg.Type() != ipv4.ICMPEchoReply || msg.Code() != 0 || msg.Ident() != ident || msg.Sequence() != seq {
		t.Fatalf("reply %v, want echo reply id=%d seq=%d", msg, ident, seq)
	}
	if !bytes.Equal(msg.Body(), data) {
		t.Fatalf("reply data differs (%d bytes, want %d)", len(msg.Body()), len(data))
	}
}

func TestPing(t *testing.T) {
	h := newHarness(t, Options{})
	for _, size := range []int{0, 56, 64, 1400, 1472} {
		data := make([]byte, size)
		for i := range data {
			data[i] = byte(i * 7)
		}
		h.send(echoRequest(0x1234, uint16(size), data))
		got := h.recv()
		if len(got) != 1 {
			t.Fatalf("size %d: %d packets back, want 1", size, len(got))
		}
		expectEchoReply(t, got[0], 0x1234, uint16(size), data)
	}
	st := h.s.Stats()
	if st.ICMP.InEchos != 5 || st.ICMP.OutEchoReps != 5 || st.IP.InDelivers != 5 || st.IP.OutRequests != 5 {
		t.Errorf("counters: %+v %+v", st.IP, st.ICMP)
	}
}

// TestDropReasons feeds garbage, truncated, oversized and wrong-checksum
// packets: none may panic, each must be counted under its own reason, and
// the stack must still answer pings afterwards.
func TestDropReasons(t *testing.T) {
	good := echoRequest(1, 1, []byte("abcdefgh"))
	mutate := func(f func(b []byte) []byte) []byte {
		b := append([]byte(nil), good...)
		return f(b)
	}
	fixSum := func(b []byte) []byte {
		b[10], b[11] = 0, 0
		binary.BigEndian.PutUint16(b[10:], ipv4.Fold(ipv4.Checksum(b[:int(b[0]&15)*4], 0)))
		return b
	}
	cases := []struct {
		name   string
		pkt    []byte
		reason DropReason
	}{
		{"empty", []byte{}, DropTooShort},
		{"garbage", []byte{0xde, 0xad, 0xbe, 0xef}, DropTooShort},
		{"ipv6", mutate(func(b []byte) []byte { b[0] = 0x65; return b }), DropBadVersion},
		{"ihl 4", mutate(func(b []byte) []byte { b[0] = 0x44; return b }), DropBadHeaderLength},
		{"ihl past end", mutate(func(b []byte) []byte { b[0] = 0x4f; return b[:24] }), DropBadHeaderLength},
		{"total length short", mutate(func(b []byte) []byte { b[2], b[3] = 0, 10; return fixSum(b) }), DropBadTotalLength},
		{"truncated", mutate(func(b []byte) []byte { return b[:len(b)-3] }), DropBadTotalLength},
		{"bad checksum", mutate(func(b []byte) []byte { b[10] ^= 0xff; return b }), DropBadChecksum},
		{"not ours", mutate(func(b []byte) []byte { b[19] = 99; return fixSum(b) }), DropNotOurAddress},
		{"martian source", mutate(func(b []byte) []byte { b[12] = 127; return fixSum(b) }), DropMartianSource},
		{"ttl zero", mutate(func(b []byte) []byte { b[8] = 0; return fixSum(b) }), DropTTLZero},
		// A first fragment (MF) whose data is not a multiple of 8 bytes
		// cannot be followed by another: malformed (RFC 791 3.2).
		{"bad fragment", mutate(func(b []byte) []byte {
			b = b[:len(b)-7]
			b[2], b[3] = 0, byte(len(b))
			b[6] = 0x20
			return fixSum(b)
		}), DropFragment},
		{"icmp short", ipPacket(ipv4.ProtocolICMP, []byte{8, 0, 0}), DropICMPMalformed},
		{"icmp checksum", mutate(func(b []byte) []byte { b[len(b)-1] ^= 1; return b }), DropICMPBadChecksum},
		{"icmp timestamp", ipPacket(ipv4.ProtocolICMP, icmpMessage(13, 0, make([]byte, 12))), DropICMPUnhandled},
	}
	// Oversized: a pipe does not carry packets over its MTU, so deliver it
	// directly, as a misbehaving link might.
	h := newHarness(t, Options{})
	for _, c := range cases {
		before := h.s.Stats().Drop(c.reason)
		h.send(c.pkt)
		if got := h.s.Stats().Drop(c.reason); got != before+1 {
			t.Errorf("%s: drop counter %q = %d, want %d", c.name, c.reason, got, before+1)
		}
		if out := h.recv(); len(out) != 0 {
			t.Errorf("%s: stack answered with %d packets", c.name, len(out))
		}
	}
	// Bytes past the Total Length (link padding, or a link handing over a
	// buffer larger than the packet) are cut off, not an error.
	padded := make([]byte, 70000)
	copy(padded, good)
	h.s.DeliverPackets([]link.Packet{{Data: padded}})
	if got := h.recv(); len(got) != 1 {
		t.Fatalf("padded request: %d replies", len(got))
	} else {
		expectEchoReply(t, got[0], 1, 1, []byte("abcdefgh"))
	}
	h.send(echoRequest(9, 9, []byte("still alive")))
	got := h.recv()
	if len(got) != 1 {
		t.Fatalf("no reply after the garbage: %d packets", len(got))
	}
	expectEchoReply(t, got[0], 9, 9, []byte("still alive"))
	st := h.s.Stats()
	if st.IP.InHdrErrors == 0 || st.IP.InAddrErrors != 1 || st.ICMP.InCsumErrors != 1 {
		t.Errorf("snmp counters: %+v %+v", st.IP, st.ICMP)
	}
}

func icmpMessage(typ, code uint8, body []byte) []byte {
	m := make([]byte, 8+len(body))
	m[0], m[1] = typ, code
	copy(m[8:], body)
	binary.BigEndian.PutUint16(m[2:], ipv4.Fold(ipv4.Checksum(m, 0)))
	return m
}

func TestProtocolUnreachableRateLimited(t *testing.T) {
	h := newHarness(t, Options{ICMPErrorRate: 10, ICMPErrorBurst: 3})
	payload := []byte("unknown protocol payload")
	send := func(n int) int {
		for range n {
			h.send(ipPacket(99, payload))
		}
		return len(h.recv())
	}
	if got := send(10); got != 3 {
		t.Fatalf("burst: %d errors sent, want 3", got)
	}
	h.clk.Advance(100 * time.Millisecond) // one token at 10/s
	if got := send(5); got != 1 {
		t.Fatalf("after 100ms: %d errors sent, want 1", got)
	}
	h.clk.Advance(10 * time.Second) // refills to the burst, not beyond
	h.send(ipPacket(99, payload))
	out := h.recv()
	if len(out) != 1 {
		t.Fatalf("after refill: %d", len(out))
	}
	ip, _ := ipv4.ParseHeader(out[0])
	msg, err := ipv4.ParseICMP(ip.Payload())
	if err != nil || msg.Type() != ipv4.ICMPDestinationUnreachable || msg.Code() != ipv4.UnreachableProtocol {
		t.Fatalf("got %v, want protocol unreachable", msg)
	}
	q, err := msg.Quoted()
	if err != nil || q.Protocol() != 99 || !bytes.HasPrefix(q.Payload(), payload[:8]) {
		t.Fatalf("quoted %v", q)
	}
	st := h.s.Stats()
	if st.IP.InUnknownProtos != 16 || st.ICMP.OutRateLimited != 11 || st.ICMP.OutDestUnreachs != 5 {
		t.Errorf("counters %+v %+v", st.IP, st.ICMP)
	}
}

func TestNoErrorAboutErrors(t *testing.T) {
	h := newHarness(t, Options{})
	// An unknown protocol from a broadcast destination is not ours; from
	// ourselves to ourselves, a multicast source is martian. The case left
	// is an ICMP error quoting something: it must never be answered.
	quoted := ipPacket(99, []byte("12345678"))
	h.send(ipPacket(ipv4.ProtocolICMP, icmpMessage(3, 2, quoted)))
	if out := h.recv(); len(out) != 0 {
		t.Fatalf("answered an ICMP error with %d packets", len(out))
	}
}

func TestNewRejectsBadOptions(t *testing.T) {
	a, _ := pipe.New(pipe.Options{})
	if _, err := New(a, Options{}); !errors.Is(err, ErrNoAddress) {
		t.Errorf("no address: %v", err)
	}
	for _, bad := range []string{"0.0.0.0", "127.0.0.1", "224.0.0.1", "255.255.255.255", "::1"} {
		if _, err := New(a, Options{Addresses: []netip.Addr{netip.MustParseAddr(bad)}}); !errors.Is(err, ErrBadAddress) {
			t.Errorf("%s: %v", bad, err)
		}
	}
	if _, err := New(nil, Options{Addresses: []netip.Addr{stackAddr}}); err == nil {
		t.Error("nil endpoint accepted")
	}
}

// TestPumpOverPipe runs the stack with its own pump goroutine, as users do.
func TestPumpOverPipe(t *testing.T) {
	a, b := pipe.New(pipe.Options{})
	s, err := New(a, Options{Addresses: []netip.Addr{stackAddr}})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	data := []byte("over the pump")
	if _, err := b.WritePackets([]link.Packet{{Data: echoRequest(5, 6, data)}}); err != nil {
		t.Fatal(err)
	}
	buf := []link.Packet{{Data: make([]byte, b.MaxPacketSize())}}
	done := make(chan int)
	go func() { n, _ := b.ReadPackets(buf); done <- n }()
	select {
	case n := <-done:
		if n != 1 {
			t.Fatalf("read %d", n)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no reply within 5s")
	}
	expectEchoReply(t, buf[0].Data, 5, 6, data)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
}

func FuzzDeliverPackets(f *testing.F) {
	f.Add(echoRequest(1, 1, []byte("x")))
	f.Add(ipPacket(99, []byte("abc")))
	f.Add(ipPacket(ipv4.ProtocolICMP, icmpMessage(3, 3, ipPacket(17, make([]byte, 8)))))
	h := newHarness(f, Options{ICMPErrorRate: -1})
	f.Fuzz(func(t *testing.T, pkt []byte) {
		h.t = t
		h.s.DeliverPackets([]link.Packet{{Data: pkt}})
		h.recv()
	})
}

func BenchmarkPing(b *testing.B) {
	h := newHarness(b, Options{})
	req := echoRequest(1, 1, make([]byte, 56))
	in := []link.Packet{{Data: req}}
	out := []link.Packet{{Data: make([]byte, 2048)}}
	b.ReportAllocs()
	b.SetBytes(int64(len(req)))
	for b.Loop() {
		h.s.DeliverPackets(in)
		out[0].Data = out[0].Data[:cap(out[0].Data)]
		if n, _ := h.peer.PollPackets(out); n != 1 {
			b.Fatal("no reply")
		}
	}
}

// TestLinkFailureStopsThePump: when the link goes away under the stack,
// Done is closed and Err says why.
func TestLinkFailureStopsThePump(t *testing.T) {
	a, b := pipe.New(pipe.Options{})
	defer b.Close()
	s, err := New(a, Options{Addresses: []netip.Addr{stackAddr}})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	a.Close() // the link fails, not through Stack.Close
	select {
	case <-s.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("pump still running after its link closed")
	}
	if !errors.Is(s.Err(), link.ErrClosed) {
		t.Errorf("Err = %v, want link.ErrClosed", s.Err())
	}
}
