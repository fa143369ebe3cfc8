package stack

import (
	"math/rand/v2"
	"net/netip"
	"sync"

	"github.com/tundra-net/tundra/ipv4"
	"github.com/tundra-net/tundra/link"
	"github.com/tundra-net/tundra/link/gso"
	"github.com/tundra-net/tundra/tcp"
)

// Ephemeral ports for Dial, Linux's default range
// (net.ipv4.ip_local_port_range).
const (
	ephemeralFirst = 32768
	ephemeralLast  = 60999
)

// listenKey finds a listener: a local address (zero for any) and port.
type listenKey struct {
	addr [4]byte
	port uint16
}

// tcpTransport is the TCP demultiplexer: it finds the connection (or
// listener) each segment belongs to, and is the tcp.Output through which
// every connection sends.
type tcpTransport struct {
	s   *Stack
	isn *tcp.ISNGenerator

	mu        sync.RWMutex
	conns     map[tcp.FourTuple]*TCPConn
	listeners map[listenKey]*TCPListener
	bound     map[listenKey]*TCPSocket // bound, neither listening nor connected (BindTCP)
	nextPort  uint16
}

func newTCPTransport(s *Stack) *tcpTransport {
	return &tcpTransport{
		s:         s,
		isn:       tcp.NewISNGenerator(),
		conns:     make(map[tcp.FourTuple]*TCPConn),
		listeners: make(map[listenKey]*TCPListener),
		bound:     make(map[listenKey]*TCPSocket),
		nextPort:  uint16(ephemeralFirst + rand.IntN(ephemeralLast-ephemeralFirst+1)),
	}
}

// deliver handles one TCP segment addressed to us.
func (t *tcpTransport) deliver(ip ipv4.Header, pkt *link.Packet) DropReason {
	c := &t.s.counters
	h, err := tcp.ParseHeader(ip.Payload())
	if err != nil {
		c.tcp.inErrs.inc()
		return DropTCPMalformed
	}
	src, dst := ip.SourceBytes(), ip.DestinationBytes()
	// RFC 9293 3.1: the checksum covers the pseudo-header, header and data;
	// a segment whose checksum is wrong is discarded. A link that verified
	// it already says so.
	if !pkt.Offload.ChecksumValid && !h.ChecksumValid(src, dst) {
		c.tcp.inErrs.inc()
		c.tcp.inCsumErrors.inc()
		return DropTCPBadChecksum
	}
	seg, err := tcp.SegmentFromHeader(h)
	if err != nil {
		c.tcp.inErrs.inc()
		return DropTCPMalformed
	}
	seg.ECN = tcp.ECNCodepoint(ip.ECN()) // RFC 3168: the Conn reads the CE mark
	c.tcp.inSegs.inc()
	id := tcp.FourTuple{LocalAddr: dst, RemoteAddr: src, LocalPort: seg.DstPort, RemotePort: seg.SrcPort}

	t.mu.RLock()
	conn := t.conns[id]
	var l *TCPListener
	if conn == nil {
		l = t.listeners[listenKey{dst, seg.DstPort}]
		if l == nil {
			l = t.listeners[listenKey{[4]byte{}, seg.DstPort}]
		}
	}
	t.mu.RUnlock()

	if conn != nil && seg.Flags&(tcp.FlagSYN|tcp.FlagACK|tcp.FlagRST) == tcp.FlagSYN {
		// RFC 1122 4.2.2.13: a TCP MAY accept a new SYN from the remote
		// TCP to reopen the connection directly from TIME-WAIT, if the
		// SYN's sequence number is beyond the old incarnation's and the
		// new initial sequence number is larger than the largest one used
		// on it. Busy servers that close first depend on this.
		if minISS, ok := conn.retireForReopen(seg.Seq); ok {
			t.mu.RLock()
			l := t.listeners[listenKey{dst, seg.DstPort}]
			if l == nil {
				l = t.listeners[listenKey{[4]byte{}, seg.DstPort}]
			}
			t.mu.RUnlock()
			if l != nil {
				return l.handleSynISS(id, seg, minISS)
			}
			t.sendReset(id, &seg)
			return DropTCPNoSocket
		}
	}
	if conn != nil {
		conn.handleSegment(seg)
		return DropNone
	}
	// RFC 9293 3.10.7.2, LISTEN state: "first, check for a RST: an incoming
	// RST should be ignored"; "second, check for an ACK: any acknowledgment
	// is bad if it arrives on a connection still in the LISTEN state. An
	// acceptable reset segment should be formed for any arriving
	// ACK-bearing segment"; "third, check for a SYN".
	if l != nil && seg.Flags&(tcp.FlagSYN|tcp.FlagACK|tcp.FlagRST) == tcp.FlagSYN {
		if seg.Flags&tcp.FlagFIN != 0 && t.s.tcpDefaults.Load().DropSYNFIN {
			return DropTCPInvalid // tcp.Config.DropSYNFIN
		}
		return l.handleSyn(id, seg)
	}
	if l == nil && seg.Flags&(tcp.FlagSYN|tcp.FlagACK|tcp.FlagRST) == tcp.FlagSYN && t.s.opts.TCPForwarder != nil {
		return t.s.forwarder.handleSyn(id, seg)
	}
	// An ACK to a listener may complete a SYN cookie's handshake (RFC 4987,
	// syncookie.go).
	if l != nil && seg.Flags&(tcp.FlagSYN|tcp.FlagACK|tcp.FlagRST) == tcp.FlagACK {
		if reason, taken := l.handleCookieACK(id, seg); taken {
			return reason
		}
	}
	// RFC 9293 3.10.7.2, LISTEN state, "fourth, other data or control":
	// "Any other control or text-bearing segment (not containing SYN) must
	// have an ACK and thus would have been discarded by the ACK processing
	// ... drop the segment and return." A FIN, a NULL or an Xmas segment
	// to a listening port is dropped, as Linux does, and not reset.
	if l != nil && seg.Flags&(tcp.FlagSYN|tcp.FlagACK|tcp.FlagRST) == 0 {
		return DropTCPInvalid
	}
	// RFC 9293 3.10.7.1, CLOSED state: "An incoming segment not containing
	// a RST causes a RST to be sent in response." A socket bound to the
	// port (BindTCP) is such a connection in CLOSED: its RST carries the
	// socket's TOS and TTL, as BSD's does.
	if b := t.boundSocket(dst, seg.DstPort); b != nil {
		tos, ttl := b.ipFields()
		t.sendResetWith(id, &seg, tos, ttl)
		return DropTCPNoSocket
	}
	t.sendReset(id, &seg)
	return DropTCPNoSocket
}

