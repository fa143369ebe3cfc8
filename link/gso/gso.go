// Package gso does in software what a TUN with offloads asks the kernel to
// do: it cuts TCP and UDP super-packets into packets a wire can carry, and
// finishes checksums left partial.
//
// Generic segmentation offload lets a sender build one large packet, a
// super-packet of up to 64 KiB with a single set of headers, and leave the
// cutting into MTU-sized segments to whoever is below it: a network card,
// or the Linux kernel behind a TUN opened with IFF_VNET_HDR (see link/tun).
// Per-packet work then happens once per 64 KiB instead of once per 1.5 KiB.
// The metadata that travels with such a packet is link.Offload: its
// GSOType, the GSOSize of one segment's payload, and, for checksum offload,
// where the partial checksum starts and where its field is.
//
// Split is the fallback when the endpoint below cannot cut: it turns a
// super-packet into ordinary packets exactly as Linux's tcp_gso_segment and
// __udp_gso_segment would, so a stack can always build super-packets and
// still talk to an endpoint without TSO, and tests can check what the
// kernel does against it. CompleteChecksum finishes a packet whose
// checksum is partial, and SetPartialChecksum prepares one: it writes the
// pseudo-header sum into the checksum field, the form Linux expects for
// CHECKSUM_PARTIAL, and returns the matching Offload.
//
// The package works on IPv4 only, like the rest of tundra, parses each
// packet's headers once with length checks, and never allocates: the
// caller supplies the output buffers.
package gso

import (
	"encoding/binary"
	"errors"

	"github.com/tundra-net/tundra/ipv4"
	"github.com/tundra-net/tundra/link"
)

// Errors returned by Split, Segments, CompleteChecksum and
// SetPartialChecksum.
var (
	// ErrMalformed: the packet's headers do not describe what its
	// metadata claims (not IPv4, a fragment, the wrong protocol, headers
	// longer than the packet, GSOSize zero).
	ErrMalformed = errors.New("gso: packet does not match its offload metadata")
	// ErrTooManySegments: out has fewer packets than the split makes.
	ErrTooManySegments = errors.New("gso: more segments than output packets")
	// ErrShortBuffer: an output packet's Data lacks the capacity for its
	// segment (headers plus GSOSize bytes).
	ErrShortBuffer = errors.New("gso: output buffer too small for a segment")
)

// Offsets of the fields Split rewrites (RFC 791 section 3.1, RFC 9293
// section 3.1, RFC 768).
const (
	ipTotalLength = 2
	ipID          = 4
	ipFlagsFrag   = 6
	ipProtocol    = 9
	ipChecksum    = 10
	ipSrc         = 12
	ipDst         = 16

	tcpSeq        = 4
	tcpDataOffset = 12
	tcpFlags      = 13
	tcpChecksum   = 16

	udpLength   = 4
	udpChecksum = 6
	udpHeader   = 8

	tcpFIN = 0x01
	tcpPSH = 0x08
	tcpCWR = 0x80
)

// headers is what one parse of a packet learns: where the transport header
// starts and ends, and which protocol it is.
type headers struct {
	ipLen     int // IPv4 header length
	hdrLen    int // IPv4 plus transport header length
	protocol  ipv4.Protocol
	packetLen int // the IPv4 total length, at most len(pkt)
}

// parse checks the IPv4 header of pkt and the transport header its
// protocol names. It accepts TCP and UDP and refuses fragments, which
// carry no transport header to repeat (RFC 791 section 3.2).
func parse(pkt []byte) (headers, error) {
	var h headers
	if len(pkt) < 20 || pkt[0]>>4 != 4 {
		return h, ErrMalformed
	}
	h.ipLen = int(pkt[0]&0x0f) * 4
	h.packetLen = int(binary.BigEndian.Uint16(pkt[ipTotalLength:]))
	if h.ipLen < 20 || h.packetLen < h.ipLen || h.packetLen > len(pkt) {
		return h, ErrMalformed
	}
	if binary.BigEndian.Uint16(pkt[ipFlagsFrag:])&0x3fff != 0 { // MF or an offset
		return h, ErrMalformed
	}
	h.protocol = ipv4.Protocol(pkt[ipProtocol])
	switch h.protocol {
	case ipv4.ProtocolTCP:
		if h.packetLen < h.ipLen+20 {
			return h, ErrMalformed
		}
		dataOffset := int(pkt[h.ipLen+tcpDataOffset]>>4) * 4
		if dataOffset < 20 {
			return h, ErrMalformed
		}
		h.hdrLen = h.ipLen + dataOffset
	case ipv4.ProtocolUDP:
		h.hdrLen = h.ipLen + udpHeader
	default:
		return h, ErrMalformed
	}
	if h.hdrLen > h.packetLen {
		return h, ErrMalformed
	}
	return h, nil
}

