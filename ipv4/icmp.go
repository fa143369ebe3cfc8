package ipv4

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
)

// ICMPHeaderSize is the size of the part every ICMP message has: type, code,
// checksum and 4 bytes whose meaning depends on the type (RFC 792).
const ICMPHeaderSize = 8

// MaxICMPErrorPacketSize bounds an ICMP error message with its IPv4 header:
// RFC 1812 section 4.3.2.3 says to quote as much of the offending packet as
// fits without the error exceeding 576 bytes, the datagram size every host
// must accept (RFC 791 section 3.1). tundra follows RFC 1812 rather than the
// minimum of RFC 792 (header plus 8 bytes), as Linux does: the longer quote
// lets the receiver match more of the original packet.
const MaxICMPErrorPacketSize = 576

// MaxICMPErrorQuote is the most bytes of an offending packet that the error
// Build functions quote: what is left of MaxICMPErrorPacketSize after a
// 20-byte IPv4 header and the ICMP header.
const MaxICMPErrorQuote = MaxICMPErrorPacketSize - MinHeaderSize - ICMPHeaderSize

// ICMPType is the type of an ICMP message (RFC 792, with the IANA
// "icmp-parameters" registry).
type ICMPType uint8

// ICMP message types.
const (
	ICMPEchoReply              ICMPType = 0
	ICMPDestinationUnreachable ICMPType = 3
	ICMPSourceQuench           ICMPType = 4 // deprecated by RFC 6633; never send it
	ICMPRedirect               ICMPType = 5
	ICMPEchoRequest            ICMPType = 8
	ICMPTimeExceeded           ICMPType = 11
	ICMPParameterProblem       ICMPType = 12
	ICMPTimestampRequest       ICMPType = 13
	ICMPTimestampReply         ICMPType = 14
)

// Codes of ICMPDestinationUnreachable (RFC 792, RFC 1122 section 3.2.2.1,
// RFC 1812 section 5.2.7.1).
const (
	UnreachableNet                        uint8 = 0
	UnreachableHost                       uint8 = 1
	UnreachableProtocol                   uint8 = 2
	UnreachablePort                       uint8 = 3
	UnreachableFragmentationNeeded        uint8 = 4 // carries the next-hop MTU (RFC 1191)
	UnreachableSourceRouteFailed          uint8 = 5
	UnreachableNetUnknown                 uint8 = 6
	UnreachableHostUnknown                uint8 = 7
	UnreachableSourceHostIsolated         uint8 = 8
	UnreachableNetProhibited              uint8 = 9
	UnreachableHostProhibited             uint8 = 10
	UnreachableNetForTOS                  uint8 = 11
	UnreachableHostForTOS                 uint8 = 12
	UnreachableAdministrativelyProhibited uint8 = 13
	UnreachableHostPrecedenceViolation    uint8 = 14
	UnreachablePrecedenceCutoff           uint8 = 15
)

// Codes of ICMPTimeExceeded (RFC 792).
const (
	TimeExceededTTL        uint8 = 0 // TTL reached zero in transit
	TimeExceededReassembly uint8 = 1 // fragment reassembly timed out
)

// Codes of ICMPParameterProblem (RFC 792, RFC 1122 section 3.2.2.5).
const (
	ParameterProblemPointer       uint8 = 0 // the pointer field marks the bad byte
	ParameterProblemMissingOption uint8 = 1
	ParameterProblemBadLength     uint8 = 2
)

// Codes of ICMPRedirect (RFC 792).
const (
	RedirectNet        uint8 = 0
	RedirectHost       uint8 = 1
	RedirectTOSAndNet  uint8 = 2
	RedirectTOSAndHost uint8 = 3
)

// String returns the type's name as RFC 792 spells it, in lower case, or
// "ICMP type N".
func (t ICMPType) String() string {
	switch t {
	case ICMPEchoReply:
		return "echo reply"
	case ICMPDestinationUnreachable:
		return "destination unreachable"
	case ICMPSourceQuench:
		return "source quench"
	case ICMPRedirect:
		return "redirect"
	case ICMPEchoRequest:
		return "echo request"
	case ICMPTimeExceeded:
		return "time exceeded"
	case ICMPParameterProblem:
		return "parameter problem"
	case ICMPTimestampRequest:
		return "timestamp request"
	case ICMPTimestampReply:
		return "timestamp reply"
	}
	return fmt.Sprintf("ICMP type %d", uint8(t))
}

