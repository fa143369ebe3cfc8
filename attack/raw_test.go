//go:build linux

package attack

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/tundra-net/tundra/ipv4"
	"github.com/tundra-net/tundra/stack"
	"github.com/tundra-net/tundra/tcp"
)

// rawMark marks the packets our raw socket sends, so that the iptables
// rule which silences the kernel's own RSTs (the kernel has no socket for
// the connections we build by hand) lets ours through.
const rawMark = 0x7a

// Source ports of hand-built connections; the kernel's RSTs from them are
// dropped.
const (
	rawPortFirst = 50000
	rawPortLast  = 50999
)

// rawPeer sends hand-built IPv4 packets from the kernel side of the TUN
// and reads the stack's TCP answers: a raw IPPROTO_RAW socket to send
// (IP_HDRINCL: the header is ours, the kernel fills only the checksum,
// total length and, when zero, the identification), and a raw IPPROTO_TCP
// socket that sees every TCP segment the kernel receives.
type rawPeer struct {
	t          *testing.T
	e          *env
	sendFD     int
	recvFD     int
	nextPort   uint16
	stackAddr4 [4]byte
	ourAddr4   [4]byte
}

func (e *env) newRawPeer() *rawPeer {
	t := e.t
	t.Helper()
	p := &rawPeer{t: t, e: e, nextPort: rawPortFirst,
		stackAddr4: netip.MustParseAddr(stackAddr).As4(), ourAddr4: netip.MustParseAddr(kernelAddr).As4()}
	err := e.ns.Do(func() error {
		var err error
		if p.sendFD, err = unix.Socket(unix.AF_INET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.IPPROTO_RAW); err != nil {
			return err
		}
		if err := unix.SetsockoptInt(p.sendFD, unix.SOL_SOCKET, unix.SO_MARK, rawMark); err != nil {
			return err
		}
		if p.recvFD, err = unix.Socket(unix.AF_INET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.IPPROTO_TCP); err != nil {
			return err
		}
		tv := unix.NsecToTimeval((50 * time.Millisecond).Nanoseconds())
		return unix.SetsockoptTimeval(p.recvFD, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv)
	})
	if err != nil {
		t.Fatalf("raw sockets: %v", err)
	}
	t.Cleanup(func() { unix.Close(p.sendFD); unix.Close(p.recvFD) })
	if _, err := e.run(10*time.Second, "iptables", "-A", "OUTPUT", "-p", "tcp", "--tcp-flags", "RST", "RST",
		"--sport", fmt.Sprintf("%d:%d", rawPortFirst, rawPortLast), "-m", "mark", "!", "--mark", fmt.Sprint(rawMark), "-j", "DROP"); err != nil {
		t.Skipf("cannot silence the kernel's RSTs with iptables (apt-get install iptables): %v", err)
	}
	return p
}

// port returns a source port not used before in this test.
func (p *rawPeer) port() uint16 {
	p.nextPort++
	if p.nextPort > rawPortLast {
		p.t.Fatal("out of raw source ports")
	}
	return p.nextPort
}

// segment describes a hand-built TCP segment; options are raw bytes
// (padded with zeros to a multiple of 4), so malformed ones can be sent.
type segment struct {
	sport, dport uint16
	seq, ack     uint32
	flags        tcp.Flags
	window       uint16
	options      []byte
	payload      []byte
	badChecksum  bool
}

// bytes builds the segment's TCP bytes, checksum included.
func (p *rawPeer) tcpBytes(s segment) []byte {
	optLen := (len(s.options) + 3) &^ 3
	b := make([]byte, tcp.HeaderMinLen+optLen+len(s.payload))
	binary.BigEndian.PutUint16(b[0:], s.sport)
	binary.BigEndian.PutUint16(b[2:], s.dport)
	binary.BigEndian.PutUint32(b[4:], s.seq)
	binary.BigEndian.PutUint32(b[8:], s.ack)
	b[12] = byte((tcp.HeaderMinLen+optLen)/4) << 4
	b[13] = byte(s.flags)
	binary.BigEndian.PutUint16(b[14:], s.window)
	copy(b[tcp.HeaderMinLen:], s.options)
	copy(b[tcp.HeaderMinLen+optLen:], s.payload)
	tcp.SetChecksum(b, p.ourAddr4, p.stackAddr4)
	if s.badChecksum {
		b[16] ^= 0xa5
	}
	return b
}

