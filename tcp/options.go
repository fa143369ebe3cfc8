package tcp

import (
	"encoding/binary"
	"errors"
)

// Option kinds (RFC 9293 section 3.2; RFC 7323 for window scale and
// timestamps; RFC 2018 for SACK).
const (
	OptionEOL           = 0
	OptionNOP           = 1
	OptionMSS           = 2
	OptionWindowScale   = 3
	OptionSACKPermitted = 4
	OptionSACK          = 5
	OptionTimestamps    = 8
)

// MaxSACKBlocks is the most SACK blocks an option can carry: 2 + 4*8 = 34
// bytes of the 40 available (RFC 2018 section 3).
const MaxSACKBlocks = 4

// MaxWindowScale is the largest shift count RFC 7323 section 2.3 allows; a
// larger one received is used as 14.
const MaxWindowScale = 14

// Errors returned by ParseOptions and Options.Encode.
var (
	// ErrOptionTooShort: an option's length byte is below 2.
	ErrOptionTooShort = errors.New("tcp: option length below 2")
	// ErrOptionPastEnd: an option's length runs past the option space.
	ErrOptionPastEnd = errors.New("tcp: option runs past the end of the header")
	// ErrOptionLength: a known option with the wrong length for its kind.
	ErrOptionLength = errors.New("tcp: option has the wrong length for its kind")
	// ErrOptionsTooLong: options that do not fit in 40 bytes.
	ErrOptionsTooLong = errors.New("tcp: options longer than 40 bytes")
)

// SACKBlock is one block of a SACK option: the octets [Left, Right) the
// receiver holds (RFC 2018 section 3).
type SACKBlock struct {
	Left, Right Seq
}

// Options holds the options of one segment, parsed or to be encoded. It is a
// fixed-size value (SACK blocks in an array), so parsing does not allocate.
// A Has* field says whether the option was present; for SACK, SACKBlockCount
// says how many of SACKBlocks are used.
type Options struct {
	HasMSS bool
	MSS    uint16 // maximum segment size, RFC 9293 3.7.1

	HasWindowScale bool
	WindowScale    uint8 // shift count as sent, RFC 7323 2.2 (not clamped here)

	SACKPermitted bool // RFC 2018 section 2

	HasTimestamps bool
	TSVal, TSEcr  uint32 // RFC 7323 section 3

	SACKBlockCount int // 0..MaxSACKBlocks
	SACKBlocks     [MaxSACKBlocks]SACKBlock

	// Layout chooses how Encode lays the options out; parsing accepts
	// any layout.
	Layout OptionLayout
}

// OptionLayout is a way of placing options and their padding. Every
// layout carries the same options; TCP leaves the arrangement to the
// sender (RFC 9293 3.2), and stacks differ.
type OptionLayout uint8

const (
	// LayoutAligned puts each option on a 4-byte boundary with NOPs
	// before it (RFC 7323 appendix A's suggestion), as Linux does:
	// <mss,nop,wscale,nop,nop,sackOK,nop,nop,TS>.
	LayoutAligned OptionLayout = iota
	// LayoutBSD packs options the way FreeBSD's tcp_addoptions does:
	// NOPs only where the next option needs them (window scale at 4n+1,
	// SACK-permitted at an even offset, timestamps and SACK blocks at
	// 4n+2), EOLs to finish: <mss,nop,wscale,sackOK,TS>. The packetdrill
	// profile uses it to meet the FreeBSD suite byte for byte.
	LayoutBSD
)

// ParseOptions parses the option bytes of a header (Header.Options). EOL
// ends the list; NOP is skipped; MSS, window scale, SACK-permitted, SACK (1
// to 4 blocks) and timestamps are decoded; other kinds are skipped by their
// length. An option with a length below 2, past the end, or wrong for its
// kind makes the whole list invalid. It does not allocate.
func ParseOptions(b []byte) (Options, error) {
	var o Options
	for len(b) > 0 {
		kind := b[0]
		switch kind {
		case OptionEOL:
			return o, nil
		case OptionNOP:
			b = b[1:]
			continue
		}
		if len(b) < 2 {
			return o, ErrOptionPastEnd
		}
		n := int(b[1])
		if n < 2 {
			return o, ErrOptionTooShort
		}
		if n > len(b) {
			return o, ErrOptionPastEnd
		}
		body := b[2:n]
		switch kind {
		case OptionMSS:
			if n != 4 {
				return o, ErrOptionLength
			}
			o.HasMSS, o.MSS = true, binary.BigEndian.Uint16(body)
		case OptionWindowScale:
			if n != 3 {
				return o, ErrOptionLength
			}
			o.HasWindowScale, o.WindowScale = true, body[0]
		case OptionSACKPermitted:
			if n != 2 {
				return o, ErrOptionLength
			}
			o.SACKPermitted = true
		case OptionSACK:
			if (n-2)%8 != 0 || n < 10 || n > 2+8*MaxSACKBlocks {
				return o, ErrOptionLength
			}
			o.SACKBlockCount = (n - 2) / 8
			for i := 0; i < o.SACKBlockCount; i++ {
				o.SACKBlocks[i] = SACKBlock{
					Left:  Seq(binary.BigEndian.Uint32(body[8*i:])),
					Right: Seq(binary.BigEndian.Uint32(body[8*i+4:])),
				}
			}
		case OptionTimestamps:
			if n != 10 {
				return o, ErrOptionLength
			}
			o.HasTimestamps = true
			o.TSVal = binary.BigEndian.Uint32(body[0:4])
			o.TSEcr = binary.BigEndian.Uint32(body[4:8])
		}
		b = b[n:]
	}
	return o, nil
}

