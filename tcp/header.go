package tcp

import (
	"encoding/binary"
	"errors"
	"strings"

	"github.com/tundra-net/tundra/ipv4"
)

// ProtocolNumber is TCP's number in the IPv4 protocol field (RFC 9293
// section 3.1).
const ProtocolNumber = 6

// HeaderMinLen is the length of a TCP header without options; MaxHeaderLen
// is the longest header the 4-bit data offset can describe (RFC 9293 3.1).
const (
	HeaderMinLen  = 20
	MaxHeaderLen  = 60
	MaxOptionsLen = MaxHeaderLen - HeaderMinLen
)

// Errors returned by ParseHeader, one per reason a segment is rejected.
var (
	// ErrHeaderTooShort: fewer than 20 bytes.
	ErrHeaderTooShort = errors.New("tcp: segment shorter than the 20-byte header")
	// ErrDataOffsetTooSmall: the data offset field is below 5 words.
	ErrDataOffsetTooSmall = errors.New("tcp: data offset below 5 words")
	// ErrDataOffsetPastEnd: the data offset points past the segment's end.
	ErrDataOffsetPastEnd = errors.New("tcp: data offset past the end of the segment")
	// ErrBufferTooSmall is returned by the builders when the destination
	// buffer cannot hold what they must write.
	ErrBufferTooSmall = errors.New("tcp: buffer too small")
)

// Flags are the control bits of a TCP header (RFC 9293 section 3.1, plus ECE
// and CWR from RFC 3168).
type Flags uint8

// The control bits, with their bit positions in header byte 13.
const (
	FlagFIN Flags = 1 << 0
	FlagSYN Flags = 1 << 1
	FlagRST Flags = 1 << 2
	FlagPSH Flags = 1 << 3
	FlagACK Flags = 1 << 4
	FlagURG Flags = 1 << 5
	FlagECE Flags = 1 << 6
	FlagCWR Flags = 1 << 7
)

// flagNames lists the flags in the order String prints them: the ones that
// name a segment's role first, so a trace reads "SYN|ACK", "FIN|ACK".
var flagNames = [...]struct {
	flag Flags
	name string
}{
	{FlagSYN, "SYN"}, {FlagFIN, "FIN"}, {FlagRST, "RST"}, {FlagPSH, "PSH"},
	{FlagACK, "ACK"}, {FlagURG, "URG"}, {FlagECE, "ECE"}, {FlagCWR, "CWR"},
}

// Has reports whether all bits of g are set in f.
func (f Flags) Has(g Flags) bool { return f&g == g }

// String prints the set flags joined by "|", such as "SYN|ACK", or "none".
func (f Flags) String() string {
	if f == 0 {
		return "none"
	}
	var sb strings.Builder
	for _, fn := range flagNames {
		if f&fn.flag != 0 {
			if sb.Len() > 0 {
				sb.WriteByte('|')
			}
			sb.WriteString(fn.name)
		}
	}
	return sb.String()
}

// Header is a read-only view of a TCP segment (header, options and payload)
// held in a byte slice. Only ParseHeader makes a Header, after checking the
// lengths once, so its accessors cannot go out of bounds. It does not copy:
// the view is valid as long as the bytes under it are.
type Header struct {
	b       []byte // the whole segment
	dataOff int    // header length in bytes, 20..60, <= len(b)
}

// ParseHeader checks that b starts with a well-formed TCP header (at least 20
// bytes, a data offset of at least 5 words that lies within b) and returns a
// view of it. It does not verify the checksum (see ChecksumValid) nor parse
// options (see ParseOptions). It does not allocate.
func ParseHeader(b []byte) (Header, error) {
	if len(b) < HeaderMinLen {
		return Header{}, ErrHeaderTooShort
	}
	off := int(b[12]>>4) * 4
	if off < HeaderMinLen {
		return Header{}, ErrDataOffsetTooSmall
	}
	if off > len(b) {
		return Header{}, ErrDataOffsetPastEnd
	}
	return Header{b: b, dataOff: off}, nil
}