// ipPacket wraps payload (a transport segment or part of one) in an IPv4
// header from the kernel side to the stack.
func ipPacket(f ipv4.HeaderFields, payload []byte) []byte {
	f.TTL, f.Protocol = 64, ipv4.ProtocolTCP
	f.Src, f.Dst = netip.MustParseAddr(kernelAddr), netip.MustParseAddr(stackAddr)
	f.PayloadLength = len(payload)
	if f.ID == 0 {
		f.ID = 0x5151
	}
	b := make([]byte, f.Size()+len(payload))
	n := f.Encode(b)
	copy(b[n:], payload)
	return b
}

// sendIP writes a whole IPv4 packet.
func (p *rawPeer) sendIP(pkt []byte) {
	p.t.Helper()
	if err := unix.Sendto(p.sendFD, pkt, 0, &unix.SockaddrInet4{Addr: p.stackAddr4}); err != nil {
		p.t.Fatalf("raw send: %v", err)
	}
}

// send writes one segment in one packet.
func (p *rawPeer) send(s segment) { p.sendIP(ipPacket(ipv4.HeaderFields{}, p.tcpBytes(s))) }

// reply is a segment the stack sent, with its payload copied.
type reply struct {
	tcp.Segment
}

// collect returns the segments the stack sends to port (from any of its
// ports) within d.
func (p *rawPeer) collect(port uint16, d time.Duration) []reply {
	return p.collectUntil(port, d, nil)
}

// collectUntil is collect that returns early once stop approves a segment.
func (p *rawPeer) collectUntil(port uint16, d time.Duration, stop func(reply) bool) []reply {
	var out []reply
	buf := make([]byte, 70000)
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		n, _, err := unix.Recvfrom(p.recvFD, buf, 0)
		if errors.Is(err, unix.EAGAIN) || errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			p.t.Fatalf("raw receive: %v", err)
		}
		ip, err := ipv4.ParseHeader(buf[:n])
		if err != nil || ip.Source().String() != stackAddr {
			continue
		}
		seg, err := tcp.ParseSegment(ip.Payload())
		if err != nil {
			p.t.Fatalf("stack sent a malformed segment: %v", err)
		}
		if seg.DstPort != port {
			continue
		}
		seg.Payload = bytes.Clone(seg.Payload)
		r := reply{seg}
		out = append(out, r)
		if stop != nil && stop(r) {
			return out
		}
	}
	return out
}

// expect waits up to d for a segment to port that match approves.
func (p *rawPeer) expect(port uint16, d time.Duration, what string, match func(reply) bool) reply {
	p.t.Helper()
	got := p.collectUntil(port, d, match)
	if len(got) == 0 || !match(got[len(got)-1]) {
		p.t.Fatalf("no %s from the stack within %v; got %v", what, d, describe(got))
	}
	return got[len(got)-1]
}

func describe(rs []reply) string {
	var b bytes.Buffer
	for _, r := range rs {
		fmt.Fprintf(&b, "[%v seq=%d ack=%d win=%d len=%d] ", r.Flags, r.Seq, r.Ack, r.Window, len(r.Payload))
	}
	return b.String()
}

// rawConn is a connection the rawPeer opened by hand.
type rawConn struct {
	p            *rawPeer
	sport, dport uint16
	sndNxt       uint32 // our next sequence number
	rcvNxt       uint32 // the stack's next sequence number
	synAck       reply
}