// IsError reports whether messages of this type report an error about
// another packet, which they quote (RFC 1122 section 3.2.2): destination
// unreachable, source quench, redirect, time exceeded, parameter problem.
func (t ICMPType) IsError() bool {
	switch t {
	case ICMPDestinationUnreachable, ICMPSourceQuench, ICMPRedirect,
		ICMPTimeExceeded, ICMPParameterProblem:
		return true
	}
	return false
}

var unreachableCodeNames = [...]string{
	UnreachableNet:                        "net unreachable",
	UnreachableHost:                       "host unreachable",
	UnreachableProtocol:                   "protocol unreachable",
	UnreachablePort:                       "port unreachable",
	UnreachableFragmentationNeeded:        "fragmentation needed and DF set",
	UnreachableSourceRouteFailed:          "source route failed",
	UnreachableNetUnknown:                 "destination network unknown",
	UnreachableHostUnknown:                "destination host unknown",
	UnreachableSourceHostIsolated:         "source host isolated",
	UnreachableNetProhibited:              "network administratively prohibited",
	UnreachableHostProhibited:             "host administratively prohibited",
	UnreachableNetForTOS:                  "network unreachable for TOS",
	UnreachableHostForTOS:                 "host unreachable for TOS",
	UnreachableAdministrativelyProhibited: "communication administratively prohibited",
	UnreachableHostPrecedenceViolation:    "host precedence violation",
	UnreachablePrecedenceCutoff:           "precedence cutoff in effect",
}

// ICMPCodeName returns a name for a code of the given type, such as "port
// unreachable", or "code N" when it has none.
func ICMPCodeName(t ICMPType, code uint8) string {
	switch t {
	case ICMPDestinationUnreachable:
		if int(code) < len(unreachableCodeNames) {
			return unreachableCodeNames[code]
		}
	case ICMPTimeExceeded:
		switch code {
		case TimeExceededTTL:
			return "time to live exceeded in transit"
		case TimeExceededReassembly:
			return "fragment reassembly time exceeded"
		}
	case ICMPParameterProblem:
		switch code {
		case ParameterProblemPointer:
			return "pointer indicates the error"
		case ParameterProblemMissingOption:
			return "missing a required option"
		case ParameterProblemBadLength:
			return "bad length"
		}
	case ICMPRedirect:
		switch code {
		case RedirectNet:
			return "redirect for network"
		case RedirectHost:
			return "redirect for host"
		case RedirectTOSAndNet:
			return "redirect for TOS and network"
		case RedirectTOSAndHost:
			return "redirect for TOS and host"
		}
	}
	return fmt.Sprintf("code %d", code)
}

// Errors of ParseICMP and ICMP.Quoted.
var (
	// ErrICMPTooShort: fewer than the 8 bytes every ICMP message has.
	ErrICMPTooShort = errors.New("ipv4: ICMP message shorter than 8 bytes")
	// ErrICMPNotError: Quoted was called on a message that quotes nothing.
	ErrICMPNotError = errors.New("ipv4: ICMP message is not an error message")
)

// ICMP is a view over an ICMP message, the payload of an IPv4 packet with
// Protocol ProtocolICMP: an 8-byte header (type, code, checksum, and 4 bytes
// that depend on the type) followed by a body (RFC 792). Like Header it reads
// the bytes in place. It comes from ParseICMP; the zero ICMP must not be
// used.
type ICMP struct {
	// b is the whole message; len(b) >= ICMPHeaderSize.
	b []byte
}

// ParseICMP checks that b holds at least the 8-byte ICMP header and returns a
// view of the message. b should be the IPv4 payload exactly (Header.Payload),
// since the checksum covers the whole message. The checksum is not verified
// here; call ChecksumValid. ParseICMP does not allocate.
func ParseICMP(b []byte) (ICMP, error) {
	if len(b) < ICMPHeaderSize {
		return ICMP{}, ErrICMPTooShort
	}
	return ICMP{b: b}, nil
}

// Type returns the message type.
func (m ICMP) Type() ICMPType { return ICMPType(m.b[0]) }

// Code returns the message code, whose meaning depends on the type.
func (m ICMP) Code() uint8 { return m.b[1] }

// Checksum returns the checksum field.
func (m ICMP) Checksum() uint16 { return binary.BigEndian.Uint16(m.b[2:4]) }