// check parses pkt and checks that its protocol matches off.GSOType.
func check(pkt []byte, off link.Offload) (headers, error) {
	h, err := parse(pkt)
	if err != nil {
		return h, err
	}
	switch off.GSOType {
	case link.GSONone:
		return h, nil
	case link.GSOTCPv4:
		if h.protocol != ipv4.ProtocolTCP {
			return h, ErrMalformed
		}
	case link.GSOUDPL4:
		if h.protocol != ipv4.ProtocolUDP {
			return h, ErrMalformed
		}
	default:
		return h, ErrMalformed
	}
	if off.GSOSize == 0 {
		return h, ErrMalformed
	}
	return h, nil
}

// Segments returns how many packets Split makes of pkt: one for a plain
// packet, and for a super-packet its payload divided by GSOSize, rounded
// up (at least one, so a bare header still goes out).
func Segments(pkt []byte, off link.Offload) (int, error) {
	h, err := check(pkt, off)
	if err != nil {
		return 0, err
	}
	return segments(h, off), nil
}

func segments(h headers, off link.Offload) int {
	if off.GSOType == link.GSONone {
		return 1
	}
	payload := h.packetLen - h.hdrLen
	size := int(off.GSOSize)
	return max(1, (payload+size-1)/size)
}

// Split cuts pkt, described by off, into plain packets with complete
// checksums, written into out[0], out[1], ... in order; it returns how
// many. Each out[i].Data must have capacity for the packet's IPv4 and
// transport headers plus GSOSize bytes (MaxPacketSize of the link the
// segments are for is always enough); Split reslices it and clears
// out[i].Offload. pkt is not modified.
//
// A GSOTCPv4 super-packet is cut as RFC 9293 segmentation and Linux's
// tcp_gso_segment cut it: every segment repeats the IPv4 header and the
// TCP header with its options; the sequence number advances by the
// payload before it; FIN and PSH stay only on the last segment and CWR
// only on the first (RFC 3168 section 6.1.2: CWR is set on one segment);
// the IP ID counts up from the super-packet's (RFC 6864 allows any ID on
// an atomic datagram, and Linux increments it); total lengths and both
// checksums are computed afresh. A GSOUDPL4 super-packet becomes
// datagrams of GSOSize payload bytes (the last may be shorter), each with
// its own UDP length and checksum, as UDP_SEGMENT defines. A plain packet
// is copied, with its checksum completed if it was partial.
//
// Whatever the checksum field of pkt held (complete, partial or zero), the
// segments' checksums are computed from their contents.
func Split(pkt []byte, off link.Offload, out []link.Packet) (int, error) {
	h, err := check(pkt, off)
	if err != nil {
		return 0, err
	}
	pkt = pkt[:h.packetLen]
	if off.GSOType == link.GSONone {
		if len(out) < 1 {
			return 0, ErrTooManySegments
		}
		if cap(out[0].Data) < len(pkt) {
			return 0, ErrShortBuffer
		}
		seg := out[0].Data[:len(pkt)]
		copy(seg, pkt)
		if off.NeedsChecksum {
			if err := CompleteChecksum(seg, off); err != nil {
				return 0, err
			}
		}
		out[0].Data, out[0].Offload = seg, link.Offload{}
		return 1, nil
	}
	n := segments(h, off)
	if len(out) < n {
		return 0, ErrTooManySegments
	}
	size := int(off.GSOSize)
	for i := range n {
		payload := min(size, h.packetLen-h.hdrLen-i*size)
		if cap(out[i].Data) < h.hdrLen+payload {
			return 0, ErrShortBuffer
		}
	}

	id := binary.BigEndian.Uint16(pkt[ipID:])
	headers := pkt[:h.hdrLen]
	data := pkt[h.hdrLen:]
	seq := uint32(0)
	if h.protocol == ipv4.ProtocolTCP {
		seq = binary.BigEndian.Uint32(pkt[h.ipLen+tcpSeq:])
	}
	for i := range n {
		payload := data[i*size : min((i+1)*size, len(data))]
		seg := out[i].Data[:h.hdrLen+len(payload)]
		copy(seg, headers)
		copy(seg[h.hdrLen:], payload)

		// IPv4: length, ID, header checksum (RFC 791 section 3.1).
		binary.BigEndian.PutUint16(seg[ipTotalLength:], uint16(len(seg)))
		binary.BigEndian.PutUint16(seg[ipID:], id+uint16(i))
		seg[ipChecksum], seg[ipChecksum+1] = 0, 0
		binary.BigEndian.PutUint16(seg[ipChecksum:], ipv4.Fold(ipv4.Checksum(seg[:h.ipLen], 0)))

		l4 := seg[h.ipLen:]
		var field int
		if h.protocol == ipv4.ProtocolTCP {
			binary.BigEndian.PutUint32(l4[tcpSeq:], seq+uint32(i*size))
			if i != n-1 {
				l4[tcpFlags] &^= tcpFIN | tcpPSH
			}
			if i != 0 {
				l4[tcpFlags] &^= tcpCWR
			}
			field = tcpChecksum
		} else {
			binary.BigEndian.PutUint16(l4[udpLength:], uint16(len(l4)))
			field = udpChecksum
		}
		l4[field], l4[field+1] = 0, 0
		sum := ipv4.PseudoHeaderChecksum(h.protocol, [4]byte(seg[ipSrc:ipSrc+4]), [4]byte(seg[ipDst:ipDst+4]), uint16(len(l4)))
		binary.BigEndian.PutUint16(l4[field:], nonZero(ipv4.Fold(ipv4.Checksum(l4, sum))))
		out[i].Data, out[i].Offload = seg, link.Offload{}
	}
	return n, nil
}