// handshake opens a connection to dport with synOptions in the SYN and
// returns it established (the SYN+ACK must come; the final ACK is sent).
func (p *rawPeer) handshake(dport uint16, synOptions []byte) *rawConn {
	p.t.Helper()
	c := &rawConn{p: p, sport: p.port(), dport: dport, sndNxt: 0x10000000}
	p.send(segment{sport: c.sport, dport: dport, seq: c.sndNxt, flags: tcp.FlagSYN, window: 65535, options: synOptions})
	c.synAck = p.expect(c.sport, 3*time.Second, "SYN+ACK", func(r reply) bool {
		return r.Flags == tcp.FlagSYN|tcp.FlagACK && uint32(r.Ack) == c.sndNxt+1
	})
	c.sndNxt++
	c.rcvNxt = uint32(c.synAck.Seq) + 1
	c.ack()
	return c
}

// ack acknowledges everything received so far.
func (c *rawConn) ack() {
	c.p.send(segment{sport: c.sport, dport: c.dport, seq: c.sndNxt, ack: c.rcvNxt, flags: tcp.FlagACK, window: 65535})
}

// write sends data in one segment at SND.NXT.
func (c *rawConn) write(data []byte) {
	c.p.send(segment{sport: c.sport, dport: c.dport, seq: c.sndNxt, ack: c.rcvNxt,
		flags: tcp.FlagACK | tcp.FlagPSH, window: 65535, payload: data})
	c.sndNxt += uint32(len(data))
}

// reset ends the connection with a RST at exactly RCV.NXT.
func (c *rawConn) reset() {
	c.p.send(segment{sport: c.sport, dport: c.dport, seq: c.sndNxt, flags: tcp.FlagRST})
}

// readFor collects the stack's data for d, acknowledging in-order data as
// it comes, and returns the bytes in order and every segment seen.
func (c *rawConn) readFor(d time.Duration, want int) ([]byte, []reply) {
	var data []byte
	var all []reply
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) && len(data) < want {
		for _, r := range c.p.collect(c.sport, 50*time.Millisecond) {
			all = append(all, r)
			if uint32(r.Seq) == c.rcvNxt && len(r.Payload) > 0 {
				data = append(data, r.Payload...)
				c.rcvNxt += uint32(len(r.Payload))
				c.ack()
			}
		}
	}
	return data, all
}

// drops returns the stack's count for a drop reason.
func (e *env) drops(r stack.DropReason) uint64 { return e.st.Stats().Drop(r) }

// TestHostileFlags sends segments with bad checksums and with flag
// combinations no honest TCP sends, to a listening port (80) and a closed
// one (81). RFC 9293 3.10.7: a segment with a bad checksum is dropped
// silently; a RST is never answered; in LISTEN only a SYN without ACK or
// RST opens a connection (3.10.7.2), so no other combination may draw a
// SYN+ACK, and one with none of SYN, ACK and RST is dropped (3.10.7.2,
// "fourth"); a closed port answers anything but a RST with a RST
// (3.10.7.1).
func TestHostileFlags(t *testing.T) {
	e := newPlainEnv(t)
	p := e.newRawPeer()

	badSum := e.drops(stack.DropTCPBadChecksum)
	sp := p.port()
	p.send(segment{sport: sp, dport: 80, seq: 1, flags: tcp.FlagSYN, window: 1000, badChecksum: true})
	if got := p.collect(sp, 300*time.Millisecond); len(got) != 0 {
		t.Errorf("SYN with a bad checksum answered: %v", describe(got))
	}
	if n := e.drops(stack.DropTCPBadChecksum) - badSum; n != 1 {
		t.Errorf("bad-checksum drops counted %d, want 1", n)
	}

	const (
		syn = tcp.FlagSYN
		ack = tcp.FlagACK
		fin = tcp.FlagFIN
		rst = tcp.FlagRST
		psh = tcp.FlagPSH
		urg = tcp.FlagURG
	)
	cases := []struct {
		name  string
		flags tcp.Flags
	}{
		{"SYN+FIN", syn | fin},
		{"SYN+RST", syn | rst},
		{"SYN+RST+ACK", syn | rst | ack},
		{"no flags", 0},
		{"FIN (FIN scan)", fin},
		{"FIN+PSH+URG (Xmas)", fin | psh | urg},
		{"all flags", 0xff},
		{"ACK alone", ack},
		{"URG alone", urg},
	}
	for _, c := range cases {
		for _, port := range []uint16{80, 81} {
			sp := p.port()
			p.send(segment{sport: sp, dport: port, seq: 1000, ack: 2000, flags: c.flags, window: 1000, payload: []byte("x")})
			got := p.collect(sp, 300*time.Millisecond)
			t.Logf("%-20s to %d: %s", c.name, port, describe(got))
			for _, r := range got {
				if r.Flags&rst == 0 && r.Flags&syn == 0 {
					continue
				}
				if r.Flags&syn != 0 && (c.flags&(syn|rst|ack) != syn || port == 81) {
					t.Errorf("%s to %d drew a SYN+ACK", c.name, port)
				}
			}
			if c.flags&rst != 0 && len(got) != 0 {
				t.Errorf("%s to %d (carries RST) was answered: %v", c.name, port, describe(got))
			}
			if port == 80 && c.flags&(syn|ack|rst) == 0 && len(got) != 0 {
				t.Errorf("%s to a listener answered (RFC 9293 3.10.7.2 drops it): %v", c.name, describe(got))
			}
			if port == 81 && c.flags&rst == 0 && (len(got) != 1 || got[0].Flags&rst == 0) {
				t.Errorf("%s to closed port: want one RST, got %v", c.name, describe(got))
			}
		}
	}
	// SYN+FIN is a SYN to the listener; the half-open connection it makes
	// is given up after the SYN+ACK retries (envTCPConfig).
	e.checkRecovered(15 * time.Second)
}

