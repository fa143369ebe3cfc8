package stack

import (
	"github.com/tundra-net/tundra/ipv4"
	"github.com/tundra-net/tundra/link"
)

// deliverIPv4 checks one received packet's IPv4 header and hands it on.
// It returns why the packet was dropped, or DropNone if a protocol took it.
//
// The checks follow RFC 1122 section 3.2.1 (and RFC 791 section 3.1), in
// this order: the header is long enough and of version 4; the header
// length and total length fit the packet; the header checksum is right; the
// source address is a plausible host; the destination is ours.
func (s *Stack) deliverIPv4(pkt *link.Packet) DropReason {
	ip, err := ipv4.ParseHeader(pkt.Data)
	if err != nil {
		s.counters.ip.inHdrErrors.inc()
		switch err {
		case ipv4.ErrTooShort:
			return DropTooShort
		case ipv4.ErrVersion:
			// RFC 1122 3.2.1.1: "A datagram whose version number is not 4
			// MUST be silently discarded."
			return DropBadVersion
		case ipv4.ErrHeaderLength:
			return DropBadHeaderLength
		default: // ErrTotalLength, ErrTruncated
			return DropBadTotalLength
		}
	}
	// RFC 1122 3.2.1.2: "A host MUST verify the IP header checksum on every
	// received datagram and silently discard every datagram that has a bad
	// checksum."
	if !ip.ChecksumValid() {
		s.counters.ip.inHdrErrors.inc()
		return DropBadChecksum
	}
	// RFC 1122 3.2.1.3: a host MUST silently discard a datagram whose
	// source is not a single host: 0.0.0.0 (allowed only while a host
	// learns its address, which this stack never does), loopback,
	// multicast, class E or the limited broadcast.
	src := ip.SourceBytes()
	if src == [4]byte{} || src[0] == 127 || src[0] >= 224 {
		s.counters.ip.inHdrErrors.inc()
		return DropMartianSource
	}
	// RFC 1122 3.2.1.3: "A host MUST silently discard an incoming datagram
	// that is not destined for" one of its addresses (or a broadcast or
	// multicast address it listens to; this stack listens to none).
	// (With Options.AcceptAnyDestination, TCP and UDP to any address are
	// taken: the stack terminates connections on behalf of other hosts.)
	if !s.isOurs(ip.DestinationBytes()) && !(s.opts.AcceptAnyDestination &&
		(ip.Protocol() == ipv4.ProtocolTCP || ip.Protocol() == ipv4.ProtocolUDP)) {
		s.counters.ip.inAddrErrors.inc()
		return DropNotOurAddress
	}
	// RFC 791 3.2: "If the time to live reaches zero, the datagram must be
	// destroyed." A datagram that arrives with TTL 0 expired on the way.
	// RFC 1122 3.2.1.7 forbids discarding for TTL under 2 in general, so
	// TTL 1 is accepted.
	if ip.TTL() == 0 {
		s.counters.ip.inHdrErrors.inc()
		return DropTTLZero
	}
	if ip.IsFragment() {
		// RFC 791 3.2: fragments are held until their datagram is whole,
		// which then goes on as if it had arrived in one piece
		// (fragment.go).
		var whole bool
		var reason DropReason
		if ip, whole, reason = s.reassemble(ip); !whole {
			return reason
		}
		pkt.Offload = link.Offload{} // it described the last fragment, not the datagram
		defer s.recycleDatagram(ip)  // transports copy what they keep
	}
	proto := ip.Protocol()
	if proto == ipv4.ProtocolICMP {
		s.counters.ip.inDelivers.inc()
		return s.deliverICMP(ip)
	}
	if t := s.transports[proto]; t != nil {
		s.counters.ip.inDelivers.inc()
		return t.deliver(ip, pkt)
	}
	// RFC 1122 3.2.2.1: a host SHOULD generate Destination Unreachable
	// messages with code 2 (Protocol Unreachable) when the designated
	// transport protocol is not supported.
	s.counters.ip.inUnknownProtos.inc()
	s.sendICMPError(ip, ipv4.ICMPDestinationUnreachable, ipv4.UnreachableProtocol, [4]byte{})
	return DropUnknownProtocol
}
