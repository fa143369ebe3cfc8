package ipv4

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
)

// Sizes and defaults of the IPv4 header (RFC 791 section 3.1).
const (
	// MinHeaderSize is the size of a header without options: IHL 5.
	MinHeaderSize = 20
	// MaxHeaderSize is the largest header: IHL 15, 40 bytes of options.
	MaxHeaderSize = 60
	// MaxOptionsSize is the most option bytes a header can carry.
	MaxOptionsSize = MaxHeaderSize - MinHeaderSize
	// MaxPacketSize is the largest IPv4 packet, the Total Length field's
	// maximum.
	MaxPacketSize = 65535
	// Version is the value of the version field of every IPv4 header.
	Version = 4
	// DefaultTTL is the time to live the stack puts on packets it sends, as
	// recommended in the IANA "ip-parameters" registry and used by Linux
	// (net.ipv4.ip_default_ttl); RFC 1122 section 3.2.1.7 requires it to be
	// configurable and large enough for the Internet's diameter.
	DefaultTTL = 64
)

// Protocol is the IP protocol number, the header's Protocol field (RFC 791
// section 3.1, numbers from the IANA "protocol-numbers" registry).
type Protocol uint8

// Protocol numbers the stack knows.
const (
	ProtocolICMP Protocol = 1
	ProtocolTCP  Protocol = 6
	ProtocolUDP  Protocol = 17
)

// String returns the protocol's usual name, or its number.
func (p Protocol) String() string {
	switch p {
	case ProtocolICMP:
		return "ICMP"
	case ProtocolTCP:
		return "TCP"
	case ProtocolUDP:
		return "UDP"
	}
	return fmt.Sprintf("protocol %d", uint8(p))
}

// Flags are the three flag bits of the header (RFC 791 section 3.1): a
// reserved bit that must be zero, Don't Fragment and More Fragments.
type Flags uint8

// Flag bits, as Header.Flags returns them (the top three bits of byte 6,
// shifted down).
const (
	// MoreFragments (MF) is set on every fragment but the last.
	MoreFragments Flags = 1 << 0
	// DontFragment (DF) forbids routers to fragment the packet; one that
	// would have to drops it and sends ICMP "fragmentation needed", the
	// basis of path MTU discovery (RFC 1191).
	DontFragment Flags = 1 << 1
	// ReservedFlag is bit 0 of the flags, which must be zero (RFC 791).
	ReservedFlag Flags = 1 << 2
)

// String lists the set flags, such as "DF" or "MF", or "none".
func (f Flags) String() string {
	s := ""
	if f&ReservedFlag != 0 {
		s += "|RF"
	}
	if f&DontFragment != 0 {
		s += "|DF"
	}
	if f&MoreFragments != 0 {
		s += "|MF"
	}
	if s == "" {
		return "none"
	}
	return s[1:]
}

// ECN codepoints, the two low bits of the TOS byte (RFC 3168 section 5).
const (
	ECNNotECT = 0b00 // not ECN-capable transport
	ECNECT1   = 0b01 // ECN-capable transport, ECT(1)
	ECNECT0   = 0b10 // ECN-capable transport, ECT(0)
	ECNCE     = 0b11 // congestion experienced
)

// Errors ParseHeader returns, one per reason, so that the stack can count
// each (like Linux's InHdrErrors and InTruncatedPkts counters).
var (
	// ErrTooShort: fewer than 20 bytes, not even a header without options.
	ErrTooShort = errors.New("ipv4: packet shorter than the minimum header")
	// ErrVersion: the version field is not 4.
	ErrVersion = errors.New("ipv4: version is not 4")
	// ErrHeaderLength: IHL is below 5, or the header it announces is longer
	// than the packet.
	ErrHeaderLength = errors.New("ipv4: invalid header length (IHL)")
	// ErrTotalLength: Total Length is smaller than the header (or, from
	// SetTotalLength, larger than the view).
	ErrTotalLength = errors.New("ipv4: total length smaller than the header")
	// ErrTruncated: Total Length is larger than the bytes received; the
	// packet was cut short on the way.
	ErrTruncated = errors.New("ipv4: packet shorter than its total length")
	// ErrOptions: CheckOptions found an option whose length byte is missing
	// or does not fit.
	ErrOptions = errors.New("ipv4: malformed option")
)

