package stack

import (
	"encoding/binary"
	"math/rand/v2"
	"net/netip"
	"sync"
	"syscall"

	"github.com/tundra-net/tundra/ipv4"
	"github.com/tundra-net/tundra/link"
	"github.com/tundra-net/tundra/udp"
)

// udpTransport is the UDP demultiplexer (RFC 768, RFC 1122 section 4.1):
// it finds the socket each datagram is for by its destination address and
// port, answers datagrams for closed ports with ICMP port unreachable, and
// sends what sockets write, in fragments when a datagram exceeds the MTU.
//
// A socket is bound to one local port, on one of the stack's addresses or
// on all of them; a connected socket (Dial) also names its peer and takes
// datagrams only from it. There is one socket per port and address: no
// SO_REUSEPORT.
type udpTransport struct {
	s *Stack

	mu       sync.RWMutex
	sockets  map[listenKey]*UDPConn
	ports    map[uint16]int // sockets per port, for binding checks
	nextPort uint16
}

func newUDPTransport(s *Stack) *udpTransport {
	return &udpTransport{
		s:        s,
		sockets:  make(map[listenKey]*UDPConn),
		ports:    make(map[uint16]int),
		nextPort: uint16(ephemeralFirst + rand.IntN(ephemeralLast-ephemeralFirst+1)),
	}
}

// deliver handles one UDP datagram addressed to us (RFC 1122 section
// 4.1.3).
func (t *udpTransport) deliver(ip ipv4.Header, pkt *link.Packet) DropReason {
	c := &t.s.counters.udp
	h, err := udp.Parse(ip.Payload())
	if err != nil {
		c.inErrors.inc()
		return DropUDPMalformed
	}
	src, dst := ip.SourceBytes(), ip.DestinationBytes()
	// RFC 1122 4.1.3.4: "If a UDP datagram is received with a checksum
	// that is non-zero and invalid, UDP MUST silently discard the
	// datagram." A zero checksum means none was computed (RFC 768).
	if !pkt.Offload.ChecksumValid && !h.ChecksumValid(src, dst) {
		c.inErrors.inc()
		c.inCsumErrors.inc()
		return DropUDPBadChecksum
	}
	from := netip.AddrPortFrom(netip.AddrFrom4(src), h.SourcePort())
	sock := t.lookup(dst, h.DestinationPort(), from)
	if sock == nil {
		// RFC 1122 4.1.3.1: "If a datagram arrives addressed to a UDP port
		// for which there is no pending LISTEN call, UDP SHOULD send an
		// ICMP Port Unreachable message." sendICMPError applies the rules
		// of 3.2.2 (not for broadcasts, not about fragments but the
		// first) and the rate limit.
		c.noPorts.inc()
		t.s.sendICMPError(ip, ipv4.ICMPDestinationUnreachable, ipv4.UnreachablePort, [4]byte{})
		return DropUDPNoSocket
	}
	if !sock.enqueue(from, h.Payload()) {
		// Linux counts a full receive queue in both counters.
		c.rcvbufErrors.inc()
		c.inErrors.inc()
		return DropUDPQueueFull
	}
	c.inDatagrams.inc()
	return DropNone
}

// lookup finds the socket for a datagram to dst:port from: one bound to
// that address, else one bound to all addresses; a connected socket takes
// only datagrams from its peer (as Linux's lookup scores them).
func (t *udpTransport) lookup(dst [4]byte, port uint16, from netip.AddrPort) *UDPConn {
	t.mu.RLock()
	sock := t.sockets[listenKey{dst, port}]
	if sock == nil {
		sock = t.sockets[listenKey{[4]byte{}, port}]
	}
	t.mu.RUnlock()
	if sock != nil && sock.connected && sock.remote != from {
		return nil
	}
	return sock
}

// deliverICMPError handles an ICMP error quoting a datagram we sent (RFC
// 1122 section 4.1.3.3: "UDP MUST pass to the application layer all ICMP
// error messages that it receives from the IP layer"). As on Linux, only a
// connected socket hears of it: its next Read or Write returns the error
// (ECONNREFUSED for port unreachable). An unconnected socket could not tell
// which of its peers the error is about.
func (t *udpTransport) deliverICMPError(typ, code uint8, rest [4]byte, quoted ipv4.Header) {
	q := quoted.Payload()
	if len(q) < 4 || quoted.FragmentOffset() != 0 {
		return // only a first fragment starts with the UDP header
	}
	local, remotePort := binary.BigEndian.Uint16(q[0:2]), binary.BigEndian.Uint16(q[2:4])
	remote := netip.AddrPortFrom(quoted.Destination(), remotePort)
	t.mu.RLock()
	sock := t.sockets[listenKey{quoted.SourceBytes(), local}]
	if sock == nil {
		sock = t.sockets[listenKey{[4]byte{}, local}]
	}
	t.mu.RUnlock()
	if sock == nil || !sock.connected || sock.remote != remote {
		return
	}
	if errno := icmpErrno(ipv4.ICMPType(typ), code); errno != 0 {
		sock.setError(errno)
	}
}