// TestMalformedOptions sends SYNs whose options are malformed (RFC 9293
// 3.1: an option's length covers kind and length, so below 2 or past the
// header is invalid) or out of range (MSS 0 or 1; RFC 7323 2.3: a shift
// above 14 is used as 14). Malformed ones are dropped and counted; the
// others open a connection that works, never sending a segment larger
// than the MSS floor allows or an empty one in a loop.
func TestMalformedOptions(t *testing.T) {
	e := newPlainEnv(t)
	p := e.newRawPeer()
	malformed := []struct {
		name    string
		options []byte
	}{
		{"zero-length option", []byte{2, 0, 5, 0xb4}},
		{"length 1", []byte{8, 1, 0, 0}},
		{"length past the header", []byte{1, 1, 8, 30}},
		{"MSS with length 3", []byte{2, 3, 5, 0}},
		{"timestamps cut by the header's end", []byte{1, 1, 8, 10, 0, 0, 0, 1}},
	}
	for _, m := range malformed {
		before := e.drops(stack.DropTCPMalformed)
		sp := p.port()
		p.send(segment{sport: sp, dport: 80, seq: 1, flags: tcp.FlagSYN, window: 1000, options: m.options})
		if got := p.collect(sp, 300*time.Millisecond); len(got) != 0 {
			t.Errorf("%s: answered %v", m.name, describe(got))
		}
		if n := e.drops(stack.DropTCPMalformed) - before; n != 1 {
			t.Errorf("%s: %d malformed drops counted, want 1", m.name, n)
		}
	}

	odd := []struct {
		name    string
		options []byte
		maxSeg  int // the largest payload the stack may send us
	}{
		{"MSS 0", []byte{2, 4, 0, 0}, 536},
		{"MSS 1", []byte{2, 4, 0, 1}, 64},
		{"window scale 15", []byte{2, 4, 5, 0xb4, 1, 3, 3, 15}, 1460},
		{"window scale 255", []byte{2, 4, 5, 0xb4, 1, 3, 3, 255}, 1460},
		{"unknown option kind 99", []byte{99, 6, 1, 2, 3, 4, 2, 4, 5, 0xb4}, 1460},
	}
	const body = 3000
	for _, o := range odd {
		c := p.handshake(80, o.options)
		c.write([]byte(fmt.Sprintf("GET /bytes/%d HTTP/1.0\r\n\r\n", body)))
		data, all := c.readFor(5*time.Second, body+100)
		if !bytes.HasPrefix(data, []byte("HTTP/1.0 200")) && !bytes.HasPrefix(data, []byte("HTTP/1.1 200")) {
			t.Errorf("%s: response %.40q (%d segments)", o.name, data, len(all))
		}
		if i := bytes.Index(data, []byte("\r\n\r\n")); i < 0 || len(data)-i-4 != body {
			t.Errorf("%s: got %d bytes in all, want a %d-byte body", o.name, len(data), body)
		}
		if len(all) > 4*body/64+20 {
			t.Errorf("%s: %d segments for %d bytes", o.name, len(all), body)
		}
		for _, r := range all {
			if len(r.Payload) > o.maxSeg {
				t.Errorf("%s: a %d-byte segment, above %d", o.name, len(r.Payload), o.maxSeg)
				break
			}
		}
		t.Logf("%s: %d bytes in %d segments", o.name, len(data), len(all))
		c.reset()
	}
	e.checkRecovered(15 * time.Second)
}