// Option types with a single byte and no length (RFC 791 section 3.1).
const (
	// OptionEndOfList ends the option list; any bytes after it are padding.
	OptionEndOfList = 0
	// OptionNoOperation is a one-byte filler, used to align options.
	OptionNoOperation = 1
)

// Header is a view over an IPv4 packet: its header and, behind it, the
// payload. It does not copy the bytes; reading it reads them and its setters
// write them.
//
// A Header comes from ParseHeader, which checks the lengths once, so that no
// accessor can index out of range afterwards; or, for the truncated copy
// quoted in an ICMP error message, from ParseQuotedHeader. The zero Header
// holds no packet and must not be used.
type Header struct {
	// b is the packet from the first header byte to the end of the payload:
	// Total Length bytes, or fewer for a quoted (truncated) header. Always
	// len(b) >= HeaderLength() >= MinHeaderSize.
	b []byte
}

// ParseHeader checks that b begins with a well-formed IPv4 header (RFC 791
// section 3.1; RFC 1122 section 3.2.1.1 and 3.2.1.2 say to discard packets
// with a wrong version or checksum) and returns a view of it. The checks, in
// order, each with its own error:
//
//   - b holds at least 20 bytes (ErrTooShort);
//   - the version is 4 (ErrVersion);
//   - IHL is at least 5 and IHL*4 <= len(b) (ErrHeaderLength);
//   - Total Length >= IHL*4 (ErrTotalLength);
//   - Total Length <= len(b) (ErrTruncated).
//
// Bytes after Total Length (link-layer padding) are not part of the view.
// The checksum is not verified here: call ChecksumValid, so that a stack can
// count bad checksums apart from malformed headers. Options are not
// interpreted (see Options and CheckOptions). ParseHeader does not allocate.
func ParseHeader(b []byte) (Header, error) {
	totalLength, err := checkHeader(b)
	if err != nil {
		return Header{}, err
	}
	if totalLength > len(b) {
		return Header{}, ErrTruncated
	}
	return Header{b: b[:totalLength]}, nil
}

// ParseQuotedHeader is ParseHeader for the copy of a packet that an ICMP
// error message quotes (RFC 792): such a copy is usually cut short after the
// first 8 payload bytes, so a Total Length beyond the end of b is accepted.
// The header itself, options included, must be complete. Payload then
// returns only the bytes present, and Truncated reports the cut.
func ParseQuotedHeader(b []byte) (Header, error) {
	totalLength, err := checkHeader(b)
	if err != nil {
		return Header{}, err
	}
	return Header{b: b[:min(totalLength, len(b))]}, nil
}

// checkHeader makes the checks that ParseHeader and ParseQuotedHeader share,
// all but the one against truncation, and returns the Total Length field.
func checkHeader(b []byte) (totalLength int, err error) {
	if len(b) < MinHeaderSize {
		return 0, ErrTooShort
	}
	if b[0]>>4 != Version {
		return 0, ErrVersion
	}
	headerLength := int(b[0]&0x0f) * 4
	if headerLength < MinHeaderSize || headerLength > len(b) {
		return 0, ErrHeaderLength
	}
	totalLength = int(binary.BigEndian.Uint16(b[2:4]))
	if totalLength < headerLength {
		return 0, ErrTotalLength
	}
	return totalLength, nil
}

// Version returns the version field, always 4 for a parsed header.
func (h Header) Version() uint8 { return h.b[0] >> 4 }

// HeaderLength returns the header's length in bytes, options included: the
// IHL field times 4, between 20 and 60.
func (h Header) HeaderLength() int { return int(h.b[0]&0x0f) * 4 }

// TOS returns the Type of Service byte, today the DSCP (RFC 2474) in the top
// six bits and ECN (RFC 3168) in the bottom two.
func (h Header) TOS() uint8 { return h.b[1] }

// DSCP returns the Differentiated Services codepoint (RFC 2474 section 3).
func (h Header) DSCP() uint8 { return h.b[1] >> 2 }

// ECN returns the Explicit Congestion Notification codepoint (RFC 3168
// section 5), one of ECNNotECT, ECNECT1, ECNECT0 and ECNCE.
func (h Header) ECN() uint8 { return h.b[1] & 0b11 }

