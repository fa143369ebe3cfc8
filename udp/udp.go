// Package udp reads and writes the bytes of UDP datagrams (RFC 768): the
// transport of tundra that adds ports and an optional checksum to IPv4 and
// nothing else. There is no connection, no ordering and no retransmission:
// a datagram arrives whole, once, or not at all. What the stack builds on
// top (sockets, receive queues, ICMP errors) lives in package stack; this
// package is only the wire format.
//
// A UDP header is four 16-bit fields:
//
//	 0      7 8     15 16    23 24    31
//	+--------+--------+--------+--------+
//	|   Source Port   | Destination Port|
//	+--------+--------+--------+--------+
//	|     Length      |    Checksum     |
//	+--------+--------+--------+--------+
//	|          data octets ...
//
// Length counts the header and the data. The checksum covers an IPv4
// "pseudo-header" (source and destination addresses, protocol, UDP length),
// the header and the data; a sender may leave it zero to mean "no
// checksum", and a computed checksum of zero is sent as all ones (RFC 768).
//
// As in package ipv4, Header is a view: Parse checks the lengths once and
// the accessors then cannot panic; Parse never allocates. HeaderFields
// builds a header in place in front of data already written.
package udp

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/tundra-net/tundra/ipv4"
)

// HeaderLen is the size of the UDP header.
const HeaderLen = 8

// MaxIPv4Payload is the most data one UDP datagram can carry over IPv4: the
// 65535 bytes of the IPv4 Total Length less a 20-byte IPv4 header and the
// UDP header.
const MaxIPv4Payload = ipv4.MaxPacketSize - ipv4.MinHeaderSize - HeaderLen

// Errors Parse returns.
var (
	// ErrTooShort: fewer than 8 bytes.
	ErrTooShort = errors.New("udp: datagram shorter than the header")
	// ErrLength: the Length field is below 8 or larger than the bytes
	// the IP layer delivered.
	ErrLength = errors.New("udp: length field does not match the datagram")
)

// Header is a view over a UDP datagram: header and data. It does not copy
// the bytes. The zero Header holds no datagram and must not be used.
type Header struct {
	b []byte // exactly Length bytes, at least HeaderLen
}

// Parse checks that b, the payload of an IPv4 packet, holds a UDP datagram
// and returns a view of it. The Length field must be at least 8 and at most
// len(b) (RFC 768; RFC 1122 section 4.1.3.4 lets a host discard a datagram
// whose length is wrong). Bytes after Length are not part of the view, as
// Linux also trims them. The checksum is not verified here: call
// ChecksumValid, so that bad checksums are counted apart.
func Parse(b []byte) (Header, error) {
	if len(b) < HeaderLen {
		return Header{}, ErrTooShort
	}
	length := int(binary.BigEndian.Uint16(b[4:6]))
	if length < HeaderLen || length > len(b) {
		return Header{}, ErrLength
	}
	return Header{b: b[:length]}, nil
}

// SourcePort returns the sender's port (zero: none, RFC 768).
func (h Header) SourcePort() uint16 { return binary.BigEndian.Uint16(h.b[0:2]) }

// DestinationPort returns the receiver's port.
func (h Header) DestinationPort() uint16 { return binary.BigEndian.Uint16(h.b[2:4]) }

// Length returns the Length field: header plus data.
func (h Header) Length() int { return int(binary.BigEndian.Uint16(h.b[4:6])) }

// Checksum returns the checksum field; zero means the sender computed none.
func (h Header) Checksum() uint16 { return binary.BigEndian.Uint16(h.b[6:8]) }

// HasChecksum reports whether the sender computed a checksum.
func (h Header) HasChecksum() bool { return h.Checksum() != 0 }

// ChecksumValid reports whether the checksum over the pseudo-header for
// src and dst, the header and the data is right. A zero checksum field means
// "not computed" (RFC 768) and is accepted, as RFC 1122 section 4.1.3.4
// allows for IPv4.
func (h Header) ChecksumValid(src, dst [4]byte) bool {
	if !h.HasChecksum() {
		return true
	}
	sum := ipv4.PseudoHeaderChecksum(ipv4.ProtocolUDP, src, dst, uint16(len(h.b)))
	return ipv4.Fold(ipv4.Checksum(h.b, sum)) == 0
}

// Payload returns the data after the header.
func (h Header) Payload() []byte { return h.b[HeaderLen:] }

// Bytes returns the whole datagram, Length bytes.
func (h Header) Bytes() []byte { return h.b }

// String describes the datagram on one line, such as "UDP 5353 > 53 len 40".
func (h Header) String() string {
	return fmt.Sprintf("UDP %d > %d len %d", h.SourcePort(), h.DestinationPort(), h.Length())
}

// HeaderFields are the values of a UDP header to build. Length and
// checksum are computed by Encode.
type HeaderFields struct {
	SourcePort      uint16
	DestinationPort uint16
	// NoChecksum sends a zero checksum ("none", RFC 768). The stack never
	// sets it; it exists for tests of receivers.
	NoChecksum bool
}

// Encode writes the header into b[:HeaderLen], in front of the data that
// the caller has already written to b[HeaderLen:], and computes the
// checksum over the pseudo-header for src and dst, the header and all of
// b[HeaderLen:]. It returns len(b), the datagram's length. Encode panics if
// b is shorter than HeaderLen or longer than 65535 bytes; those are
// mistakes of the caller.
func (f HeaderFields) Encode(b []byte, src, dst [4]byte) int {
	if len(b) < HeaderLen || len(b) > 0xffff {
		panic("udp: datagram length must be between 8 and 65535")
	}
	length := uint16(len(b))
	binary.BigEndian.PutUint16(b[0:2], f.SourcePort)
	binary.BigEndian.PutUint16(b[2:4], f.DestinationPort)
	binary.BigEndian.PutUint16(b[4:6], length)
	binary.BigEndian.PutUint16(b[6:8], 0)
	if f.NoChecksum {
		return len(b)
	}
	// The header words are summed from the values (see ipv4.HeaderFields
	// Encode on store forwarding), the data from memory.
	sum := ipv4.PseudoHeaderChecksum(ipv4.ProtocolUDP, src, dst, length)
	sum += uint32(f.SourcePort) + uint32(f.DestinationPort) + uint32(length)
	sum = ipv4.Checksum(b[HeaderLen:], sum)
	checksum := ipv4.Fold(sum)
	if checksum == 0 {
		// RFC 768: "If the computed checksum is zero, it is transmitted as
		// all ones", since zero on the wire means no checksum.
		checksum = 0xffff
	}
	binary.BigEndian.PutUint16(b[6:8], checksum)
	return len(b)
}