// sendReset answers a segment that belongs to no connection (RFC 9293
// 3.10.7.1).
func (t *tcpTransport) sendReset(id tcp.FourTuple, seg *tcp.Segment) {
	t.sendResetWith(id, seg, 0, t.s.opts.TTL)
}

// sendResetWith is sendReset with the IP header's TOS byte and TTL.
func (t *tcpTransport) sendResetWith(id tcp.FourTuple, seg *tcp.Segment, tos, ttl uint8) {
	if rst, ok := tcp.RSTForUnexpected(seg); ok {
		t.s.counters.tcp.outRsts.inc()
		t.sendSegment(id, rst, tcp.Payload{}, tos, ttl, nil)
	}
}

// SendSegment implements tcp.Output for segments of no connection (RSTs,
// cookie SYN+ACKs): the stack's TTL and a zero TOS byte.
func (t *tcpTransport) SendSegment(id tcp.FourTuple, fields tcp.HeaderFields, payload tcp.Payload) {
	t.sendSegment(id, fields, payload, 0, t.s.opts.TTL, nil)
}

// sendSegment wraps a segment in an IPv4 header with the given TOS byte
// and TTL and with DF set (RFC 1191: TCP discovers the path MTU rather
// than be fragmented), computes the checksum and writes the packet. c is
// the connection sending it, if any (its lock held), whose send MSS a
// super-segment is cut to.
func (t *tcpTransport) sendSegment(id tcp.FourTuple, fields tcp.HeaderFields, payload tcp.Payload, tos, ttl uint8, c *TCPConn) {
	s := t.s
	ob := s.getBuf()
	defer s.putBuf(ob)
	buf := ob.data
	tcpLen := fields.Len() + payload.Len()
	ipf := ipv4.HeaderFields{
		// The connection's TOS byte (IP_TOS) with TCP's ECN codepoint in
		// its two low bits: ECT(0) on data when ECN is on (RFC 3168 6.1.4;
		// section 5: the ECN field is the transport's, not the
		// application's).
		TOS:           tos&^0x3 | uint8(fields.ECN),
		ID:            s.nextIPID(),
		Flags:         ipv4.DontFragment,
		TTL:           ttl,
		Protocol:      ipv4.ProtocolTCP,
		Src:           netip.AddrFrom4(id.LocalAddr),
		Dst:           netip.AddrFrom4(id.RemoteAddr),
		PayloadLength: tcpLen,
	}
	ipLen := ipf.Size()
	if ipLen+tcpLen > len(buf) {
		// A segment larger than the link allows is a bug in MSS handling;
		// count it rather than crash the pump.
		s.counters.ip.outDiscards.inc()
		return
	}
	ipf.Encode(buf)
	hl, err := fields.Encode(buf[ipLen:])
	if err != nil {
		s.counters.ip.outDiscards.inc()
		return
	}
	n := copy(buf[ipLen+hl:], payload.First)
	copy(buf[ipLen+hl+n:], payload.Second)
	if ipLen+tcpLen > s.ep.MTU() {
		// A super-segment (tcp.Config.GSOMaxSize, set only when the link
		// has TSO): the link cuts it into segments of the connection's
		// send MSS and finishes each checksum from the pseudo-header sum
		// left here, as Linux's CHECKSUM_PARTIAL does.
		mss := 0
		if c != nil {
			mss = c.tcb.SendMSS()
		}
		off, err := gso.SetPartialChecksum(buf[:ipLen+tcpLen])
		if err != nil || mss == 0 {
			s.counters.ip.outDiscards.inc()
			return
		}
		off.GSOType, off.GSOSize = link.GSOTCPv4, uint16(mss)
		ob.pkts[0].Offload = off
	} else {
		tcp.SetChecksum(buf[ipLen:ipLen+tcpLen], id.LocalAddr, id.RemoteAddr)
	}
	s.counters.tcp.outSegs.inc()
	s.send(ob, ipLen+tcpLen)
}