// nonZero maps a computed checksum of 0 to 0xffff, its equal in one's
// complement. UDP needs it (RFC 768: zero means "no checksum"); Linux
// does it for every protocol (CSUM_MANGLED_0), and so does this package.
func nonZero(c uint16) uint16 {
	if c == 0 {
		return 0xffff
	}
	return c
}

// CompleteChecksum finishes the partial checksum of a NeedsChecksum packet
// in place, as a device does for Linux's CHECKSUM_PARTIAL: the checksum
// field at ChecksumStart+ChecksumOffset already holds the pseudo-header
// sum, so summing everything from ChecksumStart to the end of the packet,
// field included, and folding gives the final value. It does nothing for a
// packet whose checksum is not partial. It does not look at GSOType: a
// super-packet's segments need checksums of their own (Split).
func CompleteChecksum(pkt []byte, off link.Offload) error {
	if !off.NeedsChecksum {
		return nil
	}
	start, field := int(off.ChecksumStart), int(off.ChecksumStart)+int(off.ChecksumOffset)
	if field+2 > len(pkt) {
		return ErrMalformed
	}
	binary.BigEndian.PutUint16(pkt[field:], nonZero(ipv4.Fold(ipv4.Checksum(pkt[start:], 0))))
	return nil
}

// SetPartialChecksum prepares a complete IPv4 TCP or UDP packet (or
// super-packet) for checksum offload: it writes the pseudo-header sum (RFC
// 9293 section 3.1, RFC 768), folded and not complemented, into the
// transport checksum field, and returns an Offload with NeedsChecksum,
// ChecksumStart at the transport header and ChecksumOffset at its checksum
// field. That is the form Linux gives and expects for CHECKSUM_PARTIAL
// (tcp_v4_send_check stores ~tcp_v4_check(len, ...) there). For a
// super-packet the length in the pseudo-header is the whole super-packet's
// transport length, which the kernel adjusts per segment. The caller sets
// GSOType and GSOSize on the result for a super-packet.
func SetPartialChecksum(pkt []byte) (link.Offload, error) {
	h, err := parse(pkt)
	if err != nil {
		return link.Offload{}, err
	}
	field := tcpChecksum
	if h.protocol == ipv4.ProtocolUDP {
		field = udpChecksum
	}
	l4len := h.packetLen - h.ipLen
	sum := ipv4.PseudoHeaderChecksum(h.protocol, [4]byte(pkt[ipSrc:ipSrc+4]), [4]byte(pkt[ipDst:ipDst+4]), uint16(l4len))
	binary.BigEndian.PutUint16(pkt[h.ipLen+field:], ^ipv4.Fold(sum))
	return link.Offload{NeedsChecksum: true, ChecksumStart: uint16(h.ipLen), ChecksumOffset: uint16(field)}, nil
}