// icmpErrno maps an ICMP error to the errno a socket reports, as Linux's
// icmp_err_convert table does. Zero means the error is not reported
// (fragmentation needed: UDP sends without DF, so it never asks for it).
func icmpErrno(typ ipv4.ICMPType, code uint8) syscall.Errno {
	switch typ {
	case ipv4.ICMPDestinationUnreachable:
		switch code {
		case ipv4.UnreachableNet, ipv4.UnreachableNetUnknown, ipv4.UnreachableNetForTOS:
			return syscall.ENETUNREACH
		case ipv4.UnreachableHost, ipv4.UnreachableHostForTOS, ipv4.UnreachableAdministrativelyProhibited,
			ipv4.UnreachableHostPrecedenceViolation, ipv4.UnreachablePrecedenceCutoff:
			return syscall.EHOSTUNREACH
		case ipv4.UnreachableProtocol:
			return syscall.ENOPROTOOPT
		case ipv4.UnreachablePort:
			return syscall.ECONNREFUSED
		case ipv4.UnreachableFragmentationNeeded:
			return 0
		case ipv4.UnreachableSourceRouteFailed:
			return syscall.EOPNOTSUPP
		case ipv4.UnreachableHostUnknown:
			return syscall.EHOSTDOWN
		case ipv4.UnreachableSourceHostIsolated:
			return syscall.ENONET
		case ipv4.UnreachableNetProhibited, ipv4.UnreachableHostProhibited:
			return syscall.EACCES
		}
		return syscall.EHOSTUNREACH
	case ipv4.ICMPTimeExceeded:
		return syscall.EHOSTUNREACH
	case ipv4.ICMPParameterProblem:
		return syscall.EPROTO
	}
	return 0
}

// bind registers sock on its local address and port; port 0 picks an
// ephemeral one. It fails with EADDRINUSE when the port is taken on that
// address (or, for a socket on all addresses, on any address), and
// EADDRNOTAVAIL when no ephemeral port is free.
func (t *udpTransport) bind(sock *UDPConn) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	addr := sock.local.Addr().As4()
	port := sock.local.Port()
	if port == 0 {
		const n = ephemeralLast - ephemeralFirst + 1
		for range n {
			p := t.nextPort
			t.nextPort++
			if t.nextPort > ephemeralLast || t.nextPort < ephemeralFirst {
				t.nextPort = ephemeralFirst
			}
			if t.ports[p] == 0 {
				port = p
				break
			}
		}
		if port == 0 {
			return errAddrNotAvailable
		}
	} else if t.sockets[listenKey{addr, port}] != nil || t.sockets[listenKey{[4]byte{}, port}] != nil ||
		addr == [4]byte{} && t.ports[port] > 0 {
		return errAddrInUse
	}
	sock.local = netip.AddrPortFrom(sock.local.Addr(), port)
	t.sockets[listenKey{addr, port}] = sock
	t.ports[port]++
	return nil
}

// unbind removes a closed socket.
func (t *udpTransport) unbind(sock *UDPConn) {
	t.mu.Lock()
	defer t.mu.Unlock()
	key := listenKey{sock.local.Addr().As4(), sock.local.Port()}
	if t.sockets[key] == sock {
		delete(t.sockets, key)
		if t.ports[key.port]--; t.ports[key.port] == 0 {
			delete(t.ports, key.port)
		}
	}
}

// closeAll closes every socket (Stack.Close).
func (t *udpTransport) closeAll() {
	t.mu.RLock()
	socks := make([]*UDPConn, 0, len(t.sockets))
	for _, c := range t.sockets {
		socks = append(socks, c)
	}
	t.mu.RUnlock()
	for _, c := range socks {
		c.Close()
	}
}

// send writes one datagram of payload from src to dst: in one packet when
// it fits the MTU, else cut into fragments (RFC 791). UDP sends without
// DF: the stack does no path MTU discovery for it, so a datagram too large
// for a link on the way is fragmented there rather than lost. It returns
// EMSGSIZE for a payload over udp.MaxIPv4Payload.
func (t *udpTransport) send(src netip.AddrPort, dst netip.AddrPort, payload []byte) error {
	s := t.s
	if len(payload) > udp.MaxIPv4Payload {
		return syscall.EMSGSIZE
	}
	udpLen := udp.HeaderLen + len(payload)
	ipf := ipv4.HeaderFields{
		ID:            s.nextIPID(),
		TTL:           s.opts.TTL,
		Protocol:      ipv4.ProtocolUDP,
		Src:           src.Addr(),
		Dst:           dst.Addr(),
		PayloadLength: udpLen,
	}
	hlen := ipf.Size()
	total := hlen + udpLen
	fields := udp.HeaderFields{SourcePort: src.Port(), DestinationPort: dst.Port()}
	src4, dst4 := src.Addr().As4(), dst.Addr().As4()
	if total <= s.ep.MTU() {
		ob := s.getBuf()
		defer s.putBuf(ob)
		buf := ob.data[:total]
		copy(buf[hlen+udp.HeaderLen:], payload)
		fields.Encode(buf[hlen:], src4, dst4)
		ipf.Encode(buf)
		s.counters.udp.outDatagrams.inc()
		s.send(ob, total)
		return nil
	}
	fb := s.getFragBuf()
	defer s.putFragBuf(fb)
	buf := fb.datagram[:total]
	copy(buf[hlen+udp.HeaderLen:], payload)
	fields.Encode(buf[hlen:], src4, dst4)
	ipf.Encode(buf)
	k, ok := s.fragment(fb, total)
	if !ok {
		return syscall.EMSGSIZE
	}
	s.counters.udp.outDatagrams.inc()
	s.writePackets(fb.pkts[:k])
	return nil
}
