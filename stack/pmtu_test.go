package stack

import (
	"bytes"
	"encoding/binary"
	"io"
	"net/netip"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tundra-net/tundra/ipv4"
	"github.com/tundra-net/tundra/link"
	"github.com/tundra-net/tundra/link/pipe"
	"github.com/tundra-net/tundra/tcp"
)

// routerAddr is the address of the simulated router between the stacks.
var routerAddr = netip.MustParseAddr("198.18.0.254")

// narrowRouter wraps stack A's end of the link as a router whose next hop
// carries only mtu bytes: a larger packet with DF set is dropped and
// answered with ICMP "fragmentation needed" (RFC 1191), written into A's
// inbound queue through the other end of the pipe. With forge set, the
// answer quotes a sequence number far outside the window instead, as a
// blind attacker would (RFC 5927).
type narrowRouter struct {
	link.Endpoint
	toA     *pipe.Endpoint // writing here delivers to A
	mtu     atomic.Int32
	forge   atomic.Bool
	dropped atomic.Int32
}

func (r *narrowRouter) WritePackets(pkts []link.Packet) (int, error) {
	mtu := int(r.mtu.Load())
	for i := range pkts {
		p := pkts[i].Data
		h, err := ipv4.ParseHeader(p)
		if err != nil || mtu == 0 || len(p) <= mtu || !h.DontFragment() {
			if _, err := r.Endpoint.WritePackets(pkts[i : i+1]); err != nil {
				return i, err
			}
			continue
		}
		r.dropped.Add(1)
		quote := bytes.Clone(p[:min(len(p), 68)])
		if r.forge.Load() {
			seq := binary.BigEndian.Uint32(quote[h.HeaderLength()+4:])
			binary.BigEndian.PutUint32(quote[h.HeaderLength()+4:], seq+0x40000000)
		}
		r.toA.WritePackets([]link.Packet{{Data: icmpFragNeeded(routerAddr, h.Source(), mtu, quote)}})
	}
	return len(pkts), nil
}

// icmpFragNeeded builds the IPv4 packet of a "fragmentation needed"
// message from src to dst quoting offending.
func icmpFragNeeded(src, dst netip.Addr, mtu int, offending []byte) []byte {
	msg := make([]byte, ipv4.ICMPErrorSize(offending))
	ipv4.BuildFragmentationNeeded(msg, uint16(mtu), offending)
	f := ipv4.HeaderFields{TTL: 64, Protocol: ipv4.ProtocolICMP, Src: src, Dst: dst, PayloadLength: len(msg)}
	b := make([]byte, f.Size()+len(msg))
	copy(b[f.Encode(b):], msg)
	return b
}

// TestPathMTUDiscovery: a router on the path drops A's 1500-byte segments
// and says its next hop takes 1000 bytes. First the answers are forged
// (sequence numbers outside the window): the MSS stays and nothing gets
// through. Then they are honest: the connection that sent lowers its MSS to
// fit 1000-byte packets (960, or 948 with timestamps) and the transfer
// completes; another connection, idle, keeps its MSS.
func TestPathMTUDiscovery(t *testing.T) {
	var router *narrowRouter
	a, b := stackPair(t, func(ea, eb link.Endpoint) (link.Endpoint, link.Endpoint) {
		router = &narrowRouter{Endpoint: ea, toA: eb.(*pipe.Endpoint)}
		return router, eb
	}, Options{})
	busy, busyPeer := connPair(t, a, b)
	idle, _ := connPair(t, a, b)
	// The MSS before: 1460 less the options every data segment carries
	// (12 bytes of timestamps, if in use).
	before := busy.Stats().SendMSS
	options := 1460 - before
	if idle.Stats().SendMSS != before || options != 0 && options != 12 {
		t.Fatalf("MSS before: %d %d", before, idle.Stats().SendMSS)
	}
	router.forge.Store(true)
	router.mtu.Store(1000)

	data := pattern(200000, 9)
	go busy.Write(data)
	got := make(chan []byte, 1)
	go func() {
		buf := make([]byte, len(data))
		busyPeer.SetReadDeadline(time.Now().Add(20 * time.Second))
		n, _ := io.ReadFull(busyPeer, buf)
		got <- buf[:n]
	}()
	deadline := time.Now().Add(5 * time.Second)
	for router.dropped.Load() < 3 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	if router.dropped.Load() < 3 {
		t.Fatal("the router saw no large segments")
	}
	if mss := busy.Stats().SendMSS; mss != before {
		t.Fatalf("a forged fragmentation-needed lowered the MSS to %d", mss)
	}
	if n := a.Stats().TCP.PMTUReductions; n != 0 {
		t.Fatalf("PMTUReductions %d after forged messages", n)
	}

	router.forge.Store(false)
	select {
	case buf := <-got:
		if !bytes.Equal(buf, data) {
			t.Fatalf("received %d bytes, not the %d sent", len(buf), len(data))
		}
	case <-time.After(30 * time.Second):
		t.Fatal("transfer did not complete after the honest message")
	}
	if mss := busy.Stats().SendMSS; mss != 1000-40-options {
		t.Errorf("busy connection MSS %d, want %d", mss, 1000-40-options)
	}
	if mss := idle.Stats().SendMSS; mss != before {
		t.Errorf("idle connection MSS %d, want %d (not its segment)", mss, before)
	}
	if n := a.Stats().TCP.PMTUReductions; n != 1 {
		t.Errorf("PMTUReductions %d, want 1", n)
	}
}

