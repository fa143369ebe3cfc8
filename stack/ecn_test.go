package stack

import (
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/tundra-net/tundra/clock"
	"github.com/tundra-net/tundra/ipv4"
	"github.com/tundra-net/tundra/link"
	"github.com/tundra-net/tundra/link/pipe"
	"github.com/tundra-net/tundra/tcp"
)

// Tests of which segments go out ECN-capable (RFC 3168 section 6.1),
// named after its sections. Each reads the ECN field from the TOS byte of
// the IPv4 header the stack wrote, under a DSCP the connection was given,
// which the ECN bits must leave alone.

// ecnDSCP is the TOS byte the tests' connections are given (DSCP CS1): the
// stack ORs the ECN codepoint into its two low bits.
const ecnDSCP = 0x20

// ecnPeer is the test's end of one connection, which it drives by hand on
// a virtual clock.
type ecnPeer struct {
	*errWorld
	c        *TCPConn
	port     uint16  // the stack's port
	peerPort uint16  // the peer's port
	seq      tcp.Seq // the peer's next sequence number
	iss      tcp.Seq // the stack's initial sequence number
	// With timestamps, the peer's segments carry TSopt: TSval counts up
	// from tsVal, TSecr echoes the stack's last TSval.
	timestamps    bool
	tsVal, tsEcho uint32
}