// IsZero reports whether h is the zero Header, which views nothing; its
// accessors return zero values.
func (h Header) IsZero() bool { return h.b == nil }

// fixed returns the 20-byte fixed header, or a zero array for a zero Header,
// so that no accessor can panic.
func (h Header) fixed() *[HeaderMinLen]byte {
	if len(h.b) < HeaderMinLen {
		return &zeroHeader
	}
	return (*[HeaderMinLen]byte)(h.b)
}

var zeroHeader [HeaderMinLen]byte

// SrcPort returns the source port.
func (h Header) SrcPort() uint16 { return binary.BigEndian.Uint16(h.fixed()[0:2]) }

// DstPort returns the destination port.
func (h Header) DstPort() uint16 { return binary.BigEndian.Uint16(h.fixed()[2:4]) }

// Seq returns the sequence number of the segment's first octet (or of the
// SYN).
func (h Header) Seq() Seq { return Seq(binary.BigEndian.Uint32(h.fixed()[4:8])) }

// Ack returns the acknowledgment number; it means something only when the
// ACK flag is set.
func (h Header) Ack() Seq { return Seq(binary.BigEndian.Uint32(h.fixed()[8:12])) }

// DataOffset returns the header length in bytes (the data offset field times
// four), 20 to 60.
func (h Header) DataOffset() int { return h.dataOff }

// Flags returns the control bits.
func (h Header) Flags() Flags { return Flags(h.fixed()[13]) }

// Window returns the raw 16-bit window field, before any window scaling.
func (h Header) Window() uint16 { return binary.BigEndian.Uint16(h.fixed()[14:16]) }

// Checksum returns the checksum field as sent.
func (h Header) Checksum() uint16 { return binary.BigEndian.Uint16(h.fixed()[16:18]) }

// Urgent returns the urgent pointer field.
func (h Header) Urgent() uint16 { return binary.BigEndian.Uint16(h.fixed()[18:20]) }

// Options returns the raw option bytes between the fixed header and the data
// offset (possibly empty). Parse them with ParseOptions.
func (h Header) Options() []byte {
	if h.b == nil {
		return nil
	}
	return h.b[HeaderMinLen:h.dataOff]
}

// Payload returns the segment's data, after the header.
func (h Header) Payload() []byte {
	if h.b == nil {
		return nil
	}
	return h.b[h.dataOff:]
}

// Bytes returns the whole segment the view covers.
func (h Header) Bytes() []byte { return h.b }

// ChecksumValid reports whether the segment's checksum is right for an IPv4
// packet from src to dst: the one's-complement sum over the pseudo-header
// and the whole segment must be 0xffff (RFC 9293 section 3.1, RFC 1071).
func (h Header) ChecksumValid(src, dst [4]byte) bool {
	if h.b == nil {
		return false
	}
	return ipv4.Fold(ipv4.Checksum(h.b, pseudoHeaderSum(src, dst, len(h.b)))) == 0
}

// HeaderFields holds the values of a TCP header to build: the builder that
// goes with the Header view. Encode writes it; the zero value is a header
// with no flags, no options and window 0.
type HeaderFields struct {
	SrcPort, DstPort uint16
	Seq, Ack         Seq
	Flags            Flags
	Window           uint16 // the raw field, already scaled down by the sender
	Urgent           uint16
	Options          Options // encoded by Options.Encode, padded to 4 bytes
	// ECN is the ECN codepoint of the IP header around the segment (RFC
	// 3168 section 5), not a TCP header field: Encode ignores it. The
	// stack fills it in for a received segment and writes it into the
	// IPv4 header of one the Conn sends.
	ECN ECNCodepoint
}

// ECNCodepoint is the two-bit ECN field of the IP header (RFC 3168 section
// 5).
type ECNCodepoint uint8