// TestOutOfWindow attacks an established echo connection built by hand:
// data far outside the receive window draws only an ACK (RFC 9293
// 3.10.7.4, first check) and is never delivered; a RST in the window but
// not at RCV.NXT draws a challenge ACK and does not reset (RFC 5961 3.2);
// a SYN draws a challenge ACK (RFC 5961 4.2); an ACK for data never sent
// is answered with an ACK and ignored (RFC 9293 3.10.7.4, fifth check).
// The connection then still echoes exactly what is sent in order.
func TestOutOfWindow(t *testing.T) {
	e := newPlainEnv(t)
	p := e.newRawPeer()
	c := p.handshake(7, []byte{2, 4, 5, 0xb4})
	c.write([]byte("abc"))
	if got, _ := c.readFor(2*time.Second, 3); string(got) != "abc" {
		t.Fatalf("echo before the attack: %q", got)
	}
	isACKAt := func(ack uint32) func(reply) bool {
		return func(r reply) bool { return r.Flags == tcp.FlagACK && uint32(r.Ack) == ack && len(r.Payload) == 0 }
	}
	attacks := []struct {
		name string
		seg  segment
	}{
		{"data 1 GiB ahead", segment{seq: c.sndNxt + 1<<30, ack: c.rcvNxt, flags: tcp.FlagACK | tcp.FlagPSH, payload: []byte("EVIL")}},
		{"data 1 GiB behind", segment{seq: c.sndNxt - 1<<30, ack: c.rcvNxt, flags: tcp.FlagACK | tcp.FlagPSH, payload: []byte("EVIL")}},
		{"data just past the window", segment{seq: c.sndNxt + 70000, ack: c.rcvNxt, flags: tcp.FlagACK, payload: []byte("EVIL")}},
		{"RST in the window, not at RCV.NXT", segment{seq: c.sndNxt + 100, flags: tcp.FlagRST}},
		{"SYN on the connection", segment{seq: c.sndNxt + 5, flags: tcp.FlagSYN}},
		{"ACK of data never sent", segment{seq: c.sndNxt, ack: c.rcvNxt + 100000, flags: tcp.FlagACK}},
	}
	for _, a := range attacks {
		a.seg.sport, a.seg.dport, a.seg.window = c.sport, c.dport, 65535
		p.send(a.seg)
		r := p.expect(c.sport, 2*time.Second, "ACK answering "+a.name, isACKAt(c.sndNxt))
		if uint32(r.Seq) != c.rcvNxt {
			t.Errorf("%s: ACK with seq %d, want SND.NXT %d", a.name, r.Seq, c.rcvNxt)
		}
		if got := p.collect(c.sport, 200*time.Millisecond); len(got) > 0 {
			for _, g := range got {
				if len(g.Payload) > 0 || g.Flags&tcp.FlagRST != 0 {
					t.Errorf("%s: then %v", a.name, describe(got))
				}
			}
		}
	}
	c.write([]byte("def"))
	if got, _ := c.readFor(2*time.Second, 3); string(got) != "def" {
		t.Fatalf("echo after the attacks: %q, want \"def\" (out-of-window data delivered?)", got)
	}
	c.reset()
	e.checkRecovered(15 * time.Second)
}