// EncodedLen returns how many bytes Encode writes: a multiple of 4.
func (o *Options) EncodedLen() int {
	if o.Layout == LayoutBSD {
		n, _ := o.encodeBSD(nil)
		return n
	}
	n := 0
	if o.HasMSS {
		n += 4
	}
	if o.HasWindowScale {
		n += 4 // NOP + 3
	}
	if o.SACKPermitted {
		n += 4 // NOP NOP + 2
	}
	if o.HasTimestamps {
		n += 12 // NOP NOP + 10
	}
	if c := o.sackCount(); c > 0 {
		n += 4 + 8*c // NOP NOP + 2 + 8 per block
	}
	return n
}

func (o *Options) sackCount() int {
	return min(max(o.SACKBlockCount, 0), MaxSACKBlocks)
}

// Encode writes the options present in o into b, each padded with leading
// NOPs so that every option ends on a 4-byte boundary (the layout Linux
// uses), and returns the number of bytes written, EncodedLen(). It fails if
// that is over 40 bytes or b is too short.
func (o *Options) Encode(b []byte) (int, error) {
	if o.Layout == LayoutBSD {
		n, _ := o.encodeBSD(nil)
		if n > MaxOptionsLen {
			return 0, ErrOptionsTooLong
		}
		if len(b) < n {
			return 0, ErrBufferTooSmall
		}
		return o.encodeBSD(b)
	}
	n := o.EncodedLen()
	if n > MaxOptionsLen {
		return 0, ErrOptionsTooLong
	}
	if len(b) < n {
		return 0, ErrBufferTooSmall
	}
	i := 0
	if o.HasMSS {
		b[i], b[i+1] = OptionMSS, 4
		binary.BigEndian.PutUint16(b[i+2:], o.MSS)
		i += 4
	}
	if o.HasWindowScale {
		b[i], b[i+1], b[i+2], b[i+3] = OptionNOP, OptionWindowScale, 3, o.WindowScale
		i += 4
	}
	if o.SACKPermitted {
		b[i], b[i+1], b[i+2], b[i+3] = OptionNOP, OptionNOP, OptionSACKPermitted, 2
		i += 4
	}
	if o.HasTimestamps {
		b[i], b[i+1], b[i+2], b[i+3] = OptionNOP, OptionNOP, OptionTimestamps, 10
		binary.BigEndian.PutUint32(b[i+4:], o.TSVal)
		binary.BigEndian.PutUint32(b[i+8:], o.TSEcr)
		i += 12
	}
	if c := o.sackCount(); c > 0 {
		b[i], b[i+1], b[i+2], b[i+3] = OptionNOP, OptionNOP, OptionSACK, byte(2+8*c)
		i += 4
		for _, blk := range o.SACKBlocks[:c] {
			binary.BigEndian.PutUint32(b[i:], uint32(blk.Left))
			binary.BigEndian.PutUint32(b[i+4:], uint32(blk.Right))
			i += 8
		}
	}
	return i, nil
}

// encodeBSD writes the options in LayoutBSD into b, or only measures them
// when b is nil, and returns the length.
func (o *Options) encodeBSD(b []byte) (int, error) {
	n := 0
	put := func(bytes ...byte) {
		if b != nil {
			copy(b[n:], bytes)
		}
		n += len(bytes)
	}
	padTo := func(mod int) { // NOPs until n%4 == mod (never at offset 0 for mod 0)
		for n == 0 && mod != 0 || n%4 != mod {
			put(OptionNOP)
		}
	}
	if o.HasMSS {
		put(OptionMSS, 4, byte(o.MSS>>8), byte(o.MSS))
	}
	if o.HasWindowScale {
		padTo(1)
		put(OptionWindowScale, 3, o.WindowScale)
	}
	if o.SACKPermitted {
		for n%2 != 0 {
			put(OptionNOP)
		}
		put(OptionSACKPermitted, 2)
	}
	if o.HasTimestamps {
		padTo(2)
		put(OptionTimestamps, 10,
			byte(o.TSVal>>24), byte(o.TSVal>>16), byte(o.TSVal>>8), byte(o.TSVal),
			byte(o.TSEcr>>24), byte(o.TSEcr>>16), byte(o.TSEcr>>8), byte(o.TSEcr))
	}
	if c := o.sackCount(); c > 0 {
		padTo(2)
		put(OptionSACK, byte(2+8*c))
		for _, blk := range o.SACKBlocks[:c] {
			l, r := uint32(blk.Left), uint32(blk.Right)
			put(byte(l>>24), byte(l>>16), byte(l>>8), byte(l), byte(r>>24), byte(r>>16), byte(r>>8), byte(r))
		}
	}
	for n%4 != 0 {
		put(OptionEOL)
	}
	return n, nil
}