// ChecksumValid reports whether the checksum, which covers the whole message
// (RFC 792), is correct.
func (m ICMP) ChecksumValid() bool { return Fold(Checksum(m.b, 0)) == 0 }

// RestOfHeader returns bytes 4 to 7, whose meaning depends on the type.
func (m ICMP) RestOfHeader() [4]byte { return [4]byte(m.b[4:8]) }

// Ident returns the identifier of an echo or timestamp message, which the
// sender chose to match replies to requests.
func (m ICMP) Ident() uint16 { return binary.BigEndian.Uint16(m.b[4:6]) }

// Sequence returns the sequence number of an echo or timestamp message.
func (m ICMP) Sequence() uint16 { return binary.BigEndian.Uint16(m.b[6:8]) }

// NextHopMTU returns the MTU of the next hop carried by a "fragmentation
// needed" message, in the low 16 bits of the rest of the header (RFC 1191
// section 4). Old routers send 0 there.
func (m ICMP) NextHopMTU() uint16 { return binary.BigEndian.Uint16(m.b[6:8]) }

// Pointer returns the byte offset, in the quoted header, of the error that a
// parameter problem message reports (RFC 792).
func (m ICMP) Pointer() uint8 { return m.b[4] }

// Gateway returns the gateway address of a redirect message (RFC 792).
func (m ICMP) Gateway() netip.Addr { return netip.AddrFrom4([4]byte(m.b[4:8])) }

// Body returns the bytes after the 8-byte header: the echoed data of an echo
// message, the quoted packet of an error message.
func (m ICMP) Body() []byte { return m.b[ICMPHeaderSize:] }

// Bytes returns the whole message.
func (m ICMP) Bytes() []byte { return m.b }

// Quoted returns the offending packet's header quoted in the body of an error
// message, as a tolerant view (ParseQuotedHeader): its Payload holds what
// was quoted of the original payload, at least 8 bytes from a conforming
// sender (RFC 792), enough for the TCP or UDP ports. It returns
// ErrICMPNotError for a type that quotes nothing, or ParseQuotedHeader's
// error when the quote is not a whole IPv4 header.
func (m ICMP) Quoted() (Header, error) {
	if !m.Type().IsError() {
		return Header{}, ErrICMPNotError
	}
	return ParseQuotedHeader(m.Body())
}

// String describes the message on one line, such as "echo request id 7 seq
// 1, 56 bytes" or "destination unreachable (port unreachable)".
func (m ICMP) String() string {
	t := m.Type()
	switch t {
	case ICMPEchoRequest, ICMPEchoReply, ICMPTimestampRequest, ICMPTimestampReply:
		return fmt.Sprintf("%v id %d seq %d, %d bytes", t, m.Ident(), m.Sequence(), len(m.Body()))
	}
	s := fmt.Sprintf("%v (%s)", t, ICMPCodeName(t, m.Code()))
	if t == ICMPDestinationUnreachable && m.Code() == UnreachableFragmentationNeeded {
		s += fmt.Sprintf(" mtu %d", m.NextHopMTU())
	}
	return s
}

// BuildEchoRequest writes an echo request (RFC 792) with the given
// identifier, sequence number and data into dst, and returns its length,
// ICMPHeaderSize+len(data). It panics if dst is shorter.
func BuildEchoRequest(dst []byte, ident, sequence uint16, data []byte) int {
	n := ICMPHeaderSize + len(data)
	msg := dst[:n]
	copy(msg[ICMPHeaderSize:], data)
	writeICMPHeader(msg, ICMPEchoRequest, 0, echoRest(ident, sequence))
	return n
}

// BuildEchoReply writes into dst the reply to an echo request: type echo
// reply, code 0, and the request's identifier, sequence number and data
// unchanged, as RFC 792 and RFC 1122 section 3.2.2.6 require. It returns the
// reply's length, the request's length; it panics if dst is shorter. dst may
// be the request's own bytes, to answer in place.
func BuildEchoReply(dst []byte, request ICMP) int {
	n := len(request.b)
	rest := request.RestOfHeader() // read before dst, which may overlap, is written
	msg := dst[:n]
	copy(msg[ICMPHeaderSize:], request.Body())
	writeICMPHeader(msg, ICMPEchoReply, 0, rest)
	return n
}