// TotalLength returns the Total Length field: header plus payload, in bytes.
// For a header from ParseQuotedHeader it may exceed the bytes present.
func (h Header) TotalLength() int { return int(binary.BigEndian.Uint16(h.b[2:4])) }

// ID returns the Identification field, which ties the fragments of one
// datagram together (RFC 791; RFC 6864 for its use on atomic datagrams).
func (h Header) ID() uint16 { return binary.BigEndian.Uint16(h.b[4:6]) }

// Flags returns the three flag bits: ReservedFlag, DontFragment,
// MoreFragments.
func (h Header) Flags() Flags { return Flags(h.b[6] >> 5) }

// DontFragment reports whether the DF flag is set.
func (h Header) DontFragment() bool { return h.Flags()&DontFragment != 0 }

// MoreFragments reports whether the MF flag is set.
func (h Header) MoreFragments() bool { return h.Flags()&MoreFragments != 0 }

// FragmentOffset returns where this fragment's payload belongs in the
// original datagram's payload, in bytes (the field counts 8-byte units).
func (h Header) FragmentOffset() int {
	return int(binary.BigEndian.Uint16(h.b[6:8])&0x1fff) * 8
}

// IsFragment reports whether the packet is a fragment of a larger datagram:
// MF is set or the offset is not zero (RFC 791 section 3.2). A packet that is
// not a fragment is "atomic" (RFC 6864).
func (h Header) IsFragment() bool {
	return binary.BigEndian.Uint16(h.b[6:8])&0x3fff != 0
}

// TTL returns the Time to Live: the number of routers the packet may still
// cross. Each router decrements it and drops the packet at zero.
func (h Header) TTL() uint8 { return h.b[8] }

// Protocol returns the protocol of the payload, such as ProtocolTCP.
func (h Header) Protocol() Protocol { return Protocol(h.b[9]) }

// Checksum returns the header checksum field.
func (h Header) Checksum() uint16 { return binary.BigEndian.Uint16(h.b[10:12]) }

// ChecksumValid reports whether the header checksum is correct: the one's
// complement sum of the whole header, checksum included, is all ones (RFC
// 1071 section 4.1). It covers the header only, options included, never the
// payload.
func (h Header) ChecksumValid() bool {
	return Fold(Checksum(h.b[:h.HeaderLength()], 0)) == 0
}

// SourceBytes returns the source address as 4 bytes, for the hot path.
func (h Header) SourceBytes() [4]byte { return [4]byte(h.b[12:16]) }

// DestinationBytes returns the destination address as 4 bytes, for the hot
// path.
func (h Header) DestinationBytes() [4]byte { return [4]byte(h.b[16:20]) }

// Source returns the source address.
func (h Header) Source() netip.Addr { return netip.AddrFrom4(h.SourceBytes()) }

// Destination returns the destination address.
func (h Header) Destination() netip.Addr { return netip.AddrFrom4(h.DestinationBytes()) }

// Options returns the option bytes between the fixed header and the payload,
// empty when IHL is 5. They are returned raw, not interpreted: a host must
// ignore options it does not implement (RFC 1122 section 3.2.1.8) and tundra
// implements none.
func (h Header) Options() []byte { return h.b[MinHeaderSize:h.HeaderLength()] }

// CheckOptions walks the option list and checks that it is well framed
// (RFC 791 section 3.1): End of Option List and No Operation are single
// bytes, and every other option has a length byte of at least 2 that counts
// its type and length bytes and does not run past the header. It does not
// judge the options' contents. On a malformed option it returns ErrOptions
// and the offset, from the start of the header, of the byte at fault (the
// length byte, or the type byte when the length is missing): the pointer of
// an ICMP parameter problem message (RFC 1122 section 3.2.2.5).
//
// ParseHeader does not call it: a host may simply ignore the options it does
// not implement (RFC 1122 section 3.2.1.8), as tundra does with all of them.
// Call it where malformed options must be refused, as Linux does.
func (h Header) CheckOptions() (pointer int, err error) {
	options := h.Options()
	at := 0
	for at < len(options) {
		switch options[at] {
		case OptionEndOfList:
			return 0, nil
		case OptionNoOperation:
			at++
			continue
		}
		if at+1 >= len(options) {
			return MinHeaderSize + at, ErrOptions // no room for the length
		}
		length := int(options[at+1])
		if length < 2 || at+length > len(options) {
			return MinHeaderSize + at + 1, ErrOptions
		}
		at += length
	}
	return 0, nil
}