// register adds a connection to the demultiplexing table.
func (t *tcpTransport) register(c *TCPConn) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	if _, dup := t.conns[c.id]; dup {
		return false
	}
	select {
	case <-t.s.closed:
		// Stack.Close has begun: closeAll may have taken its list of
		// connections already, and would not abort (and wake) this one.
		return false
	default:
	}
	t.conns[c.id] = c
	return true
}

// unregister removes a connection that reached CLOSED.
func (t *tcpTransport) unregister(c *TCPConn) {
	t.mu.Lock()
	if t.conns[c.id] == c {
		delete(t.conns, c.id)
	}
	t.mu.Unlock()
}

// pickLocalPort chooses an ephemeral port for a connection from local to
// remote: one not used by another connection to the same remote endpoint
// nor held by a listener or a bound socket. It returns 0 if every port is
// taken.
func (t *tcpTransport) pickLocalPort(local, remote [4]byte, remotePort uint16) uint16 {
	t.mu.Lock()
	defer t.mu.Unlock()
	const n = ephemeralLast - ephemeralFirst + 1
	for range n {
		p := t.nextPort
		t.nextPort++
		if t.nextPort > ephemeralLast || t.nextPort < ephemeralFirst {
			t.nextPort = ephemeralFirst
		}
		id := tcp.FourTuple{LocalAddr: local, RemoteAddr: remote, LocalPort: p, RemotePort: remotePort}
		if _, used := t.conns[id]; used {
			continue
		}
		if t.portHeldLocked(local, p) {
			continue
		}
		return p
	}
	return 0
}

// closeAll aborts every connection and closes every listener (Stack.Close).
func (t *tcpTransport) closeAll() {
	t.mu.RLock()
	conns := make([]*TCPConn, 0, len(t.conns))
	for _, c := range t.conns {
		conns = append(conns, c)
	}
	ls := make([]*TCPListener, 0, len(t.listeners))
	for _, l := range t.listeners {
		ls = append(ls, l)
	}
	t.mu.RUnlock()
	for _, l := range ls {
		l.Close()
	}
	for _, c := range conns {
		c.abort()
	}
}

// ConnectionCount returns how many TCP connections the stack holds, in any
// state but CLOSED (TIME-WAIT included).
func (s *Stack) ConnectionCount() int {
	s.tcp.mu.RLock()
	defer s.tcp.mu.RUnlock()
	return len(s.tcp.conns)
}