// TestPathMTUChecks sends fragmentation-needed messages straight to a
// stack in manual mode, about a connection the test plays the peer of:
// only a plausible one for data in flight lowers the MSS, never below 512
// (a 552-byte path MTU), and never up.
func TestPathMTUChecks(t *testing.T) {
	h := newHarness(t, Options{})
	l, err := h.s.ListenTCP(netip.AddrPortFrom(stackAddr, 80), 8)
	if err != nil {
		t.Fatal(err)
	}
	// Handshake by hand.
	peerISS := tcp.Seq(1000)
	h.send(tcpPacket(t, 4000, 80, peerISS, 0, tcp.FlagSYN, nil, 1460))
	synAck := parseTCP(t, h.recv()[0])
	h.send(tcpPacket(t, 4000, 80, peerISS+1, synAck.Seq+1, tcp.FlagACK, nil, 0))
	c, err := l.AcceptTCP()
	if err != nil {
		t.Fatal(err)
	}
	// Data in flight: one full segment, not acknowledged.
	go c.Write(pattern(1460, 1))
	var seg []byte
	for deadline := time.Now().Add(5 * time.Second); seg == nil && time.Now().Before(deadline); {
		if out := h.recv(); len(out) > 0 {
			seg = out[0]
		}
		time.Sleep(time.Millisecond)
	}
	if seg == nil {
		t.Fatal("no data segment")
	}
	ip, _ := ipv4.ParseHeader(seg)
	inflight := parseTCP(t, seg)
	if !ip.DontFragment() {
		t.Fatal("TCP segment without DF")
	}
	withSeq := func(seq tcp.Seq) []byte {
		q := bytes.Clone(seg[:28])
		binary.BigEndian.PutUint32(q[24:28], uint32(seq))
		return q
	}
	frag := func(mtu int, quote []byte) {
		h.send(icmpFragNeeded(peerAddr, stackAddr, mtu, quote))
	}
	mss := func() int { return c.Stats().SendMSS }

	frag(1000, withSeq(inflight.Seq-5000)) // before SND.UNA
	frag(1000, withSeq(inflight.Seq+5000)) // past SND.NXT
	other := withSeq(inflight.Seq)
	other[20] ^= 1 // another source port: no such connection
	frag(1000, other)
	frag(60, withSeq(inflight.Seq)) // below 68: bogus
	if mss() != 1460 {
		t.Fatalf("implausible messages lowered the MSS to %d", mss())
	}
	frag(1400, withSeq(inflight.Seq+100)) // inside the segment: accepted
	if mss() != 1360 {
		t.Fatalf("MSS %d after MTU 1400, want 1360", mss())
	}
	// The segment is sent again in pieces that fit.
	for _, p := range h.recv() {
		if len(p) > 1400 {
			t.Errorf("a %d-byte packet after the MTU fell to 1400", len(p))
		}
	}
	frag(1450, withSeq(inflight.Seq)) // up: ignored (RFC 1191 section 6.3)
	if mss() != 1360 {
		t.Errorf("MSS rose to %d", mss())
	}
	frag(300, withSeq(inflight.Seq)) // clamped
	if mss() != tcp.MinPathMSS {
		t.Errorf("MSS %d after MTU 300, want the floor %d", mss(), tcp.MinPathMSS)
	}
	if n := h.s.Stats().TCP.PMTUReductions; n != 2 {
		t.Errorf("PMTUReductions %d, want 2", n)
	}
}

// tcpPacket builds a TCP segment from the harness's peer to the stack.
func tcpPacket(t *testing.T, srcPort, dstPort uint16, seq, ack tcp.Seq, flags tcp.Flags, payload []byte, mss int) []byte {
	t.Helper()
	f := tcp.HeaderFields{SrcPort: srcPort, DstPort: dstPort, Seq: seq, Ack: ack, Flags: flags, Window: 65535}
	if mss > 0 {
		f.Options.HasMSS, f.Options.MSS = true, uint16(mss)
	}
	b := make([]byte, 60+len(payload))
	n, err := f.Encode(b)
	if err != nil {
		t.Fatal(err)
	}
	n += copy(b[n:], payload)
	tcp.SetChecksum(b[:n], peerAddr.As4(), stackAddr.As4())
	return ipPacket(ipv4.ProtocolTCP, b[:n])
}

// parseTCP returns the segment in an IPv4 packet the stack sent.
func parseTCP(t *testing.T, p []byte) tcp.Segment {
	t.Helper()
	ip, err := ipv4.ParseHeader(p)
	if err != nil {
		t.Fatal(err)
	}
	h, err := tcp.ParseHeader(ip.Payload())
	if err != nil {
		t.Fatal(err)
	}
	seg, err := tcp.SegmentFromHeader(h)
	if err != nil {
		t.Fatal(err)
	}
	return seg
}