// HeaderBytes returns the whole header, options included.
func (h Header) HeaderBytes() []byte { return h.b[:h.HeaderLength()] }

// Payload returns the bytes after the header up to Total Length, so that any
// link-layer padding behind the packet is cut off. For a quoted header it
// returns only what is present.
func (h Header) Payload() []byte { return h.b[h.HeaderLength():] }

// Bytes returns the packet from the first header byte to the end of the
// payload.
func (h Header) Bytes() []byte { return h.b }

// Truncated reports whether the view holds fewer bytes than Total Length,
// which is possible only for a header from ParseQuotedHeader.
func (h Header) Truncated() bool { return h.TotalLength() > len(h.b) }

// SetTTL writes the TTL field and updates the checksum incrementally (RFC
// 1624), the way a router decrements the TTL.
func (h Header) SetTTL(ttl uint8) {
	// The TTL shares a 16-bit word with the protocol number.
	oldWord := binary.BigEndian.Uint16(h.b[8:10])
	h.b[8] = ttl
	h.setChecksumAfter(oldWord, binary.BigEndian.Uint16(h.b[8:10]))
}

// SetID writes the Identification field and updates the checksum
// incrementally (RFC 1624).
func (h Header) SetID(id uint16) {
	oldWord := binary.BigEndian.Uint16(h.b[4:6])
	binary.BigEndian.PutUint16(h.b[4:6], id)
	h.setChecksumAfter(oldWord, id)
}

// SetTotalLength writes a smaller (or equal) Total Length, updates the
// checksum incrementally (RFC 1624), and shrinks the view to match, as when a
// packet is trimmed. The length must lie between the header length and the
// view's current length; otherwise SetTotalLength changes nothing and returns
// ErrTotalLength.
func (h *Header) SetTotalLength(length int) error {
	if length < h.HeaderLength() || length > len(h.b) {
		return ErrTotalLength
	}
	oldWord := binary.BigEndian.Uint16(h.b[2:4])
	binary.BigEndian.PutUint16(h.b[2:4], uint16(length))
	h.setChecksumAfter(oldWord, uint16(length))
	h.b = h.b[:length]
	return nil
}

// SetChecksum writes the checksum field as given.
func (h Header) SetChecksum(checksum uint16) {
	binary.BigEndian.PutUint16(h.b[10:12], checksum)
}

// UpdateChecksum recomputes the header checksum from scratch and writes it,
// after any number of changes made directly to HeaderBytes.
func (h Header) UpdateChecksum() {
	h.SetChecksum(0)
	h.SetChecksum(Fold(Checksum(h.HeaderBytes(), 0)))
}

// setChecksumAfter updates the checksum field after one 16-bit header word
// changed from oldWord to newWord (RFC 1624 equation 3).
func (h Header) setChecksumAfter(oldWord, newWord uint16) {
	h.SetChecksum(UpdateChecksum16(h.Checksum(), oldWord, newWord))
}

// String describes the header on one line, in the spirit of tcpdump:
// "198.18.0.1 > 198.18.0.2: ICMP ttl 64 id 7 len 84 DF".
func (h Header) String() string {
	s := fmt.Sprintf("%v > %v: %v ttl %d id %d len %d",
		h.Source(), h.Destination(), h.Protocol(), h.TTL(), h.ID(), h.TotalLength())
	if f := h.Flags(); f != 0 {
		s += " " + f.String()
	}
	if h.FragmentOffset() != 0 {
		s += fmt.Sprintf(" frag@%d", h.FragmentOffset())
	}
	if len(h.Options()) != 0 {
		s += fmt.Sprintf(" options %d bytes", len(h.Options()))
	}
	if h.Truncated() {
		s += fmt.Sprintf(" (truncated to %d)", len(h.b))
	}
	return s
}