// TestHostileFragments sends a SYN in tiny fragments (8 bytes of TCP
// header each: RFC 791 reassembly must take them, and the stack answers),
// in overlapping fragments with different data (RFC 5722's rule, applied
// to IPv4 here: the whole datagram is dropped, so no SYN+ACK), in
// fragments that reach past 65535 bytes, and as a first fragment whose
// rest never comes (held until the reassembly timeout, then freed).
func TestHostileFragments(t *testing.T) {
	e := newPlainEnv(t)
	p := e.newRawPeer()
	synFor := func(sp uint16) []byte {
		return p.tcpBytes(segment{sport: sp, dport: 80, seq: 7000, flags: tcp.FlagSYN, window: 1000,
			options: []byte{2, 4, 5, 0xb4}})
	}

	// Tiny: 24 bytes of TCP in 8-byte fragments.
	sp := p.port()
	seg := synFor(sp)
	for off := 0; off < len(seg); off += 8 {
		f := ipv4.HeaderFields{ID: 0x1001, FragmentOffset: off}
		end := min(off+8, len(seg))
		if end < len(seg) {
			f.Flags = ipv4.MoreFragments
		}
		p.sendIP(ipPacket(f, seg[off:end]))
	}
	p.expect(sp, 2*time.Second, "SYN+ACK to a SYN in tiny fragments", func(r reply) bool {
		return r.Flags == tcp.FlagSYN|tcp.FlagACK && r.Ack == 7001
	})
	p.send(segment{sport: sp, dport: 80, seq: 7001, flags: tcp.FlagRST})

	// Overlapping, with different bytes in the overlap.
	sp = p.port()
	seg = synFor(sp)
	overlap := bytes.Clone(seg[8:])
	overlap[0] ^= 0xff // the sequence number's high byte, rewritten
	before := e.drops(stack.DropFragmentOverlap)
	p.sendIP(ipPacket(ipv4.HeaderFields{ID: 0x1002, Flags: ipv4.MoreFragments}, seg[:16]))
	p.sendIP(ipPacket(ipv4.HeaderFields{ID: 0x1002, FragmentOffset: 8}, overlap))
	if got := p.collect(sp, 500*time.Millisecond); len(got) != 0 {
		t.Errorf("overlapping fragments were reassembled and answered: %v", describe(got))
	}
	if e.drops(stack.DropFragmentOverlap) == before {
		t.Error("overlap not counted as DropFragmentOverlap")
	}

	// Past 65535 bytes: a last fragment at offset 65528 with 16 bytes.
	before = e.drops(stack.DropFragmentTooLarge)
	p.sendIP(ipPacket(ipv4.HeaderFields{ID: 0x1003, Flags: ipv4.MoreFragments}, seg[:16]))
	p.sendIP(ipPacket(ipv4.HeaderFields{ID: 0x1003, FragmentOffset: 65528}, make([]byte, 16)))
	time.Sleep(100 * time.Millisecond)
	if e.drops(stack.DropFragmentTooLarge) == before {
		t.Error("a datagram past 65535 bytes not counted as DropFragmentTooLarge")
	}

	// A first fragment alone, many times over (different IDs): held, then
	// freed by the 2 s timeout set in newEnv.
	for id := range 200 {
		p.sendIP(ipPacket(ipv4.HeaderFields{ID: uint16(0x2000 + id), Flags: ipv4.MoreFragments}, seg[:16]))
	}
	time.Sleep(100 * time.Millisecond)
	if d, b := e.st.ReassemblyPending(); d == 0 || b == 0 {
		t.Errorf("incomplete datagrams not held (%d datagrams, %d bytes)", d, b)
	} else {
		t.Logf("held after 200 first fragments: %d datagrams, %d bytes", d, b)
	}
	e.checkRecovered(15 * time.Second)
}
