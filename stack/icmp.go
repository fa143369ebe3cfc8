package stack

import (
	"encoding/binary"

	"github.com/tundra-net/tundra/ipv4"
	"github.com/tundra-net/tundra/tcp"
)

// deliverICMP handles an ICMP message addressed to us (RFC 792, RFC 1122
// section 3.2.2).
func (s *Stack) deliverICMP(ip ipv4.Header) DropReason {
	s.counters.icmp.inMsgs.inc()
	msg, err := ipv4.ParseICMP(ip.Payload())
	if err != nil {
		s.counters.icmp.inErrors.inc()
		return DropICMPMalformed
	}
	if !msg.ChecksumValid() {
		s.counters.icmp.inErrors.inc()
		s.counters.icmp.inCsumErrors.inc()
		return DropICMPBadChecksum
	}
	switch msg.Type() {
	case ipv4.ICMPEchoRequest:
		s.counters.icmp.inEchos.inc()
		s.sendEchoReply(ip, msg)
		return DropNone
	case ipv4.ICMPDestinationUnreachable, ipv4.ICMPTimeExceeded, ipv4.ICMPParameterProblem:
		if msg.Type() == ipv4.ICMPDestinationUnreachable {
			s.counters.icmp.inDestUnreachs.inc()
		}
		// RFC 1122 3.2.2: an ICMP error is passed to the transport
		// protocol of the datagram it quotes, which decides what it means
		// for its connection.
		quoted, err := msg.Quoted()
		if err != nil || !s.isOurs(quoted.SourceBytes()) {
			return DropICMPMalformed
		}
		if t := s.transports[quoted.Protocol()]; t != nil {
			t.deliverICMPError(uint8(msg.Type()), msg.Code(), msg.RestOfHeader(), quoted)
		}
		return DropNone
	default:
		// Echo replies (we send no requests through the stack yet),
		// redirects (a host on one link has no routes to change), source
		// quench (RFC 6633: ignore), timestamps (optional, RFC 1122
		// 3.2.2.8) and unknown types (RFC 1122 3.2.2: silently discard).
		s.counters.icmp.inOtherTypes.inc()
		return DropICMPUnhandled
	}
}

// sendEchoReply answers an echo request (RFC 792; RFC 1122 3.2.2.6: the
// reply carries the request's identifier, sequence number and data, and its
// source is the address the request was sent to).
func (s *Stack) sendEchoReply(req ipv4.Header, msg ipv4.ICMP) {
	fields := ipv4.HeaderFields{
		ID:            s.nextIPID(),
		TTL:           s.opts.TTL,
		Protocol:      ipv4.ProtocolICMP,
		Src:           req.Destination(),
		Dst:           req.Source(),
		PayloadLength: len(msg.Bytes()),
	}
	hlen := fields.Size()
	total := hlen + len(msg.Bytes())
	s.counters.icmp.outMsgs.inc()
	s.counters.icmp.outEchoReps.inc()
	if total <= s.ep.MTU() {
		ob := s.getBuf()
		defer s.putBuf(ob)
		ipv4.BuildEchoReply(ob.data[hlen:], msg)
		fields.Encode(ob.data)
		s.send(ob, total)
		return
	}
	// A request that arrived in fragments gets its reply in fragments
	// (ping -s 3000).
	fb := s.getFragBuf()
	defer s.putFragBuf(fb)
	if total > len(fb.datagram) {
		return
	}
	ipv4.BuildEchoReply(fb.datagram[hlen:], msg)
	fields.Encode(fb.datagram)
	if k, ok := s.fragment(fb, total); ok {
		s.writePackets(fb.pkts[:k])
	}
}

// sendICMPError sends an ICMP error about the received packet offending,
// if RFC 1122 3.2.2 allows one and the rate limit of RFC 1812 4.3.2.8 has
// room. It reports whether it sent one.
func (s *Stack) sendICMPError(offending ipv4.Header, typ ipv4.ICMPType, code uint8, rest [4]byte) bool {
	if !ipv4.ErrorAllowed(offending) {
		s.counters.icmp.outErrorsSkipped.inc()
		return false
	}
	if !s.icmpRate.allow(s.clock.Now()) {
		s.counters.icmp.outRateLimited.inc()
		return false
	}
	ob := s.getBuf()
	defer s.putBuf(ob)
	buf := ob.data
	quote := offending.Bytes()
	fields := ipv4.HeaderFields{
		ID:            s.nextIPID(),
		TTL:           s.opts.TTL,
		Protocol:      ipv4.ProtocolICMP,
		Src:           offending.Destination(),
		Dst:           offending.Source(),
		PayloadLength: ipv4.ICMPErrorSize(quote),
	}
	hlen := fields.Size()
	n := ipv4.BuildError(buf[hlen:], typ, code, rest, quote)
	fields.Encode(buf)
	s.counters.icmp.outMsgs.inc()
	if typ == ipv4.ICMPDestinationUnreachable {
		s.counters.icmp.outDestUnreachs.inc()
	}
	s.send(ob, hlen+n)
	return true
}

// deliverICMPError hands an ICMP error about a segment we sent to its
// connection (RFC 9293 3.9.2.2, RFC 1122 4.2.3.9). "Fragmentation needed"
// drives path MTU discovery (RFC 1191, pmtu.go); the connection decides
// what any other error means for it (tcp.Conn.HandleICMPError): a hard
// error ends a connection attempt, a soft one is kept for the application
// (TCPConn.SoftError) and explains a later timeout.
func (t *tcpTransport) deliverICMPError(typ, code uint8, rest [4]byte, quoted ipv4.Header) {
	if ipv4.ICMPType(typ) == ipv4.ICMPDestinationUnreachable && code == ipv4.UnreachableFragmentationNeeded {
		t.fragmentationNeeded(rest, quoted)
		return
	}
	c, seq := t.quotedConn(quoted)
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.gone {
		return
	}
	if c.tcb.HandleICMPError(ipv4.ICMPType(typ), code, seq, t.s.clock.Now()) {
		t.s.counters.tcp.icmpErrorsTaken.inc()
	}
	c.afterEvent()
}

// quotedConn finds the connection whose segment an ICMP error quotes, and
// that segment's sequence number. RFC 792 quotes the IP header and the
// first 8 bytes of the datagram: for TCP the ports and the sequence number.
func (t *tcpTransport) quotedConn(quoted ipv4.Header) (*TCPConn, tcp.Seq) {
	q := quoted.Payload()
	if len(q) < 8 {
		return nil, 0
	}
	id := tcp.FourTuple{
		LocalAddr: quoted.SourceBytes(), RemoteAddr: quoted.DestinationBytes(),
		LocalPort: binary.BigEndian.Uint16(q[0:2]), RemotePort: binary.BigEndian.Uint16(q[2:4]),
	}
	t.mu.RLock()
	c := t.conns[id]
	t.mu.RUnlock()
	return c, tcp.Seq(binary.BigEndian.Uint32(q[4:8]))
}