// HeaderFields are the values of an IPv4 header to build with Encode. The
// version, IHL, Total Length and checksum are computed, not given.
type HeaderFields struct {
	// TOS is the Type of Service byte (DSCP and ECN).
	TOS uint8
	// ID is the Identification field. RFC 6864 section 4.1 lets a sender
	// of atomic datagrams (DF set, not fragmented) use any value.
	ID uint16
	// Flags holds DontFragment and MoreFragments; ReservedFlag must be
	// clear.
	Flags Flags
	// FragmentOffset is the fragment's offset in bytes, a multiple of 8
	// below 65536.
	FragmentOffset int
	// TTL is the time to live; DefaultTTL unless there is a reason.
	TTL uint8
	// Protocol is the payload's protocol.
	Protocol Protocol
	// Src and Dst are the source and destination IPv4 addresses.
	Src, Dst netip.Addr
	// Options are raw option bytes, already padded to a multiple of 4 with
	// End of Option List (0) bytes, at most MaxOptionsSize.
	Options []byte
	// PayloadLength is the number of bytes that will follow the header;
	// Size()+PayloadLength must not exceed MaxPacketSize.
	PayloadLength int
}

// Size returns the length of the header that Encode writes: 20 bytes plus
// the options.
func (f *HeaderFields) Size() int { return MinHeaderSize + len(f.Options) }

// Encode writes the header, checksum included, into b[:f.Size()] and returns
// that size. The payload is not written: it goes after the header in b.
//
// Encode panics, as the encoding/binary Put functions do, when b is shorter
// than Size(), and also when a field cannot be encoded: options not a
// multiple of 4 or longer than MaxOptionsSize, an address that is not IPv4,
// reserved flag set, a fragment offset out of range or not a multiple of 8,
// or a total length above MaxPacketSize. These are mistakes of the caller,
// never properties of received data.
func (f *HeaderFields) Encode(b []byte) int {
	size := f.Size()
	switch {
	case len(f.Options)%4 != 0 || len(f.Options) > MaxOptionsSize:
		panic("ipv4: options must be a multiple of 4 bytes, at most 40")
	case !f.Src.Is4() || !f.Dst.Is4():
		panic("ipv4: source and destination must be IPv4 addresses")
	case f.Flags&ReservedFlag != 0 || f.Flags > DontFragment|MoreFragments:
		panic("ipv4: only the DF and MF flags may be set")
	case f.FragmentOffset < 0 || f.FragmentOffset%8 != 0 || f.FragmentOffset > 0x1fff*8:
		panic("ipv4: fragment offset must be a multiple of 8 below 65536")
	case f.PayloadLength < 0 || size+f.PayloadLength > MaxPacketSize:
		panic("ipv4: total length must be at most 65535")
	}
	versionIHL := uint8(Version<<4 | size/4)
	totalLength := uint16(size + f.PayloadLength)
	flagsOffset := uint16(f.Flags)<<13 | uint16(f.FragmentOffset/8)
	src, dst := f.Src.As4(), f.Dst.As4()

	b = b[:size] // panics if b is too short, like binary.BigEndian.PutUint16
	b[0] = versionIHL
	b[1] = f.TOS
	binary.BigEndian.PutUint16(b[2:4], totalLength)
	binary.BigEndian.PutUint16(b[4:6], f.ID)
	binary.BigEndian.PutUint16(b[6:8], flagsOffset)
	b[8] = f.TTL
	b[9] = uint8(f.Protocol)
	copy(b[12:16], src[:])
	copy(b[16:20], dst[:])
	copy(b[20:], f.Options)

	// The checksum is the sum of the header's 16-bit words, its own field
	// taken as zero. They are summed from the values, not read back from b:
	// loading 8 bytes just stored 1 or 2 at a time defeats the CPU's store
	// forwarding and made Encode twice as slow.
	sum := uint32(versionIHL)<<8 | uint32(f.TOS)
	sum += uint32(totalLength) + uint32(f.ID) + uint32(flagsOffset)
	sum += uint32(f.TTL)<<8 | uint32(f.Protocol)
	sum += uint32(binary.BigEndian.Uint16(src[0:2])) + uint32(binary.BigEndian.Uint16(src[2:4]))
	sum += uint32(binary.BigEndian.Uint16(dst[0:2])) + uint32(binary.BigEndian.Uint16(dst[2:4]))
	if len(f.Options) > 0 {
		sum = Checksum(f.Options, sum)
	}
	binary.BigEndian.PutUint16(b[10:12], Fold(sum))
	return size
}