// BuildError writes an ICMP error message into dst: the given type, code and
// rest of header, then a quote of the offending packet. The quote is the
// first bytes of offending, up to MaxICMPErrorQuote, so that the error in
// its IPv4 packet stays within 576 bytes (RFC 1812 section 4.3.2.3); it
// always covers the offending IP header and 8 bytes more when offending has
// them (RFC 792). offending should start at the IPv4 header and end at its
// Total Length (Header.Bytes). BuildError returns the message length and
// panics if dst is shorter; ICMPErrorSize tells the length in advance.
//
// Whether an error may be sent at all is a separate question: see
// ErrorAllowed.
func BuildError(dst []byte, t ICMPType, code uint8, rest [4]byte, offending []byte) int {
	n := ICMPErrorSize(offending)
	msg := dst[:n]
	copy(msg[ICMPHeaderSize:], offending)
	writeICMPHeader(msg, t, code, rest)
	return n
}

// ICMPErrorSize returns the length of the error message that BuildError
// writes about offending.
func ICMPErrorSize(offending []byte) int {
	return ICMPHeaderSize + min(len(offending), MaxICMPErrorQuote)
}

// BuildDestinationUnreachable writes a destination unreachable message with
// the given code, such as UnreachablePort for a UDP datagram nobody listens
// for (RFC 1122 section 4.1.3.1) or UnreachableProtocol. See BuildError.
func BuildDestinationUnreachable(dst []byte, code uint8, offending []byte) int {
	return BuildError(dst, ICMPDestinationUnreachable, code, [4]byte{}, offending)
}

// BuildFragmentationNeeded writes the "fragmentation needed and DF set"
// message, with the MTU of the next hop in the low 16 bits of the rest of
// the header (RFC 1191 section 4), which path MTU discovery reads. See
// BuildError.
func BuildFragmentationNeeded(dst []byte, nextHopMTU uint16, offending []byte) int {
	var rest [4]byte
	binary.BigEndian.PutUint16(rest[2:4], nextHopMTU)
	return BuildError(dst, ICMPDestinationUnreachable, UnreachableFragmentationNeeded, rest, offending)
}

// ErrorAllowed reports whether RFC 1122 section 3.2.2 allows an ICMP error
// message about the packet h. It must not be sent about:
//
//   - an ICMP error message (errors about errors could loop forever);
//   - a datagram sent to a broadcast or multicast address (or class E);
//   - a fragment other than the first;
//   - a datagram whose source is not one host: the zero address, a
//     broadcast, multicast or loopback address, or class E.
//
// Only the limited broadcast 255.255.255.255 is recognized as a broadcast
// here: a subnet's broadcast address depends on the stack's configuration,
// which the stack must check itself. An ICMP message too short to show its
// type counts as an error message. Rate limiting (RFC 1812 section 4.3.2.8)
// is the stack's job too.
func ErrorAllowed(h Header) bool {
	if h.FragmentOffset() != 0 {
		return false
	}
	if h.Protocol() == ProtocolICMP {
		payload := h.Payload()
		if len(payload) < 1 || ICMPType(payload[0]).IsError() {
			return false
		}
	}
	dst := h.DestinationBytes()
	if dst[0] >= 224 { // multicast 224/4, class E 240/4, 255.255.255.255
		return false
	}
	src := h.SourceBytes()
	switch {
	case src == [4]byte{}, src[0] == 127, src[0] >= 224:
		return false
	}
	return true
}

// echoRest packs an identifier and a sequence number into the rest of an
// echo message's header.
func echoRest(ident, sequence uint16) [4]byte {
	var rest [4]byte
	binary.BigEndian.PutUint16(rest[0:2], ident)
	binary.BigEndian.PutUint16(rest[2:4], sequence)
	return rest
}

// writeICMPHeader writes the 8-byte header at the start of msg, whose body is
// already in place, with the checksum over the whole message (RFC 792). The
// header's words are summed from the values rather than read back from msg,
// which would defeat the CPU's store forwarding (see HeaderFields.Encode).
func writeICMPHeader(msg []byte, t ICMPType, code uint8, rest [4]byte) {
	msg[0] = uint8(t)
	msg[1] = code
	copy(msg[4:8], rest[:])
	sum := uint32(t)<<8 | uint32(code)
	sum += uint32(binary.BigEndian.Uint16(rest[0:2])) + uint32(binary.BigEndian.Uint16(rest[2:4]))
	sum = Checksum(msg[ICMPHeaderSize:], sum)
	binary.BigEndian.PutUint16(msg[2:4], Fold(sum))
}