// The ECN codepoints.
const (
	NotECT ECNCodepoint = 0b00 // not ECN-capable transport
	ECT1   ECNCodepoint = 0b01 // ECN-capable transport, ECT(1)
	ECT0   ECNCodepoint = 0b10 // ECN-capable transport, ECT(0)
	CE     ECNCodepoint = 0b11 // congestion experienced
)

// String names the codepoint as RFC 3168 section 5 does: "Not-ECT",
// "ECT(1)", "ECT(0)" or "CE".
func (e ECNCodepoint) String() string {
	switch e & 0b11 {
	case ECT1:
		return "ECT(1)"
	case ECT0:
		return "ECT(0)"
	case CE:
		return "CE"
	}
	return "Not-ECT"
}

// Len returns the length Encode writes: 20 bytes plus the encoded options.
func (f *HeaderFields) Len() int { return HeaderMinLen + f.Options.EncodedLen() }

// Encode writes the header and options into b, with a zero checksum field,
// and returns the header length. b must hold at least Len() bytes; the
// payload, if any, goes right after. Compute the checksum afterwards with
// SetChecksum (contiguous segment) or Checksum (scattered payload).
func (f *HeaderFields) Encode(b []byte) (int, error) {
	optLen := f.Options.EncodedLen()
	if optLen > MaxOptionsLen {
		return 0, ErrOptionsTooLong
	}
	n := HeaderMinLen + optLen
	if len(b) < n {
		return 0, ErrBufferTooSmall
	}
	binary.BigEndian.PutUint16(b[0:2], f.SrcPort)
	binary.BigEndian.PutUint16(b[2:4], f.DstPort)
	binary.BigEndian.PutUint32(b[4:8], uint32(f.Seq))
	binary.BigEndian.PutUint32(b[8:12], uint32(f.Ack))
	b[12] = byte(n/4) << 4
	b[13] = byte(f.Flags)
	binary.BigEndian.PutUint16(b[14:16], f.Window)
	b[16], b[17] = 0, 0
	binary.BigEndian.PutUint16(b[18:20], f.Urgent)
	if _, err := f.Options.Encode(b[HeaderMinLen:n]); err != nil {
		return 0, err
	}
	return n, nil
}

// Checksum returns the TCP checksum for a segment from src to dst whose
// header (with a zero checksum field) and payload are given as parts, in
// order. Parts may have any length (a part that starts at an odd offset is
// summed and byte-swapped, RFC 1071 section 2(B)), so a payload split across
// the wrap of a ring buffer needs no copy.
func Checksum(src, dst [4]byte, parts ...[]byte) uint16 {
	total := 0
	for _, p := range parts {
		total += len(p)
	}
	acc := pseudoHeaderSum(src, dst, total)
	odd := false
	for _, p := range parts {
		if !odd {
			acc = ipv4.Checksum(p, acc)
		} else {
			acc = ipv4.Combine(acc, ipv4.Checksum(p, 0), 1) // p starts mid-word
		}
		if len(p)%2 == 1 {
			odd = !odd
		}
	}
	return ipv4.Fold(acc)
}

// SetChecksum computes the checksum of the contiguous segment seg (header
// followed by payload, checksum field zero or not) from src to dst and
// stores it in the header.
func SetChecksum(seg []byte, src, dst [4]byte) {
	if len(seg) < HeaderMinLen {
		return
	}
	seg[16], seg[17] = 0, 0
	binary.BigEndian.PutUint16(seg[16:18], Checksum(src, dst, seg))
}

// PseudoHeaderChecksum returns the folded, not inverted, sum of the IPv4
// pseudo-header for a TCP segment of tcpLength bytes: the value a sender
// leaves in the checksum field when checksum offload finishes the job
// (link.Offload.NeedsChecksum).
func PseudoHeaderChecksum(src, dst [4]byte, tcpLength int) uint16 {
	return uint16(pseudoHeaderSum(src, dst, tcpLength))
}