// newECNWorld is newErrWorld with the stack's Options.
func newECNWorld(t *testing.T, opts Options) *errWorld {
	t.Helper()
	a, b := pipe.New(pipe.Options{QueueLen: 64})
	clk := clock.NewVirtual(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	opts.Addresses, opts.Clock, opts.Manual = []netip.Addr{stackAddr}, clk, true
	s, err := New(a, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return &errWorld{t: t, s: s, peer: b, clk: clk}
}

// dialECN opens a connection that agreed on ECN (RFC 3168 6.1.1): the
// stack dials with tcp.ECNRequest, and the test answers its ECN-setup SYN
// with an ECN-setup SYN-ACK offering a window of wnd bytes, an MSS of 1000
// and the options in synAck.
func dialECN(t *testing.T, cfg tcp.Config, wnd uint16, synAck tcp.Options) *ecnPeer {
	t.Helper()
	w := newECNWorld(t, Options{})
	if cfg == (tcp.Config{}) {
		cfg = w.s.TCPConfig()
	}
	cfg.ECN = tcp.ECNRequest
	c, err := w.s.StartDialTCPWith(40000, netip.AddrPortFrom(peerAddr, 80), ConnOptions{TCP: cfg, TOS: ecnDSCP})
	if err != nil {
		t.Fatal(err)
	}
	p := &ecnPeer{errWorld: w, c: c, port: 40000, peerPort: 80, seq: 7000}
	ecn, syn := p.next()
	if syn.Flags != tcp.FlagSYN|tcp.FlagECE|tcp.FlagCWR || ecn != tcp.NotECT {
		t.Fatalf("SYN %v sent as %v, want an ECN-setup SYN, Not-ECT (6.1.1)", syn.Flags, ecn)
	}
	p.iss = syn.Seq
	p.clk.Advance(50 * time.Millisecond) // a round-trip time for the connection's timers
	synAck.HasMSS, synAck.MSS = true, 1000
	p.send(tcp.HeaderFields{Seq: p.seq, Ack: p.iss + 1, Flags: tcp.FlagSYN | tcp.FlagACK | tcp.FlagECE, Window: wnd,
		Options: synAck}, "")
	p.seq++
	if ecn, ack := p.next(); ack.Flags != tcp.FlagACK || ecn != tcp.NotECT {
		t.Fatalf("third segment %v sent as %v, want a pure ACK, Not-ECT (6.1.4)", ack.Flags, ecn)
	}
	if !c.Stats().ECN {
		t.Fatal("ECN not agreed after an ECN-setup SYN-ACK")
	}
	return p
}

// send delivers a segment from the peer, with f.ECN in its IP header.
func (p *ecnPeer) send(f tcp.HeaderFields, payload string) {
	p.t.Helper()
	f.SrcPort, f.DstPort = p.peerPort, p.port
	if p.timestamps {
		p.tsVal++
		f.Options.HasTimestamps, f.Options.TSVal, f.Options.TSEcr = true, p.tsVal, p.tsEcho
	}
	seg := make([]byte, tcp.HeaderMinLen+f.Options.EncodedLen()+len(payload))
	n, err := f.Encode(seg)
	if err != nil {
		p.t.Fatal(err)
	}
	copy(seg[n:], payload)
	tcp.SetChecksum(seg, peerAddr.As4(), stackAddr.As4())
	ipf := ipv4.HeaderFields{TOS: uint8(f.ECN), TTL: 64, Protocol: ipv4.ProtocolTCP, Src: peerAddr, Dst: stackAddr,
		PayloadLength: len(seg)}
	b := make([]byte, ipf.Size()+len(seg))
	copy(b[ipf.Encode(b):], seg)
	p.s.DeliverPackets([]link.Packet{{Data: b}})
}

// next returns the next segment the stack sent and the ECN codepoint of
// its IP header's TOS byte.
func (p *ecnPeer) next() (tcp.ECNCodepoint, tcp.Segment) {
	p.t.Helper()
	return p.decode(p.sent())
}

// decode is decodeECN, noting the stack's TSval for the peer to echo.
func (p *ecnPeer) decode(pkt []byte) (tcp.ECNCodepoint, tcp.Segment) {
	p.t.Helper()
	ecn, seg := decodeECN(p.t, pkt)
	if seg.Options.HasTimestamps {
		p.tsEcho = seg.Options.TSVal
	}
	return ecn, seg
}

// nextWithin advances the clock in steps of 10 ms until the stack sends a
// segment (a timer's), for at most limit.
func (p *ecnPeer) nextWithin(limit time.Duration) (tcp.ECNCodepoint, tcp.Segment) {
	p.t.Helper()
	for waited := time.Duration(0); waited <= limit; waited += 10 * time.Millisecond {
		pkts := []link.Packet{{Data: make([]byte, 65536)}}
		if n, _ := p.peer.PollPackets(pkts); n == 1 {
			return p.decode(pkts[0].Data)
		}
		p.clk.Advance(10 * time.Millisecond)
	}
	p.t.Fatalf("nothing sent within %v", limit)
	return 0, tcp.Segment{}
}

// decodeECN splits a packet the stack sent into the ECN field of its TOS
// byte (RFC 3168 section 5) and its TCP segment. The rest of the byte must
// be the DSCP the connection was given, or zero for a listener's SYN-ACK
// and the stack's own RSTs.
func decodeECN(t *testing.T, pkt []byte) (tcp.ECNCodepoint, tcp.Segment) {
	t.Helper()
	ip, seg := parseSent(t, pkt)
	if dscp := ip.TOS() &^ 0x3; dscp != ecnDSCP && dscp != 0 {
		t.Fatalf("TOS %#x: the DSCP bits changed", ip.TOS())
	}
	return tcp.ECNCodepoint(ip.TOS() & 0x3), seg
}

// TestRFC3168Section612NewDataIsECT0: "For a TCP connection using ECN, new
// data packets are transmitted with an ECT codepoint set in the IP
// header. When only one ECT codepoint is needed ... ECT(0) SHOULD be
// used." That includes a FIN that carries data.
func TestRFC3168Section612NewDataIsECT0(t *testing.T) {
	p := dialECN(t, tcp.Config{}, 1000, tcp.Options{})
	if _, err := p.c.Write(make([]byte, 1500)); err != nil {
		t.Fatal(err)
	}
	if ecn, seg := p.next(); len(seg.Payload) != 1000 || ecn != tcp.ECT0 {
		t.Fatalf("new data: %d bytes as %v, want 1000 as ECT(0)", len(seg.Payload), ecn)
	}
	if err := p.c.CloseWrite(); err != nil {
		t.Fatal(err)
	}
	p.noneSent() // the window is full: the rest waits, the FIN behind it
	p.send(tcp.HeaderFields{Seq: p.seq, Ack: p.iss + 1 + 1000, Flags: tcp.FlagACK, Window: 1000}, "")
	ecn, seg := p.next()
	if len(seg.Payload) != 500 || seg.Flags&tcp.FlagFIN == 0 || ecn != tcp.ECT0 {
		t.Fatalf("last data: %v with %d bytes as %v, want the FIN with 500 bytes as ECT(0)", seg.Flags, len(seg.Payload), ecn)
	}
}

// TestRFC3168Section614SegmentsWithoutDataNotECT: "pure acknowledgement
// packets (e.g., packets that do not contain any accompanying data) MUST
// be sent with the not-ECT codepoint": ACKs (with ECE too), keepalive
// probes, a FIN without data and RSTs, the connection's and the stack's.
func TestRFC3168Section614SegmentsWithoutDataNotECT(t *testing.T) {
	p := dialECN(t, tcp.Config{}, 65535, tcp.Options{})
	p.send(tcp.HeaderFields{Seq: p.seq, Ack: p.iss + 1, Flags: tcp.FlagACK | tcp.FlagPSH, Window: 65535, ECN: tcp.CE}, "hello")
	p.seq += 5
	if ecn, ack := p.nextWithin(time.Second); ack.Flags != tcp.FlagACK|tcp.FlagECE || ecn != tcp.NotECT {
		t.Fatalf("answer to a CE mark: %v as %v, want ACK|ECE, Not-ECT", ack.Flags, ecn)
	}
	p.send(tcp.HeaderFields{Seq: p.seq, Ack: p.iss + 1, Flags: tcp.FlagACK | tcp.FlagCWR, Window: 65535, ECN: tcp.ECT0}, "x")
	p.seq++
	if ecn, ack := p.nextWithin(time.Second); ack.Flags != tcp.FlagACK || ecn != tcp.NotECT {
		t.Fatalf("ACK after the CWR: %v as %v, want ACK, Not-ECT", ack.Flags, ecn)
	}

	p.c.SetKeepAliveConfig(net.KeepAliveConfig{Enable: true, Idle: 10 * time.Second, Interval: 10 * time.Second, Count: 3})
	ecn, probe := p.nextWithin(11 * time.Second)
	if probe.Seq != p.iss || len(probe.Payload) != 0 || ecn != tcp.NotECT {
		t.Fatalf("keepalive probe seq=%d len=%d as %v, want seq=%d (SND.NXT-1) without data, Not-ECT",
			probe.Seq, len(probe.Payload), ecn, p.iss)
	}

	if err := p.c.CloseWrite(); err != nil {
		t.Fatal(err)
	}
	if ecn, fin := p.next(); fin.Flags&tcp.FlagFIN == 0 || len(fin.Payload) != 0 || ecn != tcp.NotECT {
		t.Fatalf("FIN %v with %d bytes as %v, want no data, Not-ECT", fin.Flags, len(fin.Payload), ecn)
	}
	p.c.SetLinger(0)
	p.c.Close()
	if ecn, rst := p.next(); rst.Flags&tcp.FlagRST == 0 || ecn != tcp.NotECT {
		t.Fatalf("abort sent %v as %v, want a RST, Not-ECT", rst.Flags, ecn)
	}

	// The stack's own RST, for a segment no connection takes.
	p.port = 40001
	p.send(tcp.HeaderFields{Seq: 1, Ack: 1, Flags: tcp.FlagACK, Window: 65535, ECN: tcp.ECT0}, "stray")
	if ecn, rst := p.next(); rst.Flags&tcp.FlagRST == 0 || ecn != tcp.NotECT {
		t.Fatalf("answer to a stray segment: %v as %v, want a RST, Not-ECT", rst.Flags, ecn)
	}
}

// TestRFC3168Section615RetransmissionsNotECT: "ECN-capable TCP
// implementations MUST NOT set either ECT codepoint (ECT(0) or ECT(1)) in
// the IP header for retransmitted data packets", and "the CWR bit in the
// TCP header SHOULD NOT be set on retransmitted packets" (6.1.2): not on a
// SACK-based fast retransmission, a tail loss probe's resend (RFC 8985
// 7.3) or a timeout's. The CWR goes on the first new data after the
// reduction.
func TestRFC3168Section615RetransmissionsNotECT(t *testing.T) {
	p := dialECN(t, tcp.Config{}, 65535, tcp.Options{SACKPermitted: true})
	if _, err := p.c.Write(make([]byte, 4000)); err != nil {
		t.Fatal(err)
	}
	for i := range 4 {
		if ecn, seg := p.next(); len(seg.Payload) != 1000 || ecn != tcp.ECT0 {
			t.Fatalf("segment %d: %d bytes as %v, want 1000 as ECT(0)", i, len(seg.Payload), ecn)
		}
	}
	// The first segment is lost: a round trip later, three ACKs SACK the
	// others.
	p.clk.Advance(50 * time.Millisecond)
	una := p.iss + 1
	for i := 1; i <= 3; i++ {
		p.send(tcp.HeaderFields{Seq: p.seq, Ack: una, Flags: tcp.FlagACK, Window: 65535,
			Options: tcp.Options{SACKBlockCount: 1, SACKBlocks: [tcp.MaxSACKBlocks]tcp.SACKBlock{{Left: una + 1000, Right: una + tcp.Seq(1000*(i+1))}}}}, "")
	}
	ecn, resent := p.next()
	if resent.Seq != una || len(resent.Payload) != 1000 || resent.Flags&tcp.FlagCWR != 0 || ecn != tcp.NotECT {
		t.Fatalf("fast retransmission %v seq=%d len=%d as %v, want seq=%d len=1000 without CWR, Not-ECT",
			resent.Flags, resent.Seq, len(resent.Payload), ecn, una)
	}
	if n := p.c.Stats().FastRetransmits; n != 1 {
		t.Fatalf("%d fast retransmissions, want 1", n)
	}
	p.send(tcp.HeaderFields{Seq: p.seq, Ack: una + 4000, Flags: tcp.FlagACK, Window: 65535}, "")
	if _, err := p.c.Write(make([]byte, 2000)); err != nil {
		t.Fatal(err)
	}
	for i, cwr := range []tcp.Flags{tcp.FlagCWR, 0} {
		ecn, fresh := p.next()
		if fresh.Seq != una+4000+tcp.Seq(1000*i) || fresh.Flags&tcp.FlagCWR != cwr || ecn != tcp.ECT0 {
			t.Fatalf("new data after the reduction: %v seq=%d as %v, want ECT(0), CWR on the first only",
				fresh.Flags, fresh.Seq-una, ecn)
		}
	}

	// Unacknowledged, the last segment goes again as a tail loss probe,
	// then the first after the retransmission timeout.
	ecn, tlp := p.nextWithin(time.Second)
	if tlp.Seq != una+5000 || len(tlp.Payload) != 1000 || tlp.Flags&tcp.FlagCWR != 0 || ecn != tcp.NotECT {
		t.Fatalf("tail loss probe %v seq=%d len=%d as %v, want the last segment again without CWR, Not-ECT",
			tlp.Flags, tlp.Seq-una, len(tlp.Payload), ecn)
	}
	if n := p.c.Stats().TailLossProbes; n != 1 {
		t.Fatalf("%d tail loss probes, want 1", n)
	}
	ecn, rto := p.nextWithin(5 * time.Second)
	if rto.Seq != una+4000 || len(rto.Payload) != 1000 || rto.Flags&tcp.FlagCWR != 0 || ecn != tcp.NotECT {
		t.Fatalf("retransmission %v seq=%d len=%d as %v, want the first segment again without CWR, Not-ECT",
			rto.Flags, rto.Seq-una, len(rto.Payload), ecn)
	}
	if n := p.c.Stats().Timeouts; n != 1 {
		t.Fatalf("%d timeouts, want 1", n)
	}
}

// TestRFC3168Section616WindowProbesNotECT: "the TCP data sender MUST NOT
// set either an ECT codepoint or the CWR bit on window probe packets": a
// receiver drops a probe beyond its zero window, so a CWR on it would be
// lost. A CWR pending from an ECE waits, through the probes and the
// segment that resends the probe's byte, for the next new data.
func TestRFC3168Section616WindowProbesNotECT(t *testing.T) {
	p := dialECN(t, tcp.Config{}, 65535, tcp.Options{})
	if _, err := p.c.Write(make([]byte, 1000)); err != nil {
		t.Fatal(err)
	}
	if ecn, seg := p.next(); ecn != tcp.ECT0 || len(seg.Payload) != 1000 {
		t.Fatalf("new data: %d bytes as %v", len(seg.Payload), ecn)
	}
	una := p.iss + 1 + 1000
	// The ACK echoes a CE mark (the window is reduced, CWR is due) and
	// closes the window.
	p.send(tcp.HeaderFields{Seq: p.seq, Ack: una, Flags: tcp.FlagACK | tcp.FlagECE, Window: 0}, "")
	if _, err := p.c.Write(make([]byte, 500)); err != nil {
		t.Fatal(err)
	}
	p.noneSent()
	for i := range 2 {
		ecn, probe := p.nextWithin(10 * time.Second)
		if probe.Seq != una || len(probe.Payload) != 1 || probe.Flags&tcp.FlagCWR != 0 || ecn != tcp.NotECT {
			t.Fatalf("window probe %d: %v seq=%d len=%d as %v, want one byte at %d without CWR, Not-ECT",
				i, probe.Flags, probe.Seq, len(probe.Payload), ecn, una)
		}
	}
	p.send(tcp.HeaderFields{Seq: p.seq, Ack: una, Flags: tcp.FlagACK, Window: 65535}, "")
	ecn, seg := p.next()
	if seg.Seq != una || len(seg.Payload) != 500 || seg.Flags&tcp.FlagCWR != 0 || ecn != tcp.NotECT {
		t.Fatalf("after the window opened: %v seq=%d len=%d as %v, want 500 bytes without CWR, Not-ECT (its first byte was sent before)",
			seg.Flags, seg.Seq, len(seg.Payload), ecn)
	}
	if _, err := p.c.Write(make([]byte, 100)); err != nil {
		t.Fatal(err)
	}
	if ecn, seg := p.next(); seg.Seq != una+500 || seg.Flags&tcp.FlagCWR == 0 || ecn != tcp.ECT0 {
		t.Fatalf("new data: %v seq=%d as %v, want CWR, ECT(0)", seg.Flags, seg.Seq, ecn)
	}
}

// TestSYNCookieKeepsECN: under a SYN flood a listener answers an
// ECN-setup SYN with a cookie, keeping nothing; when the SYN carried
// timestamps the cookie SYN-ACK is an ECN-setup SYN-ACK (ECE, Not-ECT:
// RFC 3168 6.1.1) with the agreement in its TSval, which the final ACK
// echoes, and the connection it creates uses ECN: its data goes out
// ECT(0), and a CE mark is echoed with ECE. Without timestamps the cookie
// cannot keep the agreement, so the SYN-ACK is a plain one and neither
// end uses ECN; nor with tcp.ECNOff.
func TestSYNCookieKeepsECN(t *testing.T) {
	for _, c := range []struct {
		name       string
		mode       tcp.ECNMode
		timestamps bool
		wantECN    bool
	}{
		{"timestamps", tcp.ECNAccept, true, true},
		{"no timestamps", tcp.ECNAccept, false, false},
		{"ECNOff", tcp.ECNOff, true, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			cfg := tcp.DefaultConfig()
			cfg.ECN = c.mode
			w := newECNWorld(t, Options{TCP: cfg})
			l, err := w.s.ListenTCP(netip.AddrPortFrom(netip.Addr{}, 80), 1)
			if err != nil {
				t.Fatal(err)
			}
			// A half-open connection fills the backlog of one.
			first := &ecnPeer{errWorld: w, port: 80, peerPort: 4000, seq: 1000}
			first.send(tcp.HeaderFields{Seq: first.seq, Flags: tcp.FlagSYN, Window: 65535}, "")
			first.next()

			p := &ecnPeer{errWorld: w, port: 80, peerPort: 4001, seq: 5000, timestamps: c.timestamps}
			p.send(tcp.HeaderFields{Seq: p.seq, Flags: tcp.FlagSYN | tcp.FlagECE | tcp.FlagCWR, Window: 65535,
				Options: tcp.Options{HasMSS: true, MSS: 1000, SACKPermitted: true}}, "")
			p.seq++
			ecn, synAck := p.next()
			if sent, _, _ := l.SYNCookieStats(); sent != 1 {
				t.Fatalf("%d cookies sent, want the SYN-ACK to be one", sent)
			}
			want := tcp.FlagSYN | tcp.FlagACK
			if c.wantECN {
				want |= tcp.FlagECE
			}
			if synAck.Flags != want || ecn != tcp.NotECT {
				t.Fatalf("cookie SYN-ACK %v as %v, want %v, Not-ECT", synAck.Flags, ecn, want)
			}
			if synAck.Options.HasTimestamps != c.timestamps {
				t.Fatalf("cookie SYN-ACK with timestamps %v, want %v", synAck.Options.HasTimestamps, c.timestamps)
			}
			p.iss = synAck.Seq
			p.send(tcp.HeaderFields{Seq: p.seq, Ack: p.iss + 1, Flags: tcp.FlagACK, Window: 65535}, "")
			conn := l.TryAcceptTCP()
			if conn == nil {
				t.Fatal("the cookie's ACK made no connection")
			}
			if _, accepted, _ := l.SYNCookieStats(); accepted != 1 {
				t.Fatalf("%d cookies accepted, want 1", accepted)
			}
			if got := conn.Stats().ECN; got != c.wantECN {
				t.Fatalf("connection's ECN %v, want %v", got, c.wantECN)
			}

			if _, err := conn.Write([]byte("reply")); err != nil {
				t.Fatal(err)
			}
			wantData := tcp.NotECT
			if c.wantECN {
				wantData = tcp.ECT0
			}
			if ecn, data := p.next(); len(data.Payload) != 5 || ecn != wantData {
				t.Fatalf("data: %d bytes as %v, want 5 as %v", len(data.Payload), ecn, wantData)
			}
			p.send(tcp.HeaderFields{Seq: p.seq, Ack: p.iss + 1 + 5, Flags: tcp.FlagACK | tcp.FlagPSH, Window: 65535,
				ECN: tcp.CE}, "marked")
			wantACK := tcp.FlagACK
			if c.wantECN {
				wantACK |= tcp.FlagECE
			}
			if ecn, ack := p.nextWithin(time.Second); ack.Flags != wantACK || ack.Ack != p.seq+6 || ecn != tcp.NotECT {
				t.Fatalf("answer to a CE mark: %v ack=%d as %v, want %v ack=%d, Not-ECT", ack.Flags, ack.Ack, ecn, wantACK, p.seq+6)
			}
		})
	}
}
